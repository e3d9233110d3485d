"""The synthetic observatory has the real on-disk layout and NWB 1.x file structure."""

from __future__ import annotations

import json
import re
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import pytest

from brainobs import vocab
from brainobs.io import layout
from brainobs.synth import GROUND_TRUTH_COLUMNS, read_ground_truth


def _experiments(obs):
    return json.loads((obs / "ophys_experiments.json").read_text())


def _nwb_files(obs):
    return sorted((obs / "ophys_experiment_data").glob("*.nwb"))


def test_top_level_files(tiny_observatory):
    obs = tiny_observatory
    for name in ("manifest.json", "experiment_containers.json", "ophys_experiments.json",
                 "cell_specimens.json", "stimulus_mappings.json", "brainobs.json"):
        assert (obs / name).is_file(), name
    manifest = json.loads((obs / "manifest.json").read_text())
    assert {"type": "manifest_version", "value": "1.3"} in manifest["manifest"]  # AllenSDK checks it
    specs = {m["key"]: m["spec"] for m in manifest["manifest"] if "key" in m}
    assert specs["BASEDIR"] == "."
    assert specs["EXPERIMENT_DATA"] == "ophys_experiment_data/%d.nwb"
    marker = json.loads((obs / "brainobs.json").read_text())
    assert marker["format"] == "brainobs-synthetic" and marker["size"] == "tiny"
    assert marker["seed"] == 0 and "cre_lines" in marker["config"]
    assert not list(obs.parent.glob("obs.tmp-*"))


def test_containers_json_shape(tiny_observatory):
    containers = json.loads((tiny_observatory / "experiment_containers.json").read_text())
    assert len(containers) == 4
    assert sum(c["failed"] for c in containers) == 1
    cres, areas = set(), set()
    for c in containers:
        assert {"id", "imaging_depth", "failed", "targeted_structure", "specimen",
                "ophys_experiments"} <= set(c)
        donor = c["specimen"]["donor"]
        kinds = [t["transgenic_line_type_name"] for t in donor["transgenic_lines"]]
        assert kinds[0] == "driver" and kinds[-1] == "reporter"
        cres.add(donor["transgenic_lines"][0]["name"])
        areas.add(c["targeted_structure"]["acronym"])
        assert donor["full_genotype"].split(";")[0].replace("/wt", "") in vocab.CRE_LINES
        assert {e["stimulus_name"] for e in c["ophys_experiments"]} == {
            "three_session_A", "three_session_B", "three_session_C2"}
    assert len(cres) >= 2 and len(areas) >= 2


def test_experiments_json_shape(tiny_observatory):
    exps = _experiments(tiny_observatory)
    assert len(exps) == 12
    for e in exps:
        assert {"id", "name", "stimulus_name", "imaging_depth", "specimen_id",
                "experiment_container_id", "date_of_acquisition", "fail_eye_tracking"} <= set(e)
        assert e["targeted_structure"]["acronym"] in vocab.AREAS
        assert e["experiment_container"]["id"] == e["experiment_container_id"]
        donor = e["specimen"]["donor"]
        assert donor["age"]["days"] > 0 and donor["date_of_birth"] < e["date_of_acquisition"]
        assert (tiny_observatory / "ophys_experiment_data" / f"{e['id']}.nwb").is_file()
    assert {e["fail_eye_tracking"] for e in exps} == {True, False}


def test_cell_specimens_json(tiny_observatory):
    cells = pd.DataFrame(json.loads((tiny_observatory / "cell_specimens.json").read_text()))
    assert len(cells) == 4 * 8 and cells["cell_specimen_id"].is_unique
    for col in ("area", "tld1_name", "tld2_name", "tlr1_name", "imaging_depth", "specimen_id",
                "donor_full_genotype", "failed_experiment_container", "experiment_container_id",
                "osi_dg", "dsi_dg", "p_ns", "rf_center_on_x_lsn", "reliability_nm1_a"):
        assert col in cells.columns, col
    assert cells["osi_dg"].isna().all() and cells["p_ns"].isna().all()
    mappings = json.loads((tiny_observatory / "stimulus_mappings.json").read_text())
    assert {"item", "level", "stimulus_name", "id", "item_type"} == set(mappings[0])
    thumbs = {m["item"] for m in mappings if m["item_type"] == "T" and m["level"] == "R"}
    # Every thumbnail column AllenSDK deletes in simple mode is there (null), as in the real table.
    assert "drifting_grating_large" in thumbs and thumbs <= set(cells.columns)
    assert cells[sorted(thumbs)].isna().all().all()
    real = Path(__file__).resolve().parents[3] / "shared/data/allen/cell_metrics/api_cam_cell_metrics_316cells_2containers.csv.gz"
    if real.exists():  # same columns as a real export of the API's cell-metrics table
        assert set(cells.columns) == set(pd.read_csv(real, nrows=1).columns)
    assert set(cells["tld1_name"]) <= set(vocab.CRE_LINES)
    assert cells["tld2_name"].isna().any() and (cells["tld2_name"] == "Camk2a-tTA").any()


def test_every_layout_path_exists(tiny_observatory):
    exps = {e["id"]: e for e in _experiments(tiny_observatory)}
    for path in _nwb_files(tiny_observatory):
        with h5py.File(path, "r") as f:
            for key, p in layout.METADATA_PATHS.items():
                assert p in f, (path.name, key)
            for p in (layout.TWO_PHOTON_TIMESTAMPS, *layout.TRACES.values(), layout.NEUROPIL_R,
                      layout.FLUORESCENCE_R, layout.ROI_NAMES, layout.CELL_SPECIMEN_IDS,
                      layout.ROI_IDS, layout.ROI_LIST, layout.MAX_PROJECTION,
                      layout.RUNNING_SPEED, layout.MOTION_CORRECTION):
                assert p in f, (path.name, p)
            eye = not exps[int(path.stem)]["fail_eye_tracking"]
            for p in (layout.PUPIL_LOCATION, layout.PUPIL_LOCATION_SPHERICAL, layout.PUPIL_SIZE):
                assert (p in f) == eye
            stype = f[layout.METADATA_PATHS["session_type"]][()].decode()
            for stim in vocab.SESSION_STIMULI[stype]:
                assert layout.stimulus_group(stim) in f
                if stim in vocab.INDEXED_STIMULI:
                    assert layout.template_path(stim) in f


def test_metadata_formats(tiny_observatory):
    path = _nwb_files(tiny_observatory)[0]
    with h5py.File(path, "r") as f:
        def s(key):
            v = f[layout.METADATA_PATHS[key]][()]
            assert isinstance(v, bytes), key
            return v.decode()

        assert s("nwb_version").startswith("NWB-1.")
        assert re.match(r"(.*?) days", s("age"))
        assert int(s("imaging_depth").split()[0]) in (175, 275, 350, 375)
        assert s("imaging_depth").endswith(" microns")
        assert re.match(r"(.*?)\.\s(.*?)\sPleas[e]*", s("device"))
        assert s("targeted_structure") == s("targeted_structure_general")
        assert s("targeted_structure") in vocab.AREAS
        genotype = s("genotype")
        assert genotype.split(";")[0].replace("/wt", "") in vocab.CRE_LINES
        assert s("indicator") in ("GCaMP6f", "GCaMP6s")
        assert s("excitation_lambda") == "910 nm" and s("imaging_rate") == "30.0 Hz"
        assert int(s("ophys_experiment_id")) == int(path.stem)
        gen = f[layout.METADATA_PATHS["generated_by"]][()]
        assert gen.ndim == 1 and gen.dtype.kind == "S" and gen[-1] == b"3.0"


def test_shapes_and_dtypes(tiny_observatory):
    for path in _nwb_files(tiny_observatory):
        with h5py.File(path, "r") as f:
            ts = f[layout.TWO_PHOTON_TIMESTAMPS][()]
            assert ts.dtype == np.float64 and np.all(np.diff(ts) > 0)
            assert abs(1 / np.median(np.diff(ts)) - 30.0) < 0.1
            assert np.diff(ts).std() > 0  # jitter
            ids = f[layout.CELL_SPECIMEN_IDS][()]
            n = len(ids)
            assert ids.dtype == np.int64
            for key, p in layout.TRACES.items():
                d = f[f"{p}/data"]
                assert d.shape == (n, len(ts)) and d.dtype == np.float32, key
                assert len(f[f"{p}/timestamps"]) == len(ts)
            assert f[layout.NEUROPIL_R].shape == (n,)
            assert f[layout.ROI_IDS].dtype.kind == "S" and len(f[layout.ROI_IDS]) == n
            roi_list = [r.decode() for r in f[layout.ROI_LIST][()]]
            for name in roi_list:
                m = f[f"{layout.IMAGING_PLANE}/{name}/img_mask"]
                assert m.shape == vocab.IMAGING_SHAPE and m.dtype == np.uint8
                assert f[f"{layout.IMAGING_PLANE}/{name}/pix_mask"].shape[1] == 2
            assert f[layout.MAX_PROJECTION].shape == vocab.IMAGING_SHAPE
            mc = f[layout.MOTION_CORRECTION]
            assert mc["data"].shape == (len(ts), 2)
            assert [x.decode() for x in mc["feature_description"][()]] == ["x_motion", "y_motion"]
            speed = f[f"{layout.RUNNING_SPEED}/data"][()]
            assert speed.shape == f[f"{layout.RUNNING_SPEED}/timestamps"].shape
            assert np.isnan(speed).any() and np.nanmax(speed) > 5


def test_templates(tiny_observatory):
    path = next(p for p in _nwb_files(tiny_observatory) if p.stem.endswith("2"))  # session B
    with h5py.File(path, "r") as f:
        ns = f[layout.template_path("natural_scenes")][()]
        assert ns.dtype == np.uint8 and ns.shape[0] == 118
        assert ns.std() > 20
        feats = f[f"{layout.stimulus_group('static_gratings')}/features"][()]
        assert [x.decode() for x in feats] == ["orientation", "spatial_frequency", "phase"]
    path = next(p for p in _nwb_files(tiny_observatory) if p.stem.endswith("3"))  # session C2
    with h5py.File(path, "r") as f:
        for name, shape in (("locally_sparse_noise_4deg", (16, 28)),
                            ("locally_sparse_noise_8deg", (8, 14))):
            t = f[layout.template_path(name)][()]
            assert t.shape[1:] == shape
            assert set(np.unique(t)) == {0, 127, 255}
            assert (t == 127).mean() > 0.9


def test_max_projection_cells_brighter(tiny_observatory):
    path = _nwb_files(tiny_observatory)[0]
    with h5py.File(path, "r") as f:
        mp = f[layout.MAX_PROJECTION][()].astype(float)
        masks = np.array([f[f"{layout.IMAGING_PLANE}/{r.decode()}/img_mask"][()]
                          for r in f[layout.ROI_LIST][()]], bool)
    inside = masks.any(axis=0)
    assert mp[inside].mean() > mp[~inside].mean() + 3 * mp[~inside].std()


def test_three_sessions_share_cells(tiny_observatory):
    by_container: dict[int, list] = {}
    for e in _experiments(tiny_observatory):
        with h5py.File(tiny_observatory / "ophys_experiment_data" / f"{e['id']}.nwb", "r") as f:
            by_container.setdefault(e["experiment_container_id"], []).append(
                (e["stimulus_name"], f[layout.CELL_SPECIMEN_IDS][()]))
    gt = read_ground_truth(tiny_observatory)
    for cid, sessions in by_container.items():
        assert len(sessions) == 3
        first = sessions[0][1]
        for _, ids in sessions[1:]:
            np.testing.assert_array_equal(ids, first)
        truth = gt[gt["experiment_container_id"] == cid].sort_values("roi_index")
        np.testing.assert_array_equal(truth["cell_specimen_id"].to_numpy(), first)


def test_read_ground_truth(tiny_observatory):
    gt = read_ground_truth(tiny_observatory)
    assert list(gt.columns) == GROUND_TRUTH_COLUMNS
    assert len(gt) == 32
    one = read_ground_truth(tiny_observatory, int(gt["experiment_container_id"].iloc[0]))
    assert len(one) == 8
    for stim in ("dg", "sg", "ns", "nm"):
        assert gt[f"responsive_{stim}"].dtype == bool
    assert gt["has_rf"].any() and (~gt["has_rf"]).any()
    assert gt.loc[~gt["has_rf"], ["rf_on_x", "rf_off_x"]].isna().all().all()
    with pytest.raises(LookupError):
        read_ground_truth(tiny_observatory, 1)
    with pytest.raises(OSError, match="synth"):
        read_ground_truth(tiny_observatory / "ophys_experiment_data")
