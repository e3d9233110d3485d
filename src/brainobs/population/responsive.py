"""Which cells respond to which stimulus, by a named rule, and their functional classes.

Rules (``rule=``)
-----------------
``"p"`` — the tutorial's rule
    drifting gratings ``p_dg < 0.05``, static gratings ``p_sg < 0.05``, natural scenes
    ``p_ns < 0.05`` (the published ANOVA across conditions), locally sparse noise
    ``rf_chi2_lsn < 0.05`` (the published receptive-field chi-square p-value).
``"trials"`` — an analogue of de Vries et al. 2020
    The survey calls a cell responsive when more than 25 % of the trials of its preferred
    condition respond, judged on L0 calcium events, which the NWB files do not hold. The
    analogue on dF/F counts preferred-condition trials whose own per-sweep p-value (the
    published sweep ANOVA) is < 0.05: ``frac_sig_trials_dg > 0.25`` (and ``_sg``, ``_ns``).
    Sparse noise uses the ``"p"`` rule (there is no per-trial analogue). The per-sweep
    ANOVA is anti-conservative on unresponsive cells (10–18 % of their trials come out
    significant on the synthetic data), so with few trials per condition (~6) this rule
    admits a quarter of unresponsive cells; with ~12 or more it admits about 1 %.
``"given"``
    The table's own ``responsive_dg`` ... columns, e.g. the survey's event-based
    ``responsive_dg`` of the SWDB-2019 table.
``"auto"`` (default)
    ``"given"`` for each stimulus whose ``responsive_*`` column the table already has,
    else ``"p"``.

Natural movies have no published p-value: under every rule a cell responds to them when
its best movie reliability (``reliability_nm1_a/_b/_c``, ``_nm2``, ``_nm3``; mean Pearson
r between repeats) is at least ``nm_threshold`` (0.25 by default; on the synthetic
observatory movie-responsive cells average 0.63 and the others 0.00).

A cell whose deciding value is missing (metric not computed, NaN) gets a missing
responsiveness (``pd.NA``), never ``False``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from brainobs.errors import UnknownValueError

FAMILIES: tuple[str, ...] = ("dg", "sg", "ns", "nm", "lsn")
FAMILY_NAMES: dict[str, str] = {
    "dg": "drifting gratings", "sg": "static gratings", "ns": "natural scenes",
    "nm": "natural movies", "lsn": "locally sparse noise",
}
CLASS_LABELS: dict[str, str] = {"dg": "DG", "sg": "SG", "ns": "NS", "nm": "NM", "lsn": "LSN"}
RULES: tuple[str, ...] = ("auto", "p", "trials", "given")
NM_COLUMNS: tuple[str, ...] = ("reliability_nm1_a", "reliability_nm1_b", "reliability_nm1_c",
                               "reliability_nm1", "reliability_nm2", "reliability_nm3")
NONE_CLASS = "none"


def _check(rule: str, families: Sequence[str]) -> list[str]:
    if rule not in RULES:
        raise UnknownValueError(rule, RULES, kind="responsiveness rule")
    fams = list(families)
    for f in fams:
        if f not in FAMILIES:
            raise UnknownValueError(f, FAMILIES, kind="stimulus family")
    return fams


def _threshold(table: pd.DataFrame, column: str, op: str, value: float) -> tuple[pd.Series, str]:
    if column not in table.columns:
        return pd.Series(pd.NA, index=table.index, dtype="boolean"), f"{column} {op} {value:g}"
    x = pd.to_numeric(table[column], errors="coerce").astype(float)
    hit = x < value if op == "<" else x > value if op == ">" else x >= value
    out = pd.Series(hit.to_numpy(), index=table.index, dtype="boolean")
    out[x.isna().to_numpy()] = pd.NA
    return out, f"{column} {op} {value:g}"


def rule_for(table: pd.DataFrame, family: str, rule: str = "auto", *, alpha: float = 0.05,
             trial_fraction: float = 0.25, nm_threshold: float = 0.25) -> tuple[pd.Series, str]:
    """Responsiveness of every cell to one stimulus family, and the rule's text.

    >>> t = pd.DataFrame({"p_dg": [0.01, 0.2, np.nan]})
    >>> s, text = rule_for(t, "dg", "p")
    >>> s.tolist(), text
    ([True, False, <NA>], 'p_dg < 0.05')
    """
    _check(rule, [family])
    given = f"responsive_{family}"
    if rule == "given" or (rule == "auto" and given in table.columns):
        if given not in table.columns:
            return pd.Series(pd.NA, index=table.index, dtype="boolean"), f"{given} (not in the table)"
        earlier = table.attrs.get("responsiveness_rules", {}).get(family)
        return table[given].astype("boolean"), earlier or f"{given} (given by the table)"
    if family == "nm":
        cols = [c for c in NM_COLUMNS if c in table.columns]
        text = f"max({', '.join(cols) or 'reliability_nm*'}) >= {nm_threshold:g}"
        if not cols:
            return pd.Series(pd.NA, index=table.index, dtype="boolean"), text
        best = table[cols].apply(pd.to_numeric, errors="coerce").astype(float).max(axis=1, skipna=True)
        out = pd.Series((best >= nm_threshold).to_numpy(), index=table.index, dtype="boolean")
        out[best.isna().to_numpy()] = pd.NA
        return out, text
    if family == "lsn":
        return _threshold(table, "rf_chi2_lsn", "<", alpha)
    if rule == "trials":
        return _threshold(table, f"frac_sig_trials_{family}", ">", trial_fraction)
    return _threshold(table, f"p_{family}", "<", alpha)


def add_responsiveness(table: pd.DataFrame, rule: str = "auto", *,
                       families: Sequence[str] = FAMILIES, alpha: float = 0.05,
                       trial_fraction: float = 0.25, nm_threshold: float = 0.25) -> pd.DataFrame:
    """A copy of ``table`` with ``responsive_<family>`` columns (nullable boolean) and a
    ``functional_class`` column; ``attrs["responsiveness_rules"]`` maps each family to the
    rule text used.

    >>> t = add_responsiveness(pd.DataFrame({"p_dg": [0.01, 0.3], "p_ns": [0.2, 0.01]}),
    ...                        "p", families=["dg", "ns"])
    >>> t["functional_class"].tolist()
    ['DG', 'NS']
    """
    fams = _check(rule, families)
    out = table.copy()
    rules = {}
    for f in fams:
        out[f"responsive_{f}"], rules[f] = rule_for(table, f, rule, alpha=alpha,
                                                    trial_fraction=trial_fraction,
                                                    nm_threshold=nm_threshold)
    out["functional_class"] = functional_classes(out, fams)
    out.attrs["responsiveness_rules"] = rules
    return out


def functional_classes(table: pd.DataFrame, families: Sequence[str] = FAMILIES) -> pd.Series:
    """The joint responsiveness of each cell as a class label (de Vries et al. 2020, Fig. 7).

    The label lists the families the cell responds to, in the order DG, SG, NS, NM, LSN,
    joined by "+" ("DG+NS"); "none" when it responds to none of them. It is missing when
    any of the families is unknown for that cell (a metric not computed), so that a class
    is never claimed from partial information. Needs ``responsive_<family>`` columns
    (:func:`add_responsiveness`).

    >>> t = pd.DataFrame({"responsive_dg": [True, False, None], "responsive_ns": [True, False, True]})
    >>> functional_classes(t, ["dg", "ns"]).tolist()
    ['DG+NS', 'none', <NA>]
    """
    fams = _check("auto", families)
    cols = [f"responsive_{f}" for f in fams]
    missing = [c for c in cols if c not in table.columns]
    if missing:
        raise UnknownValueError(missing[0], table.columns, kind="responsiveness column")
    flags = table[cols].astype("boolean")
    known = flags.notna().all(axis=1).to_numpy()
    values = flags.fillna(False).to_numpy(dtype=bool)
    labels = np.array([CLASS_LABELS[f] for f in fams], dtype=object)
    out = np.full(len(table), None, dtype=object)
    for i in np.flatnonzero(known):
        hit = labels[values[i]]
        out[i] = "+".join(hit) if hit.size else NONE_CLASS
    return pd.Series(out, index=table.index, dtype="string", name="functional_class")


def class_composition(table: pd.DataFrame, by: Any = "cre_line", *,
                      families: Sequence[str] = FAMILIES, min_fraction: float = 0.0
                      ) -> pd.DataFrame:
    """Fraction of each functional class per group (rows sum to 1 over cells with a class).

    Returns a tidy DataFrame: group columns, ``functional_class``, ``n_cells`` (cells of
    that class), ``n_classified`` (cells of the group with a known class), ``fraction``.
    Classes below ``min_fraction`` in every group are pooled into "other".

    >>> t = pd.DataFrame({"cre_line": ["a", "a", "b"], "functional_class": ["DG", "none", "none"]})
    >>> class_composition(t)[["cre_line", "functional_class", "fraction"]].values.tolist()
    [['a', 'DG', 0.5], ['a', 'none', 0.5], ['b', 'none', 1.0]]
    """
    keys = [by] if isinstance(by, str) else list(by)
    for k in keys + ["functional_class"]:
        if k not in table.columns:
            raise UnknownValueError(k, table.columns, kind="column")
    known = table[table["functional_class"].notna()]
    counts = known.groupby(keys + ["functional_class"], observed=True).size().rename("n_cells")
    totals = known.groupby(keys, observed=True).size().rename("n_classified")
    out = counts.reset_index().merge(totals.reset_index(), on=keys)
    out["fraction"] = out["n_cells"] / out["n_classified"]
    if min_fraction > 0:
        best = out.groupby("functional_class")["fraction"].max()
        small = best.index[best < min_fraction]
        out.loc[out["functional_class"].isin(small), "functional_class"] = "other"
        out = out.groupby(keys + ["functional_class", "n_classified"], as_index=False)[
            ["n_cells", "fraction"]].sum()
        out = out[keys + ["functional_class", "n_cells", "n_classified", "fraction"]]
    out["functional_class"] = out["functional_class"].astype(object)
    return out.sort_values(keys + ["functional_class"]).reset_index(drop=True)


def family_of(column: str) -> str | None:
    """The stimulus family a metric column belongs to ("g_osi_dg" → "dg"), or None.

    >>> family_of("g_osi_dg"), family_of("reliability_nm1_a"), family_of("rf_area_on_lsn"), family_of("imaging_depth")
    ('dg', 'nm', 'lsn', None)
    """
    import re

    if column.startswith("reliability_nm"):
        return "nm"
    m = re.search(r"_(dg|sg|ns|lsn)(?:_|$)", column)
    return m.group(1) if m else None


__all__ = ["CLASS_LABELS", "FAMILIES", "FAMILY_NAMES", "NONE_CLASS", "RULES", "add_responsiveness",
           "class_composition", "family_of", "functional_classes", "rule_for"]
