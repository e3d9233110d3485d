"""The population API on the real SWDB-2019 table, against independent pandas/scipy code."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps
from statsmodels.stats.multitest import multipletests

from brainobs.population import compare, from_table, layer_from_depth

LAYER_OF_BIN = {100.0: "L2/3", 200.0: "L4", 300.0: "L5", 500.0: "L6"}


def test_layer_rule_reproduces_the_allen_depth_bins(swdb_raw):
    got = layer_from_depth(swdb_raw["imaging_depth"].to_numpy(), swdb_raw["tld1_name"].to_numpy())
    want = swdb_raw["depth_range"].map(LAYER_OF_BIN).to_numpy()
    assert (got == want).all()


def test_from_table_recognises_the_published_columns(swdb_raw):
    t = from_table(swdb_raw)
    assert "Unnamed: 0" not in t.columns
    assert t["cre_line"].tolist() == swdb_raw["tld1_name"].tolist()
    assert t["experiment_container_id"].isna().all() and t["area"].isna().all()


@pytest.fixture(scope="module")
def table(swdb_raw):
    return from_table(swdb_raw)


def test_fraction_responsive_per_cre_line(table, swdb_raw):
    res = compare(table, "responsive_dg", "cre_line", n_boot=300)
    ref = swdb_raw.groupby("tld1_name")["responsive_dg"].agg(["mean", "sum", "size"])
    g = res.groups.set_index("cre_line")
    assert g["fraction"].to_dict() == pytest.approx(ref["mean"].to_dict())
    assert g["n_true"].to_dict() == ref["sum"].to_dict()
    assert g.loc["Sst-IRES-Cre", "fraction"] == pytest.approx(0.855, abs=5e-4)
    assert g.loc["Vip-IRES-Cre", "fraction"] == pytest.approx(0.248, abs=5e-4)
    chi = sps.chi2_contingency(pd.crosstab(swdb_raw["tld1_name"], swdb_raw["responsive_dg"]))
    assert res.omnibus["statistic"] == pytest.approx(chi.statistic)
    assert res.omnibus["p"] == pytest.approx(chi.pvalue, rel=1e-6, abs=1e-300)
    # no container column: intervals resample cells, and the result says so
    assert res.interval_method == "bootstrap (cells)"
    assert any("no container column" in n for n in res.notes)
    for _, row in res.groups.iterrows():
        assert row["ci_low"] <= row["fraction"] <= row["ci_high"]
        assert row["wilson_low"] <= row["fraction"] <= row["wilson_high"]


def test_pairwise_fisher_and_holm(table, swdb_raw):
    res = compare(table, "responsive_dg", "cre_line", n_boot=200)
    counts = swdb_raw.groupby("tld1_name")["responsive_dg"].agg(["sum", "size"])
    ps = []
    for _, row in res.pairwise.iterrows():
        a, b = counts.loc[row["group_a"]], counts.loc[row["group_b"]]
        p = sps.fisher_exact([[a["sum"], a["size"] - a["sum"]], [b["sum"], b["size"] - b["sum"]]]).pvalue
        ps.append(p)
        assert row["p"] == pytest.approx(p, rel=1e-9, abs=1e-300)
        assert row["effect_value"] == pytest.approx(a["sum"] / a["size"] - b["sum"] / b["size"])
    assert np.allclose(res.pairwise["p_holm"], multipletests(ps, method="holm")[1])
    assert len(res.pairwise) == 12 * 11 // 2


def test_median_gosi_of_responsive_cells(table, swdb_raw):
    res = compare(table, "g_osi_dg", "cre_line", n_boot=200)
    assert "responsive" in res.population
    resp = swdb_raw[swdb_raw["responsive_dg"]]
    ref = resp.groupby("tld1_name")["g_osi_dg"].median()
    g = res.groups.set_index("cre_line")
    assert g["median"].to_dict() == pytest.approx(ref.to_dict())
    assert g["median"].idxmax() == "Ntsr1-Cre_GN220"
    assert set(g["median"].nsmallest(2).index) == {"Vip-IRES-Cre", "Sst-IRES-Cre"}
    groups = [grp["g_osi_dg"].to_numpy() for _, grp in resp.groupby("tld1_name")]
    assert res.omnibus["statistic"] == pytest.approx(sps.kruskal(*groups).statistic)
    row = res.pairwise.query("group_a == 'Sst-IRES-Cre' and group_b == 'Vip-IRES-Cre'").iloc[0]
    x = resp.loc[resp.tld1_name == "Sst-IRES-Cre", "g_osi_dg"].to_numpy()
    y = resp.loc[resp.tld1_name == "Vip-IRES-Cre", "g_osi_dg"].to_numpy()
    assert row["p"] == pytest.approx(sps.mannwhitneyu(x, y).pvalue)
    assert row["effect_value"] == pytest.approx(np.sign(x[:, None] - y[None, :]).mean())
    assert row["effect_ci_low"] <= row["effect_value"] <= row["effect_ci_high"]
    cov = res.coverage.set_index("group")
    assert cov.loc["Vip-IRES-Cre", "n_not_responsive"] == (~swdb_raw.loc[
        swdb_raw.tld1_name == "Vip-IRES-Cre", "responsive_dg"]).sum()


def test_grouping_by_area_is_refused_with_a_reason(table):
    from brainobs.population import ComparisonError

    with pytest.raises(ComparisonError, match="no values in 'area'"):
        compare(table, "g_osi_dg", "area")


def test_by_layer(table, swdb_raw):
    res = compare(table, "responsive_dg", "layer", n_boot=100)
    ref = swdb_raw.groupby(swdb_raw["depth_range"].map(LAYER_OF_BIN))["responsive_dg"].mean()
    assert res.groups.set_index("layer")["fraction"].to_dict() == pytest.approx(ref.to_dict())


def test_preferred_tf_distribution(table, swdb_raw):
    from brainobs.population import preference_distribution

    d = preference_distribution(table, "pref_tf_dg", "cre_line")
    resp = swdb_raw[swdb_raw["responsive_dg"]]
    ref = pd.crosstab(resp["tld1_name"], resp["pref_tf_dg"])
    assert d.counts.to_numpy().tolist() == ref.to_numpy().tolist()
    assert np.allclose(d.fractions.sum(axis=1), 1.0)
    chi = sps.chi2_contingency(ref.to_numpy())
    assert d.test.statistic == pytest.approx(chi.statistic) and d.test.dof == chi.dof
    assert d.fractions.loc["Scnn1a-Tg3-Cre", 1.0] == pytest.approx(
        (resp.loc[resp.tld1_name == "Scnn1a-Tg3-Cre", "pref_tf_dg"] == 1.0).mean())


def test_describe_many_metrics(table, swdb_raw):
    from brainobs.population import describe

    d = describe(table, "cre_line", ["g_osi_dg", "pref_tf_dg"], n_boot=100)
    resp = swdb_raw[swdb_raw["responsive_dg"]]
    q = resp.groupby("tld1_name")["g_osi_dg"].quantile([0.25, 0.5, 0.75]).unstack()
    got = d[d.metric == "g_osi_dg"].set_index("cre_line")
    assert got["median"].to_dict() == pytest.approx(q[0.5].to_dict())
    assert got["q25"].to_dict() == pytest.approx(q[0.25].to_dict())
    assert got["q75"].to_dict() == pytest.approx(q[0.75].to_dict())
    assert (got["population"].str.contains("responsive")).all()


@pytest.mark.parametrize("cre", ["Sst-IRES-Cre", "Ntsr1-Cre_GN220"])
def test_readme_role_profiles(table, swdb_raw, cre):
    from brainobs.population import role_profile

    prof = role_profile(table, cre, n_boot=200)
    rows = prof.table.set_index("feature")
    mine, rest = swdb_raw[swdb_raw.tld1_name == cre], swdb_raw[swdb_raw.tld1_name != cre]
    assert rows.loc["responsive_dg", "value"] == pytest.approx(mine.responsive_dg.mean())
    assert rows.loc["responsive_dg", "reference_value"] == pytest.approx(rest.responsive_dg.mean())
    p = sps.fisher_exact(pd.crosstab(swdb_raw.tld1_name == cre, swdb_raw.responsive_dg)).pvalue
    assert rows.loc["responsive_dg", "p"] == pytest.approx(p, rel=1e-9, abs=1e-300)
    r_mine, r_rest = mine[mine.responsive_dg], rest[rest.responsive_dg]
    assert rows.loc["g_osi_dg", "value"] == pytest.approx(r_mine.g_osi_dg.median())
    assert rows.loc["g_osi_dg", "reference_value"] == pytest.approx(r_rest.g_osi_dg.median())
    u = sps.mannwhitneyu(r_mine.g_osi_dg, r_rest.g_osi_dg).pvalue
    assert rows.loc["g_osi_dg", "p"] == pytest.approx(u)
    text = " ".join(prof.sentences)
    assert f"{100 * mine.responsive_dg.mean():.0f} % respond to drifting gratings" in text
    sign = "higher" if r_mine.g_osi_dg.median() > r_rest.g_osi_dg.median() else "lower"
    assert f"{sign} orientation selectivity" in text  # both differ, Holm-significant
