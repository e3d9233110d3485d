"""Natural-scene metrics (``*_ns``), exactly as published (AllenSDK 2.16 ``NaturalScenes``).

- Windows from the table's second row (sweeplength L, interlength 4L, extralength L), local
  %dF/F of the corrected fluorescence and mean sweep responses: :mod:`brainobs.metrics.sweep`.
- Conditions: one per distinct ``frame`` value; condition k holds image ``k - 1`` (frame −1 is
  the blank). Condition means skip NaN trials.
- ``pref_image_ns = np.argmax`` of the image means (0-based image number; a NaN mean wins, as
  published); ``peak_dff_ns`` its mean.
- ``p_ns``: one-way ANOVA over all conditions (images + blank) of per-trial mean responses.
- ``time_to_peak_ns = (argmax of the mean preferred-image trace - interlength) / rate``.
- ``reliability_ns``: mean pairwise Pearson r of preferred-image trial traces, window frames
  28:42.
- ``image_sel_ns = 1 - 2 A``, A = mean over thresholds ``thr_j = min + j (max - min) / 1000``
  (j = 0..999) of the fraction of image means strictly above ``thr_j`` (a NaN image mean makes
  min/max NaN, hence A = 0 and 1.0, as published).
- ``run_mod_ns``, ``p_run_mod_ns``: :mod:`brainobs.metrics.running` (> 4 trials per side).

Extra columns:

- ``image_sel_ns_sparseness`` — lifetime sparseness of the image means clipped at 0,
  ``(1 - (Σr)² / (N Σr²)) / (1 - 1/N)`` in [0, 1] (de Vries et al. 2020), NaN if all are ≤ 0.
- ``frac_sig_trials_ns`` — the fraction of the trials of the cell's preferred image
  (``pref_image_ns``, as published) whose own per-sweep p-value (the published per-sweep ANOVA,
  ``StimulusResult.pval``) is < 0.05; trials with a NaN p-value count in neither numerator nor
  denominator; NaN when every image mean is NaN (no preferred image). An analogue of
  de Vries et al. 2020's event-based rule (responsive when > 25 % of the preferred-condition
  trials respond); not the survey's rule, which needs L0 events.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from brainobs import vocab
from brainobs.metrics import qc
from brainobs.metrics.gratings import (
    StimulusResult,
    _check_table,
    _index,
    _offset_for,
    _result,
    _session_inputs,
    _speed,
    _with_original_frames,
)
from brainobs.metrics.running import running_modulation
from brainobs.metrics.sweep import (
    WindowSpec,
    _as_traces,
    condition_stats,
    oneway_anova,
    preferred_trial_fraction,
    preferred_trial_stats,
    sweep_summary,
    window_spec,
)

__all__ = ["NS_COLUMNS", "image_selectivity", "natural_scenes", "natural_scenes_from_traces",
           "natural_scenes_result"]

NS_COLUMNS = ["pref_image_ns", "p_ns", "image_sel_ns", "time_to_peak_ns", "reliability_ns",
              "peak_dff_ns", "run_mod_ns", "p_run_mod_ns"]

_N_THRESHOLDS = 1000


def image_selectivity(image_means: Any) -> np.ndarray:
    """Published image selectivity ``1 - 2 A`` of each row of image means (vectorized).

    Examples
    --------
    >>> float(image_selectivity([[0.0, 0.0, 0.0, 1.0]])[0])
    0.5
    """
    r = np.asarray(image_means, dtype=np.float64)
    if r.ndim == 1:
        r = r[None, :]
    fmin, fmax = r.min(axis=1), r.max(axis=1)  # NaN propagates, as published
    j = np.arange(_N_THRESHOLDS, dtype=np.float64)
    thr = fmin[:, None] + j[None, :] * ((fmax - fmin) / float(_N_THRESHOLDS))[:, None]
    # fraction of images strictly above each threshold, in chunks of cells (~16 MB of bools)
    above = np.empty((r.shape[0], _N_THRESHOLDS))
    step = max(1, 16_000_000 // (_N_THRESHOLDS * max(1, r.shape[1])))
    for lo in range(0, r.shape[0], step):
        above[lo : lo + step] = (r[lo : lo + step, None, :] > thr[lo : lo + step, :, None]).sum(axis=2)
    a = (above / r.shape[1]).mean(axis=1)
    return 1.0 - 2.0 * a


def _sparseness(r: np.ndarray) -> np.ndarray:
    x = np.clip(np.where(np.isnan(r), 0.0, r), 0, None)
    n = x.shape[1]
    with np.errstate(divide="ignore", invalid="ignore"):
        s = (1 - x.sum(axis=1) ** 2 / (n * (x * x).sum(axis=1))) / (1 - 1 / n)
    return s


def natural_scenes_from_traces(
    traces: Any,
    table: pd.DataFrame,
    *,
    frame_rate: float,
    running_speed: Any = None,
    cell_specimen_ids: Any = None,
    trace_kind: str = "fluorescence",
    spec: WindowSpec | None = None,
    out_of_range: str = "raise",
    n_images: int | None = None,
) -> StimulusResult:
    """Natural-scene metrics from a trace matrix and a trial table.

    Parameters
    ----------
    traces : array (n_cells, n_frames)
        Corrected fluorescence (or dF/F with ``trace_kind="dff"``).
    table : DataFrame
        ``frame`` (image number, −1 = blank), ``start``, ``end`` per trial.
    frame_rate : float
        For ``time_to_peak_ns`` (published: ``1 / (t1 - t0)``).
    running_speed, cell_specimen_ids, spec, out_of_range
        As :func:`brainobs.metrics.gratings.static_gratings_from_traces`.
    n_images : int, optional
        Number of images (118 in the Brain Observatory; the session functions pass it): a
        frame ≥ ``n_images`` raises :class:`~brainobs.errors.StimulusTableError`, as does a
        frame that is not a whole number ≥ −1 (always checked).

    Returns
    -------
    StimulusResult
        ``.responses`` is ``(cell, image)`` with the blank (−1) first.
    """
    what = "natural_scenes_from_traces"
    tr = _as_traces(traces)
    offset = _offset_for(trace_kind)
    _check_table(table, ["frame", "start"], what)
    if not (frame_rate and np.isfinite(frame_rate) and frame_rate > 0):
        raise ValueError(f"{what}: frame_rate must be a positive number, got {frame_rate!r}")
    t = table.copy().reset_index(drop=True)
    spec = spec or window_spec("natural_scenes", t)
    starts = np.asarray(t["start"]).astype(np.int64)
    frame = np.asarray(t["frame"], dtype=np.float64)
    bad_frame = ~np.isfinite(frame) | (frame != np.round(frame)) | (frame < -1)
    if n_images is not None:
        bad_frame |= frame >= n_images
    if bad_frame.any():
        from brainobs.errors import StimulusTableError

        i = int(np.flatnonzero(bad_frame)[0])
        top = f"0 .. {n_images - 1}" if n_images is not None else "an image number ≥ 0"
        raise StimulusTableError(
            f"{what}: trial {i} has frame {frame[i]:g} ({int(bad_frame.sum())} bad trial(s)); "
            f"valid: -1 (blank) or {top}")
    n_cond = int(np.unique(frame).size)  # published: condition k ↔ frame k − 1
    codes = (frame + 1).astype(np.int64)
    codes = np.where((codes >= 0) & (codes < n_cond), codes, -1)
    raw, screen = tr, qc.screen_sweeps(tr, starts, spec, out_of_range)
    tr = screen.traces  # excluded cells replaced by a constant: NaN in the table below
    codes = np.where(screen.trial_ok, codes, -1)  # trials outside the recording: left out
    t["condition"] = codes

    msr, pval = sweep_summary(tr, starts, spec, offset=offset, out_of_range=out_of_range)
    speed = _speed(running_speed, starts, spec)
    t["running_speed"] = speed
    means, sem, n_all, _ = condition_stats(msr, codes, n_cond)
    images = means[:, 1:]
    pref = np.argmax(images, axis=1)  # np.argmax: the first NaN wins, as published
    cells = np.arange(tr.shape[0])
    peak = images[cells, pref]
    p_ns = oneway_anova(msr, codes, n_cond)
    pref_code = pref + 1
    rel, peak_frame = preferred_trial_stats(tr, starts, codes, pref_code, spec, slice(28, 42),
                                            offset=offset)
    pref_mask = codes[None, :] == pref_code[:, None]
    run_mod, p_run = running_modulation(msr, speed, pref_mask, min_trials=4)

    index = _index(cell_specimen_ids, tr.shape[0])
    out = pd.DataFrame(index=index)
    out["pref_image_ns"] = pref.astype(np.int64)
    out["p_ns"] = p_ns
    out["image_sel_ns"] = image_selectivity(images)
    out["time_to_peak_ns"] = peak_frame / float(frame_rate)
    out["reliability_ns"] = rel
    out["peak_dff_ns"] = peak
    out["run_mod_ns"] = run_mod
    out["p_run_mod_ns"] = p_run
    out["image_sel_ns_sparseness"] = _sparseness(images)
    has_pref = ~np.isnan(images).all(axis=1)
    out["frac_sig_trials_ns"] = preferred_trial_fraction(pval, codes,
                                                         np.where(has_pref, pref_code, -1))
    qc.apply(out, screen.cell_reason, "qc_ns", family="natural_scenes",
             stimulus="natural_scenes", n_trials=len(t),
             trials_excluded=int((~screen.trial_ok).sum()))
    out.attrs["trace_kind"] = trace_kind

    img = np.arange(n_cond) - 1
    coords = {"cell": index.to_numpy(), "image": img, "n_trials": ("image", n_all)}
    responses = xr.DataArray(means, dims=("cell", "image"), coords=coords, name="mean_response",
                             attrs={"units": "%dF/F", "blank": "image -1"})
    sem_da = xr.DataArray(sem, dims=("cell", "image"), coords=coords, name="sem")
    return _result(out, responses, sem_da, means[:, 0], int(n_all[0]), msr, pval, t, spec, raw,
                   offset, screen.bad)


def natural_scenes_result(session: Any) -> StimulusResult:
    """:func:`natural_scenes` with the labelled arrays (:class:`StimulusResult`)."""
    traces, table, speed, rate, ids, original = _session_inputs(session, "natural_scenes")
    res = natural_scenes_from_traces(traces, table, frame_rate=rate, running_speed=speed,
                                     cell_specimen_ids=ids, out_of_range="allensdk",
                                     n_images=vocab.N_NATURAL_SCENES)
    return _with_original_frames(res, original)


def natural_scenes(session: Any) -> pd.DataFrame:
    """Natural-scene metrics of a session (published ``*_ns`` columns plus
    ``image_sel_ns_sparseness`` and ``frac_sig_trials_ns``), indexed by ``cell_specimen_id``.

    Examples
    --------
    >>> natural_scenes(session)[["pref_image_ns", "image_sel_ns", "p_ns"]]  # doctest: +SKIP
    """
    return natural_scenes_result(session).table
