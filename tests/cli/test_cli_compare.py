"""`brainobs compare` on the real SWDB-2019 table and the real Cosyne-2019 table."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pandas as pd
import pytest
from scipy import stats as sps

from brainobs.cli import main

REAL = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "allen" / "cell_metrics"
SWDB = REAL / "swdb2019_saskia_dg_responsiveness.csv.gz"
COSYNE = REAL / "cosyne2019_signal_correlation_116cells.csv.gz"


def need(p: Path) -> Path:
    if not p.exists():
        pytest.skip(f"shared real data not available: {p}")
    return p


def run(capsys, *args):
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def test_compare_json_on_the_real_table(capsys):
    code, out, err = run(capsys, "compare", "--cells", need(SWDB), "--metric", "responsive_dg",
                         "--by", "cre_line", "--format", "json", "--n-boot", "100")
    assert code == 0, err
    d = json.loads(out)
    raw = pd.read_csv(SWDB)
    ref = raw.groupby("tld1_name")["responsive_dg"].mean()
    got = {g["cre_line"]: g["fraction"] for g in d["groups"]}
    assert got == pytest.approx(ref.to_dict())
    assert d["omnibus"]["test"] == "chi-square" and d["omnibus"]["dof"] == 11
    assert len(d["pairwise"]) == 66 and {"p", "p_holm", "effect_value"} <= set(d["pairwise"][0])
    assert "no container column" in " ".join(err.split())  # the note says why intervals resample cells


def test_compare_table_never_cuts_numbers(capsys, monkeypatch):
    from rich.console import Console

    import brainobs.cli

    monkeypatch.setattr(brainobs.cli, "console", Console(width=80, force_terminal=False))
    code, out, _ = run(capsys, "compare", "--cells", need(SWDB), "--metric", "g_osi_dg",
                       "--n-boot", "100")
    assert code == 0
    for cre in pd.read_csv(SWDB)["tld1_name"].unique():
        assert cre in out  # identity column whole, on one line
    assert "0.6381" in out  # median gOSI of responsive Ntsr1 cells, 4 significant digits
    assert "Kruskal-Wallis" in out and "e-" in out  # tiny p-values keep their exponent
    assert all(len(line) <= 80 for line in out.splitlines())
    code, js, _ = run(capsys, "compare", "--cells", SWDB, "--metric", "g_osi_dg", "--n-boot", "100",
                      "--format", "json")
    flat = " ".join(out.split())
    for pair in json.loads(js)["pairwise"]:  # every effect and its interval printed whole
        lo, hi = pair["effect_ci_low"], pair["effect_ci_high"]
        assert f"{pair['effect_value']:+.3f} {lo:+.3f} to {hi:+.3f}" in flat


def test_compare_csv_blocks_and_column_map(capsys, tmp_path):
    code, out, _ = run(capsys, "compare", "--cells", need(COSYNE), "--column-map", "expt_id=ophys_experiment_id",
                       "--metric", "signal_correlation_dg", "--by", "cre_line", "--all-cells",
                       "--format", "csv", "--n-boot", "100")
    assert code == 0
    groups_csv = out.split("\n\n")[0]
    g = pd.read_csv(io.StringIO(groups_csv))
    raw = pd.read_csv(COSYNE)
    ref = raw.groupby("Cre")["signal_correlation_dg"].median()
    assert set(g["cre_line"]) == {c for c in g["cre_line"]}
    sst = g.set_index("cre_line").loc["Sst-IRES-Cre", "median"]
    assert sst == pytest.approx(ref["Sst"])
    groups = [v.dropna().to_numpy() for _, v in raw.groupby("Cre")["signal_correlation_dg"]]
    omni = pd.read_csv(io.StringIO(out.split("\n\n")[1]))
    assert omni.loc[0, "statistic"] == pytest.approx(sps.kruskal(*groups).statistic)


def test_compare_errors_are_one_line(capsys, tmp_path):
    code, _, err = run(capsys, "compare", "--cells", need(SWDB), "--metric", "g_osi", "--n-boot", "10")
    assert code == 2 and "Did you mean 'g_osi_dg'" in err
    code, _, err = run(capsys, "compare", "--cells", need(SWDB), "--metric", "g_osi_dg", "--by", "area")
    assert code == 2 and "no values in 'area'" in err
    code, _, err = run(capsys, "compare", "--cells", tmp_path / "nope.csv", "--metric", "x")
    assert code == 2 and "no such file" in err
    code, _, err = run(capsys, "compare", "--cells", need(SWDB), "--metric", "g_osi_dg",
                       "--column-map", "tld1_name")
    assert code == 2 and "old=new" in err


def test_compare_external_table_selection(capsys):
    code, out, err = run(capsys, "compare", "--cells", need(SWDB), "--metric", "responsive_dg",
                         "--cre-line", "Sst", "--cre-line", "vip-ires-cre", "--format", "json", "--n-boot", "50")
    assert code == 0, err
    assert [g["cre_line"] for g in json.loads(out)["groups"]] == ["Sst-IRES-Cre", "Vip-IRES-Cre"]
    code, _, err = run(capsys, "compare", "--cells", need(SWDB), "--metric", "responsive_dg",
                       "--cre-line", "Pvalb-IRES-Cre")
    assert code == 2 and "Pvalb-IRES-Cre" in err and "Sst-IRES-Cre" in err  # lists what the table has
    code, _, err = run(capsys, "compare", "--cells", need(SWDB), "--metric", "responsive_dg", "--area", "VISp")
    assert code == 2 and "VISp" in err
