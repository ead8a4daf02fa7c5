"""Journey 2 end to end: `mlgate ci` and `mlgate publish` through the CLI, on real git
repositories, against loopback servers that behave like GitHub's and GitLab's APIs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from ci_events import RUN_URL, github_env, pr_event, publish_env, saved_result, use_env
from conftest import REPO_ROOT, commit_all, git
from fakes import github as fake_github
from fakes import gitlab as fake_gitlab
from fakes.github import serve_github
from fakes.gitlab import serve_gitlab
from projects import base_project, classification_config, classification_frames, cli, set_params

MARKER = "<!-- mlgate:report model=churn -->"


@pytest.fixture
def pr_repo(repo: Path) -> tuple[Path, str, str]:
    base = base_project(repo, classification_config(), classification_frames())
    git(repo, "checkout", "-q", "-b", "feature")
    set_params(repo, C=0.5)
    return repo, base, commit_all(repo, "C 0.5")


def github_pr(
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    gh: fake_github.FakeGitHub,
    base: str,
    head: str,
    token: str = fake_github.VALID_TOKEN,
) -> dict[str, str]:
    env = github_env(
        tmp_path, pr_event(number=gh.number, base__sha=base, head__sha=head), token=token
    )
    env["GITHUB_API_URL"] = gh.url
    env["MLGATE_MAX_RATE_WAIT"] = "5"
    use_env(monkeypatch, env)
    return env


def marked(bodies: list[str]) -> list[str]:
    return [b for b in bodies if b.startswith(MARKER + "\n")]


def test_first_run_creates_the_comment_and_the_next_edits_it_past_150_others(
    pr_repo: tuple[Path, str, str],
    tmp_path: Path,
    capsys,
    monkeypatch,  # type: ignore[no-untyped-def]
) -> None:
    _, base, head = pr_repo
    with serve_github() as gh:
        for i in range(150):
            gh.add_comment(f"comment {i}")
        github_pr(monkeypatch, tmp_path, gh, base, head)

        code, out, err = cli(capsys, "ci")
        assert code == 0, err
        first = marked(gh.bodies())
        assert len(first) == 1 and len(gh.bodies()) == 151
        creates = [r for r in gh.requests if r.method == "POST" and r.path.endswith("/comments")]
        assert len(creates) == 1

        code, _, err = cli(capsys, "ci")
        assert code == 0, err
        assert len(marked(gh.bodies())) == 1 and len(gh.bodies()) == 151
        assert (
            len([r for r in gh.requests if r.method == "POST" and r.path.endswith("/comments")])
            == 1
        )
        assert [r.method for r in gh.requests if "/issues/comments/" in r.path] == ["PATCH"]
        list_pages = [r for r in gh.requests if r.method == "GET" and r.path.endswith("/comments")]
        assert len(list_pages) >= 2 * 2  # every run followed the Link header across pages

        statuses = gh.statuses[head]
        assert [s["state"] for s in statuses] == ["pending", "success"] * 2
        assert {s["context"] for s in statuses} == {"mlgate/churn"}
        assert all(len(s["description"]) <= 140 for s in statuses)
        assert statuses[-1]["description"].startswith("accuracy ")
        assert statuses[-1]["target_url"] == RUN_URL
        assert base not in gh.statuses  # never on the base, and the merge sha is not the head
    assert "::warning::" not in out


def test_status_goes_on_the_pr_head_not_the_checked_out_merge_commit(
    pr_repo: tuple[Path, str, str],
    tmp_path: Path,
    capsys,
    monkeypatch,  # type: ignore[no-untyped-def]
) -> None:
    repo, base, head = pr_repo
    git(repo, "checkout", "-q", "--detach", base)
    git(repo, "merge", "-q", "--no-ff", "-m", "Merge feature into main", "feature")
    merge = git(repo, "rev-parse", "HEAD")
    with serve_github() as gh:
        github_pr(monkeypatch, tmp_path, gh, base, head)
        code, _, err = cli(capsys, "ci")
        assert code == 0, err
        assert list(gh.statuses) == [head]
        saved = json.loads((repo / "mlgate-result.json").read_text())
        assert saved["report"]["head"]["sha"] == merge  # what would land was evaluated


def test_two_racing_runs_leave_one_comment(
    pr_repo: tuple[Path, str, str],
    tmp_path: Path,
    monkeypatch,  # type: ignore[no-untyped-def]
) -> None:
    repo, base, head = pr_repo
    with serve_github() as gh:
        env = {**os.environ, **github_pr(monkeypatch, tmp_path, gh, base, head)}
        runs = [
            subprocess.Popen(
                [sys.executable, "-m", "mlgate", "ci", "--result", f"result-{i}.json"],
                cwd=repo,
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for i in range(2)
        ]
        assert [r.wait() for r in runs] == [0, 0]
        assert len(marked(gh.bodies())) == 1


def test_fork_pr_warns_once_then_publish_posts_the_saved_result(
    pr_repo: tuple[Path, str, str],
    tmp_path: Path,
    capsys,
    monkeypatch,  # type: ignore[no-untyped-def]
) -> None:
    repo, base, head = pr_repo
    with serve_github(read_only=True) as gh:
        event = pr_event(number=gh.number, base__sha=base, head__sha=head)
        event["pull_request"]["head"]["repo"]["full_name"] = "forker/Hello-World"
        env = github_env(tmp_path, event, token=fake_github.VALID_TOKEN)
        env["GITHUB_API_URL"] = gh.url
        use_env(monkeypatch, env)
        code, out, err = cli(capsys, "ci")
        assert code == 0, err
        warnings = [line for line in out.splitlines() if line.startswith("::warning::")]
        assert len(warnings) == 1
        assert "Resource not accessible by integration" in warnings[0]
        assert gh.bodies() == [] and gh.statuses == {}
        # After the first 403 nothing else was attempted: one status write, no comment calls.
        writes = [r for r in gh.requests if r.method in ("POST", "PATCH", "DELETE")]
        assert len(writes) == 1
    summary = (tmp_path / "summary.md").read_text()
    report = (repo / "mlgate-report.md").read_text()
    assert summary == report

    # The trusted workflow_run job: a write token, the artifact, the default branch checked
    # out (its mlgate.yaml judges the result), never the PR's code.
    artifact = tmp_path / "trusted-checkout"
    git(tmp_path, "clone", "-q", "--single-branch", "-b", "main", str(repo), str(artifact))
    (artifact / "mlgate-result.json").write_bytes((repo / "mlgate-result.json").read_bytes())
    with serve_github() as gh:
        gh.heads[gh.number] = head
        run_event = tmp_path / "workflow_run.json"
        run_event.write_text(
            json.dumps(
                {
                    "action": "completed",
                    "workflow_run": {
                        "head_sha": head,
                        "html_url": RUN_URL,
                        "conclusion": "success",
                        "pull_requests": [],
                    },
                }
            )
        )
        use_env(
            monkeypatch,
            {
                "GITHUB_EVENT_NAME": "workflow_run",
                "GITHUB_EVENT_PATH": str(run_event),
                "GITHUB_API_URL": gh.url,
            },
        )
        monkeypatch.chdir(artifact)
        code, out, err = cli(capsys, "publish", "mlgate-result.json")
        assert code == 0, err
        assert (
            out.strip()
            == f"mlgate: posted the report on pull request #{gh.number} (pass, commit {head[:12]})"
        )
        [body] = gh.bodies()
        assert "were reported by the pull request's own CI run" in body
        assert set(report.splitlines()) <= set(body.splitlines())  # the same report, plus that
        [status] = gh.statuses[head]
        assert (status["state"], status["context"]) == ("success", "mlgate/churn")


def test_publish_refuses_a_result_for_another_commit_and_skips_a_moved_pr(
    pr_repo: tuple[Path, str, str],
    tmp_path: Path,
    capsys,
    monkeypatch,  # type: ignore[no-untyped-def]
) -> None:
    repo, base, head = pr_repo
    saved_result(repo, tmp_path, monkeypatch, capsys, base, head)
    with serve_github() as gh:
        publish_env(tmp_path, monkeypatch, gh, "f" * 40)
        code, _, err = cli(capsys, "publish", "mlgate-result.json")
        assert code == 3
        assert f"refusing to publish: mlgate-result.json is for commit {head[:12]}" in err
        publish_env(tmp_path, monkeypatch, gh, head)
        gh.heads[gh.number] = "e" * 40  # a newer push
        code, out, _ = cli(capsys, "publish", "mlgate-result.json")
        assert code == 0 and out.startswith(
            "mlgate: nothing published: pull request #2 is now at eeeeeeeeeeee"
        )
        assert gh.bodies() == [] and gh.statuses == {}


def test_publish_rejects_a_tampered_result(
    pr_repo: tuple[Path, str, str],
    tmp_path: Path,
    capsys,
    monkeypatch,  # type: ignore[no-untyped-def]
) -> None:
    repo, base, head = pr_repo
    document = saved_result(repo, tmp_path, monkeypatch, capsys, base, head)
    document["report"]["model"] = "x -->\n<img src=x onerror=alert(1)>"
    (repo / "mlgate-result.json").write_text(json.dumps(document))
    with serve_github() as gh:
        publish_env(tmp_path, monkeypatch, gh, head)
        code, _, err = cli(capsys, "publish", "mlgate-result.json")
        assert code == 2
        assert err.startswith(
            "mlgate: error: mlgate-result.json: report.model: not a valid mlgate result"
        )
        (repo / "mlgate-result.json").write_text('{"schema": NaN}')
        code, _, err = cli(capsys, "publish", "mlgate-result.json")
        assert code == 2 and "not a JSON result" in err
        assert gh.requests == []


def test_transient_502s_and_a_secondary_rate_limit_are_retried(
    pr_repo: tuple[Path, str, str],
    tmp_path: Path,
    capsys,
    monkeypatch,  # type: ignore[no-untyped-def]
) -> None:
    _, base, head = pr_repo
    with serve_github() as gh:
        github_pr(monkeypatch, tmp_path, gh, base, head)
        gh.fail(
            502, times=2, method="POST", path=f"/repos/{gh.repository}/issues/{gh.number}/comments"
        )
        code, _, err = cli(capsys, "ci")
        assert code == 0, err
        assert len(marked(gh.bodies())) == 1
        gh.secondary_rate_limit(retry_after=1)
        start = time.monotonic()
        code, _, err = cli(capsys, "ci")
        assert code == 0, err
        assert time.monotonic() - start >= 1.0  # it honoured retry-after
        assert len(marked(gh.bodies())) == 1


def test_bad_token_exits_3_and_never_shows_the_token(
    pr_repo: tuple[Path, str, str],
    tmp_path: Path,
    capsys,
    monkeypatch,  # type: ignore[no-untyped-def]
) -> None:
    _, base, head = pr_repo
    secret = "ghp_SuperSecretToken1234567890abcdefXYZ"
    with serve_github() as gh:
        github_pr(monkeypatch, tmp_path, gh, base, head, token=secret)
        code, out, err = cli(capsys, "ci")
    assert code == 3
    assert "401 Bad credentials" in err and "GITHUB_TOKEN" in err
    assert len(err.strip().splitlines()) == 1
    leaked = [
        out,
        err,
        *(p.read_text() for p in tmp_path.glob("*.md")),
        *(p.read_text() for p in tmp_path.glob("*.txt")),
    ]
    assert not any(secret in text for text in leaked)


def test_a_smaller_server_comment_limit_is_honoured(
    pr_repo: tuple[Path, str, str],
    tmp_path: Path,
    capsys,
    monkeypatch,  # type: ignore[no-untyped-def]
) -> None:
    _, base, head = pr_repo
    with serve_github(comment_limit=700) as gh:
        github_pr(monkeypatch, tmp_path, gh, base, head)
        code, _, err = cli(capsys, "ci")
        assert code == 0, err
        [body] = gh.bodies()
        assert len(body) <= 700 and body.startswith(MARKER)
        assert "Report truncated" in body and RUN_URL in body


def run_gitlab_snippet(repo: Path) -> tuple[int, str, str]:
    """The mlgate commands of examples/gitlab-ci.yml (the README's snippet), run by bash as
    GitLab's runner would; its `pip install` line is what made `mlgate` available here."""
    job = yaml.safe_load((REPO_ROOT / "examples" / "gitlab-ci.yml").read_text())["mlgate"]
    commands = [line for line in job["script"] if line.startswith("mlgate ")]
    assert commands == ["mlgate ci"]
    env = {**os.environ, **{k: str(v) for k, v in job.get("variables", {}).items()}}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"
    proc = subprocess.run(
        ["bash", "-eo", "pipefail", "-c", "\n".join(commands)],
        cwd=repo,
        env=env,
        capture_output=True,
        text=True,
    )
    return proc.returncode, proc.stdout, proc.stderr


def test_gitlab_merge_request_note_created_then_updated_and_status_on_source_sha(
    pr_repo: tuple[Path, str, str],
    tmp_path: Path,
    capsys,
    monkeypatch,  # type: ignore[no-untyped-def]
) -> None:
    repo, base, head = pr_repo
    with serve_gitlab() as gl:
        gl.add_note("Mentioned in commit abc", system=True)
        use_env(
            monkeypatch,
            {
                "GITLAB_CI": "true",
                "CI_PIPELINE_SOURCE": "merge_request_event",
                "CI_API_V4_URL": gl.api_url,
                "CI_PROJECT_ID": str(gl.project_id),
                "CI_PROJECT_PATH": "group/churn",
                "CI_MERGE_REQUEST_IID": str(gl.mr_iid),
                "CI_MERGE_REQUEST_DIFF_BASE_SHA": base,
                "CI_MERGE_REQUEST_SOURCE_BRANCH_SHA": head,
                "CI_COMMIT_SHA": head,
                "CI_JOB_URL": "https://gitlab.example.com/group/churn/-/jobs/9",
                "MLGATE_TOKEN": fake_gitlab.VALID_TOKEN,
            },
        )
        code, out, err = run_gitlab_snippet(repo)
        assert code == 0, err
        assert len(marked(gl.bodies())) == 1
        code, _, err = run_gitlab_snippet(repo)
        assert code == 0, err
        assert len(gl.bodies()) == 1
        assert [r.method for r in gl.requests if "/notes" in r.path and r.method != "GET"] == [
            "POST",
            "PUT",
        ]
        assert {(s["sha"], s["name"], s["status"]) for s in gl.statuses} == {
            (head, "mlgate/churn", "success")
        }
    assert "::" not in out  # no GitHub workflow commands on GitLab
    saved = json.loads((repo / "mlgate-result.json").read_text())
    assert (saved["forge"], saved["pull_request"], saved["head_sha"]) == ("gitlab", gl.mr_iid, head)
