import matplotlib.colors as mcolors
import numpy as np
import pandas as pd
import pytest

from brainobs import plot
from brainobs.plot.style import GREY, HIGHLIGHT, MAIN


def _tick_values(axis):
    return [float(v) for v in axis.get_majorticklocs()]


def _same_color(a, b):
    return mcolors.to_hex(a) == mcolors.to_hex(b)


def test_preferred_image_histogram_integer_ticks_and_top_image(ax):
    plot.preferred_image_histogram(np.array([5, 5, 5, 9, 9, 1]), ax, n_images=12)
    heights = [p.get_height() for p in ax.patches]
    assert heights == [0, 1, 0, 0, 0, 3, 0, 0, 0, 2, 0, 0]
    ticks = _tick_values(ax.yaxis)
    assert ticks and all(t == int(t) for t in ticks)
    (note,) = [t for t in ax.texts if t.get_gid() == "top-images"]
    assert note.get_text() == "top: image 5 (3 cells)"
    assert _same_color(ax.patches[5].get_facecolor(), HIGHLIGHT)
    assert _same_color(ax.patches[9].get_facecolor(), MAIN)


def test_preferred_image_histogram_reports_ties(ax):
    plot.preferred_image_histogram([3, 7, 3, 7, 100], ax)
    (note,) = [t for t in ax.texts if t.get_gid() == "top-images"]
    assert note.get_text() == "top: images 3, 7 (2 cells each)"
    highlighted = [i for i, p in enumerate(ax.patches) if _same_color(p.get_facecolor(), HIGHLIGHT)]
    assert highlighted == [3, 7]


def test_preferred_image_histogram_many_ties_and_empty(ax):
    plot.preferred_image_histogram(np.arange(10), ax, n_images=20)
    assert ax.texts[0].get_text() == "top: images 0, 1, 2, 3, 4, 5, 6, 7 and 2 more (1 cell each)"
    ax.clear()
    plot.preferred_image_histogram(np.array([np.nan]), ax)
    assert ax.texts[0].get_text() == "no cells"
    with pytest.raises(ValueError, match="n_images"):
        plot.preferred_image_histogram([1], ax, n_images=0)


def test_dsi_histogram_layers_counts_and_threshold(ax):
    dsi = np.array([0.02, 0.12, 0.13, 0.55, 0.9, 0.91, np.nan])
    resp = np.array([True, False, True, True, False, True, True])
    plot.dsi_histogram(dsi, ax, responsive=resp)
    resp_layer, other_layer = ax.containers
    edges = np.round(np.arange(0, 1.0001, 0.05), 10)
    expect_resp = np.histogram([0.02, 0.13, 0.55, 0.91], edges)[0]
    expect_other = np.histogram([0.12, 0.9], edges)[0]
    np.testing.assert_array_equal([p.get_height() for p in resp_layer], expect_resp)
    np.testing.assert_array_equal([p.get_height() for p in other_layer], expect_other)
    assert _same_color(resp_layer[0].get_facecolor(), MAIN)
    assert _same_color(other_layer[0].get_facecolor(), GREY)
    (line,) = [ln for ln in ax.lines if ln.get_gid() == "threshold"]
    assert list(line.get_xdata()) == [0.5, 0.5] and line.get_linestyle() == "--"
    legend = ax.get_legend()
    assert [t.get_text() for t in legend.get_texts()] == [
        "responsive (n=4)", "not responsive (n=2)", "DSI > 0.5: 2 of 4 responsive"]
    assert legend.get_title().get_text() == "1 cells without a DSI left out"
    assert all(t == int(t) for t in _tick_values(ax.yaxis))


def test_dsi_histogram_covers_published_values_above_one(ax):
    dsi = np.array([0.2, 1.4, 1.9, 3.5, 7.0])
    plot.dsi_histogram(dsi, ax, threshold=0.3)
    assert ax.get_xlim() == pytest.approx((0.0, 2.0))
    (layer,) = ax.containers
    heights = np.array([p.get_height() for p in layer])
    assert heights.sum() == 5 and heights[-1] == 2  # 3.5 and 7.0 drawn in the last bin
    assert ax.get_legend().get_title().get_text() == "2 cells with DSI > 2 drawn at 2"
    assert [t.get_text() for t in ax.get_legend().get_texts()] == [
        "all cells (n=5)", "DSI > 0.3: 4 of 5 cells"]
    ax.clear()
    plot.dsi_histogram(np.array([0.1, 1.3]), ax, bins=4)
    assert ax.get_xlim() == pytest.approx((0.0, 1.3))


def test_dsi_histogram_validation(ax):
    with pytest.raises(ValueError, match="responsive has 1 missing values"):
        plot.dsi_histogram([0.1, 0.2], ax, responsive=pd.array([True, None], dtype="boolean"))
    with pytest.raises(ValueError, match="responsive has 1 values but dsi has 2"):
        plot.dsi_histogram([0.1, 0.2], ax, responsive=[True])
    with pytest.raises(ValueError, match="responsive must be booleans"):
        plot.dsi_histogram([0.1, 0.2], ax, responsive=[1, 0])
    with pytest.raises(ValueError, match="limits"):
        plot.dsi_histogram([0.1], ax, limits=(1, 0))
    with pytest.raises(ValueError, match="dsi must be 1-D"):
        plot.dsi_histogram(np.zeros((2, 2)), ax)
    # a pandas boolean column without NA is fine
    plot.dsi_histogram(pd.Series([0.1, 0.7]), ax, responsive=pd.Series([True, False], dtype="boolean"))
