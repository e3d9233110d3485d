"""Session open time and dF/F read throughput on a full-length session.

Uses a one-container full-length synthetic observatory (~115,000 frames, ~200 cells,
real template shapes), generated once into ``benchmarks/.data`` (or
``$BRAINOBS_BENCH_DATA``). Prints:

* session open time (metadata only) next to a bare ``h5py.File`` open,
* whole-matrix dF/F read: brainobs ``Session.dff()`` vs a bare h5py read of the same
  dataset (ratio; 1.0 means no overhead), with peak memory of each,
* subset reads (10 cells; one minute of frames) vs the equivalent bare h5py hyperslab.

Run: ``python benchmarks/bench_session_io.py``
"""

from __future__ import annotations

import sys

import h5py
from _common import fmt_s, full_session_observatory, peak_memory, timeit


def main() -> int:
    from brainobs.io import Session
    from brainobs.io.layout import TRACES

    root = full_session_observatory()
    path = sorted((root / "ophys_experiment_data").glob("*.nwb"))[0]
    print(f"session file: {path.name} ({path.stat().st_size / 1e6:.0f} MB)")

    def open_brainobs():
        with Session(path) as s:
            return s.metadata

    def open_h5py():
        with h5py.File(path, "r") as f:
            return f["general/session_type"][()]

    med_open, _ = timeit(open_brainobs, repeat=30)
    med_h5, _ = timeit(open_h5py, repeat=30)
    print(f"open + metadata: brainobs {fmt_s(med_open)}   bare h5py open + 1 read {fmt_s(med_h5)}")

    s = Session(path)
    dset = f"{TRACES['dff']}/data"
    with h5py.File(path, "r") as f:
        shape = f[dset].shape
        nbytes = f[dset].size * f[dset].dtype.itemsize
    print(f"dF/F matrix: {shape[0]} cells × {shape[1]} frames ({nbytes / 1e6:.0f} MB)")

    def bare_full():
        with h5py.File(path, "r") as f:
            return f[dset][()]

    def bare_subset_cells():
        with h5py.File(path, "r") as f:
            return f[dset][10:20, :]

    def bare_subset_frames():
        with h5py.File(path, "r") as f:
            return f[dset][:, 30_000:31_800]

    ids = s.cell_specimen_ids[10:20]
    cases = [
        ("all cells, all frames", lambda: s.dff().values, bare_full),
        ("10 cells, all frames", lambda: s.dff(cell_specimen_ids=ids).values, bare_subset_cells),
        ("all cells, 1 min of frames", lambda: s.dff(frames=slice(30_000, 31_800)).values, bare_subset_frames),
    ]
    print(f"\n{'read':<28} {'brainobs':>10} {'h5py':>10} {'ratio':>7} {'MB/s':>8} {'peak MB (bo/h5py)':>18}")
    for name, ours, bare in cases:
        t_ours, _ = timeit(ours, repeat=5)
        t_bare, _ = timeit(bare, repeat=5)
        arr, peak_ours = peak_memory(ours)
        _, peak_bare = peak_memory(bare)
        mb = arr.nbytes / 1e6
        print(f"{name:<28} {fmt_s(t_ours):>10} {fmt_s(t_bare):>10} {t_ours / t_bare:>7.2f} "
              f"{mb / t_ours:>8.0f} {peak_ours / 1e6:>8.0f}/{peak_bare / 1e6:<8.0f}")
    s.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
