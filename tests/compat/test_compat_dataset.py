"""BrainObservatoryNwbDataSet over a real brainobs NWB file (skipped until brainobs.io exists)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

io = pytest.importorskip("brainobs.io")
if not hasattr(io, "Session"):  # pragma: no cover - only while brainobs.io is being written
    pytest.skip("brainobs.io.Session not available yet", allow_module_level=True)

from brainobs.compat import BrainObservatoryCache, BrainObservatoryNwbDataSet  # noqa: E402
from brainobs.errors import MissingDataError  # noqa: E402


@pytest.fixture(scope="module")
def nwb_path(request, tmp_path_factory) -> Path:
    """A session file: from the shared ``tiny_observatory`` data dir when that fixture exists,
    else the io tests' hand-made NWB factory."""
    try:
        root = request.getfixturevalue("tiny_observatory")
    except pytest.FixtureLookupError:
        root = None
    if root is not None:
        files = sorted(Path(root).glob("ophys_experiment_data/*.nwb"))
        if files:
            return files[0]
    factory_dir = Path(__file__).resolve().parents[1] / "io"
    if not (factory_dir / "io_nwb_factory.py").is_file():  # pragma: no cover
        pytest.skip("no NWB file source (tiny_observatory fixture or io factory)")
    sys.path.insert(0, str(factory_dir))
    try:
        from io_nwb_factory import write_session
    finally:
        sys.path.remove(str(factory_dir))
    return write_session(tmp_path_factory.mktemp("nwb") / "527745328.nwb")


@pytest.fixture(scope="module")
def ds(nwb_path):
    return BrainObservatoryNwbDataSet(nwb_path)


def test_metadata(ds):
    s = ds.session
    assert "BrainObservatoryNwbDataSet(" in repr(ds)
    assert ds.get_session_type() == s.session_type
    assert ds.get_metadata()["session_type"] == s.session_type
    assert ds.list_stimuli() == s.list_stimuli()
    assert ds.number_of_cells == len(ds.get_cell_specimen_ids()) == s.n_cells
    assert len(ds.get_roi_ids()) == ds.number_of_cells


def test_traces(ds):
    ids = ds.get_cell_specimen_ids()
    t, dff = ds.get_dff_traces()
    assert isinstance(t, np.ndarray) and dff.shape == (len(ids), len(t))
    np.testing.assert_array_equal(t, ds.get_fluorescence_timestamps())
    pick = [int(ids[-1]), int(ids[0])]
    t2, sub = ds.get_dff_traces(pick)
    np.testing.assert_array_equal(sub, dff[[len(ids) - 1, 0]])
    for getter in (ds.get_fluorescence_traces, ds.get_corrected_fluorescence_traces,
                   ds.get_neuropil_traces, ds.get_demixed_traces):  # fmt: skip
        tt, data = getter(pick)
        assert data.shape == (2, len(tt))
    f = ds.get_fluorescence_traces()[1]
    npil = ds.get_neuropil_traces()[1]
    r = ds.get_neuropil_r()
    assert r.shape == (len(ids),)
    base = ds.get_demixed_traces()[1] if ds.session.pipeline_version >= "2" else f
    np.testing.assert_allclose(
        ds.get_corrected_fluorescence_traces()[1], base - npil * r[:, None], rtol=1e-5
    )
    assert ds.get_neuropil_r(pick).shape == (2,)


def test_ids_and_masks(ds):
    ids = ds.get_cell_specimen_ids()
    assert ds.get_cell_specimen_indices([int(ids[2]), int(ids[0])]) == [2, 0]
    with pytest.raises(ValueError, match="Cell specimen not found .*12345"):
        ds.get_cell_specimen_indices([int(ids[0]), 12345])
    with pytest.raises(ValueError, match="12345"):
        ds.get_dff_traces([12345])
    masks = ds.get_roi_mask_array()
    assert masks.dtype == np.uint8 and masks.shape[0] == len(ids)
    assert set(np.unique(masks)) <= {0, 1}
    assert ds.get_roi_mask_array([int(ids[1])]).shape == (1, *masks.shape[1:])
    with pytest.raises(OSError, match="no masks"):
        ds.get_roi_mask_array([])
    assert ds.get_max_projection().ndim == 2


def test_stimulus(ds):
    stims = ds.list_stimuli()
    for name in stims:
        table = ds.get_stimulus_table(name)
        assert isinstance(table, pd.DataFrame)
        assert {"start", "end"} <= set(table.columns)
        assert not {"start_time", "end_time"} & set(table.columns)
    master = ds.get_stimulus_table("master")
    assert list(master.columns) == sorted(master.columns) and "stimulus" in master.columns
    epochs = ds.get_stimulus_epoch_table()
    assert list(epochs.columns) == ["stimulus", "start", "end"]
    templated = [s for s in stims if s.startswith(("natural", "locally"))]
    if templated:
        assert ds.get_stimulus_template(templated[0]).ndim == 3


def test_behaviour(ds):
    dxcm, dxtime = ds.get_running_speed()
    assert dxcm.shape == dxtime.shape == ds.get_fluorescence_timestamps().shape
    try:
        t, loc = ds.get_pupil_location()
    except MissingDataError:
        return
    assert loc.shape == (len(t), 2)
    t2, loc_cm = ds.get_pupil_location(as_spherical=False)
    assert loc_cm.shape == (len(t2), 2)
    t3, size = ds.get_pupil_size()
    assert size.shape == t3.shape
    mc = ds.get_motion_correction()
    assert "timestamp" in mc.columns and "time" not in mc.columns


def test_cache_returns_dataset(tmp_path, nwb_path, tiny_cache):
    import shutil

    boc = BrainObservatoryCache(manifest_file=tiny_cache / "manifest.json")
    dest = tiny_cache / "ophys_experiment_data" / "1000.nwb"
    dest.parent.mkdir()
    shutil.copy(nwb_path, dest)
    ds = boc.get_ophys_experiment_data(1000)
    assert isinstance(ds, BrainObservatoryNwbDataSet) and ds.number_of_cells > 0
    assert isinstance(boc.get_ophys_experiment_data(1, file_name=dest), BrainObservatoryNwbDataSet)
    assert boc.observatory.session(1000).n_cells == ds.number_of_cells
