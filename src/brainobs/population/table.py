"""The pooled cell table: one row per cell, with who it is and everything measured.

:func:`cell_table` builds it from an observatory's catalog (published metrics plus what
brainobs computed and stored); :func:`from_table` takes any external cell table (a
published export such as the SWDB-2019 responsiveness table, a CSV of your own) and
renames the published column names to the standard ones below.

Standard identity columns: ``cell_specimen_id``, ``cre_line`` (full name,
"Sst-IRES-Cre"), ``area`` ("VISp"), ``imaging_depth`` (µm), ``layer``, ``reporter_line``,
``experiment_container_id``, ``specimen_id`` (the mouse) and ``donor_name``. Metric columns
keep their published names (``p_dg``, ``g_osi_dg``, ...).

Cortical layer from imaging depth
---------------------------------
The Allen team's own binning (the SWDB-2019 table's ``depth_range``, checked on all of its
40,359 cells in the tests):

==================  =======  ===========================================
imaging depth (µm)  layer    note
==================  =======  ===========================================
< 200               L2/3     175 µm in the release
200 – 364           L4       250–350 µm (Cux2, Rorb, Scnn1a, Nr5a1, ...)
200 – 364, Sst      L5       Sst-IRES-Cre at >= 300 µm is binned as L5
365 – 499           L5       365–400 µm (Rbp4, Fezf2, Tlx3, Emx1, ...)
>= 500              L6       550–625 µm (Ntsr1)
==================  =======  ===========================================
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from brainobs import vocab
from brainobs.errors import UnknownValueError

LAYERS: tuple[str, ...] = ("L2/3", "L4", "L5", "L6")
IDENTITY_COLUMNS: tuple[str, ...] = (
    "cell_specimen_id", "cre_line", "area", "imaging_depth", "layer", "reporter_line",
    "experiment_container_id", "specimen_id", "donor_name",
)

# Published / common column names recognised without a mapping, and the standard name.
ALIASES: dict[str, str] = {
    "tld1_name": "cre_line",
    "cre": "cre_line",
    "targeted_structure": "area",
    "structure": "area",
    "tlr1_name": "reporter_line",
    "container_id": "experiment_container_id",
    "depth": "imaging_depth",
    "cell_id": "cell_specimen_id",
    "mouse_id": "specimen_id",
}

_L4_TOP, _L5_TOP, _L6_TOP = 200.0, 365.0, 500.0
_SST = "Sst-IRES-Cre"
_SST_L5_FROM = 300.0


def layer_from_depth(depth: Any, cre_line: Any = None) -> np.ndarray:
    """Cortical layer label of each imaging depth (µm), following the Allen binning above.

    Parameters
    ----------
    depth : scalar or array of float
        Imaging depth below the pia, µm. NaN gives ``None``.
    cre_line : scalar or array of str, optional
        Needed only for the Sst exception (Sst-IRES-Cre at 300–364 µm is L5).

    Returns
    -------
    ndarray of object ("L2/3", "L4", "L5", "L6" or None)

    Examples
    --------
    >>> layer_from_depth([175, 275, 375, 550]).tolist()
    ['L2/3', 'L4', 'L5', 'L6']
    >>> layer_from_depth([325, 325], ["Cux2-CreERT2", "Sst-IRES-Cre"]).tolist()
    ['L4', 'L5']
    """
    d = np.atleast_1d(np.asarray(depth, dtype=np.float64))
    if np.any(d[np.isfinite(d)] < 0):
        raise ValueError(f"imaging depths must be >= 0 µm; got {d[d < 0][:5].tolist()}")
    out = np.full(d.shape, None, dtype=object)
    out[d < _L4_TOP] = "L2/3"
    out[(d >= _L4_TOP) & (d < _L5_TOP)] = "L4"
    out[(d >= _L5_TOP) & (d < _L6_TOP)] = "L5"
    out[d >= _L6_TOP] = "L6"
    if cre_line is not None:
        cre = np.broadcast_to(np.asarray(cre_line, dtype=object), d.shape)
        sst = (cre == _SST) & (d >= _SST_L5_FROM) & (d < _L5_TOP)
        out[sst] = "L5"
    return out


def full_cre_line(name: Any) -> Any:
    """The full Cre-line name for a short one ("Sst" → "Sst-IRES-Cre"); others unchanged.

    >>> full_cre_line("Sst"), full_cre_line("Cux2-CreERT2"), full_cre_line(None)
    ('Sst-IRES-Cre', 'Cux2-CreERT2', None)
    """
    if not isinstance(name, str) or name in vocab.CRE_LINES:
        return name
    hits = [c for c in vocab.CRE_LINES if c.lower().startswith(name.lower())]
    return hits[0] if len(hits) == 1 else name


def _apply_map(df: pd.DataFrame, column_map: Mapping[str, str] | None) -> pd.DataFrame:
    if not column_map:
        return df
    missing = [k for k in column_map if k not in df.columns]
    if missing:
        raise UnknownValueError(missing[0], df.columns, kind="column to map")
    return df.rename(columns=dict(column_map))


def from_table(df: pd.DataFrame, column_map: Mapping[str, str] | None = None) -> pd.DataFrame:
    """Standardise an external cell table (CSV/Parquet export, published table).

    ``column_map`` (old → new) is applied first; then the published names in
    :data:`ALIASES` (``tld1_name`` → ``cre_line``, ``targeted_structure`` → ``area``, ...)
    are recognised. Short Cre-line names are expanded ("Sst" → "Sst-IRES-Cre"), ``layer`` is
    derived from ``imaging_depth`` when absent, and a leftover pandas index column
    ("Unnamed: 0") is dropped. Identity columns the table lacks are added as missing
    values, so every later step can say what is not known (e.g. no container → no
    hierarchical bootstrap).

    Examples
    --------
    >>> t = from_table(pd.DataFrame({"tld1_name": ["Sst"], "imaging_depth": [375.0],
    ...                              "g_osi_dg": [0.4]}))
    >>> t.loc[0, ["cre_line", "layer"]].tolist()
    ['Sst-IRES-Cre', 'L5']
    """
    if not isinstance(df, pd.DataFrame):
        raise TypeError(f"expected a pandas DataFrame; got {type(df).__name__}")
    out = _apply_map(df, column_map)
    out = out.drop(columns=[c for c in out.columns if str(c).startswith("Unnamed:")])
    lower = {str(c).lower(): c for c in out.columns}
    rename = {lower[old]: new for old, new in ALIASES.items()
              if old in lower and new not in out.columns and lower[old] != new}
    out = out.rename(columns=rename)
    dup = out.columns[out.columns.duplicated()].tolist()
    if dup:
        raise ValueError(f"columns {dup} appear twice after renaming; pass column_map to resolve")
    return _standardise(out)


def _standardise(out: pd.DataFrame) -> pd.DataFrame:
    out = out.copy()
    if "cre_line" in out.columns:
        out["cre_line"] = out["cre_line"].map(full_cre_line).astype(object)
    for col in ("experiment_container_id", "specimen_id", "cell_specimen_id"):
        if col in out.columns:
            out[col] = pd.to_numeric(out[col], errors="coerce").astype("Int64")
    if "imaging_depth" in out.columns:
        out["imaging_depth"] = pd.to_numeric(out["imaging_depth"], errors="coerce").astype(float)
        if "layer" not in out.columns:
            cre = out["cre_line"].to_numpy(dtype=object) if "cre_line" in out.columns else None
            out["layer"] = layer_from_depth(out["imaging_depth"].to_numpy(), cre)
    for col in IDENTITY_COLUMNS:
        if col not in out.columns:
            out[col] = pd.array([pd.NA] * len(out), dtype="Int64") if col in (
                "experiment_container_id", "specimen_id", "cell_specimen_id") else None
    first = [c for c in IDENTITY_COLUMNS if c in out.columns]
    return out[first + [c for c in out.columns if c not in first]].reset_index(drop=True)


def cell_table(obs: Any, *, area: Any = None, cre_line: Any = None, container_id: Any = None,
               include_failed: bool = False) -> pd.DataFrame:
    """The pooled cell table of an observatory: published metrics plus stored brainobs ones.

    Parameters
    ----------
    obs : brainobs.catalog.Observatory
    area, cre_line, container_id
        Optional selection (validated by the catalog, closest-match errors).
    include_failed : bool
        Also cells of failed containers.

    Returns
    -------
    DataFrame
        The identity columns of this module first (with ``reporter_line`` and
        ``donor_name`` from the container table, ``layer`` from depth), then every metric.

    Examples
    --------
    >>> cells = cell_table(open_observatory(), area="VISp")   # doctest: +SKIP
    """
    # coverage is reported by the population results themselves, so no catalog warning here
    cells = obs.cells(area=area, cre_line=cre_line, container_id=container_id,
                      include_failed=include_failed, warn=False)
    cont = obs.containers(include_failed=True)[["id", "reporter_line", "donor_name"]]
    cont = cont.rename(columns={"id": "experiment_container_id"})
    df = cells.rename(columns={"tld1_name": "cre_line", "tlr1_name": "reporter_line"})
    df = df.drop(columns=[c for c in ("reporter_line", "donor_name") if c in df.columns])
    df = df.merge(cont, on="experiment_container_id", how="left")
    return _standardise(df)


__all__ = ["ALIASES", "IDENTITY_COLUMNS", "LAYERS", "cell_table", "from_table", "full_cre_line",
           "layer_from_depth"]
