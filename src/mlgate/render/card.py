"""The model card: ``<name>/MODEL_CARD.md`` on the production branch, rendered from
``templates/MODEL_CARD.md.j2`` for each promoted (or rolled back) version. Pure: no git.

Everything except the "Intended use" section is generated from the version's lineage, its
config and its gate checks. "Intended use" belongs to the team: once they edit it on the
production branch, the next version's card carries their text over verbatim; an untouched
(or emptied) section gets the placeholder prompts again.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime, timezone
from typing import Any

from mlgate.core.gate import Rule, RuleCheck
from mlgate.core.metrics import diff_metrics, flatten
from mlgate.core.production import Lineage
from mlgate.render.report import markdown_environment, tidy, verbatim

TEMPLATE = "MODEL_CARD.md.j2"
INTENDED_USE = "Intended use"

# The carried-over text is put in after tidy(), which would otherwise squeeze its blank
# lines (and change a code block). md_escape drops NUL, so no escaped value can forge it.
_SLOT = "\x00mlgate:intended-use\x00"
_SECTION = re.compile(rf"^ {{0,3}}##[ \t]+{INTENDED_USE}[ \t]*#*[ \t]*$", re.IGNORECASE)
_NEXT_SECTION = re.compile(r"^ {0,3}#{1,2}(?:[ \t]|$)")
_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
_DATA_ORDER = ("train", "test")


def render_card(
    lineage: Lineage,
    *,
    rules: Mapping[str, Rule],
    checks: Sequence[RuleCheck],
    metric_order: Sequence[str],
    task: str,
    estimator: str,
    params: Mapping[str, Any],
    previous_card: str | None = None,
    command_mode: bool = False,
    recorded: Sequence[str] = (),
) -> str:
    """The MODEL_CARD.md of ``lineage``'s version, as GitHub markdown.

    ``checks`` are the gate's checks against the champion (empty when the version was not
    gated, e.g. a rollback: ``rules`` are then listed as not checked). ``metric_order`` is
    the config's metric order. ``previous_card`` is the previous version's card: its
    "Intended use" section is kept when the team edited it. ``command_mode``: the model came
    from the repository's own command (``params`` are its params file or arguments).
    ``recorded``: the metrics held to the champion's recorded values although it was
    scored (a command's own metrics). Same inputs, same output.
    """
    if command_mode:  # a params file nests (train: {C: 1}): one row per value, as in a diff
        params = flatten(params)
    context = _context(lineage, rules, checks, metric_order, task, estimator, params)
    context["command_mode"] = command_mode
    context["recorded"] = list(recorded)
    carried = _carried_intended_use(previous_card, context)
    if carried is None:
        return _render({**context, "intended_use": None})
    return _render({**context, "intended_use": verbatim(_SLOT)}).replace(_SLOT, carried)


def intended_use(card: str) -> str | None:
    """The body of a card's "## Intended use" section (up to the next level-1 or -2
    heading, outside code blocks), without surrounding blank lines; None when absent."""
    lines = card.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    body: list[str] | None = None
    for line, in_code in _code_aware(lines):
        if body is None:
            if not in_code and _SECTION.match(line):
                body = []
        elif not in_code and _NEXT_SECTION.match(line):
            break
        else:
            body.append(line)
    return None if body is None else "\n".join(body).strip("\n")


def _code_aware(lines: Sequence[str]) -> Iterator[tuple[str, bool]]:
    """Each line with whether it is inside (or opens/closes) a fenced code block, where a
    ``## `` line is code, not a heading."""
    fence: str | None = None
    for line in lines:
        match = _FENCE.match(line)
        if fence is None and match:
            fence = match[1]
            yield line, True
        elif fence is not None:
            if match and _closes(fence, match[1], line):
                fence = None
            yield line, True
        else:
            yield line, False


def _closes(fence: str, marks: str, line: str) -> bool:
    """A closing fence: the opener's character, at least as many, nothing else after."""
    return marks[0] == fence[0] and len(marks) >= len(fence) and not line.strip().strip(marks[0])


def _normalized(text: str) -> str:
    return "\n".join(line.rstrip() for line in text.strip().splitlines())


def _carried_intended_use(previous_card: str | None, context: dict[str, Any]) -> str | None:
    """The previous card's "Intended use" text when the team changed it from the prompts."""
    if previous_card is None:
        return None
    previous = intended_use(previous_card)
    if previous is None or not previous.strip():
        return None
    placeholder = intended_use(_render({**context, "intended_use": None}))
    assert placeholder is not None, f"{TEMPLATE} lost its {INTENDED_USE} section"
    return None if _normalized(previous) == _normalized(placeholder) else previous


def _render(context: Mapping[str, Any]) -> str:
    return tidy(markdown_environment().get_template(TEMPLATE).render(context))


# --- context -----------------------------------------------------------------------------


def _context(
    lineage: Lineage,
    rules: Mapping[str, Rule],
    checks: Sequence[RuleCheck],
    metric_order: Sequence[str],
    task: str,
    estimator: str,
    params: Mapping[str, Any],
) -> dict[str, Any]:
    return {
        "lineage": lineage,
        "when": _when(lineage.time),
        "task": task,
        "estimator": estimator,
        "params": sorted(params.items()),
        "data": _data(lineage),
        "evaluation": lineage.data["test"].path if "test" in lineage.data else None,
        "metrics": _metric_rows(lineage, metric_order),
        "checks": [_check_row(c, _skip_reason(lineage)) for c in checks],
        "rules": [(m, rules[m].describe()) for m in sorted(rules)],
        "versions": sorted(lineage.versions.items()),
    }


def _when(time: str) -> str:
    """``2024-05-01 12:00 UTC`` for the summary line; the ISO text when it does not parse."""
    try:
        moment = datetime.fromisoformat(time.replace("Z", "+00:00"))
    except ValueError:
        return time
    if moment.tzinfo is None:
        return moment.strftime("%Y-%m-%d %H:%M")
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def _data(lineage: Lineage) -> list[tuple[str, Any]]:
    """Data files, train and test first: lineage.json may come back with its keys sorted."""
    rank = {role: i for i, role in enumerate(_DATA_ORDER)}
    roles = sorted(lineage.data, key=lambda r: (rank.get(r, len(rank)), r))
    return [(role, lineage.data[role]) for role in roles]


def _metric_rows(lineage: Lineage, order: Sequence[str]) -> list[dict[str, Any]]:
    champion = lineage.champion_metrics
    known = {*lineage.metrics, *(champion or {})}
    names = [m for m in dict.fromkeys(order) if m in known]
    names += sorted(known.difference(names))
    return [
        {
            "name": r.name,
            "value": r.head,
            "champion": r.base,
            "delta": r.delta,
            "delta_pct": r.delta_pct,
            "better": r.better,
        }
        for r in diff_metrics(champion, lineage.metrics, names)
    ]


def _skip_reason(lineage: Lineage) -> str:
    """Why rules relative to the champion were skipped (gate.py only says "no baseline")."""
    return "no champion" if lineage.replaced_version is None else "champion not scored"


def _check_row(check: RuleCheck, skip_reason: str) -> dict[str, Any]:
    limit = f"{check.limit:g}%" if check.kind == "max_regression_pct" else f"{check.limit:g}"
    failed = not check.passed and not check.skipped
    result = f"⏭️ skipped: {skip_reason}" if check.skipped else "❌ fail" if failed else "✅ pass"
    return {
        "metric": check.metric,
        "kind": check.kind,
        "limit": limit,
        "result": result,
        "message": check.message if failed else "",
    }
