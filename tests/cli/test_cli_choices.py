"""Choices checked by the CLI: one `error:` line naming the bad value and the valid choices,
exit status 2, nothing on stdout, no traceback; the names people type are accepted."""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path

import pandas as pd
import pytest

from brainobs.cli import main

AREAS = "Valid choices: VISal, VISam, VISl, VISp, VISpm, VISrl."


@pytest.fixture(scope="module")
def obs_dir(tiny_observatory: Path, tmp_path_factory) -> Path:
    dst = tmp_path_factory.mktemp("cli-choices") / "obs"
    shutil.copytree(tiny_observatory, dst)
    return dst


def run(capsys, *args) -> tuple[int, str, str]:
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


# (arguments, what the one error line must say); the tiny observatory has VISp and VISl,
# Cux2-CreERT2 (VISp 275 µm, VISl 175 µm), Rorb-IRES2-Cre (VISp 275 µm), and a failed
# Vip-IRES-Cre container (VISl 175 µm).
CASES = [
    (["containers", "--area", "visq"], ["Unknown area (targeted structure) 'visq'", "Did you mean 'VISp'?", AREAS]),
    (["containers", "--area", "V2"], ["'V2'", AREAS]),
    (["containers", "--cre-line", "Rorb-IRES-Cre"], ["Unknown Cre line 'Rorb-IRES-Cre'", "Did you mean 'Rorb-IRES2-Cre'?",
                                                     "Valid choices: Cux2-CreERT2, Emx1-IRES-Cre"]),
    (["containers", "--cre-line", "Pv"], ["Unknown Cre line 'Pv'", "Did you mean 'Pvalb-IRES-Cre'?"]),
    (["containers", "--depth", "276"], ["Unknown imaging depth (µm) 276", "Valid choices: 175, 275."]),
    (["containers", "--area", "VISam"], ["No data for area VISam (areas with data: VISl, VISp)."]),
    (["containers", "--area", "LM", "--cre-line", "rorb"],
     ["No data for area VISl × Cre line Rorb-IRES2-Cre. Combinations with data (area × Cre line): "
      "VISl × Cux2-CreERT2, VISp × Rorb-IRES2-Cre."]),
    (["containers", "--area", "V1", "--depth", "175"],
     ["No data for area VISp × imaging depth 175. Combinations with data (area × imaging depth): "
      "VISl × 175, VISp × 275."]),
    (["containers", "--cre-line", "Vip"], ["No data for Cre line Vip-IRES-Cre (Cre lines with data: Cux2-CreERT2, "
                                           "Rorb-IRES2-Cre).", "add --include-failed"]),
    (["experiments", "--session-type", "three_session_D"], ["Unknown session type 'three_session_D'",
                                                            "Valid choices: three_session_A, three_session_B"]),
    (["experiments", "--stimulus", "natural_scene"], ["Unknown stimulus 'natural_scene'", "Did you mean 'natural_scenes'?"]),
    (["experiments", "--session-type", "three_session_C"],
     ["No data for session type three_session_C (session types with data: three_session_A, three_session_B, "
      "three_session_C2)."]),
    (["experiments", "-c", "0"], ["Unknown experiment container id(s) in the catalog: 0.",
                                  "Valid choices: 500000000, 500001000, 500002000, 500003000."]),
    (["cells", "-c", "99999999999999999999999"], ["Unknown experiment container id(s) in the catalog: "
                                                  "99999999999999999999999.", "Valid choices: 500000000"]),
    (["cells", "--filter", "area in []"], ["No data for area [] (an empty list) (areas with data: VISl, VISp)."]),
    (["cells", "--area", "visq"], ["'visq'", AREAS]),
    (["cells", "--filter", "area == visq"], ["Unknown area (targeted structure) 'visq'", AREAS]),
    (["cells", "--filter", "tld1_name == Rorbx"], ["Unknown Cre line 'Rorbx'", "Valid choices: Cux2-CreERT2"]),
    (["cells", "--filter", "cre_line in [Cux2, Sstx]"], ["Unknown Cre line 'Sstx'", "Valid choices: Cux2-CreERT2"]),
    (["cells", "--filter", "tlr1_name == Ai9"], ["Unknown reporter line 'Ai9'", "Valid choices: Ai148(TIT2L-GC6f-ICL-tTA2)"]),
    (["cells", "--filter", "area == VISam"], ["No data for area VISam (areas with data: VISl, VISp)."]),
    (["cells", "--filter", "area < VISp"], ["operator '<' does not apply to area", "use ==, !=, in or not in"]),
    (["cells", "--filter", "p_dg < abc"], ["p_dg holds numbers; 'abc' is not a number"]),
    (["cells", "--filter", "p_dgg < 0.05"], ["Unknown column 'p_dgg'", "Did you mean 'p_dg'?"]),
    (["cells", "--filter", "__import__('os')"], ["Cannot parse filter \"__import__('os')\"", "Valid operators: <, <="]),
    (["cells", "--filter", "p_dg < 0.05; rm -rf /"], ["p_dg holds numbers; '0.05; rm -rf /' is not a number"]),
    (["cells", "--filter", "area == '[/x] [bold]'"], ["Unknown area (targeted structure) '[/x] [bold]'", AREAS]),
]


@pytest.mark.parametrize("args, says", CASES, ids=[" ".join(a) for a, _ in CASES])
def test_bad_choice_is_one_clear_error(capsys, obs_dir, args, says):
    code, out, err = run(capsys, *args, "-d", obs_dir)
    assert code == 2, err
    assert out == "" and "Traceback" not in err
    assert err.startswith("error: ") and err.count("\n") == 1, err  # one line
    for text in says:
        assert text in err, (text, err)


def _csv(capsys, *args) -> pd.DataFrame:
    code, out, err = run(capsys, *args, "-f", "csv")
    assert code == 0, err
    return pd.read_csv(io.StringIO(out))


@pytest.mark.parametrize("typed, full", [(["--area", "v1"], ["--area", "VISp"]),
                                         (["--area", "LM"], ["--area", "VISl"]),
                                         (["--cre-line", "Rorb"], ["--cre-line", "Rorb-IRES2-Cre"]),
                                         (["--cre-line", "cux2", "--area", "visl"],
                                          ["--cre-line", "Cux2-CreERT2", "--area", "VISl"]),
                                         (["--filter", "area == visp"], ["--area", "VISp"]),
                                         (["--filter", "tld1_name == Rorb"], ["--cre-line", "Rorb-IRES2-Cre"]),
                                         (["--filter", "cre_line in [cux2]"], ["--cre-line", "Cux2-CreERT2"])])
def test_names_people_type_are_accepted(capsys, obs_dir, typed, full):
    got = _csv(capsys, "cells", "-d", obs_dir, *typed)
    want = _csv(capsys, "cells", "-d", obs_dir, *full)
    raw = json.loads((obs_dir / "cell_specimens.json").read_text())
    area = dict(zip(full[::2], full[1::2], strict=True)).get("--area")
    cre = dict(zip(full[::2], full[1::2], strict=True)).get("--cre-line")
    expected = sorted(c["cell_specimen_id"] for c in raw if not c["failed_experiment_container"]
                      and (area is None or c["area"] == area) and (cre is None or c["tld1_name"] == cre))
    assert expected and sorted(got["cell_specimen_id"]) == sorted(want["cell_specimen_id"]) == expected


def test_containers_and_experiments_accept_aliases(capsys, obs_dir):
    raw = json.loads((obs_dir / "experiment_containers.json").read_text())
    got = _csv(capsys, "containers", "-d", obs_dir, "--area", "V1", "--cre-line", "CUX2")
    assert got["id"].tolist() == [c["id"] for c in raw if c["targeted_structure"]["acronym"] == "VISp"
                                  and "Cux2-CreERT2" in c["specimen"]["name"] and not c["failed"]]
    exps = _csv(capsys, "experiments", "-d", obs_dir, "--area", "lm", "--stimulus", "natural_scenes")
    assert set(exps["targeted_structure"]) == {"VISl"} and set(exps["session_type"]) == {"three_session_B"}


def test_a_filter_nothing_passes_is_an_empty_answer_not_an_error(capsys, obs_dir):
    code, out, err = run(capsys, "cells", "-d", obs_dir, "--area", "V1", "--filter", "p_dg < 1e-300", "-f", "csv")
    assert code == 0 and "error" not in err
    assert out.splitlines()[0].startswith("cell_specimen_id") and len(out.splitlines()) == 1
