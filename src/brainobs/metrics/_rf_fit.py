"""Subfields and 2-D Gaussian fits of the locally-sparse-noise receptive fields.

A subfield is an 8-connected component of a cell's significant ON (or OFF) pixels. Its
event-triggered (blurred) stimulus map is up-sampled to ≈1° per sample, zeroed outside the
component and fitted with a rotated 2-D Gaussian whose centre is fixed at the map's weighted
centroid (Nelder–Mead on height, the two σ and the rotation, started from moment estimates),
as published (AllenSDK 2.16 ``receptive_field_analysis.fitgaussian2D``/``postprocessing``).
Units of the results: up-sampled samples (≈ degrees) from the centre of the top-left pixel.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import scipy.ndimage
import scipy.optimize

from brainobs.metrics._rf_ops import upsample_to_degrees

__all__ = ["GaussianFit", "fit_gaussian", "fit_subfields", "subfields"]

_AREA_SCALE = np.pi * 1.5**2  # area of the 1.5-σ ellipse per σ_row·σ_col
_OVERLAP_THRESHOLD = 0.001


@dataclass
class GaussianFit:
    """One fitted subfield (NaN parameters when the optimizer failed)."""

    height: float
    center_y: float  # row, up-sampled samples (≈ degrees)
    center_x: float  # column
    width_y: float  # σ along rows (before rotation)
    width_x: float  # σ along columns
    rotation: float  # degrees
    area: float  # π·1.5²·|σ_row|·|σ_col|, deg²
    image: np.ndarray = field(repr=False)  # fitted Gaussian on the up-sampled grid
    component: np.ndarray = field(repr=False)  # (rows, cols) bool pixel mask of the subfield


def subfields(mask: np.ndarray) -> list[np.ndarray]:
    """8-connected components of a (rows, cols) bool mask, in the published order.

    The published merge procedure leaves components ordered by their last pixel in
    row-major order.
    """
    labels, n = scipy.ndimage.label(mask, structure=np.ones((3, 3), dtype=int))
    if n == 0:
        return []
    flat = labels.ravel()
    last = np.zeros(n + 1, dtype=np.int64)
    np.maximum.at(last, flat, np.arange(flat.size))
    order = np.argsort(last[1:], kind="stable") + 1
    return [labels == k for k in order]


def _rotgauss(p: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """Rotated Gaussian: p = (height, centre_row, centre_col, σ_row, σ_col, rotation°)."""
    height, cx, cy, wx, wy, rot = p
    wx, wy = float(wx), float(wy)
    rot = np.deg2rad(rot)
    cxp = cx * np.cos(rot) - cy * np.sin(rot)
    cyp = cx * np.sin(rot) + cy * np.cos(rot)
    xp = rows * np.cos(rot) - cols * np.sin(rot)
    yp = rows * np.sin(rot) + cols * np.cos(rot)
    return height * np.exp(-(((cxp - xp) / wx) ** 2) / 2.0 - ((cyp - yp) / wy) ** 2 / 2.0)


def fit_gaussian(data: np.ndarray) -> np.ndarray | None:
    """Fit a rotated 2-D Gaussian with its centre fixed at the weighted centroid.

    Returns (height, centre_row, centre_col, σ_row, σ_col, rotation°) or None when Nelder–Mead
    stops without converging (other than by loss of precision).
    """
    total = data.sum()
    rows, cols = (np.asarray(a) for a in np.indices(data.shape))
    cx = (cols * data).sum() / total  # column centroid
    cy = (rows * data).sum() / total  # row centroid
    with np.errstate(invalid="ignore", divide="ignore"):
        col = data[:, int(np.around(cx))]
        w_rows = np.sqrt(abs(((np.arange(col.size) - cy) ** 2 * col).sum() / col.sum()))
        row = data[int(np.around(cy)), :]
        w_cols = np.sqrt(abs(((np.arange(row.size) - cx) ** 2 * row).sum() / row.sum()))
    height = data.max()

    def sse(p: np.ndarray) -> float:
        full = np.array([p[0], cy, cx, np.abs(p[1]), np.abs(p[2]), p[3]])
        val = np.ravel(_rotgauss(full, rows, cols) - data)
        return float((val**2).sum())

    # the published start pairs the column spread with the row σ and vice versa
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        res = scipy.optimize.minimize(
            sse, [height, w_cols, w_rows, 0.0], method="Nelder-Mead", options={"maxfev": 2500}
        )
    if not res.success and res.status != 2:
        return None
    p = res.x
    return np.array([p[0], cy, cx, np.abs(p[1]), np.abs(p[2]), p[3]])


def fit_subfields(rts_convolution: np.ndarray, significant: np.ndarray) -> list[GaussianFit]:
    """Fit every subfield of one polarity of one cell.

    Parameters
    ----------
    rts_convolution : (rows, cols) event-triggered sum of the blurred stimulus.
    significant : (rows, cols) bool significance mask.

    Components whose masked up-sampled map sums to ≤ 0 are skipped, as published.
    """
    up = upsample_to_degrees(rts_convolution)
    fits: list[GaussianFit] = []
    for comp in subfields(significant):
        outside = upsample_to_degrees(~comp) > 0.5
        data = up.copy()
        data[outside] = 0
        if not data.sum() > 0:
            continue
        p = fit_gaussian(data)
        if p is None:
            nan = float("nan")
            fits.append(GaussianFit(nan, nan, nan, nan, nan, nan, nan, np.zeros_like(data), comp))
            continue
        ri, ci = np.indices(data.shape)
        image = _rotgauss(p, np.asarray(ri), np.asarray(ci))
        area = float(_AREA_SCALE * np.abs(p[3]) * np.abs(p[4]))
        h, cr, cc, wr, wc, rot = (float(v) for v in p)
        fits.append(GaussianFit(h, cr, cc, wr, wc, rot, area, image, comp))
    return fits


def largest(fits: list[GaussianFit]) -> GaussianFit | None:
    """The subfield with the largest area (first on ties; None if none has an area)."""
    areas = np.array([f.area for f in fits], dtype=np.float64)
    if areas.size == 0 or np.all(np.isnan(areas)):
        return None
    return fits[int(np.nanargmax(areas))]


def overlap_index(on: GaussianFit, off: GaussianFit) -> float:
    """|on ∩ off| / √(|on|·|off|) of the fitted Gaussians thresholded at 0.001."""
    a = on.image > _OVERLAP_THRESHOLD
    b = off.image > _OVERLAP_THRESHOLD
    denom = np.sqrt(a.sum()) * np.sqrt(b.sum())
    return float((a & b).sum() / denom) if denom > 0 else float("nan")


def distance(on: GaussianFit, off: GaussianFit) -> float:
    """Euclidean distance between the two centres (≈ degrees)."""
    return float(np.sqrt((off.center_x - on.center_x) ** 2 + (off.center_y - on.center_y) ** 2))
