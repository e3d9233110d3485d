"""The HTML report on a copy of the tiny observatory with DG and NS metrics stored."""

from __future__ import annotations

import html
import re
import shutil
from pathlib import Path

import pytest

from brainobs.catalog import open_observatory
from brainobs.cli import main


@pytest.fixture(scope="module")
def analyzed(tiny_observatory, tmp_path_factory) -> Path:
    from brainobs.parallel import analyze_missing

    data = tmp_path_factory.mktemp("report") / "obs"
    shutil.copytree(tiny_observatory, data)
    analyze_missing(open_observatory(data), families=["drifting_gratings", "natural_scenes"])
    return data


@pytest.fixture(scope="module")
def report(analyzed):
    from brainobs.report import build_report

    steps = []
    rep = build_report(open_observatory(analyzed), "VISp", "Cux2-CreERT2", n_boot=200,
                       progress=lambda d, n, t: steps.append((d, n, t)))
    rep.meta["_steps"] = steps
    return rep


def test_report_is_one_self_contained_page(report, tmp_path):
    path = report.save(tmp_path / "r.html")
    text = path.read_text()
    assert text.startswith("<!DOCTYPE html>") and "</html>" in text
    assert not re.search(r"(src|href)=\"(https?:)?//", text)  # nothing fetched from the network
    imgs = re.findall(r"<img src=\"([^\"]+)\"", text)
    assert imgs and all(u.startswith("data:image/png;base64,") for u in imgs)
    for title in ("The data", "A session", "The cells and their preferred images",
                  "Direction selectivity", "How does it compare?", "Decoding",
                  "The role of Cux2-CreERT2 in VISp", "Coverage and methods"):
        assert f"<h2>{title}</h2>" in text
    assert "Synthetic observatory" in text
    assert [s[0] for s in report.meta["_steps"]] == list(range(1, 9))


def test_report_numbers_match_an_independent_computation(report, analyzed):
    import numpy as np

    from brainobs.population import cell_table, role_profile
    from brainobs.stats import wilson_interval

    text = html.unescape(report.html())
    obs = open_observatory(analyzed)
    cells = obs.cells(area="VISp", cre_line="Cux2-CreERT2", warn=False)
    sig = cells[cells["p_dg"] < 0.05]
    ds = int((sig["dsi_dg"] > 0.5).sum())
    lo, hi = wilson_interval(ds, len(sig))
    assert (f"{len(sig)} respond (p_dg < 0.05) and {ds} of those are direction selective "
            f"(dsi_dg > 0.5): {ds / len(sig):.1%} (95 % Wilson interval {lo:.1%}–{hi:.1%})") in text
    prof = role_profile(cell_table(obs), "Cux2-CreERT2", "VISp", n_boot=200)
    for sentence in prof.sentences:
        assert sentence in text
    assert report.meta["profile_sentences"] == prof.sentences
    n_cont = len(obs.containers())
    assert f"{n_cont} experiment containers, {len(obs.cells(warn=False))} cells" in text
    assert np.isfinite(lo)


def test_report_shows_inline_in_jupyter(report):
    frag = report._repr_html_()
    assert "<html" not in frag and "brainobs-report" in frag and "<h2>The data</h2>" in frag


def test_save_refuses_a_missing_folder(report, tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        report.save(tmp_path / "nope" / "r.html")
    assert not list(tmp_path.iterdir())  # nothing half-written


def test_report_command(capsys, analyzed, tmp_path):
    out = tmp_path / "rorb.html"
    code = main(["report", "--data-dir", str(analyzed), "--area", "VISp", "--cre-line", "Rorb-IRES2-Cre",
                 "--out", str(out), "--no-decoding", "--n-boot", "100"])
    stdout, err = capsys.readouterr()
    assert code == 0, err
    assert out.exists() and "Rorb-IRES2-Cre in VISp" in out.read_text()
    assert f"Wrote {out}" in " ".join(stdout.split())
    code = main(["report", "--data-dir", str(analyzed), "--cre-line", "Rorb-IRES-Cre", "--out", str(out)])
    _, err = capsys.readouterr()
    assert code == 2 and "Rorb-IRES2-Cre" in err
    code = main(["report", "--data-dir", str(analyzed), "--out", str(tmp_path / "x.pdf")])
    _, err = capsys.readouterr()
    assert code == 2 and ".html" in err
