"""Stimulus tables follow the real session schedules (independent numpy/h5py reads)."""

from __future__ import annotations

import json

import h5py
import numpy as np
import pytest

from brainobs import vocab
from brainobs.io import layout
from brainobs.synth.schedule import BLOCK_ORDER, SIZES, build_schedule

TINY = SIZES["tiny"]
EPOCH_THRESHOLD = {"three_session_A": 39, "three_session_B": 15, "three_session_C": 7,
                   "three_session_C2": 7}


def _table(f, stim):
    g = f[layout.stimulus_group(stim)]
    return g["data"][()], g["frame_duration"][()]


@pytest.fixture(scope="module")
def sessions(tiny_observatory):
    exps = json.loads((tiny_observatory / "ophys_experiments.json").read_text())
    out = {}
    for e in exps[:3]:
        out[e["stimulus_name"]] = tiny_observatory / "ophys_experiment_data" / f"{e['id']}.nwb"
    return out


def test_frame_durations_valid(sessions):
    for path in sessions.values():
        with h5py.File(path, "r") as f:
            n = len(f[layout.TWO_PHOTON_TIMESTAMPS])
            for stim in f[layout.STIMULUS_PRESENTATION]:
                fd = f[f"{layout.STIMULUS_PRESENTATION}/{stim}/frame_duration"][()]
                assert fd.dtype.kind == "i" and fd.shape[1] == 2
                assert fd.min() >= 0 and fd.max() < n
                ts = f[f"{layout.STIMULUS_PRESENTATION}/{stim}/timestamps"][()]
                assert len(ts) == len(fd)
                if stim != "spontaneous_stimulus":
                    assert np.all(fd[:, 0] < fd[:, 1])


def test_no_overlap_between_stimuli(sessions):
    for path in sessions.values():
        with h5py.File(path, "r") as f:
            n = len(f[layout.TWO_PHOTON_TIMESTAMPS])
            used = np.zeros(n, int)
            for stim in f[layout.STIMULUS_PRESENTATION]:
                if stim == "spontaneous_stimulus":
                    continue
                fd = f[f"{layout.STIMULUS_PRESENTATION}/{stim}/frame_duration"][()]
                for s, e in fd:
                    used[s:e] += 1
            assert used.max() == 1


def test_drifting_gratings(sessions):
    with h5py.File(sessions["three_session_A"], "r") as f:
        data, fd = _table(f, "drifting_gratings")
        feats = [x.decode() for x in f[f"{layout.stimulus_group('drifting_gratings')}/features"][()]]
    assert feats == ["temporal_frequency", "orientation", "blank_sweep"]
    blank = data[:, 2] == 1
    assert blank.sum() == TINY.dg_blanks
    assert np.isnan(data[blank, :2]).all() and not np.isnan(data[~blank]).any()
    conds, counts = np.unique(data[~blank, :2], axis=0, return_counts=True)
    assert len(conds) == 40 and np.all(counts == TINY.dg_repeats)
    assert set(conds[:, 0]) == set(vocab.DG_TEMPORAL_FREQUENCIES)
    assert set(conds[:, 1]) == set(vocab.DG_DIRECTIONS)
    assert np.all(fd[:, 1] - fd[:, 0] == 60)
    gaps = fd[1:, 0] - fd[:-1, 1]
    assert np.sum(gaps > 39) == 2  # three blocks: the epoch table has three DG epochs
    assert np.all(gaps[gaps <= 39] == 30)
    # randomized order
    assert not np.all(np.diff(data[~blank, 1]) >= 0)


def test_static_gratings_and_scenes(sessions):
    with h5py.File(sessions["three_session_B"], "r") as f:
        sg, sg_fd = _table(f, "static_gratings")
        ns, ns_fd = _table(f, "natural_scenes")
    blank = np.isnan(sg[:, 0])
    assert np.isnan(sg[blank]).all() and blank.sum() == TINY.sg_repeats
    conds, counts = np.unique(sg[~blank], axis=0, return_counts=True)
    assert len(conds) == 6 * 5 * 4 and np.all(counts == TINY.sg_repeats)
    assert set(np.unique(ns_fd[:, 1] - ns_fd[:, 0])) <= {7, 8}
    assert set(np.unique(sg_fd[:, 1] - sg_fd[:, 0])) <= {7, 8}
    imgs, counts = np.unique(ns, return_counts=True)
    np.testing.assert_array_equal(imgs, np.arange(-1, 118))
    assert np.all(counts == TINY.ns_repeats)


def test_movies_and_sparse_noise(sessions):
    with h5py.File(sessions["three_session_A"], "r") as f:
        nm3, fd3 = _table(f, "natural_movie_three")
        nm1, _ = _table(f, "natural_movie_one")
    # 2 blocks × the preset's repeats per block; 10 repeats in all, as in real sessions
    assert len(nm3) == TINY.movie_frames["natural_movie_three"] * 2 * TINY.movie_repeats["natural_movie_three"]
    assert TINY.movie_repeats["natural_movie_three"] * 2 == TINY.movie_repeats["natural_movie_one"] == 10
    assert np.all(fd3[:, 1] - fd3[:, 0] == 1)
    n1 = TINY.movie_frames["natural_movie_one"]
    np.testing.assert_array_equal(nm1, np.tile(np.arange(n1), len(nm1) // n1))
    with h5py.File(sessions["three_session_C2"], "r") as f:
        lsn, fd = _table(f, "locally_sparse_noise_4deg")
        n_tpl = len(f[layout.template_path("locally_sparse_noise_4deg")])
    np.testing.assert_array_equal(lsn, np.arange(n_tpl))
    assert np.sum((fd[1:, 0] - fd[:-1, 1]) > 7) == 1  # two blocks


def test_spontaneous_interval_series(sessions):
    with h5py.File(sessions["three_session_A"], "r") as f:
        data, fd = _table(f, "spontaneous")
        n = len(f[layout.TWO_PHOTON_TIMESTAMPS])
    np.testing.assert_array_equal(data, np.tile([1, -1], len(data) // 2))
    start, end = fd[data == 1, 0], fd[data == -1, 0]
    assert np.all(end - start == TINY.spont_frames) and end.max() < n


@pytest.mark.parametrize("stype", list(BLOCK_ORDER))
def test_block_order_and_epochs(stype):
    tables, n = build_schedule(stype, TINY, np.random.default_rng(1))
    assert set(tables) == set(vocab.SESSION_STIMULI[stype])
    # Blocks in the real order: sort block starts across stimuli.
    blocks = []
    for name, p in tables.items():
        gaps = np.flatnonzero(p.start[1:] - p.end[:-1] > EPOCH_THRESHOLD[stype]) + 1
        assert len(gaps) <= 2  # AllenSDK splits a stimulus into at most three epochs
        blocks += [(int(p.start[i]), name) for i in np.r_[0, gaps]]
    assert tuple(name for _, name in sorted(blocks)) == BLOCK_ORDER[stype]
    assert max(int(p.end.max()) for p in tables.values()) < n
