"""Planted truth: are the differences planted between Cre lines found, and nothing in the null?

For each seed, generates the planted and the null comparison observatories
(:func:`brainobs.synth.generate_comparison_observatory`), computes the drifting-grating metrics
of every container (:func:`brainobs.metrics.analyze_catalog_container`), and compares the Cre
lines on each planted quantity:

- ``p_dg < 0.05`` (fraction of all cells): Fisher's exact test;
- ``dsi_dg``, ``pref_tf_dg``, ``|run_mod_dg|`` of responsive cells (``p_dg < 0.05``):
  two-sided Mann–Whitney U;

in three ways — each line vs the other lines pooled, each line vs the reference line (no
planted difference), every pair of lines — with a Holm correction over all the tests of one
way in one observatory (statsmodels). Prints, per planted difference, how often it is found
(Holm p < ``--alpha-detect``, right sign), the other significant findings of the planted
observatories, and the null's false-positive rate (seeds with any Holm p < ``--alpha-null``).
``--json FILE`` writes every test. The lead will swap these tests for
``brainobs.population.compare``.

    python benchmarks/planted_truth.py --seeds 5            # seeds 0..4
    python benchmarks/planted_truth.py --seeds 3 --first 10 --keep DIR
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats
from statsmodels.stats.multitest import multipletests

import brainobs as bo
from brainobs.metrics import analyze_catalog_container
from brainobs.synth import (
    COMPARISON_CRE_LINES,
    COMPARISON_REFERENCE,
    PLANTED_DIFFERENCES,
    generate_comparison_observatory,
)

RESPONSIVE = "p_dg < 0.05"
MODES = ("pooled", "reference", "pairwise")
QUANTITIES = [(d.metric, d.cells) for d in PLANTED_DIFFERENCES]


def cell_table(obs: bo.Observatory) -> pd.DataFrame:
    """Drifting-grating metrics of every container, with the Cre line."""
    cont = obs.containers()
    parts = []
    for cid, cre in zip(cont["id"], cont["cre_line"], strict=True):
        t = analyze_catalog_container(obs, int(cid), families=["drifting_gratings"])
        parts.append(t.assign(cre_line=cre))
    return pd.concat(parts)


def _clock() -> tuple[float, float]:
    """Wall time, and CPU time of this process plus its finished child processes (the
    generator's workers)."""
    t = os.times()
    return time.perf_counter(), t.user + t.system + t.children_user + t.children_system


def values(cells: pd.DataFrame, metric: str, which: str) -> pd.Series:
    sub = cells[cells["p_dg"] < 0.05] if which == "responsive" else cells
    if metric == RESPONSIVE:
        return (sub["p_dg"] < 0.05).astype(float)[sub["p_dg"].notna()]
    if metric.startswith("abs(") and metric.endswith(")"):
        return sub[metric[4:-1]].abs().dropna()
    return sub[metric].dropna()


def two_sample(a: pd.Series, b: pd.Series, metric: str) -> tuple[float, float]:
    """(p, effect): Fisher + difference in fractions, or Mann–Whitney + rank-biserial r."""
    if metric == RESPONSIVE:
        table = [[int(a.sum()), int((1 - a).sum())], [int(b.sum()), int((1 - b).sum())]]
        return float(stats.fisher_exact(table).pvalue), float(a.mean() - b.mean())
    if len(a) < 2 or len(b) < 2:
        return np.nan, np.nan
    res = stats.mannwhitneyu(a, b, alternative="two-sided")
    return float(res.pvalue), float(2 * res.statistic / (len(a) * len(b)) - 1)


def line_tests(cells: pd.DataFrame, mode: str = "pooled") -> pd.DataFrame:
    """Every Cre line against the others pooled (``mode="pooled"``), against the reference
    line (``"reference"``) or every pair of lines (``"pairwise"``), on every planted quantity;
    Holm over all the tests of the observatory."""
    rows = []
    lines = sorted(cells["cre_line"].unique())
    if mode == "pairwise":
        pairs = [(x, [y]) for i, x in enumerate(lines) for y in lines[i + 1:]]
    elif mode == "reference":
        pairs = [(x, [COMPARISON_REFERENCE]) for x in lines if x != COMPARISON_REFERENCE]
    else:
        pairs = [(x, [y for y in lines if y != x]) for x in lines]
    for metric, which in QUANTITIES:
        for line, others in pairs:
            a = values(cells[cells["cre_line"] == line], metric, which)
            b = values(cells[cells["cre_line"].isin(others)], metric, which)
            p, effect = two_sample(a, b, metric)
            center = np.mean if metric == RESPONSIVE else np.median  # fraction or median
            rows.append({"metric": metric, "cells": which, "cre_line": line,
                         "other": others[0] if len(others) == 1 else "others",
                         "n_line": len(a),
                         "n_others": len(b), "line_value": float(center(a)) if len(a) else np.nan,
                         "others_value": float(center(b)) if len(b) else np.nan,
                         "effect": effect, "p": p})
    out = pd.DataFrame(rows)
    ok = out["p"].notna()
    out["p_holm"] = np.nan
    out.loc[ok, "p_holm"] = multipletests(out.loc[ok, "p"], method="holm")[1]
    return out


MIN_CELLS = 20  # pairwise: a pair counts only when both lines have this many values (the
# barely responsive line has ~10 responsive cells: too few for a test of their selectivity)


def _found(t: pd.DataFrame, d, alpha: float) -> pd.Series:
    """Per seed: is the planted difference found (every test of its line with at least
    MIN_CELLS values on both sides significant, right sign)? Effects are oriented so that
    positive means the planted line is higher."""
    t = t[(t["n_line"] >= MIN_CELLS) & (t["n_others"] >= MIN_CELLS)]
    sign = np.where(t["cre_line"] == d.cre_line, 1, -1) * np.sign(t["effect"])
    ok = (t["p_holm"] < alpha) & (sign == d.sign)
    return ok.groupby(t["seed"]).all()


def report(tests: pd.DataFrame, mode: str, alpha_detect: float, alpha_null: float) -> None:
    planted = tests[(tests["kind"] == "planted") & (tests["mode"] == mode)]
    null = tests[(tests["kind"] == "null") & (tests["mode"] == mode)]
    what = {"pooled": "each line vs the other lines pooled",
            "reference": f"each line vs the reference line ({COMPARISON_REFERENCE})",
            "pairwise": "every pair of lines; found when every pair of the planted line with "
                        f"another line that has >= {MIN_CELLS} values on both sides is "
                        "significant"}[mode]
    print(f"\n### {mode}: {what}\n")
    print(f"Found = Holm p < {alpha_detect} with the right sign.\n")
    print("| Cre line | planted | quantity | found (seeds) | line / others (median; fraction) | max p_holm |")
    print("|---|---|---|---:|---|---:|")
    target = set()
    for d in PLANTED_DIFFERENCES:
        mine = (planted["metric"] == d.metric) & ((planted["cre_line"] == d.cre_line)
                                                  | (planted["other"] == d.cre_line))
        target |= set(planted.index[mine])
        t = planted[mine]
        found = _found(t, d, alpha_detect)
        pooled = tests[(tests["kind"] == "planted") & (tests["mode"] == "pooled")]
        head = pooled[(pooled["metric"] == d.metric) & (pooled["cre_line"] == d.cre_line)]
        if mode == "pairwise":
            t = t[(t["n_line"] >= MIN_CELLS) & (t["n_others"] >= MIN_CELLS)]
        q = d.metric + (" (responsive)" if d.cells == "responsive" else " (all cells)")
        print(f"| {d.cre_line} | {d.description.split(' (')[0]} | `{q}` | "
              f"{int(found.sum())}/{len(found)} | {head['line_value'].median():.3g} / "
              f"{head['others_value'].median():.3g} | {t['p_holm'].max():.2g} |")
    off = planted.drop(index=list(target))
    off_sig = off[off["p_holm"] < alpha_null]
    print(f"\nOther findings in the planted observatories (Holm p < {alpha_null}): "
          f"{len(off_sig)} of {len(off)} tests")
    for _, r in off_sig.iterrows():
        print(f"  seed {r.seed}: {r.cre_line} vs {r.other}: {r.metric} ({r.cells}), effect "
              f"{r.effect:+.2f}, p_holm {r.p_holm:.2g}")
    per_seed = null.groupby("seed")["p_holm"].min()
    fp = per_seed < alpha_null
    n_tests = len(null) // max(len(per_seed), 1)
    print(f"\nNull observatories: {int(fp.sum())} of {len(fp)} seeds with any Holm p < {alpha_null} "
          f"(false-positive rate {fp.mean():.2f}; {n_tests} tests per seed); smallest p_holm per "
          "seed: " + ", ".join(f"{p:.2g}" for p in per_seed))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seeds", type=int, default=5, help="number of seeds (default 5)")
    ap.add_argument("--first", type=int, default=0, help="first seed (default 0)")
    ap.add_argument("--containers", type=int, default=3, help="containers per Cre line")
    ap.add_argument("--extra-line", action="append", default=[],
                    help="also generate this Cre line (no planted difference); repeatable")
    ap.add_argument("--workers", type=int, default=None,
                    help="processes generating containers (default: the cores)")
    ap.add_argument("--alpha-detect", type=float, default=0.01)
    ap.add_argument("--alpha-null", type=float, default=0.05)
    ap.add_argument("--keep", type=Path, help="keep the observatories under this directory")
    ap.add_argument("--reuse", action="store_true",
                    help="with --keep: analyze observatories already there instead of generating")
    ap.add_argument("--json", type=Path, help="write every test here")
    args = ap.parse_args(argv)

    root = args.keep or Path(tempfile.mkdtemp(prefix="planted-"))
    root.mkdir(parents=True, exist_ok=True)
    lines = [*COMPARISON_CRE_LINES, *args.extra_line]
    all_tests, timings = [], []
    try:
        for seed in range(args.first, args.first + args.seeds):
            for kind in ("planted", "null"):
                out = root / f"{kind}-{seed}"
                w0, c0 = _clock()
                if not (args.reuse and (out / "brainobs.json").is_file()):
                    generate_comparison_observatory(
                        out, kind, seed, cre_lines=lines,
                        containers_per_cre_line=args.containers, overwrite=True,
                        workers=args.workers)
                w1, c1 = _clock()
                cells = cell_table(bo.open_observatory(out))
                w2, c2 = _clock()
                timings.append({"seed": seed, "kind": kind, "generate_s": w1 - w0,
                                "generate_cpu_s": c1 - c0, "analyze_dg_s": w2 - w1,
                                "analyze_dg_cpu_s": c2 - c1, "cells": len(cells),
                                "run_mod_dg_with_value": float(cells["run_mod_dg"].notna().mean())})
                for mode in MODES:
                    all_tests.append(line_tests(cells, mode).assign(seed=seed, kind=kind,
                                                                    mode=mode))
                print(f"seed {seed} {kind}: generate {w1 - w0:.1f} s (cpu {c1 - c0:.1f}), analyze "
                      f"DG {w2 - w1:.1f} s (cpu {c2 - c1:.1f}), {len(cells)} cells, run_mod_dg "
                      f"has a value for {cells['run_mod_dg'].notna().mean():.0%}", file=sys.stderr)
                if not args.keep:
                    shutil.rmtree(out, ignore_errors=True)
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)
    tests = pd.concat(all_tests, ignore_index=True)
    print(f"## Planted truth: seeds {args.first}..{args.first + args.seeds - 1}, "
          f"{len(lines)} Cre lines × {args.containers} containers")
    for mode in MODES:
        report(tests, mode, args.alpha_detect, args.alpha_null)
    tm = pd.DataFrame(timings)
    print("\nPer observatory (wall / cpu s): generate median "
          f"{tm.generate_s.median():.1f} / {tm.generate_cpu_s.median():.1f}, analyze DG median "
          f"{tm.analyze_dg_s.median():.1f} / {tm.analyze_dg_cpu_s.median():.1f}; run_mod_dg has "
          f"a value for {tm.run_mod_dg_with_value.mean():.0%} of cells")
    if args.json:
        args.json.write_text(json.dumps({"tests": tests.to_dict("records"),
                                         "timings": timings}, indent=1, default=float))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
