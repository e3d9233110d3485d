"""Colours and small decorations shared by every figure.

``PALETTE`` is the Okabe–Ito palette (Okabe & Ito 2008), distinguishable with the common
forms of colour blindness; it is ordered so that the first colours contrast most on white.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from matplotlib.axes import Axes
from matplotlib.text import Text

from brainobs.plot._check import check_ax

#: Okabe–Ito colours, hex, in the order :func:`group_colors` hands them out.
PALETTE: tuple[str, ...] = (
    "#0072B2",  # blue
    "#E69F00",  # orange
    "#009E73",  # bluish green
    "#D55E00",  # vermillion
    "#56B4E9",  # sky blue
    "#CC79A7",  # reddish purple
    "#F0E442",  # yellow
    "#000000",  # black
)
#: Grey for "no class", "not responsive" and other background categories.
GREY = "#999999"
#: Main colour of single-series figures, and the highlight colour.
MAIN, HIGHLIGHT = PALETTE[0], PALETTE[3]
#: Smallest font size used by the figures (points), readable at report size.
SMALL_FONT = 8

_CORNERS = {
    "lower right": (0.99, 0.01, "right", "bottom"),
    "lower left": (0.01, 0.01, "left", "bottom"),
    "upper right": (0.99, 0.99, "right", "top"),
    "upper left": (0.01, 0.99, "left", "top"),
}


def group_colors(names: Iterable[Any]) -> dict[Any, str]:
    """One palette colour per distinct name, in order of first appearance.

    The same sequence of names always gets the same colours; past eight names the palette
    cycles, so pass at most eight groups when colour alone must tell them apart.

    Parameters
    ----------
    names : iterable of hashable
        Group names (e.g. Cre lines); repeated names share one colour.

    Returns
    -------
    dict
        ``{name: "#rrggbb"}``.

    Examples
    --------
    >>> group_colors(["Sst", "Vip", "Sst"])
    {'Sst': '#0072B2', 'Vip': '#E69F00'}
    >>> group_colors(range(9))[8] == PALETTE[0]
    True
    """
    out: dict[Any, str] = {}
    for name in names:
        if name not in out:
            out[name] = PALETTE[len(out) % len(PALETTE)]
    return out


def synthetic_badge(ax: Axes, text: str = "synthetic data", *, loc: str = "lower right") -> Text:
    """Write a small grey note in a corner of ``ax`` so that synthetic figures say so.

    Parameters
    ----------
    ax : Axes
    text : str
        The note.
    loc : {"lower right", "lower left", "upper right", "upper left"}
        The corner.

    Returns
    -------
    matplotlib.text.Text
        The note (its gid is ``"synthetic-badge"``).

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import matplotlib.pyplot as plt
    >>> fig, ax = plt.subplots()
    >>> synthetic_badge(ax).get_text()
    'synthetic data'
    """
    check_ax(ax)
    if loc not in _CORNERS:
        raise ValueError(f"loc must be one of {list(_CORNERS)}; got {loc!r}")
    x, y, ha, va = _CORNERS[loc]
    return ax.text(
        x, y, text, transform=ax.transAxes, ha=ha, va=va, fontsize=SMALL_FONT, color="0.4",
        gid="synthetic-badge", zorder=10,
        bbox={"boxstyle": "round,pad=0.2", "facecolor": "white", "edgecolor": "none", "alpha": 0.7},
    )


def despine(ax: Axes, sides: Sequence[str] = ("top", "right")) -> Axes:
    """Hide the given spines (default top and right) and return ``ax``.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import matplotlib.pyplot as plt
    >>> fig, ax = plt.subplots()
    >>> despine(ax).spines["top"].get_visible()
    False
    """
    check_ax(ax)
    for side in sides:
        if side not in ax.spines:
            raise ValueError(f"sides must name spines {list(ax.spines.keys())}; got {side!r}")
        ax.spines[side].set_visible(False)
    return ax
