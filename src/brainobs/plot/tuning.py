"""Tuning of one cell: direction (polar), temporal frequency, orientation × spatial frequency,
the natural scenes, and ON/OFF receptive-field maps."""

from __future__ import annotations

import numpy as np
from matplotlib.axes import Axes
from matplotlib.ticker import FixedLocator, NullLocator

from brainobs.plot._check import check_ax, check_size, float_array, optional_sem
from brainobs.plot.style import GREY, HIGHLIGHT, MAIN, SMALL_FONT, despine

RESPONSE_LABEL = "mean response (%dF/F)"


def direction_tuning_polar(
    responses: np.ndarray,
    directions: np.ndarray,
    ax: Axes,
    *,
    sem: np.ndarray | None = None,
    color: str = MAIN,
    label: str | None = None,
) -> Axes:
    """Mean response against grating direction on a polar Axes, as a closed curve.

    Parameters
    ----------
    responses : (n_directions,) array
        Mean responses (%dF/F) of one cell, e.g. at its preferred temporal frequency.
    directions : (n_directions,) array
        Degrees; drawn counter-clockwise from 0° at the right.
    ax : polar Axes
        Made with ``plt.subplots(subplot_kw={"projection": "polar"})``.
    sem : (n_directions,) array, optional
        Drawn as radial error bars.
    color, label :
        Curve style and legend label.

    Returns
    -------
    Axes

    Examples
    --------
    >>> import numpy as np, matplotlib
    >>> matplotlib.use("Agg")
    >>> import matplotlib.pyplot as plt
    >>> fig, ax = plt.subplots(subplot_kw={"projection": "polar"})
    >>> d = np.arange(0, 360, 45)
    >>> ax = direction_tuning_polar(1 + np.cos(np.deg2rad(d)), d, ax, sem=np.full(8, 0.1))
    >>> len(ax.lines[0].get_xdata())
    9
    """
    check_ax(ax, polar=True)
    d = float_array(directions, "directions", ndim=1)
    r = check_size(float_array(responses, "responses", ndim=1), d.size, "responses", "directions")
    s = optional_sem(sem, r.shape, "responses")
    if d.size == 0:
        raise ValueError("directions must not be empty")
    order = np.argsort(d % 360)
    theta = np.deg2rad(d[order])
    closed = np.r_[order, order[:1]]
    ax.plot(np.r_[theta, theta[:1]], r[closed], color=color, marker="o", ms=4, lw=1.5,
            label=label, gid="tuning-curve")
    if s is not None:
        ax.errorbar(theta, r[order], yerr=s[order], fmt="none", ecolor=color, elinewidth=1.2,
                    capsize=2)
    ax.set_xticks(np.deg2rad(np.arange(0, 360, 45)))
    ax.tick_params(labelsize=SMALL_FONT)
    ax.set_rlabel_position(112.5)  # type: ignore[attr-defined]
    ax.set_xlabel(f"direction (°); radius: {RESPONSE_LABEL}", fontsize=SMALL_FONT, labelpad=8)
    return ax


def tf_tuning(
    responses: np.ndarray,
    temporal_frequencies: np.ndarray,
    ax: Axes,
    *,
    sem: np.ndarray | None = None,
    color: str = MAIN,
    label: str | None = None,
) -> Axes:
    """Mean response ± SEM against temporal frequency on a log2 axis.

    Parameters
    ----------
    responses : (n_tf,) array
        Mean responses (%dF/F), e.g. at the preferred direction.
    temporal_frequencies : (n_tf,) array
        Hz, > 0; the ticks sit at these values.
    ax : Axes
    sem : (n_tf,) array, optional
        Error bars.
    color, label :
        Line style and legend label.

    Returns
    -------
    Axes

    Examples
    --------
    >>> import numpy as np, matplotlib
    >>> matplotlib.use("Agg")
    >>> import matplotlib.pyplot as plt
    >>> fig, ax = plt.subplots()
    >>> ax = tf_tuning([1, 3, 2, 1, 0.5], [1, 2, 4, 8, 15], ax, sem=[0.2] * 5)
    >>> [t.get_text() for t in ax.get_xticklabels()]
    ['1', '2', '4', '8', '15']
    """
    check_ax(ax)
    tf = float_array(temporal_frequencies, "temporal_frequencies", ndim=1)
    r = check_size(float_array(responses, "responses", ndim=1), tf.size,
                   "responses", "temporal_frequencies")
    s = optional_sem(sem, r.shape, "responses")
    if not (tf > 0).all():
        raise ValueError(f"temporal_frequencies must be > 0 Hz for a log axis; got {tf.tolist()}")
    order = np.argsort(tf)
    ax.errorbar(tf[order], r[order], yerr=None if s is None else s[order], color=color,
                marker="o", ms=5, capsize=3, lw=1.5, label=label)
    ax.set_xscale("log", base=2)
    ax.xaxis.set_major_locator(FixedLocator(tf[order].tolist()))
    ax.xaxis.set_minor_locator(NullLocator())
    ax.set_xticklabels([f"{v:g}" for v in tf[order]])
    ax.set_xlabel("temporal frequency (Hz)")
    ax.set_ylabel(RESPONSE_LABEL)
    despine(ax)
    return ax


def orientation_sf_heatmap(
    responses: np.ndarray,
    orientations: np.ndarray,
    spatial_frequencies: np.ndarray,
    ax: Axes,
    *,
    colorbar: bool = True,
    cmap: str = "viridis",
) -> Axes:
    """Mean response to each orientation × spatial frequency as a heat map.

    Parameters
    ----------
    responses : (n_orientations, n_sf) array
        Mean responses (%dF/F) of one cell (static gratings, averaged over phase).
    orientations : (n_orientations,) array
        Degrees; one row each, bottom to top.
    spatial_frequencies : (n_sf,) array
        Cycles per degree; one column each.
    ax : Axes
    colorbar : bool
        Add a colour bar labelled in %dF/F.
    cmap : str
        A perceptually uniform colour map by default.

    Returns
    -------
    Axes

    Examples
    --------
    >>> import numpy as np, matplotlib
    >>> matplotlib.use("Agg")
    >>> import matplotlib.pyplot as plt
    >>> fig, ax = plt.subplots()
    >>> r = np.arange(30.0).reshape(6, 5)
    >>> ax = orientation_sf_heatmap(r, np.arange(0, 180, 30), [0.02, 0.04, 0.08, 0.16, 0.32], ax)
    >>> ax.images[0].get_array().shape
    (6, 5)
    """
    check_ax(ax)
    ori = float_array(orientations, "orientations", ndim=1)
    sf = float_array(spatial_frequencies, "spatial_frequencies", ndim=1)
    r = float_array(responses, "responses", ndim=2)
    if r.shape != (ori.size, sf.size):
        raise ValueError(
            f"responses must be (n_orientations, n_sf) = ({ori.size}, {sf.size}); got {r.shape}"
        )
    im = ax.imshow(np.ma.masked_invalid(r), origin="lower", aspect="auto", cmap=cmap,
                   interpolation="nearest")
    ax.set_xticks(np.arange(sf.size), [f"{v:g}" for v in sf])
    ax.set_yticks(np.arange(ori.size), [f"{v:g}°" for v in ori])
    ax.set_xlabel("spatial frequency (cycles/deg)")
    ax.set_ylabel("orientation (°)")
    if colorbar:
        ax.figure.colorbar(im, ax=ax, label=RESPONSE_LABEL)
    return ax


def image_responses(
    means: np.ndarray,
    ax: Axes,
    *,
    sem: np.ndarray | None = None,
    preferred: int | None = None,
    color: str = MAIN,
) -> Axes:
    """Mean response of one cell to every natural scene, the preferred one highlighted.

    Parameters
    ----------
    means : (n_images,) array
        Mean responses (%dF/F) to each image (118 in the Brain Observatory set); NaN
        images get no bar.
    ax : Axes
    sem : (n_images,) array, optional
        Error bars.
    preferred : int, optional
        Index of the image to highlight and label; default the largest mean.
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
    >>> m = np.random.default_rng(0).normal(size=118); m[42] = 5
    >>> ax = image_responses(m, ax, sem=np.full(118, 0.3))
    >>> [t.get_text() for t in ax.texts]
    ['image 42']
    """
    check_ax(ax)
    m = float_array(means, "means", ndim=1)
    s = optional_sem(sem, m.shape, "means")
    if not np.isfinite(m).any():
        raise ValueError("means must hold at least one finite value")
    pref = int(np.nanargmax(m)) if preferred is None else int(preferred)
    if preferred is not None and (pref != preferred or not 0 <= pref < m.size):
        raise ValueError(f"preferred must be an image index in [0, {m.size}); got {preferred!r}")
    colors = [HIGHLIGHT if i == pref else color for i in range(m.size)]
    ax.bar(np.arange(m.size), m, width=0.8, color=colors,
           yerr=s, error_kw={"elinewidth": 0.6, "ecolor": GREY})
    top = m[pref] + (s[pref] if s is not None and np.isfinite(s[pref]) else 0.0)
    ax.annotate(f"image {pref}", (pref, top), xytext=(0, 4), textcoords="offset points",
                ha="center", va="bottom", fontsize=SMALL_FONT, color=HIGHLIGHT, gid="preferred")
    ax.axhline(0, color="black", lw=0.6)
    lo, hi = ax.get_ylim()
    ax.set_ylim(lo, hi + 0.08 * (hi - lo))  # room for the label
    ax.set_xlim(-0.5, m.size - 0.5)
    ax.set_xlabel("natural scene (image index)")
    ax.set_ylabel(RESPONSE_LABEL)
    despine(ax)
    return ax


def on_off_maps(
    on: np.ndarray,
    off: np.ndarray,
    ax: Axes,
    *,
    cmap: str = "viridis",
    colorbar: bool = True,
    clabel: str = "response",
) -> Axes:
    """ON and OFF receptive-field maps side by side in one Axes, on one colour scale.

    Parameters
    ----------
    on, off : (rows, cols) arrays
        Sparse-noise maps of one cell, e.g. ``rts_convolution`` for each polarity.
    ax : Axes
    cmap : str
        Shared colour map; both maps use the same limits so their strengths compare.
    colorbar : bool
        Add one colour bar labelled ``clabel``.

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
    >>> ax = on_off_maps(on, np.zeros((16, 28)), ax)
    >>> len(ax.images)
    2
    """
    check_ax(ax)
    a, b = float_array(on, "on"), float_array(off, "off")
    if a.ndim != 2 or a.shape != b.shape:
        raise ValueError(f"on and off must be 2-D maps of one shape; got {a.shape} and {b.shape}")
    both = np.concatenate([a[np.isfinite(a)], b[np.isfinite(b)]])
    lo, hi = (float(both.min()), float(both.max())) if both.size else (0.0, 1.0)
    rows, cols = a.shape
    gap = max(1.0, cols * 0.1)
    im = None
    for k, (name, grid) in enumerate((("ON", a), ("OFF", b))):
        x0 = k * (cols + gap)
        im = ax.imshow(np.ma.masked_invalid(grid), cmap=cmap, vmin=lo, vmax=hi if hi > lo else lo + 1,
                       interpolation="nearest", extent=(x0, x0 + cols, rows, 0))
        ax.text(x0 + cols / 2, -0.5, name, ha="center", va="bottom", fontsize=SMALL_FONT + 1)
    ax.set_xlim(0, 2 * cols + gap)
    ax.set_ylim(rows, -1.5)
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_xlabel(f"azimuth ({cols} grid columns)")
    ax.set_ylabel(f"elevation ({rows} rows)")
    for spine in ax.spines.values():
        spine.set_visible(False)
    if colorbar and im is not None:
        ax.figure.colorbar(im, ax=ax, label=clabel, shrink=0.6)
    return ax
