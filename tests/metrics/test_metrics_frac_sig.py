"""frac_sig_trials_dg/_sg/_ns: the dF/F analogue of de Vries et al. 2020's responsiveness rule.

Known answers on hand-built traces, an independent scipy computation on the tiny synthetic
observatory, and ground truth (cells generated responsive have clearly higher fractions).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from brainobs.metrics import gratings as G
from brainobs.metrics import scenes as S
from brainobs.metrics.sweep import preferred_trial_fraction


def _alternating(n_cells: int, n_frames: int) -> np.ndarray:
    """F = 100 ± 1 alternating frame by frame: any window whose baseline and response have an
    even number of frames has equal baseline and response means, so its per-sweep ANOVA gives
    p ≈ 1 (never significant); adding +50 over the response frames gives p ≈ 0."""
    return 100.0 + np.tile([1.0, -1.0], (n_frames + 1) // 2)[:n_frames][None, :].repeat(n_cells, 0)


def test_preferred_trial_fraction_rules():
    p = np.array([[0.01, 0.2, 0.03, np.nan, 0.001, 0.04],
                  [0.5, 0.01, 0.5, 0.01, 0.5, 0.01],
                  [np.nan, np.nan, np.nan, np.nan, 0.01, 0.01]])
    codes = np.array([0, 0, 0, 0, 1, -1])
    got = preferred_trial_fraction(p, codes, [0, -1, 0])
    assert got[0] == pytest.approx(2 / 3)  # the NaN trial and the other conditions left out
    assert np.isnan(got[1])  # no preferred condition (code -1 does not match the -1 trial)
    assert np.isnan(got[2])  # no preferred trial has a p-value
    assert preferred_trial_fraction(p, codes, [1, 1, 1]).tolist() == [1.0, 0.0, 1.0]
    assert preferred_trial_fraction(p, codes, [0, 0, 0], alpha=0.02)[0] == pytest.approx(1 / 3)
    with pytest.raises(ValueError, match="shape"):
        preferred_trial_fraction(p[:, :3], codes, [0, 0, 0])


def test_dg_hand_built_exact_fraction():
    dirs, tfs = np.arange(0, 360, 45), [1, 2, 4, 8, 15]
    cond = [(d, f) for d in dirs for f in tfs] * 5 + [(np.nan, np.nan)] * 3
    table = pd.DataFrame(cond, columns=["orientation", "temporal_frequency"])
    table["start"] = 40 + 90 * np.arange(len(table))  # even starts: windows are in phase
    tr = _alternating(3, int(table["start"].iloc[-1]) + 130)
    pref = np.flatnonzero((table.orientation == 225) & (table.temporal_frequency == 8))
    assert pref.size == 5
    # cell 0: 3 preferred trials respond (p ≈ 0), one does not (p ≈ 1), one has a constant
    # window (NaN p, as scipy: left out of both counts) → 3 / 4. (A NaN frame would exclude
    # the whole cell: tests/metrics/test_metrics_qc.py.)
    for i in pref[[0, 1, 2]]:
        s = int(table.start[i])
        tr[0, s : s + 60] += 50.0
    s4 = int(table.start[pref[4]])
    tr[0, s4 - 30 : s4 + 90] = 100.0
    # cell 1 never responds: every mean is 0, its preferred condition is the first (0°, 1 Hz)
    # and none of its trials is significant → 0
    tr[2] = np.nan  # cell 2: no preferred condition → NaN
    res = G.drifting_gratings_from_traces(tr, table, n_boot=0)
    t = res.table
    assert t.loc[0, "pref_dir_dg"] == 225 and t.loc[0, "pref_tf_dg"] == 8
    p_pref = res.pval.values[0, pref]
    assert (p_pref[[0, 1, 2]] < 1e-10).all() and p_pref[3] > 0.9 and np.isnan(p_pref[4])
    assert t.loc[0, "frac_sig_trials_dg"] == 0.75
    assert t.loc[1, "frac_sig_trials_dg"] == 0.0
    assert np.isnan(t.loc[2, "frac_sig_trials_dg"]) and t.loc[2, "qc_dg"] == "nan_trace"
    assert list(t.columns[-2:]) == ["frac_sig_trials_dg", "qc_dg"]


def _flash_table(values: pd.DataFrame, gap: int = 80, length: int = 8) -> pd.DataFrame:
    t = values.reset_index(drop=True).copy()
    t["start"] = 40 + gap * np.arange(len(t))  # windows (4 × 8 frames either side) never overlap
    t["end"] = t["start"] + length
    return t


def test_sg_hand_built_exact_fraction():
    grid = [(o, sf, ph) for o in range(0, 180, 30) for sf in (0.02, 0.04, 0.08, 0.16, 0.32)
            for ph in (0.0, 0.25, 0.5, 0.75)]
    rows = pd.DataFrame(grid * 3 + [(np.nan, np.nan, np.nan)] * 2,
                        columns=["orientation", "spatial_frequency", "phase"])
    table = _flash_table(rows)
    tr = _alternating(2, int(table["start"].iloc[-1]) + 120)
    pref = np.flatnonzero((table.orientation == 60) & (table.spatial_frequency == 0.08)
                          & (table.phase == 0.5))
    assert pref.size == 3
    for i in pref[:2]:  # 2 of 3 respond over the response frames (sweep + extra: 16 frames)
        s = int(table.start[i])
        tr[0, s : s + 16] += 50.0
    tr[1] = np.nan
    res = G.static_gratings_from_traces(tr, table, frame_rate=30.0)
    t = res.table
    assert (t.pref_ori_sg[0], t.pref_sf_sg[0], t.pref_phase_sg[0]) == (60.0, 0.08, 0.5)
    assert t.frac_sig_trials_sg[0] == pytest.approx(2 / 3)
    assert np.isnan(t.frac_sig_trials_sg[1])


def test_ns_hand_built_exact_fraction():
    rows = pd.DataFrame({"frame": np.tile(np.arange(-1, 118), 4)})
    table = _flash_table(rows)
    tr = _alternating(2, int(table["start"].iloc[-1]) + 120)
    pref = np.flatnonzero(table.frame == 17)
    for i in pref[[0, 2, 3]]:
        s = int(table.start[i])
        tr[0, s : s + 16] += 30.0
    tr[1] = np.nan  # every image mean NaN: no preferred image
    res = S.natural_scenes_from_traces(tr, table, frame_rate=30.0)
    t = res.table
    assert t.pref_image_ns[0] == 17
    assert t.frac_sig_trials_ns[0] == 0.75
    assert np.isnan(t.frac_sig_trials_ns[1])


# ----------------------------------------------------------------------------- synthetic data
@pytest.fixture(scope="module")
def tiny_tables(tiny_observatory):
    from brainobs.io import Session

    out: dict[str, list] = {"dg": [], "sg": [], "ns": []}
    for f in sorted((tiny_observatory / "ophys_experiment_data").glob("*.nwb")):
        with Session(f) as s:
            stims = s.list_stimuli()
            if "drifting_gratings" in stims:
                out["dg"].append((f, G.drifting_gratings(s, n_boot=0)))
            if "static_gratings" in stims:
                out["sg"].append((f, G.static_gratings(s)))
            if "natural_scenes" in stims:
                out["ns"].append((f, S.natural_scenes(s)))
    return out


def _independent_fraction(F: np.ndarray, starts: np.ndarray, inter: int, resp: int) -> float:
    """Per-sweep scipy f_oneway (baseline vs response samples of the local %dF/F)."""
    ps = []
    for s in starts:
        w = F[s - inter : s + resp + inter].astype(np.float64)
        dff = 100.0 * (w / w[:inter].mean() - 1.0)
        ps.append(stats.f_oneway(dff[:inter], dff[inter : inter + resp]).pvalue)
    ps = np.asarray(ps)
    ps = ps[~np.isnan(ps)]
    return float((ps < 0.05).mean())


@pytest.mark.parametrize("family", ["dg", "sg", "ns"])
def test_matches_independent_scipy_computation(tiny_tables, family):
    from brainobs.io import Session

    stim = {"dg": "drifting_gratings", "sg": "static_gratings", "ns": "natural_scenes"}[family]
    checked = 0
    for path, table in tiny_tables[family][:2]:
        with Session(path) as s:
            F = s.corrected_fluorescence().values
            trials = s.stimulus_table(stim)
        if family == "dg":
            inter, resp = 30, 60
        else:
            length = int(trials["end"].iloc[1] - trials["start"].iloc[1])  # published: 2nd row
            inter, resp = 4 * length, 2 * length
        for k, (cid, row) in enumerate(table.head(4).iterrows()):
            if family == "dg":
                sel = ((trials.orientation == row.pref_dir_dg)
                       & (trials.temporal_frequency == row.pref_tf_dg))
            elif family == "sg":
                sel = (np.isclose(trials.orientation, row.pref_ori_sg)
                       & np.isclose(trials.spatial_frequency, row.pref_sf_sg)
                       & np.isclose(trials.phase, row.pref_phase_sg))
            else:
                sel = trials.frame == row.pref_image_ns
            starts = trials.loc[sel, "start"].to_numpy(np.int64)
            assert starts.size >= 1
            ref = _independent_fraction(F[k], starts, inter, resp)
            assert row[f"frac_sig_trials_{family}"] == pytest.approx(ref, abs=1e-12), cid
            checked += 1
    assert checked == 8


def test_ground_truth_responsive_cells_higher(tiny_tables, tiny_observatory):
    from brainobs.synth import read_ground_truth

    gt = read_ground_truth(tiny_observatory).set_index("cell_specimen_id")
    for family in ("dg", "sg", "ns"):
        t = pd.concat([tab for _, tab in tiny_tables[family]])
        col = f"frac_sig_trials_{family}"
        assert t[col].between(0, 1).all()
        by = t[col].groupby(gt.loc[t.index, f"responsive_{family}"].to_numpy())
        med, mean = by.median(), by.mean()
        # tiny seed 0 observed — responsive: median 1.0 in every family; unresponsive: median
        # 0.5 (DG, 2 trials per condition), 1.0 (SG, 1 trial: the maximum of 120 noise trials
        # is significant), 0.25 (NS, 4 trials)
        assert mean[True] - mean[False] >= 0.2
        if family != "sg":
            assert med[True] - med[False] >= 0.5
