"""Build the "what are those cells doing?" report for one area × Cre line.

:func:`build_report` tells the tutorial story for the choice (data, a session, the cells,
their preferred images, direction selectivity), then compares the chosen Cre line with the
other Cre lines of its area and with itself in the other areas, adds functional classes,
decoding and the role profile, and ends with the coverage behind every number. It uses the
metrics stored in the catalog (``brainobs analyze``); it computes only what is missing for
the figures of one session (tuning curves) and, when asked, the decoding.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from brainobs.population import (
    ComparisonError,
    add_responsiveness,
    cell_table,
    class_composition,
    compare,
    role_profile,
)
from brainobs.population.responsive import FAMILIES
from brainobs.report import figures as F
from brainobs.report import story
from brainobs.report.html import Report, Section

Progress = Callable[[int, int, str], None]

# Metrics compared across Cre lines / areas when they have values: (column, words).
COMPARED: tuple[tuple[str, str], ...] = (
    ("responsive_dg", "responsive to drifting gratings"),
    ("responsive_ns", "responsive to natural scenes"),
    ("g_osi_dg", "orientation selectivity, gOSI (drifting gratings)"),
    ("g_dsi_dg", "direction selectivity, gDSI"),
    ("pref_tf_dg", "preferred temporal frequency (Hz)"),
    ("image_sel_ns", "image selectivity (natural scenes)"),
)


def _fmt_p(p: float) -> str:
    return "n/a" if p is None or not np.isfinite(p) else (f"{p:.2g}" if p >= 1e-4 else f"{p:.1e}")


def _groups_html(res: Any) -> str:
    frac = res.kind == "fraction"
    g = res.groups
    value = "fraction" if frac else "median"

    def num(v: Any) -> str:
        return "–" if v is None or (isinstance(v, float) and not np.isfinite(v)) else f"{v:.4g}"

    df = pd.DataFrame({
        "group": g["group"], "cells": g["n_cells"],
        "containers": g["n_containers"].map(num), "mice": g["n_mice"].map(num),
        value: g[value].map(num),
        "95 % CI": [f"{num(lo)} – {num(hi)}" for lo, hi in zip(g["ci_low"], g["ci_high"], strict=True)],
    })
    return df.to_html(index=False, classes="num", na_rep="–")


def _pairwise_html(res: Any, focus: str | None = None) -> str:
    pw = res.pairwise
    if focus is not None:
        pw = pw[(pw["group_a"] == focus) | (pw["group_b"] == focus)]
    if pw.empty:
        return ""
    df = pw[["group_a", "group_b", "p", "p_holm", "effect_value", "effect_ci_low", "effect_ci_high",
             "significant"]].copy()
    df["p"] = df["p"].map(_fmt_p)
    df["p_holm"] = df["p_holm"].map(_fmt_p)
    df = df.rename(columns={"effect_value": res.pairwise["effect"].iloc[0],
                            "effect_ci_low": "CI low", "effect_ci_high": "CI high"})
    return df.to_html(index=False, classes="num", na_rep="–", float_format=lambda v: f"{v:+.3f}")


def _comparison_block(res: Any, table: pd.DataFrame, words: str, synthetic: bool,
                      focus: str | None) -> dict[str, Any]:
    return {
        "title": f"{words} by {' × '.join(res.by)}",
        "text": (f"{res.population}; intervals: {res.interval_method}. "
                 f"Omnibus: {res.omnibus_text()}."),
        "figure": F.data_uri(F.comparison_figure(res, table, synthetic=synthetic)),
        "tables": [_groups_html(res), _pairwise_html(res, focus)],
        "notes": res.notes,
    }


def _heatmap(table: pd.DataFrame, column: str) -> tuple[pd.DataFrame, pd.DataFrame] | None:
    known = table[table[column].notna() & table["area"].notna() & table["cre_line"].notna()]
    if known.empty:
        return None
    frac = known.pivot_table(index="cre_line", columns="area", values=column,
                             aggfunc=lambda s: float(np.mean(s.astype(bool))))
    counts = known.pivot_table(index="cre_line", columns="area", values=column, aggfunc="size")
    return frac.astype(float), counts.reindex_like(frac)


def build_report(
    obs: Any,
    area: str | None = None,
    cre_line: str | None = None,
    *,
    rule: str = "auto",
    n_boot: int = 1000,
    decoding: bool = True,
    max_decoding_sessions: int = 3,
    progress: Progress | None = None,
    seed: int = 0,
) -> Report:
    """Build the report of one area × Cre line of an observatory.

    Parameters
    ----------
    obs : brainobs.catalog.Observatory
    area, cre_line : str, optional
        The choice (default: the tutorial's VISp / Cux2-CreERT2 or the first pair with data).
    rule : str
        Responsiveness rule (:mod:`brainobs.population.responsive`).
    n_boot : int
        Bootstrap replicates of every interval.
    decoding : bool
        Decode natural-scene identity and grating direction from single trials of up to
        ``max_decoding_sessions`` sessions per Cre line of the area.
    progress : callable, optional
        ``progress(done, total, description)`` after each step.

    Returns
    -------
    Report
        Shows inline in Jupyter; ``report.save("report.html")`` writes one self-contained file.
    """
    steps = 7 + int(decoding)
    done = 0

    def step(text: str) -> None:
        nonlocal done
        done += 1
        if progress is not None:
            progress(done, steps, text)

    synthetic = bool(getattr(obs, "is_synthetic", False))
    area, cre_line = story.choose_area_and_cre_line(obs, area, cre_line)
    table = add_responsiveness(cell_table(obs), rule)
    mine = table[(table["area"] == area) & (table["cre_line"] == cre_line)]
    step("catalog read")
    sections: list[Section] = []
    meta: dict[str, Any] = {"area": area, "cre_line": cre_line, "synthetic": synthetic,
                            "data_dir": str(obs.data_dir), "rules": table.attrs.get("responsiveness_rules", {}),
                            "n_boot": n_boot, "created": _dt.datetime.now().isoformat(timespec="seconds")}

    # 1. the data
    conts = obs.containers()
    counts = conts.groupby(["cre_line", "targeted_structure"]).size().unstack(fill_value=0)
    cells_per = table.groupby(["cre_line", "area"]).size().unstack(fill_value=0)
    chosen = obs.containers(area=area, cre_line=cre_line)
    coverage = _metric_coverage(table)
    sections.append(Section(
        "The data",
        [f"{len(conts)} experiment containers, {len(table)} cells, {len(obs.cre_lines())} Cre lines "
         f"in {len(obs.areas())} areas{' (synthetic observatory)' if synthetic else ''}. "
         f"The choice: {cre_line} in {area}, {len(chosen)} containers "
         f"({', '.join(str(i) for i in chosen['id'])}), {len(mine)} cells."],
        tables=[("Containers per Cre line × area", counts.to_html(classes="num")),
                ("Cells per Cre line × area", cells_per.to_html(classes="num")),
                ("Metric coverage: share of cells with a value", coverage.to_html(
                    classes="num", float_format=lambda v: f"{v:.0%}"))]))
    step("data summarised")

    # 2. a session
    exp = story.natural_scenes_session(obs, chosen["id"].tolist())
    eid, cid = int(exp["id"]), int(exp["experiment_container_id"])
    figs, paras = [], []
    cont_cells = table[table["experiment_container_id"] == cid]
    with obs.session(eid) as s:
        figs.append(("Max projection with every ROI outlined", F.data_uri(F.max_projection_figure(s, synthetic=synthetic))))
        figs.append(("dF/F of 10 cells, stimulus epochs shaded", F.data_uri(F.traces_figure(s, synthetic=synthetic))))
        paras.append(f"Container {cid}, natural-scenes session {eid} ({exp['session_type']}, "
                     f"{int(exp['imaging_depth'])} µm): {s.n_cells} cells, {s.n_frames} frames "
                     f"at {1 / float(np.median(np.diff(s.timestamps[:100]))):.1f} Hz.")
        templates = s.stimulus_template("natural_scenes") if story.has_values(cont_cells, "p_ns") else None
    sections.append(Section("A session", paras, figures=figs))
    step("session drawn")

    # 3. the cells and their preferred images
    paras, figs = [], []
    if templates is not None and story.has_values(cont_cells, "p_ns", "pref_image_ns"):
        pi = story.preferred_images(cont_cells)
        paras.append(f"{pi['n_significant']} of {pi['n_cells']} cells of container {cid} respond "
                     "to natural scenes (p_ns < 0.05).")
        figs.append(("Preferred images", F.data_uri(F.preferred_image_figure(
            pi["pref_images"], int(templates.shape[0]), pi["n_significant"], synthetic=synthetic))))
        if "top_image" in pi:
            tied = pi["tied_images"]
            tie = f" (tied with image{'s' if len(tied) > 2 else ''} {', '.join(map(str, tied[1:]))})" if len(tied) > 1 else ""
            paras.append(f"Image {pi['top_image']} is preferred by the most cells: "
                         f"{pi['top_image_cells']}{tie}.")
            figs.append((f"Image {pi['top_image']}", F.data_uri(F.image_figure(
                templates[pi["top_image"]], f"Image {pi['top_image']}: preferred by {pi['top_image_cells']} cells"))))
    else:
        paras.append("No natural-scene metrics are stored for this container: run "
                      f"`brainobs analyze --container {cid}`.")
    sections.append(Section("The cells and their preferred images", paras, figures=figs))

    # 4. direction selectivity
    paras, figs = [], []
    if story.has_values(mine, "p_dg", "dsi_dg"):
        ds = story.direction_selectivity(mine)
        paras.append(
            f"Of the {ds['n_with_metrics']} {cre_line} cells in {area} with drifting-grating "
            f"metrics, {ds['n_dg_significant']} respond (p_dg < 0.05) and "
            f"{ds['n_direction_selective']} of those are direction selective (dsi_dg > 0.5): "
            f"{ds['fraction_direction_selective']:.1%} (95 % Wilson interval "
            f"{ds['ci_low']:.1%}–{ds['ci_high']:.1%}). The published DSI exceeds 1 when the "
            "null-direction response is negative, so the histogram highlights responsive cells.")
        figs.append(("DSI of the chosen cells", F.data_uri(F.dsi_figure(
            mine, f"dsi_dg, {cre_line} in {area}", synthetic=synthetic))))
        tuned = _example_tuning(obs, cid, cont_cells, synthetic)
        if tuned is not None:
            figs.append(tuned)
    else:
        paras.append("No drifting-grating metrics are stored for these containers: run "
                     "`brainobs analyze --missing`.")
    sections.append(Section("Direction selectivity", paras, figures=figs))
    step("story told")

    # 5. comparison with the other Cre lines of the area, and with the other areas
    blocks: list[dict[str, Any]] = []
    in_area = table[table["area"] == area]
    in_line = table[table["cre_line"] == cre_line]
    for scope, by, focus, words_scope in ((in_area, "cre_line", cre_line, f"Cre lines in {area}"),
                                          (in_line, "area", area, f"areas of {cre_line}")):
        if scope[by].nunique() < 2:
            blocks.append({"title": f"{words_scope}", "text": f"Only one {by.replace('_', ' ')} has data: "
                           "nothing to compare.", "figure": None, "tables": [], "notes": []})
            continue
        for column, words in COMPARED:
            if column not in scope.columns or scope[column].isna().all():
                continue
            try:
                res = compare(scope, column, by, rule=rule, n_boot=n_boot, seed=seed)
            except ComparisonError as exc:
                blocks.append({"title": f"{words} by {by}", "text": str(exc), "figure": None,
                               "tables": [], "notes": []})
                continue
            blocks.append(_comparison_block(res, scope, words, synthetic, focus))
    figs = []
    for column, words in (("responsive_dg", "drifting gratings"), ("responsive_ns", "natural scenes")):
        hm = _heatmap(table, column)
        if hm is not None:
            figs.append((f"Fraction responsive to {words}, Cre line × area", F.data_uri(
                F.heatmap_figure(hm[0], hm[1], f"fraction responsive to {words}", synthetic=synthetic))))
    fams = [f for f in FAMILIES if f"responsive_{f}" in in_area and in_area[f"responsive_{f}"].notna().any()]
    comp_note = ""
    if fams:
        from brainobs.population.responsive import functional_classes

        classed = in_area.assign(functional_class=functional_classes(in_area, fams))
        comp = class_composition(classed, "cre_line")
        if len(comp):
            wide = comp.pivot(index="cre_line", columns="functional_class", values="fraction").fillna(0.0)
            figs.append((f"Functional classes in {area} ({'+'.join(f.upper() for f in fams)} known)",
                         F.data_uri(F.composition_figure(wide, f"functional classes in {area}", synthetic=synthetic))))
            comp_note = (f"Functional classes use the stimuli with metrics here ({', '.join(fams)}); "
                         "a cell is classed only when all of them are known.")
    sections.append(Section("How does it compare?", [comp_note] if comp_note else [], figures=figs,
                            blocks=blocks))
    step("comparisons computed")

    # 6. decoding
    if decoding:
        sections.append(_decoding_section(obs, area, max_decoding_sessions, synthetic, seed))
        step("decoding done")

    # 7. the role profile
    try:
        prof = role_profile(table, cre_line, area, rule=rule, n_boot=n_boot, seed=seed)
        ptab = prof.table[["description", "value", "ci_low", "ci_high", "reference_value", "n",
                           "n_reference", "test", "p_holm", "effect_value", "direction"]].copy()
        ptab["p_holm"] = ptab["p_holm"].map(_fmt_p)
        sections.append(Section(f"The role of {cre_line} in {area}", prof.sentences,
                                tables=[(f"Compared with {prof.reference} (Holm-corrected across the profile)",
                                         ptab.to_html(index=False, classes="num", na_rep="–",
                                                      float_format=lambda v: f"{v:.3g}"))],
                                notes=[f"{k}: {v}" for k, v in prof.coverage["left_out"].items()]))
        meta["profile_sentences"] = prof.sentences
    except (ComparisonError, LookupError, ValueError) as exc:
        sections.append(Section(f"The role of {cre_line} in {area}", [f"No profile: {exc}"]))
    step("role profile")

    # 8. coverage
    sections.append(_coverage_section(obs, table, area, cre_line))
    step("coverage")
    title = f"What are those cells doing? {cre_line} in {area}"
    return Report(title=title, sections=sections, meta=meta)


def _metric_coverage(table: pd.DataFrame) -> pd.DataFrame:
    cols = [c for c in ("p_dg", "p_sg", "p_ns", "reliability_nm1_a", "rf_chi2_lsn") if c in table.columns]
    if not cols:
        return pd.DataFrame(index=sorted(table["cre_line"].dropna().unique()))
    return table.groupby("cre_line")[cols].agg(lambda s: float(s.notna().mean()))


def _example_tuning(obs: Any, cid: int, cells: pd.DataFrame, synthetic: bool) -> tuple[str, str] | None:
    """Tuning curves of the container's most direction-selective responsive cell."""
    from brainobs.metrics import drifting_gratings_result

    cand = cells[(cells["p_dg"] < 0.05) & cells["dsi_dg"].between(0, 1)]
    if cand.empty:
        return None
    cell = int(cand.sort_values("dsi_dg", ascending=False)["cell_specimen_id"].iloc[0])
    exps = obs.experiments(container_id=cid, stimuli=["drifting_gratings"])
    exps = exps[[obs.session_path(int(i)).exists() for i in exps["id"]]]
    if exps.empty:
        return None
    with obs.session(int(exps["id"].iloc[0])) as s:
        res = drifting_gratings_result(s, n_boot=0)
    return (f"Tuning of cell {cell} (its container's most direction-selective responsive cell)",
            F.data_uri(F.tuning_figure(res.responses, res.sem, cell, synthetic=synthetic)))


def _decoding_section(obs: Any, area: str, max_sessions: int, synthetic: bool, seed: int) -> Section:
    from brainobs.population import decoding as dec
    paras, figs, tables = [], [], []
    for stimulus, words in (("natural_scenes", "natural-scene identity (118 images)"),
                            ("drifting_gratings", "grating direction (8 directions)")):
        per = []
        for cre in sorted(obs.containers(area=area)["cre_line"].unique()):
            df = dec.decode_catalog(obs, stimulus, area=area, cre_line=cre, max_sessions=max_sessions,
                                    seed=seed)
            if len(df):
                per.append(df)
        if not per:
            paras.append(f"No {stimulus.replace('_', ' ')} session on disk in {area}: no decoding.")
            continue
        sessions = pd.concat(per, ignore_index=True)
        summary = dec.summarize_decoding(sessions, by=("cre_line",))
        plot_df = summary.rename(columns={"cre_line": "group", "median_accuracy": "accuracy"})
        if {"group", "accuracy", "ci_low", "ci_high", "chance"} <= set(plot_df.columns):
            figs.append((f"Decoding {words} in {area}", F.data_uri(F.decoding_figure(
                plot_df, f"{words}, {area}", synthetic=synthetic))))
        tables.append((f"Decoding {words} in {area}: per Cre line", summary.to_html(
            index=False, classes="num", na_rep="–", float_format=lambda v: f"{v:.3g}")))
        paras.append(f"Cross-validated decoding of {words} from single-trial population responses, "
                     f"up to {max_sessions} sessions per Cre line; chance is 1/number of classes, "
                     "and a label-permutation null is reported per session.")
    return Section("Decoding", paras, figures=figs, tables=tables)


def _coverage_section(obs: Any, table: pd.DataFrame, area: str, cre_line: str) -> Section:
    per_cont = table.groupby(["experiment_container_id", "cre_line", "area"], dropna=False).agg(
        cells=("cell_specimen_id", "size"),
        with_dg=("p_dg", lambda s: int(s.notna().sum())) if "p_dg" in table else ("cell_specimen_id", "size"),
        with_ns=("p_ns", lambda s: int(s.notna().sum())) if "p_ns" in table else ("cell_specimen_id", "size"),
    ).reset_index()
    missing = per_cont[(per_cont["with_dg"] == 0) | (per_cont["with_ns"] == 0)] if len(per_cont) else per_cont
    paras = [f"Every number above was computed from {len(table)} cells of {table['experiment_container_id'].nunique()} "
             "containers; cells without a value of a metric are left out of that metric and "
             "counted in the tables' notes, never counted as unresponsive."]
    if len(missing):
        paras.append(f"{len(missing)} containers lack drifting-grating or natural-scene metrics: "
                     "`brainobs analyze --missing` computes them.")
    return Section("Coverage and methods", paras, tables=[
        ("Cells with metrics per container", per_cont.to_html(index=False, classes="num"))])


__all__ = ["COMPARED", "build_report"]
