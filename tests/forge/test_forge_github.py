"""GitHub forge against the fake GitHub: pagination, the sticky comment, statuses, errors."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator

import pytest
import requests

from fakes.github import VALID_TOKEN, FakeGitHub, Recorded, Reply, serve_github
from mlgate.forge import ForbiddenError, ForgeError, marked, upsert_comment
from mlgate.forge.github import GitHub

MARKER = "<!-- mlgate:report model=churn -->"
SHA = "ec26c3e57ca3a959ca5aad62de7213c562f8c821"  # the PR head in the event fixtures


@pytest.fixture
def gh() -> Iterator[FakeGitHub]:
    with serve_github() as fake:
        yield fake


def forge(gh: FakeGitHub, token: str | None = VALID_TOKEN) -> GitHub:
    return GitHub(gh.url, gh.repository, gh.number, token)


def report(text: str) -> str:
    return f"{MARKER}\n{text}"


def ours(gh: FakeGitHub) -> list[str]:
    return [b for b in gh.bodies() if b.startswith(MARKER)]


def methods(gh: FakeGitHub) -> list[str]:
    return [r.method for r in gh.requests]


# --- comments ---------------------------------------------------------------------------------


def test_list_follows_every_page_oldest_first(gh: FakeGitHub) -> None:
    for i in range(205):
        gh.add_comment(f"comment {i}")
    comments = forge(gh).list_comments()
    assert [c.body for c in comments] == [f"comment {i}" for i in range(205)]
    assert [c.id for c in comments] == sorted(c.id for c in comments)
    assert comments[0].created_at < comments[-1].created_at
    assert comments[0].url and comments[0].url.startswith("https://github.com/")
    gets = gh.requests
    assert len(gets) == 3
    assert gets[0].query == {"per_page": ["100"]}
    # Later pages come from the Link header, which points at /repositories/<id>/...
    assert [r.path for r in gets[1:]] == [f"/repositories/{gh.repo_id}/issues/2/comments"] * 2
    assert [r.query["page"] for r in gets[1:]] == [["2"], ["3"]]


def test_empty_pull_request_has_no_comments(gh: FakeGitHub) -> None:
    assert forge(gh).list_comments() == []
    assert len(gh.requests) == 1


def test_upsert_creates_once_then_edits(gh: FakeGitHub) -> None:
    first, created = upsert_comment(forge(gh), MARKER, report("v1"))
    assert created
    assert ours(gh) == [report("v1")]
    assert methods(gh) == ["GET", "POST", "GET"]
    gh.requests.clear()

    second, created = upsert_comment(forge(gh), MARKER, report("v2"))
    assert not created
    assert second.id == first.id
    assert ours(gh) == [report("v2")]
    assert methods(gh) == ["GET", "PATCH"]


def test_upsert_finds_its_comment_behind_150_others(gh: FakeGitHub) -> None:
    for i in range(150):
        gh.add_comment(f"chatter {i}")
    first, _ = upsert_comment(forge(gh), MARKER, report("v1"))
    for i in range(30):
        gh.add_comment(f"more chatter {i}")
    gh.requests.clear()

    again, created = upsert_comment(forge(gh), MARKER, report("v2"))
    assert not created and again.id == first.id
    assert ours(gh) == [report("v2")]
    assert methods(gh) == ["GET", "GET", "PATCH"]  # two pages, then the edit
    assert len(gh.bodies()) == 181


def test_upsert_ignores_a_marker_that_is_not_the_first_line(gh: FakeGitHub) -> None:
    gh.add_comment(f"quoting the bot:\n{MARKER}")
    _, created = upsert_comment(forge(gh), MARKER, report("v1"))
    assert created
    assert len(gh.bodies()) == 2


def test_two_racing_runs_leave_one_comment(gh: FakeGitHub) -> None:
    # Hold each POST until both runs have listed and want to create: the worst interleaving.
    both_listed = threading.Barrier(2, timeout=5)
    gh.hook("POST", r".*/comments", lambda _: both_listed.wait())
    results: list[bool] = []
    errors: list[BaseException] = []

    def run(text: str) -> None:
        try:
            results.append(upsert_comment(forge(gh), MARKER, report(text))[1])
        except BaseException as e:
            errors.append(e)

    threads = [threading.Thread(target=run, args=(t,)) for t in ("A", "B")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert not errors
    assert methods(gh).count("POST") == 2
    assert len(ours(gh)) == 1
    assert ours(gh)[0] in (report("A"), report("B"))
    assert sorted(results) == [False, True]  # the survivor is one run's own comment


def test_scripted_interleaving_keeps_the_older_comment(gh: FakeGitHub) -> None:
    # Run B posts its comment between our list and our create.
    rival: dict[str, int] = {}

    def rival_posts_first(_: Recorded) -> None:
        if not rival:
            rival["id"] = gh.add_comment(report("B"))["id"]

    gh.hook("POST", r".*/comments", rival_posts_first)
    kept, created = upsert_comment(forge(gh), MARKER, report("A"))
    assert not created
    assert kept.id == rival["id"]
    assert ours(gh) == [report("A")]
    assert methods(gh) == ["GET", "POST", "GET", "DELETE", "PATCH"]
    # Run B then finishes its own upsert: it finds the survivor and edits it.
    again, created = upsert_comment(forge(gh), MARKER, report("B2"))
    assert again.id == rival["id"] and not created
    assert ours(gh) == [report("B2")]


def test_deleting_a_comment_someone_else_deleted_is_fine(gh: FakeGitHub) -> None:
    forge(gh).delete_comment(123)
    assert methods(gh) == ["DELETE"]


def test_create_reads_the_comment_from_the_response(gh: FakeGitHub) -> None:
    comment = forge(gh).create_comment(report("x"))
    assert comment.body == report("x")
    assert comment.id == gh.comments[gh.number][0]["id"]
    assert comment.created_at == gh.comments[gh.number][0]["created_at"]
    assert gh.requests[0].json == {"body": report("x")}


def test_bad_gateways_are_retried(gh: FakeGitHub) -> None:
    gh.fail(502, times=2)
    gh.add_comment(report("v1"))
    assert [c.body for c in marked(forge(gh).list_comments(), MARKER)] == [report("v1")]
    assert methods(gh) == ["GET", "GET", "GET"]


# --- statuses and pull requests ------------------------------------------------------------------


def test_status_lands_with_context_and_short_description(gh: FakeGitHub) -> None:
    long = "accuracy 0.91 → 0.93 (+0.02); " * 10
    forge(gh).set_status(
        SHA, "failure", context="mlgate/churn", description=long, target_url="https://ci/run/1"
    )
    (status,) = gh.statuses[SHA]
    assert status["state"] == "failure"
    assert status["context"] == "mlgate/churn"
    assert status["target_url"] == "https://ci/run/1"
    assert len(status["description"]) == 140
    assert status["description"] == long[:139] + "…"
    assert gh.requests[0].path == f"/repos/{gh.repository}/statuses/{SHA}"


def test_status_without_target_url(gh: FakeGitHub) -> None:
    forge(gh).set_status(SHA, "success", context="mlgate/churn", description="gate passed")
    assert gh.requests[0].json == {
        "state": "success",
        "context": "mlgate/churn",
        "description": "gate passed",
    }
    assert gh.statuses[SHA][0]["target_url"] is None


def test_pull_request(gh: FakeGitHub) -> None:
    pull = forge(gh).pull_request()
    assert pull["number"] == 2
    assert pull["head"]["sha"] == SHA


# --- errors -------------------------------------------------------------------------------------


def test_bad_credentials(gh: FakeGitHub, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    wrong = "ghs_notTheRightOne9876543210"
    github = forge(gh, token=wrong)
    with pytest.raises(ForgeError) as info:
        upsert_comment(github, MARKER, report("v1"))
    assert str(info.value) == (
        "GitHub rejected the token (401 Bad credentials) while listing comments on "
        "Codertocat/Hello-World#2; check GITHUB_TOKEN or MLGATE_TOKEN"
    )
    for shown in (str(info.value), repr(info.value), caplog.text, repr(github)):
        assert wrong not in shown


def test_no_token_cannot_write(gh: FakeGitHub) -> None:
    with pytest.raises(ForgeError) as info:
        forge(gh, token=None).create_comment("hello")
    assert str(info.value) == (
        "GitHub requires a token (401 Requires authentication) while creating a comment on "
        "Codertocat/Hello-World#2; set GITHUB_TOKEN or MLGATE_TOKEN"
    )


def test_read_only_token_is_forbidden_once() -> None:
    with serve_github(read_only=True) as gh:
        with pytest.raises(ForbiddenError) as info:
            upsert_comment(forge(gh), MARKER, report("v1"))
        assert methods(gh) == ["GET", "POST"]
    assert str(info.value).startswith(
        "GitHub refused creating a comment on Codertocat/Hello-World#2 "
        "(403 Resource not accessible by integration); "
    )


def test_unknown_pull_request(gh: FakeGitHub) -> None:
    with pytest.raises(ForgeError) as info:
        GitHub(gh.url, gh.repository, 99, VALID_TOKEN).list_comments()
    assert str(info.value) == (
        "listing comments on Codertocat/Hello-World#99: not found (404) at "
        f"{gh.url}/repos/Codertocat/Hello-World/issues/99/comments; check the repository "
        "and pull request, or the token cannot see them"
    )


def test_comment_over_the_limit_is_rejected_with_githubs_reason() -> None:
    with serve_github(comment_limit=100) as gh, pytest.raises(ForgeError) as info:
        forge(gh).create_comment("x" * 101)
    assert str(info.value) == (
        "GitHub rejected creating a comment on Codertocat/Hello-World#2 "
        "(422 Validation Failed: Body is too long (maximum is 100 characters))"
    )
    assert info.value.status == 422


# --- construction -------------------------------------------------------------------------------


def test_from_env(gh: FakeGitHub) -> None:
    env = {
        "GITHUB_API_URL": gh.url,
        "GITHUB_REPOSITORY": gh.repository,
        "GITHUB_TOKEN": "ghs_actionsToken",
        "MLGATE_TOKEN": VALID_TOKEN,
    }
    github = GitHub.from_env(env, 2)
    assert (github.api_url, github.repository, github.number) == (gh.url, gh.repository, 2)
    github.list_comments()
    assert gh.requests[0].headers["authorization"] == f"Bearer {VALID_TOKEN}"
    assert GitHub.from_env({"GITHUB_REPOSITORY": "o/r"}, 1).api_url == "https://api.github.com"


def test_from_env_needs_the_repository() -> None:
    with pytest.raises(ForgeError, match="GITHUB_REPOSITORY is not set"):
        GitHub.from_env({"GITHUB_TOKEN": "t"}, 1)
    with pytest.raises(ForgeError, match="owner/name"):
        GitHub("https://api.github.com", "just-a-name", 1, "t")


# --- the fake itself: it must hold us to GitHub's contract --------------------------------------


def test_fake_links_a_middle_page_like_github(gh: FakeGitHub) -> None:
    for i in range(5):
        gh.add_comment(f"c{i}")
    url = f"{gh.url}/repos/{gh.repository}/issues/2/comments?per_page=2&page=2"
    links = requests.get(url, timeout=5).links
    base = f"{gh.url}/repositories/{gh.repo_id}/issues/2/comments?per_page=2&page="
    assert {rel: v["url"] for rel, v in links.items()} == {
        "prev": base + "1",
        "next": base + "3",
        "last": base + "3",
        "first": base + "1",
    }


def test_fake_flags_a_reply_that_breaks_the_contract() -> None:
    fake = FakeGitHub()
    fake.start()
    try:
        fake.script(Reply(201, {"id": 1, "body": "no user, no urls"}), method="POST")
        forge(fake).create_comment("x")
    finally:
        fake.stop()
    assert "response $: 'node_id' is a required property" in "\n".join(fake.violations)
