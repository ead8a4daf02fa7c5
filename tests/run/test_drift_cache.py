"""Drift and the caches: summaries are taken once per data file, results remembered, and a
warm check finds the drift section without importing numpy."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from conftest import commit_all, git
from projects import base_project, classification_config, classification_frames, run_json

WARM = (
    "import sys\n"
    "from mlgate.cli import main\n"
    "code = main(['check', '--format', 'json'])\n"
    "print('NUMPY', 'numpy' in sys.modules, 'EXIT', code, file=sys.stderr)\n"
)


@pytest.fixture
def shifted(repo: Path) -> Path:
    train, test = classification_frames(rows=400)
    base_project(repo, classification_config(), (train, test))
    git(repo, "checkout", "-q", "-b", "shift")
    train["f1"] = train["f1"] * 2
    test["f0"] = test["f0"] - 1
    train.to_csv(repo / "data" / "train.csv", index=False)
    test.to_csv(repo / "data" / "test.csv", index=False)
    commit_all(repo, "shift")
    return repo


def check(cwd: Path) -> tuple[str, dict[str, Any]]:
    done = subprocess.run([sys.executable, "-c", WARM], cwd=cwd, capture_output=True, text=True)
    return done.stderr, json.loads(done.stdout)


def test_a_warm_check_finds_the_drift_without_numpy(shifted: Path) -> None:
    cold_err, cold = check(shifted)
    warm_err, warm = check(shifted)
    assert "EXIT 0" in cold_err and "NUMPY False EXIT 0" in warm_err, warm_err
    assert warm["head"]["cached"] and warm["base"]["cached"]
    assert warm["drift"] == cold["drift"]
    names = [c["name"] for c in warm["drift"]["comparisons"]]
    assert names == ["train", "test", "train-vs-test"]
    tops = {c["name"]: c["features"][0]["name"] for c in warm["drift"]["comparisons"]}
    assert tops["train"] == "f1" and tops["test"] == "f0"


def test_a_base_from_the_run_cache_brings_its_summaries(shifted: Path, capsys: Any) -> None:
    git(shifted, "checkout", "-q", "main")
    run_json(capsys, "--base", "main", "--head", "main")  # base's run (and summaries) cached
    git(shifted, "checkout", "-q", "shift")
    _, report = run_json(capsys)
    assert report["base"]["cached"] and not report["head"]["cached"]
    train = report["drift"]["comparisons"][0]
    assert train["status"] == "computed" and train["features"][0]["name"] == "f1"


def test_drift_off_leaves_no_section(repo: Path, capsys: Any) -> None:
    base_project(repo, classification_config(drift={"enabled": False}), classification_frames())
    _, report = run_json(capsys, "--base", "HEAD", "--head", "HEAD")
    assert report["drift"] is None


def test_a_base_run_without_summaries_gets_them_from_heads_worker(repo: Path, capsys: Any) -> None:
    import os
    import shutil

    train, test = classification_frames(rows=400)
    cfg = classification_config(gate={"drift": {"psi": {"max": 0.2}}})
    base_project(repo, cfg, (train, test))
    run_json(capsys, "--base", "main", "--head", "main")
    # As if base's run came from a git note, or a cache of an mlgate without drift.
    drift_memo = Path(os.environ["MLGATE_CACHE_DIR"]) / "meta" / "drift"
    shutil.rmtree(drift_memo)
    git(repo, "checkout", "-q", "-b", "shift")
    train["f1"] = train["f1"] + 5
    train.to_csv(repo / "data" / "train.csv", index=False)
    commit_all(repo, "shift")

    code, report = run_json(capsys)

    assert code == 1  # f1 drifted
    assert report["base"]["cached"] and not report["head"]["cached"]
    [train_drift, within] = report["drift"]["comparisons"]
    assert train_drift["status"] == "computed" and train_drift["features"][0]["name"] == "f1"
    assert within["status"] == "computed"
    # head's train and test, and base's train (base's test is head's: no summary needed)
    assert len(list((drift_memo / "summary").glob("*.npz"))) == 3
