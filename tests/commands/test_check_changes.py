"""Issue 13 item 2, "where the model changed", end to end: `mlgate check` on a real git
repository where head changes the model; flips, confusion matrices and per-class scores
checked against scikit-learn computed here, the flips gate rule and its exit codes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import make_classification
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.metrics import confusion_matrix, precision_recall_fscore_support

from conftest import commit_all, git
from mlgate.paths import package_file
from projects import (
    base_project,
    classification_config,
    cli,
    read_csv_at,
    regression_config,
    regression_frames,
    run_json,
    set_params,
)

# Class labels and ids a pull request controls: they must stay inert in the report.
HOSTILE = ["@admin", "<img src=x>", "a|b `c` [x](http://evil)"]
FEATURES = [f"f{i}" for i in range(5)]


def hostile_frames() -> tuple[pd.DataFrame, pd.DataFrame]:
    x, y = make_classification(
        n_samples=360, n_features=5, n_informative=4, n_redundant=0, n_classes=3,
        random_state=1, flip_y=0.05,
    )  # fmt: skip
    frame = pd.DataFrame(x, columns=FEATURES).round(6)
    frame["label"] = [HOSTILE[v] for v in y]
    frame.insert(0, "cust", [f"@u{i}<b>|`" for i in range(len(frame))])
    return frame.iloc[:240].reset_index(drop=True), frame.iloc[240:].reset_index(drop=True)


def project(repo: Path, **gate: Any) -> tuple[str, str]:
    """Base: LogisticRegression C=1; head: C=0.002 (many predictions move)."""
    cfg = classification_config(gate={"accuracy": {"min": 0.0}, **gate})
    cfg["data"]["id"] = "cust"
    base_sha = base_project(repo, cfg, hostile_frames())
    git(repo, "checkout", "-q", "-b", "tune")
    set_params(repo, C=0.002)
    return base_sha, commit_all(repo, "tune C")


def predictions(repo: Path, sha: str, c: float) -> tuple[np.ndarray, np.ndarray]:
    train = read_csv_at(repo, sha, "data/train.csv")
    test = read_csv_at(repo, sha, "data/test.csv")
    model = LogisticRegression(C=c, max_iter=500).fit(train[FEATURES], train["label"])
    return test["label"].to_numpy(), model.predict(test[FEATURES])


def validate(report: dict[str, Any]) -> None:
    schema = json.loads(package_file("schema/report.schema.json").read_text())
    jsonschema.validate(report, schema)


def test_flips_confusion_and_per_class_scores_equal_scikit_learn(repo: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    _, head_sha = project(repo)

    code, report = run_json(capsys)

    assert code == 0, report
    validate(report)
    y, base = predictions(repo, head_sha, 1.0)
    _, head = predictions(repo, head_sha, 0.002)
    changes = report["changes"]
    assert changes["task"] == "classification" and changes["rows"] == len(y) == 120
    assert changes["id_column"] == "cust"
    flips = changes["flips"]
    broken = (base == y) & (head != y)
    assert flips["changed"] == int((base != head).sum()) > 0
    assert flips["fixed"] == int(((base != y) & (head == y)).sum())
    assert flips["broken"] == int(broken.sum()) > 0
    assert flips["broken_pct"] == pytest.approx(broken.mean() * 100)
    first = np.flatnonzero(broken)[:10]
    assert [r["row"] for r in flips["broken_rows"]] == first.tolist()
    assert [r["id"] for r in flips["broken_rows"]] == [f"@u{240 + i}<b>|`" for i in first]
    assert [r["head"] for r in flips["broken_rows"]] == head[first].tolist()
    labels = changes["confusion"]["labels"]
    assert sorted(labels) == sorted(HOSTILE)
    assert changes["confusion"]["base"] == confusion_matrix(y, base, labels=labels).tolist()
    assert changes["confusion"]["head"] == confusion_matrix(y, head, labels=labels).tolist()
    for side, pred in (("base", base), ("head", head)):
        p, r, f, s = precision_recall_fscore_support(y, pred, labels=labels, zero_division=0)
        for i, label in enumerate(labels):
            row = next(c for c in changes["per_class"] if c["label"] == label)
            assert row[side] == pytest.approx({"precision": p[i], "recall": r[i], "f1": f[i]})
            assert row["support"] == s[i]
    drops = [c["delta"]["f1"] for c in changes["per_class"]]
    assert drops == sorted(drops)  # the largest drop first


def test_the_flips_rule_fails_and_passes_with_the_exit_codes(repo: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    project(repo, flips={"max_broken_pct": 0.5})

    code, report = run_json(capsys)

    assert code == 1 and report["verdict"] == "fail"
    failed = [r for r in report["failed_rules"] if r["metric"] == "flips"]
    assert len(failed) == 1 and failed[0]["rule"] == "max_broken_pct"
    broken, rows = report["changes"]["flips"]["broken"], report["changes"]["rows"]
    assert f"{broken:,} of {rows:,} predictions broke" in failed[0]["message"]
    validate(report)
    code, out, _ = cli(capsys, "check")  # the text report: failed rule and compact section
    assert code == 1
    assert "predictions broke" in out and "Where the model changed" in out

    cfg = (repo / "mlgate.yaml").read_text().replace("max_broken_pct: 0.5", "max_broken_pct: 90")
    (repo / "mlgate.yaml").write_text(cfg)
    code, report = run_json(capsys)  # the working tree: head's gate allows it now
    assert code == 0 and not report["failed_rules"]


def test_an_unknown_flips_key_is_a_config_error_at_its_line(repo: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    project(repo, flips={"max_broken": 1.0})
    code, _, err = cli(capsys, "check")
    assert code == 2
    assert "mlgate.yaml:" in err and "max_broken" in err


def test_regression_error_quantiles_and_rows_whose_error_grew(repo: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    base_project(repo, regression_config(gate={}), regression_frames())
    git(repo, "checkout", "-q", "-b", "tune")
    set_params(repo, alpha=300.0)
    head_sha = commit_all(repo, "more regularization")

    code, report = run_json(capsys)

    assert code == 0
    validate(report)
    train = read_csv_at(repo, head_sha, "data/train.csv")
    test = read_csv_at(repo, head_sha, "data/test.csv")
    x, y = test.drop(columns="price"), test["price"].to_numpy()
    errors = {}
    for side, alpha in (("base", 1.0), ("head", 300.0)):
        model = Ridge(alpha=alpha).fit(train.drop(columns="price"), train["price"])
        errors[side] = model.predict(x) - y
    changes = report["changes"]
    assert changes["task"] == "regression" and changes["flips"] is None
    for side in ("base", "head"):
        expected = np.percentile(np.abs(errors[side]), [50, 90, 99])
        got = changes["errors"][side]
        assert [got["p50"], got["p90"], got["p99"]] == pytest.approx(expected.tolist())
    growth = np.abs(errors["head"]) - np.abs(errors["base"])
    assert changes["errors"]["grew"] == int((growth > 0).sum())
    worst = np.argsort(-growth)[:10]
    assert [r["row"] for r in changes["error_rows"]] == worst.tolist()
    assert changes["error_rows"][0]["head_error"] == pytest.approx(errors["head"][worst[0]])


def test_no_baseline_has_no_changes_and_skips_the_flips_rule(repo: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    (repo / "README").write_text("x\n")
    commit_all(repo, "no config yet")
    git(repo, "checkout", "-q", "-b", "add")
    cfg = classification_config(gate={"flips": {"max_broken_pct": 0.0}})
    cfg["data"]["id"] = "cust"
    base_project(repo, cfg, hostile_frames())

    code, out, err = cli(capsys, "check", "--format", "json")

    assert code == 0, err
    report = json.loads(out)
    assert report["comparison"] == "no-baseline"
    assert report["changes"] is None
    assert [r["metric"] for r in report["skipped_rules"]] == ["flips"]
    validate(report)


def test_validate_names_an_id_that_is_not_a_test_data_column(repo: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    cfg = classification_config()
    cfg["data"]["id"] = "cutsomer"
    base_project(repo, cfg, hostile_frames())
    code, _, err = cli(capsys, "validate")
    assert code == 2
    (line,) = [x for x in err.splitlines() if "data.id" in x]
    assert line.startswith("mlgate: error: mlgate.yaml:") and "not in data/test.csv" in line
    cfg["data"]["id"] = "cust"
    base_project(repo, cfg, hostile_frames())
    code, _, err = cli(capsys, "validate")
    assert code == 0, err


def test_an_id_that_is_the_target_is_a_config_error(repo: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    cfg = classification_config()
    cfg["data"]["id"] = "label"
    base_project(repo, cfg, hostile_frames())
    code, _, err = cli(capsys, "check")
    assert code == 2 and "data.id" in err and "target" in err


def test_a_flips_rule_on_a_regression_model_is_a_config_error(repo: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    base_project(
        repo, regression_config(gate={"flips": {"max_broken_pct": 1}}), regression_frames()
    )
    code, _, err = cli(capsys, "check")
    assert code == 2 and "gate.flips" in err and "regression" in err


def test_a_warm_check_finds_the_changes_without_numpy(repo: Path) -> None:
    project(repo)
    script = (
        "import sys\n"
        "from mlgate.cli import main\n"
        "code = main(['check', '--format', 'json'])\n"
        "print('NUMPY', 'numpy' in sys.modules, 'EXIT', code, file=sys.stderr)\n"
    )

    def check() -> tuple[str, dict[str, Any]]:
        done = subprocess.run(
            [sys.executable, "-c", script], cwd=repo, capture_output=True, text=True
        )
        return done.stderr, json.loads(done.stdout)

    cold_err, cold = check()
    warm_err, warm = check()
    assert "EXIT 0" in cold_err and "NUMPY False EXIT 0" in warm_err, warm_err
    assert warm["base"]["cached"] and warm["head"]["cached"]
    assert warm["changes"] == cold["changes"] and cold["changes"]["flips"]["changed"] > 0


def test_new_test_rows_are_compared_with_the_base_model_scored_on_them(repo: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    project(repo)
    run_json(capsys)  # both sides in the run cache
    train, test = hostile_frames()
    fewer = test.iloc[:90]
    fewer.to_csv(repo / "data" / "test.csv", index=False)

    code, report = run_json(capsys)

    assert code == 0 and report["base"]["cached"] and report["comparison"] == "same-data"
    assert report["changes"]["rows"] == 90
    model = LogisticRegression(C=1.0, max_iter=500).fit(train[FEATURES], train["label"])
    base = model.predict(fewer[FEATURES])
    head = LogisticRegression(C=0.002, max_iter=500).fit(train[FEATURES], train["label"])
    changed = int((base != head.predict(fewer[FEATURES])).sum())
    assert report["changes"]["flips"]["changed"] == changed


def test_publish_regates_the_flips_rule_from_a_saved_result(repo: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    from mlgate.commands.publish import regated
    from mlgate.core import config as config_mod

    project(repo)
    code, report = run_json(capsys)
    assert code == 0 and report["changes"]["flips"]["broken"] > 0
    text = (repo / "mlgate.yaml").read_text() + "  flips: {max_broken_pct: 0.1}\n"
    judged = regated(report, config_mod.load(text))
    assert judged["verdict"] == "fail"
    assert [r["metric"] for r in judged["failed_rules"]] == ["flips"]
    older = {k: v for k, v in report.items() if k != "changes"}  # a result of an older mlgate
    assert [r["metric"] for r in regated(older, config_mod.load(text))["skipped_rules"]] == [
        "flips"
    ]
