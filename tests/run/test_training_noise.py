"""Training noise end to end: an unseeded estimator is named in the report, and
``model.repeats`` trains each side N times (estimator mode: random_state i; command mode:
MLGATE_SEED=i), shows mean ± std and gates on the two distributions."""

from __future__ import annotations

import json
import statistics
from pathlib import Path
from typing import Any

import jsonschema
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
    push_to_origin,
    quick_command_config,
    run_json,
    write_config,
)

SCHEMA = json.loads(package_file("schema", "report.schema.json").read_text())


def unseeded_forest(repeats: int | None = None, **params: Any) -> dict[str, Any]:
    cfg = forest_config()
    cfg["model"]["params"] = {"n_estimators": 10, "max_depth": 8, **params}
    if repeats is not None:
        cfg["model"]["repeats"] = repeats
    return cfg


def comment_only_change(repo: Path) -> None:
    git(repo, "checkout", "-q", "-b", "comment")
    text = (repo / "mlgate.yaml").read_text()
    (repo / "mlgate.yaml").write_text("# a comment, nothing else\n" + text)
    commit_all(repo, "comment")


def test_an_unseeded_estimator_is_named_in_the_report(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base_project(repo, unseeded_forest(), classification_frames(rows=300))
    comment_only_change(repo)
    _, report = run_json(capsys, "--base", "main")
    jsonschema.validate(report, SCHEMA)
    assert report["head"]["unseeded"] == ["random_state"]
    (note,) = [n for n in report["notes"] if "random_state" in n]
    assert note == (
        "base and head: RandomForestClassifier leaves random_state unset: results vary "
        "between runs, so mlgate trained it with 0 (on both sides alike); set random_state, "
        "or model.repeats to weigh the spread over seeds"
    )
    # Seeded alike, a change that touches no input of the model changes no figure.
    assert report["head"]["metrics"] == report["base"]["metrics"]
    (row,) = [m for m in report["metrics"] if m["name"] == "accuracy"]
    assert row["delta"] == 0 and row["noise"] == "within noise"
    _, out, _ = cli(capsys, "check", "--base", "main", "--format", "markdown")
    assert "RandomForestClassifier leaves random\\_state unset" in out


def test_a_pipeline_step_is_named_by_its_set_params_path_and_exempt_estimators_are_not(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = classification_config()
    cfg["model"]["estimator"] = "pipes:build"
    cfg["model"]["params"] = {}
    (repo / "pipes.py").write_text(
        "from sklearn.pipeline import make_pipeline\n"
        "from sklearn.preprocessing import StandardScaler\n"
        "from sklearn.linear_model import LogisticRegression, SGDClassifier\n"
        "from sklearn.ensemble import VotingClassifier\n\n"
        "def build():\n"
        "    vote = VotingClassifier([('lr', LogisticRegression()), ('sgd', SGDClassifier())])\n"
        "    return make_pipeline(StandardScaler(), vote)\n"
    )
    base_project(repo, cfg, classification_frames())
    _, report = run_json(capsys, "--base", "main")
    # lbfgs ignores random_state; SGD's shuffling does not.
    assert report["head"]["unseeded"] == ["votingclassifier__sgd__random_state"]


def test_repeats_train_each_side_n_times_and_show_mean_and_spread(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base_project(repo, unseeded_forest(repeats=3), classification_frames(rows=300))
    comment_only_change(repo)
    code, report = run_json(capsys, "--base", "main")
    jsonschema.validate(report, SCHEMA)
    assert code == 0
    values = report["head"]["repeats"]["accuracy"]
    assert len(values) == 3 and len(set(values)) > 1  # seeds 0, 1, 2 differ
    assert report["head"]["metrics"]["accuracy"] == pytest.approx(statistics.fmean(values))
    # Repeat i is random_state=i: the same code gives the same three figures on both sides.
    assert report["base"]["repeats"]["accuracy"] == values
    (row,) = [m for m in report["metrics"] if m["name"] == "accuracy"]
    assert row["spread"]["head"] == {
        "mean": pytest.approx(statistics.fmean(values)),
        "std": pytest.approx(statistics.stdev(values)),
        "n": 3,
    }
    assert row["interval"]["repeats"] == 3 and row["noise"] == "within noise"
    assert not [n for n in report["notes"] if "leaves random_state unset" in n]
    _, out, _ = cli(capsys, "check", "--base", "main", "--format", "markdown")
    std = f"{statistics.stdev(values):.4f}".rstrip("0")
    assert f"± {std}" in out and "(n=3)" in out
    _, text, _ = cli(capsys, "check", "--base", "main", "--format", "text")
    assert "(n=3)" in text


def test_repeats_reuse_the_run_cache_and_a_real_regression_fails_beyond_noise(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base_project(repo, unseeded_forest(repeats=3), classification_frames(rows=400))
    git(repo, "checkout", "-q", "-b", "shallow")
    cfg = unseeded_forest(repeats=3, max_depth=1)
    write_config(repo, cfg)
    commit_all(repo, "max_depth 1")
    code, report = run_json(capsys, "--base", "main")
    assert code == 1
    (failed,) = [r for r in report["failed_rules"] if r["metric"] == "accuracy"]
    assert "beyond noise" in failed["message"]
    again_code, again = run_json(capsys, "--base", "main")
    assert again_code == 1 and again["head"]["cached"] and again["base"]["cached"]
    assert again["head"]["repeats"] == report["head"]["repeats"]
    # repeats is part of the run-cache key: a single run is not taken for three.
    cfg["model"].pop("repeats")
    write_config(repo, cfg)
    _, once = run_json(capsys, "--base", "main")
    assert not once["head"]["cached"] and once["head"]["repeats"] == {}


def test_repeats_of_a_seeded_estimator_train_once_and_say_why(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = forest_config()
    cfg["model"]["repeats"] = 5
    base_project(repo, cfg, classification_frames(rows=300))
    _, report = run_json(capsys, "--base", "main")
    assert report["head"]["repeats"] == {}
    assert (
        "base and head: model.repeats is 5, but RandomForestClassifier has no random_state "
        "left unset: repeats would give the same figures, so it was trained once"
    ) in report["notes"]


SEEDED_TRAIN_PY = """\
import json, os, pathlib
seed = int(os.environ.get("MLGATE_SEED", "-1"))
pathlib.Path("out").mkdir(exist_ok=True)
with open("out/seeds.txt", "a") as f:
    f.write(f"{seed}\\n")
pathlib.Path("out/metrics.json").write_text(json.dumps({"score": 0.8 + seed / 100}))
"""


def test_command_mode_repeats_run_the_command_with_mlgate_seed(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = quick_command_config("python train.py")
    cfg["model"]["repeats"] = 3
    cfg["gate"] = {"score": {"max_regression": 0.001}}
    write_config(repo, cfg)
    (repo / "train.py").write_text(SEEDED_TRAIN_PY)
    (repo / ".gitignore").write_text("out/\n")
    commit_all(repo, "seeded command")
    code, out, err = cli(capsys, "check", "--format", "json", "--base", "HEAD", "--head", "HEAD")
    assert out, err
    report = json.loads(out)
    jsonschema.validate(report, SCHEMA)
    assert report["head"]["repeats"] == {"score": [0.8, 0.81, 0.8200000000000001]}
    assert report["head"]["metrics"]["score"] == pytest.approx(0.81)
    assert (repo / "out/seeds.txt").exists() is False  # it ran in an export, not here
    # Without repeats the single run is repeat 0: MLGATE_SEED=0.
    cfg["model"].pop("repeats")
    write_config(repo, cfg)
    commit_all(repo, "no repeats")
    _, once = run_json(capsys, "--base", "HEAD", "--head", "HEAD")
    assert once["head"]["metrics"] == {"score": 0.8} and once["head"]["repeats"] == {}
    assert code == 0
    (row,) = report["metrics"]
    # Own data, no per-row predictions: the interval is the repeats' alone.
    assert row["interval"]["resamples"] == 0 and row["interval"]["repeats"] == 3


def test_repeats_outside_one_to_twenty_are_a_config_error(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = unseeded_forest()
    cfg["model"]["repeats"] = 0
    base_project(repo, cfg, classification_frames())
    code, _, err = cli(capsys, "validate")
    assert code == 2
    line = 1 + yaml.safe_dump(cfg, sort_keys=False).splitlines().index("  repeats: 0")
    assert f"mlgate.yaml:{line}" in err and "model.repeats" in err and "1 to 20" in err


def test_promotion_weighs_the_candidates_repeats_against_the_champion(
    repo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base_project(repo, unseeded_forest(repeats=3), classification_frames(rows=400))
    push_to_origin(repo, tmp_path)
    code, _, err = cli(capsys, "promote")
    assert code == 0, err
    write_config(repo, unseeded_forest(repeats=3, max_depth=1))
    commit_all(repo, "max_depth 8 -> 1")
    code, out, _ = cli(capsys, "promote", "--dry-run")
    assert code == 1, out
    assert "beyond noise at 95%" in out
