"""Time series: stacked dF/F traces."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from matplotlib.axes import Axes


def stacked_traces(
    time: np.ndarray,
    traces: np.ndarray,
    ax: Axes,
    *,
    labels: Sequence[object] | None = None,
    spacing: float | None = None,
    color: str = "#1f4e79",
    linewidth: float = 0.6,
    ylabel: str = "dF/F",
) -> Axes:
    """Plot several traces one above the other, first trace on top.

    Parameters
    ----------
    time : (T,) array
        Seconds.
    traces : (N, T) array
        One row per cell.
    ax : Axes
    labels : sequence of N labels, optional
        Shown on the y axis (e.g. cell specimen ids).
    spacing : float, optional
        Vertical offset between traces; default is the 99th percentile of the trace
        amplitudes, so large transients may overlap the neighbour slightly but small
        ones stay visible.

    Returns
    -------
    Axes

    Examples
    --------
    >>> import numpy as np, matplotlib
    >>> matplotlib.use("Agg")
    >>> import matplotlib.pyplot as plt
    >>> fig, ax = plt.subplots()
    >>> t = np.arange(100) / 30
    >>> ax = stacked_traces(t, np.random.default_rng(0).normal(size=(3, 100)), ax, labels=[1, 2, 3])
    """
    t = np.asarray(time, dtype=float)
    y = np.atleast_2d(np.asarray(traces, dtype=float))
    if t.ndim != 1 or y.shape[1] != t.size:
        raise ValueError(f"traces must be (N, {t.size}) to match time; got {y.shape}")
    n = y.shape[0]
    if labels is not None and len(labels) != n:
        raise ValueError(f"labels has {len(labels)} entries for {n} traces")
    if spacing is None:
        finite = y[np.isfinite(y)]
        spacing = float(np.percentile(finite, 99) - np.percentile(finite, 1)) if finite.size else 1.0
        spacing = spacing if spacing > 0 else 1.0
    offsets = spacing * np.arange(n)[::-1]
    for row, off in zip(y, offsets, strict=True):
        ax.plot(t, row + off, color=color, lw=linewidth)
    ax.set_xlim(t[0], t[-1]) if t.size else None
    ax.set_xlabel("time (s)")
    if labels is not None:
        ax.set_yticks(offsets)
        ax.set_yticklabels([str(lab) for lab in labels], fontsize=7)
        ax.set_ylabel(f"cell ({ylabel}, offset)")
    else:
        ax.set_ylabel(f"{ylabel} (offset)")
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    return ax
