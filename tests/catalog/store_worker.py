"""Worker processes of the store concurrency and kill tests (run as a script, not collected).

Modes (``python store_worker.py MODE DATA_DIR ...``):

``write TAG ROUNDS CID...``
    ROUNDS rounds; each stores, for every container CID (one ``save_cells`` call each), the
    columns ``w_<TAG>`` = round and ``v_<TAG>`` = :func:`value` for all of its cells, through
    one long-lived Observatory (made stale by the other writers).
``read SECONDS``
    Loops ``cells()`` for SECONDS through a long-lived and through fresh Observatory
    objects; exits 1 on any error or on a write seen in part (:func:`check_whole`).
``zygote``
    Imports once, then per stdin line ``run SEED`` forks a child that stores versions of
    every container in a loop (and rewrites the containers table) until it is killed,
    printing its pid; ``reap PID`` waits for a killed child.
``cli``
    Imports the ``brainobs`` command once, then per stdin line ``run ARG ARG ...`` forks a
    child that runs ``brainobs ARG ARG ...`` (the real command, without the seconds of
    interpreter start-up), printing its pid; ``wait PID`` prints the child's exit status
    (negative: killed by that signal).

Compaction is made frequent (``COMPACT_AT`` = 3) so that writes, reads and kills meet it.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
import time

import numpy as np
import pandas as pd

from brainobs.catalog import Observatory
from brainobs.catalog import store as store_mod


def value(tag: int, rnd: int, cells: np.ndarray) -> np.ndarray:
    """The value writer ``tag`` stores in round ``rnd`` for the cells (exact in float64)."""
    return tag * 1000.0 + rnd + (cells % 1000) / 1024.0


def container_cells(obs: Observatory) -> dict[int, np.ndarray]:
    cells = obs.cells(include_failed=True, warn=False)
    return {int(c): np.sort(g["cell_specimen_id"].to_numpy(dtype=np.int64))
            for c, g in cells.groupby("experiment_container_id")}


def check_whole(df: pd.DataFrame) -> str | None:
    """A write covers all cells of one container: within a container, every ``w_*`` and
    ``version`` column is all-NaN or one value, and ``v_*`` matches it."""
    for cid, g in df.groupby("experiment_container_id"):
        for col in [c for c in g.columns if c.startswith("w_") or c == "version"]:
            vals = g[col].to_numpy(dtype=float)
            if np.isnan(vals).all():
                continue
            if np.isnan(vals).any() or len(np.unique(vals)) != 1:
                return f"container {cid}: {col} seen in part: {vals.tolist()}"
            if col.startswith("w_"):
                tag = int(col[2:])
                want = value(tag, int(vals[0]), g["cell_specimen_id"].to_numpy(dtype=np.int64))
                if not np.array_equal(g["v_" + col[2:]].to_numpy(dtype=float), want):
                    return f"container {cid}: v_{tag} does not match round {int(vals[0])}"
    return None


def write(data_dir: str, tag: int, rounds: int, cids: list[int]) -> None:
    obs = Observatory(data_dir)
    groups = container_cells(obs)
    for rnd in range(rounds):
        for cid in cids:
            ids = groups[cid]
            obs.save_cells(pd.DataFrame({"cell_specimen_id": ids, f"w_{tag}": float(rnd),
                                         f"v_{tag}": value(tag, rnd, ids)}))


def read(data_dir: str, seconds: float) -> None:
    stale = Observatory(data_dir)
    n = 0
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        for obs in (stale, Observatory(data_dir)):
            problem = check_whole(obs.cells(include_failed=True, warn=False))
            if problem:
                sys.exit(f"reader saw a torn write: {problem}")
            n += 1
    print(n)


def loop_versions(data_dir: str, seed: int) -> None:  # pragma: no cover - runs until killed
    obs = Observatory(data_dir)
    groups = container_cells(obs)
    containers = obs.table("containers")
    version = seed * 1_000_000
    while True:
        for ids in groups.values():
            version += 1
            obs.save_cells(pd.DataFrame({"cell_specimen_id": ids, "version": float(version),
                                         "p_dg": float(version) + (ids % 1000) / 1024.0}))
        obs.write_table("containers", containers)


def zygote(data_dir: str) -> None:
    for line in sys.stdin:
        cmd, arg = line.split()
        if cmd == "run":
            pid = os.fork()
            if pid == 0:  # pragma: no cover - the child is killed
                try:
                    loop_versions(data_dir, int(arg))
                finally:
                    os._exit(3)
            print(pid, flush=True)
        elif cmd == "reap":
            os.waitpid(int(arg), 0)
            print("reaped", flush=True)


def cli_server() -> None:
    import shlex

    import brainobs.metrics  # noqa: F401 - imported once here, not in every forked child
    import brainobs.parallel  # noqa: F401
    from brainobs.cli import main

    for line in sys.stdin:
        cmd, *args = shlex.split(line)
        if cmd == "run":
            pid = os.fork()
            if pid == 0:  # pragma: no cover - runs in the child
                code = 1
                try:
                    sys.stdout = sys.stderr = open(os.devnull, "w")
                    code = main(args)
                finally:
                    os._exit(code)
            print(pid, flush=True)
        elif cmd == "wait":
            _, status = os.waitpid(int(args[0]), 0)
            print(os.waitstatus_to_exitcode(status), flush=True)



class CliServer:
    """Client of ``store_worker.py cli`` (used by the kill tests): runs ``brainobs ARGS`` in
    forked children on request."""

    def __init__(self) -> None:
        self.proc = subprocess.Popen([sys.executable, __file__, "cli", "-"], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True)

    def _ask(self, line: str) -> str:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()
        return self.proc.stdout.readline().strip()

    def start(self, args: list) -> int:
        return int(self._ask("run " + " ".join(shlex.quote(str(a)) for a in args)))

    def wait(self, pid: int) -> int:
        return int(self._ask(f"wait {pid}"))

    def close(self) -> None:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.close()
        self.proc.wait(timeout=60)
        self.proc.stdout.close()


if __name__ == "__main__":
    store_mod.COMPACT_AT = 3
    store_mod.COMPACT_MIN_AGE_S = 0.5
    mode, ddir, *rest = sys.argv[1:]
    if mode == "write":
        write(ddir, int(rest[0]), int(rest[1]), [int(c) for c in rest[2:]])
    elif mode == "read":
        read(ddir, float(rest[0]))
    elif mode == "zygote":
        zygote(ddir)
    elif mode == "cli":
        cli_server()
    else:
        sys.exit(f"unknown mode {mode}")
