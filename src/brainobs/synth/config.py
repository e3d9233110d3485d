"""Parameters of the synthetic observatory: packaged defaults merged with user overrides."""

from __future__ import annotations

import copy
import math
import numbers
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
    if not isinstance(override, Mapping):
        raise SynthConfigError(f"Synth config key {where.rstrip('.')!r} must be a table.")
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


STIMULI = ("dg", "sg", "ns", "nm")
DEPTH_BINS = ("superficial", "mid", "deep")
N_WEIGHTS = 5  # drifting-grating TFs (1, 2, 4, 8, 15 Hz) and static-grating SFs
MODIFIER_SCALES = ("rf_probability_scale", "amplitude_scale", "noise_sd_scale")


def load_config(path_or_dict: str | PathLike | Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Return the synthetic-observatory parameters, defaults merged with overrides.

    The ground-truth distributions depend on Cre line × area × depth. The configuration (and
    ``default_config.toml``, whose comments give the published sources of every default
    trend) has six tables:

    ``options``
        ``packaged_cre_lines`` (default true): false skips the packaged per-Cre-line tables,
        so every Cre line is ``defaults`` plus the user's own ``cre_lines.<name>`` table only
        (used by :func:`~brainobs.synth.planted_config` and :func:`~brainobs.synth.null_config`
        for Cre lines that differ only by design).

    ``defaults``
        Tuning parameters of every Cre line (``frac_responsive``, ``rf_probability``,
        ``amplitude``, selectivity Beta parameters, ``run_mod``, ``depths``/``areas`` of its
        containers, ``pref_tf_weights``...).
    ``cre_lines.<name>``
        Per-Cre-line overrides of ``defaults`` (names from :data:`brainobs.vocab.CRE_LINES`).
        ``pref_tf_weights`` (5 weights over the TFs 1, 2, 4, 8, 15 Hz; default uniform) is the
        line's relative TF preference: it multiplies the area's ``pref_tf_weights``
        elementwise and the product is renormalized (see :func:`resolve_cell_params`), so the
        area's modulation still applies and a uniform line weight changes nothing.
    ``areas.<area>``
        Per-area modifiers applied on top of the Cre-line values (areas from
        :data:`brainobs.vocab.AREAS`): ``frac_responsive_scale`` (table ``dg``/``sg``/``ns``/
        ``nm``), ``rf_probability_scale``, ``amplitude_scale`` and ``noise_sd_scale``
        (non-negative multipliers), and the preferred-frequency distributions
        ``pref_tf_weights`` (over the TFs 1, 2, 4, 8, 15 Hz) and ``pref_sf_weights`` (over the
        SFs 0.02, 0.04, 0.08, 0.16, 0.32 cpd). Defaults: VISal, VISl and VISrl prefer higher
        TFs, VISpm and VISam lower ones, VISp is broad; VISpm prefers higher SFs, VISal and
        VISrl lower ones; VISp has the most responsive cells and RFs, VISam/VISpm/VISrl fewer
        RFs (Marshel et al. 2011; Andermann et al. 2011; de Vries et al. 2020).
    ``depths``
        ``edges = [a, b]`` (µm) splitting imaging depths into the bins ``superficial``
        (depth < a), ``mid`` (a <= depth < b) and ``deep`` (depth >= b), and one table per bin
        with the same four scale modifiers as an area (no frequency weights). Defaults
        (250, 400 µm): deeper bins have fewer responsive cells and RFs, smaller amplitudes and
        more noise.
    ``noise``
        Recording parameters shared by all cells, and the running schedule of the mouse
        (``running_bout_s``/``still_bout_s``: mean durations of its running and still bouts).

    Weights (the areas' and the Cre lines') are validated (5 finite non-negative numbers, not
    all zero) and returned normalized to sum to 1. Use :func:`resolve_cell_params` for the effective parameters of a
    (Cre line, area, depth) combination.

    Parameters
    ----------
    path_or_dict : path to a TOML file, a dict, or None for the packaged defaults
        Overrides use the layout above and may give any subset of the keys; they are merged
        over the defaults. Unknown keys raise :class:`SynthConfigError` naming the dotted key,
        the closest valid key and the valid ones; unknown Cre lines raise
        :class:`~brainobs.errors.UnknownCreLineError` and unknown areas
        :class:`~brainobs.errors.UnknownAreaError` (both with the closest match).

    Returns
    -------
    dict with ``options``, ``noise``, ``cre_lines`` (one fully resolved table per Cre line:
    ``defaults`` with the line's overrides on top), ``areas`` (one table per area) and
    ``depths``.

    Examples
    --------
    >>> cfg = load_config({"cre_lines": {"Vip-IRES-Cre": {"rf_probability": 0.0}}})
    >>> cfg["cre_lines"]["Vip-IRES-Cre"]["rf_probability"]
    0.0
    >>> cfg = load_config({"areas": {"VISpm": {"rf_probability_scale": 0.5}}})
    >>> cfg["areas"]["VISpm"]["rf_probability_scale"]
    0.5
    >>> cfg = load_config({"cre_lines": {"Scnn1a-Tg3-Cre": {"pref_tf_weights": [0, 0, 0, 1, 3]}}})
    >>> cfg["cre_lines"]["Scnn1a-Tg3-Cre"]["pref_tf_weights"]
    [0.0, 0.0, 0.0, 0.25, 0.75]
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
            what = "is a directory" if p.is_dir() else "not found"
            raise FileNotFoundError(f"Synth config file {what}: {p}; expected a TOML file "
                                    "(see `brainobs synth --help`)")
        try:
            with p.open("rb") as fh:
                user = tomllib.load(fh)
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise SynthConfigError(f"Synth config file {p} is not valid TOML: {exc}") from exc
    else:
        raise TypeError(f"config must be a path, a dict or None; got {type(path_or_dict).__name__}")

    top = {"options", "defaults", "cre_lines", "areas", "depths", "noise"}
    for key in user:
        if key not in top:
            hint = closest(str(key), sorted(top))
            hint_s = f" Did you mean {hint!r}?" if hint else ""
            raise SynthConfigError(
                f"Unknown synth config key {key!r}.{hint_s} Valid keys: {', '.join(sorted(top))}."
            )
        if not isinstance(user[key], Mapping):
            raise SynthConfigError(f"Synth config key {key!r} must be a table.")
    options = raw["options"]
    _merge(options, user.get("options", {}), "options.")
    if not isinstance(options["packaged_cre_lines"], bool):
        raise SynthConfigError("options.packaged_cre_lines must be true or false; got "
                               f"{options['packaged_cre_lines']!r}.")
    defaults = raw["defaults"]
    _merge(defaults, user.get("defaults", {}), "defaults.")
    noise = raw["noise"]
    _merge(noise, user.get("noise", {}), "noise.")
    for key in ("running_bout_s", "still_bout_s"):
        if not _is_number(noise[key]) or noise[key] <= 0:
            raise SynthConfigError(f"noise.{key} must be a positive number (s); got {noise[key]!r}.")

    user_lines = user.get("cre_lines", {})
    for name in user_lines:
        if name not in vocab.CRE_LINES:
            raise UnknownCreLineError(name, vocab.CRE_LINES)
    lines: dict[str, dict[str, Any]] = {}
    for name in vocab.CRE_LINES:
        table = copy.deepcopy(defaults)
        if options["packaged_cre_lines"]:
            _merge(table, raw["cre_lines"].get(name, {}), f"cre_lines.{name}.")
        _merge(table, user_lines.get(name, {}), f"cre_lines.{name}.")
        _check_line(name, table)
        lines[name] = table

    user_areas = user.get("areas", {})
    for name in user_areas:
        if name not in vocab.AREAS:
            raise UnknownAreaError(name, vocab.AREAS)
    areas: dict[str, dict[str, Any]] = {}
    for name in vocab.AREAS:
        table = raw["areas"][name]  # the packaged defaults list every area and every key
        _merge(table, user_areas.get(name, {}), f"areas.{name}.")
        _check_modifiers(f"areas.{name}", table)
        for key in ("pref_tf_weights", "pref_sf_weights"):
            table[key] = normalize_weights(table[key], f"areas.{name}.{key}")
        areas[name] = table

    depths = raw["depths"]
    _merge(depths, user.get("depths", {}), "depths.")
    edges = depths["edges"]
    if (not isinstance(edges, (list, tuple)) or len(edges) != 2
            or not all(_is_number(e) for e in edges) or not 0 < edges[0] < edges[1]):
        raise SynthConfigError(
            f"depths.edges must be two increasing positive depths (µm); got {edges!r}.")
    for name in DEPTH_BINS:
        _check_modifiers(f"depths.{name}", depths[name])
    return {"options": options, "noise": noise, "cre_lines": lines, "areas": areas,
            "depths": depths}


def _is_number(v: Any) -> bool:
    return isinstance(v, numbers.Real) and not isinstance(v, bool) and math.isfinite(v)


def normalize_weights(weights: Any, where: str = "weights") -> list[float]:
    """Validate a preferred-frequency distribution and return it normalized to sum to 1.

    ``weights`` must be 5 finite non-negative numbers, not all zero; ``where`` names the
    config key in the :class:`SynthConfigError` otherwise.

    >>> normalize_weights([1, 1, 2, 0, 0])
    [0.25, 0.25, 0.5, 0.0, 0.0]
    """
    if not isinstance(weights, (list, tuple)) or len(weights) != N_WEIGHTS:
        raise SynthConfigError(f"{where} must be a list of {N_WEIGHTS} weights; got {weights!r}.")
    if not all(_is_number(w) for w in weights) or any(w < 0 for w in weights):
        raise SynthConfigError(
            f"{where} weights must be finite non-negative numbers; got {list(weights)!r}.")
    total = math.fsum(weights)
    if total <= 0:
        raise SynthConfigError(f"{where} weights must not all be zero; got {list(weights)!r}.")
    return [float(w) / total for w in weights]


def depth_bin(cfg: Mapping[str, Any], depth: float) -> str:
    """Name of the depth bin (``superficial``, ``mid`` or ``deep``) of an imaging depth (µm).

    >>> depth_bin(load_config(), 175), depth_bin(load_config(), 275), depth_bin(load_config(), 550)
    ('superficial', 'mid', 'deep')
    """
    if not _is_number(depth) or depth < 0:
        raise ValueError(f"imaging depth must be a non-negative number (µm); got {depth!r}")
    lo, hi = cfg["depths"]["edges"]
    return "superficial" if depth < lo else "mid" if depth < hi else "deep"


def resolve_cell_params(cfg: Mapping[str, Any], cre_line: str, area: str, depth: float
                        ) -> dict[str, Any]:
    """Effective ground-truth parameters of the cells of one Cre line, area and imaging depth.

    Starts from ``cfg["cre_lines"][cre_line]`` (as returned by :func:`load_config`) and applies
    the area's and the depth bin's modifiers:

    - ``frac_responsive[s] = clip(line[s] * area_scale[s] * depth_scale[s], 0, 1)``
    - ``rf_probability = clip(line * area_scale * depth_scale, 0, 1)``
    - ``amplitude`` and ``noise_sd`` (lognormal median, sigma): median × area × depth scale
      (``noise_sd`` comes from ``cfg["noise"]``)
    - ``pref_tf_weights = normalize(area_weights * line_weights)`` (elementwise product of
      the area's and the Cre line's TF weights, renormalized to sum to 1): the Cre line's
      weights reshape the area's distribution, so both apply; uniform line weights (the
      default) give exactly the area's. A product that is zero everywhere (the two put
      weight on different TFs only) raises :class:`SynthConfigError`.
    - ``pref_sf_weights``: the area's, normalized to sum to 1.

    The result also holds every other key of the Cre-line table, plus ``area``, ``depth``
    and ``depth_bin``.

    Examples
    --------
    >>> cfg = load_config({"areas": {"VISl": {"rf_probability_scale": 0.5}},
    ...                    "depths": {"superficial": {"rf_probability_scale": 1.0}}})
    >>> resolve_cell_params(cfg, "Cux2-CreERT2", "VISl", 175)["rf_probability"]
    0.325
    >>> cfg = load_config({"cre_lines": {"Scnn1a-Tg3-Cre": {"pref_tf_weights": [0, 0, 0, 1, 1]}}})
    >>> cfg["areas"]["VISp"]["pref_tf_weights"]
    [0.25, 0.25, 0.2, 0.2, 0.1]
    >>> [round(w, 4) for w in resolve_cell_params(cfg, "Scnn1a-Tg3-Cre", "VISp", 350)["pref_tf_weights"]]
    [0.0, 0.0, 0.0, 0.6667, 0.3333]
    """
    if cre_line not in cfg["cre_lines"]:
        raise UnknownCreLineError(cre_line, vocab.CRE_LINES)
    if area not in cfg["areas"]:
        raise UnknownAreaError(area, vocab.AREAS)
    bin_ = depth_bin(cfg, depth)
    line = cfg["cre_lines"][cre_line]
    a = cfg["areas"][area]
    d = cfg["depths"][bin_]
    out = copy.deepcopy(dict(line))
    out["frac_responsive"] = {
        s: _clip01(float(line["frac_responsive"][s]) * float(a["frac_responsive_scale"][s])
                   * float(d["frac_responsive_scale"][s]))
        for s in STIMULI
    }
    out["rf_probability"] = _clip01(float(line["rf_probability"]) * float(a["rf_probability_scale"])
                                    * float(d["rf_probability_scale"]))
    amp = line["amplitude"]
    out["amplitude"] = [float(amp[0]) * float(a["amplitude_scale"]) * float(d["amplitude_scale"]),
                        float(amp[1])]
    nsd = cfg["noise"]["noise_sd"]
    out["noise_sd"] = [float(nsd[0]) * float(a["noise_sd_scale"]) * float(d["noise_sd_scale"]),
                       float(nsd[1])]
    out["pref_tf_weights"] = combine_weights(
        a["pref_tf_weights"], line["pref_tf_weights"],
        f"areas.{area}.pref_tf_weights × cre_lines.{cre_line}.pref_tf_weights")
    out["pref_sf_weights"] = normalize_weights(a["pref_sf_weights"], f"areas.{area}.pref_sf_weights")
    out["area"] = area
    out["depth"] = depth
    out["depth_bin"] = bin_
    return out


def combine_weights(area_weights: Any, line_weights: Any, where: str = "weights") -> list[float]:
    """Elementwise product of two preferred-frequency distributions, renormalized.

    ``line_weights`` is scaled so that its largest weight is 1 before the product, so uniform
    line weights return exactly ``normalize_weights(area_weights)``.

    >>> combine_weights([0.25, 0.25, 0.2, 0.2, 0.1], [0, 0, 0, 1, 1])
    [0.0, 0.0, 0.0, 0.6666666666666666, 0.3333333333333333]
    >>> combine_weights([0.25, 0.25, 0.2, 0.2, 0.1], [1, 1, 1, 1, 1])
    [0.25, 0.25, 0.2, 0.2, 0.1]
    """
    normalize_weights(area_weights, where)  # validates
    a = [float(x) for x in area_weights]
    w = normalize_weights(line_weights, where)
    top = max(w)
    prod = [x * (y / top) for x, y in zip(a, w, strict=True)]
    if math.fsum(prod) <= 0:
        raise SynthConfigError(
            f"{where}: the two distributions share no frequency with a non-zero weight "
            f"({a!r} × {w!r}); no cell could be given a preferred frequency.")
    return normalize_weights(prod, where)


def _clip01(x: float) -> float:
    return min(1.0, max(0.0, x))


def _check_modifiers(where: str, t: dict[str, Any]) -> None:
    fr = t["frac_responsive_scale"]
    for s in STIMULI:
        if not _is_number(fr[s]) or fr[s] < 0:
            raise SynthConfigError(
                f"{where}.frac_responsive_scale.{s} must be a non-negative number; got {fr[s]!r}.")
    for key in MODIFIER_SCALES:
        if not _is_number(t[key]) or t[key] < 0:
            raise SynthConfigError(f"{where}.{key} must be a non-negative number; got {t[key]!r}.")


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
    t["pref_tf_weights"] = normalize_weights(t["pref_tf_weights"], f"{where}.pref_tf_weights")
