"""Shared helpers for the benchmark scripts (timing, memory, a cached full-size session)."""

from __future__ import annotations

import gc
import os
import statistics
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path

SDK_VENV = Path(__file__).resolve().parent / ".allensdk-venv"
BENCH_DATA = Path(os.environ.get("BRAINOBS_BENCH_DATA", Path(__file__).resolve().parent / ".data"))


def timeit(fn: Callable[[], object], repeat: int = 20, warmup: int = 1) -> tuple[float, float]:
    """Median and minimum wall time of ``fn()`` in seconds."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeat):
        gc.collect()
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), min(times)


def peak_memory(fn: Callable[[], object]) -> tuple[object, int]:
    """Run ``fn`` and return its result and the peak of Python/numpy allocations in bytes."""
    gc.collect()
    tracemalloc.start()
    try:
        result = fn()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return result, peak


def full_session_observatory(seed: int = 0) -> Path:
    """A one-container full-length synthetic observatory, generated once and reused."""
    from brainobs.synth import generate_observatory

    out = BENCH_DATA / f"full-seed{seed}"
    if not (out / "brainobs.json").exists():
        print(f"generating a full-length synthetic container in {out} (once) ...", flush=True)
        t0 = time.perf_counter()
        generate_observatory(out, size="full", seed=seed, n_containers=1, overwrite=out.exists())
        print(f"  done in {time.perf_counter() - t0:.0f} s", flush=True)
    return out


def fmt_s(seconds: float) -> str:
    if seconds < 1e-3:
        return f"{seconds * 1e6:.0f} µs"
    if seconds < 1:
        return f"{seconds * 1e3:.2f} ms"
    return f"{seconds:.2f} s"


def sdk_python(explicit: str | None) -> str:
    """Python of the side virtualenv with AllenSDK 2.16.2 (built once; never a brainobs dependency)."""
    import subprocess
    import venv

    if explicit:
        return explicit
    py = SDK_VENV / "bin" / "python"
    if not py.exists():
        print(f"building the AllenSDK side virtualenv in {SDK_VENV} (once) ...", flush=True)
        venv.create(SDK_VENV, with_pip=True)
        subprocess.run([str(py), "-m", "pip", "install", "-q", "allensdk==2.16.2", "statsmodels<0.15"],
                       check=True)
    return str(py)
