"""Statistics of the locally-sparse-noise analysis: shuffle p-values, Holm–Sidak, chi-square.

All vectorized over cells. The shuffle test reuses one stream of random trial orderings for
every cell: shuffle ``s`` of a cell with ``n`` events takes the first
``n + round(0.1·n·z_s)`` trials of the random permutation ``π_s``. With the legacy
``numpy.random.RandomState(seed)`` stream (``z_s = randn()``, ``π_s = permutation(n_trials)``,
alternating) these are exactly the subsets AllenSDK 2.16 draws after ``np.random.seed(seed)``
for each cell, so the p-values agree exactly, not only within Monte-Carlo error. Subset sums
for every needed size come from one running sum along each permutation.
"""

from __future__ import annotations

import numpy as np
import scipy.stats

__all__ = [
    "chi_square_pvalues",
    "disc_masks",
    "holm_sidak",
    "shuffle_pvalues",
]

_QUANTUM_INV = float(2**36)
_MAX_Z = 8.0  # subset sizes are drawn as n + round(0.1·n·z); |z| > 8 never happens in practice


def shuffle_pvalues(
    stim: np.ndarray,
    events: np.ndarray,
    *,
    n_shuffles: int = 10000,
    seed: int = 1,
    error_sd: float = 0.1,
    stream: str = "allensdk",
    max_batch_bytes: int = 32 * 2**20,
) -> np.ndarray:
    """One-sided shuffle p-values of the event-triggered average of ``stim``.

    Parameters
    ----------
    stim : (n_features, n_trials) float, e.g. the blurred ON and OFF stimulus of each trial.
    events : (n_cells, n_trials) bool.
    n_shuffles, seed : number of random trial subsets and the seed of their stream.
    error_sd : relative s.d. of the subset size around the cell's event count.
    stream : ``"allensdk"`` — legacy ``RandomState(seed)`` draws, identical to AllenSDK's;
        ``"generator"`` — ``numpy.random.default_rng(seed)`` (same algorithm, other stream).

    Returns
    -------
    (n_cells, n_features) p = 1 − #(shuffle statistic < observed) / n_shuffles
    (1 everywhere for a cell without events).
    """
    # Quantize to multiples of 2⁻³⁶: every subset sum (< 2¹⁴ terms ≤ 1) is then exact, so the
    # result does not depend on summation order, and values that tie in exact arithmetic
    # (the blurred stimulus repeats across trials) tie here too and count as "not less".
    # AllenSDK breaks such ties by floating-point rounding noise (BLAS- and order-dependent),
    # so its p-values can differ from these by the share of tied shuffles (cells with few
    # events); elsewhere they are identical.
    # One (n_trials, n_feat) working copy, quantized in place: rows are gathered per shuffle.
    stim_t = np.array(np.asarray(stim, dtype=np.float64).T, order="C", copy=True)
    stim_t *= _QUANTUM_INV
    np.round(stim_t, out=stim_t)
    stim_t /= _QUANTUM_INV
    ev = np.asarray(events, dtype=bool)
    n_trials, n_feat = stim_t.shape
    n_cells = ev.shape[0]
    if ev.shape[1] != n_trials:
        raise ValueError(f"events has {ev.shape[1]} trials, stim has {n_trials}")
    if stream not in ("allensdk", "generator"):
        raise ValueError(f"stream must be 'allensdk' or 'generator', got {stream!r}")
    n_ev = ev.sum(axis=1)
    pvals = np.ones((n_cells, n_feat))
    active = np.flatnonzero(n_ev > 0)
    if active.size == 0 or n_shuffles <= 0:
        return pvals
    obs = (ev[active].astype(np.float64) @ stim_t) / n_ev[active, None]
    distinct, d_of_cell = np.unique(n_ev[active], return_inverse=True)
    n_max = int(distinct.max())
    k_cap = min(n_trials, n_max + int(np.ceil(error_sd * n_max * _MAX_Z)) + 1)
    row_bytes = 8 * (n_feat * (2 + distinct.size + active.size) + k_cap)
    batch = int(max(1, min(n_shuffles, max_batch_bytes // row_bytes)))

    if stream == "allensdk":
        rs = np.random.RandomState(seed)

        def draw() -> tuple[float, np.ndarray]:
            z = rs.randn()
            return z, rs.permutation(n_trials)
    else:
        gen = np.random.default_rng(seed)

        def draw() -> tuple[float, np.ndarray]:
            return gen.standard_normal(), gen.permutation(n_trials)

    counts = np.zeros((active.size, n_feat), dtype=np.int64)
    for b0 in range(0, n_shuffles, batch):
        nb = min(batch, n_shuffles - b0)
        z = np.empty(nb)
        perms = np.empty((nb, k_cap), dtype=np.intp)
        for i in range(nb):  # the stream itself is sequential
            z[i], p = draw()
            perms[i] = p[:k_cap]
        # subset size of every (shuffle, distinct event count), as published: n + round(0.1·n·z)
        sizes = distinct[None, :] + np.round(error_sd * distinct[None, :] * z[:, None]).astype(
            np.int64
        )
        if sizes.max() > k_cap:
            raise RuntimeError("shuffle subset larger than the prepared permutation prefix")
        # running sum along each permutation, recorded at every needed subset size
        sums = np.zeros((nb, distinct.size, n_feat))
        run = np.zeros((nb, n_feat))
        for k in range(int(sizes.max())):
            run += stim_t[perms[:, k]]
            hit_s, hit_d = np.nonzero(sizes == k + 1)
            if hit_s.size:
                sums[hit_s, hit_d] = run[hit_s]
        with np.errstate(invalid="ignore", divide="ignore"):
            null = sums / sizes[:, :, None]
        counts += (null[:, d_of_cell, :] < obs[None]).sum(axis=0)
    pvals[active] = 1 - counts * 1.0 / n_shuffles
    return pvals


def holm_sidak(pvals: np.ndarray) -> np.ndarray:
    """Holm–Sidak step-down adjusted p-values along the last axis.

    Sorted ascending, ``p_(i)`` (0-based) becomes ``1 − (1 − p_(i))^(m − i)``, made monotone
    by a running maximum and capped at 1 (statsmodels ``multipletests(method="hs")``).

    >>> holm_sidak(np.array([0.01, 0.04, 0.03]))
    array([0.029701, 0.0591  , 0.0591  ])
    """
    p = np.asarray(pvals, dtype=np.float64)
    m = p.shape[-1]
    order = np.argsort(p, axis=-1)
    ps = np.take_along_axis(p, order, axis=-1)
    with np.errstate(divide="ignore"):  # p = 1 → log1p(−1) = −inf → adjusted 1
        raw = -np.expm1(np.arange(m, 0, -1) * np.log1p(-ps))
    adj = np.minimum(np.maximum.accumulate(raw, axis=-1), 1.0)
    out = np.empty_like(adj)
    np.put_along_axis(out, order, adj, axis=-1)
    return out


def disc_masks(template: np.ndarray, radius: int = 3) -> np.ndarray:
    """(P, P) inclusion masks of the chi-square test, P = rows·cols (flattened pixels).

    Row ``p``: the pixels of a (2·radius+1)² box around the pixel most often co-active with
    ``p`` (normally ``p`` itself) that are never non-grey on the same frame as ``p``, plus that
    centre pixel. Computed over every frame of ``template`` (0 = OFF, 255 = ON, else grey).
    """
    t = np.asarray(template)
    _, nr, nc = t.shape
    active = ((t == 0) | (t == 255)).reshape(t.shape[0], nr * nc).astype(np.float64)
    co = active.T @ active  # co-activation counts
    n_on = active.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        raw = co / n_on[None, :]
    centre = np.argmax(raw, axis=1)  # np.argmax: first maximum, NaN wins
    n_pix = nr * nc
    raw[np.arange(n_pix), centre] = 0.0
    cy, cx = np.divmod(centre, nc)
    yy, xx = np.divmod(np.arange(n_pix), nc)
    in_box = (np.abs(yy[None, :] - cy[:, None]) <= radius) & (
        np.abs(xx[None, :] - cx[:, None]) <= radius
    )
    with np.errstate(invalid="ignore"):
        return in_box & ~(raw > 0)


def chi_square_pvalues(
    events: np.ndarray, template: np.ndarray, *, max_bytes: int = 32 * 2**20
) -> tuple[np.ndarray, np.ndarray]:
    """Chi-square receptive-field test: per-pixel and minimum Sidak-corrected p-values.

    Parameters
    ----------
    events : (n_cells, n_trials) bool; trial ``k`` is paired with template frame ``k``.
    template : (n_frames ≥ n_trials, rows, cols) uint8 stimulus template.

    Returns
    -------
    corrected : (n_cells, rows, cols) Sidak-corrected p-value of a receptive field in the mask
        around each pixel.
    min_p : (n_cells,) its minimum over pixels (``rf_chi2_lsn``).
    """
    # Counts are integers below 2**24, exact in float32: the (trials × pixels) indicator
    # matrices take half the memory of float64 ones.
    ev = np.asarray(events, dtype=np.float32)
    t = np.asarray(template)
    n_cells, n_trials = ev.shape
    _, nr, nc = t.shape
    n_pix = nr * nc
    masks = disc_masks(t)  # (P centres, P pixels)
    tt = t[:n_trials].reshape(-1, n_pix)
    pad = n_trials - tt.shape[0]
    on = np.concatenate([tt == 255, np.zeros((pad, n_pix), bool)]).astype(np.float32)
    off = np.concatenate([tt == 0, np.zeros((pad, n_pix), bool)]).astype(np.float32)
    trials = np.stack([on.sum(0, dtype=np.float64), off.sum(0, dtype=np.float64)], axis=-1)  # (P, 2)
    counts = np.stack([ev @ on, ev @ off], axis=1).astype(np.float64).reshape(n_cells, 2, nr, nc)
    del on, off
    smoothed = smooth_events(counts).reshape(n_cells, 2, n_pix).transpose(0, 2, 1)  # (C, P, 2)
    dof = 2 * masks.sum(axis=1) - 1
    chi = np.empty((n_cells, n_pix))
    chunk = max(1, int(max_bytes // (8 * n_cells * n_pix * 2 * 4)))
    with np.errstate(invalid="ignore", divide="ignore"):
        for c0 in range(0, n_pix, chunk):  # chunks of centre pixels
            m = masks[c0 : c0 + chunk].astype(np.float64)[:, None, :, None]  # (k, 1, P, 1)
            mt = m * trials[None, None]  # (k, 1, P, 2)
            me = m * smoothed[None]  # (k, C, P, 2)
            rate = me.sum(axis=(2, 3)) / mt.sum(axis=(2, 3))  # (k, C)
            expected = mt * rate[:, :, None, None]
            terms = (me - expected) ** 2 / expected
            chi[:, c0 : c0 + chunk] = np.nansum(terms, axis=(2, 3)).T
        p = 1.0 - scipy.stats.chi2.cdf(chi, dof[None, :])
        # published round trip through −log10 with p = 0 mapped to 10 (i.e. 1e−10)
        nll = np.where(p == 0.0, 10.0, -np.log10(p))
    p = 10.0 ** (-nll)
    factor = 1.0 * n_pix / masks.sum(axis=1).astype(np.float64)
    corrected = 1 - np.power(1 - p, factor[None, :])
    return corrected.reshape(n_cells, nr, nc), corrected.min(axis=1)


def smooth_events(counts: np.ndarray) -> np.ndarray:
    """Gaussian smoothing of (..., rows, cols) event-count maps (see ``_rf_ops.smooth_sta``)."""
    from brainobs.metrics._rf_ops import smooth_sta

    return smooth_sta(counts)
