"""Monitoring alerts where the team works: one issue per model, open while it is unhealthy.

Like the PR comment, the issue is found by its marker (the body's first line): created
once, edited on every unhealthy run, closed with a final comment when the model is
healthy again. Two runs that race may both create one; after creating, each lists again
and keeps the lowest-numbered marked issue, the later one closing its own as a duplicate,
so both converge on one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol

from mlgate.forge import Issue

Action = Literal["created", "updated", "closed", "none"]


class Tracker(Protocol):
    """What alerts need of a forge: its open issues, and to open, edit and comment."""

    def open_issues(self) -> list[Issue]: ...

    def create_issue(self, title: str, body: str) -> Issue: ...

    def edit_issue(
        self, number: int, *, title: str | None = None, body: str | None = None, close: bool = False
    ) -> Issue: ...

    def comment_on_issue(self, number: int, body: str) -> None: ...


@dataclass(frozen=True)
class AlertOutcome:
    action: Action
    issue: Issue | None = None


def marked(issues: list[Issue], marker: str) -> list[Issue]:
    """The issues whose body starts with the line ``marker``, lowest number first."""
    return sorted(
        (i for i in issues if i.body.split("\n", 1)[0].strip() == marker), key=lambda i: i.number
    )


def sync_alert(
    tracker: Tracker, marker: str, *, title: str, body: str, healthy: bool, closing: str
) -> AlertOutcome:
    """Bring the model's alert issue in line with its health. ``body`` starts with
    ``marker`` (the monitor's markdown report does); ``closing`` is the final comment."""
    if not body.startswith(marker):
        body = f"{marker}\n{body}"
    found = marked(tracker.open_issues(), marker)
    if healthy:
        for issue in found:
            tracker.comment_on_issue(issue.number, closing)
            tracker.edit_issue(issue.number, close=True)
        return AlertOutcome("closed", found[0]) if found else AlertOutcome("none")
    if found:
        kept = tracker.edit_issue(found[0].number, title=title, body=body)
        _close_duplicates(tracker, found)
        return AlertOutcome("updated", kept)
    created = tracker.create_issue(title, body)
    kept = (marked(tracker.open_issues(), marker) or [created])[0]
    if kept.number != created.number:  # a racing run opened one first: ours is closed
        _close_duplicates(tracker, [kept, created])
        return AlertOutcome("updated", tracker.edit_issue(kept.number, title=title, body=body))
    return AlertOutcome("created", created)


def _close_duplicates(tracker: Tracker, found: list[Issue]) -> None:
    for issue in found[1:]:
        tracker.comment_on_issue(issue.number, f"Closed as a duplicate of #{found[0].number}.")
        tracker.edit_issue(issue.number, close=True)
