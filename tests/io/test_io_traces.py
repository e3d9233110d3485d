from __future__ import annotations

import numpy as np
import pytest
import xarray as xr
from io_nwb_factory import (
    CELL_IDS,
    N_FRAMES,
    ROI_IDS,
    SHAPE,
    TIMESTAMPS,
    R,
    expected_masks,
    expected_traces,
)

from brainobs.errors import MissingDataError, UnknownIdError, UnknownValueError

T = expected_traces()


@pytest.mark.parametrize("kind", ["dff", "fluorescence", "demixed", "neuropil"])
def test_full_traces(session, kind):
    da = getattr(session, kind)()
    assert isinstance(da, xr.DataArray)
    assert da.dims == ("cell", "frame") and da.name == kind
    np.testing.assert_array_equal(da.values, T[kind])
    np.testing.assert_array_equal(da["cell_specimen_id"].values, CELL_IDS)
    np.testing.assert_array_equal(da["frame"].values, np.arange(N_FRAMES))
    np.testing.assert_array_equal(da["time"].values, TIMESTAMPS)
    assert da.attrs["ophys_experiment_id"] == 527745328


def test_ids_and_indices(session):
    np.testing.assert_array_equal(session.cell_specimen_ids, CELL_IDS)
    assert session.cell_specimen_ids.dtype == np.int64
    assert session.roi_ids.tolist() == [r.decode() for r in ROI_IDS]
    assert session.cell_indices([530, 515]).tolist() == [4, 1]
    assert session.cell_indices(520).tolist() == [2]
    with pytest.raises(UnknownIdError, match=r"Unknown cell specimen id\(s\) in .*: 1, 2"):
        session.cell_indices([515, 1, 2])
    with pytest.raises(LookupError):
        session.dff([999])


@pytest.mark.parametrize(
    "ids",
    [[530, 515], [515, 517], [520, 519, 530], [530, 530, 517], [519], []],
)
def test_subset_by_cells(session, ids):
    rows = [list(CELL_IDS).index(i) for i in ids]
    da = session.dff(ids)
    np.testing.assert_array_equal(da.values, T["dff"][rows])
    np.testing.assert_array_equal(da["cell_specimen_id"].values, np.array(ids, dtype=np.int64))
    assert da.shape == (len(ids), N_FRAMES)


def test_subset_by_frames_and_times(session):
    full = T["fluorescence"]
    np.testing.assert_array_equal(session.fluorescence(frames=(10, 20)).values, full[:, 10:20])
    np.testing.assert_array_equal(session.fluorescence(frames=slice(5, 50, 5)).values, full[:, 5:50:5])
    np.testing.assert_array_equal(session.fluorescence(frames=slice(-10, None)).values, full[:, -10:])
    da = session.fluorescence([519, 515], frames=[100, 103])
    np.testing.assert_array_equal(da.values, full[[3, 1], 100:103])
    np.testing.assert_array_equal(da["frame"].values, [100, 101, 102])
    # times: frames with t0 <= t < t1
    t0, t1 = TIMESTAMPS[30], TIMESTAMPS[60]
    da = session.dff(times=(t0, t1))
    np.testing.assert_array_equal(da["frame"].values, np.arange(30, 60))
    np.testing.assert_array_equal(da.values, T["dff"][:, 30:60])
    np.testing.assert_array_equal(da["time"].values, TIMESTAMPS[30:60])
    assert session.dff(times=(0, 1)).shape == (5, 0)
    # a (start, stop) pair is a frame range: stop is clamped, nonsense is refused
    np.testing.assert_array_equal(session.dff(frames=(N_FRAMES - 3, 10**9)).values, T["dff"][:, -3:])
    for bad in ((50, 10), (-10, 20)):
        with pytest.raises(ValueError, match="not a frame range"):
            session.dff(frames=bad)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"frames": (1, 2), "times": (1, 2)}, "not both"),
        ({"times": (2, 1)}, "start <= stop"),
        ({"times": 5}, "times must be"),
        ({"frames": "abc"}, "frames must be"),
        ({"frames": slice(10, 0, -1)}, "step must be positive"),
    ],
)
def test_bad_selection(session, kwargs, message):
    with pytest.raises(ValueError, match=message):
        session.dff(**kwargs)


def test_cell_ids_of_the_wrong_type(session):
    with pytest.raises(TypeError, match="cell_specimen_ids must be an integer id or a list of integer ids; got str 'x'"):
        session.dff(cell_specimen_ids=["x"])


def test_corrected_fluorescence_v3(session):
    expected = T["demixed"].astype(float) - R[:, None] * T["neuropil"]
    da = session.corrected_fluorescence()
    np.testing.assert_allclose(da.values, expected)
    np.testing.assert_array_equal(da["neuropil_r"].values, R)
    sub = session.corrected_fluorescence([530, 517], frames=(3, 9))
    np.testing.assert_allclose(sub.values, expected[[4, 0], 3:9])
    np.testing.assert_array_equal(sub["neuropil_r"].values, R[[4, 0]])
    np.testing.assert_array_equal(session.neuropil_r(), R)
    np.testing.assert_array_equal(session.neuropil_r([519]), R[[3]])


def test_v1_layout(session_v1):
    s = session_v1
    assert s.pipeline_version == "1.0"
    np.testing.assert_array_equal(s.neuropil().values, T["neuropil"])
    np.testing.assert_array_equal(s.neuropil_r(), R)
    expected = T["fluorescence"].astype(float) - R[:, None] * T["neuropil"]
    np.testing.assert_allclose(s.corrected_fluorescence().values, expected)
    with pytest.raises(MissingDataError, match=r"v1\.nwb: no demixed traces \(.*imaging_plane_1_demixed_signal/data\)"):
        s.demixed()


def test_masks(session):
    masks = session.roi_masks()
    assert masks.dtype == bool and masks.shape == (5, *SHAPE)
    np.testing.assert_array_equal(masks, expected_masks().astype(bool))
    sub = session.roi_masks([530, 515])
    np.testing.assert_array_equal(sub, expected_masks()[[4, 1]].astype(bool))
    assert session.roi_masks([]).shape == (0, *SHAPE)


def test_masks_compact(session):
    table = session.roi_masks_compact([530, 515])
    assert list(table.columns) == ["cell_specimen_id", "roi_id", "y", "x"]
    m = expected_masks()
    assert len(table) == m[4].sum() + m[1].sum()
    first = table[table["cell_specimen_id"] == 530]
    assert set(zip(first["y"], first["x"], strict=True)) == set(zip(*np.nonzero(m[4]), strict=True))
    assert set(first["roi_id"]) == {"1005"}
    # round trip: rebuild the dense masks from the pixel table
    full = session.roi_masks_compact()
    dense = np.zeros((5, *SHAPE), bool)
    rows = session.cell_indices(full["cell_specimen_id"])
    dense[rows, full["y"], full["x"]] = True
    np.testing.assert_array_equal(dense, session.roi_masks())
    assert len(session.roi_masks_compact([])) == 0


def test_reference_images(session):
    assert session.reference_image_names() == ["maximum_intensity_projection_image", "mean_image"]
    np.testing.assert_array_equal(session.max_projection, np.arange(32 * 32).reshape(SHAPE))
    assert session.reference_image("mean_image").shape == SHAPE
    assert session.reference_image("mean_image") is session.reference_image("mean_image")
    with pytest.raises(UnknownValueError, match="mean_imag.*Did you mean 'mean_image'"):
        session.reference_image("mean_imag")
