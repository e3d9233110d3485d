from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from io_nwb_factory import (
    DG_BLANK,
    DG_FILE_ORDER,
    DG_ORI,
    DG_STARTS,
    DG_TF,
    MOVIE_FRAMES,
    MOVIE_STARTS,
    SPONT,
    TIMESTAMPS,
)

from brainobs.errors import MissingDataError, UnknownStimulusError
from brainobs.io import stimulus as stim


def test_drifting_gratings_table(session):
    t = session.stimulus_table("drifting_gratings")
    assert list(t.columns) == ["temporal_frequency", "orientation", "blank_sweep", "start", "end",
                               "start_time", "end_time"]
    np.testing.assert_array_equal(t["start"], DG_STARTS)
    np.testing.assert_array_equal(t["end"], DG_STARTS + 15)
    assert t["start"].dtype == np.int64  # stored as float in the file
    np.testing.assert_array_equal(t["temporal_frequency"], DG_TF)
    np.testing.assert_array_equal(t["orientation"], DG_ORI)
    np.testing.assert_array_equal(t["blank_sweep"], DG_BLANK)
    np.testing.assert_array_equal(t["start_time"], TIMESTAMPS[DG_STARTS])
    np.testing.assert_array_equal(t["end_time"], TIMESTAMPS[DG_STARTS + 15])
    # sorted by time, original (file) row labels kept, as AllenSDK does
    np.testing.assert_array_equal(t.index, np.argsort(DG_FILE_ORDER))


def test_movie_table(session):
    t = session.stimulus_table("natural_movie_one")
    assert list(t.columns) == ["frame", "start", "end", "repeat", "start_time", "end_time"]
    np.testing.assert_array_equal(t["frame"], MOVIE_FRAMES)
    np.testing.assert_array_equal(t["repeat"], np.repeat([0, 1, 2], 5))
    np.testing.assert_array_equal(t["start"], MOVIE_STARTS)
    np.testing.assert_array_equal(t["end_time"], TIMESTAMPS[MOVIE_STARTS + 6])


def test_spontaneous_table(session):
    t = session.stimulus_table("spontaneous")
    assert list(t.columns) == ["start", "end", "start_time", "end_time"]
    assert t[["start", "end"]].values.tolist() == [list(x) for x in SPONT]
    np.testing.assert_array_equal(t["start_time"], TIMESTAMPS[[70, 200]])


def test_tables_are_cached_copies(session):
    a = session.stimulus_table("spontaneous")
    a["start"] = -1
    assert session.stimulus_table("spontaneous")["start"].tolist() == [70, 200]


def test_master_table(session):
    m = session.stimulus_table("master")
    assert list(m.columns) == sorted(m.columns)
    assert "stimulus" in m.columns
    assert m["stimulus"].tolist() == ["drifting_gratings"] * 6 + ["natural_movie_one"] * 15 + ["spontaneous"] * 2
    np.testing.assert_array_equal(m.index, np.arange(23))
    dg = m[m["stimulus"] == "drifting_gratings"]
    np.testing.assert_array_equal(dg["start"], DG_STARTS)
    assert dg["frame"].isna().all() and dg["repeat"].isna().all()
    nm = m[m["stimulus"] == "natural_movie_one"]
    np.testing.assert_array_equal(nm["frame"], MOVIE_FRAMES)
    np.testing.assert_array_equal(m["start_time"], TIMESTAMPS[m["start"].to_numpy()])


def test_epoch_table(session):
    e = session.stimulus_epoch_table()
    assert list(e.columns) == ["stimulus", "start", "end", "start_time", "end_time"]
    assert e[["stimulus", "start", "end"]].values.tolist() == [
        ["drifting_gratings", 10, 65],
        ["spontaneous", 70, 100],
        ["natural_movie_one", 105, 195],
        ["spontaneous", 200, 230],
        ["drifting_gratings", 235, 290],
    ]
    np.testing.assert_array_equal(e["end_time"], TIMESTAMPS[e["end"].to_numpy()])
    assert session.stimulus_epoch_table().equals(e)


def test_unknown_stimulus(session):
    with pytest.raises(UnknownStimulusError) as info:
        session.stimulus_table("natural_scene")
    err = info.value
    assert isinstance(err, ValueError)
    assert err.suggestion == "natural_movie_one" or err.suggestion is not None
    assert "drifting_gratings" in str(err) and "spontaneous" in str(err)
    with pytest.raises(TypeError):
        session.stimulus_table(3)


def test_real_stimulus_absent_from_the_session_says_so(session):
    shown = session.list_stimuli()
    absent = next(n for n in ("static_gratings", "locally_sparse_noise_8deg") if n not in shown)
    with pytest.raises(UnknownStimulusError) as info:
        session.stimulus_table(absent)
    msg = str(info.value)
    assert f"does not show '{absent}'" in msg and session.path.name in msg
    assert "Did you mean" not in msg and info.value.suggestion is None
    assert all(n in msg for n in shown)


def test_unknown_stimulus_suggests_closest(tmp_path, v3_path):
    import shutil

    import h5py

    from brainobs.io import Session, layout

    p = tmp_path / "b.nwb"
    shutil.copy(v3_path, p)
    with h5py.File(p, "a") as f:
        f.move(layout.stimulus_group("natural_movie_one"), layout.stimulus_group("natural_scenes"))
    with Session(p) as s:
        with pytest.raises(UnknownStimulusError, match="Did you mean 'natural_scenes'") as info:
            s.stimulus_table("natural_scene")
        assert info.value.suggestion == "natural_scenes"
        t = s.stimulus_table("natural_scenes")  # indexed table without repeats
        assert list(t.columns) == ["frame", "start", "end", "start_time", "end_time"]


def test_templates(session):
    tpl = session.stimulus_template("natural_movie_one")
    np.testing.assert_array_equal(tpl, np.arange(120, dtype=np.uint8).reshape(5, 4, 6))
    assert session.stimulus_template("natural_movie_one") is tpl  # cached
    with pytest.raises(MissingDataError, match="no template for drifting_gratings"):
        session.stimulus_template("drifting_gratings")
    with pytest.raises(UnknownStimulusError):
        session.stimulus_template("natural_scenes")


def test_missing_table_dataset(tmp_path, v3_path):
    import shutil

    import h5py

    from brainobs.io import Session, layout

    p = tmp_path / "c.nwb"
    shutil.copy(v3_path, p)
    with h5py.File(p, "a") as f:
        del f[layout.stimulus_group("spontaneous") + "/frame_duration"]
    with Session(p) as s, pytest.raises(MissingDataError, match="no 'frame_duration' dataset"):
        s.stimulus_table("spontaneous")


def test_pure_builders():
    assert stim.epochs(pd.DataFrame({"start": [], "end": []}), 5).shape == (0, 2)
    assert stim.epoch_table({}, 5).columns.tolist() == ["stimulus", "start", "end"]
    assert stim.master_table({}).columns.tolist() == ["stimulus"]
    t = stim.spontaneous_table(np.array([1, -1, 1]), np.array([[5, 6], [9, 9], [20, 21]]))
    assert t.values.tolist() == [[5, 9]]  # an unmatched final start is dropped
    t = stim.indexed_table(np.array([0.0, np.nan]), np.array([0, 1, 1, 2]))  # flat frame_duration
    assert t["end"].tolist() == [1, 2] and t["frame"].dtype == float
    t = stim.add_times(pd.DataFrame({"start": [0, 5], "end": [1, 9]}), np.arange(6.0))
    assert t["start_time"].tolist() == [0.0, 5.0] and np.isnan(t["end_time"][1])
