import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from brainobs import plot  # noqa: E402


@pytest.fixture
def ax():
    fig, ax = plt.subplots()
    yield ax
    plt.close(fig)


def test_max_projection_draws_one_outline_per_mask(ax):
    img = np.zeros((32, 32))
    masks = np.zeros((3, 32, 32), bool)
    masks[0, 5:10, 5:10] = True
    masks[1, 20:23, 20:23] = True
    masks[2, 0:4, 28:32] = True  # touches the image edge: still one closed outline
    out = plot.max_projection(img, ax, masks, scale_um_per_px=None, labels=[11, 12, 13])
    assert out is ax
    outlines = [p for p in ax.patches if p.get_gid() == "roi-outline"]
    assert len(outlines) == 3
    verts = outlines[0].get_path().vertices
    # the contour runs half a pixel outside the mask's pixel centres: x, y in [4.5, 9.5]
    assert verts.min(axis=0) == pytest.approx([4.5, 4.5], abs=0.01)
    assert verts.max(axis=0) == pytest.approx([9.5, 9.5], abs=0.01)
    assert outlines[0].get_linewidth() >= 1.0
    texts = {t.get_text(): t.get_position() for t in ax.texts if t.get_gid() == "roi-label"}
    # centred on the centroid column, just above the top row of the ROI (below at the top edge)
    assert texts == {"11": (7.0, 4.0), "12": (21.0, 19.0), "13": (29.5, 4.0)}


def test_max_projection_skips_empty_masks_and_checks_labels(ax):
    masks = np.zeros((2, 16, 16), bool)
    masks[0, 2:5, 2:5] = True
    plot.max_projection(np.ones((16, 16)), ax, masks=masks, scale_um_per_px=None)
    assert len(ax.patches) == 1
    with pytest.raises(ValueError, match="labels has 1 entries for 2 masks"):
        plot.max_projection(np.ones((16, 16)), ax, masks, labels=[1])
    with pytest.raises(ValueError, match="labels needs masks"):
        plot.max_projection(np.ones((16, 16)), ax, labels=[1])
    with pytest.raises(ValueError, match="scale_um_per_px"):
        plot.max_projection(np.ones((16, 16)), ax, scale_um_per_px=-1)


def test_max_projection_scale_bar_and_validation(ax):
    plot.max_projection(np.random.default_rng(0).random((512, 512)), ax)
    (line,) = ax.lines
    x = line.get_xdata()
    assert x[1] - x[0] == pytest.approx(100 / 0.78)
    assert [t.get_text() for t in ax.texts] == ["100 µm"]
    with pytest.raises(ValueError, match="2-D"):
        plot.max_projection(np.zeros((2, 3, 4)), ax)
    with pytest.raises(ValueError, match="masks must have shape"):
        plot.max_projection(np.zeros((8, 8)), ax, masks=np.zeros((1, 4, 4), bool))


def test_stacked_traces_offsets_first_on_top(ax):
    t = np.arange(50) / 30.0
    y = np.vstack([np.zeros(50), np.ones(50)])
    plot.stacked_traces(t, y, ax, labels=["a", "b"], spacing=10.0)
    first, second = ax.lines
    assert np.allclose(first.get_ydata(), 10.0)  # trace 0 shifted up by one spacing
    assert np.allclose(second.get_ydata(), 1.0)
    assert [t.get_text() for t in ax.get_yticklabels()] == ["a", "b"]
    with pytest.raises(ValueError, match="match time"):
        plot.stacked_traces(t, np.zeros((2, 49)), ax)
    with pytest.raises(ValueError, match="labels"):
        plot.stacked_traces(t, y, ax, labels=["a"])


def test_stacked_traces_default_spacing_handles_flat_and_nan(ax):
    t = np.arange(10.0)
    plot.stacked_traces(t, np.full((2, 10), np.nan), ax)
    plot.stacked_traces(t, np.zeros((2, 10)), ax)
    assert len(ax.lines) == 4


def test_preferred_image_histogram_counts(ax):
    plot.preferred_image_histogram(np.array([0, 3, 3, 117, np.nan]), ax)
    heights = np.array([p.get_height() for p in ax.patches])
    assert heights.size == 118
    assert heights[3] == 2 and heights[0] == 1 and heights[117] == 1 and heights.sum() == 4
    with pytest.raises(ValueError, match="118"):
        plot.preferred_image_histogram(np.array([118]), ax)
    with pytest.raises(ValueError, match="2.5"):
        plot.preferred_image_histogram(np.array([2.5]), ax)


def test_stimulus_image(ax):
    img = np.arange(16 * 28, dtype=np.uint8).reshape(16, 28)
    plot.stimulus_image(img, ax, title="x")
    assert ax.get_title() == "x"
    assert np.array_equal(ax.images[0].get_array(), img)


def test_direction_tuning_lines_follow_the_data(ax):
    r = np.arange(40, dtype=float).reshape(8, 5)
    d = np.arange(0, 360, 45)
    plot.direction_tuning(r, d, ax, temporal_frequencies=[1, 2, 4, 8, 15])
    assert len(ax.lines) == 5
    for j, line in enumerate(ax.lines):
        np.testing.assert_array_equal(line.get_xdata(), d)
        np.testing.assert_array_equal(line.get_ydata(), r[:, j])
    assert [t.get_text() for t in ax.get_legend().get_texts()][0] == "1 Hz"
    with pytest.raises(ValueError, match="match directions"):
        plot.direction_tuning(r[:7], d, ax)
    with pytest.raises(ValueError, match="temporal frequencies"):
        plot.direction_tuning(r, d, ax, temporal_frequencies=[1, 2])


def test_receptive_field_shows_on_minus_off(ax):
    on = np.zeros((16, 28))
    off = np.zeros((16, 28))
    on[3, 4], off[10, 20] = 2.0, 1.0
    plot.receptive_field(on, off, ax, title="cell")
    img = ax.images[0]
    np.testing.assert_array_equal(img.get_array(), on - off)
    assert img.get_clim() == (-2.0, 2.0) and ax.get_title() == "cell"
    with pytest.raises(ValueError, match="one shape"):
        plot.receptive_field(on, off[:8], ax)
