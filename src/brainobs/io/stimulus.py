"""Stimulus tables built from the arrays of a ``stimulus/presentation/<name>_stimulus`` group.

Pure functions on numpy arrays (no HDF5 here), so they are easy to test and reuse.
Every table has integer ``start`` / ``end`` two-photon frame columns; :func:`add_times`
adds ``start_time`` / ``end_time`` in seconds from the imaging timestamps.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

# Largest gap (in imaging frames) between two presentations of one stimulus that still
# counts as the same epoch, per session type (the values AllenSDK uses).
EPOCH_GAP_FRAMES: dict[str, int] = {
    "three_session_A": 39,
    "three_session_B": 15,
    "three_session_C": 7,
    "three_session_C2": 7,
}
DEFAULT_EPOCH_GAP_FRAMES = 39


def _frames(frame_duration: np.ndarray, column: int) -> np.ndarray:
    # frame_duration is (rows, 2); some files store the integer frames as float.
    fd = np.asarray(frame_duration)
    if fd.ndim == 1:
        fd = fd.reshape(-1, 2)
    return np.rint(fd[:, column]).astype(np.int64)


def _as_index_column(values: np.ndarray) -> np.ndarray:
    # Frame/image indices are integers; keep floats only if they are not (e.g. NaN).
    values = np.asarray(values).reshape(-1)
    if values.dtype.kind == "f" and np.all(np.isfinite(values)) and np.all(values == np.rint(values)):
        return values.astype(np.int64)
    return values


def _sorted(table: pd.DataFrame) -> pd.DataFrame:
    # Like AllenSDK: sort by (start, end) and keep the original row labels.
    return table.sort_values(["start", "end"], kind="stable")


def feature_table(data: np.ndarray, features: Sequence[str], frame_duration: np.ndarray) -> pd.DataFrame:
    """Table of an AbstractFeatureSeries stimulus (drifting / static gratings).

    Columns: one per feature (file order), then ``start``, ``end``.

    >>> t = feature_table(np.array([[1.0, 0.0], [2.0, 45.0]]), ["temporal_frequency", "orientation"],
    ...                   np.array([[10.0, 70.0], [100.0, 160.0]]))
    >>> list(t.columns), t["start"].tolist()
    (['temporal_frequency', 'orientation', 'start', 'end'], [10, 100])
    """
    data = np.asarray(data, dtype=float).reshape(len(frame_duration), len(features))
    table = pd.DataFrame(data, columns=list(features))
    table["start"] = _frames(frame_duration, 0)
    table["end"] = _frames(frame_duration, 1)
    return _sorted(table)


def indexed_table(data: np.ndarray, frame_duration: np.ndarray, repeats: bool = False) -> pd.DataFrame:
    """Table of an IndexSeries stimulus: ``frame`` (template index), ``start``, ``end``.

    With ``repeats=True`` (natural movies) a ``repeat`` column numbers the passes through
    the movie: row ``i`` (in time order) gets ``i // n_unique_frames``.

    >>> indexed_table(np.array([0, 1, 0, 1]), np.array([[0, 1], [1, 2], [2, 3], [3, 4]]),
    ...               repeats=True)["repeat"].tolist()
    [0, 0, 1, 1]
    """
    table = pd.DataFrame({"frame": _as_index_column(data)})
    table["start"] = _frames(frame_duration, 0)
    table["end"] = _frames(frame_duration, 1)
    table = _sorted(table)
    if repeats:
        n_unique = max(int(table["frame"].nunique()), 1)
        table["repeat"] = np.arange(len(table), dtype=np.int64) // n_unique
    return table


def spontaneous_table(data: np.ndarray, frame_duration: np.ndarray) -> pd.DataFrame:
    """Table of the spontaneous (gray screen) IntervalSeries.

    ``data`` is +1 at interval starts and -1 at interval ends; both frames come from
    column 0 of ``frame_duration`` (as AllenSDK reads them).

    >>> spontaneous_table(np.array([1, -1]), np.array([[10, 11], [50, 51]])).values.tolist()
    [[10, 50]]
    """
    data = np.asarray(data).reshape(-1)
    frames = _frames(frame_duration, 0)
    starts, ends = frames[data == 1], frames[data == -1]
    n = min(len(starts), len(ends))
    return _sorted(pd.DataFrame({"start": starts[:n], "end": ends[:n]}))


def add_times(table: pd.DataFrame, timestamps: np.ndarray) -> pd.DataFrame:
    """Add ``start_time`` / ``end_time`` (s) looked up in the imaging ``timestamps``.

    Frames outside the timestamps get NaN.
    """
    ts = np.asarray(timestamps, dtype=float)
    for frame_col, time_col in (("start", "start_time"), ("end", "end_time")):
        frames = table[frame_col].to_numpy(dtype=np.int64)
        ok = (frames >= 0) & (frames < len(ts))
        times = np.full(len(frames), np.nan)
        times[ok] = ts[frames[ok]]
        table[time_col] = times
    return table


def epochs(table: pd.DataFrame, max_gap: int) -> pd.DataFrame:
    """Contiguous runs of one stimulus: rows whose gap to the previous row is ≤ ``max_gap`` frames.

    >>> t = pd.DataFrame({"start": [0, 10, 100], "end": [9, 19, 109]})
    >>> epochs(t, 5).values.tolist()
    [[0, 19], [100, 109]]
    """
    start = table["start"].to_numpy(dtype=np.int64)
    end = table["end"].to_numpy(dtype=np.int64)
    if len(start) == 0:
        return pd.DataFrame({"start": np.empty(0, np.int64), "end": np.empty(0, np.int64)})
    cuts = np.flatnonzero(start[1:] - end[:-1] > max_gap) + 1
    first = np.concatenate([[0], cuts])
    last = np.concatenate([cuts - 1, [len(start) - 1]])
    return pd.DataFrame({"start": start[first], "end": end[last]})


def epoch_table(tables: Mapping[str, pd.DataFrame], max_gap: int) -> pd.DataFrame:
    """Epoch table (stimulus, start, end) of all stimuli, ordered by start frame."""
    parts = []
    for name, table in tables.items():
        ep = epochs(table, max_gap)
        ep.insert(0, "stimulus", name)
        parts.append(ep)
    out = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(
        {"stimulus": [], "start": np.empty(0, np.int64), "end": np.empty(0, np.int64)}
    )
    return out.sort_values(["start", "end"], kind="stable").reset_index(drop=True)


def master_table(tables: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """All stimulus tables stacked, with a ``stimulus`` column.

    Rows are grouped by stimulus in the given (file) order and time-ordered within each;
    columns are the sorted union of all tables' columns (NaN where a table lacks one), as
    in AllenSDK's master table.
    """
    parts = [t.assign(stimulus=name) for name, t in tables.items() if len(t)]
    if not parts:
        return pd.DataFrame({"stimulus": pd.Series([], dtype=str)})
    return pd.concat(parts, sort=True).reset_index(drop=True)
