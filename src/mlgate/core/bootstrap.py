"""The paired bootstrap: how much of a metric's change between two models is noise.

Both models' predictions on the same test rows; each resample draws the rows with
replacement (seeded: ``SEED``), every metric is computed for both models on that same
resample, and the spread of head − base over the resamples gives a percentile interval.
Vectorized: a resample is a row of a (resamples × rows) count matrix ``W``, and each metric
comes from weighted sums ``W @ x`` (per-class counts for the confusion-matrix metrics, sums
of errors for regression, a sort done once plus cumulative sums for roc_auc and
average_precision, per-row losses for log_loss and brier). Test sets over ``MAX_ROWS``
rows are bootstrapped on a seeded random subset of that many rows (``subset``: the
worker saves only those), the spread rescaled by sqrt(m/n) and centred on the change the
scorers measured on all rows (an m-out-of-n bootstrap): cost and storage stay bounded.

numpy is imported here and only here (run.noise imports this module when it computes).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

SEED = 0  # fixed: the same predictions always give the same interval
RESAMPLES = 1000
MAX_ROWS = 10_000  # m of the m-out-of-n bootstrap: its cost is bounded by this many rows
_CHUNK = 100  # resamples per count matrix: bounds memory at _CHUNK × MAX_ROWS
_MAX_UNDEFINED = 0.05  # resamples a metric may be undefined on (e.g. one class drawn)

Array = Any  # numpy arrays; numpy's own typing adds nothing to the checks here


@dataclass(frozen=True)
class Predictions:
    """One model's predictions on the test rows, as the worker saved them.

    Classification: ``y`` and ``pred`` are labels as strings, ``proba`` the predict_proba
    columns in the order of ``proba_labels``, ``decision`` a binary decision_function;
    ``pos_label`` is the label scikit-learn's binary scorers take as positive (the one
    equal to 1), "" when there is none. Regression: ``y`` and ``pred`` are floats."""

    y: Array
    pred: Array | None = None
    proba: Array | None = None
    proba_labels: Array | None = None
    decision: Array | None = None
    pos_label: str = ""
    rows: int = 0  # the test set's rows when these are the ``subset`` of them; 0: all


class Unsupported(ValueError):
    """This metric has no bootstrap here (the message says why); the others still do."""


# --- metrics as functions of a weight matrix ---------------------------------------------
# Each takes the (R × n) weights and one model's prepared arrays and returns R values in
# mlgate's sign convention (rmse/mae/mse positive, neg_* negative).

Metric = Callable[[Array, "_Prepared"], Array]


@dataclass
class _Prepared:
    """One model's arrays in a code space shared with the other model; ``memo`` keeps what
    every chunk of resamples needs again (one-hot columns, the sort, per-row losses)."""

    y: Array  # class codes (classification) or floats
    pred: Array | None
    classes: int
    pos: int  # code of pos_label, -1 when none
    proba: Array | None  # n × k, columns = codes in proba_codes
    proba_codes: Array | None
    score: Array | None  # the positive-class score the ranking scorers use
    score_pos: int  # code of the class ``score`` ranks as positive
    memo: dict[str, Any] = field(default_factory=dict)

    def once(self, key: str, compute: Callable[[], Any]) -> Any:
        if key not in self.memo:
            self.memo[key] = compute()
        return self.memo[key]


def _class_counts(w: Array, p: _Prepared) -> tuple[Array, Array, Array]:
    """Per-class weighted true positives, predicted and true counts: (R × K) each."""
    assert p.pred is not None
    pred_codes = p.pred

    def onehots() -> Array:
        k = p.classes
        hit = np.where(p.y == pred_codes, p.y, k)  # a row's class when predicted right, else k
        eye = np.eye(k + 1)
        return np.hstack([eye[codes][:, :k] for codes in (hit, pred_codes, p.y)])

    counts = w @ p.once("onehots", onehots)
    tp, pred, true = np.split(counts, 3, axis=1)
    return tp, pred, true


def _ratio(num: Array, den: Array) -> Array:
    """num / den with 0 where den is 0 (scikit-learn's zero_division default)."""
    out = np.zeros_like(num, dtype=float)
    np.divide(num, den, out=out, where=den > 0)
    return out


def _per_class(kind: str, tp: Array, pred: Array, true: Array) -> Array:
    if kind == "precision":
        return _ratio(tp, pred)
    if kind == "recall":
        return _ratio(tp, true)
    if kind == "f1":
        return _ratio(2 * tp, pred + true)
    return _ratio(tp, pred + true - tp)  # jaccard


def _averaged(kind: str, average: str) -> Metric:
    def metric(w: Array, p: _Prepared) -> Array:
        tp, pred, true = _class_counts(w, p)
        if average == "binary":
            if p.pos < 0:
                raise Unsupported("no label equals 1, the positive label of its scorer")
            s = slice(p.pos, p.pos + 1)
            return _per_class(kind, tp[:, s], pred[:, s], true[:, s])[:, 0]
        if average == "micro":
            sums = [a.sum(axis=1, keepdims=True) for a in (tp, pred, true)]
            return _per_class(kind, *sums)[:, 0]
        scores = _per_class(kind, tp, pred, true)
        if average == "weighted":
            return _ratio((scores * true).sum(axis=1), true.sum(axis=1))
        present = (pred + true) > 0  # the labels in this resample's y_true or y_pred
        return _ratio((scores * present).sum(axis=1), present.sum(axis=1))

    return metric


def _accuracy(w: Array, p: _Prepared) -> Array:
    return (w @ p.once("correct", lambda: (p.y == p.pred).astype(float))) / w.sum(axis=1)


def _balanced_accuracy(w: Array, p: _Prepared) -> Array:
    tp, _, true = _class_counts(w, p)
    present = true > 0
    return _ratio((_ratio(tp, true) * present).sum(axis=1), present.sum(axis=1))


def _matthews(w: Array, p: _Prepared) -> Array:
    tp, pred, true = _class_counts(w, p)
    s, c = w.sum(axis=1), tp.sum(axis=1)
    cov = c * s - (pred * true).sum(axis=1)
    den = np.sqrt((s**2 - (pred**2).sum(axis=1)) * (s**2 - (true**2).sum(axis=1)))
    return _ratio(cov, den)


def _sums(w: Array, columns: Sequence[Array]) -> Array:
    """Weighted means of several per-row columns at once: (R × len(columns))."""
    return (w @ np.column_stack(columns)) / w.sum(axis=1, keepdims=True)


def _regression(kind: str) -> Metric:
    def metric(w: Array, p: _Prepared) -> Array:
        assert p.pred is not None
        err = p.pred - p.y
        if kind in ("mse", "rmse"):
            mse = _sums(w, [err**2])[:, 0]
            return np.sqrt(mse) if kind == "rmse" else mse
        if kind == "mae":
            return _sums(w, [np.abs(err)])[:, 0]
        if kind == "mape":
            return _sums(w, [np.abs(err) / np.maximum(np.abs(p.y), np.finfo(float).eps)])[:, 0]
        y = p.y - p.y.mean()  # shift-invariant, and the squares stay small
        m = _sums(w, [y, y**2, err, err**2])
        var_y = m[:, 1] - m[:, 0] ** 2
        resid = m[:, 3] if kind == "r2" else m[:, 3] - m[:, 2] ** 2
        out = np.where(var_y > 0, 1 - _ratio(resid, var_y), np.nan)
        return out

    return metric


def _score_groups(w: Array, p: _Prepared) -> tuple[Array, Array]:
    """Per resample, the weight of positive and of negative rows at each distinct score,
    lowest score first: (R × G) each. The distinct scores are found once; each chunk of
    resamples is then one sparse product (rows → their score's column), not a sort."""
    score = p.score
    if score is None or p.score_pos < 0:
        raise Unsupported("it needs predict_proba or decision_function scores of a binary model")

    def groups() -> Any:
        from scipy.sparse import csr_matrix  # with scikit-learn, wherever a model was scored

        _, group = np.unique(score, return_inverse=True)
        positive = p.y == p.score_pos
        column = np.where(positive, group, group + group.max() + 1)  # [positives | negatives]
        rows = len(score)
        ones = np.ones(rows)
        return csr_matrix((ones, (np.arange(rows), column)), shape=(rows, 2 * (group.max() + 1)))

    counts = np.asarray((p.once("groups", groups).T @ w.T).T)
    pos, neg = np.split(counts, 2, axis=1)
    return pos, neg


def _binary_only(p: _Prepared) -> None:
    if p.classes > 2:
        raise Unsupported("its bootstrap covers binary models only")


def _roc_auc(w: Array, p: _Prepared) -> Array:
    _binary_only(p)
    pos, neg = _score_groups(w, p)
    below = np.cumsum(neg, axis=1) - neg  # negatives ranked strictly lower
    pairs = pos.sum(axis=1) * neg.sum(axis=1)
    auc = (pos * (below + 0.5 * neg)).sum(axis=1)
    return np.where(pairs > 0, _ratio(auc, pairs), np.nan)


def _average_precision(w: Array, p: _Prepared) -> Array:
    _binary_only(p)
    pos, neg = _score_groups(w, p)
    pos, seen = pos[:, ::-1], (pos + neg)[:, ::-1]  # thresholds from the highest score down
    tps, total = np.cumsum(pos, axis=1), np.cumsum(seen, axis=1)
    positives = pos.sum(axis=1)
    ap = (pos * _ratio(tps, total)).sum(axis=1)
    return np.where(positives > 0, _ratio(ap, positives), np.nan)


def _losses(kind: str, p: _Prepared) -> Array:
    """Per-row losses: the log loss of the true class, or the binary Brier score's term."""
    if p.proba is None or p.proba_codes is None:
        raise Unsupported("it needs predict_proba")
    proba = p.proba.astype(float)
    if kind == "brier":
        _binary_only(p)
        hit = (p.y == p.proba_codes[1]).astype(float)
        return (hit - proba[:, 1]) ** 2
    column = np.full(p.classes, -1)
    column[p.proba_codes] = np.arange(len(p.proba_codes))
    if (column[p.y] < 0).any():
        raise Unsupported("a test label is not among the model's classes")
    eps = np.finfo(float).eps
    proba = np.clip(proba, eps, 1 - eps)
    proba /= proba.sum(axis=1, keepdims=True)
    return -np.log(proba[np.arange(len(p.y)), column[p.y]])


def _row_loss(kind: str) -> Metric:
    def metric(w: Array, p: _Prepared) -> Array:
        loss = p.once(f"loss-{kind}", lambda: _losses(kind, p))
        return -_sums(w, [loss])[:, 0]

    return metric


def _table() -> dict[str, tuple[Metric, bool]]:
    """mlgate's metric name -> (function, whether it is a classification metric)."""
    table: dict[str, tuple[Metric, bool]] = {
        "accuracy": (_accuracy, True),
        "balanced_accuracy": (_balanced_accuracy, True),
        "matthews_corrcoef": (_matthews, True),
        "roc_auc": (_roc_auc, True),
        "average_precision": (_average_precision, True),
        "neg_log_loss": (_row_loss("log"), True),
        "neg_brier_score": (_row_loss("brier"), True),
    }
    for kind in ("f1", "precision", "recall", "jaccard"):
        table[kind] = (_averaged(kind, "binary"), True)
        for average in ("macro", "micro", "weighted"):
            table[f"{kind}_{average}"] = (_averaged(kind, average), True)
    for kind, names in {
        "mse": ("mse", "neg_mean_squared_error"),
        "rmse": ("rmse", "neg_root_mean_squared_error"),
        "mae": ("mae", "neg_mean_absolute_error"),
        "mape": ("neg_mean_absolute_percentage_error",),
        "r2": ("r2",),
        "explained_variance": ("explained_variance",),
    }.items():
        for name in names:
            sign = -1.0 if name.startswith("neg_") else 1.0
            table[name] = (_signed(_regression(kind), sign), False)
    return table


def _signed(metric: Metric, sign: float) -> Metric:
    return lambda w, p: sign * metric(w, p)


METRICS = _table()


def supports(name: str) -> bool:
    return name in METRICS


# --- preparing both models' arrays ---------------------------------------------------------


def _prepare(pair: tuple[Predictions, Predictions], classification: bool) -> list[_Prepared]:
    """Both models in one code space (labels are strings: their union, sorted)."""
    if not classification:
        return [
            _Prepared(np.asarray(p.y, float), _floats(p.pred), 0, -1, None, None, None, -1)
            for p in pair
        ]
    labels = [pair[0].y, *(a for p in pair for a in (p.pred, p.proba_labels) if a is not None)]
    names = np.unique(np.concatenate([np.asarray(a, str) for a in labels]))

    def code(values: Array | None) -> Array | None:
        return None if values is None else np.searchsorted(names, np.asarray(values, str))

    def one(p: Predictions) -> _Prepared:
        pos = int(np.searchsorted(names, p.pos_label)) if p.pos_label in names else -1
        proba_codes = code(p.proba_labels)
        score = p.decision
        if score is None and p.proba is not None and p.proba.shape[1] == 2:
            score = p.proba[:, 1]
        score_pos = -1 if proba_codes is None or len(proba_codes) != 2 else int(proba_codes[1])
        return _Prepared(
            code(p.y), code(p.pred), len(names), pos, p.proba, proba_codes, score, score_pos
        )

    return [one(p) for p in pair]


def _floats(values: Array | None) -> Array | None:
    return None if values is None else np.asarray(values, float)


def _take(p: Predictions, rows: Array | None) -> Predictions:
    """The predictions on ``rows`` only (None: all of them)."""
    if rows is None:
        return p

    def cut(a: Array | None) -> Array | None:
        return None if a is None else a[rows]

    return Predictions(
        p.y[rows], cut(p.pred), cut(p.proba), p.proba_labels, cut(p.decision), p.pos_label
    )


def _weights(rng: Any, rows: int, resamples: int) -> Iterator[Array]:
    """Count matrices, ``_CHUNK`` resamples at a time: how often each row was drawn."""
    for start in range(0, resamples, _CHUNK):
        r = min(_CHUNK, resamples - start)
        draws = rng.integers(0, rows, size=(r, rows), dtype=np.int32)
        draws += (np.arange(r, dtype=np.int32) * rows)[:, None]
        yield np.bincount(draws.ravel(), minlength=r * rows).reshape(r, rows).astype(float)


@dataclass(frozen=True)
class Spread:
    """A metric's bootstrap distribution of head − base, rescaled to the whole test set."""

    deltas: Array
    rows: int
    resamples: int

    def interval(self, confidence: float) -> tuple[float, float]:
        tail = (1 - confidence) / 2
        low, high = np.nanquantile(self.deltas, [tail, 1 - tail])
        return float(low), float(high)


def subset(rows: int, max_rows: int = MAX_ROWS) -> Array | None:
    """The rows an m-out-of-n bootstrap of a ``rows``-row test set uses (None: all): seeded,
    so the training worker saves only these and every model's file holds the same ones."""
    if rows <= max_rows:
        return None
    return np.sort(np.random.default_rng(SEED).choice(rows, max_rows, replace=False))


def paired(
    base: Predictions,
    head: Predictions,
    metrics: Sequence[str],
    *,
    classification: bool,
    resamples: int = RESAMPLES,
    max_rows: int = MAX_ROWS,
    point: Mapping[str, float] | None = None,
) -> dict[str, Spread | str]:
    """Per metric, its Spread or the reason it has none. ValueError when the two models'
    predictions are not on the same rows (then no metric has an interval). ``point``: each
    metric's change on the whole test set as the scorers measured it, the centre of an
    m-out-of-n interval (computed here when absent)."""
    same = base.rows == head.rows and np.array_equal(base.y, head.y)
    if len(base.y) != len(head.y) or not same:
        raise ValueError("the two models' predictions are not on the same test rows")
    n = max(base.rows, len(base.y))
    rows = subset(len(base.y), max_rows)
    sub = _prepare((_take(base, rows), _take(head, rows)), classification)
    m = len(sub[0].y)
    weights = list(_weights(np.random.default_rng(SEED + 1), m, resamples))
    full: list[list[_Prepared]] = []

    def whole(name: str, metric: Metric) -> float:
        if point is not None and name in point:
            return float(point[name])
        if len(base.y) < n:  # only a subset was saved: centre on its own change
            return float(_delta(metric, np.ones((1, m)), sub)[0])
        if not full:  # only without the scorers' figures: the whole set in one pass
            full.append(_prepare((base, head), classification))
        return float(_delta(metric, np.ones((1, n)), full[0])[0])

    found: dict[str, Spread | str] = {}
    for name in metrics:
        try:
            found[name] = _spread(name, sub, weights, n, classification, whole)
        except Unsupported as e:
            found[name] = f"{name}: no interval, {e}"
    return found


def _delta(metric: Metric, w: Array, pair: Sequence[_Prepared]) -> Array:
    return metric(w, pair[1]) - metric(w, pair[0])


def _spread(
    name: str,
    sub: list[_Prepared],
    weights: list[Array],
    n: int,
    classification: bool,
    whole: Callable[[str, Metric], float],
) -> Spread:
    entry = METRICS.get(name)
    if entry is None:
        raise Unsupported("mlgate has no bootstrap for this metric")
    metric, for_classes = entry
    if for_classes != classification:
        raise Unsupported("it does not fit the model's task")
    unlabelled = any(p.pred is None for p in sub)
    if unlabelled and name not in (
        "roc_auc",
        "average_precision",
        "neg_log_loss",
        "neg_brier_score",
    ):
        raise Unsupported("no predictions were saved")
    deltas = np.concatenate([_delta(metric, w, sub) for w in weights])
    if np.isnan(deltas).mean() > _MAX_UNDEFINED:
        raise Unsupported("it is undefined on too many resamples of these rows")
    m = len(sub[0].y)
    if m < n:  # m-out-of-n: centre on the whole set's change, shrink the spread
        own = _delta(metric, np.ones((1, m)), sub)[0]
        deltas = whole(name, metric) + (deltas - own) * np.sqrt(m / n)
    return Spread(deltas, n, len(deltas))


def load(arrays: Mapping[str, Array]) -> Predictions:
    """Predictions from the arrays of a worker's ``.npz`` (read with allow_pickle=False)."""
    pos = arrays.get("pos_label")
    return Predictions(
        y=arrays["y"],
        pred=arrays.get("pred"),
        proba=arrays.get("proba"),
        proba_labels=arrays.get("proba_labels"),
        decision=arrays.get("decision"),
        pos_label="" if pos is None else str(pos),
        rows=int(arrays["rows"]) if "rows" in arrays else 0,
    )
