"""The store of computed metrics: an append-only folder of immutable Parquet parts.

Every :meth:`~brainobs.catalog.Observatory.save_cells` call writes **one new file**,
``computed/part-<time_ns>-<host>-<pid>-<random>.parquet``, to a temporary name in the same
folder and ``os.replace``-s it into place, so a reader sees a part whole or not at all and
no writer ever reads, merges and rewrites what another wrote: concurrent processes,
threads, Dask workers and stale :class:`~brainobs.catalog.Observatory` objects cannot
lose each other's results, and a kill leaves at most a temporary file (removed by the next
writer once its process is gone).

Reading lists the parts, reads them in order of their time key and lets the later value
win for each (cell, column). A part says which (cell, column) pairs it holds: every row of
an ordinary part holds all of its columns; a compacted part carries ``__saved__<column>``
flags (as the single ``computed.parquet`` of earlier versions did, which is read as the
oldest part). So a computed NaN replaces a published value only for the cells it was
computed for.

Many parts are folded into one by :meth:`ComputedStore.compact`, under an exclusive file
lock, and only parts older than a few seconds: a part whose writer took its time key
before the compaction started but renamed it into place after the listing would otherwise
sort before the compacted part and be shadowed by older values. The compacted part takes
the time key of the newest part it replaces and is written before those are deleted, so a
reader that races with it reads the same values either way (and retries when a file it
listed is gone).

A part that cannot be read, or is not a brainobs part (no ``cell_specimen_id``, wrong flag
types, a foreign file in the folder), is moved to ``quarantine/`` beside the catalog
folder and reported with a :class:`~brainobs.errors.StoreCorruptionWarning` naming both
paths; its metrics then count as missing, so ``brainobs analyze --missing`` recomputes them.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import socket
import time
import uuid
import warnings
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from brainobs.errors import ReadOnlyStoreError, StoreCorruptionWarning, StoreError

ID = "cell_specimen_id"
SAVED = "__saved__"  # prefix of a compacted part's "this cell has this column" flags
PARTS = "computed"  # folder of the parts, inside the catalog folder
LEGACY = "computed.parquet"  # the single read-merge-write file of earlier versions
MARKER_KEY = b"brainobs"
MARKER = b"computed-part/1"

#: Compact when a writer sees this many parts (see :meth:`ComputedStore.compact`).
COMPACT_AT = 32
#: Parts younger than this (seconds) are never compacted (see the module notes).
COMPACT_MIN_AGE_S = 5.0
#: A temporary file of another host (or without a pid) is removed after this many seconds.
TEMP_STALE_S = 3600.0
#: How often a reader re-lists the parts when one it listed vanished (compaction).
READ_RETRIES = 50

def _why(exc: OSError) -> str:
    """'Not a directory: /d/.brainobs/catalog' — the OS reason and the path it is about."""
    text = exc.strerror or str(exc)
    return f"{text}: {exc.filename}" if exc.filename else text


HOST = re.sub(r"[^A-Za-z0-9_.]", "_", socket.gethostname() or "host")[:40] or "host"
_PART_RE = re.compile(r"^part-(?P<key>\d{20})-(?P<tag>[^/]+)\.parquet$")
_TEMP_RE = re.compile(r"^\.(?P<stem>.+)\.tmp-(?P<host>[^-]+)-(?P<pid>\d+)-(?P<uid>[0-9a-f]+)$")
_OLD_TEMP_RE = re.compile(r"^\..+-[A-Za-z0-9_]{8}\.parquet\.tmp$")  # mkstemp names of earlier versions


# --------------------------------------------------------------------------- temp files


def temp_path(path: Path) -> Path:
    """A hidden temporary sibling of ``path`` that names this host and process.

    >>> temp_path(Path("/d/x.parquet")).name.startswith(".x.parquet.tmp-")
    True
    """
    return path.parent / f".{path.name}.tmp-{HOST}-{os.getpid()}-{uuid.uuid4().hex[:12]}"


def _pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's live process
        return True
    try:  # a killed child nobody has waited for yet is a zombie: dead for our purpose
        with open(f"/proc/{pid}/stat", "rb") as f:
            return f.read().rsplit(b")", 1)[-1].split()[0] != b"Z"
    except (OSError, IndexError):
        return True


def clean_temp_files(folder: Path, name: str | None = None, stale_s: float = TEMP_STALE_S) -> list[Path]:
    """Remove the temporary files that killed writers left in ``folder``.

    A temporary file (:func:`temp_path`) is removed when it names this host and a process
    that no longer runs, or when it is older than ``stale_s`` seconds (another host's, or
    an unnamed one of an earlier brainobs version). ``name`` limits the clean-up to the
    temporary files of that one target file. Returns the removed paths.

    >>> import tempfile
    >>> d = Path(tempfile.mkdtemp())
    >>> dead = d / f".x.parquet.tmp-{HOST}-999999999-abc"  # no such process
    >>> _ = dead.write_bytes(b"half")
    >>> mine = temp_path(d / "x.parquet"); _ = mine.write_bytes(b"writing")
    >>> [p.name for p in clean_temp_files(d)] == [dead.name], mine.exists()
    (True, True)
    """
    removed: list[Path] = []
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return removed
    now = time.time()
    for entry in entries:
        m = _TEMP_RE.match(entry.name)
        if m is None and not (name is None and _OLD_TEMP_RE.match(entry.name)):
            continue
        if m is not None and name is not None and m["stem"] != name:
            continue
        try:
            age = now - entry.stat(follow_symlinks=False).st_mtime
        except OSError:
            continue
        dead = m is not None and m["host"] == HOST and not _pid_alive(int(m["pid"]))
        if dead or age > stale_s:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(entry.path)
                removed.append(Path(entry.path))
    return removed


def write_atomic(path: Path, write: Callable[[Path], object], *, fsync: bool = True) -> None:
    """Write ``path`` through ``write(temporary_path)`` and ``os.replace``.

    Readers see the old file or the new one, never half of one; the temporary file is
    removed when ``write`` fails (a kill leaves it for :func:`clean_temp_files`).
    """
    tmp = temp_path(path)
    try:
        write(tmp)
        if fsync:
            with open(tmp, "rb") as f:
                os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


def write_parquet_atomic(df: pd.DataFrame, path: Path) -> None:
    """Write ``df`` to ``path`` via a temporary sibling and ``os.replace``.

    Temporary files of killed writers in the same folder are removed first.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    clean_temp_files(path.parent)
    write_atomic(path, lambda tmp: df.to_parquet(tmp, index=False), fsync=False)


# --------------------------------------------------------------------------- parts


def _sort_key(name: str) -> tuple[int, str]:
    if name == LEGACY:
        return (-1, "")
    m = _PART_RE.match(name)
    return (int(m["key"]), m["tag"]) if m else (-2, name)


Part = Mapping[str, np.ndarray]  # column name -> values, as read from one part file


def _arrays(frame: pd.DataFrame | Part) -> Part:
    if isinstance(frame, pd.DataFrame):
        return {str(c): frame[c].to_numpy() for c in frame.columns}
    return frame


def _result_dtype(dtypes: list[np.dtype], complete: bool) -> np.dtype:
    """The dtype of a merged column: kept when every cell has a value, else NaN-able."""
    if all(d == dtypes[0] for d in dtypes) and (complete or dtypes[0].kind in "fc"):
        return dtypes[0]
    if all(d.kind in "fiu" for d in dtypes):
        return np.dtype(np.float64)
    return np.dtype(object)


def merge_parts(frames: Iterable[pd.DataFrame | Part]) -> pd.DataFrame:
    """Fold parts (oldest first) into one table: the later value wins per (cell, column).

    Returns ``cell_specimen_id`` (sorted), the value columns and one ``__saved__<column>``
    bool column each (True where some part holds that column for that cell). A part's
    own ``__saved__`` flags (a folded part) say which of its rows hold a column; without
    them every row does.

    >>> a = pd.DataFrame({"cell_specimen_id": [1, 2], "p": [0.1, 0.2]})
    >>> b = pd.DataFrame({"cell_specimen_id": [2, 3], "p": [np.nan, 0.3], "q": [5.0, 6.0]})
    >>> merge_parts([a, b]).to_dict("list")  # doctest: +NORMALIZE_WHITESPACE
    {'cell_specimen_id': [1, 2, 3], 'p': [0.1, nan, 0.3], '__saved__p': [True, True, True],
     'q': [nan, 5.0, 6.0], '__saved__q': [False, True, True]}
    """
    parts = [_arrays(f) for f in frames]
    ids = [np.asarray(p[ID], dtype=np.int64) for p in parts]
    index = np.unique(np.concatenate(ids)) if ids else np.array([], np.int64)
    n = len(index)
    # pass 1: where each part's values go, per column, in part order
    writes: dict[str, list[tuple[np.ndarray, np.ndarray]]] = {}
    for part, cid in zip(parts, ids, strict=True):
        rows = np.searchsorted(index, cid)
        for col, values in part.items():
            if col == ID or col.startswith(SAVED) or col.startswith("__index_level_"):
                continue
            flag = part.get(SAVED + col)
            if flag is None:
                writes.setdefault(col, []).append((rows, np.asarray(values)))
            else:
                keep = np.asarray(flag, dtype=bool)
                writes.setdefault(col, []).append((rows[keep], np.asarray(values)[keep]))
    out: dict[str, np.ndarray] = {ID: index}
    for col, lst in writes.items():
        saved = np.zeros(n, dtype=bool)
        for rows, _ in lst:
            saved[rows] = True
        used = [v.dtype for r, v in lst if len(r)] or [np.dtype(np.float64)]
        dtype = _result_dtype(used, bool(saved.all()))
        merged = np.empty(n, dtype=dtype) if saved.all() else np.full(n, np.nan, dtype=dtype)
        for rows, values in lst:  # in order: a later part overwrites an earlier one
            merged[rows] = values
        out[col] = merged
        out[SAVED + col] = saved
    return pd.DataFrame(out).infer_objects()


def empty_computed() -> pd.DataFrame:
    """The merged table of an empty store."""
    return pd.DataFrame({ID: pd.Series(dtype="int64")})


def _check_part(part: Part) -> str | None:
    """Why ``part`` is not a valid part (None when it is)."""
    if ID not in part:
        return "no cell_specimen_id column"
    if part[ID].dtype.kind not in "iu":
        return f"cell_specimen_id is {part[ID].dtype}, not integer"
    for col, values in part.items():
        if col.startswith(SAVED):
            if values.dtype != np.dtype(bool):
                return f"flag column {col} is {values.dtype}, not bool"
            if col[len(SAVED):] not in part:
                return f"flag column {col} without its value column"
    return None


class ComputedStore:
    """The computed-metrics parts of one catalog folder (see the module notes).

    Parameters
    ----------
    catalog_dir : Path
        The catalog folder (``DIR/.brainobs/catalog``): parts go to its ``computed/``.
    quarantine_dir : Path
        Where unreadable or foreign files are moved.

    Examples
    --------
    >>> import tempfile
    >>> root = Path(tempfile.mkdtemp())
    >>> store = ComputedStore(root / "catalog", root / "quarantine")
    >>> store.append(pd.DataFrame({"cell_specimen_id": [7, 8], "p_dg": [0.01, 0.5]})).parent.name
    'computed'
    >>> ComputedStore(root / "catalog", root / "quarantine").read()[1].to_dict("list")
    {'cell_specimen_id': [7, 8], 'p_dg': [0.01, 0.5], '__saved__p_dg': [True, True]}
    """

    def __init__(self, catalog_dir: Path, quarantine_dir: Path):
        self.catalog_dir = Path(catalog_dir)
        self.folder = self.catalog_dir / PARTS
        self.legacy = self.catalog_dir / LEGACY
        self.quarantine_dir = Path(quarantine_dir)
        self.lock_path = self.catalog_dir / ".computed.lock"
        self._cache: dict[str, Part | None] = {}  # parts are immutable: read once
        self._merged: tuple[tuple[str, ...], pd.DataFrame] | None = None  # last read()

    # ----------------------------------------------------------------- reading

    def listing(self) -> tuple[str, ...]:
        """Names of the store's files in reading order (cheap: one directory listing).

        The legacy ``computed.parquet`` (if any) comes first; temporary files are left out.
        """
        try:
            names = [n for n in os.listdir(self.folder) if not n.startswith(".")]
        except (FileNotFoundError, NotADirectoryError):
            names = []
        if self.legacy.is_file():
            names.append(LEGACY)
        return tuple(sorted(names, key=_sort_key))

    def _path(self, name: str) -> Path:
        return self.legacy if name == LEGACY else self.folder / name

    def _load(self, name: str) -> Part | None:
        """One part (cached), or None for a quarantined one; FileNotFoundError if gone."""
        if name in self._cache:
            return self._cache[name]
        path = self._path(name)
        legacy = name == LEGACY
        if not legacy and not _PART_RE.match(name):
            if not path.exists():
                raise FileNotFoundError(path)
            self._quarantine(path, "not a brainobs part (foreign file)")
            return None
        try:
            with pq.ParquetFile(path) as pf:  # threads only pay off for a big (folded) part
                table = pf.read(use_threads=pf.metadata.num_rows > 50_000)
            meta = table.schema.metadata or {}
            part = {str(c): table.column(c).to_numpy() for c in table.column_names}
        except FileNotFoundError:
            raise
        except (OSError, ValueError, pa.ArrowException) as exc:
            if not path.exists():
                raise FileNotFoundError(path) from exc
            self._quarantine(path, f"unreadable Parquet ({type(exc).__name__}: {exc})")
            return None
        problem = _check_part(part)
        if problem is None and not legacy and meta.get(MARKER_KEY) != MARKER:
            problem = "not written by brainobs (no part marker)"
        if problem is not None:
            self._quarantine(path, problem)
            return None
        self._cache[name] = part
        return part

    def _quarantine(self, path: Path, why: str) -> None:
        """Move a bad file to the quarantine folder and warn (warn only if it cannot move)."""
        name = path.name
        if name in self._cache:  # already reported by this object
            return
        self._cache[name] = None
        dest = self.quarantine_dir / f"{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:6]}-{name}"
        try:
            self.quarantine_dir.mkdir(parents=True, exist_ok=True)
            os.replace(path, dest)
            where = f"moved to {dest}"
        except FileNotFoundError:
            return  # another reader moved it first (and reported it)
        except OSError as exc:
            where = f"left in place and ignored (cannot move it: {exc.strerror or exc})"
        warnings.warn(StoreCorruptionWarning(
            f"corrupt catalog store file {path}: {why}; {where}. The metrics it held count as "
            "missing: `brainobs analyze --missing` recomputes them."), stacklevel=4)

    def read(self) -> tuple[tuple[str, ...], pd.DataFrame]:
        """The listing read and the merged table (:func:`merge_parts`) of every valid part.

        Retries when a listed part vanished (a compaction deleted it after writing the
        part that replaces it). When parts were only added since the last read, they are
        merged into its result (cheap); otherwise everything is merged again.
        """
        for _ in range(READ_RETRIES):
            names = self.listing()
            try:
                frames = [self._load(n) for n in names]
            except FileNotFoundError:
                time.sleep(0.01)
                continue
            for gone in set(self._cache) - set(names):  # compacted away: free the memory
                self._cache.pop(gone, None)
            valid = tuple(n for n, f in zip(names, frames, strict=True) if f is not None)
            good = [f for f in frames if f is not None]
            prev = self._merged
            if prev is not None and valid[:len(prev[0])] == prev[0]:
                added = good[len(prev[0]):]
                merged = merge_parts([prev[1], *added]) if added else prev[1]
            else:
                merged = merge_parts(good) if good else empty_computed()
            self._merged = (valid, merged)
            return names, merged
        raise StoreError(f"the computed-metrics store {self.folder} changed during "
                         f"{READ_RETRIES} attempts to read it; try again")

    # ----------------------------------------------------------------- writing

    def check_writable(self) -> None:
        """Raise :class:`~brainobs.errors.ReadOnlyStoreError` unless a part can be written.

        Creates nothing: a probe file is made (and removed) in the parts folder or, when it
        does not exist yet, in its nearest existing parent folder.
        """
        folder = self.folder
        try:
            while not folder.exists() and folder.parent != folder:
                folder = folder.parent
            if not folder.is_dir():
                raise NotADirectoryError(errno.ENOTDIR, "Not a directory", str(folder))
            probe = temp_path(folder / "probe")
            with open(probe, "xb"):
                pass
            probe.unlink()
        except OSError as exc:
            raise ReadOnlyStoreError(self.catalog_dir.parent, _why(exc)) from exc

    def append(self, df: pd.DataFrame) -> Path:
        """Write ``df`` (``cell_specimen_id`` + metric columns) as a new part; return its path.

        Raises :class:`~brainobs.errors.ReadOnlyStoreError` when the store is not writable.
        Compacts the store afterwards when it has :data:`COMPACT_AT` parts or more older
        than :data:`COMPACT_MIN_AGE_S`.
        """
        if ID not in df.columns:
            raise ValueError("a computed-metrics part needs a cell_specimen_id column")
        table = pa.Table.from_pandas(df.reset_index(drop=True), preserve_index=False)
        table = table.replace_schema_metadata({**(table.schema.metadata or {}), MARKER_KEY: MARKER})
        self.check_writable()
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ReadOnlyStoreError(self.catalog_dir.parent, _why(exc)) from exc
        clean_temp_files(self.folder)
        clean_temp_files(self.catalog_dir)  # the cached tables' too
        tmp = temp_path(self.folder / "part")
        try:
            pq.write_table(table, tmp)
            with open(tmp, "rb") as f:
                os.fsync(f.fileno())
            # the time key is taken just before the part becomes visible (see compact)
            path = self.folder / f"part-{time.time_ns():020d}-{HOST}-{os.getpid()}-{uuid.uuid4().hex[:12]}.parquet"
            os.replace(tmp, path)
        except OSError as exc:
            with contextlib.suppress(OSError):
                tmp.unlink()
            raise ReadOnlyStoreError(self.catalog_dir.parent, _why(exc)) from exc
        except BaseException:
            with contextlib.suppress(OSError):
                tmp.unlink()
            raise
        horizon = time.time_ns() - int(COMPACT_MIN_AGE_S * 1e9)
        if sum(_sort_key(n)[0] < horizon for n in self.listing()) >= COMPACT_AT:
            self.compact()  # enough parts old enough to fold (see compact)
        return path

    def compact(self, min_age_s: float | None = None, wait: bool = False) -> int:
        """Fold the parts older than ``min_age_s`` into one; return how many were folded.

        Runs under an exclusive file lock (``.computed.lock``); when another process holds
        it, returns 0 at once (or waits, with ``wait=True``). Unreadable parts met on the
        way are quarantined. The folded part is written before the parts it replaces are
        deleted, with the time key of the newest of them.
        """
        from filelock import FileLock, Timeout

        age = COMPACT_MIN_AGE_S if min_age_s is None else min_age_s
        lock = FileLock(str(self.lock_path), timeout=-1 if wait else 0)
        try:
            lock.acquire()
        except Timeout:
            return 0
        except OSError:
            return 0  # cannot even create the lock file: read-only, nothing to do
        try:
            horizon = time.time_ns() - int(age * 1e9)
            chosen = [n for n in self.listing() if _sort_key(n)[0] < horizon]
            if len(chosen) < 2 and chosen != [LEGACY]:
                return 0
            frames = []
            kept = []
            for name in chosen:
                try:
                    df = self._load(name)
                except FileNotFoundError:
                    continue  # quarantined by a reader meanwhile
                if df is not None:
                    frames.append(df)
                    kept.append(name)
            if frames:
                merged = merge_parts(frames)
                key = max(_sort_key(n)[0] for n in kept)
                table = pa.Table.from_pandas(merged, preserve_index=False)
                table = table.replace_schema_metadata({**(table.schema.metadata or {}), MARKER_KEY: MARKER})
                self.folder.mkdir(parents=True, exist_ok=True)
                clean_temp_files(self.folder)
                # "~" sorts after every host name: the folded part reads after the newest it replaces
                path = self.folder / f"part-{max(key, 0):020d}-~compact-{uuid.uuid4().hex[:12]}.parquet"
                write_atomic(path, lambda tmp: pq.write_table(table, tmp))
            for name in kept:
                with contextlib.suppress(FileNotFoundError):
                    self._path(name).unlink()
                self._cache.pop(name, None)
            return len(kept)
        finally:
            lock.release()


# --------------------------------------------------------------------------- analysis stamps

STAMPS = "stamps"  # folder of the per-container analysis stamps, inside the catalog folder
_STAMP_RE = re.compile(r"^container-(?P<cid>\d+)\.json$")


def stamp_path(catalog_dir: Path, container_id: int) -> Path:
    """Where the analysis stamp of a container lives: ``<catalog>/stamps/container-<id>.json``.

    >>> stamp_path(Path("/d/.brainobs/catalog"), 7).as_posix()
    '/d/.brainobs/catalog/stamps/container-7.json'
    """
    return Path(catalog_dir) / STAMPS / f"container-{int(container_id)}.json"


def read_stamps(catalog_dir: Path) -> dict[int, dict]:
    """Every container's analysis stamp: ``{container_id: stamp}``.

    A stamp is what :func:`write_stamp` stored (a JSON object). An unreadable or malformed
    stamp file counts as no stamp (its container is simply analyzed again, which rewrites
    it); temporary files are ignored.

    >>> import tempfile
    >>> d = Path(tempfile.mkdtemp())
    >>> _ = write_stamp(d, 7, {"families": {"natural_scenes": {"pipeline": 1}}})
    >>> _ = (d / STAMPS / "container-8.json").write_text("{half")
    >>> read_stamps(d)
    {7: {'families': {'natural_scenes': {'pipeline': 1}}}}
    """
    import json

    out: dict[int, dict] = {}
    try:
        entries = list(os.scandir(Path(catalog_dir) / STAMPS))
    except OSError:
        return out
    for entry in entries:
        m = _STAMP_RE.match(entry.name)
        if m is None:
            continue
        try:
            with open(entry.path, encoding="utf-8") as f:
                stamp = json.load(f)
        except (OSError, ValueError):
            continue
        if isinstance(stamp, dict):
            out[int(m["cid"])] = stamp
    return out


def write_stamp(catalog_dir: Path, container_id: int, stamp: Mapping) -> Path:
    """Store a container's analysis stamp (JSON) atomically; return its path.

    Written to a temporary sibling and ``os.replace``-d (temporary files of killed writers
    are removed first), so a reader sees the old stamp or the new one. Raises
    :class:`~brainobs.errors.ReadOnlyStoreError` when the folder cannot be written.
    """
    import json

    path = stamp_path(catalog_dir, container_id)
    text = json.dumps(stamp, sort_keys=True, indent=1)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        clean_temp_files(path.parent)
        write_atomic(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))
    except OSError as exc:
        raise ReadOnlyStoreError(Path(catalog_dir).parent, _why(exc)) from exc
    return path


__all__ = [
    "COMPACT_AT", "COMPACT_MIN_AGE_S", "ComputedStore", "clean_temp_files", "empty_computed",
    "merge_parts", "read_stamps", "stamp_path", "temp_path", "write_atomic", "write_parquet_atomic",
    "write_stamp",
]
