"""Images: the max projection with ROI outlines, stimulus templates."""

from __future__ import annotations

from collections.abc import Sequence

import contourpy
import numpy as np
from matplotlib import patheffects
from matplotlib.axes import Axes
from matplotlib.patches import PathPatch
from matplotlib.path import Path

from brainobs.plot._check import check_ax, positive
from brainobs.plot.style import SMALL_FONT

#: Lengths tried for the scale bar, longest first (µm); the first that fits half the width wins.
SCALE_BAR_UM = (100.0, 50.0, 20.0, 10.0, 5.0, 2.0, 1.0)
_HALO = [patheffects.withStroke(linewidth=2.0, foreground="black")]


def _check_2d(image: np.ndarray, name: str) -> np.ndarray:
    arr = np.asarray(image)
    if arr.ndim != 2:
        raise ValueError(f"{name} must be a 2-D image; got shape {arr.shape}")
    return arr


def max_projection(
    image: np.ndarray,
    ax: Axes,
    masks: np.ndarray | None = None,
    *,
    labels: Sequence[object] | None = None,
    outline_color: str = "#F0E442",
    linewidth: float = 1.2,
    percentile: tuple[float, float] = (1.0, 99.5),
    scale_um_per_px: float | None = 0.78,
    label_color: str = "white",
) -> Axes:
    """Show a max-intensity projection with ROI outlines, cell ids and a scale bar.

    Parameters
    ----------
    image : (H, W) array
        The max projection (``Session.max_projection``).
    ax : matplotlib Axes
        Where to draw.
    masks : (N, H, W) bool array, optional
        ROI masks (``Session.roi_masks()``). Each non-empty ROI gets one outline, a
        :class:`~matplotlib.patches.PathPatch` with gid ``"roi-outline"`` tracing its contour.
    labels : sequence of N labels, optional
        Written at each ROI (e.g. cell specimen ids), centred on its centroid's column just
        above its top edge (below it at the top of the image) so the outline stays visible
        (gid ``"roi-label"``); needs ``masks``.
    outline_color : str
        Colour of the ROI outlines (default Okabe–Ito yellow, visible on the grey image).
    linewidth : float
        Outline width in points.
    percentile : (low, high)
        Contrast limits as percentiles of the image, robust to a few hot pixels.
    scale_um_per_px : float or None
        Pixel size; draws a scale bar (100 µm, shorter when the image is narrower than
        200 µm) when given. 0.78 µm per pixel in the Allen rigs.
    label_color : str
        Colour of the cell ids (drawn with a dark halo).

    Returns
    -------
    Axes

    Examples
    --------
    >>> import numpy as np, matplotlib
    >>> matplotlib.use("Agg")
    >>> import matplotlib.pyplot as plt
    >>> fig, ax = plt.subplots()
    >>> masks = np.zeros((2, 64, 64), bool)
    >>> masks[0, 5:12, 5:12] = masks[1, 30:40, 40:48] = True
    >>> ax = max_projection(np.random.default_rng(0).random((64, 64)), ax, masks,
    ...                     labels=[101, 102])
    >>> len([p for p in ax.patches if p.get_gid() == "roi-outline"])
    2
    """
    check_ax(ax)
    img = _check_2d(image, "image").astype(float)
    m = _check_masks(masks, img.shape)
    if labels is not None:
        if m is None:
            raise ValueError("labels needs masks: the ids are drawn at the ROI centroids")
        if len(labels) != len(m):
            raise ValueError(f"labels has {len(labels)} entries for {len(m)} masks")
    lw = positive(linewidth, "linewidth")
    if scale_um_per_px is not None:
        positive(scale_um_per_px, "scale_um_per_px")
    finite = img[np.isfinite(img)]
    lo, hi = np.percentile(finite, percentile) if finite.size else (0.0, 1.0)
    ax.imshow(img, cmap="gray", vmin=lo, vmax=hi if hi > lo else lo + 1, interpolation="nearest")
    if m is not None:
        _outlines(ax, m, outline_color, lw)
        if labels is not None:
            _centroid_labels(ax, m, labels, label_color)
    if scale_um_per_px:
        _scale_bar(ax, img.shape, scale_um_per_px)
    ax.set_xticks([])
    ax.set_yticks([])
    return ax


def _check_masks(masks: np.ndarray | None, shape: tuple[int, ...]) -> np.ndarray | None:
    if masks is None:
        return None
    m = np.asarray(masks, dtype=bool)
    if m.ndim != 3 or m.shape[1:] != shape:
        raise ValueError(f"masks must have shape (N, {shape[0]}, {shape[1]}); got {m.shape}")
    return m


def roi_contours(mask: np.ndarray) -> list[np.ndarray]:
    """Closed outline polygons ``(k, 2)`` of one boolean mask, in (x, y) pixel coordinates.

    The contour runs half-way between mask pixels and their outside neighbours, so it
    encloses every mask pixel; a mask with several islands gives several polygons.

    Examples
    --------
    >>> m = np.zeros((6, 6), bool); m[2:4, 2:4] = True
    >>> (poly,) = roi_contours(m)
    >>> bool(np.allclose(poly[0], poly[-1])), float(poly[:, 0].min()), float(poly[:, 0].max())
    (True, 1.5, 3.5)
    """
    rows, cols = np.nonzero(mask)
    if rows.size == 0:
        return []
    r0, c0 = rows.min() - 1, cols.min() - 1
    crop = np.zeros((rows.max() - r0 + 2, cols.max() - c0 + 2))
    crop[rows - r0, cols - c0] = 1.0
    lines = contourpy.contour_generator(z=crop, line_type="Separate").lines(0.5)
    return [np.asarray(line) + [c0, r0] for line in lines]


def _outlines(ax: Axes, masks: np.ndarray, color: str, lw: float) -> None:
    for mask in masks:
        polys = roi_contours(mask)
        if not polys:
            continue
        verts = np.concatenate(polys)
        codes = np.concatenate(
            [[Path.MOVETO] + [Path.LINETO] * (len(p) - 2) + [Path.CLOSEPOLY] for p in polys]
        )
        ax.add_patch(PathPatch(Path(verts, codes), fill=False, edgecolor=color, linewidth=lw,
                               joinstyle="round", gid="roi-outline"))


def _centroid_labels(ax: Axes, masks: np.ndarray, labels: Sequence[object], color: str) -> None:
    """Each label centred on its ROI's centroid column, just above the ROI (below it when the
    ROI touches the top of the image), so that the label does not hide the outline."""
    top_band = 0.04 * masks.shape[1]
    for mask, label in zip(masks, labels, strict=True):
        rows, cols = np.nonzero(mask)
        if not rows.size:
            continue
        above = rows.min() >= top_band
        y = rows.min() - 1.0 if above else rows.max() + 1.0
        ax.text(cols.mean(), y, str(label), color=color, fontsize=SMALL_FONT, ha="center",
                va="bottom" if above else "top", path_effects=_HALO, gid="roi-label",
                clip_on=True)


def _scale_bar(ax: Axes, shape: tuple[int, ...], um_per_px: float) -> None:
    h, w = shape
    um = next((u for u in SCALE_BAR_UM if u / um_per_px <= w / 2), SCALE_BAR_UM[-1])
    px = um / um_per_px
    y = h * 0.95
    ax.plot([w * 0.95 - px, w * 0.95], [y, y], color="white", lw=3, solid_capstyle="butt",
            path_effects=[patheffects.withStroke(linewidth=4.5, foreground="black")],
            gid="scale-bar")
    ax.text(w * 0.95 - px / 2, y - h * 0.02, f"{um:g} µm", color="white", ha="center",
            va="bottom", fontsize=SMALL_FONT, path_effects=_HALO, gid="scale-bar-label")


def stimulus_image(image: np.ndarray, ax: Axes, *, title: str | None = None) -> Axes:
    """Show one stimulus template frame (a natural scene, a movie frame, a noise frame).

    Examples
    --------
    >>> import numpy as np, matplotlib
    >>> matplotlib.use("Agg")
    >>> import matplotlib.pyplot as plt
    >>> fig, ax = plt.subplots()
    >>> ax = stimulus_image(np.zeros((16, 28), np.uint8), ax, title="frame 0")
    """
    check_ax(ax)
    img = _check_2d(image, "image")
    ax.imshow(img, cmap="gray", vmin=0, vmax=255, interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])
    if title:
        ax.set_title(title)
    return ax
