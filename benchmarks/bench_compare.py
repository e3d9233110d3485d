"""Speed of `brainobs.population.compare` on a 63,000-cell table (in memory).

    python benchmarks/bench_compare.py [--cells 63000] [--repeat 5]

The table has the release's shape: 13 Cre lines × 6 areas, ~450 containers of ~140 cells,
drifting-grating metrics drawn at random (seeded). Goal: every comparison under 1 s with the
default 1,000 hierarchical-bootstrap replicates. Prints median and minimum wall time.
"""

from __future__ import annotations

import argparse

import numpy as np
import pandas as pd
from _common import timeit

from brainobs import vocab
from brainobs.population import compare, from_table


def table(n: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    n_cont = max(1, n // 140)
    cont_cre = rng.choice(vocab.CRE_LINES, n_cont)
    cont_area = rng.choice(vocab.AREAS, n_cont)
    cont = rng.integers(0, n_cont, n)
    return from_table(pd.DataFrame({
        "cell_specimen_id": np.arange(n), "experiment_container_id": 500_000_000 + cont,
        "specimen_id": 400_000_000 + cont // 2, "tld1_name": cont_cre[cont], "area": cont_area[cont],
        "imaging_depth": 275.0, "p_dg": rng.uniform(0, 0.2, n), "g_osi_dg": rng.beta(2, 3, n),
        "dsi_dg": rng.gamma(2, 0.2, n), "pref_tf_dg": rng.choice([1.0, 2, 4, 8, 15], n)}))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--cells", type=int, default=63_000)
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    t = table(args.cells)
    print(f"{len(t)} cells, {t['experiment_container_id'].nunique()} containers, "
          f"{t['cre_line'].nunique()} Cre lines × {t['area'].nunique()} areas\n")
    print("| comparison | groups | median | min |\n|---|---:|---:|---:|")
    cases = [
        ("'p_dg < 0.05' by cre_line (fraction, 78 pairs)", "p_dg < 0.05", "cre_line"),
        ("g_osi_dg by cre_line (responsive cells, 78 pairs)", "g_osi_dg", "cre_line"),
        ("g_osi_dg by area (responsive cells, 15 pairs)", "g_osi_dg", "area"),
        ("pref_tf_dg by cre_line (responsive cells)", "pref_tf_dg", "cre_line"),
        ("'p_dg < 0.05' by cre_line × area (78 groups, no pairs)", "p_dg < 0.05", ["cre_line", "area"]),
    ]
    for name, metric, by in cases:
        res = compare(t, metric, by)
        med, low = timeit(lambda m=metric, b=by: compare(t, m, b), repeat=args.repeat)
        print(f"| {name} | {len(res.groups)} | {med:.2f} s | {low:.2f} s |")


if __name__ == "__main__":
    main()
