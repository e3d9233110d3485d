"""The tutorial story as data: the choices, the session, the cells, their preferences.

The demo and the HTML report tell the same story, so both call these functions; figures
are drawn by :mod:`brainobs.report.figures` from what is computed here.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

# The AllenSDK tutorial's own pair first when the user names none.
AREA_PREFERENCE = ("VISp", "VISl", "VISal", "VISpm", "VISam", "VISrl")
CRE_PREFERENCE = ("Cux2-CreERT2", "Rorb-IRES2-Cre", "Emx1-IRES-Cre", "Slc17a7-IRES2-Cre")
SIGNIFICANCE = 0.05
DSI_THRESHOLD = 0.5  # the tutorial's cut for "direction selective"


def choose_area_and_cre_line(obs: Any, area: str | None = None, cre_line: str | None = None
                             ) -> tuple[str, str]:
    """An (area, Cre line) pair with at least one natural-scenes session on disk.

    User choices are validated by the catalog (closest-match errors); a missing choice is
    filled with the first preferred value that has data.
    """
    exps = obs.experiments(area=area, cre_line=cre_line, stimuli=["natural_scenes"])
    which = f"{area or 'any area'} / {cre_line or 'any Cre line'}"
    if exps.empty:  # say which choices do have data
        why = obs.explain_empty(area=area, cre_line=cre_line, stimuli=["natural_scenes"])
        raise LookupError(f"No natural-scenes session for {which} in {obs.data_dir}." + (f" {why}" if why else ""))
    on_disk = exps[[obs.session_path(int(i)).exists() for i in exps["id"]]]
    if on_disk.empty:
        raise LookupError(
            f"The catalog lists {len(exps)} natural-scenes sessions for {which}, but none of "
            f"their NWB files is on disk (looked in {obs.session_path(int(exps['id'].iloc[0])).parent}); "
            "brainobs does not download.")
    pairs = on_disk.groupby(["targeted_structure", "cre_line"]).size().reset_index(name="n")

    def rank(row: pd.Series) -> tuple[int, int, int]:
        a, c = row["targeted_structure"], row["cre_line"]
        ra = AREA_PREFERENCE.index(a) if a in AREA_PREFERENCE else len(AREA_PREFERENCE)
        rc = CRE_PREFERENCE.index(c) if c in CRE_PREFERENCE else len(CRE_PREFERENCE)
        return (ra, rc, -int(row["n"]))

    best = min((row for _, row in pairs.iterrows()), key=rank)
    return str(best["targeted_structure"]), str(best["cre_line"])


def natural_scenes_session(obs: Any, container_ids: list[int]) -> pd.Series:
    """The first natural-scenes experiment of these containers whose file is on disk."""
    exps = obs.experiments(container_id=container_ids, stimuli=["natural_scenes"])
    exps = exps[[obs.session_path(int(i)).exists() for i in exps["id"]]]
    if exps.empty:
        raise LookupError(f"no natural-scenes session file on disk for containers {container_ids}")
    return exps.iloc[0]


def has_values(cells: pd.DataFrame, *columns: str) -> bool:
    """Whether every column exists and has at least one value."""
    return all(c in cells.columns and cells[c].notna().any() for c in columns)


def preferred_images(cells: pd.DataFrame) -> dict[str, Any]:
    """Cells with ``p_ns < 0.05``, their preferred images and the top image (ties listed)."""
    sig = cells[cells["p_ns"] < SIGNIFICANCE]
    counts = sig["pref_image_ns"].dropna().astype(int).value_counts()
    out: dict[str, Any] = {"n_significant": int(len(sig)), "n_cells": int(cells["p_ns"].notna().sum()),
                           "pref_images": sig["pref_image_ns"].to_numpy()}
    if len(counts):
        top_count = int(counts.iloc[0])
        tied = sorted(int(i) for i in counts.index[counts == top_count])
        out.update(top_image=tied[0], top_image_cells=top_count, tied_images=tied)
    return out


def direction_selectivity(cells: pd.DataFrame) -> dict[str, Any]:
    """The tutorial's fraction of direction-selective cells (``p_dg < 0.05`` and
    ``dsi_dg > 0.5``) among responsive cells, with a Wilson interval."""
    from brainobs.stats import wilson_interval

    valid = cells[cells["p_dg"].notna()]
    sig = valid[valid["p_dg"] < SIGNIFICANCE]
    ds = int((sig["dsi_dg"] > DSI_THRESHOLD).sum())
    n = int(len(sig))
    lo, hi = wilson_interval(ds, n) if n else (float("nan"), float("nan"))
    return {"n_with_metrics": int(len(valid)), "n_dg_significant": n, "n_direction_selective": ds,
            "fraction_direction_selective": ds / n if n else float("nan"),
            "ci_low": float(lo), "ci_high": float(hi)}


__all__ = ["AREA_PREFERENCE", "CRE_PREFERENCE", "DSI_THRESHOLD", "SIGNIFICANCE",
           "choose_area_and_cre_line", "direction_selectivity", "has_values",
           "natural_scenes_session", "preferred_images"]
