"""Comparison figures across groups of cells (Cre lines, areas, layers).

These take plain pandas/numpy inputs (the tables ``brainobs.population`` returns), so the
plot layer does not depend on the population layer.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

import numpy as np
import pandas as pd
from matplotlib import colormaps
from matplotlib.axes import Axes
from matplotlib.collections import PolyCollection
from matplotlib.colors import Normalize
from matplotlib.patches import Rectangle

from brainobs.plot._check import check_ax, check_columns, float_array
from brainobs.plot.style import GREY, MAIN, PALETTE, SMALL_FONT, despine, group_colors

#: Class labels drawn in grey by :func:`class_composition`.
BACKGROUND_CLASSES = {"none": GREY, "other": "#DDDDDD"}
_BOX = {"boxstyle": "round,pad=0.3", "facecolor": "white", "edgecolor": "0.8", "alpha": 0.9}


def _groups_in_order(
    values: Any, groups: Any, order: Sequence[Any] | None
) -> tuple[list[Any], list[np.ndarray], int]:
    """Split ``values`` by ``groups`` (in ``order``); also return how many values were NaN."""
    v = float_array(values, "values", ndim=1)
    labels = np.asarray(groups, dtype=object)
    if labels.ndim != 1 or len(labels) != v.size:
        raise ValueError(
            f"groups must be 1-D with one label per value ({v.size}); got shape {labels.shape}"
        )
    g = pd.Series(labels)
    keep = np.isfinite(v) & g.notna().to_numpy()
    present = pd.unique(g[keep])
    names = list(order) if order is not None else sorted(present, key=str)
    if order is not None and len(set(names)) != len(names):
        raise ValueError(f"order repeats a group: {names}")
    data = [v[keep & (g == name).to_numpy()] for name in names]
    return names, data, int((~keep).sum())


def metric_by_group(
    values: Any,
    groups: Any,
    ax: Axes,
    *,
    kind: str = "violin",
    order: Sequence[Any] | None = None,
    test_text: str | None = None,
    ylabel: str | None = None,
    colors: dict[Any, str] | None = None,
) -> Axes:
    """Distribution of one metric per group, as violins or empirical CDFs.

    Parameters
    ----------
    values : (N,) array
        The metric, one value per cell; NaN values (and cells without a group) are left out
        and counted in a note.
    groups : (N,) array of labels
        The group of each cell (e.g. ``cells["cre_line"]``).
    ax : Axes
    kind : {"violin", "ecdf"}
        Violins with a black median mark per group, or one ECDF curve per group.
    order : sequence, optional
        Groups to show, in order; default all groups, sorted. The tick labels (violins) or
        legend (ECDF) give each group's n.
    test_text : str, optional
        A test result written on the axes, e.g. ``"Kruskal–Wallis H=12.3, p=0.002"``.
    ylabel : str, optional
        The metric with its unit: the y axis of violins, the x axis of ECDFs.
    colors : dict, optional
        Colour per group; default :func:`~brainobs.plot.style.group_colors` of the groups.

    Returns
    -------
    Axes

    Examples
    --------
    >>> import numpy as np, matplotlib
    >>> matplotlib.use("Agg")
    >>> import matplotlib.pyplot as plt
    >>> fig, ax = plt.subplots()
    >>> rng = np.random.default_rng(0)
    >>> v = np.r_[rng.normal(0.3, 0.1, 50), rng.normal(0.5, 0.1, 40), np.nan]
    >>> g = ["Sst"] * 50 + ["Vip"] * 41
    >>> ax = metric_by_group(v, g, ax, test_text="Mann–Whitney p<0.001", ylabel="gOSI")
    >>> [t.get_text() for t in ax.get_xticklabels()]
    ['Sst\\n(n=50)', 'Vip\\n(n=40)']
    """
    check_ax(ax)
    if kind not in ("violin", "ecdf"):
        raise ValueError(f"kind must be 'violin' or 'ecdf'; got {kind!r}")
    names, data, n_dropped = _groups_in_order(values, groups, order)
    cols = {**group_colors(names), **(colors or {})}
    if kind == "violin":
        _violins(ax, names, data, cols)
        ax.set_ylabel(ylabel or "value")
    else:
        _ecdfs(ax, names, data, cols)
        ax.set_xlabel(ylabel or "value")
        ax.set_ylabel("fraction of cells ≤ value")
    notes = [test_text] if test_text else []
    if n_dropped:
        notes.append(f"{n_dropped} cells without a value left out")
    if notes:
        ax.text(0.02, 0.98, "\n".join(notes), transform=ax.transAxes, ha="left", va="top",
                fontsize=SMALL_FONT, bbox=_BOX, gid="test-text", zorder=5)
    despine(ax)
    return ax


def _violins(ax: Axes, names: list[Any], data: list[np.ndarray], cols: dict[Any, str]) -> None:
    pos = np.arange(len(names), dtype=float)
    spread = [i for i, d in enumerate(data) if d.size > 1 and np.ptp(d) > 0]
    if spread:
        parts = ax.violinplot([data[i] for i in spread], positions=pos[spread].tolist(),
                              showextrema=False, widths=0.8)
        bodies = cast(list[PolyCollection], parts["bodies"])
        for i, body in zip(spread, bodies, strict=True):
            body.set_facecolor(cols[names[i]])
            body.set_edgecolor("black")
            body.set_linewidth(0.6)
            body.set_alpha(0.75)
            body.set_gid("violin")
    for i, d in enumerate(data):
        if d.size and i not in spread:
            ax.scatter(np.full(d.size, pos[i]), d, s=12, color=cols[names[i]], zorder=3,
                       gid="points")
    filled = [i for i, d in enumerate(data) if d.size]
    medians = [float(np.median(data[i])) for i in filled]
    ax.hlines(medians, pos[filled] - 0.25, pos[filled] + 0.25, colors="black", lw=2,
              zorder=4, gid="medians", label="median")
    _group_ticks(ax, pos, [str(n) for n in names], [d.size for d in data])
    ax.set_xlim(-0.6, len(names) - 0.4)
    lo, hi = ax.get_ylim()
    ax.set_ylim(lo, hi + 0.2 * (hi - lo))  # headroom for the test text


def _group_ticks(ax: Axes, pos: np.ndarray, names: list[str], n: list[int] | None = None) -> None:
    """Group names (with ``(n=…)``) as x tick labels, turned 30° when they would collide."""
    crowded = max((len(s) for s in names), default=0) * len(names) > 60
    sep = " " if crowded else "\n"
    labels = names if n is None else [f"{s}{sep}(n={k})" for s, k in zip(names, n, strict=True)]
    ax.set_xticks(pos, labels, fontsize=SMALL_FONT, rotation=30 if crowded else 0,
                  ha="right" if crowded else "center", rotation_mode="anchor")


def _ecdfs(ax: Axes, names: list[Any], data: list[np.ndarray], cols: dict[Any, str]) -> None:
    for name, d in zip(names, data, strict=True):
        x = np.sort(d)
        y = np.arange(1, x.size + 1) / x.size if x.size else x
        ax.step(x, y, where="post", color=cols[name], lw=1.5, label=f"{name} (n={d.size})")
    ax.set_ylim(0, 1.02)
    if names:
        ax.legend(loc="lower right", fontsize=SMALL_FONT, frameon=False)


def fraction_heatmap(
    fractions: pd.DataFrame,
    ax: Axes,
    *,
    counts: pd.DataFrame | None = None,
    annotate: bool = True,
    vmin: float = 0.0,
    vmax: float = 1.0,
    cmap: str = "viridis",
    colorbar: bool = True,
    label: str = "fraction responsive",
) -> Axes:
    """Heat map of a fraction per Cre line × area, annotated with its value and n.

    Parameters
    ----------
    fractions : DataFrame
        Rows are Cre lines, columns areas (or any two groupings), values fractions in [0, 1]
        (NaN where there are no cells). The index and column names, when set, label the axes.
    ax : Axes
    counts : DataFrame, optional
        Cells behind each fraction (same rows and columns); adds ``(n=…)`` to the annotations.
    annotate : bool
        Write each value in its cell (``"0.86\\n(n=120)"``); empty cells are hatched and say
        ``"no data"`` either way.
    vmin, vmax : float
        Colour limits.
    cmap : str
        A perceptually uniform colour map by default.
    colorbar : bool
        Add a colour bar labelled ``label``.

    Returns
    -------
    Axes

    Examples
    --------
    >>> import numpy as np, pandas as pd, matplotlib
    >>> matplotlib.use("Agg")
    >>> import matplotlib.pyplot as plt
    >>> fig, ax = plt.subplots()
    >>> f = pd.DataFrame({"VISp": [0.86, 0.5], "VISl": [0.4, np.nan]}, index=["Sst", "Vip"])
    >>> n = pd.DataFrame({"VISp": [120, 10], "VISl": [30, 0]}, index=["Sst", "Vip"])
    >>> ax = fraction_heatmap(f, ax, counts=n)
    >>> [t.get_text() for t in ax.texts]
    ['0.86\\n(n=120)', '0.40\\n(n=30)', '0.50\\n(n=10)', 'no data']
    """
    check_ax(ax)
    frac = _frame(fractions, "fractions")
    if not vmin < vmax:
        raise ValueError(f"vmin must be < vmax; got {vmin!r}, {vmax!r}")
    z = frac.to_numpy()
    n = np.full(z.shape, np.nan)
    if counts is not None:
        cnt = _frame(counts, "counts")
        if set(cnt.index) != set(frac.index) or set(cnt.columns) != set(frac.columns):
            raise ValueError("counts must have the rows and columns of fractions")
        n = cnt.loc[frac.index, frac.columns].to_numpy()
    im = ax.imshow(np.ma.masked_invalid(z), cmap=cmap, vmin=vmin, vmax=vmax, aspect="auto",
                   interpolation="nearest")
    norm, cm = Normalize(vmin, vmax), colormaps[cmap]
    for (i, j), value in np.ndenumerate(z):
        if not np.isfinite(value):
            ax.add_patch(Rectangle((j - 0.5, i - 0.5), 1, 1, fill=False, hatch="///",
                                   edgecolor="0.75", lw=0, gid="no-data"))
            ax.text(j, i, "no data", ha="center", va="center", fontsize=SMALL_FONT, color="0.4")
        elif annotate:
            text = f"{value:.2f}" + (f"\n(n={int(n[i, j])})" if np.isfinite(n[i, j]) else "")
            r, g, b, _ = cm(norm(value))
            ink = "black" if 0.299 * r + 0.587 * g + 0.114 * b > 0.5 else "white"
            ax.text(j, i, text, ha="center", va="center", fontsize=SMALL_FONT, color=ink,
                    linespacing=1.0)
    ax.set_xticks(np.arange(z.shape[1]), [str(c) for c in frac.columns])
    ax.set_yticks(np.arange(z.shape[0]), [str(r) for r in frac.index], fontsize=SMALL_FONT)
    ax.set_xlabel(str(frac.columns.name or "area"))
    ax.set_ylabel(str(frac.index.name or "Cre line"))
    ax.tick_params(length=0)
    if colorbar:
        ax.figure.colorbar(im, ax=ax, label=label)
    return ax


def _frame(df: Any, name: str) -> pd.DataFrame:
    if not isinstance(df, pd.DataFrame):
        raise ValueError(f"{name} must be a pandas DataFrame (rows × columns); got {type(df).__name__}")
    if df.empty:
        raise ValueError(f"{name} is empty")
    try:
        arr = df.astype(float)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be numeric; {exc}") from None
    return arr


def class_composition(
    composition: pd.DataFrame,
    ax: Axes,
    *,
    order: Sequence[Any] | None = None,
    colors: dict[Any, str] | None = None,
    xlabel: str = "fraction of cells",
) -> Axes:
    """Functional-class composition of each group as horizontal stacked bars.

    Parameters
    ----------
    composition : DataFrame
        Rows are groups (e.g. Cre lines), columns class labels (e.g. ``"DG+NS"``,
        ``"none"``), values fractions; each row sums to 1 (± 0.01; NaN counts as 0).
    ax : Axes
    order : sequence, optional
        Rows to show, top to bottom; default the index order.
    colors : dict, optional
        Colour per class. By default ``"none"`` is grey, ``"other"`` light grey and the
        other classes take palette colours in column order.

    Returns
    -------
    Axes

    Examples
    --------
    >>> import pandas as pd, matplotlib
    >>> matplotlib.use("Agg")
    >>> import matplotlib.pyplot as plt
    >>> fig, ax = plt.subplots()
    >>> c = pd.DataFrame({"DG": [0.5, 0.2], "DG+NS": [0.3, 0.2], "none": [0.2, 0.6]},
    ...                  index=["Sst", "Vip"])
    >>> ax = class_composition(c, ax)
    >>> [round(float(p.get_width()), 2) for p in ax.patches]
    [0.5, 0.2, 0.3, 0.2, 0.2, 0.6]
    """
    check_ax(ax)
    comp = _frame(composition, "composition").fillna(0.0)
    if order is not None:
        missing = [o for o in order if o not in comp.index]
        if missing:
            raise ValueError(f"order names groups not in composition: {missing}")
        comp = comp.loc[list(order)]
    if ((comp < 0) | (comp > 1)).to_numpy().any():
        raise ValueError("composition must hold fractions in [0, 1]")
    sums = comp.sum(axis=1)
    if not np.allclose(sums, 1.0, atol=0.01):
        bad = sums[~np.isclose(sums, 1.0, atol=0.01)]
        raise ValueError(f"composition rows must sum to 1; {bad.round(3).to_dict()}")
    cols = _class_colors(list(comp.columns), colors)
    y = np.arange(len(comp))
    left = np.zeros(len(comp))
    for cls in comp.columns:
        w = comp[cls].to_numpy()
        ax.barh(y, w, left=left, color=cols[cls], edgecolor="white", lw=0.5, label=str(cls))
        left += w
    ax.set_yticks(y, [str(i) for i in comp.index])
    ax.invert_yaxis()
    ax.set_xlim(0, 1)
    ax.set_xlabel(xlabel)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=SMALL_FONT, frameon=False,
              title="class", title_fontsize=SMALL_FONT)
    despine(ax)
    return ax


def _class_colors(classes: list[Any], colors: dict[Any, str] | None) -> dict[Any, str]:
    named = [c for c in classes if str(c).lower() not in BACKGROUND_CLASSES]
    out = {c: PALETTE[i % len(PALETTE)] for i, c in enumerate(named)}
    out.update({c: BACKGROUND_CLASSES[str(c).lower()] for c in classes if c not in out})
    return {**out, **(colors or {})}


DECODING_COLUMNS = ["group", "accuracy", "ci_low", "ci_high", "chance"]


def decoding_accuracy(table: pd.DataFrame, ax: Axes, *, color: str = MAIN) -> Axes:
    """Decoding accuracy per group with its interval, against each group's chance level.

    Parameters
    ----------
    table : DataFrame
        Columns ``group``, ``accuracy``, ``ci_low``, ``ci_high``, ``chance``, all in [0, 1]
        (e.g. natural-scene identity decoded per Cre line × area; chance 1/118).
    ax : Axes
    color : str
        Colour of the points and error bars; chance is a dashed grey tick per group.

    Returns
    -------
    Axes

    Examples
    --------
    >>> import pandas as pd, matplotlib
    >>> matplotlib.use("Agg")
    >>> import matplotlib.pyplot as plt
    >>> fig, ax = plt.subplots()
    >>> t = pd.DataFrame({"group": ["Sst VISp", "Vip VISp"], "accuracy": [0.6, 0.3],
    ...                   "ci_low": [0.5, 0.2], "ci_high": [0.7, 0.4], "chance": [0.125, 0.125]})
    >>> ax = decoding_accuracy(t, ax)
    >>> ax.get_ylabel()
    'accuracy'
    """
    check_ax(ax)
    t = check_columns(table, "table", DECODING_COLUMNS)
    if t.empty:
        raise ValueError("table is empty")
    vals = {c: float_array(t[c], f"table.{c}", ndim=1) for c in DECODING_COLUMNS[1:]}
    for c, v in vals.items():
        if ((v < 0) | (v > 1)).any():
            raise ValueError(f"table.{c} must be in [0, 1]; got {v[(v < 0) | (v > 1)][:3].tolist()}")
    acc, lo, hi = vals["accuracy"], vals["ci_low"], vals["ci_high"]
    if ((lo > acc) | (hi < acc)).any():
        raise ValueError("table must have ci_low <= accuracy <= ci_high in every row")
    x = np.arange(len(t), dtype=float)
    yerr = np.vstack([np.nan_to_num(acc - lo), np.nan_to_num(hi - acc)])
    ax.errorbar(x, acc, yerr=yerr, fmt="o", color=color, ms=6, capsize=4, lw=1.5,
                label="accuracy (interval)")
    ax.hlines(vals["chance"], x - 0.3, x + 0.3, colors="0.3", linestyles="--", lw=1.5,
              label="chance", gid="chance")
    _group_ticks(ax, x, [str(g) for g in t["group"]])
    ax.set_xlim(-0.6, len(t) - 0.4)
    ax.set_ylim(0, 1)
    ax.set_ylabel("accuracy")
    ax.legend(loc="lower right", bbox_to_anchor=(1.0, 1.0), ncol=2, fontsize=SMALL_FONT,
              frameon=False, borderaxespad=0.2)
    despine(ax)
    return ax
