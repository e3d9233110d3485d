"""End to end on the tiny synthetic observatory: the reader, catalog and compat API
against the ground truth the generator wrote and against bare h5py reads."""

from __future__ import annotations

import h5py
import numpy as np
import pytest

from brainobs.catalog import open_observatory
from brainobs.errors import MissingMetricsWarning
from brainobs.io import Session
from brainobs.io.layout import MAX_PROJECTION, TRACES
from brainobs.synth import read_ground_truth


@pytest.fixture(scope="module")
def obs(tiny_observatory):
    return open_observatory(tiny_observatory)


@pytest.fixture(scope="module")
def truth(tiny_observatory):
    return read_ground_truth(tiny_observatory)


def test_every_session_opens_and_matches_the_catalog(obs, truth):
    exps = obs.experiments(include_failed=True)
    assert len(exps) == 3 * len(obs.containers(include_failed=True))
    for _, e in exps.iterrows():
        with obs.session(int(e["id"])) as s:
            assert s.ophys_experiment_id == e["id"]
            assert s.experiment_container_id == e["experiment_container_id"]
            assert s.session_type == e["session_type"]
            assert s.targeted_structure == e["targeted_structure"]
            assert s.cre_line == e["cre_line"]
            assert s.imaging_depth == e["imaging_depth"]
            gt = truth[truth["experiment_container_id"] == e["experiment_container_id"]]
            assert s.n_cells == len(gt)
            order = gt.sort_values("roi_index")["cell_specimen_id"].to_numpy()
            np.testing.assert_array_equal(s.cell_specimen_ids, order)


def test_container_sessions_share_cells(obs):
    for cid in obs.containers(include_failed=True)["id"]:
        ids = []
        for eid in obs.experiments(container_id=int(cid), include_failed=True)["id"]:
            with obs.session(int(eid)) as s:
                ids.append(tuple(s.cell_specimen_ids))
        assert len(set(ids)) == 1 and len(ids) == 3


def test_cell_table_lists_the_true_cells(obs, truth):
    # a fresh synthetic observatory has no metrics yet, and the catalog says so
    with pytest.warns(MissingMetricsWarning, match=r"3 of 3 containers .* no computed metrics"):
        cells = obs.cells(include_failed=True)
    merged = cells.merge(truth, on="cell_specimen_id", suffixes=("", "_gt"))
    assert len(merged) == len(truth) == len(cells)
    assert (merged["area"] == merged["area_gt"]).all()
    assert (merged["tld1_name"] == merged["cre_line"]).all()
    assert (merged["experiment_container_id"] == merged["experiment_container_id_gt"]).all()


def test_traces_equal_bare_h5py_and_true_neuropil_r(obs, truth):
    eid = int(obs.experiments(session_type="three_session_A").iloc[0]["id"])
    path = obs.session_path(eid)
    with h5py.File(path, "r") as f:
        raw = f[f"{TRACES['dff']}/data"][()]
        mp = f[MAX_PROJECTION][()]
    with Session(path) as s:
        np.testing.assert_array_equal(s.dff().values, raw)
        np.testing.assert_array_equal(s.max_projection, mp)
        gt = truth.set_index("cell_specimen_id").loc[s.cell_specimen_ids]
        np.testing.assert_allclose(s.neuropil_r(), gt["neuropil_r"], rtol=1e-6)
        # corrected = demixed - r * neuropil, computed independently here
        fc = s.demixed().values - s.neuropil_r()[:, None] * s.neuropil().values
        np.testing.assert_allclose(s.corrected_fluorescence().values, fc, rtol=1e-5, atol=1e-3)


def test_roi_masks_sit_on_the_true_cells_and_show_in_the_max_projection(obs, truth):
    eid = int(obs.experiments(session_type="three_session_B").iloc[0]["id"])
    with obs.session(eid) as s:
        masks = s.roi_masks()
        gt = truth.set_index("cell_specimen_id").loc[s.cell_specimen_ids]
        ys, xs = np.indices(masks.shape[1:])
        for m, (_, g) in zip(masks, gt.iterrows(), strict=True):
            assert abs(xs[m].mean() - g["centroid_x"]) < 2 and abs(ys[m].mean() - g["centroid_y"]) < 2
        inside = masks.any(axis=0)
        assert np.median(s.max_projection[inside]) > np.percentile(s.max_projection[~inside], 90)
        compact = s.roi_masks_compact()
        assert len(compact) == int(masks.sum())


def test_allensdk_tutorial_runs_unchanged(tiny_observatory, truth):
    from brainobs.compat import BrainObservatoryCache

    boc = BrainObservatoryCache(manifest_file=str(tiny_observatory / "manifest.json"))
    areas = boc.get_all_targeted_structures()
    cres = boc.get_all_cre_lines()
    assert areas == sorted(areas) and cres == sorted(cres)
    ecs = boc.get_experiment_containers(targeted_structures=[areas[0]])
    assert ecs and all(ec["targeted_structure"] == areas[0] for ec in ecs)
    ec_id = ecs[0]["id"]
    exps = boc.get_ophys_experiments(experiment_container_ids=[ec_id], stimuli=["natural_scenes"])
    assert len(exps) == 1 and exps[0]["session_type"] == "three_session_B"
    data_set = boc.get_ophys_experiment_data(exps[0]["id"])
    assert data_set.get_session_type() == "three_session_B"
    mp = data_set.get_max_projection()
    assert mp.shape == (512, 512)
    ts, dff = data_set.get_dff_traces()
    assert dff.shape == (len(data_set.get_cell_specimen_ids()), ts.size)
    table = data_set.get_stimulus_table("natural_scenes")
    assert list(table.columns) == ["frame", "start", "end"]
    scenes = data_set.get_stimulus_template("natural_scenes")
    assert scenes.shape[0] == 118 and scenes.dtype == np.uint8
    assert set(table["frame"]) == set(range(-1, 118))
    speed, speed_t = data_set.get_running_speed()
    np.testing.assert_array_equal(speed_t, ts)
    assert speed.shape == ts.shape
    with pytest.warns(MissingMetricsWarning, match=f"brainobs analyze --container {ec_id}"):
        cells = boc.get_cell_specimens(experiment_container_ids=[ec_id])
    gt = truth[truth["experiment_container_id"] == ec_id]
    assert sorted(c["cell_specimen_id"] for c in cells) == sorted(gt["cell_specimen_id"])
    md = data_set.get_metadata()
    assert md["experiment_container_id"] == ec_id and md["targeted_structure"] == areas[0]
