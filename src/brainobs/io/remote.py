"""Streaming reads: open a session file straight from an HTTP(S) URL, without a local copy.

h5py reads the file through a file object of fsspec's HTTP filesystem (aiohttp underneath),
which asks the server only for the byte ranges HDF5 needs (``Range: bytes=a-b``), in blocks
of ``block_size`` bytes kept in a small cache. Opening a :class:`~brainobs.io.Session` from a
URL therefore transfers the file's metadata; a few cells' traces transfer the compressed
chunks holding those cells; a metric transfers the frames it reads.

The packages are optional: ``pip install 'brainobs[stream]'`` (fsspec and aiohttp).

>>> is_url("https://allen-brain-observatory.s3.amazonaws.com/visual-coding-2p/x.nwb")
True
>>> session_url(501940850, "http://127.0.0.1:8000/mirror")
'http://127.0.0.1:8000/mirror/ophys_experiment_data/501940850.nwb'
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import Any

import h5py

from brainobs.errors import MissingDependencyError, NWBFileError

__all__ = [
    "DEFAULT_BLOCK_SIZE", "DEFAULT_SOURCE", "SOURCE_ENV", "is_url", "open_url", "require_fsspec",
    "session_url", "source_url",
]

#: The public open-data bucket of the Visual Coding 2P release (NWB 1 files), over HTTPS.
DEFAULT_SOURCE = "https://allen-brain-observatory.s3.amazonaws.com/visual-coding-2p/"
#: Environment variable naming another base URL with the same layout (a mirror, a local server).
SOURCE_ENV = "BRAINOBS_SOURCE"
#: Where a session file lives under the base URL (the bucket's and AllenSDK's layout).
SESSION_KEY = "ophys_experiment_data/{experiment_id}.nwb"
#: Bytes per range request. HDF5 metadata is read in small pieces scattered over the file;
#: 256 KiB blocks keep the number of requests low without pulling much that is not asked for.
DEFAULT_BLOCK_SIZE = 256 * 1024
#: Blocks kept in memory per open file (LRU), so metadata read again is not fetched again.
MAX_BLOCKS = 64
#: A request that fails on the way (connection error, timeout, HTTP 5xx or 429) is tried
#: again this many times, after RETRY_DELAY, 2 × RETRY_DELAY, ... seconds.
RETRIES = 3
RETRY_DELAY = 0.5

_HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"
_INSTALL = "pip install 'brainobs[stream]'"


def is_url(target: object) -> bool:
    """True for an ``http://`` or ``https://`` URL (any case), False for anything else.

    >>> is_url("ophys_experiment_data/1.nwb"), is_url("HTTP://host/1.nwb")
    (False, True)
    """
    return isinstance(target, str) and target.strip().lower().startswith(("http://", "https://"))


def source_url(source: str | None = None) -> str:
    """The base URL of the session files: ``source``, else ``$BRAINOBS_SOURCE``, else the bucket.

    Always ends with ``/``. Raises :class:`ValueError` for anything but an http(s) URL.

    >>> source_url("http://127.0.0.1:8000")
    'http://127.0.0.1:8000/'
    """
    where = "source"
    if source is None:
        source, where = os.environ.get(SOURCE_ENV) or DEFAULT_SOURCE, SOURCE_ENV
    if not is_url(source):
        raise ValueError(f"{where} must be an http:// or https:// base URL such as {DEFAULT_SOURCE!r}; "
                         f"got {source!r}")
    source = str(source).strip()
    return source if source.endswith("/") else source + "/"


def session_url(experiment_id: int, source: str | None = None) -> str:
    """URL of an experiment's NWB file under :func:`source_url` (``ophys_experiment_data/<id>.nwb``)."""
    return source_url(source) + SESSION_KEY.format(experiment_id=int(experiment_id))


def require_fsspec() -> Any:
    """The ``fsspec`` module with its HTTP backend, or MissingDependencyError saying what to install."""
    missing = []
    for name in ("fsspec", "aiohttp"):
        try:
            __import__(name)
        except ImportError:
            missing.append(name)
    if missing:
        raise MissingDependencyError(
            f"reading a session over HTTP needs {' and '.join(missing)}, which "
            f"{'is' if len(missing) == 1 else 'are'} not installed; install them with: {_INSTALL}"
        )
    import fsspec

    return fsspec


class RemoteFile:
    """A read-only, seekable file object over HTTP range requests, as h5py reads it.

    Wraps an fsspec HTTP file and turns transfer failures into :class:`NWBFileError`
    naming the URL. ``bytes_fetched`` counts the bytes received from the server.
    """

    def __init__(self, raw: Any, url: str, block_size: int):
        self._raw = raw
        self.url = url
        self.size = int(raw.size)
        self.block_size = block_size
        self._direct_bytes = 0

    @property
    def bytes_fetched(self) -> int:
        """Bytes received from the server so far (cached blocks and direct reads)."""
        cache = getattr(self._raw, "cache", None)
        return int(getattr(cache, "total_requested_bytes", 0)) + self._direct_bytes

    def _read_direct(self, size: int) -> bytes:
        # A read of at least one block (a compressed chunk of traces, say) is one range
        # request for exactly its bytes, past the block cache: fewer requests, no
        # over-fetch at either end, and it does not evict the cached metadata blocks.
        pos = int(self._raw.tell())
        end = min(pos + size, self.size)
        data = self._raw._fetch_range(pos, end) if end > pos else b""
        self._direct_bytes += len(data)
        self._raw.seek(pos + len(data))
        return bytes(data)

    def _fail(self, exc: BaseException) -> NWBFileError:
        text = str(exc)
        if isinstance(exc, ValueError) and "range" in text.lower():
            return NWBFileError(
                f"{self.url}: the server ignores HTTP range requests (it sent the whole file for a "
                "partial read), so the file cannot be streamed; download it instead "
                "(`brainobs download`) or use a server that supports Range")
        status = _status(exc)
        what = f"HTTP {status}" if status else (text or type(exc).__name__)
        return NWBFileError(f"{self.url}: reading the file over HTTP failed ({what})")

    def _retrying(self, read: Callable[[], Any]) -> Any:
        # A failed block is not cached, so reading again from the same place is safe.
        pos = self._raw.tell()
        for attempt in range(RETRIES + 1):
            try:
                return read()
            except Exception as exc:  # aiohttp/asyncio errors, fsspec's range check
                if attempt == RETRIES or not _transient(exc):
                    raise self._fail(exc) from exc
                time.sleep(RETRY_DELAY * 2**attempt)
                self._raw.seek(pos)
        raise AssertionError("unreachable")  # pragma: no cover

    def read(self, size: int = -1) -> bytes:
        if size is not None and size >= self.block_size:
            return self._retrying(lambda: self._read_direct(size))
        return self._retrying(lambda: self._raw.read(size))

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        if len(view) >= self.block_size:
            data = self._retrying(lambda: self._read_direct(len(view)))
            view[: len(data)] = data
            return len(data)
        return int(self._retrying(lambda: self._raw.readinto(view)))

    def seek(self, offset: int, whence: int = 0) -> int:
        return int(self._raw.seek(offset, whence))

    def tell(self) -> int:
        return int(self._raw.tell())

    def seekable(self) -> bool:
        return True

    def readable(self) -> bool:
        return True

    @property
    def closed(self) -> bool:
        return bool(self._raw.closed)

    def close(self) -> None:
        self._raw.close()


def _status(exc: BaseException | None) -> int | None:
    """The HTTP status code carried by an exception or one of its causes, if any."""
    seen = 0
    while exc is not None and seen < 10:
        status = getattr(exc, "status", None) or getattr(exc, "status_code", None)
        if isinstance(status, int):
            return status
        exc = exc.__cause__ or exc.__context__
        seen += 1
    return None


def _transient(exc: BaseException) -> bool:
    """Worth another try: a server error (5xx), 429, or a failure without an HTTP status
    (connection refused or dropped, timeout); not a 4xx and not a server without range support."""
    status = _status(exc)
    if status is not None:
        return status >= 500 or status == 429
    return not isinstance(exc, ValueError)


def _reason(exc: BaseException) -> str:
    """A short reason for a failed request: the HTTP status or the innermost error."""
    status = _status(exc)
    if status is not None:
        return f"HTTP {status}" + (" (not found)" if status == 404 else "")
    inner: BaseException = exc
    while (inner.__cause__ or inner.__context__) is not None:
        inner = inner.__cause__ or inner.__context__  # type: ignore[assignment]
    text = str(inner) or type(inner).__name__
    return f"unreachable: {text}"


def open_url(url: str, block_size: int | None = None) -> tuple[h5py.File, RemoteFile]:
    """Open the HDF5 file at ``url`` read-only over HTTP range requests.

    Parameters
    ----------
    url : str
        ``http://`` or ``https://`` URL of an NWB (HDF5) file.
    block_size : int, optional
        Bytes per range request (default :data:`DEFAULT_BLOCK_SIZE`).

    Returns
    -------
    (h5py.File, RemoteFile)
        The open file and its byte source (close both; ``Session`` does).

    Raises
    ------
    NWBFileError
        The URL cannot be reached, answers with an HTTP error (the status is named), gives
        no file size, is not an HDF5 file, or is served without range support.
    MissingDependencyError
        fsspec or aiohttp is not installed.
    """
    fsspec = require_fsspec()
    bs = DEFAULT_BLOCK_SIZE if block_size is None else int(block_size)
    if bs <= 0:
        raise ValueError(f"block_size must be a positive number of bytes; got {block_size!r}")
    fs = fsspec.filesystem("http")
    for attempt in range(RETRIES + 1):
        try:
            info = fs.info(url)
            break
        except Exception as exc:  # FileNotFoundError wrapping the aiohttp error
            if attempt == RETRIES or _status(exc) is None or not _transient(exc):
                # no status: the host cannot be reached at all; fail at once rather than wait
                raise NWBFileError(f"{url}: cannot open the session file over HTTP ({_reason(exc)})") from exc
            time.sleep(RETRY_DELAY * 2**attempt)
    if info.get("size") is None:
        raise NWBFileError(f"{url}: the server does not give the file's size (no Content-Length), "
                           "so it cannot be read with range requests")
    if int(info["size"]) == 0:
        raise NWBFileError(f"{url}: empty file (0 bytes); expected an NWB 1.x session file")
    try:
        raw = fs.open(url, "rb", block_size=bs, cache_type="blockcache",
                      cache_options={"maxblocks": MAX_BLOCKS}, size=int(info["size"]))
    except Exception as exc:
        raise NWBFileError(f"{url}: cannot open the session file over HTTP ({_reason(exc)})") from exc
    remote = RemoteFile(raw, url, bs)
    try:
        head = remote.read(len(_HDF5_SIGNATURE))
        remote.seek(0)
        if head != _HDF5_SIGNATURE:
            raise NWBFileError(f"{url}: not an HDF5 file (no HDF5 signature in its first bytes); "
                               "expected an NWB 1.x session file")
        try:
            h5 = h5py.File(remote, "r")
        except NWBFileError:
            raise
        except OSError as exc:
            raise NWBFileError(f"{url}: cannot be read as HDF5 (truncated or corrupt file?): {exc}") from exc
    except BaseException:
        remote.close()
        raise
    return h5, remote
