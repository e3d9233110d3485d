"""Natural-movie reliability: known answers, an independent np.corrcoef computation,
edge cases, and the tiny synthetic observatory against its ground truth."""

from __future__ import annotations

import glob
import itertools
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from brainobs.errors import UnknownStimulusError
from brainobs.io import open_session
from brainobs.metrics.movies import (
    MOVIE_COLUMNS,
    movie_onsets,
    movie_reliability,
    movie_responses,
    natural_movies,
    repeat_correlations,
)


def reference(dff: np.ndarray, onsets, length: int, max_repeats: int = 10) -> np.ndarray:
    """Cell by cell, pair by pair, with np.corrcoef (the slow, obvious way)."""
    out = []
    for trace in np.asarray(dff, dtype=np.float64):
        segs = [trace[o:o + length] for o in list(onsets)[:max_repeats]]
        rs = []
        for a, b in itertools.combinations(segs, 2):
            if np.all(a == a[0]) or np.all(b == b[0]) or np.isnan(a).any() or np.isnan(b).any():
                continue
            rs.append(np.corrcoef(a, b)[0, 1])
        out.append(np.mean(rs) if rs else np.nan)
    return np.array(out)


def tiled(clip: np.ndarray, n: int, gap: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A trace with n copies of clip separated by gap frames; returns (trace, onsets)."""
    parts, onsets, t = [], [], 0
    for _ in range(n):
        onsets.append(t)
        parts.append(clip)
        parts.append(np.zeros(gap))
        t += clip.size + gap
    return np.concatenate(parts), np.array(onsets)


# ------------------------------------------------------------------ known answers
def test_identical_repeats_give_one():
    rng = np.random.default_rng(1)
    trace, onsets = tiled(rng.normal(size=90), 12)
    rel = movie_reliability(np.vstack([trace, 3 * trace + 2]), onsets, 90)
    np.testing.assert_allclose(rel, 1.0, rtol=0, atol=1e-12)


def test_anticorrelated_pairs():
    clip = np.sin(np.linspace(0, 6, 50))
    x = np.concatenate([clip, -clip])[None]
    assert movie_reliability(x, [0, 50], 50)[0] == pytest.approx(-1.0, abs=1e-12)


def test_independent_noise_matches_corrcoef_and_is_near_zero():
    rng = np.random.default_rng(2)
    dff = rng.normal(size=(40, 12 * 300)).astype(np.float32)
    onsets = np.arange(12) * 300
    rel = movie_reliability(dff, onsets, 300)
    np.testing.assert_allclose(rel, reference(dff, onsets, 300), rtol=1e-9, atol=1e-12)
    assert abs(rel.mean()) < 0.01  # 45 pairs × 40 cells of independent noise
    assert np.abs(rel).max() < 0.05


def test_only_first_ten_repeats_count():
    rng = np.random.default_rng(3)
    clip = rng.normal(size=60)
    noise = rng.normal(size=(5, 60))
    trace = np.concatenate([np.tile(clip, 10), *noise])  # repeats 11-15 are noise
    onsets = np.arange(15) * 60
    assert movie_reliability(trace[None], onsets, 60)[0] == pytest.approx(1.0)
    all_rep = movie_reliability(trace[None], onsets, 60, max_repeats=None)[0]
    np.testing.assert_allclose(all_rep, reference(trace[None], onsets, 60, 15)[0])
    assert all_rep < 0.6


def test_length_is_fixed_even_across_a_gap():
    """Segments all have the first onset distance as length, like AllenSDK."""
    rng = np.random.default_rng(4)
    clip = rng.normal(size=30)
    trace, onsets = tiled(clip, 4, gap=0)
    trace = np.concatenate([trace[:60], np.full(100, 5.0), trace[60:]])  # a block gap
    onsets = np.array([0, 30, 160, 190])
    assert movie_reliability(trace[None], onsets, 30)[0] == pytest.approx(1.0)


def test_correlation_matrices_match_corrcoef():
    rng = np.random.default_rng(5)
    dff = rng.normal(size=(6, 500)).cumsum(axis=1)
    onsets = np.array([0, 100, 200, 300, 400])
    r = repeat_correlations(dff, onsets, 100)
    assert r.shape == (6, 5, 5)
    for c in range(6):
        segs = np.stack([dff[c, o:o + 100] for o in onsets])
        np.testing.assert_allclose(r[c], np.corrcoef(segs), rtol=1e-10, atol=1e-12)


def test_nan_and_constant_traces():
    rng = np.random.default_rng(6)
    clip = rng.normal(size=40)
    good, onsets = tiled(clip, 10)
    all_nan = np.full_like(good, np.nan)
    one_nan = good.copy()
    one_nan[5] = np.nan  # spoils repeat 0 only: its 9 pairs drop out
    flat = np.zeros_like(good)
    one_flat = good.copy()
    one_flat[40:80] = 2.0  # repeat 1 constant
    dff = np.vstack([good, all_nan, one_nan, flat, one_flat])
    rel = movie_reliability(dff, onsets, 40)
    assert rel[0] == pytest.approx(1.0)
    assert np.isnan(rel[1]) and np.isnan(rel[3])
    assert rel[2] == pytest.approx(1.0) and rel[4] == pytest.approx(1.0)
    r = repeat_correlations(dff, onsets, 40)
    assert np.isnan(r[2, 0]).all() and not np.isnan(r[2, 1:, 1:]).any()
    assert np.isnan(r[4, :, 1]).all()


def test_single_repeat_is_nan_and_zero_cells():
    assert np.isnan(movie_reliability(np.ones((3, 50)), [0], 20)).all()
    assert movie_reliability(np.ones((0, 50)), [0, 20], 20).shape == (0,)


@pytest.mark.parametrize(
    ("dff", "onsets", "length", "kw", "match"),
    [
        (np.ones(10), [0, 5], 5, {}, "2-D"),
        (np.ones((2, 10)), [[0, 5]], 5, {}, "1-D"),
        (np.ones((2, 10)), [0, 5.5], 5, {}, "integer frame"),
        (np.ones((2, 10)), ["a", "b"], 5, {}, "integer frame"),
        (np.ones((2, 10)), [0, 5], 1, {}, "length"),
        (np.ones((2, 10)), [0, 5], 2.0, {}, "length"),
        (np.ones((2, 10)), [0, 5], 5, {"max_repeats": 0}, "max_repeats"),
        (np.ones((2, 10)), [0, 8], 5, {}, "starting at frame 8"),
        (np.ones((2, 10)), [-1, 4], 5, {}, "starting at frame -1"),
        (np.array([["a"] * 10]), [0, 5], 5, {}, "numeric"),
    ],
)
def test_kernel_validation(dff, onsets, length, kw, match):
    with pytest.raises(ValueError, match=match):
        movie_reliability(dff, onsets, length, **kw)


def test_movie_onsets():
    t = pd.DataFrame({"frame": [0, 1, 2, 0, 1, 2, 0, 1], "start": [5, 6, 7, 8, 9, 10, 40, 41]})
    onsets, length = movie_onsets(t)
    np.testing.assert_array_equal(onsets, [5, 8, 40])
    assert length == 3
    assert movie_onsets(t.iloc[:3])[1] is None
    with pytest.raises(ValueError, match="frame and start"):
        movie_onsets(t[["start"]])


# ------------------------------------------------------------------ sessions
class FakeSession:
    """Duck-typed session: enough for natural_movies()."""

    def __init__(self, dff: np.ndarray, tables: dict[str, pd.DataFrame]):
        self._dff = dff
        self._tables = tables
        self.cell_specimen_ids = np.arange(dff.shape[0], dtype=np.int64) + 100
        self.n_frames = dff.shape[1]

    def list_stimuli(self):
        return [*self._tables, "spontaneous"]

    def stimulus_table(self, name):
        if name not in self._tables:
            raise UnknownStimulusError(name, self.list_stimuli())
        return self._tables[name]

    def dff(self, frames):
        import xarray as xr

        return xr.DataArray(self._dff[:, frames[0]:frames[1]], dims=("cell", "frame"))


def movie_table(onsets, length):
    frames = np.tile(np.arange(length), len(onsets))
    starts = (np.asarray(onsets)[:, None] + np.arange(length)).ravel()
    return pd.DataFrame({"frame": frames, "start": starts, "end": starts + 1})


def test_natural_movies_on_a_fake_session():
    rng = np.random.default_rng(7)
    clip = rng.normal(size=(3, 50))
    dff = np.concatenate([rng.normal(size=(3, 20)), np.tile(clip, 3), rng.normal(size=(3, 200)),
                          rng.normal(size=(3, 1))], axis=1)
    # nm1: 3 repeats; nm2: the last repeat runs past the end and is left out; nm3: 1 repeat.
    s = FakeSession(dff, {"natural_movie_one": movie_table([20, 70, 120], 50),
                          "natural_movie_three": movie_table([200], 50),
                          "natural_movie_two": movie_table([170, 230, 330], 60)})
    out = natural_movies(s)
    assert list(out.columns) == ["reliability_nm1", "qc_nm1", "reliability_nm2", "qc_nm2",
                                 "reliability_nm3", "qc_nm3"]
    assert (out[["qc_nm1", "qc_nm2", "qc_nm3"]] == "").all().all()
    qc = {r["stimulus"]: r for r in out.attrs["qc"]}
    assert qc["natural_movie_two"]["n_trials"] == 3  # repeats considered
    assert qc["natural_movie_two"]["trials_excluded"] == {"outside_recording": 1}
    assert qc["natural_movie_one"]["trials_excluded"] == {}
    assert out.index.name == "cell_specimen_id" and out.index.dtype == np.int64
    np.testing.assert_allclose(out["reliability_nm1"], 1.0)
    np.testing.assert_allclose(out["reliability_nm2"], reference(dff, [170, 230], 60))
    assert out["reliability_nm3"].isna().all()
    only = natural_movies(s, movies="Natural_Movie_One")
    assert list(only.columns) == ["reliability_nm1", "qc_nm1"]
    np.testing.assert_allclose(natural_movies(s, max_repeats=2)["reliability_nm1"], 1.0)


def test_unknown_or_absent_movie(tiny_observatory: Path):
    path = sorted(glob.glob(str(tiny_observatory / "ophys_experiment_data" / "*.nwb")))[0]
    with open_session(path) as s:
        with pytest.raises(UnknownStimulusError, match="natural_movie_one"):
            natural_movies(s, movies="natural_movie_on")
        absent = next(m for m in MOVIE_COLUMNS if m not in s.list_stimuli())
        with pytest.raises(UnknownStimulusError):
            natural_movies(s, movies=absent)
        with pytest.raises(ValueError, match="one movie"):
            movie_responses(s, ["natural_movie_one", "natural_movie_one"])


def test_movie_responses_are_labelled(tiny_observatory: Path):
    path = sorted(glob.glob(str(tiny_observatory / "ophys_experiment_data" / "*.nwb")))[0]
    with open_session(path) as s:
        r = movie_responses(s, "natural_movie_one")
        table = s.stimulus_table("natural_movie_one")
        onsets, length = movie_onsets(table)
        assert r.dims == ("cell", "repeat", "frame") and r.sizes["frame"] == length
        np.testing.assert_array_equal(r["onset"], onsets[:10])
        np.testing.assert_array_equal(r["cell_specimen_id"], s.cell_specimen_ids)
        dff = s.dff().values
        np.testing.assert_array_equal(r.values[:, 1], dff[:, onsets[1]:onsets[1] + length])
        rel = natural_movies(s)["reliability_nm1"].to_numpy()
        np.testing.assert_allclose(rel, reference(dff, onsets, length), rtol=1e-9)
    bad = FakeSession(np.zeros((2, 30)), {"natural_movie_three": movie_table([0], 10)})
    with pytest.raises(ValueError, match="fewer than two"):
        movie_responses(bad, "natural_movie_three")


def test_tiny_observatory_reliable_cells_are_the_responsive_ones(tiny_observatory: Path):
    from brainobs.synth import read_ground_truth

    gt = read_ground_truth(tiny_observatory).set_index("cell_specimen_id")
    rows = []
    for path in sorted(glob.glob(str(tiny_observatory / "ophys_experiment_data" / "*.nwb"))):
        with open_session(path) as s:
            out = natural_movies(s)
            rel_cols = [c for c in out.columns if c.startswith("reliability_")]
            assert set(rel_cols) == {MOVIE_COLUMNS[m] for m in s.list_stimuli() if m in MOVIE_COLUMNS}
            rows.append(out[rel_cols].stack().rename("rel").reset_index())
    long = pd.concat(rows).dropna()
    long["responsive"] = gt.loc[long["cell_specimen_id"], "responsive_nm"].to_numpy()
    means = long.groupby("responsive")["rel"].mean()
    assert means[True] > means[False] + 0.2, means
    assert abs(means[False]) < 0.15
