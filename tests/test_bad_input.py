"""The bad-input corpus: every case fails with one clear message and changes nothing.

Each :class:`Case` is run through the ``brainobs`` command (in process, as ``main(argv)``) or
the Python API, inside a sandbox folder (a copy of the tiny synthetic observatory, broken NWB
files, corrupt catalogs, existing files and folders). Every case asserts

* a clear message: all the ``expect`` substrings (the bad value and what is valid) appear in
  the error text (whitespace and the boxes of usage errors ignored);
* CLI: exit status 2 and no "Traceback"; API: the ``error`` exception class;
* nothing written: the sandbox (names, sizes, mtimes of every file, the working directory
  included) is unchanged.

The table in ``docs/bad-input.md`` is generated from :data:`CASES`; after changing them run
``python tests/test_bad_input.py --write-doc`` (``test_doc_is_current`` fails until then).

Adding a case: append a ``Case`` to the list of its category below (``cli`` cases give the
arguments after ``brainobs``, ``api`` cases a Python expression). Paths are written with the
placeholders of :data:`PLACES`; add a file to the sandbox in :func:`build_sandbox` when a
case needs a new kind of broken input.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

DOC = Path(__file__).resolve().parents[1] / "docs" / "bad-input.md"

#: placeholders in case inputs -> what they stand for (the doc's legend)
PLACES = {
    "<OBS>": "a copy of the tiny synthetic observatory (`brainobs synth --size tiny`)",
    "<NWB>": "one of its NWB files (a three_session_A session)",
    "<BAD>": "a folder of broken NWB files (see the NWB categories)",
    "<CAT>": "a folder of catalogs with one corrupt JSON file each",
    "<TMP>": "a folder holding `file.txt`, a non-empty folder `full/`, an empty folder `empty/` "
             "and a folder named `folder.html/`",
}


@dataclass(frozen=True)
class Case:
    """One bad input.

    id : unique name (the pytest id)
    category : the section of docs/bad-input.md
    interface : "cli" (``input`` = the arguments after ``brainobs``) or "api" (``input`` = a
        Python expression; names: obs, open_observatory, open_session, Session,
        generate_observatory, analyze, download)
    expect : substrings of the message (the bad value and what is valid)
    error : API only: the exception class (or a base class) raised
    """

    id: str
    category: str
    interface: str
    input: tuple[str, ...] | str
    expect: tuple[str, ...]
    error: str = ""

    def shown(self) -> str:
        if self.interface == "api":
            return str(self.input)
        return "brainobs " + " ".join(_quote(a) for a in self.input)


def _quote(arg: str) -> str:
    return arg if arg and re.fullmatch(r"[\w<>/.:=,+-]+", arg) else "'" + arg.replace("'", "'\\''") + "'"


def cli(id: str, category: str, *args: str, expect: tuple[str, ...]) -> Case:
    return Case(id, category, "cli", tuple(args), expect)


def api(id: str, category: str, expr: str, error: str, expect: tuple[str, ...]) -> Case:
    return Case(id, category, "api", expr, expect, error)


VOCAB = "Vocabulary typos"
TYPES = "Wrong types (Python API)"
IDS = "Ids and numbers"
FILTERS = "Filters and injection attempts"
NWB = "NWB files: missing, empty, truncated, not HDF5, wrong layout"
DATASETS = "NWB files: missing datasets"
CATALOG = "Corrupt catalog JSON"
DATA_DIR = "Data dirs"
OUTPUT = "Output paths"
CONFIG = "Synthetic observatory options"
NO_DATA = "Valid choices without data"
STIM = "Stimulus tables the metrics cannot use"
STORE = "Catalog store"
DOWNLOAD = "Downloads (brainobs download)"

CASES: list[Case] = [
    # ---------------------------------------------------------------- vocabulary typos
    cli("cre-line-typo", VOCAB, "containers", "-d", "<OBS>", "--cre-line", "Cux3",
        expect=("'Cux3'", "Valid choices", "Cux2-CreERT2", "Vip-IRES-Cre")),
    cli("area-typo", VOCAB, "containers", "-d", "<OBS>", "--area", "VISq",
        expect=("'VISq'", "Did you mean 'VISp'", "VISal, VISam")),
    cli("session-type-typo", VOCAB, "experiments", "-d", "<OBS>", "--session-type", "three_session_D",
        expect=("'three_session_D'", "three_session_A", "three_session_C2")),
    cli("stimulus-typo", VOCAB, "experiments", "-d", "<OBS>", "--stimulus", "natural_scene",
        expect=("'natural_scene'", "Did you mean 'natural_scenes'", "drifting_gratings")),
    cli("metric-family-typo", VOCAB, "analyze", "--family", "dg", "--container", "500000000", "-d", "<OBS>",
        expect=("'dg'", "drifting_gratings", "natural_scenes", "static_gratings")),
    cli("format-typo", VOCAB, "cells", "-d", "<OBS>", "--format", "xml",
        expect=("'xml'", "'table'", "'csv'", "'json'", "'parquet'")),
    cli("size-typo", VOCAB, "synth", "--out", "<TMP>/new", "--size", "tinyy",
        expect=("'tinyy'", "'tiny'", "'small'")),
    cli("column-typo", VOCAB, "cells", "-d", "<OBS>", "--columns", "cell_specimen_id,aera",
        expect=("'aera'", "Did you mean 'area'")),
    cli("compare-metric-typo", VOCAB, "compare", "-d", "<OBS>", "--metric", "p_dgg",
        expect=("'p_dgg'", "Did you mean 'p_dg'")),
    cli("cre-line-shell-injection", VOCAB, "containers", "-d", "<OBS>", "--cre-line", "$(rm -rf /)",
        expect=("'$(rm -rf /)'", "Valid choices", "Cux2-CreERT2")),
    api("api-cre-line-typo", VOCAB, "obs.containers(cre_line='Sstt')", "UnknownCreLineError",
        ("'Sstt'", "Valid choices", "Sst-IRES-Cre")),
    api("api-area-typo", VOCAB, "obs.experiments(area='VISx')", "UnknownAreaError",
        ("'VISx'", "VISp", "VISrl")),
    api("api-reporter-typo", VOCAB, "obs.containers(reporter_line='Ai95')", "UnknownValueError",
        ("'Ai95'", "Ai93(TITL-GCaMP6f)", "Ai94(TITL-GCaMP6s)")),
    api("api-session-type-typo", VOCAB, "obs.experiments(session_type='session_A')", "UnknownSessionTypeError",
        ("'session_A'", "three_session_A")),
    api("api-stimulus-typo", VOCAB, "open_session('<NWB>').stimulus_table('drifting_grating')",
        "UnknownStimulusError", ("'drifting_grating'", "drifting_gratings")),
    api("api-stimulus-not-shown", VOCAB, "open_session('<NWB>').stimulus_table('natural_scenes')",
        "UnknownStimulusError", ("three_session_A", "does not show 'natural_scenes'", "drifting_gratings")),
    api("api-template-of-grating", VOCAB, "open_session('<NWB>').stimulus_template('drifting_gratings')",
        "MissingDataError", ("no template for drifting_gratings", "with a template here: natural_movie_one")),
    api("api-metric-family-typo", VOCAB, "analyze(open_session('<NWB>'), families=['gratings'])",
        "UnknownValueError", ("'gratings'", "drifting_gratings")),
    api("api-size-typo", VOCAB, "generate_observatory('<TMP>/new', size='huge')", "UnknownValueError",
        ("'huge'", "compare, full, small, tiny")),
    api("api-synth-cre-line-typo", VOCAB, "generate_observatory('<TMP>/new', size='tiny', cre_lines=['Sstx'])",
        "UnknownCreLineError", ("'Sstx'", "Did you mean 'Sst-IRES-Cre'")),
    api("api-synth-area-typo", VOCAB, "generate_observatory('<TMP>/new', size='tiny', areas=['V1x'])",
        "UnknownAreaError", ("'V1x'", "VISp")),
    cli("filter-area-typo", VOCAB, "cells", "-d", "<OBS>", "--filter", "area == visq",
        expect=("'visq'", "Did you mean 'VISp'", "VISal, VISam")),
    cli("filter-cre-line-typo", VOCAB, "cells", "-d", "<OBS>", "--filter", "tld1_name == Rorbx",
        expect=("'Rorbx'", "Rorb-IRES2-Cre", "Valid choices")),
    cli("filter-cre-list-typo", VOCAB, "cells", "-d", "<OBS>", "--filter", "cre_line in [Cux2, Sstx]",
        expect=("'Sstx'", "Sst-IRES-Cre")),
    cli("filter-reporter-typo", VOCAB, "cells", "-d", "<OBS>", "--filter", "tlr1_name == Ai9",
        expect=("'Ai9'", "Ai93(TITL-GCaMP6f)")),
    cli("analyze-family-not-shown", VOCAB, "analyze", "<NWB>", "--family", "static_gratings",
        expect=("three_session_A", "does not show 'static_gratings'", "drifting_gratings")),
    api("api-family-not-shown", VOCAB, "analyze(open_session('<NWB>'), families=['natural_scenes'])",
        "UnknownStimulusError", ("three_session_A", "does not show 'natural_scenes'", "drifting_gratings")),
    # ---------------------------------------------------------------- choices without data
    cli("no-data-area", NO_DATA, "containers", "-d", "<OBS>", "--area", "VISam",
        expect=("No data for area VISam", "areas with data: VISl, VISp")),
    cli("no-data-area-alias-cre-short", NO_DATA, "containers", "-d", "<OBS>", "--area", "LM", "--cre-line", "rorb",
        expect=("VISl × Cre line Rorb-IRES2-Cre", "VISl × Cux2-CreERT2", "VISp × Rorb-IRES2-Cre")),
    cli("no-data-area-depth", NO_DATA, "containers", "-d", "<OBS>", "--area", "V1", "--depth", "175",
        expect=("VISl × 175", "VISp × 275")),
    cli("no-data-failed-only", NO_DATA, "containers", "-d", "<OBS>", "--cre-line", "Vip",
        expect=("No data for Cre line Vip-IRES-Cre", "--include-failed")),
    cli("no-data-session-type", NO_DATA, "experiments", "-d", "<OBS>", "--session-type", "three_session_C",
        expect=("No data for session type three_session_C", "three_session_A, three_session_B")),
    cli("no-data-filter-area", NO_DATA, "cells", "-d", "<OBS>", "--filter", "area == VISam",
        expect=("No data for area VISam", "VISl, VISp")),
    cli("no-data-empty-list", NO_DATA, "cells", "-d", "<OBS>", "--filter", "area in []",
        expect=("an empty list", "VISl, VISp")),
    # ---------------------------------------------------------------- wrong types
    api("open-session-int", TYPES, "open_session(123)", "TypeError", ("path", "got int 123")),
    api("open-session-none", TYPES, "open_session(None)", "TypeError", ("path", "got NoneType None")),
    api("open-session-list", TYPES, "open_session(['a.nwb'])", "TypeError", ("path", "got list", "os.PathLike")),
    api("open-session-empty", TYPES, "open_session('')", "NWBFileError", ("path is empty", "NWB 1.x session file")),
    api("synth-out-int", TYPES, "generate_observatory(5, size='tiny')", "TypeError", ("out_dir", "got int 5")),
    api("synth-seed-str", TYPES, "generate_observatory('<TMP>/new', size='tiny', seed='3')", "ValueError",
        ("seed", "non-negative integer", "'3'")),
    api("synth-seed-float", TYPES, "generate_observatory('<TMP>/new', size='tiny', seed=1.5)", "ValueError",
        ("seed", "non-negative integer", "1.5")),
    api("synth-n-containers-str", TYPES, "generate_observatory('<TMP>/new', size='tiny', n_containers='a')",
        "TypeError", ("n_containers", "between 1 and 999", "'a'")),
    api("synth-n-containers-float", TYPES, "generate_observatory('<TMP>/new', size='tiny', n_containers=2.5)",
        "TypeError", ("n_containers", "between 1 and 999", "2.5")),
    api("synth-config-int", TYPES, "generate_observatory('<TMP>/new', size='tiny', config=5)", "TypeError",
        ("config", "a path, a dict or None", "int")),
    api("synth-workers-str", TYPES, "generate_observatory('<TMP>/new', size='tiny', workers='x')", "ValueError",
        ("workers", "positive integer", "'x'")),
    api("synth-progress-not-callable", TYPES, "generate_observatory('<TMP>/new', size='tiny', progress=5)",
        "TypeError", ("progress", "callable", "int")),
    api("container-id-str", TYPES, "obs.experiments(container_id='abc')", "TypeError", ("'abc'", "integer ids")),
    api("cell-id-str", TYPES, "open_session('<NWB>').dff(cell_specimen_ids=['abc'])", "TypeError",
        ("cell_specimen_ids", "integer ids", "'abc'")),
    api("times-reversed", TYPES, "open_session('<NWB>').dff(times=(5, 1))", "ValueError",
        ("start <= stop", "(5, 1)")),
    api("open-observatory-int", TYPES, "open_observatory(123)", "TypeError", ("data_dir", "got int 123")),
    api("cells-filters-int", TYPES, "obs.cells(filters=5)", "TypeError", ("filters must be", "got int 5")),
    api("cells-filters-list-int", TYPES, "obs.cells(filters=[3])", "TypeError", ("each filter", "got int 3")),
    api("containers-cre-float", TYPES, "obs.containers(cre_line=3.5)", "TypeError",
        ("cre_line must be a str", "got float 3.5")),
    api("containers-include-failed-str", TYPES, "obs.containers(include_failed='no')", "TypeError",
        ("include_failed must be True or False", "got str 'no'")),
    api("containers-depth-str", TYPES, "obs.containers(imaging_depth='deep')", "TypeError",
        ("imaging_depth", "got str 'deep'")),
    # ---------------------------------------------------------------- ids and numbers
    cli("session-id-text", IDS, "session", "abc",
        expect=("'abc'", "ophys experiment id (an integer such as 500000002)", "NWB file")),
    cli("session-id-float", IDS, "session", "12.5", expect=("'12.5'", "ophys experiment id")),
    cli("session-id-empty", IDS, "session", "", expect=("''", "ophys experiment id", "NWB file")),
    cli("session-id-negative", IDS, "session", "--", "-5", expect=("'-5'", "ophys experiment id")),
    cli("session-id-unknown", IDS, "session", "123", "-d", "<OBS>",
        expect=("ophys experiment id(s)", ": 123.", "12 experiments, ids 500000001 to 500003003")),
    cli("session-id-huge", IDS, "session", "99999999999999999999999", "-d", "<OBS>",
        expect=("99999999999999999999999", "ids 500000001 to 500003003", "brainobs experiments")),
    cli("synth-seed-text", IDS, "synth", "--out", "<TMP>/new", "--seed", "abc",
        expect=("--seed", "'abc' is not an integer", "non-negative integer")),
    cli("synth-seed-negative", IDS, "synth", "--out", "<TMP>/new", "--size", "tiny", "--seed", "-1",
        expect=("seed must be a non-negative integer", "got -1")),
    cli("synth-containers-zero", IDS, "synth", "--out", "<TMP>/new", "--containers", "0",
        expect=("n_containers must be between 1 and 999", "got 0")),
    cli("synth-containers-huge", IDS, "synth", "--out", "<TMP>/new", "--containers", "100000",
        expect=("between 1 and 999", "100000")),
    cli("synth-containers-float", IDS, "synth", "--out", "<TMP>/new", "--containers", "2.5",
        expect=("--containers", "'2.5' is not an integer", "1 to 999")),
    api("cell-id-unknown", IDS, "open_session('<NWB>').dff(cell_specimen_ids=[123])", "UnknownIdError",
        ("cell specimen id(s)", ": 123.", "8 cells, ids 600000000 to 600000007")),
    api("cell-id-negative", IDS, "open_session('<NWB>').cell_indices([-1, 600000000])", "UnknownIdError",
        (": -1.", "ids 600000000 to 600000007")),
    api("cell-id-float", IDS, "open_session('<NWB>').dff(cell_specimen_ids=[600000000.5])", "TypeError",
        ("integer ids", "600000000.5")),
    cli("depth-unknown", IDS, "containers", "-d", "<OBS>", "--depth", "276",
        expect=("276", "Did you mean '275'", "Valid choices: 175, 275")),
    cli("depth-negative", IDS, "containers", "-d", "<OBS>", "--depth", "-5", expect=("-5", "Valid choices: 175, 275")),
    cli("depth-text", IDS, "containers", "-d", "<OBS>", "--depth", "abc", expect=("'abc'", "a depth in µm")),
    cli("container-id-float", IDS, "experiments", "-d", "<OBS>", "--container-id", "1.5",
        expect=("'1.5'", "a container id")),
    cli("container-id-unknown", IDS, "experiments", "-d", "<OBS>", "--container-id", "0",
        expect=("container id(s)", ": 0.", "Valid choices: 500000000")),
    # ---------------------------------------------------------------- filters and injection
    cli("filter-python-injection", FILTERS, "cells", "-d", "<OBS>", "--filter", "__import__('os').system('x')",
        expect=("__import__('os').system('x')", "Valid operators: <, <=")),
    cli("filter-shell-injection", FILTERS, "cells", "-d", "<OBS>", "--filter", "p_dg < 0.05; rm -rf /",
        expect=("p_dg", "'0.05; rm -rf /'")),
    cli("filter-pipe-injection", FILTERS, "cells", "-d", "<OBS>", "--filter", "p_dg < 0.05 | rm x",
        expect=("p_dg", "'0.05 | rm x'")),
    cli("filter-call", FILTERS, "cells", "-d", "<OBS>", "--filter", "os.system('ls') == 1",
        expect=("os.system('ls') == 1", "expected '<column> <op> <value>'")),
    cli("filter-column-typo", FILTERS, "cells", "-d", "<OBS>", "--filter", "p_nss < 0.05",
        expect=("p_nss", "p_ns")),
    cli("filter-empty", FILTERS, "cells", "-d", "<OBS>", "--filter", "",
        expect=("Cannot parse filter ''", "Valid operators")),
    cli("filter-bad-operator", FILTERS, "cells", "-d", "<OBS>", "--filter", "p_dg ~ 0.05",
        expect=("'p_dg ~ 0.05'", "Valid operators", "between")),
    cli("filter-missing-value", FILTERS, "cells", "-d", "<OBS>", "--filter", "p_dg <",
        expect=("'p_dg <'", "missing value")),
    cli("filter-text-for-number", FILTERS, "cells", "-d", "<OBS>", "--filter", "dsi_dg > abc",
        expect=("dsi_dg", "'abc'")),
    cli("filter-unclosed-list", FILTERS, "cells", "-d", "<OBS>", "--filter", "p_dg in (1,2",
        expect=("'p_dg in (1,2'", "unclosed list")),
    api("api-filter-injection", FILTERS, "obs.cells(filters=\"__import__('os').system('echo pwned')\")",
        "ValueError", ("__import__('os').system('echo pwned')", "Valid operators")),
    # ---------------------------------------------------------------- NWB files
    cli("session-missing-file", NWB, "session", "<BAD>/absent.nwb",
        expect=("absent.nwb: no such file", "expected an NWB 1.x session file")),
    cli("session-empty-file", NWB, "session", "<BAD>/empty.nwb",
        expect=("empty.nwb: empty file (0 bytes)", "NWB 1.x session file")),
    cli("session-text-file", NWB, "session", "<BAD>/text.nwb",
        expect=("text.nwb: not an HDF5 file", "expected an NWB 1.x session")),
    cli("session-truncated", NWB, "session", "<BAD>/truncated.nwb",
        expect=("truncated.nwb: cannot be read as HDF5", "truncated or corrupt")),
    cli("session-directory", NWB, "session", "<BAD>/folder.nwb",
        expect=("folder.nwb: is a directory", "NWB 1.x session file")),
    cli("session-hdf5-not-nwb", NWB, "session", "<BAD>/plain.h5",
        expect=("plain.h5: not an NWB 1.x file", "/nwb_version")),
    cli("session-nwb2", NWB, "session", "<BAD>/nwb2.nwb",
        expect=("nwb2.nwb: NWB version 'NWB-2.2.0' is not supported", "expected an NWB 1.x")),
    cli("session-not-allen", NWB, "session", "<BAD>/not_allen.nwb",
        expect=("not_allen.nwb: not an Allen Brain Observatory session", "brain_observatory_pipeline")),
    cli("analyze-truncated", NWB, "analyze", "<BAD>/truncated.nwb",
        expect=("truncated.nwb: cannot be read as HDF5", "truncated or corrupt")),
    cli("analyze-text-file", NWB, "analyze", "<BAD>/text.nwb", expect=("text.nwb: not an HDF5 file",)),
    cli("analyze-missing-file", NWB, "analyze", "<BAD>/absent.nwb", expect=("absent.nwb: no such file",)),
    cli("analyze-hdf5-not-nwb", NWB, "analyze", "<BAD>/plain.h5", expect=("plain.h5: not an NWB 1.x file",)),
    api("api-open-truncated", NWB, "open_session('<BAD>/truncated.nwb')", "NWBFileError",
        ("truncated.nwb: cannot be read as HDF5",)),
    api("api-open-empty", NWB, "open_session('<BAD>/empty.nwb')", "NWBFileError", ("empty file (0 bytes)",)),
    api("api-open-nwb2", NWB, "Session('<BAD>/nwb2.nwb')", "NWBFileError", ("'NWB-2.2.0' is not supported",)),
    api("api-open-directory", NWB, "open_session('<BAD>')", "NWBFileError", ("is a directory", "NWB 1.x")),
    # ---------------------------------------------------------------- missing datasets
    cli("session-no-timestamps", DATASETS, "session", "<BAD>/no_timestamps.nwb",
        expect=("no_timestamps.nwb: no imaging timestamps", "Fluorescence/imaging_plane_1/timestamps")),
    cli("session-no-stimulus-data", DATASETS, "session", "<BAD>/no_dg_data.nwb",
        expect=("no_dg_data.nwb", "drifting_gratings_stimulus/data")),
    cli("analyze-no-dff", DATASETS, "analyze", "<BAD>/no_dff.nwb",
        expect=("no_dff.nwb: no dff traces", "DfOverF/imaging_plane_1/data")),
    cli("analyze-no-cell-ids", DATASETS, "analyze", "<BAD>/no_cell_ids.nwb",
        expect=("no_cell_ids.nwb: no cell specimen ids", "ImageSegmentation/cell_specimen_ids")),
    cli("analyze-no-session-type", DATASETS, "analyze", "<BAD>/no_session_type.nwb",
        expect=("no_session_type.nwb: no session type (general/session_type)", "three_session_A")),
    cli("analyze-no-running-speed", DATASETS, "analyze", "<BAD>/no_running.nwb",
        expect=("no_running.nwb: no running speed", "running_speed/data")),
    api("api-no-dff", DATASETS, "open_session('<BAD>/no_dff.nwb').dff()", "MissingDataError",
        ("no_dff.nwb: no dff traces",)),
    api("api-no-timestamps", DATASETS, "open_session('<BAD>/no_timestamps.nwb').timestamps", "MissingDataError",
        ("no imaging timestamps",)),
    api("api-no-max-projection", DATASETS, "open_session('<BAD>/no_max_projection.nwb').max_projection",
        "MissingDataError", ("no maximum projection", "maximum_intensity_projection_image")),
    api("api-no-running-speed", DATASETS, "open_session('<BAD>/no_running.nwb').running_speed()",
        "MissingDataError", ("no running speed", "running_speed/data")),
    # ---------------------------------------------------------------- corrupt catalog JSON
    *[cli(f"{name}-{how}", CATALOG, "cells", "-d", f"<CAT>/{name}-{how}",
          "-f", "csv", expect=(f"{file}", what))
      for name, file in (("manifest", "manifest.json"), ("containers", "experiment_containers.json"),
                         ("experiments", "ophys_experiments.json"), ("cells", "cell_specimens.json"))
      for how, what in (("truncated", "corrupt JSON at line"), ("not-json", "corrupt JSON at line 1 column 1"),
                        ("empty", "corrupt JSON"),
                        ("object", "not an AllenSDK manifest (no 'manifest' list)" if name == "manifest"
                         else "expected a JSON list of objects"))],
    cli("containers-list-of-numbers", CATALOG, "containers", "-d", "<CAT>/containers-numbers",
        expect=("experiment_containers.json", "expected a JSON list of objects")),
    api("api-catalog-truncated", CATALOG, "open_observatory('<CAT>/containers-truncated').containers()",
        "DataDirError", ("experiment_containers.json: corrupt JSON",)),
    # ---------------------------------------------------------------- data dirs
    cli("data-dir-missing", DATA_DIR, "containers", "-d", "<TMP>/missing",
        expect=("missing does not exist", "AllenSDK cache dir", "brainobs synth --out DIR")),
    cli("data-dir-empty", DATA_DIR, "areas", "-d", "<TMP>/empty",
        expect=("empty is not a brainobs data dir", "manifest.json and experiment_containers.json")),
    cli("data-dir-no-manifest", DATA_DIR, "cre-lines", "-d", "<TMP>/full",
        expect=("full is not a brainobs data dir", "brainobs synth --out DIR")),
    cli("demo-data-dir-file", DATA_DIR, "demo", "-d", "<TMP>/file.txt", "--out", "<TMP>/figs",
        expect=("file.txt is a file", "--data-dir must be a data folder")),
    cli("demo-data-dir-missing-parent", DATA_DIR, "demo", "-d", "<TMP>/missing/data", "--out", "<TMP>/figs",
        expect=("the folder of --data-dir does not exist", "missing", "mkdir -p")),
    cli("demo-data-dir-not-empty", DATA_DIR, "demo", "-d", "<TMP>/full", "--out", "<TMP>/figs",
        expect=("full is not empty and holds no manifest.json", "choose another --data-dir")),
    api("api-data-dir-missing", DATA_DIR, "open_observatory('<TMP>/missing')", "DataDirError",
        ("missing does not exist", "brainobs synth --out DIR")),
    cli("filter-or-injection", FILTERS, "cells", "-d", "<OBS>", "--filter", "area == 'VISp' or 1==1",
        expect=("\"'VISp' or 1==1\"", "Valid choices: VISal")),
    cli("filter-order-on-names", FILTERS, "cells", "-d", "<OBS>", "--filter", "area < VISp",
        expect=("'<'", "area", "==, !=, in or not in")),
    cli("filter-bool-text", FILTERS, "cells", "-d", "<OBS>", "--filter", "failed_experiment_container == yes",
        expect=("'yes'", "true/false")),
    cli("filter-rich-markup", FILTERS, "cells", "-d", "<OBS>", "--filter", "area == '[/x] [bold]'",
        expect=("'[/x] [bold]'", "Valid choices")),
    # ---------------------------------------------------------------- output paths
    cli("table-out-missing-folder", OUTPUT, "cells", "-d", "<OBS>", "-f", "csv", "--out", "<TMP>/missing/x.csv",
        expect=("missing/x.csv", "the folder", "does not exist; create it first")),
    cli("table-out-is-folder", OUTPUT, "containers", "-d", "<OBS>", "-f", "csv", "--out", "<TMP>/full",
        expect=("full is a folder", "give a file path such as")),
    cli("data-dir-is-text-file", DATA_DIR, "containers", "-d", "<TMP>/file.txt",
        expect=("file.txt is a file, not a data dir", "manifest.json")),
    cli("analyze-out-missing-folder", OUTPUT, "analyze", "--container", "500000000", "-d", "<OBS>",
        "--out", "<TMP>/missing/x.csv", expect=("missing/x.csv", "does not exist; create it first")),
    cli("analyze-out-is-folder", OUTPUT, "analyze", "--container", "500000000", "-d", "<OBS>",
        "--out", "<TMP>/full", expect=("'full'", "must end in .parquet or .csv")),
    cli("analyze-store-unwritable", STORE, "analyze", "--container", "500000000", "-d", "<OBS>",
        "--store-dir", "<TMP>/file.txt/store", expect=("Cannot store computed metrics in", "file.txt",
                                                       "--store-dir DIR", "--no-store")),
    cli("analyze-missing-store-unwritable", STORE, "analyze", "--missing", "-d", "<OBS>",
        "--store-dir", "<TMP>/file.txt/store", expect=("Cannot store computed metrics in", "file.txt")),
    api("api-store-int", STORE, "open_observatory('<OBS>', store=5)", "TypeError", ("store", "got int 5")),
    cli("analyze-dg-bad-orientation", STIM, "analyze", "<BAD>/dg_bad_orientation.nwb",
        expect=("drifting_gratings table", "orientation 7", "0, 45, 90")),
    cli("analyze-dg-one-row", STIM, "analyze", "<BAD>/dg_one_row.nwb",
        expect=("drifting_gratings table", "1 row(s)", "at least 2")),
    cli("synth-out-is-file", OUTPUT, "synth", "--out", "<TMP>/file.txt", "--size", "tiny",
        expect=("file.txt is a file", "--out must be a folder")),
    cli("synth-out-not-empty", OUTPUT, "synth", "--out", "<TMP>/full", "--size", "tiny",
        expect=("full exists and is not empty", "--overwrite")),
    cli("synth-out-missing-parent", OUTPUT, "synth", "--out", "<TMP>/missing/obs", "--size", "tiny",
        expect=("the folder of --out does not exist", "missing", "mkdir -p")),
    cli("synth-out-inside-file", OUTPUT, "synth", "--out", "<TMP>/file.txt/obs", "--size", "tiny",
        expect=("file.txt is a file, not a folder", "--out must be inside a folder")),
    cli("demo-out-is-file", OUTPUT, "demo", "-d", "<OBS>", "--out", "<TMP>/file.txt",
        expect=("file.txt is a file", "--out must be a folder")),
    cli("demo-out-missing-parent", OUTPUT, "demo", "-d", "<OBS>", "--out", "<TMP>/missing/figs",
        expect=("the folder of --out does not exist", "mkdir -p")),
    cli("report-out-wrong-extension", OUTPUT, "report", "-d", "<OBS>", "--out", "<TMP>/report.txt",
        expect=("--out must end in .html", "'report.txt'")),
    cli("report-out-missing-folder", OUTPUT, "report", "-d", "<OBS>", "--out", "<TMP>/missing/r.html",
        expect=("the folder of --out does not exist", "missing")),
    cli("report-out-is-folder", OUTPUT, "report", "-d", "<OBS>", "--out", "<TMP>/folder.html",
        expect=("folder.html is a folder", "--out must be an HTML file")),
    cli("analyze-out-wrong-extension", OUTPUT, "analyze", "--container", "500000000", "-d", "<OBS>",
        "--out", "<TMP>/m.txt", expect=("--out must end in .parquet or .csv", "'m.txt'")),
    cli("parquet-without-out", OUTPUT, "cells", "-d", "<OBS>", "--format", "parquet",
        expect=("--format parquet writes binary data", "give --out FILE.parquet")),
    api("api-synth-out-is-file", OUTPUT, "generate_observatory('<TMP>/file.txt', size='tiny')",
        "ObservatoryExistsError", ("file.txt exists and is not a directory",)),
    api("api-synth-out-not-empty", OUTPUT, "generate_observatory('<TMP>/full', size='tiny')",
        "ObservatoryExistsError", ("full exists and is not empty", "overwrite=True")),
    api("api-synth-out-inside-file", OUTPUT, "generate_observatory('<TMP>/file.txt/a/obs', size='tiny')",
        "DataDirError", ("file.txt is a file, not a folder",)),
    # ---------------------------------------------------------------- downloads (no network: refused early)
    cli("download-area-typo", DOWNLOAD, "download", "-d", "<OBS>", "--what", "nwb", "--area", "VISq",
        "--source", "http://127.0.0.1:9/", expect=("'VISq'", "Did you mean 'VISp'", "VISal, VISam")),
    cli("download-cre-line-typo", DOWNLOAD, "download", "-d", "<OBS>", "--what", "nwb", "--cre-line", "Cux3",
        "--source", "http://127.0.0.1:9/", expect=("'Cux3'", "Cux2-CreERT2")),
    cli("download-bad-source", DOWNLOAD, "download", "-d", "<TMP>/new", "--source", "ftp://example.org/vc2p",
        expect=("Bad source URL 'ftp://example.org/vc2p'", "http:// or https://",
                "https://allen-brain-observatory.s3.amazonaws.com/visual-coding-2p/")),
    cli("download-source-not-url", DOWNLOAD, "download", "-d", "<TMP>/new", "--source", "allen bucket",
        expect=("Bad source URL 'allen bucket'", "http:// or https://")),
    cli("download-jobs-0", DOWNLOAD, "download", "-d", "<TMP>/new", "--jobs", "0",
        expect=("--jobs", "0 is not allowed", "1 or more")),
    cli("download-jobs-text", DOWNLOAD, "download", "-d", "<TMP>/new", "--jobs", "many",
        expect=("--jobs", "'many' is not an integer")),
    cli("download-what-typo", DOWNLOAD, "download", "-d", "<TMP>/new", "--what", "nwb,metdata",
        expect=("'metdata'", "Did you mean 'metadata'", "nwb")),
    cli("download-nwb-without-selection", DOWNLOAD, "download", "-d", "<TMP>/new", "--what", "nwb",
        expect=("choose the sessions", "--area", "--all")),
    cli("download-data-dir-is-file", DOWNLOAD, "download", "-d", "<TMP>/file.txt",
        expect=("file.txt is a file", "--data-dir must be a folder")),
    cli("download-unknown-container", DOWNLOAD, "download", "-d", "<OBS>", "--what", "nwb", "--container",
        "123", "--source", "http://127.0.0.1:9/", expect=("Unknown experiment container id(s)", "123", "500000000")),
    api("api-download-jobs-0", DOWNLOAD, "download(['manifest.json'], '<TMP>/new', 'http://127.0.0.1:9/', jobs=0)",
        "FetchError", ("jobs must be a whole number >= 1", "got 0")),
    api("api-download-key-outside", DOWNLOAD, "download(['../x.nwb'], '<TMP>/new', 'http://127.0.0.1:9/')",
        "FetchError", ("Bad file key '../x.nwb'", "relative path")),
    api("api-download-bad-source", DOWNLOAD, "download(['manifest.json'], '<TMP>/new', 'file:///tmp/x')",
        "SourceError", ("Bad source URL 'file:///tmp/x'",)),
    # ---------------------------------------------------------------- synth options
    cli("synth-config-missing", CONFIG, "synth", "--out", "<TMP>/new", "--size", "tiny",
        "--config", "<TMP>/absent.toml", expect=("Synth config file not found", "absent.toml", "TOML file")),
    cli("synth-config-not-toml", CONFIG, "synth", "--out", "<TMP>/new", "--size", "tiny",
        "--config", "<BAD>/text.nwb", expect=("text.nwb is not valid TOML",)),
    cli("synth-config-folder", CONFIG, "synth", "--out", "<TMP>/new", "--size", "tiny",
        "--config", "<TMP>/empty", expect=("Synth config file is a directory", "TOML file")),
    api("synth-config-unknown-key", CONFIG, "generate_observatory('<TMP>/new', size='tiny', config={'nosie': {}})",
        "SynthConfigError", ("'nosie'", "Did you mean 'noise'", "Valid keys")),
]

#: cases also run through a real `python -m brainobs` process
SUBPROCESS_CASES = ["cre-line-typo", "session-truncated", "synth-out-missing-parent"]


# ---------------------------------------------------------------------------- sandbox
def _catalog_variants(obs: Path, root: Path) -> None:
    files = {"manifest": "manifest.json", "containers": "experiment_containers.json",
             "experiments": "ophys_experiments.json", "cells": "cell_specimens.json"}
    bodies = {"truncated": None, "not-json": "this is not JSON\n", "empty": "", "object": '{"a": 1}\n'}
    jsons = [p for p in obs.iterdir() if p.suffix == ".json"]
    for name, file in files.items():
        for how, body in {**bodies, **({"numbers": "[1, 2, 3]\n"} if name == "containers" else {})}.items():
            d = root / f"{name}-{how}"
            d.mkdir(parents=True)
            for p in jsons:
                shutil.copy(p, d / p.name)
            text = (obs / file).read_text()
            (d / file).write_text(text[: len(text) // 2] if body is None else body)


def _nwb_variants(nwb: Path, root: Path) -> None:
    import h5py

    from brainobs.io import layout

    root.mkdir()
    (root / "empty.nwb").write_bytes(b"")
    (root / "text.nwb").write_text("hello, I am not an NWB file\n")
    (root / "truncated.nwb").write_bytes(nwb.read_bytes()[:100_000])
    (root / "folder.nwb").mkdir()
    with h5py.File(root / "plain.h5", "w") as f:
        f["x"] = 1
    with h5py.File(root / "nwb2.nwb", "w") as f:
        f["nwb_version"] = "NWB-2.2.0"
    with h5py.File(root / "not_allen.nwb", "w") as f:
        f["nwb_version"] = "NWB-1.0.5"
    pipe = layout.PIPE
    removed = {
        "no_timestamps": [layout.FLUORESCENCE_TIMESTAMPS, layout.TWO_PHOTON_TIMESTAMPS, layout.DFF_TIMESTAMPS],
        "no_dff": [f"{layout.TRACES['dff']}/data"],
        "no_cell_ids": [layout.CELL_SPECIMEN_IDS],
        "no_dg_data": [f"{layout.stimulus_group('drifting_gratings')}/data"],
        "no_max_projection": [layout.MAX_PROJECTION],
        "no_running": [f"{pipe}/BehavioralTimeSeries/running_speed/data"],
        "no_session_type": ["general/session_type"],
    }
    for name, paths in removed.items():
        dst = root / f"{name}.nwb"
        shutil.copy(nwb, dst)
        with h5py.File(dst, "a") as f:
            for p in paths:
                assert p in f, p
                del f[p]
    # stimulus tables with values the metrics cannot use
    dg = layout.stimulus_group("drifting_gratings")
    shutil.copy(nwb, root / "dg_bad_orientation.nwb")
    with h5py.File(root / "dg_bad_orientation.nwb", "a") as f:
        column = [x.decode() for x in f[f"{dg}/features"][()]].index("orientation")
        f[f"{dg}/data"][3, column] = 7.0  # not one of the 8 released directions
    shutil.copy(nwb, root / "dg_one_row.nwb")
    with h5py.File(root / "dg_one_row.nwb", "a") as f:
        for name in ("data", "frame_duration", "timestamps"):
            first = f[f"{dg}/{name}"][:1]
            del f[f"{dg}/{name}"]
            f[f"{dg}/{name}"] = first
        f[f"{dg}/num_samples"][()] = 1


def build_sandbox(root: Path, tiny: Path) -> dict[str, str]:
    """Every input the cases need, under ``root``; returns the placeholder values."""
    from brainobs.catalog import open_observatory

    obs = root / "obs"
    shutil.copytree(tiny, obs)
    o = open_observatory(obs)  # builds the catalog cache once: later opens only read it
    o.containers(), o.experiments(), o.cells(warn=False)
    exp = o.experiments(session_type="three_session_A").iloc[0]
    nwb = o.session_path(int(exp["id"]))
    _nwb_variants(nwb, root / "bad")
    _catalog_variants(obs, root / "cat")
    tmp = root / "tmp"
    (tmp / "full").mkdir(parents=True)
    (tmp / "full" / "keep.txt").write_text("keep me")
    (tmp / "empty").mkdir()
    (tmp / "folder.html").mkdir()
    (tmp / "file.txt").write_text("a file")
    (root / "cwd").mkdir()
    return {"<OBS>": str(obs), "<NWB>": str(nwb), "<BAD>": str(root / "bad"), "<CAT>": str(root / "cat"),
            "<TMP>": str(tmp)}


def snapshot(root: Path) -> dict[str, tuple[int, int]]:
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            p = Path(dirpath) / name
            st = p.lstat()
            out[str(p.relative_to(root))] = (st.st_size if p.is_file() else -1, st.st_mtime_ns)
    return out


def fill(text: str, places: dict[str, str]) -> str:
    for key, value in places.items():
        text = text.replace(key, value)
    return text


def normalized(text: str) -> str:
    """The message without the boxes of usage errors and with single spaces."""
    return " ".join(re.sub(r"[│╭╮╰╯─]", " ", text).split())


@pytest.fixture(scope="module")
def sandbox(tiny_observatory, tmp_path_factory):
    root = tmp_path_factory.mktemp("bad_input")
    places = build_sandbox(root, tiny_observatory)
    return root, places


@pytest.fixture()
def quiet_env(monkeypatch, sandbox):
    """Wide consoles (no wrapped messages), no debug tracebacks, cwd inside the sandbox."""
    from rich.console import Console

    import brainobs.cli

    root, _ = sandbox
    monkeypatch.delenv("BRAINOBS_DEBUG", raising=False)
    monkeypatch.setenv("BRAINOBS_DATA", str(root / "tmp" / "missing-default"))
    monkeypatch.setenv("COLUMNS", "2000")
    monkeypatch.setattr(brainobs.cli, "console", Console(width=2000))
    monkeypatch.setattr(brainobs.cli, "err_console", Console(stderr=True, width=2000))
    monkeypatch.chdir(root / "cwd")


def _api_namespace(places: dict[str, str]) -> dict[str, object]:
    from brainobs.catalog import open_observatory
    from brainobs.fetch import download
    from brainobs.io import Session, open_session
    from brainobs.metrics import analyze
    from brainobs.synth import generate_observatory

    return {"obs": open_observatory(places["<OBS>"]), "open_observatory": open_observatory,
            "open_session": open_session, "Session": Session, "generate_observatory": generate_observatory,
            "analyze": analyze, "download": download}


def run_case(case: Case, places: dict[str, str], capsys) -> str:
    """Run one case; return its normalized message (asserting exit 2 / the error class)."""
    if case.interface == "cli":
        from brainobs.cli import main

        code = main([fill(a, places) for a in case.input])
        out, err = capsys.readouterr()
        assert code == 2, f"exit status {code}\nstdout: {out}\nstderr: {err}"
        assert "Traceback" not in out + err
        return normalized(out + "\n" + err)
    ns = _api_namespace(places)
    with pytest.raises(Exception) as info:
        eval(fill(str(case.input), places), ns)  # noqa: S307 - the expressions of this file
    names = [c.__name__ for c in type(info.value).__mro__]
    assert case.error in names, f"{type(info.value).__name__}: {info.value}"
    return normalized(str(info.value))


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input(case: Case, sandbox, quiet_env, capsys):
    root, places = sandbox
    before = snapshot(root)
    message = run_case(case, places, capsys)
    for want in case.expect:
        assert fill(want, places) in message, f"{want!r} not in: {message}"
    assert snapshot(root) == before, "the failed command changed files"


@pytest.mark.parametrize("case_id", SUBPROCESS_CASES)
def test_bad_input_real_command(case_id: str, sandbox):
    """A few cases through a real `python -m brainobs` process (start-up, exit status, stderr)."""
    root, places = sandbox
    case = next(c for c in CASES if c.id == case_id)
    before = snapshot(root)
    env = {**os.environ, "COLUMNS": "2000", "BRAINOBS_DATA": str(root / "tmp" / "missing-default")}
    env.pop("BRAINOBS_DEBUG", None)
    done = subprocess.run([sys.executable, "-m", "brainobs", *(fill(a, places) for a in case.input)],
                          capture_output=True, text=True, cwd=root / "cwd", env=env, timeout=120)
    assert done.returncode == 2
    assert "Traceback" not in done.stdout + done.stderr
    message = normalized(done.stdout + "\n" + done.stderr)
    for want in case.expect:
        assert fill(want, places) in message
    assert snapshot(root) == before


def test_corpus_size_and_ids():
    ids = [c.id for c in CASES]
    assert len(ids) == len(set(ids)), "case ids must be unique"
    assert len(CASES) >= 60
    assert {c.interface for c in CASES} == {"cli", "api"}
    for c in CASES:
        assert c.expect, c.id
        assert (c.interface == "api") == bool(c.error), c.id


# ---------------------------------------------------------------------------- the doc
def _cell(text: str) -> str:
    return "`" + text.replace("|", "\\|") + "`"


def render_doc() -> str:
    """docs/bad-input.md, generated from CASES."""
    cats: dict[str, list[Case]] = {}
    for c in CASES:
        cats.setdefault(c.category, []).append(c)
    n_cli = sum(c.interface == "cli" for c in CASES)
    lines = [
        "# Bad input: what brainobs answers",
        "",
        "<!-- Generated by `python tests/test_bad_input.py --write-doc` from the cases of",
        "     tests/test_bad_input.py; do not edit by hand (a test compares this file with them). -->",
        "",
        f"{len(CASES)} bad inputs ({n_cli} through the `brainobs` command, {len(CASES) - n_cli} through the "
        "Python API), each checked by the test suite: the message names the bad value and what is valid "
        "(the quoted parts below appear in it), the command exits with status 2 without a traceback "
        "(the API raises the error class shown), and nothing is written: no file in the data dir, "
        "the output folder or the working directory is created or changed.",
        "",
        "Placeholders in the inputs:",
        "",
    ]
    lines += [f"- `{k}`: {v}" for k, v in PLACES.items()]
    lines += ["", "| Category | Cases |", "|---|---|"]
    lines += [f"| [{cat}](#{_anchor(cat)}) | {len(cs)} |" for cat, cs in cats.items()]
    for cat, cs in cats.items():
        lines += ["", f"## {cat}", "", "| Case | Input | The message says (error class for the API) |",
                  "|---|---|---|"]
        for c in cs:
            said = " · ".join(_cell(e) for e in c.expect)
            if c.error:
                said = f"{c.error}: {said}"
            lines.append(f"| {c.id} | {_cell(c.shown())} | {said} |")
    return "\n".join(lines) + "\n"


def _anchor(title: str) -> str:
    return re.sub(r"[^a-z0-9 -]", "", title.lower()).replace(" ", "-")


def test_doc_is_current():
    assert DOC.is_file(), "docs/bad-input.md is missing: run python tests/test_bad_input.py --write-doc"
    assert DOC.read_text(encoding="utf-8") == render_doc(), (
        "docs/bad-input.md is out of date: run python tests/test_bad_input.py --write-doc")


def test_doc_lists_every_case():
    text = render_doc()
    for c in CASES:
        assert f"| {c.id} |" in text
    assert all(f"## {c.category}" in text for c in CASES)


if __name__ == "__main__":
    if sys.argv[1:] == ["--write-doc"]:
        DOC.parent.mkdir(exist_ok=True)
        DOC.write_text(render_doc(), encoding="utf-8")
        print(f"wrote {DOC} ({len(CASES)} cases)")
    else:
        print("usage: python tests/test_bad_input.py --write-doc", file=sys.stderr)
        sys.exit(2)
