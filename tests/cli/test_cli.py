"""The `brainobs` command, run in-process on the tiny synthetic observatory."""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from brainobs.catalog import open_observatory
from brainobs.cli import main


def run(capsys, *args: str) -> tuple[int, str, str]:
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="module")
def obs_dir(tiny_observatory: Path, tmp_path_factory) -> Path:
    # A private copy: some tests write metrics into the catalog store.
    dst = tmp_path_factory.mktemp("cli") / "obs"
    shutil.copytree(tiny_observatory, dst)
    return dst


def test_help_lists_every_command(capsys):
    code, out, _ = run(capsys, "--help")
    assert code == 0
    for cmd in ("demo", "synth", "cre-lines", "areas", "containers", "experiments", "cells", "session",
                "analyze", "compare", "report"):
        assert cmd in out


def test_cre_lines_and_areas_count_containers(capsys, obs_dir):
    obs = open_observatory(obs_dir)
    code, out, _ = run(capsys, "cre-lines", "--data-dir", obs_dir, "--format", "csv")
    assert code == 0
    df = pd.read_csv(io.StringIO(out))
    expected = obs.containers().groupby("cre_line").size()
    assert dict(zip(df["cre_line"], df["containers"], strict=True)) == expected.to_dict()
    code, out, _ = run(capsys, "areas", "--data-dir", obs_dir, "--format", "json")
    assert code == 0
    areas = json.loads(out)
    assert sorted(a["targeted_structure"] for a in areas) == obs.areas()
    assert sum(a["cells"] for a in areas) == len(obs.cells(warn=False))


def test_table_output_is_readable(capsys, obs_dir, monkeypatch):
    from rich.console import Console

    import brainobs.cli

    monkeypatch.setattr(brainobs.cli, "console", Console(width=200))  # a wide terminal
    obs = open_observatory(obs_dir)
    code, out, _ = run(capsys, "containers", "--data-dir", obs_dir)
    assert code == 0
    assert f"{len(obs.containers())} containers" in out and "targeted_structure" in out
    assert "donor_name" in out and "tags" not in out  # a readable subset of columns
    for cid in obs.containers()["id"]:
        assert str(cid) in out


def test_containers_filter_matches_library(capsys, obs_dir):
    obs = open_observatory(obs_dir)
    area = obs.areas()[0]
    code, out, _ = run(capsys, "containers", "-d", obs_dir, "--area", area, "-f", "csv")
    assert code == 0
    df = pd.read_csv(io.StringIO(out))
    assert sorted(df["id"]) == sorted(obs.containers(area=area)["id"])
    assert set(df["targeted_structure"]) == {area}


def test_unknown_cre_line_is_one_clear_error(capsys, obs_dir):
    code, out, err = run(capsys, "containers", "-d", obs_dir, "--cre-line", "Rorb-IRES-Cre")
    assert code == 2
    assert "Rorb-IRES2-Cre" in err and "Valid choices" in err
    assert "Traceback" not in err + out


def test_experiments_by_stimulus(capsys, obs_dir):
    code, out, _ = run(capsys, "experiments", "-d", obs_dir, "--stimulus", "natural_scenes", "-f", "json")
    assert code == 0
    rows = json.loads(out)
    assert rows and {r["session_type"] for r in rows} == {"three_session_B"}


def test_cells_parquet_needs_out_and_writes_atomically(capsys, obs_dir, tmp_path):
    code, _, err = run(capsys, "cells", "-d", obs_dir, "-f", "parquet")
    assert code == 2 and "--out" in err
    dest = tmp_path / "cells.parquet"
    code, _, err = run(capsys, "cells", "-d", obs_dir, "-f", "parquet", "--out", dest)
    assert code == 0
    df = pd.read_parquet(dest)
    assert len(df) == len(open_observatory(obs_dir).cells(warn=False))
    assert not list(tmp_path.glob(".*.tmp"))


def test_cells_bad_filter_column_suggests(capsys, obs_dir):
    code, _, err = run(capsys, "cells", "-d", obs_dir, "--filter", "p_nss < 0.05")
    assert code == 2 and "p_ns" in err


def test_cells_columns_option(capsys, obs_dir):
    code, out, _ = run(capsys, "cells", "-d", obs_dir, "--columns", "cell_specimen_id,area", "-f", "csv")
    assert code == 0
    assert out.splitlines()[0] == "cell_specimen_id,area"
    code, _, err = run(capsys, "cells", "-d", obs_dir, "--columns", "aera", "-f", "csv")
    assert code == 2 and "'area'" in err


def test_session_summary_by_id_and_by_file(capsys, obs_dir):
    obs = open_observatory(obs_dir)
    exp = obs.experiments(session_type="three_session_A").iloc[0]
    code, out, _ = run(capsys, "session", str(int(exp["id"])), "-d", obs_dir, "-f", "json")
    assert code == 0
    summary = json.loads(out)
    assert summary["metadata"]["session_type"] == "three_session_A"
    assert {r["stimulus"] for r in summary["stimuli"]} >= {"drifting_gratings", "spontaneous"}
    with obs.session(int(exp["id"])) as s:
        n_dg = len(s.stimulus_table("drifting_gratings"))
    assert {r["stimulus"]: r["presentations"] for r in summary["stimuli"]}["drifting_gratings"] == n_dg
    code, out, _ = run(capsys, "session", obs.session_path(int(exp["id"])))
    assert code == 0 and "drifting_gratings" in out
    code, out, _ = run(capsys, "session", obs.session_path(int(exp["id"])), "-f", "csv")
    assert code == 0 and "stimulus,presentations" in out


def test_session_errors_name_the_problem(capsys, obs_dir, tmp_path):
    code, _, err = run(capsys, "session", tmp_path / "nope.nwb")
    assert code == 2 and "nope.nwb" in err
    bad = tmp_path / "bad.nwb"
    src = next((obs_dir / "ophys_experiment_data").glob("*.nwb"))
    bad.write_bytes(src.read_bytes()[: src.stat().st_size // 3])
    code, _, err = run(capsys, "session", bad)
    assert code == 2 and "bad.nwb" in err and "Traceback" not in err
    code, _, err = run(capsys, "session", "123", "-d", obs_dir)
    assert code == 2 and "123" in err


def test_bad_data_dir(capsys, tmp_path):
    code, _, err = run(capsys, "areas", "-d", tmp_path)
    assert code == 2 and str(tmp_path) in err and "brainobs synth" in err


def test_synth_refuses_non_empty_dir(capsys, tmp_path):
    (tmp_path / "x").write_text("keep me")
    code, _, err = run(capsys, "synth", "--out", tmp_path, "--size", "tiny")
    assert code == 2
    assert (tmp_path / "x").read_text() == "keep me"


def test_synth_writes_observatory(capsys, tmp_path):
    code, out, _ = run(capsys, "synth", "--out", tmp_path / "o", "--size", "tiny", "--seed", "3", "--containers", "2")
    assert code == 0
    obs = open_observatory(tmp_path / "o")
    assert len(obs.containers(include_failed=True)) == 2
    assert len(obs.experiments(include_failed=True)) == 6


def test_demo_creates_observatory_and_figures_without_metrics(capsys, tmp_path):
    data, out = tmp_path / "data", tmp_path / "fig"
    code, stdout, _ = run(capsys, "demo", "--data-dir", data, "--out", out, "--size", "tiny", "--no-metrics")
    assert code == 0, stdout
    assert (data / "manifest.json").exists()
    summary = json.loads((out / "summary.json").read_text())
    for name in ("max_projection", "dff_traces"):
        assert Path(summary["figures"][name]).exists()
    # No metrics and --no-metrics: the demo says how to get them rather than inventing a histogram.
    assert summary["fraction_direction_selective"] is None
    assert "preferred_images" not in summary["figures"]
    assert "not in the catalog yet" in stdout and "brainobs analyze" in stdout
    obs = open_observatory(data)
    exp = obs.experiments(experiment_id=summary["experiment_id"]).iloc[0]
    assert exp["session_type"] == "three_session_B"
    assert exp["targeted_structure"] == summary["area"] and exp["cre_line"] == summary["cre_line"]


def test_demo_computes_missing_metrics(capsys, tiny_observatory, tmp_path):
    from brainobs.metrics import analyze

    data = tmp_path / "data"
    shutil.copytree(tiny_observatory, data)
    out = tmp_path / "fig"
    code, stdout, _ = run(capsys, "demo", "--data-dir", data, "--out", out)
    assert code == 0, stdout
    assert "Computing drifting-grating and natural-scene metrics" in stdout
    summary = json.loads((out / "summary.json").read_text())
    assert Path(summary["figures"]["preferred_images"]).exists()
    obs = open_observatory(data)
    # the stored metrics are those of an independent analyze() of the same session
    with obs.session(summary["experiment_id"]) as s:
        ns = analyze(s, families=["natural_scenes"])
    stored = obs.cells(container_id=summary["container_id"]).set_index("cell_specimen_id")
    np.testing.assert_array_equal(stored.loc[ns.index, "pref_image_ns"], ns["pref_image_ns"])
    assert summary["n_ns_significant"] == int((ns["p_ns"] < 0.05).sum())
    assert summary["fraction_direction_selective"] is not None
    # the story ends like the tutorial: a comparison with the other Cre lines and the report
    assert Path(summary["figures"]["report"]).exists() and Path(summary["figures"]["comparison"]).exists()
    assert summary["comparison"]["metric"] == "dsi_dg > 0.5" and summary["role_profile"]


def test_demo_with_metrics_draws_histogram_and_top_image(capsys, obs_dir, tmp_path):
    obs = open_observatory(obs_dir)
    cells = obs.cells(include_failed=True, warn=False).copy()
    rng = np.random.default_rng(1)
    cells["p_ns"] = rng.random(len(cells)) * 0.1
    cells["pref_image_ns"] = rng.integers(0, 3, len(cells)).astype(float)
    cells["p_dg"] = rng.random(len(cells)) * 0.1
    cells["dsi_dg"] = rng.random(len(cells))
    obs.save_cells(cells)

    out = tmp_path / "fig"
    code, stdout, _ = run(capsys, "demo", "--data-dir", obs_dir, "--out", out)
    assert code == 0, stdout
    summary = json.loads((out / "summary.json").read_text())
    assert Path(summary["figures"]["preferred_images"]).exists()
    assert Path(summary["figures"]["top_image"]).exists()
    mine = cells[cells["experiment_container_id"] == summary["container_id"]]
    sig = mine[mine["p_ns"] < 0.05]
    assert summary["n_ns_significant"] == len(sig)
    assert summary["top_image"] == int(sig["pref_image_ns"].value_counts().index[0])
    pool = cells[(cells["area"] == summary["area"]) & (cells["tld1_name"] == summary["cre_line"])]
    pool = pool[~pool["failed_experiment_container"].astype(bool)]
    sig_dg = pool[pool["p_dg"] < 0.05]
    assert summary["n_direction_selective"] == int((sig_dg["dsi_dg"] > 0.5).sum())


def test_demo_unknown_area(capsys, obs_dir, tmp_path):
    code, _, err = run(capsys, "demo", "--data-dir", obs_dir, "--out", tmp_path, "--area", "visp1")
    assert code == 2 and "VISp" in err


def test_analyze_command_writes_stores_and_validates(capsys, obs_dir, tmp_path):
    obs = open_observatory(obs_dir)
    cid = int(obs.containers().iloc[-1]["id"])
    exps = obs.experiments(container_id=cid)
    a_id = int(exps[exps.session_type == "three_session_A"]["id"].iloc[0])
    dest = tmp_path / "m.csv"
    code, _, err = run(capsys, "analyze", a_id, "-d", obs_dir, "--family", "natural_movies", "--out", dest)
    assert code == 0, err
    table = pd.read_csv(dest)
    with obs.session(a_id) as s:
        assert table["cell_specimen_id"].tolist() == s.cell_specimen_ids.tolist()
    assert {"reliability_nm1_a", "reliability_nm3", "mean_running_speed_a"} <= set(table.columns)
    stored = open_observatory(obs_dir).cells(container_id=cid).set_index("cell_specimen_id")
    np.testing.assert_allclose(stored.loc[table["cell_specimen_id"], "reliability_nm3"],
                               table["reliability_nm3"].to_numpy())
    # the same session by file path: not stored, printed as a table
    code, out, _ = run(capsys, "analyze", obs.session_path(a_id), "--family", "natural_movies", "--no-store")
    assert code == 0 and "cells analyzed" in out
    code, _, err = run(capsys, "analyze", "--container", cid, "-d", obs_dir, "--family", "natural_movies",
                       "--out", tmp_path / "c.parquet")
    assert code == 0, err
    merged = pd.read_parquet(tmp_path / "c.parquet")
    assert {"reliability_nm1_a", "reliability_nm1_b", "reliability_nm1_c"} <= set(merged.columns)
    assert merged["cell_specimen_id"].is_unique
    for bad, msg in ((["analyze"], "--container"), (["analyze", a_id, "-d", obs_dir, "--family", "movies"], "natural_movies"),
                     (["analyze", a_id, "-d", obs_dir, "--out", tmp_path / "x.txt"], ".parquet")):
        code, _, err = run(capsys, *bad)
        assert code == 2 and msg in err, err


@pytest.fixture
def fresh(tiny_observatory: Path, tmp_path: Path) -> Path:
    """A copy nobody has analyzed yet (obs_dir gets metrics from other tests)."""
    dst = tmp_path / "fresh"
    shutil.copytree(tiny_observatory, dst)
    return dst


def _notes(err: str) -> list[str]:
    return [line for line in err.splitlines() if line.startswith("note:")]


def test_cells_never_answers_silently_when_metrics_are_missing(capsys, fresh):
    import shlex

    code, out, err = run(capsys, "cells", "-d", fresh, "--cre-line", "Rorb-IRES2-Cre", "--filter", "p_ns < 0.05")
    assert code == 0
    assert "0 cells" in out
    notes = _notes(err)
    assert len(notes) == 1 and err.strip() == notes[0]  # one line, no warning traceback
    assert notes[0].startswith("note: 1 of 1 container (Rorb-IRES2-Cre in VISp) in this selection has no "
                               "natural_scenes metrics")
    command = notes[0].split("run `")[1].split("`")[0]
    assert command == f"brainobs analyze --missing --cre-line Rorb-IRES2-Cre --family natural_scenes --data-dir {fresh}"
    # the command it names fills the gap; then the answer comes without a note
    code, out, err = run(capsys, *shlex.split(command)[1:])
    assert code == 0, err
    code, out, err = run(capsys, "cells", "-d", fresh, "--cre-line", "Rorb-IRES2-Cre", "--filter", "p_ns < 0.05",
                         "-f", "csv")
    assert code == 0 and _notes(err) == []
    expected = open_observatory(fresh).cells(cre_line="Rorb-IRES2-Cre", filters="p_ns < 0.05")
    assert len(expected) > 0
    assert sorted(pd.read_csv(io.StringIO(out))["cell_specimen_id"]) == sorted(expected["cell_specimen_id"])
    # csv/json output keeps stdout clean: the note goes to stderr only
    code, out, err = run(capsys, "cells", "-d", fresh, "-f", "json")
    assert code == 0 and len(json.loads(out)) == len(open_observatory(fresh).cells(warn=False))
    assert len(_notes(err)) == 1 and "have no computed metrics yet" in err


def test_analyze_missing_end_to_end(capsys, fresh):
    obs = open_observatory(fresh)
    ids = [int(i) for i in obs.containers()["id"]]
    code, out, err = run(capsys, "analyze", "--missing", "-d", fresh, "--family", "natural_scenes",
                         "--family", "drifting_gratings")
    assert code == 0, err
    assert f"{len(ids)} container(s) analyzed, 0 skipped, 0 failed" in out
    for cid in ids:
        assert str(cid) in out
    assert f"{len(ids)}/{len(ids)}" in err  # the progress bar
    cov = open_observatory(fresh).metric_coverage()
    assert cov[["drifting_gratings", "natural_scenes"]].to_numpy().all()
    assert not cov["static_gratings"].any()
    # a second run: everything is complete
    code, out, err = run(capsys, "analyze", "--missing", "-d", fresh, "--family", "natural_scenes",
                         "--cre-line", "Cux2-CreERT2")
    assert code == 0 and "0 container(s) analyzed, 2 skipped, 0 failed" in out and "complete" in out


def test_analyze_missing_reports_a_failed_container_and_exits_1(capsys, fresh):
    obs = open_observatory(fresh)
    ids = [int(i) for i in obs.containers()["id"]]
    bad = obs.session_path(int(obs.experiments(container_id=ids[0], session_type="three_session_B")["id"].iloc[0]))
    bad.write_bytes(bad.read_bytes()[: bad.stat().st_size // 3])
    code, out, err = run(capsys, "analyze", "--missing", "-d", fresh, "--family", "natural_scenes")
    assert code == 1
    assert "2 container(s) analyzed, 0 skipped, 1 failed" in out
    assert "NWBFileError" in out and bad.name in out.replace("\n", "")
    assert f"1 container(s) failed: {ids[0]}" in err and "Traceback" not in err
    cov = open_observatory(fresh).metric_coverage(families="natural_scenes").set_index("id")["natural_scenes"]
    assert cov.to_dict() == {ids[0]: False, ids[1]: True, ids[2]: True}


def test_analyze_missing_usage_errors(capsys, fresh):
    obs = open_observatory(fresh)
    cid = int(obs.containers()["id"].iloc[0])
    for args, msg in (
        (["500000001", "--missing"], "cannot be combined"),
        (["--missing", "--container", cid], "cannot be combined"),
        (["--missing", "--out", fresh / "x.csv"], "brainobs cells"),
        (["--missing", "--no-store"], "always stores"),
        (["--area", "VISp"], "--missing"),
        (["--container", cid, "--cre-line", "Cux2-CreERT2"], "--missing"),
    ):
        code, _, err = run(capsys, "analyze", "-d", fresh, *args)
        assert code == 2 and msg in err.replace("\n", "").replace("│", "").replace("  ", " "), (args, err)
    code, _, err = run(capsys, "analyze", "--missing", "-d", fresh, "--cre-line", "Rorb-IRES-Cre")
    assert code == 2 and "Rorb-IRES2-Cre" in err and "Traceback" not in err
    code, _, err = run(capsys, "analyze", "--missing", "-d", fresh, "--family", "scenes")
    assert code == 2 and "natural_scenes" in err
    code, out, _ = run(capsys, "analyze", "--help")
    flat = " ".join(out.replace("│", " ").split())
    assert "--missing" in flat and "0 when no container failed, 1 when some failed" in flat
    assert open_observatory(fresh).metric_coverage()[["natural_scenes"]].sum().item() == 0


@pytest.mark.parametrize("fmt, read", [("csv", pd.read_csv), ("json", pd.read_json)])
def test_cells_text_formats_write_out(capsys, obs_dir, tmp_path, fmt, read):
    dest = tmp_path / f"cells.{fmt}"
    code, stdout, _ = run(capsys, "cells", "-d", obs_dir, "-f", fmt, "--out", dest)
    assert code == 0 and stdout == ""  # the table goes to the file, not the terminal
    df = read(dest)
    ids = open_observatory(obs_dir).cells(warn=False)["cell_specimen_id"]
    assert df["cell_specimen_id"].tolist() == ids.tolist()
    assert not [p for p in tmp_path.iterdir() if p.name != dest.name]  # no temp file left
