"""Fixtures: small hand-made NWB 1.x session files (see ``io_nwb_factory``)."""

from __future__ import annotations

from pathlib import Path

import pytest
from io_nwb_factory import write_session


@pytest.fixture(scope="session")
def nwb_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("nwb")


@pytest.fixture(scope="session")
def v3_path(nwb_dir: Path) -> Path:
    """Pipeline 3.0 file with demixed traces, pupil tracking and motion correction."""
    return write_session(nwb_dir / "527745328.nwb")


@pytest.fixture(scope="session")
def v1_path(nwb_dir: Path) -> Path:
    """Pipeline 1.0 file: no demixed group, old neuropil paths, no eye tracking or motion
    correction, running speed stored N x 1."""
    return write_session(nwb_dir / "v1.nwb", pipeline_version="1.0", pupil=False, motion=False,
                         running_2d=True)


@pytest.fixture()
def session(v3_path: Path):
    from brainobs.io import Session

    with Session(v3_path) as s:
        yield s


@pytest.fixture()
def session_v1(v1_path: Path):
    from brainobs.io import Session

    with Session(v1_path) as s:
        yield s
