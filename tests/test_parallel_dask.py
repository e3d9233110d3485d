"""analyze_all / `brainobs analyze --all`: the whole catalog on Dask distributed, incremental.

The observatory is tiny (5 containers × 3 sessions, one of them failed: 12 sessions analyzed)
and the receptive-field test uses 20 shuffles, so a whole run takes seconds. One local Dask
cluster (2 worker processes) serves the module.
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from brainobs import vocab
from brainobs.catalog import Observatory, open_observatory
from brainobs.catalog.store import read_stamps
from brainobs.cli import main
from brainobs.errors import (
    FamilyNotShownError,
    MissingDependencyError,
    SchedulerError,
    UnknownSessionTypeError,
)
from brainobs.metrics import analyze_catalog_container
from brainobs.parallel import analyze_all, connect, plan_all

N_SHUFFLES = 20
NS = ["natural_scenes"]
NS_COLUMNS = ["p_ns", "pref_image_ns", "image_sel_ns", "reliability_ns", "mean_running_speed_b"]
WORKER = Path(__file__).parent / "catalog" / "store_worker.py"
sys.path.insert(0, str(WORKER.parent))
from store_worker import CliServer  # noqa: E402


@pytest.fixture(scope="module")
def master(tmp_path_factory) -> Path:
    from brainobs.synth import generate_observatory

    return generate_observatory(tmp_path_factory.mktemp("dask") / "obs", size="tiny", seed=3,
                                n_containers=5)


@pytest.fixture(scope="module")
def serial_dir(master: Path, tmp_path_factory) -> Path:
    """The master observatory analyzed serially (the reference of every comparison)."""
    dst = tmp_path_factory.mktemp("serial") / "obs"
    shutil.copytree(master, dst)
    report = analyze_all(dst, workers=1, n_shuffles=N_SHUFFLES)
    assert report.ok and len(report.done) == 4
    return dst


@pytest.fixture(scope="module")
def client():
    distributed = pytest.importorskip("distributed")
    from brainobs.parallel import local_cluster

    with local_cluster(2, memory_limit="1GiB") as cluster, \
            distributed.Client(cluster, set_as_default=False) as c:  # what --workers 2 starts
        info = c.scheduler_info()["workers"].values()
        assert [(w["nthreads"], w["memory_limit"]) for w in info] == [(1, 2**30)] * 2
        yield c


def _copy(master: Path, tmp_path: Path) -> Path:
    dst = tmp_path / "obs"
    shutil.copytree(master, dst)
    return dst


def _cells(data_dir: Path) -> pd.DataFrame:
    cells = Observatory(data_dir).cells(include_failed=True, warn=False)
    return cells.sort_values("cell_specimen_id").reset_index(drop=True)


def _live(obs: Observatory) -> list[int]:
    return sorted(int(c) for c in obs.containers()["id"])


def _session(obs: Observatory, cid: int, session_type: str) -> Path:
    exps = obs.experiments(container_id=cid)
    return obs.session_path(int(exps.loc[exps["session_type"] == session_type, "id"].iloc[0]))


def test_two_dask_workers_store_exactly_what_the_serial_run_stores(master, serial_dir, tmp_path, client):
    obs = open_observatory(_copy(master, tmp_path))
    live = _live(obs)
    assert len(obs.experiments(container_id=live)) >= 12  # at least 12 sessions analyzed
    calls = []
    report = analyze_all(obs, client=client, n_shuffles=N_SHUFFLES, progress=lambda *a: calls.append(a))
    assert report.ok and [r.container_id for r in report.done] == live
    assert calls[0][:2] == (0, 4) and calls[-1][:2] == (4, 4)
    assert {r.n_cells for r in report.done} == {8}
    # the Dask workers ran in other processes: every pid-named part is not ours
    parts = os.listdir(obs.store_dir / "computed")
    assert parts and not any(f"-{os.getpid()}-" in p for p in parts)
    dask_cells, serial_cells = _cells(obs.data_dir), _cells(serial_dir)
    assert list(dask_cells.columns) == list(serial_cells.columns)
    pd.testing.assert_frame_equal(dask_cells, serial_cells, check_exact=True)  # NaN == NaN here
    # ... and those are real computed values, equal to an independent single-container analysis
    cid = live[1]
    independent = analyze_catalog_container(obs, cid, store=False, n_shuffles=N_SHUFFLES)
    stored = dask_cells.set_index("cell_specimen_id").loc[independent.index]
    for col in ["p_dg", "osi_sg", "p_ns", "reliability_nm1_a", "rf_chi2_lsn", "mean_running_speed_c"]:
        col = col if col in independent.columns else col.replace("_c", "_c2")
        np.testing.assert_array_equal(stored[col].to_numpy(float), independent[col].to_numpy(float), col)
    assert stored["p_dg"].notna().all()


def test_a_rerun_computes_nothing_and_a_change_recomputes_just_what_changed(serial_dir, tmp_path, monkeypatch):
    obs = open_observatory(_copy(serial_dir, tmp_path))  # analyzed serially, with its stamps
    live = _live(obs)
    stamps = read_stamps(obs.store_dir)
    assert sorted(stamps) == live
    assert {f for c in live for f in stamps[c]["families"]} == set(vocab.METRIC_FAMILIES)
    listing = sorted(os.listdir(obs.store_dir / "computed"))

    again = analyze_all(obs, workers=1, n_shuffles=N_SHUFFLES)
    assert again.done == [] and again.failed == []
    assert {r.container_id for r in again.skipped if r.reason.startswith("up to date")} == set(live)
    assert sorted(os.listdir(obs.store_dir / "computed")) == listing  # nothing written
    assert read_stamps(obs.store_dir) == stamps

    # a touched session B file: that container's B families (and movies, which A and C2 show too)
    b_file = _session(obs, live[2], "three_session_B")
    st = b_file.stat()
    os.utime(b_file, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))
    touched = analyze_all(obs, workers=1, n_shuffles=N_SHUFFLES)
    assert [(r.container_id, r.families) for r in touched.done] == [
        (live[2], ("static_gratings", "natural_scenes", "natural_movies"))]
    assert analyze_all(obs, workers=1, n_shuffles=N_SHUFFLES).done == []

    # another n_shuffles: only the receptive fields, of every container
    plan, _ = plan_all(obs, n_shuffles=N_SHUFFLES + 1)
    assert [(t.container_id, t.families) for t in plan] == [(c, ("locally_sparse_noise",)) for c in live]
    rf = analyze_all(obs, workers=1, n_shuffles=N_SHUFFLES + 1, container_id=live[0])
    assert [(r.container_id, r.families) for r in rf.done] == [(live[0], ("locally_sparse_noise",))]
    stamps = read_stamps(obs.store_dir)
    assert stamps[live[0]]["families"]["locally_sparse_noise"]["params"] == {"n_shuffles": 21, "seed": 1}
    assert stamps[live[1]]["families"]["locally_sparse_noise"]["params"] == {"n_shuffles": 20, "seed": 1}
    assert {stamps[c]["families"]["natural_scenes"]["params"] == {} for c in live} == {True}

    # a new pipeline version recomputes everything (here: the natural scenes of every container)
    import brainobs.metrics

    monkeypatch.setattr(brainobs.metrics, "PIPELINE_VERSION", brainobs.metrics.PIPELINE_VERSION + 1)
    plan, _ = plan_all(obs, n_shuffles=N_SHUFFLES)
    assert [(t.container_id, set(t.families)) for t in plan] == [(c, set(vocab.METRIC_FAMILIES)) for c in live]
    bumped = analyze_all(obs, workers=1, families="natural_scenes")
    assert [(r.container_id, r.families) for r in bumped.done] == [(c, ("natural_scenes",)) for c in live]
    assert analyze_all(obs, workers=1, families="natural_scenes").done == []

    # stamps without the values (the store was lost) do not count: recomputed
    shutil.rmtree(obs.store_dir / "computed")
    obs.refresh()
    lost = analyze_all(obs, workers=1, families="natural_scenes")
    assert [r.container_id for r in lost.done] == live


def test_session_type_selects_its_families(master, tmp_path):
    obs = open_observatory(_copy(master, tmp_path))
    report = analyze_all(obs, workers=1, session_type="three_session_B", n_shuffles=N_SHUFFLES)
    assert report.ok and len(report.done) == len(_live(obs))
    assert {r.families for r in report.done} == {("static_gratings", "natural_scenes", "natural_movies")}
    cells = obs.cells(warn=False)
    assert cells["p_ns"].notna().all() and cells["p_dg"].isna().all() and cells["rf_chi2_lsn"].isna().all()
    # then the rest: only the families B does not show are computed
    rest, _ = plan_all(obs, n_shuffles=N_SHUFFLES)
    assert {t.families for t in rest} == {("drifting_gratings", "locally_sparse_noise")}
    with pytest.raises(UnknownSessionTypeError, match="three_session_Z"):
        analyze_all(obs, session_type="three_session_Z")
    with pytest.raises(FamilyNotShownError, match="drifting_gratings"):
        analyze_all(obs, session_type="three_session_B", families="drifting_gratings")


def test_a_corrupt_session_fails_its_container_only(master, serial_dir, tmp_path, client, capsys):
    obs = open_observatory(_copy(master, tmp_path))
    live = _live(obs)
    bad = _session(obs, live[1], "three_session_A")
    data = bad.read_bytes()
    bad.write_bytes(data[: len(data) // 3])
    report = analyze_all(obs, client=client, families=NS)
    assert [r.container_id for r in report.failed] == [live[1]]
    assert "NWBFileError" in report.failed[0].reason and bad.name in report.failed[0].reason
    assert [r.container_id for r in report.done] == [c for c in live if c != live[1]]
    assert live[1] not in read_stamps(obs.store_dir)
    ref = _cells(serial_dir).set_index("cell_specimen_id")[NS_COLUMNS]
    got = _cells(obs.data_dir).set_index("cell_specimen_id")
    others = got["experiment_container_id"] != live[1]
    pd.testing.assert_frame_equal(got.loc[others, NS_COLUMNS], ref[others], check_exact=True)
    assert got.loc[~others, "p_ns"].isna().all()
    # the command: the failure is named with its reason, exit status 1; the others are skipped
    code = main(["analyze", "--all", "--workers", "1", "-d", str(obs.data_dir), "--family", "natural_scenes"])
    err = capsys.readouterr().err
    assert code == 1
    assert f"container {live[1]}: NWBFileError" in " ".join(err.split()) and "1 container(s) failed" in err
    # repaired, a rerun completes exactly that container
    shutil.copy(master / bad.relative_to(obs.data_dir), bad)
    fixed = analyze_all(obs, workers=1, families=NS)
    assert [r.container_id for r in fixed.done] == [live[1]]
    got = _cells(obs.data_dir).set_index("cell_specimen_id")
    pd.testing.assert_frame_equal(got[NS_COLUMNS], ref, check_exact=True)


def test_a_bad_scheduler_address_is_a_clear_error(master, capsys):
    code = main(["analyze", "--all", "-d", str(master), "--scheduler", "nosuchproto://127.0.0.1:1"])
    err = capsys.readouterr().err
    assert code == 2 and "cannot use the Dask scheduler 'nosuchproto://127.0.0.1:1'" in " ".join(err.split())
    assert "Traceback" not in err
    with pytest.raises(SchedulerError, match="tcp://127.0.0.1:9"):
        connect("tcp://127.0.0.1:9", timeout=1)  # nothing listens there


def test_without_dask_the_error_names_the_extra(master, monkeypatch):
    monkeypatch.setitem(sys.modules, "distributed", None)  # import distributed -> ImportError
    with pytest.raises(MissingDependencyError, match=r"pip install 'brainobs\[dask\]'"):
        analyze_all(master, workers=2, families="natural_scenes")


def test_usage_errors(master, capsys):
    for args, hint in [(["--all", "--container", "1"], "--all"), (["--all", "--missing"], "--all"),
                       (["--all", "--workers", "2", "--scheduler", "tcp://x:1"], "--workers/--scheduler"),
                       (["--workers", "2", "--missing"], "--session-type/--workers/--scheduler")]:
        assert main(["analyze", "-d", str(master), *args]) == 2
        assert hint in capsys.readouterr().err


# --------------------------------------------------------------------------- kills


def _state(data_dir: Path, live: list[int], columns: list[str]) -> dict[int, str]:
    """Per container: "all" (every cell has every column stored), "none", or a failure."""
    obs = Observatory(data_dir)
    _, computed = obs._computed_store.read()
    comp = computed.set_index("cell_specimen_id")
    cells = obs.cells(include_failed=True, warn=False)
    stamps = read_stamps(obs.store_dir)
    out = {}
    for cid in live:
        ids = cells.loc[cells["experiment_container_id"] == cid, "cell_specimen_id"]
        flags = [comp["__saved__" + c].reindex(ids).fillna(False).to_numpy(bool)
                 if "__saved__" + c in comp.columns else np.zeros(len(ids), bool) for c in columns]
        flags = np.concatenate(flags)
        state = "all" if flags.all() else "none" if not flags.any() else "PART"
        if cid in stamps and state != "all":
            state = "STAMP WITHOUT VALUES"
        out[cid] = state
    return out


def _temp_files(root: Path) -> list[Path]:
    return [p for p in root.rglob(".*") if ".tmp-" in p.name]


def test_kill_analyze_all_20_times(master, tmp_path):
    """20 seeded SIGKILLs of ``brainobs analyze --all --workers 1`` (the real command, forked
    from a server that imported it once): every container is whole or absent, a stamp never
    outlives missing values, and a rerun completes the run with no temporary file left."""
    data_dir = _copy(master, tmp_path)
    live = _live(Observatory(data_dir))
    columns = ["p_ns", "image_sel_ns", "reliability_ns", "mean_running_speed_b"]
    args = ["analyze", "--all", "--workers", "1", "-d", data_dir, "--session-type", "three_session_B",
            "--family", "natural_scenes"]
    catalog = data_dir / ".brainobs" / "catalog"
    server = CliServer()
    rng = random.Random(7)
    try:
        t0 = time.monotonic()
        assert server.wait(server.start(args)) == 0
        duration = time.monotonic() - t0
        reference = _cells(data_dir)
        outcomes = []
        for kill in range(20):
            if kill % 10 == 0:  # start again from nothing stored
                shutil.rmtree(catalog / "computed", ignore_errors=True)
                shutil.rmtree(catalog / "stamps", ignore_errors=True)
            pid = server.start(args)
            time.sleep(rng.uniform(0.0, 0.7) * duration)  # a rerun has less to do: kill early
            os.kill(pid, signal.SIGKILL)
            status = server.wait(pid)
            state = _state(data_dir, live, columns)
            assert set(state.values()) <= {"all", "none"}, state
            outcomes.append("finished" if status == 0 else "".join(s[0] for s in state.values()))
            if kill % 10 == 9:  # a rerun completes what the killed runs left, and cleans up
                assert server.wait(server.start(args)) == 0
                assert set(_state(data_dir, live, columns).values()) == {"all"}
                assert sorted(read_stamps(catalog)) == live
                assert not _temp_files(data_dir / ".brainobs")
                pd.testing.assert_frame_equal(_cells(data_dir), reference, check_exact=True)
    finally:
        server.close()
    print(f"uninterrupted run {duration:.2f} s; outcomes {outcomes}")
    assert len(outcomes) == 20 and any("n" in o for o in outcomes)
