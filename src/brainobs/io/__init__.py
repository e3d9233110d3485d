"""Readers of session files: the Allen Brain Observatory NWB 1.x format.

>>> from brainobs.io import open_session
>>> s = open_session("ophys_experiment_data/527745328.nwb")  # doctest: +SKIP
"""

from __future__ import annotations

from brainobs.io.session import Session, open_session

__all__ = ["Session", "open_session"]
