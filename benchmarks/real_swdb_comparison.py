"""The real per-Cre-line comparison in the README, reproduced from the shared SWDB-2019 table.

    python benchmarks/real_swdb_comparison.py [--n-boot 1000] [--table PATH]

Prints markdown: fraction responsive to drifting gratings (the survey's event-based
`responsive_dg`), median gOSI of responsive cells, the preferred-TF distribution, each with
intervals and tests, and role-profile sentences for two Cre lines. The table has no area
and no container column, so intervals resample cells (said in every table's notes).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd

from brainobs.population import compare, from_table, role_profile

DEFAULT = (Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "allen" / "cell_metrics"
           / "swdb2019_saskia_dg_responsiveness.csv.gz")
TFS = (1.0, 2.0, 4.0, 8.0, 15.0)


def _p(p: float) -> str:
    return f"{p:.2g}" if p >= 1e-4 else f"{p:.1e}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--table", type=Path, default=DEFAULT)
    ap.add_argument("--n-boot", type=int, default=1000)
    args = ap.parse_args()
    t = from_table(pd.read_csv(args.table))
    print(f"{len(t)} cells, {t['cre_line'].nunique()} Cre lines\n")

    frac = compare(t, "responsive_dg", "cre_line", n_boot=args.n_boot)
    gosi = compare(t, "g_osi_dg", "cre_line", n_boot=args.n_boot)
    tf = compare(t, "pref_tf_dg", "cre_line", n_boot=args.n_boot)
    resp = t[t["responsive_dg"]]
    dist = (resp.groupby("cre_line")["pref_tf_dg"].value_counts(normalize=True)
            .unstack(fill_value=0.0).reindex(columns=list(TFS), fill_value=0.0))
    g = frac.groups.set_index("cre_line")
    o = gosi.groups.set_index("cre_line")
    rows = []
    for cre in g.sort_values("fraction", ascending=False).index:
        d = dist.loc[cre]
        rows.append(f"| {cre} | {int(g.loc[cre, 'n_cells'])} | {g.loc[cre, 'fraction']:.3f} "
                    f"({g.loc[cre, 'ci_low']:.3f}–{g.loc[cre, 'ci_high']:.3f}) | "
                    f"{o.loc[cre, 'median']:.3f} ({o.loc[cre, 'ci_low']:.3f}–{o.loc[cre, 'ci_high']:.3f}) | "
                    + " / ".join(f"{100 * d[f]:.0f}" for f in TFS) + " |")
    print("| Cre line | cells | fraction responsive (95 % CI) | median gOSI, responsive (95 % CI) "
          "| preferred TF 1/2/4/8/15 Hz, % of responsive |")
    print("|---|---:|---:|---:|---:|")
    print("\n".join(rows))
    allf = t["responsive_dg"].mean()
    print(f"| all | {len(t)} | {allf:.3f} | {resp['g_osi_dg'].median():.3f} | "
          + " / ".join(f"{100 * (resp['pref_tf_dg'] == f).mean():.0f}" for f in TFS) + " |")
    print()
    for name, res in (("fraction responsive", frac), ("gOSI of responsive cells", gosi),
                      ("preferred TF of responsive cells", tf)):
        sig = res.pairwise["significant"]
        print(f"- {name}: {res.omnibus_text()}; {int(sig.sum())} of {len(sig)} pairs differ "
              f"(Holm-corrected p < 0.05).")
    print()
    for cre in ("Sst-IRES-Cre", "Ntsr1-Cre_GN220"):
        prof = role_profile(t, cre, n_boot=args.n_boot)
        print("> " + " ".join(prof.sentences))
        print()


if __name__ == "__main__":
    main()
