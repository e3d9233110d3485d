"""Fixtures of the download tests: the tiny synthetic observatory served in the bucket layout
by a fault-injecting server on 127.0.0.1 (tests/fetch/server.py)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from server import FaultServer  # noqa: E402

# Short timeouts and backoff: faults cost fractions of a second.
FAST = {"timeout": 0.5, "retries": 3, "backoff": 0.01}


@pytest.fixture
def bucket(tiny_observatory):
    """A FaultServer serving the tiny observatory (read only) under /visual-coding-2p/."""
    with FaultServer(tiny_observatory) as srv:
        srv.slow_s = 1.0
        yield srv


@pytest.fixture
def fast() -> dict:
    return dict(FAST)
