"""analyze / analyze_container / catalog storage, on the tiny synthetic observatory."""

from __future__ import annotations

import shutil

import numpy as np
import pandas as pd
import pytest

from brainobs.catalog import open_observatory
from brainobs.errors import MissingMetricsWarning, UnknownSessionTypeError, UnknownValueError
from brainobs.metrics import (
    analyze,
    analyze_catalog_container,
    analyze_container,
    publishable,
    session_letter,
)


@pytest.fixture(scope="module")
def obs(tiny_observatory, tmp_path_factory):
    dst = tmp_path_factory.mktemp("analyze") / "obs"
    shutil.copytree(tiny_observatory, dst)
    return open_observatory(dst)


def _session(obs, session_type):
    eid = int(obs.experiments(session_type=session_type).iloc[0]["id"])
    return obs.session(eid)


def test_analyze_one_family_and_session_columns(obs):
    with _session(obs, "three_session_A") as s:
        t = analyze(s, families=["natural_movies"])
        speed = s.running_speed()["speed"].to_numpy()
        assert t.index.name == "cell_specimen_id"
        np.testing.assert_array_equal(t.index.to_numpy(), s.cell_specimen_ids)
        assert {"reliability_nm1", "reliability_nm3"} <= set(t.columns)
        assert "reliability_nm2" not in t.columns  # session A does not show movie two
        assert t["mean_running_speed"].nunique() == 1
        assert t["mean_running_speed"].iloc[0] == pytest.approx(np.nanmean(speed))
        assert (t["ophys_experiment_id"] == s.ophys_experiment_id).all()
        assert (t["session_type"] == "three_session_A").all()
        with pytest.raises(UnknownValueError, match="natural_movies"):
            analyze(s, families=["natural_movie"])


def test_container_merge_suffixes_per_session_columns(obs):
    cid = int(obs.containers().iloc[0]["id"])
    exps = obs.experiments(container_id=cid)
    sessions = [obs.session(int(i)) for i in exps["id"]]
    seen = []
    table = analyze_container(sessions, families=["natural_movies"],
                              progress=lambda d, t, msg: seen.append((d, t)))
    assert seen[-1] == (3, 3)
    assert {"reliability_nm1_a", "reliability_nm1_b", "reliability_nm1_c", "reliability_nm2",
            "reliability_nm3", "mean_running_speed_a", "mean_running_speed_b",
            "mean_running_speed_c"} <= set(table.columns)
    assert (table["experiment_container_id"] == cid).all()
    # each suffixed column is the value of that session's own analysis
    by_type = {s.session_type: s for s in sessions}
    one = analyze(by_type["three_session_B"], families=["natural_movies"])
    pd.testing.assert_series_equal(table["reliability_nm1_b"], one["reliability_nm1"],
                                   check_names=False)
    with pytest.raises(ValueError, match="at least one"):
        analyze_container([])
    for s in sessions:
        s.close()


def test_results_are_stored_in_the_catalog(obs):
    cid = int(obs.containers().iloc[0]["id"])
    table = analyze_catalog_container(obs, cid, families=["natural_movies"])
    again = open_observatory(obs.data_dir).cells(container_id=cid).set_index("cell_specimen_id")
    np.testing.assert_allclose(again.loc[table.index, "reliability_nm1_a"], table["reliability_nm1_a"])
    # the other containers have no movie metrics yet: the filter says so
    n = len(obs.containers())
    with pytest.warns(MissingMetricsWarning, match=f"{n - 1} of {n} containers .* natural_movies"):
        hits = open_observatory(obs.data_dir).cells(filters="reliability_nm1_a > -2")
    assert set(table.index) <= set(hits["cell_specimen_id"])
    # identity columns keep their integer type once metrics are laid over the table
    everything = open_observatory(obs.data_dir).cells(include_failed=True, warn=False)
    assert pd.api.types.is_integer_dtype(everything["experiment_container_id"])
    assert pd.api.types.is_integer_dtype(everything["cell_specimen_id"])


def test_publishable_and_letters():
    assert [session_letter(t) for t in ("three_session_A", "three_session_B", "three_session_C",
                                        "three_session_C2")] == ["a", "b", "c", "c"]
    with pytest.raises(UnknownSessionTypeError):
        session_letter("three_session_D")
    t = pd.DataFrame({"reliability_nm1": [0.1], "mean_running_speed": [2.0]},
                     index=pd.Index([1], name="cell_specimen_id"))
    assert list(publishable(t).columns) == ["reliability_nm1", "mean_running_speed"]


def test_compat_cache_returns_stored_metrics(obs):
    from brainobs.compat import BrainObservatoryCache

    cid = int(obs.containers().iloc[1]["id"])
    analyze_catalog_container(obs, cid, families=["drifting_gratings"])
    a_id = int(obs.experiments(container_id=cid, session_type="three_session_A").iloc[0]["id"])
    with obs.session(a_id) as s:
        dg = analyze(s, families=["drifting_gratings"])
    expected = set(dg.index[dg["p_dg"] < 0.05])
    assert expected, "the tiny container should have direction-tuned cells"
    boc = BrainObservatoryCache(manifest_file=str(obs.data_dir / "manifest.json"))
    cells = boc.get_cell_specimens(experiment_container_ids=[cid],
                                   filters=[{"field": "p_dg", "op": "<", "value": 0.05}])
    assert {c["cell_specimen_id"] for c in cells} == expected
    by_id = {c["cell_specimen_id"]: c for c in cells}
    for csid in expected:
        assert by_id[csid]["pref_dir_dg"] == dg.loc[csid, "pref_dir_dg"]
        assert by_id[csid]["dsi_dg"] == pytest.approx(dg.loc[csid, "dsi_dg"], rel=1e-12)
