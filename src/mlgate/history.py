"""``mlgate history``: the promoted versions of a model, read from its annotated tags.

Every promotion or rollback leaves an annotated tag whose message ends with a JSON block
(``production.tag_message``), so the whole history is one ``git for-each-ref`` call: no
checkout, no per-version ``git show``, fast with thousands of versions. Tags that only look
like ours (lightweight, foreign message, another model, a malformed block) are skipped.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal, TypeVar

from mlgate import production
from mlgate.errors import GitError
from mlgate.git import run_git
from mlgate.report import fmt_metric, md_escape, plain, text_columns

Format = Literal["text", "markdown", "json"]
T = TypeVar("T")

CHART_POINTS = 60  # GitHub draws more points, but their x labels stop being readable

# One record per tag, fields separated by NUL: no field can hold a NUL (git prints each
# field as a C string), unlike a newline or any printable separator a message could carry.
# lstrip=2 rather than :short, which turns into "tags/<name>" when a branch has the same name.
_FIELDS = (
    "%(objecttype)",
    "%(refname:lstrip=2)",
    "%(*objecttype)",
    "%(*objectname)",
    "%(taggerdate:iso-strict)",
    "%(contents:signature)",
    "%(contents)",
)
_FORMAT = "%00".join(_FIELDS) + "%00"


@dataclass(frozen=True)
class Version:
    """One promoted version: a tag on the production branch and its JSON block."""

    version: int
    tag: str
    kind: str  # "promotion" | "rollback"
    rollback_of: int | None
    source_commit: str  # the commit the model was trained from
    pull_request: int | None
    metrics: dict[str, float]
    headline_metric: str | None
    time: str  # ISO 8601
    commit: str  # the production-branch commit the tag points to


@dataclass(frozen=True)
class _Ref:
    """One ``git for-each-ref`` record."""

    type: str
    name: str
    target_type: str
    target: str
    tagger_date: str
    signature: str
    message: str


def list_versions(
    root: Path, model: str, *, tag_template: str = production.DEFAULT_TAG
) -> list[Version]:
    """Every promoted version of ``model`` in the repository at ``root``, oldest first."""
    pattern = production.tag_pattern(tag_template, model)
    versions = []
    for ref in _tag_refs(root, production.tag_glob(tag_template, model)):
        match = pattern.match(ref.name)
        if match is None or ref.type != "tag" or ref.target_type != "commit":
            continue  # another template's look-alike, a lightweight or a nested tag
        version = _version(ref, model, match.group(1))
        if version is not None:
            versions.append(version)
    return sorted(versions, key=lambda v: v.version)


def _tag_refs(root: Path, glob: str) -> list[_Ref]:
    args = ["for-each-ref", "--sort=version:refname", f"--format={_FORMAT}", glob]
    try:
        out = run_git(args, root)
    except UnicodeDecodeError as e:  # run_git decodes strictly; mlgate writes UTF-8 only
        raise GitError(
            f"a tag matching {glob} in {root} has a message that is not UTF-8, so it is not "
            "one mlgate wrote; delete or re-create that tag and run mlgate history again"
        ) from e
    return _parse_records(out, glob, root)


def _parse_records(out: str, glob: str, root: Path) -> list[_Ref]:
    # Each record ends with the format's trailing NUL, then git's newline, which therefore
    # starts the next record's first field.
    tokens = out.split("\0")
    width = len(_FIELDS)
    if len(tokens) % width != 1 or tokens[-1].strip():
        raise GitError(f"git for-each-ref {glob} in {root} printed output mlgate cannot read")
    records = (tokens[i : i + width] for i in range(0, len(tokens) - 1, width))
    return [_Ref(fields[0].lstrip("\n"), *fields[1:]) for fields in records]


def _version(ref: _Ref, model: str, number: str) -> Version | None:
    """The version a tag describes, or None when its block is not one mlgate wrote."""
    try:
        block = production.parse_tag_message(ref.message.removesuffix(ref.signature))
        version = int(number)
    except (RecursionError, ValueError):  # a JSON bomb, or more digits than int() takes
        return None
    if block is None or block.get("model") != model or block.get("version") != version:
        return None
    try:
        return _from_block(block, ref)
    except (TypeError, ValueError):
        return None


def _from_block(block: Mapping[str, Any], ref: _Ref) -> Version:
    """Raises TypeError or ValueError for a field that does not have the shape we write."""
    kind = block.get("kind")
    if kind not in ("promotion", "rollback"):
        raise ValueError(f"unknown kind {kind!r}")
    return Version(
        version=_positive(block["version"]),
        tag=ref.name,
        kind=kind,
        rollback_of=_optional(block.get("rollback_of"), _positive),
        source_commit=_string(block.get("source_commit")),
        pull_request=_optional(block.get("pull_request"), _positive),
        metrics=_metrics(block.get("metrics")),
        headline_metric=_optional(block.get("headline_metric"), _string),
        time=_time(block.get("time"), ref.tagger_date),
        commit=ref.target,
    )


def _positive(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"not a positive integer: {value!r}")
    return value


def _string(value: object) -> str:
    if not isinstance(value, str):
        raise TypeError(f"not a string: {value!r}")
    return value


def _optional(value: object, convert: Callable[[object], T]) -> T | None:
    return None if value is None else convert(value)


def _metrics(value: object) -> dict[str, float]:
    if not isinstance(value, dict):
        raise TypeError(f"metrics is not an object: {value!r}")
    metrics: dict[str, float] = {}
    for name, number in value.items():
        if isinstance(number, bool) or not isinstance(number, (int, float)):
            raise TypeError(f"metric {name!r} is not a number: {number!r}")
        metrics[name] = float(number)
    return metrics


def _time(value: object, tagger_date: str) -> str:
    """The promotion time from the block; the tagger date when the block's is unreadable."""
    if isinstance(value, str) and _parse_time(value) is not None:
        return value
    return tagger_date


def _parse_time(value: str) -> datetime | None:
    try:  # Python 3.10's fromisoformat does not read a trailing "Z"
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


# --- rendering -------------------------------------------------------------------------------


def render(versions: Sequence[Version], model: str, fmt: Format) -> str:
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


def chart_metric(versions: Sequence[Version]) -> str | None:
    """The metric the table and chart show: the current (latest) version's headline one."""
    if not versions:
        return None
    latest = versions[-1]
    return latest.headline_metric or min(latest.metrics, default=None)


def _value(version: Version, metric: str | None) -> float | None:
    value = version.metrics.get(metric) if metric is not None else None
    return value if value is not None and math.isfinite(value) else None


def _date(time: str) -> str | None:
    """``2024-05-01 10:00 UTC``, or None when ``time`` is not ISO 8601."""
    parsed = _parse_time(time)
    try:
        return None if parsed is None else f"{parsed.astimezone(timezone.utc):%Y-%m-%d %H:%M} UTC"
    except OverflowError:  # year 1 at a positive offset is year 0 in UTC
        return None


def _source(version: Version) -> str:
    sha = version.source_commit[:7]
    return f"{sha} #{version.pull_request}" if version.pull_request is not None else sha


def _note(version: Version) -> str:
    return f"rollback of v{version.rollback_of}" if version.rollback_of is not None else ""


def _summary(versions: Sequence[Version]) -> str:
    count = len(versions)
    return f"{count:,} version{'s' if count != 1 else ''}, current v{versions[-1].version}"


def _render_text(versions: Sequence[Version], model: str) -> str:
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


def _render_markdown(versions: Sequence[Version], model: str) -> str:
    heading = f"## Promoted versions of {md_escape(model)}\n\n"
    if not versions:
        return f"{heading}No promoted versions of {md_escape(model)} yet.\n"
    metric = chart_metric(versions)
    parts = [heading, f"{_summary(versions)}.\n\n", _markdown_table(versions, metric)]
    chart = _mermaid_chart(versions, model, metric)
    if chart:
        parts.append(f"\n### {md_escape(metric)} over versions\n\n{chart}")
    return "".join(parts)


def _markdown_table(versions: Sequence[Version], metric: str | None) -> str:
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


def _mermaid_chart(versions: Sequence[Version], model: str, metric: str | None) -> str:
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


def _render_json(versions: Sequence[Version], model: str) -> str:
    document = {"model": model, "versions": [_json_safe(asdict(v)) for v in versions]}
    return json.dumps(document, indent=2, allow_nan=False) + "\n"


def _json_safe(value: Any) -> Any:
    """NaN and infinities become null: JSON has no such numbers."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {key: _json_safe(item) for key, item in value.items()}
    return value
