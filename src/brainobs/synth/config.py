"""Parameters of the synthetic observatory: packaged defaults merged with user overrides."""

from __future__ import annotations

import copy
import tomllib
from collections.abc import Mapping
from importlib import resources
from os import PathLike
from pathlib import Path
from typing import Any

from brainobs import vocab
from brainobs._validate import closest
from brainobs.errors import BrainobsError, UnknownAreaError, UnknownCreLineError


class SynthConfigError(BrainobsError, ValueError):
    """A synthetic-observatory configuration key or value that is not valid."""


def _defaults() -> dict[str, Any]:
    text = resources.files("brainobs.synth").joinpath("default_config.toml").read_text("utf-8")
    return tomllib.loads(text)


def _merge(base: dict[str, Any], override: Mapping[str, Any], where: str) -> None:
    """Merge ``override`` into ``base`` in place; every key must already exist in ``base``."""
    for key, value in override.items():
        if key not in base:
            valid = sorted(base)
            hint = closest(str(key), valid)
            hint_s = f" Did you mean {hint!r}?" if hint else ""
            raise SynthConfigError(
                f"Unknown synth config key {where + key!r}.{hint_s} Valid keys: {', '.join(valid)}."
            )
        if isinstance(base[key], dict):
            if not isinstance(value, Mapping):
                raise SynthConfigError(f"Synth config key {where + key!r} must be a table.")
            _merge(base[key], value, f"{where}{key}.")
        else:
            base[key] = copy.deepcopy(value)


def load_config(path_or_dict: str | PathLike | Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Return the synthetic-observatory parameters, defaults merged with overrides.

    The result has ``noise`` (recording parameters) and ``cre_lines`` (one fully resolved
    table per Cre line of :data:`brainobs.vocab.CRE_LINES`: the ``[defaults]`` table with the
    line's own overrides on top).

    Parameters
    ----------
    path_or_dict : path to a TOML file, a dict, or None for the packaged defaults
        Overrides use the layout of ``default_config.toml``: ``defaults`` (applied to every
        Cre line), ``cre_lines.<name>`` and ``noise``. Unknown keys raise
        :class:`SynthConfigError` naming the key and the valid ones; unknown Cre lines raise
        :class:`~brainobs.errors.UnknownCreLineError`.

    Examples
    --------
    >>> cfg = load_config({"cre_lines": {"Vip-IRES-Cre": {"rf_probability": 0.0}}})
    >>> cfg["cre_lines"]["Vip-IRES-Cre"]["rf_probability"]
    0.0
    """
    raw = _defaults()
    user: Mapping[str, Any]
    if path_or_dict is None:
        user = {}
    elif isinstance(path_or_dict, Mapping):
        user = path_or_dict
    elif isinstance(path_or_dict, (str, PathLike)):
        p = Path(path_or_dict)
        if not p.is_file():
            raise FileNotFoundError(f"Synth config file not found: {p}")
        with p.open("rb") as fh:
            user = tomllib.load(fh)
    else:
        raise TypeError(f"config must be a path, a dict or None; got {type(path_or_dict).__name__}")

    top = {"defaults", "cre_lines", "noise"}
    for key in user:
        if key not in top:
            hint = closest(str(key), sorted(top))
            hint_s = f" Did you mean {hint!r}?" if hint else ""
            raise SynthConfigError(
                f"Unknown synth config key {key!r}.{hint_s} Valid keys: {', '.join(sorted(top))}."
            )
    defaults = raw["defaults"]
    _merge(defaults, user.get("defaults", {}), "defaults.")
    noise = raw["noise"]
    _merge(noise, user.get("noise", {}), "noise.")

    user_lines = user.get("cre_lines", {})
    for name in user_lines:
        if name not in vocab.CRE_LINES:
            raise UnknownCreLineError(name, vocab.CRE_LINES)
    lines: dict[str, dict[str, Any]] = {}
    for name in vocab.CRE_LINES:
        table = copy.deepcopy(defaults)
        _merge(table, raw["cre_lines"].get(name, {}), f"cre_lines.{name}.")
        _merge(table, user_lines.get(name, {}), f"cre_lines.{name}.")
        _check_line(name, table)
        lines[name] = table
    return {"noise": noise, "cre_lines": lines}


def _check_line(name: str, t: dict[str, Any]) -> None:
    where = f"cre_lines.{name}"
    if t["reporter"] not in vocab.REPORTER_LINES:
        raise SynthConfigError(
            f"{where}.reporter {t['reporter']!r} is not one of {', '.join(vocab.REPORTER_LINES)}."
        )
    for area in t["areas"]:
        if area not in vocab.AREAS:
            raise UnknownAreaError(area, vocab.AREAS)
    if not t["depths"] or not t["areas"]:
        raise SynthConfigError(f"{where}: depths and areas must be non-empty lists.")
    for k, v in t["frac_responsive"].items():
        if not 0.0 <= float(v) <= 1.0:
            raise SynthConfigError(f"{where}.frac_responsive.{k} must be in [0, 1]; got {v!r}.")
    if not 0.0 <= float(t["rf_probability"]) <= 1.0:
        raise SynthConfigError(f"{where}.rf_probability must be in [0, 1].")
    for k in ("dsi_dg", "osi_dg", "osi_sg", "image_sel_ns"):
        a, b = t[k]
        if a <= 0 or b <= 0:
            raise SynthConfigError(f"{where}.{k} beta parameters must be > 0; got {t[k]!r}.")
