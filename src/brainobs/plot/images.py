"""Images: the max projection with ROI outlines, stimulus templates."""

from __future__ import annotations

import numpy as np
from matplotlib.axes import Axes


def _check_2d(image: np.ndarray, name: str) -> np.ndarray:
    arr = np.asarray(image)
    if arr.ndim != 2:
        raise ValueError(f"{name} must be a 2-D image; got shape {arr.shape}")
    return arr


def max_projection(
    image: np.ndarray,
    ax: Axes,
    *,
    masks: np.ndarray | None = None,
    outline_color: str = "#ffb000",
    percentile: tuple[float, float] = (1.0, 99.5),
    scale_um_per_px: float | None = 0.78,
) -> Axes:
    """Show a max-intensity projection, optionally with ROI outlines on top.

    Parameters
    ----------
    image : (H, W) array
        The max projection (``Session.max_projection``).
    ax : matplotlib Axes
        Where to draw.
    masks : (N, H, W) bool array, optional
        ROI masks; their outlines are drawn (``Session.roi_masks()``).
    outline_color : str
        Colour of the ROI outlines.
    percentile : (low, high)
        Contrast limits as percentiles of the image, robust to a few hot pixels.
    scale_um_per_px : float or None
        Draws a 100 µm scale bar when given (0.78 µm per pixel in the Allen rigs).

    Returns
    -------
    Axes

    Examples
    --------
    >>> import numpy as np, matplotlib
    >>> matplotlib.use("Agg")
    >>> import matplotlib.pyplot as plt
    >>> fig, ax = plt.subplots()
    >>> ax = max_projection(np.random.default_rng(0).random((64, 64)), ax)
    """
    img = _check_2d(image, "image").astype(float)
    lo, hi = np.nanpercentile(img, percentile)
    ax.imshow(img, cmap="gray", vmin=lo, vmax=hi if hi > lo else lo + 1, interpolation="nearest")
    if masks is not None:
        m = np.asarray(masks, dtype=bool)
        if m.ndim != 3 or m.shape[1:] != img.shape:
            raise ValueError(f"masks must have shape (N, {img.shape[0]}, {img.shape[1]}); got {m.shape}")
        if len(m):
            # Outline = mask pixels with at least one 4-neighbour outside the mask.
            inner = m.copy()
            inner[:, 1:, :] &= m[:, :-1, :]
            inner[:, :-1, :] &= m[:, 1:, :]
            inner[:, :, 1:] &= m[:, :, :-1]
            inner[:, :, :-1] &= m[:, :, 1:]
            edge = (m & ~inner).any(axis=0)
            overlay = np.zeros((*img.shape, 4))
            overlay[edge] = _rgba(outline_color)
            ax.imshow(overlay, interpolation="nearest")
    if scale_um_per_px:
        px = 100.0 / scale_um_per_px
        h, w = img.shape
        y = h * 0.95
        ax.plot([w * 0.95 - px, w * 0.95], [y, y], color="white", lw=3)
        ax.text(w * 0.95 - px / 2, y - h * 0.02, "100 µm", color="white", ha="center", va="bottom", fontsize=8)
    ax.set_xticks([])
    ax.set_yticks([])
    return ax


def _rgba(color: str) -> tuple[float, float, float, float]:
    from matplotlib.colors import to_rgba

    return to_rgba(color)


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
    img = _check_2d(image, "image")
    ax.imshow(img, cmap="gray", vmin=0, vmax=255, interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])
    if title:
        ax.set_title(title)
    return ax
