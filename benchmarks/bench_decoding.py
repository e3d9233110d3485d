"""Speed and accuracy of population decoding on a full-length synthetic session.

Uses the one-container full-length synthetic observatory shared by the other benchmarks
(generated once into ``benchmarks/.data``; or pass ``--obs DIR``, e.g. one made with
``brainobs synth --out DIR --size full --containers 1``). For natural scenes (118 images,
50 trials each) and drifting-grating direction (8 directions × 75 trials, TFs pooled, blanks
excluded) it decodes from the first 30, 100 and all 200 cells with every built-in classifier
(5-fold stratified CV, the default 1000-permutation within-fold null) and prints accuracy with
its Wilson interval, chance, the empirical chance, the permutation p-value and the wall time
of ``decode`` on one core. The metrics step (``*_result``) is timed separately, and one
``null="refit"`` run shows what the classic refitting permutation test costs.

Run: ``python benchmarks/bench_decoding.py [--obs DIR] [--classifiers logistic lda centroid]``
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")  # one core
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

from _common import fmt_s, full_session_observatory  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--obs", default=None, help="observatory dir (default: the shared full one)")
    ap.add_argument("--classifiers", nargs="*", default=["logistic", "lda", "centroid"])
    ap.add_argument("--cells", nargs="*", type=int, default=[30, 100, 0], help="0 = all cells")
    ap.add_argument("--refit-permutations", type=int, default=20)
    args = ap.parse_args()

    from brainobs.catalog import open_observatory
    from brainobs.metrics import drifting_gratings_result, natural_scenes_result
    from brainobs.population.decoding import decode, decoding_inputs

    obs = open_observatory(args.obs or full_session_observatory())
    decode([[0.0], [1.0], [0.1], [0.9]], [0, 1, 0, 1], n_splits=2)  # warm-up: imports
    print(f"{'stimulus':<18} {'cells':>5} {'trials':>6} {'classes':>7} {'classifier':<9} "
          f"{'accuracy':>8} {'95% Wilson':>15} {'chance':>7} {'empir.':>7} {'p_perm':>7} "
          f"{'time':>9}")
    for stimulus in ("natural_scenes", "drifting_gratings"):
        eid = int(obs.experiments(stimuli=[stimulus])["id"].iloc[0])
        with obs.session(eid) as s:
            t0 = time.perf_counter()
            res = (natural_scenes_result(s) if stimulus == "natural_scenes"
                   else drifting_gratings_result(s, n_boot=0))
            print(f"# {stimulus}: metrics result of session {eid} in "
                  f"{fmt_s(time.perf_counter() - t0)}")
        data = decoding_inputs(res, stimulus)
        y = data["label"].values
        for n in args.cells:
            X = data.values if n == 0 else data.values[:, :n]
            for clf in args.classifiers:
                t0 = time.perf_counter()
                r = decode(X, y, classifier=clf)
                dt = time.perf_counter() - t0
                print(f"{stimulus:<18} {r.n_cells:>5} {r.n_trials:>6} {r.n_classes:>7} "
                      f"{clf:<9} {r.accuracy:>8.3f} [{r.ci_low:.3f}, {r.ci_high:.3f}] "
                      f"{r.chance:>7.4f} {r.chance_empirical:>7.4f} {r.p_permutation:>7.4f} "
                      f"{fmt_s(dt):>9}", flush=True)
        if args.refit_permutations:
            t0 = time.perf_counter()
            r = decode(data.values, y, null="refit", n_permutations=args.refit_permutations)
            print(f"# {stimulus}: logistic, null='refit' with {args.refit_permutations} "
                  f"permutations: empirical chance {r.chance_empirical:.4f}, p "
                  f"{r.p_permutation:.4f}, {fmt_s(time.perf_counter() - t0)}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
