"""A root mlgate.yaml that lists the repository's models (``models:``, core.manifest): the
plan, `check --all` and the matrix see exactly those, and the list is never a model."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from ci_events import read_outputs
from commands.test_ci_matrix import change_churn, model_config, monorepo, pr_env
from conftest import commit_all
from projects import classification_frames, cli


def with_list(repo: Path, models: Any, **extra: Any) -> None:
    (repo / "mlgate.yaml").write_text(yaml.safe_dump({"version": 1, "models": models, **extra}))


def experiment(repo: Path) -> None:
    """A model's config outside the listed directories, which the list leaves out."""
    where = repo / "experiments" / "wild"
    (where / "data").mkdir(parents=True)
    (where / "mlgate.yaml").write_text(yaml.safe_dump(model_config("wild")))
    train, test = classification_frames(seed=9)
    train.to_csv(where / "data" / "train.csv", index=False)
    test.to_csv(where / "data" / "test.csv", index=False)


def test_the_matrix_plans_only_the_listed_models(
    repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    experiment(repo)
    with_list(repo, ["models/churn", "models/f*"])  # a pattern per path part
    base = monorepo(repo)
    head = change_churn(repo)
    env = pr_env(tmp_path, monkeypatch, base, head)

    code, out, err = cli(capsys, "ci", "--matrix")

    assert code == 0, err
    plan = json.loads((repo / "mlgate-plan.json").read_text())
    assert [(m["model"], m["touched"]) for m in plan["models"]] == [
        ("churn", True),
        ("fraud", False),
    ]  # not prices (unlisted), not the experiment, not the list itself
    outputs = read_outputs(Path(env["GITHUB_OUTPUT"]))
    assert json.loads(outputs["matrix"])["include"] == [
        {"model": "churn", "dir": "models/churn", "config": "models/churn/mlgate.yaml"}
    ]
    assert "mlgate: 1 of 2 model(s) to check" in out


def test_check_all_checks_the_listed_models_and_check_at_the_root_says_what_the_file_is(
    repo: Path, capsys: Any
) -> None:
    with_list(repo, ["models/*"])
    experiment(repo)
    monorepo(repo)

    code, out, err = cli(capsys, "check", "--all", "--base", "HEAD", "--head", "HEAD")
    assert code == 0, err
    assert all(name in out for name in ("churn", "fraud", "prices"))
    assert "wild" not in out

    code, out, err = cli(capsys, "check", "--base", "HEAD", "--head", "HEAD")
    assert code == 2
    (line,) = err.strip().splitlines()
    assert "mlgate.yaml@" in line and "this file lists the repository's models" in line
    assert "mlgate check --all" in line


@pytest.mark.parametrize(
    ("models", "extra", "expected"),
    [
        (["models/churn", "models/nope"], {}, "models: 'models/nope' names no directory"),
        (["../outside"], {}, "models[0]: '../outside' is not a directory inside the repository"),
        ("models/churn", {}, "models: must be a list of model directories"),
        (
            ["models/churn"],
            {"gate": {}},
            "gate: not a key of a list of models (it holds only version and models)",
        ),
    ],
)
def test_a_bad_list_is_one_line_naming_the_file(
    repo: Path, capsys: Any, models: Any, extra: dict[str, Any], expected: str
) -> None:
    monorepo(repo)
    with_list(repo, models, **extra)
    commit_all(repo, "the list")

    code, out, err = cli(capsys, "check", "--all", "--base", "HEAD", "--head", "HEAD")

    assert code == 2, (out, err)
    (line,) = err.strip().splitlines()
    assert "mlgate.yaml@" in line, line
    assert expected in line, line
