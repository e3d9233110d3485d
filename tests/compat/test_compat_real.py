"""The AllenSDK-compatible cache on the real 2017 release catalog (../shared), checked
against the independently flattened experiment CSV and the real 316-cell metric export."""

from __future__ import annotations

import pandas as pd
import pytest

from brainobs.compat import BrainObservatoryCache
from brainobs.errors import UnknownCreLineError


@pytest.fixture(scope="module")
def boc(real_cache_cells):
    return BrainObservatoryCache(manifest_file=str(real_cache_cells / "manifest.json"))


def test_vocabularies_match_the_release(boc, flat_experiments):
    passed = flat_experiments[~flat_experiments["container_failed"]]
    assert boc.get_all_targeted_structures() == sorted(passed["targeted_structure"].unique())
    assert boc.get_all_cre_lines() == sorted(passed["cre_line"].unique())
    assert boc.get_all_imaging_depths() == sorted(int(d) for d in passed["imaging_depth"].unique())
    assert boc.get_all_session_types() == sorted(passed["session_type"].unique())


def test_tutorial_container_and_experiment_queries(boc, flat_experiments):
    ecs = boc.get_experiment_containers(targeted_structures=["VISp"], cre_lines=["Cux2-CreERT2"])
    df = flat_experiments
    want = df[(df.targeted_structure == "VISp") & (df.cre_line == "Cux2-CreERT2") & ~df.container_failed]
    assert sorted(ec["id"] for ec in ecs) == sorted(want["experiment_container_id"].unique())
    assert all(set(ec) >= {"id", "imaging_depth", "targeted_structure", "cre_line", "reporter_line",
                           "donor_name", "specimen_name", "tags", "failed"} for ec in ecs)
    ec_ids = [ec["id"] for ec in ecs]
    exps = boc.get_ophys_experiments(experiment_container_ids=ec_ids, stimuli=["natural_scenes"])
    ns = want[want.session_type == "three_session_B"]
    assert sorted(e["id"] for e in exps) == sorted(ns["ophys_experiment_id"])
    by_id = {e["id"]: e for e in exps}
    for _, row in ns.iterrows():
        e = by_id[row["ophys_experiment_id"]]
        assert e["experiment_container_id"] == row["experiment_container_id"]
        assert e["imaging_depth"] == row["imaging_depth"] and e["session_type"] == "three_session_B"
        assert e["donor_name"] == str(row["donor_name"])
    # session types and failed containers
    all_a = boc.get_ophys_experiments(session_types=["three_session_A"], include_failed=True)
    assert len(all_a) == int((df.session_type == "three_session_A").sum()) == 216
    lsn = boc.get_ophys_experiments(stimuli=["locally_sparse_noise_4deg"])
    assert {e["session_type"] for e in lsn} == {"three_session_C2"}


def test_cell_specimens_with_filters_on_real_metrics(boc, real_cells_csv):
    cells = boc.get_cell_specimens(filters=[{"field": "p_dg", "op": "<", "value": 0.05},
                                            {"field": "dsi_dg", "op": ">", "value": 0.5}])
    df = real_cells_csv
    want = df[(df.p_dg < 0.05) & (df.dsi_dg > 0.5) & (df.failed_experiment_container == "f")]
    assert sorted(c["cell_specimen_id"] for c in cells) == sorted(want["cell_specimen_id"])
    assert cells and not any(k.endswith(("_large", "_small")) for k in cells[0])  # simple=True
    full = boc.get_cell_specimens(ids=[int(want["cell_specimen_id"].iloc[0])], simple=False)
    assert any(k.endswith("_large") for k in full[0])
    frame = pd.DataFrame(boc.get_cell_specimens(experiment_container_ids=[511498742]))
    assert len(frame) == 259 and set(frame["tld1_name"]) == {"Scnn1a-Tg3-Cre"}


def test_helpful_error_instead_of_silence(boc):
    with pytest.raises(UnknownCreLineError, match="Rorb-IRES2-Cre"):
        boc.get_experiment_containers(cre_lines=["Rorb-IRES-Cre"])
    # short names and area aliases give what the full names give
    full = boc.get_experiment_containers(targeted_structures=["VISp"], cre_lines=["Rorb-IRES2-Cre"])
    assert full and boc.get_experiment_containers(targeted_structures=["v1"], cre_lines=["Rorb"]) == full
    # a plain string is accepted where AllenSDK raises TypeError
    assert boc.get_experiment_containers(targeted_structures="VISrl") == \
        boc.get_experiment_containers(targeted_structures=["VISrl"])
