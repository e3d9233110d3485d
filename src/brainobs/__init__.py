"""brainobs: fast, offline-first access to the Allen Brain Observatory Visual Coding 2P data.

>>> import brainobs as bo
>>> obs = bo.open_observatory()                 # doctest: +SKIP
>>> obs.containers(area="VISp", cre_line="Cux2-CreERT2")  # doctest: +SKIP
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from brainobs.catalog import Observatory, default_data_dir, open_observatory
from brainobs.errors import (
    BrainobsError,
    DataDirError,
    MissingDataError,
    NWBFileError,
    UnknownAreaError,
    UnknownCreLineError,
    UnknownIdError,
    UnknownSessionTypeError,
    UnknownStimulusError,
    UnknownValueError,
)
from brainobs.io import Session, open_session

try:
    __version__ = version("brainobs")
except PackageNotFoundError:  # running from a source tree without installation
    __version__ = "0.0.0"

__all__ = [
    "__version__",
    "Observatory",
    "Session",
    "default_data_dir",
    "open_observatory",
    "open_session",
    "BrainobsError",
    "DataDirError",
    "MissingDataError",
    "NWBFileError",
    "UnknownAreaError",
    "UnknownCreLineError",
    "UnknownIdError",
    "UnknownSessionTypeError",
    "UnknownStimulusError",
    "UnknownValueError",
]
