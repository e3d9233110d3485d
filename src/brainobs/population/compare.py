"""Compare a metric across groups of cells (Cre lines, areas, layers or combinations).

:func:`compare` answers "does this differ between cell types?" the way a reviewer expects:
per group the number of cells, containers and mice, a median (continuous metric) or a
fraction (boolean expression) with a confidence interval — by default a hierarchical
bootstrap (containers, then cells), since the cells of one mouse are not independent —
then an omnibus test across groups (Kruskal–Wallis or chi-square), pairwise tests
(Mann–Whitney U or Fisher exact) with Holm-corrected p-values, and effect sizes with
intervals (Cliff's δ, difference in fractions). Every result carries its coverage: which
cells were used, and which were left out and why.

Selectivity and preference metrics (``dsi_dg``, ``g_osi_dg``, ``pref_tf_dg``,
``image_sel_ns``, ...) are summarised over the cells that respond to their stimulus by
default (``responsive_only``), and the result says so; p-values, fractions and boolean
expressions use every cell with a value.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from brainobs import stats
from brainobs.catalog.filters import mask_for, parse
from brainobs.errors import BrainobsError, UnknownValueError
from brainobs.population.responsive import FAMILY_NAMES, family_of, rule_for

_OPERATOR = re.compile(r"[<>=!]|\b(in|between|is)\b", re.IGNORECASE)
_NOT_SELECTIVITY = re.compile(r"^(p_|rf_chi2_lsn|frac_sig_trials_|responsive_)")
MAX_PAIRWISE_GROUPS = 24  # 276 pairs; more is a table nobody reads
DELTA_BINS = 512


class ComparisonError(BrainobsError, ValueError):
    """A comparison that cannot be made as asked (too few groups, no values ...)."""


@dataclass
class Comparison:
    """The result of :func:`compare`.

    Attributes
    ----------
    metric : str
        The column or boolean expression compared.
    kind : {"continuous", "fraction"}
    by : list of str
        Grouping columns.
    population : str
        Which cells were summarised, in words (e.g. "cells responsive to drifting gratings
        (p_dg < 0.05)").
    groups : DataFrame
        One row per group: the group keys, ``group``, ``n_cells``, ``n_containers``,
        ``n_mice``, then ``median, ci_low, ci_high, mean`` (continuous) or
        ``n_true, fraction, ci_low, ci_high, wilson_low, wilson_high`` (fraction).
    omnibus : dict
        ``test``, ``statistic``, ``dof``, ``p`` across all groups.
    pairwise : DataFrame
        ``group_a, group_b, n_a, n_b, test, statistic, p, p_holm, effect, effect_value,
        effect_ci_low, effect_ci_high, significant`` (Holm-corrected p < alpha).
    coverage : DataFrame
        Per group: cells selected, with a value, left out (no value / not responsive /
        responsiveness unknown), used; containers with and without a value.
    notes : list of str
        What was left out and why, and how intervals were computed.
    """

    metric: str
    kind: str
    by: list[str]
    population: str
    groups: pd.DataFrame
    omnibus: dict[str, Any]
    pairwise: pd.DataFrame
    coverage: pd.DataFrame
    notes: list[str] = field(default_factory=list)
    interval_method: str = ""
    alpha: float = 0.05
    used: pd.Series = field(default_factory=lambda: pd.Series(dtype=object), repr=False)
    """The group of every cell that entered the comparison, indexed like the input table."""

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict: ``{"metric", "kind", "by", "population", "groups", "omnibus",
        "pairwise", "coverage", "notes", "interval_method"}`` (NaN → null)."""
        def records(df: pd.DataFrame) -> list[dict]:
            return json.loads(df.to_json(orient="records"))

        omni = {k: (None if isinstance(v, float) and np.isnan(v) else v)
                for k, v in self.omnibus.items()}
        return {"metric": self.metric, "kind": self.kind, "by": self.by,
                "population": self.population, "groups": records(self.groups),
                "omnibus": omni, "pairwise": records(self.pairwise),
                "coverage": records(self.coverage), "notes": list(self.notes),
                "interval_method": self.interval_method}

    def to_json(self, **kwargs: Any) -> str:
        return json.dumps(self.to_dict(), **kwargs)

    def omnibus_text(self) -> str:
        """One line: "Kruskal-Wallis H = 12.3 (dof 3), p = 0.0064"."""
        o = self.omnibus
        if o.get("p") is None or not np.isfinite(o.get("p", np.nan)):
            return f"{o.get('test', 'test')}: not computed ({o.get('reason', 'fewer than two groups')})"
        sym = "H" if o["test"].startswith("Kruskal") else "χ²"
        return f"{o['test']} {sym} = {o['statistic']:.4g} (dof {o['dof']:g}), p = {o['p']:.3g}"

    def __repr__(self) -> str:
        return (f"Comparison({self.metric!r} by {'×'.join(self.by)}: {len(self.groups)} groups, "
                f"{self.omnibus_text()})")

    def _repr_html_(self) -> str:
        head = (f"<h4>{self.metric} by {' × '.join(self.by)}</h4><p>{self.population}. "
                f"{self.omnibus_text()}. Intervals: {self.interval_method}.</p>")
        return head + self.groups.to_html(index=False, float_format=lambda v: f"{v:.4g}")


# ----------------------------------------------------------------------------- helpers

def _metric_values(table: pd.DataFrame, metric: str) -> tuple[pd.Series, str, list[str]]:
    """Values of ``metric`` (column or boolean expression), its kind and its columns."""
    if _OPERATOR.search(metric):
        clauses = [p for p in re.split(r"\s+and\s+", metric.strip(), flags=re.I) if p]
        cols = [c.column for c in parse(clauses)]
        for c in cols:
            if c not in table.columns:
                raise UnknownValueError(c, table.columns, kind="column")
        known = table[cols].notna().all(axis=1).to_numpy()
        hit = mask_for(table, clauses)
        out = pd.Series(hit, index=table.index, dtype="boolean")
        out[~known] = pd.NA
        return out, "fraction", cols
    if metric not in table.columns:
        raise UnknownValueError(metric, table.columns, kind="metric column")
    col = table[metric]
    if pd.api.types.is_bool_dtype(col) or str(col.dtype) == "boolean":
        return col.astype("boolean"), "fraction", [metric]
    values = pd.to_numeric(col, errors="coerce")
    if values.notna().sum() == 0 and col.notna().any():
        raise ComparisonError(f"column {metric!r} is not numeric ({col.dtype}); compare a numeric "
                              "metric or a boolean expression such as 'p_dg < 0.05'")
    return values.astype(float), "continuous", [metric]


def _group_labels(table: pd.DataFrame, by: list[str]) -> pd.Series:
    """One label per row ("Sst-IRES-Cre", "Sst-IRES-Cre · VISp"); None when a key is missing."""
    known = table[by].notna().all(axis=1)
    lab = table[by[0]].astype(str)
    for b in by[1:]:
        lab = lab + " · " + table[b].astype(str)
    return lab.where(known, None).astype(object)


def _ci(reps: np.ndarray, confidence: float) -> tuple[float, float]:
    a = (1 - confidence) / 2
    reps = reps[np.isfinite(reps)]
    if reps.size < 2:
        return float("nan"), float("nan")
    lo, hi = np.quantile(reps, [a, 1 - a])
    return float(lo), float(hi)


def _binned_histograms(values: dict[str, np.ndarray], weights: dict[str, np.ndarray]
                       ) -> tuple[dict[str, np.ndarray], bool]:
    """Per group, the resampling weight falling in each bin of the pooled values: bins are the
    distinct pooled values when there are at most DELTA_BINS, else pooled quantile bins."""
    pooled = np.concatenate(list(values.values()))
    uniq = np.unique(pooled)
    exact = uniq.size <= DELTA_BINS
    edges = uniq if exact else np.unique(np.quantile(pooled, np.linspace(0, 1, DELTA_BINS + 1)))
    n_bins = edges.size if exact else edges.size - 1
    out = {}
    for g, v in values.items():
        idx = np.searchsorted(edges, v, side="left") if exact else \
            np.clip(np.searchsorted(edges, v, side="right") - 1, 0, n_bins - 1)
        presorted = idx.size < 2 or bool(np.all(idx[1:] >= idx[:-1]))
        order = np.arange(idx.size) if presorted else np.argsort(idx, kind="stable")
        sidx = idx[order]
        starts = np.flatnonzero(np.r_[True, sidx[1:] != sidx[:-1]])
        w = weights[g] if presorted else weights[g][:, order]
        hist = np.zeros((w.shape[0], n_bins), dtype=np.float64)
        hist[:, sidx[starts]] = np.add.reduceat(w, starts, axis=1, dtype=np.float64)
        out[g] = hist
    return out, exact


def _rank_sums(hist: np.ndarray) -> np.ndarray:
    """For each bin q: (weight below q) + (weight up to and including q), per replicate; with
    it δ(a, b) = Σ_q h_a[q]·S_b[q] / (T_a·T_b) − 1, since below − above = S − T."""
    cum = np.cumsum(hist, axis=1)
    return np.concatenate([np.zeros((hist.shape[0], 1)), cum[:, :-1]], axis=1) + cum


def _delta_from_hist(ha: np.ndarray, sb: np.ndarray, tb: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.einsum("ij,ij->i", ha, sb) / (ha.sum(axis=1) * tb) - 1.0


# ----------------------------------------------------------------------------- compare

def compare(
    table: pd.DataFrame,
    metric: str,
    by: Any = "cre_line",
    *,
    responsive_only: bool | None = None,
    rule: str = "auto",
    hierarchical: bool | None = None,
    n_boot: int = 1000,
    confidence: float = 0.95,
    alpha: float = 0.05,
    seed: int | None = 0,
    pairwise: bool | None = None,
    min_cells: int = 2,
) -> Comparison:
    """Compare ``metric`` across the groups of ``by``.

    Parameters
    ----------
    table : DataFrame
        A pooled cell table (:func:`brainobs.population.cell_table` or
        :func:`~brainobs.population.from_table`).
    metric : str
        A numeric column (``"g_osi_dg"``) → medians, Kruskal–Wallis, Mann–Whitney, Cliff's δ;
        or a boolean column / expression (``"p_dg < 0.05"``, ``"p_dg < 0.05 and dsi_dg > 0.5"``,
        ``"responsive_dg"``) → fractions, chi-square, Fisher exact, difference in fractions.
        A cell whose value (or any column of the expression) is missing is left out, never
        counted as False.
    by : str or list of str
        Grouping columns, e.g. ``"cre_line"``, ``["cre_line", "area"]``, ``"layer"``.
    responsive_only : bool, optional
        Keep only cells responsive to the metric's stimulus (:mod:`~brainobs.population.responsive`,
        ``rule=``). Default: True for selectivity / preference metrics of a stimulus family,
        False for p-values, fractions and boolean expressions.
    rule : str
        Responsiveness rule (``"auto"``, ``"p"``, ``"trials"``, ``"given"``).
    hierarchical : bool, optional
        Resample containers, then cells, for the intervals (default: when the table knows
        every cell's container); False resamples cells.
    n_boot, confidence, seed
        Bootstrap replicates, interval level, random seed.
    alpha : float
        Family-wise error rate of the Holm-corrected pairwise tests (``significant``).
    pairwise : bool, optional
        Pairwise tests between every two groups (default: when there are at most
        24 groups).
    min_cells : int
        Groups with fewer usable cells are reported in ``coverage`` and left out of the tests.

    Returns
    -------
    Comparison

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> t = pd.DataFrame({"cre_line": np.repeat(["A", "B"], 60),
    ...                   "experiment_container_id": np.repeat(np.arange(12), 10),
    ...                   "x": np.r_[rng.normal(0, 1, 60), rng.normal(2, 1, 60)]})
    >>> res = compare(t, "x", "cre_line", n_boot=200)
    >>> res.groups["group"].tolist(), bool(res.omnibus["p"] < 1e-6)
    (['A', 'B'], True)
    >>> float(res.pairwise["effect_value"].iloc[0]) < -0.7    # A is lower than B
    True
    """
    if not isinstance(table, pd.DataFrame):
        raise TypeError(f"table must be a pandas DataFrame; got {type(table).__name__}")
    keys = [by] if isinstance(by, str) else list(by)
    if not keys:
        raise ValueError("by must name at least one column, e.g. 'cre_line'")
    for k in keys:
        if k not in table.columns:
            raise UnknownValueError(k, table.columns, kind="grouping column")
        if table[k].isna().all():
            raise ComparisonError(f"the table has no values in {k!r}; it cannot be grouped by it "
                                  "(an external table without that column? map one with column_map)")
    if n_boot < 1 or not 0 < confidence < 1 or not 0 < alpha < 1:
        raise ValueError(f"need n_boot >= 1, 0 < confidence < 1, 0 < alpha < 1; got {n_boot}, "
                         f"{confidence}, {alpha}")

    values, kind, cols = _metric_values(table, metric)
    fams = {family_of(c) for c in cols}
    family = fams.pop() if len(fams) == 1 else None
    if responsive_only is None:
        responsive_only = bool(kind == "continuous" and family is not None
                               and not _NOT_SELECTIVITY.match(metric))
    notes: list[str] = []
    population = "all cells with a value"
    responsive = pd.Series(True, index=table.index, dtype="boolean")
    if responsive_only:
        if family is None:
            raise ComparisonError(f"{metric!r} belongs to no stimulus family, so there is no "
                                  "responsiveness to select on; pass responsive_only=False")
        responsive, rule_text = rule_for(table, family, rule)
        population = f"cells responsive to {FAMILY_NAMES[family]} ({rule_text})"

    labels = _group_labels(table, keys)
    has_value = values.notna().to_numpy()
    resp_known = responsive.notna().to_numpy()
    resp_true = responsive.fillna(False).to_numpy(dtype=bool)
    use = has_value & resp_known & resp_true & labels.notna().to_numpy()

    cont = table["experiment_container_id"] if "experiment_container_id" in table.columns else None
    cont_known = cont is not None and bool(cont[use].notna().all()) and use.any()
    if hierarchical is None:
        hierarchical = cont_known
    elif hierarchical and not cont_known:
        raise ComparisonError("hierarchical intervals need every cell's experiment_container_id; "
                              "the table lacks it (pass hierarchical=False)")
    method = ("hierarchical bootstrap (containers, then cells)" if hierarchical
              else "bootstrap (cells)")
    if not hierarchical:
        notes.append("Intervals resample cells as if independent: the table has no container "
                     "column, so cells of one mouse cannot be resampled together.")
    mice = table["specimen_id"] if "specimen_id" in table.columns else None

    rng = np.random.default_rng(seed)
    group_rows, cov_rows = [], []
    vals_by: dict[str, np.ndarray] = {}
    w_by: dict[str, np.ndarray] = {}
    reps_by: dict[str, np.ndarray] = {}
    key_frame = table[keys].copy()
    codes, uniques = pd.factorize(labels, sort=False)  # one pass, not one comparison per group
    for gi in sorted(range(len(uniques)), key=lambda i: str(uniques[i])):
        g = uniques[gi]
        in_g = codes == gi
        sel, u = in_g, in_g & use
        first = np.flatnonzero(in_g)[0]
        cov = {"group": g, **{k: key_frame[k].iloc[first] for k in keys},
               "n_selected": int(sel.sum()), "n_with_value": int((sel & has_value).sum()),
               "n_no_value": int((sel & ~has_value).sum()),
               "n_not_responsive": int((sel & has_value & resp_known & ~resp_true).sum()),
               "n_responsiveness_unknown": int((sel & has_value & ~resp_known).sum()),
               "n_used": int(u.sum())}
        if cont is not None:
            cg = cont[sel]
            with_v = set(cont[sel & has_value].dropna().tolist())
            cov["n_containers"] = int(cg.nunique())
            cov["n_containers_without_value"] = int(len(set(cg.dropna().tolist()) - with_v))
        cov_rows.append(cov)
        if u.sum() < min_cells:
            continue
        # sorted by value: the weighted medians and histograms then need no reordering copy
        v = values[u].to_numpy(dtype=float)
        order = np.argsort(v, kind="stable")
        v = v[order]
        cl = cont[u].to_numpy()[order] if hierarchical and cont is not None else None
        if kind == "fraction":  # binomial per container: no per-cell weights needed
            w = np.empty((0, 0), dtype=np.float32)
            reps = stats.bootstrap_fractions(v, cl, n_boot, rng)
        else:
            w = stats.bootstrap_weights(v.size, cl, n_boot, rng)
            reps = stats.weighted_statistic(v, w, "median")
        lo, hi = _ci(reps, confidence)
        row: dict[str, Any] = {**{k: key_frame[k].iloc[first] for k in keys}, "group": g,
                               "n_cells": int(u.sum()),
                               "n_containers": int(cont[u].nunique()) if cont is not None and cont[u].notna().any() else np.nan,
                               "n_mice": int(mice[u].nunique()) if mice is not None and mice[u].notna().any() else np.nan}
        if kind == "fraction":
            k_true = int(v.sum())
            wl, wh = stats.wilson_interval(k_true, v.size, alpha=1 - confidence)
            row.update(n_true=k_true, fraction=k_true / v.size, ci_low=lo, ci_high=hi,
                       wilson_low=float(wl), wilson_high=float(wh))
        else:
            row.update(median=float(np.median(v)), ci_low=lo, ci_high=hi, mean=float(np.mean(v)))
        group_rows.append(row)
        vals_by[g], w_by[g], reps_by[g] = v, w, reps

    coverage = pd.DataFrame(cov_rows)
    groups = pd.DataFrame(group_rows)
    small = [r["group"] for r in cov_rows if r["n_used"] < min_cells]
    if small:
        notes.append(f"Left out (fewer than {min_cells} usable cells): " + ", ".join(map(str, small)) + ".")
    if not coverage.empty and int(coverage["n_no_value"].sum()):
        missing = coverage[coverage["n_no_value"] > 0]
        notes.append(f"{int(missing['n_no_value'].sum())} cells have no {metric} value "
                     f"({', '.join(map(str, missing['group'].tolist()[:6]))}"
                     f"{' …' if len(missing) > 6 else ''}); metrics not computed can be filled with "
                     "`brainobs analyze --missing`.")
    if responsive_only and not coverage.empty:
        notes.append(f"Summarised over {population}: {int(coverage['n_not_responsive'].sum())} "
                     f"non-responsive and {int(coverage['n_responsiveness_unknown'].sum())} "
                     "cells of unknown responsiveness left out (responsive_only=False keeps them).")
    if hierarchical and not groups.empty:
        single = groups.loc[groups["n_containers"] == 1, "group"].tolist()
        if single:
            notes.append(f"{len(single)} group(s) come from a single container ({', '.join(map(str, single[:6]))}"
                         f"{' …' if len(single) > 6 else ''}): their intervals show cell-to-cell "
                         "variation only, not mouse-to-mouse variation.")
    if groups.empty:
        raise ComparisonError(f"no group has {min_cells} or more cells with a value of {metric!r} "
                              f"({population}); coverage: {coverage.to_dict('records')}")

    # omnibus
    names = groups["group"].tolist()
    if kind == "fraction":
        res = stats.chi_square(groups["n_true"], groups["n_cells"])
    else:
        res = stats.kruskal([vals_by[g] for g in names])
    omnibus: dict[str, Any] = {"test": res.test, "statistic": res.statistic, "dof": res.dof,
                               "p": res.p, "n_groups": len(names)}
    if len(names) < 2:
        omnibus["reason"] = "only one group has values"

    # pairwise
    do_pairs = len(names) <= MAX_PAIRWISE_GROUPS if pairwise is None else pairwise
    rows = []
    if do_pairs and len(names) >= 2:
        hists, exact = ({}, True) if kind == "fraction" else _binned_histograms(vals_by, w_by)
        sums = {g: _rank_sums(h) for g, h in hists.items()}
        tots = {g: h.sum(axis=1) for g, h in hists.items()}
        if kind != "fraction" and not exact:
            notes.append(f"Intervals of Cliff's δ bin the pooled values into {DELTA_BINS} quantile "
                         "bins (ties within a bin count as ties); the δ values themselves are exact.")
        for i, a in enumerate(names):
            for b in names[i + 1:]:
                va, vb = vals_by[a], vals_by[b]
                if kind == "fraction":
                    t = stats.fisher_exact(int(va.sum()), va.size, int(vb.sum()), vb.size)
                    eff = float(va.mean() - vb.mean())
                    lo, hi = _ci(reps_by[a] - reps_by[b], confidence)
                    ename = "difference in fraction (a − b)"
                else:
                    t = stats.mann_whitney(va, vb)
                    eff = stats.cliffs_delta(va, vb)
                    lo, hi = _ci(_delta_from_hist(hists[a], sums[b], tots[b]), confidence)
                    ename = "Cliff's delta (a vs b)"
                rows.append({"group_a": a, "group_b": b, "n_a": va.size, "n_b": vb.size,
                             "test": t.test, "statistic": t.statistic, "p": t.p,
                             "effect": ename, "effect_value": eff,
                             "effect_ci_low": lo, "effect_ci_high": hi})
    elif len(names) >= 2:
        notes.append(f"{len(names)} groups: pairwise tests not computed (more than "
                     f"{MAX_PAIRWISE_GROUPS}); narrow the selection or pass pairwise=True.")
    cols_pw = ["group_a", "group_b", "n_a", "n_b", "test", "statistic", "p", "p_holm", "effect",
               "effect_value", "effect_ci_low", "effect_ci_high", "significant"]
    pw = pd.DataFrame(rows, columns=[c for c in cols_pw if c not in ("p_holm", "significant")])
    pw["p_holm"] = stats.holm(pw["p"].to_numpy(dtype=float)) if len(pw) else []
    pw["significant"] = (pw["p_holm"] < alpha).astype(bool) if len(pw) else []
    pw = pw[cols_pw]
    kept = labels[use & labels.isin(names).to_numpy()]
    return Comparison(metric=metric, kind=kind, by=keys, population=population, groups=groups,
                      omnibus=omnibus, pairwise=pw, coverage=coverage, notes=notes,
                      interval_method=method, alpha=alpha, used=kept)


def used_cells(result: Comparison, table: pd.DataFrame) -> pd.DataFrame:
    """The rows of ``table`` (the one given to :func:`compare`) that entered ``result``, with
    their group label in a ``__group__`` column.

    >>> t = pd.DataFrame({"g": ["a", "a", "b", "b"], "x": [1.0, np.nan, 3.0, 4.0]})
    >>> used_cells(compare(t, "x", "g", n_boot=10, min_cells=1), t)["x"].tolist()
    [1.0, 3.0, 4.0]
    """
    missing = result.used.index.difference(table.index)
    if len(missing):
        raise ValueError("table is not the one the comparison was computed from "
                         f"({len(missing)} of its rows are absent)")
    return table.loc[result.used.index].assign(__group__=result.used.to_numpy())


__all__ = ["Comparison", "ComparisonError", "compare", "used_cells"]
