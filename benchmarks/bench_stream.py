"""Streaming a full-length session over HTTP: bytes transferred and time, as a fraction of the file.

Serves the one-container full-length synthetic observatory (``size="full"``: ~200 cells,
~115,000 frames in session A, real template shapes; generated once into
``benchmarks/.data`` or ``$BRAINOBS_BENCH_DATA``) from a local HTTP server with range
support on 127.0.0.1 (``tests/io/range_server.py``), which counts the bytes it sends. For
each of the container's three session files it opens ``Session(URL)`` and prints:

* metadata only (what ``Session(URL)`` reads when opened),
* metadata + dF/F of 10 adjacent cells (whole session),
* metadata + dF/F of 10 cells spread over the session (every 20th cell),

each as bytes sent by the server, HTTP requests, wall time, and the fraction of the file,
with the default block size (:data:`brainobs.io.remote.DEFAULT_BLOCK_SIZE`). The values are
checked to equal the local file's. ``--analyze`` also streams every metric of session A
(:func:`brainobs.metrics.analyze`) and reports the bytes it needed.

The server is local, so the times show the client's overhead, not network latency: over a
real link add about one round trip per request (requests are issued one after another).

Run: ``python benchmarks/bench_stream.py [--analyze] [--block-size BYTES]``
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np
from _common import fmt_s, full_session_observatory

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "io"))
from range_server import RangeServer  # noqa: E402


def measure(server: RangeServer, url: str, read, block_size: int | None, repeat: int = 3):
    """Median wall time, bytes sent and requests of ``read(session)`` on a freshly opened URL."""
    from brainobs.io import Session

    times, sent, requests, result = [], 0, 0, None
    for _ in range(repeat):
        server.reset()
        t0 = time.perf_counter()
        with Session(url, block_size=block_size) as s:
            result = read(s)
        times.append(time.perf_counter() - t0)
        sent, requests = server.bytes_sent, len(server.requests)
    return statistics.median(times), sent, requests, result


def main(argv: list[str] | None = None) -> int:
    from brainobs.io import Session
    from brainobs.io.remote import DEFAULT_BLOCK_SIZE

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--analyze", action="store_true", help="also stream every metric of session A")
    ap.add_argument("--block-size", type=int, default=None, help=f"bytes per range request (default {DEFAULT_BLOCK_SIZE})")
    args = ap.parse_args(argv)
    bs = args.block_size or DEFAULT_BLOCK_SIZE

    root = full_session_observatory()
    files = sorted((root / "ophys_experiment_data").glob("*.nwb"))
    print(f"block size {bs // 1024} KiB; local HTTP server on 127.0.0.1 with Range support\n")
    header = f"{'file':<15} {'type':<18} {'size':>8}  {'what':<28} {'sent':>10} {'fraction':>9} {'requests':>8} {'time':>9}"
    print(header)
    print("-" * len(header))
    with RangeServer(root) as server:
        for path in files:
            size = path.stat().st_size
            url = f"{server.url}ophys_experiment_data/{path.name}"
            with Session(path) as local:
                stype, ids = local.session_type, local.cell_specimen_ids
                t0 = time.perf_counter()
                local_adjacent = local.dff(ids[:10]).values
                t_local = time.perf_counter() - t0
                local_spread = local.dff(ids[::20][:10]).values
            cases = [
                ("metadata", lambda s: s.metadata),
                ("metadata + 10 adjacent cells", lambda s, i=ids[:10]: s.dff(i).values),
                ("metadata + 10 spread cells", lambda s, i=ids[::20][:10]: s.dff(i).values),
            ]
            for what, read in cases:
                t, sent, n_req, value = measure(server, url, read, bs)
                if "adjacent" in what:
                    assert np.array_equal(value, local_adjacent)
                elif "spread" in what:
                    assert np.array_equal(value, local_spread)
                print(f"{path.name:<15} {stype:<18} {size / 1e6:>6.0f}MB  {what:<28} "
                      f"{sent / 1e6:>8.2f}MB {sent / size:>8.2%} {n_req:>8} {fmt_s(t):>9}")
            print(f"{'':<15} {'':<18} {'':>8}  (local file, 10 adjacent cells' dF/F: {fmt_s(t_local)})")
        if args.analyze:
            from brainobs.metrics import analyze

            path = files[0]
            url = f"{server.url}ophys_experiment_data/{path.name}"
            server.reset()
            t0 = time.perf_counter()
            with Session(url, block_size=bs) as s:
                streamed = analyze(s)
            t_stream = time.perf_counter() - t0
            sent, n_req = server.bytes_sent, len(server.requests)
            t0 = time.perf_counter()
            with Session(path) as local:
                expected = analyze(local)
            t_local = time.perf_counter() - t0
            assert streamed.equals(expected)
            size = path.stat().st_size
            print(f"\nanalyze() of {path.name} streamed: {sent / 1e6:.1f} MB of {size / 1e6:.0f} MB "
                  f"({sent / size:.1%}), {n_req} requests, {fmt_s(t_stream)} (local file: {fmt_s(t_local)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
