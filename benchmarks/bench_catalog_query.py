"""Catalog query latency on a 63,000-cell table.

Builds an AllenSDK-style cache dir from the real 2017 container list
(``../shared/data/allen/metadata``) plus a 63,000-row ``cell_specimens.json`` with every
metric column (random values, seeded), then times:

* opening the observatory the first time (JSON → Parquet store) and again (Parquet),
* filtered ``cells()`` queries (area + Cre line + a metric filter),
* the same filter done the way AllenSDK does it (json.load + a Python list comprehension
  over dicts + DataFrame.query), as the baseline for the ratio,
* the computed-metrics store with 1,500 parts (one per analyzed container-session of a
  full release, all 63,000 cells, 20 metric columns): storing them, reading the cell table
  with all parts, with automatic compaction, and after one more part from elsewhere.

Run: ``python benchmarks/bench_catalog_query.py``
"""

from __future__ import annotations

import gzip
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from _common import fmt_s, timeit

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "allen"
N_CELLS = 63_000
METRICS = ["p_dg", "dsi_dg", "osi_dg", "g_dsi_dg", "g_osi_dg", "pref_dir_dg", "pref_tf_dg", "peak_dff_dg",
           "p_sg", "osi_sg", "pref_ori_sg", "pref_sf_sg", "pref_phase_sg", "p_ns", "pref_image_ns",
           "image_sel_ns", "reliability_nm1_a", "reliability_nm2", "reliability_nm3", "rf_chi2_lsn",
           "rf_area_on_lsn", "rf_area_off_lsn", "run_mod_dg", "run_mod_sg", "run_mod_ns", "tfdi_dg", "sfdi_sg"]


def build_cache_dir(root: Path) -> None:
    containers = json.loads(gzip.decompress((SHARED / "metadata/experiment_containers_2017.json.gz").read_bytes()))
    (root / "experiment_containers.json").write_text(json.dumps(containers))
    shutil.copy(SHARED / "metadata/boc_manifest_2017.json", root / "manifest.json")
    rng = np.random.default_rng(0)
    pick = rng.integers(0, len(containers), N_CELLS)
    rows = []
    for i, ci in enumerate(pick):
        c = containers[ci]
        donor = c["specimen"]["donor"]
        cre = next((t["name"] for t in donor["transgenic_lines"] if "Cre" in t["name"]), None)
        row = {"cell_specimen_id": 600_000_000 + i, "experiment_container_id": c["id"],
               "specimen_id": c["specimen_id"], "area": c["targeted_structure"]["acronym"],
               "tld1_name": cre, "imaging_depth": c["imaging_depth"],
               "failed_experiment_container": c["failed"], "donor_full_genotype": donor["full_genotype"]}
        for m in METRICS:
            row[m] = float(rng.random())
        rows.append(row)
    (root / "cell_specimens.json").write_text(json.dumps(rows))


def allensdk_style(root: Path) -> int:
    """json.load + list-of-dict filtering + DataFrame.query: what BrainObservatoryCache does."""
    cells = json.loads((root / "cell_specimens.json").read_text())
    cells = [c for c in cells if not c["failed_experiment_container"]]
    df = pd.DataFrame(cells)
    hits = set(df.query("p_dg < 0.05")["cell_specimen_id"])
    out = [c for c in cells if c["cell_specimen_id"] in hits and c["area"] == "VISp"
           and c["tld1_name"] == "Cux2-CreERT2"]
    return len(out)


def main() -> int:
    from brainobs.catalog import open_observatory

    if not SHARED.exists():
        print(f"needs the real 2017 container list in {SHARED}", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        build_cache_dir(root)
        t0 = time.perf_counter()
        obs = open_observatory(root)
        n_all = len(obs.cells(include_failed=True))
        first_open = time.perf_counter() - t0
        t0 = time.perf_counter()
        obs = open_observatory(root)
        n_all = len(obs.cells(include_failed=True))
        reopen = time.perf_counter() - t0
        print(f"cells in table: {n_all:,} ({len(obs.cells()):,} in passed containers, the default)")
        print(f"first open (JSON → Parquet store, load cells): {fmt_s(first_open)}")
        print(f"re-open (Parquet store, load cells):           {fmt_s(reopen)}")

        queries = {
            "area=VISp, cre=Cux2, p_dg < 0.05": dict(area="VISp", cre_line="Cux2-CreERT2", filters="p_dg < 0.05"),
            "container ids (5)": dict(container_id=sorted({int(c) for c in obs.cells()["experiment_container_id"]})[:5]),
            "p_ns < 0.05 and dsi_dg > 0.5": dict(filters=["p_ns < 0.05", "dsi_dg > 0.5"]),
        }
        print(f"\n{'query':<38} {'median':>10} {'min':>10} {'rows':>7}")
        medians = []
        for name, kw in queries.items():
            med, mn = timeit(lambda kw=kw: obs.cells(**kw), repeat=50)
            medians.append(med)
            print(f"{name:<38} {fmt_s(med):>10} {fmt_s(mn):>10} {len(obs.cells(**kw)):>7}")
        ref = obs.cells(area="VISp", cre_line="Cux2-CreERT2", filters="p_dg < 0.05")
        med_sdk, _ = timeit(lambda: allensdk_style(root), repeat=3)
        assert allensdk_style(root) == len(ref), "baseline and brainobs disagree"
        print(f"\nAllenSDK-style (json + dict filtering), same query: {fmt_s(med_sdk)}")
        print(f"ratio AllenSDK-style / brainobs (first query): {med_sdk / medians[0]:,.0f}x")
        bench_store(root)
    return 0


N_PARTS = 1_500


def bench_store(root: Path) -> None:
    """Computed-metrics store: 1,500 parts written, read, compacted."""
    from brainobs.catalog import Observatory
    from brainobs.catalog import store as store_mod

    ids = Observatory(root).cells(include_failed=True, warn=False)["cell_specimen_id"].to_numpy()
    chunks = np.array_split(ids, N_PARTS)
    cols = METRICS[:20]
    rng = np.random.default_rng(1)
    parts = [pd.DataFrame({"cell_specimen_id": c, **{m: rng.random(len(c)) for m in cols}}) for c in chunks]
    print(f"\ncomputed-metrics store: {N_PARTS:,} parts ({len(ids):,} cells, {len(cols)} columns)")
    for label, compact_at in (("no compaction", 10**9), ("automatic compaction", store_mod.COMPACT_AT)):
        for d in (root / ".brainobs" / "catalog" / "computed", root / ".brainobs" / "catalog" / ".computed.lock"):
            shutil.rmtree(d, ignore_errors=True) if d.is_dir() else d.unlink(missing_ok=True)
        old = store_mod.COMPACT_AT
        store_mod.COMPACT_AT = compact_at
        try:
            writer = Observatory(root)
            t0 = time.perf_counter()
            for part in parts:
                writer.save_cells(part)
            write = time.perf_counter() - t0
        finally:
            store_mod.COMPACT_AT = old
        n_files = len(writer._computed_store.listing())
        med, _ = timeit(lambda: Observatory(root).cells(include_failed=True, warn=False), repeat=3)
        print(f"  {label:<22} store {N_PARTS:,} parts: {fmt_s(write)} ({fmt_s(write / N_PARTS)} each); "
              f"{n_files:,} files; cell table in a new Observatory: {fmt_s(med)}")
    t0 = time.perf_counter()
    n = writer._computed_store.compact(min_age_s=0, wait=True)
    print(f"  compact() of {n:,} files: {fmt_s(time.perf_counter() - t0)}")
    reader = Observatory(root)
    full = reader.cells(include_failed=True, warn=False)
    assert np.array_equal(full.set_index("cell_specimen_id").loc[parts[-1]["cell_specimen_id"], cols[0]],
                          parts[-1][cols[0]]), "stored values not read back"
    med, _ = timeit(lambda: Observatory(root).cells(include_failed=True, warn=False), repeat=5)
    print(f"  cell table in a new Observatory, compacted store: {fmt_s(med)}")
    Observatory(root).save_cells(parts[0])  # another process stores one more part
    t0 = time.perf_counter()
    reader.cells(include_failed=True, warn=False)
    print(f"  long-lived Observatory noticing one new part: {fmt_s(time.perf_counter() - t0)}")
    med, _ = timeit(lambda: reader.cells(area="VISp", filters="p_dg < 0.05", warn=False), repeat=20)
    print(f"  a query when nothing changed (one directory listing): {fmt_s(med)}")


if __name__ == "__main__":
    sys.exit(main())
