"""Argument validation helpers shared by every layer."""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
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
    >>> closest("Sstx", ["Sst-IRES-Cre", "Vip-IRES-Cre"])
    'Sst-IRES-Cre'
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
    if hits:
        return lowered[hits[0]]
    # a mistyped short name ("Sstx", "Cux3") is close to a name's first part, not the whole
    heads: dict[str, str] = {}
    for c in choices:
        heads.setdefault(re.split(r"[-_(]", c, maxsplit=1)[0].lower(), c)
    hits = difflib.get_close_matches(low, list(heads), n=1, cutoff=0.6)
    return heads[hits[0]] if hits else None


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


def as_int_list(value: Any, name: str = "ids",
                accepted: str = "an integer id or a list of integer ids") -> list[int] | None:
    """Like :func:`as_list` but every element must be an integer id.

    Integers, whole floats (an id column read beside NaN) and digit strings are accepted;
    anything else raises :class:`~brainobs.errors.ArgumentTypeError` (a ``TypeError``)
    naming ``name``.

    >>> as_int_list(5), as_int_list([1.0, "2"])
    ([5], [1, 2])
    >>> as_int_list(3.5, "container_id")
    Traceback (most recent call last):
    ...
    brainobs.errors.ArgumentTypeError: container_id must be an integer id or a list of integer ids; got float 3.5.
    """
    from brainobs.errors import ArgumentTypeError

    if isinstance(value, dict):
        raise ArgumentTypeError(name, value, accepted)
    items = as_list(value, name)
    if items is None:
        return None
    out = []
    for v in items:
        iv = _as_int(v)
        if iv is None:
            raise ArgumentTypeError(name, v, accepted)
        out.append(iv)
    return out


def _as_int(v: Any) -> int | None:
    if isinstance(v, (bool, np.bool_)):
        return None
    if isinstance(v, (int, np.integer)):
        return int(v)
    if isinstance(v, (float, np.floating)):
        return int(v) if np.isfinite(v) and float(v).is_integer() else None
    if isinstance(v, str) and v.strip().lstrip("+-").isdigit():
        return int(v.strip())
    return None


def _fits_prefix(value: str, choice: str) -> bool:
    """``value`` is the leading part of ``choice`` up to a "-", "_" or "(" (case-insensitive)."""
    v, c = value.lower().rstrip("-_"), choice.lower()
    return bool(v) and c.startswith(v) and (len(c) == len(v) or c[len(v)] in "-_(")


def check_choices(
    values: Any,
    choices: Iterable[str],
    error: Callable[[Any, Sequence[str]], Exception],
    name: str,
    *,
    aliases: Mapping[str, str] | None = None,
    prefixes: bool = False,
) -> list[str] | None:
    """Map user spellings to canonical choices; raise ``error`` naming the bad value.

    Matching is exact first, then case-insensitive, then through ``aliases`` (keys matched
    case-insensitively, e.g. ``"V1" -> "VISp"``), then -- when ``prefixes`` -- a leading
    part of one choice that ends where the choice has a "-", "_" or "(" (``"Cux2"`` for
    ``"Cux2-CreERT2"``; several fitting choices raise
    :class:`~brainobs.errors.AmbiguousValueError` listing them). Anything else raises
    ``error`` (an :class:`~brainobs.errors.UnknownValueError` subclass, or any callable
    ``error(value, choices)`` returning an exception) with the closest match. A value that
    is not a str raises :class:`~brainobs.errors.ArgumentTypeError` (a ``TypeError``).

    >>> from brainobs.errors import UnknownAreaError, UnknownCreLineError
    >>> check_choices(["visp", "LM"], ["VISl", "VISp"], UnknownAreaError, "area", aliases={"LM": "VISl"})
    ['VISp', 'VISl']
    >>> check_choices("Sst", ["Sst-IRES-Cre", "Vip-IRES-Cre"], UnknownCreLineError, "cre_line", prefixes=True)
    ['Sst-IRES-Cre']
    """
    from brainobs.errors import AmbiguousValueError, ArgumentTypeError

    if isinstance(values, dict) or (values is not None and not isinstance(values, (str, Iterable))):
        raise ArgumentTypeError(name, values, "a str or a list of str")
    items = as_list(values, name)
    if items is None:
        return None
    choices = [str(c) for c in choices]
    by_lower = {c.lower(): c for c in choices}
    alias_lower = {str(k).lower(): str(t) for k, t in (aliases or {}).items()}
    out = []
    for v in items:
        if not isinstance(v, str):
            raise ArgumentTypeError(name, v, "a str or a list of str")
        if v in choices:
            out.append(v)
            continue
        low = v.strip().lower()
        if low in by_lower:
            out.append(by_lower[low])
            continue
        target = alias_lower.get(low)
        if target is not None and target.lower() in by_lower:
            out.append(by_lower[target.lower()])
            continue
        fits = [c for c in choices if _fits_prefix(v.strip(), c)] if prefixes else []
        if len(fits) == 1:
            out.append(fits[0])
            continue
        exc = error(v, choices)
        if len(fits) > 1:
            raise AmbiguousValueError(v, fits, kind=getattr(exc, "kind", name))
        raise exc
    return out
