"""Forges (GitHub, GitLab): the few things mlgate does on a pull/merge request.

A ``Forge`` is bound to one repository and one pull request. ``upsert_comment`` is the
sticky-comment logic on top of the protocol: there is never a second comment for a model,
even when two runs race.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol

from mlgate.errors import MlgateError

State = Literal["pending", "success", "failure", "error"]


class ForgeError(MlgateError):
    """The forge refused or failed a request (exit 3). Never carries the token."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class ForbiddenError(ForgeError):
    """403 without rate limiting: typically a read-only token (a PR from a fork)."""


@dataclass(frozen=True)
class Issue:
    """An issue (GitHub) or issue (GitLab: ``number`` is its iid) of the repository."""

    number: int
    title: str
    body: str
    state: str  # "open"/"closed" (GitHub), "opened"/"closed" (GitLab)
    url: str | None = None


@dataclass(frozen=True)
class Comment:
    id: int
    body: str
    created_at: str = ""
    url: str | None = None


class Forge(Protocol):
    name: str  # "github" | "gitlab"
    comment_limit: int  # longest comment body the forge accepts, in characters

    def list_comments(self) -> list[Comment]:
        """Every comment on the pull request, all pages, oldest first."""
        ...

    def create_comment(self, body: str) -> Comment: ...

    def update_comment(self, comment_id: int, body: str) -> Comment: ...

    def delete_comment(self, comment_id: int) -> None: ...

    def set_status(
        self,
        sha: str,
        state: State,
        *,
        context: str,
        description: str,
        target_url: str | None = None,
    ) -> None:
        """A commit status; ``description`` is cut to 140 characters."""
        ...


def marked(comments: list[Comment], marker: str) -> list[Comment]:
    """The comments whose first line is exactly ``marker``, oldest (lowest id) first."""
    return sorted(
        (c for c in comments if c.body.split("\n", 1)[0].strip() == marker), key=lambda c: c.id
    )


def upsert_comment(forge: Forge, marker: str, body: str) -> tuple[Comment, bool]:
    """Create or edit the one comment that starts with ``marker``; (comment, created).

    Two runs may both find none and both create one. So after creating, list again: the
    oldest marked comment is kept (and given our body), every newer one is deleted. Both
    racers converge on the same survivor, whatever the order.
    """
    existing = marked(forge.list_comments(), marker)
    if existing:
        keep = forge.update_comment(existing[0].id, body)
        for extra in existing[1:]:
            forge.delete_comment(extra.id)
        return keep, False
    mine = forge.create_comment(body)
    after = marked(forge.list_comments(), marker) or [mine]
    keep = after[0]
    for extra in after[1:]:
        forge.delete_comment(extra.id)
    if keep.id != mine.id:
        keep = forge.update_comment(keep.id, body)
    return keep, keep.id == mine.id
