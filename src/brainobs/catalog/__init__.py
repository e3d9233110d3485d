"""What exists in a data dir: containers, experiments and cells, with filters.

>>> from brainobs.catalog import open_observatory
>>> obs = open_observatory()  # doctest: +SKIP
>>> obs.cells(area="VISp", filters="p_dg < 0.05")  # doctest: +SKIP
"""

from brainobs.catalog.filters import FilterError, mask_for
from brainobs.catalog.observatory import Observatory, default_data_dir, open_observatory

__all__ = ["Observatory", "open_observatory", "default_data_dir", "FilterError", "mask_for"]
