"""``mlgate data bump --pr`` on GitLab: one merge request per model, one pipeline a bump,
and ``mlgate ci`` in that merge request pipeline reports on it."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from test_data_bump import bump_project, frames_csv, sha

from ci_events import use_env
from conftest import git
from fakes import gitlab as fake_gitlab
from fakes.github import Recorded, Reply
from fakes.gitlab import FakeGitLab, serve_gitlab
from fakes.httpserver import serve
from mlgate.storage.pointers import parse
from projects import cli

BRANCH = "mlgate/data/churn"
# A pre-receive hook that writes down the push options each push carried.
RECORD_OPTIONS = """#!/bin/sh
i=0
while [ "$i" -lt "${GIT_PUSH_OPTION_COUNT:-0}" ]; do
  eval "printf '%s ' \\"\\$GIT_PUSH_OPTION_$i\\""
  i=$((i + 1))
done >> "$GIT_DIR/push-options.log"
echo >> "$GIT_DIR/push-options.log"
"""


def gitlab_origin(bare: Path) -> Path:
    """The bare remote as GitLab's: it takes push options, and records them."""
    git(bare, "config", "receive.advertisePushOptions", "true")
    hook = bare / "hooks" / "pre-receive"
    hook.write_text(RECORD_OPTIONS)
    hook.chmod(0o755)
    return bare / "push-options.log"


@contextmanager
def bumping(repo: Path, tmp_path: Path, seed: int) -> Iterator[tuple[FakeGitLab, Path]]:
    """The bump project on a GitLab-like origin whose source now gives new data, and the
    loopback GitLab that sees the origin's branches; yields both."""
    upstream = tmp_path / "upstream.csv"
    bare = bump_project(repo, tmp_path, upstream)
    gitlab_origin(bare)
    upstream.write_bytes(frames_csv(seed))
    with serve_gitlab() as gl:
        gl.branch_sha = lambda ref: git(bare, "rev-parse", f"refs/heads/{ref}")
        yield gl, bare


def pipeline_env(api_url: str, project_id: int, **more: str) -> dict[str, str]:
    return {
        "GITLAB_CI": "true",
        "CI_API_V4_URL": api_url,
        "CI_PROJECT_ID": str(project_id),
        "CI_PROJECT_PATH": "group/churn",
        "CI_DEFAULT_BRANCH": "main",
        "GITLAB_TOKEN": fake_gitlab.VALID_TOKEN,
        **more,
    }


def test_bump_opens_one_merge_request_starts_one_pipeline_each_and_ci_reports_on_it(
    repo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    upstream = tmp_path / "upstream.csv"
    bare = bump_project(repo, tmp_path, upstream)
    options = gitlab_origin(bare)
    with serve_gitlab() as gl:
        gl.branch_sha = lambda ref: git(bare, "rev-parse", f"refs/heads/{ref}")
        use_env(monkeypatch, pipeline_env(gl.api_url, gl.project_id, CI_PIPELINE_SOURCE="push"))

        upstream.write_bytes(frames_csv(1))
        code, out, err = cli(capsys, "data", "bump", "--pr")
        assert code == 0, err
        [(iid, mr)] = gl.merge_requests.items()
        assert f"opened merge request !{iid}" in out and "started pipeline" not in out
        assert (mr["source_branch"], mr["target_branch"]) == (BRANCH, "main")
        assert mr["description"].startswith("<!-- mlgate:data-bump -->\n")
        assert "check on this merge request retrains" in mr["description"]
        assert sha(frames_csv(1))[:8] in mr["description"]
        first = git(bare, "rev-parse", BRANCH)
        # GitLab started the merge request pipeline when it was opened; the push started
        # none of its own (ci.skip).
        assert [(p["sha"], p["ref"]) for p in gl.pipelines] == [
            (first, f"refs/merge-requests/{iid}/head")
        ]
        assert options.read_text().split("\n")[0].split() == ["ci.skip"]

        upstream.write_bytes(frames_csv(2))
        code, out, err = cli(capsys, "data", "bump", "--pr")
        assert code == 0, err
        second = git(bare, "rev-parse", BRANCH)
        assert f"updated merge request !{iid}" in out
        assert f"started pipeline #{gl.pipelines[-1]['id']} for merge request !{iid}" in out
        assert list(gl.merge_requests) == [iid]  # never a second merge request
        assert [p["sha"] for p in gl.pipelines] == [first, second]  # one pipeline a bump
        assert sha(frames_csv(2))[:8] in gl.merge_requests[iid]["description"]
        assert git(bare, "rev-list", "--count", f"main..{BRANCH}") == "1"  # force-updated
        shown = git(bare, "show", f"{BRANCH}:data/train.csv.ptr")
        assert parse(shown, where="x").sha256 == sha(frames_csv(2))
        creates = [r for r in gl.requests if r.method == "POST" and r.path.endswith("requests")]
        assert len(creates) == 1

        # The merge request pipeline: GitLab's checkout of the source branch.
        git(repo, "fetch", "-q", "origin", BRANCH)
        git(repo, "checkout", "-q", "--force", "FETCH_HEAD")
        env = pipeline_env(
            gl.api_url,
            gl.project_id,
            CI_PIPELINE_SOURCE="merge_request_event",
            CI_MERGE_REQUEST_IID=str(iid),
            CI_MERGE_REQUEST_DIFF_BASE_SHA=git(repo, "rev-parse", "origin/main"),
            CI_COMMIT_SHA=second,
            CI_MERGE_REQUEST_TARGET_BRANCH_NAME="main",
        )
        use_env(monkeypatch, env)
        code, out, err = cli(capsys, "ci")
        assert code in (0, 1), err
        [report] = gl.bodies(iid)
        assert report.startswith("<!-- mlgate:report model=churn -->\n")
        statuses = [s for s in gl.statuses if s["sha"] == second]
        assert {s["name"] for s in statuses} == {"mlgate/churn"}
        assert statuses[-1]["status"] == ("success" if code == 0 else "failed")


def test_a_scheduled_pipeline_bumps_into_a_merge_request(
    repo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    with bumping(repo, tmp_path, 3) as (gl, bare):
        env = pipeline_env(gl.api_url, gl.project_id, CI_PIPELINE_SOURCE="schedule")
        use_env(monkeypatch, env)
        code, out, err = cli(capsys, "ci")
    assert code == 0, err
    [(iid, mr)] = gl.merge_requests.items()
    assert f"opened merge request !{iid}" in out and mr["source_branch"] == BRANCH
    assert "nothing to monitor on a schedule" in out  # then the monitor ran too
    shown = git(bare, "show", f"{BRANCH}:data/train.csv.ptr")
    assert parse(shown, where="x").sha256 == sha(frames_csv(3))


def test_a_racing_bump_edits_the_merge_request_the_other_opened(
    repo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """GitLab answers 409 to a second merge request from the same branch: the bump finds
    the one that won and edits it."""
    with bumping(repo, tmp_path, 4) as (gl, _):
        use_env(monkeypatch, pipeline_env(gl.api_url, gl.project_id))
        # The other run's merge request appears between our lookup and our create.
        winner: list[int] = []
        original = gl._open_merge_request

        def racing(request: Recorded) -> Reply:
            if not winner:
                winner.append(original(request).body["iid"])
            return original(request)

        gl._open_merge_request = racing  # type: ignore[method-assign]
        code, out, err = cli(capsys, "data", "bump", "--pr")
    assert code == 0, err
    assert list(gl.merge_requests) == winner
    assert f"updated merge request !{winner[0]}" in out
    assert len(gl.pipelines) == 2  # the winner's own, and the one for our edit


def test_without_a_project_token_nothing_is_pushed(
    repo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    upstream = tmp_path / "upstream.csv"
    bare = bump_project(repo, tmp_path, upstream)
    upstream.write_bytes(frames_csv(5))
    env = pipeline_env("http://127.0.0.1:9/api/v4", 7, CI_JOB_TOKEN=fake_gitlab.JOB_TOKEN)
    del env["GITLAB_TOKEN"]
    use_env(monkeypatch, env)
    code, _, err = cli(capsys, "data", "bump", "--pr")
    assert code == 2 and err.count("\n") == 1
    assert "GitLab project access token with api scope" in err and "MLGATE_TOKEN" in err
    assert fake_gitlab.JOB_TOKEN not in err
    assert git(bare, "branch", "--list", BRANCH) == ""


def test_the_push_authenticates_with_the_project_token_and_never_shows_it(
    repo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """In a pipeline origin holds the job token (which may not push): the push sends the
    project token instead, in a header of that push alone; a refused push is one line with
    neither token in it."""
    upstream = tmp_path / "upstream.csv"
    bump_project(repo, tmp_path, upstream)
    upstream.write_bytes(frames_csv(6))
    with serve() as remote:  # a git remote over HTTP that knows no repository (404)
        job_url = remote.url.replace("http://", f"http://gitlab-ci-token:{fake_gitlab.JOB_TOKEN}@")
        git(repo, "remote", "set-url", "origin", job_url + "/group/churn.git")
        env = pipeline_env("http://127.0.0.1:9/api/v4", 7, CI_JOB_TOKEN=fake_gitlab.JOB_TOKEN)
        use_env(monkeypatch, env)
        code, _, err = cli(capsys, "data", "bump", "--pr")
    basic = base64.b64encode(f"oauth2:{fake_gitlab.VALID_TOKEN}".encode()).decode()
    seen = [r.headers.get("Authorization") for r in remote.requests]
    assert seen and seen[0] == f"Basic {basic}"
    assert code == 3 and err.count("\n") == 1 and f"git push origin {BRANCH} failed" in err
    assert fake_gitlab.VALID_TOKEN not in err and fake_gitlab.JOB_TOKEN not in err
    assert "extraHeader" not in git(repo, "config", "--list")
