"""Ground truth of synthetic cells and the forward model from stimulus to fluorescence."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from scipy.signal import lfilter

from brainobs import vocab
from brainobs.synth.schedule import FLASH_FRAMES, Presentation

LSN_SHAPE = (16, 28)
N_IMG = vocab.N_NATURAL_SCENES
DIRS = np.asarray(vocab.DG_DIRECTIONS)
TFS = np.asarray(vocab.DG_TEMPORAL_FREQUENCIES)
ORIS = np.asarray(vocab.SG_ORIENTATIONS)
SFS = np.asarray(vocab.SG_SPATIAL_FREQUENCIES)
PHASES = np.asarray(vocab.SG_PHASES)
LATENCY_FRAMES = 2


def _beta(rng: np.random.Generator, ab: list[float], n: int) -> np.ndarray:
    return rng.beta(ab[0], ab[1], n)


def _lognormal(rng: np.random.Generator, med_sigma: list[float], n: int) -> np.ndarray:
    return med_sigma[0] * np.exp(med_sigma[1] * rng.standard_normal(n))


def _probabilities(weights: list[float]) -> np.ndarray:
    w = np.asarray(weights, dtype=np.float64)
    return w / w.sum()


def direction_profile(offset_deg: np.ndarray, dsi: np.ndarray, osi: np.ndarray) -> np.ndarray:
    """Direction tuning (peak 1) whose DSI and OSI over the 8 directions equal ``dsi``/``osi``.

    With null response d = (1-DSI)/(1+DSI) and orthogonal o = (1-OSI)/(1+OSI),
    R(Δ) = o + (1-o)·g(Δ) + (d-o)·g(Δ-180°) where g = max(cos Δ, 0)², so R(0)=1, R(90)=o,
    R(180)=d exactly. ``offset_deg`` broadcasts against ``dsi[:, None]``.
    """
    d = ((1 - dsi) / (1 + dsi))[:, None]
    o = ((1 - osi) / (1 + osi))[:, None]
    rad = np.deg2rad(offset_deg)
    g0 = np.maximum(np.cos(rad), 0) ** 2
    g1 = np.maximum(np.cos(rad - np.pi), 0) ** 2
    return np.clip(o + (1 - o) * g0 + (d - o) * g1, 0, None)


def orientation_profile(offset_deg: np.ndarray, osi: np.ndarray) -> np.ndarray:
    """Orientation tuning (peak 1, value o=(1-OSI)/(1+OSI) at 90°)."""
    o = ((1 - osi) / (1 + osi))[:, None]
    return o + (1 - o) * np.cos(np.deg2rad(offset_deg)) ** 2


def sample_cells(rng: np.random.Generator, n: int, cre: str, line: dict[str, Any],
                 noise: dict[str, Any], indicator: str) -> pd.DataFrame:
    """Draw the ground-truth parameters of ``n`` cells of one container.

    ``line`` holds the effective parameters of the container's Cre line, area and depth
    (:func:`brainobs.synth.config.resolve_cell_params`): responsive fractions, RF
    probability, amplitude and noise distributions, and the preferred TF / SF weights.
    """
    fr = line["frac_responsive"]
    df = pd.DataFrame({"roi_index": np.arange(n)})
    df["amplitude"] = _lognormal(rng, line["amplitude"], n)
    df["tau_decay_s"] = noise["tau_decay_6s" if indicator == "GCaMP6s" else "tau_decay_6f"] * \
        np.exp(0.1 * rng.standard_normal(n))
    df["noise_sd"] = _lognormal(rng, line["noise_sd"], n)
    df["neuropil_r"] = np.clip(noise["neuropil_r"][0] + noise["neuropil_r"][1] *
                               rng.standard_normal(n), 0.3, 1.0)
    df["f0"] = _lognormal(rng, noise["f0"], n)
    df["responsive_dg"] = rng.random(n) < fr["dg"]
    df["pref_dir_dg"] = rng.choice(DIRS, n)
    df["pref_tf_dg"] = rng.choice(TFS, n, p=_probabilities(line["pref_tf_weights"]))
    df["dsi_dg"] = _beta(rng, line["dsi_dg"], n)
    df["osi_dg"] = _beta(rng, line["osi_dg"], n)
    df["responsive_sg"] = rng.random(n) < fr["sg"]
    df["pref_ori_sg"] = rng.choice(ORIS, n)
    df["pref_sf_sg"] = rng.choice(SFS, n, p=_probabilities(line["pref_sf_weights"]))
    df["pref_phase_sg"] = rng.choice(PHASES, n)
    df["osi_sg"] = _beta(rng, line["osi_sg"], n)
    df["responsive_ns"] = rng.random(n) < fr["ns"]
    df["pref_image_ns"] = rng.integers(0, N_IMG, n)
    df["image_sel_ns"] = _beta(rng, line["image_sel_ns"], n)
    df["responsive_nm"] = rng.random(n) < fr["nm"]
    has_rf = rng.random(n) < line["rf_probability"]
    kind = rng.choice(3, n, p=[0.4, 0.3, 0.3])  # both, ON only, OFF only
    on_x, on_y = rng.uniform(3, 24, n), rng.uniform(2, 13, n)
    off_x = np.clip(on_x + rng.uniform(-2.5, 2.5, n), 0, 27)
    off_y = np.clip(on_y + rng.uniform(-2.5, 2.5, n), 0, 15)
    has_on = has_rf & (kind != 2)
    has_off = has_rf & (kind != 1)
    df["has_rf"] = has_rf
    df["rf_on_x"] = np.where(has_on, on_x, np.nan)
    df["rf_on_y"] = np.where(has_on, on_y, np.nan)
    df["rf_off_x"] = np.where(has_off, off_x, np.nan)
    df["rf_off_y"] = np.where(has_off, off_y, np.nan)
    df["rf_sigma"] = rng.uniform(1.0, 2.0, n)
    df["run_mod"] = _lognormal(rng, line["run_mod"], n)
    # Per-cell tuning curves (kept as private columns, dropped before writing).
    df.attrs["ns_rank"] = np.argsort(rng.random((n, N_IMG)), axis=1)
    df.attrs["movie_seed"] = int(rng.integers(2**31))
    return df


def ns_profile(cells: pd.DataFrame) -> np.ndarray:
    """(cells, 118) sparse image tuning, 1 at the preferred image."""
    rank = cells.attrs["ns_rank"].copy()
    pref = cells["pref_image_ns"].to_numpy()
    rows = np.arange(len(cells))
    # Put rank 0 at the preferred image.
    where0 = np.argmin(rank, axis=1)
    rank[rows, where0], rank[rows, pref] = rank[rows, pref], rank[rows, where0]
    lam = 0.5 + 12.0 * (1.0 - cells["image_sel_ns"].to_numpy()) ** 2
    return np.exp(-rank / lam[:, None])


def movie_profile(cells: pd.DataFrame, movie: str, n_frames: int) -> np.ndarray:
    """(cells, n_frames) reliable response to a movie: sparse bumps, peak 1."""
    rng = np.random.default_rng([cells.attrs["movie_seed"], vocab.MOVIE_STIMULI.index(movie)])
    n = len(cells)
    k = max(2, n_frames // 90)
    pos = rng.uniform(0, n_frames, (n, k))
    width = rng.uniform(3, 8, (n, k))
    height = rng.uniform(0.3, 1.0, (n, k))
    t = np.arange(n_frames, dtype=np.float32)
    prof = np.zeros((n, n_frames), np.float32)
    for j in range(k):  # loop over bumps, vectorized over cells and frames
        prof += height[:, j, None] * np.exp(-0.5 * ((t - pos[:, j, None]) / width[:, j, None]) ** 2)
    return prof / prof.max(axis=1, keepdims=True)


def rf_weights(cells: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """(cells, 16*28) Gaussian ON and OFF subfield weights on the 4° grid (0 when absent)."""
    yy, xx = np.mgrid[0:LSN_SHAPE[0], 0:LSN_SHAPE[1]]
    sig = cells["rf_sigma"].to_numpy()[:, None]
    out = []
    for pol in ("on", "off"):
        x = cells[f"rf_{pol}_x"].to_numpy()[:, None]
        y = cells[f"rf_{pol}_y"].to_numpy()[:, None]
        g = np.exp(-((xx.ravel() - x) ** 2 + (yy.ravel() - y) ** 2) / (2 * sig**2))
        out.append(np.nan_to_num(g, nan=0.0))
    return out[0], out[1]


def row_responses(cells: pd.DataFrame, pres: Presentation, templates: dict[str, np.ndarray]
                  ) -> np.ndarray:
    """(cells, rows) response (dF/F drive) of every cell to every row of a stimulus table."""
    amp = cells["amplitude"].to_numpy()[:, None]
    n = len(cells)
    v = pres.values
    name = pres.name
    if v is None:  # spontaneous: no stimulus drive
        return np.zeros((n, len(pres.start)))
    if name == "drifting_gratings":
        blank = v[:, 2] > 0
        d = np.where(blank, 0.0, v[:, 1])
        tf = np.where(blank, 1.0, v[:, 0])
        dirp = direction_profile(d[None, :] - cells["pref_dir_dg"].to_numpy()[:, None],
                                 cells["dsi_dg"].to_numpy(), cells["osi_dg"].to_numpy())
        oct_ = np.log2(tf[None, :] / cells["pref_tf_dg"].to_numpy()[:, None])
        r = amp * dirp * np.exp(-0.5 * oct_**2)
        r[:, blank] = 0.0
        return r * cells["responsive_dg"].to_numpy()[:, None]
    if name == "static_gratings":
        blank = np.isnan(v[:, 0])
        o = np.nan_to_num(v[:, 0])
        sf = np.where(blank, 0.04, v[:, 1])
        ph = np.nan_to_num(v[:, 2])
        orp = orientation_profile(o[None, :] - cells["pref_ori_sg"].to_numpy()[:, None],
                                  cells["osi_sg"].to_numpy())
        oct_ = np.log2(sf[None, :] / cells["pref_sf_sg"].to_numpy()[:, None])
        php = 1.0 + 0.25 * np.cos(2 * np.pi * (ph[None, :] - cells["pref_phase_sg"].to_numpy()[:, None]))
        r = amp * orp * np.exp(-0.5 * oct_**2) * php / 1.25
        r[:, blank] = 0.0
        return r * cells["responsive_sg"].to_numpy()[:, None]
    if name == "natural_scenes":
        prof = ns_profile(cells)
        idx = v.astype(np.int64)
        r = amp * prof[:, np.clip(idx, 0, N_IMG - 1)]
        r[:, idx < 0] = 0.0
        return r * cells["responsive_ns"].to_numpy()[:, None]
    if name.startswith("locally_sparse_noise"):
        tpl = templates[name][v.astype(np.int64)]
        if tpl.shape[1:] != LSN_SHAPE:  # 8° grid: each pixel covers 2×2 4° pixels
            f = LSN_SHAPE[0] // tpl.shape[1]
            tpl = tpl.repeat(f, axis=1).repeat(f, axis=2)
        flat = tpl.reshape(len(tpl), -1)
        w_on, w_off = rf_weights(cells)
        drive = (flat == 255).astype(np.float32) @ w_on.T.astype(np.float32) + \
            (flat == 0).astype(np.float32) @ w_off.T.astype(np.float32)
        return amp * np.minimum(drive.T, 1.5)
    if name in vocab.MOVIE_STIMULI:
        n_frames = int(v.max()) + 1
        prof = movie_profile(cells, name, n_frames)
        return amp * 0.7 * prof[:, v.astype(np.int64)] * cells["responsive_nm"].to_numpy()[:, None]
    return np.zeros((n, len(pres.start)))


def frame_rows(pres: Presentation) -> tuple[np.ndarray, np.ndarray]:
    """Frames covered by a table's rows and the row index of each such frame."""
    lengths = pres.end - pres.start
    rows = np.repeat(np.arange(len(lengths)), lengths)
    frames = np.repeat(pres.start, lengths) + (np.arange(len(rows)) -
                                               np.repeat(np.cumsum(lengths) - lengths, lengths))
    return frames, rows


def stimulus_drive(cells: pd.DataFrame, tables: dict[str, Presentation], n_frames: int,
                   templates: dict[str, np.ndarray], running: np.ndarray, frame_rate: float
                   ) -> np.ndarray:
    """(cells, frames) stimulus-evoked drive, scaled so a sustained response peaks at amplitude."""
    n = len(cells)
    drive = np.zeros((n, n_frames), np.float32)
    tau = cells["tau_decay_s"].to_numpy()[:, None] * frame_rate
    for name, pres in tables.items():
        if name == "spontaneous":
            continue
        r = row_responses(cells, pres, templates).astype(np.float32)
        if name not in ("drifting_gratings",) and name not in vocab.MOVIE_STIMULI:
            r /= (1 - np.exp(-FLASH_FRAMES / tau)).astype(np.float32)  # brief flashes
        frames, rows = frame_rows(pres)
        drive[:, frames] = r[:, rows]
    run_mod = cells["run_mod"].to_numpy(np.float32)[:, None]
    drive[:, running] *= run_mod
    drive[:, LATENCY_FRAMES:] = drive[:, :-LATENCY_FRAMES].copy()
    drive[:, :LATENCY_FRAMES] = 0
    return drive


def calcium(drive: np.ndarray, tau_frames: np.ndarray) -> np.ndarray:
    """First-order calcium filter per cell: c[t] = a c[t-1] + (1-a) drive[t]."""
    out = np.empty_like(drive, dtype=np.float32)
    a = np.exp(-1.0 / tau_frames)
    for i in range(len(drive)):  # lfilter is per-coefficient; one call per cell (C loop inside)
        out[i] = lfilter([1 - a[i]], [1, -a[i]], drive[i])
    return out


def smooth_noise(rng: np.random.Generator, n: int, n_frames: int, step: int) -> np.ndarray:
    """(n, n_frames) unit-variance slow noise: white noise on a coarse grid, interpolated."""
    m = n_frames // step + 2
    coarse = rng.standard_normal((n, m)).astype(np.float32)
    k = np.hanning(7)
    k /= np.sqrt((k**2).sum())
    coarse = np.apply_along_axis(lambda x: np.convolve(x, k, mode="same"), 1, coarse) \
        if m > 7 else coarse
    pos = np.arange(n_frames) / step
    i0 = np.floor(pos).astype(np.int64)
    w = (pos - i0).astype(np.float32)
    return coarse[:, i0] * (1 - w) + coarse[:, i0 + 1] * w


def sliding_baseline(x: np.ndarray, window: int) -> np.ndarray:
    """Robust baseline: median of blocks of ``window`` frames, linearly interpolated."""
    n, t = x.shape
    nb = max(1, t // window)
    edges = np.linspace(0, t, nb + 1).astype(np.int64)
    med = np.stack([np.median(x[:, a:b], axis=1) for a, b in zip(edges[:-1], edges[1:], strict=True)],
                   axis=1)
    centres = (edges[:-1] + edges[1:]) / 2
    if nb == 1:
        return np.repeat(med, t, axis=1)
    pos = np.clip(np.arange(t), centres[0], centres[-1])
    j = np.clip(np.searchsorted(centres, pos, side="right") - 1, 0, nb - 2)
    w = ((pos - centres[j]) / (centres[j + 1] - centres[j])).astype(np.float32)
    return med[:, j] * (1 - w) + med[:, j + 1] * w


def condition_means(ca: np.ndarray, pres: Presentation, key: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean of ``ca`` over each row's frames, averaged per condition key -> (keys, (cells, keys))."""
    frames, rows = frame_rows(pres)
    sums = np.zeros((ca.shape[0], len(pres.start)), np.float64)
    np.add.at(sums.T, rows, ca[:, frames].T)
    per_row = sums / (pres.end - pres.start)[None, :]
    keys, inv = np.unique(key, return_inverse=True)
    out = np.zeros((ca.shape[0], len(keys)))
    np.add.at(out.T, inv, per_row.T)
    return keys, out / np.bincount(inv)[None, :]
