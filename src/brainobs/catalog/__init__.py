"""What exists in a data dir: containers, experiments and cells, with filters.

>>> from brainobs.catalog import open_observatory
>>> obs = open_observatory()  # doctest: +SKIP
>>> obs.cells(area="VISp", filters="p_dg < 0.05")  # doctest: +SKIP
"""

from brainobs.catalog.coverage import MissingMetrics
from brainobs.catalog.filters import FilterError, mask_for
from brainobs.catalog.observatory import (
    CellSelection,
    Observatory,
    default_data_dir,
    open_observatory,
)

__all__ = [
    "CellSelection", "FilterError", "MissingMetrics", "Observatory", "default_data_dir", "mask_for",
    "open_observatory",
]
