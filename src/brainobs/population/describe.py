"""Many metrics at once: per-group distributions and preferred-condition distributions.

:func:`describe` summarises a list of metrics per group (n, median with its bootstrap
interval, quartiles), each over its own population (responsive cells for selectivity and
preference metrics). :func:`preference_distribution` gives, for a preferred-condition column
(direction, temporal frequency, orientation, spatial frequency, image), the share of each
value per group and a chi-square test of homogeneity — a median of directions would mean
nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from brainobs import stats
from brainobs.errors import UnknownValueError
from brainobs.population.compare import ComparisonError, compare, used_cells
from brainobs.population.responsive import family_of, rule_for

# Metrics of the cell table a population summary covers by default (those present are used).
DEFAULT_METRICS: tuple[str, ...] = (
    "dsi_dg", "dsi_dg_bounded", "g_dsi_dg", "osi_dg", "osi_dg_bounded", "g_osi_dg", "pref_tf_dg",
    "reliability_dg", "run_mod_dg", "osi_sg", "osi_sg_bounded", "g_osi_sg", "pref_sf_sg",
    "time_to_peak_sg", "reliability_sg", "image_sel_ns", "time_to_peak_ns", "reliability_ns",
    "run_mod_ns", "reliability_nm1_a", "reliability_nm2", "reliability_nm3", "rf_area_on_lsn",
    "rf_area_off_lsn",
)
PREFERENCE_COLUMNS: tuple[str, ...] = ("pref_dir_dg", "pref_tf_dg", "pref_ori_sg", "pref_sf_sg",
                                       "pref_phase_sg", "pref_image_ns")


def describe(table: pd.DataFrame, by: Any = "cre_line", metrics: Sequence[str] | None = None, *,
             rule: str = "auto", n_boot: int = 1000, seed: int | None = 0) -> pd.DataFrame:
    """One row per (group, metric): the population used, n, median with a bootstrap
    interval (hierarchical when containers are known), quartiles.

    Parameters
    ----------
    table : DataFrame
        Pooled cell table.
    by : str or list of str
    metrics : list of str, optional
        Default: the columns of :data:`DEFAULT_METRICS` the table has values for.
    rule, n_boot, seed
        As :func:`~brainobs.population.compare`.

    Returns
    -------
    DataFrame
        Columns: the group keys, ``group``, ``metric``, ``population``, ``n_cells``,
        ``n_containers``, ``median``, ``ci_low``, ``ci_high``, ``q25``, ``q75``.
        Metrics no group has values for are listed in ``attrs["left_out"]``.

    Examples
    --------
    >>> t = pd.DataFrame({"cre_line": ["a"] * 4 + ["b"] * 4, "x": np.arange(8.0)})
    >>> describe(t, "cre_line", ["x"], n_boot=50)[["group", "median", "q25", "q75"]].values.tolist()
    [['a', 1.5, 0.75, 2.25], ['b', 5.5, 4.75, 6.25]]
    """
    chosen = list(metrics) if metrics is not None else [
        m for m in DEFAULT_METRICS if m in table.columns and table[m].notna().any()]
    rows, left_out = [], {}
    for m in chosen:
        try:
            res = compare(table, m, by, rule=rule, n_boot=n_boot, seed=seed, pairwise=False, min_cells=1)
        except ComparisonError as exc:
            left_out[m] = str(exc).split(";")[0]
            continue
        cells = used_cells(res, table)
        q = cells.groupby("__group__")[m].quantile([0.25, 0.75]).unstack()
        g = res.groups.assign(metric=m, population=res.population,
                              q25=res.groups["group"].map(q[0.25]), q75=res.groups["group"].map(q[0.75]))
        rows.append(g)
    if not rows:
        raise ComparisonError(f"none of the metrics has values: {left_out}")
    keys = [by] if isinstance(by, str) else list(by)
    out = pd.concat(rows, ignore_index=True)[keys + ["group", "metric", "population", "n_cells",
                                                     "n_containers", "median", "ci_low", "ci_high",
                                                     "q25", "q75"]]
    out.attrs["left_out"] = left_out
    return out


@dataclass
class PreferenceDistribution:
    """Shares of each preferred value per group, and the chi-square test of homogeneity."""

    column: str
    population: str
    fractions: pd.DataFrame  # groups × values, rows sum to 1
    counts: pd.DataFrame     # groups × values
    test: stats.HypothesisTest


def preference_distribution(table: pd.DataFrame, column: str, by: Any = "cre_line", *,
                            responsive_only: bool = True, rule: str = "auto"
                            ) -> PreferenceDistribution:
    """Distribution of a preferred condition (e.g. ``pref_tf_dg``) per group.

    Responsive cells only by default (the preference of a cell that does not respond is
    noise). The test is scipy's chi-square test of homogeneity on the groups × values
    contingency table.

    Examples
    --------
    >>> t = pd.DataFrame({"cre_line": ["a", "a", "b", "b"], "pref_tf_dg": [1.0, 2.0, 2.0, 2.0],
    ...                   "p_dg": [0.01] * 4})
    >>> d = preference_distribution(t, "pref_tf_dg")
    >>> d.fractions.loc["a"].tolist(), d.fractions.loc["b"].tolist()
    ([0.5, 0.5], [0.0, 1.0])
    """
    from scipy.stats import chi2_contingency

    if column not in table.columns:
        raise UnknownValueError(column, table.columns, kind="preference column")
    keys = [by] if isinstance(by, str) else list(by)
    for k in keys:
        if k not in table.columns:
            raise UnknownValueError(k, table.columns, kind="grouping column")
    keep = table[column].notna() & table[keys].notna().all(axis=1)
    population = "all cells with a value"
    fam = family_of(column)
    if responsive_only and fam is not None:
        resp, text = rule_for(table, fam, rule)
        keep &= resp.fillna(False).astype(bool)
        population = f"responsive cells ({text})"
    sub = table[keep]
    label = sub[keys].astype(str).agg(" · ".join, axis=1) if len(keys) > 1 else sub[keys[0]].astype(str)
    counts = pd.crosstab(label, sub[column]).sort_index()
    counts.index.name = "group"
    fractions = counts.div(counts.sum(axis=1), axis=0)
    if counts.shape[0] >= 2 and counts.shape[1] >= 2:
        r = chi2_contingency(counts.to_numpy())
        test = stats.HypothesisTest("chi-square", float(r.statistic), float(r.dof), float(r.pvalue))
    else:
        test = stats.HypothesisTest("chi-square", np.nan, np.nan, np.nan)
    return PreferenceDistribution(column, population, fractions, counts, test)


__all__ = ["DEFAULT_METRICS", "PREFERENCE_COLUMNS", "PreferenceDistribution", "describe",
           "preference_distribution"]
