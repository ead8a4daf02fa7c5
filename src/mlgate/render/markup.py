"""Text that is safe to show, and numbers as people read them: the escaping and formatting
every renderer (report, card, history) and the CI annotations share. No jinja2 here.

Everything that comes from a pull request (names, refs, values, paths, messages) is
untrusted: it reaches markdown only through ``md_escape`` and a terminal only through
``plain``.
"""

from __future__ import annotations

import json
import math
import re
import unicodedata
import urllib.parse
from collections.abc import Callable, Mapping
from typing import Any

from mlgate.core.metrics import RUNTIME_METRICS
from mlgate.core.units import fmt_size

VALUE_WIDTH = 80  # a longer param value is cut with "…"


# Line breaks (and tabs, which the text template uses as its column separator) become spaces.
_BREAKS = re.compile(r"\r\n|[\r\n\t\v\f\x85\u2028\u2029]")


# Control characters (terminal escapes) and bidi overrides (text that reads differently than
# it is, "Trojan Source") are dropped.
_INVISIBLE = re.compile("[\x00-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")


_HTML = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}


# Inline markdown: code, emphasis, links/images/footnotes, table cells, strikethrough, math.
_MD_PUNCT = re.compile(r"([\\`*_\[\]|~$])")


# Block markers (heading, list item, setext underline, thematic break) that would matter if
# a template put the value at the start of a line. "#123" and "-1" are left alone.
_MD_LEADING_MARK = re.compile(r"^([#+=-])(?=[\s#+=-]|$)")


_MD_LEADING_NUMBER = re.compile(r"^(\d{1,9})([.)])(?=\s|$)")


def _one_line(value: object) -> str:
    return _INVISIBLE.sub("", _BREAKS.sub(" ", str(value))).strip()


def md_escape(value: object) -> str:
    """``value`` as literal markdown text, safe anywhere inline, including a table cell.

    HTML and markdown syntax are escaped, autolinks broken, and ``@`` followed by a zero-width
    space so GitHub does not notify anyone. None is shown as "—".
    """
    if value is None:
        return "—"
    text = re.sub(r"[&<>]", lambda m: _HTML[m[0]], _one_line(value))
    text = _MD_PUNCT.sub(r"\\\1", text)
    text = _MD_LEADING_MARK.sub(r"\\\1", text)
    text = _MD_LEADING_NUMBER.sub(r"\1\\\2", text)
    # GFM autolinks "scheme://" and "www." in plain text; an escaped ":" or "." is not matched.
    text = text.replace("://", "\\://")
    text = re.sub(r"(?i)(www)\.", r"\1\\.", text)
    return text.replace("@", "@\u200b")


def plain(value: object) -> str:
    """``value`` as one line of terminal text, without control characters. None is "—"."""
    return "—" if value is None else _one_line(value)


def safe_url(url: str | None) -> str | None:
    """An http(s) URL usable as a markdown link target, or None."""
    if not url:
        return None
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return None
    # Percent-encode what could end the link target: spaces, parentheses, quotes, <, >.
    return urllib.parse.quote(url, safe=":/?#[]@!$&'*+,;=%~")


def missing(value: object) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def fmt_number(value: float) -> str:
    """A score: 4 decimals in the usual range, scientific when tiny or huge."""
    magnitude = abs(value)
    if magnitude == 0:
        return "0"
    if magnitude < 1e-4 or magnitude >= 1e9:
        return f"{value:.3e}"
    if magnitude >= 1e4:
        return f"{value:,.1f}"
    return f"{value:.4f}"


def fmt_seconds(seconds: float) -> str:
    """A duration: ``850 µs``, ``120 ms``, ``4.25 s``, ``2 min 5 s``, ``1 h 3 min``."""
    magnitude = abs(seconds)
    if magnitude < 1e-3:
        return f"{seconds * 1e6:.0f} µs"
    if magnitude < 1:
        return f"{seconds * 1e3:.0f} ms"
    if magnitude < 10:
        return f"{seconds:.2f} s"
    if magnitude < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(round(magnitude), 60)
    if minutes < 60:
        return f"{minutes} min {secs} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min"


_UNIT_FORMATS: dict[str, Callable[[float], str]] = {
    "s": fmt_seconds,
    "bytes": fmt_size,
}


def fmt_metric(value: float | None, name: str = "", *, signed: bool = False) -> str:
    """A metric value (or change) in the metric's unit: seconds and bytes read as such."""
    if missing(value):
        return "—"
    assert value is not None
    body = _UNIT_FORMATS.get(RUNTIME_METRICS.get(name, ""), fmt_number)(abs(value))
    sign = "-" if value < 0 and body != "0" else "+" if signed and value > 0 else ""
    return sign + body


def fmt_delta(value: float | None, name: str = "") -> str:
    return fmt_metric(value, name, signed=True)


def fmt_change(row: Mapping[str, Any]) -> str:
    """A report row's change with its noise, when it has an interval: ``+0.0056 ± 0.011``
    (± half the interval's width, two significant digits)."""
    text = fmt_delta(row["delta"], row["name"])
    interval = row.get("interval")  # absent in results saved by an older mlgate
    if missing(row["delta"]) or not interval:
        return text
    half = (interval["high"] - interval["low"]) / 2
    return f"{text} ± {half:,.0f}" if half >= 100 else f"{text} ± {half:.2g}"


def fmt_spread(row: Mapping[str, Any], side: str) -> str:
    """A side's spread over ``model.repeats`` after its mean: `` ± 0.0041 (n=3)``; "" for a
    side trained once (or a result saved before repeats existed)."""
    spread = (row.get("spread") or {}).get(side)
    if not spread or spread["n"] < 2:
        return ""
    return f" ± {fmt_metric(spread['std'], row['name'])} (n={spread['n']})"


def fmt_pct(value: float | None) -> str:
    return "—" if missing(value) else f"{value:+.2f}%"


def fmt_thousands(value: int | None) -> str:
    return "—" if value is None else f"{value:,}"


def fmt_optional(value: float | None, unit: str) -> str:
    """A run detail that may be unknown: ``fmt_optional(3.2, "s")`` is ``3.20 s``."""
    if value is None or missing(value):
        return "—"
    return _UNIT_FORMATS[unit](value)


def fmt_value(value: object) -> str:
    """A param value as JSON (so "200" and 200 differ), cut at VALUE_WIDTH characters."""
    text = json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)
    return text if len(text) <= VALUE_WIDTH else text[: VALUE_WIDTH - 1] + "…"


def short(value: str | None, length: int = 8) -> str | None:
    return None if value is None else value[:length]


_ANSI = re.compile(r"\x1b\[[0-9;]*m")


_STYLES = {"green": "32", "red": "31", "yellow": "33", "bold": "1", "dim": "2"}


def _width(text: str) -> int:
    """Terminal columns: ANSI codes take none, wide (CJK) characters two."""
    return sum(
        0 if unicodedata.combining(c) else 2 if unicodedata.east_asian_width(c) in "WF" else 1
        for c in _ANSI.sub("", text)
    )


def _pad(cell: str, width: int, align: str) -> str:
    fill = " " * (width - _width(cell))
    return fill + cell if align == "r" else cell + fill


def text_columns(block: str, align: str = "") -> str:
    """Align a block of TAB-separated rows; ``align`` has "l" or "r" per column."""
    rows = [line.split("\t") for line in block.split("\n") if line.strip()]
    count = max(len(row) for row in rows)
    rows = [row + [""] * (count - len(row)) for row in rows]
    widths = [max(_width(row[i]) for row in rows) for i in range(count)]
    return "\n".join(
        "  ".join(_pad(cell, widths[i], align[i : i + 1]) for i, cell in enumerate(row)).rstrip()
        for row in rows
    )


def painter(color: bool) -> Callable[[object, str], str]:
    def paint(text: object, style: str = "") -> str:
        if not color or not style or text == "":
            return str(text)
        return f"\x1b[{_STYLES[style]}m{text}\x1b[0m"

    return paint
