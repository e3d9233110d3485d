"""Bad input never becomes a made-up number (issue 8, section 2).

Each test edits a copy of a tiny synthetic session (h5py) and compares with the clean run:
cells with NaN/inf traces get NaN and a reason, every other cell keeps *exactly* its value;
trials outside the recording are left out and counted; bad stimulus tables and families a
session does not show are clear errors.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import pytest

from brainobs.errors import BrainobsError, FamilyNotShownError, StimulusTableError
from brainobs.io import Session, layout
from brainobs.metrics import (
    analyze,
    analyze_container,
    natural_scenes_from_traces,
    qc_note,
    qc_summary,
)
from brainobs.metrics.gratings import DG_COLUMNS, SG_COLUMNS
from brainobs.metrics.rf import LSN_COLUMNS
from brainobs.metrics.scenes import NS_COLUMNS

A, B, C2 = "500000001.nwb", "500000002.nwb", "500000003.nwb"  # container 500000000
N_SHUFFLES = 200  # receptive-field test: enough for these checks, fast


def _copy(tiny: Path, name: str, tmp_path: Path) -> Path:
    dst = tmp_path / name
    shutil.copy(tiny / "ophys_experiment_data" / name, dst)
    return dst


def _analyze(path: Path, families: list[str]) -> pd.DataFrame:
    with Session(path) as s:
        kw = {"n_shuffles": N_SHUFFLES} if "locally_sparse_noise" in families else {}
        return analyze(s, families=families, **kw)


@pytest.fixture(scope="module")
def clean(tiny_observatory):
    """The clean runs every bad-input run is compared with."""
    d = tiny_observatory / "ophys_experiment_data"
    return {
        A: _analyze(d / A, ["drifting_gratings", "natural_movies"]),
        B: _analyze(d / B, ["static_gratings", "natural_scenes"]),
        C2: _analyze(d / C2, ["locally_sparse_noise"]),
    }


def _first_start(path: Path, stimulus: str) -> int:
    with Session(path) as s:
        return int(s.stimulus_table(stimulus)["start"].iloc[3])


def _same_values(bad: pd.DataFrame, good: pd.DataFrame, columns: list[str]) -> None:
    """Bitwise equality of every value (NaN == NaN), whatever the dtype (int → float)."""
    for c in columns:
        np.testing.assert_array_equal(bad[c].to_numpy(dtype=np.float64),
                                      good[c].to_numpy(dtype=np.float64), err_msg=c)


# ----------------------------------------------------------------------------- NaN / inf cells
def test_nan_and_inf_traces_give_nan_with_a_reason_and_leave_other_cells_exact(
        tiny_observatory, clean, tmp_path):
    path = _copy(tiny_observatory, B, tmp_path)
    s_ns, s_sg = _first_start(path, "natural_scenes"), _first_start(path, "static_gratings")
    with h5py.File(path, "r+") as f:
        demixed = f[layout.TRACES["demixed"] + "/data"]
        demixed[2, s_ns + 3] = np.nan      # cell 2: NaN in a natural-scene response window
        demixed[5, s_ns - 10] = np.inf     # cell 5: inf in a natural-scene baseline
        demixed[6, s_sg + 2] = -np.inf     # cell 6: -inf in a static-grating window
    bad = _analyze(path, ["static_gratings", "natural_scenes"])
    good = clean[B]
    ids = good.index.to_numpy()
    assert bad["qc_ns"].tolist() == ["", "", "nan_trace", "", "", "inf_trace", "", ""]
    assert bad["qc_sg"].tolist() == ["", "", "", "", "", "", "inf_trace", ""]
    assert (good["qc_ns"] == "").all() and (good["qc_sg"] == "").all()
    # the reported symptom: pref_image_ns = 0 and image_sel_ns = 1.0 for bad cells — now NaN
    ns_cols = [c for c in bad.columns if c.endswith("_ns") or "_ns_" in c]
    sg_cols = [c for c in bad.columns if c.endswith("_sg") or "_sg_" in c]
    assert set(NS_COLUMNS) <= set(ns_cols) and set(SG_COLUMNS) <= set(sg_cols)
    assert bad.loc[ids[[2, 5]], ns_cols].drop(columns="qc_ns").isna().all().all()
    assert bad.loc[ids[[6]], sg_cols].drop(columns="qc_sg").isna().all().all()
    # every other cell keeps exactly the clean value (bitwise), in every column
    keep_ns = np.delete(ids, [2, 5])
    _same_values(bad.loc[keep_ns], good.loc[keep_ns], [c for c in ns_cols if c != "qc_ns"])
    keep_sg = np.delete(ids, [6])
    _same_values(bad.loc[keep_sg], good.loc[keep_sg], [c for c in sg_cols if c != "qc_sg"])
    # the record in attrs and the one-line note
    summary = qc_summary(bad).set_index("family")
    assert summary.loc["natural_scenes", "n_cells_excluded"] == 2
    assert summary.loc["natural_scenes", "reasons"] == "inf_trace: 1, nan_trace: 1"
    assert summary.loc["static_gratings", "n_cells_excluded"] == 1
    assert (summary["session_type"] == "three_session_B").all()
    note = qc_note(bad)
    assert note is not None and "\n" not in note
    assert "natural_scenes: 2 of 8 cells excluded" in note
    assert "static_gratings: 1 of 8 cells excluded (±inf in the trace)" in note
    assert qc_note(good) is None


def test_nan_in_dg_movie_and_lsn_traces(tiny_observatory, clean, tmp_path):
    a = _copy(tiny_observatory, A, tmp_path)
    s_dg = _first_start(a, "drifting_gratings")
    with Session(a) as s:
        movie_on = int(s.stimulus_table("natural_movie_one").query("frame == 0")["start"].iloc[1])
    with h5py.File(a, "r+") as f:
        f[layout.TRACES["demixed"] + "/data"][1, s_dg + 20] = np.nan
        f[layout.TRACES["dff"] + "/data"][4, movie_on + 5] = np.nan  # dF/F: movies
    bad = _analyze(a, ["drifting_gratings", "natural_movies"])
    good = clean[A]
    ids = good.index.to_numpy()
    assert bad["qc_dg"].tolist() == ["", "nan_trace"] + [""] * 6
    assert bad["qc_nm1"].tolist() == [""] * 4 + ["nan_trace"] + [""] * 3
    assert (bad["qc_nm3"] == "").all()
    assert bad.loc[ids[1], DG_COLUMNS].isna().all() and np.isnan(bad.loc[ids[4], "reliability_nm1"])
    dg_cols = [c for c in good.columns if "_dg" in c and c != "qc_dg"]
    _same_values(bad.loc[np.delete(ids, 1)], good.loc[np.delete(ids, 1)], dg_cols)
    _same_values(bad.loc[np.delete(ids, 4)], good.loc[np.delete(ids, 4)], ["reliability_nm1"])
    _same_values(bad, good, ["reliability_nm3"])  # movie three does not use that frame

    c2 = _copy(tiny_observatory, C2, tmp_path)
    with Session(c2) as s:
        st = int(s.stimulus_table("locally_sparse_noise_4deg")["start"].iloc[10])
    with h5py.File(c2, "r+") as f:
        f[layout.TRACES["dff"] + "/data"][3, st + 1] = np.inf
    rf_bad, rf_good = _analyze(c2, ["locally_sparse_noise"]), clean[C2]
    assert rf_bad["qc_lsn"].tolist() == [""] * 3 + ["inf_trace"] + [""] * 4
    c2_ids = rf_good.index.to_numpy()
    assert rf_bad.loc[c2_ids[3], list(LSN_COLUMNS)].isna().all()
    assert rf_good.loc[c2_ids[3], "rf_chi2_lsn"] >= 0  # it had a value when clean
    keep = np.delete(c2_ids, 3)
    _same_values(rf_bad.loc[keep], rf_good.loc[keep], list(LSN_COLUMNS))


def test_array_kernel_nan_cell_is_excluded_and_others_exact():
    rng = np.random.default_rng(3)
    n_img, n_rep = 6, 5
    table = pd.DataFrame({"frame": rng.permutation(np.repeat(np.arange(-1, n_img), n_rep))})
    table["start"] = 40 + 7 * np.arange(len(table))
    table["end"] = table["start"] + 7
    tr = 100 + rng.normal(0, 1.0, (4, int(table["start"].iloc[-1]) + 60))
    good = natural_scenes_from_traces(tr, table, frame_rate=30.0).table
    bad_tr = tr.copy()
    bad_tr[1, :] = np.nan  # an all-NaN cell
    bad_tr[3, 100] = np.inf
    res = natural_scenes_from_traces(bad_tr, table, frame_rate=30.0)
    assert res.table["qc_ns"].tolist() == ["", "nan_trace", "", "inf_trace"]
    cols = [c for c in good.columns if c != "qc_ns"]
    _same_values(res.table.iloc[[0, 2]], good.iloc[[0, 2]], cols)
    assert res.table.iloc[[1, 3]][cols].isna().all().all()
    # the labelled arrays of the excluded cells are NaN too, not the stand-in's zeros
    assert np.isnan(res.responses.values[[1, 3]]).all()
    assert np.isnan(res.mean_sweep_response.values[[1, 3]]).all()
    np.testing.assert_array_equal(res.responses.values[[0, 2]],
                                  natural_scenes_from_traces(tr, table, frame_rate=30.0)
                                  .responses.values[[0, 2]])


# ----------------------------------------------------------------------------- trials
def test_trials_past_the_end_are_left_out_and_counted(tiny_observatory, clean, tmp_path):
    path = _copy(tiny_observatory, B, tmp_path)
    group = layout.stimulus_group("natural_scenes")
    with Session(path) as s:
        n_frames = s.n_frames
        table = s.stimulus_table("natural_scenes")
        traces = s.corrected_fluorescence().values
        rate = 1.0 / (s.timestamps[1] - s.timestamps[0])
        speed = s.running_speed()["speed"].to_numpy()
    with h5py.File(path, "r+") as f:
        fd = f[group + "/frame_duration"][()]
        moved = [int(i) for i in table.index[[100, 200, 300]]]  # file rows of 3 trials
        for k, row in enumerate(moved):
            fd[row] = [n_frames + 10 * k, n_frames + 10 * k + 7]  # shown after imaging stopped
        f[group + "/frame_duration"][...] = fd
    bad = _analyze(path, ["natural_scenes"])
    # p_ns was NaN for every cell (a NaN trial in every ANOVA); now computed without them
    assert bad["p_ns"].notna().all() and (bad["qc_ns"] == "").all()
    rec = bad.attrs["qc"][0]
    assert rec["n_trials"] == len(table) and rec["trials_excluded"] == {"outside_recording": 3}
    assert "3 of 476 trials outside the recording dropped" in qc_note(bad)
    # independent: the same computation on the table without those trials (whole traces)
    ref = natural_scenes_from_traces(traces, table.drop(index=moved), frame_rate=rate,
                                     running_speed=speed, out_of_range="allensdk",
                                     cell_specimen_ids=bad.index).table
    for c in NS_COLUMNS:
        np.testing.assert_allclose(bad[c].to_numpy(float), ref[c].to_numpy(float),
                                   rtol=1e-12, equal_nan=True, err_msg=c)
    assert not np.array_equal(bad["p_ns"], clean[B]["p_ns"])  # three trials fewer


def test_window_before_the_first_frame_is_left_out_in_the_kernel():
    rng = np.random.default_rng(5)
    table = pd.DataFrame({"frame": np.tile(np.arange(-1, 4), 6)})
    table["start"] = 10 + 7 * np.arange(len(table))  # the first windows start before frame 0
    table["end"] = table["start"] + 7
    tr = 100 + rng.normal(0, 1.0, (3, int(table["start"].iloc[-1]) + 60))
    res = natural_scenes_from_traces(tr, table, frame_rate=30.0, out_of_range="allensdk")
    n_out = int((table["start"] - 28 < 0).sum())
    assert n_out == 3
    assert res.table.attrs["qc"][0]["trials_excluded"] == {"outside_recording": n_out}
    assert (res.trials["condition"].iloc[:n_out] == -1).all()
    assert res.table["p_ns"].notna().all()
    ref = natural_scenes_from_traces(tr, table.iloc[n_out:], frame_rate=30.0).table
    np.testing.assert_array_equal(res.table["p_ns"], ref["p_ns"])


# ----------------------------------------------------------------------------- tables
def _rewrite(path: Path, stimulus: str, rows: slice | None = None, **values) -> None:
    """Keep ``rows`` of a presentation group and/or set ``data[i] = v`` (values: i=v)."""
    group = layout.stimulus_group(stimulus)
    with h5py.File(path, "r+") as f:
        g = f[group]
        data, fd = g["data"][()], g["frame_duration"][()]
        for k, v in values.items():
            data[int(k.removeprefix("row"))] = v
        if rows is not None:
            data, fd = data[rows], fd[rows]
        for name, arr in (("data", data), ("frame_duration", fd)):
            del g[name]
            g.create_dataset(name, data=arr)


@pytest.mark.parametrize("value, shown", [(118, "frame 118"), (500, "frame 500"), (-3, "frame -3")])
def test_natural_scene_frame_out_of_range_is_an_error(tiny_observatory, tmp_path, value, shown):
    path = _copy(tiny_observatory, B, tmp_path)
    _rewrite(path, "natural_scenes", row7=value)
    with pytest.raises(StimulusTableError) as e:
        _analyze(path, ["natural_scenes"])
    msg = str(e.value)
    assert shown in msg and "-1 (blank) or 0 .. 117" in msg and B in msg


def test_kernel_frame_checks():
    table = pd.DataFrame({"frame": [-1, 0, 1, -2] * 3})
    table["start"] = 40 + 7 * np.arange(len(table))
    table["end"] = table["start"] + 7
    tr = 100 + np.random.default_rng(0).normal(size=(2, 200))
    with pytest.raises(StimulusTableError, match="frame -2"):
        natural_scenes_from_traces(tr, table, frame_rate=30.0)
    table["frame"] = [-1, 0, 1, 5] * 3
    with pytest.raises(StimulusTableError, match=r"frame 5 .*0 \.\. 3"):
        natural_scenes_from_traces(tr, table, frame_rate=30.0, n_images=4)


@pytest.mark.parametrize("name, stimulus, col, value", [
    (A, "drifting_gratings", 1, 400.0),   # orientation column of DG data (tf, orientation, blank)
    (A, "drifting_gratings", 0, 3.0),     # a temporal frequency not in the grid
    (B, "static_gratings", 2, 0.6),       # phase
    (B, "static_gratings", 0, -30.0),     # orientation
])
def test_grating_values_outside_the_grid_are_an_error(tiny_observatory, tmp_path, name, stimulus,
                                                      col, value):
    path = _copy(tiny_observatory, name, tmp_path)
    group = layout.stimulus_group(stimulus)
    with h5py.File(path, "r+") as f:
        d = f[group + "/data"]
        arr = d[()]
        row = int(np.flatnonzero(np.isfinite(arr[:, col]))[4])
        arr[row, col] = value
        d[...] = arr
        features = [x.decode() for x in f[group + "/features"][()]]
    family = stimulus
    with pytest.raises(StimulusTableError) as e:
        _analyze(path, [family])
    msg = str(e.value)
    assert f"{features[col]} {value:g}" in msg and f"row {row}" in msg and "valid:" in msg


def test_sparse_noise_frame_beyond_the_template_is_an_error(tiny_observatory, tmp_path):
    path = _copy(tiny_observatory, C2, tmp_path)
    _rewrite(path, "locally_sparse_noise_4deg", row12=600)  # template has 600 frames (0..599)
    with pytest.raises(StimulusTableError, match=r"frame 600.*0 \.\. 599"):
        _analyze(path, ["locally_sparse_noise"])


@pytest.mark.parametrize("stimulus, family, rows, match", [
    ("natural_scenes", "natural_scenes", slice(0, 0), "has 0 row"),
    ("natural_scenes", "natural_scenes", slice(0, 1), "has 1 row"),
    ("static_gratings", "static_gratings", slice(0, 1), "has 1 row"),
    ("natural_movie_one", "natural_movies", slice(0, 0), "has 0 row"),
])
def test_empty_and_one_row_tables_are_errors(tiny_observatory, tmp_path, stimulus, family, rows,
                                             match):
    path = _copy(tiny_observatory, B, tmp_path)
    _rewrite(path, stimulus, rows=rows)
    with pytest.raises(StimulusTableError, match=match) as e:
        _analyze(path, [family])
    assert stimulus in str(e.value) and B in str(e.value)


def test_empty_dg_and_lsn_tables(tiny_observatory, tmp_path):
    a = _copy(tiny_observatory, A, tmp_path)
    _rewrite(a, "drifting_gratings", rows=slice(0, 0))
    with pytest.raises(StimulusTableError, match="drifting_gratings table of .*has 0 row"):
        _analyze(a, ["drifting_gratings"])
    c2 = _copy(tiny_observatory, C2, tmp_path)
    _rewrite(c2, "locally_sparse_noise_4deg", rows=slice(0, 1))
    with pytest.raises(StimulusTableError, match="locally_sparse_noise_4deg table of .*has 1 row"):
        _analyze(c2, ["locally_sparse_noise"])


# ----------------------------------------------------------------------------- families
def test_a_family_the_session_does_not_show_is_an_error(tiny_observatory):
    d = tiny_observatory / "ophys_experiment_data"
    for name, family in ((A, "static_gratings"), (A, "locally_sparse_noise"),
                         (B, "drifting_gratings"), (C2, "natural_scenes")):
        with Session(d / name) as s, pytest.raises(FamilyNotShownError) as e:
            analyze(s, families=[family])
        msg = str(e.value)
        assert isinstance(e.value, BrainobsError)
        assert f"{name} ({s.session_type}) does not show {family!r}" in msg
        assert all(st in msg for st in s.list_stimuli())  # what it does show
        assert "Valid choices:" in msg and "natural_movies" in msg
    with Session(d / A) as s, pytest.raises(TypeError, match="families"):
        analyze(s, families=5)


def test_container_family_checks(tiny_observatory):
    d = tiny_observatory / "ophys_experiment_data"
    sessions = [Session(d / A), Session(d / C2)]  # no session B: no static gratings
    try:
        with pytest.raises(FamilyNotShownError, match=r"container 500000000 \(sessions "
                                                      r"three_session_A, three_session_C2\)"):
            analyze_container(sessions, families=["static_gratings"])
        with pytest.raises(FamilyNotShownError, match="static_gratings"):
            analyze_container(sessions, families=["natural_movies", "static_gratings"],
                              strict=True)
        # not strict: the family nobody shows is skipped when another one is computed
        t = analyze_container(sessions, families=["natural_movies", "static_gratings"])
        assert "reliability_nm1_a" in t.columns and "qc_nm1_a" in t.columns
        assert "p_sg" not in t.columns
        cols = {r["column"] for r in t.attrs["qc"]}
        assert {"qc_nm1_a", "qc_nm1_c", "qc_nm2", "qc_nm3"} == cols
    finally:
        for s in sessions:
            s.close()


# ----------------------------------------------------------------------------- CLI
def _cli(capsys, *args) -> tuple[int, str, str]:
    from brainobs.cli import main

    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_prints_one_qc_line_and_clear_errors(tiny_observatory, tmp_path, capsys):
    path = _copy(tiny_observatory, B, tmp_path)
    start = _first_start(path, "natural_scenes")
    with h5py.File(path, "r+") as f:
        f[layout.TRACES["demixed"] + "/data"][0, start + 2] = np.nan
    code, out, err = _cli(capsys, "analyze", path, "--family", "natural_scenes",
                          "--out", tmp_path / "m.csv")
    assert code == 0, err
    notes = [line for line in err.splitlines() if line.startswith("note:")]
    assert notes == ["note: natural_scenes: 1 of 8 cells excluded (NaN in the trace); "
                     "see the qc_ns column"]
    written = pd.read_csv(tmp_path / "m.csv", keep_default_na=False)
    assert written["qc_ns"].tolist() == ["nan_trace"] + [""] * 7
    # a clean run prints no note
    code, _, err = _cli(capsys, "analyze", tiny_observatory / "ophys_experiment_data" / B,
                        "--family", "natural_movies", "--no-store")
    assert code == 0 and "note:" not in err
    # a family the session does not show: exit 2, one line, no traceback
    code, out, err = _cli(capsys, "analyze", tiny_observatory / "ophys_experiment_data" / A,
                          "--family", "static_gratings")
    flat = " ".join(err.split())  # the error line may be wrapped to the terminal width
    assert code == 2 and "Traceback" not in err
    assert f"{A} (three_session_A) does not show 'static_gratings'" in flat
    # a natural-scene frame beyond the images
    _rewrite(path, "natural_scenes", row3=118)
    code, _, err = _cli(capsys, "analyze", path, "--family", "natural_scenes")
    flat = " ".join(err.split())
    assert code == 2 and "Traceback" not in err
    assert "row 3 has frame 118, outside the natural-scene images" in flat
