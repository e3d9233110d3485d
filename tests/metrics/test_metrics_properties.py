"""Property-based tests (Hypothesis) of the metric kernels (issue 8, section 6).

The definitions (../shared/design/METRICS.md) say how each published value reacts to:

- the order of the trials (any permutation, in particular within a condition): not at all;
- scaling a cell's fluorescence F by c > 0: not at all — the local %dF/F
  ``100 (F / mean(F_baseline) - 1)`` is scale-free (bitwise for powers of two);
- adding a constant k to F: each trial's mean response becomes ``msr · B / (B + k)`` (B its
  window's baseline mean), while the per-sweep p-value (ANOVA of baseline vs response
  samples, an affine map of F inside one window) does not change;
- affine maps ``a·x + b`` (a ≠ 0) of one cell's values: ANOVA, Welch and Pearson-based
  values (``p_*``, ``p_run_mod_*``, ``reliability_nm*``) do not change; image selectivity
  (thresholds between the min and max image mean) does not change for a > 0;
- relabelling (permuting) cells: the rows are permuted, nothing else;
- NaN in one cell: no other cell's value changes (bitwise).

Arrays are small and ``max_examples`` modest so the file runs in seconds.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from brainobs.metrics.gratings import drifting_gratings_from_traces, static_gratings_from_traces
from brainobs.metrics.movies import movie_reliability
from brainobs.metrics.running import running_modulation
from brainobs.metrics.scenes import image_selectivity, natural_scenes_from_traces
from brainobs.metrics.sweep import WindowSpec, oneway_anova, sweep_summary

SETTINGS = settings(max_examples=25, deadline=None)
HEAVY = settings(max_examples=12, deadline=None)  # tests running the whole family kernels
seeds = st.integers(0, 2**32 - 1)


# ----------------------------------------------------------------------------- data
def _ns(seed: int, n_cells: int = 3) -> tuple[np.ndarray, pd.DataFrame]:
    """Natural scenes: 4 images + blank, 4 repeats, 7-frame flashes, tuned noisy cells."""
    rng = np.random.default_rng(seed)
    frames = rng.permutation(np.repeat(np.arange(-1, 4), 4))
    table = pd.DataFrame({"frame": frames, "start": 40 + 7 * np.arange(frames.size)})
    table["end"] = table["start"] + 7
    tr = 100 + rng.normal(0, 2, (n_cells, int(table["start"].iloc[-1]) + 50))
    amp = rng.uniform(0, 30, (n_cells, 5))
    for k, f in enumerate(frames):
        s = int(table["start"].iloc[k])
        tr[:, s + 2 : s + 9] += amp[:, f + 1][:, None]
    return tr, table


def _dg(seed: int, n_cells: int = 3) -> tuple[np.ndarray, pd.DataFrame, np.ndarray]:
    """Drifting gratings: 4 directions × 2 TFs + blank, 3 repeats, running speed."""
    rng = np.random.default_rng(seed)
    cond = [(d, f) for d in (0.0, 90.0, 180.0, 270.0) for f in (1.0, 2.0)] * 3 + [(np.nan, np.nan)] * 3
    table = pd.DataFrame([cond[i] for i in rng.permutation(len(cond))],
                         columns=["orientation", "temporal_frequency"])
    table["start"] = 40 + 95 * np.arange(len(table))
    n_frames = int(table["start"].iloc[-1]) + 100
    tr = 100 + rng.normal(0, 2, (n_cells, n_frames))
    amp = rng.uniform(0, 30, (n_cells, 4, 2))
    for k, (o, f) in enumerate(zip(table.orientation, table.temporal_frequency, strict=True)):
        if np.isfinite(o):
            s = int(table["start"].iloc[k])
            tr[:, s : s + 60] += amp[:, int(o) // 90, int(f) - 1][:, None]
    speed = np.repeat(rng.uniform(0, 3, len(table)), 95)[:n_frames]
    speed = np.concatenate([np.zeros(40), speed])[:n_frames]
    return tr, table, speed


def _sg(seed: int, n_cells: int = 2) -> tuple[np.ndarray, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    grid = [(o, sf, ph) for o in (0.0, 60.0, 120.0) for sf in (0.02, 0.04) for ph in (0.0, 0.5)]
    rows = grid * 3 + [(np.nan, np.nan, np.nan)] * 3
    table = pd.DataFrame([rows[i] for i in rng.permutation(len(rows))],
                         columns=["orientation", "spatial_frequency", "phase"])
    table["start"] = 40 + 8 * np.arange(len(table))
    table["end"] = table["start"] + 8
    tr = 100 + rng.normal(0, 2, (n_cells, int(table["start"].iloc[-1]) + 60))
    tr[:, 100:400] += rng.uniform(0, 20, (n_cells, 1))
    return tr, table


def _ns_table(tr, table, **kw) -> pd.DataFrame:
    return natural_scenes_from_traces(tr, table, frame_rate=30.0, **kw).table


def _dg_table(tr, table, speed=None, **kw) -> pd.DataFrame:
    return drifting_gratings_from_traces(tr, table, running_speed=speed, n_boot=0, **kw).table


def _sg_table(tr, table, **kw) -> pd.DataFrame:
    return static_gratings_from_traces(tr, table, frame_rate=30.0, **kw).table


def _numeric(t: pd.DataFrame) -> pd.DataFrame:
    return t.drop(columns=[c for c in t.columns if c.startswith("qc_")]).astype(np.float64)


def _close(a: pd.DataFrame, b: pd.DataFrame, rtol: float = 1e-9) -> None:
    np.testing.assert_allclose(_numeric(a).to_numpy(), _numeric(b).to_numpy(), rtol=rtol,
                               atol=1e-12, equal_nan=True)


def _exact(a: pd.DataFrame, b: pd.DataFrame) -> None:
    np.testing.assert_array_equal(_numeric(a).to_numpy(), _numeric(b).to_numpy())


PREFS = {"ns": ["pref_image_ns"], "dg": ["pref_dir_dg", "pref_tf_dg"],
         "sg": ["pref_ori_sg", "pref_sf_sg", "pref_phase_sg"]}


# ----------------------------------------------------------------------------- trial order
@HEAVY
@given(seed=seeds, order=seeds)
def test_trial_order_does_not_change_the_published_values(seed, order):
    perm = np.random.default_rng(order).permutation
    tr, table = _ns(seed)
    a = _ns_table(tr, table)
    # the window comes from the second row: every flash lasts 7 frames, so any order gives it
    b = _ns_table(tr, table.iloc[perm(len(table))])
    _close(a, b)
    pd.testing.assert_frame_equal(a[PREFS["ns"]], b[PREFS["ns"]])
    tr, table, speed = _dg(seed)
    a, b = _dg_table(tr, table, speed), _dg_table(tr, table.iloc[perm(len(table))], speed)
    _close(a, b)
    pd.testing.assert_frame_equal(a[PREFS["dg"]], b[PREFS["dg"]])
    tr, table = _sg(seed)
    _close(_sg_table(tr, table), _sg_table(tr, table.iloc[perm(len(table))]))


@SETTINGS
@given(seed=seeds, order=seeds)
def test_repeat_order_does_not_change_movie_reliability(seed, order):
    rng = np.random.default_rng(seed)
    clip = rng.normal(size=(3, 20))
    x = np.tile(clip, 5) + rng.normal(0, rng.uniform(0.1, 3), (3, 100))
    onsets = np.arange(5) * 20
    shuffled = np.random.default_rng(order).permutation(onsets)
    np.testing.assert_allclose(movie_reliability(x, onsets, 20), movie_reliability(x, shuffled, 20),
                               rtol=1e-12)


# ----------------------------------------------------------------------------- scale and shift
@HEAVY
@given(seed=seeds, k=st.lists(st.integers(-6, 6), min_size=3, max_size=3),
       c=st.lists(st.floats(0.01, 100.0), min_size=3, max_size=3))
def test_scaling_a_cells_fluorescence_changes_nothing(seed, k, c):
    tr, table = _ns(seed)
    base = _ns_table(tr, table)
    # powers of two: every step of the local %dF/F is exact, so the values are bitwise equal
    _exact(base, _ns_table(tr * np.exp2(k)[:, None], table))
    _close(base, _ns_table(tr * np.asarray(c)[:, None], table), rtol=1e-7)
    tr, table, speed = _dg(seed)
    base = _dg_table(tr, table, speed)
    _exact(base, _dg_table(tr * np.exp2(k)[:, None], table, speed))
    _close(base, _dg_table(tr * np.asarray(c)[:, None], table, speed), rtol=1e-7)


@SETTINGS
@given(seed=seeds, shift=st.floats(-50.0, 500.0))
def test_adding_a_constant_rescales_each_response_and_keeps_the_sweep_p_value(seed, shift):
    tr, table = _ns(seed)
    spec = WindowSpec(sweeplength=7, interlength=28, extralength=7)
    starts = table["start"].to_numpy()
    msr, p = sweep_summary(tr, starts, spec)
    msr2, p2 = sweep_summary(tr + shift, starts, spec)
    idx = starts[:, None] + np.arange(-28, 0)
    baseline = tr[:, idx].mean(axis=-1)  # B of every (cell, trial)
    # 100 ((F + k) / (B + k) − 1) = 100 (F − B) / (B + k): each mean response × B / (B + k)
    np.testing.assert_allclose(msr2, msr * baseline / (baseline + shift), rtol=1e-8, atol=1e-9)
    tiny = (p < 1e-200) | (p2 < 1e-200)  # underflow region: both are (near) 0
    np.testing.assert_allclose(p2[~tiny], p[~tiny], rtol=1e-6)


@SETTINGS
@given(seed=seeds, a=st.floats(0.05, 20.0) | st.floats(-20.0, -0.05), b=st.floats(-100, 100))
def test_anova_welch_and_pearson_are_invariant_under_affine_maps(seed, a, b):
    rng = np.random.default_rng(seed)
    v = rng.normal(size=(3, 24)) + np.repeat(rng.normal(0, 1, (3, 4)), 6, axis=1)
    groups = np.repeat(np.arange(4), 6)
    np.testing.assert_allclose(oneway_anova(a * v + b, groups), oneway_anova(v, groups), rtol=1e-6)
    speed = rng.uniform(0, 2, 24)
    mask = np.ones_like(v, dtype=bool)
    _, p = running_modulation(v, speed, mask, min_trials=2)
    _, p2 = running_modulation(a * v + b, speed, mask, min_trials=2)
    np.testing.assert_allclose(p2, p, rtol=1e-6)
    if a > 0:  # run_mod is a ratio of the group means: scale-free (not shift-free)
        mod, _ = running_modulation(v, speed, mask, min_trials=2)
        mod2, _ = running_modulation(a * v, speed, mask, min_trials=2)
        np.testing.assert_allclose(mod2, mod, rtol=1e-9)
    clip = rng.normal(size=(2, 15))
    x = np.tile(clip, 4) + rng.normal(0, 0.5, (2, 60))
    np.testing.assert_allclose(movie_reliability(a * x + b, [0, 15, 30, 45], 15),
                               movie_reliability(x, [0, 15, 30, 45], 15), rtol=1e-9)


@SETTINGS
@given(means=st.lists(st.integers(-50, 50), min_size=2, max_size=30), k=st.integers(-8, 8),
       a=st.floats(0.1, 10.0), b=st.floats(-100.0, 100.0))
def test_image_selectivity_is_invariant_under_increasing_affine_maps(means, k, a, b):
    r = np.asarray(means, dtype=np.float64)[None, :]
    s = image_selectivity(r)
    np.testing.assert_array_equal(image_selectivity(r * np.exp2(k)), s)  # exact scaling
    # other maps can move a threshold across an image mean by rounding: at most a few of the
    # 1000 thresholds × n images, i.e. a change of A far below 1e-3
    np.testing.assert_allclose(image_selectivity(a * r + b), s, atol=2e-3)


# ----------------------------------------------------------------------------- cells
@HEAVY
@given(seed=seeds, order=seeds)
def test_relabelling_cells_permutes_the_rows(seed, order):
    tr, table = _ns(seed, n_cells=4)
    ids = np.array([11, 12, 13, 14])
    perm = np.random.default_rng(order).permutation(4)
    a = _ns_table(tr, table, cell_specimen_ids=ids)
    b = _ns_table(tr[perm], table, cell_specimen_ids=ids[perm])
    assert b.index.tolist() == ids[perm].tolist()
    _close(a.loc[ids[perm]], b, rtol=1e-12)
    tr, table, speed = _dg(seed, n_cells=4)
    a = _dg_table(tr, table, speed, cell_specimen_ids=ids)
    b = _dg_table(tr[perm], table, speed, cell_specimen_ids=ids[perm])
    _close(a.loc[ids[perm]], b, rtol=1e-12)
    pd.testing.assert_frame_equal(a.loc[ids[perm], PREFS["dg"]], b[PREFS["dg"]])


@HEAVY
@given(seed=seeds, cell=st.integers(0, 2), frame=st.floats(0.0, 1.0),
       value=st.sampled_from([np.nan, np.inf, -np.inf]))
def test_nan_in_one_cell_never_changes_another(seed, cell, frame, value):
    for make, run, col in ((_ns, _ns_table, "qc_ns"), (_sg, _sg_table, "qc_sg")):
        tr, table = make(seed, n_cells=3)
        bad = tr.copy()
        f = int(frame * (tr.shape[1] - 1))
        bad[cell, f] = value
        a, b = run(tr, table), run(bad, table)
        others = [i for i in range(3) if i != cell]
        _exact(a.iloc[others], b.iloc[others])
        assert (b[col].iloc[others] == "").all()
        reason = b[col].iloc[cell]
        if reason:  # the frame lies in a window: the whole cell is NaN, with the reason
            assert reason == ("nan_trace" if np.isnan(value) else "inf_trace")
            assert _numeric(b.iloc[[cell]]).isna().all().all()
        else:  # a frame no window uses: the cell is unchanged too
            _exact(a.iloc[[cell]], b.iloc[[cell]])
    tr, table, speed = _dg(seed)
    bad = tr.copy()
    bad[cell, int(frame * (tr.shape[1] - 1))] = value
    a, b = _dg_table(tr, table, speed), _dg_table(bad, table, speed)
    others = [i for i in range(3) if i != cell]
    _exact(a.iloc[others], b.iloc[others])
    assert b["qc_dg"].iloc[cell] in ("", "nan_trace" if np.isnan(value) else "inf_trace")
    x = np.random.default_rng(seed).normal(size=(3, 60))
    y = x.copy()
    y[cell, int(frame * 59)] = value
    ra, rb = movie_reliability(x, [0, 20, 40], 20), movie_reliability(y, [0, 20, 40], 20)
    np.testing.assert_array_equal(np.delete(ra, cell), np.delete(rb, cell))
