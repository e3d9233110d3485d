"""Time series: stacked dF/F traces with stimulus epochs, running speed, trial rasters."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.ticker import MaxNLocator

from brainobs.plot._check import check_ax, check_columns, check_size, float_array, positive
from brainobs.plot.style import MAIN, SMALL_FONT, despine, group_colors

#: Columns an ``epochs`` table must have (seconds); ``Session.stimulus_epochs()``-like.
EPOCH_COLUMNS = ["stimulus", "start_time", "end_time"]


def _time_and_traces(time: np.ndarray, traces: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    t = float_array(time, "time", ndim=1)
    y = np.atleast_2d(float_array(traces, "traces"))
    if y.ndim != 2 or y.shape[1] != t.size:
        raise ValueError(f"traces must be (N, {t.size}) to match time; got {y.shape}")
    return t, y


def stack_spacing(traces: np.ndarray, gap: float = 0.05) -> float:
    """Smallest even spacing at which stacked traces (first on top) cannot overlap.

    For each pair of neighbours the upper trace's minimum must clear the lower trace's
    maximum: spacing ≥ max(lower) − min(upper). The largest such need, plus ``gap`` of
    itself, is returned (1.0 when the traces are flat or empty).

    Examples
    --------
    >>> stack_spacing(np.array([[0.0, 1.0], [0.0, 3.0]]), gap=0.0)
    3.0
    """
    y = np.atleast_2d(np.asarray(traces, dtype=float))
    if y.shape[0] < 2 or not np.isfinite(y).any():
        rng = np.ptp(y[np.isfinite(y)]) if np.isfinite(y).any() else 0.0
        return float(rng * (1 + gap)) if rng > 0 else 1.0
    with np.errstate(all="ignore"):
        hi = np.array([np.nanmax(r) if np.isfinite(r).any() else np.nan for r in y])
        lo = np.array([np.nanmin(r) if np.isfinite(r).any() else np.nan for r in y])
    need = hi[1:] - lo[:-1]
    need = need[np.isfinite(need)]
    spacing = float(need.max()) * (1 + gap) if need.size else 0.0
    return spacing if spacing > 0 else 1.0


def stacked_traces(
    time: np.ndarray,
    traces: np.ndarray,
    ax: Axes,
    labels: Sequence[object] | None = None,
    spacing: float | None = None,
    *,
    scale_bar: bool = True,
    epochs: pd.DataFrame | None = None,
    color: str = MAIN,
    linewidth: float = 0.6,
    ylabel: str = "dF/F",
) -> Axes:
    """Plot several traces one above the other, first trace on top, with a scale bar.

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
        Vertical offset between traces. The default (:func:`stack_spacing`) is the smallest
        even offset at which no trace crosses its neighbour.
    scale_bar : bool
        Draw a vertical bar (gid ``"scale-bar"``, a line collection) right of the top trace
        whose length, a round number near half the spacing, is written beside it
        (``"0.5\\ndF/F"``, gid ``"scale-bar-label"``).
    epochs : DataFrame, optional
        Columns ``stimulus``, ``start_time``, ``end_time`` (s): each epoch overlapping the
        time range is shaded (``axvspan``), one colour per stimulus, with a legend above.
    color, linewidth :
        Trace style.
    ylabel : str
        Unit of the traces, used in the scale bar and the axis label.

    Returns
    -------
    Axes

    Examples
    --------
    >>> import numpy as np, pandas as pd, matplotlib
    >>> matplotlib.use("Agg")
    >>> import matplotlib.pyplot as plt
    >>> fig, ax = plt.subplots()
    >>> t = np.arange(300) / 30
    >>> epochs = pd.DataFrame({"stimulus": ["natural_scenes", "spontaneous"],
    ...                        "start_time": [0.0, 6.0], "end_time": [6.0, 10.0]})
    >>> y = np.random.default_rng(0).normal(size=(3, 300))
    >>> ax = stacked_traces(t, y, ax, labels=[1, 2, 3], epochs=epochs)
    >>> [txt.get_text() for txt in ax.get_legend().get_texts()]
    ['natural_scenes', 'spontaneous']
    """
    check_ax(ax)
    t, y = _time_and_traces(time, traces)
    n = y.shape[0]
    if labels is not None and len(labels) != n:
        raise ValueError(f"labels has {len(labels)} entries for {n} traces")
    spacing = stack_spacing(y) if spacing is None else positive(spacing, "spacing")
    ep = _check_epochs(epochs)
    offsets = spacing * np.arange(n)[::-1]
    for row, off in zip(y, offsets, strict=True):
        ax.plot(t, row + off, color=color, lw=linewidth)
    if t.size:
        end = t[-1] + (0.1 * (t[-1] - t[0]) if scale_bar else 0.0)
        ax.set_xlim(t[0], end if end > t[0] else t[0] + 1)
    if ep is not None and t.size:
        _shade_epochs(ax, ep, float(t[0]), float(t[-1]))
    if scale_bar and t.size and np.isfinite(y).any():
        _trace_scale_bar(ax, float(t[-1] + 0.02 * (t[-1] - t[0])), float(offsets[0]),
                         spacing, ylabel)
    ax.set_xlabel("time (s)")
    if labels is not None:
        ax.set_yticks(offsets)
        ax.set_yticklabels([str(lab) for lab in labels], fontsize=SMALL_FONT)
        ax.set_ylabel(f"cell ({ylabel}, offset)")
    else:
        ax.set_ylabel(f"{ylabel} (offset)")
    despine(ax)
    return ax


def nice_length(x: float) -> float:
    """The largest 1, 2 or 5 × 10^k not above ``x`` (``x`` > 0).

    >>> nice_length(0.37), nice_length(7.0), nice_length(1.0)
    (0.2, 5.0, 1.0)
    """
    k = np.floor(np.log10(x))
    for m in (5.0, 2.0, 1.0):
        if m * 10**k <= x * (1 + 1e-9):
            return float(round(m * 10**k, 12))
    return float(10**k)


def _trace_scale_bar(ax: Axes, x: float, y0: float, spacing: float, unit: str) -> None:
    length = nice_length(spacing / 2)
    ax.vlines([x], y0, y0 + length, colors="black", linewidths=2, gid="scale-bar")
    ax.annotate(f"{length:g}\n{unit}", (x, y0 + length / 2), xytext=(3, 0),
                textcoords="offset points", ha="left", va="center", linespacing=1.0,
                fontsize=SMALL_FONT, gid="scale-bar-label")


def _check_epochs(epochs: pd.DataFrame | None) -> pd.DataFrame | None:
    if epochs is None:
        return None
    ep = check_columns(epochs, "epochs", EPOCH_COLUMNS)
    start = float_array(ep["start_time"], "epochs.start_time")
    end = float_array(ep["end_time"], "epochs.end_time")
    bad = ~(end >= start)
    if bad.any():
        raise ValueError(
            f"epochs must have end_time >= start_time (s); rows {np.flatnonzero(bad)[:5].tolist()} do not"
        )
    return ep


def _shade_epochs(ax: Axes, epochs: pd.DataFrame, t0: float, t1: float) -> None:
    shown = epochs[(epochs["end_time"] > t0) & (epochs["start_time"] < t1)]
    colors = group_colors(shown["stimulus"])
    seen: set[object] = set()
    for stim, start, end in shown[EPOCH_COLUMNS].itertuples(index=False):
        label = None if stim in seen else str(stim)
        seen.add(stim)
        ax.axvspan(max(start, t0), min(end, t1), color=colors[stim], alpha=0.25, lw=0,
                   zorder=0, label=label, gid="epoch")
    if seen:
        ax.legend(loc="lower left", bbox_to_anchor=(0.0, 1.0), ncol=min(len(seen), 4),
                  fontsize=SMALL_FONT, frameon=False, borderaxespad=0.2)


def running_speed(
    time: np.ndarray, speed: np.ndarray, ax: Axes, *, color: str = MAIN, linewidth: float = 0.8
) -> Axes:
    """Running speed of the mouse against time.

    Parameters
    ----------
    time : (T,) array
        Seconds.
    speed : (T,) array
        cm/s (``Session.running_speed``); NaN samples leave gaps.
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
    >>> ax = running_speed(np.arange(100) / 30, np.abs(np.sin(np.arange(100) / 10)) * 20, ax)
    >>> ax.get_ylabel()
    'running speed (cm/s)'
    """
    check_ax(ax)
    t = float_array(time, "time", ndim=1)
    s = check_size(float_array(speed, "speed", ndim=1), t.size, "speed", "time")
    ax.plot(t, s, color=color, lw=positive(linewidth, "linewidth"))
    if t.size > 1:
        ax.set_xlim(t[0], t[-1])
    ax.set_xlabel("time (s)")
    ax.set_ylabel("running speed (cm/s)")
    despine(ax)
    return ax


def trial_raster(
    responses: np.ndarray,
    time: np.ndarray,
    ax: Axes,
    *,
    onset: float = 0.0,
    order: Sequence[int] | np.ndarray | None = None,
    ylabel: str = "trial",
    cmap: str = "viridis",
    colorbar: bool = True,
    clabel: str = "dF/F",
) -> Axes:
    """Single-trial responses as a heat map (trials × time) aligned to stimulus onset.

    Parameters
    ----------
    responses : (n_trials, n_frames) array
        One row per trial, e.g. dF/F around each presentation.
    time : (n_frames,) array
        Seconds relative to the trial start, increasing (e.g. ``np.arange(-30, 60) / 30``).
    ax : Axes
    onset : float
        Stimulus onset on the ``time`` axis (s); marked by a dashed vertical line.
    order : sequence of int, optional
        A permutation of the trials giving the row order from the top (e.g. sorted by
        direction); default as given.
    ylabel : str
        What the rows are.
    cmap : str
        Colour map (perceptually uniform by default); limits are the 1st–99th percentiles.
    colorbar : bool
        Add a colour bar labelled ``clabel``.

    Returns
    -------
    Axes

    Examples
    --------
    >>> import numpy as np, matplotlib
    >>> matplotlib.use("Agg")
    >>> import matplotlib.pyplot as plt
    >>> fig, ax = plt.subplots()
    >>> r = np.random.default_rng(0).normal(size=(10, 90))
    >>> ax = trial_raster(r, np.arange(-30, 60) / 30, ax)
    >>> ax.images[0].get_array().shape
    (10, 90)
    """
    check_ax(ax)
    t = float_array(time, "time", ndim=1)
    r = float_array(responses, "responses", ndim=2)
    if r.shape[1] != t.size:
        raise ValueError(f"responses must be (n_trials, {t.size}) to match time; got {r.shape}")
    if t.size < 2 or not (np.diff(t) > 0).all():
        raise ValueError("time must hold at least 2 strictly increasing values (s)")
    rows = _trial_order(order, r.shape[0])
    shown = r[rows]
    dt = (t[-1] - t[0]) / (t.size - 1)
    finite = shown[np.isfinite(shown)]
    lo, hi = np.percentile(finite, [1, 99]) if finite.size else (0.0, 1.0)
    im = ax.imshow(shown, aspect="auto", interpolation="nearest", cmap=cmap,
                   vmin=lo, vmax=hi if hi > lo else lo + 1,
                   extent=(t[0] - dt / 2, t[-1] + dt / 2, r.shape[0] - 0.5, -0.5))
    ax.axvline(float(onset), color="white", ls="--", lw=1.2, gid="onset")
    ax.set_xlabel("time from onset (s)")
    ax.set_ylabel(ylabel)
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    if colorbar:
        ax.figure.colorbar(im, ax=ax, label=clabel)
    return ax


def _trial_order(order: Sequence[int] | np.ndarray | None, n: int) -> np.ndarray:
    if order is None:
        return np.arange(n)
    o = np.asarray(order)
    if o.shape != (n,) or not np.array_equal(np.sort(o), np.arange(n)):
        raise ValueError(f"order must be a permutation of range({n}) (one index per trial)")
    return o.astype(int)
