"""Every docstring example in the package runs (the numpydoc examples are doctests)."""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import brainobs


def _modules() -> list[str]:
    return sorted(m.name for m in pkgutil.walk_packages(brainobs.__path__, "brainobs.")
                  if not m.name.endswith("__main__"))


@pytest.mark.parametrize("name", _modules())
def test_docstring_examples(name):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    module = importlib.import_module(name)
    try:
        result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE,
                                 extraglobs={"np": __import__("numpy"), "pd": __import__("pandas")})
    finally:
        plt.close("all")
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples failed in {name}"
