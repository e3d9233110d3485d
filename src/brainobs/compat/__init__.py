"""AllenSDK-compatible API: ``BrainObservatoryCache`` and ``BrainObservatoryNwbDataSet``.

>>> from brainobs.compat import BrainObservatoryCache
>>> boc = BrainObservatoryCache(manifest_file="manifest.json")  # doctest: +SKIP
"""

from brainobs.compat.cache import BrainObservatoryCache
from brainobs.compat.dataset import BrainObservatoryNwbDataSet

__all__ = ["BrainObservatoryCache", "BrainObservatoryNwbDataSet"]
