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


# ---------------------------------------------------------------------------- validation
def _grid_check(values: np.ndarray, grid: Sequence[float]) -> np.ndarray:
    """True where a value is NaN (blank) or matches a grid value (float32-stored files too)."""
    v = np.asarray(values, dtype=np.float64)
    g = np.asarray(grid, dtype=np.float64)
    hit = np.isclose(v[:, None], g[None, :], rtol=1e-6, atol=1e-9).any(axis=1)
    return np.isnan(v) | hit


def _index_check(values: np.ndarray, lo: int, hi: int | None) -> np.ndarray:
    """True where a value is a whole number in ``[lo, hi)`` (``hi`` None: no upper bound)."""
    v = np.asarray(values, dtype=np.float64)
    ok = np.isfinite(v) & (v == np.round(v)) & (v >= lo)
    if hi is not None:
        ok &= v < hi
    return ok


def _fmt(v: float) -> str:
    return f"{v:g}"


def check_table(name: str, table: pd.DataFrame, *, where: str = "", min_rows: int = 1,
                n_templates: int | None = None) -> None:
    """Check a released stimulus table before it is analysed.

    Raises :class:`~brainobs.errors.StimulusTableError` naming the table, the first bad row
    (its label in the table, i.e. its file row), its value and the valid values when

    - the table has fewer than ``min_rows`` rows (empty; the window-based metrics need two,
      since the published sweep length comes from the second row);
    - a drifting- or static-grating row holds an orientation, temporal/spatial frequency or
      phase outside the released grid (:data:`brainobs.vocab.DG_DIRECTIONS` etc.; NaN is
      the blank sweep);
    - a natural-scene frame is not an image number ``0 .. 117`` or the blank ``-1``;
    - a sparse-noise or movie frame is not a template frame ``0 .. n_templates - 1`` (only
      ``≥ 0`` when ``n_templates`` is not given).

    Trials outside the recording are not an error here: the metrics leave them out and
    count them (``attrs["qc"]``).

    >>> check_table("natural_scenes", pd.DataFrame({"frame": [-1, 5], "start": [0, 8]}))
    >>> check_table("natural_scenes", pd.DataFrame({"frame": [3, 118], "start": [0, 8]}),
    ...             where="x.nwb")
    Traceback (most recent call last):
    ...
    brainobs.errors.StimulusTableError: natural_scenes table of x.nwb: row 1 has frame 118, outside the natural-scene images; valid: -1 (blank) or 0 .. 117.
    """
    from brainobs import vocab
    from brainobs.errors import StimulusTableError

    label = f"{name} table" + (f" of {where}" if where else "")
    if len(table) < min_rows:
        need = "at least 2 presentations (the sweep length comes from the second row)" \
            if min_rows >= 2 else "at least one presentation"
        raise StimulusTableError(f"{label} has {len(table)} row(s); the metrics need {need}.")
    checks: list[tuple[str, np.ndarray, str]] = []  # (column, ok mask, valid values)

    def grid(col: str, values: Sequence[float]) -> None:
        if col in table.columns:
            ok = _grid_check(table[col].to_numpy(dtype=np.float64), values)
            checks.append((col, ok, ", ".join(_fmt(v) for v in values) + " or NaN (blank)"))

    if name == "drifting_gratings":
        grid("orientation", vocab.DG_DIRECTIONS)
        grid("temporal_frequency", vocab.DG_TEMPORAL_FREQUENCIES)
    elif name == "static_gratings":
        grid("orientation", vocab.SG_ORIENTATIONS)
        grid("spatial_frequency", vocab.SG_SPATIAL_FREQUENCIES)
        grid("phase", vocab.SG_PHASES)
    elif name == "natural_scenes" and "frame" in table.columns:
        n = vocab.N_NATURAL_SCENES if n_templates is None else n_templates
        f = table["frame"].to_numpy(dtype=np.float64)
        checks.append(("frame", _index_check(f, -1, n),
                       f"-1 (blank) or 0 .. {n - 1}|outside the natural-scene images"))
    elif "frame" in table.columns and name in vocab.INDEXED_STIMULI:
        f = table["frame"].to_numpy(dtype=np.float64)
        valid = "0 .. " + (str(n_templates - 1) if n_templates is not None else "(template frames)")
        checks.append(("frame", _index_check(f, 0, n_templates),
                       f"{valid}|outside the stimulus template"))
    for col, ok, valid in checks:
        if not ok.all():
            i = int(np.flatnonzero(~ok)[0])
            valid, _, why = valid.partition("|")
            value = table[col].iloc[i]
            row = table.index[i]  # the row label the table shows (file order)
            try:
                shown = _fmt(float(value))
            except (TypeError, ValueError):
                shown = repr(value)
            extra = f", {why}" if why else ""
            more = f" ({int((~ok).sum())} rows)" if (~ok).sum() > 1 else ""
            raise StimulusTableError(
                f"{label}: row {row} has {col} {shown}{extra}{more}; valid: {valid}.")
