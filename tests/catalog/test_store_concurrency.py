"""Concurrent writers on the computed-metrics store never lose a result; readers never fail.

Writer processes on different and on the same containers, a stale Observatory, threads
and reader processes all run at once (``store_worker.py``); afterwards every value each
writer stored last is there, exactly.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from brainobs.catalog import Observatory
from brainobs.catalog import store as store_mod

WORKER = Path(__file__).with_name("store_worker.py")
sys.path.insert(0, str(WORKER.parent))
from store_worker import check_whole, container_cells, value  # noqa: E402


@pytest.fixture
def obs_dir(tiny_observatory, tmp_path) -> Path:
    d = tmp_path / "obs"
    shutil.copytree(tiny_observatory, d)
    return d


def _spawn(*args: object) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, str(WORKER), *map(str, args)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _finish(proc: subprocess.Popen) -> str:
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err
    return out


def test_stale_observatory_keeps_and_sees_other_writers(obs_dir):
    """An Observatory opened before another one stored neither erases nor misses its results."""
    stale = Observatory(obs_dir)
    groups = container_cells(stale)
    a, b = sorted(groups)[:2]
    assert stale.cells(warn=False)["p_dg"].isna().all()
    other = Observatory(obs_dir)
    other.save_cells(pd.DataFrame({"cell_specimen_id": groups[a], "p_dg": 0.25}))
    # the stale object sees the new part without refresh() ...
    seen = stale.cells(warn=False).set_index("cell_specimen_id")
    assert (seen.loc[groups[a], "p_dg"] == 0.25).all()
    # ... and storing through it keeps the other's result
    stale.save_cells(pd.DataFrame({"cell_specimen_id": groups[b], "p_dg": 0.5}))
    fresh = Observatory(obs_dir).cells(warn=False).set_index("cell_specimen_id")
    assert (fresh.loc[groups[a], "p_dg"] == 0.25).all()
    assert (fresh.loc[groups[b], "p_dg"] == 0.5).all()
    # the later write wins for the same (cell, column), whoever held a stale view
    other.save_cells(pd.DataFrame({"cell_specimen_id": groups[b], "p_dg": 0.75}))
    assert (Observatory(obs_dir).cells(warn=False).set_index("cell_specimen_id")
            .loc[groups[b], "p_dg"] == 0.75).all()


def test_concurrent_writers_threads_and_readers_lose_nothing(obs_dir, monkeypatch):
    probe = Observatory(obs_dir)
    groups = container_cells(probe)
    cids = sorted(groups)
    assert len(cids) >= 3
    probe.cells(warn=False)  # a stale view, stored through after everyone else
    rounds = 6
    # writers 1-3 on one container each, writers 4-5 both on the first two containers
    plan = {1: [cids[0]], 2: [cids[1]], 3: [cids[2]], 4: cids[:2], 5: cids[:2]}
    readers = [_spawn("read", obs_dir, 6.0) for _ in range(2)]
    writers = [_spawn("write", obs_dir, tag, rounds, *c) for tag, c in plan.items()]

    # threads of this process: two share one Observatory, two have their own
    monkeypatch.setattr(store_mod, "COMPACT_AT", 3)
    monkeypatch.setattr(store_mod, "COMPACT_MIN_AGE_S", 0.5)
    shared = Observatory(obs_dir)
    errors: list[BaseException] = []

    def thread_writer(tag: int, obs: Observatory) -> None:
        try:
            for rnd in range(rounds):
                for cid in cids:
                    ids = groups[cid]
                    obs.save_cells(pd.DataFrame({"cell_specimen_id": ids, f"w_{tag}": float(rnd),
                                                 f"v_{tag}": value(tag, rnd, ids)}))
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=thread_writer, args=(tag, obs))
               for tag, obs in ((11, shared), (12, shared), (13, Observatory(obs_dir)),
                                (14, Observatory(obs_dir)))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    for w in writers:
        _finish(w)
    for r in readers:
        assert int(_finish(r)) > 0  # each reader completed reads, none saw a torn write
    plan.update({tag: cids for tag in (11, 12, 13, 14)})

    # the stale Observatory stores last: nothing of the others is lost
    probe.save_cells(pd.DataFrame({"cell_specimen_id": groups[cids[0]], "stale": 1.0}))
    final = Observatory(obs_dir).cells(include_failed=True, warn=False)
    assert check_whole(final) is None
    final = final.set_index("cell_specimen_id")
    for tag, on in plan.items():
        for cid in cids:
            ids = groups[cid]
            if cid in on:
                assert (final.loc[ids, f"w_{tag}"] == rounds - 1).all(), (tag, cid)
                np.testing.assert_array_equal(final.loc[ids, f"v_{tag}"].to_numpy(),
                                              value(tag, rounds - 1, ids))
            else:
                assert final.loc[ids, f"w_{tag}"].isna().all(), (tag, cid)
    assert (final.loc[groups[cids[0]], "stale"] == 1.0).all()
    assert final.loc[groups[cids[1]], "stale"].isna().all()
    # compaction ran during the writes (fewer files than writes), and left no temp file
    folder = obs_dir / ".brainobs" / "catalog" / "computed"
    n_writes = sum(len(c) for c in plan.values()) * rounds + 1
    names = [p.name for p in folder.iterdir()]
    assert len(names) < n_writes / 2
    assert not [n for n in names if ".tmp-" in n]
    assert not (obs_dir / ".brainobs" / "quarantine").exists()


def test_compaction_keeps_every_value_and_the_order(obs_dir):
    """Folding parts gives the same table as reading them one by one (later wins)."""
    obs = Observatory(obs_dir)
    groups = container_cells(obs)
    ids = np.concatenate(list(groups.values()))
    rng = np.random.default_rng(0)
    for i in range(12):
        some = rng.choice(ids, size=5, replace=False)
        vals = rng.normal(size=5)
        vals[0] = np.nan  # a computed NaN is a value too
        obs.save_cells(pd.DataFrame({"cell_specimen_id": some, f"c{i % 3}": vals}))
    store = obs._computed_store
    before = store.read()[1]
    assert len(store.listing()) == 12
    assert store.compact(min_age_s=0, wait=True) == 12
    assert len(store.listing()) == 1
    after = store_mod.ComputedStore(store.catalog_dir, store.quarantine_dir).read()[1]
    pd.testing.assert_frame_equal(before, after)
    # independent check of "later wins": replay the writes in a dict
    rng = np.random.default_rng(0)
    expect: dict[tuple[int, str], float] = {}
    for i in range(12):
        some = rng.choice(ids, size=5, replace=False)
        vals = rng.normal(size=5)
        vals[0] = np.nan
        for c, v in zip(some, vals, strict=True):
            expect[(int(c), f"c{i % 3}")] = v
    got = after.set_index("cell_specimen_id")
    for (c, col), v in expect.items():
        assert got.loc[c, "__saved__" + col]
        assert (np.isnan(v) and np.isnan(got.loc[c, col])) or got.loc[c, col] == v
    assert int(sum(got["__saved__" + f"c{k}"].sum() for k in range(3))) == len(expect)
