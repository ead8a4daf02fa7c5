"""GitHub: issue comments and commit statuses for one pull request, over the REST API.

Endpoints (https://docs.github.com/rest): issues/comments (a PR is an issue for comments),
repos/statuses, pulls/get; for ``mlgate data bump``: pulls/list, pulls/create,
pulls/update and actions/create-workflow-dispatch. Pages are followed through the ``Link``
header, never rebuilt from page numbers: GitHub's next links may point at
``/repositories/<id>/...``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

import requests

from mlgate import http
from mlgate.core.units import cut
from mlgate.forge import Comment, ForgeError, Issue, State, env
from mlgate.forge._http import build_session, json_of, request

DEFAULT_API_URL = "https://api.github.com"
DESCRIPTION_LIMIT = 140  # GitHub refuses longer commit status descriptions
PER_PAGE = 100  # GitHub's maximum


class GitHub:
    """The Forge for one pull request of one repository."""

    name = "github"
    comment_limit = 65536

    def __init__(
        self,
        api_url: str,
        repository: str,
        number: int,
        token: str | None,
        session: requests.Session | None = None,
    ) -> None:
        owner, _, repo = repository.partition("/")
        if not owner or not repo or "/" in repo:
            raise ForgeError(f"a GitHub repository is owner/name, not {repository!r}")
        self.repository = repository
        self.api_url = api_url.rstrip("/")
        self.number = number
        self._repo_url = f"{self.api_url}/repos/{quote(owner, safe='')}/{quote(repo, safe='')}"
        self._session = session or build_session(token, auth="bearer")

    @classmethod
    def from_env(cls, environ: Mapping[str, str], number: int) -> GitHub:
        """From the Actions environment: GITHUB_API_URL, GITHUB_REPOSITORY, and the token
        by the precedence forge.env states (MLGATE_TOKEN, then GITHUB_TOKEN)."""
        repository = environ.get("GITHUB_REPOSITORY", "")
        if not repository:
            raise ForgeError(
                "GITHUB_REPOSITORY is not set; cannot tell which repository to post to"
            )
        token = env.token(env.FORGES["github"], environ)
        api_url = http.api_url(
            environ.get("GITHUB_API_URL") or DEFAULT_API_URL, "GITHUB_API_URL", DEFAULT_API_URL
        )
        return cls(api_url, repository, number, token)

    def __repr__(self) -> str:
        return f"GitHub({self.repository}#{self.number})"

    # --- comments ----------------------------------------------------------------------

    def list_comments(self) -> list[Comment]:
        """Every comment on the pull request, following ``Link: rel="next"`` to the end."""
        what = f"listing comments on {self}"
        url: str | None = f"{self._issue_url}/comments"
        params: dict[str, str | int] | None = {"per_page": PER_PAGE}
        seen: set[str] = set()
        comments: list[Comment] = []
        while url and url not in seen:
            seen.add(url)  # a server that links a page to itself must not loop us forever
            response = request(self._session, "GET", url, what=what, params=params)
            comments.extend(_comment(c) for c in _list_of(json_of(response, what), what))
            url, params = response.links.get("next", {}).get("url"), None  # next has the query
        return sorted(comments, key=lambda c: c.id)

    def create_comment(self, body: str) -> Comment:
        what = f"creating a comment on {self}"
        response = request(
            self._session, "POST", f"{self._issue_url}/comments", what=what, json={"body": body}
        )
        return _comment(json_of(response, what))

    def update_comment(self, comment_id: int, body: str) -> Comment:
        what = f"editing comment {comment_id} on {self}"
        url = f"{self._repo_url}/issues/comments/{comment_id}"
        response = request(self._session, "PATCH", url, what=what, json={"body": body})
        return _comment(json_of(response, what))

    def delete_comment(self, comment_id: int) -> None:
        url = f"{self._repo_url}/issues/comments/{comment_id}"
        try:
            request(self._session, "DELETE", url, what=f"deleting comment {comment_id} on {self}")
        except ForgeError as e:
            if e.status != 404:  # already gone: a racing run deleted it, which is the goal
                raise

    # --- statuses and pull requests ----------------------------------------------------

    def set_status(
        self,
        sha: str,
        state: State,
        *,
        context: str,
        description: str,
        target_url: str | None = None,
    ) -> None:
        """A commit status on ``sha``; ``description`` is cut to 140 characters."""
        payload: dict[str, str] = {
            "state": state,
            "context": context,
            "description": cut(description, DESCRIPTION_LIMIT),
        }
        if target_url:
            payload["target_url"] = target_url
        what = f"setting status {context} on {self.repository}@{sha[:12]}"
        request(self._session, "POST", f"{self._repo_url}/statuses/{sha}", what=what, json=payload)

    def pull_request(self, number: int | None = None) -> dict[str, Any]:
        """The pull request as GitHub describes it (pulls/get), this one by default."""
        number = self.number if number is None else number
        what = f"reading pull request {self.repository}#{number}"
        response = request(self._session, "GET", f"{self._repo_url}/pulls/{number}", what=what)
        pull = json_of(response, what)
        if not isinstance(pull, dict):
            raise ForgeError(f"expected a JSON object while {what}")
        return pull

    # --- the pull request of a data bump (repository-level: ``number`` is unused) ---------

    def open_pull_for(self, branch: str) -> dict[str, Any] | None:
        """The open pull request whose head is ``branch`` of this repository, if any (the
        oldest, should there be several)."""
        owner = self.repository.partition("/")[0]
        what = f"listing pull requests of {self.repository} from {branch}"
        params: dict[str, str | int] = {
            "head": f"{owner}:{branch}",
            "state": "open",
            "per_page": PER_PAGE,
        }
        url = f"{self._repo_url}/pulls"
        response = request(self._session, "GET", url, what=what, params=params)
        pulls = [p for p in _list_of(json_of(response, what), what) if isinstance(p, dict)]
        mine = [p for p in pulls if (p.get("head") or {}).get("ref") == branch]
        return min(mine, key=lambda p: int(p["number"])) if mine else None

    def create_pull(self, *, head: str, base: str, title: str, body: str) -> dict[str, Any]:
        what = f"opening a pull request from {head} in {self.repository}"
        payload = {"head": head, "base": base, "title": title, "body": body}
        url = f"{self._repo_url}/pulls"
        response = request(self._session, "POST", url, what=what, json=payload)
        return _object_of(json_of(response, what), what)

    def update_pull(self, number: int, *, title: str, body: str) -> dict[str, Any]:
        what = f"editing pull request {self.repository}#{number}"
        url = f"{self._repo_url}/pulls/{number}"
        response = request(
            self._session, "PATCH", url, what=what, json={"title": title, "body": body}
        )
        return _object_of(json_of(response, what), what)

    def dispatch_workflow(self, workflow: str, ref: str) -> None:
        """Start ``workflow`` (its file name or id) on ``ref``: events made with the
        Actions ``GITHUB_TOKEN`` start no workflow, except ``workflow_dispatch``."""
        what = f"dispatching workflow {workflow} on {ref} in {self.repository}"
        url = f"{self._repo_url}/actions/workflows/{quote(workflow, safe='')}/dispatches"
        request(self._session, "POST", url, what=what, json={"ref": ref})

    # --- issues (monitoring alerts: forge.alerts) -----------------------------------------

    def open_issues(self) -> list[Issue]:
        """The repository's open issues, all pages (pull requests, which GitHub lists as
        issues too, left out)."""
        what = f"listing open issues of {self.repository}"
        url: str | None = f"{self._repo_url}/issues"
        params: dict[str, str | int] | None = {"state": "open", "per_page": PER_PAGE}
        seen: set[str] = set()
        found: list[Issue] = []
        while url and url not in seen:
            seen.add(url)
            response = request(self._session, "GET", url, what=what, params=params)
            items = _list_of(json_of(response, what), what)
            found += [_issue(i) for i in items if isinstance(i, dict) and "pull_request" not in i]
            url, params = response.links.get("next", {}).get("url"), None
        return sorted(found, key=lambda i: i.number)

    def create_issue(self, title: str, body: str) -> Issue:
        what = f"opening an issue in {self.repository}"
        payload = {"title": title, "body": body}
        response = request(
            self._session, "POST", f"{self._repo_url}/issues", what=what, json=payload
        )
        return _issue(json_of(response, what))

    def edit_issue(
        self, number: int, *, title: str | None = None, body: str | None = None, close: bool = False
    ) -> Issue:
        what = f"editing issue {self.repository}#{number}"
        payload: dict[str, str] = {}
        if title is not None:
            payload["title"] = title
        if body is not None:
            payload["body"] = body
        if close:
            payload |= {"state": "closed", "state_reason": "completed"}
        url = f"{self._repo_url}/issues/{number}"
        return _issue(json_of(request(self._session, "PATCH", url, what=what, json=payload), what))

    def comment_on_issue(self, number: int, body: str) -> None:
        what = f"commenting on issue {self.repository}#{number}"
        url = f"{self._repo_url}/issues/{number}/comments"
        request(self._session, "POST", url, what=what, json={"body": body})

    @property
    def _issue_url(self) -> str:
        return f"{self._repo_url}/issues/{self.number}"

    def __str__(self) -> str:
        return f"{self.repository}#{self.number}"


def _list_of(data: Any, what: str) -> list[Any]:
    if not isinstance(data, list):
        raise ForgeError(f"expected a JSON list while {what}, got {type(data).__name__}")
    return data


def _object_of(data: Any, what: str) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise ForgeError(f"expected a JSON object while {what}, got {type(data).__name__}")
    return data


def _comment(data: Any) -> Comment:
    try:
        return Comment(
            id=int(data["id"]),
            body=data.get("body") or "",
            created_at=data.get("created_at") or "",
            url=data.get("html_url"),
        )
    except (KeyError, TypeError, ValueError, AttributeError) as e:
        raise ForgeError(f"GitHub sent a comment without an id: {str(data)[:200]}") from e


def _issue(data: Any) -> Issue:
    try:
        return Issue(
            number=int(data["number"]),
            title=str(data.get("title") or ""),
            body=data.get("body") or "",
            state=str(data.get("state") or ""),
            url=data.get("html_url"),
        )
    except (KeyError, TypeError, ValueError, AttributeError) as e:
        raise ForgeError(f"GitHub sent an issue without a number: {str(data)[:200]}") from e
