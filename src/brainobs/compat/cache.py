"""``BrainObservatoryCache`` with AllenSDK's method names, arguments and return types.

Works offline over a brainobs data dir or an existing AllenSDK cache dir (nothing is
downloaded). Differences from AllenSDK, on purpose:

* a string where a list is expected (``cre_lines="Cux2-CreERT2"``) is accepted as a
  one-element list (AllenSDK raises TypeError);
* unknown Cre lines / areas / session types / stimuli raise brainobs's
  ``Unknown*Error`` (subclasses of ValueError) naming the closest valid value, where
  AllenSDK silently returns nothing -- also as values of ``filters`` on vocabulary columns
  (``{'field': 'area', 'op': '=', 'value': 'VISx'}``); full names behave as in AllenSDK,
  and the usual short names are accepted too (areas ``V1``, ``LM``, ``AL``, ``PM``, ``AM``,
  ``RL`` and any case; a Cre line's gene name such as ``Cux2`` when only one fits);
* arguments of the wrong type (``manifest_file=123``, ``filters=5``, ``cre_lines=3.5``)
  raise a TypeError naming the argument and the accepted types;
* an id list of which **none** exist raises :class:`~brainobs.errors.UnknownIdError`
  (a LookupError); when some exist the rest are ignored, as in AllenSDK;
* ``get_ophys_experiments(experiment_container_ids=..., cell_specimen_ids=...)`` keeps
  the **intersection** of the given containers and the cells' containers (AllenSDK
  computes a set difference, a bug);
* ``get_cell_specimens`` warns (:class:`~brainobs.errors.MissingMetricsWarning`) when
  containers of the selection have no computed metrics, instead of a silent empty or NaN
  answer (``warn=False`` silences it).

Example
-------
>>> from brainobs.compat import BrainObservatoryCache
>>> boc = BrainObservatoryCache(manifest_file="manifest.json")  # doctest: +SKIP
>>> boc.get_experiment_containers(targeted_structures=["VISp"])  # doctest: +SKIP
"""

from __future__ import annotations

import math
import os
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from brainobs import vocab
from brainobs.catalog import _source
from brainobs.catalog.observatory import Observatory, default_data_dir
from brainobs.errors import (
    ArgumentTypeError,
    DataDirError,
    MissingMetricsWarning,
    NWBFileError,
    UnknownIdError,
)

SIMPLE_CONTAINER_KEYS = [
    "id", "imaging_depth", "targeted_structure", "cre_line", "reporter_line", "donor_name",
    "specimen_name", "tags", "failed",
]  # fmt: skip
SIMPLE_EXPERIMENT_KEYS = [
    "id", "imaging_depth", "targeted_structure", "cre_line", "reporter_line",
    "acquisition_age_days", "experiment_container_id", "session_type", "donor_name",
    "specimen_name", "fail_eye_tracking",
]  # fmt: skip


def _py(value: Any) -> Any:
    """numpy scalar / NaN -> plain Python (None for missing)."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and math.isnan(value):
        return None
    if value is pd.NA or value is pd.NaT:
        return None
    return value


def _records(df: pd.DataFrame, keys: list[str] | None = None) -> list[dict]:
    cols = keys if keys is not None else list(df.columns)
    arrays = [df[c].to_numpy(dtype=object) for c in cols]
    return [
        {c: _py(v) for c, v in zip(cols, row, strict=True)} for row in zip(*arrays, strict=True)
    ]


# Observatory argument -> AllenSDK name, for the messages of wrong-type errors.
_ALLENSDK_NAMES = {"area": "targeted_structures", "cre_line": "cre_lines", "reporter_line": "reporter_lines",
                   "imaging_depth": "imaging_depths", "transgenic_line": "transgenic_lines",
                   "stimuli": "stimuli", "include_failed": "include_failed"}  # fmt: skip


@contextmanager
def _argument_names(**names: str) -> Iterator[None]:
    """Re-raise an :class:`~brainobs.errors.ArgumentTypeError` under the AllenSDK argument name."""
    try:
        yield
    except ArgumentTypeError as exc:
        name = names.get(exc.name, _ALLENSDK_NAMES.get(exc.name, exc.name))
        if name == exc.name:
            raise
        raise ArgumentTypeError(name, exc.value, exc.accepted) from None


class BrainObservatoryCache:
    """AllenSDK-compatible facade over :class:`~brainobs.catalog.Observatory`.

    Parameters
    ----------
    cache : bool
        Accepted for compatibility (brainobs never downloads here).
    manifest_file : str or Path, optional
        Path of the cache's manifest.json; default ``default_data_dir() / "manifest.json"``.
    base_uri, api
        Accepted for compatibility; unused.

    Examples
    --------
    >>> boc = BrainObservatoryCache(manifest_file="~/brainobs-data/manifest.json")  # doctest: +SKIP
    >>> boc.get_all_cre_lines()  # doctest: +SKIP
    """

    EXPERIMENT_CONTAINERS_KEY = "EXPERIMENT_CONTAINERS"
    EXPERIMENTS_KEY = "EXPERIMENTS"
    CELL_SPECIMENS_KEY = "CELL_SPECIMENS"
    EXPERIMENT_DATA_KEY = "EXPERIMENT_DATA"
    STIMULUS_MAPPINGS_KEY = "STIMULUS_MAPPINGS"
    MANIFEST_VERSION = "1.3"

    def __init__(
        self, cache: bool = True, manifest_file: Any = None, base_uri: Any = None, api: Any = None
    ):
        self.cache = cache
        if manifest_file is not None and not isinstance(manifest_file, (str, os.PathLike)):
            raise ArgumentTypeError(
                "manifest_file", manifest_file, "a path (str or os.PathLike) to manifest.json, or None"
            )
        if manifest_file is None:
            manifest_file = default_data_dir() / _source.MANIFEST_NAME
        self.manifest_file = Path(manifest_file).expanduser()
        target = self.manifest_file if self.manifest_file.exists() else self.manifest_file.parent
        self.observatory = Observatory(target)

    # ------------------------------------------------------------------ helpers

    def _obs_from(self, key: str, file_name: Any) -> Observatory:
        """The observatory, or a copy whose table comes from ``file_name`` (raw API JSON)."""
        if file_name is None:
            return self.observatory
        path = Path(file_name).expanduser()
        found = _source.existing_json(path)
        if found is None:
            raise DataDirError(f"{key} file not found (brainobs does not download): {path}")
        kind = {self.CELL_SPECIMENS_KEY: "cell specimen", self.EXPERIMENT_CONTAINERS_KEY: "experiment container",
                self.EXPERIMENTS_KEY: "ophys experiment"}[key]
        raw = _source.check_required(_source.read_json(found), found, kind)
        base = self.observatory
        if key == self.CELL_SPECIMENS_KEY:
            tables = {"cells": _source.flatten_cells(raw)}
        elif key == self.EXPERIMENT_CONTAINERS_KEY:
            tables = {"containers": _source.flatten_containers(raw), "experiments": base.table("experiments")}
        else:
            containers = base.table("containers")
            tables = {"containers": containers, "experiments": _source.flatten_experiments(raw, containers)}
        return base.with_tables(tables, raw={key: raw})

    @staticmethod
    def _select_raw(raw: list[dict], ids: list, id_key: str = "id") -> list[dict]:
        by_id = {r.get(id_key): r for r in raw}
        return [by_id[i] for i in ids if i in by_id]

    # ------------------------------------------------------------- vocabularies

    def get_all_targeted_structures(self) -> list[str]:
        """Sorted targeted structures (areas) of non-failed containers."""
        return self.observatory.areas()

    def get_all_cre_lines(self) -> list[str]:
        """Sorted Cre lines of non-failed containers."""
        return self.observatory.cre_lines()

    def get_all_reporter_lines(self) -> list[str]:
        """Sorted reporter lines of non-failed containers."""
        return self.observatory.reporter_lines()

    def get_all_imaging_depths(self) -> list[int]:
        """Sorted imaging depths of non-failed containers."""
        return self.observatory.imaging_depths()

    def get_all_session_types(self) -> list[str]:
        """Sorted session types of non-failed experiments."""
        return self.observatory.session_types()

    def get_all_stimuli(self) -> list[str]:
        """All stimulus names of the Visual Coding 2P dataset, sorted."""
        return sorted(vocab.STIMULI)

    # ------------------------------------------------------------------ queries

    def get_experiment_containers(
        self,
        file_name=None,
        ids=None,
        targeted_structures=None,
        imaging_depths=None,
        cre_lines=None,
        reporter_lines=None,
        transgenic_lines=None,
        include_failed=False,
        simple=True,
    ) -> list[dict]:
        """Experiment containers as a list of dicts (AllenSDK 'simple' keys when ``simple``)."""
        obs = self._obs_from(self.EXPERIMENT_CONTAINERS_KEY, file_name)
        with _argument_names(container_id="ids"):
            df = obs.containers(
                container_id=ids,
                area=targeted_structures,
                cre_line=cre_lines,
                reporter_line=reporter_lines,
                imaging_depth=imaging_depths,
                include_failed=include_failed,
                transgenic_line=transgenic_lines,
            )
        if not simple:
            return self._select_raw(obs.raw(self.EXPERIMENT_CONTAINERS_KEY), df["id"].tolist())
        out = _records(df, SIMPLE_CONTAINER_KEYS)
        for rec in out:
            rec["tags"] = [t for t in (rec["tags"] or "").split("; ") if t]
        return out

    def get_ophys_experiments(
        self,
        file_name=None,
        ids=None,
        experiment_container_ids=None,
        targeted_structures=None,
        imaging_depths=None,
        cre_lines=None,
        reporter_lines=None,
        transgenic_lines=None,
        stimuli=None,
        session_types=None,
        cell_specimen_ids=None,
        include_failed=False,
        require_eye_tracking=False,
        simple=True,
    ) -> list[dict]:
        """Ophys experiments as a list of dicts.

        With both ``experiment_container_ids`` and ``cell_specimen_ids``, the containers
        kept are the INTERSECTION of the given ones and those holding the cells
        (AllenSDK uses the set difference — a bug).
        """
        obs = self._obs_from(self.EXPERIMENTS_KEY, file_name)
        with _argument_names(experiment_id="ids", container_id="experiment_container_ids",
                             cell_specimen_id="cell_specimen_ids", session_type="session_types"):
            df = obs.experiments(
                experiment_id=ids,
                container_id=experiment_container_ids,
                area=targeted_structures,
                cre_line=cre_lines,
                reporter_line=reporter_lines,
                imaging_depth=imaging_depths,
                session_type=session_types,
                stimuli=stimuli,
                cell_specimen_id=cell_specimen_ids,
                include_failed=include_failed,
                require_eye_tracking=require_eye_tracking,
                transgenic_line=transgenic_lines,
            )
        if not simple:
            return self._select_raw(obs.raw(self.EXPERIMENTS_KEY), df["id"].tolist())
        out = _records(df, SIMPLE_EXPERIMENT_KEYS)
        for rec in out:
            if rec["acquisition_age_days"] is not None:
                rec["acquisition_age_days"] = int(rec["acquisition_age_days"])
        return out

    def _thumbnail_columns(self) -> set[str]:
        maps = self.observatory.stimulus_mappings()
        return {m["item"] for m in maps if m.get("item_type") == "T" and m.get("level") == "R"}

    def get_cell_specimens(
        self,
        file_name=None,
        ids=None,
        experiment_container_ids=None,
        include_failed=False,
        simple=True,
        filters=None,
        *,
        warn=True,
    ) -> list[dict]:
        """Cell specimens as a list of dicts.

        ``filters``: AllenSDK dicts ``{'field', 'op', 'value'}`` (ops ``=, <, >, <=, >=,
        between, in, is``) or brainobs strings like ``"p_dg < 0.05"``. ``simple`` drops the
        thumbnail-path columns (stimulus mappings with item_type 'T', level 'R').

        Unlike AllenSDK, containers of the selection whose metrics were never computed
        are reported by a :class:`~brainobs.errors.MissingMetricsWarning` naming them and
        the ``brainobs analyze --missing ...`` command (same rule as
        :meth:`brainobs.catalog.Observatory.cells`); ``warn=False`` silences it.
        """
        obs = self._obs_from(self.CELL_SPECIMENS_KEY, file_name)
        with _argument_names(cell_specimen_id="ids", container_id="experiment_container_ids"):
            sel = obs.select_cells(
                cell_specimen_id=ids,
                container_id=experiment_container_ids,
                filters=filters,
                include_failed=include_failed,
            )
        if warn and sel.missing is not None:
            warnings.warn(MissingMetricsWarning(sel.missing.message), stacklevel=2)
        df = sel.cells
        if simple:
            df = df.drop(columns=[c for c in df.columns if c in self._thumbnail_columns()])
        return _records(df)

    def get_ophys_experiment_stimuli(self, experiment_id) -> list[str] | None:
        """Stimuli shown in an experiment's session (None for an unknown experiment)."""
        from brainobs._validate import as_int_list

        (eid,) = as_int_list([experiment_id], "experiment_id")  # type: ignore[misc]
        exps = self.observatory.table("experiments")
        hit = exps.loc[exps["id"] == eid, "session_type"]
        if hit.empty:
            return None
        return list(vocab.SESSION_STIMULI.get(hit.iloc[0], ()))

    def get_nwb_filepath(self, ophys_experiment_id=None) -> str | None:
        """Path of the experiment's NWB file if it is present, else None."""
        if ophys_experiment_id is None:
            return None
        try:
            path = self.observatory.session_path(ophys_experiment_id)
        except UnknownIdError:
            return None
        return str(path) if path.is_file() else None

    def get_ophys_experiment_data(self, ophys_experiment_id, file_name=None):
        """The session's :class:`~brainobs.compat.dataset.BrainObservatoryNwbDataSet`.

        Raises NWBFileError "... not downloaded: <path>" when the file is absent.
        """
        from brainobs.compat.dataset import BrainObservatoryNwbDataSet

        if file_name is not None:
            path = Path(file_name).expanduser()
        else:
            path = self.observatory.session_path(ophys_experiment_id)
        if not path.is_file():
            raise NWBFileError(
                f"Session file of experiment {ophys_experiment_id} not downloaded: {path}"
            )
        return BrainObservatoryNwbDataSet(path)
