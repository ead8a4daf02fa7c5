"""Where the model changed: base's and head's predictions on the same test rows, compared
row by row. Pure; numpy only (imported here, and this module only when the changes are
computed: run.changes remembers them, so a warm check imports neither).

Classification: each model's confusion matrix (rows: true label, columns: predicted) and
per-class precision, recall and F1 (scikit-learn's definitions, 0 where undefined), sorted
by the largest F1 drop; and the **prediction flips**: of N rows, how many changed their
prediction, how many were fixed (wrong → right) and how many broke (right → wrong), with
the first broken rows. Regression: p50/p90/p99 of |error| for both sides and the rows whose
|error| grew most.

Rows are named by their 0-based position in the test file (pandas' default index: the
first data row is 0, on line 2 of a CSV with a header), and by the ``data.id`` column's
value when the config names one. Everything is over all N rows, also when the bootstrap
keeps only a subset. Labels and ids are cut at ``TEXT_WIDTH`` characters, long lists at the
caps below, so a hostile or huge test set cannot make the report too big to post.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

Array = Any  # numpy arrays

ROWS_LISTED = 10  # broken rows, and rows whose error grew most, listed
CLASSES_LISTED = 50  # per-class rows listed (worst F1 change first); the total counts all
MATRIX_CLASSES = 20  # confusion matrices only up to this many labels
TEXT_WIDTH = 64  # characters of a label or an id shown
QUANTILES = (("p50", 50.0), ("p90", 90.0), ("p99", 99.0))


class NotComparable(ValueError):
    """The two files are not predictions on the same rows (the message says why)."""


def cut(text: str, width: int = TEXT_WIDTH) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def _label_order(values: Array) -> list[str]:
    """Distinct labels, numbers in numeric order (as scikit-learn sorts integer classes),
    then the rest as strings."""

    def key(label: str) -> tuple[int, float, str]:
        try:
            number = float(label)
        except ValueError:
            return (1, 0.0, label)
        return (0, number, label) if np.isfinite(number) else (1, 0.0, label)

    return sorted((str(v) for v in np.unique(values)), key=key)


def _pct(part: int, whole: int) -> float:
    return 0.0 if whole == 0 else part / whole * 100.0


def _ids(ids: Array | None, rows: Array) -> list[str | None]:
    if ids is None:
        return [None] * len(rows)
    return [cut(_text(ids[i])) for i in rows]


def _text(value: Any) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return str(value)


def _per_class(cm: Array) -> dict[str, Array]:
    tp = np.diag(cm).astype(float)
    predicted, true = cm.sum(axis=0).astype(float), cm.sum(axis=1).astype(float)

    def ratio(num: Array, den: Array) -> Array:
        out = np.zeros_like(num)
        np.divide(num, den, out=out, where=den > 0)
        return out

    return {
        "precision": ratio(tp, predicted),
        "recall": ratio(tp, true),
        "f1": ratio(2 * tp, predicted + true),
    }


def _confusion(codes_y: Array, codes_pred: Array, k: int) -> Array:
    return np.bincount(codes_y * k + codes_pred, minlength=k * k).reshape(k, k)


def classification(
    y: Array, base: Array, head: Array, *, ids: Array | None = None, id_column: str | None = None
) -> dict[str, Any]:
    """The changes between ``base``'s and ``head``'s predicted labels on rows labelled ``y``
    (all as strings, one per row, in file order); ``ids``: each row's ``data.id`` value."""
    y, base, head = (np.asarray(a).astype(str) for a in (y, base, head))
    n = len(y)
    if not (len(base) == len(head) == n):
        raise NotComparable(f"{len(base)} and {len(head)} predictions for {n} rows")
    distinct, inverse = np.unique(np.concatenate([y, base, head]), return_inverse=True)
    labels = _label_order(distinct)
    k = len(labels)
    rank = {label: i for i, label in enumerate(labels)}
    # Codes in the report's label order: np.unique's (string) order, re-ranked once.
    codes = np.array([rank[str(v)] for v in distinct], dtype=np.int64)[inverse.reshape(-1)]
    cy, cb, ch = codes[:n], codes[n : 2 * n], codes[2 * n :]
    base_right, head_right = cb == cy, ch == cy
    changed = cb != ch
    fixed = ~base_right & head_right
    broken = base_right & ~head_right
    broken_rows = np.flatnonzero(broken)[:ROWS_LISTED]
    cm_base, cm_head = _confusion(cy, cb, k), _confusion(cy, ch, k)
    stats = {"base": _per_class(cm_base), "head": _per_class(cm_head)}
    support = cm_base.sum(axis=1)
    classes = []
    for i, label in enumerate(labels):
        row: dict[str, Any] = {"label": cut(label), "support": int(support[i])}
        for side in ("base", "head"):
            row[side] = {m: float(stats[side][m][i]) for m in ("precision", "recall", "f1")}
        row["delta"] = {m: row["head"][m] - row["base"][m] for m in ("precision", "recall", "f1")}
        classes.append(row)
    # Largest F1 drop first; ties by recall's drop, then by label order.
    order = sorted(
        range(k), key=lambda i: (classes[i]["delta"]["f1"], classes[i]["delta"]["recall"], i)
    )
    return {
        "task": "classification",
        "rows": n,
        "id_column": id_column,
        "flips": {
            "changed": int(changed.sum()),
            "fixed": int(fixed.sum()),
            "broken": int(broken.sum()),
            "changed_pct": _pct(int(changed.sum()), n),
            "fixed_pct": _pct(int(fixed.sum()), n),
            "broken_pct": _pct(int(broken.sum()), n),
            "broken_rows": [
                {
                    "row": int(r),
                    "id": i,
                    "label": cut(y[r]),
                    "base": cut(base[r]),
                    "head": cut(head[r]),
                }
                for r, i in zip(broken_rows, _ids(ids, broken_rows), strict=True)
            ],
        },
        "labels_total": k,
        "confusion": None
        if k > MATRIX_CLASSES
        else {
            "labels": [cut(label) for label in labels],
            "base": cm_base.tolist(),
            "head": cm_head.tolist(),
        },
        "per_class": [classes[i] for i in order[:CLASSES_LISTED]],
        "errors": None,
        "error_rows": [],
    }


def _quantiles(errors: Array) -> dict[str, float | None]:
    if len(errors) == 0:
        return {name: None for name, _ in QUANTILES}
    return {name: float(np.percentile(errors, q)) for name, q in QUANTILES}


def regression(
    y: Array, base: Array, head: Array, *, ids: Array | None = None, id_column: str | None = None
) -> dict[str, Any]:
    """The changes between ``base``'s and ``head``'s predicted numbers on rows with target
    ``y``: quantiles of |error| per side, and the rows whose |error| grew most."""
    y, base, head = (np.asarray(a, dtype=float) for a in (y, base, head))
    n = len(y)
    if not (len(base) == len(head) == n):
        raise NotComparable(f"{len(base)} and {len(head)} predictions for {n} rows")
    err_base, err_head = base - y, head - y
    growth = np.abs(err_head) - np.abs(err_base)
    grew = np.flatnonzero(growth > 0)
    worst = grew[np.argsort(-growth[grew], kind="stable")][:ROWS_LISTED]
    q_base, q_head = _quantiles(np.abs(err_base)), _quantiles(np.abs(err_head))
    delta = {
        name: None if q_base[name] is None or q_head[name] is None else q_head[name] - q_base[name]  # type: ignore[operator]
        for name, _ in QUANTILES
    }
    return {
        "task": "regression",
        "rows": n,
        "id_column": id_column,
        "flips": None,
        "labels_total": None,
        "confusion": None,
        "per_class": [],
        "errors": {
            "base": q_base,
            "head": q_head,
            "delta": delta,
            "grew": len(grew),
            "shrank": int((growth < 0).sum()),
        },
        "error_rows": [
            {
                "row": int(r),
                "id": i,
                "target": float(y[r]),
                "base_error": float(err_base[r]),
                "head_error": float(err_head[r]),
                "growth": float(growth[r]),
            }
            for r, i in zip(worst, _ids(ids, worst), strict=True)
        ],
    }


def rows_of(arrays: Mapping[str, Array]) -> tuple[Array, Array | None]:
    """A predictions file's labels and predictions on all its rows: the full copies
    (``all_y``, ``all_pred``; classification as codes into ``all_labels``) when the file
    keeps only the bootstrap's subset in ``y`` and ``pred``."""
    if "all_y" not in arrays:
        if "rows" in arrays and int(arrays["rows"]) != len(arrays["y"]):
            raise NotComparable(
                f"the file keeps only {len(arrays['y']):,} of {int(arrays['rows']):,} rows "
                "(saved by an earlier mlgate; `mlgate check --no-cache` saves them all)"
            )
        return arrays["y"], arrays.get("pred")
    y, pred = arrays["all_y"], arrays.get("all_pred")
    if "all_labels" in arrays:
        labels = arrays["all_labels"]
        return labels[y], None if pred is None else labels[pred]
    return y, pred


def compare(
    base: Mapping[str, Array], head: Mapping[str, Array], *, id_column: str | None = None
) -> dict[str, Any]:
    """The changes from two predictions files' arrays (as the worker saves them), on the
    same rows. NotComparable when they are not predictions on the same rows."""
    tasks = {str(base.get("task", "")), str(head.get("task", ""))}
    if len(tasks) != 1:
        raise NotComparable("the two models' predictions are of different tasks")
    (y_base, p_base), (y_head, p_head) = rows_of(base), rows_of(head)
    if p_base is None or p_head is None:
        raise NotComparable("a model's predict output was not kept (not one label per row)")
    numbers = tasks == {"regression"}
    same = len(y_base) == len(y_head) and (
        np.array_equal(np.asarray(y_base, float), np.asarray(y_head, float), equal_nan=True)
        if numbers
        else np.array_equal(np.asarray(y_base).astype(str), np.asarray(y_head).astype(str))
    )
    if not same:
        raise NotComparable("the two files are not on the same test rows")
    ids = head.get("ids", base.get("ids"))
    if ids is not None and len(ids) != len(y_head):
        ids = None
    found = regression if numbers else classification
    return found(y_head, p_base, p_head, ids=ids, id_column=id_column if ids is not None else None)


def sorted_labels(values: Sequence[str]) -> list[str]:
    """The label order the confusion matrices use (for tests and callers that count)."""
    return _label_order(np.asarray(list(values)).astype(str))
