"""Small HDF5 helpers: open a file safely and decode NWB 1.x values.

NWB 1.x files written by the Allen pipeline store text as fixed-length byte strings,
sometimes as scalars and sometimes as 1-element arrays; these helpers hide that.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from brainobs.errors import NWBFileError


def open_h5(path: Path) -> h5py.File:
    """Open ``path`` read-only, turning every failure into an :class:`NWBFileError`.

    >>> open_h5(Path("/no/such.nwb"))  # doctest: +IGNORE_EXCEPTION_DETAIL
    Traceback (most recent call last):
    NWBFileError: /no/such.nwb: no such file; expected an NWB 1.x session file
    """
    if not path.exists():
        raise NWBFileError(f"{path}: no such file; expected an NWB 1.x session file")
    if path.is_dir():
        raise NWBFileError(f"{path}: is a directory, not an NWB file; expected an NWB 1.x session file")
    try:
        empty = path.stat().st_size == 0
        hdf5 = h5py.is_hdf5(os.fspath(path))
    except OSError as exc:  # e.g. no read permission
        raise NWBFileError(f"{path}: cannot be read ({exc.strerror or exc})") from exc
    if empty:
        raise NWBFileError(f"{path}: empty file (0 bytes); expected an NWB 1.x session file")
    if not hdf5:
        raise NWBFileError(f"{path}: not an HDF5 file (no HDF5 signature); expected an NWB 1.x session")
    try:
        return h5py.File(path, "r")
    except OSError as exc:  # truncated / corrupt superblock or metadata
        raise NWBFileError(
            f"{path}: cannot be read as HDF5 (truncated or corrupt file?): {exc}"
        ) from exc


def decode(value: Any) -> Any:
    """Decode bytes (scalars or arrays) to ``str``; leave other values alone.

    >>> decode(b"VISp")
    'VISp'
    >>> decode(np.array([b"a", b"b"]))
    ['a', 'b']
    """
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, np.ndarray):
        if value.dtype.kind in "SO":
            return [decode(v) for v in value.ravel().tolist()]
        if value.dtype.kind == "U":
            return [str(v) for v in value.ravel().tolist()]
        return value
    if isinstance(value, np.generic):
        return value.item()
    return value


def read_value(ds: h5py.Dataset) -> Any:
    """Read a small dataset as a Python value; 1-element arrays become scalars.

    Text becomes ``str`` (or a list of ``str`` for longer arrays), numbers become
    Python numbers (or an ndarray for longer arrays).
    """
    value = ds[()]
    if isinstance(value, np.ndarray) and value.size == 1:
        value = value.reshape(-1)[0]
    return decode(value)


def read_strings(ds: h5py.Dataset) -> list[str]:
    """Read a 1-D (or scalar) text dataset as a list of ``str``."""
    value = decode(ds[()])
    if isinstance(value, list):
        return [str(v) for v in value]
    if isinstance(value, np.ndarray):
        return [str(v) for v in value.ravel().tolist()]
    return [str(value)]


_NUMBER = re.compile(r"[-+]?\d+(?:\.\d+)?")


def leading_number(text: Any) -> float | None:
    """First number in ``text`` ("275 microns" -> 275.0, "30.0 Hz" -> 30.0), else None.

    >>> leading_number("275 microns")
    275.0
    >>> leading_number(None) is None
    True
    """
    if text is None:
        return None
    if isinstance(text, (int, float, np.number)):
        return float(text)
    m = _NUMBER.search(str(text))
    return float(m.group()) if m else None


def version_tuple(version: str) -> tuple[int, ...]:
    """Comparable tuple of a dotted version string ("2.0" -> (2, 0)).

    >>> version_tuple("0.9") < version_tuple("2.0")
    True
    """
    return tuple(int(p) for p in re.findall(r"\d+", str(version))) or (0,)
