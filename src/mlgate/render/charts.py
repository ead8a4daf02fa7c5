"""Charts that render where the report is read, with nothing uploaded: mermaid
``xychart-beta`` blocks (GitHub and GitLab draw them in comments, job summaries and files)
and unicode sparklines for the terminal. Pure: no jinja2, no git.

The syntax is pinned to ``xychart-beta`` as the mermaid GitHub draws with parses it
(``MERMAID_NPM`` in the Makefile; tests/render/test_charts_browser.py renders every chart
with it in a browser). Every label inside a chart is reduced to a safe charset
(``mermaid_text``): mermaid's own syntax (quotes, brackets, ``;``, ``%%`` directives,
``#...;`` entities, newlines) and the markdown fence (backticks) cannot get through, so a
metric, model or version name cannot end a label, add a statement or reconfigure mermaid.
Numbers are written in plain decimals, the only form mermaid's number token reads.

A check's chart puts every metric on one axis by scaling to the base: each bar is head as a
percentage of base (100 + Δ%), and a flat line at 100 marks the base, so accuracy (0.9),
log loss (2.3) and fit time (seconds) sit side by side. Runtime metrics (fit and predict
time, model size) change by far more than scores, so they get a chart of their own.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Literal

from mlgate.core.metrics import RUNTIME_METRICS

LABEL_WIDTH = 60  # a longer label is cut with "..."
CHART_METRICS = 12  # bars in one comparison chart; more stop being readable
SPARK = "▁▂▃▄▅▆▇█"

_SAFE = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 _.:+-/()")


@dataclass(frozen=True)
class Series:
    kind: Literal["bar", "line"]
    values: tuple[float, ...]


def mermaid_text(value: object, width: int = LABEL_WIDTH) -> str:
    """``value`` inside a quoted mermaid label: ASCII letters, digits, space and ``_.:+-/()``
    only (anything else becomes ``_``; nothing is ``_``), at most ``width`` characters."""
    text = "".join(c if c in _SAFE else "_" for c in str(value)) or "_"  # "" does not parse
    return text if len(text) <= width else text[: width - 3] + "..."


def mermaid_number(value: float) -> str:
    """Plain decimal notation (10 significant digits): mermaid's number token has no
    exponent (``1e-05``)."""
    return format(Decimal(repr(float(f"{value:.10g}"))), "f")


def y_range(values: Sequence[float]) -> tuple[str, str]:
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


def xychart(
    *,
    title: str,
    x_labels: Sequence[str],
    y_title: str,
    series: Sequence[Series],
) -> str:
    """A fenced ```mermaid ``xychart-beta`` block; empty when there is nothing to draw or no
    axis can hold the values. Labels and titles are passed through ``mermaid_text``."""
    values = [v for s in series for v in s.values]
    if not values or not x_labels or not all(math.isfinite(v) for v in values):
        return ""
    if not math.isfinite(max(values) - min(values)):
        return ""  # e.g. -1e308 and 1e308: no axis holds both
    assert all(len(s.values) == len(x_labels) for s in series), "one value per x label"
    low, high = y_range(values)
    labels = ", ".join(f'"{mermaid_text(label)}"' for label in x_labels)
    lines = [
        "```mermaid",
        "xychart-beta",
        f'    title "{mermaid_text(title)}"',
        f"    x-axis [{labels}]",
        f'    y-axis "{mermaid_text(y_title)}" {low} --> {high}',
        *(f"    {s.kind} [{', '.join(mermaid_number(v) for v in s.values)}]" for s in series),
        "```",
    ]
    return "\n".join(lines) + "\n"


def sparkline(values: Sequence[float | None]) -> str:
    """``▁▃▅█``: each value's height between the lowest and the highest; a missing value is
    a space; all equal is a flat middle line. Empty for no values."""
    known = [v for v in values if v is not None and math.isfinite(v)]
    if not known:
        return ""
    low, high = min(known), max(known)
    spread = high - low
    top = len(SPARK) - 1

    def bar(value: float | None) -> str:
        if value is None or not math.isfinite(value):
            return " "
        if not math.isfinite(spread) or spread == 0:
            return SPARK[top // 2]
        return SPARK[round((value - low) / spread * top)]

    return "".join(bar(v) for v in values)


# --- a check: head against base ------------------------------------------------------------


@dataclass(frozen=True)
class Comparison:
    """One comparison chart of a check report, and what it leaves out."""

    block: str  # the fenced mermaid block
    metrics: tuple[str, ...]  # charted, in order
    left_out: tuple[str, ...]  # rows without a base or with base 0: no percentage
    total: int  # the rows that could be charted, of which the first CHART_METRICS are
    lower: tuple[str, ...] = ()  # charted metrics for which lower is better


def comparison_charts(model: str, rows: Sequence[Mapping[str, Any]]) -> list[Comparison]:
    """The check report's charts (report document rows: ``name``, ``base``, ``head``,
    ``delta_pct``, ``rule``): head as a percentage of base for the gated metrics (every
    compared metric when none is gated), at most CHART_METRICS, model metrics and runtime
    metrics apart. Empty without a base."""
    gated = [r for r in rows if r.get("rule")] or list(rows)
    groups = (
        (
            f"{model}: head vs base (base 100)",
            [r for r in gated if r["name"] not in RUNTIME_METRICS],
        ),
        (
            f"{model} runtime: head vs base (base 100)",
            [r for r in gated if r["name"] in RUNTIME_METRICS],
        ),
    )
    charts = []
    for title, group in groups:
        scaled = [r for r in group if _pct(r) is not None]
        charted = scaled[:CHART_METRICS]
        left_out = tuple(r["name"] for r in group if _pct(r) is None)
        if not charted:
            continue
        head = tuple(round(100.0 + _pct(r), 2) for r in charted)  # type: ignore[operator]
        block = xychart(
            title=title,
            x_labels=[r["name"] for r in charted],
            y_title="percent of base",
            series=[Series("bar", head), Series("line", (100.0,) * len(charted))],
        )
        if block:
            names = tuple(r["name"] for r in charted)
            lower = tuple(r["name"] for r in charted if r.get("direction") == "lower")
            charts.append(Comparison(block, names, left_out, len(scaled), lower))
    return charts


def _pct(row: Mapping[str, Any]) -> float | None:
    value = row.get("delta_pct")
    if row.get("base") is None or row.get("head") is None or value is None:
        return None
    return float(value) if math.isfinite(value) else None


# --- history and promotion: the headline metric over versions ------------------------------


def trend_chart(title: str, metric: str, points: Sequence[tuple[str, float]]) -> str:
    """``metric`` over ``points`` ((x label, value), oldest first): production versions,
    with a candidate last when there is one, as bars with a line through them. A line alone
    would be drawn in the theme's first plot colour, which is next to invisible on white;
    the second one (the line over the bars) is not. Empty with no point."""
    values = tuple(value for _, value in points)
    return xychart(
        title=title,
        x_labels=[label for label, _ in points],
        y_title=metric,
        series=[Series("bar", values), Series("line", values)],
    )
