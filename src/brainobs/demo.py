"""The tutorial story, end to end: the job ``brainobs demo`` runs.

Pick an area and a Cre line that have data, list their containers, open the
natural-scenes session, and write the max projection, stacked dF/F traces, the
preferred-image histogram of significant cells, the top image and the fraction of
direction-selective cells into an output folder. Metrics missing from the catalog are
computed for the chosen containers first (drifting gratings and natural scenes only, to
stay fast) and stored, unless ``compute_metrics=False``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from brainobs.catalog import Observatory, open_observatory

# Preferred choices when the user names none: the AllenSDK tutorial's own pair first.
_AREA_PREFERENCE = ("VISp", "VISl", "VISal", "VISpm", "VISam", "VISrl")
_CRE_PREFERENCE = ("Cux2-CreERT2", "Rorb-IRES2-Cre", "Emx1-IRES-Cre", "Slc17a7-IRES2-Cre")

N_TRACES = 10
SIGNIFICANCE = 0.05
DSI_THRESHOLD = 0.5  # the tutorial's cut for "direction selective"


def _metric_available(cells: pd.DataFrame, *columns: str) -> bool:
    return all(c in cells.columns and cells[c].notna().any() for c in columns)


def choose_area_and_cre_line(
    obs: Observatory, area: str | None = None, cre_line: str | None = None
) -> tuple[str, str]:
    """Return an (area, Cre line) pair with at least one natural-scenes session on disk.

    User choices are validated (closest-match errors); a missing choice is filled with
    the first preferred value that has data.
    """
    exps = obs.experiments(area=area, cre_line=cre_line, stimuli=["natural_scenes"])
    which = f"{area or 'any area'} / {cre_line or 'any Cre line'}"
    if exps.empty:
        raise LookupError(f"No natural-scenes session for {which} in {obs.data_dir}.")
    on_disk = exps[[obs.session_path(int(i)).exists() for i in exps["id"]]]
    if on_disk.empty:
        raise LookupError(
            f"The catalog lists {len(exps)} natural-scenes sessions for {which}, but none of "
            f"their NWB files is on disk (looked in {obs.session_path(int(exps['id'].iloc[0])).parent}); "
            "brainobs does not download."
        )
    pairs = on_disk.groupby(["targeted_structure", "cre_line"]).size().reset_index(name="n")

    def rank(row: pd.Series) -> tuple[int, int, int]:
        a, c = row["targeted_structure"], row["cre_line"]
        ra = _AREA_PREFERENCE.index(a) if a in _AREA_PREFERENCE else len(_AREA_PREFERENCE)
        rc = _CRE_PREFERENCE.index(c) if c in _CRE_PREFERENCE else len(_CRE_PREFERENCE)
        return (ra, rc, -int(row["n"]))

    best = min((row for _, row in pairs.iterrows()), key=rank)
    return str(best["targeted_structure"]), str(best["cre_line"])


DEMO_FAMILIES = ["drifting_gratings", "natural_scenes"]


def _ensure_metrics(obs: Observatory, area: str, cre_line: str, container_ids: list[int],
                    log: Callable[[str], None]) -> None:
    """Compute and store the DG and NS metrics of containers whose cells lack them."""
    from brainobs.metrics import analyze_catalog_container

    cells = obs.cells(container_id=container_ids, warn=False)  # the demo says itself what is missing
    todo = []
    for cid in container_ids:
        mine = cells[cells["experiment_container_id"] == cid]
        if _metric_available(mine, "p_dg", "dsi_dg", "p_ns", "pref_image_ns"):
            continue
        exps = obs.experiments(container_id=cid)
        if all(obs.session_path(int(i)).exists() for i in exps["id"]):
            todo.append(cid)
    if not todo:
        return
    log(f"Computing drifting-grating and natural-scene metrics of {len(todo)} container(s) in "
        f"{area}/{cre_line} (as `brainobs analyze --container ID --family drifting_gratings "
        "--family natural_scenes` would) and storing them in the catalog ...")
    for cid in todo:
        analyze_catalog_container(obs, cid, families=DEMO_FAMILIES)


def _save(fig: Any, path: Path) -> Path:
    """Write a figure atomically (temp file, then rename)."""
    tmp = path.with_name(f".{path.name}.tmp")
    fig.savefig(tmp, dpi=120, bbox_inches="tight", format=path.suffix.lstrip("."))
    os.replace(tmp, path)
    return path


def run_demo(
    data_dir: str | os.PathLike[str] | None = None,
    out_dir: str | os.PathLike[str] = "brainobs-demo",
    *,
    area: str | None = None,
    cre_line: str | None = None,
    log: Callable[[str], None] = print,
    show_table: Callable[[pd.DataFrame, str], None] | None = None,
    compute_metrics: bool = True,
) -> dict[str, Any]:
    """Walk the tutorial story on an observatory and write its figures.

    Parameters
    ----------
    data_dir : path, optional
        A brainobs data dir or an AllenSDK cache dir (default: ``default_data_dir()``).
        It must exist; ``brainobs demo`` on the command line creates a synthetic one first.
    out_dir : path
        Folder for the figures and ``summary.json`` (created if needed).
    area, cre_line : str, optional
        The choice to make; by default the first of VISp/Cux2, VISp/Rorb, ... with data.
    log, show_table : callables
        Where the story is told (``print`` by default; the CLI passes rich printers).
    compute_metrics : bool
        When the catalog lacks the drifting-grating and natural-scene metrics of the chosen
        containers, compute them (:func:`brainobs.metrics.analyze_catalog_container`) and
        store them in the catalog; with False the demo only says how to get them.

    Returns
    -------
    dict
        The summary, also written to ``out_dir/summary.json``.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from brainobs import plot

    show = show_table or (lambda df, title: log(f"{title}\n{df.to_string(index=False)}"))
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    obs = open_observatory(data_dir)
    summary: dict[str, Any] = {"data_dir": str(obs.data_dir), "synthetic": obs.is_synthetic}

    cre_lines, areas = obs.cre_lines(), obs.areas()
    log(f"{len(cre_lines)} Cre lines: {', '.join(cre_lines)}")
    log(f"{len(areas)} areas: {', '.join(areas)}")

    area, cre_line = choose_area_and_cre_line(obs, area, cre_line)
    summary.update(area=area, cre_line=cre_line)
    containers = obs.containers(area=area, cre_line=cre_line)
    show(containers[["id", "targeted_structure", "cre_line", "imaging_depth", "reporter_line"]],
         f"{len(containers)} containers in {area} for {cre_line}")

    if compute_metrics:
        _ensure_metrics(obs, area, cre_line, containers["id"].tolist(), log)

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
        fig, ax = plt.subplots(figsize=(6, 6))
        plot.max_projection(s.max_projection, ax, masks=s.roi_masks())
        ax.set_title(f"Experiment {experiment_id}: max projection, {s.n_cells} ROIs")
        figures["max_projection"] = str(_save(fig, out / "max_projection.png"))
        plt.close(fig)

        ids = s.cell_specimen_ids[:N_TRACES]
        dff = s.dff(cell_specimen_ids=ids)
        fig, ax = plt.subplots(figsize=(10, 6))
        plot.stacked_traces(dff["time"].values, dff.values, ax, labels=list(ids))
        ax.set_title(f"dF/F of {len(ids)} cells, experiment {experiment_id}")
        figures["dff_traces"] = str(_save(fig, out / "dff_traces.png"))
        plt.close(fig)

        table = s.stimulus_table("natural_scenes")
        show(table.head(5), f"natural_scenes stimulus table: {len(table)} presentations (first 5)")
        templates = s.stimulus_template("natural_scenes")
        log(f"natural_scenes template: {templates.shape[0]} images of {templates.shape[1]}×{templates.shape[2]} px")

        cells = obs.cells(container_id=container_id, warn=False)
        if _metric_available(cells, "p_ns", "pref_image_ns"):
            sig = cells[cells["p_ns"] < SIGNIFICANCE]
            summary["n_ns_significant"] = len(sig)
            fig, ax = plt.subplots(figsize=(8, 3))
            plot.preferred_image_histogram(sig["pref_image_ns"].to_numpy(), ax,
                                           n_images=int(templates.shape[0]))
            ax.set_title(f"Preferred image of {len(sig)} cells with p_ns < {SIGNIFICANCE}")
            figures["preferred_images"] = str(_save(fig, out / "preferred_images.png"))
            plt.close(fig)
            if len(sig):
                counts = sig["pref_image_ns"].dropna().astype(int).value_counts()
                top = int(counts.index[0])
                summary.update(top_image=top, top_image_cells=int(counts.iloc[0]))
                fig, ax = plt.subplots(figsize=(6, 5))
                plot.stimulus_image(templates[top], ax,
                                    title=f"Image {top}: preferred by {int(counts.iloc[0])} cells")
                figures["top_image"] = str(_save(fig, out / "top_image.png"))
                plt.close(fig)
        else:
            summary["n_ns_significant"] = None
            log("Natural-scenes metrics (p_ns, pref_image_ns) are not in the catalog yet, so "
                "there is no preferred-image histogram: compute them with `brainobs analyze "
                f"--container {container_id}` (or run the demo without --no-metrics).")

    all_cells = obs.cells(area=area, cre_line=cre_line, warn=False)
    if _metric_available(all_cells, "p_dg", "dsi_dg"):
        sig = all_cells[all_cells["p_dg"] < SIGNIFICANCE]
        ds = int((sig["dsi_dg"] > DSI_THRESHOLD).sum())
        frac = ds / len(sig) if len(sig) else float("nan")
        summary.update(n_dg_significant=len(sig), n_direction_selective=ds, fraction_direction_selective=frac)
        log(f"Direction selective (dsi_dg > {DSI_THRESHOLD}) among {len(sig)} cells with p_dg < "
            f"{SIGNIFICANCE} in {area}/{cre_line}: {ds} ({frac:.1%})")
    else:
        summary["fraction_direction_selective"] = None
        log("Drifting-grating metrics (p_dg, dsi_dg) are not in the catalog yet, so the fraction "
            "of direction-selective cells cannot be given: compute them with `brainobs analyze "
            "--container ID`.")

    summary["figures"] = figures
    tmp = out / ".summary.json.tmp"
    tmp.write_text(json.dumps(summary, indent=2, default=_json_default))
    os.replace(tmp, out / "summary.json")
    return summary


def _json_default(o: Any) -> Any:
    if isinstance(o, np.generic):
        return o.item()
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")
