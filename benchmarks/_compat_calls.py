"""The tutorial's calls, run on any BrainObservatoryCache-like object.

Imported both by the AllenSDK side process (old numpy/pandas, no brainobs) and by the
brainobs side of ``allensdk_crosscheck.py``, so both run exactly the same calls. Results
become JSON-able dicts; arrays are collected separately for an ``.npz``.
"""

import json

import numpy as np
import pandas as pd

VOCAB = ("get_all_targeted_structures", "get_all_cre_lines", "get_all_reporter_lines",
         "get_all_imaging_depths", "get_all_session_types", "get_all_stimuli")
DATASET = ("get_session_type", "list_stimuli", "get_dff_traces", "get_fluorescence_traces",
           "get_corrected_fluorescence_traces", "get_neuropil_traces", "get_demixed_traces",
           "get_neuropil_r", "get_roi_ids", "get_cell_specimen_ids", "get_max_projection",
           "get_roi_mask_array", "get_running_speed", "get_motion_correction",
           "get_pupil_location", "get_pupil_size", "get_stimulus_epoch_table",
           "get_fluorescence_timestamps", "get_metadata")
NO_TEMPLATE = ("spontaneous", "drifting_gratings", "static_gratings")


def collect(boc, calls, exp_ids):
    """Run every call; return (results, arrays). Exceptions are recorded, not raised."""
    results, arrays = {}, {}

    def put(key, fn):
        try:
            v = fn()
        except Exception as e:  # noqa: BLE001 - a raised error is a result to compare
            results[key] = {"error": f"{type(e).__name__}: {e}"}
            return
        if isinstance(v, pd.DataFrame):
            results[key] = {"frame": json.loads(v.to_json(orient="split", date_format="iso"))}
        elif isinstance(v, np.ndarray):
            arrays[key] = v
            results[key] = {"array": key}
        elif isinstance(v, tuple):
            for i, item in enumerate(v):
                put(f"{key}[{i}]", lambda item=item: item)
            results[key] = {"tuple": len(v)}
        else:
            results[key] = {"value": json.loads(json.dumps(v, default=str))}

    for name in VOCAB:
        put(name, getattr(boc, name))
    for key, (method, kwargs) in calls.items():
        put(key, lambda method=method, kwargs=kwargs: getattr(boc, method)(**kwargs))
    for eid in exp_ids:
        ds = boc.get_ophys_experiment_data(eid)
        p = f"exp{eid}."
        for m in DATASET:
            put(p + m, getattr(ds, m))
        ids = [int(i) for i in ds.get_cell_specimen_ids()[::-2][:3]]  # decreasing order
        put(p + "get_dff_traces(sorted ids)", lambda ds=ds, ids=ids: ds.get_dff_traces(cell_specimen_ids=sorted(ids)))
        put(p + "get_dff_traces(unsorted ids)", lambda ds=ds, ids=ids: ds.get_dff_traces(cell_specimen_ids=ids))
        put(p + "get_cell_specimen_indices(ids)", lambda ds=ds, ids=ids: ds.get_cell_specimen_indices(ids))
        for stim in list(ds.list_stimuli()) + ["master"]:
            put(p + f"get_stimulus_table({stim})", lambda ds=ds, stim=stim: ds.get_stimulus_table(stim))
        for stim in ds.list_stimuli():
            if stim not in NO_TEMPLATE:
                put(p + f"get_stimulus_template({stim})", lambda ds=ds, stim=stim: ds.get_stimulus_template(stim))
    return results, arrays
