"""SIGKILL of a running download at seeded instants: afterwards every file is either complete
and byte-identical to the source or absent (a partial ``.part`` file and a record's ``.tmp``
are the only other things allowed); the rerun completes the set byte-identical and leaves no
temporary file.

20 kills of the library call and 6 of the real ``brainobs download`` command run as forked
children of ``kill_worker.py`` (no interpreter start-up per kill), and one of a whole
``brainobs download`` process.
"""

from __future__ import annotations

import json
import os
import random
import shlex
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from brainobs.fetch import METADATA_FILES, PART_SUFFIX, RECORD_DIR, nwb_key

WORKER = Path(__file__).with_name("kill_worker.py")
pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork and SIGKILL")


class Worker:
    def __init__(self, *args: str) -> None:
        self.proc = subprocess.Popen([sys.executable, str(WORKER), *args], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True)

    def ask(self, line: str) -> str:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()
        return self.proc.stdout.readline().strip()

    def start(self, args: list | None = None) -> int:
        return int(self.ask("run " + " ".join(shlex.quote(str(a)) for a in (args or []))))

    def wait(self, pid: int) -> int:
        return int(self.ask(f"wait {pid}"))

    def close(self) -> None:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.close()
        self.proc.wait(timeout=60)
        self.proc.stdout.close()


def two_containers(root: Path) -> tuple[list[int], list[str]]:
    """Two passed containers and the keys of the catalog files and their sessions' NWB files."""
    passed = sorted(c["id"] for c in json.loads((root / "experiment_containers.json").read_text())
                    if not c.get("failed"))[:2]
    exps = json.loads((root / "ophys_experiments.json").read_text())
    return passed, [*METADATA_FILES, *(nwb_key(e["id"]) for e in exps if e["experiment_container_id"] in passed)]


def check_state(src: Path, dest: Path, keys: list[str]) -> tuple[int, int]:
    """Every file whole and identical, or absent; only partial/temp files besides.
    Returns (complete files, partial files)."""
    complete = partial = 0
    allowed = set(keys)
    for p in dest.rglob("*"):
        if p.is_dir():
            continue
        rel = p.relative_to(dest).as_posix()
        if rel.startswith(".brainobs/"):  # the catalog's own store (the CLI opened the catalog)
            continue
        if rel.startswith(RECORD_DIR + "/"):
            assert rel.endswith((".json", ".json.tmp")), rel
            if rel.endswith(".json"):  # a record names a complete, identical file
                key = rel[len(RECORD_DIR) + 1:-len(".json")]
                rec = json.loads(p.read_text())
                assert rec["size"] == (src / key).stat().st_size
            continue
        if rel.endswith(PART_SUFFIX):
            assert rel[:-len(PART_SUFFIX)] in allowed, rel
            partial += 1
            continue
        assert rel in allowed, f"unexpected file {rel}"
        assert p.read_bytes() == (src / rel).read_bytes(), f"{rel} differs from the source"
        complete += 1
    return complete, partial


def leftovers(dest: Path) -> list[Path]:
    return [p for p in dest.rglob("*") if p.name.endswith((PART_SUFFIX, ".tmp"))]


def test_kill_downloads_at_seeded_instants(bucket, tiny_observatory, tmp_path):
    bucket.throttle_s = 0.002
    containers, keys = two_containers(tiny_observatory)
    assert len(keys) == 5 + 6
    dest = tmp_path / "data"
    lib = Worker("lib", bucket.url, str(dest), ",".join(keys))
    cli = Worker("cli")
    rng = random.Random(20261130)
    cli_args = ["download", "-d", dest, "--container", containers[0], "--container", containers[1],
                "--source", bucket.url, "-j", 3, "--timeout", 2]
    seen_complete, seen_partial = set(), 0
    try:
        durations = []
        for _ in range(2):  # uninterrupted runs (the first also imports): how long one takes
            shutil.rmtree(dest, ignore_errors=True)
            t0 = time.monotonic()
            assert lib.wait(lib.start()) == 0
            durations.append(time.monotonic() - t0)
            assert check_state(tiny_observatory, dest, keys) == (len(keys), 0)
        duration = min(durations)
        for kill in range(26):
            if kill % 3 == 0:
                shutil.rmtree(dest, ignore_errors=True)  # from nothing again, now and then
            worker = lib if kill < 20 else cli
            pid = worker.start(None if worker is lib else cli_args)
            time.sleep(rng.uniform(0.0, 1.0) * duration)
            os.kill(pid, signal.SIGKILL)
            assert worker.wait(pid) in (-signal.SIGKILL, 0)  # killed, or finished just before
            complete, partial = check_state(tiny_observatory, dest, keys)
            seen_complete.add(complete)
            seen_partial += partial > 0
        # a whole `brainobs download` process, killed mid-way
        exe = Path(sys.executable).with_name("brainobs")
        cmd = [str(exe)] if exe.is_file() else [sys.executable, "-m", "brainobs"]
        shutil.rmtree(dest, ignore_errors=True)
        proc = subprocess.Popen([*cmd, *map(str, cli_args)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(1.0 + duration / 2)
        proc.kill()
        proc.wait(timeout=60)
        check_state(tiny_observatory, dest, keys)
        # the rerun (the real command) completes the set and leaves no temporary file
        assert cli.wait(cli.start(cli_args)) == 0
    finally:
        lib.close()
        cli.close()
    assert check_state(tiny_observatory, dest, keys) == (len(keys), 0)
    assert not leftovers(dest)
    assert len(seen_complete) >= 5 and seen_partial >= 5  # the kills fell all over the runs
