"""SIGKILL at seeded random instants: every stored result is whole or absent, the rerun
succeeds and leaves no temporary file.

One test (24 kills) uses a forking worker (``store_worker.py zygote``: imported once, so a
kill costs a fraction of a second) that stores versions of every container, compacts and
rewrites the containers table in a loop. ``brainobs analyze --container`` and
``brainobs analyze --container ... --out FILE`` are killed 20 times each as forked children of
``store_worker.py cli`` (the real command, started without interpreter start-up), and a
few times more as whole ``brainobs`` processes.
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from brainobs.catalog import Observatory

WORKER = Path(__file__).with_name("store_worker.py")
sys.path.insert(0, str(WORKER.parent))
from store_worker import CliServer, check_whole, container_cells  # noqa: E402

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork and SIGKILL")


@pytest.fixture
def obs_dir(tiny_observatory, tmp_path) -> Path:
    d = tmp_path / "obs"
    shutil.copytree(tiny_observatory, d)
    return d


def _temp_files(*folders: Path) -> list[Path]:
    return [p for f in folders if f.is_dir() for p in f.rglob("*") if ".tmp" in p.name]


def _check_versions(obs_dir: Path) -> pd.DataFrame:
    """Each container: ``version`` one value (a whole write) or absent; ``p_dg`` matches it."""
    cells = Observatory(obs_dir).cells(include_failed=True, warn=False)
    assert check_whole(cells) is None
    if "version" in cells:
        have = cells["version"].notna()
        expect = cells["version"] + (cells["cell_specimen_id"] % 1000) / 1024.0
        np.testing.assert_array_equal(cells.loc[have, "p_dg"], expect[have])
    return cells


def _parts(store: Path) -> set[str]:
    folder = store / "catalog" / "computed"
    return {p.name for p in folder.glob("part-*.parquet")} if folder.is_dir() else set()


def _wait_for_new_part(store: Path, before: set[str], timeout: float = 20.0) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end and not _parts(store) - before:
        time.sleep(0.01)


def test_kill_a_storing_worker_at_random_instants(obs_dir):
    store = obs_dir / ".brainobs"
    zygote = subprocess.Popen([sys.executable, str(WORKER), "zygote", str(obs_dir)],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert zygote.stdin is not None and zygote.stdout is not None
    rng = random.Random(20240518)
    seen_versions = set()
    try:
        for seed in range(1, 25):
            before = _parts(store)
            zygote.stdin.write(f"run {seed}\n")
            zygote.stdin.flush()
            pid = int(zygote.stdout.readline())
            if seed % 3:  # two kills in three land while the writer is storing (on a busy
                _wait_for_new_part(store, before)  # machine its first part may take a while)
            time.sleep(rng.uniform(0.05, 0.6))
            os.kill(pid, signal.SIGKILL)
            if seed % 2:  # half of the time the dead writer is still a zombie at the rerun
                zygote.stdin.write(f"reap {pid}\n")
                zygote.stdin.flush()
                assert zygote.stdout.readline().strip() == "reaped"
            cells = _check_versions(obs_dir)  # whole or absent, never torn
            if "version" in cells:
                seen_versions |= set(cells["version"].dropna().astype(int) // 1_000_000)
            # the rerun: the next writer stores, cleans the dead writer's temporary files
            obs = Observatory(obs_dir)
            groups = container_cells(obs)
            cid = min(groups)
            obs.save_cells(pd.DataFrame({"cell_specimen_id": groups[cid], "rerun": float(seed)}))
            assert not _temp_files(store), _temp_files(store)
            again = _check_versions(obs_dir).set_index("cell_specimen_id")
            assert (again.loc[groups[cid], "rerun"] == seed).all()
            if not seed % 2:
                zygote.stdin.write(f"reap {pid}\n")
                zygote.stdin.flush()
                assert zygote.stdout.readline().strip() == "reaped"
    finally:
        zygote.stdin.close()
        zygote.wait(timeout=60)
        zygote.stdout.close()
    assert len(seen_versions) >= 10  # most killed writers had stored something
    assert not (store / "quarantine").exists()


def _brainobs(*args: object) -> subprocess.Popen:
    exe = Path(sys.executable).with_name("brainobs")
    cmd = [str(exe)] if exe.is_file() else [sys.executable, "-m", "brainobs"]
    return subprocess.Popen([*cmd, *map(str, args)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)


def _stored(obs_dir: Path, cid: int) -> str:
    """'all' / 'none' of the container's cells have stored p_ns (never 'some')."""
    obs = Observatory(obs_dir)
    ids = obs.cells(container_id=cid, include_failed=True, warn=False)["cell_specimen_id"]
    computed = obs._computed().set_index("cell_specimen_id")
    flag = "__saved__p_ns"
    has = (computed[flag].reindex(ids, fill_value=False) if flag in computed
           else pd.Series(False, index=ids))
    assert has.all() or not has.any(), has.tolist()
    return "all" if has.all() else "none"


@pytest.mark.parametrize("with_out", [False, True], ids=["store", "out"])
def test_kill_the_analyze_command_at_random_instants(obs_dir, tmp_path, with_out):
    cid = min(container_cells(Observatory(obs_dir)))
    out = tmp_path / "res" / "cells.parquet"
    out.parent.mkdir()
    args = ["analyze", "--container", cid, "-d", obs_dir, "--family", "natural_scenes",
            "--n-shuffles", 20] + (["--out", out] if with_out else [])
    rng = random.Random(7 if with_out else 8)
    outcomes = []
    for _ in range(3):
        proc = _brainobs(*args)
        time.sleep(rng.uniform(1.0, 6.5))
        proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=120)
        stored = _stored(obs_dir, cid)
        outcomes.append(stored)
        if with_out and out.exists():  # the file is whole when present
            assert len(pd.read_parquet(out)) == 8
        if with_out and stored == "all":  # the catalog is updated only after --out is written
            assert out.exists()
    proc = _brainobs(*args)
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err
    assert _stored(obs_dir, cid) == "all"
    assert not _temp_files(obs_dir / ".brainobs", out.parent)
    if with_out:
        table = pd.read_parquet(out)
        assert len(table) == 8 and table["p_ns"].notna().all()




@pytest.mark.parametrize("with_out", [False, True], ids=["store", "out"])
def test_kill_the_analyze_command_20_times(obs_dir, tmp_path, with_out):
    """20 seeded SIGKILLs of ``brainobs analyze --container`` (with and without --out), spread
    over the whole run and crowded near its end, where the results are written."""
    cid = min(container_cells(Observatory(obs_dir)))
    out = tmp_path / "res" / "cells.parquet"
    out.parent.mkdir()
    computed = obs_dir / ".brainobs" / "catalog" / "computed"
    args = ["analyze", "--container", cid, "-d", obs_dir, "--family", "natural_scenes",
            "--n-shuffles", 20] + (["--out", out] if with_out else [])
    server = CliServer()
    rng = random.Random(11 if with_out else 12)
    try:
        durations = []
        for _ in range(2):  # uninterrupted runs: how long one takes
            t0 = time.monotonic()
            assert server.wait(server.start(args)) == 0
            durations.append(time.monotonic() - t0)
        duration = min(durations)
        outcomes = []
        for kill in range(20):
            shutil.rmtree(computed, ignore_errors=True)  # start from "nothing stored"
            out.unlink(missing_ok=True)
            pid = server.start(args)
            late = kill % 2  # half of the kills near the end, when the results are written
            time.sleep(rng.uniform(0.6, 1.0) * duration if late else rng.uniform(0.0, 1.0) * duration)
            os.kill(pid, signal.SIGKILL)
            status = server.wait(pid)
            stored = _stored(obs_dir, cid)  # all or none of the container's cells, never some
            outcomes.append("finished" if status == 0 else stored)
            if with_out and out.exists():
                assert len(pd.read_parquet(out)) == 8  # a present file is whole
            if with_out and stored == "all":
                assert out.exists()  # the catalog is updated only after --out is written
            if kill % 5 == 4:  # the rerun succeeds and cleans what the killed run left
                assert server.wait(server.start(args)) == 0
                assert _stored(obs_dir, cid) == "all"
                assert not _temp_files(obs_dir / ".brainobs", out.parent)
    finally:
        server.close()
    print(f"uninterrupted run {duration:.2f} s; outcomes {outcomes}")
    assert "none" in outcomes and len(outcomes) == 20
