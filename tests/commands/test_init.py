"""`mlgate init`: a starter config that mlgate itself accepts, and a workflow file."""

from __future__ import annotations

from pathlib import Path

import yaml

from mlgate.core import config
from projects import classification_frames, cli, regression_frames, write_frames


def test_init_reads_columns_and_guesses_classification(repo: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    write_frames(repo, *classification_frames())
    code, out, err = cli(capsys, "init", "--data", "data/train.csv")
    assert (code, err) == (0, "")
    assert "wrote" in out and "mlgate.yaml" in out
    cfg = config.load_path(repo / "mlgate.yaml")
    assert cfg.model.task == "classification"
    assert cfg.model.name == "repo"
    assert cfg.data.target == "label"
    assert cfg.data.features == ("f0", "f1", "f2", "f3", "f4")
    assert cfg.data.test == "data/test.csv"
    assert "accuracy" in cfg.gate
    workflow = yaml.safe_load((repo / ".github/workflows/mlgate.yml").read_text())
    assert workflow["permissions"] == {
        "contents": "write",
        "pull-requests": "write",
        "statuses": "write",
    }
    steps = workflow["jobs"]["mlgate"]["steps"]
    assert steps[0]["with"]["fetch-depth"] == 0
    assert steps[1]["uses"].endswith("mlgate@v1")


def test_init_guesses_regression_for_a_float_target(repo: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    write_frames(repo, *regression_frames())
    code, _, _ = cli(
        capsys, "init", "--data", "data/train.csv", "--target", "price", "--name", "prices"
    )
    assert code == 0
    cfg = config.load_path(repo / "mlgate.yaml")
    assert (cfg.model.task, cfg.model.name, cfg.data.target) == ("regression", "prices", "price")
    assert cfg.metrics == ("r2", "rmse")


def test_init_refuses_to_overwrite_without_force(repo: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    (repo / "mlgate.yaml").write_text("version: 1\n# mine\n")
    code, _, err = cli(capsys, "init")
    assert code == 2
    assert "already exists; pass --force" in err
    assert (repo / "mlgate.yaml").read_text() == "version: 1\n# mine\n"
    assert not (repo / ".github").exists()
    code, _, _ = cli(capsys, "init", "--force")
    assert code == 0
    assert config.load_path(repo / "mlgate.yaml").model.task == "classification"


def test_init_unknown_target_column(repo: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    write_frames(repo, *classification_frames())
    code, _, err = cli(capsys, "init", "--data", "data/train.csv", "--target", "nope")
    assert code == 2
    assert err.strip() == "mlgate: error: init: --target 'nope' is not a column of data/train.csv"
    assert not (repo / "mlgate.yaml").exists()
