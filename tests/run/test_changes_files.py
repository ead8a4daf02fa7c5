"""The changes section's input: the worker's predictions files (run.fit.save_predictions)
read back the way the parent reads them (run.noise, allow_pickle=False). A test set over
the bootstrap's subset keeps every row for the flips and confusion counts."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import confusion_matrix

from mlgate.core import bootstrap, changes
from mlgate.run import noise
from mlgate.run.fit import save_predictions


def saved(path: Path, y: object, pred: object, task: str, ids: object = None) -> dict[str, object]:
    assert save_predictions(str(path), y, {"predict": pred}, None, task, ids) == str(path)
    sha = hashlib.sha256(path.read_bytes()).hexdigest()
    return noise.read(noise.Kept(str(path)), sha)


def test_a_large_test_set_keeps_every_row_for_the_changes(tmp_path: Path) -> None:
    rows = bootstrap.MAX_ROWS * 2 + 123
    rng = np.random.default_rng(0)
    y = pd.Series(rng.choice([0, 1, 2], rows))
    base = np.where(rng.random(rows) < 0.2, rng.choice([0, 1, 2], rows), y)
    head = np.where(rng.random(rows) < 0.25, rng.choice([0, 1, 2], rows), y)
    ids = pd.Series([f"c{i}" for i in range(rows)])

    arrays = [
        saved(tmp_path / f"{n}.npz", y, p, "classification", ids)
        for n, p in (("b", base), ("h", head))
    ]

    assert len(arrays[0]["y"]) == bootstrap.MAX_ROWS  # the bootstrap's subset
    assert arrays[0]["all_y"].dtype == np.uint8  # every row, as compact codes
    found = changes.compare(arrays[0], arrays[1], id_column="key")
    assert found["rows"] == rows
    truth = y.to_numpy()
    assert found["flips"]["broken"] == int(((base == truth) & (head != truth)).sum())
    labels = found["confusion"]["labels"]
    assert labels == ["0", "1", "2"]
    expected = confusion_matrix(truth.astype(str), head.astype(str), labels=labels)
    assert found["confusion"]["head"] == expected.tolist()
    first = found["flips"]["broken_rows"][0]
    assert first["id"] == f"c{first['row']}"


def test_a_large_regression_test_set_keeps_every_row(tmp_path: Path) -> None:
    rows = bootstrap.MAX_ROWS + 5
    rng = np.random.default_rng(1)
    y = rng.normal(size=rows)
    base, head = y + rng.normal(size=rows), y + 2 * rng.normal(size=rows)
    arrays = [
        saved(tmp_path / f"{n}.npz", y, p, "regression") for n, p in (("b", base), ("h", head))
    ]
    found = changes.compare(arrays[0], arrays[1])
    assert found["rows"] == rows
    assert found["errors"]["head"]["p99"] == np.percentile(np.abs(head - y), 99)
    assert found["error_rows"][0]["id"] is None


def test_a_file_with_only_the_bootstrap_subset_is_not_compared(tmp_path: Path) -> None:
    """Saved by an earlier mlgate (no all_y): counting its subset would misstate N."""
    rows = bootstrap.MAX_ROWS + 10
    y = np.zeros(rows, dtype=int)
    arrays = dict(saved(tmp_path / "b.npz", y, y, "classification"))
    for key in ("all_y", "all_pred", "all_labels"):
        del arrays[key]
    with pytest.raises(changes.NotComparable, match=r"only 10,000 of 10,010 rows"):
        changes.compare(arrays, arrays)
