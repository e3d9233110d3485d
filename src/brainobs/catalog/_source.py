"""Locate a data dir's JSON sources and flatten them into normalized tables.

A data dir is an AllenSDK ``BrainObservatoryCache`` dir (``manifest.json`` plus the raw
Allen API JSON files) optionally with a ``brainobs.json`` marker (synthetic data).
File locations come from the manifest's specs, never from hard-coded names, and every
JSON file may also be stored gzipped as ``<name>.gz``.
"""

from __future__ import annotations

import gzip
import json
import os
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from brainobs import vocab
from brainobs.errors import DataDirError

MANIFEST_NAME = "manifest.json"
MARKER_NAME = "brainobs.json"

# Specs of the AllenSDK manifest (used when a key is missing from the manifest).
DEFAULT_SPECS: dict[str, str] = {
    "BASEDIR": ".",
    "EXPERIMENT_CONTAINERS": "experiment_containers.json",
    "EXPERIMENTS": "ophys_experiments.json",
    "EXPERIMENT_DATA": "ophys_experiment_data/%d.nwb",
    "CELL_SPECIMENS": "cell_specimens.json",
    "STIMULUS_MAPPINGS": "stimulus_mappings.json",
}

_CREATE_HINT = "create one with `brainobs synth --out DIR`"

CONTAINER_COLUMNS = [
    "id", "imaging_depth", "targeted_structure", "cre_line", "reporter_line", "donor_name",
    "specimen_name", "specimen_id", "tags", "failed", "transgenic_lines", "donor_full_genotype",
    "sex",
]  # fmt: skip
EXPERIMENT_COLUMNS = [
    "id", "imaging_depth", "targeted_structure", "cre_line", "reporter_line",
    "acquisition_age_days", "experiment_container_id", "session_type", "donor_name",
    "specimen_name", "fail_eye_tracking", "specimen_id", "date_of_acquisition",
    "container_failed", "transgenic_lines", "name",
]  # fmt: skip
CELL_COLUMNS = [*vocab.CELL_ID_COLUMNS, *vocab.CELL_METRIC_COLUMNS]
_CELL_INT_COLUMNS = ("cell_specimen_id", "experiment_container_id", "specimen_id", "imaging_depth")
_CELL_STR_COLUMNS = ("area", "tld1_name", "tld2_name", "tlr1_name", "donor_full_genotype")


@dataclass
class Source:
    """Where the JSON sources of one data dir are."""

    data_dir: Path
    manifest: Path | None
    specs: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_SPECS))
    is_synthetic: bool = False

    def spec_path(self, key: str) -> Path:
        """Path of a manifest key (``%d`` specs are returned unformatted)."""
        return self.data_dir / self.specs.get(key, DEFAULT_SPECS.get(key, key))

    def json_file(self, key: str) -> Path | None:
        """Existing file for ``key`` (plain or ``.gz``), or None."""
        return existing_json(self.spec_path(key))


def existing_json(path: Path) -> Path | None:
    """``path`` if it exists, else ``path.gz`` if that exists, else None."""
    if path.is_file():
        return path
    gz = path.with_name(path.name + ".gz")
    return gz if gz.is_file() else None


def read_json(path: Path) -> Any:
    """Read a (possibly gzipped) JSON file; corrupt content -> DataDirError naming the spot."""
    try:
        if path.name.endswith(".gz"):
            with gzip.open(path, "rt", encoding="utf-8") as fh:
                text = fh.read()
        else:
            text = path.read_text(encoding="utf-8")
    except (OSError, EOFError, UnicodeDecodeError) as exc:
        raise DataDirError(f"{path}: cannot read ({exc})") from exc
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise DataDirError(
            f"{path}: corrupt JSON at line {exc.lineno} column {exc.colno} (char {exc.pos}): {exc.msg}"
        ) from exc


def _manifest_specs(manifest: Path) -> dict[str, str]:
    """Resolve the manifest's file specs (relative to the manifest's directory)."""
    data = read_json(manifest)
    entries = data.get("manifest") if isinstance(data, dict) else None
    if not isinstance(entries, list):
        raise DataDirError(f"{manifest}: not an AllenSDK manifest (no 'manifest' list)")
    raw = {e["key"]: e for e in entries if isinstance(e, dict) and "key" in e and "spec" in e}
    specs: dict[str, str] = {}

    def resolve(key: str, depth: int = 0) -> str:
        entry = raw[key]
        parent = entry.get("parent_key")
        if parent and parent in raw and depth < 20:
            return str(Path(resolve(parent, depth + 1)) / entry["spec"])
        return str(entry["spec"])

    for key in raw:
        specs[key] = resolve(key)
    return {**DEFAULT_SPECS, **specs}


def locate(data_dir: str | os.PathLike[str]) -> Source:
    """Find the manifest and JSON sources of ``data_dir`` (a dir or a manifest.json path)."""
    path = Path(data_dir).expanduser()
    if path.is_file():
        if path.suffix.lower() != ".json":
            raise DataDirError(
                f"{path} is a file, not a data dir: expected a brainobs data dir, an AllenSDK "
                f"cache dir or the path of its {MANIFEST_NAME}; {_CREATE_HINT}."
            )
        manifest: Path | None = path
        root = path.parent
    elif path.is_dir():
        root = path
        manifest = path / MANIFEST_NAME if (path / MANIFEST_NAME).is_file() else None
    else:
        raise DataDirError(
            f"Data dir {path} does not exist. Expected a brainobs data dir or an AllenSDK "
            f"cache dir (manifest.json + experiment_containers.json); {_CREATE_HINT}."
        )
    specs = _manifest_specs(manifest) if manifest is not None else dict(DEFAULT_SPECS)
    # Specs already include BASEDIR (parent_key chain); anchor them at the manifest's dir.
    src = Source(data_dir=root.resolve(), manifest=manifest, specs=specs)
    if src.json_file("EXPERIMENT_CONTAINERS") is None:
        raise DataDirError(
            f"{root} is not a brainobs data dir or an AllenSDK cache dir: expected "
            f"{MANIFEST_NAME} and {src.specs['EXPERIMENT_CONTAINERS']} in it; {_CREATE_HINT}."
        )
    src.is_synthetic = (root / MARKER_NAME).is_file()
    return src


# --------------------------------------------------------------------------- flattening


def _lines(donor: dict) -> list[dict]:
    return [t for t in (donor.get("transgenic_lines") or []) if isinstance(t, dict)]


def cre_line_of(donor: dict) -> str | None:
    """First driver line whose name contains 'Cre' (the AllenSDK rule)."""
    for t in _lines(donor):
        if t.get("transgenic_line_type_name") == "driver" and "Cre" in str(t.get("name", "")):
            return t["name"]
    return None


def reporter_line_of(donor: dict) -> str | None:
    """First reporter line (the AllenSDK rule)."""
    for t in _lines(donor):
        if t.get("transgenic_line_type_name") == "reporter":
            return t.get("name")
    return None


def _donor(obj: dict) -> dict:
    return ((obj.get("specimen") or {}).get("donor")) or {}


def _tags(donor: dict) -> str:
    names = [c.get("name", "") for c in donor.get("conditions", []) or []]
    return "; ".join(n for n in names if not str(n).startswith("tissuecyte"))


def _date(value: Any) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None


def _age_days(acquired: Any, born: Any) -> float:
    a, b = _date(acquired), _date(born)
    if a is None or b is None:
        return np.nan
    if (a.tzinfo is None) != (b.tzinfo is None):
        a, b = a.replace(tzinfo=None), b.replace(tzinfo=None)
    return float((a - b).days)


def _common(obj: dict) -> dict:
    donor = _donor(obj)
    return {
        "imaging_depth": obj.get("imaging_depth"),
        "targeted_structure": (obj.get("targeted_structure") or {}).get("acronym"),
        "cre_line": cre_line_of(donor),
        "reporter_line": reporter_line_of(donor),
        "donor_name": donor.get("external_donor_name"),
        "specimen_name": (obj.get("specimen") or {}).get("name"),
        "transgenic_lines": "; ".join(str(t.get("name")) for t in _lines(donor)),
    }


def experiments_from_containers(containers: list[dict]) -> list[dict]:
    """Raw-shaped experiment dicts built from the containers' nested ``ophys_experiments``.

    Each gets the container's ``targeted_structure`` and ``specimen`` (donor) and an
    ``experiment_container`` stub, like the API's ``ophys_experiments.json`` records.
    """
    out = []
    for c in containers:
        for e in c.get("ophys_experiments") or []:
            rec = dict(e)
            rec.setdefault("experiment_container_id", c.get("id"))
            rec.setdefault("targeted_structure", c.get("targeted_structure"))
            rec.setdefault("specimen", c.get("specimen"))
            rec.setdefault("experiment_container", {"id": c.get("id"), "failed": c.get("failed")})
            out.append(rec)
    return out


def _check_records(records: Any, path: Path | str) -> list[dict]:
    if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
        raise DataDirError(f"{path}: expected a JSON list of objects")
    return records


def _acronym(obj: dict) -> Any:
    ts = obj.get("targeted_structure")
    return ts.get("acronym") if isinstance(ts, dict) else None


def _container_id(obj: dict) -> Any:
    stub = obj.get("experiment_container")
    return obj.get("experiment_container_id", stub.get("id") if isinstance(stub, dict) else None)


# Fields every record must have (non-null), by kind: what brainobs's queries select on.
# Each entry: (field as the message names it, getter).
REQUIRED: dict[str, tuple[tuple[str, Any], ...]] = {
    "experiment container": (
        ("id", lambda r: r.get("id")),
        ("imaging_depth", lambda r: r.get("imaging_depth")),
        ("targeted_structure.acronym (the area)", _acronym),
        ("specimen.donor.transgenic_lines with a Cre driver line", lambda r: cre_line_of(_donor(r))),
    ),
    "ophys experiment": (
        ("id", lambda r: r.get("id")),
        ("experiment_container_id", _container_id),
        ("stimulus_name (the session type)", lambda r: r.get("stimulus_name")),
        ("targeted_structure.acronym (the area)", _acronym),
    ),
    "cell specimen": (
        ("cell_specimen_id", lambda r: r.get("cell_specimen_id")),
        ("experiment_container_id", lambda r: r.get("experiment_container_id")),
        ("area", lambda r: r.get("area")),
        ("tld1_name (the Cre line)", lambda r: r.get("tld1_name")),
        ("imaging_depth", lambda r: r.get("imaging_depth")),
    ),
}


def check_required(records: Any, path: Path | str, kind: str) -> list[dict]:
    """Reject anything but a list of records each with the required fields (:data:`REQUIRED`):
    a DataDirError naming the file, the field, how many records lack it and the first of them.

    >>> check_required([{"id": 1, "imaging_depth": 175}], "experiment_containers.json",
    ...                "experiment container")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    brainobs.errors.DataDirError: experiment_containers.json: 1 of 1 experiment container records lack targeted_structure.acronym (the area) (first: record 0, id 1)...
    """
    records = _check_records(records, path)
    for field_name, get in REQUIRED[kind]:
        bad = [i for i, r in enumerate(records) if _missing(get(r))]
        if bad:
            first = records[bad[0]]
            ident = first.get("cell_specimen_id", first.get("id"))
            which = f"record {bad[0]}" + (f", id {ident}" if ident is not None else "")
            raise DataDirError(
                f"{path}: {len(bad)} of {len(records)} {kind} records lack {field_name} "
                f"(first: {which}); every {kind} needs "
                f"{', '.join(f for f, _ in REQUIRED[kind])}. Is this an Allen Brain "
                "Observatory file?"
            )
    return records


def _missing(v: Any) -> bool:
    return v is None or v == "" or (isinstance(v, float) and np.isnan(v))


def flatten_containers(raw: list[dict]) -> pd.DataFrame:
    """One row per container with the AllenSDK 'simple' columns plus extras."""
    rows = []
    for c in raw:
        donor = _donor(c)
        rows.append(
            {
                "id": c.get("id"),
                **_common(c),
                "specimen_id": c.get("specimen_id", (c.get("specimen") or {}).get("id")),
                "tags": _tags(donor),
                "failed": bool(c.get("failed", False)),
                "donor_full_genotype": donor.get("full_genotype"),
                "sex": donor.get("sex"),
            }
        )
    return _typed(
        pd.DataFrame(rows, columns=CONTAINER_COLUMNS), ints=("id", "imaging_depth", "specimen_id")
    )


def flatten_experiments(raw: list[dict], containers: pd.DataFrame) -> pd.DataFrame:
    """One row per experiment with the AllenSDK 'simple' columns plus extras."""
    failed_by_id = dict(zip(containers["id"].tolist(), containers["failed"].tolist(), strict=True))
    rows = []
    for e in raw:
        donor = _donor(e)
        cid = e.get("experiment_container_id", (e.get("experiment_container") or {}).get("id"))
        stub = e.get("experiment_container") or {}
        failed = stub.get("failed") if "failed" in stub else failed_by_id.get(cid, False)
        rows.append(
            {
                "id": e.get("id"),
                **_common(e),
                "acquisition_age_days": _age_days(
                    e.get("date_of_acquisition"), donor.get("date_of_birth")
                ),
                "experiment_container_id": cid,
                "session_type": e.get("stimulus_name"),
                "fail_eye_tracking": e.get("fail_eye_tracking"),
                "specimen_id": e.get("specimen_id"),
                "date_of_acquisition": e.get("date_of_acquisition"),
                "container_failed": bool(failed),
                "name": e.get("name"),
            }
        )
    df = pd.DataFrame(rows, columns=EXPERIMENT_COLUMNS)
    df = _typed(df, ints=("id", "imaging_depth", "experiment_container_id", "specimen_id"))
    df["acquisition_age_days"] = df["acquisition_age_days"].astype("float64")
    return df


def _typed(df: pd.DataFrame, ints: tuple[str, ...]) -> pd.DataFrame:
    for col in ints:
        if col in df and df[col].notna().all():
            df[col] = df[col].astype("int64")
    return df


def _boolish(series: pd.Series) -> pd.Series:
    """t/f, 'true'/'false' and bools -> bool; anything else left alone."""
    mapping = {"t": True, "f": False, "true": True, "false": False, True: True, False: False}
    vals = series.dropna()
    if (
        len(vals)
        and vals.map(
            lambda v: (
                isinstance(v, (bool, np.bool_, str)) and (v in mapping or str(v).lower() in mapping)
            )
        ).all()
    ):
        out = series.map(
            lambda v: (
                None
                if v is None or (isinstance(v, float) and np.isnan(v))
                else mapping.get(v, mapping.get(str(v).lower()))
            )
        )
        return out.astype("bool") if out.notna().all() else out.astype("object")
    return series


def flatten_cells(raw: list[dict]) -> pd.DataFrame:
    """The cell_specimens table: every column of the JSON plus the standard ones."""
    df = pd.DataFrame.from_records(raw) if raw else pd.DataFrame()
    for col in CELL_COLUMNS:
        if col not in df:
            df[col] = pd.Series(np.nan, index=df.index, dtype="float64")
    ordered = CELL_COLUMNS + [c for c in df.columns if c not in CELL_COLUMNS]
    df = df[ordered]
    for col in df.columns:
        s = df[col]
        # pandas 3 infers a ``str`` dtype for all-string columns (e.g. "t"/"f" flags)
        if s.dtype == object or isinstance(s.dtype, pd.StringDtype):
            if s.isna().all():
                df[col] = s.astype("float64")  # an all-null metric column
                continue
            s = _boolish(s)
            if (
                s.dtype == object
                and s.dropna()
                .map(lambda v: isinstance(v, (int, float)) and not isinstance(v, bool))
                .all()
            ):
                s = s.astype("float64")
            df[col] = s
    if df.empty:
        for col in _CELL_INT_COLUMNS:
            df[col] = df[col].astype("int64")
        for col in _CELL_STR_COLUMNS:
            df[col] = df[col].astype("str")
        df["failed_experiment_container"] = df["failed_experiment_container"].astype("bool")
    else:
        df = _typed(df, ints=_CELL_INT_COLUMNS)
        if df["failed_experiment_container"].isna().all():
            df["failed_experiment_container"] = False
    return df.reset_index(drop=True)


def load_tables(src: Source) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(containers, experiments) tables from the JSON sources."""
    cpath = src.json_file("EXPERIMENT_CONTAINERS")
    assert cpath is not None  # locate() checked it
    raw_c = check_required(read_json(cpath), cpath, "experiment container")
    containers = flatten_containers(raw_c)
    epath = src.json_file("EXPERIMENTS")
    if epath:
        raw_e = check_required(read_json(epath), epath, "ophys experiment")
    else:
        raw_e = check_required(experiments_from_containers(raw_c), cpath, "ophys experiment")
    return containers, flatten_experiments(raw_e, containers)


def load_cells(src: Source) -> pd.DataFrame:
    """The cells table from cell_specimens.json (empty, standard columns, when absent)."""
    path = src.json_file("CELL_SPECIMENS")
    raw = check_required(read_json(path), path, "cell specimen") if path else []
    return flatten_cells(raw)
