"""Forking worker of the download kill tests (imported once; each run is a forked child, so
a kill costs a fraction of a second instead of an interpreter start-up).

``kill_worker.py lib URL DEST``
    per stdin line ``run``: fork a child running :func:`brainobs.fetch.download` of every
    catalog and NWB file of the source's ``ophys_experiments.json`` into DEST.
``kill_worker.py cli``
    per stdin line ``run ARG ARG ...``: fork a child running ``brainobs ARG ...`` (the real
    command, in process).

Both print the child's pid; ``wait PID`` prints its exit status (and reaps it).
"""

from __future__ import annotations

import os
import shlex
import sys


def _fork(run) -> None:
    pid = os.fork()
    if pid == 0:  # pragma: no cover - runs in the child
        code = 1
        try:
            sys.stdout = sys.stderr = open(os.devnull, "w")
            code = run()
        finally:
            os._exit(code)
    print(pid, flush=True)


def main() -> None:
    mode, *rest = sys.argv[1:]
    import brainobs.catalog  # noqa: F401 - imported once here, not in every child
    import brainobs.fetch as fetch
    from brainobs.cli import main as cli_main

    def lib() -> int:
        url, dest, keys = rest[0], rest[1], rest[2].split(",")
        report = fetch.download(keys, dest, url, jobs=3, timeout=2.0, retries=3, backoff=0.01)
        return 0 if report.ok else 1

    for line in sys.stdin:
        cmd, *args = shlex.split(line)
        if cmd == "run" and mode == "lib":
            _fork(lib)
        elif cmd == "run":
            _fork(lambda argv=args: cli_main(argv))
        elif cmd == "wait":
            _, status = os.waitpid(int(args[0]), 0)
            print(os.waitstatus_to_exitcode(status), flush=True)


if __name__ == "__main__":
    main()
