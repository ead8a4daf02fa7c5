"""The library facade: the same check as the CLI's, as typed values, with nothing printed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import commit_all
from mlgate import api
from projects import (
    base_project,
    classification_config,
    classification_frames,
    push_to_origin,
    set_params,
)


def test_check_returns_a_result_and_prints_nothing(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = classification_config(gate={"accuracy": {"max_regression": 0.01}})
    base_project(repo, cfg, classification_frames())
    set_params(repo, C=0.0001)  # heavy regularization: the model collapses
    commit_all(repo, "over-regularize")
    result = api.check(repo, base="HEAD~1", head="HEAD")
    assert isinstance(result, api.CheckResult)
    assert result.model == "churn" and not result.passed
    assert [c.metric for c in result.verdict.failed] == ["accuracy"]
    assert capsys.readouterr() == ("", "")
    document = json.loads(api.render(result, "json"))
    assert document["verdict"] == "fail"
    assert api.render(result, "markdown").startswith("<!-- mlgate:report model=churn -->\n")
    assert [v.version for v in api.history(repo, "churn")] == []


def test_errors_carry_their_exit_codes(tmp_path: Path) -> None:
    with pytest.raises(api.UsageError) as caught:
        api.check(tmp_path)
    assert caught.value.exit_code == api.ExitCode.USAGE


def test_monitor_returns_the_production_model_s_health_and_prints_nothing(
    repo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rules = {"drift": {"psi": {"max": 0.25}}}
    base_project(repo, classification_config(monitor=rules), classification_frames(rows=600))
    push_to_origin(repo, tmp_path)
    api.promote(repo)
    capsys.readouterr()
    live = classification_frames(rows=600)[0]
    live["f0"] += 4.0  # the training rows, with one feature moved far away
    live.to_csv(repo / "live.csv", index=False)
    health = api.monitor(str(repo), data=["live.csv"])
    assert (health.model, health.version) == ("churn", 1)
    assert not health.healthy
    drifted = [c.message for c in health.failed if c.metric == "drift"]
    assert len(drifted) == 1 and "feature 'f0' PSI" in drifted[0]
    assert capsys.readouterr() == ("", "")


def test_check_all_returns_one_result_per_model_and_prints_nothing(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from commands.test_ci_matrix import monorepo, write_model

    monorepo(repo)
    broken = classification_config()
    broken["model"]["name"] = "prices"
    broken["data"]["train"] = "data/missing.csv"
    write_model(repo, "prices", broken)
    commit_all(repo, "prices reads a file that is not there")
    checked = api.check_all(repo, base="HEAD", head="HEAD")
    assert [c.config for c in checked] == [
        f"models/{name}/mlgate.yaml" for name in ("churn", "fraud", "prices")
    ]
    assert [c.exit_code for c in checked] == [0, 0, 2]  # its config names a missing file
    assert checked[0].result is not None and checked[0].result.model == "churn"
    assert isinstance(checked[2].error, api.ConfigError)
    assert capsys.readouterr() == ("", "")
