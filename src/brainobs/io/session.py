"""A lazy reader of one Allen Brain Observatory (Visual Coding 2P) NWB 1.x session file.

Opening a :class:`Session` reads only the small metadata datasets. Traces, masks,
stimulus tables and templates are read when first asked for and cached; traces are
read as HDF5 hyperslabs so a few cells or a time window never load the whole matrix.
The file is opened read-only and never written to. A session can also be streamed from an
http(s) URL (:mod:`brainobs.io.remote`): the same reads then fetch only their byte ranges.
"""

from __future__ import annotations

import os
import re
from functools import cached_property
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import h5py
import numpy as np
import pandas as pd
import xarray as xr

from brainobs._validate import as_int_list
from brainobs.errors import MissingDataError, NWBFileError, UnknownIdError, UnknownStimulusError
from brainobs.io import layout, remote
from brainobs.io import stimulus as stim
from brainobs.io._h5 import leading_number, open_h5, read_strings, read_value, version_tuple
from brainobs.vocab import IMAGING_SHAPE, MOVIE_STIMULI, STIMULI

__all__ = ["Session", "open_session"]

DEFAULT_PIPELINE_VERSION = "0.9"  # what AllenSDK assumes when generated_by is absent
_DEVICE = re.compile(r"(.*?)\.\s(.*?)\sPleas", re.DOTALL)
_AGE = re.compile(r"(.*?) days")

_TRACE_UNITS = {
    "dff": "dF/F",
    "fluorescence": "a.u.",
    "demixed": "a.u.",
    "neuropil": "a.u.",
    "corrected_fluorescence": "a.u.",
}


def open_session(path: str | os.PathLike, *, block_size: int | None = None) -> Session:
    """Open an NWB 1.x session file, or stream one from an http(s) URL; same as ``Session(path)``.

    Examples
    --------
    >>> s = open_session("ophys_experiment_data/527745328.nwb")  # doctest: +SKIP
    >>> s.session_type, s.n_cells  # doctest: +SKIP
    ('three_session_A', 174)
    >>> url = ("https://allen-brain-observatory.s3.amazonaws.com/visual-coding-2p/"
    ...        "ophys_experiment_data/527745328.nwb")
    >>> s = open_session(url)  # doctest: +SKIP
    """
    return Session(path, block_size=block_size)


def _parse_metadata(raw: dict[str, Any]) -> dict[str, Any]:
    """Turn raw metadata values into AllenSDK ``get_metadata()`` keys plus extras."""
    meta: dict[str, Any] = {}
    for key in (
        "sex", "targeted_structure", "excitation_lambda", "indicator", "fov", "genotype",
        "session_type", "specimen_name", "nwb_version", "identifier", "session_description",
        "subject_id",
    ):
        value = raw.get(key)
        meta[key] = str(value) if isinstance(value, (bytes, str, int, float)) else value
    if not meta["targeted_structure"] and raw.get("targeted_structure_general"):
        meta["targeted_structure"] = str(raw["targeted_structure_general"])

    for key in ("ophys_experiment_id", "experiment_container_id"):
        number = leading_number(raw.get(key))
        meta[key] = int(number) if number is not None else None

    start = raw.get("session_start_time")
    if isinstance(start, str):
        try:
            from dateutil import parser as _dateparser

            start = _dateparser.parse(start)
        except (ValueError, OverflowError):
            pass  # keep the text when it is not a date we understand
    meta["session_start_time"] = start

    # Genotype "Cux2-CreERT2/wt;Camk2a-tTA/wt;Ai93(TITL-GCaMP6f)/wt": the Cre line is the
    # first ';' part and the reporter the part naming an Ai line, both without the allele.
    genotype = meta["genotype"] or ""
    parts = [p.strip() for p in str(genotype).split(";") if p.strip()]
    meta["cre_line"] = parts[0].split("/")[0] if parts else None
    reporters = [p.split("/")[0] for p in parts if re.match(r"Ai\d", p)]
    meta["reporter_line"] = reporters[0] if reporters else None

    depth = leading_number(raw.get("imaging_depth"))
    meta["imaging_depth_um"] = int(depth) if depth is not None else None

    age = raw.get("age")
    match = _AGE.match(str(age)) if age is not None else None
    days = leading_number(match.group(1)) if match else None
    meta["age_days"] = int(days) if days is not None else None
    meta["age"] = age

    device = raw.get("device")
    meta["device"], meta["device_name"] = None, None
    if device is not None:
        m = _DEVICE.match(str(device))
        if m:
            meta["device"], meta["device_name"] = m.group(1), m.group(2)
        else:  # unusual wording: keep the whole string rather than fail
            meta["device"] = str(device)

    meta["pipeline_version"] = _pipeline_version(raw.get("generated_by"))
    rate = leading_number(raw.get("imaging_rate"))
    meta["imaging_rate"] = rate
    return meta


def _pipeline_version(generated_by: Any) -> str:
    # AllenSDK: the last element of generated_by; "0.9" when absent.
    if generated_by is None:
        return DEFAULT_PIPELINE_VERSION
    items = generated_by if isinstance(generated_by, list) else [generated_by]
    items = [str(i).strip() for i in items if str(i).strip()]
    if not items:
        return DEFAULT_PIPELINE_VERSION
    last = items[-1]
    if re.fullmatch(r"v?\d+(\.\d+)*", last):
        return last.lstrip("v")
    found = re.findall(r"\d+(?:\.\d+)+", last)
    return found[-1] if found else last


class Session:
    """One Visual Coding 2P imaging session (an ophys experiment) in an NWB 1.x file.

    Parameters
    ----------
    path : str or os.PathLike
        The ``<ophys_experiment_id>.nwb`` file, or its ``http://`` / ``https://`` URL: the
        session is then streamed with HTTP range requests (needs ``brainobs[stream]``) and
        only the parts that are read are transferred. ``path`` is then the URL's path part
        and ``url`` the URL.
    block_size : int, optional
        Streamed sessions only: bytes per range request (default
        :data:`brainobs.io.remote.DEFAULT_BLOCK_SIZE`).

    Raises
    ------
    NWBFileError
        When the file is missing, not HDF5, truncated/corrupt, or not an Allen NWB 1.x session;
        for a URL also when it cannot be reached or answers with an HTTP error (named).
    MissingDependencyError
        A URL without the streaming packages installed (the message says what to install).

    Notes
    -----
    Only metadata is read when opening. Everything else is read on first use and cached.
    A Session pickles by path (caches are dropped), so it can be sent to other processes;
    it reopens the file lazily, also after :meth:`close`.

    Examples
    --------
    >>> with Session("527745328.nwb") as s:  # doctest: +SKIP
    ...     dff = s.dff(cell_specimen_ids=[517472416], times=(100, 200))
    ...     table = s.stimulus_table("drifting_gratings")
    """

    def __init__(self, path: str | os.PathLike, *, block_size: int | None = None):
        if not isinstance(path, (str, os.PathLike)):
            raise TypeError(f"path must be the path of an NWB file (str or os.PathLike); got "
                            f"{type(path).__name__} {path!r}")
        if not os.fspath(path).strip():
            raise NWBFileError("the path is empty; give the path of an NWB 1.x session file "
                               "(<ophys_experiment_id>.nwb)")
        if block_size is not None and (isinstance(block_size, bool) or not isinstance(block_size, int)
                                       or block_size <= 0):
            raise ValueError(f"block_size must be a positive number of bytes; got {block_size!r}")
        self.url: str | None = None
        if remote.is_url(path):
            self.url = str(path).strip()
            self.path = Path(urlsplit(self.url).path or "/")
        else:
            self.path = Path(path).expanduser()
        self.block_size = block_size
        self._h5: h5py.File | None = None
        self._remote: remote.RemoteFile | None = None
        self._init_caches()
        try:
            self._metadata = self._read_metadata()
        except BaseException:
            self.close()
            raise

    # ------------------------------------------------------------------ file handling
    def _init_caches(self) -> None:
        self._tables: dict[str, pd.DataFrame] = {}
        self._templates: dict[str, np.ndarray] = {}
        self._masks: dict[int, np.ndarray] = {}

    @property
    def source(self) -> str:
        """Where the session is read from: the URL of a streamed session, else the file path."""
        return self.url if self.url is not None else str(self.path)

    @property
    def is_remote(self) -> bool:
        """True when the session is streamed from an http(s) URL (see :mod:`brainobs.io.remote`)."""
        return self.url is not None

    @property
    def bytes_fetched(self) -> int | None:
        """Bytes received from the server since the file was (re)opened; None for a local file."""
        if self.url is None:
            return None
        return self._remote.bytes_fetched if self._remote is not None else 0

    @property
    def _file(self) -> h5py.File:
        if self._h5 is None or not self._h5.id.valid:
            if self.url is not None:
                self.close()
                self._h5, self._remote = remote.open_url(self.url, self.block_size)
            else:
                self._h5 = open_h5(self.path)
        return self._h5

    def close(self) -> None:
        """Close the HDF5 file (it is reopened automatically if the session is used again)."""
        if self._h5 is not None:
            if self._h5.id.valid:
                self._h5.close()
            self._h5 = None
        if self._remote is not None:
            self._remote.close()
            self._remote = None

    def __enter__(self) -> Session:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __getstate__(self) -> dict[str, Any]:
        # Ship the path and the (small) metadata only; data caches are rebuilt on demand.
        return {"path": self.path, "url": self.url, "block_size": self.block_size,
                "_metadata": self._metadata}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.path = state["path"]
        self.url = state.get("url")
        self.block_size = state.get("block_size")
        self._metadata = state["_metadata"]
        self._h5 = None
        self._remote = None
        self._init_caches()

    def _dataset(self, path: str, what: str) -> h5py.Dataset:
        """The dataset at ``path``; MissingDataError naming the file and path when absent."""
        obj = self._file.get(path)
        if not isinstance(obj, h5py.Dataset):
            raise MissingDataError(f"{self.source}: no {what} ({path}) in this file")
        return obj

    def _read_metadata(self) -> dict[str, Any]:
        f = self._file
        if not isinstance(f.get(layout.METADATA_PATHS["nwb_version"]), h5py.Dataset):
            raise NWBFileError(
                f"{self.source}: not an NWB 1.x file (no /{layout.METADATA_PATHS['nwb_version']} dataset)"
            )
        version = str(read_value(f[layout.METADATA_PATHS["nwb_version"]]))
        if version_tuple(version)[0] >= 2:
            raise NWBFileError(
                f"{self.source}: NWB version {version!r} is not supported; expected an NWB 1.x session file"
            )
        if not isinstance(f.get(layout.PIPE), h5py.Group):
            raise NWBFileError(
                f"{self.source}: not an Allen Brain Observatory session "
                f"(no processing module /{layout.PIPE})"
            )
        raw: dict[str, Any] = {"nwb_version": version}
        for key, path in layout.METADATA_PATHS.items():
            obj = f.get(path)
            if key in raw:
                continue
            if isinstance(obj, h5py.Dataset):
                raw[key] = read_value(obj)
        meta = _parse_metadata(raw)
        # Shapes only (no data read): numbers of cells and imaging frames.
        ids = f.get(layout.CELL_SPECIMEN_IDS)
        meta["n_cells"] = int(ids.shape[0]) if isinstance(ids, h5py.Dataset) and ids.shape else 0
        ts_path = next(
            (p for p in (layout.FLUORESCENCE_TIMESTAMPS, layout.TWO_PHOTON_TIMESTAMPS, layout.DFF_TIMESTAMPS)
             if isinstance(f.get(p), h5py.Dataset)),
            None,
        )
        meta["n_frames"] = int(f[ts_path].shape[0]) if ts_path else 0
        meta["timestamps_path"] = ts_path
        group = f.get(layout.STIMULUS_PRESENTATION)
        meta["stimuli"] = [k.replace("_stimulus", "") for k in group.keys()] if isinstance(group, h5py.Group) else []
        return meta

    # ------------------------------------------------------------------ metadata
    @property
    def metadata(self) -> dict[str, Any]:
        """Session metadata: AllenSDK ``get_metadata()`` keys plus ``reporter_line``,
        ``imaging_rate``, ``n_cells``, ``n_frames``, ``stimuli`` and a few raw fields."""
        return dict(self._metadata)

    @property
    def ophys_experiment_id(self) -> int | None:
        """The ophys experiment (session) id."""
        return self._metadata["ophys_experiment_id"]

    @property
    def experiment_container_id(self) -> int | None:
        """The experiment container id."""
        return self._metadata["experiment_container_id"]

    @property
    def session_type(self) -> str | None:
        """``three_session_A`` / ``B`` / ``C`` / ``C2``."""
        return self._metadata["session_type"]

    @property
    def targeted_structure(self) -> str | None:
        """Visual area acronym, e.g. ``VISp``."""
        return self._metadata["targeted_structure"]

    @property
    def imaging_depth(self) -> int | None:
        """Imaging depth in µm."""
        return self._metadata["imaging_depth_um"]

    @property
    def cre_line(self) -> str | None:
        """Cre driver line from the genotype, e.g. ``Cux2-CreERT2``."""
        return self._metadata["cre_line"]

    @property
    def reporter_line(self) -> str | None:
        """Reporter line from the genotype, e.g. ``Ai93(TITL-GCaMP6f)``."""
        return self._metadata["reporter_line"]

    @property
    def genotype(self) -> str | None:
        """Full donor genotype."""
        return self._metadata["genotype"]

    @property
    def specimen_name(self) -> str | None:
        """Specimen (donor) name."""
        return self._metadata["specimen_name"]

    @property
    def age_days(self) -> int | None:
        """Donor age in days at the session."""
        return self._metadata["age_days"]

    @property
    def sex(self) -> str | None:
        """Donor sex."""
        return self._metadata["sex"]

    @property
    def device(self) -> str | None:
        """Microscope description."""
        return self._metadata["device"]

    @property
    def pipeline_version(self) -> str:
        """Allen processing pipeline version (``"0.9"`` when the file does not say)."""
        return self._metadata["pipeline_version"]

    @property
    def n_cells(self) -> int:
        """Number of ROIs / cells (rows of every trace matrix)."""
        return self._metadata["n_cells"]

    @property
    def n_frames(self) -> int:
        """Number of imaging frames."""
        return self._metadata["n_frames"]

    def _is_v2(self) -> bool:
        return version_tuple(self.pipeline_version) >= (2, 0)

    def __repr__(self) -> str:
        m = self._metadata
        depth = f"{m['imaging_depth_um']} µm" if m["imaging_depth_um"] is not None else "? µm"
        stimuli = ", ".join(m["stimuli"]) or "none"
        return (
            f"<Session {m['ophys_experiment_id']} {m['session_type']} {m['targeted_structure']} "
            f"{m['cre_line']} {depth}: {m['n_cells']} cells × {m['n_frames']} frames; "
            f"stimuli: {stimuli}>"
        )

    # ------------------------------------------------------------------ time base and ids
    @cached_property
    def timestamps(self) -> np.ndarray:
        """Two-photon frame times in seconds (1-D float64)."""
        path = self._metadata["timestamps_path"]
        if path is None:
            raise MissingDataError(f"{self.source}: no imaging timestamps ({layout.FLUORESCENCE_TIMESTAMPS}) in this file")
        return np.asarray(self._file[path][()], dtype=np.float64).reshape(-1)

    @cached_property
    def frame_rate(self) -> float:
        """Imaging frame rate in Hz (from the file's imaging rate, else from the timestamps)."""
        rate = self._metadata.get("imaging_rate")
        if rate:
            return float(rate)
        ts = self.timestamps
        return float(1.0 / np.median(np.diff(ts))) if len(ts) > 1 else float("nan")

    @cached_property
    def cell_specimen_ids(self) -> np.ndarray:
        """Cell specimen ids (int64), one per trace row."""
        return np.asarray(self._dataset(layout.CELL_SPECIMEN_IDS, "cell specimen ids")[()]).reshape(-1).astype(np.int64)

    @cached_property
    def roi_ids(self) -> np.ndarray:
        """ROI ids as strings, one per trace row."""
        return np.asarray(read_strings(self._dataset(layout.ROI_IDS, "ROI ids")), dtype=str)

    def cell_indices(self, cell_specimen_ids: Any) -> np.ndarray:
        """Trace-row positions of ``cell_specimen_ids`` (in the given order).

        Raises :class:`~brainobs.errors.UnknownIdError` naming every unknown id.

        >>> s.cell_indices([517472416, 517472410])  # doctest: +SKIP
        array([3, 0])
        """
        wanted = np.asarray(as_int_list(cell_specimen_ids, "cell_specimen_ids"), dtype=np.int64)
        ids = self.cell_specimen_ids
        order = np.argsort(ids, kind="stable")
        pos = np.searchsorted(ids, wanted, sorter=order)
        pos = np.clip(pos, 0, max(len(ids) - 1, 0))
        found = (ids[order[pos]] == wanted) if len(ids) else np.zeros(len(wanted), bool)
        if not np.all(found):
            hint = (f"This session has {len(ids)} cells, ids {ids.min()} to {ids.max()} "
                    "(see Session.cell_specimen_ids)." if len(ids) else "This session has no cells.")
            raise UnknownIdError("cell specimen", wanted[~found].tolist(), where=self.source, valid=hint)
        return order[pos].astype(np.int64)

    def _rows(self, cell_specimen_ids: Any) -> np.ndarray | None:
        return None if cell_specimen_ids is None else self.cell_indices(cell_specimen_ids)

    # ------------------------------------------------------------------ images and masks
    def reference_image_names(self) -> list[str]:
        """Names of the reference images in the file (e.g. ``maximum_intensity_projection_image``)."""
        group = self._file.get(layout.REFERENCE_IMAGES)
        return list(group.keys()) if isinstance(group, h5py.Group) else []

    def reference_image(self, name: str) -> np.ndarray:
        """A reference image by name (see :meth:`reference_image_names`); cached."""
        names = self.reference_image_names()
        if name not in names:
            if not names:
                raise MissingDataError(f"{self.source}: no reference images ({layout.REFERENCE_IMAGES}) in this file")
            from brainobs.errors import UnknownValueError

            raise UnknownValueError(name, names, kind="reference image")
        key = f"ref:{name}"
        if key not in self._templates:
            self._templates[key] = np.asarray(self._dataset(f"{layout.REFERENCE_IMAGES}/{name}/data", name)[()])
        return self._templates[key]

    @property
    def max_projection(self) -> np.ndarray:
        """Maximum-intensity projection of the imaging movie (2-D)."""
        key = "ref:maximum_intensity_projection_image"
        if key not in self._templates:
            self._templates[key] = np.asarray(self._dataset(layout.MAX_PROJECTION, "maximum projection")[()])
        return self._templates[key]

    @cached_property
    def _roi_names(self) -> list[str]:
        for path in (layout.ROI_LIST, layout.ROI_NAMES):
            obj = self._file.get(path)
            if isinstance(obj, h5py.Dataset):
                return read_strings(obj)
        raise MissingDataError(f"{self.source}: no ROI list ({layout.ROI_LIST}) in this file")

    def _mask(self, row: int) -> np.ndarray:
        if row not in self._masks:
            name = self._roi_names[row]
            ds = self._dataset(f"{layout.IMAGING_PLANE}/{name}/img_mask", f"mask of ROI {name}")
            self._masks[row] = np.asarray(ds[()]) > 0
        return self._masks[row]

    def _select_rows(self, cell_specimen_ids: Any) -> np.ndarray:
        rows = self._rows(cell_specimen_ids)
        return np.arange(self.n_cells) if rows is None else rows

    def roi_masks(self, cell_specimen_ids: Any = None) -> np.ndarray:
        """ROI masks as an ``(N, H, W)`` boolean array, in the order of ``cell_specimen_ids``.

        >>> s.roi_masks([517472416]).shape  # doctest: +SKIP
        (1, 512, 512)
        """
        rows = self._select_rows(cell_specimen_ids)
        if len(rows) == 0:
            shape = self._mask_shape()
            return np.zeros((0, *shape), dtype=bool)
        return np.stack([self._mask(int(r)) for r in rows])

    def _mask_shape(self) -> tuple[int, int]:
        if self.n_cells:
            ds = self._file.get(f"{layout.IMAGING_PLANE}/{self._roi_names[0]}/img_mask")
            if isinstance(ds, h5py.Dataset):
                height, width = ds.shape[-2:]
                return int(height), int(width)
        return IMAGING_SHAPE

    def roi_masks_compact(self, cell_specimen_ids: Any = None) -> pd.DataFrame:
        """ROI masks as a pixel table: one row per mask pixel.

        Columns ``cell_specimen_id``, ``roi_id``, ``y`` (row), ``x`` (column).
        """
        rows = self._select_rows(cell_specimen_ids)
        ys, xs, owner = [], [], []
        for i, r in enumerate(rows):
            y, x = np.nonzero(self._mask(int(r)))
            ys.append(y)
            xs.append(x)
            owner.append(np.full(len(y), i))
        owner_idx = np.concatenate(owner) if owner else np.empty(0, np.int64)
        sel = rows[owner_idx] if len(owner_idx) else np.empty(0, np.int64)
        return pd.DataFrame(
            {
                "cell_specimen_id": self.cell_specimen_ids[sel],
                "roi_id": self.roi_ids[sel] if len(sel) else np.empty(0, dtype=str),
                "y": np.concatenate(ys).astype(np.int64) if ys else np.empty(0, np.int64),
                "x": np.concatenate(xs).astype(np.int64) if xs else np.empty(0, np.int64),
            }
        )

    # ------------------------------------------------------------------ traces
    def _frame_slice(self, frames: Any, times: Any) -> slice:
        if frames is not None and times is not None:
            raise ValueError("give frames= or times=, not both")
        n = self.n_frames
        if times is not None:
            try:
                t0, t1 = (float(t) for t in times)
            except (TypeError, ValueError):
                raise ValueError(f"times must be a (start, stop) pair in seconds; got {times!r}") from None
            if t1 < t0:
                raise ValueError(f"times must have start <= stop; got {times!r}")
            ts = self.timestamps
            # half-open window: t0 <= time < t1
            return slice(int(np.searchsorted(ts, t0, "left")), int(np.searchsorted(ts, t1, "left")))
        if frames is None:
            return slice(0, n)
        if isinstance(frames, slice):
            start, stop, step = frames.indices(n)
            if step < 1:
                raise ValueError(f"frames slice step must be positive; got {frames!r}")
            return slice(start, max(stop, start), step)
        try:
            f0, f1 = (int(f) for f in frames)
        except (TypeError, ValueError):
            raise ValueError(f"frames must be a slice or a (start, stop) pair; got {frames!r}") from None
        # A (start, stop) pair means frame numbers, never Python's count-from-the-end.
        if f0 < 0 or f1 < f0:
            raise ValueError(
                f"frames=({f0}, {f1}) is not a frame range: need 0 <= start <= stop (the session "
                f"has {n} frames; use a slice for Python-style negative indices)"
            )
        return slice(min(f0, n), min(f1, n))

    def _read_block(self, path: str, what: str, rows: np.ndarray | None, fsl: slice) -> np.ndarray:
        ds = self._dataset(path, what)
        if rows is None:
            return np.asarray(ds[:, fsl])
        n_sel = len(range(*fsl.indices(ds.shape[1])))
        if len(rows) == 0:
            return np.empty((0, n_sel), dtype=ds.dtype)
        uniq, inverse = np.unique(rows, return_inverse=True)
        if uniq[-1] - uniq[0] + 1 == len(uniq):  # contiguous rows: one plain hyperslab
            block = ds[int(uniq[0]) : int(uniq[-1]) + 1, fsl]
        else:  # one fancy-index read on sorted unique rows (h5py needs increasing indices)
            block = ds[uniq, fsl]
        inverse = inverse.reshape(-1)
        if len(inverse) == len(uniq) and np.array_equal(rows, uniq):
            return np.asarray(block)  # already in the requested order: no reordering copy
        return np.asarray(block)[inverse]

    def _neuropil_paths(self) -> tuple[str, str]:
        if self._is_v2():
            return f"{layout.TRACES['neuropil']}/data", layout.NEUROPIL_R
        return layout.NEUROPIL_TRACES_V1, layout.FLUORESCENCE_R

    def _trace_path(self, kind: str) -> str:
        if kind == "neuropil":
            return self._neuropil_paths()[0]
        return f"{layout.TRACES[kind]}/data"

    def _labelled(self, kind: str, data: np.ndarray, rows: np.ndarray | None, fsl: slice) -> xr.DataArray:
        frame = np.arange(*fsl.indices(self.n_frames))
        ids = self.cell_specimen_ids if rows is None else self.cell_specimen_ids[rows]
        return xr.DataArray(
            data,
            dims=("cell", "frame"),
            coords={
                "cell_specimen_id": ("cell", ids),
                "frame": ("frame", frame),
                "time": ("frame", self.timestamps[fsl]),
            },
            name=kind,
            attrs={
                "trace": kind,
                "units": _TRACE_UNITS[kind],
                "ophys_experiment_id": self.ophys_experiment_id,
                "pipeline_version": self.pipeline_version,
                "source": self.source,
            },
        )

    def _trace(self, kind: str, cell_specimen_ids: Any, frames: Any, times: Any) -> xr.DataArray:
        rows = self._rows(cell_specimen_ids)
        fsl = self._frame_slice(frames, times)
        data = self._read_block(self._trace_path(kind), f"{kind} traces", rows, fsl)
        return self._labelled(kind, data, rows, fsl)

    def dff(self, cell_specimen_ids: Any = None, frames: Any = None, times: Any = None) -> xr.DataArray:
        """dF/F traces as a DataArray with dims ``("cell", "frame")``.

        Parameters
        ----------
        cell_specimen_ids : int or list of int, optional
            Cells to read, in this order (default: all, in file order).
        frames : slice or (start, stop), optional
            Imaging-frame range.
        times : (t0, t1), optional
            Time window in seconds, frames with ``t0 <= time < t1``.

        Returns
        -------
        xarray.DataArray
            Coordinates ``cell_specimen_id`` (cell), ``frame`` and ``time`` (frame).
            Only the requested hyperslab is read from the file.

        Examples
        --------
        >>> s.dff([517472416], times=(10.0, 20.0)).sel(frame=slice(300, 310))  # doctest: +SKIP
        """
        return self._trace("dff", cell_specimen_ids, frames, times)

    def fluorescence(self, cell_specimen_ids: Any = None, frames: Any = None, times: Any = None) -> xr.DataArray:
        """Raw ROI fluorescence traces; same arguments as :meth:`dff`."""
        return self._trace("fluorescence", cell_specimen_ids, frames, times)

    def demixed(self, cell_specimen_ids: Any = None, frames: Any = None, times: Any = None) -> xr.DataArray:
        """Demixed ROI fluorescence (pipeline ≥ 2.0 files); same arguments as :meth:`dff`.

        Raises :class:`~brainobs.errors.MissingDataError` for older files without it.
        """
        return self._trace("demixed", cell_specimen_ids, frames, times)

    def neuropil(self, cell_specimen_ids: Any = None, frames: Any = None, times: Any = None) -> xr.DataArray:
        """Neuropil traces; same arguments as :meth:`dff`."""
        return self._trace("neuropil", cell_specimen_ids, frames, times)

    @cached_property
    def _neuropil_r_all(self) -> np.ndarray:
        path = self._neuropil_paths()[1]
        return np.asarray(self._dataset(path, "neuropil contamination ratios r")[()], dtype=np.float64).reshape(-1)

    def neuropil_r(self, cell_specimen_ids: Any = None) -> np.ndarray:
        """Neuropil contamination ratio r per cell (in the order of ``cell_specimen_ids``).

        >>> s.neuropil_r([517472416])  # doctest: +SKIP
        array([0.7])
        """
        rows = self._rows(cell_specimen_ids)
        r = self._neuropil_r_all
        return r.copy() if rows is None else r[rows]

    def corrected_fluorescence(
        self, cell_specimen_ids: Any = None, frames: Any = None, times: Any = None
    ) -> xr.DataArray:
        """Neuropil-corrected fluorescence ``F - r * neuropil``; same arguments as :meth:`dff`.

        ``F`` is the demixed trace for pipeline version ≥ 2.0, else the raw fluorescence
        (as AllenSDK computes it). The r values are in the ``neuropil_r`` coordinate.
        """
        rows = self._rows(cell_specimen_ids)
        fsl = self._frame_slice(frames, times)
        base_kind = "demixed" if self._is_v2() else "fluorescence"
        base_path, neuropil_path = self._trace_path(base_kind), self._trace_path("neuropil")
        r = self._neuropil_r_all if rows is None else self._neuropil_r_all[rows]
        wanted = np.arange(self.n_cells) if rows is None else rows
        n_sel = len(range(*fsl.indices(self.n_frames)))
        data = np.empty((len(wanted), n_sel), dtype=np.float64)
        # A few cells at a time, written straight into the result: the peak stays near the
        # float64 result instead of holding both float32 inputs and float64 temporaries.
        # Blocks are whole HDF5 chunk rows, so no compressed chunk is decoded twice.
        chunk_rows = (self._dataset(base_path, f"{base_kind} traces").chunks or (1,))[0]
        step = max(1, (32 << 20) // (8 * max(n_sel, 1)))
        step = max(chunk_rows, step - step % chunk_rows)
        for i in range(0, len(wanted), step):
            sub = wanted[i : i + step]
            block = data[i : i + step]
            base = self._read_block(base_path, f"{base_kind} traces", sub, fsl)
            neuropil = self._read_block(neuropil_path, "neuropil traces", sub, fsl)
            # base − r·neuropil in float64, as AllenSDK computes it (float32 traces, float64
            # r), in place: no temporaries.
            np.multiply(neuropil, r[i : i + step, None], out=block)
            np.subtract(base, block, out=block)
        out = self._labelled("corrected_fluorescence", data, rows, fsl)
        out.coords["neuropil_r"] = ("cell", r)
        return out

    # ------------------------------------------------------------------ stimuli
    def list_stimuli(self) -> list[str]:
        """Stimuli presented in this session, in file order (``spontaneous`` included).

        >>> s.list_stimuli()  # doctest: +SKIP
        ['drifting_gratings', 'natural_movie_one', 'natural_movie_three', 'spontaneous']
        """
        return list(self._metadata["stimuli"])

    def _check_stimulus(self, name: str, extra: tuple[str, ...] = ()) -> str:
        if not isinstance(name, str):
            raise TypeError(f"stimulus name must be a str; got {type(name).__name__}")
        choices = self.list_stimuli() + list(extra)
        if name not in choices:
            if name in STIMULI:  # a real stimulus, just not one this session shows
                raise UnknownStimulusError(name, choices, reason=(
                    f"{self.path.name} ({self.session_type}) does not show {name!r}."))
            raise UnknownStimulusError(name, choices)
        return name

    def _presentation_group(self, name: str) -> h5py.Group:
        for key in (f"{name}_stimulus", name):
            obj = self._file.get(f"{layout.STIMULUS_PRESENTATION}/{key}")
            if isinstance(obj, h5py.Group):
                return obj
        raise MissingDataError(f"{self.source}: no stimulus group ({layout.stimulus_group(name)}) in this file")  # pragma: no cover

    def _build_table(self, name: str) -> pd.DataFrame:
        group = self._presentation_group(name)
        where = f"{group.name}"

        def need(key: str) -> h5py.Dataset:
            obj = group.get(key)
            if not isinstance(obj, h5py.Dataset):
                raise MissingDataError(f"{self.source}: no {key!r} dataset ({where}/{key}) in this file")
            return obj

        fd = np.asarray(need("frame_duration")[()])
        data = np.asarray(need("data")[()])
        if name == "spontaneous":
            table = stim.spontaneous_table(data, fd)
        elif "features" in group:
            table = stim.feature_table(data, read_strings(group["features"]), fd)
        else:
            table = stim.indexed_table(data, fd, repeats=name in MOVIE_STIMULI)
        return stim.add_times(table, self.timestamps)

    def stimulus_table(self, name: str) -> pd.DataFrame:
        """The presentation table of a stimulus.

        Parameters
        ----------
        name : str
            Any of :meth:`list_stimuli`, or ``"master"`` for all of them stacked
            (with a ``stimulus`` column).

        Returns
        -------
        pandas.DataFrame
            Feature columns (gratings) or ``frame`` (scenes, noise; plus ``repeat`` for
            movies), then ``start``, ``end`` (imaging frames) and ``start_time``,
            ``end_time`` (s). ``spontaneous`` has just the interval columns.

        Examples
        --------
        >>> s.stimulus_table("natural_movie_one").head()  # doctest: +SKIP
        """
        self._check_stimulus(name, ("master",))
        if name not in self._tables:
            if name == "master":
                self._tables[name] = stim.master_table(self._all_tables())
            else:
                self._tables[name] = self._build_table(name)
        return self._tables[name].copy()

    def _all_tables(self) -> dict[str, pd.DataFrame]:
        return {n: self.stimulus_table(n) for n in self.list_stimuli()}

    def stimulus_epoch_table(self) -> pd.DataFrame:
        """Blocks of consecutive presentations of one stimulus, ordered by start.

        Columns ``stimulus``, ``start``, ``end`` (frames), ``start_time``, ``end_time`` (s).
        Presentations separated by more than a session-type-specific gap (AllenSDK's
        thresholds) start a new epoch; every spontaneous interval is its own epoch.
        """
        if "__epochs__" not in self._tables:
            gap = stim.EPOCH_GAP_FRAMES.get(self.session_type or "", stim.DEFAULT_EPOCH_GAP_FRAMES)
            table = stim.epoch_table(self._all_tables(), gap)
            self._tables["__epochs__"] = stim.add_times(table, self.timestamps)
        return self._tables["__epochs__"].copy()

    def stimulus_template(self, name: str) -> np.ndarray:
        """Template image stack of a stimulus (frames × rows × cols), read on demand and cached.

        Raises :class:`~brainobs.errors.MissingDataError` for stimuli without a template
        (gratings, spontaneous) and UnknownStimulusError for names not in this session.

        >>> s.stimulus_template("natural_scenes").shape  # doctest: +SKIP
        (118, 918, 1174)
        """
        if name not in self._templates:
            path = layout.template_path(name)
            if not isinstance(self._file.get(path), h5py.Dataset):
                self._check_stimulus(name)
                group = self._file.get(layout.STIMULUS_TEMPLATES)
                have = sorted(k.removesuffix("_image_stack") for k in group) if isinstance(group, h5py.Group) else []
                raise MissingDataError(f"{self.source}: no template for {name} ({path}) in this file; "
                                       f"stimuli with a template here: {', '.join(have) or 'none'}")
            self._templates[name] = np.asarray(self._file[path][()])
        return self._templates[name]

    # ------------------------------------------------------------------ behaviour
    def _time_series(self, group: str, what: str) -> tuple[np.ndarray, np.ndarray]:
        data = np.asarray(self._dataset(f"{group}/data", what)[()])
        ts = np.asarray(self._dataset(f"{group}/timestamps", what)[()], dtype=np.float64).reshape(-1)
        return ts, data

    def running_speed(self) -> pd.DataFrame:
        """Running speed (cm/s) aligned to the imaging frames.

        Returns
        -------
        pandas.DataFrame
            Columns ``time`` (= :attr:`timestamps`) and ``speed``; NaN for frames without
            a running sample (before the first, after the last, and in gaps).
        """
        if "__running__" not in self._tables:
            t_run, speed = self._time_series(layout.RUNNING_SPEED, "running speed")
            if speed.ndim == 2:  # older files store N x 1
                speed = speed[:, 0]
            speed = speed.astype(np.float64).reshape(-1)
            ts = self.timestamps
            out = np.full(len(ts), np.nan)
            if len(ts) and len(t_run):
                # match each running sample to the nearest imaging frame (within half a frame)
                idx = np.clip(np.searchsorted(ts, t_run), 1, max(len(ts) - 1, 1))
                left = np.clip(idx - 1, 0, len(ts) - 1)
                right = np.clip(idx, 0, len(ts) - 1)
                nearest = np.where(np.abs(ts[left] - t_run) <= np.abs(ts[right] - t_run), left, right)
                half = 0.5 * (float(np.median(np.diff(ts))) if len(ts) > 1 else np.inf)
                ok = np.abs(ts[nearest] - t_run) <= half
                out[nearest[ok]] = speed[:len(t_run)][ok]
            table = pd.DataFrame({"time": ts, "speed": out})
            table.attrs["units"] = "cm/s"
            self._tables["__running__"] = table
        return self._tables["__running__"].copy()

    def pupil_location(self, as_spherical: bool = True) -> pd.DataFrame:
        """Pupil position: columns ``time``, ``x``, ``y``.

        Degrees (spherical: x = azimuth-like, y = altitude-like columns as stored) when
        ``as_spherical``, else cm on the monitor with (0, 0) its centre. MissingDataError
        when the session has no eye tracking.
        """
        path = layout.PUPIL_LOCATION_SPHERICAL if as_spherical else layout.PUPIL_LOCATION
        ts, data = self._eye(path, "pupil tracking")
        data = data.reshape(len(ts), -1)
        table = pd.DataFrame({"time": ts, "x": data[:, 0].astype(float), "y": data[:, 1].astype(float)})
        table.attrs["units"] = "degrees" if as_spherical else "cm"
        return table

    def pupil_size(self) -> pd.DataFrame:
        """Pupil size (area in pixels): columns ``time``, ``size``. MissingDataError when absent."""
        ts, data = self._eye(layout.PUPIL_SIZE, "pupil size")
        table = pd.DataFrame({"time": ts, "size": data.reshape(-1).astype(float)})
        table.attrs["units"] = "pixels"
        return table

    def _eye(self, path: str, what: str) -> tuple[np.ndarray, np.ndarray]:
        if not isinstance(self._file.get(path), h5py.Group):
            raise MissingDataError(f"{self.source}: no {what} ({path}) in this file")
        return self._time_series(path, what)

    def motion_correction(self) -> pd.DataFrame:
        """Rigid motion correction per frame: the file's feature columns (e.g. ``x_motion``,
        ``y_motion``) plus ``time``. MissingDataError when absent."""
        for path in (layout.MOTION_CORRECTION_PLURAL, layout.MOTION_CORRECTION):
            if isinstance(self._file.get(path), h5py.Group):
                ts, data = self._time_series(path, "motion correction")
                data = data.reshape(len(ts), -1)
                names_ds = self._file.get(f"{path}/feature_description")
                names = read_strings(names_ds) if isinstance(names_ds, h5py.Dataset) else []
                if len(names) != data.shape[1]:
                    names = ["x_motion", "y_motion", *[f"feature_{i}" for i in range(2, data.shape[1])]][: data.shape[1]]
                table = pd.DataFrame(data, columns=names)
                table["time"] = ts
                return table
        raise MissingDataError(f"{self.source}: no motion correction ({layout.MOTION_CORRECTION}) in this file")

