"""GitLab: merge request notes and commit statuses for one merge request, over API v4; the
project's issues for monitoring alerts; the merge request of a data bump and its pipeline.

Endpoints (https://docs.gitlab.com/api/notes/, https://docs.gitlab.com/api/commits/,
https://docs.gitlab.com/api/issues/, https://docs.gitlab.com/api/merge_requests/):
notes are listed oldest first (``sort=asc&order_by=created_at``); system notes ("added 1
commit") are GitLab's own and never ours, so they are skipped.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

import requests

from mlgate import http
from mlgate.core.units import cut
from mlgate.forge import Comment, ForbiddenError, ForgeError, Issue, State, env
from mlgate.forge._http import build_session, json_of, request

DEFAULT_API_URL = "https://gitlab.com/api/v4"
DESCRIPTION_LIMIT = 140  # the Forge contract (GitHub's limit), kept on GitLab too
PER_PAGE = 100  # GitLab's maximum
# GitLab's commit status states: pending, running, success, failed, canceled, skipped.
STATES: dict[str, str] = {
    "pending": "pending",
    "success": "success",
    "failure": "failed",
    "error": "failed",
}
# A job token reaches only an allow-list of endpoints (docs.gitlab.com/ci/jobs/ci_job_token/),
# and neither notes nor commit statuses are on it.
JOB_TOKEN_CANNOT = (
    "CI_JOB_TOKEN cannot {}; set MLGATE_TOKEN (a project access token with api scope)"
)


class GitLab:
    """The Forge for one merge request of one project."""

    name = "gitlab"
    comment_limit = 1_000_000

    def __init__(
        self,
        api_url: str,
        project_id: str | int,
        mr_iid: int,
        token: str | None,
        job_token: bool = False,
        session: requests.Session | None = None,
    ) -> None:
        self.api_url = api_url.rstrip("/")
        self.project_id = str(project_id)
        self.mr_iid = mr_iid
        self.job_token = job_token
        # A project may be named by its path ("group/app"): GitLab wants it URL-encoded.
        self._project_url = f"{self.api_url}/projects/{quote(self.project_id, safe='')}"
        self._session = session or build_session(token, auth="gitlab", job_token=job_token)

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> GitLab:
        """From a merge request pipeline: CI_API_V4_URL, CI_PROJECT_ID, CI_MERGE_REQUEST_IID;
        the token by the precedence forge.env states (MLGATE_TOKEN, then GITLAB_TOKEN), else
        CI_JOB_TOKEN (which GitLab does not let post notes or statuses: the error says so)."""
        api_url, project, iid = (
            environ.get(k, "") for k in ("CI_API_V4_URL", "CI_PROJECT_ID", "CI_MERGE_REQUEST_IID")
        )
        if not (api_url and project and iid.isdigit()):
            raise ForgeError(
                "CI_API_V4_URL, CI_PROJECT_ID and CI_MERGE_REQUEST_IID must be set; "
                "run mlgate in a merge request pipeline"
            )
        api_url = http.api_url(api_url, "CI_API_V4_URL", DEFAULT_API_URL)
        token = env.token(env.FORGES["gitlab"], environ)
        if token:
            return cls(api_url, project, int(iid), token)
        job = environ.get("CI_JOB_TOKEN", "").strip() or None
        return cls(api_url, project, int(iid), job, job_token=True)

    @classmethod
    def for_project(cls, environ: Mapping[str, str]) -> GitLab:
        """The project itself (issues, a data bump's merge request), from CI_API_V4_URL and
        CI_PROJECT_ID (a number or ``group/app``) and MLGATE_TOKEN or GITLAB_TOKEN: the job
        token can open neither."""
        project = environ.get("CI_PROJECT_ID", "").strip()
        if not project:
            raise ForgeError("CI_PROJECT_ID is not set; cannot tell which GitLab project to use")
        api_url = http.api_url(
            environ.get("CI_API_V4_URL") or DEFAULT_API_URL, "CI_API_V4_URL", DEFAULT_API_URL
        )
        return cls(api_url, project, 0, env.token(env.FORGES["gitlab"], environ))

    def __str__(self) -> str:
        return f"project {self.project_id} !{self.mr_iid}"

    def __repr__(self) -> str:
        return f"GitLab({self})"

    # --- notes -------------------------------------------------------------------------

    def list_comments(self) -> list[Comment]:
        """Every user note on the merge request (system notes skipped), oldest first."""
        what = f"listing notes on {self}"
        url: str | None = self._notes_url
        params: dict[str, str | int] = {
            "per_page": PER_PAGE,
            "sort": "asc",
            "order_by": "created_at",
        }
        notes: list[Comment] = []
        pages = 0
        while url:
            response = self._notes_request("GET", url, what, params=params)
            data = json_of(response, what)
            if not isinstance(data, list):
                raise ForgeError(f"expected a JSON list while {what}, got {type(data).__name__}")
            notes.extend(_note(n) for n in data if not n.get("system"))
            url, params = _next_page(response, url, params)
            pages += 1
            if pages > 10_000:  # a server that never stops paging must not loop us forever
                raise ForgeError(f"GitLab kept sending pages while {what}")
        return sorted(notes, key=lambda c: c.id)

    def create_comment(self, body: str) -> Comment:
        what = f"creating a note on {self}"
        response = self._notes_request("POST", self._notes_url, what, json={"body": body})
        return _note(json_of(response, what))

    def update_comment(self, comment_id: int, body: str) -> Comment:
        what = f"editing note {comment_id} on {self}"
        url = f"{self._notes_url}/{comment_id}"
        response = self._notes_request("PUT", url, what, json={"body": body})
        return _note(json_of(response, what))

    def delete_comment(self, comment_id: int) -> None:
        try:
            url = f"{self._notes_url}/{comment_id}"
            self._notes_request("DELETE", url, f"deleting note {comment_id} on {self}")
        except ForgeError as e:
            if e.status != 404:  # already gone: a racing run deleted it, which is the goal
                raise

    def _notes_request(
        self,
        method: str,
        url: str,
        what: str,
        *,
        json: Any = None,
        params: Mapping[str, str | int] | None = None,
    ) -> requests.Response:
        return self._request(method, url, what, "post merge request notes", json, params)

    def _request(
        self,
        method: str,
        url: str,
        what: str,
        action: str,
        json: Any = None,
        params: Mapping[str, str | int] | None = None,
    ) -> requests.Response:
        """``request``, saying so when the refusal is because the token is CI_JOB_TOKEN."""
        try:
            return request(self._session, method, url, what=what, json=json, params=params)
        except ForgeError as e:
            if self.job_token and e.status in (401, 403):
                message = f"{what}: {JOB_TOKEN_CANNOT.format(action)}"
                raise ForbiddenError(message, status=e.status) from e
            raise

    @property
    def _notes_url(self) -> str:
        return f"{self._project_url}/merge_requests/{self.mr_iid}/notes"

    # --- issues (monitoring alerts: forge.alerts) -----------------------------------------

    def open_issues(self) -> list[Issue]:
        """The project's open issues (``number`` is the iid, ``body`` the description)."""
        what = f"listing open issues of project {self.project_id}"
        url: str | None = f"{self._project_url}/issues"
        params: dict[str, str | int] = {"state": "opened", "per_page": PER_PAGE}
        found: list[Issue] = []
        pages = 0
        while url:
            response = self._request("GET", url, what, "read issues", params=params)
            data = json_of(response, what)
            if not isinstance(data, list):
                raise ForgeError(f"expected a JSON list while {what}, got {type(data).__name__}")
            found += [_issue(i) for i in data]
            url, params = _next_page(response, url, params)
            pages += 1
            if pages > 10_000:
                raise ForgeError(f"GitLab kept sending pages while {what}")
        return sorted(found, key=lambda i: i.number)

    def create_issue(self, title: str, body: str) -> Issue:
        what = f"opening an issue in project {self.project_id}"
        payload = {"title": title, "description": body}
        url = f"{self._project_url}/issues"
        return _issue(json_of(self._request("POST", url, what, "open issues", payload), what))

    def edit_issue(
        self, number: int, *, title: str | None = None, body: str | None = None, close: bool = False
    ) -> Issue:
        what = f"editing issue #{number} of project {self.project_id}"
        payload: dict[str, str] = {}
        if title is not None:
            payload["title"] = title
        if body is not None:
            payload["description"] = body
        if close:
            payload["state_event"] = "close"
        url = f"{self._project_url}/issues/{number}"
        return _issue(json_of(self._request("PUT", url, what, "edit issues", payload), what))

    def comment_on_issue(self, number: int, body: str) -> None:
        what = f"commenting on issue #{number} of project {self.project_id}"
        url = f"{self._project_url}/issues/{number}/notes"
        self._request("POST", url, what, "comment on issues", {"body": body})

    # --- the merge request of a data bump (project-level: ``mr_iid`` is unused) -----------

    def open_merge_request_for(self, branch: str) -> dict[str, Any] | None:
        """The open merge request from ``branch`` of this project (not a fork's branch of
        the same name), the oldest should there be several."""
        what = f"listing merge requests of project {self.project_id} from {branch}"
        params: dict[str, str | int] = {
            "state": "opened",
            "source_branch": branch,
            "per_page": PER_PAGE,
        }
        url = f"{self._project_url}/merge_requests"
        data = json_of(self._request("GET", url, what, "read merge requests", params=params), what)
        if not isinstance(data, list):
            raise ForgeError(f"expected a JSON list while {what}, got {type(data).__name__}")
        mine = [
            m
            for m in data
            if isinstance(m, dict)
            and m.get("source_branch") == branch
            and m.get("source_project_id") == m.get("target_project_id")
        ]
        return min(mine, key=lambda m: int(m["iid"])) if mine else None

    def create_merge_request(
        self, *, source: str, target: str, title: str, description: str
    ) -> dict[str, Any]:
        """Open it; GitLab then starts its merge request pipeline itself. 409 when one from
        ``source`` is already open (a racing bump)."""
        what = f"opening a merge request from {source} in project {self.project_id}"
        payload = {
            "source_branch": source,
            "target_branch": target,
            "title": title,
            "description": description,
            "remove_source_branch": True,  # the bump branch is mlgate's: gone once merged
        }
        url = f"{self._project_url}/merge_requests"
        return _object(self._request("POST", url, what, "open merge requests", payload), what)

    def update_merge_request(self, iid: int, *, title: str, description: str) -> dict[str, Any]:
        what = f"editing merge request !{iid} of project {self.project_id}"
        url = f"{self._project_url}/merge_requests/{iid}"
        payload = {"title": title, "description": description}
        return _object(self._request("PUT", url, what, "edit merge requests", payload), what)

    def create_merge_request_pipeline(self, iid: int) -> dict[str, Any]:
        """A merge request pipeline for the source branch's tip: what a push made with
        ``ci.skip`` did not start."""
        what = f"starting a pipeline for merge request !{iid} of project {self.project_id}"
        url = f"{self._project_url}/merge_requests/{iid}/pipelines"
        return _object(self._request("POST", url, what, "start pipelines"), what)

    # --- statuses ----------------------------------------------------------------------

    def set_status(
        self,
        sha: str,
        state: State,
        *,
        context: str,
        description: str,
        target_url: str | None = None,
    ) -> None:
        """A commit status named ``context`` on ``sha`` (failure and error map to failed)."""
        payload = {
            "state": STATES[state],
            "name": context,
            "description": cut(description, DESCRIPTION_LIMIT),
        }
        if target_url:
            payload["target_url"] = target_url
        what = f"setting status {context} on {sha[:12]} in project {self.project_id}"
        url = f"{self._project_url}/statuses/{sha}"
        try:
            self._request("POST", url, what, "set commit statuses", json=payload)
        except ForgeError as e:
            if not _already(e, STATES[state]):
                raise


def _already(error: ForgeError, state: str) -> bool:
    """GitLab answers 400 "Cannot transition status via :enqueue from :pending" when a
    status is set to pending twice (e.g. a retried POST): it already is what we asked."""
    return error.status == 400 and f"Cannot transition status via :enqueue from :{state}" in str(
        error
    )


def _next_page(
    response: requests.Response, url: str, params: dict[str, str | int]
) -> tuple[str | None, dict[str, str | int]]:
    """The next page from ``Link: rel="next"``, else from ``X-Next-Page`` (GitLab sends
    both; keyset pagination and some proxies keep only one)."""
    link = response.links.get("next", {}).get("url")
    if link:
        return link, {}
    page = response.headers.get("X-Next-Page", "").strip()
    if page:
        return url, {**params, "page": page}
    return None, params


def _object(response: requests.Response, what: str) -> dict[str, Any]:
    data = json_of(response, what)
    if not isinstance(data, dict) or not isinstance(data.get("iid", data.get("id")), int):
        raise ForgeError(f"expected a JSON object with an id while {what}")
    return data


def _note(data: Any) -> Comment:
    try:
        return Comment(
            id=int(data["id"]),
            body=data.get("body") or "",
            created_at=data.get("created_at") or "",
            url=None,
        )
    except (KeyError, TypeError, ValueError, AttributeError) as e:
        raise ForgeError(f"GitLab sent a note without an id: {str(data)[:200]}") from e


def _issue(data: Any) -> Issue:
    try:
        return Issue(
            number=int(data["iid"]),
            title=str(data.get("title") or ""),
            body=data.get("description") or "",
            state=str(data.get("state") or ""),
            url=data.get("web_url"),
        )
    except (KeyError, TypeError, ValueError, AttributeError) as e:
        raise ForgeError(f"GitLab sent an issue without an iid: {str(data)[:200]}") from e
