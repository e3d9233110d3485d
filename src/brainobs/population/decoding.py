"""Cross-validated decoding of the stimulus from single-trial population responses.

How much does one session's population say, trial by trial, about which natural scene
(118 images) or which grating direction (8 directions, temporal frequencies pooled) was
shown? Four levels:

- :func:`decode` — the kernel: a ``(n_trials, n_cells)`` response matrix and the trial labels
  in, a :class:`DecodingResult` out (accuracy, Wilson interval, chance, permutation null,
  confusion matrix, every out-of-fold prediction).
- :func:`decode_session` — one :class:`~brainobs.io.Session`: the single-trial mean sweep
  responses (%dF/F) of :func:`brainobs.metrics.natural_scenes_result` /
  :func:`brainobs.metrics.drifting_gratings_result`, blank sweeps excluded.
- :func:`decode_catalog` — every session of a catalog selection, one row each.
- :func:`summarize_decoding` — per Cre line × area: median accuracy with an interval,
  chance, accuracy / chance.

Method (the rules the numbers follow)
-------------------------------------
**Cross-validation.** ``StratifiedKFold(n_splits, shuffle=True, random_state=seed)``: every
test fold holds every class in (nearly) its overall proportion. In each fold a fresh
scikit-learn ``Pipeline(StandardScaler, classifier)`` is fit on the training trials only and
predicts the test trials; nothing (scaling, class means, covariance, weights) ever sees a test
trial. Every trial is predicted exactly once.

**Classifiers** (``classifier=``):

- ``"logistic"`` — multinomial L2 logistic regression (lbfgs, ``tol=1e-3``). The penalty
  follows the size of the problem: a ridge of strength ``λ = 0.008 · (n_cells / m)²`` on the
  *mean* cross-entropy, ``m = n_train / n_classes`` the training trials per class, i.e.
  ``C = 1 / (λ · n_train)`` — the more weights per training trial, the more shrinkage. On
  full-size synthetic sessions (30, 100 and 200 cells; 118 images × 40 and 8 directions × 60
  training trials) the best fixed ``C`` ranged over two orders of magnitude and this rule
  followed it (within 0.02 of the best accuracy of the grid). Pass ``C=`` to override.
- ``"lda"`` — linear discriminant analysis with Ledoit–Wolf shrinkage of the covariance
  (``solver="lsqr", shrinkage="auto"``). Slower with many classes (scikit-learn shrinks one
  covariance per class).
- ``"centroid"`` — nearest class mean by Pearson correlation (:class:`CorrelationCentroid`);
  no fitting beyond class means, the fastest.
- any unfitted scikit-learn classifier (it is cloned, and still preceded by the scaler).

**Missing values.** A non-finite response (NaN, or ±inf from a zero baseline) cannot be fed to
the classifiers. Rule, in this order: (1) a trial that is non-finite in *every* cell is dropped
(its window left the recording); (2) a cell that is non-finite in *any* remaining trial is
dropped (imputing would need statistics of the test trials). The counts are reported
(``n_trials_dropped``, ``n_cells_dropped``, and the masks ``trial_mask``, ``cell_mask``).

**Class counts.** At least two classes, and every class needs ``≥ n_splits`` trials so that it
can be in every test fold; otherwise :class:`DecodingInputError` lists the short classes.
:func:`decode_session` picks ``n_splits = min(5, smallest class count)`` by default (the tiny
synthetic sessions show each image 4 times → 4 folds).

**Accuracy and its interval.** ``accuracy`` is the fraction of correct out-of-fold predictions
over all trials (= the trial-weighted mean of the per-fold accuracies ``fold_accuracy``).
``ci_low``/``ci_high`` are the Wilson score interval (``statsmodels ... proportion_confint(
method="wilson")``) of that pooled count: it treats trials as independent Bernoulli draws, so it
reflects the finite number of test trials, not the variability across sessions or across
other CV splits.

**Chance.** ``chance = 1 / n_classes``, and an empirical chance from label permutations:

- ``null="fold"`` (default, 1000 permutations, costs milliseconds): the true labels are
  permuted *within each test fold* and compared with the fixed out-of-fold predictions. If
  responses carry no information about the labels (and trials are exchangeable), each fold's
  predictions depend only on its own responses and on the training trials, so permuting the
  test labels among the test trials leaves the joint distribution unchanged: an exact
  permutation test of that null, without refitting. Its mean (``chance_empirical``) is the
  accuracy expected from the decoder's own prediction frequencies.
- ``null="refit"``: the labels of all trials are permuted and the whole cross-validation is run
  again (the classic test; ``n_permutations`` refits of every fold — default 20).

``p_permutation = (1 + #{null accuracy ≥ accuracy}) / (1 + n_permutations)``.

Examples
--------
>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> labels = np.repeat(np.arange(4), 20)
>>> responses = rng.normal(size=(80, 10)) + 3 * np.eye(4, 10)[labels]
>>> res = decode(responses, labels, classifier="centroid")
>>> res.accuracy > 0.8, res.chance, res.p_permutation < 0.01
(True, 0.25, True)
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import cache
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import xarray as xr

from brainobs.errors import BrainobsError, NWBFileError, UnknownValueError

if TYPE_CHECKING:
    from brainobs.metrics.gratings import StimulusResult

__all__ = [
    "CATALOG_COLUMNS",
    "CLASSIFIERS",
    "STIMULI",
    "CorrelationCentroid",  # noqa: F822 (built lazily by the module __getattr__)
    "DecodingInputError",
    "DecodingResult",
    "decode",
    "decode_catalog",
    "decode_session",
    "decoding_inputs",
    "summarize_decoding",
]

CLASSIFIERS = ("logistic", "lda", "centroid")
"""Names accepted by ``decode(classifier=...)``."""

STIMULI = {"natural_scenes": "image", "drifting_gratings": "direction"}
"""Stimuli :func:`decode_session` decodes, and the label each trial gets."""

NULLS = ("fold", "refit")
_DEFAULT_PERMUTATIONS = {"fold": 1000, "refit": 20}
_LOGISTIC_RIDGE = 0.008  # default ridge λ = 0.008 (n_cells / m)² on the mean loss (see above)
_AUTO_MAX_SPLITS = 5

CATALOG_COLUMNS = [
    "ophys_experiment_id", "experiment_container_id", "cre_line", "area", "imaging_depth",
    "session_type", "stimulus", "label", "classifier", "n_cells", "n_trials", "n_classes",
    "n_splits", "accuracy", "ci_low", "ci_high", "n_correct", "chance", "chance_empirical",
    "p_permutation", "n_cells_dropped", "n_trials_dropped", "n_blank_excluded",
]


class DecodingInputError(BrainobsError, ValueError):
    """Responses or labels that cannot be decoded (shape, missing labels, too few trials)."""


# ----------------------------------------------------------------------------- classifiers
@cache
def _correlation_centroid_class() -> type:
    """Build :class:`CorrelationCentroid` on first use (scikit-learn is imported lazily)."""
    from sklearn.base import BaseEstimator, ClassifierMixin

    class CorrelationCentroid(ClassifierMixin, BaseEstimator):
        """Nearest class mean by Pearson correlation across cells.

        ``fit`` stores the mean response vector of each class; ``predict`` assigns each trial
        to the class whose mean it correlates with most (a trial or mean that is constant
        across cells has no correlation and goes to the first class).
        """

        def fit(self, X: Any, y: Any) -> CorrelationCentroid:
            X = np.asarray(X, dtype=np.float64)
            classes, codes = np.unique(np.asarray(y), return_inverse=True)
            counts = np.bincount(codes, minlength=classes.size).astype(np.float64)
            sums = np.zeros((classes.size, X.shape[1]))
            np.add.at(sums, codes, X)
            self.classes_ = classes
            self.centroids_ = sums / counts[:, None]
            self.n_features_in_ = X.shape[1]
            return self

        def decision_function(self, X: Any) -> np.ndarray:
            """Pearson r of every trial (row) with every class mean, ``(n_trials, n_classes)``."""
            X = np.asarray(X, dtype=np.float64)
            a = X - X.mean(axis=1, keepdims=True)
            b = self.centroids_ - self.centroids_.mean(axis=1, keepdims=True)
            with np.errstate(divide="ignore", invalid="ignore"):
                a = a / np.linalg.norm(a, axis=1, keepdims=True)
                b = b / np.linalg.norm(b, axis=1, keepdims=True)
            return np.asarray(a @ b.T)

        def predict(self, X: Any) -> np.ndarray:
            r = self.decision_function(X)
            r = np.where(np.isnan(r), -np.inf, r)
            return np.asarray(self.classes_[np.argmax(r, axis=1)])

    CorrelationCentroid.__module__ = __name__
    CorrelationCentroid.__qualname__ = "CorrelationCentroid"
    return CorrelationCentroid


def __getattr__(name: str) -> Any:
    # PEP 562: ``CorrelationCentroid`` is built (and scikit-learn imported) on first access,
    # so importing this module stays light; pickling finds the class here too.
    if name == "CorrelationCentroid":
        return _correlation_centroid_class()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _default_C(n_train: int, n_cells: int, n_classes: int) -> float:
    """``1 / (λ · n_train)``, ``λ = 0.008 · (n_cells / m)²``, ``m = n_train / n_classes``.

    >>> round(_default_C(4720, 200, 118), 5)   # natural scenes, 200 cells: λ = 0.2
    0.00106
    """
    per_class = n_train / n_classes
    return 1.0 / (_LOGISTIC_RIDGE * (n_cells / per_class) ** 2 * n_train)


def _classifier(classifier: Any, n_train: int, n_cells: int, n_classes: int, C: float | None,
                max_iter: int) -> tuple[Any, str]:
    """The unfitted classifier step and its name."""
    if isinstance(classifier, str):
        if classifier == "logistic":
            from sklearn.linear_model import LogisticRegression

            c = _default_C(n_train, n_cells, n_classes) if C is None else float(C)
            return LogisticRegression(C=c, tol=1e-3, max_iter=max_iter), classifier
        if classifier == "lda":
            from sklearn.discriminant_analysis import LinearDiscriminantAnalysis

            return LinearDiscriminantAnalysis(solver="lsqr", shrinkage="auto"), classifier
        if classifier == "centroid":
            return _correlation_centroid_class()(), classifier
        raise UnknownValueError(classifier, CLASSIFIERS, kind="classifier")
    if not (hasattr(classifier, "fit") and hasattr(classifier, "predict")):
        raise TypeError(
            f"classifier must be one of {list(CLASSIFIERS)} or an unfitted scikit-learn "
            f"classifier (with fit and predict); got {classifier!r}")
    from sklearn.base import clone

    return clone(classifier), type(classifier).__name__


# ----------------------------------------------------------------------------- result
@dataclass
class DecodingResult:
    """Everything :func:`decode` computed.

    Attributes
    ----------
    accuracy : float
        Fraction of trials whose out-of-fold prediction is right.
    ci_low, ci_high : float
        Wilson score interval of ``accuracy`` at ``ci_level`` (pooled out-of-fold trials).
    chance : float
        ``1 / n_classes``.
    chance_empirical : float
        Mean accuracy under the permutation null (NaN when ``n_permutations == 0``).
    p_permutation : float
        ``(1 + #{null ≥ accuracy}) / (1 + n_permutations)`` (NaN without permutations).
    n_correct : int
        Correct out-of-fold predictions.
    fold_accuracy : ndarray (n_splits,)
        Accuracy of each test fold.
    null_accuracy : ndarray (n_permutations,)
        Accuracy of each permutation.
    classes : ndarray (n_classes,)
        The class values (sorted).
    labels, predicted : ndarray (n_trials,)
        True label and out-of-fold prediction of every kept trial.
    fold : ndarray (n_trials,)
        Test fold of every kept trial.
    confusion : xarray.DataArray (true, predicted)
        Counts of out-of-fold predictions, both axes labelled with the class values.
    trial_mask, cell_mask : ndarray of bool
        Rows and columns of the input that were kept (see the missing-value rule).
    classifier, null : str
    n_splits, seed : int
    ci_level : float
    n_not_converged : int
        Fits (CV folds and refit permutations) that stopped at ``max_iter``.
    attrs : dict
        Free-form metadata (:func:`decode_session` adds the session's ids, Cre line, area, ...).
    """

    accuracy: float
    ci_low: float
    ci_high: float
    chance: float
    chance_empirical: float
    p_permutation: float
    n_correct: int
    fold_accuracy: np.ndarray
    null_accuracy: np.ndarray
    classes: np.ndarray
    labels: np.ndarray
    predicted: np.ndarray
    fold: np.ndarray
    confusion: xr.DataArray
    trial_mask: np.ndarray
    cell_mask: np.ndarray
    classifier: str
    null: str
    n_splits: int
    seed: int | None
    ci_level: float
    n_not_converged: int = 0
    attrs: dict[str, Any] = field(default_factory=dict)

    @property
    def n_trials(self) -> int:
        """Trials decoded (after the missing-value rule)."""
        return int(self.labels.size)

    @property
    def n_cells(self) -> int:
        """Cells used (after the missing-value rule)."""
        return int(self.cell_mask.sum())

    @property
    def n_classes(self) -> int:
        return int(self.classes.size)

    @property
    def n_trials_dropped(self) -> int:
        return int((~self.trial_mask).sum())

    @property
    def n_cells_dropped(self) -> int:
        return int((~self.cell_mask).sum())

    @property
    def n_permutations(self) -> int:
        return int(self.null_accuracy.size)

    def summary(self) -> dict[str, Any]:
        """One flat row: the numbers above plus ``attrs`` (used by :func:`decode_catalog`)."""
        row: dict[str, Any] = dict(self.attrs)
        row.update(
            classifier=self.classifier, n_cells=self.n_cells, n_trials=self.n_trials,
            n_classes=self.n_classes, n_splits=self.n_splits, accuracy=self.accuracy,
            ci_low=self.ci_low, ci_high=self.ci_high, n_correct=self.n_correct,
            chance=self.chance, chance_empirical=self.chance_empirical,
            p_permutation=self.p_permutation, n_cells_dropped=self.n_cells_dropped,
            n_trials_dropped=self.n_trials_dropped,
        )
        return row

    def __repr__(self) -> str:
        what = f" {self.attrs['stimulus']}" if "stimulus" in self.attrs else ""
        return (
            f"<DecodingResult{what} {self.classifier}, {self.n_splits}-fold: accuracy "
            f"{self.accuracy:.3f} [{self.ci_low:.3f}, {self.ci_high:.3f}] "
            f"({self.ci_level:.0%} Wilson) vs chance {self.chance:.4f} (empirical "
            f"{self.chance_empirical:.4f}, p_perm={self.p_permutation:.3g}); "
            f"{self.n_trials} trials × {self.n_cells} cells, {self.n_classes} classes>"
        )


# ----------------------------------------------------------------------------- kernel
def _as_responses(responses: Any) -> np.ndarray:
    arr = responses.values if isinstance(responses, xr.DataArray | pd.DataFrame) else responses
    try:
        arr = np.asarray(arr, dtype=np.float64)
    except (TypeError, ValueError) as e:
        raise DecodingInputError(f"responses must be numeric; {e}") from None
    if arr.ndim != 2:
        raise DecodingInputError(
            f"responses must be 2-D (n_trials, n_cells), got shape {arr.shape}"
            + ("; for a single cell pass responses[:, None]" if arr.ndim == 1 else ""))
    if arr.shape[0] == 0 or arr.shape[1] == 0:
        raise DecodingInputError(f"responses is empty: shape {arr.shape} (n_trials, n_cells)")
    return arr


def _as_labels(labels: Any, n_trials: int) -> np.ndarray:
    y = np.asarray(labels.values if isinstance(labels, xr.DataArray | pd.Series) else labels)
    if y.ndim != 1:
        raise DecodingInputError(f"labels must be 1-D (n_trials,), got shape {y.shape}")
    if y.size != n_trials:
        raise DecodingInputError(
            f"labels has {y.size} entries but responses has {n_trials} trials (rows)")
    missing = np.flatnonzero(pd.isna(y))
    if missing.size:
        raise DecodingInputError(
            f"labels are missing (NaN/None) at {missing.size} trial(s), first rows "
            f"{missing[:10].tolist()}; drop those trials (e.g. blank sweeps) before decoding")
    return y


def _format_counts(classes: np.ndarray, counts: np.ndarray, limit: int = 12) -> str:
    parts = [f"{c!r}: {int(n)}" for c, n in zip(classes[:limit].tolist(), counts[:limit],
                                                   strict=True)]
    more = f", … ({classes.size - limit} more)" if classes.size > limit else ""
    return "{" + ", ".join(parts) + more + "}"


def _missing_rule(X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Trials and cells kept by the documented missing-value rule."""
    finite = np.isfinite(X)
    trial_mask = finite.any(axis=1)
    cell_mask = finite[trial_mask].all(axis=0)
    return trial_mask, cell_mask


def _check_int(value: Any, name: str, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < low:
        raise ValueError(f"{name} must be an integer ≥ {low}, got {value!r}")
    return int(value)


def _cross_validate(X: np.ndarray, y: np.ndarray, make: Callable[[], Any], n_splits: int,
                    seed: int | None) -> tuple[np.ndarray, np.ndarray, int]:
    """Out-of-fold predictions (codes), test fold of each trial, non-converged fits."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.model_selection import StratifiedKFold

    splitter = StratifiedKFold(n_splits=n_splits, shuffle=True, random_state=seed)
    predicted = np.empty_like(y)
    fold = np.empty(y.size, dtype=np.int64)
    not_converged = 0
    for k, (train, test) in enumerate(splitter.split(X, y)):
        model = make()
        with warnings.catch_warnings(record=True) as caught:
            # counted here and reported once by decode(); every other warning keeps its filter
            warnings.simplefilter("always", ConvergenceWarning)
            model.fit(X[train], y[train])
        not_converged += sum(issubclass(w.category, ConvergenceWarning) for w in caught)
        for w in caught:
            if not issubclass(w.category, ConvergenceWarning):
                warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
        predicted[test] = model.predict(X[test])
        fold[test] = k
    return predicted, fold, not_converged


def _fold_null(y: np.ndarray, predicted: np.ndarray, fold: np.ndarray, n_splits: int,
               n_permutations: int, rng: np.random.Generator) -> np.ndarray:
    """Accuracy when the true labels are permuted within each test fold."""
    correct = np.zeros(n_permutations, dtype=np.int64)
    for k in range(n_splits):
        idx = np.flatnonzero(fold == k)
        yt, pt = y[idx], predicted[idx]
        step = max(1, 4_000_000 // max(1, idx.size))  # bound the permutation block (~32 MB)
        for lo in range(0, n_permutations, step):
            m = min(step, n_permutations - lo)
            perm = rng.permuted(np.tile(yt, (m, 1)), axis=1)
            correct[lo:lo + m] += (perm == pt[None, :]).sum(axis=1)
    return correct / y.size


def decode(
    responses: Any,
    labels: Any,
    *,
    n_splits: int = 5,
    classifier: Any = "logistic",
    seed: int | None = 0,
    n_permutations: int | None = None,
    null: str = "fold",
    ci_level: float = 0.95,
    C: float | None = None,
    max_iter: int = 1000,
) -> DecodingResult:
    """Cross-validated decoding of trial labels from population responses.

    Parameters
    ----------
    responses : array-like (n_trials, n_cells)
        Single-trial responses (e.g. mean sweep responses, %dF/F). NaN/inf follow the
        missing-value rule of the module docstring (all-NaN trials, then any-NaN cells, are
        dropped and counted).
    labels : array-like (n_trials,)
        The class of each trial (ints, floats or strings; no missing values).
    n_splits : int
        Folds of the stratified cross-validation (≥ 2; every class needs ≥ ``n_splits``
        trials).
    classifier : {"logistic", "lda", "centroid"} or scikit-learn classifier
        See the module docstring. Always preceded by a ``StandardScaler`` fit on the
        training folds.
    seed : int or None
        Seeds the fold assignment and the permutations (None: not reproducible).
    n_permutations : int, optional
        Size of the permutation null (0 skips it). Default 1000 for ``null="fold"``, 20 for
        ``null="refit"``.
    null : {"fold", "refit"}
        ``"fold"``: permute the true labels within each test fold against the fixed
        out-of-fold predictions (exact, no refitting); ``"refit"``: permute all labels and
        repeat the whole cross-validation.
    ci_level : float
        Level of the Wilson interval.
    C, max_iter
        Inverse L2 strength and iteration cap of ``"logistic"`` (default
        ``C = 1 / (λ · n_train)``, ``λ = 0.008 · (n_cells · n_classes / n_train)²``, see the
        module docstring).

    Returns
    -------
    DecodingResult

    Raises
    ------
    DecodingInputError
        Bad shapes, missing labels, no finite data, fewer than 2 classes, or a class with
        fewer than ``n_splits`` trials (the message lists the class counts).

    Warns
    -----
    sklearn.exceptions.ConvergenceWarning
        Once, when some logistic fits stopped at ``max_iter`` (``n_not_converged`` counts them).

    Examples
    --------
    Two well separated classes are decoded perfectly; pure noise is at chance.

    >>> import numpy as np
    >>> rng = np.random.default_rng(1)
    >>> y = np.repeat(["up", "down"], 30)
    >>> X = rng.normal(size=(60, 5)) + np.where(y == "up", 4.0, 0.0)[:, None]
    >>> res = decode(X, y)
    >>> res.accuracy, res.chance
    (1.0, 0.5)
    >>> res.confusion.sel(true="up", predicted="up").item()
    30
    >>> noise = decode(rng.normal(size=(60, 5)), y, classifier="lda")
    >>> bool(noise.p_permutation > 0.05)
    True
    """
    X = _as_responses(responses)
    y_raw = _as_labels(labels, X.shape[0])
    n_splits = _check_int(n_splits, "n_splits", 2)
    if null not in NULLS:
        raise UnknownValueError(null, NULLS, kind="null")
    if n_permutations is None:
        n_permutations = _DEFAULT_PERMUTATIONS[null]
    n_permutations = _check_int(n_permutations, "n_permutations", 0)
    max_iter = _check_int(max_iter, "max_iter", 1)
    if not 0 < ci_level < 1:
        raise ValueError(f"ci_level must be in (0, 1), got {ci_level!r}")
    if C is not None and not (np.isfinite(C) and C > 0):
        raise ValueError(f"C must be a positive number, got {C!r}")

    trial_mask, cell_mask = _missing_rule(X)
    if not trial_mask.any():
        raise DecodingInputError(f"responses has no finite value (shape {X.shape})")
    if not cell_mask.any():
        raise DecodingInputError(
            f"every one of the {X.shape[1]} cells has a non-finite response in some trial "
            f"(rule: cells with any NaN/inf among the {int(trial_mask.sum())} trials that are "
            "not entirely non-finite are dropped); no cell is left to decode from")
    X = X[trial_mask][:, cell_mask]
    classes, y = np.unique(y_raw[trial_mask], return_inverse=True)
    counts = np.bincount(y, minlength=classes.size)
    if classes.size < 2:
        raise DecodingInputError(
            f"decoding needs at least 2 classes; the labels have {classes.size}: "
            f"{_format_counts(classes, counts)}")
    short = counts < n_splits
    if short.any():
        fix = (f"pass n_splits={int(counts.min())} or drop those classes" if counts.min() >= 2
               else "drop the classes with fewer than 2 trials")
        raise DecodingInputError(
            f"every class needs ≥ n_splits={n_splits} trials to appear in every test fold; "
            f"{int(short.sum())} of {classes.size} classes have fewer (trials per class): "
            f"{_format_counts(classes[short], counts[short])}; {fix}")

    n_train = X.shape[0] - X.shape[0] // n_splits
    step, name = _classifier(classifier, n_train, X.shape[1], classes.size, C, max_iter)

    from sklearn.base import clone
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    template = Pipeline([("scale", StandardScaler()), ("classify", step)])

    def make() -> Any:
        return clone(template)

    predicted, fold, not_converged = _cross_validate(X, y, make, n_splits, seed)
    hit = predicted == y
    n_correct = int(hit.sum())
    accuracy = n_correct / y.size
    fold_accuracy = np.array([hit[fold == k].mean() for k in range(n_splits)])

    rng = np.random.default_rng(seed)
    if n_permutations == 0:
        null_accuracy = np.empty(0)
    elif null == "fold":
        null_accuracy = _fold_null(y, predicted, fold, n_splits, n_permutations, rng)
    else:
        null_accuracy = np.empty(n_permutations)
        for i in range(n_permutations):
            y_perm = rng.permutation(y)
            pred_perm, _, nc = _cross_validate(X, y_perm, make, n_splits, seed)
            not_converged += nc
            null_accuracy[i] = float(np.mean(pred_perm == y_perm))
    if n_permutations:
        chance_empirical = float(null_accuracy.mean())
        p_perm = float((1 + np.sum(null_accuracy >= accuracy - 1e-12)) / (1 + n_permutations))
    else:
        chance_empirical = p_perm = float("nan")

    if not_converged:
        from sklearn.exceptions import ConvergenceWarning

        warnings.warn(
            f"{not_converged} {name} fit(s) stopped at max_iter={max_iter} before converging; "
            "the accuracy may be slightly underestimated — pass a larger max_iter (or a "
            "smaller C)", ConvergenceWarning, stacklevel=2)

    from brainobs.stats import wilson_interval

    lo, hi = wilson_interval(n_correct, y.size, alpha=1 - ci_level)
    confusion = np.zeros((classes.size, classes.size), dtype=np.int64)
    np.add.at(confusion, (y, predicted), 1)
    confusion_da = xr.DataArray(
        confusion, dims=("true", "predicted"), coords={"true": classes, "predicted": classes},
        name="confusion", attrs={"units": "trials", "classifier": name})
    return DecodingResult(
        accuracy=float(accuracy), ci_low=float(lo), ci_high=float(hi),
        chance=1.0 / classes.size, chance_empirical=chance_empirical, p_permutation=p_perm,
        n_correct=n_correct, fold_accuracy=fold_accuracy, null_accuracy=null_accuracy,
        classes=classes, labels=classes[y], predicted=classes[predicted], fold=fold,
        confusion=confusion_da, trial_mask=trial_mask, cell_mask=cell_mask, classifier=name,
        null=null, n_splits=n_splits, seed=seed, ci_level=float(ci_level),
        n_not_converged=not_converged,
    )


# ----------------------------------------------------------------------------- session level
def _check_stimulus(stimulus: Any) -> str:
    if stimulus not in STIMULI:
        raise UnknownValueError(stimulus, STIMULI, kind="decodable stimulus")
    return str(stimulus)


def decoding_inputs(result: StimulusResult, stimulus: str) -> xr.DataArray:
    """Single-trial responses and labels of a metrics result, blank sweeps excluded.

    Parameters
    ----------
    result : brainobs.metrics.StimulusResult
        From :func:`~brainobs.metrics.natural_scenes_result` /
        :func:`~brainobs.metrics.drifting_gratings_result` (or their ``*_from_traces`` kernels).
    stimulus : {"natural_scenes", "drifting_gratings"}
        Natural scenes: the label is the image number (``frame``; blank ``-1`` excluded).
        Drifting gratings: the label is the direction (``orientation``, degrees), pooling
        temporal frequencies; blank sweeps (``temporal_frequency == 0``) excluded. Trials that
        match no condition of the grid (``condition == -1``) are excluded too.

    Returns
    -------
    xarray.DataArray (trial, cell)
        The mean sweep responses (%dF/F); coordinate ``label`` per trial (``trial`` keeps the
        row of ``result.trials``); attrs ``label`` (``"image"`` / ``"direction"``),
        ``stimulus`` and ``n_blank_excluded``.
    """
    stimulus = _check_stimulus(stimulus)
    trials = result.trials
    cond = trials["condition"].to_numpy()
    if stimulus == "natural_scenes":
        raw = trials["frame"].to_numpy()
        blank = raw < 0
    else:
        blank = trials["temporal_frequency"].to_numpy(dtype=np.float64) == 0
        raw = trials["orientation"].to_numpy()
    keep = ~blank & (cond >= 0)
    label = np.asarray(raw[keep]).astype(np.int64)
    msr = result.mean_sweep_response.transpose("trial", "cell")
    out = msr.isel(trial=np.flatnonzero(keep)).assign_coords(label=("trial", label))
    out.name = "response"
    out.attrs.update(label=STIMULI[stimulus], stimulus=stimulus,
                     n_blank_excluded=int(blank.sum()))
    return out


def _auto_splits(data: xr.DataArray) -> int:
    """``min(5, smallest class count)`` over trials with some finite response (≥ 2)."""
    usable = np.isfinite(data.values).any(axis=1)
    _, counts = np.unique(data["label"].values[usable], return_counts=True)
    return max(2, min(_AUTO_MAX_SPLITS, int(counts.min()))) if counts.size else 2


def decode_session(
    session: Any,
    stimulus: str = "natural_scenes",
    *,
    cell_specimen_ids: Any = None,
    result: StimulusResult | None = None,
    n_splits: int | None = None,
    **kw: Any,
) -> DecodingResult:
    """Decode the natural scene or grating direction of every trial of one session.

    Parameters
    ----------
    session : brainobs.io.Session
    stimulus : {"natural_scenes", "drifting_gratings"}
        What to decode: the image (118 classes) or the direction (8 classes, temporal
        frequencies pooled). Blank sweeps are excluded (:func:`decoding_inputs`).
    cell_specimen_ids : array of int, optional
        Decode from these cells only (default: every cell of the session).
    result : StimulusResult, optional
        The session's metrics result for ``stimulus``, when already computed (otherwise
        :func:`brainobs.metrics.natural_scenes_result` /
        :func:`brainobs.metrics.drifting_gratings_result` run, without the DSI bootstrap).
    n_splits : int, optional
        Folds; default ``min(5, trials of the rarest class)``, so that every class is in every
        test fold (the tiny synthetic sessions show each image 4 times → 4 folds).
    **kw
        Passed to :func:`decode` (``classifier``, ``seed``, ``n_permutations``, ``null``, ...).

    Returns
    -------
    DecodingResult
        ``attrs``: ``ophys_experiment_id``, ``experiment_container_id``, ``cre_line``,
        ``area`` (targeted structure), ``imaging_depth``, ``session_type``, ``stimulus``,
        ``label``, ``n_cells``, ``n_trials``, ``n_classes``, ``n_blank_excluded``.

    Examples
    --------
    >>> res = decode_session(obs.session(500000002), "natural_scenes")   # doctest: +SKIP
    >>> res.accuracy, res.chance                                          # doctest: +SKIP
    """
    stimulus = _check_stimulus(stimulus)
    if result is None:
        from brainobs.metrics import drifting_gratings_result, natural_scenes_result

        result = (natural_scenes_result(session) if stimulus == "natural_scenes"
                  else drifting_gratings_result(session, n_boot=0))
    data = decoding_inputs(result, stimulus)
    if cell_specimen_ids is not None:
        from brainobs._validate import as_int_list

        wanted = list(dict.fromkeys(as_int_list(cell_specimen_ids, "cell_specimen_ids") or []))
        have = set(data["cell"].values.tolist())
        unknown = [c for c in wanted if c not in have]
        if unknown:
            raise DecodingInputError(
                f"cell_specimen_ids not in session {session.ophys_experiment_id}: "
                f"{unknown[:10]}{' …' if len(unknown) > 10 else ''} ({len(unknown)} unknown)")
        if not wanted:
            raise DecodingInputError("cell_specimen_ids is empty: no cell to decode from")
        data = data.sel(cell=wanted)
    if n_splits is None:
        n_splits = _auto_splits(data)
    res = decode(data.values, data["label"].values, n_splits=n_splits, **kw)
    res.attrs.update(
        ophys_experiment_id=session.ophys_experiment_id,
        experiment_container_id=session.experiment_container_id,
        cre_line=session.cre_line,
        area=session.targeted_structure,
        imaging_depth=session.imaging_depth,
        session_type=session.session_type,
        stimulus=stimulus,
        label=data.attrs["label"],
        n_cells=res.n_cells,
        n_trials=res.n_trials,
        n_classes=res.n_classes,
        n_blank_excluded=data.attrs["n_blank_excluded"],
    )
    res.confusion.attrs["label"] = data.attrs["label"]
    return res


# ----------------------------------------------------------------------------- catalog level
def decode_catalog(
    obs: Any,
    stimulus: str,
    *,
    area: Any = None,
    cre_line: Any = None,
    max_sessions: int | None = None,
    progress: Callable[[int, int, str], None] | None = None,
    **kw: Any,
) -> pd.DataFrame:
    """Decode every session of a catalog selection; one row per session.

    Parameters
    ----------
    obs : brainobs.catalog.Observatory
    stimulus : {"natural_scenes", "drifting_gratings"}
    area, cre_line : str or list of str, optional
        Selection (as :meth:`Observatory.experiments`; failed containers are left out).
    max_sessions : int, optional
        Only the first ``max_sessions`` sessions of the selection (ordered by experiment id),
        skipped ones included.
    progress : callable, optional
        ``progress(done, total, description)`` after each session.
    **kw
        Passed to :func:`decode_session` (``classifier``, ``n_splits``, ``seed``, ...).

    Returns
    -------
    pandas.DataFrame
        Columns :data:`CATALOG_COLUMNS` (ids, ``cre_line``, ``area``, ``imaging_depth``,
        ``n_cells``, ``n_trials``, ``n_classes``, ``accuracy``, ``ci_low``, ``ci_high``,
        ``chance``, ``chance_empirical``, ``p_permutation``, ...). ``df.attrs["skipped"]``
        lists the sessions left out, each ``{"ophys_experiment_id", "reason"}``: session file
        not on disk, unreadable file, or too few trials/cells to decode.

    Examples
    --------
    >>> df = decode_catalog(obs, "drifting_gratings", area="VISp")   # doctest: +SKIP
    >>> summarize_decoding(df)                                         # doctest: +SKIP
    """
    stimulus = _check_stimulus(stimulus)
    if max_sessions is not None:
        max_sessions = _check_int(max_sessions, "max_sessions", 1)
    exps = obs.experiments(area=area, cre_line=cre_line, stimuli=[stimulus])
    ids = sorted(int(i) for i in exps["id"])
    if max_sessions is not None:
        ids = ids[:max_sessions]
    rows: list[dict[str, Any]] = []
    skipped: list[dict[str, Any]] = []
    for done, eid in enumerate(ids, start=1):
        path = obs.session_path(eid)
        if not path.exists():
            skipped.append({"ophys_experiment_id": eid, "reason": f"session file missing: {path}"})
            note = "skipped (file missing)"
        else:
            try:
                session = obs.session(eid)
                try:
                    res = decode_session(session, stimulus, **kw)
                finally:
                    session.close()
            except (DecodingInputError, NWBFileError) as e:
                skipped.append({"ophys_experiment_id": eid, "reason": str(e)})
                note = f"skipped ({type(e).__name__})"
            else:
                rows.append(res.summary())
                note = f"accuracy {res.accuracy:.3f} (chance {res.chance:.3f})"
        if progress:
            progress(done, len(ids), f"{stimulus} {eid}: {note}")
    df = pd.DataFrame(rows)
    extra = [c for c in df.columns if c not in CATALOG_COLUMNS]
    df = df.reindex(columns=CATALOG_COLUMNS + extra)
    df.attrs["skipped"] = skipped
    df.attrs["stimulus"] = stimulus
    return df


# ----------------------------------------------------------------------------- summary
def _median_bootstrap(values: np.ndarray, clusters: np.ndarray, n_boot: int, level: float,
                      rng: np.random.Generator) -> tuple[float, float]:
    """Percentile interval of the median, resampling clusters (containers) with replacement."""
    codes = np.unique(clusters, return_inverse=True)[1]
    n_clusters = int(codes.max()) + 1
    draws = rng.integers(0, n_clusters, size=(n_boot, n_clusters))
    if n_clusters == values.size:  # one session per container: resample sessions directly
        order = np.argsort(codes)
        meds = np.median(values[order][draws], axis=1)
    else:
        members = [values[codes == c] for c in range(n_clusters)]
        meds = np.array([np.median(np.concatenate([members[c] for c in d])) for d in draws])
    lo, hi = np.percentile(meds, [50 * (1 - level), 50 * (1 + level)])
    return float(lo), float(hi)


def summarize_decoding(
    df: pd.DataFrame,
    by: str | Iterable[str] = ("cre_line", "area"),
    *,
    n_boot: int = 2000,
    ci_level: float = 0.95,
    alpha: float = 0.05,
    seed: int | None = 0,
) -> pd.DataFrame:
    """Decoding accuracy per group (default Cre line × area) of :func:`decode_catalog` rows.

    Parameters
    ----------
    df : DataFrame
        :func:`decode_catalog` output (needs ``accuracy``, ``chance``, ``ci_low``,
        ``ci_high``, ``experiment_container_id`` and the ``by`` columns). When it holds
        several stimuli, ``stimulus`` is added to the groups.
    by : str or sequence of str
    n_boot, ci_level, seed
        Bootstrap of the median.
    alpha : float
        Threshold for ``n_significant`` (sessions with ``p_permutation < alpha``).

    Returns
    -------
    DataFrame, one row per group
        ``n_sessions``, ``n_containers``, ``median_accuracy``, ``ci_low``, ``ci_high``,
        ``interval_method``, ``chance`` (mean of the sessions' ``1 / n_classes``),
        ``chance_empirical`` (mean), ``accuracy_over_chance`` (median accuracy / chance),
        ``n_significant``. ``interval_method`` says where the interval comes from:
        ``"bootstrap"`` — percentile interval of the median over ``n_boot`` resamples of the
        group's containers (with replacement; sessions of a resampled container come along,
        which equals resampling sessions when each container has one session of the
        stimulus, as in the Allen design; widened to include the median in the rare case a
        percentile interval misses it); ``"wilson"`` — a group with a single session gets
        that session's Wilson interval over its pooled out-of-fold trials. With 2–3 sessions
        the bootstrap interval is little more than their range.

    Examples
    --------
    >>> df = pd.DataFrame({"cre_line": ["A", "A", "B"], "area": "VISp",
    ...                    "experiment_container_id": [1, 2, 3], "accuracy": [0.4, 0.6, 0.3],
    ...                    "ci_low": [0.3, 0.5, 0.2], "ci_high": [0.5, 0.7, 0.4],
    ...                    "chance": 0.125})
    >>> summarize_decoding(df)[["cre_line", "n_sessions", "median_accuracy", "interval_method"]]
      cre_line  n_sessions  median_accuracy interval_method
    0        A           2              0.5       bootstrap
    1        B           1              0.3          wilson
    """
    keys = [by] if isinstance(by, str) else list(by)
    if not keys:
        raise ValueError("by needs at least one column")
    needed = ["accuracy", "chance", "ci_low", "ci_high", "experiment_container_id", *keys]
    missing = [c for c in needed if c not in df.columns]
    if missing:
        raise ValueError(
            f"summarize_decoding: df lacks column(s) {missing}; has {list(df.columns)}")
    n_boot = _check_int(n_boot, "n_boot", 1)
    if not 0 < ci_level < 1:
        raise ValueError(f"ci_level must be in (0, 1), got {ci_level!r}")
    if "stimulus" in df.columns and "stimulus" not in keys and df["stimulus"].nunique() > 1:
        keys = ["stimulus", *keys]
    columns = [*keys, "n_sessions", "n_containers", "median_accuracy", "ci_low", "ci_high",
               "interval_method", "chance", "chance_empirical", "accuracy_over_chance",
               "n_significant"]
    data = df.dropna(subset=["accuracy"])
    rng = np.random.default_rng(seed)
    rows = []
    for key, g in data.groupby(keys, sort=True, dropna=False):
        acc = g["accuracy"].to_numpy(dtype=np.float64)
        med = float(np.median(acc))
        if acc.size == 1:
            lo, hi, method = float(g["ci_low"].iloc[0]), float(g["ci_high"].iloc[0]), "wilson"
        else:
            containers = g["experiment_container_id"].to_numpy()
            lo, hi = _median_bootstrap(acc, containers, n_boot, ci_level, rng)
            lo, hi = min(lo, med), max(hi, med)  # a percentile interval may miss the median
            method = "bootstrap"
        chance = float(g["chance"].mean())
        emp = (float(g["chance_empirical"].mean()) if "chance_empirical" in g.columns
               else float("nan"))
        n_sig = (int((g["p_permutation"] < alpha).sum()) if "p_permutation" in g.columns
                 else 0)
        values = key if isinstance(key, tuple) else (key,)
        rows.append([*values, int(acc.size), int(g["experiment_container_id"].nunique()), med,
                     lo, hi, method, chance, emp, med / chance if chance else float("nan"),
                     n_sig])
    return pd.DataFrame(rows, columns=columns)
