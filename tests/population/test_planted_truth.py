"""The comparison finds every difference planted in a synthetic observatory, with the right
sign and a significant Holm-corrected test, and none in the null observatory.

Each observatory (4 planted lines + the reference line × 3 containers × 25 cells, VISp) is
generated and its drifting gratings analyzed once per test session;
`benchmarks/planted_truth.py` measures the detection and false-positive rates over many seeds.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from brainobs.catalog import open_observatory
from brainobs.population import add_responsiveness, cell_table, compare
from brainobs.synth import PLANTED_DIFFERENCES, generate_comparison_observatory

OTHERS = "(other lines)"


def _analyzed_table(root, kind: str) -> pd.DataFrame:
    from brainobs.parallel import analyze_missing

    path = generate_comparison_observatory(root / kind, kind=kind, seed=0)
    obs = open_observatory(path)
    report = analyze_missing(obs, families=["drifting_gratings"])
    assert report.ok
    t = add_responsiveness(cell_table(obs), "p", families=["dg"])
    return t.assign(abs_run_mod_dg=t["run_mod_dg"].abs())


@pytest.fixture(scope="module")
def planted(tmp_path_factory) -> pd.DataFrame:
    return _analyzed_table(tmp_path_factory.mktemp("planted"), "planted")


@pytest.fixture(scope="module")
def null(tmp_path_factory) -> pd.DataFrame:
    return _analyzed_table(tmp_path_factory.mktemp("null"), "null")


def _metric(d) -> str:
    return "abs_run_mod_dg" if d.metric == "abs(run_mod_dg)" else d.metric


def one_vs_rest(table: pd.DataFrame, d):
    t = table.assign(line=np.where(table["cre_line"] == d.cre_line, d.cre_line, OTHERS))
    res = compare(t, _metric(d), "line", responsive_only=d.cells == "responsive", rule="p",
                  n_boot=300)
    row = res.pairwise.iloc[0]
    sign = 1.0 if row["group_a"] == d.cre_line else -1.0  # effect is group_a − group_b
    return res, row, sign * row["effect_value"]


@pytest.mark.parametrize("d", PLANTED_DIFFERENCES, ids=lambda d: d.cre_line)
def test_every_planted_difference_is_found(planted, d):
    res, row, effect = one_vs_rest(planted, d)
    assert row["p"] < 0.01 and np.sign(effect) == d.sign, (d.description, row.to_dict())
    # and in the full comparison across the four lines the omnibus test finds it
    full = compare(planted, _metric(d), "cre_line", responsive_only=d.cells == "responsive",
                   rule="p", n_boot=200)
    assert full.omnibus["p"] < 0.01
    assert full.interval_method.startswith("hierarchical")
    assert full.groups["n_containers"].tolist() == [3] * 5  # four planted lines + the reference


def test_planted_profile_holm_across_the_four(planted):
    from brainobs.stats import holm

    ps = [one_vs_rest(planted, d)[1]["p"] for d in PLANTED_DIFFERENCES]
    assert (holm(ps) < 0.05).all()


def test_the_null_observatory_shows_no_difference(null):
    ps = []
    for d in PLANTED_DIFFERENCES:
        res = compare(null, _metric(d), "cre_line", responsive_only=d.cells == "responsive",
                      rule="p", n_boot=200)
        ps += res.pairwise["p"].tolist()
    from brainobs.stats import holm

    # 4 metrics × 10 pairs, Holm-corrected as one family: no difference claimed
    assert not (holm(ps) < 0.05).any()
