"""Natural scenes: image selectivity, argmax semantics, ground truth on synthetic sessions."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from brainobs.metrics import scenes as S


def _loop_selectivity(r):
    """The published definition, written as a plain loop over thresholds."""
    fmin, fmax = r.min(), r.max()
    a = [np.mean(r > fmin + j * ((fmax - fmin) / 1000.0)) for j in range(1000)]
    return 1 - 2 * np.mean(a)


def test_image_selectivity_hand_profiles():
    flat = np.ones(118)
    one = np.zeros(118)
    one[7] = 5.0
    ramp = np.linspace(-1, 3, 118)
    got = S.image_selectivity(np.stack([flat, one, ramp]))
    assert got[0] == 1.0  # all equal: no image is above any threshold
    assert got[1] == pytest.approx(1 - 2 / 118)  # only one image is ever above
    assert got[2] == pytest.approx(_loop_selectivity(ramp), abs=1e-12)
    rng = np.random.default_rng(0)
    r = rng.gamma(1.0, 2.0, 118)
    assert S.image_selectivity(r)[0] == pytest.approx(_loop_selectivity(r), abs=1e-12)
    withnan = r.copy()
    withnan[3] = np.nan
    assert S.image_selectivity(withnan)[0] == 1.0  # NaN min/max: published gives 1


def ns_data(amp, n_rep=5, noise=0.5, seed=0):
    rng = np.random.default_rng(seed)
    n_img = amp.shape[1] - 1
    frames = np.repeat(np.arange(-1, n_img), n_rep)
    table = pd.DataFrame({"frame": rng.permutation(frames)})
    table["start"] = 40 + 7 * np.arange(len(table))
    table["end"] = table["start"] + 7
    n_frames = int(table["start"].iloc[-1]) + 60
    tr = 100 + rng.normal(0, noise, (amp.shape[0], n_frames))
    for k, f in enumerate(table["frame"]):
        s = int(table["start"].iloc[k])
        tr[:, s + 2 : s + 9] += amp[:, f + 1][:, None]
    return tr, table


def test_natural_scenes_known_answers():
    amp = np.zeros((3, 11))
    amp[0, 1 + 6] = 80.0  # image 6
    amp[1, 1 + 2] = amp[1, 1 + 4] = 40.0  # tie broken by the noise, one of the two
    tr, table = ns_data(amp, noise=0.3)
    clean = S.natural_scenes_from_traces(tr, table, frame_rate=30.0, cell_specimen_ids=[1, 2, 3])
    assert clean.table.pref_image_ns.dtype == np.int64 and (clean.table.qc_ns == "").all()
    tr[2, 200] = np.nan
    res = S.natural_scenes_from_traces(tr, table, frame_rate=30.0, cell_specimen_ids=[1, 2, 3])
    t = res.table
    assert t.loc[1, "pref_image_ns"] == 6
    assert t.loc[2, "pref_image_ns"] in (2, 4)
    # a NaN sample excludes the cell (published code would skip the trial and report a
    # preference from the rest): NaN everywhere, with the reason; the others are unchanged
    assert t.loc[3].drop("qc_ns").isna().all() and t.loc[3, "qc_ns"] == "nan_trace"
    assert np.isnan(res.responses.sel(cell=3).values).all()
    pd.testing.assert_frame_equal(t.loc[[1, 2]], clean.table.loc[[1, 2]], check_dtype=False)
    msr = res.mean_sweep_response.values
    code = res.trials.condition.to_numpy()
    ref = stats.f_oneway(*[msr[0, code == k] for k in range(11)]).pvalue
    assert t.loc[1, "p_ns"] == pytest.approx(ref, rel=1e-9)
    imgs = res.responses.sel(cell=1).values[1:]
    assert t.loc[1, "image_sel_ns"] == pytest.approx(_loop_selectivity(imgs), abs=1e-12)
    assert t.loc[1, "peak_dff_ns"] == pytest.approx(imgs.max())
    assert res.responses.dims == ("cell", "image") and int(res.responses.image[0]) == -1
    assert int(res.responses.n_trials.sel(image=6)) == 5
    assert 0 <= t.loc[1, "image_sel_ns_sparseness"] <= 1
    assert set(S.NS_COLUMNS) <= set(t.columns)


def test_argmax_nan_wins_as_published():
    amp = np.zeros((1, 6))
    amp[0, 4] = 50
    tr, table = ns_data(amp)
    # remove every trial of image 1: its mean is NaN and np.argmax picks it, as published
    table = table[table.frame != 1].reset_index(drop=True)
    res = S.natural_scenes_from_traces(tr, table, frame_rate=30.0)
    # published: one condition per distinct frame value, condition k holds frame k - 1, so the
    # slot of image 1 has no trials (NaN mean) and the last image (4) falls outside the grid
    means = res.responses.values[0]
    assert np.isnan(means).sum() == 1 and res.table.pref_image_ns.iloc[0] == 1


def test_ns_ground_truth(tiny_observatory):
    from brainobs.io import Session
    from brainobs.synth import read_ground_truth

    gt = read_ground_truth(tiny_observatory).set_index("cell_specimen_id")
    parts = []
    for f in sorted((tiny_observatory / "ophys_experiment_data").glob("*.nwb")):
        with Session(f) as s:
            if "natural_scenes" in s.list_stimuli():
                parts.append(S.natural_scenes(s))
    ns = pd.concat(parts)
    j = ns.join(gt[["responsive_ns", "pref_image_ns"]].add_suffix("_true"))
    j["image_sel_ns_true"] = gt["image_sel_ns_true"]
    r = j[j.responsive_ns_true.astype(bool)]
    # observed on tiny seed 0: 12 responsive cells, 75 % preferred image right (chance 1/118),
    # Spearman ρ(image_sel_ns, truth) = 0.60
    assert len(r) >= 8
    assert (r.pref_image_ns == r.pref_image_ns_true).mean() >= 0.5
    assert stats.spearmanr(r.image_sel_ns, r.image_sel_ns_true).statistic > 0.2
