"""Command mode: the repository's own `train.py` instead of an estimator named in the config.
Real git repositories, the real training command run by mlgate, nothing of mlgate mocked."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from conftest import commit_all, git
from projects import (
    classification_config,
    classification_frames,
    cli,
    push_to_origin,
    quick_command_config,
    run_json,
    write_config,
    write_frames,
)

TRAIN_PY = '''\
"""Train with plain scikit-learn, write metrics and the model: a typical train.py."""
import json, os, sys
from pathlib import Path

import pandas as pd
import skops.io
import yaml
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, f1_score, log_loss

assert os.environ["MLGATE_SIDE"] in ("base", "head", "init"), os.environ.get("MLGATE_SIDE")
assert Path(os.environ["MLGATE_OUTPUT_DIR"]).is_dir()
params = yaml.safe_load(open("params.yaml"))["train"]
train, test = pd.read_csv("data/train.csv"), pd.read_csv("data/test.csv")
model = LogisticRegression(C=params["C"], max_iter=500)
model.fit(train.drop(columns="label"), train["label"])
x, y = test.drop(columns="label"), test["label"]
predicted = model.predict(x)
out = Path(sys.argv[1])
out.mkdir(exist_ok=True)
print("trained on", len(train), "rows")
metrics = {
    "accuracy": accuracy_score(y, predicted),
    "f1_macro": f1_score(y, predicted, average="macro"),
    "loss": {"val": log_loss(y, model.predict_proba(x))},
    "note": "strings are ignored",
}
(out / "metrics.json").write_text(json.dumps(metrics))
skops.io.dump(model, out / "model.skops")
'''


def command_config(**train: Any) -> dict[str, Any]:
    """``train`` overrides model.train's keys; None drops a key."""
    cfg = {
        "version": 1,
        "model": {
            "name": "churn",
            "train": {
                "command": [sys.executable, "train.py", "out"],
                "metrics": "out/metrics.json",
                "model": "out/model.skops",
                "params": "params.yaml",
                **train,
            },
        },
        "data": {"test": "data/test.csv", "target": "label"},
        "metrics": ["accuracy", "f1_macro", {"name": "loss.val", "higher_is_better": False}],
        "gate": {"accuracy": {"min": 0.5, "max_regression": 0.02}, "loss.val": {"max": 5.0}},
    }
    section = cfg["model"]["train"]
    cfg["model"]["train"] = {k: v for k, v in section.items() if v is not None}
    return cfg


def command_project(repo: Path, *, script: str = TRAIN_PY, C: float = 1.0, **train: Any) -> str:
    (repo / "mlgate.yaml").write_text(yaml.safe_dump(command_config(**train), sort_keys=False))
    (repo / "train.py").write_text(script)
    (repo / "params.yaml").write_text(yaml.safe_dump({"train": {"C": C}}))
    (repo / ".gitignore").write_text("out/\n")
    write_frames(repo, *classification_frames())
    return commit_all(repo, "base")


def test_command_mode_reports_like_estimator_mode(repo: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    command_project(repo)
    (repo / "params.yaml").write_text(yaml.safe_dump({"train": {"C": 0.05}}))
    code, report = run_json(capsys)
    assert code == 0, report
    head, base = report["head"], report["base"]
    assert not head["cached"] and not base["cached"]
    assert head["estimator"].startswith("command: ") and "train.py out" in head["estimator"]
    assert [c["name"] for c in report["params_diff"]] == ["train.C"]
    assert report["params_diff"][0]["base"] == 1.0 and report["params_diff"][0]["head"] == 0.05
    rows = {r["name"]: r for r in report["metrics"]}
    assert list(rows) == ["accuracy", "f1_macro", "loss.val"]
    assert rows["loss.val"]["direction"] == "lower"
    assert head["metrics"]["loss.val"] != base["metrics"]["loss.val"]

    # The same model in estimator mode gives the same figures: one report, two ways in.
    cfg = classification_config()
    cfg["model"]["params"] = {"C": 0.05, "max_iter": 500}
    (repo / "mlgate.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))
    code, estimator_report = run_json(capsys)
    assert code == 0
    for name in ("accuracy", "f1_macro"):
        assert estimator_report["head"]["metrics"][name] == pytest.approx(
            head["metrics"][name], abs=1e-12
        )


def test_a_second_check_reuses_both_runs_and_base_never_touches_the_worktree(
    repo: Path, capsys
) -> None:  # type: ignore[no-untyped-def]
    command_project(repo)
    (repo / "params.yaml").write_text(yaml.safe_dump({"train": {"C": 0.5}}))
    code, first = run_json(capsys)
    assert code == 0
    # The head ran in the working tree (its outputs are there); the base in its own export.
    assert json.loads((repo / "out" / "metrics.json").read_text())["accuracy"] == pytest.approx(
        first["head"]["metrics"]["accuracy"]
    )
    assert git(repo, "status", "--porcelain") == "M params.yaml"
    code, second = run_json(capsys)
    assert code == 0
    assert second["head"]["cached"] and second["base"]["cached"]
    assert second["head"]["metrics"] == first["head"]["metrics"]
    # A code change retrains (every tracked file is an input in command mode) ...
    (repo / "helper.txt").write_text("x")
    git(repo, "add", "helper.txt")
    code, third = run_json(capsys)
    assert not third["head"]["cached"] and third["base"]["cached"]


def test_data_diff_and_same_data_scoring(repo: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    command_project(repo)
    train, test = classification_frames(seed=3)
    write_frames(repo, train, test)
    code, report = run_json(capsys)
    assert code in (0, 1)
    assert {c["path"]: c["status"] for c in report["data_diff"]} == {"data/test.csv": "modified"}
    # mlgate scored both models on head's rows for its own metrics; loss.val is each
    # command's own figure, so the comparison as a whole is own-data, and says which.
    assert report["comparison"] == "own-data"
    assert report["same_data_metrics"] == ["accuracy", "f1_macro"]
    assert set(report["base_on_head_data"]) == {"accuracy", "f1_macro"}


def script_that(body: str) -> str:
    return f"import sys, time\nprint('starting')\n{body}\n"


@pytest.mark.parametrize(
    ("body", "train", "expected"),
    [
        ("print('boom: no GPU'); sys.exit(1)", {}, "exited with 1"),
        ("time.sleep(30)", {"timeout": 1}, "timed out after 1 s (model.train.timeout)"),
        ("pass", {}, "succeeded but wrote no out/metrics.json"),
    ],
    ids=["exit-1", "timeout", "no-metrics"],
)
def test_failing_commands_exit_3_with_the_reason_and_the_log_tail(  # type: ignore[no-untyped-def]
    repo: Path, capsys, body: str, train: dict[str, Any], expected: str
) -> None:
    command_project(repo, script=script_that(body), **train)
    code, _, err = cli(capsys, "check")
    assert code == 3, err
    first = err.splitlines()[0]
    assert first.startswith("mlgate: error: head: `") and expected in first, err
    assert "    starting" in err  # the log tail, indented under the reason
    if "boom" in body:
        assert "    boom: no GPU" in err


def test_malformed_metrics_file_names_the_file(repo: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    body = (
        "import os; os.makedirs('out', exist_ok=True); open('out/metrics.json','w').write('[1, 2')"
    )
    command_project(repo, script=script_that(body))
    code, _, err = cli(capsys, "check")
    assert code == 3
    assert "metrics file out/metrics.json is not valid JSON or YAML" in err


def test_a_metric_missing_from_the_file_is_named(repo: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    body = (
        "import os, json; os.makedirs('out', exist_ok=True); "
        "json.dump({'accuracy': 0.9}, open('out/metrics.json','w'))"
    )
    command_project(repo, script=script_that(body), model=None)
    code, _, err = cli(capsys, "check")
    assert code == 3
    assert "metric(s) 'f1_macro', 'loss.val' not in out/metrics.json (it has: accuracy)" in err


def test_unknown_metric_needs_a_direction(repo: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    command_project(repo)
    cfg = yaml.safe_load((repo / "mlgate.yaml").read_text())
    cfg["metrics"] = ["accuracy", "loss.val"]
    (repo / "mlgate.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))
    code, _, err = cli(capsys, "validate")
    assert code == 2
    assert "metrics[1]: mlgate does not know metric 'loss.val'; say which way is better" in err
    assert "higher_is_better" in err


def test_estimator_and_train_together_is_a_config_error(repo: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    command_project(repo)
    cfg = yaml.safe_load((repo / "mlgate.yaml").read_text())
    cfg["model"]["estimator"] = "sklearn.linear_model.LogisticRegression"
    (repo / "mlgate.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))
    code, _, err = cli(capsys, "validate")
    assert code == 2
    assert "model.train: give either estimator" in err


def test_command_mode_promotion(repo: Path, tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    command_project(repo)
    bare = push_to_origin(repo, tmp_path)
    code, out, err = cli(capsys, "promote")
    assert code == 0, err
    assert "promoted as v1" in out
    files = git(bare, "ls-tree", "-r", "--name-only", "production").split()
    assert "churn/model.skops" in files and "churn/MODEL_CARD.md" in files
    lineage = json.loads(git(bare, "show", "production:churn/lineage.json"))
    assert lineage["metrics"]["loss.val"] > 0
    # A much worse model (heavily regularized) is refused against v1 on the same rows.
    (repo / "params.yaml").write_text(yaml.safe_dump({"train": {"C": 0.0001}}))
    commit_all(repo, "over-regularize")
    code, out, err = cli(capsys, "promote")
    assert code == 1, out + err
    assert "accuracy dropped" in out + err
    assert git(bare, "tag", "--list").split() == ["churn@v1"]


def test_init_adopts_an_existing_train_py(repo: Path, monkeypatch, capsys) -> None:  # type: ignore[no-untyped-def]
    """`mlgate init` in a repo with a train.py: it runs it, and the config it writes from
    what it saw (metrics, the skops model, params.yaml) checks end to end unedited."""
    script = TRAIN_PY.replace("out = Path(sys.argv[1])", 'out = Path("out")')
    (repo / "train.py").write_text(script)
    (repo / "params.yaml").write_text(yaml.safe_dump({"train": {"C": 1.0}}))
    (repo / ".gitignore").write_text("out/\n")
    write_frames(repo, *classification_frames())
    commit_all(repo, "a project that trains its own way")
    # `python` is this interpreter, as in an activated virtual environment.
    monkeypatch.setenv("PATH", f"{Path(sys.executable).parent}:{os.environ['PATH']}")
    code, out, err = cli(capsys, "init")
    assert code == 0, err
    cfg = yaml.safe_load((repo / "mlgate.yaml").read_text())
    assert cfg["model"]["train"]["command"] == "python train.py"
    assert cfg["model"]["train"]["metrics"] == "out/metrics.json"
    assert cfg["model"]["train"]["model"] == "out/model.skops"
    assert cfg["model"]["train"]["params"] == "params.yaml"
    assert cfg["metrics"] == [
        "accuracy",
        "f1_macro",
        {"name": "loss.val", "higher_is_better": False},
    ]
    assert "model file: out/model.skops (skops: used for promotion)" in out
    assert (repo / ".gitignore").read_text() == "out/\n"  # its outputs were ignored already
    assert cli(capsys, "validate")[0] == 0
    commit_all(repo, "adopt mlgate")
    code, out, err = cli(capsys, "check", "--format", "json")
    assert code == 0, err
    report = json.loads(out)
    assert report["comparison"] == "own-data"  # each side's train.py reported its own
    assert report["head"]["metrics"]["accuracy"] > 0.5


def test_init_reads_a_dvc_pipeline(repo: Path, tmp_path: Path, capsys, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    (repo / "dvc.yaml").write_text(
        yaml.safe_dump(
            {
                "stages": {
                    "train": {
                        "cmd": "python train.py",
                        "deps": ["train.py"],
                        "metrics": [{"eval/scores.json": {"cache": False}}],
                    }
                }
            }
        )
    )
    code, _, err = cli(capsys, "init", "--no-run")  # no DVC installed here to run it
    assert code == 0, err
    cfg = yaml.safe_load((repo / "mlgate.yaml").read_text())
    assert cfg["model"]["train"]["command"] == "dvc repro"
    assert cfg["model"]["train"]["metrics"] == "eval/scores.json"
    # validate looks the program up on PATH as check would run it: here, a dvc stand-in.
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "dvc").write_text("#!/bin/sh\n")
    (bin_dir / "dvc").chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    assert cli(capsys, "validate")[0] == 0


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            lambda c: c["metrics"].append({"name": "rmse", "higher_is_better": True}),
            "metrics[3].higher_is_better: 'rmse' is known: lower is better; "
            "higher_is_better: true contradicts it",
        ),
        (
            lambda c: c["model"].update(params={"C": 1}),
            "model.params: with train (command mode) parameters come from a file",
        ),
        (
            lambda c: c["model"]["train"].update(command="python train.py 'unclosed"),
            "model.train.command: cannot split the command: No closing quotation",
        ),
        (
            lambda c: c["gate"].update({"loss.test": {"max": 1}}),
            "gate.loss.test: 'loss.test' is not a metric mlgate knows nor one listed in metrics",
        ),
        (
            lambda c: c["metrics"].append("accuracy"),
            "metrics[3]: 'accuracy' is listed twice",
        ),
        (
            lambda c: c["model"]["train"].update(metrics="../../etc/metrics.json"),
            "model.train.metrics:",
        ),
    ],
    ids=["contradiction", "params", "quote", "gate-name", "twice", "escape"],
)
def test_command_mode_config_errors(repo: Path, capsys, change, expected: str) -> None:  # type: ignore[no-untyped-def]
    cfg = command_config()
    change(cfg)
    (repo / "mlgate.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))
    code, _, err = cli(capsys, "validate")
    assert code == 2
    assert expected in err, err
    assert len(err.strip().splitlines()) == 1


def test_a_pr_reuses_the_default_branchs_command_run_shared_as_a_note(
    repo: Path, tmp_path: Path, monkeypatch, capsys
) -> None:  # type: ignore[no-untyped-def]
    """`mlgate ci` on main shares the command's run as a git note; a PR check in a fresh
    clone with an empty cache runs only its head's command."""
    from ci_events import ci_push, sides_cached

    command_project(repo)
    origin = push_to_origin(repo, tmp_path)
    ci_push(repo, tmp_path, monkeypatch, capsys)
    assert git(origin, "notes", "--ref=mlgate", "list")

    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(origin), str(clone))
    monkeypatch.setenv("MLGATE_CACHE_DIR", str(tmp_path / "other-machine-cache"))
    monkeypatch.chdir(clone)
    git(clone, "checkout", "-q", "-b", "feature")
    (clone / "params.yaml").write_text(yaml.safe_dump({"train": {"C": 0.5}}))
    commit_all(clone, "C 0.5")
    code, report = run_json(capsys)
    assert code == 0, report
    assert sides_cached(report) == (True, False)
    # where the base's numbers came from (and that a shared run keeps no predictions)
    [note] = [n for n in report["notes"] if n.startswith("base: ")]
    assert note.startswith("base: the run shared in refs/notes/mlgate for ")
    assert note.endswith("(a local check trusts its clone's notes)")


def test_init_reads_an_mlproject(repo: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    (repo / "MLproject").write_text(
        "name: churn\nentry_points:\n  main:\n    command: python fit.py --seed 1\n"
    )
    (repo / "params.yaml").write_text("lr: 0.1\n")
    code, _, err = cli(capsys, "init", "--no-run")
    assert code == 0, err
    cfg = yaml.safe_load((repo / "mlgate.yaml").read_text())
    assert cfg["model"]["train"]["command"] == "python fit.py --seed 1"
    assert cfg["model"]["train"]["params"] == "params.yaml"
    assert cli(capsys, "validate")[0] == 0


def test_dvc_pipeline_params_appear_in_the_params_diff(repo: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    """In a repository with a DVC pipeline, params.yaml and dvc.lock's params are part of
    the params diff (here next to an estimator's own params)."""
    from projects import base_project

    (repo / "dvc.yaml").write_text(
        "stages:\n  prep:\n    cmd: python prep.py\n    params: [prep]\n"
    )
    (repo / "params.yaml").write_text(yaml.safe_dump({"prep": {"window": 7, "drop_na": True}}))
    base_project(repo, classification_config(), classification_frames())
    (repo / "params.yaml").write_text(yaml.safe_dump({"prep": {"window": 14, "drop_na": True}}))
    code, report = run_json(capsys)
    assert code == 0, report
    changes = {c["name"]: (c["base"], c["head"]) for c in report["params_diff"]}
    assert changes == {"params.yaml.prep.window": (7, 14)}
    assert report["head"]["params"]["C"] == 1.0  # the estimator's own params stay unprefixed


SLOW_WRITER = """\
import os, pathlib, time
pathlib.Path("out").mkdir(exist_ok=True)
head = os.environ["MLGATE_SIDE"] == "head"
with open("out/metrics.json", "w") as f:  # head leaves half a file for a while
    f.write('{"score": ')
    f.flush()
    time.sleep(0.5 if head else 0.0)
    f.write("0.75}" if head else "0.25}")
time.sleep(0.0 if head else 0.5)  # base reads its file while head is halfway
"""


def test_both_sides_on_one_commit_run_in_trees_of_their_own(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = quick_command_config("python train.py")
    write_config(repo, cfg)
    (repo / "train.py").write_text(SLOW_WRITER)
    (repo / ".gitignore").write_text("out/\n")
    commit_all(repo, "a slow writer")
    # Sharing one export, base would read head's half-written metrics file.
    code, out, err = cli(capsys, "check", "--format", "json", "--base", "HEAD", "--head", "HEAD")
    assert code == 0, err
    report = json.loads(out)
    assert report["base"]["metrics"] == {"score": 0.25}
    assert report["head"]["metrics"] == {"score": 0.75}
