"""Time of `brainobs report` for one area × Cre line on the demo observatory, metrics stored.

    python benchmarks/bench_report.py [--data-dir DIR] [--area VISp] [--cre-line Cux2-CreERT2]

Makes the demo's small synthetic observatory in a temporary folder when --data-dir is not
given, stores its drifting-grating and natural-scene metrics (untimed), then times
`build_report` + `save` with and without decoding. Goal: under 30 s with metrics stored.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from brainobs.catalog import open_observatory
from brainobs.parallel import analyze_missing
from brainobs.report import build_report


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data-dir", type=Path)
    ap.add_argument("--area", default=None)
    ap.add_argument("--cre-line", default=None)
    ap.add_argument("--repeat", type=int, default=2)
    args = ap.parse_args()
    tmp = tempfile.TemporaryDirectory()
    data = args.data_dir
    if data is None:
        from brainobs.synth import generate_observatory

        data = generate_observatory(Path(tmp.name) / "obs", size="small", seed=0)
    obs = open_observatory(data)
    analyze_missing(obs, families=["drifting_gratings", "natural_scenes"])  # untimed
    print(f"{data}: {len(obs.containers())} containers, {len(obs.cells(warn=False))} cells\n")
    print("| report | run | seconds |\n|---|---:|---:|")
    for decoding in (False, True):
        for i in range(args.repeat):
            t0 = time.perf_counter()
            rep = build_report(open_observatory(data), args.area, args.cre_line, decoding=decoding)
            rep.save(Path(tmp.name) / "report.html")
            print(f"| {'with' if decoding else 'without'} decoding | {i + 1} | "
                  f"{time.perf_counter() - t0:.1f} |")
    tmp.cleanup()


if __name__ == "__main__":
    main()
