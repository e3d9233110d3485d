"""Write a complete synthetic Allen Brain Observatory (Visual Coding 2P) data directory."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import tempfile
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from os import PathLike
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from brainobs import vocab
from brainobs.errors import DataDirError
from brainobs.synth import model, templates
from brainobs.synth._mappings import STIMULUS_MAPPINGS
from brainobs.synth.config import load_config, resolve_cell_params
from brainobs.synth.nwb1 import SessionContent, StimulusContent, write_session_nwb
from brainobs.synth.schedule import SIZES, SizePreset, build_schedule

Progress = Callable[[int, int, str], None]

MARKER = "brainobs.json"
GROUND_TRUTH_DIR = "ground_truth"
NWB_DIR = "ophys_experiment_data"

STRUCTURES = {
    "VISam": (394, "Anteromedial visual area"), "VISal": (402, "Anterolateral visual area"),
    "VISp": (385, "Primary visual area"), "VISpm": (533, "posteromedial visual area"),
    "VISl": (409, "Lateral visual area"), "VISrl": (417, "Rostrolateral visual area"),
}
TRANSGENIC_IDS = {
    "Cux2-CreERT2": 177839004, "Camk2a-tTA": 177837320, "Ai93(TITL-GCaMP6f)": 265943423,
    "Nr5a1-Cre": 177839331, "Scnn1a-Tg3-Cre": 177837516, "Emx1-IRES-Cre": 177836119,
    "Rbp4-Cre_KL100": 177838435, "Rorb-IRES2-Cre": 179697864,
}
SESSION_SHORT = {"three_session_A": "3StimA", "three_session_B": "3StimB",
                 "three_session_C": "3StimC", "three_session_C2": "3StimC2"}

# (cre line, area, depth, failed, old) — "old" containers have three_session_C instead of C2.
CONTAINERS_SMALL = [
    ("Cux2-CreERT2", "VISp", 275, False, False), ("Rorb-IRES2-Cre", "VISp", 275, False, False),
    ("Cux2-CreERT2", "VISl", 175, False, False), ("Vip-IRES-Cre", "VISp", 175, False, False),
    ("Sst-IRES-Cre", "VISl", 275, False, False), ("Scnn1a-Tg3-Cre", "VISp", 350, False, False),
    ("Rorb-IRES2-Cre", "VISal", 275, False, False), ("Emx1-IRES-Cre", "VISpm", 375, False, True),
    ("Pvalb-IRES-Cre", "VISp", 175, False, False), ("Rbp4-Cre_KL100", "VISam", 375, False, False),
    ("Cux2-CreERT2", "VISrl", 275, False, False), ("Ntsr1-Cre_GN220", "VISl", 550, True, False),
]
CONTAINERS_TINY = [
    ("Cux2-CreERT2", "VISp", 275, False, False), ("Rorb-IRES2-Cre", "VISp", 275, False, False),
    ("Cux2-CreERT2", "VISl", 175, False, False), ("Vip-IRES-Cre", "VISl", 175, True, False),
]

# Thumbnail-image path columns of the real table: AllenSDK's get_cell_specimens(simple=True)
# deletes every one of them from each row (and fails when one is missing). Null here.
CELL_THUMBNAIL_COLUMNS = [item for _, item, level, kind, _ in STIMULUS_MAPPINGS
                          if kind == "T" and level == "R"]
GROUND_TRUTH_COLUMNS = [
    "cell_specimen_id", "experiment_container_id", "roi_index", "cre_line", "area",
    "imaging_depth", "amplitude", "tau_decay_s", "noise_sd", "neuropil_r",
    "responsive_dg", "pref_dir_dg", "pref_tf_dg", "dsi_dg", "osi_dg",
    "responsive_sg", "pref_ori_sg", "pref_sf_sg", "pref_phase_sg", "osi_sg",
    "responsive_ns", "pref_image_ns", "image_sel_ns", "responsive_nm",
    "has_rf", "rf_on_x", "rf_on_y", "rf_off_x", "rf_off_y", "rf_sigma", "run_mod",
    "centroid_x", "centroid_y",
    # realized values computed from the noiseless condition means (extras)
    "dsi_dg_true", "osi_dg_true", "osi_sg_true", "image_sel_ns_true",
]


class ObservatoryExistsError(DataDirError, FileExistsError):
    """The output directory exists and is not empty (pass ``overwrite=True``)."""


@dataclass
class ContainerSpec:
    index: int
    container_id: int
    cre_line: str
    area: str
    depth: int
    failed: bool
    session_types: tuple[str, str, str]


def _reporter_short(reporter: str) -> str:
    return reporter.split("(")[0]


def _container_specs(size: SizePreset, n: int, cfg: dict[str, Any], seed: int
                     ) -> list[ContainerSpec]:
    pool = CONTAINERS_TINY if size.name == "tiny" else CONTAINERS_SMALL
    if size.name == "full":
        pool = CONTAINERS_SMALL
    base = 500_000_000 + (seed % 100) * 1_000_000
    specs = []
    for i in range(n):
        cre, area, depth, failed, old = pool[i % len(pool)]
        line = cfg["cre_lines"][cre]
        if depth not in line["depths"]:
            depth = int(line["depths"][0])
        if area not in line["areas"]:
            area = line["areas"][0]
        c_type = "three_session_C" if old else "three_session_C2"
        specs.append(ContainerSpec(i, base + i * 1000, cre, area, int(depth), failed,
                                   ("three_session_A", "three_session_B", c_type)))
    return specs


def _design_specs(cfg: dict[str, Any], seed: int, cre_lines: list[str], per_line: int,
                  areas: list[str] | None) -> list[ContainerSpec]:
    """``per_line`` containers for each Cre line, in the given order (see generate_observatory).

    The j-th container of a line is in ``areas[j % len(areas)]`` (default: the line's config
    ``areas``) at depth ``depths[(j // len(areas)) % len(depths)]`` (the line's config
    ``depths``), so ``per_line = len(areas) * len(depths)`` crosses every area with every depth.
    """
    base = 500_000_000 + (seed % 100) * 1_000_000
    specs: list[ContainerSpec] = []
    for cre in cre_lines:
        line = cfg["cre_lines"][cre]
        line_areas = list(areas) if areas else list(line["areas"])
        depths = [int(d) for d in line["depths"]]
        for j in range(per_line):
            i = len(specs)
            area = line_areas[j % len(line_areas)]
            depth = depths[(j // len(line_areas)) % len(depths)]
            specs.append(ContainerSpec(i, base + i * 1000, cre, area, depth, False,
                                       ("three_session_A", "three_session_B", "three_session_C2")))
    return specs


def _design_arguments(cre_lines: Any, containers_per_cre_line: Any, areas: Any
                      ) -> tuple[list[str], int, list[str] | None]:
    """Validate the container-design arguments of :func:`generate_observatory`."""
    from brainobs._validate import check_choices
    from brainobs.errors import UnknownAreaError, UnknownCreLineError

    # full names, any case, or short names (a Cre line's gene name, V1/LM/... for areas)
    lines = check_choices(cre_lines, vocab.CRE_LINES, UnknownCreLineError, "cre_lines", prefixes=True)
    lines = list(vocab.CRE_LINES) if lines is None else lines
    if not lines:
        raise ValueError("cre_lines must name at least one Cre line")
    if len(set(lines)) != len(lines):
        raise ValueError(f"cre_lines lists a Cre line twice: {lines}")
    per = 1 if containers_per_cre_line is None else containers_per_cre_line
    if not isinstance(per, (int, np.integer)) or isinstance(per, bool) or per < 1:
        raise ValueError(f"containers_per_cre_line must be a positive integer; got {per!r}")
    area_list = check_choices(areas, vocab.AREAS, UnknownAreaError, "areas", aliases=vocab.AREA_ALIASES)
    if area_list is not None and not area_list:
        raise ValueError("areas must name at least one area")
    if len(lines) * int(per) > 999:
        raise ValueError(f"{len(lines)} Cre lines × {per} containers is more than 999 containers")
    return lines, int(per), area_list


def _genotype(cre: str, line: dict[str, Any]) -> str:
    parts = [f"{cre}/wt"]
    if line["tld2"]:
        parts.append(f"{line['tld2']}/wt")
    parts.append(f"{line['reporter']}/wt")
    return ";".join(parts)


def _transgenic(name: str, kind: str) -> dict[str, Any]:
    return {"name": name, "id": TRANSGENIC_IDS.get(name, 100_000_000 + sum(map(ord, name))),
            "transgenic_line_type_name": kind, "transgenic_line_type_code": kind[0].upper(),
            "description": None, "originating_lab": None, "url_prefix": None, "url_suffix": None,
            "stock_number": None, "sub_image_annotation_id": None,
            "transgenic_line_source_name": None, "ar_association_key_name": None}


@dataclass
class _Donor:
    name: str
    specimen_id: int
    donor_id: int
    dob: datetime
    sex: str
    genotype: str
    specimen_name: str
    dates: list[datetime]


def _donor(spec: ContainerSpec, line: dict[str, Any], rng: np.random.Generator) -> _Donor:
    donor = str(200_000 + spec.container_id % 100_000 + spec.index * 7)
    first = datetime(2016, 3, 1, 10, 0, tzinfo=UTC) + timedelta(days=7 * spec.index)
    age0 = int(rng.integers(75, 120))
    dates = [first + timedelta(days=int(d), minutes=int(rng.integers(0, 600)))
             for d in (0, 1, 2)]
    parts = [spec.cre_line] + ([line["tld2"]] if line["tld2"] else []) + \
        [_reporter_short(line["reporter"])]
    return _Donor(donor, spec.container_id + 4, spec.container_id + 5,
                  first - timedelta(days=age0), str(rng.choice(["M", "F"])),
                  _genotype(spec.cre_line, line), f"{';'.join(parts)}-{donor}", dates)


def _structure(area: str) -> dict[str, Any]:
    sid, name = STRUCTURES[area]
    return {"acronym": area, "id": sid, "name": name, "safe_name": name, "graph_id": 1,
            "ontology_id": 1, "failed": False}


def _specimen_json(spec: ContainerSpec, line: dict[str, Any], d: _Donor) -> dict[str, Any]:
    lines = [_transgenic(spec.cre_line, "driver")]
    if line["tld2"]:
        lines.append(_transgenic(line["tld2"], "driver"))
    lines.append(_transgenic(line["reporter"], "reporter"))
    age_days = (d.dates[0] - d.dob).days
    return {
        "id": d.specimen_id, "name": d.specimen_name, "external_specimen_name": d.name,
        "donor_id": d.donor_id, "is_cell_specimen": False, "specimen_id_path": f"/{d.specimen_id}/",
        "donor": {
            "id": d.donor_id, "name": d.specimen_name.rsplit("-", 1)[0] + f"-{d.name}",
            "external_donor_name": d.name, "full_genotype": d.genotype,
            "date_of_birth": d.dob.strftime("%Y-%m-%dT00:00:00Z"), "sex": d.sex,
            "sex_full_name": {"M": "Male", "F": "Female"}[d.sex],
            "tags": f"{d.specimen_name} ", "conditions": [],
            "age": {"name": f"P{age_days}", "days": float(age_days), "embryonic": False},
            "transgenic_lines": lines,
        },
    }


def _session_json(spec: ContainerSpec, d: _Donor, k: int, exp_id: int, stype: str,
                  fail_eye: bool) -> dict[str, Any]:
    date = d.dates[k]
    return {
        "id": exp_id, "name": f"{date:%Y%m%d}_{d.name}_{SESSION_SHORT[stype]}",
        "stimulus_name": stype, "specimen_id": d.specimen_id, "imaging_depth": spec.depth,
        "date_of_acquisition": date.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "targeted_structure_id": STRUCTURES[spec.area][0],
        "storage_directory": f"/synthetic/specimen_{d.specimen_id}/ophys_experiment_{exp_id}/",
        "experiment_container_id": spec.container_id, "fail_eye_tracking": fail_eye,
    }


def _timestamps(rng: np.random.Generator, n: int, noise: dict[str, Any]) -> np.ndarray:
    dt = 1.0 / noise["frame_rate"] + noise["frame_jitter_s"] * rng.standard_normal(n)
    dt = np.maximum(dt, 0.5 / noise["frame_rate"])
    return 5.0 + np.concatenate([[0.0], np.cumsum(dt[:-1])])


def _running(rng: np.random.Generator, n: int, noise: Mapping[str, Any]) -> np.ndarray:
    """Running speed (cm/s): alternating still/run bouts, smoothed, with NaN gaps.

    Bout durations are exponential with the means ``noise["running_bout_s"]`` and
    ``noise["still_bout_s"]`` (in frames at ``noise["frame_rate"]``), plus 30 frames.
    """
    rate = float(noise["frame_rate"])
    run_frames = float(noise["running_bout_s"]) * rate
    still_frames = float(noise["still_bout_s"]) * rate
    state = np.zeros(n, bool)
    t, run = 0, bool(rng.random() < 0.3)
    while t < n:
        dur = int(rng.exponential(run_frames if run else still_frames)) + 30
        state[t:t + dur] = run
        t, run = t + dur, not run
    target = np.where(state, rng.uniform(8, 30), 0.0)
    k = np.hanning(61)
    k /= k.sum()
    speed = np.convolve(target, k, mode="same") + 0.5 * rng.standard_normal(n)
    speed = speed.astype(np.float32)
    for _ in range(max(1, n // 20000)):
        a = int(rng.integers(0, max(1, n - 40)))
        speed[a:a + int(rng.integers(5, 30))] = np.nan
    return speed


def _geometry(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """ROI masks (n, 512, 512), centroids (n, 2) as (x, y), and a background image."""
    h, w = vocab.IMAGING_SHAPE
    cents: list[tuple[float, float]] = []
    while len(cents) < n:
        c = rng.uniform(24, h - 24, 2)
        if all((c[0] - a) ** 2 + (c[1] - b) ** 2 > 20**2 for a, b in cents) or len(cents) > 5000:
            cents.append((float(c[0]), float(c[1])))
    cent = np.array(cents)
    radii = rng.uniform(5, 8, (n, 2))
    masks = np.zeros((n, h, w), bool)
    yy, xx = np.mgrid[-10:11, -10:11]
    for i in range(n):  # per-cell patch of 21×21 pixels
        cx, cy = np.round(cent[i]).astype(int)
        patch = (xx / radii[i, 0]) ** 2 + (yy / radii[i, 1]) ** 2 <= 1
        masks[i, cy - 10:cy + 11, cx - 10:cx + 11] = patch
    ys, xs = np.nonzero(masks.any(axis=0))
    del ys, xs
    bg = templates.pink_noise((h, w), rng, exponent=1.5).astype(np.float32)
    # Dark blood vessels: a few thick random sinuous lines.
    vessels = np.zeros((h, w), np.float32)
    for _ in range(4):
        x0 = rng.uniform(0, w)
        rows = np.arange(h)
        xline = x0 + 40 * np.sin(rows / rng.uniform(40, 120) + rng.uniform(0, 6))
        dist = np.abs(np.arange(w)[None, :] - xline[:, None])
        vessels = np.maximum(vessels, np.exp(-(dist / rng.uniform(3, 7)) ** 2))
    bg = 400 + 0.8 * (bg - 127) - 150 * vessels
    return masks, cent, bg


def _generate_container(spec: ContainerSpec, cfg: dict[str, Any], size: SizePreset, seed: int,
                        tpl: dict[str, np.ndarray], nwb_dir: Path
                        ) -> tuple[dict[str, Any], list[dict[str, Any]], pd.DataFrame,
                                   list[dict[str, Any]]]:
    rng = np.random.default_rng([seed, spec.index])
    line = cfg["cre_lines"][spec.cre_line]
    noise = cfg["noise"]
    indicator = vocab.REPORTER_INDICATOR[line["reporter"]]
    donor = _donor(spec, line, rng)
    n = size.n_cells
    params = resolve_cell_params(cfg, spec.cre_line, spec.area, spec.depth)
    cells = model.sample_cells(rng, n, spec.cre_line, params, noise, indicator)
    masks, cent, bg = _geometry(rng, n)
    cell_ids = 600_000_000 + (seed % 100) * 1_000_000 + spec.index * 1000 + np.arange(n)
    cells["cell_specimen_id"] = cell_ids.astype(np.int64)
    cells["experiment_container_id"] = spec.container_id
    cells["cre_line"] = spec.cre_line
    cells["area"] = spec.area
    cells["imaging_depth"] = spec.depth
    cells["centroid_x"] = cent[:, 0]
    cells["centroid_y"] = cent[:, 1]
    # Cells shine above the background in proportion to their baseline fluorescence.
    # (ROIs do not overlap: centroids are >= 20 px apart, radii <= 8 px.)
    cell_light = np.where(masks.any(axis=0), cells["f0"].to_numpy()[masks.argmax(axis=0)], 0.0)
    maxproj = bg + 2.0 * cell_light
    maxproj += 10 * rng.standard_normal(maxproj.shape)
    maxproj = np.clip(maxproj, 0, 65535).astype(np.uint16)

    realized: dict[str, np.ndarray] = {}
    experiments = []
    for k, stype in enumerate(spec.session_types):
        exp_id = spec.container_id + 1 + k
        srng = np.random.default_rng([seed, spec.index, k + 1])
        tables, n_frames = build_schedule(stype, size, srng)
        ts = _timestamps(srng, n_frames, noise)
        fr = float(noise["frame_rate"])
        speed = _running(srng, n_frames, noise)
        running = np.nan_to_num(speed, nan=0.0) > 2.0
        drive = model.stimulus_drive(cells, tables, n_frames, tpl, running, fr)
        tau_frames = cells["tau_decay_s"].to_numpy() * fr
        ca_stim = model.calcium(drive, tau_frames)
        del drive
        _realize(realized, cells, tables, ca_stim)
        # Spontaneous calcium events of every cell, at any time.
        events = np.zeros((n, n_frames), np.float32)
        n_ev = int(srng.poisson(noise["spont_rate_hz"] / fr * n * n_frames))
        np.add.at(events.reshape(-1), srng.integers(0, n * n_frames, n_ev),
                  srng.exponential(0.3, n_ev).astype(np.float32))
        dff_true = ca_stim + model.calcium(events, tau_frames)
        del ca_stim, events
        f0 = cells["f0"].to_numpy(np.float32)[:, None]
        sd = cells["noise_sd"].to_numpy(np.float32)[:, None]
        f_cell = f0 * (1 + dff_true) + f0 * sd * srng.standard_normal((n, n_frames), np.float32)
        shared = model.smooth_noise(srng, 1, n_frames, 150)
        own = model.smooth_noise(srng, n, n_frames, 60)
        npil = float(noise["neuropil_fraction"]) * f0 * (
            1 + 0.08 * shared + 0.03 * own + 0.2 * dff_true.mean(axis=0, keepdims=True))
        npil += 0.01 * f0 * srng.standard_normal((n, n_frames), np.float32)
        del own, dff_true
        r = cells["neuropil_r"].to_numpy(np.float32)[:, None]
        demixed = f_cell + r * npil
        raw = demixed + float(noise["crosstalk"]) * np.roll(f_cell, 1, axis=0)
        corrected = demixed - r * npil
        base = model.sliding_baseline(corrected, int(60 * fr))
        dff = (corrected - base) / base
        del corrected, base, f_cell
        has_eye = bool((spec.index + k) % 3 != 1)
        stimuli = _stimulus_contents(tables)
        used = {s.name for s in stimuli}
        meta = _metadata(spec, line, donor, k, exp_id, stype, indicator)
        motion = np.cumsum(0.05 * srng.standard_normal((n_frames, 2)), axis=0)
        motion = np.clip(motion - motion.mean(axis=0), -8, 8)
        content = SessionContent(
            metadata=meta, timestamps=ts, cell_specimen_ids=cells["cell_specimen_id"].to_numpy(),
            roi_ids=[str(exp_id * 1000 + i) for i in range(n)], roi_masks=masks,
            max_projection=maxproj, dff=dff, fluorescence=raw, demixed=demixed, neuropil=npil,
            neuropil_r=cells["neuropil_r"].to_numpy(),
            neuropil_rmse=np.abs(0.01 * cells["f0"].to_numpy()), running_speed=speed[1:],
            running_timestamps=ts[1:], motion_xy=motion, stimuli=stimuli,
            templates={k2: v for k2, v in tpl.items() if k2 in used},
        )
        if has_eye:
            gaze = np.cumsum(0.02 * srng.standard_normal((n_frames, 2)), axis=0)
            gaze = np.clip(gaze - gaze.mean(axis=0), -15, 15)
            content.pupil_location_spherical = gaze
            content.pupil_location = gaze * 15 * np.pi / 180  # cm on a monitor 15 cm away
            content.pupil_size = 2000 + 200 * model.smooth_noise(srng, 1, n_frames, 90)[0] + \
                300 * running
        write_session_nwb(nwb_dir / f"{exp_id}.nwb", content)
        del content, dff, raw, demixed, npil
        experiments.append(_session_json(spec, donor, k, exp_id, stype, not has_eye))
    for col, vals in realized.items():
        cells[col] = vals
    container = _container_json(spec, line, donor, experiments)
    exps_full = []
    for e in experiments:
        full = dict(e)
        full["targeted_structure"] = _structure(spec.area)
        full["specimen"] = _specimen_json(spec, line, donor)
        full["experiment_container"] = {"id": spec.container_id, "failed": spec.failed}
        exps_full.append(full)
    gt = pd.DataFrame({c: cells[c].to_numpy() for c in GROUND_TRUTH_COLUMNS})
    return container, exps_full, gt, \
        _cell_rows(spec, line, donor, cells)


def _realize(out: dict[str, np.ndarray], cells: pd.DataFrame, tables: dict, ca: np.ndarray
             ) -> None:
    """Selectivity indices of the noiseless condition means (NaN for non-responsive cells)."""
    n = len(cells)
    rows = np.arange(n)
    if "drifting_gratings" in tables:
        p = tables["drifting_gratings"]
        v = p.values
        ok = v[:, 2] == 0
        key = np.where(ok, np.searchsorted(model.TFS, v[:, 0]) * 8 +
                       np.searchsorted(model.DIRS, np.nan_to_num(v[:, 1])), -1)
        keys, m = model.condition_means(ca, p, key)
        m = m[:, keys >= 0].reshape(n, 5, 8)
        tf_i, d_i = np.unravel_index(np.argmax(m.reshape(n, -1), axis=1), (5, 8))
        pref = m[rows, tf_i, d_i]
        null = m[rows, tf_i, (d_i + 4) % 8]
        orth = (m[rows, tf_i, (d_i + 2) % 8] + m[rows, tf_i, (d_i + 6) % 8]) / 2
        resp = cells["responsive_dg"].to_numpy()
        with np.errstate(invalid="ignore", divide="ignore"):
            out["dsi_dg_true"] = np.where(resp, (pref - null) / (pref + null), np.nan)
            out["osi_dg_true"] = np.where(resp, (pref - orth) / (pref + orth), np.nan)
    if "static_gratings" in tables:
        p = tables["static_gratings"]
        v = p.values
        ok = ~np.isnan(v[:, 0])
        key = np.where(ok, (np.searchsorted(model.ORIS, np.nan_to_num(v[:, 0])) * 5 +
                            np.searchsorted(model.SFS, np.nan_to_num(v[:, 1]))) * 4 +
                       np.searchsorted(model.PHASES, np.nan_to_num(v[:, 2])), -1)
        keys, m = model.condition_means(ca, p, key)
        m = m[:, keys >= 0].reshape(n, 6, 5, 4)
        o_i, s_i, p_i = np.unravel_index(np.argmax(m.reshape(n, -1), axis=1), (6, 5, 4))
        pref = m[rows, o_i, s_i, p_i]
        orth = m[rows, (o_i + 3) % 6, s_i, p_i]
        with np.errstate(invalid="ignore", divide="ignore"):
            out["osi_sg_true"] = np.where(cells["responsive_sg"].to_numpy(),
                                          (pref - orth) / (pref + orth), np.nan)
    if "natural_scenes" in tables:
        p = tables["natural_scenes"]
        keys, m = model.condition_means(ca, p, p.values.astype(np.int64))
        m = np.clip(m[:, keys >= 0], 0, None)
        k = m.shape[1]
        with np.errstate(invalid="ignore", divide="ignore"):
            ls = (1 - (m.mean(axis=1) ** 2) / (m**2).mean(axis=1)) / (1 - 1 / k)
        out["image_sel_ns_true"] = np.where(cells["responsive_ns"].to_numpy(), ls, np.nan)


def _stimulus_contents(tables: dict) -> list[StimulusContent]:
    out = []
    for name, p in sorted(tables.items()):
        fd = np.column_stack([p.start, p.end])
        if name in vocab.FEATURE_STIMULI:
            feats = (["temporal_frequency", "orientation", "blank_sweep"]
                     if name == "drifting_gratings" else
                     ["orientation", "spatial_frequency", "phase"])
            out.append(StimulusContent(name, "feature", p.values.astype(np.float64), fd, feats))
        elif name == "spontaneous":
            data = np.tile([1, -1], len(p.start)).astype(np.int8)
            frames = np.column_stack([p.start, p.end]).ravel()  # start for +1, end for -1
            out.append(StimulusContent(name, "interval", data, np.column_stack([frames, frames])))
        else:
            out.append(StimulusContent(name, "indexed", p.values.astype(np.int32), fd))
    return out


def _metadata(spec: ContainerSpec, line: dict[str, Any], d: _Donor, k: int, exp_id: int,
              stype: str, indicator: str) -> dict[str, str | list[str]]:
    date = d.dates[k]
    return {
        "identifier": f"synthetic-{exp_id}",
        "session_start_time": date.isoformat(),
        "session_description": "Synthetic Allen Brain Observatory Visual Coding 2P session "
                               "(brainobs.synth)",
        "session_type": stype, "ophys_experiment_id": str(exp_id),
        "experiment_container_id": str(spec.container_id),
        "targeted_structure": spec.area, "specimen_name": d.specimen_name,
        "age": f"{(date - d.dob).days} days", "sex": {"M": "male", "F": "female"}[d.sex],
        "genotype": d.genotype, "subject_id": d.name,
        "imaging_depth": f"{spec.depth} microns", "indicator": indicator,
        "imaging_rate": "30.0 Hz", "excitation_lambda": "910 nm",
        "fov": "400x400 microns (512 x 512 pixels)",
        "device": "Nikon A1R-MP multiphoton microscope. CAM2P.2. Please see the following "
                  "documentation for details: http://help.brain-map.org/",
        "generated_by": ["Allen Institute for Brain Science", "brainobs.synth", "3.0"],
    }


def _container_json(spec: ContainerSpec, line: dict[str, Any], d: _Donor,
                    experiments: list[dict[str, Any]]) -> dict[str, Any]:
    isi_id = spec.container_id + 6
    return {
        "ophys_experiments": experiments, "weight": 0, "imaging_depth": spec.depth,
        "specimen_id": d.specimen_id, "specimen": _specimen_json(spec, line, d),
        "isi_experiment": {"specimen_id": d.specimen_id, "id": isi_id,
                           "name": f"{d.name}_{d.dates[0] - timedelta(days=30):%Y%m%d}",
                           "date_of_acquisition": (d.dates[0] - timedelta(days=30)).strftime(
                               "%Y-%m-%dT08:00:00Z"),
                           "storage_directory": None},
        "failed": spec.failed, "targeted_structure": _structure(spec.area),
        "targeted_structure_id": STRUCTURES[spec.area][0], "id": spec.container_id,
        "isi_experiment_id": isi_id,
    }


def _cell_rows(spec: ContainerSpec, line: dict[str, Any], d: _Donor, cells: pd.DataFrame
               ) -> list[dict[str, Any]]:
    ident = {
        "experiment_container_id": spec.container_id, "specimen_id": d.specimen_id,
        "area": spec.area, "tld1_id": TRANSGENIC_IDS.get(spec.cre_line),
        "tld1_name": spec.cre_line,
        "tld2_id": TRANSGENIC_IDS.get(line["tld2"]) if line["tld2"] else None,
        "tld2_name": line["tld2"] or None,
        "tlr1_id": TRANSGENIC_IDS.get(line["reporter"]), "tlr1_name": line["reporter"],
        "imaging_depth": spec.depth, "failed_experiment_container": spec.failed,
        "donor_full_genotype": d.genotype, "all_stim": True,
    }
    rows = []
    for cid in cells["cell_specimen_id"].tolist():
        row = {"cell_specimen_id": int(cid), **ident}
        row.update(dict.fromkeys(vocab.CELL_METRIC_COLUMNS))
        row.update(dict.fromkeys(CELL_THUMBNAIL_COLUMNS))
        rows.append(row)
    return rows


# The manifest AllenSDK 2.16's BrainObservatoryCache writes: its version is an entry of
# the "manifest" list, and AllenSDK refuses a manifest without it.
MANIFEST = {
    "manifest": [
        {"type": "manifest_version", "value": "1.3"},
        {"type": "dir", "spec": ".", "key": "BASEDIR"},
        {"parent_key": "BASEDIR", "type": "file", "spec": "experiment_containers.json",
         "key": "EXPERIMENT_CONTAINERS"},
        {"parent_key": "BASEDIR", "type": "file", "spec": "ophys_experiments.json",
         "key": "EXPERIMENTS"},
        {"parent_key": "BASEDIR", "type": "file", "spec": "ophys_experiment_data/%d.nwb",
         "key": "EXPERIMENT_DATA"},
        {"parent_key": "BASEDIR", "type": "file",
         "spec": "ophys_experiment_analysis/%d_%s_analysis.h5", "key": "ANALYSIS_DATA"},
        {"parent_key": "BASEDIR", "type": "file", "spec": "ophys_experiment_events/%d_events.npz",
         "key": "EVENTS_DATA"},
        {"parent_key": "BASEDIR", "type": "file", "spec": "cell_specimens.json",
         "key": "CELL_SPECIMENS"},
        {"parent_key": "BASEDIR", "type": "file", "spec": "stimulus_mappings.json",
         "key": "STIMULUS_MAPPINGS"},
        {"parent_key": "BASEDIR", "type": "file",
         "spec": "ophys_eye_gaze_mapping/%d_eyetracking_dlc_to_screen_mapping.h5",
         "key": "EYE_GAZE_DATA"},
    ],
}

def _stimulus_mappings() -> list[dict[str, Any]]:
    """The real stimulus mappings table (thumbnail rows are what AllenSDK reads)."""
    return [{"item": item, "level": level, "stimulus_name": stim, "id": i, "item_type": kind}
            for i, item, level, kind, stim in STIMULUS_MAPPINGS]


def _templates(size: SizePreset, seed: int, session_types: set[str]) -> dict[str, np.ndarray]:
    """Stimulus templates, shared by every session of the observatory."""
    stims = {s for st in session_types for s in vocab.SESSION_STIMULI[st]} & set(vocab.INDEXED_STIMULI)
    out = {}
    for name in sorted(stims):
        # Seeded by the stimulus' fixed position: a template does not depend on the others.
        rng = np.random.default_rng([seed, 10**6, vocab.INDEXED_STIMULI.index(name)])
        if name == "natural_scenes":
            out[name] = templates.natural_scenes(size.ns_shape, vocab.N_NATURAL_SCENES, rng)
        elif name in vocab.MOVIE_STIMULI:
            out[name] = templates.movie(size.movie_shape, size.movie_frames[name], rng)
        else:
            shape = vocab.TEMPLATE_SHAPES[name][1:]
            spots = size.lsn_spots["8deg" if name.endswith("8deg") else "4deg"]
            out[name] = templates.locally_sparse_noise(shape, size.lsn_frames[name], spots, rng)
    return out


# Temporary folders of a run are named "<out>.tmp-<host>-<pid>-<random>" (the observatory
# being written) and "<out>.old-<host>-<pid>-<random>" (the replaced one, during
# --overwrite), so the next run can tell the leftovers of a killed run from the folders
# of a run that is still going on, also on a folder shared by several machines.
_LEFTOVER = re.compile(r"\.(?P<kind>tmp|old)-(?P<host>[A-Za-z0-9_.]+)-(?P<pid>\d+)-[a-z0-9_]+")


def _host() -> str:
    return re.sub(r"[^A-Za-z0-9.]", "_", socket.gethostname()) or "localhost"


def _leftover_prefix(out: Path, kind: str) -> str:
    return f"{out.name}.{kind}-{_host()}-{os.getpid()}-"


def _pid_alive(pid: int) -> bool:
    """Whether process ``pid`` of this machine runs (True when that cannot be known)."""
    if pid == os.getpid():
        return True
    if os.name == "nt":  # os.kill(pid, 0) would terminate the process on Windows
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # e.g. PermissionError: it exists, owned by another user
        return True
    return True


def clean_leftovers(out: str | PathLike) -> list[Path]:
    """Remove what killed runs writing ``out`` left behind; return the folders removed.

    A run killed while writing leaves ``<out>.tmp-<host>-<pid>-*``; one killed in the
    instant of an overwrite between moving the old observatory aside and moving the new one
    in leaves ``<out>.old-<host>-<pid>-*/d``: when ``out`` is then missing, the old
    observatory is moved back (the killed command changes nothing). Only folders of this
    machine whose process no longer runs are touched, so a run going on at the same time
    keeps its folders. :func:`generate_observatory` calls this before it starts.

    Examples
    --------
    >>> import tempfile
    >>> root = Path(tempfile.mkdtemp())
    >>> (root / "obs.tmp-otherhost-1-abc").mkdir()  # another machine's: kept
    >>> clean_leftovers(root / "obs")
    []
    >>> shutil.rmtree(root)
    """
    out = Path(out).expanduser().absolute()
    if not out.parent.is_dir():
        return []
    host, removed = _host(), []
    try:
        names = sorted(os.listdir(out.parent))
    except OSError:
        return []
    for name in names:
        if not name.startswith(out.name + "."):
            continue
        m = _LEFTOVER.fullmatch(name[len(out.name):])
        if not m or m["host"] != host or _pid_alive(int(m["pid"])):
            continue
        path = out.parent / name
        if m["kind"] == "old" and (path / "d").is_dir() and not out.exists():
            try:
                os.replace(path / "d", out)  # the killed overwrite never happened
            except OSError:
                pass
        shutil.rmtree(path, ignore_errors=True)
        if not path.exists():
            removed.append(path)
    return removed


def check_out_dir(out: Path, overwrite: bool) -> None:
    """Raise a clear error when ``out`` cannot become an observatory (before any work).

    ``out`` must be a folder that does not exist or is empty (or ``overwrite``), and its
    nearest existing parent a writable folder.
    """
    if out.exists() or out.is_symlink():
        if not out.is_dir():
            raise ObservatoryExistsError(
                f"{out} exists and is not a directory; give a new folder (or an empty one) as the output.")
        if any(out.iterdir()) and not overwrite:
            raise ObservatoryExistsError(
                f"{out} exists and is not empty; pass overwrite=True (CLI: --overwrite) to replace it, "
                "or give a new folder.")
    parent = out.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir():
        raise DataDirError(f"cannot create {out}: {parent} is a file, not a folder.")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise DataDirError(f"cannot create {out}: the folder {parent} is not writable (permission denied).")


def _make_parents(folder: Path) -> list[Path]:
    """``mkdir -p folder``; return the folders created (outermost first)."""
    missing = []
    while not folder.exists():
        missing.append(folder)
        folder = folder.parent
    created = []
    for d in reversed(missing):
        try:
            d.mkdir()
        except FileExistsError:
            continue
        created.append(d)
    return created


def _remove_dirs(created: list[Path]) -> None:
    """Undo :func:`_make_parents` (only folders that are still empty)."""
    for d in reversed(created):
        try:
            d.rmdir()
        except OSError:
            break


def _move_into_place(tmp: Path, out: Path, overwrite: bool) -> None:
    """Rename the finished ``tmp`` to ``out`` (replacing an old observatory if asked)."""
    if out.exists() and any(out.iterdir()):
        if not overwrite:  # another run finished first
            raise ObservatoryExistsError(
                f"{out} was written by another process meanwhile; it was left as it is. Pass "
                "overwrite=True (CLI: --overwrite) to replace it.")
        old = Path(tempfile.mkdtemp(prefix=_leftover_prefix(out, "old"), dir=out.parent))
        os.replace(out, old / "d")
        try:
            os.replace(tmp, out)
        except BaseException:
            if not out.exists():
                os.replace(old / "d", out)  # keep the old observatory
            if not (old / "d").exists():
                shutil.rmtree(old, ignore_errors=True)
            raise
        shutil.rmtree(old, ignore_errors=True)
        return
    try:
        os.replace(tmp, out)
    except OSError as exc:
        if out.exists() and any(out.iterdir()):
            raise ObservatoryExistsError(
                f"{out} was written by another process meanwhile; it was left as it is.") from exc
        raise


def _write_json(path: Path, obj: Any) -> None:
    path.write_text(json.dumps(obj, indent=1, default=str), encoding="utf-8")


def generate_observatory(
    out_dir: str | PathLike,
    *,
    size: str = "small",
    seed: int = 0,
    config: str | PathLike | Mapping[str, Any] | None = None,
    n_containers: int | None = None,
    cre_lines: str | list[str] | None = None,
    containers_per_cre_line: int | None = None,
    areas: str | list[str] | None = None,
    progress: Progress | None = None,
    overwrite: bool = False,
    workers: int | None = None,
) -> Path:
    """Write a complete synthetic Allen Brain Observatory into ``out_dir``; return its path.

    The directory has the real on-disk layout of an AllenSDK cache (``manifest.json``,
    ``experiment_containers.json``, ``ophys_experiments.json``, ``cell_specimens.json``,
    ``stimulus_mappings.json``, ``ophys_experiment_data/<id>.nwb``) plus
    ``ground_truth/<container_id>.parquet`` and the ``brainobs.json`` marker. Everything is
    written into a temporary sibling directory that is renamed into place at the end.

    Size presets (per container: three sessions A, B, C2 sharing the same cells):

    ========  ==========  =====  ==========================================================
    size      containers  cells  schedule
    ========  ==========  =====  ==========================================================
    tiny      4           8      DG 2 repeats, SG 1, NS 4, LSN4/8 600/300 frames, movies
                                 120/120/240 frames; 5.5-9k frames per session; NS 46×58,
                                 movies 16×32. 3 Cre lines, 2 areas, 1 failed container.
    small     12          30     DG 6, SG 6, NS 10, LSN4/8 2000/1000, movies 900/900/1800
                                 frames; 18-30k frames; NS 92×117, movies 38×76. 9 Cre
                                 lines, 6 areas, one older container with three_session_C,
                                 1 failed.
    compare   15          25     DG 12 (+8 blanks), SG 1, NS 4, LSN and movies as tiny;
                                 46k frames in session A, 6-9k in B and C2. Containers as
                                 small unless designed (see below).
    full      1           200    real schedule: DG 15 (+30 blanks), SG/NS 50, LSN 9000
                                 frames, movies 900/900/3600 ×10/10/5, 8880 spontaneous
                                 frames; real template shapes.
    ========  ==========  =====  ==========================================================

    ``compare`` is made for comparing cell types: DG 12 repeats, enough trials of the
    preferred condition to split them into running and still trials for ``run_mod_dg``, the
    other stimuli as short as in ``tiny``; pair it with ``cre_lines=`` and
    ``containers_per_cre_line=``, as :func:`~brainobs.synth.generate_comparison_observatory`
    does.

    Containers: by default the preset's fixed list of (Cre line, area, depth) is cycled through
    (the first ``n_containers``). Passing ``cre_lines``, ``containers_per_cre_line`` or
    ``areas`` designs the observatory instead: ``containers_per_cre_line`` containers (default
    1) for each of ``cre_lines`` (default: all 13), in that order; the j-th container of a line
    is in ``areas[j % len(areas)]`` (default: the line's config ``areas``) at the line's
    config depth ``depths[(j // len(areas)) % len(depths)]``, so ``len(areas) × len(depths)``
    containers per line cross every area with every depth. No designed container is failed and
    all have three_session_C2. Container *i* uses the same random stream as container *i* of
    the default list, and the default path is unchanged.

    Parameters
    ----------
    out_dir : target directory (must not exist or be empty unless ``overwrite``)
    size : "tiny", "small", "compare" or "full"
    seed : int; the same seed gives identical arrays (each container has its own generator)
    config : TOML path or dict of overrides (see :func:`load_config`)
    n_containers : number of containers (default: the preset's; with a design it must equal
        ``len(cre_lines) * containers_per_cre_line`` when given)
    cre_lines : Cre line name(s) to make containers for (full names, e.g. "Sst-IRES-Cre")
    containers_per_cre_line : containers per Cre line (default 1 when designing)
    areas : area(s) the containers of every line cycle through (default: the line's config
        ``areas``); given explicitly they override the config's list
    progress : optional ``progress(done, total, description)`` callback
    overwrite : replace an existing non-empty ``out_dir``
    workers : processes writing containers at once (default: the machine's cores, at most
        one per container). Every container is drawn from its own seeded generator, so the
        result is identical whatever the number of workers.

    Raises
    ------
    UnknownCreLineError, UnknownAreaError
        A Cre line or area that does not exist (with the closest valid name).
    ObservatoryExistsError
        ``out_dir`` is a file, or a non-empty folder without ``overwrite``.
    DataDirError
        ``out_dir`` cannot be created (a parent is a file or not writable).

    Notes
    -----
    All arguments and ``out_dir`` are checked before any work. Missing parent folders are
    created (and removed again when the run fails). A run that fails or is killed changes
    nothing: the observatory is written into ``<out_dir>.tmp-<host>-<pid>-*`` and renamed
    into place at the end, and the next run removes the temporary folders of killed runs
    (see :func:`clean_leftovers`); an overwritten observatory stays complete until the new
    one replaces it.

    Examples
    --------
    >>> generate_observatory("/tmp/obs", size="tiny", overwrite=True)  # doctest: +SKIP
    PosixPath('/tmp/obs')
    >>> generate_observatory("/tmp/two", size="tiny", overwrite=True,
    ...                      cre_lines=["Sst-IRES-Cre", "Vip-IRES-Cre"],
    ...                      containers_per_cre_line=2, areas="VISp")  # doctest: +SKIP
    PosixPath('/tmp/two')
    """
    if size not in SIZES:
        from brainobs.errors import UnknownValueError

        raise UnknownValueError(size, SIZES, kind="synthetic observatory size")
    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer; got {seed!r}")
    if not isinstance(out_dir, (str, PathLike)):
        raise TypeError(f"out_dir must be a path (str or os.PathLike); got {type(out_dir).__name__} {out_dir!r}")
    if not str(out_dir).strip():
        raise ValueError("out_dir is empty; give the folder to create, e.g. 'synthetic-obs'")
    if n_containers is not None and (not isinstance(n_containers, (int, np.integer))
                                     or isinstance(n_containers, bool)):
        raise TypeError(f"n_containers must be an integer between 1 and 999 or None; got {n_containers!r}")
    if workers is not None and (not isinstance(workers, (int, np.integer)) or isinstance(workers, bool)
                                or workers < 1):
        raise ValueError(f"workers must be a positive integer or None; got {workers!r}")
    if progress is not None and not callable(progress):
        raise TypeError(f"progress must be a callable progress(done, total, description) or None; "
                        f"got {type(progress).__name__}")
    preset = SIZES[size]
    design = cre_lines is not None or containers_per_cre_line is not None or areas is not None
    if design:
        lines, per_line, area_list = _design_arguments(cre_lines, containers_per_cre_line, areas)
        if n_containers is not None and int(n_containers) != len(lines) * per_line:
            raise ValueError(
                f"n_containers={n_containers!r} does not match {len(lines)} Cre line(s) × "
                f"{per_line} container(s); leave n_containers out when designing")
        n_cont = len(lines) * per_line
    else:
        n_cont = preset.n_containers if n_containers is None else int(n_containers)
        if not 1 <= n_cont <= 999:
            raise ValueError(f"n_containers must be between 1 and 999; got {n_containers!r}")
    cfg = load_config(config)
    out = Path(out_dir).expanduser().absolute()
    clean_leftovers(out)  # of killed runs: before the checks (a restored observatory counts)
    check_out_dir(out, overwrite)
    created = _make_parents(out.parent)

    if design:
        specs = _design_specs(cfg, int(seed), lines, per_line, area_list)
    else:
        specs = _container_specs(preset, n_cont, cfg, int(seed))
    total = len(specs) + 2
    try:
        tmp = Path(tempfile.mkdtemp(prefix=_leftover_prefix(out, "tmp"), dir=out.parent))
    except BaseException:
        _remove_dirs(created)
        raise
    # mkdtemp makes the folder private (0700); the finished observatory gets the usual
    # permissions so that it can be shared like any other data folder.
    umask = os.umask(0)
    os.umask(umask)
    tmp.chmod(0o777 & ~umask)
    try:
        if progress:
            progress(0, total, "stimulus templates")
        tpl = _templates(preset, int(seed), {st for s in specs for st in s.session_types})
        nwb_dir = tmp / NWB_DIR
        nwb_dir.mkdir()
        (tmp / GROUND_TRUTH_DIR).mkdir()
        containers, experiments, cell_rows = [], [], []
        for i, (spec, (c, exps, gt, rows)) in enumerate(
                zip(specs, _generate_all(specs, cfg, preset, int(seed), tpl, nwb_dir, workers), strict=True)):
            if progress:
                progress(i + 1, total, f"container {spec.container_id} ({spec.cre_line}, {spec.area})")
            containers.append(c)
            experiments.extend(exps)
            cell_rows.extend(rows)
            gt.to_parquet(tmp / GROUND_TRUTH_DIR / f"{spec.container_id}.parquet", index=False)
        _write_json(tmp / "manifest.json", MANIFEST)
        _write_json(tmp / "experiment_containers.json", containers)
        _write_json(tmp / "ophys_experiments.json", experiments)
        _write_json(tmp / "cell_specimens.json", cell_rows)
        _write_json(tmp / "stimulus_mappings.json", _stimulus_mappings())
        marker: dict[str, Any] = {
            "format": "brainobs-synthetic", "version": 1, "seed": int(seed), "size": size,
            "n_containers": n_cont, "config": cfg,
            "created": datetime.now(UTC).isoformat(timespec="seconds"),
        }
        if design:
            marker["design"] = {"cre_lines": lines, "containers_per_cre_line": per_line,
                                "areas": area_list}
        _write_json(tmp / MARKER, marker)
        _move_into_place(tmp, out, overwrite)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        _remove_dirs(created)
        raise
    if progress:
        progress(total, total, "done")
    return out


def _generate_all(specs: list[Any], cfg: dict[str, Any], preset: Any, seed: int, tpl: Any,
                  nwb_dir: Path, workers: int | None) -> Any:
    """The containers' results in order, from a pool of processes when it pays off."""
    import functools

    n = min(len(specs), max(1, int(workers if workers is not None else (os.cpu_count() or 1))))
    func = functools.partial(_generate_container, cfg=cfg, size=preset, seed=seed, tpl=tpl,
                             nwb_dir=nwb_dir)
    if n <= 1:
        yield from map(func, specs)
        return
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    # fork: the workers inherit the templates instead of unpickling them (spawn elsewhere)
    methods = multiprocessing.get_all_start_methods()
    ctx = multiprocessing.get_context("fork" if "fork" in methods else None)
    with ProcessPoolExecutor(max_workers=n, mp_context=ctx, initializer=_die_with_parent,
                             initargs=(os.getpid(),)) as pool:
        yield from pool.map(func, specs)


def _die_with_parent(parent: int) -> None:
    """Worker initializer: end this worker when the process that started it dies.

    A ``kill -9`` of ``brainobs synth`` would otherwise leave its idle workers behind for
    ever (they wait on their task queue), and a worker still writing into the temporary
    folder would race with the next run's clean-up. Linux: the kernel's parent-death signal;
    elsewhere a daemon thread that polls the parent's pid.
    """
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(1, int(signal.SIGKILL)) != 0:  # PR_SET_PDEATHSIG
            raise OSError(ctypes.get_errno(), "prctl")
    except (OSError, AttributeError, TypeError):
        def watch() -> None:
            while os.getppid() == parent:
                time.sleep(0.2)
            os._exit(1)

        threading.Thread(target=watch, daemon=True, name="brainobs-parent-watch").start()
    if os.getppid() != parent:  # the parent died before the signal was armed
        os._exit(1)


def read_ground_truth(data_dir: str | PathLike, container_id: int | None = None) -> pd.DataFrame:
    """Ground truth of a synthetic observatory: one row per cell specimen.

    Parameters
    ----------
    data_dir : a directory written by :func:`generate_observatory`
    container_id : one experiment container id, or None for all containers

    Examples
    --------
    >>> gt = read_ground_truth("/tmp/obs")  # doctest: +SKIP
    """
    gdir = Path(data_dir).expanduser() / GROUND_TRUTH_DIR
    if not gdir.is_dir():
        raise DataDirError(f"{Path(data_dir)} has no {GROUND_TRUTH_DIR}/ directory; it is not a "
                           "synthetic observatory (create one with `brainobs synth --out DIR`).")
    files = sorted(gdir.glob("*.parquet"))
    if container_id is not None:
        from brainobs.errors import UnknownIdError

        wanted = gdir / f"{int(container_id)}.parquet"
        if not wanted.is_file():
            raise UnknownIdError("experiment container", [container_id], str(gdir))
        files = [wanted]
    frames = [pd.read_parquet(f) for f in files]
    if not frames:
        return pd.DataFrame(columns=GROUND_TRUTH_COLUMNS)
    return pd.concat(frames, ignore_index=True)
