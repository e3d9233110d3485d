"""Parity of brainobs.metrics with AllenSDK 2.16.2's analysis classes, column by column, and speed.

AllenSDK is never a dependency of brainobs: this script builds a side virtualenv
(``benchmarks/.allensdk-venv``, or ``--sdk-python``) with ``allensdk==2.16.2`` and
``statsmodels<0.15``, generates a synthetic observatory (tiny by default, ``--size``,
``--seed``) or takes ``--data DIR``, and for the sessions of ``--containers N`` containers
(every session type they hold: A, B, C2):

- in the side venv runs AllenSDK's own per-stimulus classes on the NWB files
  (``_parity_sdk_side.py``: DriftingGratings, StaticGratings, NaturalScenes, NaturalMovie,
  LocallySparseNoise, mapped to the published column names as ``session_analysis`` does),
  timing each;
- in this interpreter runs ``brainobs.metrics.analyze(session)`` (or, while it does not
  exist / with ``--skip-lsn``, the per-stimulus functions of ``brainobs.metrics`` that exist),
  timing it;
- warms brainobs up once (an untimed run on the first session: imports and first library
  calls are one-time costs per process), then times every session;
- prints per session and column: cells compared, cells equal (preferred conditions exactly;
  continuous values within 1e-6 relative, or both NaN), the worst cell, and the speed
  ratio AllenSDK time / brainobs time per stimulus, per session and overall.

``rf_chi2_lsn`` (a p-value, 1 − cdf) also counts as equal within 1e-12 absolute: its rounding
error is ~1e-16 absolute, a large relative error when p ~ 1e-13.

LSN columns that depend on the shuffle test (all ``rf_*`` except ``rf_chi2_lsn``) are
Monte-Carlo quantities: they are reported with their largest absolute difference and do not
fail the run. Any other disagreeing or missing column makes the exit status 1. A class that
raises in AllenSDK (e.g. ``NaturalMovie`` with fewer than 10 repeats, as in the tiny and small
synthetic presets) is reported as such and its columns are not compared.

Run: ``python benchmarks/allensdk_parity.py [--sdk-python PY] [--data DIR | --size tiny|small|full]
[--containers N] [--skip-lsn] [--only dg,sg,ns,nm,lsn] [--out DIR] [--markdown]``
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

# One core for both sides, as the speed goal says (set before numpy loads its BLAS).
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from _common import sdk_python  # noqa: E402

HERE = Path(__file__).resolve().parent
SIDE = HERE / "_parity_sdk_side.py"

RTOL = 1e-6
KINDS = ("dg", "sg", "ns", "nm", "lsn")
# p-values computed as 1 − cdf carry an absolute rounding error of ~1e-16, which is a large
# relative error for p ~ 1e-13: such columns also count as equal within this absolute tolerance.
ATOL = {"rf_chi2_lsn": 1e-12}
# Columns compared for exact equality (a preferred condition is a label, not a measurement).
EXACT = {"pref_dir_dg", "pref_tf_dg", "pref_ori_sg", "pref_sf_sg", "pref_phase_sg", "pref_image_ns"}
# Columns that depend on LSN's shuffle test: Monte-Carlo, reported but never failing.
MONTE_CARLO = {"rf_area_on_lsn", "rf_center_on_x_lsn", "rf_center_on_y_lsn", "rf_area_off_lsn",
               "rf_center_off_x_lsn", "rf_center_off_y_lsn", "rf_distance_lsn",
               "rf_overlap_index_lsn"}
# brainobs per-stimulus function → (kind, stimuli that make it apply)
FUNCTIONS = {
    "drifting_gratings": ("dg", {"drifting_gratings"}),
    "static_gratings": ("sg", {"static_gratings"}),
    "natural_scenes": ("ns", {"natural_scenes"}),
    "natural_movies": ("nm", {"natural_movie_one", "natural_movie_two", "natural_movie_three"}),
    "locally_sparse_noise": ("lsn", {"locally_sparse_noise", "locally_sparse_noise_4deg",
                                     "locally_sparse_noise_8deg"}),
}
KIND_OF_COLUMN = {"_dg": "dg", "_sg": "sg", "_ns": "ns", "_lsn": "lsn"}


def column_kind(col: str) -> str:
    if col.startswith("reliability_nm"):
        return "nm"
    if col == "mean_running_speed":
        return "session"
    return next((k for suffix, k in KIND_OF_COLUMN.items() if col.endswith(suffix)), "?")


# ------------------------------------------------------------------ brainobs side
@dataclass
class BrainobsRun:
    table: pd.DataFrame
    times: dict[str, float] = field(default_factory=dict)  # kind → seconds
    total: float = 0.0
    notes: list[str] = field(default_factory=list)


def run_brainobs(path: Path, skip: set[str]) -> BrainobsRun:
    import brainobs.metrics as metrics
    from brainobs.io import open_session

    run = BrainobsRun(pd.DataFrame())
    analyze = getattr(metrics, "analyze", None)
    with open_session(path) as s:
        shown = set(s.list_stimuli())
        if analyze is not None and not skip:
            t0 = time.perf_counter()
            try:
                run.table = analyze(s)
            except Exception as e:  # noqa: BLE001 - report, then try stimulus by stimulus
                run.notes.append(f"brainobs.metrics.analyze raised {type(e).__name__}: {e}; "
                                 "falling back to the per-stimulus functions")
            else:
                run.total = time.perf_counter() - t0
                run.notes.append("brainobs.metrics.analyze")
                return run
        parts = []
        for name, (kind, stimuli) in FUNCTIONS.items():
            if kind in skip or not (stimuli & shown):
                continue
            fn = getattr(metrics, name, None)
            if fn is None:
                try:  # the function may live in its module before the package re-exports it
                    import importlib

                    mod = {"dg": "gratings", "sg": "gratings", "ns": "scenes", "nm": "movies",
                           "lsn": "rf"}[kind]
                    fn = getattr(importlib.import_module(f"brainobs.metrics.{mod}"), name)
                except (ImportError, AttributeError):
                    run.notes.append(f"brainobs.metrics.{name} missing")
                    continue
            t0 = time.perf_counter()
            try:
                part = fn(s)
            except Exception as e:  # noqa: BLE001 - a failure is a result to report
                run.notes.append(f"brainobs.metrics.{name} raised {type(e).__name__}: {e}")
                continue
            run.times[kind] = time.perf_counter() - t0
            parts.append(part)
        t0 = time.perf_counter()
        speed = float(np.nanmean(s.running_speed()["speed"].to_numpy()))
        run.times["session"] = time.perf_counter() - t0
        table = pd.concat(parts, axis=1) if parts else pd.DataFrame(
            index=pd.Index(s.cell_specimen_ids, name="cell_specimen_id"))
        if "mean_running_speed" not in table.columns:
            table["mean_running_speed"] = speed
        run.table = table
        run.total = sum(run.times.values())
        run.notes.append("per-stimulus functions (analyze " + (
            "failed or not used: --skip-lsn/--only)" if analyze else "missing)"))
    return run


# ------------------------------------------------------------------ comparison
@dataclass
class ColumnResult:
    session: str
    column: str
    n: int
    n_equal: int
    status: str  # ok | DIFF | MC | missing | sdk-error
    worst: str = ""
    max_abs: float = float("nan")
    max_rel: float = float("nan")
    n_values: int = 0  # cells where AllenSDK gives a number (not NaN)


def compare_column(session: str, col: str, ids: np.ndarray, sdk: np.ndarray, bo: np.ndarray
                   ) -> ColumnResult:
    a = np.asarray(sdk, dtype=float)
    b = np.asarray(bo, dtype=float)
    both_nan = np.isnan(a) & np.isnan(b)
    if col in EXACT:
        equal = (a == b) | both_nan
    else:
        with np.errstate(invalid="ignore"):
            tol = np.maximum(RTOL * np.maximum(np.abs(a), np.abs(b)), ATOL.get(col, 0.0))
            equal = (np.abs(a - b) <= tol) | both_nan
    with np.errstate(invalid="ignore"):
        diff = np.where(both_nan, 0.0, np.abs(a - b))  # NaN vs number → NaN → counts as worst
    score = np.where(np.isnan(diff), np.inf, diff)
    worst = ""
    if (~equal).any():
        i = int(np.argmax(np.where(equal, -1.0, score)))
        worst = f"{ids[i]}: {a[i]:.9g} vs {b[i]:.9g}"
    finite = diff[~np.isnan(diff)]
    max_abs = float(finite.max()) if finite.size else float("nan")
    if np.isnan(diff).any():
        max_abs = float("inf")
    both = np.isfinite(a) & np.isfinite(b) & (np.maximum(np.abs(a), np.abs(b)) > 0)
    max_rel = float((np.abs(a - b)[both] / np.maximum(np.abs(a), np.abs(b))[both]).max()) \
        if both.any() else float("nan")
    n_equal = int(equal.sum())
    if col in MONTE_CARLO:
        status = "MC"
    else:
        status = "ok" if n_equal == len(a) else "DIFF"
    return ColumnResult(session, col, len(a), n_equal, status, worst, max_abs, max_rel,
                        int(np.isfinite(a).sum()))


def compare_session(label: str, sdk: dict, bo: BrainobsRun) -> list[ColumnResult]:
    ids = np.asarray(sdk["cell_specimen_id"], dtype=np.int64)
    out = []
    for col, values in sdk["columns"].items():
        a = np.array([np.nan if v is None else v for v in values], dtype=float)
        if col not in bo.table.columns:
            out.append(ColumnResult(label, col, len(a), 0, "missing", "not computed by brainobs"))
            continue
        b = bo.table[col].reindex(ids).to_numpy(dtype=float)
        out.append(compare_column(label, col, ids, a, b))
    # Columns AllenSDK could not produce (its class raised): report, do not compare.
    for cls, err in sdk["errors"].items():
        kind = sdk["kinds"][cls]
        cols = [c for c in bo.table.columns if column_kind(c) == kind and c not in sdk["columns"]]
        if kind == "nm":
            short = {"natural_movie_one": "nm1", "natural_movie_two": "nm2",
                     "natural_movie_three": "nm3"}
            movie = cls[cls.index("(") + 1:-1]
            cols = [f"reliability_{short[movie]}"]
        for c in cols or [f"({cls})"]:
            out.append(ColumnResult(label, c, len(ids), 0, "sdk-error", f"AllenSDK {cls} raised {err}"))
    return out


# ------------------------------------------------------------------ reporting
def speed_rows(label: str, sdk: dict, bo: BrainobsRun) -> list[tuple[str, str, float, float]]:
    """(session, stimulus kind, AllenSDK s, brainobs s) for kinds both sides computed."""
    sdk_by_kind: dict[str, float] = {}
    for cls, t in sdk["times"].items():
        if cls in sdk["errors"]:
            continue
        k = sdk["kinds"][cls]
        sdk_by_kind[k] = sdk_by_kind.get(k, 0.0) + t
    rows = []
    if bo.times:
        for k, t in sdk_by_kind.items():
            if k in bo.times and k != "session":
                rows.append((label, k, t, bo.times[k]))
    else:  # analyze(): one total for the whole session
        rows.append((label, "session (analyze)", sum(sdk_by_kind.values()), bo.total))
    return rows


def fmt_ratio(a: float, b: float) -> str:
    return f"{a / b:.1f}x" if b > 0 else "-"


def _rel(r: ColumnResult) -> str:
    return "-" if np.isnan(r.max_rel) else f"{r.max_rel:.1e}"


def print_column_summary(results: list[ColumnResult]) -> None:
    """One Markdown row per column, over all sessions."""
    print("| column | sessions | cells | equal | with a value | max rel. diff | status |")
    print("|---|---:|---:|---:|---:|---:|---|")
    for col in dict.fromkeys(r.column for r in results):
        rs = [r for r in results if r.column == col]
        rels = [r.max_rel for r in rs if not np.isnan(r.max_rel)]
        statuses = sorted({r.status for r in rs})
        status = "ok" if statuses == ["ok"] else ", ".join(statuses)
        if "MC" in statuses:
            status += f" (max abs diff {max(r.max_abs for r in rs):.2g})"
        print(f"| `{col}` | {len(rs)} | {sum(r.n for r in rs)} | {sum(r.n_equal for r in rs)} | "
              f"{sum(r.n_values for r in rs)} | {f'{max(rels):.1e}' if rels else '-'} | {status} |")
    print()


def print_report(results: list[ColumnResult], speeds: list[tuple], markdown: bool) -> None:
    if markdown:
        print_column_summary(results)
        print("| session | column | cells | equal | max rel. diff | status | worst cell (AllenSDK vs brainobs) |")
        print("|---|---|---:|---:|---:|---|---|")
        for r in results:
            extra = f" (max abs diff {r.max_abs:.3g})" if r.status == "MC" else ""
            print(f"| {r.session} | `{r.column}` | {r.n} | {r.n_equal} | {_rel(r)} | {r.status}{extra} | "
                  f"{r.worst.replace('|', '/')} |")
        print()
        print("| session | stimulus | AllenSDK (s) | brainobs (s) | speed-up |")
        print("|---|---|---:|---:|---:|")
        for s, k, a, b in speeds:
            print(f"| {s} | {k} | {a:.3f} | {b:.4f} | {fmt_ratio(a, b)} |")
        ta, tb = sum(x[2] for x in speeds), sum(x[3] for x in speeds)
        print(f"| **all** | | {ta:.3f} | {tb:.4f} | **{fmt_ratio(ta, tb)}** |")
        return
    print(f"\n{'session':<26} {'column':<22} {'cells':>5} {'equal':>5} {'max rel Δ':>9}  status    "
          "worst cell (AllenSDK vs brainobs)")
    for r in results:
        extra = f" max|Δ| {r.max_abs:.3g}" if r.status == "MC" else ""
        print(f"{r.session:<26} {r.column:<22} {r.n:>5} {r.n_equal:>5} {_rel(r):>9}  {r.status:<9} "
              f"{r.worst}{extra}")
    print(f"\n{'session':<26} {'stimulus':<18} {'AllenSDK':>10} {'brainobs':>10} {'speed-up':>9}")
    per_session: dict[str, list[float]] = {}
    for s, k, a, b in speeds:
        print(f"{s:<26} {k:<18} {a:>9.3f}s {b:>9.4f}s {fmt_ratio(a, b):>9}")
        acc = per_session.setdefault(s, [0.0, 0.0])
        acc[0] += a
        acc[1] += b
    for s, (a, b) in per_session.items():
        print(f"{s:<26} {'(session total)':<18} {a:>9.3f}s {b:>9.4f}s {fmt_ratio(a, b):>9}")
    ta, tb = sum(x[2] for x in speeds), sum(x[3] for x in speeds)
    print(f"{'all sessions':<26} {'':<18} {ta:>9.3f}s {tb:>9.4f}s {fmt_ratio(ta, tb):>9}")


# ------------------------------------------------------------------ main
def select_sessions(data: Path, n_containers: int) -> list[tuple[str, Path]]:
    from brainobs.catalog import open_observatory

    obs = open_observatory(data)
    cids = [int(c) for c in obs.containers()["id"]][:n_containers]
    out = []
    for cid in cids:
        exps = obs.experiments(container_id=cid).sort_values("session_type")
        for _, e in exps.iterrows():
            short = str(e["session_type"]).replace("three_session_", "")
            out.append((f"{int(e['id'])} ({short})", obs.session_path(int(e["id"]))))
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sdk-python", help="python of an existing virtualenv with allensdk==2.16.2")
    ap.add_argument("--data", type=Path, help="observatory to use (default: generate a synthetic one)")
    ap.add_argument("--size", default="tiny", choices=("tiny", "small", "full"),
                    help="size of the generated observatory (default tiny)")
    ap.add_argument("--seed", type=int, default=0, help="seed of the generated observatory")
    ap.add_argument("--containers", type=int, default=1, help="containers to check (default 1)")
    ap.add_argument("--skip-lsn", action="store_true", help="leave out locally sparse noise (slow in AllenSDK)")
    ap.add_argument("--only", help="comma-separated stimulus kinds to check: dg,sg,ns,nm,lsn")
    ap.add_argument("--out", type=Path, help="also write both sides' tables here (CSV + JSON)")
    ap.add_argument("--markdown", action="store_true", help="print the summary as Markdown tables")
    args = ap.parse_args()
    skip = {"lsn"} if args.skip_lsn else set()
    if args.only:
        only = {k.strip() for k in args.only.split(",") if k.strip()}
        bad = only - set(KINDS)
        if bad:
            ap.error(f"--only: unknown kinds {sorted(bad)}; choose from {', '.join(KINDS)}")
        skip |= set(KINDS) - only
    if args.containers < 1:
        ap.error("--containers must be >= 1")
    py = sdk_python(args.sdk_python)

    with tempfile.TemporaryDirectory() as tmp:
        data = args.data
        if data is None:
            from brainobs.synth import generate_observatory

            print(f"generating a {args.size} synthetic observatory (seed {args.seed}) ...", flush=True)
            data = generate_observatory(Path(tmp) / "obs", size=args.size, seed=args.seed,
                                        n_containers=args.containers if args.size != "full" else 1)
        sessions = select_sessions(data, args.containers)
        spec = [{"path": str(p), "skip": sorted(skip)} for _, p in sessions]
        spec_file, sdk_file = Path(tmp) / "spec.json", Path(tmp) / "sdk.json"
        spec_file.write_text(json.dumps(spec))
        print(f"running AllenSDK on {len(sessions)} sessions ({py}) ...", flush=True)
        subprocess.run([py, str(SIDE), str(spec_file), str(sdk_file)], check=True)
        sdk_res = json.loads(sdk_file.read_text())

        # Warm-up, untimed: brainobs's one-time costs (lazy imports, first BLAS/HDF5 calls) are
        # paid once per process, not per session; AllenSDK's imports happen before its timers too.
        warm = sessions[0][1]
        print(f"warming up brainobs on {Path(warm).name} (untimed) ...", flush=True)
        run_brainobs(warm, skip | {"lsn"})

        results: list[ColumnResult] = []
        speeds: list[tuple] = []
        for (label, path), sdk in zip(sessions, sdk_res, strict=True):
            print(f"running brainobs on {label} ...", flush=True)
            bo = run_brainobs(path, skip)
            for note in bo.notes:
                print(f"  {label}: {note}")
            for cls, err in sdk["errors"].items():
                print(f"  {label}: AllenSDK {cls} raised {err}")
            results += compare_session(label, sdk, bo)
            speeds += speed_rows(label, sdk, bo)
            if args.out:
                args.out.mkdir(parents=True, exist_ok=True)
                stem = args.out / Path(path).stem
                sdk_table = pd.DataFrame(
                    {c: [np.nan if v is None else v for v in vals] for c, vals in sdk["columns"].items()},
                    index=pd.Index(sdk["cell_specimen_id"], name="cell_specimen_id"))
                sdk_table.to_csv(f"{stem}.allensdk.csv")
                bo.table.to_csv(f"{stem}.brainobs.csv")
                Path(f"{stem}.allensdk.json").write_text(json.dumps(sdk))

    print_report(results, speeds, args.markdown)
    n_fail = sum(r.status in ("DIFF", "missing") for r in results)
    n_ok = sum(r.status == "ok" for r in results)
    n_mc = sum(r.status == "MC" for r in results)
    n_err = sum(r.status == "sdk-error" for r in results)
    print(f"\n{n_ok} columns identical, {n_fail} different or missing, {n_mc} Monte-Carlo (LSN "
          f"shuffle) columns reported, {n_err} not comparable (AllenSDK raised) — AllenSDK 2.16.2 "
          f"vs brainobs on {data if args.data else f'a {args.size} synthetic observatory (seed {args.seed})'}")
    return 1 if n_fail else 0


if __name__ == "__main__":
    sys.exit(main())
