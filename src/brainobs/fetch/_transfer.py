"""One file over HTTP: HEAD, ranged GET that resumes a partial file, size and MD5 checks,
then an atomic rename into place and a small record of what was verified.

The partial file is ``<target>.part`` next to the target, so a rerun (or another process)
finds it and resumes it; it is locked (``flock``) while a transfer writes into it, so two
processes never write the same file. A file only ever appears under its real name after
its size (and, when the server gives an MD5 ETag, its checksum) matched.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import random
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import httpx

from brainobs.errors import FetchError

try:  # POSIX advisory locks; elsewhere a single process per data dir is assumed
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

PART_SUFFIX = ".part"
RECORD_DIR = ".brainobs-fetch"
_MD5 = re.compile(r"^[0-9a-f]{32}$")
_RANGE = re.compile(r"^bytes (\d+)-(\d+)/(\d+|\*)$")

Progress = Callable[[str, int, int], None]
"""``progress(key, bytes_done, bytes_total)``: called as a file's bytes arrive."""

T = TypeVar("T")


@dataclass(frozen=True)
class Settings:
    """Network settings of a download (seconds; ``retries`` more attempts after the first)."""

    timeout: float = 60.0
    retries: int = 5
    backoff: float = 0.5
    max_backoff: float = 30.0
    chunk: int = 1 << 16


@dataclass(frozen=True)
class Remote:
    """What the server says about one file (from a HEAD request)."""

    key: str
    url: str
    size: int
    etag: str | None = None

    @property
    def md5(self) -> str | None:
        """The MD5 of the content when the ETag is one (single-part S3 objects), else None.

        >>> Remote("a", "u", 3, '"900150983cd24fb0d6963f7d28e17f72"').md5
        '900150983cd24fb0d6963f7d28e17f72'
        >>> Remote("a", "u", 3, '"9b2cf535f27731c974343645a3985328-2"').md5 is None
        True
        """
        tag = (self.etag or "").strip()
        tag = tag[2:] if tag.startswith("W/") else tag
        tag = tag.strip('"').lower()
        return tag if _MD5.match(tag) else None


class _Retry(Exception):
    """A failed attempt worth repeating (the message says why)."""


class Cancelled(Exception):
    """The download was cancelled (Ctrl-C); partial files are kept for the next run."""


def make_client(settings: Settings) -> httpx.Client:
    """An httpx client: the read timeout applies between bytes, redirects are followed and
    content is never re-encoded (sizes and checksums are those of the stored object)."""
    return httpx.Client(timeout=httpx.Timeout(settings.timeout), follow_redirects=True,
                        headers={"Accept-Encoding": "identity", "User-Agent": "brainobs-fetch"})


def _fatal_status(r: httpx.Response, url: str) -> FetchError:
    if r.status_code == 404:
        return FetchError(f"{url}: not found (HTTP 404). The source has no such file; check "
                          "--source (a mirror needs the bucket layout under its URL, e.g. "
                          "<source>/ophys_experiment_data/<id>.nwb).", url, 404)
    if r.status_code in (401, 403):
        return FetchError(f"{url}: access denied (HTTP {r.status_code}). The open-data bucket "
                          "needs no credentials; check --source.", url, r.status_code)
    return FetchError(f"{url}: unexpected HTTP {r.status_code} {r.reason_phrase}; check --source.",
                      url, r.status_code)


def _check_status(r: httpx.Response, url: str, ok: tuple[int, ...]) -> None:
    if r.status_code in ok:
        return
    if r.status_code >= 500 or r.status_code in (408, 429):
        raise _Retry(f"HTTP {r.status_code} {r.reason_phrase}")
    raise _fatal_status(r, url)


def with_retries(url: str, settings: Settings, once: Callable[[], T],
                 cancel: threading.Event | None = None) -> T:
    """``once()`` until it succeeds; network errors, timeouts, 5xx and failed checks are
    retried ``settings.retries`` times with exponential backoff (jittered, capped)."""
    last = ""
    for attempt in range(settings.retries + 1):
        if cancel is not None and cancel.is_set():
            raise Cancelled(url)
        try:
            return once()
        except _Retry as exc:
            last = str(exc)
        except httpx.TimeoutException as exc:
            last = f"timed out after {settings.timeout:g} s ({type(exc).__name__})"
        except httpx.TransportError as exc:
            last = f"{type(exc).__name__}: {exc}"
        if attempt < settings.retries:
            delay = min(settings.max_backoff, settings.backoff * 2**attempt)
            time.sleep(delay * random.uniform(0.5, 1.0))
    n = settings.retries + 1
    raise FetchError(f"{url}: failed after {n} attempt{'s' if n > 1 else ''}; last error: {last}. "
                     "Rerun the same command to resume (verified files and partial transfers "
                     "are kept); check the network or --source.", url)


def head(client: httpx.Client, key: str, url: str, settings: Settings,
         cancel: threading.Event | None = None) -> Remote:
    """Size and ETag of ``url`` (retried); FetchError on 404 and other client errors."""

    def once() -> Remote:
        r = client.head(url)
        _check_status(r, url, (200,))
        length = r.headers.get("content-length")
        if length is None or not length.isdigit():
            raise _Retry(f"no Content-Length in the HEAD response ({length!r})")
        return Remote(key, url, int(length), r.headers.get("etag"))

    return with_retries(url, settings, once, cancel)


# ------------------------------------------------------------------------------ records


def record_path(data_dir: Path, key: str) -> Path:
    """Where the record of a verified file lives (``<data_dir>/.brainobs-fetch/<key>.json``)."""
    return data_dir / RECORD_DIR / f"{key}.json"


def read_record(data_dir: Path, key: str) -> dict[str, Any] | None:
    """The record of ``key`` if it still describes the file on disk (size and mtime), else None."""
    try:
        rec = json.loads(record_path(data_dir, key).read_text(encoding="utf-8"))
        st = (data_dir / key).stat()
    except (OSError, ValueError):
        return None
    if not isinstance(rec, dict) or rec.get("size") != st.st_size or rec.get("mtime_ns") != st.st_mtime_ns:
        return None
    return rec


def _write_record(data_dir: Path, remote: Remote, md5: str | None) -> None:
    """Record a verified file (called under the file's lock, so one writer per key)."""
    path = record_path(data_dir, remote.key)
    path.parent.mkdir(parents=True, exist_ok=True)
    st = (data_dir / remote.key).stat()
    rec = {"key": remote.key, "url": remote.url, "size": st.st_size, "mtime_ns": st.st_mtime_ns,
           "etag": remote.etag, "md5": md5}
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(rec, fh)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


# ------------------------------------------------------------------------------ transfer


def _open_locked(part: Path) -> int:
    """Open (create) ``part`` and hold an exclusive lock on it; the lock is on the file that
    is still at that path (a waiter whose file was renamed away opens the new one)."""
    while True:
        fd = os.open(part, os.O_RDWR | os.O_CREAT, 0o644)
        if fcntl is None:  # pragma: no cover - Windows
            return fd
        fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            same = os.stat(part).st_ino == os.fstat(fd).st_ino
        except FileNotFoundError:
            same = False
        if same:
            return fd
        os.close(fd)


def _md5_of(fd: int, chunk: int = 1 << 20) -> str:
    h = hashlib.md5(usedforsecurity=False)
    os.lseek(fd, 0, os.SEEK_SET)
    while block := os.read(fd, chunk):
        h.update(block)
    return h.hexdigest()


def _md5_path(path: Path) -> str:
    fd = os.open(path, os.O_RDONLY)
    try:
        return _md5_of(fd)
    finally:
        os.close(fd)


def _content_range(value: str | None) -> tuple[int, int | None]:
    m = _RANGE.match((value or "").strip())
    if m is None:
        raise _Retry(f"a 206 response without a valid Content-Range ({value!r})")
    return int(m.group(1)), (None if m.group(3) == "*" else int(m.group(3)))


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def _attempt(client: httpx.Client, remote: Remote, fd: int, settings: Settings,
             progress: Progress | None, cancel: threading.Event | None) -> str | None:
    """One try at completing the partial file ``fd``; returns its MD5 when checked."""
    offset = os.fstat(fd).st_size
    if offset > remote.size:
        os.ftruncate(fd, 0)
        offset = 0
    if offset < remote.size or remote.size == 0:
        headers = {"Range": f"bytes={offset}-"} if offset else {}
        with client.stream("GET", remote.url, headers=headers) as r:
            if r.status_code == 416:  # the partial file is not a prefix of this object
                os.ftruncate(fd, 0)
                raise _Retry("HTTP 416 for the resume range; restarting from byte 0")
            _check_status(r, remote.url, (200, 206))
            if r.status_code == 206:
                start, total = _content_range(r.headers.get("content-range"))
                if start != offset:
                    os.ftruncate(fd, 0)
                    raise _Retry(f"the server resumed at byte {start}, not {offset}")
            else:
                if offset:  # the server ignored Range: start again from byte 0
                    os.ftruncate(fd, 0)
                    offset = 0
                length = r.headers.get("content-length")
                total = int(length) if length is not None and length.isdigit() else None
            if total is not None and total != remote.size:
                os.ftruncate(fd, 0)
                raise _Retry(f"the server announced {total} bytes, its HEAD said {remote.size}")
            tag = r.headers.get("etag")
            if tag and remote.etag and tag.strip('"') != remote.etag.strip('"'):
                os.ftruncate(fd, 0)
                raise _Retry(f"the file changed on the server (ETag {tag} != {remote.etag})")
            done = offset
            if progress:
                progress(remote.key, done, remote.size)
            os.lseek(fd, offset, os.SEEK_SET)
            for block in r.iter_raw(settings.chunk):
                if cancel is not None and cancel.is_set():
                    raise Cancelled(remote.url)
                if done + len(block) > remote.size:
                    os.ftruncate(fd, 0)
                    raise _Retry(f"the server sent more than the {remote.size} bytes announced")
                _write_all(fd, block)
                done += len(block)
                if progress:
                    progress(remote.key, done, remote.size)
        if done != remote.size:
            raise _Retry(f"the body ended after {done} of {remote.size} bytes")
    size = os.fstat(fd).st_size
    if size != remote.size:
        os.ftruncate(fd, 0)
        raise _Retry(f"the file has {size} bytes, expected {remote.size}")
    md5 = remote.md5
    if md5 is not None:
        got = _md5_of(fd)
        if got != md5:
            os.ftruncate(fd, 0)
            raise _Retry(f"checksum mismatch: MD5 {got}, the server's ETag says {md5}")
    os.fsync(fd)
    return md5


def fetch_file(client: httpx.Client, remote: Remote, data_dir: Path, settings: Settings,
               progress: Progress | None = None, cancel: threading.Event | None = None) -> str:
    """Bring ``remote`` to ``data_dir/remote.key``; returns ``"downloaded"`` or ``"present"``.

    A file already in place with the right size (and MD5, when the server gives one) is
    recorded and kept without fetching its body. Anything else is written to the partial
    file and renamed into place only once it is verified.
    """
    target = data_dir / remote.key
    target.parent.mkdir(parents=True, exist_ok=True)
    part = target.with_name(target.name + PART_SUFFIX)
    fd = _open_locked(part)
    try:
        if read_record(data_dir, remote.key) is not None:  # another process finished it
            _drop(part)
            return "present"
        if target.is_file() and target.stat().st_size == remote.size and (
                remote.md5 is None or _md5_path(target) == remote.md5):
            _write_record(data_dir, remote, remote.md5)
            _drop(part)
            return "present"
        md5 = with_retries(remote.url, settings,
                           lambda: _attempt(client, remote, fd, settings, progress, cancel), cancel)
        os.replace(part, target)
        _write_record(data_dir, remote, md5)
        _fsync_dir(target.parent)
        return "downloaded"
    finally:
        os.close(fd)


def _drop(part: Path) -> None:
    """Remove the (locked, now useless) partial file of a file that is complete."""
    with contextlib.suppress(FileNotFoundError):
        os.unlink(part)


def _fsync_dir(folder: Path) -> None:
    with contextlib.suppress(OSError):
        dfd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)
