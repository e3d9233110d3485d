"""Shared fixtures: one tiny synthetic observatory per test session."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def tiny_observatory(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A size="tiny", seed=0 synthetic observatory (4 containers × 3 sessions, 8 cells each)."""
    from brainobs.synth import generate_observatory

    return generate_observatory(tmp_path_factory.mktemp("synth") / "obs", size="tiny", seed=0)
