"""Store files: corrupt and foreign parts are quarantined (never overwritten), the legacy
single ``computed.parquet`` is read and folded in, a read-only store fails loudly and a
store kept elsewhere (``store=``) works."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from brainobs.catalog import Observatory
from brainobs.catalog.store import ComputedStore, clean_temp_files
from brainobs.errors import ReadOnlyStoreError, StoreCorruptionWarning, StoreError


@pytest.fixture
def obs_dir(tiny_observatory, tmp_path) -> Path:
    d = tmp_path / "obs"
    shutil.copytree(tiny_observatory, d)
    return d


def _groups(obs: Observatory) -> dict[int, np.ndarray]:
    cells = obs.cells(include_failed=True, warn=False)
    return {int(c): g["cell_specimen_id"].to_numpy() for c, g in cells.groupby("experiment_container_id")}


def _coverage(obs: Observatory) -> dict[int, bool]:
    cov = obs.metric_coverage(families="drifting_gratings", include_failed=True)
    return dict(zip(cov["id"].astype(int), cov["drifting_gratings"], strict=True))


@pytest.mark.parametrize("kind", ["garbage", "truncated", "no_id", "foreign_name", "no_marker"])
def test_bad_part_is_quarantined_reported_and_recomputed(obs_dir, kind):
    obs = Observatory(obs_dir)
    groups = _groups(obs)
    a, b = sorted(groups)[:2]
    obs.save_cells(pd.DataFrame({"cell_specimen_id": groups[a], "p_dg": 0.01}))
    obs.save_cells(pd.DataFrame({"cell_specimen_id": groups[b], "p_dg": 0.02}))
    folder = obs_dir / ".brainobs" / "catalog" / "computed"
    part_b = sorted(folder.iterdir())[-1]
    if kind == "garbage":
        part_b.write_bytes(b"this is not parquet")
        bad = part_b
    elif kind == "truncated":
        data = part_b.read_bytes()
        part_b.write_bytes(data[: len(data) // 2])
        bad = part_b
    elif kind == "no_id":  # valid Parquet, brainobs-like name, wrong schema
        part_b.unlink()
        bad = folder / "part-00000000000000000001-x-1-abc.parquet"
        pd.DataFrame({"cell": groups[b], "p_dg": 0.02}).to_parquet(bad)
    elif kind == "foreign_name":
        part_b.unlink()
        bad = folder / "notes.txt"
        bad.write_text("my notes")
    else:  # a Parquet file of the right shape that brainobs did not write
        part_b.unlink()
        bad = folder / "part-00000000000000000001-x-1-abc.parquet"
        pd.DataFrame({"cell_specimen_id": groups[b], "p_dg": 0.02}).to_parquet(bad)
    fresh = Observatory(obs_dir)
    with pytest.warns(StoreCorruptionWarning, match=str(bad)) as rec:
        cells = fresh.cells(include_failed=True, warn=False).set_index("cell_specimen_id")
    assert len(rec) == 1
    moved = list((obs_dir / ".brainobs" / "quarantine").iterdir())
    assert len(moved) == 1 and moved[0].name.endswith(bad.name) and str(moved[0]) in str(rec[0].message)
    assert not bad.exists()
    # the other results are intact, the bad part's container counts as missing
    assert (cells.loc[groups[a], "p_dg"] == 0.01).all()
    assert cells.loc[groups[b], "p_dg"].isna().all()
    cov = _coverage(fresh)
    assert cov[a] and not cov[b]
    # the next store is a new part: the quarantined file is untouched
    before = moved[0].read_bytes()
    fresh.save_cells(pd.DataFrame({"cell_specimen_id": groups[b], "p_dg": 0.03}))
    assert moved[0].read_bytes() == before
    again = Observatory(obs_dir).cells(include_failed=True, warn=False).set_index("cell_specimen_id")
    assert (again.loc[groups[b], "p_dg"] == 0.03).all() and (again.loc[groups[a], "p_dg"] == 0.01).all()


def _legacy(obs_dir: Path, groups: dict[int, np.ndarray]) -> tuple[int, int]:
    """A computed.parquet as earlier brainobs versions wrote it (values + __saved__ flags)."""
    a, b = sorted(groups)[:2]
    ids = np.concatenate([groups[a], groups[b]])
    n = len(groups[a])
    legacy = pd.DataFrame({
        "cell_specimen_id": ids,
        "p_dg": np.r_[np.full(n, 0.5), np.full(len(ids) - n, np.nan)],
        "__saved__p_dg": np.r_[np.ones(n, bool), np.zeros(len(ids) - n, bool)],
        "dsi_dg": np.full(len(ids), 0.7),
        "__saved__dsi_dg": np.ones(len(ids), bool),
    })
    legacy.to_parquet(obs_dir / ".brainobs" / "catalog" / "computed.parquet", index=False)
    return a, b


def test_legacy_computed_file_is_read_first_and_folded_in(obs_dir):
    groups = _groups(Observatory(obs_dir))
    a, b = _legacy(obs_dir, groups)
    obs = Observatory(obs_dir)
    cells = obs.cells(include_failed=True, warn=False).set_index("cell_specimen_id")
    assert (cells.loc[groups[a], "p_dg"] == 0.5).all() and cells.loc[groups[b], "p_dg"].isna().all()
    assert (cells.loc[np.r_[groups[a], groups[b]], "dsi_dg"] == 0.7).all()
    cov = _coverage(obs)  # the key column p_dg was stored for a's cells only
    assert cov[a] and not cov[b]
    # newer parts win over it
    obs.save_cells(pd.DataFrame({"cell_specimen_id": groups[b], "dsi_dg": 0.1}))
    # compaction folds it in and removes it; every value stays
    store = obs._computed_store
    assert store.compact(min_age_s=0, wait=True) == 2
    assert not (obs_dir / ".brainobs" / "catalog" / "computed.parquet").exists()
    after = Observatory(obs_dir).cells(include_failed=True, warn=False).set_index("cell_specimen_id")
    assert (after.loc[groups[a], "p_dg"] == 0.5).all() and after.loc[groups[b], "p_dg"].isna().all()
    assert (after.loc[groups[a], "dsi_dg"] == 0.7).all() and (after.loc[groups[b], "dsi_dg"] == 0.1).all()


def test_corrupt_legacy_computed_file_is_quarantined(obs_dir):
    legacy = obs_dir / ".brainobs" / "catalog" / "computed.parquet"
    legacy.parent.mkdir(parents=True, exist_ok=True)
    legacy.write_bytes(b"PAR1 torn")
    obs = Observatory(obs_dir)
    with pytest.warns(StoreCorruptionWarning, match="computed.parquet"):
        assert obs.cells(include_failed=True, warn=False)["p_dg"].isna().all()
    assert not legacy.exists()
    (moved,) = (obs_dir / ".brainobs" / "quarantine").iterdir()
    assert moved.read_bytes() == b"PAR1 torn"
    groups = _groups(obs)
    obs.save_cells(pd.DataFrame({"cell_specimen_id": next(iter(groups.values())), "p_dg": 0.2}))
    assert not legacy.exists() and moved.read_bytes() == b"PAR1 torn"


def test_unwritable_store_raises_and_stores_nothing(obs_dir):
    """A regular file where the store folder should be (works as root, unlike chmod)."""
    shutil.rmtree(obs_dir / ".brainobs", ignore_errors=True)
    (obs_dir / ".brainobs").write_text("in the way")
    obs = Observatory(obs_dir)
    groups = _groups(obs)  # queries still work, in memory
    with pytest.raises(ReadOnlyStoreError, match=r"Cannot store computed metrics in .*\.brainobs") as err:
        obs.check_store()
    assert "--store-dir" in str(err.value) and "--no-store" in str(err.value)
    with pytest.raises(ReadOnlyStoreError):
        obs.save_cells(pd.DataFrame({"cell_specimen_id": next(iter(groups.values())), "p_dg": 0.2}))
    assert (obs_dir / ".brainobs").read_text() == "in the way"
    assert obs.cells(include_failed=True, warn=False)["p_dg"].isna().all()


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores directory permissions")
def test_read_only_data_dir_raises(obs_dir):  # pragma: no cover - needs non-root
    Observatory(obs_dir).cells(warn=False)  # tables cached
    os.chmod(obs_dir / ".brainobs" / "catalog", 0o555)
    try:
        obs = Observatory(obs_dir)
        with pytest.raises(ReadOnlyStoreError, match="catalog"):
            obs.check_store()
    finally:
        os.chmod(obs_dir / ".brainobs" / "catalog", 0o755)


def test_store_elsewhere_and_its_owner(obs_dir, tmp_path, tiny_observatory, monkeypatch):
    elsewhere = tmp_path / "mystore"
    obs = Observatory(obs_dir, store=elsewhere)
    assert obs.store_external and obs.store_root == elsewhere
    groups = _groups(obs)
    ids = next(iter(groups.values()))
    obs.save_cells(pd.DataFrame({"cell_specimen_id": ids, "p_dg": 0.3}))
    assert list((elsewhere / "catalog" / "computed").glob("part-*.parquet"))
    assert not (obs_dir / ".brainobs" / "catalog" / "computed").exists()
    # the data dir's own store does not have it; the environment variable finds it
    assert Observatory(obs_dir).cells(cell_specimen_id=ids, warn=False)["p_dg"].isna().all()
    monkeypatch.setenv("BRAINOBS_STORE", str(elsewhere))
    assert (Observatory(obs_dir).cells(cell_specimen_id=ids, warn=False)["p_dg"] == 0.3).all()
    # the fill-in command names the store
    sel = Observatory(obs_dir).select_cells(filters="p_ns < 0.05")
    assert sel.missing is not None and f"--store-dir {elsewhere}" in sel.missing.command
    # a store serves one data dir
    other = tmp_path / "other"
    shutil.copytree(tiny_observatory, other)
    with pytest.raises(StoreError, match="belongs to the data dir"):
        Observatory(other)


def test_killed_writers_temp_files_are_removed_only_when_dead(tmp_path):
    store = ComputedStore(tmp_path / "catalog", tmp_path / "quarantine")
    store.check_writable()
    assert not (tmp_path / "catalog").exists()  # the check creates nothing
    store.folder.mkdir(parents=True)
    import subprocess
    import sys

    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    from brainobs.catalog.store import HOST

    gone = store.folder / f".part.tmp-{HOST}-{int(dead.stdout)}-0a1b2c"
    gone.write_bytes(b"")  # a 0-byte temp file of a killed writer
    alive = store.folder / f".part.tmp-{HOST}-{os.getppid()}-0a1b2d"  # a live process
    alive.write_bytes(b"x")
    elsewhere = store.folder / ".part.tmp-otherhost-1-0a1b2e"
    elsewhere.write_bytes(b"x")
    store.append(pd.DataFrame({"cell_specimen_id": [1], "x": [1.0]}))
    assert not gone.exists() and alive.exists() and elsewhere.exists()
    old = 10_000
    os.utime(elsewhere, (os.path.getmtime(elsewhere) - old,) * 2)
    assert clean_temp_files(store.folder) == [elsewhere]
    assert alive.exists()
