"""The synthetic observatory: a complete Allen Brain Observatory data dir with ground truth.

>>> from brainobs.synth import generate_observatory, read_ground_truth  # doctest: +SKIP
>>> d = generate_observatory("obs", size="tiny")                          # doctest: +SKIP
>>> read_ground_truth(d).head()                                           # doctest: +SKIP
"""

from brainobs.synth.comparison import (
    COMPARISON_AREAS,
    COMPARISON_CRE_LINES,
    COMPARISON_REFERENCE,
    PLANTED_CRE_LINES,
    PLANTED_DIFFERENCES,
    PlantedDifference,
    generate_comparison_observatory,
    null_config,
    planted_config,
)
from brainobs.synth.config import SynthConfigError, load_config, resolve_cell_params
from brainobs.synth.nwb1 import SessionContent, StimulusContent, write_session_nwb
from brainobs.synth.observatory import (
    GROUND_TRUTH_COLUMNS,
    ObservatoryExistsError,
    clean_leftovers,
    generate_observatory,
    read_ground_truth,
)
from brainobs.synth.schedule import SIZES

__all__ = [
    "COMPARISON_AREAS",
    "COMPARISON_CRE_LINES",
    "COMPARISON_REFERENCE",
    "GROUND_TRUTH_COLUMNS",
    "PLANTED_CRE_LINES",
    "PLANTED_DIFFERENCES",
    "SIZES",
    "ObservatoryExistsError",
    "PlantedDifference",
    "SessionContent",
    "StimulusContent",
    "SynthConfigError",
    "clean_leftovers",
    "generate_comparison_observatory",
    "generate_observatory",
    "load_config",
    "null_config",
    "planted_config",
    "read_ground_truth",
    "resolve_cell_params",
    "write_session_nwb",
]
