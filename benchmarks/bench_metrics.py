"""Speed and peak memory of the metrics on full-length sessions.

Uses the one-container full-length synthetic observatory of ``bench_session_io.py``
(generated once into ``benchmarks/.data``). For each session (A, B, C2) it runs
``brainobs.metrics.analyze`` on one core and prints the wall time and the peak of
Python/numpy allocations (tracemalloc) next to the size of the trace matrices the analysis
reads (demixed + neuropil for the corrected fluorescence of gratings and scenes, dF/F for
movies and sparse noise). The goal: peak memory under twice the trace matrices read. The AllenSDK comparison of
the same sessions is ``allensdk_parity.py --size full``.

Run: ``python benchmarks/bench_metrics.py [--families drifting_gratings ...] [--n-shuffles N]``
"""

from __future__ import annotations

import argparse
import os
import sys
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")  # one core, as the goal says
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

from _common import fmt_s, full_session_observatory, peak_memory  # noqa: E402

SWEEP = ("drifting_gratings", "static_gratings", "natural_scenes")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--families", nargs="*", default=None)
    ap.add_argument("--n-shuffles", type=int, default=10_000)
    args = ap.parse_args()

    from brainobs.catalog import open_observatory
    from brainobs.metrics import FAMILIES, analyze

    obs = open_observatory(full_session_observatory())
    with obs.session(int(obs.experiments(include_failed=True)["id"].iloc[0])) as s:
        analyze(s, families=["natural_movies"])  # warm-up: one-time imports and library setup
    print(f"{'session':<18} {'cells':>5} {'frames':>7} {'time':>9} {'peak MB':>8} {'read MB':>8} {'peak/read':>9}")
    for _, e in obs.experiments(include_failed=True).sort_values("session_type").iterrows():
        with obs.session(int(e["id"])) as s:
            n, t = s.n_cells, s.n_frames
            one = n * t * 4 / 1e6  # one float32 cells × frames matrix
            shown = set(s.list_stimuli())
            fams = None if args.families is None else [
                f for f in args.families if shown.intersection(FAMILIES[f][2])]
            if fams == []:
                continue
            ran = fams if fams is not None else [f for f, v in FAMILIES.items() if shown.intersection(v[2])]
            # Matrices read: demixed + neuropil for the sweep families, dF/F for movies and noise.
            n_read = 2 * any(f in SWEEP for f in ran) + any(f not in SWEEP for f in ran)
            traces_mb = n_read * one
            # time without tracemalloc (it slows numpy allocations), then peak memory with it
            t0 = time.perf_counter()
            analyze(s, families=fams, n_shuffles=args.n_shuffles)
            dt = time.perf_counter() - t0
            s.close()
            table, peak = peak_memory(lambda s=s, fams=fams: analyze(s, families=fams, n_shuffles=args.n_shuffles))
        print(f"{e['session_type']:<18} {n:>5} {t:>7} {fmt_s(dt):>9} {peak / 1e6:>8.0f} {traces_mb:>8.0f} "
              f"{peak / 1e6 / traces_mb:>9.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
