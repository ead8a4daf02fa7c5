"""core.changes: flips, confusion matrices, per-class scores and error quantiles, checked
against scikit-learn and numpy computed here on seeded random predictions."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import confusion_matrix, precision_recall_fscore_support

from mlgate.core import changes


def noisy(rng: np.random.Generator, y: np.ndarray, labels: list[str], p: float) -> np.ndarray:
    flip = rng.random(len(y)) < p
    return np.where(flip, rng.choice(labels, len(y)), y)


def test_classification_equals_scikit_learn_with_a_label_only_head_predicts() -> None:
    rng = np.random.default_rng(0)
    labels = ["1", "2", "10"]
    y = rng.choice(labels, 500)
    base = noisy(rng, y, labels, 0.3)
    head = noisy(rng, y, [*labels, "99"], 0.35)  # "99": never a true label

    found = changes.classification(y, base, head)

    order = found["confusion"]["labels"]
    assert order == ["1", "2", "10", "99"]  # numbers in numeric order
    assert found["confusion"]["base"] == confusion_matrix(y, base, labels=order).tolist()
    assert found["confusion"]["head"] == confusion_matrix(y, head, labels=order).tolist()
    for side, pred in (("base", base), ("head", head)):
        p, r, f, s = precision_recall_fscore_support(y, pred, labels=order, zero_division=0)
        for i, label in enumerate(order):
            row = next(c for c in found["per_class"] if c["label"] == label)
            assert row[side] == pytest.approx({"precision": p[i], "recall": r[i], "f1": f[i]})
            assert row["support"] == s[i]
    flips = found["flips"]
    assert flips["changed"] == int((base != head).sum())
    assert flips["fixed"] == int(((base != y) & (head == y)).sum())
    assert flips["broken"] == int(((base == y) & (head != y)).sum())
    assert flips["broken_pct"] == pytest.approx(flips["broken"] / 5)
    broken = np.flatnonzero((base == y) & (head != y))[: changes.ROWS_LISTED]
    assert [r["row"] for r in flips["broken_rows"]] == broken.tolist()
    assert all(r["id"] is None for r in flips["broken_rows"])
    f1 = [c["delta"]["f1"] for c in found["per_class"]]
    assert f1 == sorted(f1)


def test_identical_predictions_change_nothing() -> None:
    y = np.array(["a", "b", "a"])
    found = changes.classification(y, y, y)
    assert found["flips"] == {
        "changed": 0, "fixed": 0, "broken": 0,
        "changed_pct": 0.0, "fixed_pct": 0.0, "broken_pct": 0.0, "broken_rows": [],
    }  # fmt: skip
    assert found["confusion"]["base"] == found["confusion"]["head"] == [[2, 0], [0, 1]]


def test_many_labels_cap_the_lists_and_long_labels_and_ids_are_cut() -> None:
    labels = [f"class-{i:03d}-" + "x" * 100 for i in range(60)]
    y = np.array(labels * 2)
    head = np.roll(y, 1)
    ids = np.array([f"id-{i}-" + "y" * 100 for i in range(len(y))])

    found = changes.classification(y, y, head, ids=ids, id_column="id")

    assert found["labels_total"] == 60 and found["confusion"] is None
    assert len(found["per_class"]) == changes.CLASSES_LISTED
    assert all(len(c["label"]) == changes.TEXT_WIDTH for c in found["per_class"])
    assert found["flips"]["broken"] == 120
    first = found["flips"]["broken_rows"][0]
    assert first["id"].startswith("id-0-") and len(first["id"]) == changes.TEXT_WIDTH
    assert first["id"].endswith("…")


def test_regression_quantiles_and_the_rows_whose_error_grew_most() -> None:
    rng = np.random.default_rng(1)
    y = rng.normal(size=300) * 10
    base = y + rng.normal(size=300)
    head = y + rng.normal(size=300) * 2
    ids = np.array([f"r{i}".encode() for i in range(300)])

    found = changes.regression(y, base, head, ids=ids, id_column="key")

    for side, pred in (("base", base), ("head", head)):
        expected = np.percentile(np.abs(pred - y), [50, 90, 99])
        got = found["errors"][side]
        assert [got["p50"], got["p90"], got["p99"]] == pytest.approx(expected.tolist())
    delta = found["errors"]["delta"]
    assert delta["p90"] == pytest.approx(
        found["errors"]["head"]["p90"] - found["errors"]["base"]["p90"]
    )
    growth = np.abs(head - y) - np.abs(base - y)
    worst = np.argsort(-growth)[: changes.ROWS_LISTED]
    assert [r["row"] for r in found["error_rows"]] == worst.tolist()
    assert [r["id"] for r in found["error_rows"]] == [f"r{i}" for i in worst]
    assert found["errors"]["grew"] + found["errors"]["shrank"] == 300
    assert found["flips"] is None and found["per_class"] == []


def test_predictions_on_other_rows_are_not_compared() -> None:
    y = np.array(["a", "b"])
    other = {"task": np.array("classification"), "y": np.array(["b", "a"]), "pred": y}
    mine = {"task": np.array("classification"), "y": y, "pred": y}
    with pytest.raises(changes.NotComparable, match="same test rows"):
        changes.compare(mine, other)
    regression = {**mine, "task": np.array("regression")}
    with pytest.raises(changes.NotComparable, match="different tasks"):
        changes.compare(mine, regression)
