"""BrainObservatoryCache: AllenSDK names, arguments and return types over a tiny cache dir."""

from __future__ import annotations

import json

import pytest

from brainobs.compat import BrainObservatoryCache
from brainobs.compat.cache import SIMPLE_CONTAINER_KEYS, SIMPLE_EXPERIMENT_KEYS
from brainobs.errors import DataDirError, NWBFileError, UnknownCreLineError, UnknownIdError


@pytest.fixture
def boc(tiny_cache):
    return BrainObservatoryCache(manifest_file=str(tiny_cache / "manifest.json"))


def test_vocab_lists(boc):
    assert boc.get_all_cre_lines() == ["Cux2-CreERT2", "Rbp4-Cre_KL100"]
    assert boc.get_all_targeted_structures() == ["VISl", "VISp"]
    assert boc.get_all_imaging_depths() == [175, 375]
    assert boc.get_all_reporter_lines() == ["Ai93(TITL-GCaMP6f)"]
    assert boc.get_all_session_types() == [
        "three_session_A",
        "three_session_B",
        "three_session_C",
        "three_session_C2",
    ]
    assert boc.get_all_stimuli() == [
        "drifting_gratings", "locally_sparse_noise", "locally_sparse_noise_4deg", "locally_sparse_noise_8deg",
        "natural_movie_one", "natural_movie_three", "natural_movie_two", "natural_scenes", "spontaneous",
        "static_gratings",
    ]  # fmt: skip


def test_containers(boc):
    cs = boc.get_experiment_containers()
    assert isinstance(cs, list) and all(isinstance(c, dict) for c in cs)
    assert [c["id"] for c in cs] == [100, 200]
    assert list(cs[0]) == SIMPLE_CONTAINER_KEYS
    assert cs[0] == {"id": 100, "imaging_depth": 175, "targeted_structure": "VISp", "cre_line": "Cux2-CreERT2",
                     "reporter_line": "Ai93(TITL-GCaMP6f)", "donor_name": "d1",
                     "specimen_name": "Cux2-CreERT2;Ai93-d1", "tags": ["Epileptiform Events"], "failed": False}  # fmt: skip
    assert isinstance(cs[0]["id"], int) and isinstance(cs[0]["failed"], bool)
    assert [c["id"] for c in boc.get_experiment_containers(include_failed=True)] == [100, 200, 300]
    assert [
        c["id"]
        for c in boc.get_experiment_containers(targeted_structures=["VISp"], include_failed=True)
    ] == [100, 300]
    # a string where AllenSDK wants a list is accepted (AllenSDK raises TypeError)
    assert [c["id"] for c in boc.get_experiment_containers(cre_lines="rbp4-cre_kl100")] == [200]
    assert [
        c["id"]
        for c in boc.get_experiment_containers(
            imaging_depths=[175], reporter_lines="Ai93(TITL-GCaMP6f)"
        )
    ] == [100]
    assert [c["id"] for c in boc.get_experiment_containers(ids=[200, 300])] == [200]
    assert [
        c["id"]
        for c in boc.get_experiment_containers(
            transgenic_lines=["Emx1-IRES-Cre"], include_failed=True
        )
    ] == [300]
    raw = boc.get_experiment_containers(simple=False)
    assert "ophys_experiments" in raw[0] and raw[0]["targeted_structure"]["acronym"] == "VISp"
    with pytest.raises(UnknownCreLineError, match="Cux2-CreERT2"):
        boc.get_experiment_containers(cre_lines=["Cux"])


def test_experiments(boc):
    es = boc.get_ophys_experiments()
    assert [e["id"] for e in es] == [1000, 1001, 1002, 2000, 2001, 2002]
    assert list(es[0]) == SIMPLE_EXPERIMENT_KEYS
    e = es[0]
    assert e["session_type"] == "three_session_A" and e["experiment_container_id"] == 100
    assert e["acquisition_age_days"] == 69 and isinstance(e["acquisition_age_days"], int)
    assert e["fail_eye_tracking"] is False and e["targeted_structure"] == "VISp"
    assert len(boc.get_ophys_experiments(include_failed=True)) == 7
    assert [e["id"] for e in boc.get_ophys_experiments(stimuli=["natural_scenes"])] == [1001, 2001]
    assert [e["id"] for e in boc.get_ophys_experiments(stimuli="locally_sparse_noise_8deg")] == [
        2002
    ]
    assert [e["id"] for e in boc.get_ophys_experiments(session_types=["three_session_C"])] == [1002]
    assert 1001 not in [e["id"] for e in boc.get_ophys_experiments(require_eye_tracking=True)]
    assert [
        e["id"] for e in boc.get_ophys_experiments(experiment_container_ids=[200], ids=[2000, 1000])
    ] == [2000]
    assert (
        len(
            boc.get_ophys_experiments(
                targeted_structures="VISl", cre_lines=["Rbp4-Cre_KL100"], imaging_depths=[375]
            )
        )
        == 3
    )
    raw = boc.get_ophys_experiments(simple=False, ids=[1000])
    assert raw[0]["experiment_container"] == {"id": 100, "failed": False}


def test_cell_ids_intersect_containers(boc):
    """AllenSDK bug fixed: containers given AND cells given -> intersection, not difference."""
    by_cells = boc.get_ophys_experiments(cell_specimen_ids=[1, 3])
    assert {e["experiment_container_id"] for e in by_cells} == {100, 200}
    both = boc.get_ophys_experiments(cell_specimen_ids=[1], experiment_container_ids=[100, 200])
    assert {e["experiment_container_id"] for e in both} == {100}  # AllenSDK would give {200}
    assert boc.get_ophys_experiments(cell_specimen_ids=[3], experiment_container_ids=[100]) == []


def test_cell_specimens(boc):
    cells = boc.get_cell_specimens()
    assert [c["cell_specimen_id"] for c in cells] == [1, 2, 3]
    assert "drifting_grating_large" not in cells[0] and "p_dg" in cells[0]
    assert cells[2]["osi_dg"] is None and cells[0]["all_stim"] is True
    full = boc.get_cell_specimens(simple=False, include_failed=True)
    assert len(full) == 4 and full[0]["drifting_grating_large"] == "/thumbs/1_large.png"
    f = [
        {"field": "p_dg", "op": "<", "value": 0.05},
        {"field": "area", "op": "in", "value": ["VISp", "VISl"]},
    ]
    assert [c["cell_specimen_id"] for c in boc.get_cell_specimens(filters=f)] == [1, 3]
    assert [
        c["cell_specimen_id"] for c in boc.get_cell_specimens(filters=f, include_failed=True)
    ] == [1, 3, 4]
    assert [c["cell_specimen_id"] for c in boc.get_cell_specimens(filters="osi_dg >= 0.5")] == [1]
    assert [
        c["cell_specimen_id"]
        for c in boc.get_cell_specimens(ids=[2, 3], experiment_container_ids=200)
    ] == [3]
    with pytest.raises(UnknownIdError):
        boc.get_cell_specimens(ids=[99])
    with pytest.raises(ValueError, match="p_dg"):
        boc.get_cell_specimens(filters=[{"field": "p_dgg", "op": "<", "value": 1}])


def test_file_name_arguments(boc, tmp_path):
    """file_name = where the raw API JSON lives (AllenSDK's cache path); read, never downloaded."""
    obs = boc.observatory
    (tmp_path / "c.json").write_text(json.dumps(obs.raw("EXPERIMENT_CONTAINERS")[:1]))
    assert [c["id"] for c in boc.get_experiment_containers(file_name=tmp_path / "c.json")] == [100]
    assert (
        boc.get_experiment_containers(file_name=tmp_path / "c.json", simple=False)[0]["id"] == 100
    )
    (tmp_path / "e.json").write_text(json.dumps(obs.raw("EXPERIMENTS")[3:4]))
    assert [e["id"] for e in boc.get_ophys_experiments(file_name=str(tmp_path / "e.json"))] == [
        2000
    ]
    assert boc.get_ophys_experiments(file_name=tmp_path / "e.json", simple=False)[0]["id"] == 2000
    (tmp_path / "cells.json").write_text(json.dumps(obs.raw("CELL_SPECIMENS")[:2]))
    assert len(boc.get_cell_specimens(file_name=tmp_path / "cells.json")) == 2
    assert len(boc.get_cell_specimens()) == 3  # the main catalog is untouched
    with pytest.raises(DataDirError, match="does not download"):
        boc.get_cell_specimens(file_name=tmp_path / "none.json")


def test_session_level(boc, tiny_cache):
    assert boc.get_ophys_experiment_stimuli(1001) == [
        "static_gratings", "natural_scenes", "natural_movie_one", "spontaneous",
    ]  # fmt: skip
    assert boc.get_ophys_experiment_stimuli(5) is None
    assert boc.get_nwb_filepath() is None and boc.get_nwb_filepath(5) is None
    assert boc.get_nwb_filepath(1000) is None  # known but not downloaded
    with pytest.raises(NWBFileError, match="not downloaded"):
        boc.get_ophys_experiment_data(1000)
    with pytest.raises(NWBFileError, match="not downloaded"):
        boc.get_ophys_experiment_data(1000, file_name=tiny_cache / "x.nwb")
    with pytest.raises(UnknownIdError):
        boc.get_ophys_experiment_data(5)
    nwb = tiny_cache / "ophys_experiment_data" / "1000.nwb"
    nwb.parent.mkdir()
    nwb.write_bytes(b"")
    assert boc.get_nwb_filepath(1000) == str(nwb.resolve())


def test_default_manifest(monkeypatch, tiny_cache, tmp_path):
    monkeypatch.setenv("BRAINOBS_DATA", str(tiny_cache))
    assert BrainObservatoryCache().get_all_cre_lines() == ["Cux2-CreERT2", "Rbp4-Cre_KL100"]
    monkeypatch.setenv("BRAINOBS_DATA", str(tmp_path / "nothing"))
    with pytest.raises(DataDirError, match="brainobs synth"):
        BrainObservatoryCache()
