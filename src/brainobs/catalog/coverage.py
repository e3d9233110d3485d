"""Metric coverage: which containers have which metric families, and the note that says so.

A container **has** a metric family when at least one of its cells has a non-null value in
one of the family's key columns (:data:`brainobs.vocab.FAMILY_COLUMNS`: ``p_dg``, ``p_sg``,
``p_ns``, any ``reliability_nm*``, ``rf_chi2_lsn``), whether that value comes from the
published cell table or from metrics brainobs computed and stored
(:meth:`~brainobs.catalog.Observatory.save_cells`) — or when brainobs computed and stored
that column for one of its cells even though the value is NaN (``p_sg`` is NaN for every
cell of a session that shows each static grating once, as the tiny synthetic one does:
computing it again would not change that).

:meth:`~brainobs.catalog.Observatory.cells` uses this to warn
(:class:`~brainobs.errors.MissingMetricsWarning`) when a query's answer is empty or NaN
because metrics were never computed, by these rules:

1. **A filter on a metric** (``"p_ns < 0.05"``; a test for null such as ``"p_ns is null"``
   does not count) warns when some selected containers lack that metric's family.
2. **No metric filter**: warns only when some selected containers have **no metrics of any
   family** — a container with, say, drifting-grating metrics alone is not reported,
   because the table then shows NaN only in columns the user did not ask about.

The *selected containers* are the non-failed containers of the cells matching every
argument and non-metric filter (area, Cre line, ids, ``"area == 'VISp'"`` ...), before the
metric filters are applied, so an empty answer is still explained. Families a container's
sessions do not show (no session C, say) are never reported as missing. This module does
not import :mod:`brainobs.metrics` (a higher layer).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from brainobs import vocab
from brainobs._validate import as_list
from brainobs.errors import UnknownValueError

CONTAINER_COLUMN = "experiment_container_id"
COVERAGE_ID_COLUMNS = ("id", "targeted_structure", "cre_line", "imaging_depth")


def check_families(families: Any) -> list[str]:
    """Validated metric families (a str or a list; None means all), in family order.

    >>> check_families("natural_scenes")
    ['natural_scenes']
    >>> check_families(["natural_senes"])  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    brainobs.errors.UnknownValueError: Unknown metric family 'natural_senes'. Did you mean 'natural_scenes'? Valid choices: ...
    """
    wanted = as_list(families)
    if wanted is None:
        return list(vocab.METRIC_FAMILIES)
    for f in wanted:
        if f not in vocab.FAMILY_COLUMNS:
            raise UnknownValueError(f, vocab.METRIC_FAMILIES, kind="metric family")
    return [f for f in vocab.METRIC_FAMILIES if f in wanted]


def family_presence(
    cells: pd.DataFrame, families: Iterable[str] | None = None, saved: pd.DataFrame | None = None
) -> pd.DataFrame:
    """Per container, whether any of its cells has a value in each family's key columns.

    Parameters
    ----------
    cells : pandas.DataFrame
        A cell table with ``experiment_container_id`` and any of the key columns.
    families : list of str, optional
        Families to report (default: all, :data:`brainobs.vocab.METRIC_FAMILIES`).
    saved : pandas.DataFrame, optional
        Bool columns named after key columns, aligned with ``cells`` rows: True where
        brainobs computed and stored that column for the cell (counts as present even
        when the value is NaN).

    Returns
    -------
    pandas.DataFrame
        Indexed by ``experiment_container_id`` (int64), one bool column per family.

    Examples
    --------
    >>> cells = pd.DataFrame({"experiment_container_id": [1, 1, 2],
    ...                       "p_dg": [np.nan, 0.01, np.nan],
    ...                       "reliability_nm2": [np.nan, np.nan, 0.3]})
    >>> family_presence(cells, ["drifting_gratings", "natural_movies"]).to_dict("index")
    {1: {'drifting_gratings': True, 'natural_movies': False}, 2: {'drifting_gratings': False, 'natural_movies': True}}
    """
    fams = list(vocab.METRIC_FAMILIES if families is None else families)
    ids = pd.to_numeric(cells[CONTAINER_COLUMN], errors="coerce") if len(cells) else pd.Series(dtype=float)
    known = ids.notna().to_numpy()
    keys = pd.Index(ids[known].astype("int64"), name=CONTAINER_COLUMN)
    has = {}
    for fam in fams:
        cols = [c for c in vocab.FAMILY_COLUMNS[fam] if c in cells.columns]
        row = cells[cols].notna().to_numpy().any(axis=1) if cols else np.zeros(len(cells), bool)
        if saved is not None:
            flags = [c for c in vocab.FAMILY_COLUMNS[fam] if c in saved.columns]
            if flags:
                row = row | saved[flags].to_numpy(dtype=bool).any(axis=1)
        has[fam] = row[known]
    per_cell = pd.DataFrame(has, index=keys, columns=fams)
    out = per_cell.groupby(level=0, sort=True).any() if len(per_cell) else per_cell
    return out.astype(bool)


def coverage_table(
    containers: pd.DataFrame,
    cells: pd.DataFrame,
    families: Iterable[str] | None = None,
    on_disk: Mapping[int, bool] | None = None,
    presence: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """The metric-coverage table of :meth:`~brainobs.catalog.Observatory.metric_coverage`.

    Parameters
    ----------
    containers : pandas.DataFrame
        Container rows (``id``, ``targeted_structure``, ``cre_line``, ``imaging_depth``).
    cells : pandas.DataFrame
        The cell table (``experiment_container_id`` plus metric columns).
    families : list of str, optional
        Family columns to include (default all).
    on_disk : mapping, optional
        Container id -> all of its session files are present (default: all False).
    presence : pandas.DataFrame, optional
        A precomputed :func:`family_presence` of ``cells`` (default: computed here).

    Returns
    -------
    pandas.DataFrame
        One row per container, in the order given: ``id, targeted_structure, cre_line,
        imaging_depth, n_cells``, one bool column per family, ``sessions_on_disk``.

    Examples
    --------
    >>> containers = pd.DataFrame({"id": [10, 20], "targeted_structure": ["VISp", "VISl"],
    ...                            "cre_line": ["Cux2-CreERT2", "Vip-IRES-Cre"],
    ...                            "imaging_depth": [175, 275]})
    >>> cells = pd.DataFrame({"experiment_container_id": [10, 10, 20],
    ...                       "p_dg": [0.01, np.nan, np.nan], "p_ns": [np.nan] * 3})
    >>> table = coverage_table(containers, cells, ["drifting_gratings", "natural_scenes"], {10: True})
    >>> print(table.to_string(index=False))
     id targeted_structure     cre_line  imaging_depth  n_cells  drifting_gratings  natural_scenes  sessions_on_disk
     10               VISp Cux2-CreERT2            175        2               True           False              True
     20               VISl Vip-IRES-Cre            275        1              False           False             False
    """
    fams = list(vocab.METRIC_FAMILIES if families is None else families)
    ids = containers["id"].astype("int64").to_numpy()
    out = containers[list(COVERAGE_ID_COLUMNS)].reset_index(drop=True)
    cids = pd.to_numeric(cells[CONTAINER_COLUMN], errors="coerce") if len(cells) else pd.Series(dtype=float)
    counts = cids.value_counts()
    out["n_cells"] = counts.reindex(ids, fill_value=0).to_numpy(dtype=np.int64)
    if presence is None:
        presence = family_presence(cells, fams)
    presence = presence.reindex(ids, fill_value=False)
    for fam in fams:
        out[fam] = presence[fam].to_numpy(dtype=bool)
    disk = on_disk or {}
    out["sessions_on_disk"] = np.array([bool(disk.get(int(i), False)) for i in ids], dtype=bool)
    return out


def is_null_test(op: str, value: Any) -> bool:
    """True for a filter clause that asks for missing values (``is null``, ``== None``)."""
    return op in ("is", "==") and (value is None or (isinstance(value, float) and np.isnan(value)))


@dataclass(frozen=True)
class MissingMetrics:
    """Containers of a cell selection that lack metrics, and how to compute them.

    Attributes
    ----------
    selected : tuple of int
        The selected (non-failed) containers of the query.
    lacking : dict
        Metric family -> the selected containers lacking it (only families reported).
        With ``reason == "no_metrics"`` every family maps to the containers without any.
    reason : {"filter", "no_metrics"}
        Rule that fired: a metric filter on a missing family, or containers with no
        metrics at all (see :mod:`brainobs.catalog.coverage`).
    command, python : str
        The ``brainobs analyze ...`` command and the Python call that fill the gap.
    without_files : tuple of int
        Lacking containers whose session files are not all on disk.
    message : str
        The one-line note (the warning's text).
    """

    selected: tuple[int, ...]
    lacking: dict[str, tuple[int, ...]]
    reason: str
    command: str
    python: str
    without_files: tuple[int, ...] = ()
    message: str = field(default="", compare=False)

    @property
    def containers(self) -> tuple[int, ...]:
        """Every selected container lacking a reported family (sorted)."""
        return tuple(sorted({c for ids in self.lacking.values() for c in ids}))


def _names(values: Iterable[Any], noun: str, limit: int = 3) -> str:
    uniq = sorted({str(v) for v in values if v is not None and v == v})
    return ", ".join(uniq) if len(uniq) <= limit else f"{len(uniq)} {noun}"


def _have(ids: tuple[int, ...]) -> str:
    return "has" if len(ids) == 1 else "have"


def describe(ids: Iterable[int], containers: pd.DataFrame) -> str:
    """'Cux2-CreERT2 in VISp, VISl': the Cre lines and areas of some containers.

    >>> c = pd.DataFrame({"id": [1, 2], "cre_line": ["Sst-IRES-Cre"] * 2,
    ...                   "targeted_structure": ["VISp", "VISl"]})
    >>> describe([1, 2], c)
    'Sst-IRES-Cre in VISl, VISp'
    """
    rows = containers[containers["id"].isin(list(ids))]
    cres = _names(rows["cre_line"], "Cre lines")
    areas = _names(rows["targeted_structure"], "areas")
    return f"{cres} in {areas}" if cres and areas else cres or areas


def missing_message(
    n_selected: int,
    lacking: Mapping[str, tuple[int, ...]],
    reason: str,
    containers: pd.DataFrame,
    command: str,
    python: str,
    without_files: tuple[int, ...] = (),
) -> str:
    """The one-line note of a :class:`MissingMetrics` (see :meth:`Observatory.cells`).

    >>> c = pd.DataFrame({"id": [1, 2, 3], "cre_line": ["Vip-IRES-Cre"] * 3,
    ...                   "targeted_structure": ["VISp"] * 3})
    >>> print(missing_message(4, {"natural_scenes": (1, 2, 3)}, "filter", c,
    ...                       "brainobs analyze --missing --cre-line Vip-IRES-Cre",
    ...                       "brainobs.parallel.analyze_missing(obs, cre_line=['Vip-IRES-Cre'])"))
    3 of 4 containers (Vip-IRES-Cre in VISp) in this selection have no natural_scenes metrics, so the filter cannot match their cells: run `brainobs analyze --missing --cre-line Vip-IRES-Cre` (or brainobs.parallel.analyze_missing(obs, cre_line=['Vip-IRES-Cre']))
    """
    noun = "container" if n_selected == 1 else "containers"
    if reason == "no_metrics":
        ids = next(iter(lacking.values()))
        head = (f"{len(ids)} of {n_selected} {noun} ({describe(ids, containers)}) in this "
                f"selection {_have(ids)} no computed metrics yet (their metric columns are empty)")
    else:
        groups: dict[tuple[int, ...], list[str]] = {}
        for fam, ids in lacking.items():
            groups.setdefault(ids, []).append(fam)
        parts = []
        for i, (ids, fams) in enumerate(groups.items()):
            what = " or ".join(fams)
            who = f"{noun} " if i == 0 else ""
            where = " in this selection" if i == 0 else ""
            verb = f"{_have(ids)} no" if i == 0 else "no"
            parts.append(f"{len(ids)} of {n_selected} {who}({describe(ids, containers)}){where} "
                         f"{verb} {what} metrics")
        several = len(lacking) > 1
        head = (" and ".join(parts) + f", so the filter{'s' if several else ''} cannot match "
                "their cells")
    if without_files:
        head += (f" ({len(without_files)} of them lack session files on disk and cannot be "
                 "analyzed until they are there)")
    return f"{head}: run `{command}` (or {python})"


__all__ = [
    "MissingMetrics", "check_families", "coverage_table", "describe", "family_presence",
    "is_null_test", "missing_message",
]
