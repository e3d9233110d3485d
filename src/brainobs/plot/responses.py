"""Summaries of response metrics across cells."""

from __future__ import annotations

import numpy as np
from matplotlib.axes import Axes


def preferred_image_histogram(
    pref_images: np.ndarray, ax: Axes, *, n_images: int = 118, color: str = "#1f4e79"
) -> Axes:
    """Histogram of preferred natural-scene indices (``pref_image_ns``) over cells.

    Parameters
    ----------
    pref_images : array of int
        0-based image indices, one per cell (NaN entries are ignored).
    ax : Axes
    n_images : int
        Number of images (118 in the Brain Observatory set); one bin per image.

    Returns
    -------
    Axes

    Examples
    --------
    >>> import numpy as np, matplotlib
    >>> matplotlib.use("Agg")
    >>> import matplotlib.pyplot as plt
    >>> fig, ax = plt.subplots()
    >>> ax = preferred_image_histogram(np.array([3, 3, 7]), ax)
    >>> int(max(p.get_height() for p in ax.patches))
    2
    """
    v = np.asarray(pref_images, dtype=float)
    v = v[np.isfinite(v)]
    bad = (v < 0) | (v >= n_images) | (v != np.round(v))
    if bad.any():
        raise ValueError(
            f"pref_images must be integer image indices in [0, {n_images}); got {v[bad][:5].tolist()}"
        )
    ax.hist(v, bins=(np.arange(n_images + 1) - 0.5).tolist(), color=color)
    ax.set_xlim(-0.5, n_images - 0.5)
    ax.set_xlabel("preferred image")
    ax.set_ylabel("number of cells")
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    return ax
