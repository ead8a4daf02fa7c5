"""Fork results decide nothing they should not (issue 11, item 4).

A fork's `mlgate ci` run saves ``mlgate-result.json``; the trusted ``workflow_run`` job
posts it with ``mlgate publish``. Everything in the file is the fork's. Before: a fork set
``verdict: pass`` over a failed rule and got ``success``, set ``model: other-model`` to
satisfy another model's required check, and a run whose conclusion was ``failure`` still
produced ``success``. Now the verdict is recomputed from the metrics with the default
branch's gate, the model must be the default branch's, and only a successful run can pass.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from ci_events import publish_env, saved_result
from conftest import commit_all, git
from fakes.github import serve_github
from projects import base_project, classification_config, classification_frames, cli, set_params


@pytest.fixture
def failing_pr(repo: Path) -> tuple[Path, str, str]:
    """main with a model; a PR whose model collapses (accuracy fails the gate)."""
    base = base_project(repo, classification_config(), classification_frames())
    git(repo, "checkout", "-q", "-b", "collapse")
    set_params(repo, C=0.0001)
    return repo, base, commit_all(repo, "collapse")


def _forge(repo: Path, document: dict[str, Any], **report: Any) -> None:
    document["report"].update(report)
    (repo / "mlgate-result.json").write_text(json.dumps(document))


def _publish(repo: Path, tmp_path: Path, monkeypatch, capsys, head: str, conclusion: str):  # type: ignore[no-untyped-def]
    with serve_github() as gh:
        gh.heads[gh.number] = head
        publish_env(tmp_path, monkeypatch, gh, head, conclusion)
        code, out, err = cli(capsys, "publish", "mlgate-result.json")
        return code, out, err, gh.bodies(), gh.statuses.get(head, [])


def test_a_forged_pass_over_a_failed_rule_is_posted_as_a_failure(
    failing_pr: tuple[Path, str, str], tmp_path: Path, monkeypatch, capsys
) -> None:  # type: ignore[no-untyped-def]
    repo, base, head = failing_pr
    document = saved_result(repo, tmp_path, monkeypatch, capsys, base, head, exit_code=1)
    assert document["report"]["verdict"] == "fail"
    rows = [{**row, "passed": True} for row in document["report"]["metrics"]]
    _forge(repo, document, verdict="pass", failed_rules=[], metrics=rows)
    code, out, _, bodies, statuses = _publish(repo, tmp_path, monkeypatch, capsys, head, "success")
    assert code == 0 and "(fail, commit" in out
    [status] = statuses
    assert status["state"] == "failure"
    [body] = bodies
    assert "fails the gate" in body and "passes the gate" not in body
    assert "recomputed from them with the default branch's gate" in body


def test_a_relaxed_gate_in_the_fork_does_not_judge_its_result(
    failing_pr: tuple[Path, str, str], tmp_path: Path, monkeypatch, capsys
) -> None:  # type: ignore[no-untyped-def]
    """The fork may lower its own gate in its mlgate.yaml; publish reads main's."""
    repo, base, _ = failing_pr
    cfg = classification_config(gate={"accuracy": {"min": 0.0}})
    cfg["model"]["params"]["C"] = 0.0001
    (repo / "mlgate.yaml").write_text(json.dumps(cfg))
    head = commit_all(repo, "relax the gate")
    document = saved_result(repo, tmp_path, monkeypatch, capsys, base, head)
    assert document["report"]["verdict"] == "pass"  # by the fork's own gate
    code, _, _, _, statuses = _publish(repo, tmp_path, monkeypatch, capsys, head, "success")
    assert code == 0 and [s["state"] for s in statuses] == ["failure"]


def test_a_result_for_another_model_is_refused(
    failing_pr: tuple[Path, str, str], tmp_path: Path, monkeypatch, capsys
) -> None:  # type: ignore[no-untyped-def]
    repo, base, head = failing_pr
    document = saved_result(repo, tmp_path, monkeypatch, capsys, base, head, exit_code=1)
    _forge(repo, document, model="other-model", verdict="pass", failed_rules=[])
    code, _, err, bodies, statuses = _publish(repo, tmp_path, monkeypatch, capsys, head, "success")
    assert code == 2
    assert err.strip() == (
        "mlgate: error: refusing to publish: mlgate-result.json is for model 'other-model', "
        "but mlgate.yaml on the default branch configures 'churn'"
    )
    assert bodies == [] and statuses == []


@pytest.mark.parametrize("conclusion", ["failure", "cancelled", "timed_out"])
def test_a_run_that_did_not_succeed_never_gets_success(
    repo: Path, tmp_path: Path, monkeypatch, capsys, conclusion: str
) -> None:  # type: ignore[no-untyped-def]
    base = base_project(repo, classification_config(), classification_frames())
    git(repo, "checkout", "-q", "-b", "better")
    set_params(repo, C=0.5)
    head = commit_all(repo, "C 0.5")
    document = saved_result(repo, tmp_path, monkeypatch, capsys, base, head)
    assert document["report"]["verdict"] == "pass"
    code, _, _, bodies, statuses = _publish(repo, tmp_path, monkeypatch, capsys, head, conclusion)
    assert code == 0 and [s["state"] for s in statuses] == ["failure"]
    shown = conclusion.replace("_", "\\_")  # markdown-escaped, like everything it quotes
    assert f"did not succeed ({shown})" in bodies[0]
    assert "### ❌ mlgate: churn fails the gate —" in bodies[0]  # no "(0 rules)"
