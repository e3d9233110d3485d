"""Synthetic-observatory configuration: defaults, merging and validation."""

from __future__ import annotations

import pytest

from brainobs import vocab
from brainobs.errors import UnknownAreaError, UnknownCreLineError
from brainobs.synth import SynthConfigError, load_config


def test_defaults_cover_every_cre_line():
    cfg = load_config()
    assert set(cfg["cre_lines"]) == set(vocab.CRE_LINES)
    lines = cfg["cre_lines"]
    for line in lines.values():
        assert line["reporter"] in vocab.REPORTER_LINES
    # published trends
    assert lines["Vip-IRES-Cre"]["frac_responsive"]["dg"] < lines["Cux2-CreERT2"]["frac_responsive"]["dg"]
    assert lines["Sst-IRES-Cre"]["frac_responsive"]["dg"] < lines["Rorb-IRES2-Cre"]["frac_responsive"]["dg"]
    mean = lambda ab: ab[0] / (ab[0] + ab[1])  # noqa: E731
    assert mean(lines["Vip-IRES-Cre"]["osi_dg"]) < mean(lines["Scnn1a-Tg3-Cre"]["osi_dg"])
    assert lines["Rorb-IRES2-Cre"]["rf_probability"] > lines["Vip-IRES-Cre"]["rf_probability"]
    assert vocab.REPORTER_INDICATOR[lines["Pvalb-IRES-Cre"]["reporter"]] == "GCaMP6s"
    assert cfg["noise"]["tau_decay_6s"] > cfg["noise"]["tau_decay_6f"]


def test_merge_dict_and_toml(tmp_path):
    cfg = load_config({"defaults": {"rf_probability": 0.9},
                       "cre_lines": {"Vip-IRES-Cre": {"frac_responsive": {"ns": 0.1}}},
                       "noise": {"crosstalk": 0.0}})
    assert cfg["cre_lines"]["Emx1-IRES-Cre"]["rf_probability"] == 0.9
    assert cfg["cre_lines"]["Vip-IRES-Cre"]["rf_probability"] == 0.15  # line default wins
    assert cfg["cre_lines"]["Vip-IRES-Cre"]["frac_responsive"]["ns"] == 0.1
    assert cfg["cre_lines"]["Vip-IRES-Cre"]["frac_responsive"]["dg"] == 0.25
    assert cfg["noise"]["crosstalk"] == 0.0
    p = tmp_path / "c.toml"
    p.write_text('[cre_lines."Sst-IRES-Cre"]\ndepths = [375]\n')
    assert load_config(p)["cre_lines"]["Sst-IRES-Cre"]["depths"] == [375]
    assert load_config(p) == load_config(str(p))


def test_unknown_keys_named():
    with pytest.raises(SynthConfigError, match=r"'nosie'.*Did you mean 'noise'.*Valid keys"):
        load_config({"nosie": {}})
    with pytest.raises(SynthConfigError, match=r"noise\.crostalk.*crosstalk"):
        load_config({"noise": {"crostalk": 1}})
    with pytest.raises(SynthConfigError, match=r"cre_lines\.Vip-IRES-Cre\.rf_prob"):
        load_config({"cre_lines": {"Vip-IRES-Cre": {"rf_prob": 1}}})
    with pytest.raises(SynthConfigError, match="must be a table"):
        load_config({"defaults": {"frac_responsive": 0.5}})


def test_unknown_cre_line_closest():
    with pytest.raises(UnknownCreLineError, match="Rorb-IRES2-Cre"):
        load_config({"cre_lines": {"Rorb": {}}})


def test_value_validation(tmp_path):
    with pytest.raises(UnknownAreaError, match="VISp"):
        load_config({"defaults": {"areas": ["VISq"]}})
    with pytest.raises(SynthConfigError, match="reporter"):
        load_config({"defaults": {"reporter": "Ai14"}})
    with pytest.raises(SynthConfigError, match=r"\[0, 1\]"):
        load_config({"defaults": {"frac_responsive": {"dg": 1.5}}})
    with pytest.raises(SynthConfigError, match="rf_probability"):
        load_config({"defaults": {"rf_probability": -1}})
    with pytest.raises(SynthConfigError, match="beta"):
        load_config({"defaults": {"osi_dg": [0, 1]}})
    with pytest.raises(SynthConfigError, match="non-empty"):
        load_config({"defaults": {"areas": []}})
    with pytest.raises(FileNotFoundError):
        load_config(tmp_path / "missing.toml")
    with pytest.raises(TypeError):
        load_config(3)
