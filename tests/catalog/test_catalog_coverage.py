"""Metric coverage per container and the MissingMetricsWarning of cell queries."""

from __future__ import annotations

import doctest
import shutil
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from brainobs import vocab
from brainobs.catalog import coverage, open_observatory
from brainobs.errors import MissingMetricsWarning, UnknownValueError
from brainobs.metrics import FAMILIES, analyze_catalog_container

FAMS = list(vocab.METRIC_FAMILIES)


@pytest.fixture
def obs(tiny_observatory: Path, tmp_path: Path):
    # a private copy: these tests store metrics into the catalog
    dst = tmp_path / "obs"
    shutil.copytree(tiny_observatory, dst)
    return open_observatory(dst)


def _cux2(obs) -> list[int]:
    return [int(i) for i in obs.containers(cre_line="Cux2-CreERT2")["id"]]


def test_doctests_of_the_coverage_module_and_vocab():
    for module in (coverage, vocab):
        result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
        assert result.failed == 0 and result.attempted > 0


def test_family_vocabulary_is_the_metrics_one():
    assert list(FAMILIES) == FAMS == list(vocab.FAMILY_COLUMNS) == list(vocab.FAMILY_STIMULI)
    for fam, (_, _, stimuli) in FAMILIES.items():
        assert stimuli == vocab.FAMILY_STIMULI[fam]
        for col in vocab.FAMILY_COLUMNS[fam]:
            assert vocab.metric_family(col) == fam
    assert vocab.metric_family("pref_image_ns") == "natural_scenes"
    assert vocab.metric_family("rf_area_on_lsn") == "locally_sparse_noise"
    assert vocab.metric_family("tld1_name") is None
    assert vocab.session_families(["three_session_C2"]) == ["natural_movies", "locally_sparse_noise"]


def test_coverage_before_and_after_analyzing_one_container(obs):
    before = obs.metric_coverage()
    assert list(before.columns) == ["id", "targeted_structure", "cre_line", "imaging_depth",
                                    "n_cells", *FAMS, "sessions_on_disk"]
    passed = obs.containers()
    assert before["id"].tolist() == passed["id"].tolist()  # non-failed containers only
    assert before["cre_line"].tolist() == passed["cre_line"].tolist()
    assert (before["n_cells"] == 8).all() and before["n_cells"].dtype == np.int64
    assert not before[FAMS].to_numpy().any()  # synthetic cell table: no published metrics
    assert before["sessions_on_disk"].all()
    assert all(before[f].dtype == bool for f in FAMS)

    cid = int(passed["id"].iloc[0])
    analyze_catalog_container(obs, cid, families=["drifting_gratings", "natural_scenes"])
    after = obs.metric_coverage().set_index("id")
    assert after.loc[cid, "drifting_gratings"] and after.loc[cid, "natural_scenes"]
    assert not after.loc[cid, ["static_gratings", "natural_movies", "locally_sparse_noise"]].any()
    assert not after.drop(index=cid)[FAMS].to_numpy().any()
    # a fresh Observatory reads the same from the store
    again = open_observatory(obs.data_dir).metric_coverage(container_id=cid, families="natural_scenes")
    assert list(again.columns) == ["id", "targeted_structure", "cre_line", "imaging_depth",
                                   "n_cells", "natural_scenes", "sessions_on_disk"]
    assert again["natural_scenes"].tolist() == [True]
    # one cell with a value is enough (any reliability_nm* column for the movies)
    other = int(passed["id"].iloc[1])
    one = obs.cells(container_id=other, warn=False)["cell_specimen_id"].iloc[:1]
    obs.save_cells(pd.DataFrame({"cell_specimen_id": one, "reliability_nm3": [0.2]}))
    assert obs.metric_coverage(container_id=other)["natural_movies"].tolist() == [True]
    # a NaN that brainobs computed and stored counts (recomputing would give NaN again) ...
    obs.save_cells(pd.DataFrame({"cell_specimen_id": one, "p_sg": [np.nan]}))
    assert obs.metric_coverage(container_id=other)["static_gratings"].tolist() == [True]
    assert open_observatory(obs.data_dir).metric_coverage(container_id=other)["static_gratings"].all()
    # ... a NaN of the published table does not
    assert obs.cells(container_id=other, warn=False)["p_dg"].isna().all()
    assert obs.metric_coverage(container_id=other)["drifting_gratings"].tolist() == [False]


def test_coverage_filters_and_files_on_disk(obs):
    cux = obs.metric_coverage(cre_line="Cux2-CreERT2", families=["natural_movies", "drifting_gratings"])
    assert sorted(cux["id"]) == sorted(_cux2(obs))
    assert [c for c in cux.columns if c in FAMS] == ["drifting_gratings", "natural_movies"]
    assert obs.metric_coverage(area="VISl", cre_line="Cux2-CreERT2")["targeted_structure"].tolist() == ["VISl"]
    with pytest.raises(UnknownValueError, match="natural_scenes"):
        obs.metric_coverage(families="natural_scene")
    failed = obs.containers(include_failed=True).query("failed")["id"].tolist()
    assert failed and not set(failed) & set(obs.metric_coverage()["id"])
    assert set(failed) <= set(obs.metric_coverage(include_failed=True)["id"])
    victim = int(obs.experiments(container_id=_cux2(obs)[0])["id"].iloc[1])
    obs.session_path(victim).unlink()
    on_disk = obs.metric_coverage().set_index("id")["sessions_on_disk"]
    assert not on_disk[_cux2(obs)[0]] and on_disk.drop(index=_cux2(obs)[0]).all()


def test_coverage_of_the_published_table(real_cache_cells, real_cells_csv):
    obs = open_observatory(real_cache_cells)
    ids = sorted(real_cells_csv["experiment_container_id"].unique())
    got = obs.metric_coverage(container_id=ids).set_index("id")
    ref = real_cells_csv.groupby("experiment_container_id")
    assert got["n_cells"].to_dict() == ref.size().to_dict()
    for fam, cols in vocab.FAMILY_COLUMNS.items():
        present = ref[[c for c in cols if c in real_cells_csv]].apply(lambda g: g.notna().any().any())
        assert got[fam].to_dict() == present.to_dict()
    assert got[FAMS].to_numpy().all() and not got["sessions_on_disk"].any()  # no NWB files here
    # containers without cells in the table: nothing present
    everything = obs.metric_coverage()
    rest = everything[~everything["id"].isin(ids)]
    assert len(rest) and (rest["n_cells"] == 0).all() and not rest[FAMS].to_numpy().any()
    # and the published table answers filters without any warning (pytest errors on one)
    assert len(obs.cells(filters="p_ns < 0.05")) > 0


def test_metric_filter_warns_with_counts_and_command(obs):
    cux = _cux2(obs)
    with pytest.warns(MissingMetricsWarning) as rec:
        cells = obs.cells(cre_line="Cux2-CreERT2", filters="p_ns < 0.05")
    assert cells.empty
    assert len(rec) == 1 and rec[0].filename == __file__  # points at the caller
    msg = str(rec[0].message)
    assert msg.startswith("2 of 2 containers (Cux2-CreERT2 in VISl, VISp) in this selection "
                          "have no natural_scenes metrics")
    assert (f"run `brainobs analyze --missing --cre-line Cux2-CreERT2 --family natural_scenes "
            f"--data-dir {obs.data_dir}`") in msg
    assert "brainobs.parallel.analyze_missing(obs, cre_line=['Cux2-CreERT2'], " \
           "families=['natural_scenes'])" in msg

    analyze_catalog_container(obs, cux[0], families=["natural_scenes"])
    with pytest.warns(MissingMetricsWarning, match="^1 of 2 containers .* has no natural_scenes"):
        cells = obs.cells(cre_line="Cux2-CreERT2", filters="p_ns < 0.05")
    assert set(cells["experiment_container_id"]) <= {cux[0]}
    analyze_catalog_container(obs, cux[1], families=["natural_scenes"])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        full = obs.cells(cre_line="Cux2-CreERT2", filters="p_ns < 0.05")
    assert len(full) > len(cells)


def test_several_families_and_structured_answer(obs):
    cux = _cux2(obs)
    analyze_catalog_container(obs, cux[0], families=["natural_scenes"])
    sel = obs.select_cells(cre_line="Cux2-CreERT2", filters=["p_ns < 0.05", "dsi_dg > 0.5"])
    gap = sel.missing
    assert gap is not None and gap.reason == "filter"
    assert gap.lacking == {"drifting_gratings": tuple(sorted(cux)), "natural_scenes": (cux[1],)}
    assert gap.containers == tuple(sorted(cux)) and gap.selected == tuple(sorted(cux))
    assert "2 of 2 containers" in gap.message and "1 of 2 (" in gap.message
    assert "--family drifting_gratings --family natural_scenes" in gap.command
    assert sel.cells.empty
    # warn=False: the same table, no warning
    assert obs.cells(cre_line="Cux2-CreERT2", filters=["p_ns < 0.05", "dsi_dg > 0.5"], warn=False).empty


def test_no_metric_filter_warns_only_for_containers_without_any_metrics(obs):
    n = len(obs.containers())
    with pytest.warns(MissingMetricsWarning, match=f"^{n} of {n} containers .* no computed metrics"):
        obs.cells()
    first = int(obs.containers()["id"].iloc[0])

    def store_dg(cid: int) -> None:  # stands for analyze_catalog_container(..., ["drifting_gratings"])
        ids = obs.cells(container_id=cid, warn=False)["cell_specimen_id"]
        obs.save_cells(pd.DataFrame({"cell_specimen_id": ids, "p_dg": 0.01, "dsi_dg": 0.7}))

    store_dg(first)
    with pytest.warns(MissingMetricsWarning, match=f"^{n - 1} of {n} containers") as rec:
        obs.cells()
    assert "brainobs analyze --missing --data-dir" in str(rec[0].message)
    # the analyzed container alone: it has drifting-grating metrics, the NaN elsewhere is no news
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert len(obs.cells(container_id=first)) == 8
        # a test for missing values is not a filter that needs the metric
        for cid in obs.containers()["id"].iloc[1:]:
            store_dg(int(cid))
        assert len(obs.cells(filters="p_ns is null")) == 8 * n
    with pytest.warns(MissingMetricsWarning, match="no natural_scenes"):
        obs.cells(filters="p_ns != null")


def test_selection_rules(obs):
    cux = _cux2(obs)
    # a non-metric filter narrows the selection like an argument does
    with pytest.warns(MissingMetricsWarning, match=r"^1 of 1 container \(Cux2-CreERT2 in VISl\)"):
        obs.cells(filters=["tld1_name == 'Cux2-CreERT2'", "area == VISl", "p_dg < 0.05"])
    # containers chosen by id: the command names them
    with pytest.warns(MissingMetricsWarning) as rec:
        obs.cells(container_id=cux, filters="p_sg < 0.05")
    msg = str(rec[0].message)
    assert f"brainobs analyze --container {min(cux)} --container {max(cux)} --family static_gratings" in msg
    assert f"container_id={sorted(cux)}" in msg
    # an empty selection (the only Vip container failed) and failed containers are not counted
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert obs.cells(cre_line="Vip-IRES-Cre", filters="p_ns < 0.05").empty
    n = len(obs.containers())
    with pytest.warns(MissingMetricsWarning, match=f"^{n} of {n} containers"):
        obs.cells(include_failed=True)
    # session files that are not on disk are mentioned
    obs.session_path(int(obs.experiments(container_id=cux[0])["id"].iloc[0])).unlink()
    with pytest.warns(MissingMetricsWarning, match="1 of them lack session files on disk"):
        obs.cells(cre_line="Cux2-CreERT2", filters="p_dg < 0.05")


def test_compat_get_cell_specimens_warns(obs):
    from brainobs.compat import BrainObservatoryCache

    boc = BrainObservatoryCache(manifest_file=str(obs.data_dir / "manifest.json"))
    cid = _cux2(obs)[0]
    f = [{"field": "p_ns", "op": "<", "value": 0.05}]
    with pytest.warns(MissingMetricsWarning, match="^1 of 1 container .* no natural_scenes") as rec:
        assert boc.get_cell_specimens(experiment_container_ids=[cid], filters=f) == []
    assert rec[0].filename == __file__
    assert f"brainobs analyze --container {cid} --family natural_scenes" in str(rec[0].message)
    assert boc.get_cell_specimens(experiment_container_ids=[cid], filters=f, warn=False) == []
    analyze_catalog_container(boc.observatory, cid, families=["natural_scenes"])
    assert len(boc.get_cell_specimens(experiment_container_ids=[cid], filters=f)) > 0
