"""Per-trial event detection on dF/F for the locally-sparse-noise analysis.

Vectorized re-implementation (over cells and trials at once) of the published rule
(AllenSDK 2.16 ``receptive_field_analysis.eventdetection``):

1. The dF/F trace is smoothed with a 5-point Hanning window (effective kernel ¼, ½, ¼) on a
   reflected copy of the trace; the smoothed sample ``y[i]`` is centred on frame ``i − 2``,
   and the smoothed trace is 4 samples longer than the input.
2. For trial ``k`` with start frame ``s`` a 10-sample segment ``y[s+1+o : s+11+o]`` is taken,
   where ``o = 1`` when the trial starts exactly where the previous one ended.
3. Two features per trial: the early rise ``x = seg[3] − seg[0]`` and the largest 3-sample
   rise ``r = max(seg[5]−seg[2], seg[6]−seg[3], seg[7]−seg[4])`` (each difference taken
   relative to ``seg[0]``, as published).
4. Robust centre (median) and scale (68.27th percentile of |deviation|) per feature; trials
   within 4 robust σ form the noise blob whose covariance whitens the features.
5. A trial holds an event when the whitened distance exceeds 4, ``r > 0.05``, ``x < r`` and the
   segment's last sample exceeds half of ``max(4σ_x + μ_x, 4σ_r + μ_r)``.
"""

from __future__ import annotations

import numpy as np
import scipy.stats

__all__ = ["detect_events", "event_features", "smooth_hanning5"]

_K_MAX = 10  # samples per trial segment
_DELTA = 3  # lag of the rise features
_SIGMA = 4.0  # noise-blob radius and event threshold (whitened units)
_MIN_RISE = 0.05  # minimal rise in dF/F


def smooth_hanning5(traces: np.ndarray) -> np.ndarray:
    """Hanning-5 smoothing of each row, reflected ends, output 4 samples longer.

    ``out[:, i] = ¼·x[i−3] + ½·x[i−2] + ¼·x[i−1]`` on the padded trace
    ``[x4, x3, x2, x1, x0 … x(n−1), x(n−1), x(n−2), x(n−3), x(n−4)]``.

    >>> smooth_hanning5(np.array([[0., 0, 0, 4, 0, 0, 0, 0]]))[0, 4:7]
    array([1., 2., 1.])
    """
    x = np.asarray(traces, dtype=np.float64)
    if x.ndim != 2 or x.shape[1] < 5:
        raise ValueError(f"traces must be (n_cells, n_frames ≥ 5), got shape {x.shape}")
    pad = np.concatenate([x[:, 4:0:-1], x, x[:, -1:-5:-1]], axis=1)
    # np.convolve with [0, .25, .5, .25, 0]: the zero taps still propagate NaN (0·NaN), so keep
    # them to reproduce the published NaN footprint.
    n_out = x.shape[1] + 4
    w = (0.0, 0.25, 0.5, 0.25, 0.0)
    out = np.zeros((x.shape[0], n_out))
    with np.errstate(invalid="ignore"):
        for j, wj in enumerate(w):
            out += wj * pad[:, 4 - j : 4 - j + n_out]
    return out


def event_features(
    traces: np.ndarray, starts: np.ndarray, ends: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rise features of every (cell, trial): ``(x, r, last)`` each (n_cells, n_trials).

    ``x`` is the early rise, ``r`` the largest 3-sample rise and ``last`` the last sample of
    the 10-sample smoothed segment (see the module docstring).
    """
    x_in = np.asarray(traces)
    if not np.issubdtype(x_in.dtype, np.floating):
        x_in = x_in.astype(np.float64)
    starts = np.asarray(starts, dtype=np.int64)
    ends = np.asarray(ends, dtype=np.int64)
    if x_in.ndim != 2 or x_in.shape[1] < 5:
        raise ValueError(f"traces must be (n_cells, n_frames ≥ 5), got shape {x_in.shape}")
    n_s = x_in.shape[1] + 4  # length of the smoothed trace
    if starts.ndim != 1 or starts.shape != ends.shape or starts.size == 0:
        raise ValueError("starts and ends must be equal-length non-empty 1-D arrays")
    if starts.min() < 0 or (starts + _K_MAX).max() > n_s:
        raise ValueError(
            f"trial start frames must lie in [0, {n_s - _K_MAX}] for a trace of "
            f"{x_in.shape[1]} frames; got {starts.min()}..{starts.max()}"
        )
    offset = np.zeros(starts.size, dtype=np.int64)
    offset[1:] = starts[1:] == ends[:-1]
    first = starts + 1 + offset
    # only the smoothed samples the features use are computed (no full-trace copy)
    seg = {k: _smoothed_at(x_in, np.minimum(first + k, n_s - 1)) for k in (0, 2, 3, 4, 5, 6, 7)}
    last = _smoothed_at(x_in, np.minimum(first + _K_MAX - 1, n_s - 1))
    with np.errstate(invalid="ignore"):
        rel = {k: v - seg[0] for k, v in seg.items()}
        x = rel[_DELTA] - (seg[0] - seg[0])
        r = np.maximum(
            np.maximum(rel[_DELTA + 2] - rel[2], rel[_DELTA + 3] - rel[3]),
            rel[_DELTA + 4] - rel[4],
        )
    return x, r, last


def _smoothed_at(x: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """Samples ``idx`` of :func:`smooth_hanning5` of ``x`` without smoothing the whole trace."""
    n = x.shape[1]

    def padded(m: np.ndarray) -> np.ndarray:  # index into the reflected, padded trace
        src = np.where(m < 4, 4 - m, np.where(m < n + 4, m - 4, 2 * n + 3 - m))
        return x[:, src].astype(np.float64)  # gathered samples only: float64 as published

    with np.errstate(invalid="ignore"):
        # same terms and order as the full convolution (zero taps keep NaN propagation)
        out = 0.0 * padded(idx + 4)
        out = out + 0.25 * padded(idx + 3)
        out = out + 0.5 * padded(idx + 2)
        out = out + 0.25 * padded(idx + 1)
        out = out + 0.0 * padded(idx)
    return np.asarray(out)


def detect_events(traces: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """Boolean (n_cells, n_trials) event matrix for trials starting at ``starts``.

    Parameters
    ----------
    traces : (n_cells, n_frames) dF/F (stored dF/F, not %).
    starts, ends : (n_trials,) int start / end frames of the stimulus-table rows.

    A cell whose noise blob is degenerate (constant or NaN trace, < 3 blob trials) gets no
    events (AllenSDK would fail or return none for it).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> dff = rng.normal(0, 0.01, (1, 4000))
    >>> transient = np.r_[np.linspace(0, 1, 6), np.exp(-np.arange(25) / 8)]  # rise, decay
    >>> dff[0, 1005:1036] += transient
    >>> starts = np.arange(10, 3900, 8); ev = detect_events(dff, starts, starts + 8)
    >>> starts[ev[0]]
    array([1002])
    """
    traces = np.asarray(traces)
    if traces.ndim != 2:
        raise ValueError(f"traces must be (n_cells, n_frames ≥ 5), got shape {traces.shape}")
    # Every cell is independent: a block of cells at a time keeps the (cells × trials)
    # feature arrays small whatever the session size.
    block = 16
    parts = [_detect_block(traces[i : i + block], starts, ends)
             for i in range(0, traces.shape[0], block)]
    if not parts:
        return np.zeros((0, np.asarray(starts).size), dtype=bool)
    return np.concatenate(parts, axis=0)


def _detect_block(traces: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    x, r, last = event_features(traces, starts, ends)
    with np.errstate(invalid="ignore", divide="ignore"):
        mu_x = np.median(x, axis=1, keepdims=True)
        mu_r = np.median(r, axis=1, keepdims=True)
        xc, rc = x - mu_x, r - mu_r
        q = 100 * (1 - 2 * (1 - scipy.stats.norm.cdf(1)))
        sd_x = np.percentile(np.abs(xc), q, axis=1, keepdims=True)
        sd_r = np.percentile(np.abs(rc), q, axis=1, keepdims=True)
        blob = np.sqrt((xc / sd_x) ** 2 + (rc / sd_r) ** 2) < _SIGMA
        nb = blob.sum(axis=1, keepdims=True)
        # sample covariance (ddof=1) of the blob trials
        mx = np.where(blob, xc, 0).sum(1, keepdims=True) / nb
        mr = np.where(blob, rc, 0).sum(1, keepdims=True) / nb
        dx, dr = np.where(blob, xc - mx, 0), np.where(blob, rc - mr, 0)
        sxx = (dx * dx).sum(1, keepdims=True) / (nb - 1)
        srr = (dr * dr).sum(1, keepdims=True) / (nb - 1)
        sxr = (dx * dr).sum(1, keepdims=True) / (nb - 1)
        # Cholesky factor L = [[a, 0], [b, c]] and the whitened features L⁻¹·(x − μ)
        a = np.sqrt(sxx)
        b = sxr / a
        c = np.sqrt(srr - b * b)
        zx = xc / a
        zr = (rc - b * zx) / c
        thr = np.maximum(_SIGMA * sd_x + mu_x, _SIGMA * sd_r + mu_r)
        ev = (
            (np.sqrt(zx**2 + zr**2) > _SIGMA)
            & (r > _MIN_RISE)
            & (x < r)
            & (last > thr / 2)
        )
    ok = (nb >= 3) & np.isfinite(a) & np.isfinite(c) & (a > 0) & (c > 0)
    return ev & ok
