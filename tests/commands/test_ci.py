"""`mlgate ci` on real repositories with real GitHub/GitLab event data; this file covers
what needs no forge server (no token, shallow clones, files left for the runner)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from ci_events import github_env, pr_event, read_outputs
from conftest import FIXTURES, commit_all, git
from mlgate.commands.publish import load_result
from mlgate.forge.actions import escape_data, escape_property, write_outputs
from mlgate.forge.env import github_change, gitlab_change
from projects import base_project, classification_config, classification_frames, cli, set_params


@pytest.fixture
def pr_repo(repo: Path) -> tuple[Path, str, str]:
    """main with a model, a PR branch that changes C, and HEAD on the PR branch."""
    base = base_project(repo, classification_config(), classification_frames())
    git(repo, "checkout", "-q", "-b", "feature")
    set_params(repo, C=0.5)
    head = commit_all(repo, "C 0.5")
    return repo, base, head


def test_github_change_from_the_real_payloads() -> None:
    opened = json.loads((FIXTURES / "events" / "github-pull_request-opened.json").read_text())
    change = github_change(
        {
            "GITHUB_EVENT_NAME": "pull_request",
            "GITHUB_EVENT_PATH": str(FIXTURES / "events" / "github-pull_request-opened.json"),
        }
    )
    assert not isinstance(change, str)
    assert change.number == 2
    assert (
        change.status_sha
        == opened["pull_request"]["head"]["sha"]
        == "ec26c3e57ca3a959ca5aad62de7213c562f8c821"
    )
    assert change.base_sha == "f95f852bd8fca8fcc58a9a2d6c842781e32a215e"
    assert change.fork is False
    closed = github_change(
        {
            "GITHUB_EVENT_NAME": "pull_request",
            "GITHUB_EVENT_PATH": str(FIXTURES / "events" / "github-pull_request-closed.json"),
        }
    )
    assert closed == "nothing to check for pull_request.closed"


def test_fork_is_detected_from_head_repo(tmp_path: Path) -> None:
    event = pr_event(head__repo__full_name="someone/Hello-World")
    path = tmp_path / "e.json"
    path.write_text(json.dumps(event))
    change = github_change({"GITHUB_EVENT_NAME": "pull_request", "GITHUB_EVENT_PATH": str(path)})
    assert not isinstance(change, str) and change.fork is True


def test_gitlab_change_uses_the_source_sha_for_the_status() -> None:
    mr = json.loads((FIXTURES / "events" / "gitlab-merge_request-open.json").read_text())
    attrs = mr["object_attributes"]
    env = {
        "GITLAB_CI": "true",
        "CI_PIPELINE_SOURCE": "merge_request_event",
        "CI_PROJECT_ID": str(mr["project"]["id"]),
        "CI_PROJECT_PATH": mr["project"]["path_with_namespace"],
        "CI_MERGE_REQUEST_IID": str(attrs["iid"]),
        "CI_MERGE_REQUEST_DIFF_BASE_SHA": "a" * 40,
        "CI_MERGE_REQUEST_SOURCE_BRANCH_SHA": attrs["last_commit"]["id"],
        "CI_COMMIT_SHA": "b" * 40,  # a merged-results pipeline's merge commit
    }
    change = gitlab_change(env)
    assert not isinstance(change, str)
    assert change.number == attrs["iid"]
    assert change.status_sha == attrs["last_commit"]["id"]
    assert gitlab_change({"CI_PIPELINE_SOURCE": "push"}) == (
        "nothing to check in a push pipeline (mlgate ci checks merge request pipelines)"
    )


def test_outside_ci_is_a_usage_error(repo: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    code, _, err = cli(capsys, "ci")
    assert code == 2
    assert "on your machine, use `mlgate check`" in err


def test_pr_run_without_token_reports_in_summary_outputs_and_result(
    pr_repo: tuple[Path, str, str],
    tmp_path: Path,
    capsys,
    monkeypatch,  # type: ignore[no-untyped-def]
) -> None:
    repo, base, head = pr_repo
    env = github_env(tmp_path, pr_event(number=7, base__sha=base, head__sha=head))
    for key, value in env.items():
        monkeypatch.setenv(key, value)

    code, out, err = cli(capsys, "ci")

    assert code == 0, err
    warnings = [line for line in out.splitlines() if line.startswith("::warning::")]
    assert len(warnings) == 1 and "no token" in warnings[0]
    summary = (tmp_path / "summary.md").read_text()
    assert summary.startswith("<!-- mlgate:report model=churn -->")
    assert "| accuracy |" in summary
    outputs = read_outputs(tmp_path / "output.txt")
    assert outputs["verdict"] == "pass"
    metrics = json.loads(outputs["metrics-json"])
    assert [m["name"] for m in metrics] == ["accuracy", "f1_macro"]
    assert Path(outputs["report-path"]).read_text() == summary
    saved = load_result(repo / "mlgate-result.json")  # valid against the published schema
    assert (saved["pull_request"], saved["head_sha"], saved["base_sha"]) == (7, head, base)
    assert saved["run_url"] == "https://github.com/Codertocat/Hello-World/actions/runs/42"
    assert saved["report"]["head"]["sha"] == head


def test_failed_gate_gives_error_annotations_and_exit_1_unless_no_fail(
    repo: Path,
    tmp_path: Path,
    capsys,
    monkeypatch,  # type: ignore[no-untyped-def]
) -> None:
    cfg = classification_config(
        gate={"accuracy": {"max_regression": 0.0}, "f1_macro": {"min": 0.99}}
    )
    base = base_project(repo, cfg, classification_frames())
    git(repo, "checkout", "-q", "-b", "worse")
    set_params(repo, C=0.0001)
    head = commit_all(repo, "collapse")
    for key, value in github_env(tmp_path, pr_event(base__sha=base, head__sha=head)).items():
        monkeypatch.setenv(key, value)

    code, out, _ = cli(capsys, "ci")

    assert code == 1
    errors = [line for line in out.splitlines() if line.startswith("::error ")]
    assert len(errors) == 2
    assert all(
        line.startswith("::error title=mlgate%3A churn failed the gate::") for line in errors
    )
    assert read_outputs(tmp_path / "output.txt")["verdict"] == "fail"
    code, _, _ = cli(capsys, "ci", "--no-fail")
    assert code == 0


def test_shallow_clone_fetches_the_base_commit(
    pr_repo: tuple[Path, str, str],
    tmp_path: Path,
    capsys,
    monkeypatch,  # type: ignore[no-untyped-def]
) -> None:
    repo, base, head = pr_repo
    bare = tmp_path / "remote.git"
    git(tmp_path, "clone", "-q", "--bare", str(repo), str(bare))
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", "--depth", "1", "--branch", "feature", bare.as_uri(), str(clone))
    assert git(clone, "rev-list", "--count", "HEAD") == "1"
    for key, value in github_env(tmp_path, pr_event(base__sha=base, head__sha=head)).items():
        monkeypatch.setenv(key, value)
    monkeypatch.chdir(clone)

    code, _, err = cli(capsys, "ci")

    assert code == 0, err
    assert git(clone, "cat-file", "-t", base) == "commit"


def test_base_commit_that_cannot_be_fetched_says_what_to_set(
    pr_repo: tuple[Path, str, str],
    tmp_path: Path,
    capsys,
    monkeypatch,  # type: ignore[no-untyped-def]
) -> None:
    _, _, head = pr_repo
    missing = "1234567890abcdef1234567890abcdef12345678"
    for key, value in github_env(tmp_path, pr_event(base__sha=missing, head__sha=head)).items():
        monkeypatch.setenv(key, value)
    code, _, err = cli(capsys, "ci")
    assert code == 2
    assert "the base commit 1234567890ab is not in this clone" in err
    assert "`fetch-depth: 0`" in err


def test_outputs_are_multiline_safe(tmp_path: Path) -> None:
    path = tmp_path / "out"
    write_outputs(str(path), {"a": "line1\nline2", "b": "x<<EOF\nEOF"})
    assert read_outputs(path) == {"a": "line1\nline2", "b": "x<<EOF\nEOF"}


def test_workflow_command_escaping() -> None:
    assert escape_data("50%\r\n::set-output name=x::y") == "50%25%0D%0A::set-output name=x::y"
    assert escape_property("a:b,c") == "a%3Ab%2Cc"
    assert not re.search(r"[\r\n]", escape_data("x\ny"))


def test_other_events_do_nothing(repo: Path, tmp_path: Path, capsys, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    push = json.loads((FIXTURES / "events" / "github-push-new-branch.json").read_text())
    push["ref"] = "refs/heads/feature"  # not the default branch: nothing to promote
    env = github_env(tmp_path, push)
    env["GITHUB_EVENT_NAME"] = "push"
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    code, out, _ = cli(capsys, "ci")
    assert code == 0
    assert out.strip() == (
        "mlgate: nothing to do for a push to refs/heads/feature (promotion follows master)"
    )
    monkeypatch.setenv("GITHUB_EVENT_NAME", "issues")
    code, out, _ = cli(capsys, "ci")
    assert out.strip() == (
        "mlgate: nothing to check for a issues event (mlgate ci checks pull_request events)"
    )


def test_pull_request_number_from_github_merge_messages() -> None:
    from mlgate.commands.ci import pull_request_of

    assert pull_request_of("Merge pull request #12 from octo/feature\n\nbody") == 12
    assert pull_request_of("Tune C for churn (#34)\n\n* squashed") == 34
    assert pull_request_of("Fix #56 in the loader") is None
    assert pull_request_of(b"Merge branch 'main' into feature") is None
