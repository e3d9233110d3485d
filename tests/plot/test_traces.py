import numpy as np
import pandas as pd
import pytest

from brainobs import plot
from brainobs.plot.traces import nice_length, stack_spacing


def test_default_spacing_never_overlaps(ax):
    rng = np.random.default_rng(3)
    t = np.arange(400) / 30
    # different baselines and amplitudes, one huge transient, NaN gaps
    y = rng.normal(0, 0.1, (5, 400)) + np.array([[0.0], [2.0], [-1.0], [0.5], [0.0]])
    y[2, 100] = 6.0
    y[3, 50:60] = np.nan
    plot.stacked_traces(t, y, ax)
    shifted = [line.get_ydata() for line in ax.lines]
    assert len(shifted) == 5
    for upper, lower in zip(shifted[:-1], shifted[1:], strict=True):
        assert np.nanmin(upper) >= np.nanmax(lower)


def test_stack_spacing_is_the_tightest_even_offset():
    y = np.array([[0.0, 1.0], [0.0, 3.0], [1.0, 2.0]])
    # pairs: (0, 1) need max(row1) - min(row0) = 3; (1, 2) need 2 - 0 = 2
    assert stack_spacing(y, gap=0.0) == 3.0
    assert stack_spacing(y) == pytest.approx(3.15)
    assert stack_spacing(np.zeros((3, 4))) == 1.0
    assert stack_spacing(np.full((2, 4), np.nan)) == 1.0


def test_scale_bar_value_is_labelled(ax):
    t = np.arange(100) / 10
    y = np.vstack([np.linspace(0, 1, 100)] * 3)  # need = 1 per pair: spacing 1.05
    plot.stacked_traces(t, y, ax)
    (bar,) = [c for c in ax.collections if c.get_gid() == "scale-bar"]
    (seg,) = bar.get_segments()
    assert seg[1, 1] - seg[0, 1] == pytest.approx(0.5)
    assert seg[0, 0] > t[-1]  # right of the data
    (label,) = [t for t in ax.texts if t.get_gid() == "scale-bar-label"]
    assert label.get_text() == "0.5\ndF/F"
    assert label.get_fontsize() >= 8


def test_scale_bar_follows_the_unit_and_can_be_off(ax):
    t = np.arange(10.0)
    plot.stacked_traces(t, np.zeros((2, 10)), ax, spacing=40.0, ylabel="%dF/F")
    assert [t.get_text() for t in ax.texts] == ["20\n%dF/F"]
    ax.clear()
    plot.stacked_traces(t, np.zeros((2, 10)), ax, scale_bar=False)
    assert not ax.collections and not ax.texts


def test_nice_length():
    assert [nice_length(x) for x in (0.37, 0.5, 0.99, 7.0, 25.0)] == [0.2, 0.5, 0.5, 5.0, 20.0]


def test_epochs_shaded_one_colour_per_stimulus(ax):
    t = np.arange(0, 100, 0.5)
    epochs = pd.DataFrame({
        "stimulus": ["drifting_gratings", "spontaneous", "drifting_gratings", "natural_movie_three",
                     "natural_scenes"],
        "start_time": [0.0, 30.0, 40.0, 70.0, 500.0],  # the last is outside the traces
        "end_time": [30.0, 40.0, 70.0, 99.0, 600.0],
    })
    plot.stacked_traces(t, np.zeros((2, t.size)), ax, epochs=epochs)
    spans = [p for p in ax.patches if p.get_gid() == "epoch"]
    assert len(spans) == 4
    colors = {tuple(p.get_facecolor()[:3]) for p in spans}
    assert len(colors) == 3
    assert spans[0].get_facecolor() == spans[2].get_facecolor()
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend == ["drifting_gratings", "spontaneous", "natural_movie_three"]
    extents = [(s.get_x(), s.get_x() + s.get_width()) for s in spans]
    assert extents == [(0.0, 30.0), (30.0, 40.0), (40.0, 70.0), (70.0, 99.0)]
    assert all(s.get_zorder() < ax.lines[0].get_zorder() for s in spans)  # behind the traces


def test_epochs_validation(ax):
    t = np.arange(10.0)
    with pytest.raises(ValueError, match=r"epochs lacks column\(s\) \['end_time'\]"):
        plot.stacked_traces(t, np.zeros((1, 10)), ax,
                            epochs=pd.DataFrame({"stimulus": ["a"], "start_time": [0.0]}))
    bad = pd.DataFrame({"stimulus": ["a"], "start_time": [5.0], "end_time": [1.0]})
    with pytest.raises(ValueError, match="end_time >= start_time"):
        plot.stacked_traces(t, np.zeros((1, 10)), ax, epochs=bad)
    with pytest.raises(ValueError, match="epochs must be a pandas DataFrame"):
        plot.stacked_traces(t, np.zeros((1, 10)), ax, epochs=[(0, 1)])
    with pytest.raises(ValueError, match="spacing"):
        plot.stacked_traces(t, np.zeros((1, 10)), ax, spacing=0)


def test_running_speed(ax):
    t = np.arange(50) / 30
    speed = np.linspace(0, 20, 50)
    assert plot.running_speed(t, speed, ax) is ax
    np.testing.assert_array_equal(ax.lines[0].get_ydata(), speed)
    assert ax.get_ylabel() == "running speed (cm/s)" and ax.get_xlabel() == "time (s)"
    with pytest.raises(ValueError, match="speed has 49 values but time has 50"):
        plot.running_speed(t, speed[:-1], ax)
    with pytest.raises(ValueError, match="speed must be numeric"):
        plot.running_speed(t, ["fast"] * 50, ax)


def test_trial_raster_shows_trials_in_order_with_onset(ax):
    time = np.arange(-10, 20) / 10
    r = np.arange(4 * 30, dtype=float).reshape(4, 30)
    plot.trial_raster(r, time, ax, order=[2, 0, 3, 1], colorbar=False)
    np.testing.assert_array_equal(ax.images[0].get_array(), r[[2, 0, 3, 1]])
    (onset,) = [line for line in ax.lines if line.get_gid() == "onset"]
    assert onset.get_xdata()[0] == 0.0
    left, right, bottom, top = ax.images[0].get_extent()
    assert left == pytest.approx(-1.05) and right == pytest.approx(1.95)
    assert (bottom, top) == (3.5, -0.5)
    assert ax.get_xlabel() == "time from onset (s)" and ax.get_ylabel() == "trial"


def test_trial_raster_colorbar_and_validation(ax):
    time = np.arange(5.0)
    plot.trial_raster(np.ones((3, 5)), time, ax, onset=1.0, ylabel="trial (by direction)")
    assert len(ax.figure.axes) == 2
    assert ax.figure.axes[1].get_ylabel() == "dF/F"
    with pytest.raises(ValueError, match="to match time"):
        plot.trial_raster(np.ones((3, 4)), time, ax)
    with pytest.raises(ValueError, match="increasing"):
        plot.trial_raster(np.ones((3, 5)), time[::-1], ax)
    with pytest.raises(ValueError, match="order must be a permutation of range"):
        plot.trial_raster(np.ones((3, 5)), time, ax, order=[0, 0, 1])
    with pytest.raises(ValueError, match="responses must be 2-D"):
        plot.trial_raster(np.ones(5), time, ax)
