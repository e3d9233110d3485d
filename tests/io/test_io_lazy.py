"""Opening reads only metadata; later reads are hyperslabs and cached; pickling by path."""

from __future__ import annotations

import pickle

import h5py
import numpy as np
import pytest
from io_nwb_factory import N_FRAMES, expected_traces

from brainobs.io import Session, layout


@pytest.fixture()
def reads(monkeypatch):
    """Record (dataset name, shape of what was read) for every h5py dataset read."""
    log: list[tuple[str, tuple]] = []
    original = h5py.Dataset.__getitem__

    def spy(self, args, *rest, **kw):
        out = original(self, args, *rest, **kw)
        log.append((self.name.lstrip("/"), np.shape(out)))
        return out

    monkeypatch.setattr(h5py.Dataset, "__getitem__", spy)
    return log


def test_open_reads_only_metadata(v3_path, reads):
    with Session(v3_path) as s:
        assert s.n_cells == 5 and s.n_frames == N_FRAMES
        assert s.list_stimuli()
        repr(s)
    read = {name for name, _ in reads}
    assert read <= set(layout.METADATA_PATHS.values()), read


def test_subset_reads_only_hyperslab(v3_path, reads):
    with Session(v3_path) as s:
        s.timestamps, s.cell_specimen_ids  # noqa: B018 - warm the small caches
        reads.clear()
        s.dff([530, 515], frames=(10, 20))
        assert reads == [(f"{layout.TRACES['dff']}/data", (2, 10))]
        reads.clear()
        s.dff([520, 519], times=(s.timestamps[0], s.timestamps[5]))  # contiguous rows
        assert reads == [(f"{layout.TRACES['dff']}/data", (2, 5))]


def test_everything_cached(v3_path, reads):
    with Session(v3_path) as s:
        s.stimulus_template("natural_movie_one")
        s.roi_masks([515])
        s.stimulus_table("master")
        s.stimulus_epoch_table()
        s.running_speed()
        _ = s.max_projection
        s.neuropil_r()
        _ = s.roi_ids
        first = len(reads)
        s.stimulus_template("natural_movie_one")
        s.roi_masks([515])
        s.roi_masks_compact([515])
        for name in s.list_stimuli():
            s.stimulus_table(name)
        s.stimulus_table("master")
        s.stimulus_epoch_table()
        s.running_speed()
        _ = s.max_projection
        s.neuropil_r()
        _ = s.frame_rate
        assert len(reads) == first


def test_read_only_and_reopen(v3_path):
    s = Session(v3_path)
    assert s._file.mode == "r"
    s.close()
    np.testing.assert_array_equal(s.dff().values, expected_traces()["dff"])  # reopens lazily
    s.close()


def test_pickle_round_trip(session):
    session.dff()  # fill caches; they must not travel
    session.stimulus_table("spontaneous")
    blob = pickle.dumps(session)
    assert len(blob) < 5000
    clone = pickle.loads(blob)
    assert clone.path == session.path and clone.metadata == session.metadata
    assert clone._h5 is None
    np.testing.assert_array_equal(clone.dff([515]).values, session.dff([515]).values)
    assert clone.stimulus_table("spontaneous").equals(session.stimulus_table("spontaneous"))
    assert repr(clone) == repr(session)
    clone.close()
