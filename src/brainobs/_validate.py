"""Argument validation helpers shared by every layer."""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np


def closest(value: str, choices: Iterable[str]) -> str | None:
    """Return the choice closest to ``value``, or None when nothing is close.

    A choice that starts with ``value`` (case-insensitive) wins, so ``"Rorb"`` maps to
    ``"Rorb-IRES2-Cre"``; otherwise the best ``difflib`` match above a similarity cut-off.

    Examples
    --------
    >>> closest("Rorb", ["Rorb-IRES2-Cre", "Rbp4-Cre_KL100"])
    'Rorb-IRES2-Cre'
    >>> closest("visp", ["VISp", "VISl"])
    'VISp'
    """
    choices = [str(c) for c in choices]
    low = value.lower()
    for c in choices:
        if c.lower() == low:
            return c
    prefixed = [c for c in choices if c.lower().startswith(low)] if low else []
    if prefixed:
        return min(prefixed, key=len)
    lowered = {c.lower(): c for c in choices}
    hits = difflib.get_close_matches(low, list(lowered), n=1, cutoff=0.5)
    return lowered[hits[0]] if hits else None


def as_list(value: Any, name: str = "value") -> list | None:
    """Accept a scalar, a string or any iterable and return a list (None stays None).

    A plain string is one value, not a sequence of characters.

    >>> as_list("VISp")
    ['VISp']
    >>> as_list((1, 2))
    [1, 2]
    >>> as_list(None) is None
    True
    """
    if value is None:
        return None
    if isinstance(value, (str, bytes)):
        return [value.decode() if isinstance(value, bytes) else value]
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Iterable):
        return list(value)
    return [value]


def as_int_list(value: Any, name: str = "ids") -> list[int] | None:
    """Like :func:`as_list` but every element must be an integer id."""
    items = as_list(value, name)
    if items is None:
        return None
    out = []
    for v in items:
        try:
            iv = int(v)
        except (TypeError, ValueError):
            raise ValueError(f"{name} must be integer ids; got {v!r}") from None
        if isinstance(v, float) and v != iv:
            raise ValueError(f"{name} must be integer ids; got {v!r}")
        out.append(iv)
    return out


def check_choices(
    values: Any, choices: Iterable[str], error: Callable[[Any, Sequence[str]], Exception], name: str
) -> list[str] | None:
    """Map user spellings to canonical choices; raise ``error`` naming the bad value.

    Matching is exact first, then case-insensitive. Anything else raises ``error``
    (an :class:`~brainobs.errors.UnknownValueError` subclass, or any callable
    ``error(value, choices)`` returning an exception) with the closest match.
    """
    items = as_list(values, name)
    if items is None:
        return None
    choices = list(choices)
    by_lower = {str(c).lower(): c for c in choices}
    out = []
    for v in items:
        if v in choices:
            out.append(v)
        elif str(v).lower() in by_lower:
            out.append(by_lower[str(v).lower()])
        else:
            raise error(v, choices)
    return out
