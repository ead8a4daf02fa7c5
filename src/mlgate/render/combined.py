"""One comment for many models (``mlgate ci --gather``): a summary table of every model,
then each checked model's own report folded under it in ``<details>``.

Names, descriptions and reports come from the pull request (its configs, its jobs'
artifacts): names and descriptions pass through ``md_escape``; each report is rendered by
``render_document`` (mlgate's own template and escaping) without its marker line, so the
forge never mistakes this comment for one model's sticky comment. The whole stays within
the forge's comment limit: each report gets an equal share of what the table leaves.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from mlgate.render.markup import md_escape
from mlgate.render.report import COMMENT_LIMIT, render_document, truncation_note

MARKER = "<!-- mlgate:report models -->"  # no model's marker: those say model=<name>
State = Literal["pass", "fail", "error", "unchanged"]
_ICONS = {"pass": "✅ pass", "fail": "❌ fail", "error": "⚠️ error", "unchanged": "➖ unchanged"}
_MIN_SHARE = 2000  # below this a folded report is only its headline: cut, with the note


@dataclass(frozen=True)
class ModelRow:
    name: str
    state: State
    description: str  # the commit status's description
    report: Mapping[str, Any] | None = None  # the checked model's (re-gated) report


def headline(rows: Sequence[ModelRow]) -> str:
    failed = [r for r in rows if r.state in ("fail", "error")]
    checked = sum(r.state != "unchanged" for r in rows)
    counts = f"{len(rows)} model(s): {checked} checked, {len(rows) - checked} unchanged"
    if failed:
        return f"### ❌ mlgate: {len(failed)} of {len(rows)} model(s) did not pass ({counts})"
    return f"### ✅ mlgate: every model passes ({counts})"


def render_combined(
    rows: Sequence[ModelRow], *, limit: int = COMMENT_LIMIT, run_url: str | None = None
) -> str:
    """The combined comment, at most ``limit`` characters."""
    table = [
        "| model | verdict | status |",
        "| --- | --- | --- |",
        *(_table_row(r) for r in rows),
    ]
    top = f"{MARKER}\n{headline(rows)}\n\n" + "\n".join(table) + "\n"
    reported = [r for r in rows if r.report is not None]
    if not reported:
        return top
    note = "\n\n" + truncation_note(limit, run_url) + "\n"
    room = limit - len(top) - len(note)
    # Each fold costs its own <details> lines (< 200 characters with a 64-character name).
    share = room // len(reported) - 200
    if share < _MIN_SHARE:
        return top + note  # too many reports for one comment: the table, and where the rest is
    folds = [_fold(r, share, run_url) for r in reported]
    return top + "\n" + "\n".join(folds)


def _table_row(row: ModelRow) -> str:
    return f"| {md_escape(row.name)} | {_ICONS[row.state]} | {md_escape(row.description)} |"


def _fold(row: ModelRow, share: int, run_url: str | None) -> str:
    assert row.report is not None
    body = render_document(row.report, "markdown", limit=share, run_url=run_url)
    _, _, body = body.partition("\n")  # the model's marker line: this is not its comment
    summary = f"{md_escape(row.name)}: {_ICONS[row.state]}"
    # The blank lines let GitHub render the markdown inside the HTML block.
    return f"<details><summary>{summary}</summary>\n\n{body.strip()}\n\n</details>\n"
