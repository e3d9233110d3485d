"""Argument checks shared by the figure functions; every error names the argument."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from matplotlib.axes import Axes


def check_ax(ax: Any, name: str = "ax", *, polar: bool = False) -> Axes:
    """Return ``ax`` when it is a matplotlib Axes (a polar one when ``polar``)."""
    if not isinstance(ax, Axes):
        raise ValueError(f"{name} must be a matplotlib Axes; got {type(ax).__name__}")
    if polar and ax.name != "polar":
        raise ValueError(
            f"{name} must be a polar Axes (e.g. plt.subplots(subplot_kw={{'projection': 'polar'}})); "
            f"got a {ax.name!r} Axes"
        )
    return ax


def float_array(value: Any, name: str, *, ndim: int | None = None) -> np.ndarray:
    """``value`` as a float array (pandas NA becomes NaN), optionally of a given rank."""
    try:
        if isinstance(value, (pd.Series, pd.Index, pd.api.extensions.ExtensionArray)):
            arr = pd.Series(value).to_numpy(dtype=float, na_value=np.nan)
        else:
            arr = np.asarray(value, dtype=float)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be numeric; {exc}") from None
    if ndim is not None and arr.ndim != ndim:
        raise ValueError(f"{name} must be {ndim}-D; got shape {arr.shape}")
    return arr


def check_size(arr: np.ndarray, n: int, name: str, other: str) -> np.ndarray:
    """Require ``arr.size == n`` (``other`` names what ``n`` comes from)."""
    if arr.size != n:
        raise ValueError(f"{name} has {arr.size} values but {other} has {n}")
    return arr


def optional_sem(sem: Any, shape: tuple[int, ...], other: str) -> np.ndarray | None:
    """Validate an optional SEM array of the same shape as the responses."""
    if sem is None:
        return None
    s = float_array(sem, "sem")
    if s.shape != shape:
        raise ValueError(f"sem must have the shape of {other} {shape}; got {s.shape}")
    if (s[np.isfinite(s)] < 0).any():
        raise ValueError("sem must be >= 0")
    return s


def check_columns(df: Any, name: str, columns: list[str]) -> pd.DataFrame:
    """Require a DataFrame holding ``columns``."""
    if not isinstance(df, pd.DataFrame):
        raise ValueError(f"{name} must be a pandas DataFrame; got {type(df).__name__}")
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise ValueError(f"{name} lacks column(s) {missing}; it has {list(df.columns)}")
    return df


def positive(value: float, name: str) -> float:
    """Require a finite number > 0."""
    v = float(value)
    if not np.isfinite(v) or v <= 0:
        raise ValueError(f"{name} must be a finite number > 0; got {value!r}")
    return v
