import matplotlib.colors as mcolors
import numpy as np
import pytest

from brainobs import plot
from brainobs.plot import style


def test_palette_is_okabe_ito():
    okabe_ito = {"#000000", "#E69F00", "#56B4E9", "#009E73", "#F0E442", "#0072B2", "#D55E00",
                 "#CC79A7"}
    assert len(plot.PALETTE) == 8 and set(plot.PALETTE) == okabe_ito
    assert all(mcolors.is_color_like(c) for c in plot.PALETTE)


def test_group_colors_stable_distinct_and_cycling():
    names = [f"g{i}" for i in range(10)]
    colors = plot.group_colors(names)
    assert list(colors) == names
    assert len(set(colors[n] for n in names[:8])) == 8
    assert colors["g8"] == colors["g0"] and colors["g9"] == colors["g1"]
    assert plot.group_colors(names) == colors
    assert plot.group_colors(["b", "a", "b"]) == {"b": plot.PALETTE[0], "a": plot.PALETTE[1]}


def test_synthetic_badge_and_despine(ax):
    text = plot.synthetic_badge(ax)
    assert text.get_text() == "synthetic data" and text in ax.texts
    assert text.get_fontsize() >= style.SMALL_FONT
    assert text.get_transform() == ax.transAxes
    assert plot.synthetic_badge(ax, "simulated", loc="upper left").get_position() == (0.01, 0.99)
    with pytest.raises(ValueError, match="loc"):
        plot.synthetic_badge(ax, loc="middle")
    assert plot.despine(ax) is ax
    assert not ax.spines["top"].get_visible() and not ax.spines["right"].get_visible()
    assert ax.spines["left"].get_visible()
    with pytest.raises(ValueError, match="sides"):
        plot.despine(ax, ["upper"])


def test_functions_reject_non_axes():
    with pytest.raises(ValueError, match="ax must be a matplotlib Axes; got ndarray"):
        plot.running_speed([0, 1], [0, 1], np.zeros(2))
    with pytest.raises(ValueError, match="ax must be a matplotlib Axes"):
        plot.synthetic_badge(None)
