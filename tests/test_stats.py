"""brainobs.stats against independent computations (scipy, statsmodels, brute force)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats as sps

from brainobs import stats


def test_wilson_matches_the_formula():
    k, n, z = 17, 40, sps.norm.ppf(0.975)
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    lo, hi = stats.wilson_interval(k, n)
    assert lo == pytest.approx(centre - half) and hi == pytest.approx(centre + half)


def test_wilson_rejects_impossible_counts():
    with pytest.raises(ValueError, match="0 <= k <= n"):
        stats.wilson_interval(5, 3)


def test_holm_by_hand():
    p = np.array([0.01, 0.04, 0.03, 0.2])
    # sorted: 0.01*4=0.04, 0.03*3=0.09, 0.04*2=0.08 -> monotone 0.09, 0.2*1 -> 0.2
    assert stats.holm(p).tolist() == pytest.approx([0.04, 0.09, 0.09, 0.2])


@given(st.lists(st.integers(-5, 5), min_size=1, max_size=12),
       st.lists(st.integers(-5, 5), min_size=1, max_size=12))
def test_cliffs_delta_brute_force(x, y):
    a, b = np.array(x, float), np.array(y, float)
    brute = np.sign(a[:, None] - b[None, :]).mean()
    assert stats.cliffs_delta(a, b) == pytest.approx(brute)
    u = sps.mannwhitneyu(a, b).statistic if len(set(x + y)) > 1 else len(x) * len(y) / 2
    assert stats.cliffs_delta(a, b) == pytest.approx(2 * u / (len(x) * len(y)) - 1)


@settings(max_examples=40, deadline=None)
@given(st.integers(2, 40), st.integers(1, 6), st.integers(0, 2**31 - 1))
def test_weighted_median_equals_median_of_the_resample(n, k, seed):
    rng = np.random.default_rng(seed)
    v = rng.normal(size=n).round(1)  # ties on purpose
    cl = rng.integers(0, k, n)
    w = stats.bootstrap_weights(n, cl, 15, rng)
    ref = [np.median(np.repeat(v, w[b].astype(int))) for b in range(15)]
    assert np.allclose(stats.weighted_statistic(v, w, "median"), ref)
    ref_mean = [np.mean(np.repeat(v, w[b].astype(int))) for b in range(15)]
    assert np.allclose(stats.weighted_statistic(v, w, "mean"), ref_mean)


def test_hierarchical_weights_resample_whole_containers():
    cl = np.repeat([10, 20, 30], [3, 5, 7])
    w = stats.bootstrap_weights(cl.size, cl, 500, np.random.default_rng(1))
    sizes = {10: 3, 20: 5, 30: 7}
    for c, s in sizes.items():
        per = w[:, cl == c].sum(axis=1)
        assert np.all(per % s == 0)            # whole multiples of the container size
    assert np.isclose(w[:, cl == 30].sum(axis=1).mean() / 7, 1.0, atol=0.1)  # drawn once on average


def test_hierarchical_interval_is_wider_with_container_effects():
    rng = np.random.default_rng(0)
    cont = np.repeat(np.arange(8), 50)
    v = rng.normal(size=8)[cont] + 0.2 * rng.normal(size=cont.size)
    h = stats.bootstrap_interval(v, cont, statistic="mean", n_boot=800)
    c = stats.bootstrap_interval(v, None, statistic="mean", n_boot=800)
    assert h.high - h.low > 2.5 * (c.high - c.low)
    assert h.method.startswith("hierarchical") and c.method == "bootstrap (cells)"


def test_bootstrap_interval_covers_the_truth_most_of_the_time():
    rng = np.random.default_rng(3)
    hits = 0
    for _ in range(60):
        v = rng.exponential(size=80)
        iv = stats.bootstrap_interval(v, statistic="median", n_boot=300, seed=int(rng.integers(1e9)))
        hits += iv.low <= np.log(2) <= iv.high
    assert hits >= 50  # nominal 95 %: 57 of 60


def test_tests_match_scipy():
    a, b, c = [1, 2, 3, 4.5], [2, 5, 6, 7], [9, 8, 10, 11]
    k = stats.kruskal([a, b, c])
    ref = sps.kruskal(a, b, c)
    assert (k.statistic, k.p, k.dof) == pytest.approx((ref.statistic, ref.pvalue, 2))
    chi = stats.chi_square([10, 20, 30], [50, 50, 50])
    ref2 = sps.chi2_contingency([[10, 40], [20, 30], [30, 20]])
    assert (chi.statistic, chi.p, chi.dof) == pytest.approx((ref2.statistic, ref2.pvalue, 2))
    mw = stats.mann_whitney(a, b)
    assert mw.p == pytest.approx(sps.mannwhitneyu(a, b).pvalue)
    f = stats.fisher_exact(3, 10, 9, 10)
    assert f.p == pytest.approx(sps.fisher_exact([[3, 7], [9, 1]]).pvalue)


def test_degenerate_tests_are_nan_not_made_up():
    assert np.isnan(stats.kruskal([[1, 1], [1, 1]]).p)
    assert np.isnan(stats.kruskal([[1, 2]]).p)
    assert np.isnan(stats.chi_square([5, 5], [5, 5]).p)
    assert np.isnan(stats.fisher_exact(0, 0, 1, 2).p)
    assert np.isnan(stats.cliffs_delta([], [1.0]))


def test_weighted_delta_equals_delta_of_the_resamples():
    # the δ intervals of compare: rank sums of per-replicate histograms over the pooled values
    from brainobs.population.compare import _binned_histograms, _delta_from_hist, _rank_sums

    rng = np.random.default_rng(5)
    x, y = rng.integers(0, 6, 20).astype(float), rng.integers(0, 6, 15).astype(float)
    wx = stats.bootstrap_weights(20, None, 10, rng)
    wy = stats.bootstrap_weights(15, None, 10, rng)
    hists, exact = _binned_histograms({"x": np.sort(x), "y": np.sort(y)},
                                      {"x": wx[:, np.argsort(x, kind="stable")],
                                       "y": wy[:, np.argsort(y, kind="stable")]})
    assert exact
    got = _delta_from_hist(hists["x"], _rank_sums(hists["y"]), hists["y"].sum(axis=1))
    ref = [stats.cliffs_delta(np.repeat(x, wx[b].astype(int)), np.repeat(y, wy[b].astype(int)))
           for b in range(10)]
    assert np.allclose(got, ref)


def test_argument_errors_name_the_argument():
    with pytest.raises(ValueError, match="n_boot"):
        stats.bootstrap_weights(3, n_boot=0)
    with pytest.raises(ValueError, match="clusters"):
        stats.bootstrap_interval([1.0, 2.0], clusters=[1])
    with pytest.raises(ValueError, match="statistic"):
        stats.bootstrap_interval([1.0, 2.0], statistic="mode")


def test_binomial_fractions_have_the_weights_distribution():
    rng = np.random.default_rng(11)
    cl = np.repeat(np.arange(6), [5, 9, 14, 3, 20, 7])
    v = (rng.random(cl.size) < np.repeat([0.1, 0.5, 0.8, 0.3, 0.6, 0.9], [5, 9, 14, 3, 20, 7])).astype(float)
    a = stats.bootstrap_fractions(v, cl, 20000, np.random.default_rng(1))
    w = stats.bootstrap_weights(v.size, cl, 20000, np.random.default_rng(2))
    b = stats.weighted_statistic(v, w, "fraction")
    assert abs(a.mean() - b.mean()) < 0.005 and abs(a.std() - b.std()) < 0.005
    assert np.quantile(a, 0.025) == pytest.approx(np.quantile(b, 0.025), abs=0.01)
    assert np.quantile(a, 0.975) == pytest.approx(np.quantile(b, 0.975), abs=0.01)
    c = stats.bootstrap_fractions(v, None, 20000, np.random.default_rng(3))
    assert c.std() == pytest.approx(np.sqrt(v.mean() * (1 - v.mean()) / v.size), rel=0.05)
    with pytest.raises(ValueError, match="0/1"):
        stats.bootstrap_fractions([0.5, 1.0])


@settings(max_examples=60, deadline=None)
@given(st.lists(st.one_of(st.floats(0, 1), st.just(float("nan"))), min_size=1, max_size=30))
def test_holm_equals_statsmodels(ps):
    from statsmodels.stats.multitest import multipletests

    p = np.array(ps)
    ok = ~np.isnan(p)
    want = np.full(p.shape, np.nan)
    if ok.any():
        want[ok] = multipletests(p[ok], method="holm")[1]
    assert np.allclose(stats.holm(p), want, equal_nan=True)
