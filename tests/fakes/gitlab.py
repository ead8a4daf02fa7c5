"""A fake GitLab API v4 (merge request notes, commit statuses, issues, merge requests and
their pipelines) on a loopback port.

    with serve_gitlab() as gl:
        forge = GitLab(gl.api_url, gl.project_id, gl.mr_iid, gl.token)

As GitLab documents it (https://docs.gitlab.com/api/notes/, /api/commits/#commit-status,
/api/rest/#pagination): notes paginate with ``per_page`` (default 20, max 100) and send
``Link`` (prev/next/first/last) plus ``X-Page``, ``X-Per-Page``, ``X-Next-Page``,
``X-Prev-Page``, ``X-Total``, ``X-Total-Pages``; ``sort`` defaults to desc; create answers
201; ``PRIVATE-TOKEN`` (or ``Authorization: Bearer``) authenticates; a ``JOB-TOKEN`` is
refused (403) because notes and statuses are not on the job token's allow-list; errors
are ``{"message": "401 Unauthorized"}`` and the like.
Commit statuses follow GitLab's state machine: setting ``pending`` on a pending status is a
400 "Cannot transition status via :enqueue from :pending".
Merge requests (https://docs.gitlab.com/api/merge_requests/): opening a second one from a
source branch that has an open one is a 409 "Another open merge request already exists for
this source branch"; opening one starts a merge request pipeline, as GitLab does ("merge
request pipelines run when you create a new merge request"), and so does
``POST /merge_requests/:iid/pipelines``; ``pipelines`` records both.

Request and reply bodies are checked against the documented shapes (``NOTE``, ``STATUS``);
a mismatch lands in ``violations``, which ``serve_gitlab`` asserts empty at the end.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

from jsonschema import Draft7Validator

from fakes.github import EPOCH, FakeServer, Recorded, Reply

VALID_TOKEN = "glpat-fakeValidToken0123456789"
JOB_TOKEN = "glcbt-64_fakeJobToken0123456789"
STATES = ("pending", "running", "success", "failed", "canceled", "skipped")

_STRING = {"type": "string"}
_NULLABLE_STRING = {"type": ["string", "null"]}
AUTHOR = {
    "type": "object",
    "required": ["id", "username", "name", "state", "avatar_url", "web_url"],
    "properties": {"id": {"type": "integer"}, "username": _STRING, "name": _STRING},
}
# The note entity (lib/api/entities/note.rb, as in the Notes API examples).
NOTE = {
    "type": "object",
    "required": [
        "id",
        "type",
        "body",
        "author",
        "created_at",
        "updated_at",
        "system",
        "noteable_id",
        "noteable_type",
        "project_id",
        "noteable_iid",
        "resolvable",
        "confidential",
        "internal",
    ],
    "properties": {
        "id": {"type": "integer"},
        "body": _STRING,
        "system": {"type": "boolean"},
        "author": AUTHOR,
        "created_at": _STRING,
        "noteable_type": {"const": "MergeRequest"},
    },
}
# An issue note: the same entity, on an Issue.
ISSUE_NOTE = {**NOTE, "properties": {**NOTE["properties"], "noteable_type": {"const": "Issue"}}}
# The issue entity (https://docs.gitlab.com/api/issues/, as in its examples).
ISSUE = {
    "type": "object",
    "required": [
        "id",
        "iid",
        "project_id",
        "title",
        "description",
        "state",
        "created_at",
        "updated_at",
        "closed_at",
        "labels",
        "author",
        "user_notes_count",
        "confidential",
        "web_url",
    ],
    "properties": {
        "id": {"type": "integer"},
        "iid": {"type": "integer"},
        "title": _STRING,
        "description": _NULLABLE_STRING,
        "state": {"enum": ["opened", "closed"]},
        "author": AUTHOR,
        "labels": {"type": "array", "items": _STRING},
    },
}
ISSUE_REQUEST = {
    "type": "object",
    "properties": {
        "title": _STRING,
        "description": _STRING,
        "state_event": {"enum": ["close", "reopen"]},
        "labels": _STRING,
    },
    "additionalProperties": False,
}
STATUS = {
    "type": "object",
    "required": [
        "id",
        "sha",
        "ref",
        "status",
        "name",
        "target_url",
        "description",
        "created_at",
        "started_at",
        "finished_at",
        "allow_failure",
        "coverage",
        "author",
    ],
    "properties": {
        "id": {"type": "integer"},
        "status": {"enum": list(STATES)},
        "name": _STRING,
        "description": _NULLABLE_STRING,
        "target_url": _NULLABLE_STRING,
    },
}
NOTE_REQUEST = {
    "type": "object",
    "required": ["body"],
    "properties": {"body": _STRING, "internal": {"type": "boolean"}},
    "additionalProperties": False,
}
STATUS_REQUEST = {
    "type": "object",
    "required": ["state"],
    "properties": {
        "state": _STRING,
        "name": _STRING,
        "context": _STRING,
        "ref": _STRING,
        "target_url": _STRING,
        "description": _STRING,
        "coverage": {"type": "number"},
        "pipeline_id": {"type": "integer"},
    },
    "additionalProperties": False,
}
# The merge request entity (Get single MR, https://docs.gitlab.com/api/merge_requests/).
MERGE_REQUEST = {
    "type": "object",
    "required": [
        "id",
        "iid",
        "project_id",
        "title",
        "description",
        "state",
        "created_at",
        "updated_at",
        "target_branch",
        "source_branch",
        "source_project_id",
        "target_project_id",
        "author",
        "draft",
        "sha",
        "web_url",
        "force_remove_source_branch",
        "detailed_merge_status",
    ],
    "properties": {
        "iid": {"type": "integer"},
        "title": _STRING,
        "description": _NULLABLE_STRING,
        "state": {"enum": ["opened", "closed", "locked", "merged"]},
        "source_branch": _STRING,
        "target_branch": _STRING,
        "sha": _STRING,
    },
}
MERGE_REQUEST_CREATE = {
    "type": "object",
    "required": ["source_branch", "target_branch", "title"],
    "properties": {
        "source_branch": _STRING,
        "target_branch": _STRING,
        "title": _STRING,
        "description": _STRING,
        "remove_source_branch": {"type": "boolean"},
        "squash": {"type": "boolean"},
        "labels": _STRING,
    },
    "additionalProperties": False,
}
MERGE_REQUEST_EDIT = {
    "type": "object",
    "properties": {
        "title": _STRING,
        "description": _STRING,
        "target_branch": _STRING,
        "state_event": {"enum": ["close", "reopen"]},
        "remove_source_branch": {"type": "boolean"},
    },
    "additionalProperties": False,
}
# The pipeline entity (Create merge request pipeline, https://docs.gitlab.com/api/merge_requests/).
PIPELINE = {
    "type": "object",
    "required": ["id", "iid", "project_id", "sha", "ref", "status", "source", "web_url"],
    "properties": {
        "id": {"type": "integer"},
        "sha": _STRING,
        "ref": _STRING,
        "source": {"const": "merge_request_event"},
    },
}
ERROR = {
    "type": "object",
    "anyOf": [{"required": ["message"]}, {"required": ["error"]}],
}


def _author(user_id: int, username: str) -> dict[str, Any]:
    return {
        "id": user_id,
        "username": username,
        "name": username.replace("_", " ").title(),
        "state": "active",
        "avatar_url": f"https://gitlab.example.com/uploads/-/system/user/avatar/{user_id}/a.png",
        "web_url": f"https://gitlab.example.com/{username}",
    }


BOT = _author(88, "project_7_bot_0123")
HUMAN = _author(1, "root")


class FakeGitLab(FakeServer):
    """One project with merge requests; notes and statuses in memory."""

    def __init__(
        self,
        *,
        project_id: int = 7,
        mr_iids: tuple[int, ...] = (1,),
        token: str = VALID_TOKEN,
        job_token: str = JOB_TOKEN,
        send_link: bool = True,  # False: only X-Next-Page & co, as behind a header-trimming proxy
    ) -> None:
        super().__init__()
        self.api_url = f"{self.url}/api/v4"
        self.project_id, self.token, self.job_token = project_id, token, job_token
        self.mr_iid = mr_iids[0]
        self.send_link = send_link
        self.notes: dict[int, list[dict[str, Any]]] = {iid: [] for iid in mr_iids}
        self.statuses: list[dict[str, Any]] = []
        self.issues: dict[int, dict[str, Any]] = {}  # by iid
        self.issue_notes: dict[int, list[dict[str, Any]]] = {}
        self.merge_requests: dict[int, dict[str, Any]] = {}  # opened through the API, by iid
        self.pipelines: list[dict[str, Any]] = []  # merge request pipelines, oldest first
        # The source branch's tip, as the repository says (a test points it at its remote).
        self.branch_sha: Callable[[str], str] = lambda ref: "0" * 40
        self._next_id = 300
        self._clock = 0

    def add_note(
        self, body: str, *, system: bool = False, iid: int | None = None
    ) -> dict[str, Any]:
        """A note as if GitLab (``system``) or a person had written it; not recorded."""
        with self.lock:
            return self._create(iid or self.mr_iid, body, HUMAN, system=system)

    def bodies(self, iid: int | None = None, *, system: bool = False) -> list[str]:
        with self.lock:
            notes = self.notes[iid or self.mr_iid]
            return [n["body"] for n in notes if n["system"] is system]

    def fail(self, status: int = 502, *, times: int = 1, method: str | None = None) -> None:
        self.script(Reply(status, {"message": f"{status} Bad Gateway"}), times=times, method=method)

    # --- serving -----------------------------------------------------------------------

    def handle(self, request: Recorded) -> Reply:
        prefix = r"/api/v4/projects/([^/]+)"
        routes: list[tuple[str, str, Callable[..., Reply]]] = [
            ("GET", prefix + r"/merge_requests/(\d+)/notes", self._list),
            ("POST", prefix + r"/merge_requests/(\d+)/notes", self._post),
            ("PUT", prefix + r"/merge_requests/(\d+)/notes/(\d+)", self._put),
            ("DELETE", prefix + r"/merge_requests/(\d+)/notes/(\d+)", self._delete),
            ("POST", prefix + r"/statuses/([0-9a-f]{40})", self._status),
            ("GET", prefix + r"/issues", self._issues),
            ("POST", prefix + r"/issues", self._open_issue),
            ("PUT", prefix + r"/issues/(\d+)", self._edit_issue),
            ("POST", prefix + r"/issues/(\d+)/notes", self._issue_note),
            ("GET", prefix + r"/merge_requests", self._merge_requests),
            ("POST", prefix + r"/merge_requests", self._open_merge_request),
            ("PUT", prefix + r"/merge_requests/(\d+)", self._edit_merge_request),
            ("POST", prefix + r"/merge_requests/(\d+)/pipelines", self._mr_pipeline),
        ]
        for method, pattern, handler in routes:
            match = re.fullmatch(pattern, request.path)
            if match and method == request.method:
                return self._authorized(request, handler, *match.groups())
        return Reply(404, {"error": "404 Not Found"})

    def _authorized(self, request: Recorded, handler: Callable[..., Reply], *args: str) -> Reply:
        private = request.headers.get("private-token")
        bearer = request.headers.get("authorization", "").removeprefix("Bearer ")
        job = request.headers.get("job-token")
        if job is not None and job == self.job_token and private is None:
            # Neither notes nor statuses are on the job token's allow-list.
            return Reply(403, {"message": "403 Forbidden"})
        if self.token not in (private, bearer):
            return Reply(401, {"message": "401 Unauthorized"})
        if args[0] != str(self.project_id):
            return Reply(404, {"message": "404 Project Not Found"})
        return handler(request, *args[1:])

    # --- issues (alerts) ----------------------------------------------------------------

    def _issues(self, request: Recorded) -> Reply:
        state = request.query.get("state", ["all"])[-1]
        items = [i for i in self.issues.values() if state == "all" or i["state"] == state]
        return self._page(request, sorted(items, key=lambda i: -i["iid"]))  # newest first

    def _open_issue(self, request: Recorded) -> Reply:
        data = request.json or {}
        if not data.get("title"):
            return Reply(400, {"error": "title is missing"})
        iid = max([*self.issues, 0]) + 1
        issue = {
            **self._opened(iid, data),
            "closed_at": None,
            "closed_by": None,
            "labels": [],
            "milestone": None,
            "assignees": [],
            "assignee": None,
            "author": BOT,
            "type": "ISSUE",
            "user_notes_count": 0,
            "confidential": False,
            "discussion_locked": None,
            "issue_type": "issue",
            "web_url": f"https://gitlab.example.com/group/project/-/issues/{iid}",
        }
        self.issues[iid] = issue
        self.issue_notes[iid] = []
        return Reply(201, issue)

    def _opened(self, iid: int, data: dict[str, Any]) -> dict[str, Any]:
        """What an issue and a merge request share when opened."""
        self._next_id += 1
        self._clock += 1
        return {
            "id": self._next_id,
            "iid": iid,
            "project_id": self.project_id,
            "title": data["title"],
            "description": data.get("description"),
            "state": "opened",
            "created_at": _stamp(self._clock),
            "updated_at": _stamp(self._clock),
        }

    def _edit_issue(self, request: Recorded, iid: str) -> Reply:
        issue = self.issues.get(int(iid))
        if issue is None:
            return Reply(404, {"message": "404 Issue Not Found"})
        data = request.json or {}
        self._clock += 1
        if "title" in data:
            issue["title"] = data["title"]
        if "description" in data:
            issue["description"] = data["description"]
        if data.get("state_event") == "close":
            issue.update(state="closed", closed_at=_stamp(self._clock), closed_by=BOT)
        elif data.get("state_event") == "reopen":
            issue.update(state="opened", closed_at=None, closed_by=None)
        issue["updated_at"] = _stamp(self._clock)
        return Reply(200, issue)

    def _issue_note(self, request: Recorded, iid: str) -> Reply:
        notes = self.issue_notes.get(int(iid))
        if notes is None:
            return Reply(404, {"message": "404 Issue Not Found"})
        too_long = _too_long(request)
        if too_long:
            return too_long
        note = self._create(int(iid), request.json["body"], BOT, into=notes)
        note["noteable_type"] = "Issue"
        self.issues[int(iid)]["user_notes_count"] = len(notes)
        return Reply(201, note)

    # --- merge requests (data bumps) ------------------------------------------------------

    def _merge_requests(self, request: Recorded) -> Reply:
        state = request.query.get("state", ["all"])[-1]
        source = request.query.get("source_branch", [None])[-1]
        items = [
            m
            for m in self.merge_requests.values()
            if (state == "all" or m["state"] == state) and source in (None, m["source_branch"])
        ]
        return self._page(request, sorted(items, key=lambda m: -m["iid"]))  # newest first

    def _open_merge_request(self, request: Recorded) -> Reply:
        data = request.json or {}
        if not all(data.get(k) for k in ("source_branch", "target_branch", "title")):
            return Reply(400, {"error": "source_branch, target_branch, title are missing"})
        taken = [
            m["iid"]
            for m in self.merge_requests.values()
            if m["source_branch"] == data["source_branch"] and m["state"] == "opened"
        ]
        if taken:
            message = (
                f"Another open merge request already exists for this source branch: !{taken[0]}"
            )
            return Reply(409, {"message": [message]})
        iid = max([*self.notes, *self.merge_requests, 0]) + 1
        mr = {
            **self._opened(iid, data),
            "merged_by": None,
            "merged_at": None,
            "closed_by": None,
            "closed_at": None,
            "target_branch": data["target_branch"],
            "source_branch": data["source_branch"],
            "user_notes_count": 0,
            "author": BOT,
            "assignees": [],
            "reviewers": [],
            "source_project_id": self.project_id,
            "target_project_id": self.project_id,
            "labels": [],
            "draft": False,
            "work_in_progress": False,
            "milestone": None,
            "merge_when_pipeline_succeeds": False,
            "detailed_merge_status": "ci_still_running",
            "sha": self.branch_sha(data["source_branch"]),
            "merge_commit_sha": None,
            "squash_commit_sha": None,
            "force_remove_source_branch": bool(data.get("remove_source_branch")),
            "web_url": f"https://gitlab.example.com/group/project/-/merge_requests/{iid}",
        }
        self.merge_requests[iid] = mr
        self.notes[iid] = []
        self._start_pipeline(mr)  # GitLab starts the merge request pipeline itself
        return Reply(201, mr)

    def _edit_merge_request(self, request: Recorded, iid: str) -> Reply:
        mr = self.merge_requests.get(int(iid))
        if mr is None:
            return Reply(404, {"message": "404 Not found"})
        data = request.json or {}
        self._clock += 1
        for key in ("title", "description", "target_branch"):
            if key in data:
                mr[key] = data[key]
        if data.get("state_event") == "close":
            mr.update(state="closed", closed_at=_stamp(self._clock), closed_by=BOT)
        mr.update(updated_at=_stamp(self._clock), sha=self.branch_sha(mr["source_branch"]))
        return Reply(200, mr)

    def _mr_pipeline(self, request: Recorded, iid: str) -> Reply:
        mr = self.merge_requests.get(int(iid))
        if mr is None:
            return Reply(404, {"message": "404 Not found"})
        mr["sha"] = self.branch_sha(mr["source_branch"])
        return Reply(201, self._start_pipeline(mr))

    def _start_pipeline(self, mr: dict[str, Any]) -> dict[str, Any]:
        self._next_id += 1
        pipeline = {
            "id": self._next_id,
            "iid": len(self.pipelines) + 1,
            "project_id": self.project_id,
            "sha": mr["sha"],
            "ref": f"refs/merge-requests/{mr['iid']}/head",
            "status": "created",
            "source": "merge_request_event",
            "created_at": _stamp(self._clock),
            "updated_at": _stamp(self._clock),
            "web_url": f"https://gitlab.example.com/group/project/-/pipelines/{self._next_id}",
        }
        self.pipelines.append(pipeline)
        return pipeline

    def _notes_of(self, iid: str) -> list[dict[str, Any]] | None:
        return self.notes.get(int(iid))

    def _list(self, request: Recorded, iid: str) -> Reply:
        notes = self._notes_of(iid)
        if notes is None:
            return Reply(404, {"message": "404 Not found"})
        key = request.query.get("order_by", ["created_at"])[-1]
        ordered = sorted(notes, key=lambda n: (n[key], n["id"]))
        if request.query.get("sort", ["desc"])[-1] != "asc":
            ordered.reverse()
        return self._page(request, ordered)

    def _page(self, request: Recorded, items: list[dict[str, Any]]) -> Reply:
        per_page = _int(request, "per_page", 20)
        per_page = 20 if per_page < 1 else min(per_page, 100)
        page = max(_int(request, "page", 1), 1)
        pages = max(1, math.ceil(len(items) / per_page))
        reply = Reply(200, items[(page - 1) * per_page : page * per_page])
        query = {k: v[-1] for k, v in request.query.items() if k not in ("page", "per_page")}

        def url(n: int) -> str:
            return (
                f"{self.url}{request.path}?{urlencode({**query, 'page': n, 'per_page': per_page})}"
            )

        rels = [("prev", page - 1)] if page > 1 else []
        rels += [("next", page + 1)] if page < pages else []
        rels += [("first", 1), ("last", pages)]
        reply.headers = {
            "Link": ", ".join(f'<{url(n)}>; rel="{rel}"' for rel, n in rels),
            "X-Page": str(page),
            "X-Per-Page": str(per_page),
            "X-Next-Page": str(page + 1) if page < pages else "",
            "X-Prev-Page": str(page - 1) if page > 1 else "",
            "X-Total": str(len(items)),
            "X-Total-Pages": str(pages),
        }
        if not self.send_link:
            del reply.headers["Link"]
        return reply

    def _post(self, request: Recorded, iid: str) -> Reply:
        notes = self._notes_of(iid)
        if notes is None:
            return Reply(404, {"message": "404 Not found"})
        too_long = _too_long(request)
        return too_long or Reply(201, self._create(int(iid), request.json["body"], BOT))

    def _create(
        self,
        iid: int,
        body: str,
        author: dict[str, Any],
        *,
        system: bool = False,
        into: list[dict[str, Any]] | None = None,
    ) -> dict[str, Any]:
        self._next_id += 1
        self._clock += 1
        stamp = _stamp(self._clock)
        note = {
            "id": self._next_id,
            "type": None,
            "body": body,
            "attachment": None,
            "author": author,
            "created_at": stamp,
            "updated_at": stamp,
            "system": system,
            "noteable_id": 1000 + iid,
            "noteable_type": "MergeRequest",
            "project_id": self.project_id,
            "noteable_iid": iid,
            "resolvable": False,
            "confidential": False,
            "internal": False,
            "imported": False,
            "imported_from": "none",
        }
        (self.notes[iid] if into is None else into).append(note)
        return note

    def _note(self, iid: str, note_id: str) -> dict[str, Any] | None:
        notes = self._notes_of(iid) or []
        return next((n for n in notes if n["id"] == int(note_id)), None)

    def _put(self, request: Recorded, iid: str, note_id: str) -> Reply:
        note = self._note(iid, note_id)
        if note is None:
            return Reply(404, {"message": "404 Not found"})
        too_long = _too_long(request)
        if too_long:
            return too_long
        self._clock += 1
        note.update(body=request.json["body"], updated_at=_stamp(self._clock))
        return Reply(200, note)

    def _delete(self, request: Recorded, iid: str, note_id: str) -> Reply:
        note = self._note(iid, note_id)
        if note is None:
            return Reply(404, {"message": "404 Not found"})
        self.notes[int(iid)].remove(note)
        return Reply(204)

    def _status(self, request: Recorded, sha: str) -> Reply:
        data = request.json or {}
        state = data.get("state")
        if state not in STATES:
            return Reply(400, {"error": "state does not have a valid value"})
        name = data.get("name") or data.get("context") or "default"
        current = next(
            (
                s
                for s in reversed(self.statuses)
                if (s["sha"], s["name"]) == (sha, name) and s["status"] in ("pending", "running")
            ),
            None,
        )
        if current is not None and current["status"] == state and state in ("pending", "running"):
            via = "enqueue" if state == "pending" else "run"
            message = (
                f"Cannot transition status via :{via} from :{state} "
                f'(Reason(s): Status cannot transition via "{via}")'
            )
            return Reply(400, {"message": message})
        status = current or self._new_status(sha, name)
        self._clock += 1
        status.update(
            status=state, description=data.get("description"), target_url=data.get("target_url")
        )
        if state not in ("pending", "running"):
            status["finished_at"] = _stamp(self._clock)
        return Reply(201, status)

    def _new_status(self, sha: str, name: str) -> dict[str, Any]:
        self._next_id += 1
        status = {
            "id": self._next_id,
            "sha": sha,
            "ref": None,
            "status": "pending",
            "name": name,
            "target_url": None,
            "description": None,
            "created_at": _stamp(self._clock),
            "started_at": None,
            "finished_at": None,
            "allow_failure": False,
            "coverage": None,
            "author": BOT,
        }
        self.statuses.append(status)
        return status

    # --- the contract ------------------------------------------------------------------

    def finish(self, request: Recorded, reply: Reply) -> Reply:
        with self.lock:
            self.violations.extend(_check(request, reply))
        reply.headers.setdefault("RateLimit-Limit", "2000")
        return reply


def _check(request: Recorded, reply: Reply) -> list[str]:
    where = f"{request.method} {request.path} -> {reply.status}"
    problems: list[str] = []
    mr_pipeline = re.search(r"/merge_requests/\d+/pipelines$", request.path)
    if mr_pipeline and request.json is not None:
        problems.append("request has a body, the endpoint takes none")
    elif request.method in ("POST", "PUT") and not mr_pipeline:
        schema = STATUS_REQUEST if "/statuses/" in request.path else NOTE_REQUEST
        if re.search(r"/issues(/\d+)?$", request.path):
            schema = ISSUE_REQUEST
        elif re.search(r"/merge_requests$", request.path):
            schema = MERGE_REQUEST_CREATE
        elif re.search(r"/merge_requests/\d+$", request.path):
            schema = MERGE_REQUEST_EDIT
        problems += [f"request {e}" for e in _errors(schema, request.json)]
    elif request.json is not None:
        problems.append("request has a body, the endpoint takes none")
    problems += [f"response {e}" for e in _errors(_reply_schema(request, reply), reply.body)]
    return [f"{where}: {p}" for p in problems]


def _reply_schema(request: Recorded, reply: Reply) -> dict[str, Any]:
    if reply.status >= 400:
        return ERROR
    if reply.status == 204:
        return {"type": "null"}
    if "/statuses/" in request.path:
        return STATUS
    if re.search(r"/merge_requests/\d+/pipelines$", request.path):
        return PIPELINE
    if re.search(r"/merge_requests(/\d+)?$", request.path):
        return (
            {"type": "array", "items": MERGE_REQUEST} if request.method == "GET" else MERGE_REQUEST
        )
    if re.search(r"/issues(/\d+)?$", request.path):
        return {"type": "array", "items": ISSUE} if request.method == "GET" else ISSUE
    if "/issues/" in request.path:
        return ISSUE_NOTE
    return {"type": "array", "items": NOTE} if request.method == "GET" else NOTE


def _errors(schema: dict[str, Any], instance: Any) -> list[str]:
    return [
        f"{e.json_path}: {e.message[:300]}" for e in Draft7Validator(schema).iter_errors(instance)
    ]


def _too_long(request: Recorded) -> Reply | None:
    body = (request.json or {}).get("body")
    if not isinstance(body, str):
        return Reply(400, {"error": "body is missing"})
    if len(body) > 1_000_000:
        # notes API: bad_request!("Note #{note.errors.messages}")
        detail = '{:note=>["is too long (maximum is 1000000 characters)"]}'
        return Reply(400, {"message": f"400 Bad request - Note {detail}"})
    return None


def _stamp(seconds: int) -> str:
    return (EPOCH + timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def _int(request: Recorded, name: str, default: int) -> int:
    try:
        return int(request.query[name][-1])
    except (KeyError, ValueError, IndexError):
        return default


@contextmanager
def serve_gitlab(**options: Any) -> Iterator[FakeGitLab]:
    """A running FakeGitLab; at the end, the test fails if any request or reply broke the
    documented shapes."""
    fake = FakeGitLab(**options)
    fake.start()
    try:
        yield fake
    finally:
        fake.stop()
    assert not fake.violations, "\n".join(fake.violations)
