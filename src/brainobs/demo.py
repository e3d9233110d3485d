"""The tutorial story, end to end: the job ``brainobs demo`` runs.

Pick an area and a Cre line that have data, list their containers, open the
natural-scenes session, write the max projection, stacked dF/F traces, the
preferred-image histogram of significant cells, the top image and the fraction of
direction-selective cells — then answer the tutorial's closing question: compare the
chosen Cre line with the other Cre lines (tests, effect sizes, role profile) and write the
HTML report beside the figures. Drifting-grating and natural-scene metrics missing from the
catalog are computed first for every container (:func:`brainobs.parallel.analyze_missing`)
and stored, unless ``compute_metrics=False``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from brainobs.catalog import open_observatory
from brainobs.report.story import (
    DSI_THRESHOLD,
    SIGNIFICANCE,
    choose_area_and_cre_line,
    direction_selectivity,
    has_values,
    preferred_images,
)

N_TRACES = 10
DEMO_FAMILIES = ["drifting_gratings", "natural_scenes"]

__all__ = ["DEMO_FAMILIES", "DSI_THRESHOLD", "N_TRACES", "SIGNIFICANCE", "choose_area_and_cre_line",
           "run_demo"]


def _save(fig: Any, path: Path) -> Path:
    """Write a figure atomically (temp file, then rename)."""
    tmp = path.with_name(f".{path.name}.tmp")
    fig.savefig(tmp, dpi=120, format=path.suffix.lstrip("."))
    os.replace(tmp, path)
    return path


def _ensure_metrics(obs: Any, log: Callable[[str], None]) -> None:
    """Compute and store the DG and NS metrics of every container that lacks them."""
    from brainobs.parallel import analyze_missing

    def announce(done: int, total: int, _: str) -> None:
        if done == 0 and total:
            log(f"Computing drifting-grating and natural-scene metrics of {total} container(s) (as "
                "`brainobs analyze --missing --family drifting_gratings --family natural_scenes` "
                "would) and storing them in the catalog ...")

    report = analyze_missing(obs, families=DEMO_FAMILIES, progress=announce)
    for r in report.failed:
        log(f"  container {r.container_id} could not be analyzed: {r.reason}")


def run_demo(
    data_dir: str | os.PathLike[str] | None = None,
    out_dir: str | os.PathLike[str] = "brainobs-demo",
    *,
    area: str | None = None,
    cre_line: str | None = None,
    log: Callable[[str], None] = print,
    show_table: Callable[[pd.DataFrame, str], None] | None = None,
    compute_metrics: bool = True,
    report: bool = True,
    n_boot: int = 1000,
) -> dict[str, Any]:
    """Walk the tutorial story on an observatory, compare cell types and write the figures.

    Parameters
    ----------
    data_dir : path, optional
        A brainobs data dir or an AllenSDK cache dir (default: ``default_data_dir()``).
        It must exist; ``brainobs demo`` on the command line creates a synthetic one first.
    out_dir : path
        Folder for the figures, ``report.html`` and ``summary.json`` (created if needed).
    area, cre_line : str, optional
        The choice to make; by default the first of VISp/Cux2, VISp/Rorb, ... with data.
    log, show_table : callables
        Where the story is told (``print`` by default; the CLI passes rich printers).
    compute_metrics : bool
        Compute and store the drifting-grating and natural-scene metrics the catalog lacks;
        with False the demo only says how to get them.
    report : bool
        Also write ``report.html`` (:func:`brainobs.report.build_report`, without decoding).
    n_boot : int
        Bootstrap replicates of the comparison's intervals.

    Returns
    -------
    dict
        The summary, also written to ``out_dir/summary.json``.
    """
    from brainobs.report import figures as F

    show = show_table or (lambda df, title: log(f"{title}\n{df.to_string(index=False)}"))
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    obs = open_observatory(data_dir)
    synthetic = bool(obs.is_synthetic)
    summary: dict[str, Any] = {"data_dir": str(obs.data_dir), "synthetic": synthetic}

    cre_lines, areas = obs.cre_lines(), obs.areas()
    log(f"{len(cre_lines)} Cre lines: {', '.join(cre_lines)}")
    log(f"{len(areas)} areas: {', '.join(areas)}")

    area, cre_line = choose_area_and_cre_line(obs, area, cre_line)
    summary.update(area=area, cre_line=cre_line)
    containers = obs.containers(area=area, cre_line=cre_line)
    show(containers[["id", "targeted_structure", "cre_line", "imaging_depth", "reporter_line"]],
         f"{len(containers)} containers in {area} for {cre_line}")

    if compute_metrics:
        _ensure_metrics(obs, log)

    exps = obs.experiments(container_id=containers["id"].tolist(), stimuli=["natural_scenes"])
    exps = exps[[obs.session_path(int(i)).exists() for i in exps["id"]]]
    exp = exps.iloc[0]
    container_id, experiment_id = int(exp["experiment_container_id"]), int(exp["id"])
    summary.update(container_id=container_id, experiment_id=experiment_id)
    log(f"Opening container {container_id}, natural-scenes session {experiment_id} "
        f"({exp['session_type']}, {int(exp['imaging_depth'])} µm)")

    figures: dict[str, str] = {}
    with obs.session(experiment_id) as s:
        summary.update(n_cells=int(s.n_cells), n_frames=int(s.n_frames), stimuli=s.list_stimuli())
        figures["max_projection"] = str(_save(F.max_projection_figure(s, synthetic=synthetic),
                                              out / "max_projection.png"))
        figures["dff_traces"] = str(_save(F.traces_figure(s, N_TRACES, synthetic=synthetic),
                                          out / "dff_traces.png"))
        table = s.stimulus_table("natural_scenes")
        show(table.head(5), f"natural_scenes stimulus table: {len(table)} presentations (first 5)")
        templates = s.stimulus_template("natural_scenes")
        log(f"natural_scenes template: {templates.shape[0]} images of {templates.shape[1]}×{templates.shape[2]} px")

    cells = obs.cells(container_id=container_id, warn=False)
    if has_values(cells, "p_ns", "pref_image_ns"):
        pi = preferred_images(cells)
        summary["n_ns_significant"] = pi["n_significant"]
        figures["preferred_images"] = str(_save(F.preferred_image_figure(
            pi["pref_images"], int(templates.shape[0]), pi["n_significant"], synthetic=synthetic),
            out / "preferred_images.png"))
        if "top_image" in pi:
            summary.update(top_image=pi["top_image"], top_image_cells=pi["top_image_cells"],
                           top_image_ties=pi["tied_images"][1:])
            figures["top_image"] = str(_save(F.image_figure(
                templates[pi["top_image"]], f"Image {pi['top_image']}: preferred by "
                f"{pi['top_image_cells']} cells"), out / "top_image.png"))
    else:
        summary["n_ns_significant"] = None
        log("Natural-scenes metrics (p_ns, pref_image_ns) are not in the catalog yet, so "
            "there is no preferred-image histogram: compute them with `brainobs analyze "
            f"--container {container_id}` (or run the demo without --no-metrics).")

    all_cells = obs.cells(area=area, cre_line=cre_line, warn=False)
    if has_values(all_cells, "p_dg", "dsi_dg"):
        ds = direction_selectivity(all_cells)
        summary.update(n_dg_significant=ds["n_dg_significant"],
                       n_direction_selective=ds["n_direction_selective"],
                       fraction_direction_selective=ds["fraction_direction_selective"],
                       fraction_direction_selective_ci=[ds["ci_low"], ds["ci_high"]])
        log(f"Direction selective (dsi_dg > {DSI_THRESHOLD}) among {ds['n_dg_significant']} cells "
            f"with p_dg < {SIGNIFICANCE} in {area}/{cre_line}: {ds['n_direction_selective']} "
            f"({ds['fraction_direction_selective']:.1%}, 95 % CI {ds['ci_low']:.1%}–{ds['ci_high']:.1%})")
        figures["dsi"] = str(_save(F.dsi_figure(all_cells, f"dsi_dg, {cre_line} in {area}",
                                                synthetic=synthetic), out / "dsi.png"))
        _compare_cell_types(obs, area, cre_line, summary, figures, out, log, n_boot)
    else:
        summary["fraction_direction_selective"] = None
        log("Drifting-grating metrics (p_dg, dsi_dg) are not in the catalog yet, so the fraction "
            "of direction-selective cells cannot be given: compute them with `brainobs analyze "
            "--missing`.")

    if report and has_values(all_cells, "p_dg"):
        from brainobs.report import build_report

        log("Writing the HTML report (brainobs report adds single-trial decoding) ...")
        rep = build_report(obs, area, cre_line, decoding=False, n_boot=n_boot)
        figures["report"] = str(rep.save(out / "report.html"))

    summary["figures"] = figures
    tmp = out / ".summary.json.tmp"
    tmp.write_text(json.dumps(summary, indent=2, default=_json_default))
    os.replace(tmp, out / "summary.json")
    return summary


def _compare_cell_types(obs: Any, area: str, cre_line: str, summary: dict[str, Any],
                        figures: dict[str, str], out: Path, log: Callable[[str], None], n_boot: int
                        ) -> None:
    """The tutorial's closing question: how do these cells compare with other cell types?"""
    from brainobs.population import (
        ComparisonError,
        add_responsiveness,
        cell_table,
        compare,
        role_profile,
    )
    from brainobs.report import figures as F

    table = add_responsiveness(cell_table(obs), "p")
    scope, where = table[table["area"] == area], f"in {area}"
    if scope["cre_line"][scope["p_dg"].notna()].nunique() < 2:
        scope, where = table, "across all areas"
    try:
        res = compare(scope, "dsi_dg > 0.5", "cre_line", responsive_only=True, n_boot=n_boot)
    except ComparisonError as exc:
        log(f"No comparison with other Cre lines: {exc}")
        return
    g = res.groups.set_index("group")
    log(f"Direction-selective fraction of responsive cells by Cre line {where}: "
        + "; ".join(f"{k} {v:.0%} (n={int(n)})" for k, v, n in zip(g.index, g["fraction"], g["n_cells"], strict=True))
        + f". {res.omnibus_text()}.")
    summary["comparison"] = {"metric": res.metric, "population": res.population, "scope": where,
                             "groups": res.groups[["group", "n_cells", "fraction", "ci_low", "ci_high"]]
                             .to_dict("records"), "omnibus": res.omnibus}
    figures["comparison"] = str(_save(F.comparison_figure(res, scope, synthetic=bool(obs.is_synthetic)),
                                      out / "comparison.png"))
    try:
        prof = role_profile(table, cre_line, area if where.startswith("in") else None, rule="p",
                            n_boot=n_boot)
    except (ComparisonError, LookupError, ValueError) as exc:
        log(f"No role profile: {exc}")
        return
    summary["role_profile"] = prof.sentences
    for sentence in prof.sentences:
        log(sentence)


def _json_default(o: Any) -> Any:
    if isinstance(o, np.generic):
        return o.item()
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")
