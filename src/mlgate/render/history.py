"""``mlgate history`` output: promoted versions as a text table, markdown (with a mermaid
chart GitHub draws natively) or JSON. Everything read from tags is escaped: ``plain`` for
the terminal, ``md_escape`` in the markdown table, a character whitelist in the chart."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import asdict
from datetime import timezone
from decimal import Decimal
from typing import Any, Literal

from mlgate.core import production
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


def _date(time: str) -> str | None:
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
        date = _date(v.time) or plain(v.time)
        value = fmt_metric(_value(v, metric), metric or "")
        rows.append("\t".join([f"v{v.version}", date, plain(_source(v)), value, _note(v)]))
    table = text_columns("\n".join(rows), align="lllrl")
    return f"{plain(model)}: {_summary(versions)}\n\n{table}\n"


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
        date = _date(v.time) or md_escape(v.time)
        value = fmt_metric(_value(v, metric), metric or "")
        cells = [f"v{v.version}", date, md_escape(_source(v)), value, _note(v)]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def _mermaid_chart(versions: Sequence[production.Version], model: str, metric: str | None) -> str:
    """A GitHub-native ``xychart-beta`` line of ``metric``; empty when nothing to draw."""
    shown = versions[-CHART_POINTS:]
    points = [(v.version, value) for v in shown if (value := _value(v, metric)) is not None]
    if not points or metric is None:
        return ""
    values = [value for _, value in points]
    if not math.isfinite(max(values) - min(values)):
        return ""  # e.g. -1e308 and 1e308: no axis holds both
    low, high = _y_range(values)
    name = _mermaid_text(metric)
    chart = "\n".join(
        [
            "```mermaid",
            "xychart-beta",
            f'    title "{_mermaid_text(model)}: {name}"',
            f"    x-axis [{', '.join(f'v{number}' for number, _ in points)}]",
            f'    y-axis "{name}" {low} --> {high}',
            f"    line [{', '.join(_mermaid_number(value) for value in values)}]",
            "```",
        ]
    )
    note = ""
    if len(versions) > CHART_POINTS:
        note = f"The chart shows the last {CHART_POINTS} of {len(versions):,} versions.\n\n"
    return f"{note}{chart}\n"


def _mermaid_text(value: str) -> str:
    """``value`` inside a quoted mermaid label: a whitelist, so no quote, backtick (which
    could close the code fence), newline or markup gets through."""
    return "".join(c if c.isascii() and (c.isalnum() or c in " _.+-/()") else "_" for c in value)


def _mermaid_number(value: float) -> str:
    """Plain decimal notation: mermaid's number token has no exponent (``1e-05``)."""
    return format(Decimal(repr(float(f"{value:.10g}"))), "f")


def _y_range(values: Sequence[float]) -> tuple[str, str]:
    """Axis bounds a little beyond the data, rounded outwards to a readable step."""
    low, high = min(values), max(values)
    spread = high - low
    pad = spread * 0.1 if spread > 0 else abs(high) * 0.05 or 1.0
    exponent = math.floor(math.log10(max(pad, 1e-9)))  # finer steps print walls of zeros
    step, places = 10.0**exponent, max(0, -exponent)
    # Rounded first, so float noise (19.000000000000004 steps) does not add a step.
    bottom = math.floor(round((low - pad) / step, 6)) * step
    top = math.ceil(round((high + pad) / step, 6)) * step
    return f"{bottom:.{places}f}", f"{top:.{places}f}"


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
