"""The shared sweep kernel: windows, local %dF/F, mean sweep response, per-sweep ANOVA."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from brainobs.metrics.sweep import (
    DG_WINDOW,
    WindowOutOfRangeError,
    WindowSpec,
    condition_stats,
    local_dff,
    oneway_anova,
    preferred_trial_stats,
    sweep_response,
    sweep_summary,
    trial_running_speed,
    window_frames,
    window_spec,
)


def _traces(n_cells=3, n_frames=2000, seed=0):
    rng = np.random.default_rng(seed)
    return 100 + rng.normal(0, 5, (n_cells, n_frames))


def test_window_spec_published_parameters():
    assert window_spec("drifting_gratings") == WindowSpec(60, 30, 0)
    table = pd.DataFrame({"start": [10, 17, 25], "end": [17, 25, 32]})  # second row: 8 frames
    assert window_spec("static_gratings", table) == WindowSpec(8, 32, 8)
    with pytest.raises(ValueError, match="needs the stimulus table"):
        window_spec("natural_scenes")
    with pytest.raises(ValueError, match="2 rows"):
        window_spec("natural_scenes", table.iloc[:1])
    with pytest.raises(ValueError, match="extralength"):
        WindowSpec(8, 4, 8)
    with pytest.raises(ValueError, match="non-negative int"):
        WindowSpec(-1, 30, 0)


def test_window_frames_raise_names_trial():
    idx = window_frames([40, 100], DG_WINDOW, 300)
    assert idx.shape == (2, 120) and idx[0, 0] == 10 and idx[1, -1] == 189
    with pytest.raises(WindowOutOfRangeError, match="trial 1 .*start frame 20"):
        window_frames([40, 20], DG_WINDOW, 300)
    with pytest.raises(WindowOutOfRangeError, match="trial 0"):
        window_frames([250], DG_WINDOW, 300)
    with pytest.raises(ValueError, match="whole numbers"):
        window_frames([40.5], DG_WINDOW, 300)


def test_local_dff_and_mean_match_loop_and_scipy():
    tr = _traces()
    starts = np.array([50, 160, 300, 777, 1500])
    msr, p = sweep_summary(tr, starts, DG_WINDOW, chunk_trials=2)
    for c in range(tr.shape[0]):
        for k, s in enumerate(starts):
            w = tr[c, s - 30 : s + 90]
            d = 100 * (w / np.mean(w[:30]) - 1)
            assert msr[c, k] == pytest.approx(np.mean(d[30:90]), rel=1e-12)
            ref = stats.f_oneway(d[:30], d[30:90]).pvalue
            assert p[c, k] == pytest.approx(ref, rel=1e-9, abs=1e-300)
    msr2, p2 = sweep_summary(tr, starts, DG_WINDOW)  # chunking does not change anything
    np.testing.assert_array_equal(msr, msr2)
    np.testing.assert_allclose(p, p2, rtol=1e-12)


def test_extralength_response_interval_and_offset():
    spec = WindowSpec(7, 28, 7)
    tr = _traces(2, 800)
    msr, _ = sweep_summary(tr, [100, 400], spec)
    w = tr[1, 400 - 28 : 400 + 7 + 28]
    d = 100 * (w / w[:28].mean() - 1)
    assert msr[1, 1] == pytest.approx(d[28:42].mean(), rel=1e-12)
    dff = tr / 100 - 1  # dF/F of F with F0 = 100: offset 1 recovers F/F0 exactly
    msr_dff, _ = sweep_summary(dff, [100, 400], spec, offset=1.0)
    np.testing.assert_allclose(msr_dff, msr, rtol=1e-9)


def test_constant_windows_follow_scipy_rules():
    tr = np.ones((2, 300))
    tr[1, 100:160] = 2.0  # constant baseline and constant, different response: F = inf, p = 0
    msr, p = sweep_summary(tr, [100], DG_WINDOW)
    assert np.isnan(p[0, 0]) and p[1, 0] == 0.0
    assert msr[0, 0] == 0.0 and msr[1, 0] == pytest.approx(100.0)
    tr[0, 25] = np.nan  # inside the baseline of the window [20, 140)
    msr, p = sweep_summary(tr, [50], DG_WINDOW)
    assert np.isnan(msr[0, 0]) and np.isnan(p[0, 0])


def test_out_of_range_modes():
    tr = _traces(2, 400)
    starts = [20, 100, 330]
    with pytest.raises(WindowOutOfRangeError):
        sweep_summary(tr, starts, DG_WINDOW)
    msr, p = sweep_summary(tr, starts, DG_WINDOW, out_of_range="nan")
    assert np.isnan(msr[:, [0, 2]]).all() and np.isfinite(msr[:, 1]).all()
    msr_a, p_a = sweep_summary(tr, starts, DG_WINDOW, out_of_range="allensdk")
    assert np.isnan(msr_a[:, 0]).all()  # negative slice start: empty window in AllenSDK
    w = tr[0, 300:400]  # truncated at the end of the trace
    d = 100 * (w / w[:30].mean() - 1)
    assert msr_a[0, 2] == pytest.approx(d[30:90].mean(), rel=1e-12)
    assert p_a[0, 2] == pytest.approx(stats.f_oneway(d[:30], d[30:90]).pvalue, rel=1e-9)
    with pytest.raises(ValueError, match="out_of_range"):
        sweep_summary(tr, starts, DG_WINDOW, out_of_range="wrap")


def test_sweep_response_labelled():
    tr = _traces(2, 500)
    da = sweep_response(tr, [100, 200, 300], DG_WINDOW, cell_specimen_ids=[7, 9], trials=[0, 2],
                        frame_rate=30.0)
    assert da.dims == ("cell", "trial", "frame") and da.shape == (2, 2, 120)
    assert list(da.cell.values) == [7, 9] and list(da.start.values) == [100, 300]
    assert da.frame.values[0] == -30 and da.time.values[30] == 0.0
    w = tr[1, 270:390]
    np.testing.assert_allclose(da.sel(cell=9).values[1], local_dff(w, 30), rtol=1e-12)


def test_trial_running_speed_nan_rule():
    sp = np.arange(400.0)
    sp[135] = np.nan
    v = trial_running_speed(sp, [100, 200, 380], DG_WINDOW)
    assert np.isnan(v[0])  # one NaN sample in the response frames
    assert v[1] == pytest.approx(np.mean(sp[200:260]))
    assert np.isnan(v[2])  # frames past the end count as NaN


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_oneway_anova_matches_scipy(seed):
    rng = np.random.default_rng(seed)
    groups = np.repeat(np.arange(5), [3, 4, 2, 6, 5])
    vals = rng.normal(size=(4, groups.size)) + groups * rng.normal(size=(4, 1))
    p = oneway_anova(vals, groups)
    for i in range(4):
        ref = stats.f_oneway(*[vals[i, groups == g] for g in range(5)]).pvalue
        assert p[i] == pytest.approx(ref, rel=1e-9)


def test_oneway_anova_edge_rules():
    g = np.array([0, 0, 1, 1, -1])
    v = np.array([
        [1.0, 1.0, 2.0, 2.0, 9.0],   # every group constant, groups differ: p = 0
        [1.0, 1.0, 1.0, 1.0, 9.0],   # all equal: NaN
        [1.0, np.nan, 2.0, 3.0, 9.0],  # a NaN value: NaN
        [1.0, 1.0, 2.0, 3.0, np.nan],  # the left-out trial does not matter
    ])
    p = oneway_anova(v, g)
    assert p[0] == 0.0 and np.isnan(p[1]) and np.isnan(p[2]) and np.isfinite(p[3])
    assert np.isnan(oneway_anova(v, g, n_groups=3)).all()  # an empty group
    assert np.isnan(oneway_anova(v[:, :2], [0, 1])).all()  # all groups of size 1
    with pytest.raises(ValueError, match="two groups"):
        oneway_anova(v, [0, 0, 0, 0, 0])
    with pytest.raises(ValueError, match="shape"):
        oneway_anova(v, [0, 1])


def test_condition_stats_nan_skipping():
    msr = np.array([[1.0, 3.0, np.nan, 10.0, 20.0]])
    mean, sem, n, nsig = condition_stats(msr, [0, 0, 0, 1, -1], 3, pval=np.zeros((1, 5)), alpha=0.05)
    assert mean[0, 0] == 2.0 and mean[0, 1] == 10.0 and np.isnan(mean[0, 2])
    assert sem[0, 0] == pytest.approx(np.std([1.0, 3.0], ddof=1) / np.sqrt(3))
    assert list(n) == [3, 1, 0] and list(nsig[0]) == [3, 1, 0]


def test_preferred_trial_stats_match_pearson():
    tr = _traces(2, 3000, seed=3)
    starts = np.arange(60, 2800, 130)
    codes = np.arange(starts.size) % 3
    rel, peak = preferred_trial_stats(tr, starts, codes, np.array([1, -1]), DG_WINDOW, slice(30, 90))
    w = sweep_response(tr, starts, DG_WINDOW).values[0][codes == 1]
    rs = [stats.pearsonr(w[i, 30:90], w[j, 30:90]).statistic
          for i in range(len(w)) for j in range(i + 1, len(w))]
    assert rel[0] == pytest.approx(np.mean(rs), rel=1e-9)
    assert peak[0] == np.argmax(w.mean(axis=0)) - 30
    assert np.isnan(rel[1]) and np.isnan(peak[1])
