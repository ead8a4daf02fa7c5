"""Static SVG line charts for ``mlgate site``: no script, no external font or stylesheet.

Colours come from the page (``currentColor`` and the ``--accent`` CSS variable), so a chart
follows the page's dark or light scheme. Each chart carries ``<title>``/``<desc>`` (named by
``aria-labelledby``) and one ``<circle class="point">`` per value with its own ``<title>``;
the page puts a data table beside it as the text alternative. Every label is escaped. Pure.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from html import escape

from mlgate.render.markup import fmt_metric

WIDTH, HEIGHT = 720, 240
_LEFT, _RIGHT, _TOP, _BOTTOM = 64, 16, 16, 36


def line_chart(chart_id: str, title: str, metric: str, points: Sequence[tuple[str, float]]) -> str:
    """An ``<svg>`` of ``points`` ((label, finite value), oldest first); ``chart_id`` is
    an id made by mlgate (never read from the repository). Empty without points."""
    points = [(label, value) for label, value in points if math.isfinite(value)]
    if not points:
        return ""
    values = [value for _, value in points]
    low, high = min(values), max(values)
    pad = (high - low) * 0.05 or abs(high) * 0.05 or 1.0
    low, high = low - pad, high + pad
    plot_w, plot_h = WIDTH - _LEFT - _RIGHT, HEIGHT - _TOP - _BOTTOM
    step = plot_w / (len(points) - 1) if len(points) > 1 else 0.0

    def xy(index: int, value: float) -> tuple[float, float]:
        x = _LEFT + (index * step if len(points) > 1 else plot_w / 2)
        return x, _TOP + plot_h * (high - value) / (high - low)

    coords = [xy(i, v) for i, (_, v) in enumerate(points)]
    first, last = points[0][0], points[-1][0]
    desc = (
        f"{metric} over {len(points):,} points from {first} to {last}: "
        f"lowest {fmt_metric(min(values), metric)}, highest {fmt_metric(max(values), metric)}, "
        f"last {fmt_metric(values[-1], metric)}"
    )
    parts = [
        f'<svg class="chart" id="{chart_id}" xmlns="http://www.w3.org/2000/svg" '
        f'viewBox="0 0 {WIDTH} {HEIGHT}" role="img" data-points="{len(points)}" '
        f'aria-labelledby="{chart_id}-title {chart_id}-desc">',
        f'<title id="{chart_id}-title">{escape(title)}</title>',
        f'<desc id="{chart_id}-desc">{escape(desc)}</desc>',
        _axes(low, high, metric, first, last),
    ]
    if len(coords) > 1:
        line = " ".join(f"{x:.1f},{y:.1f}" for x, y in coords)
        parts.append(f'<polyline class="line" fill="none" points="{line}"/>')
    radius = 3 if len(points) <= 100 else 1.5
    for (label, value), (x, y) in zip(points, coords, strict=True):
        tip = escape(f"{label}: {fmt_metric(value, metric)}")
        parts.append(
            f'<circle class="point" cx="{x:.1f}" cy="{y:.1f}" r="{radius}"><title>{tip}</title>'
            "</circle>"
        )
    parts.append("</svg>")
    return "".join(parts)


def _axes(low: float, high: float, metric: str, first: str, last: str) -> str:
    """The frame, three value ticks and the first and last labels, in currentColor."""
    bottom, right = HEIGHT - _BOTTOM, WIDTH - _RIGHT
    parts = [
        f'<g class="axes" fill="currentColor" font-size="11">'
        f'<path d="M{_LEFT} {_TOP}V{bottom}H{right}" fill="none" stroke="currentColor" '
        'stroke-opacity="0.5"/>'
    ]
    for share in (0.0, 0.5, 1.0):
        value = low + (high - low) * share
        y = bottom - (bottom - _TOP) * share
        parts.append(
            f'<text x="{_LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">'
            f"{escape(fmt_metric(value, metric))}</text>"
        )
    parts.append(f'<text x="{_LEFT}" y="{bottom + 18}">{escape(first)}</text>')
    parts.append(f'<text x="{right}" y="{bottom + 18}" text-anchor="end">{escape(last)}</text>')
    parts.append("</g>")
    return "".join(parts)
