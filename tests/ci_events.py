"""CI events for tests: GitHub's own payloads with the test repository's shas, the runner's
environment and files, and `mlgate ci` run as on a push to main (shared by the ci,
promotion, run-cache, command-mode, action and MLflow tests)."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from conftest import FIXTURES, git
from fakes.github import VALID_TOKEN, FakeGitHub
from projects import cli


def pr_event(action: str = "opened", **pr_changes: Any) -> dict[str, Any]:
    """GitHub's own pull_request payload, with shas and fields replaced for the test repo."""
    name = "synchronize" if action == "synchronize" else "opened"
    event: dict[str, Any] = json.loads(
        (FIXTURES / "events" / f"github-pull_request-{name}.json").read_text()
    )
    event = copy.deepcopy(event)
    event["action"] = action
    for dotted, value in pr_changes.items():
        node = event["pull_request"]
        *parents, last = dotted.split("__")
        for key in parents:
            node = node[key]
        node[last] = value
    return event


def github_env(
    tmp_path: Path, event: dict[str, Any], *, token: str | None = None
) -> dict[str, str]:
    event_path = tmp_path / "event.json"
    event_path.write_text(json.dumps(event))
    env = {
        "GITHUB_ACTIONS": "true",
        "GITHUB_EVENT_NAME": "pull_request",
        "GITHUB_EVENT_PATH": str(event_path),
        "GITHUB_REPOSITORY": "Codertocat/Hello-World",
        "GITHUB_SERVER_URL": "https://github.com",
        "GITHUB_RUN_ID": "42",
        "GITHUB_OUTPUT": str(tmp_path / "output.txt"),
        "GITHUB_STEP_SUMMARY": str(tmp_path / "summary.md"),
    }
    if token:
        env["GITHUB_TOKEN"] = token
    return env


def read_outputs(path: Path) -> dict[str, str]:
    """Parse GITHUB_OUTPUT the way the runner does (name<<DELIM ... DELIM)."""
    outputs: dict[str, str] = {}
    lines = iter(path.read_text().split("\n"))
    for line in lines:
        if "<<" in line:
            name, delimiter = line.split("<<", 1)
            value: list[str] = []
            for inner in lines:
                if inner == delimiter:
                    break
                value.append(inner)
            outputs[name] = "\n".join(value)
    return outputs


def sides_cached(report: dict) -> tuple[bool, bool]:  # type: ignore[type-arg]
    return report["base"]["cached"], report["head"]["cached"]


def use_env(monkeypatch: pytest.MonkeyPatch, env: dict[str, str]) -> None:
    for key, value in env.items():
        monkeypatch.setenv(key, value)


def use_push_env(repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """The runner's environment for a push of ``repo``'s HEAD to main; returns it."""
    push = json.loads((FIXTURES / "events" / "github-push-new-branch.json").read_text())
    push.update(ref="refs/heads/main", after=git(repo, "rev-parse", "HEAD"))
    push["repository"]["default_branch"] = "main"
    env = github_env(tmp_path, push)
    env["GITHUB_EVENT_NAME"] = "push"
    use_env(monkeypatch, env)
    return env


def ci_push(repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:  # type: ignore[no-untyped-def]
    """`mlgate ci` as on a push to main: promotes, and shares the run as a git note."""
    env = use_push_env(repo, tmp_path, monkeypatch)
    code, out, err = cli(capsys, "ci")
    assert code == 0, err
    assert "shared this run in refs/notes/mlgate" in out
    for key in env:
        monkeypatch.delenv(key)


RUN_URL = "https://github.com/Codertocat/Hello-World/actions/runs/42"


def publish_env(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    gh: FakeGitHub,
    head: str,
    conclusion: str = "success",
) -> None:
    """The trusted workflow_run job's environment, for the run that made ``head``'s result."""
    run = {"head_sha": head, "html_url": RUN_URL, "conclusion": conclusion}
    run_event = tmp_path / "workflow_run.json"
    run_event.write_text(json.dumps({"workflow_run": run}))
    use_env(
        monkeypatch,
        {
            "GITHUB_ACTIONS": "true",
            "GITHUB_EVENT_NAME": "workflow_run",
            "GITHUB_EVENT_PATH": str(run_event),
            "GITHUB_REPOSITORY": gh.repository,
            "GITHUB_API_URL": gh.url,
            "GITHUB_TOKEN": VALID_TOKEN,
        },
    )


def saved_result(  # type: ignore[no-untyped-def]
    repo: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys,
    base: str,
    head: str,
    exit_code: int = 0,
) -> dict[str, Any]:
    """`mlgate ci` on pull request #2 in ``repo``; the result file it saved."""
    use_env(monkeypatch, github_env(tmp_path, pr_event(number=2, base__sha=base, head__sha=head)))
    assert cli(capsys, "ci")[0] == exit_code
    return json.loads((repo / "mlgate-result.json").read_text())
