"""The forge HTTP session: timeouts, retries, rate limits, error messages, token hygiene.

Real requests through the real session against loopback fakes; waits are real but short
(``retry-after: 1``, a reset one second away).
"""

from __future__ import annotations

import logging
import socket
import time
from collections.abc import Iterator

import pytest
from requests import Response

from fakes.github import VALID_TOKEN, FakeGitHub, serve_github
from fakes.httpserver import Route, serve
from mlgate.forge import ForbiddenError, ForgeError
from mlgate.forge._http import (
    DEFAULT_TIMEOUT,
    ForgeSession,
    build_session,
    json_of,
    rate_limit_wait,
    redact,
    request,
)

WHAT = "listing comments on Codertocat/Hello-World#2"


@pytest.fixture
def gh() -> Iterator[FakeGitHub]:
    with serve_github() as fake:
        yield fake


def comments_url(gh: FakeGitHub) -> str:
    return f"{gh.url}/repos/{gh.repository}/issues/{gh.number}/comments"


def session(
    token: str | None = VALID_TOKEN,
    *,
    max_wait: float | None = None,
    timeout: tuple[float, float] = DEFAULT_TIMEOUT,
    backoff: float = 0.5,
) -> ForgeSession:
    return build_session(
        token,
        auth="bearer",
        user_agent="mlgate-test",
        max_wait=max_wait,
        timeout=timeout,
        backoff=backoff,
    )


def get(gh: FakeGitHub, *, max_wait: float | None = None, backoff: float = 0.5) -> Response:
    s = session(max_wait=max_wait, backoff=backoff)
    return request(s, "GET", comments_url(gh), what=WHAT)


# --- redaction and headers ------------------------------------------------------------------


def test_redact_replaces_the_token_also_url_encoded() -> None:
    token = "ghp_a/b+c"
    text = f"Bearer {token} at https://x/?t=ghp_a%2Fb%2Bc and https://x/ghp_a/b%2Bc"
    assert redact(text, token) == "Bearer *** at https://x/?t=*** and https://x/***"
    assert redact("nothing to hide", None) == "nothing to hide"
    assert redact("nothing to hide", "") == "nothing to hide"


def test_github_headers_and_no_token_in_session_repr(gh: FakeGitHub) -> None:
    s = session()
    request(s, "GET", comments_url(gh), what=WHAT)
    headers = gh.requests[0].headers
    assert headers["authorization"] == f"Bearer {VALID_TOKEN}"
    assert headers["accept"] == "application/vnd.github+json"
    assert headers["x-github-api-version"] == "2022-11-28"
    assert headers["user-agent"] == "mlgate-test"
    for shown in (repr(s), repr(s.auth), repr(vars(s.auth)), repr(s.headers), repr(vars(s))):
        assert VALID_TOKEN not in shown


@pytest.mark.parametrize(("job_token", "header"), [(False, "private-token"), (True, "job-token")])
def test_gitlab_token_header(job_token: bool, header: str) -> None:
    with serve({"/x": Route(b"{}")}) as server:
        s = build_session("glpat-x", auth="gitlab", user_agent="t", job_token=job_token)
        request(s, "GET", server.url + "/x", what="reading x")
    headers = {k.lower(): v for k, v in server.requests[0].headers.items()}
    assert headers[header] == "glpat-x"
    assert "authorization" not in headers
    assert "x-github-api-version" not in headers


def test_no_token_sends_no_auth_header(gh: FakeGitHub) -> None:
    request(session(None), "GET", comments_url(gh), what=WHAT)
    assert "authorization" not in gh.requests[0].headers


def test_token_header_does_not_follow_a_redirect_to_another_host() -> None:
    with serve({"/landing": Route(b"{}")}) as other:
        to_other = Route(status=307, headers={"Location": other.url + "/landing"})
        with serve({"/start": to_other}) as first:
            s = build_session("glpat-secret", auth="gitlab", user_agent="t")
            request(s, "GET", first.url + "/start", what="following a redirect")
    assert "glpat-secret" in first.requests[0].headers.values()
    assert other.paths() == ["/landing"]
    assert "glpat-secret" not in other.requests[0].headers.values()


# --- timeouts and unreachable hosts ----------------------------------------------------------


def test_every_request_gets_the_default_timeout() -> None:
    s = session()
    adapter = s.get_adapter("https://api.github.com")
    assert getattr(adapter, "timeout", None) == DEFAULT_TIMEOUT == (10.0, 30.0)


def test_read_timeout_is_retried_then_reported() -> None:
    def slow(_: object) -> Route:
        time.sleep(0.5)
        return Route(b"{}")

    with serve({"/slow": slow}) as server:
        s = session(timeout=(1.0, 0.1), backoff=0.0)
        with pytest.raises(ForgeError) as info:
            request(s, "GET", server.url + "/slow", what="reading slowly")
    host = server.url.removeprefix("http://")
    assert str(info.value) == f"cannot reach {host} while reading slowly: no answer within 0.1 s"
    assert len(server.requests) == 5


def test_connection_refused_names_host_and_what() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    s = session(backoff=0.0)
    with pytest.raises(ForgeError) as info:
        request(s, "GET", f"http://127.0.0.1:{port}/x", what="reading x")
    message = str(info.value)
    assert message.startswith(f"cannot reach 127.0.0.1:{port} while reading x: ")
    assert "Connection refused" in message
    assert "object at 0x" not in message
    assert info.value.status is None


# --- server errors ------------------------------------------------------------------------------


def test_two_bad_gateways_then_success(gh: FakeGitHub) -> None:
    gh.fail(502, times=2)
    response = get(gh)
    assert response.status_code == 200
    assert len(gh.requests) == 3


def test_post_is_retried_too(gh: FakeGitHub) -> None:
    gh.fail(503, times=1, method="POST")
    s = session(backoff=0.0)
    request(s, "POST", comments_url(gh), what="creating a comment", json={"body": "hi"})
    assert [r.method for r in gh.requests] == ["POST", "POST"]
    assert gh.bodies() == ["hi"]


def test_five_bad_gateways_give_up_with_the_status(gh: FakeGitHub) -> None:
    gh.fail(502, times=5)
    with pytest.raises(ForgeError) as info:
        get(gh, backoff=0.0)
    assert str(info.value) == (
        f"GitHub answered 502 Bad Gateway while {WHAT} (after 5 tries): Server Error"
    )
    assert info.value.status == 502
    assert len(gh.requests) == 5


# --- rate limits ------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [403, 429])
def test_secondary_rate_limit_waits_retry_after(gh: FakeGitHub, status: int) -> None:
    gh.secondary_rate_limit(retry_after=1, status=status)
    start = time.monotonic()
    get(gh)
    assert time.monotonic() - start >= 0.95
    assert len(gh.requests) == 2


def test_primary_rate_limit_waits_until_reset(gh: FakeGitHub) -> None:
    gh.exhaust_primary(reset_in=0.5)
    reset = gh.rate_limit_reset
    get(gh)
    assert time.time() >= reset
    assert len(gh.requests) == 2
    assert gh.requests[-1].path.endswith("/comments")


def test_primary_rate_limit_beyond_max_wait_says_when_it_resets(gh: FakeGitHub) -> None:
    gh.exhaust_primary(reset_in=3600)
    at = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(gh.rate_limit_reset))
    with pytest.raises(ForgeError) as info:
        get(gh, max_wait=5)
    assert str(info.value) == (
        f"GitHub rate limit exceeded while {WHAT}: it resets at {at} (in 60 min), later than "
        "mlgate waits (MLGATE_MAX_RATE_WAIT=5 s); re-run after that"
    )
    assert not isinstance(info.value, ForbiddenError)
    assert len(gh.requests) == 1


def test_secondary_rate_limit_beyond_max_wait(gh: FakeGitHub) -> None:
    gh.secondary_rate_limit(retry_after=120)
    with pytest.raises(ForgeError) as info:
        get(gh, max_wait=5)
    assert "rate limit exceeded" in str(info.value)
    assert "(in 2 min)" in str(info.value)
    assert len(gh.requests) == 1


def test_max_wait_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLGATE_MAX_RATE_WAIT", "7")
    assert session().max_wait == 7
    monkeypatch.delenv("MLGATE_MAX_RATE_WAIT")
    assert session().max_wait == 900
    monkeypatch.setenv("MLGATE_MAX_RATE_WAIT", "soon")
    with pytest.raises(ForgeError, match="MLGATE_MAX_RATE_WAIT must be a number of seconds"):
        session()


def test_rate_limit_wait_rules() -> None:
    now = 1_000_000.0
    assert rate_limit_wait(403, {"retry-after": "3"}, now) == 3
    assert rate_limit_wait(429, {}, now) == 60  # GitHub: at least a minute
    assert rate_limit_wait(403, {}, now) is None  # a plain 403 is not a rate limit
    assert rate_limit_wait(502, {}, now) is None
    limited = {"x-ratelimit-remaining": "0", "x-ratelimit-reset": str(int(now) + 10)}
    assert rate_limit_wait(403, limited, now) == 11  # one second of margin for clocks
    date = "Thu, 01 Jan 1970 00:00:20 GMT"
    assert rate_limit_wait(429, {"retry-after": date}, 5.0) == 15


# --- client errors ---------------------------------------------------------------------------


def test_bad_credentials_never_show_the_token(
    gh: FakeGitHub, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    wrong = "ghp_wrongTokenThatMustNotLeak123"
    with pytest.raises(ForgeError) as info:
        request(
            session(wrong), "POST", comments_url(gh), what="creating a comment", json={"body": "x"}
        )
    assert str(info.value) == (
        "GitHub rejected the token (401 Bad credentials) while creating a comment; "
        "check GITHUB_TOKEN or MLGATE_TOKEN"
    )
    assert info.value.status == 401
    assert len(gh.requests) == 1
    for shown in (str(info.value), repr(info.value), caplog.text, repr(info.value.__cause__)):
        assert wrong not in shown


def test_token_echoed_in_body_and_url_is_redacted(gh: FakeGitHub) -> None:
    gh.fail(500, times=5, body={"message": f"boom: token {VALID_TOKEN} rejected"})
    with pytest.raises(ForgeError) as info:
        get(gh, backoff=0.0)
    assert VALID_TOKEN not in str(info.value)
    assert "boom: token *** rejected" in str(info.value)
    url = f"{gh.url}/repos/octo/{VALID_TOKEN}/issues/2/comments?x={VALID_TOKEN}"
    with pytest.raises(ForgeError) as info:
        request(session(), "GET", url, what="listing comments")
    assert str(info.value) == (
        f"listing comments: not found (404) at {gh.url}/repos/octo/***/issues/2/comments; "
        "check the repository and pull request, or the token cannot see them"
    )


def test_read_only_token_is_forbidden_and_not_retried() -> None:
    with serve_github(read_only=True) as gh:
        with pytest.raises(ForbiddenError) as info:
            s = session()
            request(s, "POST", comments_url(gh), what="creating a comment", json={"body": "x"})
        assert len(gh.requests) == 1
    assert str(info.value) == (
        "GitHub refused creating a comment (403 Resource not accessible by integration); the "
        "token may be read-only (pull requests from forks get one) or lack "
        "pull-requests/statuses write permission"
    )
    assert info.value.status == 403


def test_secondary_limit_without_headers_is_not_forbidden(gh: FakeGitHub) -> None:
    message = "You have exceeded a secondary rate limit. Please wait a few minutes."
    gh.fail(403, body={"message": message, "documentation_url": "https://docs.github.com/rest"})
    with pytest.raises(ForgeError) as info:
        get(gh)
    assert not isinstance(info.value, ForbiddenError)
    assert str(info.value).startswith(f"GitHub rate limit hit while {WHAT} (403 You have")
    assert len(gh.requests) == 1


def test_not_found(gh: FakeGitHub) -> None:
    url = f"{gh.url}/repos/{gh.repository}/issues/99/comments"
    with pytest.raises(ForgeError) as info:
        request(session(), "GET", url, what="listing comments on #99", params={"per_page": 100})
    assert str(info.value) == (
        f"listing comments on #99: not found (404) at {url}; check the repository and pull "
        "request, or the token cannot see them"
    )
    assert info.value.status == 404


def test_validation_failed_lists_the_errors(gh: FakeGitHub) -> None:
    url = f"{gh.url}/repos/{gh.repository}/statuses/{'a' * 40}"
    with pytest.raises(ForgeError) as info:
        request(session(), "POST", url, what="setting a status", json={"state": "done"})
    assert str(info.value) == (
        "GitHub rejected setting a status "
        "(422 Validation Failed: state is not included in the list)"
    )
    # The fake flags the request too: "done" is not in the documented enum.
    assert len(gh.violations) == 1 and "is not one of" in gh.violations[0]
    gh.violations.clear()


def test_non_json_success_is_a_clear_error() -> None:
    page = Route(b"<html>proxy login</html>", headers={"Content-Type": "text/html"})
    with serve({"/x": page}) as server:
        response = request(session(), "GET", server.url + "/x?q=1", what="reading x")
        with pytest.raises(ForgeError) as info:
            json_of(response, "reading x")
    assert str(info.value) == f"expected JSON while reading x, got text/html from {server.url}/x"


def test_a_server_error_waits_for_retry_after_but_not_for_the_primary_reset() -> None:
    assert rate_limit_wait(503, {"retry-after": "2"}, 0.0) == 2
    limited = {"x-ratelimit-remaining": "0", "x-ratelimit-reset": "100"}
    assert rate_limit_wait(502, limited, 0.0) is None  # exponential backoff instead
