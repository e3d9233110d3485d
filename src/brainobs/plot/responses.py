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


def direction_tuning(
    responses: np.ndarray,
    directions: np.ndarray,
    ax: Axes,
    *,
    temporal_frequencies: np.ndarray | None = None,
    cmap: str = "viridis",
) -> Axes:
    """Mean response against grating direction, one line per temporal frequency.

    Parameters
    ----------
    responses : (n_directions, n_tf) array
        Condition means of one cell, e.g.
        ``drifting_gratings_result(s).responses.sel(cell=csid).values``.
    directions : (n_directions,) degrees.
    ax : Axes
    temporal_frequencies : (n_tf,) Hz, optional; labels the lines.

    Returns
    -------
    Axes

    Examples
    --------
    >>> import numpy as np, matplotlib
    >>> matplotlib.use("Agg")
    >>> import matplotlib.pyplot as plt
    >>> fig, ax = plt.subplots()
    >>> ax = direction_tuning(np.ones((8, 5)), np.arange(0, 360, 45), ax)
    >>> len(ax.lines)
    5
    """
    r = np.asarray(responses, dtype=float)
    d = np.asarray(directions, dtype=float)
    if r.ndim == 1:
        r = r[:, None]
    if r.ndim != 2 or r.shape[0] != d.size:
        raise ValueError(f"responses must be ({d.size}, n_tf) to match directions; got {r.shape}")
    tfs = np.arange(r.shape[1]) if temporal_frequencies is None else np.asarray(temporal_frequencies)
    if tfs.size != r.shape[1]:
        raise ValueError(f"{tfs.size} temporal frequencies for {r.shape[1]} response columns")
    colors = _colors(cmap, r.shape[1])
    for j in range(r.shape[1]):
        label = f"{tfs[j]:g} Hz" if temporal_frequencies is not None else None
        ax.plot(d, r[:, j], marker="o", color=colors[j], label=label)
    ax.set_xticks(d)
    ax.set_xlabel("direction (°)")
    ax.set_ylabel("mean response (%dF/F)")
    if temporal_frequencies is not None:
        ax.legend(fontsize=7, frameon=False)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    return ax


def receptive_field(on: np.ndarray, off: np.ndarray, ax: Axes, *, title: str | None = None) -> Axes:
    """ON minus OFF receptive-field map on the sparse-noise grid (red ON, blue OFF).

    Parameters
    ----------
    on, off : (rows, cols) arrays
        E.g. ``receptive_fields(s).rts_convolution.sel(cell_specimen_id=..., polarity="on")``
        or the significance masks.
    ax : Axes

    Returns
    -------
    Axes

    Examples
    --------
    >>> import numpy as np, matplotlib
    >>> matplotlib.use("Agg")
    >>> import matplotlib.pyplot as plt
    >>> fig, ax = plt.subplots()
    >>> on = np.zeros((16, 28)); on[3, 4] = 1
    >>> ax = receptive_field(on, np.zeros((16, 28)), ax)
    """
    a, b = np.asarray(on, dtype=float), np.asarray(off, dtype=float)
    if a.ndim != 2 or a.shape != b.shape:
        raise ValueError(f"on and off must be 2-D maps of one shape; got {a.shape} and {b.shape}")
    diff = a - b
    lim = float(np.nanmax(np.abs(diff))) if np.isfinite(diff).any() else 1.0
    ax.imshow(diff, cmap="RdBu_r", vmin=-(lim or 1.0), vmax=lim or 1.0, interpolation="nearest")
    ax.set_xlabel("column (azimuth)")
    ax.set_ylabel("row (elevation)")
    if title:
        ax.set_title(title)
    return ax


def _colors(name: str, n: int) -> list:
    """``n`` colours sampled from a matplotlib colormap."""
    from matplotlib import colormaps

    cmap = colormaps[name]
    return [cmap(x) for x in np.linspace(0.1, 0.9, max(n, 1))]
