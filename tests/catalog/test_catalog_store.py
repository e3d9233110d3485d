"""Data-dir detection, JSON sources, and the Parquet store (atomic, stale rebuild, read-only)."""

from __future__ import annotations

import gzip
import json
import os
import shutil
import time

import pytest

from brainobs.catalog import Observatory, default_data_dir, open_observatory
from brainobs.catalog.observatory import STORE_SUBDIR
from brainobs.errors import DataDirError


@pytest.fixture
def cache(tmp_path, real_cache):
    d = tmp_path / "cache"
    shutil.copytree(real_cache, d, ignore=shutil.ignore_patterns(".brainobs"))
    return d


def _bump(path, seconds=5):
    t = time.time() + seconds
    os.utime(path, (t, t))


def test_default_data_dir(monkeypatch, tmp_path):
    monkeypatch.setenv("BRAINOBS_DATA", str(tmp_path))
    assert default_data_dir() == tmp_path
    monkeypatch.delenv("BRAINOBS_DATA")
    assert default_data_dir().name == "brainobs-data"
    monkeypatch.setenv("BRAINOBS_DATA", str(tmp_path / "none"))
    with pytest.raises(DataDirError, match="brainobs synth --out DIR"):
        open_observatory()


def test_bad_dirs(tmp_path):
    with pytest.raises(DataDirError, match="does not exist"):
        open_observatory(tmp_path / "missing")
    with pytest.raises(DataDirError, match=r"experiment_containers\.json") as err:
        open_observatory(tmp_path)
    assert str(tmp_path) in str(err.value) and "brainobs synth --out DIR" in str(err.value)
    (tmp_path / "manifest.json").write_text('{"manifest": 3}')
    with pytest.raises(DataDirError, match="not an AllenSDK manifest"):
        open_observatory(tmp_path)


def test_corrupt_json(tmp_path):
    (tmp_path / "experiment_containers.json").write_text('[{"id": 1,\n "failed": tru}]')
    with pytest.raises(
        DataDirError, match=r"experiment_containers\.json: corrupt JSON at line 2 column"
    ):
        open_observatory(tmp_path).containers()
    (tmp_path / "experiment_containers.json").write_text('{"id": 1}')
    with pytest.raises(DataDirError, match="expected a JSON list"):
        open_observatory(tmp_path).containers()
    (tmp_path / "experiment_containers.json").write_bytes(b"\xff\xfe")
    with pytest.raises(DataDirError, match="cannot read"):
        open_observatory(tmp_path).containers()


def test_manifest_specs_and_gz(tmp_path, real_cache):
    """File locations come from the manifest (custom names, nested dirs), .gz accepted."""
    manifest = json.loads((real_cache / "manifest.json").read_text())
    for e in manifest["manifest"]:
        if e["key"] == "EXPERIMENT_CONTAINERS":
            e["spec"] = "meta/containers_v2.json"
        if e["key"] == "EXPERIMENT_DATA":
            e["spec"] = "nwb/%d.nwb"
    (tmp_path / "meta").mkdir()
    (tmp_path / "manifest.json").write_text(json.dumps(manifest))
    shutil.copy(
        real_cache / "experiment_containers.json.gz", tmp_path / "meta" / "containers_v2.json.gz"
    )
    obs = open_observatory(tmp_path / "manifest.json")
    assert len(obs.containers(include_failed=True)) == 216
    eid = int(obs.experiments()["id"].iloc[0])
    assert obs.session_path(eid) == tmp_path.resolve() / "nwb" / f"{eid}.nwb"


def test_experiments_json_and_synthetic_marker(tmp_path, real_cache, helpers):
    """ophys_experiments.json (raw API shape) is used when present; brainobs.json marks synthetic."""
    shutil.copytree(real_cache, tmp_path / "d", ignore=shutil.ignore_patterns(".brainobs"))
    d = tmp_path / "d"
    obs = open_observatory(d)
    raw = obs.raw("EXPERIMENTS")[:5]
    raw[0] = {
        **raw[0],
        "experiment_container": {"id": raw[0]["experiment_container_id"], "failed": True},
    }
    raw[1] = {k: v for k, v in raw[1].items() if k != "experiment_container"}
    helpers.write_gz_json(d / "ophys_experiments.json.gz", raw)
    (d / "brainobs.json").write_text(json.dumps({"format": "brainobs-synthetic", "version": 1}))
    obs2 = open_observatory(d)
    assert obs2.is_synthetic
    exps = obs2.experiments(include_failed=True)
    assert len(exps) == 5
    assert exps["container_failed"].tolist()[0] is True
    assert exps["acquisition_age_days"].notna().all()
    assert len(obs2.experiments()) == 4


def test_store_written_reused_and_rebuilt(cache, helpers):
    obs = open_observatory(cache)
    assert len(obs.containers()) == 181
    store = cache / STORE_SUBDIR
    assert {p.name for p in store.iterdir()} == {"containers.parquet", "experiments.parquet"}
    assert not any(p.name.endswith(".tmp") for p in store.iterdir())
    # cells are loaded lazily, on first cells() call
    assert obs.cells().empty and (store / "cells.parquet").is_file()
    # fresh store is read back without touching the JSON
    mtime = (store / "containers.parquet").stat().st_mtime
    obs2 = open_observatory(cache)
    assert len(obs2.containers()) == 181
    assert (store / "containers.parquet").stat().st_mtime == mtime
    # a newer JSON source makes the store stale -> rebuilt
    records = [
        r for r in json.load(gzip.open(cache / "experiment_containers.json.gz")) if not r["failed"]
    ][:10]
    helpers.write_gz_json(cache / "experiment_containers.json.gz", records)
    _bump(cache / "experiment_containers.json.gz")
    assert len(open_observatory(cache).containers(include_failed=True)) == 10
    # an unreadable store file is rebuilt too
    (store / "containers.parquet").write_bytes(b"garbage")
    _bump(store / "containers.parquet", 10)
    assert len(open_observatory(cache).containers(include_failed=True)) == 10


def test_large_synthetic_cells_table(cache, helpers):
    """63,000 cells: stored as Parquet, filtered, rebuilt when the JSON is newer."""
    obs = open_observatory(cache)
    cids = obs.containers()["id"].tolist()
    records = helpers.synthetic_cells(63_000, cids)
    (cache / "cell_specimens.json").write_text(json.dumps(records))
    obs = Observatory(cache)
    cells = obs.cells()
    assert len(cells) == 63_000
    assert (cache / STORE_SUBDIR / "cells.parquet").is_file()
    expect = sum(1 for r in records if r["p_dg"] < 0.05 and r["area"] == "VISp")
    assert len(obs.cells(area="VISp", filters="p_dg < 0.05")) == expect
    assert len(obs.cells(filters={"field": "dsi_dg", "op": "is", "value": None})) == 63_000
    # second open reads the Parquet store
    assert len(Observatory(cache).cells(container_id=cids[0])) == sum(
        r["experiment_container_id"] == cids[0] for r in records
    )
    # stale -> rebuilt from the new JSON
    (cache / "cell_specimens.json").write_text(json.dumps(records[:100]))
    _bump(cache / "cell_specimens.json")
    assert len(Observatory(cache).cells()) == 100


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores directory permissions")
def test_read_only_dir_falls_back_to_memory(cache):  # pragma: no cover - needs non-root
    os.chmod(cache, 0o555)
    try:
        obs = open_observatory(cache)
        assert len(obs.containers()) == 181
        assert not obs.store_writable
    finally:
        os.chmod(cache, 0o755)


def test_unwritable_store_falls_back_to_memory(cache):
    """A store path that cannot be created (a file in the way) -> tables kept in memory."""
    (cache / ".brainobs").write_text("not a dir")
    obs = open_observatory(cache)
    assert len(obs.containers()) == 181
    assert not obs.store_writable
    assert obs.cells().empty
