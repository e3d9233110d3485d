"""A tiny hand-written AllenSDK cache dir (raw API JSON shapes)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

MANIFEST = {
    "manifest": [
        {"type": "dir", "spec": ".", "key": "BASEDIR"},
        {
            "parent_key": "BASEDIR",
            "type": "file",
            "spec": "experiment_containers.json",
            "key": "EXPERIMENT_CONTAINERS",
        },
        {
            "parent_key": "BASEDIR",
            "type": "file",
            "spec": "ophys_experiments.json",
            "key": "EXPERIMENTS",
        },
        {
            "parent_key": "BASEDIR",
            "type": "file",
            "spec": "ophys_experiment_data/%d.nwb",
            "key": "EXPERIMENT_DATA",
        },
        {
            "parent_key": "BASEDIR",
            "type": "file",
            "spec": "cell_specimens.json",
            "key": "CELL_SPECIMENS",
        },
        {
            "parent_key": "BASEDIR",
            "type": "file",
            "spec": "stimulus_mappings.json",
            "key": "STIMULUS_MAPPINGS",
        },
    ]
}


def _donor(name, cre, reporter, dob, conditions=()):
    lines = [{"name": cre, "transgenic_line_type_name": "driver"},
             {"name": "Camk2a-tTA", "transgenic_line_type_name": "driver"},
             {"name": reporter, "transgenic_line_type_name": "reporter"}]  # fmt: skip
    return {"external_donor_name": name, "date_of_birth": dob, "full_genotype": f"{cre}/wt;{reporter}/wt",
            "sex": "M", "transgenic_lines": lines, "conditions": [{"name": c} for c in conditions]}  # fmt: skip


def _container(cid, area, depth, cre, failed, donor_name, sessions, exp0):
    spec = {"id": cid + 1, "name": f"{cre};Ai93-{donor_name}",
            "donor": _donor(donor_name, cre, "Ai93(TITL-GCaMP6f)", "2016-01-01T00:00:00Z",
                            ["tissuecyte - x", "Epileptiform Events"])}  # fmt: skip
    exps = [{"id": exp0 + i, "stimulus_name": s, "imaging_depth": depth, "specimen_id": cid + 1,
             "experiment_container_id": cid, "date_of_acquisition": f"2016-03-{10 + i:02d}T10:00:00Z",
             "fail_eye_tracking": i == 1, "name": f"exp{exp0 + i}"} for i, s in enumerate(sessions)]  # fmt: skip
    return {"id": cid, "imaging_depth": depth, "failed": failed, "specimen_id": cid + 1,
            "targeted_structure": {"acronym": area}, "specimen": spec, "ophys_experiments": exps}  # fmt: skip


CONTAINERS = [
    _container(100, "VISp", 175, "Cux2-CreERT2", False, "d1",
               ["three_session_A", "three_session_B", "three_session_C"], 1000),
    _container(200, "VISl", 375, "Rbp4-Cre_KL100", False, "d2",
               ["three_session_A", "three_session_B", "three_session_C2"], 2000),
    _container(300, "VISp", 275, "Emx1-IRES-Cre", True, "d3", ["three_session_A"], 3000),
]  # fmt: skip


def _cell(csid, cid, area, cre, failed, p_dg, osi):
    return {"cell_specimen_id": csid, "experiment_container_id": cid, "specimen_id": cid + 1, "area": area,
            "tld1_name": cre, "tld1_id": 1, "tld2_name": "Camk2a-tTA", "tld2_id": 2, "tlr1_id": 3,
            "tlr1_name": "Ai93(TITL-GCaMP6f)", "imaging_depth": 175, "failed_experiment_container": failed,
            "donor_full_genotype": "x", "all_stim": True, "p_dg": p_dg, "osi_dg": osi,
            "drifting_grating_large": f"/thumbs/{csid}_large.png", "drifting_grating_small": None}  # fmt: skip


CELLS = [
    _cell(1, 100, "VISp", "Cux2-CreERT2", False, 0.01, 0.9),
    _cell(2, 100, "VISp", "Cux2-CreERT2", False, 0.2, 0.1),
    _cell(3, 200, "VISl", "Rbp4-Cre_KL100", False, 0.03, None),
    _cell(4, 300, "VISp", "Emx1-IRES-Cre", True, 0.001, 0.5),
]
MAPPINGS = [
    {"item": "drifting_grating_large", "level": "R", "stimulus_name": "drifting_grating", "id": 1, "item_type": "T"},
    {"item": "drifting_grating_small", "level": "R", "stimulus_name": "drifting_grating", "id": 2, "item_type": "T"},
    {"item": "p_dg", "level": "R", "stimulus_name": "drifting_grating", "id": 3, "item_type": "M"},
]  # fmt: skip


@pytest.fixture
def tiny_cache(tmp_path) -> Path:
    d = tmp_path / "boc"
    d.mkdir()
    (d / "manifest.json").write_text(json.dumps(MANIFEST))
    (d / "experiment_containers.json").write_text(json.dumps(CONTAINERS))
    (d / "cell_specimens.json").write_text(json.dumps(CELLS))
    (d / "stimulus_mappings.json").write_text(json.dumps(MAPPINGS))
    return d
