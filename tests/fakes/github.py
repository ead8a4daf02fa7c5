"""A fake GitHub REST API on a loopback port, as GitHub documents it, for forge tests.

    with serve_github() as gh:            # fails the test at exit if any contract was broken
        forge = GitHub(gh.url, gh.repository, gh.number, gh.token)
        ...
        assert [r.method for r in gh.requests] == [...]

It keeps comments per pull request (increasing ids and ``created_at``), paginates the way
GitHub does (``per_page`` default 30, max 100; ``Link`` with next/last/first/prev pointing
at ``/repositories/<id>/...``), answers 201 + ``Location`` on create, 204 on delete, 201 on
statuses, 401/403/404/422 with GitHub's error bodies, and ``x-ratelimit-*`` headers on every
response. Failures can be scripted (``fail``, ``secondary_rate_limit``, ``exhaust_primary``)
and requests can be held (``hook``) to force an interleaving.

Every request body and every response body is validated against GitHub's own OpenAPI
description (``FIXTURES/github-openapi-subset.json``); a mismatch is recorded in
``violations``, which ``serve_github`` asserts empty at the end. Statuses an operation does
not document (401, 403 on some, 429, 5xx) are checked against GitHub's ``basic-error``.
"""

from __future__ import annotations

import base64
import functools
import json
import math
import re
import threading
import time
import traceback
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, quote, unquote, urlencode, urlsplit

from jsonschema import Draft7Validator, FormatChecker
from referencing import Registry
from referencing.jsonschema import DRAFT7

from conftest import FIXTURES

SPEC_FILE = FIXTURES / "github-openapi-subset.json"
EVENT_FILE = FIXTURES / "events" / "github-pull_request-opened.json"
DOCS = "https://docs.github.com/rest"
VALID_TOKEN = "ghs_fakeValidToken0123456789abcdefABCDEF"
FIXED_SHA = "6dcb09b5b57875f334f61aebed695e2e4193db5e"  # a branch's commit unless told
EPOCH = datetime(2024, 5, 1, 12, 0, 0, tzinfo=timezone.utc)


# --- the generic part: a threaded JSON server that records and can be scripted --------------


@dataclass(frozen=True)
class Recorded:
    """One request as the server saw it."""

    method: str
    path: str  # without the query string, percent-decoded
    query: dict[str, list[str]]
    headers: dict[str, str]  # lower-case names
    json: Any  # the decoded body, or None
    raw_path: str  # as sent, with the query


@dataclass
class Reply:
    status: int
    body: Any = None  # JSON-able; None: no body (204)
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Scripted:
    """A canned reply for the next ``times`` requests matching ``method`` and ``path``."""

    reply: Reply
    times: int = 1
    method: str | None = None
    path: str | None = None  # a regular expression matched against the whole path

    def matches(self, request: Recorded) -> bool:
        return (self.method in (None, request.method)) and (
            self.path is None or re.fullmatch(self.path, request.path) is not None
        )


Hook = Callable[[Recorded], object]


class FakeServer:
    """Runs on 127.0.0.1, port 0, in a thread. Subclasses implement ``handle``."""

    def __init__(self) -> None:
        self.requests: list[Recorded] = []
        self.violations: list[str] = []
        self.lock = threading.RLock()
        self._script: list[Scripted] = []
        self._hooks: list[tuple[str | None, str, Hook]] = []
        self._httpd = _QuietServer(("127.0.0.1", 0), _handler_for(self))
        self._httpd.daemon_threads = True
        host, port = self._httpd.server_address[:2]
        self.url = f"http://{host!s}:{port}"

    # scripting
    def script(
        self, reply: Reply, *, times: int = 1, method: str | None = None, path: str | None = None
    ) -> None:
        with self.lock:
            self._script.append(Scripted(reply, times, method, path))

    def hook(self, method: str | None, path: str, fn: Hook) -> None:
        """Call ``fn(request)`` in the server thread before answering a matching request (it
        may block, e.g. on a Barrier, to force an interleaving of concurrent clients)."""
        self._hooks.append((method, path, fn))

    def paths(self, method: str | None = None) -> list[str]:
        with self.lock:
            return [r.path for r in self.requests if method in (None, r.method)]

    # serving
    def respond(self, request: Recorded) -> Reply:
        with self.lock:
            self.requests.append(request)
        for method, path, fn in list(self._hooks):
            if method in (None, request.method) and re.fullmatch(path, request.path):
                fn(request)
        with self.lock:
            scripted = self._take_scripted(request)
            try:
                return scripted or self.handle(request)
            except Exception:
                self.violations.append(f"fake server crashed:\n{traceback.format_exc()}")
                return Reply(500, {"message": "fake server crashed"})

    def _take_scripted(self, request: Recorded) -> Reply | None:
        for entry in self._script:
            if entry.times > 0 and entry.matches(request):
                entry.times -= 1
                return entry.reply
        return None

    def handle(self, request: Recorded) -> Reply:
        raise NotImplementedError

    def finish(self, request: Recorded, reply: Reply) -> Reply:
        """Last look at a reply before it is sent (validation, common headers)."""
        return reply

    def start(self) -> None:
        threading.Thread(target=self._httpd.serve_forever, args=(0.01,), daemon=True).start()

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()


class _QuietServer(ThreadingHTTPServer):
    """Clients that hang up (timeouts on purpose) are not worth a traceback."""

    def handle_error(self, request: Any, client_address: Any) -> None:
        import sys

        if not isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            super().handle_error(request, client_address)


def _handler_for(server: FakeServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _handle(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            parts = urlsplit(self.path)
            request = Recorded(
                method=self.command,
                path=unquote(parts.path),
                query=parse_qs(parts.query, keep_blank_values=True),
                headers={k.lower(): v for k, v in self.headers.items()},
                json=_decode(raw),
                raw_path=self.path,
            )
            reply = server.finish(request, server.respond(request))
            _send(self, reply)

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _handle

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


def _decode(raw: bytes) -> Any:
    if not raw:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        return raw.decode("utf-8", "replace")


def _send(handler: BaseHTTPRequestHandler, reply: Reply) -> None:
    payload = b"" if reply.body is None else json.dumps(reply.body).encode()
    handler.send_response(reply.status)
    for name, value in reply.headers.items():
        handler.send_header(name, value)
    if reply.body is not None:
        handler.send_header("Content-Type", "application/json; charset=utf-8")
    handler.send_header("Content-Length", str(len(payload)))
    handler.end_headers()
    handler.wfile.write(payload)


# --- GitHub's OpenAPI description as validators ------------------------------------------------


def _json_schema(node: Any) -> Any:
    """OpenAPI 3.0 schema objects -> JSON Schema: ``nullable: true`` becomes a null type."""
    if isinstance(node, list):
        return [_json_schema(n) for n in node]
    if not isinstance(node, dict):
        return node
    out = {k: _json_schema(v) for k, v in node.items()}
    if out.pop("nullable", False) is True:
        kind = out.get("type")
        if isinstance(kind, str):
            out["type"] = [kind, "null"]
        if "enum" in out:
            out["enum"] = [*out["enum"], None]
    return out


def _is_date_time(value: object) -> bool:
    if isinstance(value, str):
        datetime.fromisoformat(value.replace("Z", "+00:00"))  # raises ValueError
    return True


def _is_uri(value: object) -> bool:
    return not isinstance(value, str) or bool(urlsplit(value).scheme)


def _format_checker() -> FormatChecker:
    """jsonschema checks date-time and uri only with optional packages: check them here."""
    checker = FormatChecker()
    checker.checks("date-time", raises=ValueError)(_is_date_time)
    checker.checks("uri")(_is_uri)
    return checker


class OpenAPI:
    """Operations of GitHub's description, found by method and concrete path."""

    URN = "urn:github-openapi-subset"

    def __init__(self, document: dict[str, Any]) -> None:
        self.doc = _json_schema(document)
        self.registry = Registry().with_resource(self.URN, DRAFT7.create_resource(self.doc))
        self.checker = _format_checker()
        self.routes = [(_template_regex(t, ops), t) for t, ops in self.doc["paths"].items()]

    def find(self, method: str, path: str) -> tuple[str, dict[str, Any]] | None:
        for regex, template in self.routes:
            op = self.doc["paths"][template].get(method.lower())
            if op is not None and regex.fullmatch(path):
                return template, op
        return None

    def errors(self, instance: Any, *pointer: str) -> list[str]:
        ref = self.URN + "#" + quote("/" + "/".join(_escape(p) for p in pointer), safe="/~")
        validator = Draft7Validator(
            {"$ref": ref}, registry=self.registry, format_checker=self.checker
        )
        return [f"{e.json_path}: {e.message[:300]}" for e in validator.iter_errors(instance)]


def _escape(segment: str) -> str:
    return segment.replace("~", "~0").replace("/", "~1")


def _template_regex(template: str, ops: Mapping[str, Any]) -> re.Pattern[str]:
    multi = {
        p["name"]
        for op in ops.values()
        if isinstance(op, dict)
        for p in op.get("parameters", [])
        if isinstance(p, dict) and p.get("x-multi-segment")
    }

    def part(m: re.Match[str]) -> str:
        return "(.+)" if m.group(1) in multi else "([^/]+)"

    return re.compile(re.sub(r"\\\{(\w+)\\\}", part, re.escape(template)))


@functools.cache
def openapi() -> OpenAPI:
    return OpenAPI(json.loads(SPEC_FILE.read_text(encoding="utf-8")))


# --- GitHub --------------------------------------------------------------------------------------


def _user(login: str, user_id: int, kind: str = "User") -> dict[str, Any]:
    """A simple-user object as GitHub sends it."""
    url = f"https://api.github.com/users/{quote(login)}"
    return {
        "login": login,
        "id": user_id,
        "node_id": base64.b64encode(f"04:{kind}{user_id}".encode()).decode(),
        "avatar_url": f"https://avatars.githubusercontent.com/u/{user_id}?v=4",
        "gravatar_id": "",
        "url": url,
        "html_url": f"https://github.com/{quote(login)}",
        "followers_url": f"{url}/followers",
        "following_url": f"{url}/following{{/other_user}}",
        "gists_url": f"{url}/gists{{/gist_id}}",
        "starred_url": f"{url}/starred{{/owner}}{{/repo}}",
        "subscriptions_url": f"{url}/subscriptions",
        "organizations_url": f"{url}/orgs",
        "repos_url": f"{url}/repos",
        "events_url": f"{url}/events{{/privacy}}",
        "received_events_url": f"{url}/received_events",
        "type": kind,
        "site_admin": False,
    }


BOT = _user("github-actions[bot]", 41898282, "Bot")
OTHER = _user("octocat", 583231)
LIMIT = 5000  # x-ratelimit-limit for an authenticated token


def _error(status: int, message: str, doc: str = DOCS, **extra: Any) -> Reply:
    return Reply(
        status, {"message": message, "documentation_url": doc, "status": str(status), **extra}
    )


def _validation_failed(resource: str, field_name: str, code: str, message: str, doc: str) -> Reply:
    entry = {"resource": resource, "code": code, "field": field_name, "message": message}
    return _error(422, "Validation Failed", doc, errors=[entry])


class FakeGitHub(FakeServer):
    """One repository with pull requests; comments and statuses in memory."""

    def __init__(
        self,
        *,
        repository: str = "Codertocat/Hello-World",  # as in the event fixtures
        repo_id: int = 186853002,
        pulls: tuple[int, ...] = (2,),
        token: str = VALID_TOKEN,
        read_only: bool = False,
        comment_limit: int = 65536,
    ) -> None:
        super().__init__()
        self.repository, self.repo_id, self.token = repository, repo_id, token
        self.number = pulls[0]
        self.read_only = read_only
        self.comment_limit = comment_limit
        self.comments: dict[int, list[dict[str, Any]]] = {n: [] for n in pulls}
        self.statuses: dict[str, list[dict[str, Any]]] = {}
        self.heads: dict[int, str] = {}  # pull number -> head sha that GET pulls/{n} reports
        # Pull requests opened through the API (pulls/create): number -> the fields set.
        self.opened: dict[int, dict[str, Any]] = {}
        self.dispatches: list[tuple[str, str]] = []  # (workflow, ref) per dispatch
        # A branch's commit, for the pulls mlgate opens (e.g. from a bare remote).
        self.branch_sha: Callable[[str], str] = lambda ref: FIXED_SHA
        self.issues: dict[int, dict[str, Any]] = {}  # issues (not pulls), by number
        self._next_id = 1_000_000_000  # GitHub comment ids are large and increasing
        self._clock = 0
        self._remaining = LIMIT
        self._reset = int(time.time()) + 3600
        self._exhausted_until: float | None = None

    # --- setting the scene -------------------------------------------------------------

    def add_comment(
        self, body: str, *, number: int | None = None, user: dict[str, Any] = OTHER
    ) -> dict[str, Any]:
        """A comment as if someone else had posted it (not recorded as a request)."""
        with self.lock:
            return self._create(number or self.number, body, user)

    def bodies(self, number: int | None = None) -> list[str]:
        with self.lock:
            return [c["body"] for c in self.comments[number or self.number]]

    def fail(
        self,
        status: int = 502,
        *,
        times: int = 1,
        method: str | None = None,
        path: str | None = None,
        body: Any = None,
    ) -> None:
        """The next ``times`` matching requests answer ``status`` (a 5xx by default)."""
        reply = Reply(status, body if body is not None else {"message": "Server Error"})
        self.script(reply, times=times, method=method, path=path)

    def secondary_rate_limit(
        self, retry_after: int = 1, *, status: int = 403, times: int = 1
    ) -> None:
        """GitHub's secondary limit: 403 (or 429) with ``retry-after`` seconds."""
        message = (
            "You have exceeded a secondary rate limit. Please wait a few minutes before you "
            "try again. If you reach out to GitHub Support for help, please include the "
            "request ID 0000:0000:0000000:0000000:00000000."
        )
        doc = f"{DOCS}/using-the-rest-api/rate-limits-for-the-rest-api#about-secondary-rate-limits"
        reply = _error(status, message, doc)
        reply.headers["retry-after"] = str(retry_after)
        self.script(reply, times=times)

    def exhaust_primary(self, reset_in: float) -> None:
        """The primary limit is used up until ``reset_in`` seconds from now (rounded up to a
        whole epoch second, as ``x-ratelimit-reset`` is)."""
        with self.lock:
            self._exhausted_until = math.ceil(time.time() + reset_in)
            self._remaining, self._reset = 0, int(self._exhausted_until)

    @property
    def rate_limit_reset(self) -> int:
        """The epoch second ``x-ratelimit-reset`` announces."""
        return self._reset

    # --- serving -----------------------------------------------------------------------

    def handle(self, request: Recorded) -> Reply:
        if self._primary_exhausted():
            message = "API rate limit exceeded for installation ID 1."
            return _error(403, message, f"{DOCS}/using-the-rest-api/rate-limits-for-the-rest-api")
        denied = self._authenticate(request)
        if denied:
            return denied
        for method, pattern, handler in self._routes():
            match = re.fullmatch(pattern, request.path)
            if match and method == request.method:
                return handler(request, *match.groups())
        return _error(404, "Not Found")

    def _routes(self) -> list[tuple[str, str, Callable[..., Reply]]]:
        repo = r"/repos/([^/]+/[^/]+)"
        by_id = r"/repositories/(\d+)"
        return [
            ("GET", repo + r"/issues/(\d+)/comments", self._list),
            ("GET", by_id + r"/issues/(\d+)/comments", self._list_by_id),
            ("POST", repo + r"/issues/(\d+)/comments", self._post),
            ("GET", repo + r"/issues/comments/(\d+)", self._get),
            ("PATCH", repo + r"/issues/comments/(\d+)", self._patch),
            ("DELETE", repo + r"/issues/comments/(\d+)", self._delete),
            ("GET", repo + r"/issues", self._issues),
            ("POST", repo + r"/issues", self._open_issue),
            ("PATCH", repo + r"/issues/(\d+)", self._edit_issue),
            ("POST", repo + r"/statuses/(.+)", self._status),
            ("GET", repo + r"/pulls/(\d+)", self._pull),
            ("PATCH", repo + r"/pulls/(\d+)", self._update_pull),
            ("GET", repo + r"/pulls", self._list_pulls),
            ("POST", repo + r"/pulls", self._create_pull),
            ("POST", repo + r"/actions/workflows/([^/]+)/dispatches", self._dispatch),
        ]

    def _primary_exhausted(self) -> bool:
        if self._exhausted_until is None:
            return False
        if time.time() < self._exhausted_until:
            return True
        self._exhausted_until = None
        self._remaining, self._reset = LIMIT, int(time.time()) + 3600
        return False

    def _authenticate(self, request: Recorded) -> Reply | None:
        auth = request.headers.get("authorization", "")
        scheme, _, given = auth.partition(" ")
        if auth and (scheme.lower() not in ("bearer", "token") or given != self.token):
            return _error(401, "Bad credentials")
        if not auth and request.method != "GET":
            return _error(401, "Requires authentication")
        if self.read_only and request.method != "GET":
            return _error(403, "Resource not accessible by integration", _doc_for(request))
        return None

    def _known(self, full_name: str, number: str) -> list[dict[str, Any]] | None:
        if full_name.lower() != self.repository.lower():
            return None
        return self.comments.get(int(number))

    def _list(self, request: Recorded, full_name: str, number: str) -> Reply:
        comments = self._known(full_name, number)
        if comments is None:
            return _error(404, "Not Found", _doc_for(request))
        return self._page(
            request, comments, f"/repositories/{self.repo_id}/issues/{number}/comments"
        )

    def _list_by_id(self, request: Recorded, repo_id: str, number: str) -> Reply:
        return self._list(request, self.repository if int(repo_id) == self.repo_id else "", number)

    def _page(self, request: Recorded, items: list[dict[str, Any]], link_path: str) -> Reply:
        per_page = min(_int(request.query, "per_page", 30), 100)
        per_page = 30 if per_page < 1 else per_page
        page = max(_int(request.query, "page", 1), 1)
        last = max(1, math.ceil(len(items) / per_page))
        reply = Reply(200, items[(page - 1) * per_page : page * per_page])
        if last > 1:
            reply.headers["Link"] = self._links(request, link_path, page, last)
        return reply

    def _links(self, request: Recorded, link_path: str, page: int, last: int) -> str:
        def url(n: int) -> str:
            query = {k: v[-1] for k, v in request.query.items() if k != "page"}
            return f"{self.url}{link_path}?{urlencode({**query, 'page': n})}"

        rels = []
        if page > 1:
            rels.append(("prev", min(page - 1, last)))
        if page < last:
            rels += [("next", page + 1), ("last", last)]
        if page > 1:
            rels.append(("first", 1))
        return ", ".join(f'<{url(n)}>; rel="{rel}"' for rel, n in rels)

    def _post(self, request: Recorded, full_name: str, number: str) -> Reply:
        comments = self._known(full_name, number)
        if comments is None:
            return _error(404, "Not Found", _doc_for(request))
        body = (request.json or {}).get("body")
        if not isinstance(body, str):
            return _validation_failed(
                "IssueComment", "body", "missing_field", "body is missing", _doc_for(request)
            )
        if len(body) > self.comment_limit:
            return self._too_long(request)
        comment = self._create(int(number), body, BOT)
        return Reply(201, comment, {"Location": comment["url"]})

    def _too_long(self, request: Recorded) -> Reply:
        message = f"Body is too long (maximum is {self.comment_limit} characters)"
        return _validation_failed(
            "IssueComment", "data", "unprocessable", message, _doc_for(request)
        )

    def _create(self, number: int, body: str, user: dict[str, Any]) -> dict[str, Any]:
        self._next_id += 1
        self._clock += 1
        stamp = _stamp(self._clock)
        api = f"{self.url}/repos/{self.repository}"
        comment = {
            "id": self._next_id,
            "node_id": base64.b64encode(f"IC_{self._next_id}".encode()).decode(),
            "url": f"{api}/issues/comments/{self._next_id}",
            "html_url": f"https://github.com/{self.repository}/pull/{number}#issuecomment-{self._next_id}",
            "body": body,
            "user": user,
            "created_at": stamp,
            "updated_at": stamp,
            "issue_url": f"{api}/issues/{number}",
            "author_association": "NONE" if user is BOT else "OWNER",
            "performed_via_github_app": None,
            "reactions": _reactions(f"{api}/issues/comments/{self._next_id}/reactions"),
        }
        self.comments[number].append(comment)
        return comment

    def _find(self, full_name: str, comment_id: str) -> dict[str, Any] | None:
        if full_name.lower() != self.repository.lower():
            return None
        every = (c for cs in self.comments.values() for c in cs)
        return next((c for c in every if c["id"] == int(comment_id)), None)

    def _get(self, request: Recorded, full_name: str, comment_id: str) -> Reply:
        comment = self._find(full_name, comment_id)
        return Reply(200, comment) if comment else _error(404, "Not Found", _doc_for(request))

    def _patch(self, request: Recorded, full_name: str, comment_id: str) -> Reply:
        comment = self._find(full_name, comment_id)
        if comment is None:
            return _error(404, "Not Found", _doc_for(request))
        body = (request.json or {}).get("body")
        if not isinstance(body, str):
            return _validation_failed(
                "IssueComment", "body", "missing_field", "body is missing", _doc_for(request)
            )
        if len(body) > self.comment_limit:
            return self._too_long(request)
        self._clock += 1
        comment.update(body=body, updated_at=_stamp(self._clock))
        return Reply(200, comment)

    def _delete(self, request: Recorded, full_name: str, comment_id: str) -> Reply:
        comment = self._find(full_name, comment_id)
        if comment is None:
            return _error(404, "Not Found", _doc_for(request))
        for comments in self.comments.values():
            if comment in comments:
                comments.remove(comment)
        return Reply(204)

    def _status(self, request: Recorded, full_name: str, sha: str) -> Reply:
        if full_name.lower() != self.repository.lower() or not re.fullmatch(r"[0-9a-f]{40}", sha):
            return _error(404, "Not Found", _doc_for(request))
        invalid = _status_problem(request.json or {})
        if invalid:
            return _validation_failed("Status", invalid[0], "custom", invalid[1], _doc_for(request))
        return Reply(
            201,
            self._add_status(sha, request.json),
            {"Location": f"{self.url}/repos/{self.repository}/statuses/{sha}"},
        )

    def _add_status(self, sha: str, data: dict[str, Any]) -> dict[str, Any]:
        self._next_id += 1
        self._clock += 1
        status = {
            "url": f"{self.url}/repos/{self.repository}/statuses/{sha}",
            "avatar_url": "https://avatars.githubusercontent.com/in/15368?v=4",
            "id": self._next_id,
            "node_id": base64.b64encode(f"SC_{self._next_id}".encode()).decode(),
            "state": data["state"],
            "description": data.get("description"),
            "target_url": data.get("target_url"),
            "context": data.get("context", "default"),
            "created_at": _stamp(self._clock),
            "updated_at": _stamp(self._clock),
            "creator": BOT,
        }
        self.statuses.setdefault(sha, []).append(status)
        return status

    # --- issues (alerts) ----------------------------------------------------------------

    def _issues(self, request: Recorded, full_name: str) -> Reply:
        if full_name.lower() != self.repository.lower():
            return _error(404, "Not Found", _doc_for(request))
        state = (request.query.get("state") or ["open"])[-1]
        items = [i for i in self.issues.values() if state == "all" or i["state"] == state]
        return self._page(request, items, f"/repositories/{self.repo_id}/issues")

    def _open_issue(self, request: Recorded, full_name: str) -> Reply:
        if full_name.lower() != self.repository.lower():
            return _error(404, "Not Found", _doc_for(request))
        data = request.json or {}
        if not isinstance(data.get("title"), str) or not data["title"]:
            return _validation_failed(
                "Issue", "title", "missing_field", "title is missing", _doc_for(request)
            )
        issue = self.add_issue(data["title"], data.get("body"))
        return Reply(201, issue, {"Location": issue["url"]})

    def add_issue(self, title: str, body: str | None) -> dict[str, Any]:
        """An issue as if someone (a racing run) had opened it; not recorded as a request."""
        number = max([*self.comments, *self.issues, 0]) + 1
        self._next_id += 1
        self._clock += 1
        api = f"{self.url}/repos/{self.repository}"
        issue = {
            "id": self._next_id,
            "node_id": base64.b64encode(f"I_{self._next_id}".encode()).decode(),
            "url": f"{api}/issues/{number}",
            "repository_url": api,
            "labels_url": f"{api}/issues/{number}/labels{{/name}}",
            "comments_url": f"{api}/issues/{number}/comments",
            "events_url": f"{api}/issues/{number}/events",
            "html_url": f"https://github.com/{self.repository}/issues/{number}",
            "number": number,
            "state": "open",
            "state_reason": None,
            "title": title,
            "body": body,
            "user": BOT,
            "labels": [],
            "assignee": None,
            "assignees": [],
            "milestone": None,
            "locked": False,
            "comments": 0,
            "closed_at": None,
            "created_at": _stamp(self._clock),
            "updated_at": _stamp(self._clock),
            "author_association": "NONE",
        }
        self.issues[number] = issue
        self.comments[number] = []
        return issue

    def _edit_issue(self, request: Recorded, full_name: str, number: str) -> Reply:
        issue = (
            self.issues.get(int(number)) if full_name.lower() == self.repository.lower() else None
        )
        if issue is None:
            return _error(404, "Not Found", _doc_for(request))
        data = request.json or {}
        self._clock += 1
        for key in ("title", "body"):
            if key in data:
                issue[key] = data[key]
        if data.get("state") in ("open", "closed"):
            issue["state"] = data["state"]
            issue["state_reason"] = (
                data.get("state_reason") if data["state"] == "closed" else "reopened"
            )
            issue["closed_at"] = _stamp(self._clock) if data["state"] == "closed" else None
        issue["updated_at"] = _stamp(self._clock)
        issue["comments"] = len(self.comments.get(int(number), []))
        return Reply(200, issue)

    def _pull(self, request: Recorded, full_name: str, number: str) -> Reply:
        if self._known(full_name, number) is None:
            return _error(404, "Not Found", _doc_for(request))
        return Reply(200, self._pull_object(int(number)))

    def _pull_object(self, number: int) -> dict[str, Any]:
        pull: dict[str, Any] = json.loads(EVENT_FILE.read_text(encoding="utf-8"))["pull_request"]
        pull["number"] = number
        pull["head"]["sha"] = self.heads.get(number, pull["head"]["sha"])
        opened = self.opened.get(number)
        if opened is not None:
            owner = self.repository.partition("/")[0]
            pull["title"], pull["body"] = opened["title"], opened["body"]
            pull["html_url"] = f"https://github.com/{self.repository}/pull/{number}"
            pull["head"].update(
                ref=opened["head"],
                label=f"{owner}:{opened['head']}",
                sha=self.branch_sha(opened["head"]),
            )
            pull["base"].update(ref=opened["base"], sha=self.branch_sha(opened["base"]))
        return pull

    def _list_pulls(self, request: Recorded, full_name: str) -> Reply:
        if full_name.lower() != self.repository.lower():
            return _error(404, "Not Found", _doc_for(request))
        head = request.query.get("head", [""])[-1]
        state = request.query.get("state", ["open"])[-1]
        found = []
        for number in sorted(self.comments):
            pull = self._pull_object(number)
            if state in ("open", "all") and (not head or pull["head"]["label"] == head):
                found.append(pull)
        return Reply(200, found)

    def _create_pull(self, request: Recorded, full_name: str) -> Reply:
        if full_name.lower() != self.repository.lower():
            return _error(404, "Not Found", _doc_for(request))
        data = request.json or {}
        owner = self.repository.partition("/")[0]
        label = f"{owner}:{data.get('head')}"
        if any(self._pull_object(n)["head"]["label"] == label for n in self.comments):
            message = f"A pull request already exists for {label}."
            return _validation_failed("PullRequest", "head", "custom", message, _doc_for(request))
        number = max([*self.comments, *self.issues, 0]) + 1  # one numbering with issues
        self.comments[number] = []
        self.opened[number] = {k: data.get(k) for k in ("head", "base", "title", "body")}
        return Reply(
            201,
            self._pull_object(number),
            {"Location": f"{self.url}/repos/{self.repository}/pulls/{number}"},
        )

    def _update_pull(self, request: Recorded, full_name: str, number: str) -> Reply:
        if self._known(full_name, number) is None or int(number) not in self.opened:
            return _error(404, "Not Found", _doc_for(request))
        for key in ("title", "body"):
            if key in (request.json or {}):
                self.opened[int(number)][key] = request.json[key]
        return Reply(200, self._pull_object(int(number)))

    def _dispatch(self, request: Recorded, full_name: str, workflow: str) -> Reply:
        if full_name.lower() != self.repository.lower():
            return _error(404, "Not Found", _doc_for(request))
        self.dispatches.append((workflow, (request.json or {}).get("ref", "")))
        return Reply(204)

    # --- every reply: rate-limit headers and the contract ------------------------------

    def finish(self, request: Recorded, reply: Reply) -> Reply:
        with self.lock:
            if self._remaining > 0 and reply.status != 403:
                self._remaining -= 1
            headers = {
                "x-ratelimit-limit": str(LIMIT),
                "x-ratelimit-remaining": str(self._remaining),
                "x-ratelimit-reset": str(self._reset),
                "x-ratelimit-used": str(LIMIT - self._remaining),
                "x-ratelimit-resource": "core",
                "x-github-api-version-selected": "2022-11-28",
                "x-github-request-id": f"FAKE:{len(self.requests):08X}",
            }
            reply = Reply(reply.status, reply.body, {**headers, **reply.headers})
            self.violations.extend(self._check(request, reply))
        return reply

    def _check(self, request: Recorded, reply: Reply) -> list[str]:
        spec = openapi()
        found = spec.find(request.method, _as_repos_path(request.path, self))
        where = f"{request.method} {request.path} -> {reply.status}"
        if found is None:
            return [] if reply.status == 404 else [f"{where}: no such operation in GitHub's API"]
        template, op = found
        problems = self._check_request(spec, template, request, op)
        return [
            f"{where}: {p}"
            for p in problems + _check_reply(spec, template, request.method, op, reply)
        ]

    def _check_request(
        self, spec: OpenAPI, template: str, request: Recorded, op: dict[str, Any]
    ) -> list[str]:
        if "requestBody" not in op:
            return [] if request.json is None else ["request has a body, the operation takes none"]
        if request.headers.get("content-type", "").split(";")[0] != "application/json":
            return [f"request Content-Type is {request.headers.get('content-type')!r}"]
        pointer = (
            "paths",
            template,
            request.method.lower(),
            "requestBody",
            "content",
            "application/json",
            "schema",
        )
        return [f"request {e}" for e in spec.errors(request.json, *pointer)]


def _check_reply(
    spec: OpenAPI, template: str, method: str, op: dict[str, Any], reply: Reply
) -> list[str]:
    documented = op["responses"].get(str(reply.status))
    if documented is None:
        if 200 <= reply.status < 300:
            return [f"status {reply.status} is not documented for this operation"]
        return [
            f"response {e}" for e in spec.errors(reply.body, "components", "schemas", "basic-error")
        ]
    pointer: tuple[str, ...] = ("paths", template, method.lower(), "responses", str(reply.status))
    if "$ref" in documented:
        pointer = tuple(unquote(documented["$ref"]).lstrip("#/").split("/"))
        documented = spec.doc[pointer[0]][pointer[1]][pointer[2]]
    content = documented.get("content", {}).get("application/json")
    if content is None:
        return [] if reply.body is None else [f"status {reply.status} documents no body"]
    return [
        f"response {e}"
        for e in spec.errors(reply.body, *pointer, "content", "application/json", "schema")
    ]


def _as_repos_path(path: str, fake: FakeGitHub) -> str:
    """``/repositories/<id>/...`` (where GitHub's Link headers point) is the same operation
    as ``/repos/<owner>/<repo>/...`` in the description."""
    return re.sub(r"^/repositories/\d+/", f"/repos/{fake.repository}/", path)


def _doc_for(request: Recorded) -> str:
    op = openapi().find(request.method, request.path)
    return op[1].get("externalDocs", {}).get("url", DOCS) if op else DOCS


def _status_problem(data: Mapping[str, Any]) -> tuple[str, str] | None:
    """GitHub's checks on a commit status, as (field, message)."""
    if data.get("state") not in ("error", "failure", "pending", "success"):
        return "state", "state is not included in the list"
    if len(data.get("description") or "") > 140:
        return "description", "description is too long (maximum is 140 characters)"
    target = data.get("target_url")
    if target and urlsplit(target).scheme not in ("http", "https"):
        return "target_url", "target_url must use http(s) scheme"
    return None


def _reactions(url: str) -> dict[str, Any]:
    kinds = ("+1", "-1", "laugh", "confused", "heart", "hooray", "eyes", "rocket")
    return {"url": url, "total_count": 0, **dict.fromkeys(kinds, 0)}


def _stamp(seconds: int) -> str:
    return (EPOCH + timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%SZ")


def _int(query: Mapping[str, list[str]], name: str, default: int) -> int:
    try:
        return int(query[name][-1])
    except (KeyError, ValueError, IndexError):
        return default  # GitHub ignores a per_page or page it cannot read


@contextmanager
def serve_github(**options: Any) -> Iterator[FakeGitHub]:
    """A running FakeGitHub; at the end, the test fails if any request or reply broke
    GitHub's published contract."""
    fake = FakeGitHub(**options)
    fake.start()
    try:
        yield fake
    finally:
        fake.stop()
    assert not fake.violations, "\n".join(fake.violations)
