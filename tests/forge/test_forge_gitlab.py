"""GitLab forge against the fake GitLab: notes, system notes, statuses, job tokens, errors."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from fakes.gitlab import JOB_TOKEN, VALID_TOKEN, FakeGitLab, serve_gitlab
from mlgate.forge import ForbiddenError, ForgeError, State, upsert_comment
from mlgate.forge.gitlab import GitLab

MARKER = "<!-- mlgate:report model=churn -->"
SHA = "da1560886d4f094c3e6c9ef40349f7d38b5d27d7"


@pytest.fixture
def gl() -> Iterator[FakeGitLab]:
    with serve_gitlab() as fake:
        yield fake


def forge(gl: FakeGitLab, token: str | None = VALID_TOKEN, *, job_token: bool = False) -> GitLab:
    return GitLab(gl.api_url, gl.project_id, gl.mr_iid, token, job_token=job_token)


def report(text: str) -> str:
    return f"{MARKER}\n{text}"


def methods(gl: FakeGitLab) -> list[str]:
    return [r.method for r in gl.requests]


def test_one_note_created_then_updated(gl: FakeGitLab) -> None:
    first, created = upsert_comment(forge(gl), MARKER, report("v1"))
    assert created
    assert methods(gl) == ["GET", "POST", "GET"]
    assert gl.requests[0].query == {
        "per_page": ["100"],
        "sort": ["asc"],
        "order_by": ["created_at"],
    }
    assert gl.requests[0].headers["private-token"] == VALID_TOKEN
    gl.requests.clear()

    second, created = upsert_comment(forge(gl), MARKER, report("v2"))
    assert not created and second.id == first.id
    assert methods(gl) == ["GET", "PUT"]
    assert gl.bodies() == [report("v2")]


def test_system_notes_are_ignored(gl: FakeGitLab) -> None:
    gl.add_note("added 1 commit", system=True)
    gl.add_note(report("a system note that happens to start with the marker"), system=True)
    gl.add_note("looks good")
    assert [c.body for c in forge(gl).list_comments()] == ["looks good"]
    _, created = upsert_comment(forge(gl), MARKER, report("v1"))
    assert created
    assert gl.bodies() == ["looks good", report("v1")]
    assert len(gl.bodies(system=True)) == 2  # never edited or deleted


def test_pages_via_link_oldest_first(gl: FakeGitLab) -> None:
    for i in range(230):
        gl.add_note(f"note {i}")
    notes = forge(gl).list_comments()
    assert [n.body for n in notes] == [f"note {i}" for i in range(230)]
    assert len(gl.requests) == 3
    assert [r.query.get("page") for r in gl.requests] == [None, ["2"], ["3"]]


def test_pages_via_x_next_page_when_there_is_no_link() -> None:
    with serve_gitlab(send_link=False) as gl:
        for i in range(150):
            gl.add_note(f"note {i}")
        notes = forge(gl).list_comments()
        assert len(notes) == 150
        assert [r.query.get("page") for r in gl.requests] == [None, ["2"]]


@pytest.mark.parametrize(
    ("state", "sent"),
    [("pending", "pending"), ("success", "success"), ("failure", "failed"), ("error", "failed")],
)
def test_status_state_mapping(gl: FakeGitLab, state: State, sent: str) -> None:
    forge(gl).set_status(
        SHA, state, context="mlgate/churn", description="d" * 200, target_url="https://ci/1"
    )
    assert gl.requests[0].json == {
        "state": sent,
        "name": "mlgate/churn",
        "description": "d" * 139 + "…",
        "target_url": "https://ci/1",
    }
    (status,) = gl.statuses
    assert (status["status"], status["name"], status["sha"]) == (sent, "mlgate/churn", SHA)


def test_pending_twice_is_not_an_error(gl: FakeGitLab) -> None:
    # GitLab answers 400 "Cannot transition status via :enqueue from :pending" here.
    gitlab = forge(gl)
    gitlab.set_status(SHA, "pending", context="mlgate/churn", description="running")
    gitlab.set_status(SHA, "pending", context="mlgate/churn", description="still running")
    gitlab.set_status(SHA, "success", context="mlgate/churn", description="gate passed")
    assert [r.method for r in gl.requests] == ["POST"] * 3
    assert [s["status"] for s in gl.statuses] == ["success"]


def test_only_a_job_token_cannot_post_notes_or_statuses(gl: FakeGitLab) -> None:
    env = {
        "CI_API_V4_URL": gl.api_url,
        "CI_PROJECT_ID": str(gl.project_id),
        "CI_MERGE_REQUEST_IID": str(gl.mr_iid),
        "CI_JOB_TOKEN": JOB_TOKEN,
    }
    gitlab = GitLab.from_env(env)
    assert gitlab.job_token
    with pytest.raises(ForbiddenError) as info:
        upsert_comment(gitlab, MARKER, report("v1"))
    assert str(info.value) == (
        "listing notes on project 7 !1: CI_JOB_TOKEN cannot post merge request notes; "
        "set MLGATE_TOKEN (a project access token with api scope)"
    )
    assert gl.requests[0].headers["job-token"] == JOB_TOKEN
    assert "private-token" not in gl.requests[0].headers
    with pytest.raises(ForbiddenError, match="CI_JOB_TOKEN cannot post merge request notes"):
        gitlab.create_comment("x")
    with pytest.raises(ForbiddenError) as info:
        gitlab.set_status(SHA, "success", context="mlgate/churn", description="ok")
    assert str(info.value) == (
        "setting status mlgate/churn on da1560886d4f in project 7: CI_JOB_TOKEN cannot set "
        "commit statuses; set MLGATE_TOKEN (a project access token with api scope)"
    )


def test_from_env_prefers_mlgate_token(gl: FakeGitLab) -> None:
    env = {
        "CI_API_V4_URL": gl.api_url,
        "CI_PROJECT_ID": str(gl.project_id),
        "CI_MERGE_REQUEST_IID": str(gl.mr_iid),
        "CI_JOB_TOKEN": JOB_TOKEN,
        "GITLAB_TOKEN": "glpat-other",
        "MLGATE_TOKEN": VALID_TOKEN,
    }
    gitlab = GitLab.from_env(env)
    assert not gitlab.job_token
    gitlab.list_comments()
    assert gl.requests[0].headers["private-token"] == VALID_TOKEN


def test_from_env_outside_a_merge_request_pipeline() -> None:
    with pytest.raises(ForgeError, match="run mlgate in a merge request pipeline"):
        GitLab.from_env({"CI_API_V4_URL": "https://gitlab.example.com/api/v4"})


def test_project_path_is_url_encoded(gl: FakeGitLab) -> None:
    gitlab = GitLab(gl.api_url, "group/app", 1, VALID_TOKEN)
    with pytest.raises(ForgeError) as info:
        gitlab.list_comments()
    assert gl.requests[0].raw_path.startswith("/api/v4/projects/group%2Fapp/merge_requests/1/")
    assert str(info.value) == (
        "listing notes on project group/app !1: not found (404) at "
        f"{gl.api_url}/projects/group%2Fapp/merge_requests/1/notes; check the project and "
        "merge request, or the token cannot see them"
    )


def test_wrong_token(gl: FakeGitLab) -> None:
    with pytest.raises(ForgeError) as info:
        forge(gl, token="glpat-wrong-and-secret").list_comments()
    assert str(info.value) == (
        "GitLab rejected the token (401 Unauthorized) while listing notes on project 7 !1; "
        "check MLGATE_TOKEN or GITLAB_TOKEN"
    )
    assert "glpat-wrong-and-secret" not in repr(info.value)


def test_note_too_long(gl: FakeGitLab) -> None:
    with pytest.raises(ForgeError) as info:
        forge(gl).create_comment("x" * 1_000_001)
    assert str(info.value) == (
        "GitLab rejected creating a note on project 7 !1 (400 Bad request - Note "
        '{:note=>["is too long (maximum is 1000000 characters)"]})'
    )


def test_bad_gateway_is_retried_and_deleting_a_gone_note_is_fine(gl: FakeGitLab) -> None:
    gl.fail(502, method="DELETE")
    forge(gl).delete_comment(999)
    assert methods(gl) == ["DELETE", "DELETE"]
