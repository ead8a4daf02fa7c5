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
import hashlib
import json
import math
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from mlgate.core.results import CheckResult, UserTemplate
from mlgate.core.units import shorten
from mlgate.errors import ConfigError
from mlgate.render import headline
from mlgate.render.charts import comparison_charts
from mlgate.render.markup import (
    fmt_change,
    fmt_delta,
    fmt_metric,
    fmt_optional,
    fmt_pct,
    fmt_spread,
    fmt_thousands,
    fmt_value,
    md_escape,
    missing,
    painter,
    plain,
    safe_url,
    short,
    text_columns,
)
from mlgate.render.templates import bytecode_cache, template_dir
from mlgate.storage.layout import Layout

if TYPE_CHECKING:  # jinja2 (~0.1 s to import) loads only when a report is rendered anew
    import jinja2
    from jinja2.sandbox import SandboxedEnvironment

MARKER = "<!-- mlgate:report model={name} -->"
COMMENT_LIMIT = 65536  # GitHub's maximum comment body, in characters

Format = Literal["text", "markdown", "json"]

# Shrinking steps when the markdown is over the limit, after the run details are dropped:
# params/data rows (and column names per cell) shown before "… and K more".
ROW_LIMITS: tuple[int, ...] = (50, 20, 5)
COLUMN_NAMES_SHOWN = 50  # column names listed per data-diff cell when rows are not limited

_MARKDOWN_TEMPLATE = "report.md.j2"  # the body, below the marker and the verdict
_VERDICT_TEMPLATES = ("report/headline.md.j2", "report/base.md.j2", "report/failed.md.j2")
CODE_FILES_SHOWN = 10  # changed code files listed before "… and N more"
# A section with more rows than this folds into <details> (its summary keeps the count):
# the first screen is the verdict, the metrics and the notes.
FOLD_ROWS = 5
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
    details: bool = True,
) -> str:
    """Render ``result`` as ``fmt``.

    ``template`` overrides the markdown template; without it, the head side's
    ``report.template`` (``result.report_template``) does, if set.
    Markdown stays within ``limit`` characters: over it, the run details are left out, then
    the params and data tables are cut to ROW_LIMITS rows, then whole lines are cut from the
    end with a note; the marker, headline and failed rules come first and stay. ``run_url``
    (the CI run) is linked from the run details and from that note. ``color`` adds ANSI
    colours to text; ``details=False`` leaves the text's run details out (a pre-push
    hook's short report). Raises ConfigError when a user template is missing or broken.
    """
    user = _read_template(template) if template else result.report_template
    return render_document(
        result.to_dict(),
        fmt,
        color=color,
        template=user,
        limit=limit,
        run_url=run_url,
        details=details,
    )


def render_document(
    document: Mapping[str, Any],
    fmt: Format,
    *,
    color: bool = False,
    template: UserTemplate | None = None,
    limit: int = COMMENT_LIMIT,
    run_url: str | None = None,
    details: bool = True,
) -> str:
    """Render a report document (``CheckResult.to_dict()``, e.g. a saved result that was
    validated against ``report.schema.json``) as ``fmt``; see ``render``."""
    report = _json_safe(document)
    if fmt == "json":
        return json.dumps(report, indent=2, sort_keys=False, default=str)
    if fmt not in ("markdown", "text"):
        raise ValueError(f"unknown report format {fmt!r}; expected text, markdown or json")
    # The same document renders to the same text: a check whose results and inputs did not
    # change (a warm check) prints what it printed last time, without loading jinja2.
    memo = Layout.current().memo
    key = _rendered_key(report, fmt, color, template, limit, run_url, details)
    if (known := memo.get(key)) is not None:
        return known.decode("utf-8")
    if fmt == "markdown":
        text = _render_markdown(report, template=template, limit=limit, run_url=run_url)
    else:
        env = _environment(color=color)
        context = _context(report, run_url=run_url, show_details=details)
        text = tidy(env.get_template(_TEXT_TEMPLATE).render(context))
    memo.put(key, text.encode("utf-8"))
    return text


def _rendered_key(
    report: Mapping[str, Any],
    fmt: str,
    color: bool,
    template: UserTemplate | None,
    limit: int,
    run_url: str | None,
    details: bool = True,
) -> str:
    """Everything the text depends on: the document, the options, the template sources."""
    from mlgate import __version__

    inputs = {
        "report": report,
        "format": fmt,
        "color": color,
        "template": None if template is None else [template.name, template.source],
        "limit": limit,
        "run_url": run_url,
        "details": details,
        "mlgate": __version__,
        "templates": _builtin_templates_digest(),
    }
    text = json.dumps(inputs, sort_keys=True, default=str).encode()
    return f"reports/{hashlib.sha256(text).hexdigest()}"


@functools.cache
def _builtin_templates_digest() -> str:
    """mlgate's own templates, by content (a source checkout may edit them)."""
    digest = hashlib.sha256()
    for path in sorted(template_dir().rglob("*.j2")):
        digest.update(path.relative_to(template_dir()).as_posix().encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()


# --- small template helpers -----------------------------------------------------------------


def md_trend(row: Mapping[str, Any]) -> str:
    """The Δ cell: ▲/▼ for the direction of the change, 🟢/🔴 for better/worse."""
    delta = row["delta"]
    if missing(delta):
        return "—"
    arrow = "▲ " if delta > 0 else "▼ " if delta < 0 else ""
    mark = {True: " 🟢", False: " 🔴"}.get(row["better"], "")
    within = " (within noise)" if row.get("noise") == "within noise" else ""
    return f"{arrow}{fmt_change(row)}{mark}{within}"


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


# --- environment and context -------------------------------------------------------------


def markdown_environment() -> SandboxedEnvironment:
    """The sandboxed environment of the built-in markdown templates, with the report's
    filters (``md``, ``metric``, ``delta``, ``pct``, ``value``, ``short``, ``optional``,
    ``trend``, ...): other markdown rendered from ``templates/`` (the model card) escapes the
    same way. Every value it prints goes through ``md_escape`` unless a filter (``md``) or
    ``verbatim`` already made it markdown."""
    return _environment(color=False, markdown=True)


def environment(*, color: bool = False, markdown: bool = False) -> SandboxedEnvironment:
    """The report's sandboxed environment and filters, for the other built-in templates
    (``mlgate monitor``'s): text (``color`` for ANSI) or markdown (escaping as above)."""
    return _environment(color=color, markdown=markdown)


def verbatim(text: str) -> str:
    """``text`` as markdown the markdown environment prints as is: only for markdown mlgate
    wrote or vouches for (a link target from ``safe_url``, the team's model-card section)."""
    from markupsafe import Markup

    return Markup(text)


class _Untrusted(str):
    """A string from the report document: escaped with ``md_escape`` wherever Jinja's
    autoescaping meets it, also when a template joins it to markdown (``~``, ``join``)."""

    __slots__ = ()

    def __html__(self) -> str:
        return md_escape(self)


def _untrusted(value: Any) -> Any:
    if isinstance(value, str):
        return _Untrusted(value)
    if isinstance(value, Mapping):
        return {_untrusted(k): _untrusted(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_untrusted(v) for v in value]
    return value


def _markdown(value: object) -> str:
    """The ``md`` filter of the markdown environment: escaped, and known to be so."""
    return verbatim(md_escape(value))


def _printed(value: object) -> object:
    """What a markdown template prints: markdown a filter made stays, the rest is escaped
    (autoescaping then leaves both alone), so a template that forgets ``| md`` is safe."""
    return value if hasattr(value, "__html__") else _markdown(value)


@functools.lru_cache(maxsize=3)
def _environment(*, color: bool, markdown: bool = False) -> SandboxedEnvironment:
    import jinja2
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    # Sandboxed, with the context read-only: a report template may come from the pull
    # request (report.template), and must neither reach out nor rewrite what it is shown.
    env = ImmutableSandboxedEnvironment(
        loader=jinja2.FileSystemLoader(str(template_dir())),
        bytecode_cache=bytecode_cache("markdown" if markdown else "color" if color else "plain"),
        undefined=jinja2.StrictUndefined,
        # Markdown is not HTML, but Jinja's autoescaping tracks what is already escaped the
        # same way: _printed escapes the rest with md_escape. Text is printed as it is.
        autoescape=markdown,
        finalize=_printed if markdown else None,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters.update(
        md=md_escape,
        plain=plain,
        metric=fmt_metric,
        delta=fmt_delta,
        change=fmt_change,
        spread=fmt_spread,
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
        paint=painter(color),
    )
    if markdown:
        # Jinja's own escaping is HTML's, and tojson's output would count as escaped.
        env.filters.update(md=_markdown, e=_markdown, escape=_markdown, forceescape=_markdown)
        env.filters["tojson"] = lambda value, indent=None: json.dumps(value, indent=indent)
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
        "headline": headline.decider(report),
        "surprise": headline.surprise(report),
        "deciding_rule": headline.deciding_rule(report),
        "test_rows": None if test is None else test["rows"],
        "sides": sides,
        "versions": sorted({lib for side in sides for lib in side["versions"]}),
        "base_own": _base_own_rows(report),
        "skipped_by_metric": skipped,
        "show_details": show_details,
        "max_rows": max_rows,
        "column_limit": COLUMN_NAMES_SHOWN if max_rows is None else max_rows,
        "run_url": safe_url(run_url),
        "limit": limit,
        "base_named": _base_named(report.get("base_choice")),
        "code_limit": CODE_FILES_SHOWN if max_rows is None else min(CODE_FILES_SHOWN, max_rows),
        "fold_rows": FOLD_ROWS,
    }


def _base_named(choice: Mapping[str, Any] | None) -> str | None:
    """The base as the report names it: ``1a2b3c4 (main)``; the sha alone when the ref is
    one (a result saved by an older mlgate has no choice: None)."""
    if choice is None:
        return None
    sha, ref = choice["sha"], choice["ref"]
    return sha[:7] if sha.startswith(ref) else f"{sha[:7]} ({ref})"


def tidy(text: str) -> str:
    """Optional sections leave blank lines behind: keep at most one between blocks."""
    return re.sub(r"\n{3,}", "\n\n", text).strip("\n") + "\n"


# --- markdown: user template, size limit ---------------------------------------------------


def _markdown_template(template: UserTemplate | None) -> jinja2.Template:
    import jinja2

    env = markdown_environment()
    if template is None:
        return env.get_template(_MARKDOWN_TEMPLATE)
    try:
        return env.from_string(template.source)
    except jinja2.TemplateSyntaxError as e:
        msg = f"template syntax error: {e.message}"
        raise ConfigError(msg, file=template.name, line=e.lineno, key="report.template") from e
    except Exception as e:  # e.g. RecursionError: expressions nested too deep to parse
        raise _template_failed(e, template) from e


def check_template(template: UserTemplate) -> None:
    """ConfigError (at the template's line) unless ``template`` compiles in the sandboxed
    environment reports are rendered in."""
    _markdown_template(template)


def _read_template(path: Path) -> UserTemplate:
    try:
        return UserTemplate(name=str(path), source=path.read_text(encoding="utf-8"))
    except OSError as e:
        msg = f"cannot read the report template ({e.strerror or e})"
        raise ConfigError(msg, file=str(path), key="report.template") from e


def _template_failed(e: Exception, template: UserTemplate) -> ConfigError:
    """Whatever a user template raised ({{ 1/0 }}, a type error, endless recursion, the
    sandbox saying no) is a config error, at the template's line when the traceback has it
    (Jinja rewrites its frames to the template's lines; from_string names them <template>)."""
    line = None
    tb = e.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == "<template>":
            line = tb.tb_lineno
        tb = tb.tb_next
    detail = getattr(e, "message", None) or f"{type(e).__name__}: {e}"
    msg = f"the report template failed: {detail}"
    return ConfigError(msg, file=template.name, line=line, key="report.template")


def _render_body(
    tmpl: jinja2.Template, context: dict[str, Any], source: UserTemplate | None
) -> str:
    try:
        text = tmpl.render(context)
    except Exception as e:
        if source is None:
            raise  # a bug in a built-in template: let it show
        raise _template_failed(e, source) from e
    # Templates written for older versions print the marker first: it is there already.
    text = text.lstrip("\n")
    return text[len(context["marker"]) :] if text.startswith(context["marker"]) else text


def _render_markdown(
    report: dict[str, Any], *, template: UserTemplate | None, limit: int, run_url: str | None
) -> str:
    """The marker, the verdict headline and the failed rules are mlgate's own, above the
    body (the built-in sections or the user's template), which cannot change or hide them."""
    env = markdown_environment()
    verdict = [env.get_template(name) for name in _VERDICT_TEMPLATES]
    body = _markdown_template(template)
    shown = _untrusted(report)
    line = marker(report["model"])
    url = safe_url(run_url)
    # Mermaid blocks mlgate wrote from safe-charset labels: printed as they are.
    charts = [
        {
            "block": verbatim(c.block),
            **{k: getattr(c, k) for k in ("metrics", "left_out", "total", "lower")},
        }
        for c in comparison_charts(report["model"], report["metrics"])
    ]

    def attempt(show_details: bool, max_rows: int | None) -> str:
        context = _context(
            shown, show_details=show_details, max_rows=max_rows, run_url=run_url, limit=limit
        )
        context.update(marker=verbatim(line), run_url=None if url is None else verbatim(url))
        context["charts"] = charts
        top = "\n".join(t.render(context) for t in verdict)
        # The blank line ends mlgate's blocks: nothing below can turn them into a table
        # header or a setext heading.
        return tidy(f"{line}\n{top}\n\n{_render_body(body, context, template)}")

    text = attempt(True, None)
    # Shrink step by step: run details first, then long params/data tables.
    for max_rows in (None, *ROW_LIMITS):
        if len(text) <= limit:
            return text
        text = attempt(False, max_rows)
    return text if len(text) <= limit else _truncate(text, limit, run_url)


def truncation_note(limit: int, run_url: str | None) -> str:
    url = safe_url(run_url)
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
    # An unclosed <details> would swallow the note, and so would an unclosed code block.
    opened = kept.rfind("<details>")
    if opened > kept.rfind("</details>"):
        kept = kept[:opened]
    fences = [m.start() for m in re.finditer(r"^```", kept, re.M)]
    if len(fences) % 2:
        kept = kept[: fences[-1]]
    return kept.rstrip("\n") + note


# --- the commit status ----------------------------------------------------------------------


def status_description(report: Mapping[str, Any]) -> str:
    """≤ 140 characters with the headline metric: ``accuracy 0.94 → 0.96 (+0.02); gate passed``.
    Takes the report document, so a saved result (``mlgate publish``) says the same."""
    failed = len(report["failed_rules"])
    verdict = "gate passed" if report["verdict"] == "pass" else f"gate failed ({failed} rule(s))"
    row = headline.decider(report)  # the number that decided it, as in the headline
    if row is None:
        return shorten(verdict)
    delta = "" if row["delta"] is None else f" ({row['delta']:+.4g})"
    base, head = row["base"], row["head"]
    figures = _figure(head) if base is None else f"{_figure(base)} → {_figure(head)}"
    return shorten(f"{row['name']} {figures}{delta}; {verdict}")


def _figure(value: float | None) -> str:
    return "—" if value is None else f"{value:.4g}"
