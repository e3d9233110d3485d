"""Cells table: real 316-cell ApiCamCellMetric export, value filters, save_cells."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from brainobs.catalog import FilterError, mask_for, open_observatory
from brainobs.errors import UnknownIdError, UnknownValueError


@pytest.fixture(scope="module")
def obs(real_cache_cells):
    return open_observatory(real_cache_cells)


def test_cells_loaded(obs, real_cells_csv):
    cells = obs.cells(include_failed=True)
    assert len(cells) == 316
    assert set(real_cells_csv.columns) <= set(cells.columns)
    assert cells["failed_experiment_container"].dtype == bool
    assert cells.groupby("experiment_container_id").size().to_dict() == {
        511498742: 259,
        511499656: 57,
    }
    assert cells["cell_specimen_id"].dtype == np.int64


def test_value_filters_match_pandas(obs, real_cells_csv):
    ref = real_cells_csv[real_cells_csv.failed_experiment_container == "f"]
    got = obs.cells(filters="p_dg < 0.05")
    assert sorted(got.cell_specimen_id) == sorted(ref[ref.p_dg < 0.05].cell_specimen_id)
    got = obs.cells(filters=["p_dg < 0.05", "dsi_dg >= 0.5"])
    expect = ref[(ref.p_dg < 0.05) & (ref.dsi_dg >= 0.5)]
    assert sorted(got.cell_specimen_id) == sorted(expect.cell_specimen_id) and len(expect) > 0
    got = obs.cells(filters="pref_image_ns == 3")
    assert sorted(got.cell_specimen_id) == sorted(ref[ref.pref_image_ns == 3].cell_specimen_id)
    got = obs.cells(filters=["osi_sg > 0.2", "osi_sg <= 0.8", "area != VISal"])
    expect = ref[(ref.osi_sg > 0.2) & (ref.osi_sg <= 0.8) & (ref.area != "VISal")]
    assert sorted(got.cell_specimen_id) == sorted(expect.cell_specimen_id)
    got = obs.cells(filters="area in [VISp, 'VISl']")
    assert set(got.area) == {"VISp"} and len(got) == 259
    assert len(obs.cells(filters="area not in [VISp]")) == 57
    assert len(obs.cells(filters="all_stim == true")) == int((ref.all_stim == "t").sum())
    assert len(obs.cells(filters="p_ns is null")) == int(ref.p_ns.isna().sum())
    assert len(obs.cells(filters="p_ns != None")) == int(ref.p_ns.notna().sum())
    between = obs.cells(filters="p_sg between [0.01, 0.1]")
    assert sorted(between.cell_specimen_id) == sorted(
        ref[ref.p_sg.between(0.01, 0.1)].cell_specimen_id
    )


def test_allensdk_dict_filters(obs, real_cells_csv):
    ref = real_cells_csv
    filters = [
        {"field": "area", "op": "in", "value": ["VISp"]},
        {"field": "p_dg", "op": "between", "value": [0.0, 0.05]},
        {"field": "osi_dg", "op": ">", "value": 0.5},
        {"field": "imaging_depth", "op": "=", "value": 350},
        {"field": "all_stim", "op": "is", "value": False},
    ]
    got = obs.cells(filters=filters)
    m = (
        (ref.area == "VISp")
        & ref.p_dg.between(0, 0.05)
        & (ref.osi_dg > 0.5)
        & (ref.imaging_depth == 350)
        & (ref.all_stim == "f")
    )
    assert sorted(got.cell_specimen_id) == sorted(ref[m].cell_specimen_id)
    assert len(obs.cells(filters={"field": "p_dg", "op": "<=", "value": 1.0})) == int(
        (ref.p_dg <= 1).sum()
    )
    assert len(obs.cells(filters=[])) == 316


def test_other_cell_args(obs, real_cells_csv):
    ids = real_cells_csv.cell_specimen_id.tolist()[:5]
    assert sorted(obs.cells(cell_specimen_id=ids).cell_specimen_id) == sorted(ids)
    assert len(obs.cells(container_id=511499656)) == 57
    assert len(obs.cells(area="VISal", cre_line="Rbp4-Cre_KL100", imaging_depth=375)) == 57
    with pytest.raises(UnknownIdError):
        obs.cells(cell_specimen_id=[1, 2])
    exps = obs.experiments(cell_specimen_id=ids[0])
    assert set(exps.experiment_container_id) == {511498742}


def test_filter_errors(obs):
    with pytest.raises(UnknownValueError, match="column") as err:
        obs.cells(filters="p_dgg < 0.05")
    assert err.value.suggestion == "p_dg"
    with pytest.raises(FilterError, match="Valid operators"):
        obs.cells(filters="p_dg =< 0.05")
    with pytest.raises(FilterError, match="Valid operators"):
        obs.cells(filters={"field": "p_dg", "op": "~", "value": 1})
    with pytest.raises(FilterError, match="Cannot parse"):
        obs.cells(filters="p_dg")
    with pytest.raises(FilterError, match="lacks"):
        obs.cells(filters={"field": "p_dg"})
    with pytest.raises(TypeError, match="each filter must be a str .* got int 3"):
        obs.cells(filters=[3])
    with pytest.raises(FilterError, match="list"):
        obs.cells(filters="p_dg in 3")
    with pytest.raises(FilterError, match="low, high"):
        obs.cells(filters="p_dg between [1]")
    with pytest.raises(FilterError, match="unclosed"):
        obs.cells(filters="area in [VISp")
    with pytest.raises(FilterError, match="single value"):
        obs.cells(filters={"field": "p_dg", "op": "<", "value": [1, 2]})
    with pytest.raises(FilterError, match="null"):
        obs.cells(filters="p_dg < null")
    with pytest.raises(FilterError, match="'<' does not apply to area"):
        obs.cells(filters="area < 3")
    with pytest.raises(FilterError, match="compare column donor_full_genotype"):
        obs.cells(filters="donor_full_genotype < 3")
    with pytest.raises(FilterError, match="missing value"):
        mask_for(pd.DataFrame({"a": [1]}), "a <  ")


def test_mask_for_plain_frame():
    df = pd.DataFrame({"x": [1.0, 2.0, np.nan], "s": ["a", "b", None]})
    assert mask_for(df, "x >= 2").tolist() == [False, True, False]
    assert mask_for(df, 's == "a"').tolist() == [True, False, False]
    assert mask_for(df, "x > -1.5e0").tolist() == [True, True, False]
    assert mask_for(df, None).all()


def test_save_cells(tmp_path, real_cache_cells):
    import shutil

    d = tmp_path / "c"
    shutil.copytree(real_cache_cells, d)
    obs = open_observatory(d)
    cells = obs.cells(include_failed=True)
    some = cells.cell_specimen_id.iloc[:10].to_numpy()
    obs.save_cells(
        pd.DataFrame({"cell_specimen_id": some, "p_dg": 0.001, "new_metric": np.arange(10.0)})
    )
    again = open_observatory(d).cells(include_failed=True).set_index("cell_specimen_id")
    assert (again.loc[some, "p_dg"] == 0.001).all()
    assert again.loc[some, "new_metric"].tolist() == list(np.arange(10.0))
    assert again["new_metric"].isna().sum() == 316 - 10
    # all rows at once keep the incoming dtype
    obs.save_cells(pd.DataFrame({"cell_specimen_id": cells.cell_specimen_id, "responsive": True}))
    assert obs.cells(include_failed=True)["responsive"].dtype == bool
    with pytest.raises(UnknownIdError):
        obs.save_cells(pd.DataFrame({"cell_specimen_id": [1], "p_dg": [0.1]}))
    with pytest.raises(ValueError, match="cell_specimen_id"):
        obs.save_cells(pd.DataFrame({"p_dg": [0.1]}))
    with pytest.raises(UnknownValueError):
        obs.table("nope")
    with pytest.raises(UnknownValueError):
        obs.write_table("nope", cells)
    obs.write_table("containers", obs.table("containers").head(3))
    assert len(open_observatory(d).containers(include_failed=True)) == 3


def test_computed_metrics_survive_a_json_rebuild_and_merge(tmp_path, real_cache_cells):
    import os
    import shutil

    d = tmp_path / "c"
    shutil.copytree(real_cache_cells, d)
    obs = open_observatory(d)
    cells = obs.cells(include_failed=True)
    ids = cells.cell_specimen_id.to_numpy()
    published = cells.set_index("cell_specimen_id")["osi_dg"]
    obs.save_cells(pd.DataFrame({"cell_specimen_id": ids[:5], "osi_dg": [0.5] * 4 + [np.nan]}))
    # a second, partial save merges: other cells and columns are kept
    obs.save_cells(pd.DataFrame({"cell_specimen_id": ids[3:7], "dsi_dg": 0.25}))
    # the JSON changes (newer mtime): the cell table is rebuilt from it ...
    js = d / "cell_specimens.json"
    later = js.stat().st_mtime + 100
    os.utime(js, (later, later))
    again = open_observatory(d).cells(include_failed=True).set_index("cell_specimen_id")
    # ... and the computed values are still laid over it
    assert again.loc[ids[:4], "osi_dg"].tolist() == [0.5] * 4
    assert np.isnan(again.loc[ids[4], "osi_dg"])  # a computed NaN wins over a published value
    assert again.loc[ids[5:], "osi_dg"].equals(published.loc[ids[5:]])
    assert (again.loc[ids[3:7], "dsi_dg"] == 0.25).all()
    assert again.loc[ids[7:], "dsi_dg"].equals(cells.set_index("cell_specimen_id").loc[ids[7:], "dsi_dg"])
    # two saves, two immutable parts of the append-only store (no single rewritten file)
    parts = sorted((d / ".brainobs/catalog/computed").glob("part-*.parquet"))
    assert len(parts) == 2 and not (d / ".brainobs/catalog/computed.parquet").exists()


def test_flatten_cells_flags_and_nulls():
    from brainobs.catalog._source import flatten_cells

    df = flatten_cells(
        [
            {"cell_specimen_id": 1, "experiment_container_id": 2, "failed_experiment_container": "f",
             "all_stim": "t", "x": None, "y": 1},
            {"cell_specimen_id": 2, "experiment_container_id": 2, "failed_experiment_container": "t",
             "all_stim": None, "x": None, "y": 2.5},
        ]
    )  # fmt: skip
    assert df["failed_experiment_container"].tolist() == [False, True]
    assert df["failed_experiment_container"].dtype == bool
    assert df["all_stim"].tolist()[0] is True and df["all_stim"].isna().tolist() == [False, True]
    assert df["x"].dtype == "float64" and df["y"].dtype == "float64"
    empty = flatten_cells([])
    assert empty.empty and empty["cell_specimen_id"].dtype == "int64" and "p_ns" in empty
