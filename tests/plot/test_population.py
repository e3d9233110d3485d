import matplotlib.colors as mcolors
import numpy as np
import pandas as pd
import pytest

from brainobs import plot
from brainobs.plot.style import GREY, PALETTE


def _hex(c):
    return mcolors.to_hex(c)


@pytest.fixture
def metric():
    values = np.array([0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, np.nan])
    groups = ["Vip", "Vip", "Vip", "Sst", "Sst", "Sst", "Sst", None, "Sst"]
    return values, groups


def test_metric_by_group_violins_with_medians_and_n(ax, metric):
    values, groups = metric
    plot.metric_by_group(values, groups, ax, test_text="Mann–Whitney U=0, p=0.03",
                         ylabel="gOSI")
    assert [t.get_text() for t in ax.get_xticklabels()] == ["Sst\n(n=4)", "Vip\n(n=3)"]
    (medians,) = [c for c in ax.collections if c.get_gid() == "medians"]
    mids = [seg[:, 1].mean() for seg in medians.get_segments()]
    assert mids == pytest.approx([0.55, 0.2])
    assert [seg[:, 0].mean() for seg in medians.get_segments()] == [0.0, 1.0]
    (note,) = [t for t in ax.texts if t.get_gid() == "test-text"]
    assert note.get_text() == "Mann–Whitney U=0, p=0.03\n2 cells without a value left out"
    bodies = [c for c in ax.collections if c.get_gid() == "violin"]
    assert len(bodies) == 2
    assert _hex(bodies[0].get_facecolor()[0]) == PALETTE[0].lower()
    assert ax.get_ylabel() == "gOSI"


def test_metric_by_group_order_and_degenerate_groups(ax):
    values = [1.0, 1.0, 2.0, 3.0, 4.0]
    groups = ["a", "a", "b", "c", "c"]
    plot.metric_by_group(values, groups, ax, order=["c", "a", "b", "d"])
    assert [t.get_text() for t in ax.get_xticklabels()] == [
        "c\n(n=2)", "a\n(n=2)", "b\n(n=1)", "d\n(n=0)"]
    # "a" (no spread) and "b" (one value) are drawn as points, not violins
    points = [c for c in ax.collections if c.get_gid() == "points"]
    assert [c.get_offsets()[:, 1].tolist() for c in points] == [[1.0, 1.0], [2.0]]
    assert [c.get_offsets()[0, 0] for c in points] == [1.0, 2.0]
    assert len([c for c in ax.collections if c.get_gid() == "violin"]) == 1


def test_metric_by_group_ecdf(ax, metric):
    values, groups = metric
    plot.metric_by_group(values, groups, ax, kind="ecdf", ylabel="gOSI")
    sst, vip = ax.lines
    np.testing.assert_array_equal(sst.get_xdata(), [0.4, 0.5, 0.6, 0.7])
    np.testing.assert_array_equal(sst.get_ydata(), [0.25, 0.5, 0.75, 1.0])
    np.testing.assert_array_equal(vip.get_ydata(), [1 / 3, 2 / 3, 1.0])
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["Sst (n=4)", "Vip (n=3)"]
    assert ax.get_xlabel() == "gOSI"


def test_metric_by_group_validation(ax):
    with pytest.raises(ValueError, match="kind must be 'violin' or 'ecdf'; got 'box'"):
        plot.metric_by_group([1.0], ["a"], ax, kind="box")
    with pytest.raises(ValueError, match="groups must be 1-D with one label per value"):
        plot.metric_by_group([1.0, 2.0], ["a"], ax)
    with pytest.raises(ValueError, match="values must be numeric"):
        plot.metric_by_group(["x"], ["a"], ax)
    with pytest.raises(ValueError, match=r"groups must be 1-D .* got shape \(1, 2\)"):
        plot.metric_by_group([1.0, 2.0], [["a", "b"]], ax)
    with pytest.raises(ValueError, match="order repeats a group"):
        plot.metric_by_group([1.0], ["a"], ax, order=["a", "a"])


def test_metric_by_group_rotates_long_labels(ax):
    names = ["Cux2-CreERT2", "Rorb-IRES2-Cre", "Scnn1a-Tg3-Cre", "Sst-IRES-Cre", "Vip-IRES-Cre"]
    values = np.tile([0.1, 0.5, 0.9], 5)
    groups = np.repeat(names, 3)
    plot.metric_by_group(values, groups, ax)
    labels = ax.get_xticklabels()
    assert labels[0].get_text() == "Cux2-CreERT2 (n=3)" and labels[0].get_rotation() == 30


def test_fraction_heatmap_values_annotations_and_no_data(ax):
    f = pd.DataFrame({"VISp": [0.86, 0.5], "VISl": [0.4, np.nan]}, index=["Sst", "Vip"])
    n = pd.DataFrame({"VISl": [30, 0], "VISp": [120, 10]}, index=["Sst", "Vip"])  # other order
    plot.fraction_heatmap(f, ax, counts=n)
    arr = ax.images[0].get_array()
    np.testing.assert_array_equal(arr.filled(np.nan), f.to_numpy())
    assert arr.mask[1, 1] and not arr.mask[0, 0]
    assert [t.get_text() for t in ax.texts] == [
        "0.86\n(n=120)", "0.40\n(n=30)", "0.50\n(n=10)", "no data"]
    (hatch,) = [p for p in ax.patches if p.get_gid() == "no-data"]
    assert hatch.get_xy() == (0.5, 0.5) and hatch.get_hatch() == "///"
    assert [t.get_text() for t in ax.get_xticklabels()] == ["VISp", "VISl"]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["Sst", "Vip"]
    assert ax.get_xlabel() == "area" and ax.get_ylabel() == "Cre line"
    assert ax.images[0].get_clim() == (0.0, 1.0)
    assert ax.figure.axes[1].get_ylabel() == "fraction responsive"


def test_fraction_heatmap_without_counts_or_annotations(ax):
    f = pd.DataFrame({"VISp": [0.25]}, index=["Sst"])
    f.index.name, f.columns.name = "cre", "region"
    plot.fraction_heatmap(f, ax, colorbar=False)
    assert [t.get_text() for t in ax.texts] == ["0.25"]
    assert ax.get_xlabel() == "region" and ax.get_ylabel() == "cre"
    assert len(ax.figure.axes) == 1
    ax.clear()
    plot.fraction_heatmap(f, ax, annotate=False, colorbar=False)
    assert not list(ax.texts)


def test_fraction_heatmap_validation(ax):
    f = pd.DataFrame({"VISp": [0.5]}, index=["Sst"])
    with pytest.raises(ValueError, match="fractions must be a pandas DataFrame"):
        plot.fraction_heatmap(np.ones((2, 2)), ax)
    with pytest.raises(ValueError, match="counts must have the rows and columns of fractions"):
        plot.fraction_heatmap(f, ax, counts=pd.DataFrame({"VISl": [3]}, index=["Sst"]))
    plot.fraction_heatmap(f, ax, counts=pd.DataFrame({"VISp": [np.nan]}, index=["Sst"]))
    assert ax.texts[-1].get_text() == "0.50"  # unknown n is left out, not invented
    with pytest.raises(ValueError, match="vmin must be < vmax"):
        plot.fraction_heatmap(f, ax, vmin=1, vmax=0)


def test_class_composition_bar_widths_are_the_fractions(ax):
    c = pd.DataFrame({"DG": [0.5, 0.2], "none": [0.2, 0.6], "DG+NS": [0.3, 0.2]},
                     index=["Sst", "Vip"])
    plot.class_composition(c, ax)
    widths = np.array([p.get_width() for p in ax.patches]).reshape(3, 2)  # class × group
    np.testing.assert_allclose(widths, c.to_numpy().T)
    lefts = np.array([p.get_x() for p in ax.patches]).reshape(3, 2)
    np.testing.assert_allclose(lefts, [[0, 0], [0.5, 0.2], [0.7, 0.8]])
    colors = [_hex(p.get_facecolor()) for p in ax.patches[::2]]
    assert colors == [PALETTE[0].lower(), GREY.lower(), PALETTE[1].lower()]
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["DG", "none", "DG+NS"]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["Sst", "Vip"]
    assert ax.yaxis_inverted()  # first group on top
    assert ax.get_xlim() == (0.0, 1.0)


def test_class_composition_order_and_validation(ax):
    c = pd.DataFrame({"DG": [1.0, 0.5], "none": [0.0, 0.5]}, index=["Sst", "Vip"])
    plot.class_composition(c, ax, order=["Vip", "Sst"])
    assert [t.get_text() for t in ax.get_yticklabels()] == ["Vip", "Sst"]
    with pytest.raises(ValueError, match="composition rows must sum to 1"):
        plot.class_composition(c * 0.5, ax)
    with pytest.raises(ValueError, match=r"order names groups not in composition: \['Pvalb'\]"):
        plot.class_composition(c, ax, order=["Pvalb"])
    with pytest.raises(ValueError, match=r"composition must hold fractions in \[0, 1\]"):
        plot.class_composition(c.assign(DG=[1.5, 0.5], none=[-0.5, 0.5]), ax)


def test_decoding_accuracy_error_bars_and_chance(ax):
    t = pd.DataFrame({"group": ["Sst VISp", "Vip VISp", "Cux2 VISl"],
                      "accuracy": [0.6, 0.3, 0.45], "ci_low": [0.5, 0.25, 0.3],
                      "ci_high": [0.7, 0.4, 0.5], "chance": [1 / 118, 1 / 118, 0.125]})
    plot.decoding_accuracy(t, ax)
    (cont,) = ax.containers
    np.testing.assert_array_equal(cont.lines[0].get_xdata(), [0, 1, 2])
    np.testing.assert_array_equal(cont.lines[0].get_ydata(), t["accuracy"])
    segs = cont.lines[2][0].get_segments()
    np.testing.assert_allclose([s[:, 1] for s in segs], t[["ci_low", "ci_high"]].to_numpy())
    (chance,) = [c for c in ax.collections if c.get_gid() == "chance"]
    cs = chance.get_segments()
    np.testing.assert_allclose([s[0, 1] for s in cs], t["chance"])
    np.testing.assert_allclose([s[:, 0].mean() for s in cs], [0, 1, 2])
    assert chance.get_linestyle()[0][1] is not None  # dashed
    assert ax.get_ylim() == (0.0, 1.0) and ax.get_ylabel() == "accuracy"
    assert [x.get_text() for x in ax.get_xticklabels()] == ["Sst VISp", "Vip VISp", "Cux2 VISl"]
    assert sorted(x.get_text() for x in ax.get_legend().get_texts()) == [
        "accuracy (interval)", "chance"]


def test_decoding_accuracy_validation(ax):
    ok = {"group": ["a"], "accuracy": [0.5], "ci_low": [0.4], "ci_high": [0.6], "chance": [0.1]}
    with pytest.raises(ValueError, match=r"table lacks column\(s\) \['chance'\]"):
        plot.decoding_accuracy(pd.DataFrame({k: v for k, v in ok.items() if k != "chance"}), ax)
    with pytest.raises(ValueError, match=r"table.accuracy must be in \[0, 1\]"):
        plot.decoding_accuracy(pd.DataFrame({**ok, "accuracy": [55.0]}), ax)
    with pytest.raises(ValueError, match="ci_low <= accuracy <= ci_high"):
        plot.decoding_accuracy(pd.DataFrame({**ok, "ci_low": [0.55]}), ax)
    with pytest.raises(ValueError, match="table is empty"):
        plot.decoding_accuracy(pd.DataFrame({k: [] for k in ok}), ax)


def test_metric_by_group_without_any_value_draws_nothing_quietly(ax):
    plot.metric_by_group([np.nan, np.nan], ["a", "b"], ax, kind="ecdf")
    assert not ax.lines and ax.get_legend() is None
    assert ax.texts[0].get_text() == "2 cells without a value left out"
