"""Linear image operators of the locally-sparse-noise analysis, as separable matrices.

The published analysis (AllenSDK 2.16 ``receptive_field_analysis``) blurs every stimulus
frame and every event-count map one image at a time through bilinear up-sampling (FITPACK
linear splines, clamped outside the grid), a Gaussian filter and down-sampling. Each of these
steps is linear and separable, so here each is one small matrix per axis and a whole stack of
images is processed with two matrix products.
"""

from __future__ import annotations

import numpy as np
import scipy.ndimage

__all__ = [
    "blur_stimulus",
    "linear_interp_matrix",
    "smooth_sta",
    "upsample_to_degrees",
]

# Visual degrees spanned by the 16 (4°) or 8 (8°) template rows: one up-sampled sample ≈ 1°.
DEGREES_PER_ROWS = 74.4


def linear_interp_matrix(grid: np.ndarray, points: np.ndarray) -> np.ndarray:
    """(len(points), len(grid)) weights of linear interpolation, clamped at the ends.

    Same weights as a FITPACK degree-1 spline evaluated at ``points`` (points outside the
    grid take the edge value).
    """
    grid = np.asarray(grid, dtype=np.float64)
    p = np.clip(np.asarray(points, dtype=np.float64), grid[0], grid[-1])
    idx, h0, h1 = _interval_weights(grid, p)
    m = np.zeros((p.size, grid.size))
    rows = np.arange(p.size)
    m[rows, idx] += h0
    m[rows, idx + 1] += h1
    return m


def _interval_weights(grid: np.ndarray, p: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    idx = np.clip(np.searchsorted(grid, p, side="right") - 1, 0, grid.size - 2)
    f = 1.0 / (grid[idx + 1] - grid[idx])
    return idx, f * (grid[idx + 1] - p), f * (p - grid[idx])


def _gauss_matrix(n: int, sigma: float, mode: str) -> np.ndarray:
    """(n, n) matrix G with ``G @ v == gaussian_filter1d(v, sigma, mode=mode)``."""
    return scipy.ndimage.gaussian_filter1d(np.eye(n), sigma, axis=0, mode=mode)


def _blur_axis(n: int) -> tuple[np.ndarray, np.ndarray]:
    """Per-axis operator of the stimulus blur: (crop (n, n), full-sum weights (n,))."""
    if n == 16:
        up, offset = 4, -(1 - 0.625)
    elif n == 8:
        up, offset = 8, -(1 - 0.5625)
    else:
        raise NotImplementedError(f"stimulus blur defined for 16 or 8 template rows, got {n}")
    return _blur_axis_up(n, up, offset)


def _blur_axis_up(n: int, up: int, offset: float) -> tuple[np.ndarray, np.ndarray]:
    # the image sits in the middle third of a zero-padded 3n axis, is up-sampled `up`×,
    # Gaussian-filtered (σ = 4 samples, zero outside), block-summed back and cropped.
    grid = np.arange(3 * n, dtype=np.float64)
    pts = offset + np.arange(0, 3 * n, 1.0 / up)
    interp = linear_interp_matrix(grid, pts)[:, n : 2 * n]  # only the middle third is non-zero
    g = _gauss_matrix(pts.size, 4.0, "constant")
    full = (g @ interp).reshape(3 * n, up, n).sum(axis=1)  # block sum → (3n, n)
    return full[n : 2 * n], full.sum(axis=0)


def blur_stimulus(frames: np.ndarray) -> np.ndarray:
    """Blur binary (n_frames, rows, cols) stimulus maps, keeping each frame's total.

    Each frame is up-sampled (4× for 16 rows, 8× for 8 rows), filtered with a Gaussian of σ = 4
    up-sampled samples, summed back to the pixel grid and rescaled to the frame's original
    sum; all-zero frames stay zero.
    """
    f = np.asarray(frames, dtype=np.float64)
    _, nr, nc = f.shape
    cr, wr = _blur_axis(nr)
    cc, wc = _blur_axis_up(nc, *_up_offset(nr))
    crop = np.einsum("ir,frc,jc->fij", cr, f, cc, optimize=True)
    total = np.einsum("r,frc,c->f", wr, f, wc, optimize=True)
    s = f.sum(axis=(1, 2))
    scale = np.divide(s, total, out=np.zeros_like(s), where=s != 0)
    return crop * scale[:, None, None]


def _up_offset(nrows: int) -> tuple[int, float]:
    # the up-sampling factor and offset are chosen by the row count and used on both axes
    return (4, -(1 - 0.625)) if nrows == 16 else (8, -(1 - 0.5625))


def _sta_axis(n: int, deg_per_pnt: int) -> np.ndarray:
    grid = np.arange(-(n - 1) * deg_per_pnt / 2, (n + 1) * deg_per_pnt / 2, deg_per_pnt)
    fine = np.arange(-(n - 1) * deg_per_pnt / 2, deg_per_pnt / 2 + (n / 2 - 1) * deg_per_pnt + 1, 1)
    interp = linear_interp_matrix(grid, fine)
    g = _gauss_matrix(fine.size, 0.75, "reflect")
    return (g @ interp)[np.arange(0, fine.size, deg_per_pnt)]


def smooth_sta(maps: np.ndarray, total_degrees: int = 64) -> np.ndarray:
    """Smooth (..., rows, cols) event-count maps as the chi-square test does.

    Up-sampling to 1 sample per ``total_degrees // rows`` (linear), Gaussian filter σ = 0.75
    samples (reflecting edges), then sampling back at the original pixels.
    """
    m = np.asarray(maps, dtype=np.float64)
    nr, nc = m.shape[-2:]
    d = total_degrees // nr
    return np.einsum("ir,...rc,jc->...ij", _sta_axis(nr, d), m, _sta_axis(nc, d), optimize=True)


def upsample_to_degrees(img: np.ndarray) -> np.ndarray:
    """Bilinearly up-sample a (rows, cols) map to ≈1° per sample (74.4° / rows).

    Evaluates exactly like FITPACK's degree-1 tensor spline (same weights, same summation
    order), so downstream fits reproduce the published values bit for bit.
    """
    img = np.asarray(img, dtype=np.float64)
    nr, nc = img.shape
    step = 1.0 / (DEGREES_PER_ROWS / nr)
    pr = np.arange(0, nr, step)
    pc = np.arange(0, nc, step)
    gr = np.arange(nr, dtype=np.float64)
    gc = np.arange(nc, dtype=np.float64)
    ir, hr0, hr1 = _interval_weights(gr, np.clip(pr, gr[0], gr[-1]))
    ic, hc0, hc1 = _interval_weights(gc, np.clip(pc, gc[0], gc[-1]))
    r0, r1 = ir[:, None], ir[:, None] + 1
    c0, c1 = ic[None, :], ic[None, :] + 1
    hr0, hr1 = hr0[:, None], hr1[:, None]
    hc0, hc1 = hc0[None, :], hc1[None, :]
    # FITPACK fpbisp order: Σ over column weight (outer) then row weight (inner), (c·hx)·hy
    out = 0.0 + img[r0, c0] * hc0 * hr0
    out = out + img[r1, c0] * hc0 * hr1
    out = out + img[r0, c1] * hc1 * hr0
    out = out + img[r1, c1] * hc1 * hr1
    return np.asarray(out)
