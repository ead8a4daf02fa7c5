"""``mlgate history`` output: promoted versions as a text table, markdown (with a mermaid
chart GitHub draws natively) or JSON. Everything read from tags is escaped: ``plain`` for
the terminal, ``md_escape`` in the markdown table, a character whitelist in the chart."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import asdict
from datetime import timezone
from typing import Any, Literal

from mlgate.core import production
from mlgate.core.results import Outcome
from mlgate.render import charts
from mlgate.render.markup import fmt_metric, md_escape, plain, text_columns

Format = Literal["text", "markdown", "json"]


CHART_POINTS = 60  # GitHub draws more points, but their x labels stop being readable


def render(versions: Sequence[production.Version], model: str, fmt: Format) -> str:
    """``versions`` (oldest first, as ``list_versions`` returns them) as text, markdown or JSON.

    Everything read from tags is escaped: ``plain`` for the terminal, ``md_escape`` in the
    markdown table, and a character whitelist inside the mermaid chart.
    """
    if fmt == "json":
        return _render_json(versions, model)
    if fmt == "markdown":
        return _render_markdown(versions, model)
    if fmt == "text":
        return _render_text(versions, model)
    raise ValueError(f"unknown history format {fmt!r}")


def chart_metric(versions: Sequence[production.Version]) -> str | None:
    """The metric the table and chart show: the current (latest) version's headline one."""
    if not versions:
        return None
    latest = versions[-1]
    return latest.headline_metric or min(latest.metrics, default=None)


def _value(version: production.Version, metric: str | None) -> float | None:
    value = version.metrics.get(metric) if metric is not None else None
    return value if value is not None and math.isfinite(value) else None


def display_date(time: str) -> str | None:
    """``2024-05-01 10:00 UTC``, or None when ``time`` is not ISO 8601."""
    parsed = production.parse_time(time)
    try:
        return None if parsed is None else f"{parsed.astimezone(timezone.utc):%Y-%m-%d %H:%M} UTC"
    except OverflowError:  # year 1 at a positive offset is year 0 in UTC
        return None


def _source(version: production.Version) -> str:
    sha = version.source_commit[:7]
    return f"{sha} #{version.pull_request}" if version.pull_request is not None else sha


def _note(version: production.Version) -> str:
    return f"rollback of v{version.rollback_of}" if version.rollback_of is not None else ""


def _summary(versions: Sequence[production.Version]) -> str:
    count = len(versions)
    return f"{count:,} version{'s' if count != 1 else ''}, current v{versions[-1].version}"


def _render_text(versions: Sequence[production.Version], model: str) -> str:
    if not versions:
        return f"no promoted versions of {plain(model)} yet\n"
    metric = chart_metric(versions)
    rows = ["\t".join(["version", "date", "source", plain(metric or "metric"), "note"])]
    for v in versions:
        date = display_date(v.time) or plain(v.time)
        value = fmt_metric(_value(v, metric), metric or "")
        rows.append("\t".join([f"v{v.version}", date, plain(_source(v)), value, _note(v)]))
    table = text_columns("\n".join(rows), align="lllrl")
    trend = text_trend(versions, metric)
    return f"{plain(model)}: {_summary(versions)}\n\n{table}\n" + (f"\n{trend}\n" if trend else "")


def text_trend(versions: Sequence[production.Version], metric: str | None) -> str:
    """The terminal's chart of the last CHART_POINTS versions: see ``sparkline_line``."""
    if metric is None:
        return ""
    points = [(f"v{v.version}", _value(v, metric)) for v in versions[-CHART_POINTS:]]
    return sparkline_line(metric, points)


def sparkline_line(metric: str, points: Sequence[tuple[str, float | None]]) -> str:
    """``accuracy v1..head: ▁▃▅█ (0.9000 to 0.9500)``: one character per point (a space
    where a point has no value); empty with fewer than two values."""
    values = [v if v is not None and math.isfinite(v) else None for _, v in points]
    known = [v for v in values if v is not None]
    if len(known) < 2:
        return ""
    span = f"{plain(points[0][0])}..{plain(points[-1][0])}"
    low, high = fmt_metric(min(known), metric), fmt_metric(max(known), metric)
    scale = low if low == high else f"{low} to {high}"
    return f"{plain(metric)} {span}: {charts.sparkline(values)} ({scale})"


def outcome_trend(outcome: Outcome, fmt: Literal["text", "markdown"]) -> str:
    """A promotion's (or rollback's) chart: the headline metric across production versions,
    the candidate last ("head" when it did not become a version). Markdown: a heading and a
    mermaid chart; text: a sparkline line. Empty when there is nothing to draw."""
    metric, points = outcome.trend_metric, outcome.trend
    if metric is None or not points:
        return ""
    if fmt == "text":
        return sparkline_line(metric, points)
    drawn = [(label, v) for label, v in points if v is not None and math.isfinite(v)]
    chart = charts.trend_chart(f"{outcome.model}: {metric}", metric, drawn)
    if not chart or len(drawn) < 2:
        return ""
    last = (
        "; the last point is the candidate, which did not become a version"
        if points[-1][0] == "head"
        else ""
    )
    return f"### {md_escape(metric)} over production versions\n\n{chart}\nOldest first{last}.\n"


def _render_markdown(versions: Sequence[production.Version], model: str) -> str:
    heading = f"## Promoted versions of {md_escape(model)}\n\n"
    if not versions:
        return f"{heading}No promoted versions of {md_escape(model)} yet.\n"
    metric = chart_metric(versions)
    parts = [heading, f"{_summary(versions)}.\n\n", _markdown_table(versions, metric)]
    chart = _mermaid_chart(versions, model, metric)
    if chart:
        parts.append(f"\n### {md_escape(metric)} over versions\n\n{chart}")
    return "".join(parts)


def _markdown_table(versions: Sequence[production.Version], metric: str | None) -> str:
    lines = [
        f"| Version | Date | Source | {md_escape(metric or 'metric')} | Note |",
        "|---|---|---|---:|---|",
    ]
    for v in versions:
        date = display_date(v.time) or md_escape(v.time)
        value = fmt_metric(_value(v, metric), metric or "")
        cells = [f"v{v.version}", date, md_escape(_source(v)), value, _note(v)]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def _mermaid_chart(versions: Sequence[production.Version], model: str, metric: str | None) -> str:
    """A GitHub-native ``xychart-beta`` line of ``metric``; empty when nothing to draw."""
    if metric is None:
        return ""
    chart = charts.trend_chart(f"{model}: {metric}", metric, trend_points(versions, metric))
    note = ""
    if chart and len(versions) > CHART_POINTS:
        note = f"The chart shows the last {CHART_POINTS} of {len(versions):,} versions.\n\n"
    return f"{note}{chart}"


def trend_points(
    versions: Sequence[production.Version], metric: str, *, limit: int = CHART_POINTS
) -> list[tuple[str, float]]:
    """(``vN``, value) for the last ``limit`` versions that have a finite ``metric``."""
    shown = versions[-limit:]
    return [(f"v{v.version}", value) for v in shown if (value := _value(v, metric)) is not None]


def _render_json(versions: Sequence[production.Version], model: str) -> str:
    document = {"model": model, "versions": [_json_safe(asdict(v)) for v in versions]}
    return json.dumps(document, indent=2, allow_nan=False) + "\n"


def _json_safe(value: Any) -> Any:
    """NaN and infinities become null: JSON has no such numbers."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {key: _json_safe(item) for key, item in value.items()}
    return value
