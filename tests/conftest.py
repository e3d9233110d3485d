"""Shared fixtures: one tiny synthetic observatory per test session, and AllenSDK-style
cache dirs built in tmp_path from the real data in ../shared (skipped when it is absent)."""

from __future__ import annotations

import gzip
import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest


@pytest.fixture(scope="session")
def tiny_observatory(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A size="tiny", seed=0 synthetic observatory (4 containers × 3 sessions, 8 cells each)."""
    from brainobs.synth import generate_observatory

    return generate_observatory(tmp_path_factory.mktemp("synth") / "obs", size="tiny", seed=0)

SHARED = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "allen"
META = SHARED / "metadata"
CELL_CSV = SHARED / "cell_metrics" / "api_cam_cell_metrics_316cells_2containers.csv.gz"


def need(path: Path) -> Path:
    if not path.exists():
        pytest.skip(f"shared real data not available: {path.resolve()}")
    return path


@pytest.fixture(scope="session")
def real_cache(tmp_path_factory) -> Path:
    """manifest.json + experiment_containers.json.gz (2017 release, 216 containers)."""
    src = need(META / "experiment_containers_2017.json.gz")
    d = tmp_path_factory.mktemp("real_cache")
    shutil.copy(need(META / "boc_manifest_2017.json"), d / "manifest.json")
    shutil.copy(src, d / "experiment_containers.json.gz")
    shutil.copy(need(META / "stimulus_mappings_2017.json.gz"), d / "stimulus_mappings.json.gz")
    return d


@pytest.fixture(scope="session")
def flat_experiments() -> pd.DataFrame:
    """Independent per-experiment table (derived CSV) for cross-checks."""
    return pd.read_csv(need(META / "ophys_experiments_2017_flat_DERIVED.csv.gz"))


def cell_records() -> list[dict]:
    """The 316-cell ApiCamCellMetric CSV as cell_specimens.json records (NA->null, t/f->bool)."""
    df = pd.read_csv(need(CELL_CSV), keep_default_na=False, dtype=str)
    out = []
    for row in df.to_dict("records"):
        rec = {}
        for k, v in row.items():
            if v in ("NA", ""):
                rec[k] = None
            elif v in ("t", "f"):
                rec[k] = v == "t"
            else:
                try:
                    num = float(v)
                    rec[k] = int(num) if num.is_integer() and "." not in v else num
                except ValueError:
                    rec[k] = v
        out.append(rec)
    return out


@pytest.fixture(scope="session")
def real_cells_csv() -> pd.DataFrame:
    """The same CSV read by pandas (independent parsing for cross-checks)."""
    return pd.read_csv(need(CELL_CSV), na_values=["NA"])


@pytest.fixture(scope="session")
def real_cache_cells(tmp_path_factory, real_cache) -> Path:
    """The real cache plus cell_specimens.json (316 real cells, 2 containers)."""
    d = tmp_path_factory.mktemp("real_cache_cells")
    for f in real_cache.iterdir():
        if f.is_file():
            shutil.copy(f, d / f.name)
    (d / "cell_specimens.json").write_text(json.dumps(cell_records()))
    return d


def synthetic_cells(n: int, container_ids: list[int], seed: int = 0) -> list[dict]:
    """n fake cell records spread over the given containers."""
    rng = np.random.default_rng(seed)
    cids = rng.choice(container_ids, size=n)
    areas = np.array(["VISp", "VISl", "VISal", "VISpm", "VISam", "VISrl"])[rng.integers(0, 6, n)]
    p = rng.uniform(0, 1, n)
    return [
        {
            "cell_specimen_id": 600_000_000 + i,
            "experiment_container_id": int(cids[i]),
            "area": str(areas[i]),
            "tld1_name": "Cux2-CreERT2",
            "imaging_depth": 175,
            "failed_experiment_container": False,
            "p_dg": float(p[i]),
            "dsi_dg": None,
        }
        for i in range(n)
    ]


def write_gz_json(path: Path, obj) -> None:
    with gzip.open(path, "wt", encoding="utf-8") as fh:
        json.dump(obj, fh)


@pytest.fixture(scope="session")
def helpers():
    """Test helpers (tests/ is not a package, so they are handed out as a fixture)."""
    from types import SimpleNamespace

    return SimpleNamespace(synthetic_cells=synthetic_cells, write_gz_json=write_gz_json)
