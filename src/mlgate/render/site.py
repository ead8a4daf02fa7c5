"""The pages of ``mlgate site``: HTML from ``templates/site/`` (Jinja2, autoescaped) and
static SVG charts (render.svg), as {relative path: bytes}. Pure: commands.site reads git.

Every value read from the repository (model and metric names, commit messages, card text,
note records) reaches a page only through Jinja's HTML autoescaping; file and anchor names
are made by mlgate (``model_slug``, version numbers, commit shas), never taken as given.
Pages load nothing from elsewhere: one stylesheet beside them, no script.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from mlgate.core import production
from mlgate.core.metrics import flatten
from mlgate.render import svg
from mlgate.render.history import chart_metric, display_date
from mlgate.render.history import render as render_history
from mlgate.render.markup import fmt_metric
from mlgate.render.templates import bytecode_cache, template_dir

if TYPE_CHECKING:
    import jinja2

MAX_CHARTS = 12  # per model and kind: a hostile note may name thousands of metrics
_SLUG = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")


@dataclass(frozen=True)
class VersionInfo:
    """One production version with what its production commit holds."""

    version: production.Version
    lineage: production.Lineage | None  # None: lineage.json is missing or unreadable
    card: str | None
    rows: dict[str, int] = field(default_factory=dict)  # role -> rows, from the run record


@dataclass(frozen=True)
class Evaluated:
    """A commit of the default branch with run records in its git note."""

    commit: str
    subject: str
    time: str
    records: dict[str, dict[str, Any]]  # model -> validated run record


@dataclass(frozen=True)
class ModelInfo:
    name: str
    versions: list[VersionInfo]  # oldest first, as history lists them
    gated: tuple[str, ...] = ()  # the gate's metrics (the configured model's), charted first


@dataclass(frozen=True)
class SiteData:
    title: str
    default_branch: str | None
    models: list[ModelInfo]
    evaluated: list[Evaluated]  # oldest first
    stamp: str = ""


def model_slug(name: str) -> str:
    """A model's directory in the site: its name when that is a plain file name, else a
    hash of it (a name is anyone's to choose: ``..``, ``/``, markup)."""
    if _SLUG.fullmatch(name) and name not in (".", ".."):
        return name
    return "model-" + hashlib.sha256(name.encode("utf-8", "surrogatepass")).hexdigest()[:16]


def render(data: SiteData) -> dict[str, bytes]:
    """Every file of the site: {path relative to the site's root: content}."""
    env = _environment()
    files: dict[str, bytes] = {"style.css": (template_dir() / "site" / "style.css").read_bytes()}

    def page(path: str, template: str, **context: Any) -> None:
        depth = path.count("/")
        html = env.get_template(template).render(root="../" * depth, site=data, **context)
        files[path] = html.encode("utf-8")

    summaries = [_model_summary(m, data.evaluated) for m in data.models]
    page("index.html", "index.html.j2", models=summaries)
    for model, summary in zip(data.models, summaries, strict=True):
        base = f"models/{summary['slug']}"
        evaluated = [(e, e.records[model.name]) for e in data.evaluated if model.name in e.records]
        page(f"{base}/index.html", "model.html.j2", **_model_page(model, summary, evaluated))
        history = render_history([v.version for v in model.versions], model.name, "json")
        files[f"{base}/history.json"] = history.encode("utf-8")
        for info in model.versions:
            page(
                f"{base}/v{info.version.version}.html",
                "version.html.j2",
                **_version_page(model, info),
            )
    slugs = {m.name: s["slug"] for m, s in zip(data.models, summaries, strict=True)}
    buckets: dict[str, list[Evaluated]] = {}
    for commit in data.evaluated:  # newest first on each page
        buckets.setdefault(commit.commit[:2], []).insert(0, commit)
    for prefix, commits in sorted(buckets.items()):
        pages = [_commit_page(commit, slugs) for commit in commits]
        page(f"commits/{prefix}.html", "commits.html.j2", prefix=prefix, commits=pages)
    return files


def commit_href(sha: str) -> str:
    """Where a commit's run records are, from the site's root. Commits share a page per
    first two hex digits (at most 256 files for any number of them: writing and removing
    thousands of small files would cost more than rendering them)."""
    return f"commits/{sha[:2]}.html#c-{sha}"


def _environment() -> jinja2.Environment:
    import jinja2  # only when a site is built

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(template_dir() / "site"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        bytecode_cache=bytecode_cache("site"),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["metric"] = lambda value, name="": fmt_metric(value, name)
    env.filters["date"] = lambda time: display_date(time) or time
    env.filters["size"] = _size
    env.globals["commit_href"] = commit_href
    return env


def _size(count: int | None) -> str:
    if count is None:
        return "—"
    for unit in ("B", "KB", "MB", "GB"):
        if count < 1024 or unit == "GB":
            return f"{count:,} {unit}" if unit == "B" else f"{count:.1f} {unit}"
        count = count / 1024  # type: ignore[assignment]
    return str(count)


def _finite(value: float | None) -> float | None:
    return value if value is not None and math.isfinite(value) else None


def _charted(model: ModelInfo, evaluated: Sequence[tuple[Evaluated, dict[str, Any]]]) -> list[str]:
    """The gate's metrics when the versions or records have them, else every metric seen."""
    seen: dict[str, None] = {}
    for info in model.versions:
        seen.update(dict.fromkeys(info.version.metrics))
    for _, record in evaluated:
        seen.update(dict.fromkeys(record.get("metrics") or {}))
    gated = [m for m in model.gated if m in seen]
    return (gated or sorted(seen))[:MAX_CHARTS]


def _model_summary(model: ModelInfo, evaluated: Sequence[Evaluated]) -> dict[str, Any]:
    current = model.versions[-1].version if model.versions else None
    metric = chart_metric([v.version for v in model.versions])
    return {
        "name": model.name,
        "slug": model_slug(model.name),
        "count": len(model.versions),
        "current": current,
        "metric": metric,
        "value": None if current is None or metric is None else current.metrics.get(metric),
        "evaluated": sum(1 for e in evaluated if model.name in e.records),
    }


def _model_page(
    model: ModelInfo,
    summary: dict[str, Any],
    evaluated: Sequence[tuple[Evaluated, dict[str, Any]]],
) -> dict[str, Any]:
    metrics = _charted(model, evaluated)
    columns = list(dict.fromkeys(m for v in model.versions for m in v.version.metrics))
    charts = []
    for i, metric in enumerate(metrics):
        by_version = [
            (f"v{v.version.version}", value)
            for v in model.versions
            if (value := _finite(v.version.metrics.get(metric))) is not None
        ]
        by_commit = [
            (e.commit[:7], value)
            for e, record in evaluated
            if (value := _finite((record.get("metrics") or {}).get(metric))) is not None
        ]
        charts.append(
            {
                "metric": metric,
                "versions_svg": _markup(
                    svg.line_chart(
                        f"v-{i}", f"{model.name}: {metric} across versions", metric, by_version
                    )
                ),
                "commits_svg": _markup(
                    svg.line_chart(
                        f"c-{i}",
                        f"{model.name}: {metric} across evaluated commits",
                        metric,
                        by_commit,
                    )
                ),
            }
        )
    return {
        "model": summary,
        "versions": list(reversed(model.versions)),  # newest first, as people read them
        "columns": columns,
        "charts": charts,
        "evaluated": list(reversed(evaluated)),
        "record_metrics": metrics,
    }


def _markup(text: str) -> Any:
    from markupsafe import Markup  # with jinja2

    return Markup(text)  # render.svg escapes every label it writes


def _version_page(model: ModelInfo, info: VersionInfo) -> dict[str, Any]:
    lineage = info.lineage
    params: dict[str, Any] = {}
    data: list[dict[str, Any]] = []
    if lineage is not None:
        raw = lineage.config.get("model") if isinstance(lineage.config, Mapping) else None
        found = raw.get("params") if isinstance(raw, Mapping) else None
        params = flatten(found) if isinstance(found, Mapping) else {}
        data = [
            {"role": role, "ref": ref, "rows": info.rows.get(role)}
            for role, ref in sorted(lineage.data.items())
        ]
    return {
        "model": {"name": model.name, "slug": model_slug(model.name)},
        "info": info,
        "v": info.version,
        "lineage": lineage,
        "params": {k: json.dumps(v, sort_keys=True, default=str) for k, v in params.items()},
        "data": data,
        "current": model.versions[-1].version.version == info.version.version,
    }


def _commit_page(evaluated: Evaluated, slugs: Mapping[str, str]) -> dict[str, Any]:
    records = [
        {
            "model": name,
            "slug": slugs.get(name),
            "record": record,
            "metrics": record.get("metrics") or {},
            "rows": {
                role: ref["rows"]
                for role, ref in (record.get("data") or {}).items()
                if isinstance(ref.get("rows"), int)
            },
            "versions": record.get("versions") or {},
            # No indent: json's C encoder, ~5x faster than the indenting one in Python.
            "json": json.dumps(record, sort_keys=True, separators=(", ", ": ")),
        }
        for name, record in sorted(evaluated.records.items())
    ]
    return {"e": evaluated, "records": records}
