"""The one HTTP client for forges: timeouts, retries, rate limits, and errors without tokens.

``build_session`` makes a ``requests.Session`` that
- times out every request (connect 10 s, read 30 s) unless a call says otherwise;
- retries 500/502/503/504 for every method, with exponential backoff, 5 tries in all.
  POST is retried too: a duplicated comment is cleaned up by ``upsert_comment``;
- waits out rate limits the way GitHub documents them (a 429, or a 403 with ``retry-after``
  or ``x-ratelimit-remaining: 0``): ``retry-after`` seconds, else until
  ``x-ratelimit-reset``, else one minute; but never longer than ``max_wait`` per wait
  (``MLGATE_MAX_RATE_WAIT``, default 900 s): past that it gives up and says when the
  limit resets;
- sends the token in a header (``Authorization: Bearer`` on GitHub, ``PRIVATE-TOKEN`` or
  ``JOB-TOKEN`` on GitLab) and never anywhere else.

``request`` turns every failure into a one-line ``ForgeError`` (``ForbiddenError`` for a
plain 403) with the token redacted. Rate limits:
https://docs.github.com/en/rest/using-the-rest-api/best-practices-for-using-the-rest-api
"""

from __future__ import annotations

import email.utils
import logging
import os
import time
from collections.abc import Callable, Mapping
from typing import Any, Literal
from urllib.parse import urlsplit, urlunsplit

import requests
from urllib3.exceptions import (
    ConnectTimeoutError,
    MaxRetryError,
    NewConnectionError,
    ReadTimeoutError,
    ResponseError,
)
from urllib3.response import BaseHTTPResponse
from urllib3.util.retry import Retry

from mlgate import http
from mlgate.core.units import cut
from mlgate.forge import ForbiddenError, ForgeError
from mlgate.http import DEFAULT_TIMEOUT, Timeout, redact

log = logging.getLogger(__name__)

Auth = Literal["bearer", "gitlab"]
Scrub = Callable[[str], str]

RETRY_STATUSES = frozenset({500, 502, 503, 504})
TRIES = 5  # the first request and up to 4 retries
BACKOFF = 0.5  # seconds; urllib3 waits 0, 2b, 4b, 8b... between consecutive failures
DEFAULT_MAX_WAIT = 900.0
FALLBACK_RATE_WAIT = 60.0  # GitHub: "wait for at least one minute before retrying"
RESET_MARGIN = 1.0  # x-ratelimit-reset is whole seconds, and clocks differ a little
GITHUB_MEDIA_TYPE = "application/vnd.github+json"
GITHUB_API_VERSION = "2022-11-28"


# --- secrets -----------------------------------------------------------------------------


class Secret:
    """A string that does not show in ``repr`` (debuggers, ``--showlocals``, ``vars()``)."""

    __slots__ = ("value",)

    def __init__(self, value: str) -> None:
        self.value = value

    def __repr__(self) -> str:
        return "<secret>"


class _TokenAuth(requests.auth.AuthBase):
    """Adds the token header to each request, so the session's headers never hold it."""

    def __init__(self, header: str, value: str) -> None:
        self.header = header
        self._value = Secret(value)

    def __call__(self, r: requests.PreparedRequest) -> requests.PreparedRequest:
        r.headers[self.header] = self._value.value
        return r

    def __repr__(self) -> str:
        return f"<token in {self.header}>"


# --- rate limits -------------------------------------------------------------------------


def max_wait_from_env(environ: Mapping[str, str] | None = None) -> float:
    """The longest single rate-limit wait: ``MLGATE_MAX_RATE_WAIT`` seconds, default 900."""
    raw = (os.environ if environ is None else environ).get("MLGATE_MAX_RATE_WAIT", "")
    if not raw.strip():
        return DEFAULT_MAX_WAIT
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if value < 0:
        raise ForgeError(f"MLGATE_MAX_RATE_WAIT must be a number of seconds, not {raw!r}")
    return value


def _retry_after(value: str, now: float) -> float:
    """Seconds from a ``retry-after`` header: delta-seconds or an HTTP date."""
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        return email.utils.parsedate_to_datetime(value).timestamp() - now
    except (TypeError, ValueError):
        return FALLBACK_RATE_WAIT  # unreadable: do what GitHub says for "no header"


def rate_limit_wait(status: int, headers: Mapping[str, str], now: float) -> float | None:
    """Seconds to wait before retrying, per GitHub's rate-limit rules; None when the
    response is not a rate limit (a plain 403, or a 5xx that has its own backoff)."""
    retry_after = headers.get("retry-after")
    if retry_after is not None:  # also honoured on a 503, as HTTP means it
        return max(0.0, _retry_after(retry_after, now))
    if status not in (403, 429):
        return None
    reset = headers.get("x-ratelimit-reset", "")
    if headers.get("x-ratelimit-remaining") == "0" and reset:
        try:
            return max(0.0, float(reset) - now) + RESET_MARGIN
        except ValueError:
            return FALLBACK_RATE_WAIT
    return FALLBACK_RATE_WAIT if status == 429 else None


def is_rate_limited(status: int, headers: Mapping[str, str]) -> bool:
    return status in (403, 429) and rate_limit_wait(status, headers, time.time()) is not None


class ForgeRetry(Retry):
    """urllib3's Retry plus rate limits. ``is_retry`` only sees the status, so 403 and 429
    are tentatively retryable and ``increment``, which sees the headers, gives up on a plain
    403 or on a wait longer than ``max_wait``: with ``raise_on_status=False`` urllib3 then
    hands that response back to the caller, which explains it (``request``)."""

    max_wait: float = DEFAULT_MAX_WAIT

    def new(self, **kw: Any) -> ForgeRetry:
        retry = super().new(**kw)
        retry.max_wait = self.max_wait  # urllib3 rebuilds the object on every try
        return retry

    def is_retry(self, method: str, status_code: int, has_retry_after: bool = False) -> bool:
        if status_code in (403, 429):
            return self._is_method_retryable(method)
        return super().is_retry(method, status_code, has_retry_after)

    def increment(
        self,
        method: str | None = None,
        url: str | None = None,
        response: BaseHTTPResponse | None = None,
        error: Exception | None = None,
        _pool: Any = None,
        _stacktrace: Any = None,
    ) -> ForgeRetry:
        if response is not None and not self._worth_waiting(response):
            raise MaxRetryError(_pool, url or "", ResponseError(f"{response.status}: not retried"))
        return super().increment(method, url, response, error, _pool, _stacktrace)

    def _worth_waiting(self, response: BaseHTTPResponse) -> bool:
        wait = rate_limit_wait(response.status, response.headers, time.time())
        if wait is None:
            return response.status not in (403, 429)
        return wait <= self.max_wait

    def get_retry_after(self, response: BaseHTTPResponse) -> float | None:
        wait = rate_limit_wait(response.status, response.headers, time.time())
        if wait:
            log.warning(
                "rate limited (HTTP %s): waiting %.0f s before retrying", response.status, wait
            )
        return wait


# --- the session -------------------------------------------------------------------------


class ForgeSession(requests.Session):
    """A session that knows which forge it talks to and its token (for redaction only)."""

    def __init__(self, label: str, token: str | None, max_wait: float, timeout: Timeout) -> None:
        super().__init__()
        self.label = label  # "GitHub" | "GitLab": used in messages
        self.max_wait = max_wait
        self.timeout = timeout
        self._token = Secret(token or "")
        self._auth_header = ""

    def use_token(self, header: str, value: str) -> None:
        self.auth = _TokenAuth(header, value)
        self._auth_header = header

    def redact(self, text: str) -> str:
        return redact(text, self._token.value)

    def rebuild_auth(
        self, prepared_request: requests.PreparedRequest, response: requests.Response
    ) -> None:
        # requests drops Authorization on a redirect to another host, but not GitLab's
        # PRIVATE-TOKEN / JOB-TOKEN: drop ours too, or the token follows the redirect.
        super().rebuild_auth(prepared_request, response)
        old, new = response.request.url or "", prepared_request.url or ""
        if self._auth_header and self.should_strip_auth(old, new):
            prepared_request.headers.pop(self._auth_header, None)

    def __repr__(self) -> str:
        return f"<ForgeSession {self.label}>"


def build_session(
    token: str | None,
    *,
    auth: Auth,
    user_agent: str | None = None,
    max_wait: float | None = None,
    job_token: bool = False,
    timeout: Timeout = DEFAULT_TIMEOUT,
    backoff: float = BACKOFF,
) -> ForgeSession:
    """The session every forge request goes through (see the module docstring).

    ``auth="bearer"`` is GitHub (``Authorization: Bearer``, GitHub media type and API
    version); ``auth="gitlab"`` sends ``PRIVATE-TOKEN``, or ``JOB-TOKEN`` when ``job_token``
    (the token is CI_JOB_TOKEN). ``max_wait`` defaults to ``MLGATE_MAX_RATE_WAIT``, else 900 s.
    """
    wait = max_wait_from_env() if max_wait is None else max_wait
    session = ForgeSession("GitHub" if auth == "bearer" else "GitLab", token, wait, timeout)
    retry = ForgeRetry(
        total=TRIES - 1,
        status_forcelist=RETRY_STATUSES,
        allowed_methods=None,  # every method: upsert_comment removes duplicates
        backoff_factor=backoff,
        raise_on_status=False,  # give the last response back: ``request`` explains it
        respect_retry_after_header=True,
    )
    retry.max_wait = wait
    http.mount(session, retry=retry, timeout=timeout)
    if user_agent is not None:
        session.headers["User-Agent"] = user_agent
    if auth == "bearer":
        session.headers["Accept"] = GITHUB_MEDIA_TYPE
        session.headers["X-GitHub-Api-Version"] = GITHUB_API_VERSION
    if token:
        header = (
            "Authorization" if auth == "bearer" else ("JOB-TOKEN" if job_token else "PRIVATE-TOKEN")
        )
        value = f"Bearer {token}" if auth == "bearer" else token
        session.use_token(header, value)
    return session


# --- requests and their errors -----------------------------------------------------------


def request(
    session: requests.Session,
    method: str,
    url: str,
    *,
    what: str,
    json: Any = None,
    params: Mapping[str, str | int] | None = None,
) -> requests.Response:
    """Send one request; a 2xx response, or a one-line ``ForgeError`` saying what failed.

    ``what`` is a gerund phrase for messages: "listing comments on octo/repo#2".
    """
    forge = session if isinstance(session, ForgeSession) else None
    scrub = forge.redact if forge else str
    try:
        response = session.request(method, url, json=json, params=params)
    except (requests.RequestException, ValueError) as e:  # urllib3 raises some bare
        message = scrub(f"cannot reach {_host(url)} while {what}: {_reason(e, forge)}")
        raise ForgeError(message) from _safe_cause(e, scrub)
    if response.ok:
        return response
    label = forge.label if forge else "the forge"
    max_wait = forge.max_wait if forge else DEFAULT_MAX_WAIT
    raise error_for(response, what, label=label, max_wait=max_wait, scrub=scrub)


def json_of(response: requests.Response, what: str) -> Any:
    """The decoded JSON body, or a ForgeError when a proxy or error page answered instead."""
    try:
        return response.json()
    except ValueError as e:
        kind = response.headers.get("Content-Type", "no content type")
        where = _without_query(response.url)
        raise ForgeError(f"expected JSON while {what}, got {kind} from {where}") from e


def error_for(
    response: requests.Response,
    what: str,
    *,
    label: str,
    max_wait: float,
    scrub: Scrub = str,
) -> ForgeError:
    """The error for a non-2xx response: one line, token redacted by ``scrub``."""
    status = response.status_code
    if is_rate_limited(status, response.headers):
        text = _rate_limited(response, what, label, max_wait)
    elif status == 403:
        return _forbidden(_body_message(response), what, label, scrub)
    else:
        text = _MESSAGES.get(status, _other)(response, what, label)
    return ForgeError(scrub(text), status=status)


def _unauthorized(response: requests.Response, what: str, label: str) -> str:
    envs = "GITHUB_TOKEN or MLGATE_TOKEN" if label == "GitHub" else "MLGATE_TOKEN or GITLAB_TOKEN"
    detail = _body_message(response) or "Unauthorized"
    if not _sent_token(response):
        return f"{label} requires a token (401 {detail}) while {what}; set {envs}"
    return f"{label} rejected the token (401 {detail}) while {what}; check {envs}"


def _sent_token(response: requests.Response) -> bool:
    sent = response.request.headers if response.request is not None else {}
    return any(h in sent for h in ("Authorization", "PRIVATE-TOKEN", "JOB-TOKEN"))


def _not_found(response: requests.Response, what: str, label: str) -> str:
    subject = "repository and pull request" if label == "GitHub" else "project and merge request"
    where = _without_query(response.url)
    return f"{what}: not found (404) at {where}; check the {subject}, or the token cannot see them"


def _invalid(response: requests.Response, what: str, label: str) -> str:
    """422 (GitHub) / 400 (GitLab): the message plus each ``errors[]`` entry."""
    return f"{label} rejected {what} ({response.status_code} {_validation(response)})"


def _other(response: requests.Response, what: str, label: str) -> str:
    tries = _tries(response)
    after = f" (after {tries} tries)" if tries > 1 else ""
    detail = _body_message(response) or "no details"
    status = f"{response.status_code} {response.reason or ''}".strip()
    return f"{label} answered {status} while {what}{after}: {detail}"


_MESSAGES: dict[int, Callable[[requests.Response, str, str], str]] = {
    400: _invalid,
    401: _unauthorized,
    404: _not_found,
    422: _invalid,
}


def _forbidden(detail: str, what: str, label: str, scrub: Scrub) -> ForgeError:
    if "rate limit" in detail.lower():
        # A secondary limit without retry-after: GitHub says wait at least a minute.
        text = f"{label} rate limit hit while {what} (403 {detail}); wait a few minutes and re-run"
        return ForgeError(scrub(text), status=403)
    hint = (
        "the token may be read-only (pull requests from forks get one) or lack "
        "pull-requests/statuses write permission"
        if label == "GitHub"
        else "the token needs the api scope and at least the Reporter role"
    )
    text = f"{label} refused {what} (403 {detail or 'Forbidden'}); {hint}"
    return ForbiddenError(scrub(text), status=403)


def _rate_limited(response: requests.Response, what: str, label: str, max_wait: float) -> str:
    now = time.time()
    wait = rate_limit_wait(response.status_code, response.headers, now) or 0.0
    at = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(_reset_time(response, now, wait)))
    if wait > max_wait:
        return (
            f"{label} rate limit exceeded while {what}: it resets at {at} (in {_duration(wait)}), "
            f"later than mlgate waits (MLGATE_MAX_RATE_WAIT={max_wait:g} s); re-run after that"
        )
    tries = _tries(response)
    return f"{label} rate limit still exceeded after {tries} tries while {what}; it resets at {at}"


def _reset_time(response: requests.Response, now: float, wait: float) -> float:
    """When the limit lifts: ``x-ratelimit-reset`` itself when that is what we wait for."""
    reset = response.headers.get("x-ratelimit-reset", "")
    if "retry-after" not in response.headers and reset.isdigit():
        return float(reset)
    return now + wait


def _body_message(response: requests.Response) -> str:
    """The error body's message, short and on one line."""
    try:
        body = response.json()
    except ValueError:
        return _short(response.text)
    if not isinstance(body, dict):
        return _short(str(body))
    message = body.get("message", body.get("error", ""))
    if isinstance(message, str) and message.startswith(f"{response.status_code} "):
        message = message.split(" ", 1)[1]  # GitLab: "401 Unauthorized"; we say 401 already
    if isinstance(message, dict):  # GitLab validation: {"message": {"note": ["is too long"]}}
        message = "; ".join(
            f"{k} {' '.join(map(str, v)) if isinstance(v, list) else v}" for k, v in message.items()
        )
    return _short(str(message))


def _validation(response: requests.Response) -> str:
    detail = _body_message(response)
    try:
        body = response.json()
    except ValueError:
        return detail
    errors = body.get("errors") if isinstance(body, dict) else None
    if not isinstance(errors, list) or not errors:
        return detail
    parts = [_error_entry(e) for e in errors]
    return f"{detail}: " + "; ".join(p for p in parts if p)


def _error_entry(error: Any) -> str:
    if not isinstance(error, dict):
        return _short(str(error))
    if error.get("message"):
        return _short(str(error["message"]))
    where = ".".join(str(error[k]) for k in ("resource", "field") if error.get(k))
    return " ".join(p for p in (where, str(error.get("code", ""))) if p)


def _short(text: str, limit: int = 200) -> str:
    return cut(" ".join(text.split()), limit)


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    return f"{seconds / 60:.0f} min"


def _tries(response: requests.Response) -> int:
    retries = getattr(response.raw, "retries", None)
    return len(getattr(retries, "history", ())) + 1


def _reason(e: Exception, forge: ForgeSession | None) -> str:
    connect, read = forge.timeout if forge else DEFAULT_TIMEOUT
    reason: Any = e.args[0] if e.args else e
    reason = getattr(reason, "reason", reason)  # urllib3's MaxRetryError wraps the cause
    # urllib3 2 makes "connection refused" (NewConnectionError) a ConnectTimeoutError too.
    slow_connect = isinstance(reason, ConnectTimeoutError) and not isinstance(
        reason, NewConnectionError
    )
    if isinstance(e, requests.ConnectTimeout) or slow_connect:
        return f"no connection within {connect:g} s"
    if isinstance(e, requests.ReadTimeout) or isinstance(reason, ReadTimeoutError):
        return f"no answer within {read:g} s"
    text = str(reason)
    if "object at 0x" in text:  # "<HTTPConnection object at 0x…>: Failed to establish…"
        text = text.split(">: ", 1)[-1]
    return _short(text)


def _safe_cause(e: BaseException, scrub: Scrub) -> BaseException | None:
    """Keep the cause for ``--debug`` unless its text would show the token."""
    text = str(e)
    return e if scrub(text) == text else None


def _host(url: str) -> str:
    try:
        netloc = urlsplit(url).netloc
    except ValueError:  # raised here, the error would show the request's, token and all
        netloc = ""
    return netloc.rsplit("@", 1)[-1] or http.redact_url(url)


def _without_query(url: str | None) -> str:
    parts = urlsplit(url or "")
    return urlunsplit((parts.scheme, parts.netloc.rsplit("@", 1)[-1], parts.path, "", ""))
