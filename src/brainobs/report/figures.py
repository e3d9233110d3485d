"""Figures of the story and of the comparison, as matplotlib ``Figure`` objects.

Built with the object-oriented API (``matplotlib.figure.Figure``), so nothing here touches
pyplot's global state or the backend; callers save or embed them.
"""

from __future__ import annotations

import base64
import io
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from brainobs import plot
from brainobs.plot.style import synthetic_badge

DPI = 100


def new_figure(width: float = 6.0, height: float = 4.0, *, polar: bool = False,
               ncols: int = 1) -> tuple[Figure, Any]:
    """A figure with ``ncols`` axes (a single Axes when 1)."""
    fig = Figure(figsize=(width, height), dpi=DPI, layout="constrained")
    kw = {"projection": "polar"} if polar else {}
    axes = [fig.add_subplot(1, ncols, i + 1, **kw) for i in range(ncols)]
    return fig, axes[0] if ncols == 1 else axes


def png_bytes(fig: Figure, dpi: int = 110) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    return buf.getvalue()


def data_uri(fig: Figure) -> str:
    """The figure as an embeddable ``data:image/png;base64,...`` URI (no file, no network)."""
    return "data:image/png;base64," + base64.b64encode(png_bytes(fig)).decode("ascii")


def _badge(ax: Any, synthetic: bool, loc: str = "lower right") -> None:
    if synthetic:
        synthetic_badge(ax, loc=loc)


def max_projection_figure(session: Any, *, synthetic: bool = False, title: str | None = None) -> Figure:
    fig, ax = new_figure(5.5, 5.5)
    plot.max_projection(session.max_projection, ax, masks=session.roi_masks())
    ax.set_title(title or f"Experiment {session.ophys_experiment_id}: max projection, "
                 f"{session.n_cells} ROIs")
    _badge(ax, synthetic)
    return fig


def traces_figure(session: Any, n_cells: int = 10, seconds: float | None = 180.0, *,
                  synthetic: bool = False) -> Figure:
    """``n_cells`` dF/F traces stacked, stimulus epochs shaded (the first ``seconds`` that
    contain a natural-scenes epoch start, or the whole session when None)."""
    ids = list(session.cell_specimen_ids[:n_cells])
    epochs = session.stimulus_epoch_table()
    times = None
    if seconds is not None:
        ns = epochs[epochs["stimulus"] == "natural_scenes"]
        start = float(ns["start_time"].iloc[0]) - 20.0 if len(ns) else float(session.timestamps[0])
        start = max(start, float(session.timestamps[0]))
        times = (start, start + seconds)
    dff = session.dff(cell_specimen_ids=ids, times=times)
    t = dff["time"].to_numpy()
    shown = epochs[(epochs["end_time"] > t[0]) & (epochs["start_time"] < t[-1])].copy()
    shown["start_time"] = shown["start_time"].clip(lower=t[0])
    shown["end_time"] = shown["end_time"].clip(upper=t[-1])
    fig, ax = new_figure(9.0, 5.5)
    plot.stacked_traces(t, dff.values, ax, labels=ids, epochs=shown)
    # suptitle: the epoch legend sits just above the axes
    fig.suptitle(f"dF/F of {len(ids)} cells, experiment {session.ophys_experiment_id}")
    _badge(ax, synthetic)
    return fig


def preferred_image_figure(pref_images: np.ndarray, n_images: int, n_significant: int, *,
                           synthetic: bool = False) -> Figure:
    fig, ax = new_figure(8.0, 3.2)
    plot.preferred_image_histogram(pref_images, ax, n_images=n_images)
    ax.set_title(f"Preferred image of the {n_significant} cells with p_ns < 0.05")
    _badge(ax, synthetic)
    return fig


def image_figure(image: np.ndarray, title: str) -> Figure:
    fig, ax = new_figure(5.0, 4.0)
    plot.stimulus_image(image, ax, title=title)
    return fig


def dsi_figure(cells: pd.DataFrame, title: str, *, synthetic: bool = False) -> Figure:
    fig, ax = new_figure(6.0, 3.6)
    resp = (cells["p_dg"] < 0.05).to_numpy()
    plot.dsi_histogram(cells["dsi_dg"].to_numpy(dtype=float), ax, responsive=resp)
    ax.set_title(title)
    _badge(ax, synthetic)
    return fig


def tuning_figure(responses: Any, sem: Any, cell: int, *, synthetic: bool = False) -> Figure:
    """Polar direction tuning at the preferred TF and TF tuning at the preferred direction."""
    r = responses.sel(cell=cell)
    s = sem.sel(cell=cell)
    dirs = r["direction"].to_numpy()
    tfs = r["temporal_frequency"].to_numpy()
    d, f = np.unravel_index(int(np.nanargmax(r.values)), r.shape)
    fig = Figure(figsize=(9.0, 3.8), dpi=DPI, layout="constrained")
    ax1 = fig.add_subplot(1, 2, 1, projection="polar")
    plot.direction_tuning_polar(r.values[:, f], dirs, ax1, sem=s.values[:, f])
    ax1.set_title(f"cell {cell}: direction tuning at {tfs[f]:g} Hz", fontsize=9)
    ax2 = fig.add_subplot(1, 2, 2)
    plot.tf_tuning(r.values[d, :], tfs, ax2, sem=s.values[d, :])
    ax2.set_title(f"temporal-frequency tuning at {dirs[d]:g}°", fontsize=9)
    _badge(ax2, synthetic)
    return fig


def comparison_figure(res: Any, table: pd.DataFrame, *, synthetic: bool = False,
                      width: float | None = None) -> Figure:
    fig, ax = new_figure(width or max(6.0, 0.55 * len(res.groups) + 2.5), 4.2)
    plot.comparison(res, table, ax)
    _badge(ax, synthetic, "upper right")  # bars and violins rise from the bottom
    return fig


def heatmap_figure(fractions: pd.DataFrame, counts: pd.DataFrame, title: str, *,
                   synthetic: bool = False) -> Figure:
    fig, ax = new_figure(max(5.5, 0.9 * fractions.shape[1] + 3), max(3.0, 0.35 * len(fractions) + 1.5))
    plot.fraction_heatmap(fractions, ax, counts=counts)
    ax.set_title(title)
    _badge(ax, synthetic)
    return fig


def composition_figure(composition: pd.DataFrame, title: str, *, synthetic: bool = False) -> Figure:
    fig, ax = new_figure(8.0, max(2.5, 0.4 * len(composition) + 1.5))
    plot.class_composition(composition, ax)
    ax.set_title(title)
    _badge(ax, synthetic)
    return fig


def decoding_figure(summary: pd.DataFrame, title: str, *, synthetic: bool = False) -> Figure:
    fig, ax = new_figure(max(5.0, 0.8 * len(summary) + 2), 3.6)
    plot.decoding_accuracy(summary, ax)
    fig.suptitle(title)  # the legend sits just above the axes
    _badge(ax, synthetic)
    return fig


__all__ = ["comparison_figure", "composition_figure", "data_uri", "decoding_figure", "dsi_figure",
           "heatmap_figure", "image_figure", "max_projection_figure", "new_figure", "png_bytes",
           "preferred_image_figure", "traces_figure", "tuning_figure"]
