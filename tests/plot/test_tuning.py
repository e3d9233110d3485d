import matplotlib.colors as mcolors
import numpy as np
import pytest

from brainobs import plot
from brainobs.plot.style import HIGHLIGHT, MAIN


def test_direction_polar_curve_is_closed(polar_ax):
    d = np.arange(0, 360, 45)
    r = np.arange(1.0, 9.0)
    sem = np.full(8, 0.5)
    out = plot.direction_tuning_polar(r[::-1], d[::-1], polar_ax, sem=sem)  # any input order
    assert out is polar_ax
    (curve,) = [ln for ln in polar_ax.lines if ln.get_gid() == "tuning-curve"]
    theta, rr = curve.get_xdata(), curve.get_ydata()
    assert len(theta) == 9
    np.testing.assert_allclose(theta[:8], np.deg2rad(d))
    np.testing.assert_array_equal(rr, np.r_[r, r[0]])
    assert theta[0] == theta[-1] and rr[0] == rr[-1]
    assert polar_ax.containers  # the error bars
    (bars,) = polar_ax.containers
    segs = bars.lines[2][0].get_segments()
    assert len(segs) == 8 and np.allclose([s[1, 1] - s[0, 1] for s in segs], 1.0)


def test_direction_polar_needs_a_polar_axes(ax, polar_ax):
    with pytest.raises(ValueError, match="ax must be a polar Axes"):
        plot.direction_tuning_polar([1, 2], [0, 90], ax)
    with pytest.raises(ValueError, match="responses has 3 values but directions has 2"):
        plot.direction_tuning_polar([1, 2, 3], [0, 90], polar_ax)
    with pytest.raises(ValueError, match="sem must have the shape"):
        plot.direction_tuning_polar([1, 2], [0, 90], polar_ax, sem=[1.0])
    with pytest.raises(ValueError, match="sem must be >= 0"):
        plot.direction_tuning_polar([1, 2], [0, 90], polar_ax, sem=[1.0, -1.0])


def test_tf_tuning_log2_axis_with_tf_ticks(ax):
    tf = [1, 2, 4, 8, 15]
    r = [1.0, 3.0, 2.0, 1.0, 0.5]
    sem = [0.1, 0.2, 0.3, 0.4, 0.5]
    plot.tf_tuning(r, tf, ax, sem=sem)
    assert ax.get_xscale() == "log" and ax.xaxis.get_transform().base == 2
    assert [float(v) for v in ax.get_xticks()] == [1.0, 2.0, 4.0, 8.0, 15.0]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["1", "2", "4", "8", "15"]
    (cont,) = ax.containers
    np.testing.assert_array_equal(cont.lines[0].get_ydata(), r)
    segs = cont.lines[2][0].get_segments()
    np.testing.assert_allclose([s[1, 1] - s[0, 1] for s in segs], 2 * np.array(sem))
    assert ax.get_xlabel() == "temporal frequency (Hz)"
    assert "%dF/F" in ax.get_ylabel()
    with pytest.raises(ValueError, match="temporal_frequencies must be > 0"):
        plot.tf_tuning([1, 2], [0, 1], ax)


def test_orientation_sf_heatmap_shows_the_input(ax):
    ori = np.arange(0, 180, 30)
    sf = np.array([0.02, 0.04, 0.08, 0.16, 0.32])
    r = np.arange(30.0).reshape(6, 5)
    plot.orientation_sf_heatmap(r, ori, sf, ax)
    np.testing.assert_array_equal(ax.images[0].get_array(), r)
    assert [t.get_text() for t in ax.get_xticklabels()] == ["0.02", "0.04", "0.08", "0.16", "0.32"]
    assert [t.get_text() for t in ax.get_yticklabels()][:2] == ["0°", "30°"]
    assert ax.get_xlabel() == "spatial frequency (cycles/deg)"
    cbar_ax = ax.figure.axes[1]
    assert "%dF/F" in cbar_ax.get_ylabel()
    with pytest.raises(ValueError, match=r"responses must be \(n_orientations, n_sf\) = \(6, 5\)"):
        plot.orientation_sf_heatmap(r.T, ori, sf, ax)


def test_orientation_sf_heatmap_without_colorbar(ax):
    plot.orientation_sf_heatmap(np.ones((2, 2)), [0, 90], [0.04, 0.08], ax, colorbar=False)
    assert len(ax.figure.axes) == 1


def test_image_responses_highlight_the_preferred_image(ax):
    m = np.linspace(0, 1, 118)
    m[42] = 5.0
    plot.image_responses(m, ax, sem=np.full(118, 0.1))
    bars = [p for p in ax.patches]
    assert len(bars) == 118
    np.testing.assert_allclose([b.get_height() for b in bars], m)
    colors = [mcolors.to_hex(b.get_facecolor()) for b in bars]
    assert colors[42] == HIGHLIGHT.lower() and colors.count(MAIN.lower()) == 117
    (label,) = [t for t in ax.texts if t.get_gid() == "preferred"]
    assert label.get_text() == "image 42" and label.xy == (42, pytest.approx(5.1))


def test_image_responses_given_preferred_and_validation(ax):
    plot.image_responses(np.arange(5.0), ax, preferred=1)
    assert ax.texts[0].get_text() == "image 1"
    with pytest.raises(ValueError, match=r"preferred must be an image index in \[0, 5\)"):
        plot.image_responses(np.arange(5.0), ax, preferred=5)
    with pytest.raises(ValueError, match="means must hold at least one finite value"):
        plot.image_responses(np.full(3, np.nan), ax)


def test_on_off_maps_share_one_colour_scale(ax):
    on = np.zeros((4, 6))
    off = np.zeros((4, 6))
    on[1, 2], off[2, 3] = 3.0, 1.0
    plot.on_off_maps(on, off, ax)
    a, b = ax.images
    np.testing.assert_array_equal(a.get_array(), on)
    np.testing.assert_array_equal(b.get_array(), off)
    assert a.get_clim() == b.get_clim() == (0.0, 3.0)
    assert a.get_extent()[1] < b.get_extent()[0]  # side by side, not overlapping
    assert [t.get_text() for t in ax.texts] == ["ON", "OFF"]
    with pytest.raises(ValueError, match="one shape"):
        plot.on_off_maps(on, off[:2], ax)
