"""The paired bootstrap's vectorized metrics agree with scikit-learn on resampled rows, and
its intervals cover what they should."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import get_scorer

from mlgate.core import bootstrap
from mlgate.core.bootstrap import METRICS, Predictions, _prepare
from mlgate.core.metrics import ALIASES

CLASSIFICATION = sorted(n for n, (_, cls) in METRICS.items() if cls)
REGRESSION = sorted(n for n, (_, cls) in METRICS.items() if not cls)


class _Fixed:
    """An "estimator" that answers with saved predictions, for sklearn's own scorers."""

    _estimator_type = "classifier"

    def __init__(self, pred, proba=None, classes=None, regression=False):  # type: ignore[no-untyped-def]
        self._pred, self._proba = pred, proba
        self.classes_ = classes
        if regression:
            self._estimator_type = "regressor"

    def __sklearn_tags__(self):  # type: ignore[no-untyped-def]
        from sklearn.utils import Tags, TargetTags

        tags = Tags(estimator_type=self._estimator_type, target_tags=TargetTags(required=True))
        if self._estimator_type == "classifier":
            from sklearn.utils import ClassifierTags

            tags.classifier_tags = ClassifierTags()
        else:
            from sklearn.utils import RegressorTags

            tags.regressor_tags = RegressorTags()
        return tags

    def fit(self, x, y):  # type: ignore[no-untyped-def]
        return self

    def predict(self, x):  # type: ignore[no-untyped-def]
        return self._pred[x[:, 0].astype(int)]

    def predict_proba(self, x):  # type: ignore[no-untyped-def]
        return self._proba[x[:, 0].astype(int)]


def _sklearn(name: str, y, model: _Fixed, rows):  # type: ignore[no-untyped-def]
    """scikit-learn's scorer, on the resampled rows themselves (each repeated as drawn)."""
    value = get_scorer(ALIASES.get(name, name))(model, rows[:, None].astype(float), y[rows])
    return -value if name in ALIASES else value


def _ours(name: str, preds: Predictions, counts, classification: bool):  # type: ignore[no-untyped-def]
    prepared = _prepare((preds, preds), classification)[0]
    return METRICS[name][0](counts[None, :].astype(float), prepared)[0]


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    n=st.integers(20, 120),
    classes=st.sampled_from([2, 2, 3, 4]),
)
def test_classification_metrics_match_sklearn_on_a_resample(
    seed: int, n: int, classes: int
) -> None:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, classes, n)
    y[:classes] = np.arange(classes)  # every class in the test set
    noisy = rng.random(n) < 0.3
    pred = np.where(noisy, rng.integers(0, classes, n), y)
    proba = rng.dirichlet(np.ones(classes), n)
    proba[np.arange(n), y] += rng.random(n)
    proba /= proba.sum(axis=1, keepdims=True)
    labels = np.arange(classes)
    preds = Predictions(
        y=y.astype(str),
        pred=pred.astype(str),
        proba=proba,
        proba_labels=labels.astype(str),
        pos_label="1",
    )
    counts = np.bincount(rng.integers(0, n, n), minlength=n)
    rows = np.repeat(np.arange(n), counts)
    model = _Fixed(pred, proba, labels)
    for name in CLASSIFICATION:
        if classes > 2 and name in ("f1", "precision", "recall", "jaccard"):
            continue  # binary averaging needs a binary target
        if classes > 2 and name in ("roc_auc", "average_precision", "neg_brier_score"):
            continue
        if len(np.unique(y[rows])) < 2 and name in ("roc_auc", "average_precision"):
            continue
        try:
            expected = _sklearn(name, y, model, rows)
        except ValueError:
            continue  # scikit-learn refuses this resample (e.g. a class it never draws)
        assert _ours(name, preds, counts, True) == pytest.approx(expected, abs=1e-9), name


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10_000), n=st.integers(10, 150), scale=st.sampled_from([1.0, 1e4]))
def test_regression_metrics_match_sklearn_on_a_resample(seed: int, n: int, scale: float) -> None:
    rng = np.random.default_rng(seed)
    y = rng.normal(5, 2, n) * scale
    pred = y + rng.normal(0, 1, n) * scale
    preds = Predictions(y=y, pred=pred)
    counts = np.bincount(rng.integers(0, n, n), minlength=n)
    rows = np.repeat(np.arange(n), counts)
    model = _Fixed(pred, regression=True)
    for name in REGRESSION:
        expected = _sklearn(name, y, model, rows)
        got = _ours(name, preds, counts, False)
        assert got == pytest.approx(expected, rel=1e-7, abs=1e-9), name


def _binary(seed: int, n: int, flip: float, y=None):  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n) if y is None else y
    pred = np.where(rng.random(n) < flip, 1 - y, y)
    proba = np.column_stack([1 - pred * 0.8 - 0.1, pred * 0.8 + 0.1])
    return y, Predictions(
        y=y.astype(str),
        pred=pred.astype(str),
        proba=proba,
        proba_labels=np.array(["0", "1"]),
        pos_label="1",
    )


def test_equal_models_change_within_a_narrow_interval_around_zero() -> None:
    y, one = _binary(1, 500, 0.2)
    _, other = _binary(2, 500, 0.2, y)
    found = bootstrap.paired(one, other, ["accuracy", "roc_auc"], classification=True)
    for name in ("accuracy", "roc_auc"):
        spread = found[name]
        assert isinstance(spread, bootstrap.Spread)
        low, high = spread.interval(0.95)
        assert low < 0 < high
        assert high - low < 0.15  # two 80%-accurate models, 500 rows: about ± 0.05
        assert spread.resamples == bootstrap.RESAMPLES


def test_a_real_drop_is_outside_the_interval() -> None:
    y, good = _binary(1, 2000, 0.05)
    _, bad = _binary(2, 2000, 0.3, y)
    spread = bootstrap.paired(good, bad, ["accuracy"], classification=True)["accuracy"]
    assert isinstance(spread, bootstrap.Spread)
    high = spread.interval(0.95)[1]
    assert high < -0.2  # about 0.25 worse, clearly not noise


def test_seeded_the_same_predictions_give_the_same_interval() -> None:
    y, one = _binary(1, 300, 0.2)
    _, other = _binary(2, 300, 0.25, y)
    a = bootstrap.paired(one, other, ["f1"], classification=True)["f1"]
    b = bootstrap.paired(one, other, ["f1"], classification=True)["f1"]
    assert isinstance(a, bootstrap.Spread) and isinstance(b, bootstrap.Spread)
    assert a.interval(0.9) == b.interval(0.9)


def test_a_large_test_set_is_bootstrapped_on_a_subset_with_the_spread_rescaled() -> None:
    y, one = _binary(3, 40_000, 0.2)
    _, other = _binary(4, 40_000, 0.2, y)
    whole = bootstrap.paired(one, other, ["accuracy"], classification=True, max_rows=40_000)
    part = bootstrap.paired(one, other, ["accuracy"], classification=True, max_rows=5_000)
    a, b = whole["accuracy"], part["accuracy"]
    assert isinstance(a, bootstrap.Spread) and isinstance(b, bootstrap.Spread)
    width = np.subtract(*a.interval(0.95)[::-1])
    assert np.subtract(*b.interval(0.95)[::-1]) == pytest.approx(width, rel=0.15)
    assert np.mean(b.interval(0.95)) == pytest.approx(np.mean(a.interval(0.95)), abs=width / 4)


def test_predictions_on_other_rows_are_refused() -> None:
    _, one = _binary(1, 100, 0.2)
    _, other = _binary(2, 100, 0.2)
    with pytest.raises(ValueError, match="not on the same test rows"):
        bootstrap.paired(one, other, ["accuracy"], classification=True)


def test_a_metric_without_a_bootstrap_says_why() -> None:
    _, one = _binary(1, 100, 0.2)
    found = bootstrap.paired(one, one, ["top_k_accuracy", "r2"], classification=True)
    assert (
        found["top_k_accuracy"]
        == "top_k_accuracy: no interval, mlgate has no bootstrap for this metric"
    )
    assert "does not fit the model's task" in str(found["r2"])


def test_a_saved_subset_gives_the_interval_of_the_whole_set() -> None:
    """The worker saves only ``subset``'s rows of a large test set; the parent's interval
    from them matches the one from all the rows."""
    y, one = _binary(3, 30_000, 0.2)
    _, other = _binary(4, 30_000, 0.2, y)
    whole = bootstrap.paired(one, other, ["accuracy"], classification=True, max_rows=5_000)
    rows = bootstrap.subset(30_000, 5_000)
    assert rows is not None and len(rows) == 5_000

    def saved(p: Predictions) -> Predictions:
        return Predictions(
            p.y[rows], p.pred[rows], p.proba[rows], p.proba_labels, None, "1", 30_000
        )

    point = {"accuracy": float(np.mean(other.y == other.pred) - np.mean(one.y == one.pred))}
    part = bootstrap.paired(
        saved(one), saved(other), ["accuracy"], classification=True, max_rows=5_000, point=point
    )
    a, b = whole["accuracy"], part["accuracy"]
    assert isinstance(a, bootstrap.Spread) and isinstance(b, bootstrap.Spread)
    assert b.rows == 30_000
    assert b.interval(0.95) == pytest.approx(a.interval(0.95), abs=1e-9)
