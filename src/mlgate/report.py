"""The report: one CheckResult as markdown (the PR comment), text (the terminal) or JSON.

Markdown and text come from Jinja2 templates in ``templates/``. The templates see the JSON
document (``CheckResult.to_dict()``) as ``report``, so ``schema/report.schema.json``
documents the template context as well as ``--format json``. Everything that comes from the
pull request (names, refs, values, paths, messages) is untrusted: templates pass it through
``md`` (markdown) or ``plain`` (terminal) before it reaches the output, and numbers through
the formatting filters below.
"""

from __future__ import annotations

import functools
import json
import math
import re
import unicodedata
import urllib.parse
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import jinja2
from jinja2.sandbox import SandboxedEnvironment

from mlgate.errors import ConfigError
from mlgate.metrics import RUNTIME_METRICS
from mlgate.results import CheckResult, UserTemplate
from mlgate.templating import template_dir
from mlgate.units import fmt_size

MARKER = "<!-- mlgate:report model={name} -->"
COMMENT_LIMIT = 65536  # GitHub's maximum comment body, in characters

Format = Literal["text", "markdown", "json"]

# Shrinking steps when the markdown is over the limit, after the run details are dropped:
# params/data rows (and column names per cell) shown before "… and K more".
ROW_LIMITS: tuple[int, ...] = (50, 20, 5)
COLUMN_NAMES_SHOWN = 50  # column names listed per data-diff cell when rows are not limited
VALUE_WIDTH = 80  # a longer param value is cut with "…"

_MARKDOWN_TEMPLATE = "report.md.j2"
_TEXT_TEMPLATE = "report.txt.j2"


def marker(model: str) -> str:
    """The first line of the model's PR comment: the forge finds the comment to edit by it."""
    # Config validation allows only [a-z0-9._-]; anything else must not close the comment.
    return MARKER.format(name=re.sub(r"[^A-Za-z0-9._-]", "_", model))


def render(
    result: CheckResult,
    fmt: Format,
    *,
    color: bool = False,
    template: Path | None = None,
    limit: int = COMMENT_LIMIT,
    run_url: str | None = None,
) -> str:
    """Render ``result`` as ``fmt``.

    ``template`` overrides the markdown template; without it, the head side's
    ``report.template`` (``result.report_template``) does, if set.
    Markdown stays within ``limit`` characters: over it, the run details are left out, then
    the params and data tables are cut to ROW_LIMITS rows, then whole lines are cut from the
    end with a note; the marker, headline and failed rules come first and stay. ``run_url``
    (the CI run) is linked from the run details and from that note. ``color`` adds ANSI
    colours to text. Raises ConfigError when a user template is missing or broken.
    """
    user = _read_template(template) if template else result.report_template
    return render_document(
        result.to_dict(), fmt, color=color, template=user, limit=limit, run_url=run_url
    )


def render_document(
    document: Mapping[str, Any],
    fmt: Format,
    *,
    color: bool = False,
    template: UserTemplate | None = None,
    limit: int = COMMENT_LIMIT,
    run_url: str | None = None,
) -> str:
    """Render a report document (``CheckResult.to_dict()``, e.g. a saved result that was
    validated against ``report.schema.json``) as ``fmt``; see ``render``."""
    report = _json_safe(document)
    if fmt == "json":
        return json.dumps(report, indent=2, sort_keys=False, default=str)
    if fmt == "markdown":
        return _render_markdown(report, template=template, limit=limit, run_url=run_url)
    if fmt == "text":
        env = _environment(color=color)
        return tidy(env.get_template(_TEXT_TEMPLATE).render(_context(report, run_url=run_url)))
    raise ValueError(f"unknown report format {fmt!r}; expected text, markdown or json")


# --- escaping --------------------------------------------------------------------------

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


def _safe_url(url: str | None) -> str | None:
    """An http(s) URL usable as a markdown link target, or None."""
    if not url:
        return None
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return None
    # Percent-encode what could end the link target: spaces, parentheses, quotes, <, >.
    return urllib.parse.quote(url, safe=":/?#[]@!$&'*+,;=%~")


# --- numbers -----------------------------------------------------------------------------


def _missing(value: object) -> bool:
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
    if _missing(value):
        return "—"
    assert value is not None
    body = _UNIT_FORMATS.get(RUNTIME_METRICS.get(name, ""), fmt_number)(abs(value))
    sign = "-" if value < 0 and body != "0" else "+" if signed and value > 0 else ""
    return sign + body


def fmt_delta(value: float | None, name: str = "") -> str:
    return fmt_metric(value, name, signed=True)


def fmt_pct(value: float | None) -> str:
    return "—" if _missing(value) else f"{value:+.2f}%"


def fmt_thousands(value: int | None) -> str:
    return "—" if value is None else f"{value:,}"


def fmt_optional(value: float | None, unit: str) -> str:
    """A run detail that may be unknown: ``fmt_optional(3.2, "s")`` is ``3.20 s``."""
    if value is None or _missing(value):
        return "—"
    return _UNIT_FORMATS[unit](value)


def fmt_value(value: object) -> str:
    """A param value as JSON (so "200" and 200 differ), cut at VALUE_WIDTH characters."""
    text = json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)
    return text if len(text) <= VALUE_WIDTH else text[: VALUE_WIDTH - 1] + "…"


def short(value: str | None, length: int = 8) -> str | None:
    return None if value is None else value[:length]


# --- small template helpers -----------------------------------------------------------------


def md_trend(row: Mapping[str, Any]) -> str:
    """The Δ cell: ▲/▼ for the direction of the change, 🟢/🔴 for better/worse."""
    delta = row["delta"]
    if _missing(delta):
        return "—"
    arrow = "▲ " if delta > 0 else "▼ " if delta < 0 else ""
    mark = {True: " 🟢", False: " 🔴"}.get(row["better"], "")
    return f"{arrow}{fmt_delta(delta, row['name'])}{mark}"


def result_icon(passed: bool | None) -> str:
    if passed is None:
        return "—"
    return "✅" if passed else "❌"


def clip(items: Sequence[str], limit: int | None) -> list[str]:
    """At most ``limit`` items, then "… and K more"."""
    if limit is None or len(items) <= limit:
        return list(items)
    return [*items[:limit], f"… and {len(items) - limit:,} more"]


def retyped(columns: Sequence[Mapping[str, str]]) -> list[str]:
    return [f"{c['name']} ({c['old']} → {c['new']})" for c in columns]


def sides(change: Mapping[str, Any], key: str) -> tuple[Any, Any]:
    """``key`` of a data change's old and new summaries (None where a side or, in a result
    saved by an older mlgate, the key is absent)."""
    old, new = change["old"], change["new"]
    return (None if old is None else old.get(key), None if new is None else new.get(key))


# --- text layout ---------------------------------------------------------------------------

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


def _painter(color: bool) -> Callable[[object, str], str]:
    def paint(text: object, style: str = "") -> str:
        if not color or not style or text == "":
            return str(text)
        return f"\x1b[{_STYLES[style]}m{text}\x1b[0m"

    return paint


# --- environment and context -------------------------------------------------------------


def markdown_environment() -> SandboxedEnvironment:
    """The sandboxed environment of the built-in templates, with the report's filters (``md``,
    ``metric``, ``delta``, ``pct``, ``value``, ``short``, ``optional``, ``trend``, ...): other
    markdown rendered from ``templates/`` (the model card) escapes the same way."""
    return _environment(color=False)


@functools.lru_cache(maxsize=2)
def _environment(*, color: bool) -> SandboxedEnvironment:
    # Sandboxed: a report template may come from the pull request (report.template).
    env = SandboxedEnvironment(
        loader=jinja2.FileSystemLoader(str(template_dir())),
        undefined=jinja2.StrictUndefined,
        autoescape=False,  # markdown is not HTML: escaping is explicit, with md_escape
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters.update(
        md=md_escape,
        plain=plain,
        metric=fmt_metric,
        delta=fmt_delta,
        pct=fmt_pct,
        thousands=fmt_thousands,
        optional=fmt_optional,
        value=fmt_value,
        short=short,
        trend=md_trend,
        result_icon=result_icon,
        clip=clip,
        retyped=retyped,
        sides=sides,
        columns=text_columns,
        paint=_painter(color),
    )
    return env


def _json_safe(value: Any) -> Any:
    """NaN and infinities become null: JSON has no such numbers."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, Mapping):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    return value


def _base_own_rows(report: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Same-data only: the base model on its own test data next to it on head's."""
    base, on_head = report["base"], report["base_on_head_data"]
    if on_head is None or base is None:
        return []
    names = [m["name"] for m in report["metrics"]]
    names += [n for n in base["metrics"] if n not in names]
    return [{"name": n, "own": base["metrics"].get(n), "on_head": on_head.get(n)} for n in names]


def _context(
    report: dict[str, Any],
    *,
    show_details: bool = True,
    max_rows: int | None = None,
    run_url: str | None = None,
    limit: int = COMMENT_LIMIT,
) -> dict[str, Any]:
    sides = [s for s in (report["base"], report["head"]) if s is not None]
    test = report["head"]["data"].get("test")
    skipped: dict[str, int] = {}
    for check in report["skipped_rules"]:
        skipped[check["metric"]] = skipped.get(check["metric"], 0) + 1
    return {
        "report": report,
        "marker": marker(report["model"]),
        "headline": report["metrics"][0] if report["metrics"] else None,
        "test_rows": None if test is None else test["rows"],
        "sides": sides,
        "versions": sorted({lib for side in sides for lib in side["versions"]}),
        "base_own": _base_own_rows(report),
        "skipped_by_metric": skipped,
        "show_details": show_details,
        "max_rows": max_rows,
        "column_limit": COLUMN_NAMES_SHOWN if max_rows is None else max_rows,
        "run_url": _safe_url(run_url),
        "limit": limit,
    }


def tidy(text: str) -> str:
    """Optional sections leave blank lines behind: keep at most one between blocks."""
    return re.sub(r"\n{3,}", "\n\n", text).strip("\n") + "\n"


# --- markdown: user template, size limit ---------------------------------------------------


def _markdown_template(template: UserTemplate | None) -> jinja2.Template:
    env = _environment(color=False)
    if template is None:
        return env.get_template(_MARKDOWN_TEMPLATE)
    try:
        return env.from_string(template.source)
    except jinja2.TemplateSyntaxError as e:
        msg = f"template syntax error: {e.message}"
        raise ConfigError(msg, file=template.name, line=e.lineno, key="report.template") from e


def _read_template(path: Path) -> UserTemplate:
    try:
        return UserTemplate(name=str(path), source=path.read_text(encoding="utf-8"))
    except OSError as e:
        msg = f"cannot read the report template ({e.strerror or e})"
        raise ConfigError(msg, file=str(path), key="report.template") from e


def _render_template(
    tmpl: jinja2.Template, context: dict[str, Any], source: UserTemplate | None
) -> str:
    try:
        return tidy(tmpl.render(context))
    except jinja2.TemplateError as e:
        if source is None:
            raise  # a bug in a built-in template: let it show
        msg = f"the report template failed: {e.message or e}"
        raise ConfigError(msg, file=source.name, key="report.template") from e


def _render_markdown(
    report: dict[str, Any], *, template: UserTemplate | None, limit: int, run_url: str | None
) -> str:
    tmpl = _markdown_template(template)

    def attempt(show_details: bool, max_rows: int | None) -> str:
        context = _context(
            report, show_details=show_details, max_rows=max_rows, run_url=run_url, limit=limit
        )
        return _with_marker(_render_template(tmpl, context, template), marker(report["model"]))

    text = attempt(True, None)
    # Shrink step by step: run details first, then long params/data tables.
    for max_rows in (None, *ROW_LIMITS):
        if len(text) <= limit:
            return text
        text = attempt(False, max_rows)
    return text if len(text) <= limit else _truncate(text, limit, run_url)


def _with_marker(text: str, line: str) -> str:
    # The forge finds the comment by its first line: a custom template cannot drop it, or
    # every push would post a new comment.
    return text if text.startswith(line + "\n") else f"{line}\n{text}"


def truncation_note(limit: int, run_url: str | None) -> str:
    url = _safe_url(run_url)
    note = f"✂️ Report truncated at {limit:,} characters"
    if url is None:
        return f"**{note}.**"
    return f"**{note}; full report: [{md_escape(url)}]({url})**"


def _truncate(text: str, limit: int, run_url: str | None) -> str:
    """Cut whole lines from the end and say so. The top (marker, headline, failed rules)
    stays; a limit too small even for the note gets a plain cut."""
    note = "\n\n" + truncation_note(limit, run_url) + "\n"
    budget = limit - len(note)
    cut = text.rfind("\n", 0, budget + 1)
    if cut <= 0:
        return text[:limit]
    kept = text[:cut]
    # An unclosed <details> would swallow the note.
    opened = kept.rfind("<details>")
    if opened > kept.rfind("</details>"):
        kept = kept[:opened]
    return kept.rstrip("\n") + note
