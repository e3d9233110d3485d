"""Per-container work mapped over the catalog: compute the metrics that are missing.

:func:`analyze_missing` finds the selected containers that lack metric families and runs
**one** per-container function, :func:`analyze_one_container`, over their ids with
:func:`map_containers`. That function takes the data dir (not an open
:class:`~brainobs.catalog.Observatory`), opens its own catalog, computes
(:func:`brainobs.metrics.analyze_catalog_container`), stores, and returns a small picklable
:class:`ContainerResult` — so it can run in another process unchanged.

A **mapper** is any callable ``mapper(func, iterable) -> iterable of results``. The
default is serial (a plain generator, results as they come); others drop in without
changing anything else, e.g. ``concurrent.futures.ProcessPoolExecutor().map`` or, in a
later issue, a Dask one (``lambda f, ids: client.gather(client.map(f, list(ids)))``).
Results may arrive in any order: each carries its container id.

.. note::
   Each container's metrics are stored with
   :meth:`~brainobs.catalog.Observatory.save_cells` as one new immutable part of the
   append-only store (:mod:`brainobs.catalog.store`): nothing is read, merged and
   rewritten, so any mapper — processes, threads, Dask workers, several ``brainobs
   analyze`` runs at once — keeps every container's results, and a killed worker leaves
   its container either fully stored or not at all.

Examples
--------
>>> import brainobs as bo
>>> from brainobs.parallel import analyze_missing
>>> obs = bo.open_observatory()                            # doctest: +SKIP
>>> report = analyze_missing(obs, cre_line="Vip-IRES-Cre")  # doctest: +SKIP
>>> report.table()                                         # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import functools
import os
import time
import traceback
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from brainobs import vocab
from brainobs.catalog import Observatory, open_observatory
from brainobs.catalog.coverage import check_families
from brainobs.catalog.store import read_stamps, write_stamp

DONE, SKIPPED, FAILED = "done", "skipped", "failed"

Progress = Callable[[int, int, str], None]
Mapper = Callable[[Callable[[int], Any], Iterable[int]], Iterable[Any]]


@dataclass(frozen=True)
class ContainerResult:
    """What happened to one container.

    Attributes
    ----------
    container_id : int
    status : {"done", "skipped", "failed"}
    families : tuple of str
        Families computed (done), to compute (failed) or lacking (skipped).
    n_cells : int
        Cells whose metrics were stored (done).
    reason : str
        Why it was skipped or failed (``"NWBFileError: ..."``); empty when done.
    seconds : float
        Wall time spent on it.
    detail : str
        The traceback of a failure (for debugging; not printed by default).
    qc : tuple of dict
        The metric table's QC records (``attrs["qc"]``, see :mod:`brainobs.metrics.qc`):
        cells and trials left out, per stimulus (done).
    """

    container_id: int
    status: str
    families: tuple[str, ...] = ()
    n_cells: int = 0
    reason: str = ""
    seconds: float = 0.0
    detail: str = field(default="", repr=False)
    qc: tuple[dict, ...] = field(default=(), repr=False)


@dataclass
class AnalyzeReport:
    """The outcome of :func:`analyze_missing`: done, skipped and failed containers.

    Each list holds :class:`ContainerResult` records sorted by container id.
    """

    done: list[ContainerResult] = field(default_factory=list)
    skipped: list[ContainerResult] = field(default_factory=list)
    failed: list[ContainerResult] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when no container failed."""
        return not self.failed

    def table(self) -> pd.DataFrame:
        """One row per container: ``container_id, status, families, n_cells, seconds, reason``.

        >>> report = AnalyzeReport(done=[ContainerResult(7, "done", ("natural_scenes",), 8)])
        >>> report.table().iloc[0].to_dict()
        {'container_id': 7, 'status': 'done', 'families': 'natural_scenes', 'n_cells': 8, 'seconds': 0.0, 'reason': ''}
        """
        rows = [
            {"container_id": r.container_id, "status": r.status, "families": ", ".join(r.families),
             "n_cells": r.n_cells, "seconds": round(r.seconds, 2), "reason": r.reason}
            for r in [*self.done, *self.failed, *self.skipped]
        ]
        cols = ["container_id", "status", "families", "n_cells", "seconds", "reason"]
        return pd.DataFrame(rows, columns=cols).astype({"container_id": "int64", "n_cells": "int64"})

    def qc_table(self) -> pd.DataFrame:
        """An empty table whose ``attrs["qc"]`` holds the QC records of every container done:
        what :func:`brainobs.metrics.qc_note` and :func:`~brainobs.metrics.qc_summary` read.

        >>> from brainobs.metrics import qc_note
        >>> rec = {"family": "natural_scenes", "stimulus": "natural_scenes", "column": "qc_ns",
        ...        "n_cells": 8, "cells_excluded": {"nan_trace": 2}, "n_trials": 100,
        ...        "trials_excluded": {}}
        >>> report = AnalyzeReport(done=[ContainerResult(7, "done", ("natural_scenes",), 8, qc=(rec,))])
        >>> qc_note(report.qc_table())
        'note: natural_scenes: 2 of 8 cells excluded (NaN in the trace); see the qc_ns column'
        """
        table = pd.DataFrame()
        table.attrs["qc"] = [rec for r in self.done for rec in r.qc]
        return table

    def __str__(self) -> str:
        return (f"{len(self.done)} container(s) analyzed, {len(self.skipped)} skipped, "
                f"{len(self.failed)} failed")


def map_containers(
    func: Callable[[int], Any], ids: Iterable[int], mapper: Mapper | None = None
) -> Iterator[Any]:
    """Apply ``func`` to every container id, serially by default.

    Parameters
    ----------
    func : callable
        ``func(container_id) -> result``; picklable (a module-level function or a
        :func:`functools.partial` of one) when ``mapper`` runs it in other processes.
    ids : iterable of int
        Container ids.
    mapper : callable, optional
        ``mapper(func, ids) -> iterable of results`` (any order). Default: serial, lazy.

    Returns
    -------
    iterator
        The results, as the mapper yields them.

    Examples
    --------
    >>> list(map_containers(lambda cid: cid * 2, [1, 2]))
    [2, 4]
    >>> list(map_containers(lambda cid: cid + 1, [1, 2], mapper=lambda f, xs: [f(x) for x in xs]))
    [2, 3]
    """
    ids = [int(i) for i in ids]
    if mapper is None:
        return (func(i) for i in ids)
    return iter(mapper(func, ids))


def analyze_one_container(
    data_dir: str | os.PathLike[str],
    container_id: int,
    families: list[str] | tuple[str, ...] | None = None,
    *,
    missing_only: bool = False,
    seed: int = 1,
    n_shuffles: int = 10_000,
    store: str | os.PathLike[str] | None = None,
    stamp: dict[str, dict] | None = None,
) -> ContainerResult:
    """Compute and store the metrics of one container; never raises for a bad container.

    Opens its own :class:`~brainobs.catalog.Observatory` on ``data_dir`` (so it pickles
    and runs anywhere the data dir is reachable), runs
    :func:`brainobs.metrics.analyze_catalog_container` and stores the result in the
    catalog.

    Parameters
    ----------
    data_dir : path
        The observatory's data dir.
    container_id : int
    families : list of str, optional
        Families to compute (default: every family its sessions show).
    missing_only : bool
        Compute only those of ``families`` the container has no metrics for yet (skipped
        when it has them all) — what :func:`analyze_missing` asks for, so a rerun or a
        retried task does no work twice.
    seed, n_shuffles : int
        Receptive-field shuffle test, as in :func:`brainobs.metrics.analyze`.
    store : path, optional
        The catalog store folder, when not the data dir's own (``Observatory(store=)``).
    stamp : dict, optional
        ``{family: fingerprint}`` to record in the container's analysis stamp once its
        metrics are stored (see :func:`analyze_all`): merged into the stamp already there,
        written atomically *after* the metrics, so a kill in between only costs a
        recomputation.

    Returns
    -------
    ContainerResult
        ``done`` with the number of cells stored; ``skipped`` (nothing missing); or
        ``failed`` with the reason (``"NWBFileError: ... truncated ..."``) and the
        traceback in ``detail`` — any exception of the container (corrupt or missing file,
        computation error, unwritable store) is recorded, not raised, so one bad container
        does not stop the others.
    """
    from brainobs.metrics import analyze_catalog_container

    start = time.perf_counter()
    cid = int(container_id)
    fams = tuple(check_families(families))
    try:
        obs = Observatory(data_dir, store=store)
        obs.check_store()  # an unwritable store fails before the work, not after it
        if missing_only:
            cov = obs.metric_coverage(container_id=cid, families=list(fams), include_failed=True)
            fams = tuple(f for f in fams if cov.empty or not cov[f].iloc[0])
            if not fams:
                return ContainerResult(cid, SKIPPED, (), reason="complete: nothing missing",
                                       seconds=time.perf_counter() - start)
        table = analyze_catalog_container(obs, cid, families=list(fams), seed=seed,
                                          n_shuffles=n_shuffles, store=True)
        if stamp:
            old = read_stamps(obs.store_dir).get(cid, {}).get("families", {})
            write_stamp(obs.store_dir, cid, {"container_id": cid,
                                             "families": {**old, **stamp}})
    except Exception as exc:  # any error of this container: recorded, the others go on
        return ContainerResult(cid, FAILED, fams, reason=f"{type(exc).__name__}: {exc}",
                               seconds=time.perf_counter() - start,
                               detail=traceback.format_exc())
    return ContainerResult(cid, DONE, fams, n_cells=len(table), seconds=time.perf_counter() - start,
                           qc=tuple(table.attrs.get("qc", ())))


def _missing_files(obs: Observatory, experiment_ids: Iterable[int]) -> list[str]:
    return [obs.session_path(int(e)).name for e in experiment_ids
            if not obs.session_path(int(e)).is_file()]


def plan_missing(
    obs: Observatory,
    *,
    area: Any = None,
    cre_line: Any = None,
    families: Any = None,
    container_id: Any = None,
) -> tuple[list[int], list[ContainerResult]]:
    """Which selected containers :func:`analyze_missing` would analyze, and which it skips.

    Returns
    -------
    todo : list of int
        Non-failed containers with every session file on disk that lack at least one of
        the requested families their sessions show.
    skipped : list of ContainerResult
        The other selected containers, with the reason (complete; session files missing).
    """
    fams = check_families(families)
    cov = obs.metric_coverage(container_id=container_id, area=area, cre_line=cre_line,
                              families=fams)
    exps = obs.experiments(container_id=cov["id"].tolist()) if len(cov) else obs.experiments().iloc[:0]
    shows = {int(c): vocab.session_families(g["session_type"])
             for c, g in exps.groupby("experiment_container_id")}
    sessions = {int(c): g["id"].tolist() for c, g in exps.groupby("experiment_container_id")}
    todo: list[int] = []
    skipped: list[ContainerResult] = []
    for row in cov.itertuples(index=False):
        cid = int(row.id)
        wanted = [f for f in fams if f in shows.get(cid, [])]
        lacking = tuple(f for f in wanted if not getattr(row, f))
        if not wanted:
            skipped.append(ContainerResult(cid, SKIPPED, reason="its sessions show none of: "
                                           + ", ".join(fams)))
        elif not lacking:
            skipped.append(ContainerResult(cid, SKIPPED, reason="complete: has "
                                           + ", ".join(wanted) + " metrics"))
        elif not row.sessions_on_disk:
            gone = _missing_files(obs, sessions.get(cid, []))
            where = obs.session_path(int(sessions[cid][0])).parent if sessions.get(cid) else obs.data_dir
            skipped.append(ContainerResult(
                cid, SKIPPED, lacking,
                reason=f"session files not on disk: {', '.join(gone) or 'no sessions listed'} "
                       f"(in {where}; brainobs does not download)"))
        else:
            todo.append(cid)
    return todo, skipped


def analyze_missing(
    obs: Observatory | str | os.PathLike[str],
    *,
    area: Any = None,
    cre_line: Any = None,
    families: Any = None,
    container_id: Any = None,
    seed: int = 1,
    n_shuffles: int = 10_000,
    progress: Progress | None = None,
    mapper: Mapper | None = None,
) -> AnalyzeReport:
    """Compute and store the metrics that the selected containers lack.

    Selects the non-failed containers (``area``, ``cre_line``, ``container_id`` as in
    :meth:`~brainobs.catalog.Observatory.containers`) that lack any of ``families``
    (:meth:`~brainobs.catalog.Observatory.metric_coverage`) and have every session file on
    disk, then maps :func:`analyze_one_container` over them with :func:`map_containers`.
    Each container computes only the families it lacks. Completed containers are stored
    one by one, so an interrupted run resumes where it stopped.

    Parameters
    ----------
    obs : Observatory or path
        The catalog (its data dir is what the per-container function opens).
    area, cre_line, container_id : optional
        Container selection (str or list); default all.
    families : str or list of str, optional
        Families to fill (default: all five; each container gets those its sessions show).
    seed, n_shuffles : int
        Receptive-field shuffle test (:func:`brainobs.metrics.analyze`).
    progress : callable, optional
        ``progress(done, total, description)``: once before the first container and after
        each.
    mapper : callable, optional
        ``mapper(func, ids) -> iterable of results``; default serial (see module doc).

    Returns
    -------
    AnalyzeReport
        ``done``, ``skipped`` (complete, or session files missing, with the reason) and
        ``failed`` (id and reason) containers. ``obs`` is refreshed, so its queries see the
        new metrics.

    Raises
    ------
    brainobs.errors.ReadOnlyStoreError
        Before any work, when the catalog store cannot be written.

    Examples
    --------
    >>> report = analyze_missing(obs, cre_line="Vip-IRES-Cre")   # doctest: +SKIP
    >>> print(report)                                            # doctest: +SKIP
    3 container(s) analyzed, 1 skipped, 0 failed
    """
    if not isinstance(obs, Observatory):
        obs = open_observatory(Path(obs))
    fams = check_families(families)
    obs.check_store()
    todo, skipped = plan_missing(obs, area=area, cre_line=cre_line, families=fams,
                                 container_id=container_id)
    report = AnalyzeReport(skipped=skipped)
    total = len(todo)
    if progress:
        progress(0, total, f"analyzing {total} container(s)")
    func = functools.partial(analyze_one_container, obs.data_dir, families=fams,
                             missing_only=True, seed=seed, n_shuffles=n_shuffles,
                             store=obs.store_root if obs.store_external else None)
    try:
        for i, res in enumerate(map_containers(func, todo, mapper=mapper), start=1):
            {DONE: report.done, SKIPPED: report.skipped, FAILED: report.failed}[res.status].append(res)
            if progress:
                progress(i, total, f"container {res.container_id}: {res.status}")
    finally:
        obs.refresh()  # the workers stored through their own Observatory
    for results in (report.done, report.skipped, report.failed):
        results.sort(key=lambda r: r.container_id)
    return report


# --------------------------------------------------------------------------- the whole release

#: Parameters that change a family's values, besides its input files and the code version.
_FAMILY_PARAMS = {"locally_sparse_noise": ("seed", "n_shuffles")}


def input_stat(path: str | os.PathLike[str]) -> list[int]:
    """``[size in bytes, mtime in ns]`` of an input file: what an analysis stamp records.

    >>> import tempfile
    >>> f = Path(tempfile.mkdtemp()) / "x.nwb"; _ = f.write_bytes(b"12345")
    >>> input_stat(f)[0]
    5
    """
    st = os.stat(path)
    return [int(st.st_size), int(st.st_mtime_ns)]


def family_fingerprint(family: str, inputs: dict[str, list[int]], *, seed: int,
                       n_shuffles: int) -> dict[str, Any]:
    """What a family's stored values depend on: code version, parameters, input files.

    ``inputs`` maps each experiment id (as a string) whose session shows the family to
    :func:`input_stat` of its NWB file. The code version is ``brainobs.__version__`` plus
    :data:`brainobs.metrics.PIPELINE_VERSION`; the parameters are those that change the
    family's values (``seed`` and ``n_shuffles`` for ``locally_sparse_noise`` only).

    >>> fp = family_fingerprint("natural_scenes", {"5": [10, 1]}, seed=1, n_shuffles=100)
    >>> sorted(fp), fp["params"], fp["inputs"]
    (['brainobs', 'inputs', 'params', 'pipeline'], {}, {'5': [10, 1]})
    >>> family_fingerprint("locally_sparse_noise", {}, seed=1, n_shuffles=100)["params"]
    {'n_shuffles': 100, 'seed': 1}
    """
    from brainobs import __version__
    from brainobs.metrics import PIPELINE_VERSION

    values = {"seed": int(seed), "n_shuffles": int(n_shuffles)}
    params = {k: values[k] for k in sorted(_FAMILY_PARAMS.get(family, ()))}
    return {"brainobs": __version__, "pipeline": PIPELINE_VERSION, "params": params,
            "inputs": dict(sorted(inputs.items()))}


@dataclass(frozen=True)
class ContainerTask:
    """One container's work in :func:`analyze_all`: the families to (re)compute and the
    fingerprints their stamp records once stored."""

    container_id: int
    families: tuple[str, ...]
    stamp: dict[str, dict] = field(repr=False)


def _check_session_types(obs: Observatory, session_type: Any) -> list[str] | None:
    return obs._check_session_type(session_type)


def plan_all(
    obs: Observatory,
    *,
    area: Any = None,
    cre_line: Any = None,
    session_type: Any = None,
    families: Any = None,
    container_id: Any = None,
    seed: int = 1,
    n_shuffles: int = 10_000,
    force: bool = False,
) -> tuple[list[ContainerTask], list[ContainerResult]]:
    """What :func:`analyze_all` would compute, and which containers it skips (and why).

    Selects the non-failed containers of ``area``/``cre_line``/``container_id`` that have a
    session of ``session_type`` (any type by default). A container's *wanted* families are
    those of ``families`` its sessions show — with ``session_type``, only those that
    session type shows. A wanted family is *stale* unless the container's analysis stamp
    holds the same :func:`family_fingerprint` (code version, parameters, size and mtime of
    each input NWB file) **and** the store holds its values (a quarantined part makes them
    missing again). Containers with stale families become tasks; the others are skipped as
    up to date, or for session files not on disk.

    Returns
    -------
    tasks : list of ContainerTask
    skipped : list of ContainerResult
    """
    fams = check_families(families)
    types = _check_session_types(obs, session_type)
    if types is not None:
        shown = vocab.session_families(types)
        fams = [f for f in fams if f in shown]
        if not fams:
            from brainobs.errors import FamilyNotShownError

            stimuli = sorted({x for t in types for x in vocab.SESSION_STIMULI.get(t, ())})
            raise FamilyNotShownError(check_families(families)[0], f"session type {', '.join(types)}",
                                      stimuli, shown)
    picked = obs.experiments(container_id=container_id, area=area, cre_line=cre_line,
                             session_type=types)
    cids = sorted({int(c) for c in picked["experiment_container_id"]})
    if not cids:
        return [], []
    exps = obs.experiments(container_id=cids)
    cov = obs.metric_coverage(container_id=cids, families=fams).set_index("id")
    stamps = {} if force else read_stamps(obs.store_dir)
    tasks: list[ContainerTask] = []
    skipped: list[ContainerResult] = []
    for cid, g in exps.groupby("experiment_container_id"):
        cid = int(cid)
        session_types = [str(t) for t in g["session_type"]]
        wanted = [f for f in fams if f in vocab.session_families(session_types)]
        if not wanted:
            skipped.append(ContainerResult(cid, SKIPPED, reason="its sessions show none of: "
                                           + ", ".join(fams)))
            continue
        paths = {str(int(e)): obs.session_path(int(e)) for e in g["id"]}
        gone = [p.name for p in paths.values() if not p.is_file()]
        if gone:
            where = next(iter(paths.values())).parent
            skipped.append(ContainerResult(
                cid, SKIPPED, tuple(wanted),
                reason=f"session files not on disk: {', '.join(gone)} (in {where}; "
                       "`brainobs download` gets them)"))
            continue
        stats = {e: input_stat(p) for e, p in paths.items()}
        old = stamps.get(cid, {}).get("families", {})
        stamp: dict[str, dict] = {}
        stale: list[str] = []
        for f in wanted:
            showing = {e: stats[e] for e, t in zip(paths, session_types, strict=True)
                       if f in vocab.session_families([t])}
            fp = family_fingerprint(f, showing, seed=seed, n_shuffles=n_shuffles)
            stamp[f] = fp
            if old.get(f) != fp or cid not in cov.index or not bool(cov.at[cid, f]):
                stale.append(f)
        if stale:
            tasks.append(ContainerTask(cid, tuple(stale), {f: stamp[f] for f in stale}))
        else:
            skipped.append(ContainerResult(cid, SKIPPED, reason="up to date: "
                                           + ", ".join(wanted) + " (same code, parameters and files)"))
    return tasks, skipped


def _run_task(task: ContainerTask, data_dir: str, seed: int, n_shuffles: int,
              store: str | None) -> ContainerResult:
    """One task of :func:`analyze_all` (module level: it pickles to any worker)."""
    return analyze_one_container(data_dir, task.container_id, list(task.families), seed=seed,
                                 n_shuffles=n_shuffles, store=store, stamp=task.stamp)


def _import_distributed() -> Any:
    try:
        import distributed
    except ImportError as exc:
        from brainobs.errors import MissingDependencyError

        raise MissingDependencyError(
            "analyzing on Dask needs dask.distributed, which is not installed: "
            "pip install 'brainobs[dask]' (or run serially: --workers 1 / workers=1)") from exc
    return distributed


def dask_mapper(client: Any) -> Callable[[Callable[[Any], Any], Iterable[Any]], Iterator[Any]]:
    """A mapper (see the module doc) that runs the tasks on a ``dask.distributed.Client``.

    Also usable as :func:`analyze_missing`'s ``mapper``. Results come back as they finish. A task whose worker died or that Dask gave up on
    (``KilledWorker``, e.g. above the memory limit) becomes a ``failed`` result naming the
    container, so one bad container never stops the others.
    """
    distributed = _import_distributed()

    def mapper(func: Callable[[Any], Any], items: Iterable[Any]) -> Iterator[Any]:
        items = list(items)
        if not items:
            return
        futures = client.map(func, items, pure=False)
        owner = {fut.key: item for fut, item in zip(futures, items, strict=True)}
        for fut in distributed.as_completed(futures, loop=client.loop):
            try:
                yield fut.result()
            except Exception as exc:  # the worker died or the task could not run
                item = owner[fut.key]
                cid = getattr(item, "container_id", item)
                fams = tuple(getattr(item, "families", ()))
                yield ContainerResult(int(cid), FAILED, fams,
                                      reason=f"{type(exc).__name__}: {exc}",
                                      detail=traceback.format_exc())
            finally:
                fut.release()

    return mapper


def connect(scheduler: str, timeout: float = 10.0) -> Any:
    """A ``dask.distributed.Client`` of a running scheduler (``tcp://HOST:PORT``).

    Raises
    ------
    brainobs.errors.SchedulerError
        When the address is malformed or nothing answers there within ``timeout`` seconds.
    brainobs.errors.MissingDependencyError
        When dask.distributed is not installed.
    """
    from brainobs.errors import SchedulerError

    distributed = _import_distributed()
    try:
        return distributed.Client(scheduler, timeout=f"{float(timeout)}s", set_as_default=False)
    except (OSError, ValueError, TypeError) as exc:
        raise SchedulerError(
            f"cannot use the Dask scheduler {scheduler!r}: {type(exc).__name__}: {exc}. Give the "
            "address of a running scheduler (tcp://HOST:PORT, as `dask scheduler` prints it), "
            "or leave --scheduler out for a local cluster") from exc


#: glibc malloc settings of the local cluster's workers. Dask's default
#: (``MALLOC_TRIM_THRESHOLD_=65536``) also switches off glibc's adaptive mmap threshold, so
#: every large temporary array (the receptive-field shuffle test allocates tens of MB per
#: batch) is a fresh ``mmap`` whose pages fault in one by one: the test ran ~8x slower in a
#: Dask worker than in a plain process. Large arrays below 64 MiB come from the heap again,
#: and up to 256 MiB of freed memory is kept for reuse.
WORKER_MALLOC_ENV = {"MALLOC_MMAP_THRESHOLD_": str(64 * 2**20), "MALLOC_TRIM_THRESHOLD_": str(256 * 2**20)}


def local_cluster(workers: int, memory_limit: str | float | None = "auto") -> Any:
    """A ``LocalCluster`` of ``workers`` processes with one thread each (no dashboard).

    ``memory_limit`` is per worker (``"auto"``: the machine's memory divided by the
    workers); a worker above it is restarted by Dask and its task reported as failed.
    The workers get :data:`WORKER_MALLOC_ENV` (see there).
    """
    import logging

    import dask

    distributed = _import_distributed()
    environ = {f"distributed.nanny.pre-spawn-environ.{k}": v for k, v in WORKER_MALLOC_ENV.items()}
    with dask.config.set(environ):  # read by the nannies when they are made
        return distributed.LocalCluster(n_workers=int(workers), threads_per_worker=1, processes=True,
                                        memory_limit=memory_limit, dashboard_address=None,
                                        silence_logs=logging.ERROR)


def analyze_all(
    obs: Observatory | str | os.PathLike[str],
    *,
    area: Any = None,
    cre_line: Any = None,
    session_type: Any = None,
    families: Any = None,
    container_id: Any = None,
    seed: int = 1,
    n_shuffles: int = 10_000,
    client: Any = None,
    workers: int = 1,
    memory_limit: str | float | None = "auto",
    force: bool = False,
    progress: Progress | None = None,
) -> AnalyzeReport:
    """Analyze every selected container, incrementally, serially or on Dask distributed.

    Plans with :func:`plan_all` (which containers are stale: not analyzed yet, or with
    another code version, parameters or input files), then maps one task per container —
    each opens that container's sessions, computes the stale families, stores them as one
    immutable part of the catalog store and then records the container's analysis stamp
    (``<store>/.brainobs/catalog/stamps/container-<id>.json``). So a rerun skips what is up
    to date, an interrupted run loses nothing finished, and the stored values are the same
    whichever way the tasks ran.

    Parameters
    ----------
    obs : Observatory or path
    area, cre_line, container_id : optional
        Container selection, as :meth:`~brainobs.catalog.Observatory.containers`.
    session_type : str or list of str, optional
        Only containers with a session of that type, and only the families it shows.
    families : str or list of str, optional
        Default: all five (each container gets those its sessions show).
    seed, n_shuffles : int
        Receptive-field shuffle test (:func:`brainobs.metrics.analyze`).
    client : dask.distributed.Client, optional
        Run the tasks on this client's cluster (its workers must reach the data dir under
        the same path).
    workers : int
        Without ``client``: 1 runs serially in this process (no Dask needed); more starts
        a ``LocalCluster`` of that many single-threaded worker processes for this call.
    memory_limit : str or float, optional
        Per worker of the local cluster (``"auto"``: memory / workers).
    force : bool
        Ignore the stamps: recompute every selected container.
    progress : callable, optional
        ``progress(done, total, description)``, once before the first task and after each.

    Returns
    -------
    AnalyzeReport
        ``done``, ``skipped`` (up to date, or files missing) and ``failed`` (id and reason).

    Raises
    ------
    brainobs.errors.ReadOnlyStoreError
        Before any work, when the catalog store cannot be written.
    brainobs.errors.MissingDependencyError
        ``workers > 1`` without dask.distributed installed (``pip install 'brainobs[dask]'``).

    Examples
    --------
    >>> report = analyze_all(obs, workers=4)                     # doctest: +SKIP
    >>> from dask.distributed import Client                      # doctest: +SKIP
    >>> report = analyze_all(obs, client=Client("tcp://head:8786"))  # doctest: +SKIP
    """
    if not isinstance(obs, Observatory):
        obs = open_observatory(Path(obs))
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        from brainobs.errors import ArgumentTypeError

        raise ArgumentTypeError("workers", workers, "a positive integer")
    obs.check_store()
    tasks, skipped = plan_all(obs, area=area, cre_line=cre_line, session_type=session_type,
                              families=families, container_id=container_id, seed=seed,
                              n_shuffles=n_shuffles, force=force)
    report = AnalyzeReport(skipped=skipped)
    total = len(tasks)
    if progress:
        progress(0, total, f"analyzing {total} container(s)")
    func = functools.partial(_run_task, data_dir=str(obs.data_dir), seed=seed,
                             n_shuffles=n_shuffles,
                             store=str(obs.store_root) if obs.store_external else None)
    with contextlib.ExitStack() as stack:
        results: Iterable[ContainerResult]
        if client is None and (workers == 1 or not tasks):
            results = (func(t) for t in tasks)
        else:
            if client is None:
                distributed = _import_distributed()
                cluster = stack.enter_context(local_cluster(workers, memory_limit))
                client = stack.enter_context(distributed.Client(cluster, set_as_default=False))
            results = dask_mapper(client)(func, tasks)
        try:
            for i, res in enumerate(results, start=1):
                {DONE: report.done, SKIPPED: report.skipped, FAILED: report.failed}[res.status].append(res)
                if progress:
                    progress(i, total, f"container {res.container_id}: {res.status}")
        finally:
            obs.refresh()  # the tasks stored through their own Observatory
    for lst in (report.done, report.skipped, report.failed):
        lst.sort(key=lambda r: r.container_id)
    return report


__all__ = [
    "AnalyzeReport", "ContainerResult", "ContainerTask", "analyze_all", "analyze_missing",
    "analyze_one_container", "connect", "dask_mapper", "family_fingerprint", "input_stat",
    "local_cluster", "map_containers", "plan_all", "plan_missing",
]
