"""Data drift end to end: `mlgate check` on real repositories whose head shifts its data."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import numpy as np
import pandas as pd
from scipy.stats import ks_2samp

from conftest import commit_all, git
from mlgate.paths import package_file
from mlgate.render.markup import md_escape
from projects import base_project, classification_config, classification_frames, cli, run_json


def shifted_project(repo: Path, cfg: dict[str, Any]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Base on the seeded frames; head's training data with feature f2 moved by +3."""
    train, test = classification_frames(rows=400)
    base_project(repo, cfg, (train, test))
    git(repo, "checkout", "-q", "-b", "shift")
    moved = train.copy()
    moved["f2"] = moved["f2"] + 3.0
    moved.to_csv(repo / "data" / "train.csv", index=False)
    commit_all(repo, "shift f2")
    return train, moved


def validate(report: dict[str, Any]) -> None:
    schema = json.loads(package_file("schema", "report.schema.json").read_text())
    jsonschema.validate(report, schema)


def test_a_shifted_feature_tops_the_drift_table_and_fails_the_drift_rule(
    repo: Path, capsys: Any
) -> None:
    cfg = classification_config(gate={"drift": {"psi": {"max": 0.2}}})
    train, moved = shifted_project(repo, cfg)

    code, report = run_json(capsys)

    assert code == 1  # the gate failed: the documented exit code
    validate(report)
    comparisons = {c["name"]: c for c in report["drift"]["comparisons"]}
    assert set(comparisons) == {"train", "train-vs-test"}  # the test data did not change
    drift = comparisons["train"]
    assert drift["status"] == "computed" and drift["gated"]
    top = drift["features"][0]
    assert top["name"] == "f2" and top["flagged"] and top["psi"] > 1
    # All 280 rows on each side: KS is exact, scipy's statistic.
    assert top["ks"] == round(ks_2samp(train["f2"], moved["f2"]).statistic, 6)
    assert {f["name"] for f in drift["features"]} == {"f0", "f1", "f2", "f3", "f4", "label"}
    assert [f["name"] for f in drift["features"] if f["flagged"]] == ["f2"]
    label = next(f for f in drift["features"] if f["label"])
    assert label["kind"] == "categorical" and label["psi"] == 0 and label["js"] == 0
    [failed] = report["failed_rules"]
    assert failed["metric"] == "drift" and failed["rule"] == "psi" and failed["limit"] == 0.2
    assert "'f2'" in failed["message"]

    code, markdown, err = cli(capsys, "--debug", "check", "--format", "markdown")
    assert code == 1, err
    # The failed drift rule is what decided the verdict: the headline leads with it.
    assert markdown.splitlines()[1].endswith(f" — {md_escape(failed['message'])}")
    section = markdown.split("#### Data drift", 1)[1]
    first_row = next(line for line in section.splitlines() if line.startswith("| f"))
    assert first_row.startswith("| f2 |") and "drifted" in first_row
    code, text, _ = cli(capsys, "check")
    assert "Drift" in text and "f2* psi" in text


def test_unchanged_data_has_no_drift_and_a_warm_check_reuses_the_section(
    repo: Path, capsys: Any
) -> None:
    cfg = classification_config(gate={"drift": {"psi": {"max": 0.2}, "ks": {"max": 0.5}}})
    base_project(repo, cfg, classification_frames())
    git(repo, "checkout", "-q", "-b", "tune")
    cfg["model"]["params"]["C"] = 0.5
    (repo / "mlgate.yaml").write_text(json.dumps(cfg))
    commit_all(repo, "tune")

    code, cold = run_json(capsys)
    code_warm, warm = run_json(capsys)

    assert code == code_warm == 0
    assert warm["base"]["cached"] and warm["head"]["cached"]
    assert cold["drift"] == warm["drift"]
    validate(warm)
    comparisons = {c["name"]: c for c in warm["drift"]["comparisons"]}
    assert comparisons["train"]["status"] == "unchanged"
    within = comparisons["train-vs-test"]
    assert within["status"] == "computed" and not within["gated"]
    assert within["reference"] == "head's training data"


def test_drift_above_max_cells_is_skipped_with_a_note(repo: Path, capsys: Any) -> None:
    cfg = classification_config(drift={"max_cells": 100})
    shifted_project(repo, cfg)

    code, report = run_json(capsys)

    assert code == 0  # no drift rule: nothing gated
    comparisons = {c["name"]: c for c in report["drift"]["comparisons"]}
    assert comparisons["train"]["status"] == "skipped"
    assert "drift.max_cells 100" in comparisons["train"]["note"]


FACTORY = """\
from sklearn.compose import make_column_transformer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder


def make():
    encode = make_column_transformer(
        (OneHotEncoder(handle_unknown="ignore"), ["plan"]), remainder="passthrough"
    )
    return make_pipeline(encode, LogisticRegression(max_iter=500))
"""


def test_hostile_column_names_and_values_stay_inert(repo: Path, capsys: Any) -> None:
    import cmarkgfm

    hostile = "<img src=x onerror=alert(1)>@octocat **b** [x](http://e.vil)"
    train, test = classification_frames(rows=400)
    rng = np.random.default_rng(0)
    for frame in (train, test):
        frame[hostile] = rng.normal(size=len(frame))
        frame["plan"] = rng.choice(["<script>x</script>", "@admin", "| pipe |"], size=len(frame))
    cfg = classification_config(gate={"drift": {"js": {"max": 0.05}}})
    cfg["model"].update(estimator="model:make", params={})
    (repo / "model.py").write_text(FACTORY)
    base_project(repo, cfg, (train, test))
    git(repo, "checkout", "-q", "-b", "shift")
    moved = train.copy()
    moved[hostile] = moved[hostile] + 5
    moved["plan"] = "<script>x</script>"
    moved.to_csv(repo / "data" / "train.csv", index=False)
    commit_all(repo, "shift")

    code, markdown, _ = cli(capsys, "check", "--format", "markdown")

    assert code == 1  # plan's JS distance is over 0.05
    html = cmarkgfm.github_flavored_markdown_to_html(markdown)
    drift_html = html.split("Data drift", 1)[1]
    assert "<img" not in drift_html and "<script" not in drift_html
    assert "<strong>" not in drift_html and 'href="http://e.vil"' not in drift_html
    assert "@octocat" not in markdown and "@admin" not in markdown  # zero-width space after @
    assert "onerror" in drift_html  # shown, as text


def test_a_flagged_feature_without_a_rule_is_the_headlines_surprise(
    repo: Path, capsys: Any
) -> None:
    shifted_project(repo, classification_config())
    code, markdown, err = cli(capsys, "check", "--format", "markdown")
    assert code == 0, err
    surprise = next(line for line in markdown.splitlines() if "Worth a look" in line)
    assert surprise.startswith("**Worth a look:** feature f2 drifted in the train data (PSI ")
