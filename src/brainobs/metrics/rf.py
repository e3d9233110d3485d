"""Locally-sparse-noise receptive fields (the ``rf_*_lsn`` columns of the cell table).

Published definition (AllenSDK 2.16.2 ``LocallySparseNoise`` + ``receptive_field_analysis``),
re-implemented vectorized over cells:

1. **Events** — one bool per (cell, trial) from the stored dF/F (:mod:`._events`).
2. **Pixel p-values** — the event-triggered average of the Gaussian-blurred ON (> 127) and
   OFF (< 127) stimulus against ``n_shuffles`` random trial subsets of about the event count
   (size ``n + round(0.1·n·z)``), one-sided; Holm–Sidak over all ON and OFF pixels; pixels
   with adjusted p < ``alpha`` are significant.
3. **Subfields** — 8-connected components of the significant pixels, each fitted with a
   2-D Gaussian on a ≈1°-per-sample grid (:mod:`._rf_fit`). ``rf_area_*`` (deg²) and
   ``rf_center_*`` of the largest ON / OFF subfield, ``rf_distance_lsn`` between them and
   ``rf_overlap_index_lsn`` of their fitted Gaussians; NaN without a subfield.
4. **rf_chi2_lsn** — a separate chi-square test of event counts per pixel against the
   never-co-active pixels of a 7×7 box, Sidak-corrected, minimum over pixels (a p-value).

Units: ``rf_center_*_x/y_lsn`` and ``rf_distance_lsn`` are in up-sampled samples of
``74.4 / n_rows`` per template pixel (≈ degrees), measured from the centre of the top-left
template pixel; x = column, y = row. :func:`centers_in_pixels` converts them to template
pixels of the 4° grid.

Randomness: with the default ``stream="allensdk"`` the shuffles are drawn from
``numpy.random.RandomState(seed)`` (a private instance; global state is untouched) in the same
order as AllenSDK, which re-seeds ``np.random`` with 1 for each cell, so with ``seed=1`` the
p-values — and every column — equal AllenSDK's exactly. ``stream="generator"`` uses
``numpy.random.default_rng(seed)`` instead (agreement within Monte-Carlo error).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd
import xarray as xr

from brainobs.errors import UnknownStimulusError
from brainobs.metrics import qc
from brainobs.metrics._events import detect_events
from brainobs.metrics._rf_fit import GaussianFit, distance, fit_subfields, largest, overlap_index
from brainobs.metrics._rf_ops import DEGREES_PER_ROWS, blur_stimulus
from brainobs.metrics._rf_stats import chi_square_pvalues, holm_sidak, shuffle_pvalues

__all__ = [
    "LSN_COLUMNS",
    "ReceptiveFields",
    "centers_in_pixels",
    "locally_sparse_noise",
    "lsn_stimulus",
    "receptive_field_kernel",
    "receptive_fields",
]

LSN_COLUMNS = (
    "rf_chi2_lsn",
    "rf_area_on_lsn",
    "rf_center_on_x_lsn",
    "rf_center_on_y_lsn",
    "rf_area_off_lsn",
    "rf_center_off_x_lsn",
    "rf_center_off_y_lsn",
    "rf_distance_lsn",
    "rf_overlap_index_lsn",
)
LSN_STIMULI = ("locally_sparse_noise", "locally_sparse_noise_4deg", "locally_sparse_noise_8deg")
_GREY = 127
# frames of dF/F read around the LSN epoch, beyond the trial windows' reach (−2 … +13)
_MARGIN = 16
_SEGMENT = 10  # smoothed samples per trial of the event detection (._events._K_MAX)


@dataclass
class ReceptiveFields:
    """Receptive-field analysis of one locally-sparse-noise stimulus.

    Attributes
    ----------
    table : DataFrame indexed by ``cell_specimen_id`` with :data:`LSN_COLUMNS`.
    stimulus : the stimulus analysed.
    events : bool DataArray (cell, trial).
    pvalues, pvalues_corrected : DataArray (cell, polarity ["on", "off"], row, col) — shuffle
        p-values and their Holm–Sidak adjustment over the 2·rows·cols pixels of each cell.
    significant : bool DataArray (cell, polarity, row, col), ``pvalues_corrected < alpha``.
    rts, rts_convolution : DataArray (cell, polarity, row, col) — event-triggered sum of the
        raw and of the blurred stimulus (the map that is fitted).
    chi2_pvalues : DataArray (cell, row, col), Sidak-corrected chi-square p-value per pixel.
    fits : ``{cell_specimen_id: {"on": [GaussianFit, ...], "off": [...]}}`` every subfield.
    """

    table: pd.DataFrame
    stimulus: str
    events: xr.DataArray
    pvalues: xr.DataArray
    pvalues_corrected: xr.DataArray
    significant: xr.DataArray
    rts: xr.DataArray
    rts_convolution: xr.DataArray
    chi2_pvalues: xr.DataArray
    fits: dict[int, dict[str, list[GaussianFit]]] = field(repr=False)
    alpha: float = 0.05

    @property
    def samples_per_pixel(self) -> float:
        """Up-sampled samples (≈ degrees) per template pixel: 74.4 / rows."""
        return DEGREES_PER_ROWS / self.pvalues.sizes["row"]

    def fitted_maps(self) -> xr.DataArray:
        """Fitted Gaussian of the largest subfield, DataArray (cell, polarity, y, x).

        On the ≈1°-per-sample grid (coordinates in samples); zero where a cell has no subfield.
        """
        ids = self.table.index.to_numpy()
        first = next((f for d in self.fits.values() for v in d.values() for f in v), None)
        nr, nc = self.pvalues.sizes["row"], self.pvalues.sizes["col"]
        step = 1.0 / self.samples_per_pixel
        shape = first.image.shape if first is not None else (
            np.arange(0, nr, step).size,
            np.arange(0, nc, step).size,
        )
        out = np.zeros((ids.size, 2, *shape))
        for i, cid in enumerate(ids):
            for j, pol in enumerate(("on", "off")):
                best = largest(self.fits.get(int(cid), {}).get(pol, []))
                if best is not None:
                    out[i, j] = best.image
        return xr.DataArray(
            out,
            dims=("cell", "polarity", "y", "x"),
            coords={"cell_specimen_id": ("cell", ids), "polarity": ["on", "off"],
                    "y": np.arange(shape[0]), "x": np.arange(shape[1])},
            name="fitted_gaussian",
        )


def lsn_stimulus(session: Any) -> str:
    """The locally-sparse-noise stimulus whose fields are published for ``session``.

    Session C: ``locally_sparse_noise``; session C2: ``locally_sparse_noise_4deg`` when the
    targeted structure is VISp, else ``locally_sparse_noise_8deg``. Other sessions raise
    :class:`~brainobs.errors.UnknownStimulusError` listing the session's stimuli.
    """
    stimuli = list(session.list_stimuli())
    if session.session_type == "three_session_C2":
        name = (
            "locally_sparse_noise_4deg"
            if session.targeted_structure == "VISp"
            else "locally_sparse_noise_8deg"
        )
    else:
        name = "locally_sparse_noise"
    if name not in stimuli:
        from brainobs.metrics.gratings import _where

        raise UnknownStimulusError(name, stimuli, reason=(
            f"{_where(session)} does not show {name!r}, the sparse noise whose receptive "
            "fields are published for this session type."))
    return name


def centers_in_pixels(table: pd.DataFrame, n_rows: int = 16) -> pd.DataFrame:
    """Convert ``rf_center_*_lsn`` (samples) to template pixels of the 4° (16×28) grid.

    ``n_rows`` is the row count of the analysed stimulus (16 for the 4° grids, 8 for the 8°
    grid, whose pixel ``i`` covers 4° pixels ``2i`` and ``2i + 1``).

    >>> t = pd.DataFrame({"rf_center_on_x_lsn": [46.5], "rf_center_on_y_lsn": [9.3]})
    >>> centers_in_pixels(t).round(6).to_dict("records")
    [{'rf_center_on_x_lsn': 10.0, 'rf_center_on_y_lsn': 2.0}]
    """
    if n_rows not in (8, 16):
        raise ValueError(f"n_rows must be 16 or 8, got {n_rows}")
    per_pixel = DEGREES_PER_ROWS / n_rows
    cols = [c for c in table.columns if c.startswith("rf_center_")]
    out = table[cols] / per_pixel
    if n_rows == 8:
        out = out * 2 + 0.5
    return out


def receptive_field_kernel(
    dff: np.ndarray | None,
    starts: np.ndarray,
    ends: np.ndarray,
    frames: np.ndarray,
    template: np.ndarray,
    *,
    cell_specimen_ids: np.ndarray | None = None,
    seed: int = 1,
    n_shuffles: int = 10000,
    alpha: float = 0.05,
    stream: Literal["allensdk", "generator"] = "allensdk",
    stimulus: str = "locally_sparse_noise",
    events: np.ndarray | None = None,
) -> ReceptiveFields:
    """Receptive fields from a dF/F matrix and a locally-sparse-noise trial table.

    Parameters
    ----------
    dff : (n_cells, n_frames) stored dF/F.
    starts, ends : (n_trials,) int start / end imaging frame of each stimulus-table row.
    frames : (n_trials,) int template frame shown on each trial.
    template : (n_template_frames, rows, cols) uint8 (0 = OFF, 127 = grey, 255 = ON);
        rows must be 16 or 8.
    cell_specimen_ids : labels of the dF/F rows (default 0..n_cells−1).
    seed, n_shuffles, stream : the shuffle test (see the module docstring).
    alpha : significance level of the Holm–Sidak-adjusted pixel p-values.
    events : (n_cells, n_trials) bool, optional
        Events already detected (:func:`brainobs.metrics._events.detect_events`); ``dff``
        is then not needed (pass None), so the caller can free it first.

    Examples
    --------
    >>> rf = receptive_field_kernel(dff, st.start, st.end, st.frame, tpl)  # doctest: +SKIP
    >>> rf.table.rf_area_on_lsn                                             # doctest: +SKIP
    """
    starts = np.asarray(starts, dtype=np.int64)
    ends = np.asarray(ends, dtype=np.int64)
    frames = np.asarray(frames, dtype=np.int64)
    template = np.asarray(template)
    if events is None:
        if dff is None:
            raise ValueError("give dff (n_cells, n_frames) or precomputed events")
        dff = np.asarray(dff)
        if not np.issubdtype(dff.dtype, np.floating):
            dff = dff.astype(np.float64)  # float32 stays float32: samples are promoted when gathered
        if dff.ndim != 2:
            raise ValueError(f"dff must be (n_cells, n_frames), got shape {dff.shape}")
    if template.ndim != 3 or template.shape[1] not in (8, 16):
        raise ValueError(f"template must be (frames, 16|8 rows, cols), got shape {template.shape}")
    if not (starts.shape == ends.shape == frames.shape) or starts.ndim != 1:
        raise ValueError("starts, ends and frames must be 1-D arrays of one length")
    if frames.size and (frames.min() < 0 or frames.max() >= template.shape[0]):
        from brainobs.errors import StimulusTableError

        bad = int(np.flatnonzero((frames < 0) | (frames >= template.shape[0]))[0])
        raise StimulusTableError(
            f"template frame indices must lie in [0, {template.shape[0] - 1}]; trial {bad} "
            f"has frame {int(frames[bad])}")
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must lie in (0, 1), got {alpha}")
    if n_shuffles < 1:
        raise ValueError(f"n_shuffles must be ≥ 1, got {n_shuffles}")
    if events is None:
        assert dff is not None
        events = detect_events(dff, starts, ends)  # (C, T)
    events = np.asarray(events, dtype=bool)
    if events.ndim != 2 or events.shape[1] != starts.size:
        raise ValueError(f"events must be (n_cells, {starts.size}), got shape {events.shape}")
    n_cells = events.shape[0]
    ids = (
        np.arange(n_cells, dtype=np.int64)
        if cell_specimen_ids is None
        else np.asarray(cell_specimen_ids, dtype=np.int64)
    )
    _, nr, nc = template.shape
    n_pix = nr * nc

    shown = template[frames]
    # ON/OFF indicators (T, 2P); event counts per pixel are integers, exact in float32.
    raw = np.concatenate(
        [(shown > _GREY).reshape(-1, n_pix), (shown < _GREY).reshape(-1, n_pix)], axis=1
    ).astype(np.float32)
    blurred = np.concatenate(
        [
            blur_stimulus((shown > _GREY).astype(np.float64)).reshape(-1, n_pix),
            blur_stimulus((shown < _GREY).astype(np.float64)).reshape(-1, n_pix),
        ],
        axis=1,
    )
    pvals = shuffle_pvalues(blurred.T, events, n_shuffles=n_shuffles, seed=seed, stream=stream)
    adjusted = holm_sidak(pvals)
    significant = adjusted < alpha
    rts = (events.astype(np.float32) @ raw).astype(np.float64)
    del raw
    rts_conv = events.astype(np.float64) @ blurred
    chi_map, chi_min = chi_square_pvalues(events, template)

    def maps(a: np.ndarray) -> np.ndarray:
        return a.reshape(n_cells, 2, nr, nc)

    sig4, conv4 = maps(significant), maps(rts_conv)
    cols: dict[str, np.ndarray] = {c: np.full(n_cells, np.nan) for c in LSN_COLUMNS}
    cols["rf_chi2_lsn"] = chi_min
    fits: dict[int, dict[str, list[GaussianFit]]] = {}
    for i in np.flatnonzero(sig4.any(axis=(1, 2, 3))):  # only cells with a significant pixel
        cell_fits = {
            pol: fit_subfields(conv4[i, j], sig4[i, j]) for j, pol in enumerate(("on", "off"))
        }
        fits[int(ids[i])] = cell_fits
        on, off = largest(cell_fits["on"]), largest(cell_fits["off"])
        for pol, best in (("on", on), ("off", off)):
            if best is not None:
                cols[f"rf_area_{pol}_lsn"][i] = best.area
                cols[f"rf_center_{pol}_x_lsn"][i] = best.center_x
                cols[f"rf_center_{pol}_y_lsn"][i] = best.center_y
        if on is not None and off is not None:
            cols["rf_distance_lsn"][i] = distance(on, off)
            cols["rf_overlap_index_lsn"][i] = overlap_index(on, off)
    index = pd.Index(ids, name="cell_specimen_id")
    table = pd.DataFrame(cols, index=index)

    coords = {
        "cell_specimen_id": ("cell", ids),
        "polarity": ["on", "off"],
        "row": np.arange(nr),
        "col": np.arange(nc),
    }
    dims4 = ("cell", "polarity", "row", "col")

    def da(a: np.ndarray, name: str) -> xr.DataArray:
        return xr.DataArray(maps(a), dims=dims4, coords=coords, name=name,
                            attrs={"stimulus": stimulus})

    return ReceptiveFields(
        table=table,
        stimulus=stimulus,
        events=xr.DataArray(
            events,
            dims=("cell", "trial"),
            coords={"cell_specimen_id": ("cell", ids), "trial": np.arange(starts.size)},
            name="events",
        ),
        pvalues=da(pvals, "pvalues"),
        pvalues_corrected=da(adjusted, "pvalues_corrected"),
        significant=da(significant, "significant"),
        rts=da(rts, "rts"),
        rts_convolution=da(rts_conv, "rts_convolution"),
        chi2_pvalues=xr.DataArray(
            chi_map,
            dims=("cell", "row", "col"),
            coords={"cell_specimen_id": ("cell", ids), "row": np.arange(nr),
                    "col": np.arange(nc)},
            name="chi2_pvalues",
        ),
        fits=fits,
        alpha=alpha,
    )


def receptive_fields(
    session: Any,
    *,
    stimulus: str | None = None,
    seed: int = 1,
    n_shuffles: int = 10000,
    alpha: float = 0.05,
    stream: Literal["allensdk", "generator"] = "allensdk",
) -> ReceptiveFields:
    """Full receptive-field analysis of a session (table, maps, fits).

    Parameters
    ----------
    session : :class:`brainobs.io.Session`.
    stimulus : which LSN stimulus (default: the published one, see :func:`lsn_stimulus`).
    seed, n_shuffles, alpha, stream : see :func:`receptive_field_kernel`.

    Examples
    --------
    >>> rf = receptive_fields(session, n_shuffles=2000)             # doctest: +SKIP
    >>> rf.significant.sel(polarity="on").sum(("row", "col"))       # doctest: +SKIP
    """
    from brainobs.errors import StimulusTableError
    from brainobs.io.stimulus import check_table
    from brainobs.metrics.gratings import _where

    name = lsn_stimulus(session) if stimulus is None else stimulus
    if name not in LSN_STIMULI:
        raise UnknownStimulusError(name, LSN_STIMULI, kind="locally sparse noise stimulus")
    table = session.stimulus_table(name)  # raises UnknownStimulusError if absent
    template = session.stimulus_template(name)
    check_table(name, table, where=_where(session), min_rows=2, n_templates=template.shape[0])
    n_frames = int(session.n_frames)
    # trials whose 10-sample event segment leaves the recording are left out (and counted)
    st_all = table["start"].to_numpy(np.int64)
    inside = (st_all >= 0) & (st_all + _SEGMENT <= n_frames + 4)
    if inside.sum() < 2:
        raise StimulusTableError(
            f"{name} table of {_where(session)}: {int(inside.sum())} of its {len(table)} "
            f"presentations lie inside the recording (frames 0 .. {n_frames - 1}); the "
            "receptive-field analysis needs at least 2")
    table = table[inside]
    starts = table["start"].to_numpy(np.int64)
    ends = table["end"].to_numpy(np.int64)
    lo = int(starts.min()) - _MARGIN
    hi = int(starts.max()) + _MARGIN
    # read only the epoch; reaching a trace end reads to that end so edge reflection is exact
    lo = 0 if lo <= 0 else lo
    hi = n_frames if hi >= n_frames else hi
    dff = session.dff(frames=(lo, hi)).values  # float32 as stored; no float64 copy of the epoch
    # cells with NaN/inf in the epoch: NaN with a reason; a constant stand-in meanwhile
    reason = qc.cell_flags(dff)
    dff = qc.replace_bad(dff, reason)
    events = detect_events(dff, starts - lo, ends - lo)
    del dff  # only the events are needed from here on: free the epoch's traces
    rf = receptive_field_kernel(
        None,
        starts - lo,
        ends - lo,
        table["frame"].to_numpy(np.int64),
        template,
        cell_specimen_ids=np.asarray(session.cell_specimen_ids, dtype=np.int64),
        seed=seed,
        n_shuffles=n_shuffles,
        alpha=alpha,
        stream=stream,
        stimulus=name,
        events=events,
    )
    qc.apply(rf.table, reason, "qc_lsn", family="locally_sparse_noise", stimulus=name,
             n_trials=len(inside), trials_excluded=int((~inside).sum()))
    bad = reason != ""
    if bad.any():  # the maps of an excluded cell are NaN too (its events are all False)
        for attr in ("pvalues", "pvalues_corrected", "rts", "rts_convolution", "chi2_pvalues"):
            arr = getattr(rf, attr).astype(np.float64)
            arr.values[bad] = np.nan
            setattr(rf, attr, arr)
        for cid in np.asarray(rf.table.index)[bad]:
            rf.fits.pop(int(cid), None)
    return rf


def locally_sparse_noise(
    session: Any,
    *,
    stimulus: str | None = None,
    seed: int = 1,
    n_shuffles: int = 10000,
    alpha: float = 0.05,
    stream: Literal["allensdk", "generator"] = "allensdk",
) -> pd.DataFrame:
    """The published ``rf_*_lsn`` columns of a session C or C2, one row per cell.

    See the module docstring for definitions and units, and :func:`receptive_fields` for the
    maps and fits behind the table.

    >>> locally_sparse_noise(session)[["rf_chi2_lsn", "rf_area_on_lsn"]]   # doctest: +SKIP
    """
    return receptive_fields(
        session, stimulus=stimulus, seed=seed, n_shuffles=n_shuffles, alpha=alpha, stream=stream
    ).table
