"""Command mode, as the report shows it: which Python the command ran with, its arguments
as params, the code files that changed, "run time", and the model card. Real repositories,
the real command run by mlgate."""

from __future__ import annotations

import json
import os
import platform
import sys
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from conftest import commit_all, git
from mlgate.paths import package_file
from mlgate.run.command import argument_params
from projects import (
    base_project,
    classification_config,
    classification_frames,
    cli,
    push_to_origin,
    quick_command_config,
    quick_command_project,
    run_json,
    set_params,
    write_config,
    write_frames,
)

VENV_BIN = str(Path(sys.executable).parent)


def _head_env(repo: Path) -> dict[str, str]:
    """What the head's command saw: the `python` its PATH found, and the PATH."""
    return dict(json.loads((repo / "out" / "env.json").read_text()))


def test_python_on_the_commands_path_is_mlgates_and_the_report_says_which(  # type: ignore[no-untyped-def]
    repo: Path, monkeypatch, capsys
) -> None:
    quick_command_project(repo)
    monkeypatch.setenv("PATH", "/usr/bin:/bin")  # a shell where `python` is not this venv's

    code, report = run_json(capsys)

    assert code == 0, report
    seen = _head_env(repo)
    assert seen["python"] == os.path.join(VENV_BIN, "python")
    assert seen["path"] == f"{VENV_BIN}:/usr/bin:/bin"
    version = platform.python_version()
    assert report["interpreter"] == {"executable": sys.executable, "version": version}
    line = f"Commands ran with {sys.executable} (Python {version}) first on PATH."
    assert line in cli(capsys, "check")[1]


def test_a_path_that_starts_with_mlgates_python_is_left_alone(  # type: ignore[no-untyped-def]
    repo: Path, monkeypatch, capsys
) -> None:
    quick_command_project(repo)
    monkeypatch.setenv("PATH", f"{VENV_BIN}:/bin")
    assert run_json(capsys)[0] == 0
    assert _head_env(repo)["path"] == f"{VENV_BIN}:/bin"


@pytest.mark.parametrize(
    ("argv", "params"),
    [
        (["python", "train.py", "--alpha", "0.5", "0.1"], {"alpha": "0.5", "arg1": "0.1"}),
        (
            ["python3.11", "-u", "-X", "dev", "fit.py", "--lr=0.1", "--fast"],
            {"lr": "0.1", "fast": True},
        ),
        (["python", "-m", "pkg.train", "-n", "-3", "--", "--raw"], {"n": "-3", "arg1": "--raw"}),
        (["./train.sh", "--layer", "1", "--layer", "2"], {"layer": ["1", "2"]}),
        (["dvc", "repro"], {"arg1": "repro"}),
        (["python", "train.py"], {}),
    ],
    ids=[
        "pairs-and-positional",
        "python-options",
        "module-and-end-of-options",
        "repeated",
        "other-program",
        "none",
    ],
)
def test_command_arguments_as_params(argv: list[str], params: dict[str, Any]) -> None:
    assert argument_params(tuple(argv)) == params


def test_without_a_params_file_an_argument_change_is_in_the_params_diff(  # type: ignore[no-untyped-def]
    repo: Path, capsys
) -> None:
    quick_command_project(repo, command="python train.py --alpha 0.5 out")
    git(repo, "checkout", "-q", "-b", "tune")
    write_config(repo, quick_command_config("python train.py --alpha 0.25 out --fast"))
    commit_all(repo, "alpha 0.25, fast")

    code, report = run_json(capsys)

    assert code == 0, report
    assert report["head"]["params"] == {"args": {"alpha": "0.25", "fast": True, "arg1": "out"}}
    changes = {c["name"]: c for c in report["params_diff"]}
    assert changes["args.alpha"] == {
        "name": "args.alpha",
        "status": "changed",
        "base": "0.5",
        "head": "0.25",
    }
    assert changes["args.fast"]["status"] == "added" and "args.arg1" not in changes
    assert report["metrics"][0]["head"] == pytest.approx(0.75)
    text = cli(capsys, "check")[1]
    assert 'args.alpha  "0.5"' in text and '"0.25"' in text


def test_the_code_files_that_changed_are_listed_capped_and_escaped(  # type: ignore[no-untyped-def]
    repo: Path, capsys
) -> None:
    quick_command_project(repo)
    (repo / "README.md").write_text("old\n")
    commit_all(repo, "readme")
    git(repo, "checkout", "-q", "-b", "many")
    (repo / "lib").mkdir()
    for i in range(11):
        (repo / "lib" / f"m{i:02}.py").write_text(f"x = {i}\n")
    (repo / "lib" / "@team_*bold*.py").write_text("y = 1\n")  # a name that is markdown
    (repo / "train.py").write_text((repo / "train.py").read_text() + "# tuned\n")
    git(repo, "rm", "-q", "README.md")
    write_config(repo, quick_command_config("python train.py --alpha 0.4"))  # not code
    commit_all(repo, "many files")

    code, report = run_json(capsys)

    assert code == 0, report
    diff = report["code_diff"]
    assert diff["total"] == 14
    statuses = {f["path"]: f["status"] for f in diff["files"]}
    assert statuses["train.py"] == "modified" and statuses["README.md"] == "removed"
    assert statuses["lib/m00.py"] == "added" and "mlgate.yaml" not in statuses
    assert report["mode"] == "command"
    schema = json.loads(package_file("schema", "report.schema.json").read_text())
    jsonschema.Draft202012Validator(schema).validate(report)

    markdown = cli(capsys, "check", "--format", "markdown")[1]
    assert "<details><summary>Code (14 files changed)</summary>" in markdown  # folded: > 5 files
    assert "- README.md (removed)" in markdown
    assert "- lib/@\u200bteam\\_\\*bold\\*.py (added)" in markdown
    assert "- … and 4 more" in markdown and "lib/m10.py" not in markdown
    text = cli(capsys, "check")[1]
    assert "Code (14 files changed):\n  README.md (removed)\n  lib/@team_*bold*.py (added)" in text
    assert "  … and 4 more" in text
    # The runtime row says what was timed: the whole command.
    assert "  run time  " in text and "fit time" not in text
    assert "| run time |" in markdown and "| fit time |" not in markdown


def test_estimator_mode_lists_changed_model_code_too_and_keeps_fit_time(  # type: ignore[no-untyped-def]
    repo: Path, capsys
) -> None:
    (repo / "mymodels").mkdir()
    (repo / "mymodels" / "__init__.py").write_text("")
    (repo / "mymodels" / "build.py").write_text(
        "from sklearn.linear_model import LogisticRegression\n"
        "def make(C=1.0):\n    return LogisticRegression(C=C, max_iter=500)\n"
    )
    cfg = classification_config()
    cfg["model"]["estimator"] = "mymodels.build:make"
    cfg["model"]["params"] = {"C": 1.0}
    base_project(repo, cfg, classification_frames())
    (repo / "mymodels" / "build.py").write_text(
        (repo / "mymodels" / "build.py").read_text() + "# same model\n"
    )
    (repo / "notes.txt").write_text("not model code\n")
    set_params(repo, C=0.5)

    code, report = run_json(capsys)

    assert code in (0, 1), report
    assert report["mode"] == "estimator" and report["interpreter"] is None
    assert report["code_diff"] == {
        "total": 1,
        "files": [{"path": "mymodels/build.py", "status": "modified"}],
    }
    text = cli(capsys, "check")[1]
    assert "  fit time  " in text and "run time" not in text


TRAIN_WITH_ARGS = '''\
"""A train.py whose only parameter is an argument: --C."""
import json, sys
from pathlib import Path

import pandas as pd
import skops.io
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score

c = float(sys.argv[sys.argv.index("--C") + 1])
train, test = pd.read_csv("data/train.csv"), pd.read_csv("data/test.csv")
model = LogisticRegression(C=c, max_iter=500).fit(train.drop(columns="label"), train["label"])
out = Path("out")
out.mkdir(exist_ok=True)
accuracy = accuracy_score(test["label"], model.predict(test.drop(columns="label")))
(out / "metrics.json").write_text(json.dumps({"accuracy": accuracy}))
skops.io.dump(model, out / "model.skops")
'''


def test_the_model_card_shows_the_real_task_and_the_commands_arguments(  # type: ignore[no-untyped-def]
    repo: Path, tmp_path: Path, capsys
) -> None:
    cfg = {
        "version": 1,
        "model": {
            "name": "churn",
            "train": {
                "command": [sys.executable, "train.py", "--C", "0.5"],
                "metrics": "out/metrics.json",
                "model": "out/model.skops",
            },
        },
        "data": {"test": "data/test.csv", "target": "label"},
        "metrics": ["accuracy"],
        "gate": {"accuracy": {"min": 0.5}},
    }
    (repo / "mlgate.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))
    (repo / "train.py").write_text(TRAIN_WITH_ARGS)
    (repo / ".gitignore").write_text("out/\n")
    write_frames(repo, *classification_frames())
    commit_all(repo, "command mode, no task, no params file")
    bare = push_to_origin(repo, tmp_path)

    code, out, err = cli(capsys, "promote")

    assert code == 0, out + err
    card = git(bare, "show", "production:churn/MODEL_CARD.md")
    assert "- **Task:** unknown" in card
    assert '| args.C | "0.5" |' in card
