"""Noise-aware comparison end to end: two forests that differ only in their training
randomness pass as within noise where the point comparison fails them; a real regression
fails beyond noise; a warm check finds the intervals without numpy."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import pandas as pd
import pytest
import yaml

from conftest import commit_all, git
from mlgate.paths import package_file
from projects import (
    base_project,
    classification_config,
    classification_frames,
    cli,
    forest_config,
    run_json,
    set_params,
    write_config,
    write_frames,
)


@pytest.fixture
def reseeded(repo: Path) -> Path:
    """Base: a forest with random_state 3 (accuracy 0.883 on 120 test rows); head: the same
    forest with random_state 7 (0.867): 0.017 worse, more than the allowed 0.01, and
    nothing but training randomness."""
    base_project(repo, forest_config(), classification_frames(rows=400))
    git(repo, "checkout", "-q", "-b", "reseed")
    set_params(repo, random_state=7)
    commit_all(repo, "another seed")
    return repo


def rows_of(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {r["name"]: r for r in report["metrics"]}


def test_a_drop_from_training_randomness_passes_within_noise(reseeded: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    code, report = run_json(capsys)
    accuracy = rows_of(report)["accuracy"]
    assert accuracy["delta"] == pytest.approx(0.8666667 - 0.8833333, abs=1e-6)
    interval = accuracy["interval"]
    assert interval["low"] < 0 <= interval["high"]  # head is never right where base is wrong
    assert (interval["confidence"], interval["resamples"], interval["rows"]) == (0.95, 1000, 120)
    assert accuracy["noise"] == "within noise" and accuracy["passed"] is True
    assert code == 0 and report["verdict"] == "pass"
    # The reader sees why a drop over the tolerance passed, and that 120 rows are too few.
    half = (interval["high"] - interval["low"]) / 2
    assert any(
        n.startswith(
            "accuracy dropped by 0.01667 (base 0.8833 → head 0.8667), more than the "
            f"allowed 0.01, but within noise at 95% (± {half:.4g}): passes"
        )
        for n in report["notes"]
    ), report["notes"]
    assert any(
        "the 120 test rows cannot detect a drop of 0.01 at 95%" in n for n in report["notes"]
    )
    jsonschema.validate(
        report, json.loads(package_file("schema", "report.schema.json").read_text())
    )


def test_confidence_off_keeps_the_point_comparison(reseeded: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    cfg = forest_config()
    cfg["model"]["params"]["random_state"] = 7
    cfg["gate"]["confidence"] = False  # YAML's bare `off`
    write_config(reseeded, cfg)
    code, report = run_json(capsys)
    assert code == 1
    assert rows_of(report)["accuracy"]["interval"] is None
    assert report["failed_rules"][0]["message"] == (
        "accuracy dropped by 0.01667 (base 0.8833 → head 0.8667), more than the allowed 0.01"
    )


def test_a_rule_can_override_the_gates_confidence(reseeded: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    cfg = forest_config()
    cfg["model"]["params"]["random_state"] = 7
    cfg["gate"]["accuracy"]["confidence"] = "off"
    write_config(reseeded, cfg)
    code, report = run_json(capsys)
    assert code == 1
    rows = rows_of(report)
    assert rows["accuracy"]["interval"] is None
    assert rows["roc_auc"]["interval"]["confidence"] == 0.95  # the gate's level still


def test_a_real_regression_fails_beyond_noise(repo: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    base_project(repo, forest_config(), classification_frames(rows=400))
    git(repo, "checkout", "-q", "-b", "stump")
    set_params(repo, max_depth=1)
    commit_all(repo, "max_depth 8 -> 1")
    code, out, _ = cli(capsys, "check")
    assert code == 1
    assert "beyond noise at 95%" in out
    code, report = run_json(capsys)
    accuracy = rows_of(report)["accuracy"]
    assert accuracy["noise"] == "beyond noise" and accuracy["interval"]["high"] < 0
    (failed,) = report["failed_rules"]
    assert failed["message"].startswith("accuracy dropped by 0.275 (base 0.8833 → head 0.6083)")
    assert ", more than the allowed 0.01, beyond noise at 95% (± 0." in failed["message"]


def test_the_report_shows_each_change_with_its_noise(reseeded: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    _, markdown, _ = cli(capsys, "check", "--format", "markdown")
    line = next(x for x in markdown.splitlines() if x.startswith("| accuracy |"))
    assert "▼ -0.0167 ± 0.0" in line and "(within noise)" in line
    _, text, _ = cli(capsys, "check")
    line = next(x for x in text.splitlines() if x.strip().startswith("accuracy "))
    assert "-0.0167 ± 0.0" in line and "worse (within noise)" in line


def test_new_test_rows_get_intervals_from_the_base_model_scored_on_them(
    reseeded: Path, capsys
) -> None:  # type: ignore[no-untyped-def]
    run_json(capsys)  # both sides now in the run cache
    train, test = classification_frames(rows=400)
    _, more = classification_frames(seed=1, rows=200)
    write_frames(reseeded, train, pd.concat([test, more], ignore_index=True))
    _, report = run_json(capsys)
    # The stored base model is re-scored on head's 180 rows; those predictions pair up.
    assert report["base"]["cached"] and report["comparison"] == "same-data"
    assert rows_of(report)["accuracy"]["interval"]["rows"] == 180


def test_a_warm_check_finds_the_intervals_without_numpy(reseeded: Path) -> None:
    code = (
        "import sys\n"
        "from mlgate.cli import main\n"
        "code = main(['check', '--format', 'json'])\n"
        "print('NUMPY', 'numpy' in sys.modules, 'EXIT', code, file=sys.stderr)\n"
    )

    def check() -> tuple[str, dict[str, Any]]:
        done = subprocess.run(
            [sys.executable, "-c", code], cwd=reseeded, capture_output=True, text=True
        )
        return done.stderr, json.loads(done.stdout)

    cold_err, cold = check()
    warm_err, warm = check()
    assert "EXIT 0" in cold_err and "NUMPY False EXIT 0" in warm_err, warm_err
    assert warm["head"]["cached"] and warm["base"]["cached"]
    assert rows_of(warm)["accuracy"]["interval"] == rows_of(cold)["accuracy"]["interval"]


class _Touch:
    """Pickled, it would create ``marker`` when unpickled."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, tuple[Path]]:
        return (Path.touch, (self.marker,))


def test_a_predictions_file_is_never_unpickled_nor_unpacked_beyond_its_size(
    tmp_path: Path,
) -> None:
    import numpy as np

    from mlgate.core.config import load
    from mlgate.core.metrics import diff_metrics
    from mlgate.run.noise import Kept, attach
    from mlgate.storage.layout import Layout

    cfg = load(yaml.safe_dump(forest_config()))
    rows = diff_metrics({"accuracy": 0.9}, {"accuracy": 0.8}, ["accuracy"])
    good = tmp_path / "good.npz"
    np.savez(
        good, y=np.array(["0", "1"]), pred=np.array(["0", "1"]), task=np.array("classification")
    )
    marker = tmp_path / "unpickled"
    pickled = tmp_path / "pickled.npz"
    np.savez(pickled, y=np.array([_Touch(marker)], dtype=object))
    packed = tmp_path / "packed.npz"
    np.savez_compressed(packed, y=np.zeros(10**6, dtype=np.int8))
    memo = Layout.current().memo

    shown, notes = attach(rows, (Kept(str(good)), Kept(str(pickled))), cfg, memo)
    assert shown[0].noise is None and not marker.exists()
    assert notes == (
        "no noise intervals: cannot read the saved predictions: Object arrays "
        "cannot be loaded when allow_pickle=False",
    )
    _, notes = attach(rows, (Kept(str(good)), Kept(str(packed))), cfg, memo)
    assert notes == (
        "no noise intervals: cannot read the saved predictions: it holds compressed members",
    )


def test_roc_auc_from_a_decision_function_gets_an_interval(repo: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    """LogisticRegression's roc_auc is scored from decision_function, whose positive class is
    classes_[1]: the bootstrap ranks those scores as it does predict_proba's."""
    cfg = classification_config(
        metrics=["accuracy", "roc_auc"], gate={"roc_auc": {"max_regression": 0.05}}
    )
    base_project(repo, cfg, classification_frames())
    git(repo, "checkout", "-q", "-b", "weaker")
    set_params(repo, C=0.001)
    commit_all(repo, "much stronger regularization")
    _, report = run_json(capsys)
    auc = rows_of(report)["roc_auc"]
    assert auc["delta"] is not None and "interval" in auc, auc
    assert auc["interval"]["low"] <= auc["delta"] <= auc["interval"]["high"]
    assert not [n for n in report["notes"] if "roc_auc: no interval" in n]
