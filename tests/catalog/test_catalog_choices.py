"""Choices checked everywhere: aliases and short names, vocabulary values inside filters,
depths that exist, choices without data, wrong types, filter injection, incomplete sources.

Expected rows come from the raw JSON files of the tiny synthetic observatory, read here with
the json module (independent of the catalog code)."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pandas as pd
import pytest

from brainobs import vocab
from brainobs._validate import check_choices
from brainobs.catalog import Observatory, open_observatory
from brainobs.catalog.filters import FilterError
from brainobs.compat import BrainObservatoryCache
from brainobs.errors import (
    AmbiguousValueError,
    BrainobsError,
    DataDirError,
    UnknownAreaError,
    UnknownCreLineError,
    UnknownValueError,
)


@pytest.fixture(scope="module")
def obs_dir(tiny_observatory: Path, tmp_path_factory) -> Path:
    dst = tmp_path_factory.mktemp("choices") / "obs"
    shutil.copytree(tiny_observatory, dst, ignore=shutil.ignore_patterns(".brainobs"))
    return dst


@pytest.fixture(scope="module")
def obs(obs_dir: Path) -> Observatory:
    return open_observatory(obs_dir)


@pytest.fixture(scope="module")
def raw(obs_dir: Path) -> dict[str, list[dict]]:
    return {name: json.loads((obs_dir / f"{name}.json").read_text())
            for name in ("experiment_containers", "ophys_experiments", "cell_specimens")}


def _cre(container: dict) -> str:
    lines = container["specimen"]["donor"]["transgenic_lines"]
    return next(t["name"] for t in lines if t["transgenic_line_type_name"] == "driver" and "Cre" in t["name"])


def _container_ids(raw, area=None, cre=None) -> list[int]:
    return sorted(c["id"] for c in raw["experiment_containers"] if not c["failed"]
                  and (area is None or c["targeted_structure"]["acronym"] == area)
                  and (cre is None or _cre(c) == cre))


def _cell_ids(raw, area=None, cre=None) -> list[int]:
    return sorted(c["cell_specimen_id"] for c in raw["cell_specimens"] if not c["failed_experiment_container"]
                  and (area is None or c["area"] == area) and (cre is None or c["tld1_name"] == cre))


# ------------------------------------------------------------------ aliases and short names


@pytest.mark.parametrize("typed, area", [(k, v) for k, v in vocab.AREA_ALIASES.items()]
                         + [(k.lower(), v) for k, v in vocab.AREA_ALIASES.items()] + [("visp", "VISp"), ("VISL", "VISl")])
def test_area_aliases_select_like_the_full_name(obs, raw, typed, area):
    got = sorted(obs.containers(area=typed)["id"])
    assert got == _container_ids(raw, area=area)
    assert sorted(obs.cells(area=typed, warn=False)["cell_specimen_id"]) == _cell_ids(raw, area=area)


@pytest.mark.parametrize("typed, cre", [("Cux2", "Cux2-CreERT2"), ("cux2", "Cux2-CreERT2"), ("RORB", "Rorb-IRES2-Cre"),
                                        ("Rorb-IRES2", "Rorb-IRES2-Cre"), ("rorb-ires2-cre", "Rorb-IRES2-Cre")])
def test_cre_short_names_select_like_the_full_name(obs, raw, typed, cre):
    assert sorted(obs.containers(cre_line=typed)["id"]) == _container_ids(raw, cre=cre) != []
    assert sorted(obs.cells(cre_line=[typed], warn=False)["cell_specimen_id"]) == _cell_ids(raw, cre=cre)


def test_every_cre_gene_name_is_unambiguous_in_the_vocabulary():
    for full in vocab.CRE_LINES:
        gene = full.split("-")[0].split("_")[0]
        assert check_choices(gene, vocab.CRE_LINES, UnknownCreLineError, "cre_line", prefixes=True) == [full]


def test_partial_words_are_not_short_names(obs):
    for typed, closest in (("Pv", "Pvalb-IRES-Cre"), ("Rorb-IRES", "Rorb-IRES2-Cre"), ("Cux", "Cux2-CreERT2")):
        with pytest.raises(UnknownCreLineError) as err:
            obs.containers(cre_line=typed)
        assert err.value.suggestion == closest and repr(typed) in str(err.value)
        assert "Valid choices: Cux2-CreERT2, Emx1-IRES-Cre" in str(err.value)


def test_ambiguous_short_name_lists_the_candidates(obs):
    cont = obs.table("containers").copy()
    cont.loc[0, "cre_line"] = "Sst-Cre_XY"  # a catalog with a second Sst driver
    two = obs.with_tables({"containers": cont, "experiments": obs.table("experiments")})
    with pytest.raises(AmbiguousValueError) as err:
        two.containers(cre_line="sst")
    msg = str(err.value)
    assert "Ambiguous Cre line 'sst'" in msg and "Valid choices: Sst-Cre_XY, Sst-IRES-Cre." in msg
    assert isinstance(err.value, ValueError)
    assert list(two.containers(cre_line="Sst-Cre_XY", include_failed=True)["id"]) == [int(cont.loc[0, "id"])]


def test_compat_cache_accepts_the_same_names(obs_dir, raw):
    boc = BrainObservatoryCache(manifest_file=obs_dir / "manifest.json")
    full = boc.get_experiment_containers(targeted_structures=["VISp"], cre_lines=["Cux2-CreERT2"])
    assert [c["id"] for c in full] == _container_ids(raw, area="VISp", cre="Cux2-CreERT2")
    assert boc.get_experiment_containers(targeted_structures=["v1"], cre_lines=["cux2"]) == full
    cells = boc.get_cell_specimens(filters=[{"field": "area", "op": "=", "value": "V1"},
                                            {"field": "tld1_name", "op": "in", "value": ["Rorb"]}], warn=False)
    assert sorted(c["cell_specimen_id"] for c in cells) == _cell_ids(raw, area="VISp", cre="Rorb-IRES2-Cre")
    with pytest.raises(UnknownAreaError, match="'VISx'.*Valid choices: VISal"):
        boc.get_cell_specimens(filters=[{"field": "area", "op": "=", "value": "VISx"}])


def test_generate_observatory_accepts_the_same_names():
    from brainobs.synth.observatory import _design_arguments

    lines, _, areas = _design_arguments(["sst", "Cux2"], 1, ["V1", "lm"])
    assert lines == ["Sst-IRES-Cre", "Cux2-CreERT2"] and areas == ["VISp", "VISl"]
    with pytest.raises(UnknownAreaError, match="'V2'"):
        _design_arguments(None, 1, ["V2"])


# ---------------------------------------------------------------- vocabulary values in filters


@pytest.mark.parametrize("flt, area, cre", [
    ("area == visp", "VISp", None),
    ("area == V1", "VISp", None),
    ("area = 'lm'", "VISl", None),
    ("area is VISL", "VISl", None),
    ("tld1_name == Rorb", None, "Rorb-IRES2-Cre"),
    ("tld1_name == cux2-creert2", None, "Cux2-CreERT2"),
    ("cre_line == Cux2", None, "Cux2-CreERT2"),  # the containers' column name works on cells too
    ("targeted_structure == v1", "VISp", None),
])
def test_vocabulary_filters_are_normalized(obs, raw, flt, area, cre):
    got = sorted(obs.cells(filters=flt, warn=False)["cell_specimen_id"])
    assert got == _cell_ids(raw, area=area, cre=cre) != []


def test_in_and_not_in_filters_are_normalized(obs, raw):
    both = sorted(obs.cells(filters="area in [V1, lm]", warn=False)["cell_specimen_id"])
    assert both == _cell_ids(raw)
    not_v1 = sorted(obs.cells(filters="area not in ['v1']", warn=False)["cell_specimen_id"])
    assert not_v1 == _cell_ids(raw, area="VISl")
    assert sorted(obs.cells(filters="area != V1", warn=False)["cell_specimen_id"]) == not_v1


@pytest.mark.parametrize("flt, err, bad, choices", [
    ("area == visq", UnknownAreaError, "'visq'", "Valid choices: VISal, VISam, VISl, VISp, VISpm, VISrl."),
    ("area in [VISp, V2]", UnknownAreaError, "'V2'", "Valid choices: VISal, VISam, VISl, VISp, VISpm, VISrl."),
    ("tld1_name == Rorbx", UnknownCreLineError, "'Rorbx'", "Valid choices: Cux2-CreERT2, Emx1-IRES-Cre"),
    ("cre_line == Pv", UnknownCreLineError, "'Pv'", "Did you mean 'Pvalb-IRES-Cre'?"),
    ("tlr1_name == Ai9", UnknownValueError, "'Ai9'", "Valid choices: Ai148(TIT2L-GC6f-ICL-tTA2)"),
    ("area == 3", UnknownAreaError, "'3'", "Valid choices: VISal"),
])
def test_bad_vocabulary_filter_values_name_value_and_choices(obs, flt, err, bad, choices):
    with pytest.raises(err) as e:
        obs.cells(filters=flt)
    assert bad in str(e.value) and choices in str(e.value)


def test_ordering_on_a_vocabulary_column_is_refused(obs):
    with pytest.raises(FilterError, match="'<' does not apply to area .* use ==, !=, in or not in"):
        obs.cells(filters="area < VISp")


@pytest.mark.parametrize("flt, match", [
    ("p_dg < abc", "p_dg holds numbers; 'abc' is not a number"),
    ("p_dg == 'VISp'", "p_dg holds numbers; 'VISp' is not a number"),
    ("p_dg in [0.1, x]", "p_dg holds numbers; 'x' is not a number"),
    ("failed_experiment_container == yes", "failed_experiment_container is true/false; got 'yes'"),
])
def test_values_of_the_wrong_kind_are_errors_not_empty_answers(obs, flt, match):
    with pytest.raises(FilterError, match=match):
        obs.cells(filters=flt)


def test_number_typed_for_a_text_column_matches_its_text():
    from brainobs.catalog.filters import mask_for

    df = pd.DataFrame({"donor_name": ["222426", "10"], "x": [1.0, 2.0]})
    assert mask_for(df, "donor_name == 222426").tolist() == [True, False]
    assert mask_for(df, "donor_name in [10]").tolist() == [False, True]


@pytest.mark.parametrize("flt", [
    "__import__('os')",
    "__import__('os').system('touch PWNED')",
    "p_dg < 0.05; rm -rf /",
    "p_dg < __import__('os').system('touch PWNED')",
    "p_dg.__class__ < 1",
    "p_dg < 0.05 or 1 == 1",
    "`touch PWNED`",
    "p_dg < (lambda: 1)()",
    "area == VISp; DROP TABLE cells",
    "@pd.eval('1')",
    "",
])
def test_filter_injection_is_rejected_and_nothing_runs(obs, flt, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)

    def boom(*args, **kwargs):  # pragma: no cover - only runs if something executes the text
        raise AssertionError("a filter ran code")

    monkeypatch.setattr(os, "system", boom)
    with pytest.raises(BrainobsError) as err:
        obs.cells(filters=flt)
    assert isinstance(err.value, ValueError)
    assert not (tmp_path / "PWNED").exists()
    msg = str(err.value)
    assert ("Cannot parse filter" in msg and "Valid operators" in msg) or "not a number" in msg \
        or "Unknown" in msg or "Bad value" in msg or "needs a single value" in msg, msg


# ------------------------------------------------------------------------------- depths


def test_depth_that_does_not_exist_lists_the_depths(obs, raw):
    depths = sorted({c["imaging_depth"] for c in raw["experiment_containers"]})
    with pytest.raises(UnknownValueError) as err:
        obs.containers(imaging_depth=276)
    msg = str(err.value)
    assert "imaging depth (µm) 276" in msg and f"Valid choices: {', '.join(map(str, depths))}." in msg
    with pytest.raises(UnknownValueError, match="276"):
        obs.cells(imaging_depth=[276, 277])
    # as for ids: a list of which some exist selects those
    assert sorted(obs.containers(imaging_depth=[275, 276])["id"]) == sorted(
        c["id"] for c in raw["experiment_containers"] if c["imaging_depth"] == 275 and not c["failed"])


def test_depths_sort_as_numbers_in_messages():
    err = UnknownValueError(5, [1000, 175, 75], kind="imaging depth (µm)")
    assert "Valid choices: 75, 175, 1000." in str(err)


# ----------------------------------------------------------------------- choices without data


def test_explain_empty(obs, raw):
    areas = sorted({c["targeted_structure"]["acronym"] for c in raw["experiment_containers"] if not c["failed"]})
    assert obs.explain_empty(area="VISp") is None
    assert obs.explain_empty() is None
    assert obs.containers(area="VISam").empty
    assert obs.explain_empty(area="VISam") == f"No data for area VISam (areas with data: {', '.join(areas)})."
    # each choice has data, the combination has none: the combinations near it that have data
    pairs = sorted({(c["targeted_structure"]["acronym"], _cre(c)) for c in raw["experiment_containers"]
                    if not c["failed"] and (c["targeted_structure"]["acronym"] == "VISl" or _cre(c) == "Rorb-IRES2-Cre")})
    assert obs.containers(area="VISl", cre_line="Rorb").empty
    assert obs.explain_empty(area="lm", cre_line="Rorb") == (
        "No data for area VISl × Cre line Rorb-IRES2-Cre. Combinations with data (area × Cre line): "
        + ", ".join(f"{a} × {c}" for a, c in pairs) + ".")
    # the same through equality filters on the cell table's vocabulary columns
    assert obs.explain_empty(filters=["area == VISl", "tld1_name == Rorb", "p_dg < 0.05"]) == \
        obs.explain_empty(area="VISl", cre_line="Rorb-IRES2-Cre")
    # data only in a failed container
    failed = [c for c in raw["experiment_containers"] if c["failed"]]
    assert failed
    cre = _cre(failed[0])
    msg = obs.explain_empty(cre_line=cre)
    assert msg is not None and msg.startswith(f"No data for Cre line {cre} (Cre lines with data: ")
    assert "add --include-failed (include_failed=True)" in msg
    assert obs.explain_empty(cre_line=cre, include_failed=True) is None


def test_explain_empty_sessions(obs, raw):
    cid = raw["experiment_containers"][0]["id"]
    types = sorted(e["stimulus_name"] for e in raw["ophys_experiments"] if e["experiment_container_id"] == cid)
    assert "three_session_C" not in types
    all_types = sorted({e["stimulus_name"] for e in raw["ophys_experiments"]})
    assert obs.explain_empty(container_id=cid, session_type="three_session_C") == \
        f"No data for session type three_session_C (session types with data: {', '.join(all_types)})."
    msg = obs.explain_empty(area="VISl", cre_line="Rorb", stimuli="natural_scenes")
    assert msg is not None and msg.startswith(
        "No data for area VISl × Cre line Rorb-IRES2-Cre, with stimulus natural_scenes. Combinations with data "
        "(area × Cre line, with stimulus natural_scenes): ")


# --------------------------------------------------------------------------------- types


@pytest.mark.parametrize("call, name", [
    (lambda o: open_observatory(123), "data_dir"),
    (lambda o: Observatory(3.5), "data_dir"),
    (lambda o: o.cells(filters=5), "filters"),
    (lambda o: o.cells(filters={"p_dg < 0.05"}), "filters"),
    (lambda o: o.cells(filters=[0.05]), "each filter"),
    (lambda o: o.containers(cre_line=3.5), "cre_line"),
    (lambda o: o.containers(area=[None]), "area"),
    (lambda o: o.containers(area={"VISp": 1}), "area"),
    (lambda o: o.experiments(session_type=1), "session_type"),
    (lambda o: o.experiments(stimuli=[b"x", 2]), "stimuli"),
    (lambda o: o.containers(container_id=3.5), "container_id"),
    (lambda o: o.containers(container_id=True), "container_id"),
    (lambda o: o.containers(container_id="abc"), "container_id"),
    (lambda o: o.cells(cell_specimen_id=[600000000, None]), "cell_specimen_id"),
    (lambda o: o.containers(imaging_depth="deep"), "imaging_depth"),
    (lambda o: o.containers(include_failed="no"), "include_failed"),
    (lambda o: o.experiments(require_eye_tracking=1), "require_eye_tracking"),
    (lambda o: BrainObservatoryCache(manifest_file=123), "manifest_file"),
    (lambda o: BrainObservatoryCache(manifest_file=o.data_dir / "manifest.json").get_ophys_experiment_stimuli("x"),
     "experiment_id"),
])
def test_wrong_types_are_type_errors_naming_the_argument(obs, call, name):
    with pytest.raises(TypeError) as err:
        call(obs)
    msg = str(err.value)
    assert msg.startswith(f"{name} must be ") and "; got " in msg
    assert isinstance(err.value, BrainobsError)


def test_unknown_ids_say_which_exist(obs, raw):
    from brainobs.errors import UnknownIdError

    cells = sorted(c["cell_specimen_id"] for c in raw["cell_specimens"])
    with pytest.raises(UnknownIdError) as err:
        obs.cells(cell_specimen_id=[-1, 5])
    assert str(err.value) == (f"Unknown cell specimen id(s) in the catalog: -1, 5. The catalog has {len(cells)} "
                              f"cell specimens, ids {cells[0]} to {cells[-1]}; `brainobs cells` lists them.")
    conts = sorted(c["id"] for c in raw["experiment_containers"])
    with pytest.raises(UnknownIdError, match=f"Valid choices: {', '.join(map(str, conts))}[.]$"):
        obs.containers(container_id=0)


@pytest.mark.parametrize("method, kwargs, message", [
    ("get_experiment_containers", {"cre_lines": 3.5}, "cre_lines must be a str or a list of str; got float 3.5."),
    ("get_experiment_containers", {"ids": 2.5}, "ids must be an integer id or a list of integer ids; got float 2.5."),
    ("get_experiment_containers", {"targeted_structures": [None]}, "targeted_structures must be a str or a list"),
    ("get_experiment_containers", {"imaging_depths": "deep"},
     "imaging_depths must be an integer depth in µm or a list of them; got str 'deep'."),
    ("get_ophys_experiments", {"experiment_container_ids": 1.5}, "experiment_container_ids must be an integer id"),
    ("get_ophys_experiments", {"session_types": 7}, "session_types must be a str or a list of str; got int 7."),
    ("get_cell_specimens", {"ids": 1.5}, "ids must be an integer id"),
    ("get_cell_specimens", {"filters": 5}, "filters must be a str such as 'p_dg < 0.05', an AllenSDK filter dict"),
    ("get_cell_specimens", {"include_failed": "yes"}, "include_failed must be True or False; got str 'yes'."),
])
def test_compat_type_errors_use_the_allensdk_argument_names(obs_dir, method, kwargs, message):
    boc = BrainObservatoryCache(manifest_file=obs_dir / "manifest.json")
    with pytest.raises(TypeError) as err:
        getattr(boc, method)(**kwargs)
    assert str(err.value).startswith(message)


def test_whole_float_and_digit_string_ids_still_work(obs, raw):
    cid = raw["experiment_containers"][0]["id"]
    assert list(obs.containers(container_id=float(cid))["id"]) == [cid]
    assert list(obs.containers(container_id=str(cid))["id"]) == [cid]


# ----------------------------------------------------------------------- incomplete sources


def _edit(src: Path, dst: Path, name: str, change) -> Path:
    shutil.copytree(src, dst, ignore=shutil.ignore_patterns(".brainobs", "ophys_experiment_data", "ground_truth"))
    records = json.loads((dst / name).read_text())
    change(records)
    (dst / name).write_text(json.dumps(records))
    return dst


@pytest.mark.parametrize("name, change, field", [
    ("experiment_containers.json", lambda r: r[1].pop("targeted_structure"), "targeted_structure.acronym (the area)"),
    ("experiment_containers.json", lambda r: r[2]["targeted_structure"].pop("acronym"), "targeted_structure"),
    ("experiment_containers.json", lambda r: r[0].update(imaging_depth=None), "imaging_depth"),
    ("experiment_containers.json", lambda r: r[0]["specimen"]["donor"].update(transgenic_lines=[]),
     "a Cre driver line"),
    ("ophys_experiments.json", lambda r: r[3].pop("stimulus_name"), "stimulus_name (the session type)"),
    ("ophys_experiments.json", lambda r: r[0].pop("targeted_structure"), "targeted_structure"),
    ("cell_specimens.json", lambda r: [c.pop("area") for c in r], "records lack area"),
    ("cell_specimens.json", lambda r: r[5].update(tld1_name=None), "tld1_name (the Cre line)"),
])
def test_source_without_a_required_field_is_rejected(obs_dir, tmp_path, name, change, field):
    d = _edit(obs_dir, tmp_path / "d", name, change)
    with pytest.raises(DataDirError) as err:
        o = open_observatory(d)
        o.containers()
        o.cells(warn=False)
    msg = str(err.value)
    assert msg.startswith(str(d / name)) and field in msg and "record" in msg


def test_compat_file_name_without_a_required_field_is_rejected(obs_dir, tmp_path):
    records = json.loads((obs_dir / "experiment_containers.json").read_text())
    for r in records:
        r.pop("targeted_structure")
    path = tmp_path / "foreign.json"
    path.write_text(json.dumps(records))
    boc = BrainObservatoryCache(manifest_file=obs_dir / "manifest.json")
    with pytest.raises(DataDirError, match=f"{path}: {len(records)} of {len(records)} experiment container "
                                           r"records lack targeted_structure\.acronym"):
        boc.get_experiment_containers(file_name=path)
