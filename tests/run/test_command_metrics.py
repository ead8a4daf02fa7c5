"""Command mode's readers: `name: number` text metrics files, metrics the command prints,
and MLproject parameters filling a command's placeholders. Strict: one clear line naming
the file and line for anything that is not a number."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlgate.core import config
from mlgate.errors import ConfigError, TrainingError
from mlgate.run import command


def _metrics_file(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_text_metrics_as_cml_examples_write_them(tmp_path: Path) -> None:
    path = _metrics_file(
        tmp_path,
        "metrics.txt",
        "# written by train.py\nAccuracy: 0.84\n\nTest variance explained: 85.3%\nrmse = 1e-3\n",
    )
    assert command.read_metrics(path, "metrics.txt") == {
        "Accuracy": 0.84,
        "Test variance explained": 85.3,
        "rmse": 0.001,
    }


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("accuracy: 0.9\nf1: high\n", "metrics file metrics.txt, line 2: expected `name: number`"),
        ("accuracy: 0.9\naccuracy: 0.8\n", "line 2: 'accuracy' is given twice"),
        ("[1, 2]\n", "line 1: expected `name: number` or `name = number`, got '[1, 2]'"),
        ("loss: 0.1 0.2\n", "line 1:"),
    ],
    ids=["word", "twice", "list", "two-numbers"],
)
def test_text_metrics_refuse_anything_but_numbers(tmp_path: Path, text: str, expected: str) -> None:
    path = _metrics_file(tmp_path, "metrics.txt", text)
    with pytest.raises(TrainingError) as caught:
        command.read_metrics(path, "metrics.txt")
    assert expected in str(caught.value)
    assert "\n" not in str(caught.value)


def test_yaml_and_json_files_are_read_as_before(tmp_path: Path) -> None:
    yml = _metrics_file(tmp_path, "scores.yml", "loss: {val: 0.3}\nnote: text\n")
    assert command.read_metrics(yml, "scores.yml") == {"loss.val": 0.3}
    js = _metrics_file(tmp_path, "m.json", '{"accuracy": 1, "ok": true}')
    assert command.read_metrics(js, "m.json") == {"accuracy": 1.0}


def test_printed_metrics_last_value_wins_other_lines_ignored() -> None:
    log = (
        "Elasticnet model (alpha=0.500000, l1_ratio=0.100000):\n"
        "  RMSE: 0.79\n"
        "[epoch 1] loss: 0.9\n"
        "loss: 0.5\n"
        "loss: 0.25\n"
        "UserWarning: X has feature names\n"
        "  R2 = -0.02\n"
    )
    assert command.output_metrics(log) == {"RMSE": 0.79, "loss": 0.25, "R2": -0.02}


def test_stdout_is_a_metrics_source_not_a_path() -> None:
    cfg = config.load(
        "version: 1\nmodel:\n  name: m\n  train: {command: python t.py, metrics: stdout}\n"
        "metrics: [accuracy]\n",
        base="models/m",
    )
    assert cfg.model.train is not None and cfg.model.train.metrics == config.STDOUT


def _cfg(train: str) -> config.Config:
    return config.load(f"version: 1\nmodel:\n  name: m\n  train: {train}\nmetrics: [accuracy]\n")


MLPROJECT = """\
entry_points:
  main:
    parameters:
      alpha: {type: float, default: 0.5}
      l1_ratio: {type: float, default: 0.1}
    command: python train.py {alpha} {l1_ratio}
"""


def test_placeholders_are_filled_from_mlproject_defaults(tmp_path: Path) -> None:
    (tmp_path / "MLproject").write_text(MLPROJECT)
    cfg = _cfg(
        '{command: "python train.py {alpha} --l1={l1_ratio}", metrics: m.json, params: MLproject}'
    )
    assert cfg.model.train is not None
    argv = command.fill_placeholders(cfg.model.train, tmp_path, cfg)
    assert argv == ["python", "train.py", "0.5", "--l1=0.1"]
    params = command.read_params((tmp_path / "MLproject").read_bytes(), "MLproject@1234567")
    assert params == {"alpha": 0.5, "l1_ratio": 0.1}


def test_a_placeholder_the_params_do_not_define_is_a_config_error(tmp_path: Path) -> None:
    (tmp_path / "MLproject").write_text(MLPROJECT)
    cfg = _cfg('{command: "python train.py {alpah}", metrics: m.json, params: MLproject}')
    assert cfg.model.train is not None
    with pytest.raises(ConfigError, match=r"uses \{alpah\}, which MLproject does not define"):
        command.fill_placeholders(cfg.model.train, tmp_path, cfg)


def test_without_a_params_file_braces_stay_as_written(tmp_path: Path) -> None:
    cfg = _cfg('{command: "python train.py {alpha}", metrics: m.json}')
    assert cfg.model.train is not None
    assert command.fill_placeholders(cfg.model.train, tmp_path, cfg)[-1] == "{alpha}"


def test_an_mlproject_parameter_without_a_default_is_named(tmp_path: Path) -> None:
    text = MLPROJECT.replace("{type: float, default: 0.5}", "float")
    with pytest.raises(ConfigError, match="parameter 'alpha' of entry point main has no default"):
        command.read_params(text.encode(), "MLproject")
