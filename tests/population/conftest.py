"""The real SWDB-2019 drifting-grating table (40,359 cells) for population tests."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

SWDB = (Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "allen" / "cell_metrics"
        / "swdb2019_saskia_dg_responsiveness.csv.gz")


@pytest.fixture(scope="session")
def swdb_raw() -> pd.DataFrame:
    if not SWDB.exists():
        pytest.skip(f"shared real data not available: {SWDB.resolve()}")
    return pd.read_csv(SWDB)
