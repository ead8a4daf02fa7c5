"""The monitoring alert issue on the loopback GitHub (replies checked against the API
schema): created once, edited while unhealthy, closed with a final comment when healthy,
and never two, even when two runs race."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from fakes.github import VALID_TOKEN, FakeGitHub, Recorded, serve_github
from fakes.gitlab import VALID_TOKEN as GITLAB_TOKEN
from fakes.gitlab import serve_gitlab
from mlgate.forge.alerts import sync_alert
from mlgate.forge.github import GitHub
from mlgate.forge.gitlab import GitLab

MARKER = "<!-- mlgate:monitor model=churn -->"


@pytest.fixture
def gh() -> Iterator[FakeGitHub]:
    with serve_github() as fake:
        yield fake
        assert fake.violations == []


def tracker(gh: FakeGitHub) -> GitHub:
    return GitHub(gh.url, gh.repository, 0, VALID_TOKEN)


def run(gh: FakeGitHub, body: str, *, healthy: bool) -> str:
    outcome = sync_alert(
        tracker(gh),
        MARKER,
        title="mlgate: churn is unhealthy in production",
        body=f"{MARKER}\n{body}",
        healthy=healthy,
        closing="✅ churn is healthy again: every monitor rule holds.",
    )
    return outcome.action


def test_three_scheduled_runs_create_edit_and_close_one_issue(gh: FakeGitHub) -> None:
    assert run(gh, "all good", healthy=True) == "none"
    assert gh.issues == {}
    assert run(gh, "psi of f2 is 0.41 > 0.25", healthy=False) == "created"
    assert run(gh, "psi of f2 is 0.52 > 0.25", healthy=False) == "updated"
    (issue,) = gh.issues.values()
    assert issue["state"] == "open" and issue["body"] == f"{MARKER}\npsi of f2 is 0.52 > 0.25"
    assert run(gh, "all good", healthy=True) == "closed"
    assert issue["state"] == "closed" and issue["state_reason"] == "completed"
    assert gh.bodies(issue["number"]) == ["✅ churn is healthy again: every monitor rule holds."]
    # Unhealthy again later: a new issue (the closed one stays closed, as history).
    assert run(gh, "psi of f2 is 0.30 > 0.25", healthy=False) == "created"
    assert [i["state"] for i in gh.issues.values()] == ["closed", "open"]


def test_an_issue_that_mentions_the_marker_later_is_not_ours(gh: FakeGitHub) -> None:
    tracker(gh).create_issue("someone's", f"see {MARKER}")
    assert run(gh, "drifted", healthy=False) == "created"
    assert len([i for i in gh.issues.values() if i["state"] == "open"]) == 2


def test_a_run_that_loses_a_race_closes_its_own_issue(gh: FakeGitHub) -> None:
    # Between this run's listing (none) and its create, a rival run opens the issue.
    def rival_opens_first(request: Recorded) -> None:
        if not gh.issues:
            with gh.lock:
                gh.add_issue("mlgate: churn is unhealthy in production", f"{MARKER}\nrival")

    gh.hook("POST", r"/repos/[^/]+/[^/]+/issues", rival_opens_first)
    assert run(gh, "drifted", healthy=False) == "updated"
    rival, ours = sorted(gh.issues)
    assert gh.issues[rival]["state"] == "open" and gh.issues[rival]["body"] == f"{MARKER}\ndrifted"
    assert gh.issues[ours]["state"] == "closed"
    assert gh.bodies(ours) == [f"Closed as a duplicate of #{rival}."]


def test_two_racing_runs_leave_one_open_issue(gh: FakeGitHub) -> None:
    found: list[str] = []
    threads = [
        threading.Thread(target=lambda: found.append(run(gh, "drifted", healthy=False)))
        for _ in range(2)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    opened = [i for i in gh.issues.values() if i["state"] == "open"]
    assert len(opened) == 1 and opened[0]["number"] == min(gh.issues)  # the older survives
    assert sorted(found) == ["created", "updated"]


def test_on_gitlab_the_same_cycle_uses_the_issues_api() -> None:
    with serve_gitlab() as gl:
        tracker = GitLab(gl.api_url, gl.project_id, 0, GITLAB_TOKEN)

        def sync(healthy: bool, body: str) -> str:
            return sync_alert(
                tracker,
                MARKER,
                title="mlgate: churn is unhealthy in production",
                body=f"{MARKER}\n{body}",
                healthy=healthy,
                closing="✅ healthy again",
            ).action

        assert [sync(False, "drifted"), sync(False, "still"), sync(True, "ok")] == [
            "created",
            "updated",
            "closed",
        ]
        (issue,) = gl.issues.values()
        assert issue["state"] == "closed" and issue["description"] == f"{MARKER}\nstill"
        assert [n["body"] for n in gl.issue_notes[issue["iid"]]] == ["✅ healthy again"]
        assert gl.violations == []
