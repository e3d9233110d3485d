"""The synthetic observatory: a complete Allen Brain Observatory data dir with ground truth.

>>> from brainobs.synth import generate_observatory, read_ground_truth  # doctest: +SKIP
>>> d = generate_observatory("obs", size="tiny")                          # doctest: +SKIP
>>> read_ground_truth(d).head()                                           # doctest: +SKIP
"""

from brainobs.synth.config import SynthConfigError, load_config, resolve_cell_params
from brainobs.synth.nwb1 import SessionContent, StimulusContent, write_session_nwb
from brainobs.synth.observatory import (
    GROUND_TRUTH_COLUMNS,
    ObservatoryExistsError,
    generate_observatory,
    read_ground_truth,
)
from brainobs.synth.schedule import SIZES

__all__ = [
    "GROUND_TRUTH_COLUMNS",
    "SIZES",
    "ObservatoryExistsError",
    "SessionContent",
    "StimulusContent",
    "SynthConfigError",
    "generate_observatory",
    "load_config",
    "read_ground_truth",
    "resolve_cell_params",
    "write_session_nwb",
]
