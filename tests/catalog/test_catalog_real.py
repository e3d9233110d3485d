"""Catalog over the real 2017-release experiment_containers.json (216 containers)."""

from __future__ import annotations

import pytest

from brainobs.catalog import open_observatory
from brainobs.errors import (
    NWBFileError,
    UnknownAreaError,
    UnknownCreLineError,
    UnknownIdError,
    UnknownSessionTypeError,
    UnknownStimulusError,
    UnknownValueError,
)


@pytest.fixture(scope="module")
def obs(real_cache):
    return open_observatory(real_cache)


def test_counts(obs):
    allc = obs.containers(include_failed=True)
    assert len(allc) == 216
    assert int(allc["failed"].sum()) == 35
    assert len(obs.containers()) == 181
    assert allc["cre_line"].str.split("-").str[0].value_counts().to_dict() == {
        "Cux2": 62, "Emx1": 43, "Nr5a1": 37, "Rorb": 34, "Rbp4": 31, "Scnn1a": 9,
    }  # fmt: skip
    assert allc["targeted_structure"].value_counts().to_dict() == {
        "VISp": 66, "VISl": 38, "VISpm": 36, "VISal": 35, "VISam": 25, "VISrl": 16,
    }  # fmt: skip
    exps = obs.experiments(include_failed=True)
    assert len(exps) == 648
    assert exps["session_type"].value_counts().to_dict() == {
        "three_session_A": 216, "three_session_B": 216, "three_session_C": 114, "three_session_C2": 102,
    }  # fmt: skip
    assert not obs.is_synthetic
    assert obs.cells().empty and "p_dg" in obs.cells().columns


def test_columns_and_vocab(obs):
    c = obs.containers()
    for col in ["id", "imaging_depth", "targeted_structure", "cre_line", "reporter_line",
                "donor_name", "specimen_name", "specimen_id", "tags", "failed"]:  # fmt: skip
        assert col in c.columns
    e = obs.experiments()
    for col in ["acquisition_age_days", "experiment_container_id", "session_type", "fail_eye_tracking",
                "specimen_id", "date_of_acquisition"]:  # fmt: skip
        assert col in e.columns
    assert obs.areas() == ["VISal", "VISam", "VISl", "VISp", "VISpm", "VISrl"]
    assert len(obs.cre_lines()) == 6 and "Rorb-IRES2-Cre" in obs.cre_lines()
    assert obs.session_types() == [
        "three_session_A",
        "three_session_B",
        "three_session_C",
        "three_session_C2",
    ]
    assert "natural_scenes" in obs.stimuli() and len(obs.stimuli()) == 10
    assert all(isinstance(d, int) for d in obs.imaging_depths())
    assert "Ai93(TITL-GCaMP6f)" in obs.reporter_lines()


def test_matches_derived_csv(obs, flat_experiments):
    flat = flat_experiments
    exps = obs.experiments(include_failed=True).set_index("id").sort_index()
    ref = flat.set_index("ophys_experiment_id").sort_index()
    assert (exps.index == ref.index).all()
    for mine, theirs in [("session_type", "session_type"), ("targeted_structure", "targeted_structure"),
                         ("cre_line", "cre_line"), ("reporter_line", "reporter_line"),
                         ("experiment_container_id", "experiment_container_id"),
                         ("fail_eye_tracking", "fail_eye_tracking"), ("container_failed", "container_failed"),
                         ("imaging_depth", "imaging_depth")]:  # fmt: skip
        assert (exps[mine].to_numpy() == ref[theirs].to_numpy()).all(), mine


def test_filters_vs_independent(obs, flat_experiments):
    flat = flat_experiments
    got = obs.containers(area="VISp", cre_line="Rorb-IRES2-Cre")
    assert len(got) > 0
    assert (got["targeted_structure"] == "VISp").all() and (
        got["cre_line"] == "Rorb-IRES2-Cre"
    ).all()
    sel = flat[
        (flat.targeted_structure == "VISp")
        & (flat.cre_line == "Rorb-IRES2-Cre")
        & ~flat.container_failed
    ]
    assert len(got) == sel.experiment_container_id.nunique()
    # string and list spellings, case-insensitive
    same = obs.containers(area=["visp"], cre_line=["rorb-ires2-cre"])
    assert same["id"].tolist() == got["id"].tolist()

    ns = obs.experiments(stimuli=["natural_scenes"])
    assert set(ns["session_type"]) == {"three_session_B"}
    assert len(ns) == int(((flat.session_type == "three_session_B") & ~flat.container_failed).sum())

    lsn = obs.experiments(stimuli="locally_sparse_noise_8deg", include_failed=True)
    assert set(lsn["session_type"]) == {"three_session_C2"} and len(lsn) == 102

    eye = obs.experiments(require_eye_tracking=True)
    assert len(eye) == int((~flat.fail_eye_tracking & ~flat.container_failed).sum())

    d = obs.experiments(
        imaging_depth=[175, 375], session_type="three_session_A", reporter_line="Ai93(TITL-GCaMP6f)"
    )
    ref = flat[flat.imaging_depth.isin([175, 375]) & (flat.session_type == "three_session_A")
               & (flat.reporter_line == "Ai93(TITL-GCaMP6f)") & ~flat.container_failed]  # fmt: skip
    assert sorted(d["id"]) == sorted(ref.ophys_experiment_id)

    cid = int(got["id"].iloc[0])
    assert len(obs.experiments(container_id=cid)) == int(
        (flat.experiment_container_id == cid).sum()
    )
    assert len(obs.containers(container_id=[cid, 1])) == 1  # unknown ids among known: ignored

    tg = obs.containers(transgenic_line="camk2a-tta", include_failed=True)
    assert len(tg) == int(
        flat[flat.donor_full_genotype.str.contains("Camk2a-tTA")].experiment_container_id.nunique()
    )


def test_vocabulary_errors(obs, flat_experiments):
    with pytest.raises(UnknownCreLineError, match="Rorb-IRES2-Cre") as err:
        obs.containers(cre_line="Rorb-IRES-Cre")
    assert err.value.suggestion == "Rorb-IRES2-Cre"
    # short names, other cases and the usual area names are accepted (checked against the
    # independent flat table of the release)
    flat = flat_experiments[~flat_experiments.container_failed]
    rorb = sorted(flat[flat.cre_line == "Rorb-IRES2-Cre"].experiment_container_id.unique())
    assert sorted(obs.containers(cre_line="Rorb")["id"]) == rorb
    assert sorted(obs.containers(cre_line="rorb-ires2-cre")["id"]) == rorb
    assert set(obs.experiments(cre_line=["cux2"])["cre_line"]) == {"Cux2-CreERT2"}
    for alias, area in [("V1", "VISp"), ("lm", "VISl"), ("AL", "VISal"), ("pm", "VISpm"),
                        ("AM", "VISam"), ("rl", "VISrl")]:
        want = sorted(flat[flat.targeted_structure == area].experiment_container_id.unique())
        assert want and sorted(obs.containers(area=alias)["id"]) == want
    with pytest.raises(UnknownAreaError) as err:
        obs.cells(area="VISpn")
    assert err.value.suggestion in {"VISp", "VISpm"}
    with pytest.raises(UnknownSessionTypeError) as err:
        obs.experiments(session_type="three_session_D")
    with pytest.raises(UnknownStimulusError) as err:
        obs.experiments(stimuli="natural_scene")
    assert err.value.suggestion == "natural_scenes"
    with pytest.raises(UnknownValueError, match="reporter line"):
        obs.containers(reporter_line="Ai9")
    with pytest.raises(UnknownValueError, match="transgenic line"):
        obs.containers(transgenic_line="nope-line")
    with pytest.raises(ValueError):  # all Unknown*Error are ValueErrors
        obs.containers(cre_line="Pv")  # not a whole part of "Pvalb-IRES-Cre"
    # vocab constants are valid even when absent from this release: empty, not an error
    assert obs.containers(cre_line="Vip-IRES-Cre").empty


def test_ids(obs, real_cache):
    with pytest.raises(UnknownIdError, match="123"):
        obs.containers(container_id=123)
    with pytest.raises(UnknownIdError):
        obs.experiments(experiment_id=[1, 2])
    with pytest.raises(UnknownIdError):
        obs.session_path(42)
    with pytest.raises(TypeError, match="container_id must be an integer id .* got str 'abc'"):
        obs.containers(container_id="abc")
    eid = int(obs.experiments()["id"].iloc[0])
    path = obs.session_path(eid)
    assert path == real_cache.resolve() / "ophys_experiment_data" / f"{eid}.nwb"
    with pytest.raises(NWBFileError, match="not downloaded"):
        obs.session(eid)
    assert obs.experiments(experiment_id=eid)["id"].tolist() == [eid]


def test_open_via_manifest_path(real_cache):
    obs = open_observatory(real_cache / "manifest.json")
    assert len(obs.containers()) == 181
    assert "Observatory(" in repr(obs)
    assert (
        obs.raw("EXPERIMENTS")[0]["experiment_container"]["id"]
        == obs.raw("EXPERIMENT_CONTAINERS")[0]["id"]
    )
    assert any(m["item_type"] == "T" for m in obs.stimulus_mappings())
