"""The shared sweep-response step of the grating and scene analyses, as one vectorized kernel.

For every trial with onset frame ``s`` the published analysis cuts the window
``[s - interlength, s + sweeplength + interlength)`` out of each cell's trace, turns it into a
local %dF/F ``100 * (F / mean(F[:interlength]) - 1)``, averages it over the response frames
``[interlength, interlength + sweeplength + extralength)`` (the *mean sweep response*) and tests
the baseline samples against those response samples with a one-way ANOVA (the per-sweep p-value).

Window parameters (:func:`window_spec`): drifting gratings use 60/30/0 frames; static gratings,
natural scenes and sparse noise use ``sweeplength = end - start`` of the table's *second* row,
``interlength = 4 * sweeplength`` and ``extralength = sweeplength``.

Windows outside the trace: AllenSDK does not guard them. It slices ``trace[start:end]``, so a
window starting before frame 0 becomes a negative slice start, which yields an empty window (NaN
mean, NaN p-value), and a window running past the last frame is truncated (the mean and ANOVA use
the frames present). Such trials do occur in synthetic sessions whose static-grating epoch starts
at the first frames or ends at the last. :func:`sweep_summary` takes ``out_of_range``:
``"raise"`` (default for the array kernels: :class:`WindowOutOfRangeError` naming the first
offending trial), ``"nan"``, or ``"allensdk"`` (the behaviour above; the session-level functions
use it for parity; the family functions then leave out — and count — the trials that get no
value at all, see :mod:`brainobs.metrics.qc`). The preferred-condition statistics (reliability, time to peak) leave such
trials out: AllenSDK fails there (it averages traces of unequal length), brainobs does not.

Memory: the full ``(cell, trial, frame)`` tensor of a session is large (6000 trials × 200 cells
× 63 frames × 8 bytes ≈ 600 MB), so :func:`sweep_summary` works on chunks of trials and keeps
only the ``(cell, trial)`` means and p-values; :func:`sweep_response` materializes the full
labelled tensor for users who want it (optionally for a subset of trials).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr
from scipy import special

__all__ = [
    "DG_WINDOW",
    "WindowOutOfRangeError",
    "WindowSpec",
    "condition_stats",
    "local_dff",
    "oneway_anova",
    "preferred_trial_fraction",
    "preferred_trial_stats",
    "sweep_response",
    "sweep_summary",
    "trial_running_speed",
    "window_frames",
    "window_spec",
]


class WindowOutOfRangeError(ValueError):
    """A trial's response window leaves the trace (or its segment)."""


@dataclass(frozen=True)
class WindowSpec:
    """Frame counts of the sweep window.

    Attributes
    ----------
    sweeplength, interlength, extralength : int
        Stimulus length, baseline length (also the tail after the stimulus), and the extra
        frames added to the response interval.
    """

    sweeplength: int
    interlength: int
    extralength: int

    def __post_init__(self) -> None:
        for name in ("sweeplength", "interlength", "extralength"):
            v = getattr(self, name)
            if not isinstance(v, int | np.integer) or isinstance(v, bool) or v < 0:
                raise ValueError(f"WindowSpec.{name} must be a non-negative int, got {v!r}")
        if self.interlength < 2:
            raise ValueError(f"WindowSpec.interlength must be ≥ 2 frames, got {self.interlength}")
        if self.extralength > self.interlength:
            raise ValueError(
                f"WindowSpec.extralength ({self.extralength}) cannot exceed interlength "
                f"({self.interlength}): the response interval would leave the window"
            )

    @property
    def window(self) -> int:
        """Window length in frames: ``sweeplength + 2 * interlength``."""
        return self.sweeplength + 2 * self.interlength

    @property
    def response(self) -> slice:
        """The response frames inside the window."""
        return slice(self.interlength, self.interlength + self.sweeplength + self.extralength)


DG_WINDOW = WindowSpec(sweeplength=60, interlength=30, extralength=0)


def window_spec(stimulus: str, table: pd.DataFrame | None = None) -> WindowSpec:
    """The published window parameters of a stimulus.

    Parameters
    ----------
    stimulus : str
        ``"drifting_gratings"`` (fixed 60/30/0) or one of ``"static_gratings"``,
        ``"natural_scenes"``, ``"locally_sparse_noise*"`` (derived from ``table``).
    table : DataFrame, optional
        The stimulus table (``start``, ``end``); needed except for drifting gratings.
        As published, the sweep length is ``end - start`` of the table's **second** row.

    Examples
    --------
    >>> window_spec("drifting_gratings")
    WindowSpec(sweeplength=60, interlength=30, extralength=0)
    """
    if stimulus == "drifting_gratings":
        return DG_WINDOW
    if table is None:
        raise ValueError(f"window_spec({stimulus!r}) needs the stimulus table (start/end)")
    if len(table) < 2 or not {"start", "end"} <= set(table.columns):
        from brainobs.errors import StimulusTableError

        raise StimulusTableError(
            f"window_spec({stimulus!r}): the table needs ≥ 2 rows and 'start'/'end' columns "
            f"(the published sweep length is end - start of the second row); it has "
            f"{len(table)} row(s) and columns {list(table.columns)}"
        )
    sweep = int(table["end"].iloc[1] - table["start"].iloc[1])
    return WindowSpec(sweeplength=sweep, interlength=4 * sweep, extralength=sweep)


def _as_traces(traces: Any) -> np.ndarray:
    arr = np.asarray(traces.values if isinstance(traces, xr.DataArray) else traces)
    if arr.ndim != 2:
        raise ValueError(f"traces must be 2-D (n_cells, n_frames), got shape {arr.shape}")
    if not np.issubdtype(arr.dtype, np.floating):
        arr = arr.astype(np.float64)
    return arr


def _as_starts(starts: Any) -> np.ndarray:
    s = np.asarray(starts)
    if s.ndim != 1:
        raise ValueError(f"start frames must be 1-D, got shape {s.shape}")
    if s.size and not np.issubdtype(s.dtype, np.integer):
        if not np.all(np.isfinite(s)) or np.any(s != np.round(s)):
            bad = int(np.flatnonzero(~np.isfinite(s) | (s != np.round(s)))[0])
            raise ValueError(f"start frames must be whole numbers; trial {bad} has {s[bad]!r}")
    return s.astype(np.int64)


def window_frames(starts: Any, spec: WindowSpec, n_frames: int) -> np.ndarray:
    """Frame indices of every trial's window, shape ``(n_trials, spec.window)``.

    Raises
    ------
    WindowOutOfRangeError
        If a window starts before frame 0 or ends after ``n_frames`` (names the first such trial).

    Examples
    --------
    >>> window_frames([40], DG_WINDOW, 200)[0, [0, -1]]
    array([ 10, 129])
    """
    s = _as_starts(starts)
    first = s - spec.interlength
    stop = s + spec.sweeplength + spec.interlength
    bad = np.flatnonzero((first < 0) | (stop > n_frames))
    if bad.size:
        i = int(bad[0])
        raise WindowOutOfRangeError(
            f"trial {i} (start frame {int(s[i])}): window [{int(first[i])}, {int(stop[i])}) "
            f"leaves the trace of {n_frames} frames ({bad.size} trial(s) affected); AllenSDK "
            "would silently truncate or wrap it"
        )
    return first[:, None] + np.arange(spec.window)[None, :]


def local_dff(windows: np.ndarray, interlength: int) -> np.ndarray:
    """Local %dF/F of windows along the last axis: ``100 * (F / mean(F[:interlength]) - 1)``.

    A zero baseline gives ±inf/NaN, as published (no warning is emitted).
    """
    base = windows[..., :interlength].mean(axis=-1, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        return 100.0 * (windows / base - 1.0)


def _f_sf(ssbn: np.ndarray, sswn: np.ndarray, dfbn: float, dfwn: float) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        f = (ssbn / dfbn) / (sswn / dfwn)
    return np.asarray(special.fdtrc(dfbn, dfwn, f))


def _two_group_anova(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Per-row one-way ANOVA p of ``a`` vs ``b`` along the last axis (scipy f_oneway rules)."""
    na, nb = a.shape[-1], b.shape[-1]
    n = na + nb
    # scipy subtracts the grand mean first, then works with sums of squares
    offset = (a.sum(axis=-1) + b.sum(axis=-1)) / n
    da = a - offset[..., None]
    db = b - offset[..., None]
    sa, sb = da.sum(axis=-1), db.sum(axis=-1)
    norm = (sa + sb) ** 2 / n
    sstot = (da * da).sum(axis=-1) + (db * db).sum(axis=-1) - norm
    ssbn = sa * sa / na + sb * sb / nb - norm
    p = _f_sf(ssbn, sstot - ssbn, 1.0, float(n - 2))
    const_a = (a == a[..., :1]).all(axis=-1)
    const_b = (b == b[..., :1]).all(axis=-1)
    all_const = const_a & const_b
    same = all_const & (a[..., 0] == b[..., 0])
    p = np.where(all_const, 0.0, p)
    return np.where(same, np.nan, p)


def oneway_anova(values: Any, groups: Any, n_groups: int | None = None) -> np.ndarray:
    """One-way ANOVA p-value per row of ``values`` (vectorized ``scipy.stats.f_oneway``).

    Parameters
    ----------
    values : array (n_rows, n_trials)
    groups : int array (n_trials,)
        Group code of each trial in ``0 .. n_groups - 1``; ``-1`` leaves a trial out.
    n_groups : int, optional
        Number of groups (default ``max(groups) + 1``); a group without trials makes every
        p-value NaN, as scipy's ``f_oneway`` does with an empty sample.

    Returns
    -------
    ndarray (n_rows,)
        p-values with scipy's edge rules: NaN if any value is NaN or all groups hold one
        sample; 0 if every group is constant but they differ; NaN if all values are equal.

    Examples
    --------
    >>> v = np.array([[1.0, 2.0, 3.0, 7.0, 8.0, 9.0]])
    >>> float(oneway_anova(v, [0, 0, 0, 1, 1, 1])[0]) < 0.01
    True
    """
    v = np.asarray(values, dtype=np.float64)
    if v.ndim == 1:
        v = v[None, :]
    g = np.asarray(groups, dtype=np.int64)
    if g.shape != (v.shape[1],):
        raise ValueError(f"groups has shape {g.shape}, expected ({v.shape[1]},)")
    k = int(g.max()) + 1 if n_groups is None else int(n_groups)
    keep = g >= 0
    g, v = g[keep], v[:, keep]
    if k < 2:
        raise ValueError(f"one-way ANOVA needs at least two groups, got {k}")
    counts = np.bincount(g, minlength=k)[:k]
    out = np.full(v.shape[0], np.nan)
    if v.shape[0] == 0 or np.any(counts == 0) or np.all(counts == 1):
        return out
    order = np.argsort(g, kind="stable")
    vs = v[:, order]
    bounds = np.concatenate([[0], np.cumsum(counts)[:-1]])
    n = vs.shape[1]
    offset = vs.mean(axis=1, keepdims=True)
    d = vs - offset
    total = d.sum(axis=1)
    norm = total * total / n
    sstot = (d * d).sum(axis=1) - norm
    gsum = np.add.reduceat(d, bounds, axis=1)
    ssbn = (gsum * gsum / counts).sum(axis=1) - norm
    p = _f_sf(ssbn, sstot - ssbn, float(k - 1), float(n - k))
    gmax = np.maximum.reduceat(vs, bounds, axis=1)
    gmin = np.minimum.reduceat(vs, bounds, axis=1)
    all_const = np.all(gmax == gmin, axis=1)
    same = np.all(vs == vs[:, :1], axis=1)
    p = np.where(all_const, 0.0, p)
    out[:] = np.where(same, np.nan, p)
    out[np.isnan(vs).any(axis=1)] = np.nan
    return out


def _default_chunk(n_cells: int, window: int) -> int:
    # ~8 MB of float64 per chunk of windows (a few temporaries of that size live at once)
    return max(1, int(1_000_000 // max(1, n_cells * window)))


def sweep_summary(
    traces: Any,
    starts: Any,
    spec: WindowSpec,
    *,
    chunk_trials: int | None = None,
    pvalues: bool = True,
    offset: float = 0.0,
    out_of_range: str = "raise",
) -> tuple[np.ndarray, np.ndarray]:
    """Mean sweep response and per-sweep ANOVA p-value of every (cell, trial).

    Parameters
    ----------
    traces : array (n_cells, n_frames)
        Corrected fluorescence (the published input) or any positive fluorescence-like trace.
    starts : int array (n_trials,)
        Onset frame of each trial.
    spec : WindowSpec
    chunk_trials : int, optional
        Trials per chunk (default: ~8 MB of windows), so the full tensor is never built.
    pvalues : bool
        Compute the per-sweep ANOVA (else the p array is all NaN).
    offset : float
        Added to the traces before the local %dF/F. Pass 1.0 for stored dF/F traces: since
        ``F = F0 * (1 + dF/F)`` with a slowly varying ``F0``, ``1 + dF/F`` gives the same local
        ratio as the fluorescence would (up to F0's drift within a window).
    out_of_range : {"raise", "nan", "allensdk"}
        Windows leaving the trace: raise :class:`WindowOutOfRangeError` (default), give the
        trial NaN, or reproduce AllenSDK (a window starting before frame 0 is an empty slice →
        NaN; one running past the end is truncated and averaged over the frames present).

    Returns
    -------
    mean_sweep_response, pval : ndarray (n_cells, n_trials)

    Examples
    --------
    >>> tr = np.ones((1, 300)); tr[0, 100:160] = 2.0
    >>> msr, p = sweep_summary(tr, [100], DG_WINDOW)
    >>> float(msr[0, 0]), float(p[0, 0])
    (100.0, 0.0)
    """
    tr = _as_traces(traces)
    s = _as_starts(starts)
    if out_of_range not in ("raise", "nan", "allensdk"):
        raise ValueError(f"out_of_range must be 'raise', 'nan' or 'allensdk', got {out_of_range!r}")
    n_frames = tr.shape[1]
    inside = (s - spec.interlength >= 0) & (s + spec.sweeplength + spec.interlength <= n_frames)
    if out_of_range == "raise":
        window_frames(s, spec, n_frames)  # raises, naming the first bad trial
    good = np.flatnonzero(inside)
    idx = window_frames(s[good], spec, n_frames)
    n_cells, n_trials = tr.shape[0], s.size
    chunk = chunk_trials or _default_chunk(n_cells, spec.window)
    if chunk < 1:
        raise ValueError(f"chunk_trials must be ≥ 1, got {chunk}")
    msr = np.full((n_cells, n_trials), np.nan)
    pval = np.full((n_cells, n_trials), np.nan)
    resp = spec.response
    for lo in range(0, good.size, chunk):
        cols = good[lo : lo + chunk]
        w = tr[:, idx[lo : lo + chunk]].astype(np.float64, copy=False)
        if offset:
            w = w + offset
        w = local_dff(w, spec.interlength)
        r = w[..., resp]
        msr[:, cols] = r.mean(axis=-1)
        if pvalues:
            pval[:, cols] = _two_group_anova(w[..., : spec.interlength], r)
    if out_of_range == "allensdk":
        # AllenSDK slices trace[start:end]: a window running past the end is truncated (a few
        # trials at most, so a loop is fine); one starting before frame 0 is an empty slice → NaN
        # (an onset at or after the last frame leaves nothing to average: NaN, not computed)
        for i in np.flatnonzero(~inside & (s - spec.interlength >= 0) & (s < n_frames)):
            w = tr[:, s[i] - spec.interlength : s[i] + spec.sweeplength + spec.interlength]
            w = local_dff(w.astype(np.float64) + offset, spec.interlength)
            r = w[:, resp]
            if r.shape[1] == 0 or w.shape[1] < spec.interlength:
                continue
            msr[:, i] = r.mean(axis=-1)
            if pvalues:
                pval[:, i] = _two_group_anova(w[:, : spec.interlength], r)
    return msr, pval


def sweep_response(
    traces: Any,
    starts: Any,
    spec: WindowSpec,
    *,
    cell_specimen_ids: Any = None,
    trials: Any = None,
    frame_rate: float | None = None,
    offset: float = 0.0,
) -> xr.DataArray:
    """Local %dF/F of every trial window as a labelled ``(cell, trial, frame)`` array.

    Parameters
    ----------
    traces, starts, spec
        As :func:`sweep_summary`.
    cell_specimen_ids : array, optional
        ``cell`` coordinate (default 0..n-1).
    trials : array of int, optional
        Row positions of the trials to keep (default all); the ``trial`` coordinate holds them.
    frame_rate : float, optional
        Adds a ``time`` coordinate (s from onset) along ``frame``.
    offset : float
        Added to the traces first (1.0 for dF/F input, see :func:`sweep_summary`).

    Returns
    -------
    xarray.DataArray
        Dims ``(cell, trial, frame)``; ``frame`` runs from ``-interlength`` (frames from onset);
        ``start`` coordinate per trial; attrs hold the window parameters.

    Examples
    --------
    >>> sweep_response(np.ones((2, 300)), [100, 200], DG_WINDOW).shape
    (2, 2, 120)
    """
    tr = _as_traces(traces)
    s = _as_starts(starts)
    sel = np.arange(len(s)) if trials is None else np.asarray(trials, dtype=np.int64)
    idx = window_frames(s[sel], spec, tr.shape[1])
    data = local_dff(tr[:, idx].astype(np.float64, copy=False) + offset, spec.interlength)
    cells = np.arange(tr.shape[0]) if cell_specimen_ids is None else np.asarray(cell_specimen_ids)
    if cells.shape != (tr.shape[0],):
        raise ValueError(f"cell_specimen_ids has shape {cells.shape}, expected ({tr.shape[0]},)")
    rel = np.arange(spec.window) - spec.interlength
    coords: dict[str, Any] = {"cell": cells, "trial": sel, "frame": rel, "start": ("trial", s[sel])}
    if frame_rate is not None:
        coords["time"] = ("frame", rel / float(frame_rate))
    return xr.DataArray(
        data,
        dims=("cell", "trial", "frame"),
        coords=coords,
        name="sweep_response",
        attrs={
            "units": "%dF/F (local baseline)",
            "sweeplength": spec.sweeplength,
            "interlength": spec.interlength,
            "extralength": spec.extralength,
        },
    )


def trial_running_speed(speed: Any, starts: Any, spec: WindowSpec) -> np.ndarray:
    """Each trial's running speed: ``np.mean`` over its response frames (NaN if any is NaN).

    ``speed`` is aligned to the imaging frames (NaN-padded). Frames beyond its end count as NaN.

    Examples
    --------
    >>> trial_running_speed(np.arange(300.0), [100], DG_WINDOW)
    array([129.5])
    """
    sp = np.asarray(speed, dtype=np.float64).reshape(-1)
    s = _as_starts(starts)
    idx = s[:, None] + (np.arange(spec.response.start, spec.response.stop) - spec.interlength)
    inside = (idx >= 0) & (idx < sp.size)
    vals = np.where(inside, sp[np.clip(idx, 0, max(sp.size - 1, 0))] if sp.size else np.nan, np.nan)
    return vals.mean(axis=1) if vals.shape[1] else np.full(len(s), np.nan)


def condition_stats(
    msr: np.ndarray, codes: Any, n_conditions: int, pval: np.ndarray | None = None,
    alpha: float | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray | None]:
    """Per-condition mean (NaN-skipping), SEM and trial count of mean sweep responses.

    Parameters
    ----------
    msr : array (n_cells, n_trials)
    codes : int array (n_trials,)
        Condition of each trial in ``0 .. n_conditions - 1`` (``-1``: left out).
    pval, alpha : optional
        Also count, per condition, trials with per-sweep p < alpha (published table column 2).

    Returns
    -------
    mean (n_cells, n_cond), sem (n_cells, n_cond), n_trials (n_cond,), n_significant or None
        As published: the mean skips NaNs, SEM = std(ddof=1, NaN-skipping) / √(all trials);
        a condition without trials has NaN mean.
    """
    c = np.asarray(codes, dtype=np.int64)
    keep = c >= 0
    onehot = np.zeros((c.size, n_conditions))
    onehot[np.flatnonzero(keep), c[keep]] = 1.0
    valid = ~np.isnan(msr)
    xz = np.where(valid, msr, 0.0)
    n_all = onehot.sum(axis=0)
    n_valid = valid.astype(np.float64) @ onehot
    with np.errstate(divide="ignore", invalid="ignore"):
        mean = (xz @ onehot) / n_valid
        # second pass for the variance (stable): deviations from each trial's condition mean
        cond_mean_per_trial = np.where(keep[None, :], mean[:, np.clip(c, 0, None)], 0.0)
        dev = np.where(valid, msr - cond_mean_per_trial, 0.0)
        var = ((dev * dev) @ onehot) / (n_valid - 1)
        sem = np.sqrt(var) / np.sqrt(n_all)
    nsig = None
    if pval is not None and alpha is not None:
        nsig = (np.asarray(pval) < alpha).astype(np.float64) @ onehot
    return mean, sem, n_all.astype(np.int64), nsig


def preferred_trial_fraction(pval: Any, codes: Any, pref_code: Any, alpha: float = 0.05
                             ) -> np.ndarray:
    """Fraction of each cell's preferred-condition trials whose per-sweep p-value is < alpha.

    The per-sweep p-value is the published one (:func:`sweep_summary`: baseline vs response
    samples of the trial's own window). This is the dF/F analogue of de Vries et al. 2020's
    event-based responsiveness rule (a cell responds when > 25 % of its preferred-condition
    trials respond); it is not the survey's rule, which counts L0 calcium events.

    Parameters
    ----------
    pval : array (n_cells, n_trials)
        Per-sweep p-values (NaN allowed).
    codes : int array (n_trials,)
        Condition of each trial (``-1``: no condition).
    pref_code : int array (n_cells,)
        Preferred condition of each cell; negative when the cell has none.
    alpha : float
        Significance level of a single trial.

    Returns
    -------
    ndarray (n_cells,)
        ``#(trials with p < alpha) / #(trials with a p-value)`` over the cell's preferred
        condition; trials with a NaN p-value count in neither. NaN when the cell has no
        preferred condition or none of its trials has a p-value.

    Examples
    --------
    >>> p = np.array([[0.01, 0.2, 0.03, np.nan, 0.001],
    ...               [0.5, 0.01, 0.5, 0.01, 0.5]])
    >>> preferred_trial_fraction(p, [0, 0, 0, 0, 1], [0, -1])
    array([0.66666667,        nan])
    """
    p = np.asarray(pval, dtype=np.float64)
    c = np.asarray(codes, dtype=np.int64).reshape(-1)
    pc = np.asarray(pref_code, dtype=np.int64).reshape(-1)
    if p.ndim != 2 or p.shape != (pc.size, c.size):
        raise ValueError(f"pval has shape {p.shape}, expected ({pc.size}, {c.size})")
    mask = (c[None, :] == pc[:, None]) & (pc >= 0)[:, None] & ~np.isnan(p)
    n = mask.sum(axis=1)
    k = (mask & (p < alpha)).sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(n > 0, k / n, np.nan)


def preferred_trial_stats(
    traces: np.ndarray,
    starts: np.ndarray,
    codes: np.ndarray,
    pref_code: np.ndarray,
    spec: WindowSpec,
    reliability_frames: slice,
    *,
    offset: float = 0.0,
) -> tuple[np.ndarray, np.ndarray]:
    """Reliability and peak frame of each cell's preferred-condition trials.

    ``reliability`` = NaN-skipping mean of the Pearson r of every pair (i < j) of single-trial
    local %dF/F traces over ``reliability_frames`` of the window (constant or NaN traces give a
    NaN r, as ``scipy.stats.pearsonr``). ``peak_frame`` = ``np.argmax`` of the trial-averaged
    trace over the whole window (a NaN wins), minus ``interlength``. Cells whose ``pref_code``
    is negative get NaN. Trials whose window leaves the trace are left out (AllenSDK fails on
    them). Loops over the distinct preferred conditions, and over their cells one at a time
    (so that a cell's value never depends on the other cells).
    """
    n_cells = traces.shape[0]
    rel = np.full(n_cells, np.nan)
    peak = np.full(n_cells, np.nan)
    for code in np.unique(pref_code[pref_code >= 0]):
        group = np.flatnonzero(pref_code == code)
        tr_idx = np.flatnonzero(codes == code)
        st = starts[tr_idx]
        tr_idx = tr_idx[(st - spec.interlength >= 0)
                        & (st + spec.sweeplength + spec.interlength <= traces.shape[1])]
        if tr_idx.size == 0:
            continue
        idx = window_frames(starts[tr_idx], spec, traces.shape[1])
        # cell by cell: a cell's value never depends on which other cells share its preferred
        # condition (batched reductions can round differently with the batch size)
        for one in group:
            cells = np.array([one])
            w = traces[cells][:, idx].astype(np.float64, copy=False)
            if offset:
                w = w + offset
            w = local_dff(w, spec.interlength)  # (cells, trials, frames)
            avg = w.mean(axis=1)
            peak[cells] = np.argmax(avg, axis=1) - spec.interlength
            x = w[..., reliability_frames]
            const = (x == x[..., :1]).all(axis=-1) | np.isnan(x).any(axis=-1)
            xm = x - x.mean(axis=-1, keepdims=True)
            with np.errstate(divide="ignore", invalid="ignore"):
                xn = xm / np.sqrt((xm * xm).sum(axis=-1, keepdims=True))
            xn[const] = np.nan
            r = np.clip(np.matmul(xn, xn.transpose(0, 2, 1)), -1.0, 1.0)
            iu = np.triu_indices(tr_idx.size, k=1)
            pairs = r[:, iu[0], iu[1]]
            ok = ~np.isnan(pairs)
            cnt = ok.sum(axis=1)
            with np.errstate(divide="ignore", invalid="ignore"):
                rel[cells] = np.where(cnt > 0, np.where(ok, pairs, 0.0).sum(axis=1) / cnt, np.nan)
    return rel, peak


def window_blocks(starts: Any, spec: WindowSpec, n_frames: int, *, merge_gap: int = 300
                  ) -> np.ndarray:
    """Contiguous frame ranges ``(n_blocks, 2)`` covering every trial's window.

    Windows closer than ``merge_gap`` frames are merged (fewer, longer reads). Ranges are
    clipped to ``[0, n_frames]``, so a window that leaves the recording leaves the first
    or last block in the same way (the published out-of-range behaviour is unchanged).

    >>> window_blocks([100, 190, 5000], DG_WINDOW, 10_000)
    array([[  70,  280],
           [4970, 5090]])
    """
    s = np.sort(np.asarray(starts, dtype=np.int64))
    if s.size == 0:
        return np.zeros((0, 2), dtype=np.int64)
    lo = s - spec.interlength
    hi = s + spec.sweeplength + spec.interlength
    # a new block wherever the next window starts more than merge_gap after the running end
    run_end = np.maximum.accumulate(hi)
    new = np.ones(s.size, dtype=bool)
    new[1:] = lo[1:] > run_end[:-1] + merge_gap
    first = np.flatnonzero(new)
    last = np.append(first[1:], s.size) - 1
    blocks = np.column_stack([lo[first], run_end[last]])
    return np.clip(blocks, 0, n_frames)


def compact_frames(blocks: np.ndarray, frames: Any) -> np.ndarray:
    """Map frame numbers inside ``blocks`` to positions in the blocks laid end to end.

    >>> compact_frames(np.array([[70, 280], [4970, 5090]]), [100, 5000])
    array([ 30, 240])
    """
    f = np.asarray(frames, dtype=np.int64)
    lengths = blocks[:, 1] - blocks[:, 0]
    offsets = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    k = np.searchsorted(blocks[:, 0], f, side="right") - 1
    k = np.clip(k, 0, len(blocks) - 1)
    return f - blocks[k, 0] + offsets[k]
