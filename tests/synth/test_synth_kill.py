"""`kill -9` of `brainobs synth` at seeded random instants, and the clean-up of leftovers.

After every kill the output folder is either a complete observatory (every file readable,
the same files as an uninterrupted run) or absent, no worker process survives its killed
parent, and the next run succeeds and leaves no ``<out>.tmp-*`` / ``<out>.old-*`` folder.

Most kills go to a small fork server (brainobs imported once, one forked child per run, as
the CLI would run it) so that Python start-up does not dominate; a few go through the real
``python -m brainobs synth`` command.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from brainobs.catalog import open_observatory
from brainobs.io import Session
from brainobs.synth import clean_leftovers, generate_observatory
from brainobs.synth.observatory import _host

pytestmark = pytest.mark.skipif(not hasattr(os, "fork") or sys.platform != "linux",
                                reason="SIGKILL/fork tests need Linux")

N_KILLS = 20
SEED = 20240607

SERVER = r'''
import os, sys, traceback
from brainobs.synth import generate_observatory
print("ready", flush=True)
for line in sys.stdin:
    out = line.strip()
    pid = os.fork()
    if pid == 0:
        code = 0
        try:
            generate_observatory(out, size="tiny", seed=0, n_containers=2, workers=2, overwrite=True)
        except BaseException:
            traceback.print_exc()
            code = 1
        os._exit(code)
    print("pid", pid, flush=True)
    sys.stdin.readline()  # reaped only when asked: until then the pid cannot be reused
    _, status = os.waitpid(pid, 0)
    print("exit", pid, status, flush=True)
'''


def leftovers(out: Path) -> list[str]:
    return sorted(p.name for p in out.parent.iterdir()
                  if p.name.startswith(f"{out.name}.tmp-") or p.name.startswith(f"{out.name}.old-"))


def file_list(out: Path) -> list[str]:
    """The files synth writes (not the catalog cache that opening the observatory adds)."""
    files = (p.relative_to(out) for p in out.rglob("*") if p.is_file())
    return sorted(str(f) for f in files if f.parts[0] != ".brainobs")


def assert_complete(out: Path, reference: list[str]) -> None:
    """Every file of an uninterrupted run is there and readable."""
    assert file_list(out) == reference
    for name in ("manifest.json", "experiment_containers.json", "ophys_experiments.json",
                 "cell_specimens.json", "stimulus_mappings.json", "brainobs.json"):
        json.loads((out / name).read_text())
    obs = open_observatory(out)
    exps = obs.experiments(include_failed=True)
    assert len(exps) == 6 and len(obs.cells(warn=False)) == 2 * 8
    for eid in exps["id"]:
        with Session(obs.session_path(int(eid))) as s:
            assert s.n_cells == 8 and s.dff().shape[0] == 8
    for f in (out / "ground_truth").glob("*.parquet"):
        assert len(pd.read_parquet(f)) == 8


def live_processes_running(script: Path, exclude: set[int]) -> list[int]:
    """Non-zombie processes whose command line names ``script`` (forked workers keep it)."""
    found = []
    for d in Path("/proc").iterdir():
        if not d.name.isdigit() or int(d.name) in exclude:
            continue
        try:
            cmd = (d / "cmdline").read_bytes()
            state = (d / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if str(script).encode() in cmd and state not in ("Z", "X"):
            found.append(int(d.name))
    return found


class ForkServer:
    def __init__(self, script: Path):
        self.script = script
        self.proc = subprocess.Popen([sys.executable, str(script)], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        assert self._line() == "ready"

    def _line(self) -> str:
        line = self.proc.stdout.readline()  # type: ignore[union-attr]
        if not line:
            raise AssertionError(f"fork server died: {self.proc.stderr.read()}")  # type: ignore[union-attr]
        return line.strip()

    def start(self, out: Path) -> int:
        self.proc.stdin.write(f"{out}\n")  # type: ignore[union-attr]
        self.proc.stdin.flush()  # type: ignore[union-attr]
        kind, pid = self._line().split()
        assert kind == "pid"
        return int(pid)

    def wait(self, pid: int) -> int:
        self.proc.stdin.write("wait\n")  # type: ignore[union-attr]
        self.proc.stdin.flush()  # type: ignore[union-attr]
        kind, done, status = self._line().split()
        assert kind == "exit" and int(done) == pid
        return int(status)

    def close(self) -> None:
        try:
            self.proc.communicate(timeout=30)  # closes stdin (the server ends) and the pipes
        except subprocess.TimeoutExpired:  # pragma: no cover - only when a test failed
            self.proc.kill()
            self.proc.communicate()


def test_sigkill_at_random_instants_leaves_complete_or_nothing(tmp_path):
    script = tmp_path / "synth_fork_server.py"
    script.write_text(SERVER)
    server = ForkServer(script)
    try:
        out = tmp_path / "obs"
        t0 = time.monotonic()
        pid = server.start(out)
        assert server.wait(pid) == 0  # an uninterrupted run: the reference
        duration = time.monotonic() - t0
        reference = file_list(out)
        assert_complete(out, reference)
        import shutil

        shutil.rmtree(out)

        rng = np.random.default_rng(SEED)
        outcomes: list[str] = []
        while outcomes.count("killed") < N_KILLS:  # runs that finish before their instant do not count
            assert len(outcomes) < 2 * N_KILLS, outcomes
            delay = rng.uniform(0.0, duration)
            pid = server.start(out)
            time.sleep(float(delay))
            os.kill(pid, signal.SIGKILL)
            status = server.wait(pid)
            killed = os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL
            outcomes.append("killed" if killed else "finished")
            # no worker outlives its killed parent (they would wait on their queue for ever)
            deadline = time.monotonic() + 10
            while (stray := live_processes_running(script, {server.proc.pid})) and time.monotonic() < deadline:
                time.sleep(0.05)
            for p in stray:  # do not leave them behind when the test fails
                os.kill(p, signal.SIGKILL)
            assert not stray, f"worker processes survived the kill: {stray}"
            if out.exists():
                assert_complete(out, reference)
        print(f"{len(outcomes)} runs, {outcomes.count('killed')} killed, reference {duration:.1f} s")
        # The next run removes every leftover of the killed runs and succeeds.
        pid = server.start(out)
        assert server.wait(pid) == 0
        assert_complete(out, reference)
        assert leftovers(out) == []
        assert sorted(p.name for p in tmp_path.iterdir()) == ["obs", script.name]
    finally:
        server.close()


@pytest.mark.parametrize("seed", [1])
def test_sigkill_of_the_real_cli(tmp_path, seed):
    """Two kills of `python -m brainobs synth` at seeded instants, then a rerun by the CLI."""
    out = tmp_path / "obs"
    cmd = [sys.executable, "-m", "brainobs", "synth", "--out", str(out), "--size", "tiny",
           "--containers", "2", "--overwrite"]
    rng = np.random.default_rng(seed)
    for delay in rng.uniform(2.5, 5.0, 2):  # start-up (imports) takes ~2-3 s, the work ~3 s
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                start_new_session=True)
        try:
            time.sleep(float(delay))
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)
        finally:
            if proc.poll() is None:  # pragma: no cover - only when the kill failed
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        assert not out.exists() or (out / "brainobs.json").is_file()
        if out.exists():
            assert len(open_observatory(out).experiments(include_failed=True)) == 6
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert leftovers(out) == []
    obs = open_observatory(out)
    assert len(obs.experiments(include_failed=True)) == 6 and len(obs.cells(warn=False)) == 16


def _dead_pid() -> int:
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    return p.pid


def test_clean_leftovers_only_touches_dead_runs_of_this_machine(tmp_path):
    out = tmp_path / "obs"
    host, dead = _host(), _dead_pid()
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        dead_tmp = tmp_path / f"obs.tmp-{host}-{dead}-abc123"
        live_tmp = tmp_path / f"obs.tmp-{host}-{sleeper.pid}-def456"
        other_host = tmp_path / f"obs.tmp-elsewhere-{dead}-ghi789"
        other_name = tmp_path / f"obs2.tmp-{host}-{dead}-jkl012"
        unrelated = tmp_path / "obs.tmp-notours"
        for d in (dead_tmp, live_tmp, other_host, other_name, unrelated):
            (d / "ophys_experiment_data").mkdir(parents=True)
            (d / "ophys_experiment_data" / "1.nwb").write_bytes(b"x" * 100)
        removed = clean_leftovers(out)
        assert removed == [dead_tmp]
        assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
            d.name for d in (live_tmp, other_host, other_name, unrelated))
    finally:
        sleeper.kill()
        sleeper.wait()
    # the sleeper is dead now: its folder goes too
    assert clean_leftovers(out) == [live_tmp]


def test_killed_overwrite_is_undone(tmp_path):
    """A run killed between moving the old observatory aside and moving the new one in."""
    out, host, dead = tmp_path / "obs", _host(), _dead_pid()
    old = tmp_path / f"obs.old-{host}-{dead}-abc123"
    (old / "d").mkdir(parents=True)
    (old / "d" / "brainobs.json").write_text("{}")
    new = tmp_path / f"obs.tmp-{host}-{dead}-def456"
    new.mkdir()
    (new / "brainobs.json").write_text('{"new": 1}')
    assert sorted(clean_leftovers(out)) == sorted([old, new])
    assert (out / "brainobs.json").read_text() == "{}"  # the old observatory is back
    assert sorted(p.name for p in tmp_path.iterdir()) == ["obs"]
    # when the new observatory was already in place, the old copy is just removed
    (old / "d").mkdir(parents=True)
    (old / "d" / "brainobs.json").write_text('{"older": 1}')
    assert clean_leftovers(out) == [old]
    assert (out / "brainobs.json").read_text() == "{}"


def test_next_run_removes_leftovers_and_rejects_bad_out_before_work(tmp_path, monkeypatch):
    import brainobs.synth.observatory as obs_mod

    dead = _dead_pid()
    stale = tmp_path / f"obs.tmp-{_host()}-{dead}-abc123"
    (stale / "ophys_experiment_data").mkdir(parents=True)
    calls = []
    monkeypatch.setattr(obs_mod, "_templates", lambda *a: calls.append(a) or {})
    (tmp_path / "file").write_text("x")
    for bad, match in ((tmp_path / "file", "not a directory"), (tmp_path / "file" / "obs", "is a file")):
        with pytest.raises(OSError, match=match):
            generate_observatory(bad, size="tiny")
    assert calls == []  # refused before any work
    monkeypatch.undo()
    generate_observatory(tmp_path / "obs", size="tiny", n_containers=1)
    assert leftovers(tmp_path / "obs") == []


def test_failed_run_removes_the_parents_it_created(tmp_path, monkeypatch):
    import brainobs.synth.observatory as obs_mod

    monkeypatch.setattr(obs_mod, "write_session_nwb",
                        lambda p, c: (_ for _ in ()).throw(RuntimeError("disk full")))
    with pytest.raises(RuntimeError, match="disk full"):
        generate_observatory(tmp_path / "a" / "b" / "obs", size="tiny", n_containers=1)
    assert list(tmp_path.iterdir()) == []


def test_another_run_finishing_first_is_not_replaced(tmp_path, monkeypatch):
    """Two runs into one new folder: the one finishing second fails and changes nothing."""
    import brainobs.synth.observatory as obs_mod

    out = tmp_path / "obs"
    real = obs_mod._move_into_place

    def other_run_first(tmp, dest, overwrite):
        dest.mkdir()
        (dest / "brainobs.json").write_text('{"other": 1}')
        return real(tmp, dest, overwrite)

    monkeypatch.setattr(obs_mod, "_move_into_place", other_run_first)
    with pytest.raises(FileExistsError, match="another process"):
        generate_observatory(out, size="tiny", n_containers=1)
    assert (out / "brainobs.json").read_text() == '{"other": 1}'
    assert sorted(p.name for p in tmp_path.iterdir()) == ["obs"]
