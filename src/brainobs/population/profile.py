"""Role profiles: what one Cre line (in one area) does, compared with the other cells.

:func:`role_profile` compares a group of cells — a Cre line, optionally in one area —
with a reference (the other Cre lines of that area, or every other cell) on a fixed set of
features: the fraction responsive to each stimulus, and selectivity, preference, reliability
and running-modulation metrics of the responsive cells. Each feature gets both values with
intervals, a two-sided test (Fisher exact for fractions, Mann–Whitney U otherwise) and an
effect size, and the profile's p-values are Holm-corrected together. The plain sentences are
generated from that table, and a difference is stated only when its corrected test found it;
the rest is said to show no detectable difference.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from brainobs import stats
from brainobs.errors import UnknownValueError
from brainobs.population.compare import ComparisonError, compare
from brainobs.population.responsive import add_responsiveness

# (feature name, column or expression, words, unit kind)
FEATURES: tuple[tuple[str, str, str], ...] = (
    ("responsive_dg", "respond to drifting gratings", "fraction"),
    ("responsive_sg", "respond to static gratings", "fraction"),
    ("responsive_ns", "respond to natural scenes", "fraction"),
    ("responsive_nm", "respond reliably to natural movies", "fraction"),
    ("responsive_lsn", "have a receptive field (sparse noise)", "fraction"),
    ("g_osi_dg", "orientation selectivity (gOSI, gratings)", "median"),
    ("g_dsi_dg", "direction selectivity (gDSI)", "median"),
    ("pref_tf_dg", "preferred temporal frequency (Hz)", "median"),
    ("g_osi_sg", "orientation selectivity (gOSI, static gratings)", "median"),
    ("pref_sf_sg", "preferred spatial frequency (cycles/°)", "median"),
    ("image_sel_ns", "image selectivity", "median"),
    ("reliability_ns", "trial-to-trial reliability to natural scenes", "median"),
    ("run_mod_dg", "running modulation (gratings)", "median"),
    ("rf_area_on_lsn", "ON receptive-field area (deg²)", "median"),
)
_ROLE = "__role__"
_THIS, _OTHERS = "this", "others"


@dataclass
class RoleProfile:
    """The result of :func:`role_profile`.

    Attributes
    ----------
    cre_line, area : str or None
    reference : str
        What the group is compared with, in words.
    table : DataFrame
        One row per feature: ``feature, description, kind, value, ci_low, ci_high,
        reference_value, reference_ci_low, reference_ci_high, n, n_reference, test, p,
        p_holm, effect, effect_value, effect_ci_low, effect_ci_high, significant, direction``
        (and ``mean``, ``reference_mean`` for continuous features)
        (``"higher"``, ``"lower"`` or ``"no detectable difference"``).
    sentences : list of str
        Plain sentences generated from ``table``.
    coverage : dict
        Cells, containers and mice of the group and the reference; features left out and why.
    """

    cre_line: str
    area: str | None
    reference: str
    table: pd.DataFrame
    sentences: list[str]
    coverage: dict[str, Any] = field(default_factory=dict)
    alpha: float = 0.05

    @property
    def title(self) -> str:
        return f"{self.cre_line}{', ' + self.area if self.area else ''}"

    def claims(self) -> pd.DataFrame:
        """The table rows that a sentence states as a difference (significant ones)."""
        return self.table[self.table["significant"]]

    def __repr__(self) -> str:
        return f"RoleProfile({self.title}: " + " ".join(self.sentences) + ")"

    def _repr_html_(self) -> str:
        body = "".join(f"<p>{s}</p>" for s in self.sentences)
        return f"<h4>{self.title}</h4>{body}" + self.table.to_html(
            index=False, float_format=lambda v: f"{v:.3g}")


def _fmt(value: float, kind: str) -> str:
    if not np.isfinite(value):
        return "n/a"
    return f"{100 * value:.0f} %" if kind == "fraction" else f"{value:.3g}"


def _p(p: float) -> str:
    return f"p = {p:.2g}" if p >= 1e-4 else "p < 0.0001"


def role_profile(
    table: pd.DataFrame,
    cre_line: str,
    area: str | None = None,
    *,
    rule: str = "auto",
    alpha: float = 0.05,
    n_boot: int = 1000,
    seed: int | None = 0,
    min_cells: int = 5,
) -> RoleProfile:
    """Profile one Cre line (optionally in one area) against the other cells.

    Parameters
    ----------
    table : DataFrame
        Pooled cell table (:func:`~brainobs.population.cell_table`, :func:`~brainobs.population.from_table`).
    cre_line : str
        Full name ("Sst-IRES-Cre"); must occur in ``table``.
    area : str, optional
        Restrict both sides to this area; the reference is then the other Cre lines of
        that area. Without it the reference is every other Cre line.
    rule : str
        Responsiveness rule (see :mod:`brainobs.population.responsive`).
    alpha : float
        Family-wise error rate over the profile's tests (Holm).
    n_boot, seed
        Bootstrap of the intervals (hierarchical when containers are known).
    min_cells : int
        A feature needs at least this many cells on each side, else it is left out.

    Returns
    -------
    RoleProfile

    Examples
    --------
    >>> prof = role_profile(from_table(pd.read_csv("swdb_dg_table.csv")), "Sst-IRES-Cre")  # doctest: +SKIP
    >>> prof.sentences[0]                                                                    # doctest: +SKIP
    'Sst-IRES-Cre: 86 % respond to drifting gratings (all other Cre lines: 49 %; ...).'
    """
    for col in ("cre_line",) + (("area",) if area else ()):
        if col not in table.columns or table[col].isna().all():
            raise ComparisonError(f"the table has no {col!r} values; a role profile needs them")
    if cre_line not in set(table["cre_line"].dropna()):
        raise UnknownValueError(cre_line, table["cre_line"].dropna().unique(), kind="Cre line")
    scope = table
    if area is not None:
        if area not in set(table["area"].dropna()):
            raise UnknownValueError(area, table["area"].dropna().unique(), kind="area")
        scope = table[table["area"] == area]
    flagged = add_responsiveness(scope, rule)
    flagged = flagged[flagged["cre_line"].notna()].copy()
    flagged[_ROLE] = np.where(flagged["cre_line"] == cre_line, _THIS, _OTHERS)
    reference = (f"other Cre lines in {area}" if area else "all other Cre lines")
    if (flagged[_ROLE] == _OTHERS).sum() == 0:
        raise ComparisonError(f"nothing to compare {cre_line} with: no other Cre line"
                              f"{' in ' + area if area else ''} has cells in the table")

    rows, left_out = [], {}
    for feature, words, kind in FEATURES:
        if feature not in flagged.columns or flagged[feature].isna().all():
            left_out[feature] = "not in the table (metric not computed)"
            continue
        try:
            res = compare(flagged, feature, _ROLE, rule=rule, n_boot=n_boot, seed=seed,
                          alpha=alpha, min_cells=min_cells)
        except ComparisonError as exc:
            left_out[feature] = str(exc).split(";")[0]
            continue
        g = res.groups.set_index("group")
        if _THIS not in g.index or _OTHERS not in g.index or res.pairwise.empty:
            left_out[feature] = f"fewer than {min_cells} cells with a value on one side"
            continue
        pw = res.pairwise.iloc[0]
        flip = pw["group_a"] != _THIS  # effect is a − b: make it "this − others"
        sign = -1.0 if flip else 1.0
        lo, hi = sign * pw["effect_ci_low"], sign * pw["effect_ci_high"]
        col = "fraction" if kind == "fraction" else "median"
        rows.append({
            "feature": feature, "description": words, "kind": kind,
            "value": g.loc[_THIS, col], "ci_low": g.loc[_THIS, "ci_low"], "ci_high": g.loc[_THIS, "ci_high"],
            "reference_value": g.loc[_OTHERS, col], "reference_ci_low": g.loc[_OTHERS, "ci_low"],
            "reference_ci_high": g.loc[_OTHERS, "ci_high"],
            "mean": g.loc[_THIS, "mean"] if kind != "fraction" else np.nan,
            "reference_mean": g.loc[_OTHERS, "mean"] if kind != "fraction" else np.nan,
            "n": int(g.loc[_THIS, "n_cells"]), "n_reference": int(g.loc[_OTHERS, "n_cells"]),
            "population": res.population, "test": pw["test"], "p": pw["p"],
            "effect": pw["effect"].replace("(a − b)", "(group − reference)").replace("(a vs b)", "(group vs reference)"),
            "effect_value": sign * pw["effect_value"],
            "effect_ci_low": min(lo, hi), "effect_ci_high": max(lo, hi),
        })
    if not rows:
        raise ComparisonError(f"no feature could be compared for {cre_line}: {left_out}")
    out = pd.DataFrame(rows)
    out["p_holm"] = stats.holm(out["p"].to_numpy(dtype=float))
    out["significant"] = (out["p_holm"] < alpha).to_numpy(dtype=bool)
    out["direction"] = np.where(~out["significant"], "no detectable difference",
                                np.where(out["effect_value"] > 0, "higher", "lower"))
    cols = ["feature", "description", "kind", "value", "ci_low", "ci_high", "reference_value",
            "reference_ci_low", "reference_ci_high", "mean", "reference_mean", "n", "n_reference", "population", "test", "p",
            "p_holm", "effect", "effect_value", "effect_ci_low", "effect_ci_high", "significant",
            "direction"]
    out = out[cols]
    this = flagged[flagged[_ROLE] == _THIS]
    others = flagged[flagged[_ROLE] == _OTHERS]

    def counts(df: pd.DataFrame) -> dict[str, Any]:
        c = df["experiment_container_id"].dropna() if "experiment_container_id" in df else pd.Series([])
        m = df["specimen_id"].dropna() if "specimen_id" in df else pd.Series([])
        return {"n_cells": len(df), "n_containers": int(c.nunique()) if len(c) else None,
                "n_mice": int(m.nunique()) if len(m) else None}

    coverage = {"group": counts(this), "reference": counts(others), "left_out": left_out,
                "rules": flagged.attrs.get("responsiveness_rules", {})}
    title = f"{cre_line}{' in ' + area if area else ''}"
    prof = RoleProfile(cre_line, area, reference, out, [], coverage, alpha)
    prof.sentences = _sentences(title, reference, out, alpha)
    return prof


def _sentences(title: str, reference: str, t: pd.DataFrame, alpha: float) -> list[str]:
    """Two or three sentences; a difference is stated only where the Holm test found one."""
    out = []
    frac = t[t["kind"] == "fraction"]
    if len(frac):
        parts = []
        for _, r in frac.iterrows():
            v, ref = _fmt(r["value"], "fraction"), _fmt(r["reference_value"], "fraction")
            if r["significant"]:
                word = "more" if r["direction"] == "higher" else "fewer"
                parts.append(f"{v} {r['description']}, {word} than {reference} ({ref}, {_p(r['p_holm'])})")
            else:
                parts.append(f"{v} {r['description']} ({reference}: {ref}; no detectable "
                             f"difference, {_p(r['p_holm'])})")
        out.append(f"{title}: " + "; ".join(parts) + ".")
    med = t[(t["kind"] == "median") & t["significant"]]
    if len(med):
        parts = []
        for _, r in med.iterrows():
            word = "higher" if r["direction"] == "higher" else "lower"
            centre = (f"median {_fmt(r['value'], 'median')} vs {_fmt(r['reference_value'], 'median')}"
                      if r["value"] != r["reference_value"] else
                      f"median {_fmt(r['value'], 'median')} in both, mean {_fmt(r['mean'], 'median')} "
                      f"vs {_fmt(r['reference_mean'], 'median')}")
            parts.append(f"{word} {r['description']} ({centre}, Cliff's δ = "
                         f"{r['effect_value']:+.2f}, {_p(r['p_holm'])})")
        out.append("Among responsive cells, compared with " + reference + ": " + "; ".join(parts) + ".")
    same = t[(t["kind"] == "median") & ~t["significant"]]
    if len(same):
        out.append("No detectable difference (Holm-corrected p ≥ " + f"{alpha:g}) in "
                   + ", ".join(same["description"].tolist()) + ".")
    return out


__all__ = ["FEATURES", "RoleProfile", "role_profile"]
