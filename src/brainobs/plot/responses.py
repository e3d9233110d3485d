"""Summaries of response metrics across cells."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.ticker import MaxNLocator

from brainobs.plot._check import check_ax, float_array
from brainobs.plot.style import GREY, HIGHLIGHT, MAIN, SMALL_FONT, despine


def preferred_image_histogram(
    pref_images: np.ndarray, ax: Axes, *, n_images: int = 118, color: str = MAIN
) -> Axes:
    """Histogram of preferred natural-scene indices (``pref_image_ns``) over cells.

    The most preferred image(s) are drawn in the highlight colour and named in a note
    (gid ``"top-images"``), ties included: ``"top: images 3, 7 (2 cells each)"``.

    Parameters
    ----------
    pref_images : array of int
        0-based image indices, one per cell (NaN entries are ignored).
    ax : Axes
    n_images : int
        Number of images (118 in the Brain Observatory set); one bin per image.
    color : str
        Colour of the other bars.

    Returns
    -------
    Axes

    Examples
    --------
    >>> import numpy as np, matplotlib
    >>> matplotlib.use("Agg")
    >>> import matplotlib.pyplot as plt
    >>> fig, ax = plt.subplots()
    >>> ax = preferred_image_histogram(np.array([3, 3, 7, 7, 9]), ax)
    >>> int(max(p.get_height() for p in ax.patches))
    2
    >>> [t.get_text() for t in ax.texts]
    ['top: images 3, 7 (2 cells each)']
    """
    check_ax(ax)
    if int(n_images) != n_images or n_images < 1:
        raise ValueError(f"n_images must be a positive integer; got {n_images!r}")
    v = float_array(pref_images, "pref_images").ravel()
    v = v[np.isfinite(v)]
    bad = (v < 0) | (v >= n_images) | (v != np.round(v))
    if bad.any():
        raise ValueError(
            f"pref_images must be integer image indices in [0, {n_images}); got {v[bad][:5].tolist()}"
        )
    counts = np.bincount(v.astype(int), minlength=n_images)
    top = np.flatnonzero(counts == counts.max()) if v.size else np.array([], int)
    colors = np.full(n_images, color, dtype=object)
    colors[top] = HIGHLIGHT
    ax.bar(np.arange(n_images), counts, width=1.0, color=colors.tolist())
    ax.text(0.99, 0.98, _top_text(top, int(counts.max()) if v.size else 0),
            transform=ax.transAxes, ha="right", va="top", fontsize=SMALL_FONT, color=HIGHLIGHT,
            gid="top-images")
    ax.set_xlim(-0.5, n_images - 0.5)
    ax.set_ylim(0, max(int(counts.max()), 1) * 1.15)  # headroom for the note
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("preferred image")
    ax.set_ylabel("number of cells")
    despine(ax)
    return ax


def _top_text(top: np.ndarray, count: int, shown: int = 8) -> str:
    """``"top: image 3 (2 cells)"`` or ``"top: images 3, 7 (2 cells each)"``."""
    if not top.size:
        return "no cells"
    cells = f"{count} cell{'s' if count != 1 else ''}"
    if top.size == 1:
        return f"top: image {top[0]} ({cells})"
    names = ", ".join(str(i) for i in top[:shown])
    more = f" and {top.size - shown} more" if top.size > shown else ""
    return f"top: images {names}{more} ({cells} each)"


def dsi_histogram(
    dsi: np.ndarray,
    ax: Axes,
    *,
    responsive: np.ndarray | None = None,
    threshold: float = 0.5,
    bins: int | Sequence[float] | None = None,
    limits: tuple[float, float] = (0.0, 2.0),
    color: str = MAIN,
) -> Axes:
    """Histogram of the direction selectivity index with the selectivity threshold.

    Parameters
    ----------
    dsi : (N,) array
        One DSI per cell (``dsi_dg``); NaN entries are left out and counted in the legend.
    ax : Axes
    responsive : (N,) bool array, optional
        Responsive cells (e.g. ``p_dg < 0.05``) are stacked in colour under the others in
        grey. Missing values (pandas NA) are an error: decide first what they mean.
    threshold : float
        Drawn as a dashed line; the legend says how many (responsive) cells exceed it.
    bins : int or sequence of edges, optional
        Default: 0.05-wide bins, so that the threshold falls on an edge.
    limits : (low, high)
        Display bounds. The published DSI exceeds 1 when the response to the null direction
        is negative; values beyond ``limits`` are drawn in the outermost bin and counted
        in the legend title. The axis covers the data within the limits and at least [0, 1].
    color : str
        Colour of the responsive (or of all) cells.

    Returns
    -------
    Axes

    Examples
    --------
    >>> import numpy as np, matplotlib
    >>> matplotlib.use("Agg")
    >>> import matplotlib.pyplot as plt
    >>> fig, ax = plt.subplots()
    >>> dsi = np.array([0.1, 0.2, 0.6, 0.9, 1.9, 2.5])
    >>> ax = dsi_histogram(dsi, ax, responsive=dsi < 1)
    >>> [t.get_text() for t in ax.get_legend().get_texts()][:2]
    ['responsive (n=4)', 'not responsive (n=2)']
    """
    check_ax(ax)
    v = float_array(dsi, "dsi", ndim=1)
    resp = _bool_mask(responsive, v.size)
    lo_lim, hi_lim = (float(x) for x in limits)
    if not lo_lim < hi_lim:
        raise ValueError(f"limits must be (low, high) with low < high; got {limits!r}")
    if not np.isfinite(threshold):
        raise ValueError(f"threshold must be finite; got {threshold!r}")
    ok = np.isfinite(v)
    v, resp = v[ok], None if resp is None else resp[ok]
    shown = np.clip(v, lo_lim, hi_lim)
    lo = min(0.0, float(shown.min())) if v.size else 0.0
    hi = max(1.0, float(shown.max())) if v.size else 1.0
    edges = _dsi_edges(bins, lo, hi)
    if resp is None:
        ax.hist(shown, edges.tolist(), color=color, label=f"all cells (n={v.size})")
        above = f"DSI > {threshold:g}: {int((v > threshold).sum())} of {v.size} cells"
    else:
        ax.hist([shown[resp], shown[~resp]], edges.tolist(), stacked=True, color=[color, GREY],
                label=[f"responsive (n={int(resp.sum())})", f"not responsive (n={int((~resp).sum())})"])
        above = f"DSI > {threshold:g}: {int((v[resp] > threshold).sum())} of {int(resp.sum())} responsive"
    ax.axvline(threshold, color="black", ls="--", lw=1.2, label=above, gid="threshold")
    ax.set_xlim(edges[0], edges[-1])
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("direction selectivity index (DSI)")
    ax.set_ylabel("number of cells")
    note = _dsi_note(v, lo_lim, hi_lim, int((~ok).sum()))
    ax.legend(fontsize=SMALL_FONT, frameon=False, loc="upper right", title=note or None,
              title_fontsize=SMALL_FONT)
    despine(ax)
    return ax


def _bool_mask(mask: object, n: int) -> np.ndarray | None:
    if mask is None:
        return None
    arr = np.asarray(mask, dtype=object)
    if arr.ndim != 1:
        raise ValueError(f"responsive must be 1-D (one flag per cell); got shape {arr.shape}")
    series = pd.Series(arr)
    if series.isna().any():
        raise ValueError(
            f"responsive has {int(series.isna().sum())} missing values; fill them first "
            "(e.g. .fillna(False))"
        )
    if len(series) != n:
        raise ValueError(f"responsive has {len(series)} values but dsi has {n}")
    if not series.map(lambda x: isinstance(x, (bool, np.bool_))).all():
        raise ValueError("responsive must be booleans (True for responsive cells)")
    return series.to_numpy(dtype=bool)


def _dsi_edges(bins: int | Sequence[float] | None, lo: float, hi: float) -> np.ndarray:
    if bins is None:
        w = 0.05
        n = max(int(np.ceil((hi - lo) / w - 1e-9)), 1)
        return np.floor(lo / w + 1e-9) * w + w * np.arange(n + 1)
    if isinstance(bins, (int, np.integer)):
        if bins < 1:
            raise ValueError(f"bins must be >= 1; got {bins}")
        return np.linspace(lo, hi, int(bins) + 1)
    edges = float_array(bins, "bins", ndim=1)
    if edges.size < 2 or not (np.diff(edges) > 0).all():
        raise ValueError("bins must be at least 2 increasing edges")
    return edges


def _dsi_note(v: np.ndarray, lo: float, hi: float, n_nan: int) -> str:
    parts = []
    if (v > hi).any():
        parts.append(f"{int((v > hi).sum())} cells with DSI > {hi:g} drawn at {hi:g}")
    if (v < lo).any():
        parts.append(f"{int((v < lo).sum())} cells with DSI < {lo:g} drawn at {lo:g}")
    if n_nan:
        parts.append(f"{n_nan} cells without a DSI left out")
    return "\n".join(parts)


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
    check_ax(ax)
    r = float_array(responses, "responses")
    d = float_array(directions, "directions", ndim=1)
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
        ax.legend(fontsize=SMALL_FONT, frameon=False)
    despine(ax)
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
    check_ax(ax)
    a, b = float_array(on, "on"), float_array(off, "off")
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
