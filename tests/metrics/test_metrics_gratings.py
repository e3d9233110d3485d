"""Drifting and static gratings: known answers on hand-built arrays, ground truth on synth data."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from brainobs.metrics import gratings as G
from brainobs.metrics.sweep import WindowOutOfRangeError

DIRS = np.arange(0, 360, 45)
TFS = np.array([1, 2, 4, 8, 15])


def dg_data(amp, n_rep=4, n_blank=3, noise=0.5, seed=0):
    """Traces (n_cells, n_frames) whose cells add amp[c, dir, tf] % to F=100 during a grating."""
    rng = np.random.default_rng(seed)
    cond = [(d, f) for d in DIRS for f in TFS] * n_rep + [(np.nan, np.nan)] * n_blank
    order = rng.permutation(len(cond))
    table = pd.DataFrame([cond[i] for i in order], columns=["orientation", "temporal_frequency"])
    table["start"] = 30 + 90 * np.arange(len(table))
    n_frames = int(table["start"].iloc[-1]) + 120
    amp = np.asarray(amp, float)
    tr = 100 + rng.normal(0, noise, (amp.shape[0], n_frames))
    for _, row in table.iterrows():
        if np.isnan(row.orientation):
            continue
        d, f = list(DIRS).index(row.orientation), list(TFS).index(row.temporal_frequency)
        tr[:, int(row.start) : int(row.start) + 60] += amp[:, d, f][:, None]
    return tr, table


def test_one_condition_cell_and_published_formulas():
    amp = np.zeros((3, 8, 5))
    amp[0, 5, 3] = 50.0  # 225° at 8 Hz
    amp[0, 1, 3] = 10.0  # its null direction (45°)
    amp[1, 2, 0] = 30.0
    amp[1, 2, 1] = 30.0  # exact tie between two TFs: with no noise, the first (1 Hz) wins
    tr, table = dg_data(amp, noise=0.0)
    tr[1] += 0  # keep
    res = G.drifting_gratings_from_traces(tr, table, cell_specimen_ids=[11, 12, 13], n_boot=50)
    t = res.table
    assert list(t.index) == [11, 12, 13] and t.index.name == "cell_specimen_id"
    assert t.loc[11, "pref_dir_dg"] == 225 and t.loc[11, "pref_tf_dg"] == 8
    assert t["pref_dir_dg"].dtype == np.int64
    assert t.loc[12, "pref_dir_dg"] == 90 and t.loc[12, "pref_tf_dg"] == 1
    r = res.responses.sel(cell=11)
    pref, null = r.sel(direction=225, temporal_frequency=8), r.sel(direction=45, temporal_frequency=8)
    orth = (r.sel(direction=135, temporal_frequency=8) + r.sel(direction=315, temporal_frequency=8)) / 2
    assert t.loc[11, "dsi_dg"] == pytest.approx(float((pref - null) / (pref + null)))
    assert t.loc[11, "osi_dg"] == pytest.approx(float((pref - orth) / (pref + orth)))
    assert t.loc[11, "peak_dff_dg"] == pytest.approx(float(pref)) and float(pref) == pytest.approx(50.0)
    tun = np.clip(r.sel(temporal_frequency=8).values, 0, None)
    th = np.deg2rad(DIRS)
    assert t.loc[11, "g_dsi_dg"] == pytest.approx(abs((tun * np.exp(1j * th)).sum()) / tun.sum())
    assert t.loc[11, "g_osi_dg"] == pytest.approx(abs((tun * np.exp(2j * th)).sum()) / tun.sum())
    assert int(res.responses.n_trials.sel(direction=0, temporal_frequency=1)) == 4
    assert res.blank.attrs["n_trials"] == 3
    # cell 13 never responds: no noise → every mean is 0, the first condition wins
    assert t.loc[13, "pref_dir_dg"] == 0 and t.loc[13, "pref_tf_dg"] == 1
    assert np.isnan(t.loc[13, "p_dg"])  # all values equal: scipy gives NaN
    assert set(G.DG_COLUMNS) <= set(t.columns)


def test_p_dg_matches_scipy_and_reliability_tfdi():
    rng = np.random.default_rng(1)
    amp = rng.uniform(0, 20, (4, 8, 5))
    amp[3] = 0
    tr, table = dg_data(amp, n_rep=5, noise=2.0, seed=2)
    res = G.drifting_gratings_from_traces(tr, table, n_boot=0)
    msr = res.mean_sweep_response.values
    code = res.trials["condition"].to_numpy()
    for c in range(4):
        groups = [msr[c, code == k] for k in range(41)]
        assert res.table["p_dg"].iloc[c] == pytest.approx(stats.f_oneway(*groups).pvalue, rel=1e-9)
    # tfdi by hand for cell 0
    row = res.table.iloc[0]
    d = row.pref_dir_dg
    sel = (res.trials.orientation == d) & (res.trials.temporal_frequency != 0)
    x = msr[0, sel.to_numpy()]
    tun = res.responses.sel(direction=d).values[0]
    ref = np.ptp(tun) / (np.ptp(tun) + 2 * np.sqrt(((x - x.mean()) ** 2).sum() / (x.size - 5)))
    assert row.tfdi_dg == pytest.approx(ref)
    assert -1 <= row.reliability_dg <= 1
    assert np.isnan(res.table[["dsi_dg_ci_low", "osi_dg_ci_high"]].to_numpy()).all()


def test_nan_cell_and_condition_without_trials():
    amp = np.zeros((2, 8, 5))
    amp[:, 2, 2] = 40
    tr, table = dg_data(amp, noise=1.0)
    tr[1] = np.nan
    # drop every trial of one condition: its mean is NaN and p_dg is NaN (empty ANOVA group)
    table = table[~((table.orientation == 0) & (table.temporal_frequency == 15))]
    res = G.drifting_gratings_from_traces(tr, table, n_boot=20)
    t = res.table
    assert np.isnan(res.responses.sel(direction=0, temporal_frequency=15).values).all()
    assert int(res.responses.n_trials.sel(direction=0, temporal_frequency=15)) == 0
    assert np.isnan(t["p_dg"]).all()
    assert t["pref_dir_dg"].iloc[0] == 90 and t["pref_tf_dg"].iloc[0] == 4
    assert t.iloc[1].drop(["pref_dir_dg", "pref_tf_dg", "qc_dg"]).isna().all()  # NaN trace → NaN row
    assert np.isnan(t["pref_dir_dg"].iloc[1])
    assert t["qc_dg"].tolist() == ["", "nan_trace"]


def test_bounded_and_bootstrap_ci():
    rng = np.random.default_rng(4)
    amp = rng.normal(0, 3, (6, 8, 5))
    amp[:3, 3, 1] += 30  # three tuned cells; the others have negative-ish means
    tr, table = dg_data(amp, n_rep=6, noise=2.0, seed=5)
    res = G.drifting_gratings_from_traces(tr, table, n_boot=200, seed=7)
    t = res.table
    for col in ("osi_dg_bounded", "dsi_dg_bounded"):
        v = t[col].dropna()
        assert ((v >= 0) & (v <= 1)).all()
    assert (t.dsi_dg_ci_low <= t.dsi_dg_ci_high).all()
    tuned = t.iloc[:3]
    assert ((tuned.dsi_dg_ci_low <= tuned.dsi_dg) & (tuned.dsi_dg <= tuned.dsi_dg_ci_high)).all()
    again = G.drifting_gratings_from_traces(tr, table, n_boot=200, seed=7).table
    pd.testing.assert_frame_equal(t, again)


def test_segments_drop_trials_and_dff_mode():
    amp = np.zeros((1, 8, 5))
    amp[0, 4, 4] = 40
    tr, table = dg_data(amp, noise=0.5)
    n = tr.shape[1]
    with pytest.raises(WindowOutOfRangeError):
        G.drifting_gratings_from_traces(tr[:, : n - 100], table, n_boot=0)
    cut = int(table.start.iloc[10])  # a segment boundary at the 11th onset
    res = G.drifting_gratings_from_traces(tr / 100 - 1, table, trace_kind="dff", n_boot=0,
                                          segments=[[0, cut], [cut, n]])
    assert res.table.attrs["dropped_trials"] == [10]  # its baseline starts before the cut
    assert res.table.pref_dir_dg.iloc[0] == 180 and res.table.pref_tf_dg.iloc[0] == 15
    full = G.drifting_gratings_from_traces(tr, table, n_boot=0)
    assert res.table.peak_dff_dg.iloc[0] == pytest.approx(full.table.peak_dff_dg.iloc[0], rel=0.05)
    sr = res.sweep_response(trials=[0, 1])
    assert sr.dims == ("cell", "trial", "frame")
    with pytest.raises(ValueError, match="trace_kind"):
        G.drifting_gratings_from_traces(tr, table, trace_kind="raw")
    with pytest.raises(ValueError, match="lacks column"):
        G.drifting_gratings_from_traces(tr, table.drop(columns="orientation"))


def sg_data(amp, n_rep=3, noise=0.5, seed=0):
    rng = np.random.default_rng(seed)
    oris, sfs, phs = np.arange(0, 180, 30.0), [0.02, 0.04, 0.08, 0.16, 0.32], [0, 0.25, 0.5, 0.75]
    cond = [(o, s, p) for o in oris for s in sfs for p in phs] * n_rep + [(np.nan,) * 3] * 5
    order = rng.permutation(len(cond))
    table = pd.DataFrame([cond[i] for i in order], columns=["orientation", "spatial_frequency", "phase"])
    table["start"] = 40 + 7 * np.arange(len(table))
    table["end"] = table["start"] + 7
    n_frames = int(table["start"].iloc[-1]) + 60
    tr = 100 + rng.normal(0, noise, (amp.shape[0], n_frames))
    for _, row in table.iterrows():
        if np.isnan(row.orientation):
            continue
        o, s, p = list(oris).index(row.orientation), sfs.index(row.spatial_frequency), phs.index(row.phase)
        tr[:, int(row.start) + 2 : int(row.start) + 9] += amp[:, o, s, p][:, None]
    return tr, table


def test_static_gratings_known_answer():
    amp = np.zeros((2, 6, 5, 4))
    amp[0, 4, 2, 1] = 60.0  # 120°, 0.08 cpd, phase 0.25
    amp[0, 1, 2, 1] = 15.0  # its orthogonal orientation (30°)
    tr, table = sg_data(amp)
    res = G.static_gratings_from_traces(tr, table, frame_rate=30.0)
    t = res.table
    assert (t.pref_ori_sg.iloc[0], t.pref_sf_sg.iloc[0], t.pref_phase_sg.iloc[0]) == (120.0, 0.08, 0.25)
    r = res.responses.isel(cell=0)
    pref = float(r.sel(orientation=120, spatial_frequency=0.08, phase=0.25))
    orth = float(r.sel(orientation=30, spatial_frequency=0.08, phase=0.25))
    assert t.osi_sg.iloc[0] == pytest.approx((pref - orth) / (pref + orth))
    assert t.peak_dff_sg.iloc[0] == pytest.approx(pref)
    assert res.spec.interlength == 28 and res.spec.extralength == 7
    assert t.time_to_peak_sg.iloc[0] == pytest.approx(np.round(t.time_to_peak_sg.iloc[0] * 30) / 30)
    assert 0 < t.time_to_peak_sg.iloc[0] < 0.5
    assert res.responses.dims == ("cell", "orientation", "spatial_frequency", "phase")
    assert set(G.SG_COLUMNS) <= set(t.columns)
    assert 0 <= t.osi_sg_bounded.iloc[0] <= 1
    with pytest.raises(ValueError, match="frame_rate"):
        G.static_gratings_from_traces(tr, table, frame_rate=0)


# ----------------------------------------------------------------------------- synthetic truth
@pytest.fixture(scope="module")
def synth_tables(tiny_observatory):
    from brainobs.io import Session
    from brainobs.synth import read_ground_truth

    gt = read_ground_truth(tiny_observatory).set_index("cell_specimen_id")
    dg, sg = [], []
    for f in sorted((tiny_observatory / "ophys_experiment_data").glob("*.nwb")):
        with Session(f) as s:
            if "drifting_gratings" in s.list_stimuli():
                dg.append(G.drifting_gratings(s, n_boot=100))
            if "static_gratings" in s.list_stimuli():
                sg.append(G.static_gratings(s))
    return pd.concat(dg), pd.concat(sg), gt


def test_dg_ground_truth(synth_tables):
    dg, _, gt = synth_tables
    j = dg.join(gt[["responsive_dg", "pref_dir_dg", "pref_tf_dg"]].add_suffix("_true"))
    j["dsi_dg_true"] = gt["dsi_dg_true"]
    r = j[j.responsive_dg_true.astype(bool)]
    both = ((r.pref_dir_dg == r.pref_dir_dg_true) & (r.pref_tf_dg == r.pref_tf_dg_true)).mean()
    # observed on tiny seed 0: 17 responsive cells, direction 88 %, TF 94 %, both 82 %
    assert len(r) >= 10 and both >= 0.65
    rho = stats.spearmanr(r.dsi_dg, r.dsi_dg_true).statistic  # observed 0.72
    assert rho > 0.4
    assert (r.p_dg < 0.05).mean() >= 0.8  # observed 100 %


def test_sg_ground_truth(synth_tables):
    _, sg, gt = synth_tables
    j = sg.join(gt[["responsive_sg", "pref_ori_sg", "pref_sf_sg"]].add_suffix("_true"))
    r = j[j.responsive_sg_true.astype(bool)]
    # tiny sessions show each SG condition about once: observed orientation 47 % (chance 17 %),
    # SF 67 % (chance 20 %) on 15 responsive cells
    assert np.isclose(r.pref_ori_sg, r.pref_ori_sg_true).mean() >= 0.3
    assert np.isclose(r.pref_sf_sg, r.pref_sf_sg_true).mean() >= 0.4


def test_absent_stimulus_is_a_clear_error(tiny_observatory):
    from brainobs.errors import UnknownStimulusError
    from brainobs.io import Session

    with Session(tiny_observatory / "ophys_experiment_data" / "500000001.nwb") as s:
        with pytest.raises(UnknownStimulusError, match="static_gratings"):
            G.static_gratings(s)
