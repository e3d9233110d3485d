"""analyze_missing: one per-container function mapped over the containers that lack metrics."""

from __future__ import annotations

import inspect
import pickle
import shutil
import warnings
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from brainobs import vocab
from brainobs.catalog import open_observatory
from brainobs.errors import UnknownValueError
from brainobs.metrics import analyze_catalog_container
from brainobs.parallel import (
    AnalyzeReport,
    analyze_missing,
    analyze_one_container,
    map_containers,
    plan_missing,
)

DG_NS = ["drifting_gratings", "natural_scenes"]
DG_NS_COLUMNS = ["p_dg", "dsi_dg", "pref_dir_dg", "pref_tf_dg", "osi_dg", "p_ns", "pref_image_ns",
                 "image_sel_ns", "reliability_ns"]


@pytest.fixture
def obs(tiny_observatory: Path, tmp_path: Path):
    dst = tmp_path / "obs"  # a private copy: metrics are stored into it
    shutil.copytree(tiny_observatory, dst)
    return open_observatory(dst)


def _ids(obs) -> list[int]:
    return [int(i) for i in obs.containers()["id"]]


def _truncate(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 3])


def _assert_stored_equals_independent(obs, cid: int, families: list[str], columns: list[str]) -> None:
    independent = analyze_catalog_container(obs, cid, families=families, store=False)
    stored = open_observatory(obs.data_dir).cells(container_id=cid, warn=False).set_index("cell_specimen_id")
    for col in columns:
        np.testing.assert_allclose(stored.loc[independent.index, col].to_numpy(dtype=float),
                                   independent[col].to_numpy(dtype=float), rtol=0, atol=0,
                                   err_msg=f"container {cid}, {col}")


def test_computes_exactly_the_missing_containers_and_skips_them_on_a_rerun(obs):
    ids = _ids(obs)
    done_before = ids[0]
    # a container that already has DG and NS values (fake ones): they must be left alone
    cells = obs.cells(container_id=done_before, warn=False)["cell_specimen_id"]
    obs.save_cells(pd.DataFrame({"cell_specimen_id": cells, "p_dg": 0.123, "p_ns": 0.456}))
    calls = []
    report = analyze_missing(obs, families=DG_NS, progress=lambda *a: calls.append(a))
    assert isinstance(report, AnalyzeReport) and report.ok
    assert [r.container_id for r in report.done] == ids[1:]
    assert all(r.families == tuple(DG_NS) and r.n_cells == 8 and r.status == "done" for r in report.done)
    assert [(r.container_id, r.reason) for r in report.skipped] == [
        (done_before, "complete: has drifting_gratings, natural_scenes metrics")]
    assert report.failed == []
    assert [c[:2] for c in calls] == [(0, 2), (1, 2), (2, 2)]
    assert calls[-1][2] == f"container {ids[2]}: done"
    # stored values are those of an independent analysis; the complete container kept its own
    for cid in ids[1:]:
        _assert_stored_equals_independent(obs, cid, DG_NS, DG_NS_COLUMNS)
    kept = obs.cells(container_id=done_before, warn=False)
    assert (kept["p_dg"] == 0.123).all() and kept["dsi_dg"].isna().all()
    # the caller's Observatory sees the new metrics without reopening
    assert obs.metric_coverage(families=DG_NS)[DG_NS].to_numpy().all()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        obs.cells(filters=["p_dg < 0.05", "p_ns < 0.05"])
    # a rerun does nothing
    again = analyze_missing(obs, families=DG_NS)
    assert again.done == [] and again.failed == []
    assert [r.container_id for r in again.skipped] == ids
    table = again.table()
    assert table["status"].tolist() == ["skipped"] * len(ids) and table["container_id"].dtype == np.int64


def test_only_the_missing_families_are_computed(obs):
    ids = _ids(obs)
    analyze_catalog_container(obs, ids[0], families=["drifting_gratings"])
    todo, skipped = plan_missing(obs, families=DG_NS, cre_line="Cux2-CreERT2")
    assert todo == [i for i in ids if i in obs.containers(cre_line="Cux2-CreERT2")["id"].tolist()]
    assert skipped == []
    report = analyze_missing(obs, families=DG_NS, container_id=ids[0])
    assert [(r.container_id, r.families) for r in report.done] == [(ids[0], ("natural_scenes",))]
    _assert_stored_equals_independent(obs, ids[0], DG_NS, DG_NS_COLUMNS)
    # selection by area and Cre line
    report = analyze_missing(obs, families="natural_scenes", area="VISp", cre_line="Rorb-IRES2-Cre")
    rorb = obs.containers(area="VISp", cre_line="Rorb-IRES2-Cre")["id"].tolist()
    assert [r.container_id for r in report.done] == rorb and report.skipped == []
    with pytest.raises(UnknownValueError, match="natural_scenes"):
        analyze_missing(obs, families=["natural_scene"])


def test_default_families_fill_every_family_the_sessions_show(obs):
    cid = _ids(obs)[0]
    report = analyze_missing(obs, container_id=cid, n_shuffles=200)
    assert [r.families for r in report.done] == [tuple(vocab.METRIC_FAMILIES)]
    row = obs.metric_coverage(container_id=cid).iloc[0]
    assert row[list(vocab.METRIC_FAMILIES)].all()  # every family's key column is produced
    cells = obs.cells(container_id=cid, warn=False)
    for fam, cols in vocab.FAMILY_COLUMNS.items():
        values = cells[[c for c in cols if c in cells]]
        assert values.shape[1] > 0
        # the tiny preset shows each static grating once: no ANOVA, p_sg is NaN (but stored)
        assert values.notna().to_numpy().any() == (fam != "static_gratings")
    assert cells["pref_ori_sg"].notna().all()
    # stored NaNs count as computed: a rerun has nothing to do
    again = analyze_missing(obs, container_id=cid)
    assert again.done == [] and again.skipped[0].reason.startswith("complete")


def test_a_corrupt_file_fails_its_container_only(obs):
    ids = _ids(obs)
    bad = obs.session_path(int(obs.experiments(container_id=ids[1])["id"].iloc[1]))
    _truncate(bad)
    gone = obs.session_path(int(obs.experiments(container_id=ids[2])["id"].iloc[0]))
    gone.unlink()
    report = analyze_missing(obs, families=["natural_scenes"])
    assert not report.ok
    assert [r.container_id for r in report.done] == [ids[0]]
    assert [r.container_id for r in report.failed] == [ids[1]]
    failure = report.failed[0]
    assert failure.reason.startswith("NWBFileError: ") and bad.name in failure.reason
    assert "Traceback" in failure.detail and failure.families == ("natural_scenes",)
    assert [r.container_id for r in report.skipped] == [ids[2]]
    assert report.skipped[0].reason.startswith(f"session files not on disk: {gone.name}")
    table = report.table().set_index("container_id")
    assert table.loc[ids[1], "status"] == "failed" and bad.name in table.loc[ids[1], "reason"]
    assert str(report) == "1 container(s) analyzed, 1 skipped, 1 failed"
    # the failed container stays missing, the good one is stored
    cov = obs.metric_coverage(families="natural_scenes").set_index("id")["natural_scenes"]
    assert cov.to_dict() == {ids[0]: True, ids[1]: False, ids[2]: False}


def test_analyze_one_container_records_errors_instead_of_raising(obs):
    res = analyze_one_container(obs.data_dir, 123, ["natural_scenes"])
    assert res.status == "failed" and res.container_id == 123
    assert res.reason.startswith("UnknownIdError") and "123" in res.reason
    cid = _ids(obs)[0]
    res = analyze_one_container(str(obs.data_dir), cid, ["natural_scenes"])
    assert (res.status, res.n_cells, res.families) == ("done", 8, ("natural_scenes",))
    res = analyze_one_container(obs.data_dir, cid, ["natural_scenes"], missing_only=True)
    assert res.status == "skipped" and res.reason.startswith("complete")


def test_mappers_swap_without_changing_anything_else(obs):
    assert inspect.isgenerator(map_containers(str, [1, 2]))  # serial and lazy by default
    ids = _ids(obs)
    seen = []

    def reversed_mapper(func, items):
        items = list(items)
        pickle.dumps(func)  # the per-container function can travel to another process
        seen.extend(items)
        return [func(i) for i in reversed(items)]

    report = analyze_missing(obs, families="natural_scenes", mapper=reversed_mapper, cre_line="Cux2-CreERT2")
    cux = obs.containers(cre_line="Cux2-CreERT2")["id"].tolist()
    assert seen == cux and [r.container_id for r in report.done] == sorted(cux)  # sorted report

    # another process: what a Dask mapper will do (one worker: the store has one writer)
    with ProcessPoolExecutor(max_workers=1) as pool:
        report = analyze_missing(obs, families="natural_scenes", mapper=pool.map, container_id=ids)
    assert [r.container_id for r in report.done] == [i for i in ids if i not in cux]
    assert obs.metric_coverage(families="natural_scenes")["natural_scenes"].all()


def test_analyze_missing_reports_the_cells_the_metrics_left_out(obs, capsys):
    """A NaN in one cell's trace: that cell's metrics are NaN with a reason, stored, and
    ``brainobs analyze --missing`` prints the one-line QC note."""
    import h5py

    from brainobs.cli import main
    from brainobs.io import layout, open_session

    exp = obs.experiments(session_type="three_session_B").iloc[0]
    path = obs.session_path(int(exp["id"]))
    with open_session(path) as s:
        start = int(s.stimulus_table("natural_scenes")["start"].iloc[0])
        bad_cell = int(s.cell_specimen_ids[0])
    with h5py.File(path, "r+") as f:
        f[layout.TRACES["demixed"] + "/data"][0, start + 2] = np.nan
    cid = int(exp["experiment_container_id"])
    code = main(["analyze", "--missing", "-d", str(obs.data_dir), "--family", "natural_scenes",
                 "--n-shuffles", "20"])
    err = capsys.readouterr().err
    assert code == 0, err
    n = len(obs.cells(container_id=cid, warn=False))
    notes = [" ".join(line.split()) for line in err.splitlines() if line.startswith("note:")]
    n_all = len(obs.cells(warn=False))  # every non-failed container lacked natural_scenes
    assert notes == [f"note: natural_scenes: 1 of {n_all} cells excluded (NaN in the trace); "
                     "see the qc_ns column"]
    cells = open_observatory(obs.data_dir).cells(warn=False).set_index("cell_specimen_id")
    assert cells.loc[bad_cell, "qc_ns"] == "nan_trace" and np.isnan(cells.loc[bad_cell, "p_ns"])
    others = cells[cells["experiment_container_id"] == cid].drop(index=bad_cell)
    assert len(others) == n - 1 and (others["qc_ns"] == "").all() and others["p_ns"].notna().all()
