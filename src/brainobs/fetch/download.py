"""Plan and run downloads of the catalog files and session NWB files into a data dir.

Keys are paths relative to the source URL and to the data dir alike (the bucket layout is
the AllenSDK cache layout): ``manifest.json``, ``experiment_containers.json``,
``ophys_experiments.json``, ``cell_specimens.json``, ``stimulus_mappings.json`` and
``ophys_experiment_data/<experiment_id>.nwb``.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterable, Sequence
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from urllib.parse import quote, urlsplit

from brainobs.errors import FetchError, SourceError
from brainobs.fetch._transfer import (
    Progress,
    Remote,
    Settings,
    fetch_file,
    head,
    make_client,
    read_record,
)

DEFAULT_SOURCE = "https://allen-brain-observatory.s3.amazonaws.com/visual-coding-2p/"
SOURCE_ENV = "BRAINOBS_SOURCE"
MANIFEST = "manifest.json"
METADATA_FILES = (MANIFEST, "experiment_containers.json", "ophys_experiments.json",
                  "cell_specimens.json", "stimulus_mappings.json")
# Files a source may lack without failing the download (a standard manifest is written
# when the source has none).
OPTIONAL_FILES = frozenset({MANIFEST, "stimulus_mappings.json"})

# The AllenSDK BrainObservatoryCache manifest (its own layout, relative to the data dir).
_MANIFEST_SPECS = (("EXPERIMENT_CONTAINERS", "experiment_containers.json"),
                   ("EXPERIMENTS", "ophys_experiments.json"),
                   ("EXPERIMENT_DATA", "ophys_experiment_data/%d.nwb"),
                   ("CELL_SPECIMENS", "cell_specimens.json"),
                   ("STIMULUS_MAPPINGS", "stimulus_mappings.json"))


def resolve_source(source: str | None = None) -> str:
    """The source URL (``source``, else ``$BRAINOBS_SOURCE``, else the open-data bucket),
    checked and ending with ``/``.

    >>> resolve_source("http://127.0.0.1:8000/mirror")
    'http://127.0.0.1:8000/mirror/'
    >>> resolve_source("ftp://example.org/x")
    Traceback (most recent call last):
    ...
    brainobs.errors.SourceError: Bad source URL 'ftp://example.org/x': ...
    """
    if source is None:
        source = os.environ.get(SOURCE_ENV) or DEFAULT_SOURCE
    text = str(source).strip()
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment:
        raise SourceError(
            f"Bad source URL {source!r}: expected an http:// or https:// URL of a folder with "
            f"the bucket layout (manifest.json, ophys_experiment_data/<id>.nwb ...), such as "
            f"the default {DEFAULT_SOURCE}")
    try:
        parts.port  # noqa: B018 - raises on a bad port
    except ValueError as exc:
        raise SourceError(f"Bad source URL {source!r}: {exc}") from None
    return text if text.endswith("/") else text + "/"


def nwb_key(experiment_id: int) -> str:
    """Key of a session's NWB file.

    >>> nwb_key(501940850)
    'ophys_experiment_data/501940850.nwb'
    """
    return f"ophys_experiment_data/{int(experiment_id)}.nwb"


def check_key(key: str) -> str:
    """``key`` if it is a relative path inside the data dir, else FetchError."""
    p = PurePosixPath(key)
    if not key or p.is_absolute() or any(part in ("", ".", "..") for part in key.split("/")):
        raise FetchError(f"Bad file key {key!r}: expected a relative path such as {nwb_key(1)!r}")
    return key


def url_of(source: str, key: str) -> str:
    """The URL of ``key`` under ``source`` (each path segment percent-encoded)."""
    return source + quote(check_key(key))


@dataclass
class PlannedFile:
    """One file of a plan: ``state`` is ``present`` (verified on disk), ``missing`` (to
    fetch; ``size`` from the server), ``absent`` (an optional file the source lacks) or
    ``failed`` (``error`` says why)."""

    key: str
    state: str
    size: int | None = None
    remote: Remote | None = None
    error: str | None = None


@dataclass
class FileResult:
    """Outcome of one file: ``downloaded``, ``present``, ``absent`` or ``failed``."""

    key: str
    path: Path
    status: str
    size: int | None = None
    error: str | None = None


@dataclass
class DownloadReport:
    """All files of a download run, in the order asked."""

    data_dir: Path
    source: str
    results: list[FileResult] = field(default_factory=list)

    def of(self, status: str) -> list[FileResult]:
        return [r for r in self.results if r.status == status]

    @property
    def failed(self) -> list[FileResult]:
        return self.of("failed")

    @property
    def ok(self) -> bool:
        return not self.failed

    @property
    def bytes_downloaded(self) -> int:
        return sum(r.size or 0 for r in self.of("downloaded"))


def _settings(timeout: float, retries: int, backoff: float) -> Settings:
    if not timeout > 0:
        raise FetchError(f"timeout must be > 0 seconds; got {timeout!r}")
    if int(retries) < 0:
        raise FetchError(f"retries must be >= 0; got {retries!r}")
    return Settings(timeout=float(timeout), retries=int(retries), backoff=max(0.0, float(backoff)))


def _check_jobs(jobs: int) -> int:
    if isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1:
        raise FetchError(f"jobs must be a whole number >= 1 (files fetched at once); got {jobs!r}")
    return jobs


def _unique(keys: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(check_key(k) for k in keys))


def _run(jobs: int, items: Sequence, fn, cancel: threading.Event) -> list:
    """``fn(item)`` for every item on ``jobs`` threads, results in order; Ctrl-C (or any
    exception in the caller's thread) sets ``cancel`` so the workers stop at their next
    chunk, keeping their partial files."""
    out: list = [None] * len(items)
    if not items:
        return out
    with ThreadPoolExecutor(max_workers=min(jobs, len(items)), thread_name_prefix="brainobs-fetch") as pool:
        futures = {pool.submit(fn, item): i for i, item in enumerate(items)}
        try:
            done, _ = wait(futures, return_when=FIRST_EXCEPTION)
            while len(done) < len(futures):  # an unexpected error: stop the others
                cancel.set()
                done, _ = wait(futures)
        except BaseException:
            cancel.set()
            raise
        for f, i in futures.items():
            out[i] = f.result()
    return out


def plan(keys: Iterable[str], data_dir: str | os.PathLike[str], source: str | None = None, *,
         jobs: int = 4, optional: Iterable[str] = OPTIONAL_FILES, timeout: float = 60.0,
         retries: int = 5, backoff: float = 0.5) -> list[PlannedFile]:
    """What a download of ``keys`` would do: one HEAD request per file not yet verified on
    disk (none for verified ones). Nothing is written."""
    src = resolve_source(source)
    ddir = Path(data_dir).expanduser()
    settings = _settings(timeout, retries, backoff)
    opt = set(optional)
    cancel = threading.Event()
    with make_client(settings) as client:

        def one(key: str) -> PlannedFile:
            rec = read_record(ddir, key)
            if rec is not None:
                return PlannedFile(key, "present", int(rec["size"]))
            try:
                remote = head(client, key, url_of(src, key), settings, cancel)
            except FetchError as exc:
                if exc.status == 404 and key in opt:
                    return PlannedFile(key, "absent", error=str(exc))
                return PlannedFile(key, "failed", error=str(exc))
            return PlannedFile(key, "missing", remote.size, remote)

        return _run(_check_jobs(jobs), _unique(keys), one, cancel)


def download(files: Iterable[str | PlannedFile], data_dir: str | os.PathLike[str],
             source: str | None = None, *, jobs: int = 4, optional: Iterable[str] = OPTIONAL_FILES,
             progress: Progress | None = None, timeout: float = 60.0, retries: int = 5,
             backoff: float = 0.5, cancel: threading.Event | None = None) -> DownloadReport:
    """Fetch ``files`` (keys, or the entries of :func:`plan`) into ``data_dir``.

    Several files at once (``jobs`` threads); each is resumed from its partial file,
    verified (size, and MD5 when the ETag is one) and only then renamed into place.
    Files verified by an earlier run are not requested again. A file that fails after
    ``retries`` retries is reported (``report.failed``) and does not stop the others;
    ``progress(key, done, total)`` is called as bytes arrive. When the source has no
    ``manifest.json`` and the data dir none either, the standard AllenSDK manifest is
    written, so that the catalog opens the data dir at once.

    Setting ``cancel`` (a :class:`threading.Event`; Ctrl-C does it too) stops every transfer
    at its next chunk and raises :class:`~brainobs.fetch.Cancelled`; verified files stay,
    partial ones are resumed by the next call.
    """
    src = resolve_source(source)
    ddir = Path(data_dir).expanduser()
    settings = _settings(timeout, retries, backoff)
    opt = set(optional)
    cancel = cancel if cancel is not None else threading.Event()
    entries = list(files)
    given = {f.key: f for f in entries if isinstance(f, PlannedFile)}
    items = _unique(f.key if isinstance(f, PlannedFile) else f for f in entries)
    _check_jobs(jobs)
    ddir.mkdir(parents=True, exist_ok=True)
    with make_client(settings) as client:

        def one(key: str) -> FileResult:
            path = ddir / key
            rec = read_record(ddir, key)
            if rec is not None:
                return FileResult(key, path, "present", int(rec["size"]))
            pf = given.get(key)
            if pf is not None and pf.state in ("failed", "absent"):  # the plan's HEAD already said so
                return FileResult(key, path, pf.state, error=pf.error)
            try:
                remote = pf.remote if pf is not None and pf.remote is not None else \
                    head(client, key, url_of(src, key), settings, cancel)
                status = fetch_file(client, remote, ddir, settings, progress, cancel)
            except FetchError as exc:
                if exc.status == 404 and key in opt:
                    return FileResult(key, path, "absent", error=str(exc))
                return FileResult(key, path, "failed", error=str(exc))
            except OSError as exc:  # disk full, permissions: name the file
                return FileResult(key, path, "failed", error=f"{path}: {exc}")
            return FileResult(key, path, status, remote.size)

        results = _run(jobs, items, one, cancel)
    report = DownloadReport(ddir, src, results)
    if any(r.key == MANIFEST and r.status == "absent" for r in results):
        write_manifest(ddir)
    return report


def write_manifest(data_dir: Path) -> Path:
    """Write the standard AllenSDK manifest into ``data_dir`` unless it has one."""
    path = Path(data_dir) / MANIFEST
    if path.exists():
        return path
    entries: list[dict[str, str]] = [{"type": "manifest_version", "value": "1.3"},
                                     {"key": "BASEDIR", "type": "dir", "spec": "."}]
    entries += [{"key": k, "type": "file", "spec": s, "parent_key": "BASEDIR"} for k, s in _MANIFEST_SPECS]
    tmp = path.with_name(f"{MANIFEST}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps({"manifest": entries}, indent=2), encoding="utf-8")
    os.replace(tmp, path)
    return path
