"""compare, responsiveness and role profiles on hand-built tables with planted truth."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from brainobs.errors import UnknownValueError
from brainobs.population import (
    ComparisonError,
    add_responsiveness,
    class_composition,
    compare,
    from_table,
    functional_classes,
    role_profile,
)


def planted_table(seed: int = 0, n_cont: int = 6, n_cells: int = 40, shift: float = 0.3) -> pd.DataFrame:
    """Three Cre lines × containers; line B is more selective by `shift`, line C responds less."""
    rng = np.random.default_rng(seed)
    rows = []
    cid = 1000
    for cre, p_resp, mu in (("Cux2-CreERT2", 0.6, 0.4), ("Rorb-IRES2-Cre", 0.6, 0.4 + shift),
                            ("Vip-IRES-Cre", 0.2, 0.4)):
        for _ in range(n_cont):
            cid += 1
            offset = rng.normal(0, 0.03)  # container effect
            resp = rng.random(n_cells) < p_resp
            rows.append(pd.DataFrame({
                "cell_specimen_id": cid * 1000 + np.arange(n_cells), "tld1_name": cre,
                "area": "VISp", "imaging_depth": 275, "experiment_container_id": cid,
                "specimen_id": cid + 5,
                "p_dg": np.where(resp, 0.001, 0.5),
                "g_osi_dg": np.clip(rng.normal(mu + offset, 0.12, n_cells), 0, 1),
                "p_ns": np.where(rng.random(n_cells) < 0.5, 0.01, 0.4),
            }))
    return from_table(pd.concat(rows, ignore_index=True))


def test_planted_differences_are_found_with_the_right_sign():
    t = planted_table()
    sel = compare(t, "g_osi_dg", "cre_line", n_boot=300)
    assert sel.interval_method.startswith("hierarchical")
    assert "responsive" in sel.population
    pw = sel.pairwise.set_index(["group_a", "group_b"])
    row = pw.loc[("Cux2-CreERT2", "Rorb-IRES2-Cre")]
    assert row["significant"] and row["effect_value"] < -0.5 and row["effect_ci_high"] < 0
    assert not pw.loc[("Cux2-CreERT2", "Vip-IRES-Cre"), "significant"]
    frac = compare(t, "p_dg < 0.05", "cre_line", n_boot=300)
    assert frac.kind == "fraction" and frac.population == "all cells with a value"
    g = frac.groups.set_index("group")
    assert g.loc["Vip-IRES-Cre", "fraction"] < g.loc["Cux2-CreERT2", "fraction"] - 0.25
    fw = frac.pairwise.set_index(["group_a", "group_b"])
    assert fw.loc[("Cux2-CreERT2", "Vip-IRES-Cre"), "significant"]
    assert not fw.loc[("Cux2-CreERT2", "Rorb-IRES2-Cre"), "significant"]
    assert frac.omnibus["p"] < 1e-6 and frac.omnibus["test"] == "chi-square"


def test_groups_count_cells_containers_and_mice():
    t = planted_table()
    res = compare(t, "g_osi_dg", "cre_line", responsive_only=False, n_boot=50)
    assert res.groups["n_cells"].tolist() == [240, 240, 240]
    assert res.groups["n_containers"].tolist() == [6, 6, 6]
    assert res.groups["n_mice"].tolist() == [6, 6, 6]
    med = t.groupby("cre_line")["g_osi_dg"].median()
    assert res.groups.set_index("group")["median"].to_dict() == pytest.approx(med.to_dict())


def test_missing_values_are_left_out_and_reported_not_counted_false():
    t = planted_table()
    t.loc[t["cre_line"] == "Vip-IRES-Cre", "p_dg"] = np.nan  # never analyzed
    res = compare(t, "p_dg < 0.05", "cre_line", n_boot=50)
    assert "Vip-IRES-Cre" not in res.groups["group"].tolist()
    cov = res.coverage.set_index("group")
    assert cov.loc["Vip-IRES-Cre", "n_no_value"] == 240
    assert cov.loc["Vip-IRES-Cre", "n_containers_without_value"] == 6
    assert any("brainobs analyze --missing" in n for n in res.notes)


def test_two_grouping_columns_and_bad_input():
    t = planted_table()
    t.loc[t.index[:120], "area"] = "VISl"
    res = compare(t, "g_osi_dg", ["cre_line", "area"], n_boot=50)
    assert "Cux2-CreERT2 · VISl" in res.groups["group"].tolist()
    with pytest.raises(UnknownValueError, match="Did you mean 'g_osi_dg'"):
        compare(t, "g_osi", "cre_line")
    with pytest.raises(UnknownValueError, match="grouping column"):
        compare(t, "g_osi_dg", "cre")
    with pytest.raises(ComparisonError, match="no stimulus family"):
        compare(t, "imaging_depth", "cre_line", responsive_only=True)
    with pytest.raises(ComparisonError, match="container"):
        compare(t.drop(columns="experiment_container_id"), "g_osi_dg", "cre_line", hierarchical=True)


def test_json_round_trip():
    import json

    res = compare(planted_table(), "p_dg < 0.05", "cre_line", n_boot=50)
    d = json.loads(res.to_json())
    assert set(d) >= {"groups", "omnibus", "pairwise", "coverage", "notes"}
    assert d["groups"][0]["n_cells"] == 240 and "<table" in res._repr_html_()


def test_responsiveness_rules_and_na():
    t = pd.DataFrame({"p_dg": [0.01, 0.3, np.nan], "frac_sig_trials_dg": [0.1, 0.5, 0.9],
                      "reliability_nm1_a": [0.5, 0.1, np.nan], "reliability_nm2": [np.nan, 0.3, np.nan],
                      "rf_chi2_lsn": [0.01, 0.5, 0.02]})
    p = add_responsiveness(t, "p", families=["dg", "nm", "lsn"])
    assert p["responsive_dg"].tolist() == [True, False, pd.NA]
    assert p["responsive_nm"].tolist() == [True, True, pd.NA]
    assert p["functional_class"].tolist() == ["DG+NM+LSN", "NM", pd.NA]
    tr = add_responsiveness(t, "trials", families=["dg"])
    assert tr["responsive_dg"].tolist() == [False, True, True]
    assert tr.attrs["responsiveness_rules"]["dg"] == "frac_sig_trials_dg > 0.25"
    given = add_responsiveness(t.assign(responsive_dg=[False, False, True]), "auto", families=["dg"])
    assert given["responsive_dg"].tolist() == [False, False, True]
    with pytest.raises(UnknownValueError, match="Did you mean 'trials'"):
        add_responsiveness(t, "trial")


def test_class_composition_sums_to_one():
    t = add_responsiveness(planted_table(), "p", families=["dg", "ns"])
    comp = class_composition(t, "cre_line")
    assert np.allclose(comp.groupby("cre_line")["fraction"].sum(), 1.0)
    ref = t.groupby("cre_line")["functional_class"].value_counts(normalize=True)
    for _, r in comp.iterrows():
        assert r["fraction"] == pytest.approx(ref[(r["cre_line"], r["functional_class"])])
    assert functional_classes(t, ["dg", "ns"]).notna().all()


def test_role_profile_claims_only_what_its_tests_found():
    t = planted_table()
    prof = role_profile(t, "Vip-IRES-Cre", "VISp", rule="p", n_boot=200)
    rows = prof.table.set_index("feature")
    assert rows.loc["responsive_dg", "direction"] == "lower"
    # the reference pools Cux2 (same gOSI) and Rorb (higher): Vip is lower than the pool
    assert rows.loc["g_osi_dg", "direction"] == "lower"
    assert rows.loc["responsive_ns", "direction"] == "no detectable difference"
    assert "respond to drifting gratings, fewer than other Cre lines in VISp" in prof.sentences[0]
    assert "no detectable difference" in prof.sentences[0]  # natural scenes
    assert "lower orientation selectivity" in prof.sentences[1]
    text = " ".join(prof.sentences)
    for _, r in prof.table.iterrows():  # a "higher"/"lower" word only for Holm-significant rows
        if r["kind"] == "median" and not r["significant"]:
            assert f"higher {r['description']}" not in text and f"lower {r['description']}" not in text
    rorb = role_profile(t, "Rorb-IRES2-Cre", rule="p", n_boot=200)
    r = rorb.table.set_index("feature").loc["g_osi_dg"]
    assert r["direction"] == "higher" and r["p_holm"] < 0.05
    assert "higher orientation selectivity" in " ".join(rorb.sentences)
    assert rorb.coverage["group"] == {"n_cells": 240, "n_containers": 6, "n_mice": 6}


def test_null_table_gives_no_claims():
    rng = np.random.default_rng(7)
    n = 600
    t = from_table(pd.DataFrame({
        "tld1_name": rng.choice(["Cux2-CreERT2", "Rorb-IRES2-Cre", "Vip-IRES-Cre"], n),
        "experiment_container_id": rng.integers(0, 15, n), "area": "VISp",
        "p_dg": rng.uniform(0, 0.1, n), "g_osi_dg": rng.uniform(0, 1, n)}))
    res = compare(t, "g_osi_dg", "cre_line", responsive_only=False, n_boot=100)
    assert not res.pairwise["significant"].any()
    prof = role_profile(t, "Vip-IRES-Cre", rule="p", n_boot=100)
    assert not prof.table["significant"].any()
