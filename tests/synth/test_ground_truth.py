"""The ground truth drives the data: recover it from the files with plain numpy."""

from __future__ import annotations

import json

import h5py
import numpy as np
import pytest

from brainobs.io import layout
from brainobs.synth import read_ground_truth


def _session(obs, container_id, stype):
    exps = json.loads((obs / "ophys_experiments.json").read_text())
    e = next(e for e in exps if e["experiment_container_id"] == container_id
             and e["stimulus_name"] == stype)
    return obs / "ophys_experiment_data" / f"{e['id']}.nwb"


def _sweep_means(f, stim):
    g = f[layout.stimulus_group(stim)]
    fd = g["frame_duration"][()]
    dff = f[f"{layout.TRACES['dff']}/data"][()]
    cs = np.concatenate([np.zeros((len(dff), 1)), np.cumsum(dff, axis=1)], axis=1)
    # Window shifted by a few frames to cover the calcium response.
    s, e = fd[:, 0] + 2, fd[:, 1] + 2
    return g["data"][()], (cs[:, e] - cs[:, s]) / (e - s)


@pytest.fixture(scope="module")
def truth(tiny_observatory):
    return read_ground_truth(tiny_observatory)


def test_dg_preferred_beats_null(tiny_observatory, truth):
    checked = 0
    for cid, gt in truth.groupby("experiment_container_id"):
        with h5py.File(_session(tiny_observatory, cid, "three_session_A"), "r") as f:
            data, resp = _sweep_means(f, "drifting_gratings")
        for _, c in gt[gt["responsive_dg"] & (gt["dsi_dg"] > 0.2)].iterrows():
            at = (data[:, 0] == c["pref_tf_dg"])
            pref = resp[c["roi_index"], at & (data[:, 1] == c["pref_dir_dg"])].mean()
            null = resp[c["roi_index"], at & (data[:, 1] == (c["pref_dir_dg"] + 180) % 360)].mean()
            assert pref > null, (cid, c["cell_specimen_id"])
            checked += 1
    assert checked >= 5


def test_non_responsive_cells_flat(tiny_observatory, truth):
    cid = int(truth["experiment_container_id"].iloc[0])
    gt = truth[truth["experiment_container_id"] == cid]
    with h5py.File(_session(tiny_observatory, cid, "three_session_A"), "r") as f:
        data, resp = _sweep_means(f, "drifting_gratings")
    blank = data[:, 2] == 1
    for _, c in gt.iterrows():
        r = resp[c["roi_index"]]
        peak = max(r[~blank & (data[:, 0] == tf) & (data[:, 1] == d)].mean()
                   for tf in np.unique(data[~blank, 0]) for d in np.unique(data[~blank, 1]))
        if c["responsive_dg"] and c["amplitude"] > 0.3:
            assert peak > 0.15
        elif not c["responsive_dg"]:
            assert peak < 0.25


def test_ns_preferred_image(tiny_observatory, truth):
    hits = top3 = total = 0
    for cid, gt in truth.groupby("experiment_container_id"):
        with h5py.File(_session(tiny_observatory, cid, "three_session_B"), "r") as f:
            data, resp = _sweep_means(f, "natural_scenes")
        img = data.astype(int)
        means = np.stack([resp[:, img == k].mean(axis=1) for k in range(118)], axis=1)
        for _, c in gt[gt["responsive_ns"] & (gt["amplitude"] > 0.3)].iterrows():
            total += 1
            order = np.argsort(means[c["roi_index"]])
            hits += int(order[-1] == c["pref_image_ns"])
            top3 += int(c["pref_image_ns"] in order[-3:])
    # Few repeats and running modulation of single trials: the best image is usually, and
    # nearly always among the top three, the true preferred one.
    assert total >= 4 and hits / total >= 0.5 and top3 / total >= 0.8


def test_lsn_on_receptive_field(tiny_observatory, truth):
    errors = []
    for cid, gt in truth.groupby("experiment_container_id"):
        with h5py.File(_session(tiny_observatory, cid, "three_session_C2"), "r") as f:
            frames, resp = _sweep_means(f, "locally_sparse_noise_4deg")
            tpl = f[layout.template_path("locally_sparse_noise_4deg")][()]
        white = (tpl[frames.astype(int)] == 255).astype(float)
        for _, c in gt[gt["rf_on_x"].notna() & (gt["amplitude"] > 0.3)].iterrows():
            r = resp[c["roi_index"]]
            w = np.clip(r - np.median(r), 0, None)
            # response-weighted average of the frames, minus the plain average
            sta = np.tensordot(w, white, axes=1) / w.sum() - white.mean(axis=0)
            y, x = np.unravel_index(np.argmax(sta), sta.shape)
            errors.append(np.hypot(x - c["rf_on_x"], y - c["rf_on_y"]))
    assert len(errors) >= 3
    assert np.median(errors) < 2.0


def test_realized_selectivity_close_to_chosen(truth):
    dg = truth[truth["responsive_dg"]]
    # Running modulation of single trials perturbs the realized values a little.
    for col in ("dsi_dg", "osi_dg"):
        diff = np.abs(dg[f"{col}_true"] - dg[col])
        assert diff.median() < 0.06 and np.corrcoef(dg[f"{col}_true"], dg[col])[0, 1] > 0.8
    assert truth.loc[~truth["responsive_dg"], "dsi_dg_true"].isna().all()


def test_neuropil_model(tiny_observatory, truth):
    cid = int(truth["experiment_container_id"].iloc[0])
    with h5py.File(_session(tiny_observatory, cid, "three_session_B"), "r") as f:
        raw = f[f"{layout.TRACES['fluorescence']}/data"][()]
        demixed = f[f"{layout.TRACES['demixed']}/data"][()]
        npil = f[f"{layout.TRACES['neuropil']}/data"][()]
        r = f[layout.NEUROPIL_R][()]
        dff = f[f"{layout.TRACES['dff']}/data"][()]
    gt = truth[truth["experiment_container_id"] == cid].sort_values("roi_index")
    np.testing.assert_allclose(r, gt["neuropil_r"].to_numpy(), rtol=1e-6)
    assert 0.5 < r.mean() < 0.9
    corrected = demixed - r[:, None] * npil
    assert np.all(np.abs(raw - demixed).mean(axis=1) < 0.05 * demixed.mean(axis=1))
    base = np.median(corrected, axis=1, keepdims=True)
    approx = (corrected - base) / base
    assert np.corrcoef(approx.ravel(), dff.ravel())[0, 1] > 0.95
    assert np.all(np.abs(np.median(dff, axis=1)) < 0.05)
