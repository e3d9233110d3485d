"""Per-cell response metrics of the Brain Observatory cell table.

Each stimulus family has its own module with a public function that takes a
:class:`brainobs.io.Session` and returns a DataFrame indexed by ``cell_specimen_id`` with
the published column names (AllenSDK's), computed by vectorized numpy kernels that are
also public for users with their own trace matrices:

- :mod:`~brainobs.metrics.gratings` — drifting and static gratings (``*_dg``, ``*_sg``)
- :mod:`~brainobs.metrics.scenes` — natural scenes (``*_ns``)
- :mod:`~brainobs.metrics.movies` — natural-movie reliability (``reliability_nm*``)
- :mod:`~brainobs.metrics.rf` — locally-sparse-noise receptive fields (``rf_*_lsn``)

:func:`analyze` runs every family the session shows; :func:`analyze_container` merges a
container's three sessions into one row per cell, like the published cell table.

>>> from brainobs.metrics import analyze
>>> table = analyze(session)            # doctest: +SKIP
>>> table[["pref_dir_dg", "dsi_dg", "p_dg"]]   # doctest: +SKIP
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from brainobs import vocab
from brainobs.metrics import qc
from brainobs.metrics.gratings import (
    StimulusResult,
    drifting_gratings,
    drifting_gratings_from_traces,
    drifting_gratings_result,
    static_gratings,
    static_gratings_from_traces,
    static_gratings_result,
)
from brainobs.metrics.movies import movie_reliability, natural_movies
from brainobs.metrics.qc import qc_note, qc_summary
from brainobs.metrics.rf import (
    ReceptiveFields,
    locally_sparse_noise,
    receptive_field_kernel,
    receptive_fields,
)
from brainobs.metrics.scenes import (
    natural_scenes,
    natural_scenes_from_traces,
    natural_scenes_result,
)
from brainobs.metrics.sweep import sweep_response

if TYPE_CHECKING:
    from brainobs.io import Session

#: Version of the metric computations. Bump it whenever a change alters any computed value:
#: ``brainobs analyze --all`` (:func:`brainobs.parallel.analyze_all`) then recomputes every
#: container analyzed with an older version (the version is part of its analysis stamp).
PIPELINE_VERSION = 1

__all__ = [
    "FAMILIES", "PIPELINE_VERSION", "ReceptiveFields", "StimulusResult", "analyze", "analyze_catalog_container",
    "analyze_container", "check_families_shown", "qc_note", "qc_summary", "drifting_gratings", "drifting_gratings_from_traces",
    "drifting_gratings_result", "locally_sparse_noise", "movie_reliability", "natural_movies",
    "natural_scenes", "natural_scenes_from_traces", "natural_scenes_result", "publishable",
    "receptive_field_kernel", "receptive_fields", "session_letter", "static_gratings",
    "static_gratings_from_traces", "static_gratings_result", "sweep_response",
]

# stimulus family -> (module, function, the stimuli that trigger it); the families, their
# stimuli and their key columns are facts of the dataset kept in brainobs.vocab
# (METRIC_FAMILIES, FAMILY_STIMULI, FAMILY_COLUMNS), shared with the catalog's coverage.
_FAMILY_FUNCTIONS: dict[str, tuple[str, str]] = {
    "drifting_gratings": ("gratings", "drifting_gratings"),
    "static_gratings": ("gratings", "static_gratings"),
    "natural_scenes": ("scenes", "natural_scenes"),
    "natural_movies": ("movies", "natural_movies"),
    "locally_sparse_noise": ("rf", "locally_sparse_noise"),
}
FAMILIES: dict[str, tuple[str, str, tuple[str, ...]]] = {
    f: (*_FAMILY_FUNCTIONS[f], vocab.FAMILY_STIMULI[f]) for f in vocab.METRIC_FAMILIES
}

# QC columns of families computed in several sessions: suffixed by session letter
_PER_SESSION_QC = ("qc_nm1",)

# Published per-session suffix of columns that exist in every session (reliability_nm1).
_SESSION_LETTER = {"three_session_A": "a", "three_session_B": "b",
                   "three_session_C": "c", "three_session_C2": "c"}


def session_letter(session_type: str | None, where: str = "") -> str:
    """``'a'``, ``'b'`` or ``'c'`` (C and C2) for a session type.

    ``where`` (a file name) is named when the session type is missing (None or "None").

    >>> session_letter("three_session_C2")
    'c'
    """
    if session_type is None or session_type == "None":
        from brainobs.errors import MissingDataError

        raise MissingDataError(
            f"{where or 'this session'}: no session type (general/session_type) in the file; it "
            f"names the per-session columns (…_a/_b/_c). Valid session types: "
            f"{', '.join(vocab.SESSION_TYPES)}.")
    try:
        return _SESSION_LETTER[session_type]
    except KeyError:
        from brainobs.errors import UnknownSessionTypeError

        raise UnknownSessionTypeError(session_type, vocab.SESSION_TYPES) from None


def _family_function(family: str) -> Callable[..., pd.DataFrame]:
    module, func, _ = FAMILIES[family]
    return getattr(importlib.import_module(f"brainobs.metrics.{module}"), func)


def analyze(
    session: Session,
    *,
    families: list[str] | None = None,
    seed: int = 1,
    n_shuffles: int = 10_000,
) -> pd.DataFrame:
    """Compute every metric of one session's cell table.

    Parameters
    ----------
    session : brainobs.io.Session
    families : list of str, optional
        Subset of :data:`FAMILIES` to compute (default: every family the session shows).
        A family the session does not show raises
        :class:`~brainobs.errors.FamilyNotShownError` (naming the file, its session type,
        what it shows and the families it can compute).
    seed, n_shuffles : int
        Random seed and number of shuffles of the receptive-field significance test.

    Returns
    -------
    pandas.DataFrame
        One row per cell (``cell_specimen_id`` index, file order) with the published
        columns of the session's stimuli, each family's QC column (``qc_dg``, ``qc_sg``,
        ``qc_ns``, ``qc_lsn``, ``qc_nm1``/``_nm2``/``_nm3``: ``""`` or the reason the cell's
        values of that family are NaN, see :mod:`brainobs.metrics.qc`),
        ``mean_running_speed`` (the session's nanmean running speed, cm/s) and the
        session's ids. ``attrs["qc"]`` lists one record per analysed stimulus (cells and
        trials left out, with the session's ids); :func:`qc_summary` tabulates it.

    Raises
    ------
    brainobs.errors.StimulusTableError
        A stimulus table that is empty, has one row (window-based families), or holds
        condition values outside the stimulus' range.

    Examples
    --------
    >>> from brainobs.io import Session
    >>> with Session("ophys_experiment_data/500000001.nwb") as s:   # doctest: +SKIP
    ...     table = analyze(s)
    """
    from brainobs.metrics.gratings import _where

    families = check_families_shown(families, session.list_stimuli(), _where(session))
    parts = []
    for family in families:
        func = _family_function(family)
        kwargs: dict[str, Any] = {"seed": seed, "n_shuffles": n_shuffles} if family == "locally_sparse_noise" else {}
        parts.append(func(session, **kwargs))
    index = pd.Index(np.asarray(session.cell_specimen_ids, dtype=np.int64), name="cell_specimen_id")
    table = pd.concat([p.reindex(index) for p in parts], axis=1) if parts else pd.DataFrame(index=index)
    speed = session.running_speed()["speed"].to_numpy(dtype=float)
    table["mean_running_speed"] = float(np.nanmean(speed)) if np.isfinite(speed).any() else np.nan
    table["ophys_experiment_id"] = session.ophys_experiment_id
    table["experiment_container_id"] = session.experiment_container_id
    table["session_type"] = session.session_type
    ids = {"ophys_experiment_id": session.ophys_experiment_id, "session_type": session.session_type}
    table.attrs = {"qc": [{**r, **ids} for r in qc.records(parts)]}
    return table


def _family_list(families: Any) -> list[str]:
    """``families`` as a list of known family names (TypeError / UnknownValueError)."""
    from brainobs._validate import as_list
    from brainobs.errors import UnknownValueError

    if not isinstance(families, str) and not hasattr(families, "__iter__"):
        raise TypeError(f"families must be a metric family name or a list of them; got "
                        f"{type(families).__name__} {families!r}")
    wanted = as_list(families) or []
    for f in wanted:
        if not isinstance(f, str) or f not in FAMILIES:
            raise UnknownValueError(f, FAMILIES, kind="metric family")
    return wanted


def check_families_shown(families: Any, stimuli: Any, where: str) -> list[str]:
    """The metric families to compute for a session or container showing ``stimuli``.

    ``families=None`` gives every family the stimuli allow. Otherwise each name must be one of
    :data:`FAMILIES` (:class:`~brainobs.errors.UnknownValueError` otherwise) and shown
    (:class:`~brainobs.errors.FamilyNotShownError`, naming ``where`` — the session's file
    and type, or the container — what it shows, and the families it can compute).

    >>> check_families_shown(None, ["natural_scenes", "static_gratings"], "x.nwb")
    ['static_gratings', 'natural_scenes']
    >>> check_families_shown(["drifting_gratings"], ["natural_scenes"], "x.nwb (three_session_B)")
    Traceback (most recent call last):
    ...
    brainobs.errors.FamilyNotShownError: x.nwb (three_session_B) does not show 'drifting_gratings': it shows natural_scenes. Valid choices: natural_scenes.
    """
    from brainobs._validate import as_list
    from brainobs.errors import FamilyNotShownError

    shown = {str(x) for x in (as_list(stimuli) or [])}
    computable = [f for f, (_, _, stims) in FAMILIES.items() if shown.intersection(stims)]
    if families is None:
        return computable
    wanted = _family_list(families)
    for f in wanted:
        if f not in computable:
            raise FamilyNotShownError(f, where, sorted(shown), computable)
    return list(dict.fromkeys(wanted))


def analyze_container(
    sessions: list[Session], *, families: list[str] | None = None, seed: int = 1,
    n_shuffles: int = 10_000, progress: Callable[[int, int, str], None] | None = None,
    strict: bool = False,
) -> pd.DataFrame:
    """Merge a container's sessions into one row per cell specimen (the published table).

    Columns computed in several sessions get the session letter, as published:
    ``reliability_nm1_a``, ``reliability_nm1_b``, ``reliability_nm1_c``;
    ``mean_running_speed_a/_b/_c`` likewise. Every other column comes from the one
    session that shows its stimulus.

    Parameters
    ----------
    sessions : list of Session
        The container's sessions (A, B and C or C2).
    families, seed, n_shuffles
        As for :func:`analyze`. Each session computes the families it shows; a family no
        session of the container shows is skipped, but when none of ``families`` is shown
        :class:`~brainobs.errors.FamilyNotShownError` is raised (naming the container's
        session types and what they show) instead of returning a table of ids only.
    progress : callable, optional
        ``progress(done, total, description)`` after each session.
    strict : bool
        Raise :class:`~brainobs.errors.FamilyNotShownError` for *any* family of ``families``
        that no session shows (what ``brainobs analyze --container --family`` does).

    Returns
    -------
    pandas.DataFrame
        Indexed by ``cell_specimen_id`` (union over the sessions), with
        ``experiment_container_id``, the QC columns suffixed like the metrics
        (``qc_nm1_a``) and ``attrs["qc"]``: every session's records (see :func:`analyze`).
    """
    if not sessions:
        raise ValueError("analyze_container needs at least one session")
    containers = {s.experiment_container_id for s in sessions}
    if len(containers) > 1:
        raise ValueError(f"sessions belong to several containers: {sorted(map(str, containers))}")
    if families is not None:  # every family asked for must be shown by some session
        cid = next(iter(containers))
        types = ", ".join(str(s.session_type) for s in sessions)
        stimuli = sorted({x for s in sessions for x in s.list_stimuli()})
        where = f"container {cid} (sessions {types})"
        if strict:
            families = check_families_shown(families, stimuli, where)
        else:  # families no session shows are skipped, unless none is shown (ids only)
            computable = check_families_shown(None, stimuli, where)
            wanted = _family_list(families)
            families = [f for f in wanted if f in computable]
            if wanted and not families:
                check_families_shown(wanted, stimuli, where)  # raises, naming the first
    from brainobs.metrics.gratings import _where

    tables = []
    records: list[dict[str, Any]] = []
    for i, s in enumerate(sessions):
        shown = set(s.list_stimuli())
        mine = None if families is None else [
            f for f in families if f in FAMILIES and shown.intersection(FAMILIES[f][2])]
        t = analyze(s, families=mine, seed=seed, n_shuffles=n_shuffles)
        letter = session_letter(s.session_type, _where(s))
        for r in t.attrs.get("qc", []):
            col = r["column"]
            records.append({**r, "column": f"{col}_{letter}" if col in _PER_SESSION_QC else col})
        tables.append(publishable(t.drop(columns="experiment_container_id"), str(s.session_type)))
        if progress:
            progress(i + 1, len(sessions), f"analyzed {s.session_type} ({s.ophys_experiment_id})")
    merged = pd.concat(tables, axis=1)  # columns are disjoint once suffixed by session
    duplicated = merged.columns[merged.columns.duplicated()].unique().tolist()
    if duplicated:
        raise ValueError(f"several sessions computed {duplicated}: pass one session per type")
    merged.insert(0, "experiment_container_id", containers.pop())
    merged.attrs = {"qc": records}
    return merged


def publishable(table: pd.DataFrame, session_type: str | None = None) -> pd.DataFrame:
    """Columns of an :func:`analyze` / :func:`analyze_container` table under the cell
    table's names: per-session columns suffixed by session letter, bookkeeping dropped.

    >>> t = pd.DataFrame({"reliability_nm1": [0.5], "p_dg": [0.01], "session_type": ["x"]},
    ...                  index=pd.Index([7], name="cell_specimen_id"))
    >>> list(publishable(t, "three_session_A").columns)
    ['reliability_nm1_a', 'p_dg', 'mean_running_speed_a']
    """
    out = table.drop(columns=[c for c in ("session_type",) if c in table.columns])
    if session_type is not None:
        letter = session_letter(session_type)
        out = out.rename(columns={
            "reliability_nm1": f"reliability_nm1_{letter}",
            "qc_nm1": f"qc_nm1_{letter}",
            "mean_running_speed": f"mean_running_speed_{letter}",
            "ophys_experiment_id": f"ophys_experiment_id_{letter}",
        })
        if f"mean_running_speed_{letter}" not in out.columns:
            out[f"mean_running_speed_{letter}"] = np.nan
    return out


def analyze_catalog_container(
    obs: Any, container_id: int, *, store: bool = True, families: list[str] | None = None,
    seed: int = 1, n_shuffles: int = 10_000,
    progress: Callable[[int, int, str], None] | None = None, strict: bool = False,
) -> pd.DataFrame:
    """Analyze every session of a catalog container and (by default) store the result.

    ``families``, ``strict``: as :func:`analyze_container`. The merged table (with its
    ``attrs["qc"]``) is saved into the catalog with
    :meth:`brainobs.catalog.Observatory.save_cells` (atomic), so ``obs.cells()``,
    ``BrainObservatoryCache.get_cell_specimens()`` and ``brainobs cells --filter`` return it.
    """
    exps = obs.experiments(container_id=int(container_id), include_failed=True)
    sessions: list[Any] = []
    try:  # opened inside the try: a file that fails to open closes the ones before it
        for i in exps["id"]:
            sessions.append(obs.session(int(i)))
        table = analyze_container(sessions, families=families, seed=seed, n_shuffles=n_shuffles,
                                  progress=progress, strict=strict)
    finally:
        for s in sessions:
            s.close()
    if store:  # the container id is already in the cell table: store the metrics only
        obs.save_cells(table.drop(columns="experiment_container_id").reset_index())
    return table
