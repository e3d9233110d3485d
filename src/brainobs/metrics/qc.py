"""Quality control of the metric inputs: which cells and trials were left out, and why.

The metric functions validate their input once, here, before computing anything:

- **Cells** whose trace holds NaN or ±inf in a frame the analysis uses (a trial window of
  gratings and scenes, a used movie repeat, the frames read for sparse noise: its epoch ± 16
  frames) get NaN in every
  column of that stimulus family (a NaN sample would otherwise turn into a made-up
  preference, e.g. ``pref_image_ns = 0`` with ``image_sel_ns = 1.0``). The reason is in the
  family's QC column (:data:`QC_COLUMNS`: ``qc_dg``, ``qc_sg``, ``qc_ns``, ``qc_lsn``,
  ``qc_nm1``/``qc_nm2``/``qc_nm3``): ``""`` when the cell is fine, else a reason of
  :data:`CELL_REASONS`. Every other cell keeps exactly the value it has without the bad cell
  (the bad cell's trace is replaced by a constant before the vectorized kernels run, so no
  array changes shape and no NaN reaches a shared computation).
- **Trials** that lie outside the recording (a response window that starts before the first
  frame or an onset at or after the last one, which give no response at all) are left out of
  every condition, test and average instead of turning ``p_*`` into NaN for every cell.
- **Bad stimulus tables** (empty, one row, condition values outside the stimulus' range) are
  errors (:func:`brainobs.io.stimulus.check_table`), not NaN.

What was left out is recorded in ``table.attrs["qc"]``: a list with one record per analysed
stimulus (:func:`record`), which :func:`brainobs.metrics.analyze` extends with the session's
ids; :func:`qc_summary` turns the records of any number of tables into one DataFrame and
:func:`qc_note` into the one line the CLI prints.

>>> flags = cell_flags(np.array([[1.0, 2.0], [np.nan, 1.0], [np.inf, 1.0]]))
>>> flags.tolist()
['', 'nan_trace', 'inf_trace']
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

__all__ = [
    "CELL_REASONS",
    "QC_COLUMNS",
    "TRIAL_REASONS",
    "cell_flags",
    "qc_note",
    "qc_summary",
    "record",
]

CELL_REASONS: dict[str, str] = {
    "nan_trace": "NaN in the trace",
    "inf_trace": "±inf in the trace",
}
"""Why a cell got NaN in a family's columns (the values of the ``qc_*`` columns)."""

TRIAL_REASONS: dict[str, str] = {
    "outside_recording": "outside the recording",
}
"""Why a trial was left out (keys of a record's ``trials_excluded``)."""

QC_COLUMNS: dict[str, str] = {
    "drifting_gratings": "qc_dg",
    "static_gratings": "qc_sg",
    "natural_scenes": "qc_ns",
    "locally_sparse_noise": "qc_lsn",
    "natural_movie_one": "qc_nm1",
    "natural_movie_two": "qc_nm2",
    "natural_movie_three": "qc_nm3",
}
"""QC column of each family (natural movies: one per movie, like ``reliability_nm*``)."""

# placeholder trace of an excluded cell: a positive constant (a valid fluorescence and dF/F)
_PLACEHOLDER = 1.0


def cell_flags(traces: np.ndarray, frames: np.ndarray | None = None) -> np.ndarray:
    """Per-row reason (``""``, ``"nan_trace"`` or ``"inf_trace"``) of a trace matrix.

    Parameters
    ----------
    traces : array (n_cells, n_frames)
    frames : bool array (n_frames,), optional
        Only these frames count (those the analysis uses); default all.

    Returns
    -------
    ndarray of str (object dtype), one per row; NaN wins over inf when a row has both.
    """
    tr = np.asarray(traces)
    out = np.full(tr.shape[0], "", dtype=object)
    if tr.size == 0 or not np.issubdtype(tr.dtype, np.floating):
        return out
    rows = np.flatnonzero(~np.isfinite(tr).all(axis=1))  # fast path: one pass, no copies
    if rows.size == 0:
        return out
    sub = tr[rows] if frames is None else tr[rows][:, np.asarray(frames, dtype=bool)]
    has_nan = np.isnan(sub).any(axis=1)
    has_inf = np.isinf(sub).any(axis=1)
    out[rows[has_inf]] = "inf_trace"
    out[rows[has_nan]] = "nan_trace"
    return out


def used_frames(starts: np.ndarray, first: int, stop: int, n_frames: int) -> np.ndarray:
    """Bool mask of the frames covered by ``[start + first, start + stop)`` of every trial,
    clipped to the trace.

    >>> used_frames(np.array([2, 6]), -1, 2, 9).astype(int).tolist()
    [0, 1, 1, 1, 0, 1, 1, 1, 0]
    """
    s = np.asarray(starts, dtype=np.int64)
    lo = np.clip(s + first, 0, n_frames)
    hi = np.clip(s + stop, 0, n_frames)
    keep = hi > lo
    edges = np.zeros(n_frames + 1, dtype=np.int64)
    np.add.at(edges, lo[keep], 1)
    np.add.at(edges, hi[keep], -1)
    return np.cumsum(edges[:-1]) > 0


@dataclass
class Screen:
    """Result of screening a family's input (see :func:`screen_windows`).

    Attributes
    ----------
    traces : the traces to compute on (excluded cells replaced by a constant; the input
        array itself when no cell is excluded).
    cell_reason : object array (n_cells,) of ``""`` or a :data:`CELL_REASONS` key.
    trial_ok : bool array (n_trials,); False for trials outside the recording.
    """

    traces: np.ndarray
    cell_reason: np.ndarray
    trial_ok: np.ndarray

    @property
    def bad(self) -> np.ndarray:
        """Bool mask of the excluded cells."""
        return self.cell_reason != ""


def replace_bad(traces: np.ndarray, reason: np.ndarray) -> np.ndarray:
    bad = reason != ""
    if not bad.any():
        return traces
    tr = np.array(traces, copy=True)
    tr[bad] = _PLACEHOLDER
    return tr


def screen_windows(traces: np.ndarray, starts: np.ndarray, first: int, stop: int,
                   response_first: int, trial_ok: np.ndarray | None = None) -> Screen:
    """Screen a trace matrix and the trials cut from it with windows
    ``[start + first, start + stop)`` whose response part begins at ``start + response_first``.

    A trial is *outside the recording* when its window starts before frame 0 (published code
    slices an empty window) or its response begins at or after the last frame (nothing to
    average): such a trial has no value for any cell. ``trial_ok`` can mark further trials as
    outside (e.g. a kernel's own stricter rule). Cells with a non-finite value in a frame that
    a kept trial's window covers are excluded.
    """
    tr = np.asarray(traces)
    s = np.asarray(starts, dtype=np.int64)
    n = tr.shape[1]
    ok = (s + first >= 0) & (s + response_first < n)
    if trial_ok is not None:
        ok &= np.asarray(trial_ok, dtype=bool)
    reason = cell_flags(tr, used_frames(s[ok], first, stop, n))
    return Screen(replace_bad(tr, reason), reason, ok)


def apply(table: pd.DataFrame, reason: np.ndarray, column: str, *, family: str, stimulus: str,
          n_trials: int, trials_excluded: int = 0) -> pd.DataFrame:
    """Give the excluded cells NaN in every column of ``table``, add the QC ``column`` and
    the ``attrs["qc"]`` record (in place; returns ``table``)."""
    bad = np.asarray(reason) != ""
    if bad.any():
        for col in table.columns:
            values = table[col].to_numpy()
            if np.issubdtype(values.dtype, np.integer):
                values = values.astype(np.float64)
            else:
                values = values.copy()
            values[bad] = np.nan
            table[col] = values
    table[column] = np.asarray(reason, dtype=object)
    table.attrs["qc"] = [record(family, stimulus, column, reason, n_trials, trials_excluded)]
    return table


def record(family: str, stimulus: str, column: str, reason: Sequence[str] | np.ndarray, n_trials: int,
           trials_excluded: int = 0) -> dict[str, Any]:
    """One ``attrs["qc"]`` record.

    Keys: ``family``, ``stimulus``, ``column`` (the QC column), ``n_cells``,
    ``cells_excluded`` (``{reason: count}``, empty when none), ``n_trials`` (rows of the
    stimulus table), ``trials_excluded`` (``{"outside_recording": count}`` or empty).

    >>> record("natural_scenes", "natural_scenes", "qc_ns", ["", "nan_trace"], 476, 3)["cells_excluded"]
    {'nan_trace': 1}
    """
    values, counts = np.unique(np.asarray([r for r in reason if r], dtype=str), return_counts=True)
    return {
        "family": family,
        "stimulus": stimulus,
        "column": column,
        "n_cells": len(reason),
        "cells_excluded": {str(v): int(c) for v, c in zip(values, counts, strict=True)},
        "n_trials": int(n_trials),
        "trials_excluded": {"outside_recording": int(trials_excluded)} if trials_excluded else {},
    }


def records(tables: Iterable[pd.DataFrame]) -> list[dict[str, Any]]:
    """The ``attrs["qc"]`` records of several tables, in order."""
    out: list[dict[str, Any]] = []
    for t in tables:
        out.extend(t.attrs.get("qc", []) if hasattr(t, "attrs") else [])
    return out


def qc_summary(tables: pd.DataFrame | Iterable[pd.DataFrame]) -> pd.DataFrame:
    """The QC records of one or several metric tables as a DataFrame.

    One row per analysed stimulus (and session, for :func:`brainobs.metrics.analyze`
    tables): ``family``, ``stimulus``, ``column``, ``n_cells``, ``n_cells_excluded``,
    ``n_trials``, ``n_trials_excluded``, ``reasons`` (e.g. ``"nan_trace: 2"``) and, when
    known, ``ophys_experiment_id`` and ``session_type``.

    >>> t = pd.DataFrame({"p_ns": [0.1]})
    >>> t.attrs["qc"] = [record("natural_scenes", "natural_scenes", "qc_ns", ["nan_trace"], 9, 2)]
    >>> qc_summary(t)[["family", "n_cells_excluded", "n_trials_excluded", "reasons"]]
               family  n_cells_excluded  n_trials_excluded          reasons
    0  natural_scenes                 1                  2  nan_trace: 1
    """
    recs = records([tables] if isinstance(tables, pd.DataFrame) else tables)
    rows = []
    for r in recs:
        row = {k: v for k, v in r.items() if k not in ("cells_excluded", "trials_excluded")}
        row["n_cells_excluded"] = sum(r["cells_excluded"].values())
        row["n_trials_excluded"] = sum(r["trials_excluded"].values())
        row["reasons"] = ", ".join(f"{k}: {v}" for k, v in r["cells_excluded"].items())
        rows.append(row)
    cols = ["family", "stimulus", "column", "n_cells", "n_cells_excluded", "n_trials",
            "n_trials_excluded", "reasons", "ophys_experiment_id", "session_type"]
    df = pd.DataFrame(rows, columns=cols)
    return df.dropna(axis=1, how="all") if len(df) else df


def qc_note(tables: pd.DataFrame | Iterable[pd.DataFrame]) -> str | None:
    """One line saying what the metric tables left out, or None when nothing was.

    >>> t = pd.DataFrame({"p_ns": [0.1]})
    >>> t.attrs["qc"] = [record("natural_scenes", "natural_scenes", "qc_ns",
    ...                         ["nan_trace"] * 3 + [""] * 37, 476, 4)]
    >>> qc_note(t)
    'note: natural_scenes: 3 of 40 cells excluded (NaN in the trace), 4 of 476 trials outside the recording dropped; see the qc_ns column'
    """
    recs = records([tables] if isinstance(tables, pd.DataFrame) else tables)
    by_family: dict[str, dict[str, Any]] = {}
    for r in recs:
        f = by_family.setdefault(r["family"], {"n_cells": 0, "cells": {}, "n_trials": 0,
                                               "trials": 0, "columns": []})
        f["n_cells"] += r["n_cells"]
        f["n_trials"] += r["n_trials"]
        f["trials"] += sum(r["trials_excluded"].values())
        for k, v in r["cells_excluded"].items():
            f["cells"][k] = f["cells"].get(k, 0) + v
        if r["column"] not in f["columns"]:
            f["columns"].append(r["column"])
    parts, columns = [], []
    for fam, f in by_family.items():
        bits = []
        n_bad = sum(f["cells"].values())
        if n_bad:
            why = ", ".join(CELL_REASONS.get(k, k) for k in f["cells"])
            bits.append(f"{n_bad} of {f['n_cells']} cells excluded ({why})")
        if f["trials"]:
            bits.append(f"{f['trials']} of {f['n_trials']} trials outside the recording dropped")
        if bits:
            parts.append(f"{fam}: " + ", ".join(bits))
            columns.extend(f["columns"])
    if not parts:
        return None
    cols = ", ".join(dict.fromkeys(columns))
    return "note: " + "; ".join(parts) + f"; see the {cols} column" + ("s" if len(columns) > 1 else "")


def screen_sweeps(traces: np.ndarray, starts: np.ndarray, spec: Any, out_of_range: str) -> Screen:
    """:func:`screen_windows` for the sweep windows of :mod:`brainobs.metrics.sweep`.

    ``out_of_range`` as in :func:`~brainobs.metrics.sweep.sweep_summary`: with ``"nan"`` every
    window not wholly inside the trace is outside the recording; with ``"allensdk"`` only those
    that give no value (a truncated window at the end is averaged over the frames present,
    as published); with ``"raise"`` the sweep step raises on such a trial.
    """
    s = np.asarray(starts, dtype=np.int64)
    first, stop = -spec.interlength, spec.sweeplength + spec.interlength
    extra = None
    if out_of_range == "nan":
        extra = (s + first >= 0) & (s + stop <= np.asarray(traces).shape[1])
    return screen_windows(traces, s, first, stop, 0, extra)
