"""Drifting- and static-grating metrics (``*_dg``, ``*_sg``), exactly as published.

Two entry points per stimulus:

- :func:`drifting_gratings` / :func:`static_gratings` take a :class:`brainobs.io.Session` and
  return the per-cell DataFrame (index ``cell_specimen_id``) with the published columns plus the
  documented extra columns below; :func:`drifting_gratings_result` /
  :func:`static_gratings_result` return a :class:`StimulusResult` with the labelled arrays too.
- :func:`drifting_gratings_from_traces` / :func:`static_gratings_from_traces` are the
  "trace matrix + trial table" path for any data (no NWB file needed).

Published definitions (AllenSDK 2.16 ``DriftingGratings`` / ``StaticGratings``):

- Input: corrected fluorescence; windows, local %dF/F, mean sweep response and per-sweep
  ANOVA from :mod:`brainobs.metrics.sweep` (DG 60/30/0 frames; SG from the table's second row).
- Blanks: NaN table entries are read as 0, so blank sweeps are ``temporal_frequency == 0``
  (DG) / ``spatial_frequency == 0`` (SG); the condition grid is the non-zero TFs/SFs.
- Condition means skip NaN trials. The preferred condition is the first, in C order
  (direction, TF) / (orientation, SF, phase), whose mean equals the NaN-skipping maximum over
  the non-blank grid. ``pref_dir_dg``/``pref_tf_dg`` are ints, the SG ones floats.
- ``osi = (pref - orth) / (pref + orth)`` (DG: orth = mean of directions ±90°; SG: orientation
  + 90°), ``dsi_dg = (pref - null) / (pref + null)``; not bounded (means can be negative).
- ``g_osi``/``g_dsi_dg``: ``|Σ r e^{2iθ}| / Σ r`` and ``|Σ r e^{iθ}| / Σ r`` over directions
  (orientations) at the preferred TF (SF and phase), negative/NaN r set to 0 (0/0 → NaN).
- ``p_dg``/``p_sg``: one-way ANOVA over the 40 (120) conditions plus the blank, of per-trial
  mean responses (scipy ``f_oneway`` rules: NaN if any value is NaN or a group is empty).
- ``reliability``: mean Pearson r of all pairs of preferred-condition trial traces over window
  frames 30:90 (DG) / 28:42 (SG, fixed whatever the sweep length).
- ``tfdi_dg``/``sfdi_sg = ptp(r) / (ptp(r) + 2 √(SS / (n - 5)))``, r the TF (SF) tuning at the
  preferred direction (orientation and phase), SS the squared deviations of those n trials.
- ``time_to_peak_sg = (argmax of the mean preferred-condition trace - interlength) / rate``,
  rate = ``1 / (t1 - t0)`` of the imaging timestamps.
- ``run_mod``/``p_run_mod``: :mod:`brainobs.metrics.running`.

Deviations (documented): a cell whose condition means are all NaN (e.g. a NaN trace) makes
AllenSDK fail; brainobs returns NaN for every column of that cell. More generally a cell with
a NaN/±inf sample in any trial window gets NaN in every column with its reason in ``qc_dg`` /
``qc_sg``, and trials outside the recording are left out and counted in ``attrs["qc"]``
(:mod:`brainobs.metrics.qc`); every other value is unchanged.

Extra columns (not published, better behaved):

- ``osi_dg_bounded``, ``dsi_dg_bounded``, ``osi_sg_bounded``: the same ratios from condition
  means clipped at 0 (responses cannot be negative), so they lie in [0, 1] (pref is the max).
- ``dsi_dg_ci_low/_high``, ``osi_dg_ci_low/_high``: percentile bootstrap confidence interval of
  the published DSI/OSI: trials are resampled with replacement within every condition
  (``n_boot`` times, ``seed``), the preferred condition is held at the point estimate's.
- ``frac_sig_trials_dg``, ``frac_sig_trials_sg``: the fraction of the cell's preferred-condition
  trials (the published preferred direction × TF / orientation × SF × phase) whose own per-sweep
  p-value (the published per-sweep ANOVA, :attr:`StimulusResult.pval`) is < 0.05; trials with a
  NaN p-value count in neither numerator nor denominator; NaN for a cell without a preferred
  condition. An analogue of de Vries et al. 2020's event-based rule (responsive when > 25 % of
  the preferred-condition trials respond); not the survey's rule, which needs L0 events
  (:func:`brainobs.metrics.sweep.preferred_trial_fraction`).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from brainobs.metrics import qc
from brainobs.metrics.running import running_modulation
from brainobs.metrics.sweep import (
    DG_WINDOW,
    WindowOutOfRangeError,
    WindowSpec,
    _as_traces,
    compact_frames,
    condition_stats,
    oneway_anova,
    preferred_trial_fraction,
    preferred_trial_stats,
    sweep_response,
    sweep_summary,
    trial_running_speed,
    window_blocks,
    window_spec,
)

__all__ = [
    "DG_COLUMNS",
    "SG_COLUMNS",
    "StimulusResult",
    "drifting_gratings",
    "drifting_gratings_from_traces",
    "drifting_gratings_result",
    "static_gratings",
    "static_gratings_from_traces",
    "static_gratings_result",
]

DG_COLUMNS = ["pref_dir_dg", "pref_tf_dg", "osi_dg", "dsi_dg", "g_osi_dg", "g_dsi_dg", "p_dg",
              "reliability_dg", "tfdi_dg", "peak_dff_dg", "run_mod_dg", "p_run_mod_dg"]
SG_COLUMNS = ["pref_ori_sg", "pref_sf_sg", "pref_phase_sg", "osi_sg", "g_osi_sg", "sfdi_sg",
              "p_sg", "time_to_peak_sg", "reliability_sg", "peak_dff_sg", "run_mod_sg",
              "p_run_mod_sg"]


@dataclass
class StimulusResult:
    """Everything one stimulus analysis computed.

    Attributes
    ----------
    table : DataFrame
        Per-cell metrics (index ``cell_specimen_id``): published columns, then extras.
    responses : xarray.DataArray
        Condition means ``(cell, <condition dims>)`` (%dF/F); coordinate ``n_trials`` holds the
        trial count of each condition; ``sem`` is a separate array.
    sem : xarray.DataArray
        Standard error of each condition mean (as published: NaN-skipping std / √(all trials)).
    blank : xarray.DataArray
        Mean response to the blank sweeps ``(cell,)`` (attrs ``n_trials``).
    mean_sweep_response, pval : xarray.DataArray
        ``(cell, trial)`` mean sweep response and per-sweep ANOVA p-value.
    trials : DataFrame
        The trial table used (blanks filled with 0, plus ``condition`` and ``running_speed``).
    spec : WindowSpec
    """

    table: pd.DataFrame
    responses: xr.DataArray
    sem: xr.DataArray
    blank: xr.DataArray
    mean_sweep_response: xr.DataArray
    pval: xr.DataArray
    trials: pd.DataFrame
    spec: WindowSpec
    _traces: Any = field(default=None, repr=False)
    _offset: float = field(default=0.0, repr=False)
    _starts: Any = field(default=None, repr=False)  # start frames in _traces, if not trials'


    def sweep_response(self, trials: Any = None) -> xr.DataArray:
        """The local %dF/F ``(cell, trial, frame)`` of the given trial rows (default all).

        Memory: n_cells × n_trials × window × 8 bytes — select trials on long sessions.
        """
        if self._traces is None:
            raise ValueError("this result does not keep its traces")
        starts = self.trials["start"].to_numpy() if self._starts is None else self._starts
        return sweep_response(
            self._traces, starts, self.spec,
            cell_specimen_ids=self.table.index.to_numpy(), trials=trials, offset=self._offset,
        )


# ----------------------------------------------------------------------------- helpers
def _nanargmax_first(x: np.ndarray) -> np.ndarray:
    """First index of the NaN-skipping max per row; -1 where the row is all NaN."""
    allnan = np.isnan(x).all(axis=1)
    filled = np.where(np.isnan(x), -np.inf, x)
    idx = np.argmax(filled, axis=1)
    return np.where(allnan, -1, idx)


def _take(arr: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """``arr[i, idx[i]]`` with NaN where idx < 0."""
    out = arr[np.arange(arr.shape[0]), np.clip(idx, 0, None)]
    return np.where(idx >= 0, out, np.nan)


def _ratio(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return (a - b) / (a + b)


def _bounded(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return _ratio(np.clip(a, 0, None), np.clip(b, 0, None))


def _vector_index(tuning: np.ndarray, angles_rad: np.ndarray, k: float) -> np.ndarray:
    t = np.where(tuning > 0, tuning, 0.0)
    num = np.abs((t * np.exp(1j * k * angles_rad)[None, :]).sum(axis=1))
    with np.errstate(divide="ignore", invalid="ignore"):
        return num / t.sum(axis=1)


def _freq_index(msr: np.ndarray, trial_sel: np.ndarray, tuning: np.ndarray,
                n_levels: int) -> np.ndarray:
    """``ptp(tuning) / (ptp + 2 √(SS/(n - n_levels)))`` with per-cell trial masks."""
    n = trial_sel.sum(axis=1).astype(np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        x = np.where(trial_sel, msr, 0.0)
        has_nan = (np.isnan(msr) & trial_sel).any(axis=1)
        mean = np.where(has_nan, np.nan, np.nansum(x, axis=1) / n)
        ss = np.where(trial_sel, (msr - mean[:, None]) ** 2, 0.0).sum(axis=1)
        sse = np.sqrt(ss / (n - n_levels))
        ptp = tuning.max(axis=1) - tuning.min(axis=1)
        return ptp / (ptp + 2 * sse)


def _frame_rate(timestamps: np.ndarray) -> float:
    ts = np.asarray(timestamps, dtype=np.float64)
    if ts.size < 2:
        raise ValueError("need ≥ 2 imaging timestamps for the frame rate")
    return float(1.0 / (ts[1] - ts[0]))  # as published: from the first two timestamps


def _index(cell_specimen_ids: Any, n: int) -> pd.Index:
    ids = np.arange(n) if cell_specimen_ids is None else np.asarray(cell_specimen_ids)
    if ids.shape != (n,):
        raise ValueError(f"cell_specimen_ids has shape {ids.shape}, expected ({n},)")
    return pd.Index(ids.astype(np.int64), name="cell_specimen_id")


def _speed(running_speed: Any, starts: np.ndarray, spec: WindowSpec) -> np.ndarray:
    if running_speed is None:
        return np.full(starts.size, np.nan)
    return trial_running_speed(running_speed, starts, spec)


def _check_table(table: pd.DataFrame, needed: list[str], what: str) -> None:
    if not isinstance(table, pd.DataFrame):
        raise TypeError(f"{what}: the trial table must be a DataFrame, got {type(table).__name__}")
    missing = [c for c in needed if c not in table.columns]
    if missing:
        raise ValueError(f"{what}: trial table lacks column(s) {missing}; has {list(table.columns)}")


def _segment_keep(starts: np.ndarray, spec: WindowSpec, segments: Any, n_frames: int) -> np.ndarray:
    """Trials whose whole window lies inside the segment holding their onset."""
    seg = np.asarray(segments, dtype=np.int64).reshape(-1, 2)
    if np.any(seg[:, 0] >= seg[:, 1]) or np.any(seg[:, 0] < 0) or np.any(seg[:, 1] > n_frames):
        raise ValueError(f"segments must be [start, stop) pairs inside 0..{n_frames}: {seg.tolist()}")
    k = np.searchsorted(seg[:, 0], starts, side="right") - 1
    ok = k >= 0
    kk = np.clip(k, 0, None)
    lo, hi = seg[kk, 0], seg[kk, 1]
    ok &= starts < hi
    ok &= (starts - spec.interlength >= lo) & (starts + spec.sweeplength + spec.interlength <= hi)
    return ok


def _offset_for(trace_kind: str) -> float:
    if trace_kind not in ("fluorescence", "dff"):
        raise ValueError(f"trace_kind must be 'fluorescence' or 'dff', got {trace_kind!r}")
    return 1.0 if trace_kind == "dff" else 0.0


def _bootstrap_ci(
    msr: np.ndarray, codes: np.ndarray, n_cond: int, pairs: list[tuple[np.ndarray, np.ndarray]],
    n_boot: int, seed: int | None, level: float,
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Percentile CIs of ``_ratio(mean[a], mean[b])`` per (a, b) flat-condition index pair.

    ``b`` may be a 2-column array: then the mean of the two conditions (DG orth). Trials are
    resampled with replacement within each condition (the same draws for all cells). Only the
    (cell, condition) bootstrap means that some pair needs are kept (memory ~ cells × n_boot).
    """
    rng = np.random.default_rng(seed)
    n_cells = msr.shape[0]
    roles: list[np.ndarray] = []  # flat condition index per cell, one entry per role
    for a, b in pairs:
        roles.append(a)
        roles.extend([b[:, 0], b[:, 1]] if b.ndim == 2 else [b])
    vals_by_role = [np.full((n_cells, n_boot), np.nan) for _ in roles]
    for c in range(n_cond):
        tr = np.flatnonzero(codes == c)
        draws = rng.integers(0, max(tr.size, 1), size=(n_boot, tr.size))  # keep the stream fixed
        need = np.zeros(n_cells, dtype=bool)
        for r in roles:
            need |= r == c
        if tr.size == 0 or not need.any():
            continue
        cells_c = np.flatnonzero(need)
        v = msr[cells_c][:, tr][:, draws]  # (cells_c, boot, n)
        ok = ~np.isnan(v)
        with np.errstate(divide="ignore", invalid="ignore"):
            m = np.where(ok, v, 0.0).sum(axis=2) / ok.sum(axis=2)
        for r, out_r in zip(roles, vals_by_role, strict=True):
            hit = r[cells_c] == c
            out_r[cells_c[hit]] = m[hit]
    out = []
    q = [50 * (1 - level), 50 * (1 + level)]
    k = 0
    for a, b in pairs:
        ra = vals_by_role[k]
        if b.ndim == 2:
            rb = (vals_by_role[k + 1] + vals_by_role[k + 2]) / 2
            k += 3
        else:
            rb = vals_by_role[k + 1]
            k += 2
        si = _ratio(ra, rb)
        si[a < 0] = np.nan
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN cells → NaN
            lo, hi = np.nanpercentile(si, q, axis=1)
        out.append((lo, hi))
    return out


# ----------------------------------------------------------------------------- drifting gratings
def drifting_gratings_from_traces(
    traces: Any,
    table: pd.DataFrame,
    *,
    frame_rate: float | None = None,
    running_speed: Any = None,
    cell_specimen_ids: Any = None,
    trace_kind: str = "fluorescence",
    out_of_range: str = "raise",
    segments: Any = None,
    start_column: str | None = None,
    n_boot: int = 1000,
    seed: int | None = 0,
    ci_level: float = 0.95,
) -> StimulusResult:
    """Drifting-grating metrics from a trace matrix and a trial table.

    Parameters
    ----------
    traces : array (n_cells, n_frames)
        Corrected fluorescence (the published input), or dF/F with ``trace_kind="dff"``.
    table : DataFrame
        One row per trial: ``orientation`` (deg), ``temporal_frequency`` (Hz), NaN (or 0 TF)
        for blank sweeps (a ``blank_sweep`` column is honoured too), and the onset frame in
        ``start`` (or ``onset_frame``; or name it with ``start_column``).
    frame_rate : float, optional
        Only labels the time axis of :meth:`StimulusResult.sweep_response`.
    running_speed : array (n_frames,), optional
        Speed (cm/s) per imaging frame; without it ``run_mod_dg``/``p_run_mod_dg`` are NaN.
    cell_specimen_ids : array, optional
        Row labels (default 0..n-1).
    trace_kind : {"fluorescence", "dff"}
        ``"dff"`` applies the published local %dF/F to ``1 + dF/F`` (= F/F0): the same
        computation on a different trace, so values differ from the released table, which
        used corrected fluorescence (the baseline F0 and neuropil handling differ).
    segments : array (n_segments, 2), optional
        ``[start, stop)`` frame ranges of contiguous recording (e.g. a trace rebuilt from
        separate blocks). Trials whose window leaves their segment are **dropped** (listed in
        ``result.table.attrs["dropped_trials"]``). Without segments, a window outside the
        trace raises :class:`~brainobs.metrics.sweep.WindowOutOfRangeError`.
    out_of_range : {"raise", "nan", "allensdk"}
        Trials whose window leaves the trace (see :func:`~brainobs.metrics.sweep.sweep_summary`);
        the session functions use ``"allensdk"`` for parity.
    n_boot, seed, ci_level
        Bootstrap of the DSI/OSI confidence intervals (``n_boot=0`` skips them).

    Returns
    -------
    StimulusResult
        ``.table`` has the published DG columns, then ``osi_dg_bounded``, ``dsi_dg_bounded``,
        ``dsi_dg_ci_low``, ``dsi_dg_ci_high``, ``osi_dg_ci_low``, ``osi_dg_ci_high``,
        ``frac_sig_trials_dg``;
        ``.responses`` is ``(cell, direction, temporal_frequency)``.

    Examples
    --------
    >>> res = drifting_gratings_from_traces(F, trials)          # doctest: +SKIP
    >>> res.table[["pref_dir_dg", "pref_tf_dg", "dsi_dg", "p_dg"]]  # doctest: +SKIP
    """
    what = "drifting_gratings_from_traces"
    tr = _as_traces(traces)
    offset = _offset_for(trace_kind)
    if start_column is None:
        start_column = "start" if "start" in getattr(table, "columns", []) else "onset_frame"
    _check_table(table, ["orientation", "temporal_frequency", start_column], what)
    if n_boot < 0:
        raise ValueError(f"n_boot must be ≥ 0, got {n_boot}")
    t = table.copy()
    t["start"] = t[start_column]
    if "blank_sweep" in t.columns:
        blank = t["blank_sweep"].fillna(False).astype(bool).to_numpy()
        t.loc[blank, ["orientation", "temporal_frequency"]] = np.nan
    t[["orientation", "temporal_frequency"]] = t[["orientation", "temporal_frequency"]].fillna(0.0)
    spec = DG_WINDOW
    starts = np.asarray(t["start"], dtype=np.float64)
    if np.any(~np.isfinite(starts)):
        raise ValueError(f"{what}: start frames must be finite")
    starts_i = starts.astype(np.int64)
    dropped: list[int] = []
    if segments is not None:
        keep = _segment_keep(starts_i, spec, segments, tr.shape[1])
        dropped = [int(i) for i in np.flatnonzero(~keep)]
        t = t.iloc[np.flatnonzero(keep)]
        starts_i = starts_i[keep]
    t = t.reset_index(drop=True)

    ori = t["orientation"].to_numpy(dtype=np.float64)
    tf = t["temporal_frequency"].to_numpy(dtype=np.float64)
    dirs = np.unique(ori).astype(int)  # published: orientation values as ints (blank's 0 too)
    tfs = np.unique(tf[tf != 0]).astype(int)
    if dirs.size == 0 or tfs.size == 0:
        raise ValueError(f"{what}: no non-blank trials")
    n_dir, n_tf = dirs.size, tfs.size
    is_blank = tf == 0
    d_i = np.searchsorted(dirs, ori.astype(int))
    f_i = np.searchsorted(tfs, tf.astype(int))
    codes = np.where(is_blank, n_dir * n_tf, d_i * n_tf + np.clip(f_i, 0, n_tf - 1))
    # trials whose int-cast TF is not a grid value would match no condition in AllenSDK
    bad = ~is_blank & ((f_i >= n_tf) | (tfs[np.clip(f_i, 0, n_tf - 1)] != tf.astype(int))
                       | (tf != tf.astype(int)))
    codes = np.where(bad, -1, codes)
    raw, screen = tr, qc.screen_sweeps(tr, starts_i, spec, out_of_range)
    tr = screen.traces  # excluded cells replaced by a constant: NaN in the table below
    codes = np.where(screen.trial_ok, codes, -1)  # trials outside the recording: left out
    t["condition"] = codes

    msr, pval = sweep_summary(tr, starts_i, spec, offset=offset, out_of_range=out_of_range)
    speed = _speed(running_speed, starts_i, spec)
    t["running_speed"] = speed
    n_cond = n_dir * n_tf
    mean_all, sem_all, n_all, _ = condition_stats(msr, codes, n_cond + 1)
    means, blank_mean = mean_all[:, :n_cond], mean_all[:, n_cond]

    pref = _nanargmax_first(means)
    ok = pref >= 0
    pd_i = np.where(ok, pref // n_tf, 0)
    pt_i = np.where(ok, pref % n_tf, 0)
    grid = means.reshape(-1, n_dir, n_tf)
    cells = np.arange(tr.shape[0])
    peak = _take(means, pref)
    quarter, half = n_dir // 4, n_dir // 2
    o1 = ((pd_i + quarter) % n_dir) * n_tf + pt_i
    o2 = ((pd_i - quarter) % n_dir) * n_tf + pt_i
    nl = ((pd_i + half) % n_dir) * n_tf + pt_i
    orth1, orth2, null = means[cells, o1], means[cells, o2], means[cells, nl]
    orth = (orth1 + orth2) / 2
    osi = np.where(ok, _ratio(peak, orth), np.nan)
    dsi = np.where(ok, _ratio(peak, null), np.nan)
    tuning = grid[cells, :, pt_i]  # (cells, n_dir) at the preferred TF
    rad = np.deg2rad(dirs)
    g_osi = np.where(ok, _vector_index(tuning, rad, 2.0), np.nan)
    g_dsi = np.where(ok, _vector_index(tuning, rad, 1.0), np.nan)
    p_dg = oneway_anova(msr, codes, n_cond + 1)

    pref_code = np.where(ok, pref, -1)
    rel, _ = preferred_trial_stats(tr, starts_i, codes, pref_code, spec, slice(30, 90),
                                   offset=offset)
    # TF index: all non-blank trials at the preferred direction
    pref_dir_val = dirs[pd_i]
    sel = (~is_blank & (ori[None, :] == pref_dir_val[:, None]))
    tfdi = np.where(ok, _freq_index(msr, sel, grid[cells, pd_i, :], n_tf), np.nan)
    pref_mask = codes[None, :] == pref_code[:, None]
    run_mod, p_run = running_modulation(msr, speed, pref_mask, min_trials=2)

    index = _index(cell_specimen_ids, tr.shape[0])
    out = pd.DataFrame(index=index)
    if ok.all():
        out["pref_dir_dg"] = dirs[pd_i].astype(np.int64)
        out["pref_tf_dg"] = tfs[pt_i].astype(np.int64)
    else:  # a cell without any finite condition mean: NaN (float column)
        out["pref_dir_dg"] = np.where(ok, dirs[pd_i], np.nan)
        out["pref_tf_dg"] = np.where(ok, tfs[pt_i], np.nan)
    out["osi_dg"] = osi
    out["dsi_dg"] = dsi
    out["g_osi_dg"] = g_osi
    out["g_dsi_dg"] = g_dsi
    out["p_dg"] = p_dg
    out["reliability_dg"] = rel
    out["tfdi_dg"] = tfdi
    out["peak_dff_dg"] = peak
    out["run_mod_dg"] = run_mod
    out["p_run_mod_dg"] = p_run
    out["osi_dg_bounded"] = np.where(
        ok, _bounded(peak, (np.clip(orth1, 0, None) + np.clip(orth2, 0, None)) / 2), np.nan)
    out["dsi_dg_bounded"] = np.where(ok, _bounded(peak, null), np.nan)
    if n_boot:
        a = np.where(ok, pref, -1)
        (dlo, dhi), (olo, ohi) = _bootstrap_ci(
            msr, codes, n_cond, [(a, nl), (a, np.stack([o1, o2], axis=1))], n_boot, seed,
            ci_level)
    else:
        dlo = dhi = olo = ohi = np.full(tr.shape[0], np.nan)
    out["dsi_dg_ci_low"], out["dsi_dg_ci_high"] = dlo, dhi
    out["osi_dg_ci_low"], out["osi_dg_ci_high"] = olo, ohi
    out["frac_sig_trials_dg"] = preferred_trial_fraction(pval, codes, pref_code)
    qc.apply(out, screen.cell_reason, "qc_dg", family="drifting_gratings",
             stimulus="drifting_gratings", n_trials=len(t) + len(dropped),
             trials_excluded=int((~screen.trial_ok).sum()) + len(dropped))
    out.attrs["dropped_trials"] = dropped
    out.attrs["trace_kind"] = trace_kind

    counts = n_all[:n_cond].reshape(n_dir, n_tf)
    coords = {"cell": index.to_numpy(), "direction": dirs, "temporal_frequency": tfs,
              "n_trials": (("direction", "temporal_frequency"), counts)}
    responses = xr.DataArray(grid, dims=("cell", "direction", "temporal_frequency"),
                             coords=coords, name="mean_response", attrs={"units": "%dF/F"})
    sem = xr.DataArray(sem_all[:, :n_cond].reshape(-1, n_dir, n_tf), dims=responses.dims,
                       coords=coords, name="sem", attrs={"units": "%dF/F"})
    return _result(out, responses, sem, blank_mean, int(n_all[n_cond]), msr, pval, t, spec, raw,
                   offset, screen.bad)


def _result(out: pd.DataFrame, responses: xr.DataArray, sem: xr.DataArray,
            blank_mean: np.ndarray, n_blank: int, msr: np.ndarray, pval: np.ndarray,
            t: pd.DataFrame, spec: WindowSpec, tr: np.ndarray, offset: float,
            bad: np.ndarray | None = None) -> StimulusResult:
    """The labelled arrays of a result; cells excluded by QC (``bad``) are NaN in all of them."""
    if bad is not None and bad.any():
        responses, sem = responses.copy(), sem.copy()
        responses.values[bad] = np.nan
        sem.values[bad] = np.nan
        blank_mean, msr, pval = blank_mean.copy(), msr.copy(), pval.copy()
        blank_mean[bad] = msr[bad] = pval[bad] = np.nan
    cell = out.index.to_numpy()
    trial = np.arange(len(t))
    blank = xr.DataArray(blank_mean, dims=("cell",), coords={"cell": cell}, name="blank_response",
                         attrs={"n_trials": n_blank, "units": "%dF/F"})
    msr_da = xr.DataArray(msr, dims=("cell", "trial"), coords={"cell": cell, "trial": trial},
                          name="mean_sweep_response", attrs={"units": "%dF/F"})
    p_da = xr.DataArray(pval, dims=("cell", "trial"), coords={"cell": cell, "trial": trial},
                        name="pval")
    return StimulusResult(out, responses, sem, blank, msr_da, p_da, t, spec, tr, offset)


def _session_inputs(session: Any, stimulus: str) -> tuple[np.ndarray, pd.DataFrame, np.ndarray,
                                                          float, np.ndarray, pd.DataFrame]:
    """Corrected fluorescence and running speed of only the frames the sweep windows use.

    The stimulus' epochs are read as a few contiguous blocks laid end to end, and the trial
    table's start/end frames are mapped into them: less to read and decompress than the
    whole session (gratings and scenes cover different epochs of session B). Returns the
    compact traces, the remapped table, compact speed, frame rate, ids and the original table.
    """
    from brainobs.io.stimulus import check_table

    table = session.stimulus_table(stimulus)  # raises UnknownStimulusError listing the stimuli
    check_table(stimulus, table, where=_where(session), min_rows=2)
    spec = window_spec(stimulus, table)
    n_frames = int(session.n_frames)
    st = table["start"].to_numpy()
    # trials starting outside the recording read nothing (their compact frames fall outside
    # the compact trace too, so the metrics leave them out and count them)
    inside = (st >= 0) & (st < n_frames)
    if not inside.any():
        from brainobs.errors import StimulusTableError

        raise StimulusTableError(
            f"{stimulus} table of {_where(session)}: none of its {len(st)} presentations starts "
            f"inside the recording (frames 0 .. {n_frames - 1}; starts {st.min()} .. {st.max()})")
    blocks = window_blocks(st[inside], spec, n_frames)
    lengths = blocks[:, 1] - blocks[:, 0]
    traces = np.empty((session.n_cells, int(lengths.sum())), dtype=np.float64)
    speed_all = session.running_speed()["speed"].to_numpy(dtype=np.float64)
    speed = np.empty(traces.shape[1])
    pos = 0
    for (a, b), n in zip(blocks, lengths, strict=True):
        traces[:, pos:pos + n] = session.corrected_fluorescence(frames=(int(a), int(b))).values
        speed[pos:pos + n] = speed_all[a:b]
        pos += n
    compact = table.copy()
    for col in ("start", "end"):
        compact[col] = compact_frames(blocks, table[col].to_numpy())
    rate = _frame_rate(session.timestamps)
    return traces, compact, speed, rate, np.asarray(session.cell_specimen_ids), table


def _where(session: Any) -> str:
    """``"500000002.nwb (three_session_B)"`` for messages."""
    path = getattr(session, "path", None)
    name = getattr(path, "name", None) or str(getattr(session, "ophys_experiment_id", "session"))
    stype = getattr(session, "session_type", None)
    return f"{name} ({stype})" if stype else name


def _with_original_frames(result: StimulusResult, table: pd.DataFrame) -> StimulusResult:
    """Show the session's own start/end frames in ``result.trials`` (the computation used
    the compact ones, which ``sweep_response`` keeps using)."""
    result._starts = result.trials["start"].to_numpy()
    trials = result.trials.copy()
    for col in ("start", "end"):
        trials[col] = table.loc[trials.index, col].to_numpy()
    result.trials = trials
    return result


def drifting_gratings_result(session: Any, *, n_boot: int = 1000, seed: int | None = 0
                             ) -> StimulusResult:
    """:func:`drifting_gratings` with the labelled arrays (:class:`StimulusResult`)."""
    traces, table, speed, rate, ids, original = _session_inputs(session, "drifting_gratings")
    res = drifting_gratings_from_traces(traces, table, frame_rate=rate, running_speed=speed,
                                        cell_specimen_ids=ids, n_boot=n_boot, seed=seed,
                                        out_of_range="allensdk")
    return _with_original_frames(res, original)


def drifting_gratings(session: Any, *, n_boot: int = 1000, seed: int | None = 0) -> pd.DataFrame:
    """Drifting-grating metrics of a session (published ``*_dg`` columns plus extras).

    Parameters
    ----------
    session : brainobs.io.Session
    n_boot, seed : int
        Bootstrap resamples and seed of the DSI/OSI confidence intervals.

    Returns
    -------
    DataFrame indexed by ``cell_specimen_id`` (see the module docstring for every column).

    Examples
    --------
    >>> from brainobs.io import Session
    >>> drifting_gratings(Session("500000001.nwb"))["pref_dir_dg"]  # doctest: +SKIP
    """
    return drifting_gratings_result(session, n_boot=n_boot, seed=seed).table


# ----------------------------------------------------------------------------- static gratings
def static_gratings_from_traces(
    traces: Any,
    table: pd.DataFrame,
    *,
    frame_rate: float,
    running_speed: Any = None,
    cell_specimen_ids: Any = None,
    trace_kind: str = "fluorescence",
    spec: WindowSpec | None = None,
    out_of_range: str = "raise",
) -> StimulusResult:
    """Static-grating metrics from a trace matrix and a trial table.

    Parameters
    ----------
    traces : array (n_cells, n_frames)
        Corrected fluorescence, or dF/F with ``trace_kind="dff"`` (see
        :func:`drifting_gratings_from_traces`).
    table : DataFrame
        ``orientation``, ``spatial_frequency``, ``phase`` (NaN for blanks), ``start``, ``end``.
    frame_rate : float
        Imaging rate (Hz) for ``time_to_peak_sg`` (published: ``1 / (t1 - t0)``).
    running_speed, cell_specimen_ids
        As :func:`drifting_gratings_from_traces`.
    spec : WindowSpec, optional
        Window (default from the table's second row, as published).
    out_of_range : {"raise", "nan", "allensdk"}
        Trials whose window leaves the trace (see :func:`~brainobs.metrics.sweep.sweep_summary`);
        the session functions use ``"allensdk"`` for parity.

    Returns
    -------
    StimulusResult
        ``.table``: the published SG columns, then ``osi_sg_bounded``, ``frac_sig_trials_sg``;
        ``.responses`` is ``(cell, orientation, spatial_frequency, phase)``.
    """
    what = "static_gratings_from_traces"
    tr = _as_traces(traces)
    offset = _offset_for(trace_kind)
    _check_table(table, ["orientation", "spatial_frequency", "phase", "start"], what)
    if not (frame_rate and np.isfinite(frame_rate) and frame_rate > 0):
        raise ValueError(f"{what}: frame_rate must be a positive number, got {frame_rate!r}")
    feats = ["orientation", "spatial_frequency", "phase"]
    t = table.copy().reset_index(drop=True)
    t[feats] = t[feats].fillna(0.0)
    spec = spec or window_spec("static_gratings", t)
    starts = np.asarray(t["start"]).astype(np.int64)
    ori = t["orientation"].to_numpy(np.float64)
    sf = t["spatial_frequency"].to_numpy(np.float64)
    ph = t["phase"].to_numpy(np.float64)
    oris, sfs, phs = np.unique(ori), np.unique(sf[sf != 0]), np.unique(ph)
    if sfs.size == 0:
        raise ValueError(f"{what}: no non-blank trials")
    n_o, n_s, n_p = oris.size, sfs.size, phs.size
    is_blank = sf == 0
    o_i, s_i, p_i = np.searchsorted(oris, ori), np.searchsorted(sfs, sf), np.searchsorted(phs, ph)
    n_cond = n_o * n_s * n_p
    codes = np.where(is_blank, n_cond, (o_i * n_s + np.clip(s_i, 0, n_s - 1)) * n_p + p_i)
    raw, screen = tr, qc.screen_sweeps(tr, starts, spec, out_of_range)
    tr = screen.traces  # excluded cells replaced by a constant: NaN in the table below
    codes = np.where(screen.trial_ok, codes, -1)  # trials outside the recording: left out
    t["condition"] = codes

    msr, pval = sweep_summary(tr, starts, spec, offset=offset, out_of_range=out_of_range)
    speed = _speed(running_speed, starts, spec)
    t["running_speed"] = speed
    mean_all, sem_all, n_all, _ = condition_stats(msr, codes, n_cond + 1)
    means, blank_mean = mean_all[:, :n_cond], mean_all[:, n_cond]
    pref = _nanargmax_first(means)
    ok = pref >= 0
    pr = np.where(ok, pref, 0)
    po, ps, pp = pr // (n_s * n_p), (pr // n_p) % n_s, pr % n_p
    grid = means.reshape(-1, n_o, n_s, n_p)
    cells = np.arange(tr.shape[0])
    peak = _take(means, pref)
    orth = grid[cells, (po + n_o // 2) % n_o, ps, pp]
    osi = np.where(ok, _ratio(peak, orth), np.nan)
    g_osi = np.where(ok, _vector_index(grid[cells, :, ps, pp], np.deg2rad(oris), 2.0), np.nan)
    p_sg = oneway_anova(msr, codes, n_cond + 1)
    pref_code = np.where(ok, pref, -1)
    rel, peak_frame = preferred_trial_stats(tr, starts, codes, pref_code, spec, slice(28, 42),
                                            offset=offset)
    sel = (~is_blank[None, :] & (ori[None, :] == oris[po][:, None])
           & (ph[None, :] == phs[pp][:, None]))
    sfdi = np.where(ok, _freq_index(msr, sel, grid[cells, po, :, pp], n_s), np.nan)
    pref_mask = codes[None, :] == pref_code[:, None]
    run_mod, p_run = running_modulation(msr, speed, pref_mask, min_trials=4)

    index = _index(cell_specimen_ids, tr.shape[0])
    out = pd.DataFrame(index=index)
    out["pref_ori_sg"] = np.where(ok, oris[po], np.nan)
    out["pref_sf_sg"] = np.where(ok, sfs[ps], np.nan)
    out["pref_phase_sg"] = np.where(ok, phs[pp], np.nan)
    out["osi_sg"] = osi
    out["g_osi_sg"] = g_osi
    out["sfdi_sg"] = sfdi
    out["p_sg"] = p_sg
    out["time_to_peak_sg"] = peak_frame / float(frame_rate)
    out["reliability_sg"] = rel
    out["peak_dff_sg"] = peak
    out["run_mod_sg"] = run_mod
    out["p_run_mod_sg"] = p_run
    out["osi_sg_bounded"] = np.where(ok, _bounded(peak, orth), np.nan)
    out["frac_sig_trials_sg"] = preferred_trial_fraction(pval, codes, pref_code)
    qc.apply(out, screen.cell_reason, "qc_sg", family="static_gratings",
             stimulus="static_gratings", n_trials=len(t),
             trials_excluded=int((~screen.trial_ok).sum()))
    out.attrs["trace_kind"] = trace_kind

    counts = n_all[:n_cond].reshape(n_o, n_s, n_p)
    dims = ("cell", "orientation", "spatial_frequency", "phase")
    coords = {"cell": index.to_numpy(), "orientation": oris, "spatial_frequency": sfs,
              "phase": phs, "n_trials": (dims[1:], counts)}
    responses = xr.DataArray(grid, dims=dims, coords=coords, name="mean_response",
                             attrs={"units": "%dF/F"})
    sem = xr.DataArray(sem_all[:, :n_cond].reshape(grid.shape), dims=dims, coords=coords,
                       name="sem", attrs={"units": "%dF/F"})
    return _result(out, responses, sem, blank_mean, int(n_all[n_cond]), msr, pval, t, spec, raw,
                   offset, screen.bad)


def static_gratings_result(session: Any) -> StimulusResult:
    """:func:`static_gratings` with the labelled arrays (:class:`StimulusResult`)."""
    traces, table, speed, rate, ids, original = _session_inputs(session, "static_gratings")
    res = static_gratings_from_traces(traces, table, frame_rate=rate, running_speed=speed,
                                      cell_specimen_ids=ids, out_of_range="allensdk")
    return _with_original_frames(res, original)


def static_gratings(session: Any) -> pd.DataFrame:
    """Static-grating metrics of a session (published ``*_sg`` columns plus ``osi_sg_bounded``
    and ``frac_sig_trials_sg``).

    Examples
    --------
    >>> static_gratings(session)[["pref_ori_sg", "osi_sg", "p_sg"]]  # doctest: +SKIP
    """
    return static_gratings_result(session).table


_ = WindowOutOfRangeError  # re-exported for users of this module
