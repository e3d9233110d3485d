"""The catalog: what containers, experiments and cells exist, with filters.

Storage choice: the normalized tables are kept as Parquet files in
``DIR/.brainobs/catalog/`` and queried with pandas/pyarrow rather than DuckDB. pyarrow is
already a dependency (no extra one), Parquet gives a fast columnar read of the cached
tables (no JSON re-parsing: the cells JSON is ~100 MB for the full release), and once
loaded, boolean-mask filters over an in-memory 63k-row table take well under a
millisecond per clause, so a SQL engine would add a dependency without a speed-up.

Tables are rebuilt from the JSON sources when missing or older than them (written to a
temporary file then ``os.replace``-d, so readers never see half a file). If the data dir
is not writable they live in memory only. The cells table is loaded only when first
needed (``cells()``).

Metrics computed by brainobs live apart, in an append-only folder of immutable Parquet
parts (:mod:`brainobs.catalog.store`), laid over the cell table at query time; every
query notices parts that other processes added since (one directory listing).
The whole store (``catalog/`` and ``quarantine/``) lives in ``DIR/.brainobs`` unless
``Observatory(data_dir, store=FOLDER)`` or ``$BRAINOBS_STORE`` puts it elsewhere (for a
read-only data dir).
"""

from __future__ import annotations

import copy
import json
import os
import shlex
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from brainobs import vocab
from brainobs._validate import as_int_list, check_choices
from brainobs.errors import (
    ArgumentTypeError,
    MissingMetricsWarning,
    NWBFileError,
    StoreError,
    UnknownAreaError,
    UnknownCreLineError,
    UnknownIdError,
    UnknownSessionTypeError,
    UnknownStimulusError,
    UnknownValueError,
)

from . import _source
from .coverage import (
    MissingMetrics,
    check_families,
    coverage_table,
    family_presence,
    is_null_test,
    missing_message,
)
from .filters import Clause, mask_for, normalized, parse
from .store import SAVED as _SAVED
from .store import ComputedStore, clean_temp_files, merge_parts, write_atomic, write_parquet_atomic

# Columns holding a closed vocabulary, by the check their filter values go through.
_VOCAB_COLUMNS: dict[str, str] = {
    "area": "area", "targeted_structure": "area", "tld1_name": "cre", "cre_line": "cre",
    "tlr1_name": "reporter", "reporter_line": "reporter", "session_type": "session",
    "stimulus": "stimulus", "stimulus_name": "stimulus",
}  # fmt: skip
_DEPTHS = "an integer depth in µm or a list of them"
# Names of the containers/experiments tables that filters of the cell table accept too.
_COLUMN_SYNONYMS: dict[str, str] = {
    "cre_line": "tld1_name", "targeted_structure": "area", "reporter_line": "tlr1_name",
}  # fmt: skip


@dataclass(frozen=True)
class _Dim:
    """One choice of a selection, for :meth:`Observatory.explain_empty`."""

    label: str  # "area"
    plural: str  # "areas"
    column: str  # column of the containers/experiments table
    wanted: list  # values of that column that match
    asked: list  # what the user asked for (stimuli for the session-type column)

    @property
    def text(self) -> str:
        return f"{self.label} {', '.join(str(v) for v in self.asked) or '[] (an empty list)'}"

    def available(self, table: pd.DataFrame) -> str:
        values = table[self.column].dropna().unique()
        if self.label == "stimulus":  # the stimuli shown by the session types with data
            values = np.array(sorted({s for t in values for s in vocab.SESSION_STIMULI.get(t, ())}))
        return ", ".join(str(v) for v in sorted(values.tolist())) or "none"

STORE_SUBDIR = Path(".brainobs") / "catalog"
STORE_OWNER = "brainobs-store.json"  # in a store kept outside its data dir: whose it is
TABLES = ("containers", "experiments", "cells")
COMPUTED = "computed"  # metrics computed by brainobs, laid over the cell table


def default_data_dir() -> Path:
    """The default data dir: ``$BRAINOBS_DATA`` if set, else ``~/brainobs-data``.

    >>> isinstance(default_data_dir(), Path)
    True
    """
    env = os.environ.get("BRAINOBS_DATA")
    return Path(env).expanduser() if env else Path.home() / "brainobs-data"


def _resolved(path: Path) -> Path:
    try:
        return path.resolve()
    except OSError:  # pragma: no cover - unresolvable path
        return path.absolute()


def open_observatory(
    data_dir: str | os.PathLike[str] | None = None, store: str | os.PathLike[str] | None = None
) -> Observatory:
    """Open a brainobs data dir, an AllenSDK cache dir, or the path of its manifest.json.

    Raises :class:`~brainobs.errors.DataDirError` when ``data_dir`` is neither. ``store``
    keeps the catalog store elsewhere (see :class:`Observatory`).

    >>> obs = open_observatory("~/brainobs-data")  # doctest: +SKIP
    >>> obs.containers(area="VISp", cre_line="Cux2-CreERT2")  # doctest: +SKIP
    """
    return Observatory(data_dir, store=store)


def _overlay(cells: pd.DataFrame, computed: pd.DataFrame) -> pd.DataFrame:
    """``cells`` with the computed columns laid over its own, cell by cell.

    A value replaces the cell table's only where it was saved for that cell (the
    ``__saved__<column>`` flag), so a computed NaN wins but an unsaved cell keeps its own
    value. New columns are added.
    """
    columns = [c for c in computed.columns if c != "cell_specimen_id" and not c.startswith(_SAVED)]
    if computed.empty or not columns:
        return cells
    comp = computed.set_index("cell_specimen_id").reindex(cells["cell_specimen_id"].to_numpy())
    laid = {}
    for col in columns:
        saved = comp[_SAVED + col].fillna(False).to_numpy(dtype=bool)
        new = pd.Series(comp[col].to_numpy(), index=cells.index)
        if col in cells.columns:
            merged = cells[col].where(~saved, new)
            # keep an integer column integer when every value still is one (ids, counts)
            if pd.api.types.is_integer_dtype(cells[col]) and merged.notna().all() and \
                    bool((merged == np.round(merged)).all()):
                merged = merged.astype(cells[col].dtype)
            laid[col] = merged
        else:
            laid[col] = new.where(saved)
    # One concat (not a column at a time): the cell table has ~100 columns.
    order = list(cells.columns) + [c for c in columns if c not in cells.columns]
    kept = cells.drop(columns=[c for c in columns if c in cells.columns])
    return pd.concat([kept, pd.DataFrame(laid, index=cells.index)], axis=1)[order]


@dataclass(frozen=True)
class CellSelection:
    """The answer of :meth:`Observatory.select_cells`: the cells, and what they lack.

    Attributes
    ----------
    cells : pandas.DataFrame
        The cell table rows, as :meth:`Observatory.cells` returns them.
    missing : MissingMetrics or None
        Selected containers without the metrics the query needs (see
        :mod:`brainobs.catalog.coverage` for the rule); None when nothing is missing.
    """

    cells: pd.DataFrame
    missing: MissingMetrics | None


class Observatory:
    """Catalog of one data dir.

    Parameters
    ----------
    data_dir : str or Path, optional
        A brainobs data dir, an AllenSDK cache dir, or a manifest.json path;
        default :func:`default_data_dir`.
    store : str or Path, optional
        Folder of the catalog store (cached tables, computed metrics, quarantine); default
        ``$BRAINOBS_STORE`` if set, else ``DATA_DIR/.brainobs``. Use it when the data dir
        is read-only. A store outside its data dir records which data dir it serves
        (``brainobs-store.json``) and refuses any other
        (:class:`~brainobs.errors.StoreError`).

    Notes
    -----
    Every str-vocabulary argument accepts a str or a list; unknown values raise the
    matching ``Unknown*Error`` (a ``ValueError``) with the closest valid spelling. Areas
    are matched in any case and by the names in :data:`brainobs.vocab.AREA_ALIASES`
    (``"V1"``, ``"LM"`` ...); Cre lines (and reporter lines) also by a leading part of the
    name that ends at a "-"/"_" (``"Cux2"``, ``"Ntsr1-Cre"``) when only one fits
    (several raise :class:`~brainobs.errors.AmbiguousValueError` listing them). The same
    checks apply to filter values on the cell table's vocabulary columns (``area``,
    ``tld1_name``, ``tlr1_name``; ``cre_line``/``targeted_structure``/``reporter_line``
    name them too). Id and depth arguments accept an int or a list: a list where **none**
    exist raises :class:`~brainobs.errors.UnknownIdError` (ids) or an
    :class:`~brainobs.errors.UnknownValueError` listing the depths that exist; when some
    exist, the unknown ones simply match nothing (as in AllenSDK). A selection by valid
    choices that has no data is an empty table; :meth:`explain_empty` says which choices
    have data. Arguments of the wrong type raise
    :class:`~brainobs.errors.ArgumentTypeError` (a ``TypeError``) naming the argument.

    Examples
    --------
    >>> obs = Observatory("~/brainobs-data")  # doctest: +SKIP
    >>> obs.experiments(stimuli="natural_scenes").session_type.unique()  # doctest: +SKIP
    array(['three_session_B'], dtype=object)
    """

    def __init__(
        self,
        data_dir: str | os.PathLike[str] | None = None,
        store: str | os.PathLike[str] | None = None,
    ):
        if data_dir is not None and not isinstance(data_dir, (str, os.PathLike)):
            raise ArgumentTypeError(
                "data_dir", data_dir,
                "a path (str or os.PathLike) to a data dir or its manifest.json, or None",
            )
        if store is not None and not isinstance(store, (str, os.PathLike)):
            raise ArgumentTypeError("store", store, "a path (str or os.PathLike) to a folder, or None")
        self._src = _source.locate(default_data_dir() if data_dir is None else data_dir)
        self.data_dir: Path = self._src.data_dir
        self.is_synthetic: bool = self._src.is_synthetic
        if store is None and os.environ.get("BRAINOBS_STORE"):
            store = os.environ["BRAINOBS_STORE"]
        default_root = self.data_dir / STORE_SUBDIR.parent
        #: The folder of the whole store: ``DIR/.brainobs`` unless ``store`` moved it.
        self.store_root: Path = Path(store).expanduser().absolute() if store is not None else default_root
        self.store_external: bool = store is not None and _resolved(self.store_root) != _resolved(default_root)
        self.store_dir: Path = self.store_root / STORE_SUBDIR.name
        self.quarantine_dir: Path = self.store_root / "quarantine"
        self.store_writable: bool = True
        self._memory_only = False  # with_tables copies never touch the store
        self._computed_store = ComputedStore(self.store_dir, self.quarantine_dir)
        self._computed_listing: tuple[str, ...] | None = None
        self._tables: dict[str, pd.DataFrame] = {}
        self._raw_overrides: dict[str, list[dict]] = {}
        # (cell table, its per-container family presence): recomputed when the table changes
        self._presence: tuple[pd.DataFrame, pd.DataFrame] | None = None
        if self.store_external:
            self._claim_store()

    def _claim_store(self) -> None:
        """A store outside the data dir serves one data dir only: check (or record) whose."""
        owner = self.store_root / STORE_OWNER
        mine = str(_resolved(self.data_dir))
        try:
            recorded = json.loads(owner.read_text()).get("data_dir")
        except (FileNotFoundError, NotADirectoryError):  # no store there yet (or cannot be)
            recorded = None
        except (OSError, ValueError, AttributeError) as exc:
            raise StoreError(f"Cannot read the store's owner file {owner}: {exc}. It names the "
                             "data dir the store belongs to; remove it only if that is "
                             f"{self.data_dir}.") from exc
        if recorded is None:
            try:
                self.store_root.mkdir(parents=True, exist_ok=True)
                clean_temp_files(self.store_root, STORE_OWNER)
                write_atomic(owner, lambda tmp: tmp.write_text(json.dumps({"data_dir": mine}) + "\n"))
            except OSError:
                pass  # a read-only store: storing will say so
        elif recorded != mine:
            raise StoreError(f"The store {self.store_root} belongs to the data dir {recorded}, "
                             f"not {self.data_dir}: give each data dir its own store folder "
                             "(--store-dir / store= / BRAINOBS_STORE).")

    def __repr__(self) -> str:
        kind = "synthetic" if self.is_synthetic else "AllenSDK cache"
        return f"Observatory({str(self.data_dir)!r}, {kind})"

    # ------------------------------------------------------------------ store

    def _sources_of(self, name: str) -> list[Path]:
        keys = ["CELL_SPECIMENS"] if name == "cells" else ["EXPERIMENT_CONTAINERS", "EXPERIMENTS"]
        files = [self._src.json_file(k) for k in keys]
        if self._src.manifest is not None:
            files.append(self._src.manifest)
        return [f for f in files if f is not None]

    def _fresh(self, name: str) -> bool:
        path = self.store_dir / f"{name}.parquet"
        if not path.is_file():
            return False
        mtime = path.stat().st_mtime
        return all(src.stat().st_mtime <= mtime for src in self._sources_of(name))

    def _save(self, name: str, df: pd.DataFrame) -> None:
        if not self.store_writable or self._memory_only:
            return
        try:
            write_parquet_atomic(df, self.store_dir / f"{name}.parquet")
        except OSError:
            self.store_writable = False  # read-only data dir: keep the table in memory

    def _read(self, name: str) -> pd.DataFrame | None:
        if not self._fresh(name):
            return None
        try:
            return pd.read_parquet(self.store_dir / f"{name}.parquet")
        except (OSError, ValueError):
            return None  # unreadable cache: rebuild from JSON

    def _cells_source(self) -> pd.DataFrame:
        """The cell table built from cell_specimens.json, without computed metrics."""
        if "_cells_source" not in self._tables:
            df = self._read("cells")
            if df is None:
                # every JSON source is read before any table is cached, so a corrupt one
                # fails the command with nothing written
                df = _source.load_cells(self._src)
                self._table("containers")
                self._save("cells", df)
            self._tables["_cells_source"] = df
        return self._tables["_cells_source"]

    def _table(self, name: str) -> pd.DataFrame:
        if name == "cells":
            cached = self._tables.get("cells")
            if cached is not None and (self._memory_only
                                       or self._computed_listing == self._computed_store.listing()):
                return cached
            source = self._cells_source()
            self._tables["cells"] = _overlay(source, self._computed())
            return self._tables["cells"]
        if name in self._tables:
            return self._tables[name]
        c, e = self._read("containers"), self._read("experiments")
        if c is None or e is None:
            c, e = _source.load_tables(self._src)
            self._save("containers", c)
            self._save("experiments", e)
        self._tables["containers"], self._tables["experiments"] = c, e
        return self._tables[name]

    def _computed(self) -> pd.DataFrame:
        """Metrics computed by brainobs, one row per cell specimen, with ``__saved__`` flags.

        Read from the parts of :mod:`brainobs.catalog.store` (again whenever other
        processes added parts); kept apart from the table built from cell_specimens.json
        so that rebuilding that table (when the JSON changes) never loses them. Corrupt
        parts are quarantined with a :class:`~brainobs.errors.StoreCorruptionWarning`.
        """
        cached = self._tables.get(COMPUTED)
        if cached is not None and (self._memory_only
                                   or self._computed_listing == self._computed_store.listing()):
            return cached
        self._computed_listing, df = self._computed_store.read()
        self._tables[COMPUTED] = df
        return df

    def table(self, name: str) -> pd.DataFrame:
        """The whole stored table ``name`` ('containers', 'experiments' or 'cells'), unfiltered."""
        if name not in TABLES:
            raise UnknownValueError(name, TABLES, kind="table")
        return self._table(name)

    def write_table(self, name: str, df: pd.DataFrame) -> None:
        """Replace stored table ``name`` with ``df`` (atomic write; memory-only if read-only).

        A new cell table is, like the one built from JSON, shown with the computed
        metrics laid over it.
        """
        if name not in TABLES:
            raise UnknownValueError(name, TABLES, kind="table")
        if name != "cells":
            self._table(name)  # make sure the sibling table is loaded too
        df = df.reset_index(drop=True)
        if name == "cells":
            self._tables["_cells_source"] = df
            self._tables.pop("cells", None)
        else:
            self._tables[name] = df
        self._save(name, df)

    def check_store(self) -> None:
        """Raise :class:`~brainobs.errors.ReadOnlyStoreError` unless metrics can be stored.

        ``brainobs analyze`` calls it before computing anything, so a read-only data dir
        fails at once, with the way out (``--store-dir``, ``--no-store``).
        """
        if not self._memory_only:
            self._computed_store.check_writable()

    def save_cells(self, df: pd.DataFrame) -> None:
        """Store computed columns for cells (matched by ``cell_specimen_id``).

        The values go to a new immutable part of the computed-metrics store
        (``DIR/.brainobs/catalog/computed/``, :mod:`brainobs.catalog.store`): nothing that is
        stored is rewritten, so other processes, threads and other :class:`Observatory`
        objects storing at the same time keep their results. From then on they are laid
        over the catalog's cell table (the given cells and columns replace earlier values,
        everything else is kept), so ``cells()`` returns them. Ids absent from the catalog
        raise UnknownIdError; a store that cannot be written raises
        :class:`~brainobs.errors.ReadOnlyStoreError` (nothing is stored). Copies made by
        :meth:`with_tables` keep the values in memory only.

        >>> obs.save_cells(pd.DataFrame({"cell_specimen_id": [1], "p_dg": [0.01]}))  # doctest: +SKIP
        """
        if "cell_specimen_id" not in df:
            raise ValueError("save_cells needs a cell_specimen_id column")
        upd = df.drop_duplicates("cell_specimen_id", keep="last").set_index("cell_specimen_id")
        upd.index = upd.index.astype("int64")
        source = self._cells_source() if not self._memory_only else \
            self._tables.get("_cells_source", self._table("cells"))
        known = pd.Index(source["cell_specimen_id"])
        unknown = upd.index[known.get_indexer(upd.index) < 0]
        if len(unknown):
            raise UnknownIdError("cell specimen", unknown.tolist(), "the catalog")
        part = upd.rename_axis("cell_specimen_id").reset_index()
        if self._memory_only:
            computed = merge_parts([self._computed(), part])
            self._tables[COMPUTED] = computed
            self._tables["cells"] = _overlay(source, computed)
            return
        self._computed_store.append(part)
        # read back at the next query, with whatever other writers added meanwhile
        for name in ("cells", COMPUTED):
            self._tables.pop(name, None)

    def refresh(self) -> None:
        """Forget the cell tables held in memory, so the next query reads the store again.

        Queries notice metrics that other processes stored by themselves (they list the
        store's parts); this also re-reads the cell table itself. Does nothing for
        :meth:`with_tables` copies, which live in memory only.
        """
        if self._memory_only:
            return
        self._computed_listing = None
        for name in ("cells", COMPUTED):
            self._tables.pop(name, None)
        if self.store_writable:  # re-readable from the Parquet cache
            self._tables.pop("_cells_source", None)

    # ------------------------------------------------------------ vocabularies

    def _passed(self, name: str) -> pd.DataFrame:
        df = self._table(name)
        col = "failed" if name == "containers" else "container_failed"
        return df[~df[col].to_numpy(dtype=bool)]

    @staticmethod
    def _sorted(values: pd.Series) -> list:
        return sorted(v.item() if hasattr(v, "item") else v for v in values.dropna().unique())

    def cre_lines(self) -> list[str]:
        """Sorted Cre lines of non-failed containers."""
        return self._sorted(self._passed("containers")["cre_line"])

    def areas(self) -> list[str]:
        """Sorted targeted structures (areas) of non-failed containers."""
        return self._sorted(self._passed("containers")["targeted_structure"])

    def reporter_lines(self) -> list[str]:
        """Sorted reporter lines of non-failed containers."""
        return self._sorted(self._passed("containers")["reporter_line"])

    def imaging_depths(self) -> list[int]:
        """Sorted imaging depths (µm) of non-failed containers."""
        return [int(d) for d in self._sorted(self._passed("containers")["imaging_depth"])]

    def session_types(self) -> list[str]:
        """Sorted session types of experiments in non-failed containers."""
        return self._sorted(self._passed("experiments")["session_type"])

    def stimuli(self) -> list[str]:
        """Sorted stimuli shown in the catalog's (non-failed) session types."""
        return sorted({s for t in self.session_types() for s in vocab.SESSION_STIMULI.get(t, ())})

    # ---------------------------------------------------------------- validation

    def _choices(self, column: str, extra: tuple[str, ...]) -> list[str]:
        values = self._table("containers")[column].dropna().unique().tolist()
        return sorted(set(extra) | {str(v) for v in values})

    def _check_cre(self, value: Any, name: str = "cre_line") -> list[str] | None:
        """Cre lines by full name, case-insensitively, or by a leading part such as the gene
        name ("Cux2", "Ntsr1-Cre") when only one Cre line fits."""
        return check_choices(
            value, self._choices("cre_line", vocab.CRE_LINES), UnknownCreLineError, name,
            prefixes=True,
        )

    def _check_area(self, value: Any, name: str = "area") -> list[str] | None:
        """Areas case-insensitively, or by the names in :data:`brainobs.vocab.AREA_ALIASES`."""
        return check_choices(
            value, self._choices("targeted_structure", vocab.AREAS), UnknownAreaError, name,
            aliases=vocab.AREA_ALIASES,
        )

    def _check_reporter(self, value: Any, name: str = "reporter_line") -> list[str] | None:
        return check_choices(
            value,
            self._choices("reporter_line", vocab.REPORTER_LINES),
            lambda v, ch: UnknownValueError(v, ch, kind="reporter line"),
            name,
            prefixes=True,
        )

    def _check_transgenic(self, value: Any) -> list[str] | None:
        lines = self._table("containers")["transgenic_lines"].dropna().str.split("; ").explode()
        choices = sorted(
            set(lines.dropna()) - {""} | set(vocab.CRE_LINES) | set(vocab.REPORTER_LINES)
        )
        return check_choices(
            value,
            choices,
            lambda v, ch: UnknownValueError(v, ch, kind="transgenic line"),
            "transgenic_line",
        )

    def _check_session_type(self, value: Any, name: str = "session_type") -> list[str] | None:
        choices = set(vocab.SESSION_TYPES) | set(self._table("experiments")["session_type"].dropna())
        return check_choices(value, sorted(choices), UnknownSessionTypeError, name)

    @staticmethod
    def _check_stimuli(value: Any, name: str = "stimuli") -> list[str] | None:
        return check_choices(value, vocab.STIMULI, UnknownStimulusError, name)

    def _check_depths(self, value: Any) -> list[int] | None:
        """Imaging depths (µm); a list of which none exists in the catalog raises an error
        listing the depths that do (like ids)."""
        depths = as_int_list(value, "imaging_depth", _DEPTHS)
        if depths:
            known = {int(d) for d in self._table("containers")["imaging_depth"].dropna()}
            if not known.intersection(depths):
                raise UnknownValueError(depths[0] if len(depths) == 1 else depths, sorted(known),
                                        kind="imaging depth (µm)")
        return depths

    @staticmethod
    def _check_ids(values: Any, known: pd.Series, kind: str, name: str) -> list[int] | None:
        ids = as_int_list(values, name)
        if ids is not None and ids and not known.isin(ids).any():
            have = sorted(int(i) for i in known.dropna().unique())
            command = {"experiment container": "brainobs containers", "ophys experiment": "brainobs experiments",
                       "cell specimen": "brainobs cells"}.get(kind)
            if not have:
                valid = f"The catalog has no {kind}s."
            elif len(have) <= 10:
                valid = f"Valid choices: {', '.join(map(str, have))}."
            else:
                valid = (f"The catalog has {len(have)} {kind}s, ids {have[0]} to {have[-1]}"
                         + (f"; `{command}` lists them." if command else "."))
            raise UnknownIdError(kind, ids, "the catalog", valid)
        return ids

    @staticmethod
    def _check_flag(value: Any, name: str) -> bool:
        if not isinstance(value, (bool, np.bool_)):
            raise ArgumentTypeError(name, value, "True or False")
        return bool(value)

    def _filter_clauses(self, filters: Any, columns: pd.Index) -> list[Clause]:
        """Parsed filters; ``cre_line``/``targeted_structure``/``reporter_line`` name the cell
        table's ``tld1_name``/``area``/``tlr1_name`` when the table has only those."""
        out = []
        for c in parse(filters):
            other = _COLUMN_SYNONYMS.get(c.column)
            if other is not None and c.column not in columns and other in columns:
                c = Clause(other, c.op, c.value)
            out.append(c)
        return out

    def _normalizers(self, columns: pd.Index) -> dict[str, Callable[[Any], Any]]:
        """For each vocabulary column of a table: user value -> canonical name (or an error
        naming the value and the valid choices), as for the area/cre_line/... arguments."""
        checks: dict[str, Callable[[Any], list[str] | None]] = {
            "area": self._check_area, "cre": self._check_cre, "reporter": self._check_reporter,
            "session": self._check_session_type, "stimulus": self._check_stimuli,
        }  # fmt: skip

        def one(check: Callable[[Any], list[str] | None]) -> Callable[[Any], Any]:
            return lambda v: (check(str(v)) or [v])[0]

        return {col: one(checks[kind]) for col, kind in _VOCAB_COLUMNS.items() if col in columns}

    def explain_empty(
        self,
        container_id: Any = None,
        area: Any = None,
        cre_line: Any = None,
        imaging_depth: Any = None,
        session_type: Any = None,
        stimuli: Any = None,
        filters: Any = None,
        include_failed: bool = False,
    ) -> str | None:
        """Why a selection by these arguments (as in :meth:`containers`, :meth:`experiments`,
        :meth:`cells`) has no container, or None when it has some.

        The message names each choice that has no data alone and the values that have data
        (``No data for area VISam (areas with data: VISl, VISp).``), or, when each choice has
        data but their combination has none, the combinations that do. Equality filters on
        vocabulary columns (``"area == VISp"``, ``"tld1_name in [Sst, Vip]"``) count as
        choices; other filters are ignored.

        >>> obs.explain_empty(area="VISp", cre_line="Fezf2")  # doctest: +SKIP
        'No data for area VISp × Cre line Fezf2-CreER. Combinations with data (area × Cre line): VISl × Fezf2-CreER, VISp × Cux2-CreERT2.'
        """
        by_session = session_type is not None or stimuli is not None
        table = self._table("experiments" if by_session else "containers")
        dims: list[_Dim] = []

        def add(label: str, plural: str, column: str, wanted: list | None) -> None:
            if wanted is not None:
                dims.append(_Dim(label, plural, column, list(wanted), list(wanted)))

        add("container", "containers", "experiment_container_id" if by_session else "id",
            as_int_list(container_id, "container_id"))
        add("area", "areas", "targeted_structure", self._check_area(area))
        add("Cre line", "Cre lines", "cre_line", self._check_cre(cre_line))
        add("imaging depth", "imaging depths", "imaging_depth",
            as_int_list(imaging_depth, "imaging_depth", _DEPTHS))
        add("session type", "session types", "session_type", self._check_session_type(session_type))
        if (stims := self._check_stimuli(stimuli)) is not None:
            showing = [t for t, s in vocab.SESSION_STIMULI.items() if set(s).intersection(stims)]
            dims.append(_Dim("stimulus", "stimuli", "session_type", showing, stims))
        normalize = self._normalizers(pd.Index(list(_VOCAB_COLUMNS)))
        for c in self._filter_clauses(filters, pd.Index(list(_VOCAB_COLUMNS))):
            column = {"area": "targeted_structure", "tld1_name": "cre_line"}.get(c.column, c.column)
            if column in ("targeted_structure", "cre_line") and c.op in ("==", "is", "in"):
                values = normalized(c, normalize[c.column]).value
                add("area" if column == "targeted_structure" else "Cre line",
                    "areas" if column == "targeted_structure" else "Cre lines", column,
                    values if isinstance(values, list) else [values])
        if not dims:
            return None
        failed_col = "container_failed" if by_session else "failed"
        everything = table
        if not include_failed:
            table = table[~table[failed_col].to_numpy(dtype=bool)]
        masks = [table[d.column].isin(d.wanted).to_numpy() for d in dims]
        if np.logical_and.reduce(masks).any():
            return None
        with_failed = bool(np.logical_and.reduce(
            [everything[d.column].isin(d.wanted).to_numpy() for d in dims]).any())
        hint = (" Failed containers have some: add --include-failed (include_failed=True)."
                if with_failed and not include_failed else "")
        alone = [d for d, m in zip(dims, masks, strict=True) if not m.any()]
        if alone:
            parts = [f"{d.text} ({d.plural} with data: {d.available(table)})" for d in alone]
            return f"No data for {' nor for '.join(parts)}.{hint}"
        # Session types and stimuli scope the answer (the sessions that show them); the other
        # choices are listed in the combinations that have data within that scope.
        scope = [d for d in dims if d.column == "session_type"]
        chosen = [d for d in dims if d.column != "session_type"]
        if not scope or not chosen:
            scope, chosen = [], dims
        within = np.logical_and.reduce([m for d, m in zip(dims, masks, strict=True) if d in scope]) \
            if scope else np.ones(len(table), dtype=bool)
        near = within & np.logical_or.reduce([m for d, m in zip(dims, masks, strict=True) if d in chosen])
        combos = table[near].groupby([d.column for d in chosen]).size().index
        combos = [c if isinstance(c, tuple) else (c,) for c in combos]
        shown = [" × ".join(str(v) for v in c) for c in combos[:30]]
        more = f" (and {len(combos) - 30} more)" if len(combos) > 30 else ""
        where = f", with {' and '.join(d.text for d in scope)}" if scope else ""
        return (f"No data for {' × '.join(d.text for d in chosen)}{where}. Combinations with "
                f"data ({' × '.join(d.label for d in chosen)}{where}): "
                f"{', '.join(shown) or 'none'}{more}.{hint}")

    # ------------------------------------------------------------------ queries

    def _common_mask(
        self, df, area, cre_line, reporter_line, imaging_depth, transgenic_line
    ) -> np.ndarray:
        mask = np.ones(len(df), dtype=bool)
        if (areas := self._check_area(area)) is not None:
            mask &= df["targeted_structure"].isin(areas).to_numpy()
        if (cres := self._check_cre(cre_line)) is not None:
            mask &= df["cre_line"].isin(cres).to_numpy()
        if (reps := self._check_reporter(reporter_line)) is not None:
            mask &= df["reporter_line"].isin(reps).to_numpy()
        if (depths := self._check_depths(imaging_depth)) is not None:
            mask &= df["imaging_depth"].isin(depths).to_numpy()
        if (lines := self._check_transgenic(transgenic_line)) is not None:
            wanted = {x.lower() for x in lines}
            split = df["transgenic_lines"].fillna("").str.lower().str.split("; ")
            mask &= split.map(lambda names: bool(wanted.intersection(names))).to_numpy(dtype=bool)
        return mask

    def containers(
        self,
        container_id: Any = None,
        area: Any = None,
        cre_line: Any = None,
        reporter_line: Any = None,
        imaging_depth: Any = None,
        include_failed: bool = False,
        transgenic_line: Any = None,
    ) -> pd.DataFrame:
        """Experiment containers matching every given filter.

        Columns: id, imaging_depth, targeted_structure, cre_line, reporter_line, donor_name,
        specimen_name, specimen_id, tags, failed (+ transgenic_lines, donor_full_genotype, sex).

        >>> obs.containers(area="VISp", cre_line="Rorb-IRES2-Cre")  # doctest: +SKIP
        """
        df = self._table("containers")
        ids = self._check_ids(container_id, df["id"], "experiment container", "container_id")
        mask = self._common_mask(df, area, cre_line, reporter_line, imaging_depth, transgenic_line)
        if not self._check_flag(include_failed, "include_failed"):
            mask &= ~df["failed"].to_numpy(dtype=bool)
        if ids is not None:
            mask &= df["id"].isin(ids).to_numpy()
        return df[mask].reset_index(drop=True)

    def experiments(
        self,
        experiment_id: Any = None,
        container_id: Any = None,
        area: Any = None,
        cre_line: Any = None,
        reporter_line: Any = None,
        imaging_depth: Any = None,
        session_type: Any = None,
        stimuli: Any = None,
        cell_specimen_id: Any = None,
        include_failed: bool = False,
        require_eye_tracking: bool = False,
        transgenic_line: Any = None,
    ) -> pd.DataFrame:
        """Ophys experiments (sessions) matching every given filter.

        ``stimuli`` keeps sessions showing any of the given stimuli. ``cell_specimen_id``
        keeps experiments of the containers holding those cells; combined with
        ``container_id`` the two container sets are **intersected** (AllenSDK computes a
        set difference there, a bug).

        >>> obs.experiments(stimuli=["natural_scenes"]).session_type.unique()  # doctest: +SKIP
        """
        df = self._table("experiments")
        ids = self._check_ids(experiment_id, df["id"], "ophys experiment", "experiment_id")
        cids = self._check_ids(
            container_id, self._table("containers")["id"], "experiment container", "container_id"
        )
        mask = self._common_mask(df, area, cre_line, reporter_line, imaging_depth, transgenic_line)
        if ids is not None:
            mask &= df["id"].isin(ids).to_numpy()
        if self._check_flag(require_eye_tracking, "require_eye_tracking"):
            mask &= (df["fail_eye_tracking"] == False).to_numpy(dtype=bool)  # noqa: E712 (None != False)
        if not self._check_flag(include_failed, "include_failed"):
            mask &= ~df["container_failed"].to_numpy(dtype=bool)
        if cell_specimen_id is not None:
            cells = self._table("cells")
            cell_ids = self._check_ids(cell_specimen_id, cells["cell_specimen_id"], "cell specimen",
                                       "cell_specimen_id")
            holding = set(
                cells.loc[
                    cells["cell_specimen_id"].isin(cell_ids), "experiment_container_id"
                ].tolist()
            )
            cids = sorted(holding if cids is None else holding.intersection(cids))
        if cids is not None:
            mask &= df["experiment_container_id"].isin(cids).to_numpy()
        if session_type is not None:
            types = self._check_session_type(session_type)
            mask &= df["session_type"].isin(types).to_numpy()
        if stimuli is not None:
            stims = self._check_stimuli(stimuli)
            showing = [t for t, s in vocab.SESSION_STIMULI.items() if set(s).intersection(stims or [])]
            mask &= df["session_type"].isin(showing).to_numpy()
        return df[mask].reset_index(drop=True)

    def cells(
        self,
        cell_specimen_id: Any = None,
        container_id: Any = None,
        area: Any = None,
        cre_line: Any = None,
        imaging_depth: Any = None,
        filters: Any = None,
        include_failed: bool = False,
        *,
        warn: bool = True,
    ) -> pd.DataFrame:
        """Cell specimens (cell_specimens.json columns) matching every given filter.

        ``filters``: ``"p_ns < 0.05"``, a list of such strings (AND) or AllenSDK dicts
        ``{'field': 'p_dg', 'op': '<', 'value': 0.05}`` — see :mod:`brainobs.catalog.filters`.

        When containers of the selection have no computed metrics, a
        :class:`~brainobs.errors.MissingMetricsWarning` says how many lack which family and
        the ``brainobs analyze --missing ...`` command that computes them (rules in
        :mod:`brainobs.catalog.coverage`: a metric filter on a missing family, or containers
        without any metrics). ``warn=False`` silences it; :meth:`select_cells` returns the
        same information as data.

        >>> obs.cells(area="VISp", filters=["p_dg < 0.05", "dsi_dg >= 0.5"])  # doctest: +SKIP
        """
        sel = self.select_cells(
            cell_specimen_id=cell_specimen_id, container_id=container_id, area=area,
            cre_line=cre_line, imaging_depth=imaging_depth, filters=filters,
            include_failed=include_failed,
        )
        if warn and sel.missing is not None:
            warnings.warn(MissingMetricsWarning(sel.missing.message), stacklevel=2)
        return sel.cells

    def select_cells(
        self,
        cell_specimen_id: Any = None,
        container_id: Any = None,
        area: Any = None,
        cre_line: Any = None,
        imaging_depth: Any = None,
        filters: Any = None,
        include_failed: bool = False,
    ) -> CellSelection:
        """:meth:`cells` plus the containers of the selection that lack metrics, without warning.

        Returns
        -------
        CellSelection
            ``.cells`` (the table :meth:`cells` returns) and ``.missing``
            (a :class:`~brainobs.catalog.coverage.MissingMetrics` or None).

        >>> sel = obs.select_cells(cre_line="Vip-IRES-Cre", filters="p_ns < 0.05")  # doctest: +SKIP
        >>> sel.missing.command  # doctest: +SKIP
        'brainobs analyze --missing --cre-line Vip-IRES-Cre --family natural_scenes'
        """
        df = self._table("cells")
        clauses = self._filter_clauses(filters, df.columns)
        on_metrics = [c for c in clauses if vocab.metric_family(c.column)]
        normalize = self._normalizers(df.columns)
        base = mask_for(df, [c for c in clauses if not vocab.metric_family(c.column)], normalize)
        metric_mask = mask_for(df, on_metrics)  # validates columns/operators first
        ids = self._check_ids(cell_specimen_id, df["cell_specimen_id"], "cell specimen",
                              "cell_specimen_id")
        cids = self._check_ids(
            container_id, self._table("containers")["id"], "experiment container", "container_id"
        )
        include_failed = self._check_flag(include_failed, "include_failed")
        passed = ~df["failed_experiment_container"].fillna(False).to_numpy(dtype=bool)
        if ids is not None:
            base &= df["cell_specimen_id"].isin(ids).to_numpy()
        if cids is not None:
            base &= df["experiment_container_id"].isin(cids).to_numpy()
        if (areas := self._check_area(area)) is not None:
            base &= df["area"].isin(areas).to_numpy()
        if (cres := self._check_cre(cre_line)) is not None:
            base &= df["tld1_name"].isin(cres).to_numpy()
        if (depths := self._check_depths(imaging_depth)) is not None:
            base &= df["imaging_depth"].isin(depths).to_numpy()
        mask = base & metric_mask
        if not include_failed:
            mask &= passed
        families = [vocab.metric_family(c.column) for c in on_metrics
                    if not is_null_test(c.op, c.value)]
        missing = self._missing_metrics(
            df["experiment_container_id"][base & passed],
            [f for f in vocab.METRIC_FAMILIES if f in families],
            areas, cres, by_id=ids is not None or cids is not None,
        )
        return CellSelection(df[mask].reset_index(drop=True), missing)

    # ---------------------------------------------------------------- coverage

    def _family_presence(self) -> pd.DataFrame:
        """Per container and family: does any cell have a value, or a stored computed one
        (cached per cell table, which :meth:`save_cells` replaces)."""
        cells = self._table("cells")
        if self._presence is None or self._presence[0] is not cells:
            computed = self._computed()
            flags = {}
            if len(computed):
                comp = computed.set_index("cell_specimen_id")
                ids = cells["cell_specimen_id"].to_numpy()
                for col in (c for cols in vocab.FAMILY_COLUMNS.values() for c in cols):
                    if _SAVED + col in comp.columns:
                        saved = comp[_SAVED + col].reindex(ids).fillna(False)
                        flags[col] = saved.to_numpy(dtype=bool)
            saved_df = pd.DataFrame(flags, index=cells.index) if flags else None
            self._presence = (cells, family_presence(cells, saved=saved_df))
        return self._presence[1]

    def _session_families(self, container_ids: list[int]) -> dict[int, list[str]]:
        """Families each container's sessions show (from the experiments table)."""
        exps = self._table("experiments")
        sub = exps[exps["experiment_container_id"].isin(container_ids)]
        return {int(c): vocab.session_families(types)
                for c, types in sub.groupby("experiment_container_id")["session_type"]}

    def sessions_on_disk(self, container_ids: Any = None) -> dict[int, bool]:
        """Container id -> whether every session file of the container is on disk.

        A container without sessions in the catalog counts as not on disk. Default: every
        container (failed ones too).
        """
        ids = as_int_list(container_ids, "container ids")
        if ids is None:
            ids = [int(i) for i in self._table("containers")["id"]]
        exps = self._table("experiments")
        sub = exps[exps["experiment_container_id"].isin(ids)]
        out = {int(i): False for i in ids}
        for cid, eids in sub.groupby("experiment_container_id")["id"]:
            out[int(cid)] = all(self._session_file(int(e)).is_file() for e in eids)
        return out

    def _missing_metrics(
        self, container_ids: pd.Series, families: list[str], areas: list[str] | None,
        cres: list[str] | None, by_id: bool,
    ) -> MissingMetrics | None:
        """The gap of a selection (see :mod:`brainobs.catalog.coverage` for the rules)."""
        selected = pd.to_numeric(container_ids, errors="coerce").dropna().unique()
        if not len(selected):
            return None
        selected = np.sort(selected.astype(np.int64))
        presence = self._family_presence().reindex(selected, fill_value=False)
        if families:
            reason = "filter"
            candidates = {f: presence.index[~presence[f].to_numpy(dtype=bool)] for f in families}
            shows = self._session_families(sorted({int(c) for v in candidates.values() for c in v}))
            lacking = {f: tuple(int(c) for c in v if f in shows.get(int(c), vocab.METRIC_FAMILIES))
                       for f, v in candidates.items()}
            lacking = {f: v for f, v in lacking.items() if v}
        else:
            reason = "no_metrics"
            none = tuple(int(c) for c in presence.index[~presence.to_numpy(dtype=bool).any(axis=1)])
            lacking = {f: none for f in vocab.METRIC_FAMILIES} if none else {}
        if not lacking:
            return None
        all_lacking = sorted({c for v in lacking.values() for c in v})
        on_disk = self.sessions_on_disk(all_lacking)
        without = tuple(c for c in all_lacking if not on_disk[c])
        command, python = self._fill_command(
            all_lacking, families if reason == "filter" else None, areas, cres, by_id)
        containers = self._table("containers")
        message = missing_message(len(selected), lacking, reason, containers, command, python,
                                  without)
        return MissingMetrics(tuple(int(c) for c in selected), lacking, reason, command, python,
                              without, message)

    def _fill_command(
        self, lacking: list[int], families: list[str] | None, areas: list[str] | None,
        cres: list[str] | None, by_id: bool,
    ) -> tuple[str, str]:
        """The ``brainobs analyze ...`` command and the Python call that compute a gap."""
        fams = [f for f in families or [] if f in vocab.FAMILY_COLUMNS]
        args: list[str] = []
        kwargs: list[str] = []
        if by_id and len(lacking) <= 5:  # containers picked by id: name them
            args += [f"--container {c}" for c in lacking]
            kwargs.append(f"container_id={lacking}")
            head = "brainobs analyze"
        else:
            if by_id:  # many containers by id: their areas and Cre lines
                rows = self._table("containers")
                rows = rows[rows["id"].isin(lacking)]
                areas = sorted(rows["targeted_structure"].dropna().astype(str).unique())
                cres = sorted(rows["cre_line"].dropna().astype(str).unique())
            args += [f"--area {shlex.quote(a)}" for a in areas or []]
            args += [f"--cre-line {shlex.quote(c)}" for c in cres or []]
            kwargs += [f"area={list(areas)}"] if areas else []
            kwargs += [f"cre_line={list(cres)}"] if cres else []
            head = "brainobs analyze --missing"
        args += [f"--family {f}" for f in fams]
        kwargs += [f"families={fams}"] if fams else []
        try:
            default = self.data_dir.resolve() == default_data_dir().resolve()
        except OSError:  # pragma: no cover - unresolvable home
            default = False
        if not default:
            args.append(f"--data-dir {shlex.quote(str(self.data_dir))}")
        if self.store_external:
            args.append(f"--store-dir {shlex.quote(str(self.store_root))}")
        python = f"brainobs.parallel.analyze_missing({', '.join(['obs', *kwargs])})"
        return " ".join([head, *args]), python

    def metric_coverage(
        self, container_id: Any = None, area: Any = None, cre_line: Any = None,
        families: Any = None, include_failed: bool = False,
    ) -> pd.DataFrame:
        """Which metric families each selected (non-failed) container has.

        A container has a family when at least one of its cells has a non-null value in
        one of the family's key columns (:data:`brainobs.vocab.FAMILY_COLUMNS`: ``p_dg``,
        ``p_sg``, ``p_ns``, any ``reliability_nm*``, ``rf_chi2_lsn``), from the published
        cell table or from metrics computed by brainobs — or when brainobs computed and
        stored such a column for one of its cells, even as NaN (see
        :mod:`brainobs.catalog.coverage`).

        Parameters
        ----------
        container_id, area, cre_line
            Select containers as in :meth:`containers`.
        families : str or list of str, optional
            Family columns to report (default: all five, in
            :data:`brainobs.vocab.METRIC_FAMILIES` order).
        include_failed : bool
            Also report failed containers (left out by default).

        Returns
        -------
        pandas.DataFrame
            One row per container: ``id, targeted_structure, cre_line, imaging_depth,
            n_cells``, one bool column per family (named after it) and
            ``sessions_on_disk`` (every NWB file of the container is present). The pure
            computation is :func:`brainobs.catalog.coverage.coverage_table` (doctested).

        Examples
        --------
        >>> obs.metric_coverage(cre_line="Cux2-CreERT2")  # doctest: +SKIP
                  id targeted_structure      cre_line  imaging_depth  n_cells  drifting_gratings  ...
        0  500000000               VISp  Cux2-CreERT2            275        8               True  ...
        """
        fams = check_families(families)
        cont = self.containers(container_id=container_id, area=area, cre_line=cre_line,
                               include_failed=include_failed)
        on_disk = self.sessions_on_disk([int(i) for i in cont["id"]])
        return coverage_table(cont, self._table("cells"), fams, on_disk,
                              presence=self._family_presence())

    # ----------------------------------------------------------------- sessions

    def session_path(self, experiment_id: int) -> Path:
        """Path of an experiment's NWB file (manifest EXPERIMENT_DATA spec); may not exist yet."""
        (eid,) = as_int_list([experiment_id], "experiment_id")  # type: ignore[misc]
        if not (self._table("experiments")["id"] == eid).any():
            raise UnknownIdError("ophys experiment", [eid], "the catalog")
        return self._session_file(eid)

    def _session_file(self, experiment_id: int) -> Path:
        return self._src.data_dir / (self._src.specs["EXPERIMENT_DATA"] % experiment_id)

    def session(self, experiment_id: int, stream: bool = False, source: str | None = None):
        """Open an experiment's NWB file as a :class:`brainobs.io.Session`.

        With ``stream=True`` the file is not read from the data dir but streamed over HTTP
        range requests from ``<source>ophys_experiment_data/<id>.nwb``; ``source`` defaults
        to ``$BRAINOBS_SOURCE``, else the public bucket (:data:`brainobs.io.remote.DEFAULT_SOURCE`).
        Streaming needs ``pip install 'brainobs[stream]'``.
        """
        path = self.session_path(experiment_id)
        from brainobs.io import Session  # lazy: io is a lower layer but heavy to import

        if stream:
            from brainobs.io.remote import session_url

            return Session(session_url(int(experiment_id), source))
        if source is not None:
            raise ValueError(f"source={source!r} is used only with stream=True (the session is "
                             f"read from {path} otherwise)")
        if not path.is_file():
            raise NWBFileError(f"Session file of experiment {experiment_id} not downloaded: {path}")
        return Session(path)

    def stimulus_mappings(self) -> list[dict]:
        """Records of stimulus_mappings.json ([] when absent)."""
        path = self._src.json_file("STIMULUS_MAPPINGS")
        return _source.read_json(path) if path else []

    def with_tables(
        self, tables: dict[str, pd.DataFrame], raw: dict[str, list[dict]] | None = None
    ) -> Observatory:
        """An in-memory copy in which the named tables (and raw records) are replaced.

        The copy never writes the Parquet store; the original is unchanged.
        """
        obs = copy.copy(self)
        obs.store_writable = False
        obs._memory_only = True
        obs._tables = {**self._tables, **tables}
        obs._raw_overrides = {**self._raw_overrides, **(raw or {})}
        return obs

    def raw(self, key: str) -> list[dict]:
        """Raw API records of 'EXPERIMENT_CONTAINERS', 'EXPERIMENTS' or 'CELL_SPECIMENS'."""
        if key in self._raw_overrides:
            return self._raw_overrides[key]
        path = self._src.json_file(key)
        if key == "EXPERIMENTS" and path is None:
            return _source.experiments_from_containers(self.raw("EXPERIMENT_CONTAINERS"))
        return _source.read_json(path) if path else []


__all__ = [
    "CellSelection", "Observatory", "default_data_dir", "open_observatory", "write_parquet_atomic",
]
