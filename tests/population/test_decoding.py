"""Population decoding: known separability, chance, stratification, no leakage, validation,
and session/catalog decoding on the tiny synthetic observatory against its ground truth."""

from __future__ import annotations

import doctest
import pickle
import shutil
import warnings

import numpy as np
import pandas as pd
import pytest

import brainobs as bo
from brainobs.errors import UnknownValueError
from brainobs.population import decoding
from brainobs.population.decoding import (
    CATALOG_COLUMNS,
    DecodingInputError,
    decode,
    decode_catalog,
    decode_session,
    decoding_inputs,
    summarize_decoding,
)

CLASSIFIERS = ["logistic", "lda", "centroid"]


def separable(n_classes=4, per_class=20, n_cells=12, gap=10.0, seed=0):
    """Class k raises cell k by ``gap`` noise SDs."""
    rng = np.random.default_rng(seed)
    y = np.repeat(np.arange(n_classes), per_class)
    X = rng.normal(size=(y.size, n_cells)) + gap * np.eye(n_classes, n_cells)[y]
    return X, y


def noise(n_classes=4, per_class=20, n_cells=12, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n_classes * per_class, n_cells)), np.repeat(np.arange(n_classes),
                                                                        per_class)


# ----------------------------------------------------------------------------- known answers
@pytest.mark.parametrize("classifier", CLASSIFIERS)
def test_separable_classes_are_decoded_perfectly(classifier):
    X, y = separable()
    res = decode(X, y, classifier=classifier)
    assert res.accuracy == 1.0
    assert res.n_correct == y.size
    assert res.chance == 0.25
    assert res.ci_low > 0.9 and res.ci_high == pytest.approx(1.0)
    assert res.p_permutation == pytest.approx(1 / 1001)  # no permutation reaches 1.0
    assert 0.2 < res.chance_empirical < 0.3


@pytest.mark.parametrize("classifier", CLASSIFIERS)
def test_noise_decodes_at_chance(classifier):
    X, y = noise(seed=3)
    res = decode(X, y, classifier=classifier)
    assert abs(res.accuracy - 0.25) < 0.15
    assert res.ci_low < 0.25 < res.ci_high
    assert res.p_permutation > 0.05
    assert res.chance_empirical == pytest.approx(0.25, abs=0.02)


def test_fold_null_is_calibrated_on_noise():
    """Over 40 pure-noise data sets the within-fold permutation p-value is about uniform:
    ~5 % below 0.05 (binomial: ≤ 6 of 40 with probability > 0.99), mean accuracy ≈ chance."""
    ps, accs = [], []
    for seed in range(40):
        X, y = noise(n_classes=3, per_class=15, n_cells=8, seed=seed)
        res = decode(X, y, classifier="centroid", seed=seed, n_permutations=200)
        ps.append(res.p_permutation)
        accs.append(res.accuracy)
    assert np.sum(np.array(ps) < 0.05) <= 6
    assert np.mean(accs) == pytest.approx(1 / 3, abs=0.04)
    assert 0.3 < np.mean(ps) < 0.7


def test_refit_null_repeats_the_whole_cross_validation(monkeypatch):
    X, y = separable(per_class=10)
    calls = []
    real = decoding._cross_validate

    def spy(*args, **kw):
        calls.append(args[1].copy())
        return real(*args, **kw)

    monkeypatch.setattr(decoding, "_cross_validate", spy)
    res = decode(X, y, classifier="centroid", null="refit", n_permutations=7)
    assert len(calls) == 8  # the real labels, then 7 permutations of them
    assert np.array_equal(calls[0], np.searchsorted(res.classes, y))
    assert all(sorted(c.tolist()) == sorted(calls[0].tolist()) for c in calls[1:])
    assert any(not np.array_equal(c, calls[0]) for c in calls[1:])
    assert res.null_accuracy.shape == (7,)
    assert res.p_permutation == pytest.approx(1 / 8)
    noisy = decode(*noise(seed=5), classifier="centroid", null="refit", n_permutations=19)
    assert noisy.p_permutation > 0.05
    assert noisy.chance_empirical == pytest.approx(0.25, abs=0.08)


def test_p_value_and_empirical_chance_follow_their_formulas():
    X, y = noise(seed=1)
    res = decode(X, y, classifier="lda", n_permutations=300)
    null = res.null_accuracy
    assert null.shape == (300,) and res.n_permutations == 300
    assert res.chance_empirical == pytest.approx(null.mean())
    assert res.p_permutation == pytest.approx((1 + np.sum(null >= res.accuracy)) / 301)
    none = decode(X, y, classifier="lda", n_permutations=0)
    assert np.isnan(none.p_permutation) and np.isnan(none.chance_empirical)
    assert none.null_accuracy.size == 0
    assert none.accuracy == res.accuracy


def test_accuracy_interval_and_confusion_are_consistent():
    from statsmodels.stats.proportion import proportion_confint

    X, y = separable(gap=1.2, seed=2)
    labels = np.array(["a", "b", "c", "d"])[y]
    res = decode(X, labels, classifier="logistic", ci_level=0.9)
    hit = res.predicted == res.labels
    assert res.accuracy == pytest.approx(hit.mean())
    assert 0.4 < res.accuracy < 1.0
    weighted = sum(res.fold_accuracy[k] * np.sum(res.fold == k) for k in range(5)) / y.size
    assert res.accuracy == pytest.approx(weighted)
    lo, hi = proportion_confint(int(hit.sum()), y.size, alpha=0.1, method="wilson")
    assert (res.ci_low, res.ci_high) == pytest.approx((lo, hi))
    cm = res.confusion
    assert cm.dims == ("true", "predicted")
    assert list(cm["true"].values) == ["a", "b", "c", "d"] == list(cm["predicted"].values)
    assert int(cm.sum()) == y.size
    assert int(np.trace(cm.values)) == res.n_correct
    assert cm.sum("predicted").values.tolist() == [20, 20, 20, 20]
    assert cm.sel(true="b", predicted="c").item() == np.sum((res.labels == "b")
                                                             & (res.predicted == "c"))
    assert "0.9" not in repr(res) and "90% Wilson" in repr(res)


def test_labels_keep_their_values_and_floats_work():
    X, y = separable()
    res = decode(X, y * 45.0, classifier="centroid")
    assert res.classes.tolist() == [0.0, 45.0, 90.0, 135.0]
    assert set(res.predicted.tolist()) <= {0.0, 45.0, 90.0, 135.0}
    assert res.n_classes == 4 and res.n_trials == 80 and res.n_cells == 12


def test_same_seed_same_answer_other_seed_other_folds():
    X, y = separable(gap=1.0)
    a, b = decode(X, y, seed=7), decode(X, y, seed=7)
    assert np.array_equal(a.fold, b.fold) and np.array_equal(a.predicted, b.predicted)
    assert np.array_equal(a.null_accuracy, b.null_accuracy)
    c = decode(X, y, seed=8)
    assert not np.array_equal(a.fold, c.fold)


# ----------------------------------------------------------------------------- CV design
def test_every_test_fold_holds_every_class_in_proportion():
    rng = np.random.default_rng(0)
    y = np.repeat([0, 1, 2, 3, 4], [10, 12, 15, 23, 30])
    X = rng.normal(size=(y.size, 5))
    res = decode(X, rng.permutation(y), n_splits=5, classifier="centroid")
    for k in range(5):
        in_fold = res.labels[res.fold == k]
        assert set(in_fold.tolist()) == {0, 1, 2, 3, 4}
        counts = np.array([np.sum(in_fold == c) for c in range(5)])
        expected = np.array([10, 12, 15, 23, 30]) / 5
        assert np.all(np.abs(counts - expected) < 1)
    assert np.bincount(res.fold).tolist() == [18] * 5  # every trial tested exactly once


def test_scaler_and_classifier_never_see_test_trials(monkeypatch):
    from sklearn.base import BaseEstimator, ClassifierMixin
    from sklearn.preprocessing import StandardScaler

    X, y = separable(n_cells=6, gap=2.0)
    trial_id = np.arange(y.size, dtype=float)
    X = np.column_stack([trial_id, X])  # column 0 names the trial
    seen_by_scaler: list[set] = []
    real_fit = StandardScaler.fit

    def spy_fit(self, X_, y_=None, sample_weight=None):
        seen_by_scaler.append(set(np.asarray(X_)[:, 0].astype(int).tolist()))
        return real_fit(self, X_, y_, sample_weight)

    monkeypatch.setattr(StandardScaler, "fit", spy_fit)

    class Spy(ClassifierMixin, BaseEstimator):
        fitted_rows: list[int] = []

        def fit(self, X_, y_):
            Spy.fitted_rows.append(len(X_))
            self.classes_ = np.unique(y_)
            self.first_ = y_[0]
            return self

        def predict(self, X_):
            return np.full(len(X_), self.first_)

    res = decode(X, y, classifier=Spy(), n_splits=4, n_permutations=0)
    assert res.classifier == "Spy"
    assert len(seen_by_scaler) == 4
    for k, train in enumerate(seen_by_scaler):
        test = set(np.flatnonzero(res.fold == k).tolist())
        assert train.isdisjoint(test)
        assert train | test == set(range(y.size))
    assert Spy.fitted_rows == [60, 60, 60, 60]


def test_leakage_would_show_on_high_dimensional_noise():
    """With 200 noise cells and 40 trials, a weakly regularized logistic regression fits its
    training trials perfectly; predicting trials it was trained on would give accuracy 1.
    Cross-validated decoding must stay near chance (0.25)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X, y = noise(n_classes=4, per_class=10, n_cells=200, seed=11)
    resub = make_pipeline(StandardScaler(), LogisticRegression(C=100.0, max_iter=5000))
    assert resub.fit(X, y).score(X, y) == 1.0
    res = decode(X, y, classifier="logistic", C=100.0, max_iter=5000)
    assert res.accuracy < 0.5


def test_non_converged_fits_are_counted_and_reported_once():
    from sklearn.exceptions import ConvergenceWarning

    X, y = separable(gap=0.5)
    with pytest.warns(ConvergenceWarning, match=r"5 logistic fit\(s\) stopped at max_iter=1"):
        res = decode(X, y, max_iter=1)
    assert res.n_not_converged == 5
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert decode(X, y).n_not_converged == 0


def test_other_warnings_of_a_fit_pass_through():
    from sklearn.neighbors import KNeighborsClassifier

    class Grumpy(KNeighborsClassifier):
        def fit(self, X_, y_):
            warnings.warn("grumpy fit", UserWarning, stacklevel=2)
            return super().fit(X_, y_)

    X, y = separable()
    with pytest.warns(UserWarning, match="grumpy fit"):
        res = decode(X, y, classifier=Grumpy(n_neighbors=3), n_permutations=0)
    assert res.classifier == "Grumpy" and res.accuracy == 1.0


# ----------------------------------------------------------------------------- missing values
def test_all_nan_trials_then_any_nan_cells_are_dropped_and_counted():
    X, y = separable(per_class=10)
    X = np.column_stack([X, np.full(len(y), 0.5)])  # cell 12 will get one NaN
    X[3, :] = np.nan  # a trial outside the recording: NaN everywhere
    X[7, 12] = np.nan
    X[9, 11] = np.inf  # non-finite counts as missing: cell 11 dropped
    res = decode(X, y, classifier="centroid", n_splits=3)
    assert res.n_trials_dropped == 1 and not res.trial_mask[3]
    assert res.n_cells_dropped == 2
    assert np.flatnonzero(~res.cell_mask).tolist() == [11, 12]
    assert res.n_trials == 39 and res.n_cells == 11
    assert res.accuracy > 0.9


def test_nothing_finite_is_an_error():
    X, y = separable()
    with pytest.raises(DecodingInputError, match="no finite value"):
        decode(np.full_like(X, np.nan), y)
    X = X.copy()
    X[np.arange(X.shape[1]), np.arange(X.shape[1])] = np.nan  # every cell misses one trial
    with pytest.raises(DecodingInputError, match="every one of the 12 cells"):
        decode(X, y)


# ----------------------------------------------------------------------------- validation
def test_shape_errors_name_the_shapes():
    X, y = separable()
    with pytest.raises(DecodingInputError, match=r"2-D \(n_trials, n_cells\), got shape \(80,\)"
                       r".*responses\[:, None\]"):
        decode(X[:, 0], y)
    with pytest.raises(DecodingInputError, match="labels has 79 entries but responses has 80"):
        decode(X, y[:-1])
    with pytest.raises(DecodingInputError, match=r"labels must be 1-D.*\(80, 1\)"):
        decode(X, y[:, None])
    with pytest.raises(DecodingInputError, match=r"empty: shape \(0, 3\)"):
        decode(np.zeros((0, 3)), [])
    with pytest.raises(DecodingInputError, match="numeric"):
        decode([["a", "b"], ["c", "d"]], [0, 1])


def test_missing_labels_are_named():
    X, y = separable()
    labels = y.astype(float)
    labels[[4, 17]] = np.nan
    with pytest.raises(DecodingInputError, match=r"2 trial\(s\), first rows \[4, 17\]"):
        decode(X, labels)


def test_class_count_errors_list_the_counts():
    X, y = separable()
    with pytest.raises(DecodingInputError,
                       match=r"at least 2 classes; the labels have 1: \{0: 80\}"):
        decode(X, np.zeros(80, dtype=int))
    labels = np.array(["common"] * 77 + ["rare"] * 3)
    with pytest.raises(DecodingInputError, match=r"1 of 2 classes .*'rare': 3.*n_splits=3"):
        decode(X, labels, n_splits=5)
    labels = np.array(["common"] * 79 + ["once"])
    with pytest.raises(DecodingInputError, match=r"'once': 1.*fewer than 2 trials"):
        decode(X, labels)


def test_argument_errors_name_the_bad_value():
    X, y = separable()
    with pytest.raises(UnknownValueError, match=r"Unknown classifier 'logstic'.*'logistic'"):
        decode(X, y, classifier="logstic")
    with pytest.raises(TypeError, match="unfitted scikit-learn classifier"):
        decode(X, y, classifier=object())
    for bad in (1, 2.5, True):
        with pytest.raises(ValueError, match=f"n_splits must be an integer ≥ 2, got {bad!r}"):
            decode(X, y, n_splits=bad)
    with pytest.raises(UnknownValueError, match="Unknown null 'shuffle'"):
        decode(X, y, null="shuffle")
    with pytest.raises(ValueError, match="n_permutations must be an integer ≥ 0, got -1"):
        decode(X, y, n_permutations=-1)
    with pytest.raises(ValueError, match="ci_level must be in"):
        decode(X, y, ci_level=95)
    with pytest.raises(ValueError, match="C must be a positive number, got -1"):
        decode(X, y, C=-1)


def test_dataframe_and_xarray_inputs():
    import xarray as xr

    X, y = separable()
    a = decode(pd.DataFrame(X), pd.Series(y), classifier="centroid")
    b = decode(xr.DataArray(X, dims=("trial", "cell")), xr.DataArray(y), classifier="centroid")
    assert a.accuracy == b.accuracy == 1.0


def test_correlation_centroid_is_a_picklable_estimator():
    from sklearn.base import clone

    est = decoding.CorrelationCentroid()
    X, y = separable()
    fitted = clone(est).fit(X, y)
    assert (fitted.predict(X) == y).mean() == 1.0
    assert fitted.decision_function(X).shape == (80, 4)
    again = pickle.loads(pickle.dumps(fitted))
    assert np.array_equal(again.predict(X), fitted.predict(X))
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        decoding.nope  # noqa: B018


def test_docstring_examples_run():
    result = doctest.testmod(decoding, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0 and result.attempted >= 8


# ----------------------------------------------------------------------------- session level
@pytest.fixture(scope="module")
def tiny(tiny_observatory):
    return bo.open_observatory(tiny_observatory)


@pytest.fixture(scope="module")
def metric_results(tiny):
    """StimulusResult of every (session, stimulus) of the tiny observatory, computed once."""
    from brainobs.metrics import drifting_gratings_result, natural_scenes_result

    out = {}
    for stimulus, fn in (("drifting_gratings", lambda s: drifting_gratings_result(s, n_boot=0)),
                         ("natural_scenes", natural_scenes_result)):
        for eid, cid in tiny.experiments(stimuli=[stimulus])[["id", "experiment_container_id"]
                                                              ].itertuples(index=False):
            with tiny.session(int(eid)) as s:
                out[stimulus, int(eid)] = (int(cid), fn(s))
    return out


@pytest.fixture(scope="module")
def truth(tiny_observatory):
    from brainobs.synth import read_ground_truth

    return read_ground_truth(tiny_observatory)


def test_decoding_inputs_exclude_blanks(metric_results):
    (_, dg), = [v for k, v in metric_results.items() if k[1] == 500000001]
    data = decoding_inputs(dg, "drifting_gratings")
    assert data.dims == ("trial", "cell")
    assert sorted(set(data["label"].values.tolist())) == [0, 45, 90, 135, 180, 225, 270, 315]
    n_blank = int((dg.trials["temporal_frequency"] == 0).sum())
    assert n_blank > 0 and data.attrs["n_blank_excluded"] == n_blank
    assert data.sizes["trial"] == len(dg.trials) - n_blank
    kept = dg.trials.loc[data["trial"].values]
    assert (kept["temporal_frequency"] > 0).all()
    assert np.array_equal(data.values, dg.mean_sweep_response.values.T[data["trial"].values])
    (_, ns), = [v for k, v in metric_results.items() if k[1] == 500000002]
    data = decoding_inputs(ns, "natural_scenes")
    assert data.attrs["label"] == "image" and data["label"].values.min() == 0
    assert np.unique(data["label"].values).size == 118
    assert data.attrs["n_blank_excluded"] == int((ns.trials["frame"] == -1).sum()) > 0
    with pytest.raises(UnknownValueError, match="Unknown decodable stimulus 'static_gratings'"):
        decoding_inputs(ns, "static_gratings")


def test_decode_session_drifting_gratings_attrs(tiny, metric_results):
    with tiny.session(500000001) as s:
        res = decode_session(s, "drifting_gratings")
        again = decode_session(s, "drifting_gratings",
                               result=metric_results["drifting_gratings", 500000001][1])
    a = res.attrs
    assert a["ophys_experiment_id"] == 500000001
    assert a["experiment_container_id"] == 500000000
    assert (a["cre_line"], a["area"], a["imaging_depth"]) == (s.cre_line, "VISp", s.imaging_depth)
    assert (a["n_cells"], a["n_trials"], a["n_classes"]) == (8, 80, 8)
    assert a["stimulus"] == "drifting_gratings" and a["label"] == "direction"
    assert res.n_splits == 5 and res.chance == 0.125
    assert res.confusion.attrs["label"] == "direction"
    assert again.accuracy == res.accuracy
    assert "drifting_gratings logistic, 5-fold" in repr(res)


def test_decode_session_natural_scenes_adapts_folds_to_four_repeats(tiny, metric_results):
    with tiny.session(500000002) as s:
        res = decode_session(s, result=metric_results["natural_scenes", 500000002][1])
    assert res.n_classes == 118 and res.n_trials == 118 * 4
    assert res.n_splits == 4  # min(5, 4 presentations per image)
    assert res.classes.tolist() == list(range(118))
    assert res.accuracy > 2 * res.chance and res.p_permutation < 0.01


@pytest.mark.parametrize("stimulus,column", [("drifting_gratings", "responsive_dg"),
                                             ("natural_scenes", "responsive_ns")])
def test_population_beats_chance_and_ground_truth_responsive_cells_decode_better(
        tiny, metric_results, truth, stimulus, column):
    for (stim, eid), (cid, result) in metric_results.items():
        if stim != stimulus:
            continue
        cells = truth[truth["experiment_container_id"] == cid]
        responsive = cells.loc[cells[column], "cell_specimen_id"].tolist()
        silent = cells.loc[~cells[column], "cell_specimen_id"].tolist()
        assert responsive and silent
        with tiny.session(eid) as s:
            everyone = decode_session(s, stimulus, result=result)
            good = decode_session(s, stimulus, cell_specimen_ids=responsive, result=result)
            bad = decode_session(s, stimulus, cell_specimen_ids=silent, result=result)
        assert everyone.p_permutation < 0.05 and everyone.accuracy > 1.5 * everyone.chance
        assert good.n_cells == len(responsive) and bad.n_cells == len(silent)
        assert good.p_permutation < 0.05, (eid, good)          # beats chance
        assert good.accuracy > bad.accuracy, (eid, good, bad)  # responsive decode better
        assert bad.p_permutation > 0.05, (eid, bad)            # unresponsive: at chance


def test_decode_session_bad_cells_and_stimulus(tiny, metric_results):
    result = metric_results["drifting_gratings", 500000001][1]
    with tiny.session(500000001) as s:
        with pytest.raises(DecodingInputError, match=r"not in session 500000001: \[1, 2\]"):
            decode_session(s, "drifting_gratings", cell_specimen_ids=[1, 2], result=result)
        with pytest.raises(DecodingInputError, match="cell_specimen_ids is empty"):
            decode_session(s, "drifting_gratings", cell_specimen_ids=[], result=result)
        with pytest.raises(UnknownValueError, match="'natural_scenes'"):
            decode_session(s, "natural_scene")


# ----------------------------------------------------------------------------- catalog level
@pytest.fixture(scope="module")
def dg_table(tiny):
    calls = []
    df = decode_catalog(tiny, "drifting_gratings", classifier="centroid",
                        progress=lambda done, total, what: calls.append((done, total, what)))
    return df, calls


def test_decode_catalog_one_row_per_session(tiny, dg_table):
    df, calls = dg_table
    expected = sorted(tiny.experiments(stimuli=["drifting_gratings"])["id"].tolist())
    assert df["ophys_experiment_id"].tolist() == expected
    assert list(df.columns) == CATALOG_COLUMNS
    assert df.attrs["skipped"] == [] and df.attrs["stimulus"] == "drifting_gratings"
    assert (df["n_classes"] == 8).all() and (df["n_trials"] == 80).all()
    assert (df["classifier"] == "centroid").all()
    assert (df["ci_low"] <= df["accuracy"]).all() and (df["accuracy"] <= df["ci_high"]).all()
    assert [c[:2] for c in calls] == [(i, 3) for i in (1, 2, 3)]
    assert "accuracy" in calls[0][2]
    exps = tiny.experiments(stimuli=["drifting_gratings"]).set_index("id")
    assert df.set_index("ophys_experiment_id")["area"].equals(
        exps.loc[df["ophys_experiment_id"], "targeted_structure"].rename("area")
        .rename_axis("ophys_experiment_id"))


def test_decode_catalog_selection_and_limit(tiny):
    df = decode_catalog(tiny, "drifting_gratings", area="VISl", classifier="centroid",
                        n_permutations=0)
    assert df["area"].tolist() == ["VISl"]
    df = decode_catalog(tiny, "drifting_gratings", max_sessions=1, classifier="centroid",
                        n_permutations=0)
    assert len(df) == 1
    with pytest.raises(ValueError, match="max_sessions"):
        decode_catalog(tiny, "drifting_gratings", max_sessions=0)


def test_decode_catalog_skips_missing_unreadable_and_undecodable_sessions(tiny_observatory,
                                                                          tmp_path):
    copy = tmp_path / "obs"
    shutil.copytree(tiny_observatory, copy)
    obs = bo.open_observatory(copy)
    ids = sorted(obs.experiments(stimuli=["drifting_gratings"])["id"].tolist())
    obs.session_path(ids[0]).unlink()
    obs.session_path(ids[1]).write_bytes(b"not an HDF5 file")
    df = decode_catalog(obs, "drifting_gratings", classifier="centroid", n_permutations=0,
                        n_splits=11)  # 10 trials per direction: too few for 11 folds
    assert df.empty and list(df.columns) == CATALOG_COLUMNS
    reasons = {d["ophys_experiment_id"]: d["reason"] for d in df.attrs["skipped"]}
    assert set(reasons) == set(ids)
    assert reasons[ids[0]].startswith("session file missing")
    assert str(obs.session_path(ids[1])) in reasons[ids[1]]
    assert "n_splits=11" in reasons[ids[2]] and "0: 10" in reasons[ids[2]]
    df = decode_catalog(obs, "drifting_gratings", classifier="centroid", n_permutations=0)
    assert df["ophys_experiment_id"].tolist() == ids[2:]
    assert [d["ophys_experiment_id"] for d in df.attrs["skipped"]] == ids[:2]


# ----------------------------------------------------------------------------- summary
def test_summarize_decoding_on_the_catalog(dg_table):
    df, _ = dg_table
    out = summarize_decoding(df)
    assert list(out.columns[:2]) == ["cre_line", "area"]
    assert out["n_sessions"].sum() == len(df)
    assert (out["interval_method"] == "wilson").all()  # one session per Cre line × area here
    for row in out.itertuples():
        one = df[(df["cre_line"] == row.cre_line) & (df["area"] == row.area)].iloc[0]
        assert (row.ci_low, row.median_accuracy, row.ci_high) == (
            one["ci_low"], one["accuracy"], one["ci_high"])
        assert row.accuracy_over_chance == pytest.approx(one["accuracy"] / 0.125)
    by_line = summarize_decoding(df, by="cre_line")
    cux = by_line.set_index("cre_line").loc["Cux2-CreERT2"]
    assert cux["n_sessions"] == 2 and cux["interval_method"] == "bootstrap"


def test_summarize_decoding_bootstrap_and_groups():
    rng = np.random.default_rng(0)
    df = pd.DataFrame({
        "cre_line": ["A"] * 12 + ["B"] * 2,
        "area": "VISp",
        "experiment_container_id": np.arange(14),
        "accuracy": np.r_[rng.uniform(0.3, 0.7, 12), 0.2, 0.4],
        "chance": 0.125, "chance_empirical": 0.12,
        "p_permutation": np.r_[np.full(12, 0.001), 0.5, 0.01],
    })
    df["ci_low"], df["ci_high"] = df["accuracy"] - 0.1, df["accuracy"] + 0.1
    out = summarize_decoding(df, n_boot=500).set_index("cre_line")
    a = df[df["cre_line"] == "A"]["accuracy"]
    assert out.loc["A", "median_accuracy"] == pytest.approx(a.median())
    assert a.min() <= out.loc["A", "ci_low"] < a.median() < out.loc["A", "ci_high"] <= a.max()
    assert out.loc["B", "ci_low"] == pytest.approx(0.2) and out.loc["B", "ci_high"] == 0.4
    assert out.loc["A", "n_significant"] == 12 and out.loc["B", "n_significant"] == 1
    assert out.loc["A", "chance_empirical"] == pytest.approx(0.12)
    for seed in range(20):  # the interval always holds the median (the report plots both)
        acc = np.random.default_rng(seed).uniform(0, 1, 2 + seed % 5)
        d = df.iloc[:acc.size].assign(accuracy=acc, cre_line="A")
        r = summarize_decoding(d, n_boot=50, seed=seed).iloc[0]
        assert r["ci_low"] <= r["median_accuracy"] <= r["ci_high"]
    # several sessions of one container: containers are resampled (the interval is degenerate)
    same = df.assign(experiment_container_id=7).iloc[:3]
    row = summarize_decoding(same, by="cre_line").iloc[0]
    assert row["n_containers"] == 1 and row["ci_low"] == row["ci_high"] == row["median_accuracy"]
    # two stimuli in one table are never pooled
    both = pd.concat([df.assign(stimulus="natural_scenes"),
                      df.assign(stimulus="drifting_gratings")])
    assert summarize_decoding(both)["stimulus"].tolist() == ["drifting_gratings"] * 2 + [
        "natural_scenes"] * 2
    with pytest.raises(ValueError, match=r"lacks column\(s\) \['layer'\]"):
        summarize_decoding(df, by="layer")
    with pytest.raises(ValueError, match="at least one column"):
        summarize_decoding(df, by=[])
    with pytest.raises(ValueError, match="ci_level must be in"):
        summarize_decoding(df, ci_level=1.5)
