"""Running modulation: the published split, Welch test and signed ratio, vectorized over cells."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from brainobs.metrics.running import running_modulation


def test_welch_matches_scipy_and_sign_rule():
    rng = np.random.default_rng(0)
    n = 20
    speed = np.r_[np.zeros(10), np.full(10, 5.0)]
    x = rng.normal(size=(5, n)) + np.r_[np.zeros(10), np.ones(10)] * np.arange(-2, 3)[:, None]
    mask = np.ones_like(x, dtype=bool)
    mod, p = running_modulation(x, speed, mask, min_trials=2)
    for i in range(5):
        run, stat = x[i, 10:], x[i, :10]
        assert p[i] == pytest.approx(stats.ttest_ind(run, stat, equal_var=False).pvalue, rel=1e-9)
        if run.mean() > stat.mean():
            assert mod[i] == pytest.approx((run.mean() - stat.mean()) / abs(run.mean()))
        else:
            assert mod[i] == pytest.approx(-(stat.mean() - run.mean()) / abs(stat.mean()))


def test_min_trials_threshold_and_nan_speed():
    x = np.arange(12.0)[None, :]
    speed = np.array([0, 0, 0, 5, 5, 5, 0, 0, np.nan, 5, np.nan, np.nan])
    mask = np.ones_like(x, dtype=bool)
    # stationary: 5 trials, running: 4 trials (NaN speeds join neither)
    mod, p = running_modulation(x, speed, mask, min_trials=4)
    assert np.isnan(mod[0]) and np.isnan(p[0])
    mod, p = running_modulation(x, speed, mask, min_trials=3)
    assert np.isfinite(mod[0]) and np.isfinite(p[0])
    mask[0, 9] = False  # the preferred-condition mask restricts the trials
    mod, p = running_modulation(x, speed, mask, min_trials=3)
    assert np.isnan(mod[0])


def test_equal_means_and_nan_responses():
    speed = np.r_[np.zeros(4), np.full(4, 2.0)]
    x = np.array([[1.0, 2, 3, 4, 4, 3, 2, 1],       # equal means: run_mod NaN, p = 1
                  [1.0, 2, 3, np.nan, 5, 6, 7, 8],  # NaN response: p NaN, mod from nanmeans
                  [1.0, 1, 1, 1, 2, 2, 2, 2]])      # zero variance both sides, different: p = 0
    mod, p = running_modulation(x, speed, np.ones_like(x, bool), min_trials=2)
    assert np.isnan(mod[0]) and p[0] == pytest.approx(1.0)
    assert np.isnan(p[1]) and mod[1] == pytest.approx((6.5 - 2.0) / 6.5)
    assert p[2] == 0.0 and mod[2] == pytest.approx(0.5)


def test_shape_validation():
    with pytest.raises(ValueError, match="shapes"):
        running_modulation(np.zeros((2, 3)), np.zeros(4), np.ones((2, 3), bool), min_trials=2)
