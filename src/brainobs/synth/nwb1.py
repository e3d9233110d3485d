"""Low-level writer of an Allen-style NWB 1.x ophys session file (HDF5).

Every path comes from :mod:`brainobs.io.layout`. Strings are stored NWB-1 style as
fixed-length byte strings (``np.bytes_``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from os import PathLike

import h5py
import numpy as np

from brainobs.io import layout

NWB_VERSION = "NWB-1.0.4"
COMPRESSION = {"compression": "gzip", "compression_opts": 1}


@dataclass
class StimulusContent:
    """One ``/stimulus/presentation/<name>_stimulus`` group.

    kind: "feature" (AbstractFeatureSeries: ``data`` rows × features, ``features`` names),
    "indexed" (IndexSeries: ``data`` = template frame per row) or "interval"
    (IntervalSeries: ``data`` +1/-1, ``frame_duration`` column 0 = start / end frame).
    """

    name: str
    kind: str
    data: np.ndarray
    frame_duration: np.ndarray  # (rows, 2) int
    features: list[str] | None = None


@dataclass
class SessionContent:
    """Everything one session file holds (arrays in trace row order)."""

    metadata: dict[str, str | list[str]]  # keys of layout.METADATA_PATHS
    timestamps: np.ndarray  # (T,) float64 s
    cell_specimen_ids: np.ndarray  # (N,) int64
    roi_ids: list[str]
    roi_masks: np.ndarray  # (N, 512, 512) bool
    max_projection: np.ndarray  # (512, 512)
    dff: np.ndarray  # (N, T) float32
    fluorescence: np.ndarray
    demixed: np.ndarray
    neuropil: np.ndarray
    neuropil_r: np.ndarray  # (N,)
    neuropil_rmse: np.ndarray  # (N,)
    running_speed: np.ndarray  # (T_run,) cm/s, NaN gaps
    running_timestamps: np.ndarray
    motion_xy: np.ndarray  # (T, 2) pixels
    stimuli: list[StimulusContent] = field(default_factory=list)
    templates: dict[str, np.ndarray] = field(default_factory=dict)
    pupil_location: np.ndarray | None = None  # (T, 2) cm
    pupil_location_spherical: np.ndarray | None = None  # (T, 2) degrees
    pupil_size: np.ndarray | None = None  # (T,)


def _s(value: str) -> np.bytes_:
    return np.bytes_(value.encode("utf-8"))


def _bytes_array(values: list[str]) -> np.ndarray:
    return np.array([v.encode("utf-8") for v in values], dtype=np.bytes_)


def _chunks(shape: tuple[int, ...]) -> tuple[int, ...]:
    if len(shape) == 1:
        return (min(shape[0], 65536),)
    return (min(shape[0], 8), min(shape[1], 16384), *shape[2:])


def _data(group: h5py.Group, name: str, arr: np.ndarray, compress: bool = True) -> h5py.Dataset:
    arr = np.asarray(arr)
    if compress and arr.size > 256:
        chunks = _chunks(arr.shape) if arr.ndim <= 2 else (1, *arr.shape[1:])
        return group.create_dataset(name, data=arr, chunks=chunks, shuffle=arr.ndim <= 2,
                                    **COMPRESSION)
    return group.create_dataset(name, data=arr)


def _series(f: h5py.File, path: str, data: np.ndarray, ts_path: str, unit: str = "None"
            ) -> h5py.Group:
    g = f.require_group(path)
    d = _data(g, "data", data)
    d.attrs["unit"] = _s(unit)
    g["timestamps"] = f[ts_path]  # hard link: one copy of the frame times
    g.attrs["neurodata_type"] = _s("TimeSeries")
    return g


def write_session_nwb(path: str | PathLike, content: SessionContent) -> None:
    """Write one NWB 1.x session file at ``path`` (overwritten if present).

    Examples
    --------
    >>> # content = SessionContent(...); write_session_nwb("123.nwb", content)
    """
    c = content
    with h5py.File(path, "w") as f:
        meta = dict(c.metadata)
        meta.setdefault("nwb_version", NWB_VERSION)
        meta.setdefault("targeted_structure_general", meta.get("targeted_structure", ""))
        for key, value in meta.items():
            p = layout.METADATA_PATHS[key]
            f.create_dataset(p, data=_bytes_array(value) if isinstance(value, list) else _s(value))

        ts = layout.TWO_PHOTON_TIMESTAMPS
        f.create_dataset(ts, data=np.asarray(c.timestamps, np.float64))
        f[ts].parent.attrs["neurodata_type"] = _s("TimeSeries")

        # Traces.
        for key, arr, unit in (("dff", c.dff, "None"), ("fluorescence", c.fluorescence, "a.u."),
                               ("demixed", c.demixed, "a.u."), ("neuropil", c.neuropil, "a.u.")):
            _series(f, layout.TRACES[key], np.asarray(arr, np.float32), ts, unit)
        names = _bytes_array(c.roi_ids)
        f.create_dataset(layout.ROI_NAMES, data=names)
        f.create_dataset(f"{layout.TRACES['fluorescence']}/roi_names", data=names)
        f.create_dataset(layout.NEUROPIL_R, data=np.asarray(c.neuropil_r, np.float64))
        f.create_dataset(layout.FLUORESCENCE_R, data=np.asarray(c.neuropil_r, np.float64))
        f.create_dataset(f"{layout.TRACES['fluorescence']}/rmse",
                         data=np.asarray(c.neuropil_rmse, np.float64))

        # Segmentation.
        f.create_dataset(layout.CELL_SPECIMEN_IDS, data=np.asarray(c.cell_specimen_ids, np.int64))
        f.create_dataset(layout.ROI_IDS, data=names)
        f.create_dataset(layout.ROI_LIST, data=names)
        plane = f[layout.IMAGING_PLANE]
        for name, mask in zip(c.roi_ids, np.asarray(c.roi_masks, bool), strict=True):
            g = plane.create_group(name)
            _data(g, "img_mask", mask.astype(np.uint8))
            yy, xx = np.nonzero(mask)
            g.create_dataset("pix_mask", data=np.column_stack([xx, yy]).astype(np.uint16))
            g.create_dataset("pix_mask_weight", data=np.ones(len(xx), np.float32))
        f.create_dataset(layout.MAX_PROJECTION, data=c.max_projection, **COMPRESSION)

        # Behaviour and motion.
        rs = f.create_group(layout.RUNNING_SPEED)
        _data(rs, "data", np.asarray(c.running_speed, np.float32)).attrs["unit"] = _s("cm/s")
        rs.create_dataset("timestamps", data=np.asarray(c.running_timestamps, np.float64))
        mc = _series(f, layout.MOTION_CORRECTION, np.asarray(c.motion_xy, np.float32), ts,
                     "pixels")
        mc.create_dataset("feature_description", data=_bytes_array(["x_motion", "y_motion"]))
        if c.pupil_location is not None:
            _series(f, layout.PUPIL_LOCATION, np.asarray(c.pupil_location, np.float32), ts, "cm")
        if c.pupil_location_spherical is not None:
            _series(f, layout.PUPIL_LOCATION_SPHERICAL,
                    np.asarray(c.pupil_location_spherical, np.float32), ts, "degrees")
        if c.pupil_size is not None:
            _series(f, layout.PUPIL_SIZE, np.asarray(c.pupil_size, np.float32), ts, "pixels")

        # Stimuli.
        times = np.asarray(c.timestamps, np.float64)
        for st in c.stimuli:
            g = f.create_group(layout.stimulus_group(st.name))
            fd = np.asarray(st.frame_duration, np.int64)
            _data(g, "data", st.data)
            g.create_dataset("frame_duration", data=fd)
            g.create_dataset("timestamps", data=times[np.clip(fd[:, 0], 0, len(times) - 1)])
            g.create_dataset("num_samples", data=np.int64(len(fd)))
            kind = {"feature": "AbstractFeatureSeries", "indexed": "IndexSeries",
                    "interval": "IntervalSeries"}[st.kind]
            g.attrs["neurodata_type"] = _s("TimeSeries")
            g.attrs["ancestry"] = _bytes_array(["TimeSeries", kind])
            if st.features is not None:
                g.create_dataset("features", data=_bytes_array(st.features))
            if st.kind == "indexed":
                g.attrs["indexed_timeseries"] = _s(f"/{layout.template_path(st.name)}")
        for name, tpl in c.templates.items():
            _data(f.require_group(layout.template_path(name).rsplit("/", 1)[0]), "data", tpl)
