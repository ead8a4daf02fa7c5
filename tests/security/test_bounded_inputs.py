"""Bounded inputs (issue 11, item 9): what a pull request writes cannot make mlgate build
huge strings, recurse past Python's stack, or name refs git refuses."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from mlgate.core import config
from mlgate.errors import ConfigError, ExitCode
from projects import cli

BASE = """\
version: 1
model: {name: churn, task: classification, estimator: sklearn.linear_model.LogisticRegression}
data: {train: data/train.csv, test: data/test.csv, target: label}
metrics: [accuracy]
"""


@pytest.mark.parametrize(
    ("tag", "problem"),
    [
        ("{name}@v{version}{version:>99999999}", "may only use the placeholders"),
        ("{name.__class__}@v{version}", "may only use the placeholders"),
        ("{name!r}@v{version}", "may only use the placeholders"),
        ("{name}@v{version}" + "x" * 300, "longer than 255 bytes"),
        ("{name} v{version}", "which git does not allow"),
        ("{name}..v{version}", "which git does not allow"),
        ("{name}@v{version}.lock", "which git does not allow"),
    ],
)
def test_a_tag_template_git_would_refuse_or_that_builds_huge_names_is_a_config_error(
    tag: str, problem: str
) -> None:
    started = time.monotonic()
    with pytest.raises(ConfigError) as e:
        config.load(BASE + f"promote: {{tag: {json.dumps(tag)}}}\n")
    assert time.monotonic() - started < 2  # nothing 100 MB long was built
    assert e.value.exit_code == ExitCode.USAGE and e.value.key == "promote.tag"
    assert problem in str(e.value) and len(str(e.value)) < 300


@pytest.mark.parametrize("tag", ["{name}@v{version}", "{name}-{version:03d}", "v{version}"])
def test_ordinary_tag_templates_still_pass(tag: str) -> None:
    assert config.load(BASE + f"promote: {{tag: {json.dumps(tag)}}}\n").promote.tag == tag


@pytest.mark.parametrize("branch", ["prod/.hidden", "prod.lock", "a" * 300, "prod@{1}"])
def test_a_production_branch_git_would_refuse_is_a_config_error(branch: str) -> None:
    with pytest.raises(ConfigError) as e:
        config.load(BASE + f"promote: {{branch: {json.dumps(branch)}}}\n")
    assert e.value.key == "promote.branch"


def test_a_deeply_nested_config_is_a_config_error(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "mlgate.yaml").write_text(BASE + "extra: " + "[" * 100_000 + "]" * 100_000 + "\n")
    code, _, err = cli(capsys, "-C", str(tmp_path), "validate")
    assert code == 2
    assert err.endswith("mlgate.yaml: invalid YAML: nested too deeply\n")
    assert len(err.splitlines()) == 1


def test_a_deeply_nested_result_file_is_a_usage_error(tmp_path: Path, capsys, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "mlgate-result.json").write_text("[" * 100_000 + "]" * 100_000)
    event = tmp_path / "event.json"
    event.write_text(json.dumps({"workflow_run": {"head_sha": "a" * 40, "conclusion": "success"}}))
    monkeypatch.setenv("GITHUB_EVENT_NAME", "workflow_run")
    monkeypatch.setenv("GITHUB_EVENT_PATH", str(event))
    code, _, err = cli(capsys, "-C", str(tmp_path), "publish", "mlgate-result.json")
    assert code == 2
    assert "nested too deeply" in err and len(err.splitlines()) == 1
