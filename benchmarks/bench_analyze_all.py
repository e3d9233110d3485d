"""Wall time and peak memory per worker of ``analyze_all`` (``brainobs analyze --all``).

Generates a synthetic observatory once into ``benchmarks/.data`` (``--size small``: the
demo's 12 containers, 11 analyzable = 33 sessions; ``--size full``: full-length sessions,
``--containers`` of them), then analyzes every container from scratch

* serially (``--workers 1``), in a child process, whose peak RSS (``ru_maxrss``) is reported;
* on a Dask ``LocalCluster`` of 2 single-threaded worker processes, reporting each worker's
  peak RSS (``ru_maxrss`` read on the worker after the run);

and prints sessions per minute for both and a projection for the whole release (1,518
sessions) on N workers, assuming the per-session time of the 2-worker run scales linearly
(each task reads only its own container: no shared state but the store folder).

Run: ``python benchmarks/bench_analyze_all.py [--size small|full] [--containers N]
[--n-shuffles N]``
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")  # one core per worker
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

from _common import BENCH_DATA  # noqa: E402

RELEASE_SESSIONS = 1518

SERIAL = """
import resource, sys, time
from brainobs.parallel import analyze_all
t0 = time.perf_counter()
r = analyze_all(sys.argv[1], workers=1, n_shuffles=int(sys.argv[2]))
assert r.ok, r.failed
print(time.perf_counter() - t0, len(r.done), resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def _peak_rss_kib() -> int:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def observatory(size: str, containers: int) -> Path:
    from brainobs.synth import generate_observatory

    out = BENCH_DATA / f"analyze-all-{size}-{containers}"
    if not (out / "brainobs.json").exists():
        print(f"generating a {size} synthetic observatory of {containers} container(s) in {out} (once) ...",
              flush=True)
        generate_observatory(out, size=size, seed=5, n_containers=containers, overwrite=out.exists())
    return out


def fresh_copy(src: Path, tmp: Path, name: str) -> Path:
    dst = tmp / name
    shutil.copytree(src, dst, ignore=shutil.ignore_patterns(".brainobs"))
    return dst


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--size", choices=["tiny", "small", "full"], default="small")
    ap.add_argument("--containers", type=int, default=None, help="default: 12 (small/tiny), 2 (full)")
    ap.add_argument("--n-shuffles", type=int, default=10_000)
    args = ap.parse_args()
    n = args.containers or (2 if args.size == "full" else 12)
    src = observatory(args.size, n)

    from distributed import Client

    from brainobs.catalog import Observatory
    from brainobs.parallel import analyze_all, local_cluster

    sessions = len(Observatory(src).experiments())
    print(f"{args.size} observatory: {sessions} analyzable sessions, n_shuffles={args.n_shuffles}; "
          f"{os.cpu_count()} CPUs", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        d1 = fresh_copy(src, Path(tmp), "serial")
        out = subprocess.run([sys.executable, "-c", SERIAL, str(d1), str(args.n_shuffles)],
                             check=True, capture_output=True, text=True).stdout.split()
        t1, done1, rss1 = float(out[0]), int(out[1]), int(out[2])
        print(f"serial (--workers 1): {t1:.1f} s, {done1} containers, {sessions / t1 * 60:.1f} sessions/min, "
              f"peak RSS {rss1 / 1024:.0f} MiB", flush=True)

        d2 = fresh_copy(src, Path(tmp), "dask")
        with local_cluster(2) as cluster, Client(cluster) as client:  # what --workers 2 starts
            limit = next(iter(client.scheduler_info()["workers"].values()))["memory_limit"]
            t0 = time.perf_counter()
            report = analyze_all(d2, client=client, n_shuffles=args.n_shuffles)
            t2 = time.perf_counter() - t0
            assert report.ok, report.failed
            peaks = client.run(_peak_rss_kib)
        print(f"2 Dask workers: {t2:.1f} s, {len(report.done)} containers, {sessions / t2 * 60:.1f} sessions/min "
              f"(speed-up {t1 / t2:.2f}x); peak RSS per worker "
              + ", ".join(f"{v / 1024:.0f} MiB" for v in peaks.values())
              + f" (memory limit {limit / 2**30:.1f} GiB each)", flush=True)
        a = Observatory(d1).cells(include_failed=True, warn=False).sort_values("cell_specimen_id")
        b = Observatory(d2).cells(include_failed=True, warn=False).sort_values("cell_specimen_id")
        same = a.reset_index(drop=True).equals(b.reset_index(drop=True))
        print(f"stored cell tables identical: {same}")
    per_session_worker_s = t2 * 2 / sessions
    print(f"projection for the whole release ({RELEASE_SESSIONS} sessions), {per_session_worker_s:.1f} "
          "worker-seconds per session:")
    for workers in (2, 8, 32, 128):
        hours = RELEASE_SESSIONS * per_session_worker_s / workers / 3600
        print(f"  {workers:4d} workers: {hours:6.2f} h")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
