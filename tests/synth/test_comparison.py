"""Synthetic observatories whose Cre lines differ by design (planted) or not at all (null):
per-Cre-line TF weights, the container design of generate_observatory, the packaged configs
and their ground truth (truth level: no metrics)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from brainobs import vocab
from brainobs.errors import UnknownAreaError, UnknownCreLineError, UnknownValueError
from brainobs.synth import (
    COMPARISON_CRE_LINES,
    COMPARISON_REFERENCE,
    PLANTED_CRE_LINES,
    PLANTED_DIFFERENCES,
    SIZES,
    SynthConfigError,
    generate_comparison_observatory,
    generate_observatory,
    load_config,
    model,
    null_config,
    planted_config,
    read_ground_truth,
    resolve_cell_params,
)
from brainobs.synth import observatory as obs_mod
from brainobs.synth.config import combine_weights
from brainobs.synth.schedule import build_schedule

SCNN1A = "Scnn1a-Tg3-Cre"
REFERENCE = COMPARISON_REFERENCE  # a line without a planted difference


# ----------------------------------------------------------------------------- pref_tf_weights
def test_cre_line_tf_weights_multiply_the_area_weights():
    cfg = load_config({"cre_lines": {SCNN1A: {"pref_tf_weights": [0, 0, 0, 1, 1]}}})
    assert cfg["cre_lines"][SCNN1A]["pref_tf_weights"] == [0.0, 0.0, 0.0, 0.5, 0.5]
    visl = cfg["areas"]["VISl"]["pref_tf_weights"]  # [0.15, 0.2, 0.25, 0.25, 0.15]
    p = resolve_cell_params(cfg, SCNN1A, "VISl", 350)["pref_tf_weights"]
    assert p == pytest.approx([0, 0, 0, 0.25 / 0.4, 0.15 / 0.4])
    # the area still modulates: another area, another mix of 8 and 15 Hz
    q = resolve_cell_params(cfg, SCNN1A, "VISal", 350)["pref_tf_weights"]
    assert q == pytest.approx([0, 0, 0, 0.3 / 0.5, 0.2 / 0.5]) and q != p
    # uniform line weights (the default) give exactly the area's distribution
    for area in vocab.AREAS:
        assert resolve_cell_params(cfg, REFERENCE, area, 175)["pref_tf_weights"] == \
            cfg["areas"][area]["pref_tf_weights"]
    assert visl == load_config()["areas"]["VISl"]["pref_tf_weights"]
    assert combine_weights([1, 1, 0, 0, 0], [0, 2, 2, 0, 0]) == [0.0, 1.0, 0.0, 0.0, 0.0]


def test_cre_line_tf_weights_sampled():
    cfg = load_config({"cre_lines": {SCNN1A: {"pref_tf_weights": [0, 0, 0, 1, 1]}}})
    params = resolve_cell_params(cfg, SCNN1A, "VISp", 350)
    cells = model.sample_cells(np.random.default_rng(0), 3000, SCNN1A, params, cfg["noise"],
                               "GCaMP6f")
    assert set(cells["pref_tf_dg"]) == {8, 15}
    assert (cells["pref_tf_dg"] == 8).mean() == pytest.approx(2 / 3, abs=0.03)  # VISp: 0.2 vs 0.1


@pytest.mark.parametrize("weights, match", [
    ([1, 1, 1, 1], "list of 5 weights"),
    ([1, -1, 1, 1, 1], "non-negative"),
    ([0, 0, 0, 0, 0], "not all be zero"),
    (["a", 1, 1, 1, 1], "finite non-negative"),
])
def test_cre_line_tf_weights_validated(weights, match):
    with pytest.raises(SynthConfigError, match=rf"cre_lines\.{SCNN1A}\.pref_tf_weights.*{match}"):
        load_config({"cre_lines": {SCNN1A: {"pref_tf_weights": weights}}})


def test_cre_line_tf_weights_errors_named():
    with pytest.raises(SynthConfigError,
                       match=rf"'cre_lines\.{SCNN1A}\.pref_tf_weight'.*Did you mean 'pref_tf_weights'"):
        load_config({"cre_lines": {SCNN1A: {"pref_tf_weight": [1, 1, 1, 1, 1]}}})
    with pytest.raises(SynthConfigError, match=r"'defaults\.pref_tf_weight'.*'pref_tf_weights'"):
        load_config({"defaults": {"pref_tf_weight": [1, 1, 1, 1, 1]}})
    # a product that is zero everywhere cannot give any cell a preferred TF
    cfg = load_config({"cre_lines": {SCNN1A: {"pref_tf_weights": [0, 0, 0, 0, 1]}},
                       "areas": {"VISp": {"pref_tf_weights": [1, 1, 0, 0, 0]}}})
    with pytest.raises(SynthConfigError, match=r"areas\.VISp\.pref_tf_weights × cre_lines\."
                                               rf"{SCNN1A}\.pref_tf_weights.*share no frequency"):
        resolve_cell_params(cfg, SCNN1A, "VISp", 350)


# ----------------------------------------------------------------------------- options, noise
def test_options_packaged_cre_lines():
    packaged = load_config()["cre_lines"]
    assert packaged["Vip-IRES-Cre"] != packaged[REFERENCE]
    plain = load_config({"options": {"packaged_cre_lines": False},
                         "cre_lines": {"Vip-IRES-Cre": {"rf_probability": 0.1}}})
    assert plain["options"] == {"packaged_cre_lines": False}
    lines = plain["cre_lines"]
    defaults = {k: v for k, v in lines[REFERENCE].items()}
    for name, table in lines.items():
        diff = {k for k in table if table[k] != defaults[k]}
        assert diff == ({"rf_probability"} if name == "Vip-IRES-Cre" else set()), name
    with pytest.raises(SynthConfigError, match=r"'options\.packaged_cre_line'.*'packaged_cre_lines'"):
        load_config({"options": {"packaged_cre_line": False}})
    with pytest.raises(SynthConfigError, match="true or false"):
        load_config({"options": {"packaged_cre_lines": "no"}})
    with pytest.raises(SynthConfigError, match=r"'option'.*Did you mean 'options'"):
        load_config({"option": {}})


def test_running_bouts_from_config():
    with pytest.raises(SynthConfigError, match=r"noise\.still_bout_s.*positive"):
        load_config({"noise": {"still_bout_s": 0}})
    with pytest.raises(SynthConfigError, match=r"noise\.running_bout_s"):
        load_config({"noise": {"running_bout_s": "long"}})
    default = load_config()["noise"]
    assert (default["running_bout_s"], default["still_bout_s"]) == (10.0, 20.0)
    n = 300_000
    frac = {}
    for still in (20.0, 5.0):
        noise = {**default, "still_bout_s": still}
        speed = obs_mod._running(np.random.default_rng(1), n, noise)
        frac[still] = float((np.nan_to_num(speed) > 2).mean())
    assert frac[20.0] == pytest.approx((300 + 30) / (300 + 600 + 60), abs=0.05)
    assert frac[5.0] == pytest.approx((300 + 30) / (300 + 150 + 60), abs=0.05)


# ----------------------------------------------------------------------------- container design
def test_design_specs():
    cfg = load_config()
    lines, per, areas = obs_mod._design_arguments(["Sst-IRES-Cre", "Emx1-IRES-Cre"], 6,
                                                  ["VISp", "VISl"])
    specs = obs_mod._design_specs(cfg, 0, lines, per, areas)
    assert [s.cre_line for s in specs] == ["Sst-IRES-Cre"] * 6 + ["Emx1-IRES-Cre"] * 6
    assert [s.area for s in specs[:6]] == ["VISp", "VISl"] * 3
    # Sst has depths [275, 375]: every area gets every depth; Emx1 has 175/275/375
    assert sorted({(s.area, s.depth) for s in specs[:6]}) == \
        [("VISl", 275), ("VISl", 375), ("VISp", 275), ("VISp", 375)]
    assert [s.depth for s in specs[6:]] == [175, 175, 275, 275, 375, 375]
    assert [s.index for s in specs] == list(range(12))
    assert len({s.container_id for s in specs}) == 12
    assert not any(s.failed for s in specs)
    assert all(s.session_types[2] == "three_session_C2" for s in specs)
    # areas default to the line's config areas; a string is one name
    lines, per, areas = obs_mod._design_arguments("Vip-IRES-Cre", None, None)
    assert (lines, per, areas) == (["Vip-IRES-Cre"], 1, None)
    specs = obs_mod._design_specs(cfg, 0, lines, 2, areas)
    assert [s.area for s in specs] == cfg["cre_lines"]["Vip-IRES-Cre"]["areas"][:2]
    # only areas given: every Cre line, one container each
    lines, per, _ = obs_mod._design_arguments(None, None, "VISam")
    assert lines == list(vocab.CRE_LINES) and per == 1


@pytest.mark.parametrize("kwargs, error, match", [
    ({"cre_lines": ["Sst-Cre"]}, UnknownCreLineError, "Did you mean 'Sst-IRES-Cre'"),  # "Sst" alone is accepted
    ({"areas": ["VISpp"]}, UnknownAreaError, "Did you mean 'VISp"),
    ({"cre_lines": ["Sst-IRES-Cre", "Sst-IRES-Cre"]}, ValueError, "twice"),
    ({"cre_lines": []}, ValueError, "at least one"),
    ({"areas": []}, ValueError, "at least one"),
    ({"containers_per_cre_line": 0}, ValueError, "positive integer"),
    ({"containers_per_cre_line": 2.5}, ValueError, "positive integer"),
    ({"cre_lines": ["Sst-IRES-Cre"], "containers_per_cre_line": 1000}, ValueError, "999"),
    ({"cre_lines": ["Sst-IRES-Cre"], "containers_per_cre_line": 2, "n_containers": 3},
     ValueError, "does not match"),
])
def test_design_arguments_refused(tmp_path, kwargs, error, match):
    with pytest.raises(error, match=match):
        generate_observatory(tmp_path / "o", size="tiny", **kwargs)
    assert not (tmp_path / "o").exists()


def test_designed_observatory(tmp_path, monkeypatch):
    import brainobs as bo

    # the catalog and the ground truth are what is checked: skip writing the NWB files
    monkeypatch.setattr(obs_mod, "write_session_nwb", lambda path, content: None)
    d = generate_observatory(tmp_path / "o", size="tiny", seed=4, cre_lines="Rbp4-Cre_KL100",
                             containers_per_cre_line=2, areas=["VISam", "VISrl"],
                             n_containers=2)
    obs = bo.open_observatory(d)
    c = obs.containers().sort_values("id")
    assert c["cre_line"].tolist() == ["Rbp4-Cre_KL100"] * 2
    assert c["targeted_structure"].tolist() == ["VISam", "VISrl"]
    assert c["imaging_depth"].tolist() == [375, 375] and not c["failed"].any()
    gt = read_ground_truth(d)
    assert gt.groupby("cre_line")["experiment_container_id"].nunique().to_dict() == \
        {"Rbp4-Cre_KL100": 2}
    marker = json.loads((d / "brainobs.json").read_text())
    assert marker["design"] == {"cre_lines": ["Rbp4-Cre_KL100"],
                                "containers_per_cre_line": 2, "areas": ["VISam", "VISrl"]}
    assert marker["n_containers"] == 2
    # container i of a design uses container i's random stream: the first one's ground truth
    # does not depend on the second
    one = generate_observatory(tmp_path / "one", size="tiny", seed=4, cre_lines="Rbp4-Cre_KL100",
                               areas="VISam")
    pd.testing.assert_frame_equal(read_ground_truth(one), gt[gt.area == "VISam"])


def test_compare_size_schedule_gives_running_and_still_trials():
    """Size "compare" with the comparison configs' running bouts: most DG conditions have more
    than 2 running and more than 2 still trials (run_mod_dg needs both)."""
    p = SIZES["compare"]
    assert p.dg_repeats == 12
    noise = load_config(planted_config())["noise"]
    ok = []
    for k in range(6):
        rng = np.random.default_rng([7, k])
        tables, n_frames = build_schedule("three_session_A", p, rng)
        speed = obs_mod._running(rng, n_frames, noise)
        dg = tables["drifting_gratings"]
        # published trial speed: mean over the 60 response frames, running when >= 1 cm/s
        trial_speed = np.stack([speed[s:s + 60] for s in dg.start]).mean(axis=1)
        v = dg.values
        real = v[:, 2] == 0
        cond = v[real, 0] * 1000 + v[real, 1]
        run = trial_speed[real] >= 1.0
        still = trial_speed[real] < 1.0
        for c in np.unique(cond):
            ok.append(run[cond == c].sum() > 2 and still[cond == c].sum() > 2)
    assert np.mean(ok) >= 0.85  # observed ~0.9; with the default bouts (20 s still) fewer


# ----------------------------------------------------------------------------- planted and null
def _line_diff(cfg, line):
    ref = cfg["cre_lines"][REFERENCE]
    return {k: v for k, v in cfg["cre_lines"][line].items() if v != ref[k]}


def test_planted_config_differs_exactly_as_documented():
    cfg = load_config(planted_config())
    null = load_config(null_config())
    planted = {d.cre_line: d for d in PLANTED_DIFFERENCES}
    assert tuple(planted) == PLANTED_CRE_LINES
    assert COMPARISON_CRE_LINES == (*PLANTED_CRE_LINES, "Cux2-CreERT2")
    for line in vocab.CRE_LINES:
        diff = _line_diff(cfg, line)
        if line in planted:
            assert set(diff) == set(planted[line].parameters), line
        else:
            assert diff == {}, line  # every other line is the reference
    assert _line_diff(cfg, "Rorb-IRES2-Cre") == {"dsi_dg": [8.0, 2.0]}
    assert _line_diff(cfg, "Vip-IRES-Cre") == {
        "frac_responsive": {"dg": 0.1, "sg": 0.1, "ns": 0.1, "nm": 0.1},
        "rf_probability": 0.1}
    assert _line_diff(cfg, SCNN1A) == {"pref_tf_weights": [0.0, 0.0, 0.0, 1 / 3, 2 / 3]}
    assert _line_diff(cfg, "Sst-IRES-Cre") == {"run_mod": [1.0, 1.8]}
    # everything that is not planted equals the null configuration
    assert cfg["cre_lines"][REFERENCE] == null["cre_lines"][REFERENCE]
    for key in ("noise", "areas", "depths", "options"):
        assert cfg[key] == null[key], key
    ref = cfg["cre_lines"][REFERENCE]
    assert ref["depths"] == [275] and ref["areas"] == ["VISp"]
    assert ref["reporter"] == "Ai148(TIT2L-GC6f-ICL-tTA2)" and ref["tld2"] == ""
    assert cfg["noise"]["running_bout_s"] == cfg["noise"]["still_bout_s"] == 10.0


def test_null_config_identical_lines():
    cfg = load_config(null_config())
    tables = list(cfg["cre_lines"].values())
    assert all(t == tables[0] for t in tables)
    # the effective parameters (area × depth applied) are identical too, and so are the cells
    # drawn from them with the same generator
    first = None
    for line in vocab.CRE_LINES:
        p = resolve_cell_params(cfg, line, "VISp", 275)
        cells = model.sample_cells(np.random.default_rng(5), 200, line, p, cfg["noise"], "GCaMP6f")
        if first is None:
            first = (p, cells)
        assert p == first[0]
        pd.testing.assert_frame_equal(cells, first[1])


def test_planted_sampled_distributions():
    cfg = load_config(planted_config())
    draws = {}
    for line in vocab.CRE_LINES:
        p = resolve_cell_params(cfg, line, "VISp", 275)
        draws[line] = model.sample_cells(np.random.default_rng(11), 4000, line, p, cfg["noise"],
                                         "GCaMP6f")
    ref = draws[REFERENCE]
    assert draws["Rorb-IRES2-Cre"]["dsi_dg"].mean() == pytest.approx(0.8, abs=0.01)
    assert ref["dsi_dg"].mean() == pytest.approx(1 / 3, abs=0.01)
    for s in ("dg", "sg", "ns", "nm"):
        assert draws["Vip-IRES-Cre"][f"responsive_{s}"].mean() == pytest.approx(0.1, abs=0.015)
        assert ref[f"responsive_{s}"].mean() > 0.4
    assert draws["Vip-IRES-Cre"]["has_rf"].mean() == pytest.approx(0.1, abs=0.015)
    assert set(draws[SCNN1A]["pref_tf_dg"]) == {8, 15}
    assert (draws[SCNN1A]["pref_tf_dg"] == 15).mean() == pytest.approx(0.5, abs=0.03)
    assert set(ref["pref_tf_dg"]) == {1, 2, 4, 8, 15}
    assert np.log(draws["Sst-IRES-Cre"]["run_mod"]).std() == pytest.approx(1.8, abs=0.05)
    assert np.log(ref["run_mod"]).std() == pytest.approx(0.25, abs=0.02)
    # amplitude, noise and the unplanted selectivities are drawn from the same distributions
    for line in PLANTED_CRE_LINES:
        p, q = resolve_cell_params(cfg, line, "VISp", 275), resolve_cell_params(
            cfg, REFERENCE, "VISp", 275)
        for key in ("amplitude", "noise_sd", "osi_dg", "osi_sg", "image_sel_ns", "reporter"):
            assert p[key] == q[key], (line, key)


@pytest.fixture(scope="module")
def comparison_pair(tmp_path_factory):
    """Tiny planted and null observatories, same seed: one container per Cre line (the four
    planted lines and the reference).

    Only the ground truth is looked at, so the NWB files are not written (faster)."""
    root = tmp_path_factory.mktemp("comparison")
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(obs_mod, "write_session_nwb", lambda path, content: None)
        out = {kind: generate_comparison_observatory(root / kind, kind, seed=2,
                                                     containers_per_cre_line=1, size="tiny")
               for kind in ("planted", "null")}
    return {k: read_ground_truth(v).set_index("cell_specimen_id") for k, v in out.items()}, out


# Ground-truth columns a planted parameter may change (drawn from it or computed from the
# responses it shapes); every other column must be identical to the null observatory's, since
# the same seed gives the same random streams.
REALIZED = ["dsi_dg_true", "osi_dg_true", "osi_sg_true", "image_sel_ns_true"]
MAY_CHANGE = {
    REFERENCE: [],
    "Vip-IRES-Cre": ["responsive_dg", "responsive_sg", "responsive_ns", "responsive_nm",
                     "has_rf", "rf_on_x", "rf_on_y", "rf_off_x", "rf_off_y", *REALIZED],
    SCNN1A: ["pref_tf_dg", "dsi_dg_true", "osi_dg_true"],
    "Sst-IRES-Cre": ["run_mod", *REALIZED],
    # numpy's Beta sampler uses a parameter-dependent number of draws: everything drawn after
    # the DSI may differ, everything before must not
    "Rorb-IRES2-Cre": None,
}
DRAWN_BEFORE_DSI = ["amplitude", "tau_decay_s", "noise_sd", "neuropil_r", "responsive_dg",
                    "pref_dir_dg", "pref_tf_dg"]


def test_planted_vs_null_ground_truth(comparison_pair):
    (gt, dirs) = comparison_pair
    planted, null = gt["planted"], gt["null"]
    assert planted.index.equals(null.index)
    for line, allowed in MAY_CHANGE.items():
        a, b = planted[planted.cre_line == line], null[null.cre_line == line]
        assert len(a) == 8
        same = [c for c in a.columns if a[c].equals(b[c])]
        changed = set(a.columns) - set(same)
        if allowed is None:
            assert set(DRAWN_BEFORE_DSI) <= set(same)
            assert "dsi_dg" in changed
        else:
            assert changed <= set(allowed), (line, changed - set(allowed))
    rorb = planted[planted.cre_line == "Rorb-IRES2-Cre"]
    assert rorb["dsi_dg"].mean() > 0.6 > null[null.cre_line == "Rorb-IRES2-Cre"]["dsi_dg"].mean()
    vip = planted.cre_line == "Vip-IRES-Cre"
    assert planted.loc[vip, "responsive_dg"].sum() < null.loc[vip, "responsive_dg"].sum()
    # same random draws, lower threshold: a responsive Vip cell is responsive in the null too
    assert (planted.loc[vip, "responsive_dg"] <= null.loc[vip, "responsive_dg"]).all()
    assert set(planted.loc[planted.cre_line == SCNN1A, "pref_tf_dg"]) <= {8, 15}
    sst = np.abs(np.log(planted.loc[planted.cre_line == "Sst-IRES-Cre", "run_mod"]))
    assert sst.mean() > 2 * np.abs(np.log(null.loc[null.cre_line == "Sst-IRES-Cre", "run_mod"])).mean()
    # null: every line is drawn from the same distributions — same area, depth, parameters
    for d in dirs.values():
        marker = json.loads((d / "brainobs.json").read_text())
        assert marker["design"]["cre_lines"] == list(COMPARISON_CRE_LINES)
        assert marker["design"]["areas"] == ["VISp"]
    assert set(null["area"]) == {"VISp"} and set(null["imaging_depth"]) == {275}


def test_generate_comparison_observatory_arguments(tmp_path):
    with pytest.raises(UnknownValueError, match=r"Unknown comparison observatory kind 'nul'.*"
                                                r"Did you mean 'null'"):
        generate_comparison_observatory(tmp_path / "o", "nul")
    assert not (tmp_path / "o").exists()
    assert planted_config().is_file() and null_config().is_file()
    assert planted_config().name == "planted.toml" and null_config().name == "null.toml"
