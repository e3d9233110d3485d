"""Value filters on catalog tables: a tiny, safe parser (no ``eval``, no ``DataFrame.query``).

Accepted forms (a list means AND):

* strings ``"<column> <op> <value>"`` with op one of ``<  <=  >  >=  ==  =  !=  in  not in
  between  is``; values are numbers, ``true``/``false``, ``null``/``None``/``nan``, quoted or
  bare strings, or lists ``[a, b]`` (for ``in``/``not in``/``between``);
* AllenSDK dicts ``{'field': col, 'op': op, 'value': v}`` with the same ops
  (AllenSDK's are ``=``, ``<``, ``>``, ``<=``, ``>=``, ``between``, ``in``, ``is``).

Examples
--------
>>> import pandas as pd
>>> df = pd.DataFrame({"p_dg": [0.01, 0.2], "area": ["VISp", "VISl"]})
>>> mask_for(df, ["p_dg < 0.05", {"field": "area", "op": "in", "value": ["VISp"]}]).tolist()
[True, False]
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from brainobs.errors import ArgumentTypeError, BrainobsError, UnknownValueError

OPS: tuple[str, ...] = ("<", "<=", ">", ">=", "==", "=", "!=", "in", "not in", "between", "is")

_CLAUSE = re.compile(
    r"^\s*(?P<col>[A-Za-z_][A-Za-z0-9_]*)\s*"
    r"(?P<op>not\s+in\b|in\b|between\b|is\b|[<>=!]+)\s*(?P<val>.*?)\s*$",
    re.IGNORECASE,
)
_NUMBER = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")


class FilterError(BrainobsError, ValueError):
    """A malformed filter (bad operator, bad value, bad syntax)."""


@dataclass(frozen=True)
class Clause:
    column: str
    op: str
    value: Any


def _scalar(text: str) -> Any:
    t = text.strip()
    if len(t) >= 2 and t[0] == t[-1] and t[0] in "'\"":
        return t[1:-1]
    if _NUMBER.match(t):
        v = float(t)
        return int(v) if re.match(r"^[+-]?\d+$", t) else v
    low = t.lower()
    if low == "true":
        return True
    if low == "false":
        return False
    if low in ("null", "none", "nan", "na"):
        return None
    if not t:
        raise FilterError("missing value")
    return t


def _value(text: str) -> Any:
    t = text.strip()
    if t.startswith(("[", "(")):
        if not t.endswith(("]", ")")):
            raise FilterError(f"unclosed list in {text!r}")
        inner = t[1:-1].strip()
        return [_scalar(p) for p in _split_commas(inner)] if inner else []
    return _scalar(t)


def _split_commas(text: str) -> list[str]:
    """Split on commas outside quotes."""
    parts, buf, quote = [], [], ""
    for ch in text:
        if quote:
            buf.append(ch)
            if ch == quote:
                quote = ""
        elif ch in "'\"":
            quote = ch
            buf.append(ch)
        elif ch == ",":
            parts.append("".join(buf))
            buf = []
        else:
            buf.append(ch)
    parts.append("".join(buf))
    return parts


def _norm_op(op: str, where: str) -> str:
    op = re.sub(r"\s+", " ", str(op).strip().lower())
    if op not in OPS:
        raise FilterError(
            f"Bad operator {op!r} in filter {where}. Valid operators: {', '.join(OPS)}."
        )
    return "==" if op == "=" else op


_FILTER_TYPES = "a str such as 'p_dg < 0.05', an AllenSDK filter dict or a list of them"


def parse(filters: Any) -> list[Clause]:
    """Parse a filter string, an AllenSDK dict, or a list of them (or of clauses) into clauses.

    Anything else raises :class:`~brainobs.errors.ArgumentTypeError` (a ``TypeError``).
    """
    if filters is None:
        return []
    if isinstance(filters, (str, dict, Clause)):
        items = [filters]
    elif isinstance(filters, (list, tuple)):
        items = list(filters)
    else:
        raise ArgumentTypeError("filters", filters, _FILTER_TYPES)
    out = []
    for f in items:
        if isinstance(f, Clause):
            out.append(f)
        elif isinstance(f, dict):
            missing = {"field", "op", "value"} - set(f)
            if missing:
                raise FilterError(f"filter dict {f!r} lacks {sorted(missing)}")
            op = _norm_op(f["op"], repr(f))
            out.append(Clause(str(f["field"]), op, f["value"]))
        elif isinstance(f, str):
            m = _CLAUSE.match(f)
            if not m:
                raise FilterError(
                    f"Cannot parse filter {f!r}; expected '<column> <op> <value>', "
                    f"e.g. 'p_dg < 0.05'. Valid operators: {', '.join(OPS)}."
                )
            op = _norm_op(m["op"], repr(f))
            try:
                value = _value(m["val"])
            except FilterError as exc:
                raise FilterError(f"Bad value in filter {f!r}: {exc}") from None
            out.append(Clause(m["col"], op, value))
        else:
            raise ArgumentTypeError(
                "each filter", f, "a str such as 'p_dg < 0.05' or an AllenSDK filter dict"
            )
    return out


def _as_values(value: Any, clause: Clause) -> list:
    if isinstance(value, (list, tuple, set, np.ndarray, pd.Series)):
        return list(value)
    raise FilterError(f"operator {clause.op!r} needs a list value; got {value!r}")


def _is_missing(v: Any) -> bool:
    return v is None or (isinstance(v, float) and np.isnan(v))


def _typed_value(series: pd.Series, column: str, v: Any, equality: bool = True) -> Any:
    """``v`` checked against the column's kind: a clear error instead of a silent empty."""
    if _is_missing(v) or isinstance(v, (list, tuple)):
        return v
    if pd.api.types.is_bool_dtype(series):
        if not isinstance(v, (bool, np.bool_)):
            raise FilterError(f"{column} is true/false; got {v!r} (write {column} == true)")
        return v
    if pd.api.types.is_numeric_dtype(series):
        if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, float, np.number)):
            raise FilterError(f"{column} holds numbers; {v!r} is not a number")
        return v
    values = series.dropna()
    if equality and len(values) and isinstance(v, (int, np.integer)) and not isinstance(v, bool) and \
            values.map(lambda x: isinstance(x, str)).all():
        return str(v)  # a text column of digits (e.g. donor_name == 222426)
    return v


def _mask_one(series: pd.Series, c: Clause) -> np.ndarray:
    v = c.value
    if c.op in ("in", "not in"):
        vals = [_typed_value(series, c.column, x) for x in _as_values(v, c)]
        m = series.isin(vals).to_numpy(dtype=bool)
        if any(_is_missing(x) for x in vals):
            m |= series.isna().to_numpy()
        return ~m & series.notna().to_numpy() if c.op == "not in" else m
    if c.op == "between":
        vals = _as_values(v, c)
        if len(vals) != 2:
            raise FilterError(f"'between' needs [low, high]; got {v!r} for {c.column}")
        return _mask_one(series, Clause(c.column, ">=", vals[0])) & _mask_one(
            series, Clause(c.column, "<=", vals[1])
        )
    if _is_missing(v):
        if c.op in ("==", "is"):
            return series.isna().to_numpy()
        if c.op == "!=":
            return series.notna().to_numpy()
        raise FilterError(f"cannot compare {c.column} {c.op} null")
    if c.op == "is":
        c = Clause(c.column, "==", v)
    if isinstance(v, (list, tuple)):
        raise FilterError(f"operator {c.op!r} needs a single value; got {v!r} for {c.column}")
    v = _typed_value(series, c.column, v, equality=c.op in ("==", "!="))
    try:
        if c.op == "==":
            res = series == v
        elif c.op == "!=":
            res = series != v
        elif c.op == "<":
            res = series < v
        elif c.op == "<=":
            res = series <= v
        elif c.op == ">":
            res = series > v
        else:
            res = series >= v
    except TypeError as exc:
        raise FilterError(
            f"cannot compare column {c.column} ({series.dtype}) {c.op} {v!r}"
        ) from exc
    return (
        res.fillna(False).to_numpy(dtype=bool) if res.dtype == object else res.to_numpy(dtype=bool)
    )


def normalized(clause: Clause, normalize: Callable[[Any], Any]) -> Clause:
    """``clause`` with its value(s) mapped by ``normalize`` (one user spelling -> the canonical
    name, raising an error that names the bad value and the valid ones); for the columns of a
    closed vocabulary (area, Cre line ...), where only ``== != in not in is`` make sense."""
    if clause.op in ("<", "<=", ">", ">=", "between"):
        raise FilterError(
            f"operator {clause.op!r} does not apply to {clause.column} (a name); "
            "use ==, !=, in or not in"
        )
    v = clause.value
    if clause.op in ("in", "not in"):
        new: Any = [None if _is_missing(x) else normalize(x) for x in _as_values(v, clause)]
    else:
        new = None if _is_missing(v) else normalize(v)
    return Clause(clause.column, clause.op, new)


def mask_for(
    df: pd.DataFrame, filters: Any, normalize: Mapping[str, Callable[[Any], Any]] | None = None
) -> np.ndarray:
    """Boolean row mask of ``df`` for ``filters`` (see module docstring); all clauses ANDed.

    ``normalize`` maps a column to a function turning one user value into the canonical one
    (see :func:`normalized`); values compared with other columns must fit the column's kind
    (numbers with numbers, true/false with flags), else :class:`FilterError`.
    """
    mask = np.ones(len(df), dtype=bool)
    for c in parse(filters):
        if c.column not in df.columns:
            raise UnknownValueError(c.column, df.columns, kind="column")
        if normalize and c.column in normalize:
            c = normalized(c, normalize[c.column])
        mask &= _mask_one(df[c.column], c)
    return mask
