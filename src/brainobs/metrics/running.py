"""Running modulation of the preferred-condition response (``run_mod_*``, ``p_run_mod_*``).

Published rule (AllenSDK ``get_peak`` of drifting gratings, static gratings, natural scenes):
the trials of a cell's preferred condition are split by their running speed (the ``np.mean`` of
the speed over the response frames, see :func:`brainobs.metrics.sweep.trial_running_speed`)
into *running* (≥ 1 cm/s) and *stationary* (< 1 cm/s); a trial with a NaN speed joins neither.
With more than ``min_trials`` trials on each side (2 for DG, 4 for SG/NS), ``p_run_mod`` is a
Welch t-test (``scipy.stats.ttest_ind(run, stat, equal_var=False)``: a NaN response makes it
NaN) and ``run_mod = (run - stat) / |run|`` if the NaN-skipping mean ``run > stat``,
``-(stat - run) / |stat|`` if ``run < stat``, NaN if they are equal; otherwise both are NaN.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import special

__all__ = ["RUN_THRESHOLD", "running_modulation", "welch_ttest"]

RUN_THRESHOLD = 1.0  # cm/s


def welch_ttest(
    sum1: np.ndarray, sumsq_dev1: np.ndarray, n1: np.ndarray,
    sum2: np.ndarray, sumsq_dev2: np.ndarray, n2: np.ndarray,
) -> np.ndarray:
    """Two-sided Welch t-test p-value from per-group sums (vectorized).

    ``sumsq_dev`` is Σ(x − mean)². Edge rules follow ``scipy.stats.ttest_ind(equal_var=False)``:
    a NaN degree of freedom becomes 1, zero variance on both sides gives p = 0 when the means
    differ and NaN when they are equal.
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        m1, m2 = sum1 / n1, sum2 / n2
        vn1 = sumsq_dev1 / (n1 - 1) / n1
        vn2 = sumsq_dev2 / (n2 - 1) / n2
        df = (vn1 + vn2) ** 2 / (vn1**2 / (n1 - 1) + vn2**2 / (n2 - 1))
        df = np.where(np.isnan(df), 1.0, df)
        t = (m1 - m2) / np.sqrt(vn1 + vn2)
        p = 2.0 * special.stdtr(df, -np.abs(t))
    return np.asarray(p)


def running_modulation(
    responses: Any, speed: Any, pref_mask: Any, *, min_trials: int
) -> tuple[np.ndarray, np.ndarray]:
    """``run_mod`` and ``p_run_mod`` for every cell at once.

    Parameters
    ----------
    responses : array (n_cells, n_trials)
        Mean sweep responses.
    speed : array (n_trials,)
        Per-trial running speed (cm/s), NaN allowed.
    pref_mask : bool array (n_cells, n_trials)
        Trials of each cell's preferred condition.
    min_trials : int
        Each side needs strictly more trials than this (2 for DG, 4 for SG/NS).

    Returns
    -------
    run_mod, p_run_mod : ndarray (n_cells,)

    Examples
    --------
    >>> r = np.array([[1.0, 2, 3, 1, 5, 6, 7, 5]])
    >>> s = np.array([0.0, 0, 0, 0, 5, 5, 5, 5])
    >>> mod, p = running_modulation(r, s, np.ones_like(r, bool), min_trials=2)
    >>> round(float(mod[0]), 3)
    0.696
    """
    x = np.asarray(responses, dtype=np.float64)
    sp = np.asarray(speed, dtype=np.float64).reshape(-1)
    pm = np.asarray(pref_mask, dtype=bool)
    if x.ndim != 2 or pm.shape != x.shape or sp.shape != (x.shape[1],):
        raise ValueError(
            f"shapes do not match: responses {x.shape}, speed {sp.shape}, pref_mask {pm.shape}"
        )
    run = pm & (sp >= RUN_THRESHOLD)[None, :]
    stat = pm & (sp < RUN_THRESHOLD)[None, :]
    n_run, n_stat = run.sum(axis=1), stat.sum(axis=1)
    ok = (n_run > min_trials) & (n_stat > min_trials)
    xz = np.where(np.isnan(x), 0.0, x)
    nan = np.isnan(x)

    def side(mask: np.ndarray, n: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        with np.errstate(divide="ignore", invalid="ignore"):
            has_nan = (nan & mask).any(axis=1)
            total = (xz * mask).sum(axis=1)
            mean = total / n  # NaN-free part; NaN rows are overwritten below
            ssd = (((xz - mean[:, None]) ** 2) * mask).sum(axis=1)
            n_valid = (mask & ~nan).sum(axis=1)
            nanmean = total / n_valid  # pandas' skipna mean used for the sign rule
        total = np.where(has_nan, np.nan, total)
        ssd = np.where(has_nan, np.nan, ssd)
        return total, ssd, nanmean

    s_run, ss_run, mean_run = side(run, n_run)
    s_stat, ss_stat, mean_stat = side(stat, n_stat)
    p = welch_ttest(s_run, ss_run, n_run.astype(float), s_stat, ss_stat, n_stat.astype(float))
    with np.errstate(divide="ignore", invalid="ignore"):
        up = (mean_run - mean_stat) / np.abs(mean_run)
        down = -(mean_stat - mean_run) / np.abs(mean_stat)
    mod = np.where(mean_run > mean_stat, up, np.where(mean_run < mean_stat, down, np.nan))
    return np.where(ok, mod, np.nan), np.where(ok, p, np.nan)
