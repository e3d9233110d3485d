"""Figures of a :class:`brainobs.population.Comparison`: what ``brainobs compare --plot``
and the report draw."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from matplotlib.axes import Axes

from brainobs.plot._check import check_ax, check_columns
from brainobs.plot.population import metric_by_group
from brainobs.plot.style import SMALL_FONT, despine, group_colors

FRACTION_COLUMNS = ["group", "fraction", "ci_low", "ci_high", "n_cells"]


def fraction_by_group(groups: pd.DataFrame, ax: Axes, *, test_text: str | None = None,
                      ylabel: str = "fraction of cells") -> Axes:
    """Bars of a fraction per group with its interval; the tick labels give each n.

    Parameters
    ----------
    groups : DataFrame
        Columns ``group``, ``fraction``, ``ci_low``, ``ci_high``, ``n_cells``
        (``Comparison.groups`` of a boolean metric).
    ax : Axes
    test_text : str, optional
        The omnibus test, written on the axes.

    Returns
    -------
    Axes

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import matplotlib.pyplot as plt
    >>> fig, ax = plt.subplots()
    >>> g = pd.DataFrame({"group": ["a", "b"], "fraction": [0.2, 0.6], "ci_low": [0.1, 0.5],
    ...                   "ci_high": [0.3, 0.7], "n_cells": [50, 40]})
    >>> [round(float(p.get_height()), 2) for p in fraction_by_group(g, ax).patches]
    [0.2, 0.6]
    """
    check_ax(ax)
    g = check_columns(groups, "groups", FRACTION_COLUMNS)
    if g.empty:
        raise ValueError("groups is empty: nothing to draw")
    x = np.arange(len(g))
    colors = group_colors(g["group"].tolist())
    frac = g["fraction"].to_numpy(dtype=float)
    ax.bar(x, frac, color=[colors[k] for k in g["group"]], width=0.7)
    lo = np.clip(frac - g["ci_low"].to_numpy(dtype=float), 0, None)
    hi = np.clip(g["ci_high"].to_numpy(dtype=float) - frac, 0, None)
    ax.errorbar(x, frac, yerr=np.vstack([lo, hi]), fmt="none", ecolor="black", capsize=3, lw=1)
    ax.set_xticks(x)
    ax.set_xticklabels([f"{k}\n(n={n})" for k, n in zip(g["group"], g["n_cells"], strict=True)],
                       rotation=30 if len(g) > 4 else 0, ha="right" if len(g) > 4 else "center",
                       fontsize=SMALL_FONT)
    ax.set_ylim(0, 1)
    ax.set_ylabel(ylabel)
    if test_text:
        ax.text(0.01, 0.98, test_text, transform=ax.transAxes, va="top", fontsize=SMALL_FONT)
    despine(ax)
    return ax


def comparison(result: Any, table: pd.DataFrame, ax: Axes, *, kind: str = "violin") -> Axes:
    """Draw a :class:`~brainobs.population.Comparison`: bars with intervals for a fraction,
    violins (or ECDFs) of the cells it used for a continuous metric; the omnibus test is
    written on the axes.

    ``table`` is the cell table the comparison was computed from (its per-cell values are
    re-selected with the comparison's population: groups it kept, cells with a value and,
    for selectivity metrics, the responsive cells).
    """
    check_ax(ax)
    text = result.omnibus_text()
    if result.kind == "fraction":
        fraction_by_group(result.groups, ax, test_text=text, ylabel=f"fraction: {result.metric}")
        ax.set_title(result.population, fontsize=SMALL_FONT)
        return ax
    from brainobs.population.compare import used_cells

    cells = used_cells(result, table)
    names = result.groups["group"].tolist()
    metric_by_group(cells[result.metric].to_numpy(dtype=float), cells["__group__"].to_numpy(),
                    ax, kind=kind, order=names, test_text=text, ylabel=result.metric)
    ax.set_title(result.population, fontsize=SMALL_FONT)
    return ax


__all__ = ["comparison", "fraction_by_group"]
