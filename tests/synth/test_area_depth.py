"""Area and depth dependence of the ground-truth distributions (config, resolver, generator)."""

from __future__ import annotations

import numpy as np
import pytest

from brainobs import vocab
from brainobs.errors import UnknownAreaError, UnknownCreLineError
from brainobs.synth import (
    SynthConfigError,
    generate_observatory,
    load_config,
    model,
    read_ground_truth,
    resolve_cell_params,
)
from brainobs.synth.config import depth_bin, normalize_weights

ONES = {"dg": 1.0, "sg": 1.0, "ns": 1.0, "nm": 1.0}
NEUTRAL_DEPTH = {"frac_responsive_scale": ONES, "rf_probability_scale": 1.0,
                 "amplitude_scale": 1.0, "noise_sd_scale": 1.0}

OVERRIDES = {
    "cre_lines": {"Cux2-CreERT2": {"frac_responsive": {"dg": 0.5, "sg": 0.4, "ns": 0.5, "nm": 0.5},
                                   "rf_probability": 0.6, "amplitude": [0.5, 0.3]}},
    "noise": {"noise_sd": [0.04, 0.3]},
    "areas": {"VISl": {"frac_responsive_scale": {"dg": 0.5, "sg": 2.0, "ns": 1.0, "nm": 0.0},
                       "rf_probability_scale": 0.5, "amplitude_scale": 2.0,
                       "noise_sd_scale": 1.5, "pref_tf_weights": [0, 0, 1, 1, 2]}},
    "depths": {"edges": [200, 300],
               "mid": {"frac_responsive_scale": {"dg": 0.8, "sg": 1.5, "ns": 1.0, "nm": 1.0},
                       "rf_probability_scale": 0.5, "amplitude_scale": 0.5,
                       "noise_sd_scale": 2.0},
               "superficial": NEUTRAL_DEPTH},
}


def test_resolver_applies_area_and_depth_modifiers():
    cfg = load_config(OVERRIDES)
    p = resolve_cell_params(cfg, "Cux2-CreERT2", "VISl", 250)
    assert p["depth_bin"] == "mid" and p["area"] == "VISl" and p["depth"] == 250
    fr = p["frac_responsive"]
    assert fr["dg"] == pytest.approx(0.5 * 0.5 * 0.8)
    assert fr["sg"] == 1.0  # 0.4 * 2.0 * 1.5 = 1.2, clipped
    assert fr["ns"] == pytest.approx(0.5) and fr["nm"] == 0.0
    assert p["rf_probability"] == pytest.approx(0.6 * 0.5 * 0.5)
    assert p["amplitude"] == pytest.approx([0.5 * 2.0 * 0.5, 0.3])
    assert p["noise_sd"] == pytest.approx([0.04 * 1.5 * 2.0, 0.3])
    assert p["pref_tf_weights"] == pytest.approx([0, 0, 0.25, 0.25, 0.5])
    # non-modified keys come from the Cre line
    assert p["osi_dg"] == cfg["cre_lines"]["Cux2-CreERT2"]["osi_dg"]
    # superficial is neutral here: only the area modifiers apply
    s = resolve_cell_params(cfg, "Cux2-CreERT2", "VISl", 175)
    assert s["depth_bin"] == "superficial"
    assert s["frac_responsive"]["dg"] == pytest.approx(0.25)
    assert s["rf_probability"] == pytest.approx(0.3)
    # VISp keeps its packaged defaults; the resolver does not touch the config
    v = resolve_cell_params(cfg, "Cux2-CreERT2", "VISp", 175)
    assert v["frac_responsive"]["dg"] == pytest.approx(0.5 * cfg["areas"]["VISp"]["frac_responsive_scale"]["dg"])
    assert cfg["cre_lines"]["Cux2-CreERT2"]["frac_responsive"]["dg"] == 0.5
    assert cfg["areas"]["VISl"]["pref_tf_weights"] == pytest.approx([0, 0, 0.25, 0.25, 0.5])


def test_clipping_to_unit_interval():
    cfg = load_config({"areas": {"VISp": {"rf_probability_scale": 10.0,
                                          "frac_responsive_scale": {"dg": 5.0}}},
                       "depths": {"superficial": NEUTRAL_DEPTH}})
    p = resolve_cell_params(cfg, "Cux2-CreERT2", "VISp", 175)
    assert p["rf_probability"] == 1.0 and p["frac_responsive"]["dg"] == 1.0
    cfg = load_config({"areas": {"VISp": {"rf_probability_scale": 0.0}}})
    assert resolve_cell_params(cfg, "Cux2-CreERT2", "VISp", 175)["rf_probability"] == 0.0


def test_depth_bins():
    cfg = load_config({"depths": {"edges": [200, 300]}})
    assert [depth_bin(cfg, d) for d in (0, 199.9, 200, 299, 300, 550)] == [
        "superficial", "superficial", "mid", "mid", "deep", "deep"]
    default = load_config()
    assert default["depths"]["edges"] == [250, 400]
    assert [depth_bin(default, d) for d in (175, 275, 375, 550)] == [
        "superficial", "mid", "mid", "deep"]
    with pytest.raises(ValueError, match="depth"):
        depth_bin(default, -5)


def test_default_trends():
    cfg = load_config()
    areas = cfg["areas"]
    assert set(areas) == set(vocab.AREAS)
    for a in areas.values():
        assert sum(a["pref_tf_weights"]) == pytest.approx(1.0)
        assert sum(a["pref_sf_weights"]) == pytest.approx(1.0)

    def mean_log(weights, values):
        return float(np.dot(weights, np.log2(values)))

    tf = {k: mean_log(a["pref_tf_weights"], vocab.DG_TEMPORAL_FREQUENCIES) for k, a in areas.items()}
    sf = {k: mean_log(a["pref_sf_weights"], vocab.SG_SPATIAL_FREQUENCIES) for k, a in areas.items()}
    for high in ("VISal", "VISl", "VISrl"):
        assert tf[high] > tf["VISp"] > tf["VISpm"] and tf["VISp"] > tf["VISam"]
    assert sf["VISpm"] > sf["VISp"] > sf["VISal"] and sf["VISp"] > sf["VISrl"]
    for other in ("VISl", "VISal", "VISpm", "VISam", "VISrl"):
        assert areas[other]["frac_responsive_scale"]["dg"] < areas["VISp"]["frac_responsive_scale"]["dg"]
        assert areas[other]["rf_probability_scale"] < areas["VISp"]["rf_probability_scale"]
    for few in ("VISam", "VISpm", "VISrl"):
        assert areas[few]["rf_probability_scale"] < areas["VISl"]["rf_probability_scale"]
    d = cfg["depths"]
    assert d["deep"]["rf_probability_scale"] < d["superficial"]["rf_probability_scale"]
    assert d["deep"]["frac_responsive_scale"]["dg"] < d["superficial"]["frac_responsive_scale"]["dg"]
    assert d["deep"]["noise_sd_scale"] > d["superficial"]["noise_sd_scale"]
    # Cre line × area × depth combine: deep VISam Rbp4 responds less than superficial VISp Cux2
    lo = resolve_cell_params(cfg, "Rbp4-Cre_KL100", "VISam", 550)
    hi = resolve_cell_params(cfg, "Cux2-CreERT2", "VISp", 175)
    assert lo["frac_responsive"]["dg"] < hi["frac_responsive"]["dg"]
    assert lo["rf_probability"] < hi["rf_probability"]


@pytest.mark.parametrize(("weights", "message"), [
    ([1, 1, 1, 1], r"areas\.VISl\.pref_tf_weights must be a list of 5 weights"),
    ([1, 1, 1, 1, -1], r"areas\.VISl\.pref_tf_weights weights must be finite non-negative"),
    ([0, 0, 0, 0, 0], r"areas\.VISl\.pref_tf_weights weights must not all be zero"),
    ([1, 1, "a", 1, 1], r"non-negative"),
    ([1, 1, float("nan"), 1, 1], r"non-negative"),
    (0.5, r"must be a list of 5"),
])
def test_bad_weights(weights, message):
    with pytest.raises(SynthConfigError, match=message):
        load_config({"areas": {"VISl": {"pref_tf_weights": weights}}})


def test_normalize_weights():
    assert normalize_weights([2, 2, 4, 0, 0]) == [0.25, 0.25, 0.5, 0.0, 0.0]
    with pytest.raises(SynthConfigError, match="x.y"):
        normalize_weights([0] * 5, "x.y")


def test_unknown_area_and_keys_named():
    with pytest.raises(UnknownAreaError, match=r"'VISpp'.*Did you mean 'VISp"):
        load_config({"areas": {"VISpp": {}}})
    with pytest.raises(SynthConfigError,
                       match=r"'areas\.VISp\.pref_tf_weight'.*Did you mean 'pref_tf_weights'.*Valid keys"):
        load_config({"areas": {"VISp": {"pref_tf_weight": [1, 1, 1, 1, 1]}}})
    with pytest.raises(SynthConfigError, match=r"'areas\.VISp\.frac_responsive_scale\.dgg'.*Did you mean 'dg'"):
        load_config({"areas": {"VISp": {"frac_responsive_scale": {"dgg": 1.0}}}})
    with pytest.raises(SynthConfigError, match=r"'area'.*Did you mean 'areas'.*Valid keys"):
        load_config({"area": {}})
    with pytest.raises(SynthConfigError, match=r"'depths\.superficiel'.*'superficial'.*Valid keys"):
        load_config({"depths": {"superficiel": {}}})
    with pytest.raises(SynthConfigError, match=r"'depths\.deep\.pref_tf_weights'"):
        load_config({"depths": {"deep": {"pref_tf_weights": [1, 1, 1, 1, 1]}}})
    with pytest.raises(SynthConfigError, match=r"'areas\.VISp' must be a table"):
        load_config({"areas": {"VISp": 1.0}})
    with pytest.raises(SynthConfigError, match=r"'areas' must be a table"):
        load_config({"areas": [1]})


def test_bad_modifier_values():
    with pytest.raises(SynthConfigError, match=r"areas\.VISp\.rf_probability_scale.*non-negative"):
        load_config({"areas": {"VISp": {"rf_probability_scale": -0.1}}})
    with pytest.raises(SynthConfigError, match=r"depths\.mid\.frac_responsive_scale\.ns"):
        load_config({"depths": {"mid": {"frac_responsive_scale": {"ns": "high"}}}})
    with pytest.raises(SynthConfigError, match=r"depths\.edges"):
        load_config({"depths": {"edges": [400, 250]}})
    with pytest.raises(SynthConfigError, match=r"depths\.edges"):
        load_config({"depths": {"edges": [250]}})


def test_resolver_unknown_names():
    cfg = load_config()
    with pytest.raises(UnknownAreaError, match="VISp"):
        resolve_cell_params(cfg, "Cux2-CreERT2", "VISq", 175)
    with pytest.raises(UnknownCreLineError, match="Cux2-CreERT2"):
        resolve_cell_params(cfg, "Cux2", "VISp", 175)


def test_toml_file_overrides(tmp_path):
    p = tmp_path / "c.toml"
    p.write_text('[areas."VISam"]\npref_sf_weights = [0, 0, 0, 0, 3]\n'
                 '[depths.deep]\nnoise_sd_scale = 2.0\n')
    cfg = load_config(p)
    assert cfg["areas"]["VISam"]["pref_sf_weights"] == [0.0, 0.0, 0.0, 0.0, 1.0]
    assert cfg["areas"]["VISam"]["pref_tf_weights"] == load_config()["areas"]["VISam"]["pref_tf_weights"]
    assert cfg["depths"]["deep"]["noise_sd_scale"] == 2.0


def test_sample_cells_draws_from_weights():
    cfg = load_config({"areas": {"VISpm": {"pref_tf_weights": [0, 1, 0, 0, 1],
                                           "pref_sf_weights": [0, 0, 0, 1, 0]}}})
    params = resolve_cell_params(cfg, "Emx1-IRES-Cre", "VISpm", 375)
    a = model.sample_cells(np.random.default_rng(3), 400, "Emx1-IRES-Cre", params, cfg["noise"],
                           "GCaMP6f")
    b = model.sample_cells(np.random.default_rng(3), 400, "Emx1-IRES-Cre", params, cfg["noise"],
                           "GCaMP6f")
    assert a.equals(b)  # deterministic
    assert set(a["pref_tf_dg"]) == {2.0, 15.0}
    assert set(a["pref_sf_sg"]) == {0.16}
    # noise sd median follows the depth bin's scale
    ratio = np.median(a["noise_sd"]) / cfg["noise"]["noise_sd"][0]
    assert ratio == pytest.approx(cfg["depths"]["mid"]["noise_sd_scale"], rel=0.1)


def test_generator_honours_area_and_depth(tmp_path):
    # tiny containers: Cux2 VISp 275 µm (mid), Rorb VISp 275 µm (mid), Cux2 VISl 175 µm
    cfg = {
        "cre_lines": {name: {"frac_responsive": {"dg": 1.0}, "rf_probability": 1.0}
                      for name in ("Cux2-CreERT2", "Rorb-IRES2-Cre")},
        "areas": {"VISp": {"frac_responsive_scale": {"dg": 1.0}, "rf_probability_scale": 1.0,
                           "pref_tf_weights": [0, 0, 0, 1, 0],
                           "pref_sf_weights": [0, 0, 0, 0, 1]},
                  "VISl": {"frac_responsive_scale": {"dg": 0.0}, "rf_probability_scale": 0.0,
                           "pref_tf_weights": [1, 0, 0, 0, 0]}},
        "depths": {name: NEUTRAL_DEPTH for name in ("superficial", "mid", "deep")},
    }
    out = generate_observatory(tmp_path / "obs", size="tiny", seed=5, config=cfg, n_containers=3)
    gt = read_ground_truth(out)
    visp, visl = gt[gt["area"] == "VISp"], gt[gt["area"] == "VISl"]
    assert len(visp) == 16 and len(visl) == 8
    assert set(visp["cre_line"]) == {"Cux2-CreERT2", "Rorb-IRES2-Cre"}
    assert visp["responsive_dg"].all() and visp["has_rf"].all()
    assert not visl["responsive_dg"].any() and not visl["has_rf"].any()
    assert (visp["pref_tf_dg"] == 8.0).all() and (visl["pref_tf_dg"] == 1.0).all()
    assert (visp["pref_sf_sg"] == 0.32).all()
    assert visl["pref_sf_sg"].nunique() > 1  # VISl keeps its default, broad SF weights
