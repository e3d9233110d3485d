"""Cross-check brainobs against AllenSDK 2.16.2 on the same files.

AllenSDK is never a dependency of brainobs: this script builds a side virtualenv
(``benchmarks/.allensdk-venv``, or ``--sdk-python``) with ``allensdk==2.16.2`` and
``statsmodels<0.15``, runs AllenSDK's own ``BrainObservatoryCache`` and
``BrainObservatoryNwbDataSet`` on a synthetic observatory (tiny by default, or
``--data DIR``: any brainobs data dir or AllenSDK cache dir), runs the same calls through
``brainobs.compat`` and prints, call by call, whether the results are identical.

Because AllenSDK 2.16's ``get_ophys_experiments`` always asks the Allen API for the list of
eye-tracking files (even with a complete local cache), the side process answers that one
query with an empty list; AllenSDK then marks every session ``fail_eye_tracking=True``,
so that field is left out of the comparison.

Run: ``python benchmarks/allensdk_crosscheck.py``
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
from _common import sdk_python
from _compat_calls import collect

HERE = Path(__file__).resolve().parent

# Runs inside the AllenSDK virtualenv (old numpy/pandas, no brainobs).
SIDE = r"""
import json, sys
import numpy as np
sys.path.insert(0, sys.argv[5])
from _compat_calls import collect
from allensdk.core.brain_observatory_cache import BrainObservatoryCache

boc = BrainObservatoryCache(manifest_file=sys.argv[1])
boc.api.template_query = lambda *a, **k: []  # offline: no eye-tracking file list
results, arrays = collect(boc, json.loads(sys.argv[3]), json.loads(sys.argv[4]))
np.savez(sys.argv[2] + ".npz", **arrays)
with open(sys.argv[2] + ".json", "w") as f:
    json.dump(results, f)
"""


# Where brainobs differs on purpose (README, "Differences from AllenSDK").
EXPECTED = {
    "get_dff_traces(unsorted ids)": "AllenSDK cannot read cells out of file order (h5py TypeError); "
                                    "brainobs returns them in the order asked",
    "get_ophys_experiments(cells+other container)": "AllenSDK subtracts the cells' containers from "
                                                    "the requested ones; brainobs intersects",
}

IGNORED_KEYS = {"fail_eye_tracking"}  # AllenSDK overwrites it from an online query


def _norm(v):
    """Comparable form of a JSON value: dicts without ignored keys, floats rounded."""
    if isinstance(v, dict):
        return {k: _norm(x) for k, x in v.items() if k not in IGNORED_KEYS}
    if isinstance(v, list):
        return [_norm(x) for x in v]
    if isinstance(v, float):
        return round(v, 9)
    return v


def _records_key(v):
    if isinstance(v, list) and v and isinstance(v[0], dict):
        key = "cell_specimen_id" if "cell_specimen_id" in v[0] else "id"
        return sorted((_norm(x) for x in v), key=lambda d: d.get(key, 0))
    return _norm(v)


def compare(key: str, a: dict, b: dict, arr_a, arr_b) -> str:
    if "error" in a or "error" in b:
        if "error" in a and "error" in b:
            return "both raise"
        return f"DIFF: allensdk {a.get('error', 'ok')!s:.80} | brainobs {b.get('error', 'ok')!s:.80}"
    if a.keys() != b.keys():
        return f"DIFF: kinds {list(a)} vs {list(b)}"
    if "array" in a:
        x, y = arr_a[a["array"]], arr_b[b["array"]]
        if x.shape != y.shape:
            return f"DIFF: shape {x.shape} vs {y.shape}"
        if x.dtype.kind in "fc":
            same = np.array_equal(x, y, equal_nan=True)
        else:
            same = np.array_equal(x.astype(str) if x.dtype.kind in "SUO" else x,
                                  y.astype(str) if y.dtype.kind in "SUO" else y)
        return "identical" if same else f"DIFF: values (max |Δ| {np.nanmax(np.abs(x.astype(float) - y.astype(float))) if x.dtype.kind in 'fiub' else '?'})"
    if "frame" in a:
        fa, fb = a["frame"], b["frame"]
        if fa["columns"] != fb["columns"]:
            return f"DIFF: columns {fa['columns']} vs {fb['columns']}"
        if fa["index"] != fb["index"]:
            return "DIFF: index"
        da = pd.DataFrame(fa["data"], columns=fa["columns"])
        db = pd.DataFrame(fb["data"], columns=fb["columns"])
        for c in da.columns:
            x, y = da[c].to_numpy(), db[c].to_numpy()
            try:
                ok = np.array_equal(x.astype(float), y.astype(float), equal_nan=True)
            except (TypeError, ValueError):
                ok = list(map(str, x)) == list(map(str, y))
            if not ok:
                return f"DIFF: column {c}"
        return "identical"
    if "tuple" in a:
        return "tuple" if a == b else f"DIFF: tuple length {a['tuple']} vs {b['tuple']}"
    va, vb = _records_key(a["value"]), _records_key(b["value"])
    if va == vb:
        return "identical"
    if isinstance(va, dict) and isinstance(vb, dict):
        diffs = sorted(k for k in va.keys() | vb.keys() if va.get(k, "<missing>") != vb.get(k, "<missing>"))
        return "DIFF: keys " + ", ".join(f"{k}={va.get(k, '<missing>')!r}/{vb.get(k, '<missing>')!r}" for k in diffs[:4])
    return f"DIFF: {str(va)[:70]} | {str(vb)[:70]}"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sdk-python", help="python of an existing virtualenv with allensdk==2.16.2")
    ap.add_argument("--data", type=Path, help="data dir to check (default: a fresh tiny synthetic one)")
    args = ap.parse_args()
    py = sdk_python(args.sdk_python)
    with tempfile.TemporaryDirectory() as tmp:
        data = args.data
        if data is None:
            from brainobs.synth import generate_observatory

            data = generate_observatory(Path(tmp) / "obs", size="tiny", seed=0)
        manifest = data / "manifest.json"
        from brainobs.catalog import open_observatory

        obs = open_observatory(data)
        conts = obs.containers()
        cid = int(conts["id"].iloc[0])
        cells = obs.cells(container_id=cid, warn=False)
        calls = {
            "get_experiment_containers()": ["get_experiment_containers", {}],
            "get_experiment_containers(include_failed)": ["get_experiment_containers", {"include_failed": True}],
            "get_experiment_containers(VISp)": ["get_experiment_containers", {"targeted_structures": ["VISp"]}],
            "get_experiment_containers(cre)": ["get_experiment_containers", {"cre_lines": [str(conts['cre_line'].iloc[0])]}],
            "get_ophys_experiments()": ["get_ophys_experiments", {}],
            "get_ophys_experiments(natural_scenes)": ["get_ophys_experiments", {"stimuli": ["natural_scenes"]}],
            "get_ophys_experiments(session A)": ["get_ophys_experiments", {"session_types": ["three_session_A"]}],
            "get_ophys_experiments(container)": ["get_ophys_experiments", {"experiment_container_ids": [cid]}],
            "get_ophys_experiments(cells)": ["get_ophys_experiments", {"cell_specimen_ids": [int(cells['cell_specimen_id'].iloc[0])]}],
            "get_ophys_experiments(cells+other container)": [
                "get_ophys_experiments", {"cell_specimen_ids": [int(cells['cell_specimen_id'].iloc[0])],
                                          "experiment_container_ids": [cid, int(conts['id'].iloc[-1])]}],
            "get_cell_specimens()": ["get_cell_specimens", {}],
            "get_cell_specimens(container)": ["get_cell_specimens", {"experiment_container_ids": [cid]}],
        }
        exp_ids = [int(i) for i in obs.experiments(container_id=cid)["id"]]
        out = str(Path(tmp) / "sdk")
        subprocess.run([py, "-c", SIDE, str(manifest), out, json.dumps(calls), json.dumps(exp_ids), str(HERE)],
                       check=True)
        sdk_res = json.loads(Path(out + ".json").read_text())
        sdk_arr = dict(np.load(out + ".npz", allow_pickle=False))
        from brainobs.compat import BrainObservatoryCache

        bo_res, bo_arr = collect(BrainObservatoryCache(manifest_file=str(manifest)), calls, exp_ids)

    n_same = n_diff = n_expected = 0
    print(f"\n{'call':<62} result")
    for key in sdk_res:
        if key not in bo_res:
            verdict = "DIFF: missing in brainobs"
        else:
            verdict = compare(key, sdk_res[key], bo_res[key], sdk_arr, bo_arr)
        if verdict == "tuple":
            continue
        reason = next((why for k, why in EXPECTED.items() if key.endswith(k)), None)
        if verdict.startswith("DIFF") and reason:
            verdict = f"differs on purpose: {reason}"
            n_expected += 1
        elif verdict.startswith("DIFF"):
            n_diff += 1
        else:
            n_same += 1
        print(f"{key:<62} {verdict}")
    print(f"\n{n_same} calls identical (or raising in both), {n_expected} different on purpose, "
          f"{n_diff} unexpected differences (AllenSDK 2.16.2 vs brainobs.compat on "
          f"{data.name if args.data else 'a tiny synthetic observatory'})")
    return 1 if n_diff else 0


if __name__ == "__main__":
    sys.exit(main())
