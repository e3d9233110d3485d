"""AllenSDK side of ``allensdk_parity.py``: runs inside the AllenSDK virtualenv (old numpy and
pandas, no brainobs).

For every NWB file given it runs AllenSDK 2.16.2's own per-stimulus analysis classes
(``DriftingGratings``, ``StaticGratings``, ``NaturalScenes``, ``NaturalMovie``,
``LocallySparseNoise``), the ones ``session_analysis.SessionAnalysis.session_a/_b/_c/_c2``
uses for the session's type, times each class (construction + ``.peak``, which reads the
traces and computes everything the published columns need), and turns each ``peak`` table
into the published cell-table columns the way ``SessionAnalysis.append_metrics_*`` does
(indices into ``orivals``/``tfvals``/``sfvals``/``phasevals`` become degrees/Hz/cpd, internal
names become published ones). The noise/signal correlations and plots SessionAnalysis also
makes are not timed: no published column comes from them.

Usage (by allensdk_parity.py): ``python _parity_sdk_side.py SPEC.json OUT.json``, SPEC a list
of ``{"path": ..., "skip": [kinds]}``; kinds: dg, sg, ns, nm, lsn.
"""

import json
import logging
import sys
import time
import traceback
import warnings

import numpy as np
import pandas as pd

warnings.simplefilter("ignore")  # AllenSDK/pandas chatter (SettingWithCopy, scipy notes...)
logging.disable(logging.WARNING)

from allensdk.brain_observatory.drifting_gratings import DriftingGratings  # noqa: E402
from allensdk.brain_observatory.locally_sparse_noise import LocallySparseNoise  # noqa: E402
from allensdk.brain_observatory.natural_movie import NaturalMovie  # noqa: E402
from allensdk.brain_observatory.natural_scenes import NaturalScenes  # noqa: E402
from allensdk.brain_observatory.static_gratings import StaticGratings  # noqa: E402
from allensdk.core.brain_observatory_nwb_data_set import BrainObservatoryNwbDataSet  # noqa: E402

MOVIE_SHORT = {"natural_movie_one": "nm1", "natural_movie_two": "nm2", "natural_movie_three": "nm3"}
LSN_COLUMNS = ("rf_chi2_lsn", "rf_area_on_lsn", "rf_center_on_x_lsn", "rf_center_on_y_lsn",
               "rf_area_off_lsn", "rf_center_off_x_lsn", "rf_center_off_y_lsn", "rf_distance_lsn",
               "rf_overlap_index_lsn")


def _num(values):
    return pd.to_numeric(pd.Series(list(values)), errors="coerce").to_numpy(dtype=float)


def _pick(values, idx):
    return [values[int(i)] for i in np.asarray(idx)]


def dg_columns(dg):
    p = dg.peak
    out = {k: _num(p[v]) for k, v in (
        ("osi_dg", "osi_dg"), ("dsi_dg", "dsi_dg"), ("p_dg", "ptest_dg"), ("g_osi_dg", "cv_os_dg"),
        ("g_dsi_dg", "cv_ds_dg"), ("reliability_dg", "reliability_dg"), ("tfdi_dg", "tf_index_dg"),
        ("run_mod_dg", "run_modulation_dg"), ("p_run_mod_dg", "p_run_dg"),
        ("peak_dff_dg", "peak_dff_dg"))}
    out["pref_dir_dg"] = _num(_pick(dg.orivals, p["ori_dg"].values))
    out["pref_tf_dg"] = _num(_pick(dg.tfvals, p["tf_dg"].values))
    return out


def sg_columns(sg):
    p = sg.peak
    out = {k: _num(p[v]) for k, v in (
        ("osi_sg", "osi_sg"), ("p_sg", "ptest_sg"), ("time_to_peak_sg", "time_to_peak_sg"),
        ("run_mod_sg", "run_modulation_sg"), ("p_run_mod_sg", "p_run_sg"), ("g_osi_sg", "cv_os_sg"),
        ("sfdi_sg", "sf_index_sg"), ("peak_dff_sg", "peak_dff_sg"),
        ("reliability_sg", "reliability_sg"))}
    out["pref_ori_sg"] = _num(_pick(sg.orivals, p["ori_sg"].values))
    out["pref_sf_sg"] = _num(_pick(sg.sfvals, p["sf_sg"].values))
    out["pref_phase_sg"] = _num(_pick(sg.phasevals, p["phase_sg"].values))
    return out


def ns_columns(ns):
    p = ns.peak
    return {k: _num(p[v]) for k, v in (
        ("pref_image_ns", "scene_ns"), ("p_ns", "ptest_ns"), ("time_to_peak_ns", "time_to_peak_ns"),
        ("image_sel_ns", "image_selectivity_ns"), ("reliability_ns", "reliability_ns"),
        ("run_mod_ns", "run_modulation_ns"), ("p_run_mod_ns", "p_run_ns"),
        ("peak_dff_ns", "peak_dff_ns"))}


def nm_columns(nm):
    short = MOVIE_SHORT[nm.movie_name]
    return {"reliability_" + short: _num(nm.peak["response_reliability_" + short])}


def lsn_columns(lsn):
    return {c: _num(lsn.peak[c]) for c in LSN_COLUMNS}


def analyses(ds, skip):
    """(kind, label, factory, to_columns) for the session's type, as SessionAnalysis runs them."""
    stype = ds.get_session_type()
    stimuli = set(ds.list_stimuli())
    todo = []
    if "drifting_gratings" in stimuli:
        todo.append(("dg", "DriftingGratings", lambda: DriftingGratings(ds), dg_columns))
    if "static_gratings" in stimuli:
        todo.append(("sg", "StaticGratings", lambda: StaticGratings(ds), sg_columns))
    if "natural_scenes" in stimuli:
        todo.append(("ns", "NaturalScenes", lambda: NaturalScenes(ds), ns_columns))
    for movie in MOVIE_SHORT:
        if movie in stimuli:
            todo.append(("nm", f"NaturalMovie({movie})",
                         lambda movie=movie: NaturalMovie(ds, movie), nm_columns))
    if stype == "three_session_C2":
        # session_c2: the 4-degree stimulus for VISp, else the 8-degree one
        stim = ("locally_sparse_noise_4deg" if ds.get_metadata()["targeted_structure"] == "VISp"
                else "locally_sparse_noise_8deg")
    elif "locally_sparse_noise" in stimuli:
        stim = "locally_sparse_noise"
    else:
        stim = None
    if stim is not None:
        todo.append(("lsn", f"LocallySparseNoise({stim})",
                     lambda: LocallySparseNoise(ds, stim), lsn_columns))
    return [t for t in todo if t[0] not in skip]


def run_file(path, skip):
    ds = BrainObservatoryNwbDataSet(path)
    res = {"path": path, "session_type": ds.get_session_type(),
           "cell_specimen_id": [int(i) for i in ds.get_cell_specimen_ids()],
           "columns": {}, "times": {}, "errors": {}, "kinds": {}}
    for kind, label, make, to_columns in analyses(ds, skip):
        t0 = time.perf_counter()
        try:
            obj = make()
            obj.peak  # noqa: B018 - triggers the whole analysis
            cols = to_columns(obj)
        except Exception as e:  # noqa: BLE001 - a failure is a result to report
            res["times"][label] = time.perf_counter() - t0
            last = traceback.extract_tb(e.__traceback__)[-1]
            res["errors"][label] = (f"{type(e).__name__}: {e} "
                                     f"({last.filename.split('/')[-1]}:{last.lineno})")
            res["kinds"][label] = kind
            continue
        res["times"][label] = time.perf_counter() - t0
        res["kinds"][label] = kind
        for c, v in cols.items():
            res["columns"][c] = [None if not np.isfinite(x) else float(x) for x in v]
    t0 = time.perf_counter()
    dxcm, _ = ds.get_running_speed()
    res["columns"]["mean_running_speed"] = [float(np.nanmean(dxcm))] * len(res["cell_specimen_id"])
    res["times"]["mean_running_speed"] = time.perf_counter() - t0
    res["kinds"]["mean_running_speed"] = "session"
    return res


def main():
    spec = json.load(open(sys.argv[1]))
    out = []
    for item in spec:
        print(f"  AllenSDK: {item['path'].split('/')[-1]} ...", file=sys.stderr, flush=True)
        out.append(run_file(item["path"], set(item.get("skip", []))))
    with open(sys.argv[2], "w") as f:
        json.dump(out, f)


if __name__ == "__main__":
    main()
