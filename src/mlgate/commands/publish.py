"""``mlgate publish RESULT.json``: post a saved result from a trusted workflow.

A pull request from a fork gets a read-only token, so its ``mlgate ci`` run cannot comment.
It saves ``mlgate-result.json`` as an artifact instead; a ``workflow_run`` workflow (base
repository code, write token) downloads it and runs ``mlgate publish``. The file came from
the fork's run, so it is untrusted data: size-capped, parsed strictly, validated against
``schema/result.schema.json``, rendered only with mlgate's own template and escaping, and
posted only if its head sha is the triggering run's head sha *and* the pull request's
current head on the forge. Nothing in it is executed or unpickled.

Nor does it decide anything (issue 11): the verdict is recomputed from its metrics with the
gate of the *default branch's* config (this workflow's checkout, never the artifact), the
model must be the one that config names, ``success`` is posted only for a run whose own
conclusion was ``success``, and the comment says the metrics are the fork's own report.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, replace
from functools import cache
from pathlib import Path
from typing import Any

from mlgate import git
from mlgate.core import config as config_mod
from mlgate.core import drift
from mlgate.core.config import Config
from mlgate.core.gate import Verdict, evaluate
from mlgate.core.metrics import MetricDelta, Noise, diff_metrics
from mlgate.core.results import verdict_fields
from mlgate.errors import ConfigError, DataError, UsageError
from mlgate.forge import ForgeError, upsert_comment
from mlgate.forge.env import FORGES, github_event
from mlgate.paths import package_file
from mlgate.render.report import marker, render_document, status_description
from mlgate.run import changes

MAX_RESULT_BYTES = 5 * 1024 * 1024


@dataclass(frozen=True)
class Published:
    pull_request: int
    head_sha: str
    verdict: str
    comment_created: bool
    skipped: str | None = None  # why nothing was posted (the pull request moved on)


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not valid JSON")


@cache
def _validator() -> Any:
    import jsonschema
    from referencing import Registry, Resource

    schemas = [
        json.loads(package_file("schema", name).read_text(encoding="utf-8"))
        for name in ("result.schema.json", "report.schema.json")
    ]
    registry = Registry().with_resources(
        (schema["$id"], Resource.from_contents(schema)) for schema in schemas
    )
    return jsonschema.Draft202012Validator(schemas[0], registry=registry)


def load_result(path: Path) -> dict[str, Any]:
    """The saved result, or ConfigError (exit 2) naming the file and what is wrong."""
    try:
        size = path.stat().st_size
    except OSError as e:
        raise DataError(f"cannot read {path}: {e.strerror}") from e
    if size > MAX_RESULT_BYTES:
        raise ConfigError(f"{size} bytes is more than a result may hold", file=str(path))
    try:
        document = json.loads(path.read_bytes(), parse_constant=_reject_constant)
        error = next(iter(sorted(_validator().iter_errors(document), key=lambda e: e.path)), None)
    except (ValueError, UnicodeDecodeError) as e:
        raise ConfigError(f"not a JSON result: {e}", file=str(path)) from e
    except RecursionError:  # [[[[…: no result is nested that deep
        raise ConfigError("not a JSON result: nested too deeply", file=str(path)) from None
    if error is not None:
        where = ".".join(str(p) for p in error.absolute_path) or "(top level)"
        raise ConfigError(f"not a valid mlgate result: {error.message}", file=str(path), key=where)
    return dict(document)


def _trusted_head(environ: Mapping[str, str]) -> tuple[str, str | None, str | None]:
    """The head sha, run URL and conclusion of the workflow run that produced the artifact."""
    if environ.get("GITHUB_EVENT_NAME") != "workflow_run":
        raise UsageError(
            "mlgate publish runs in a workflow triggered by workflow_run (it trusts that "
            "event, not the result file, for which commit to report on)"
        )
    run = github_event(environ).get("workflow_run") or {}
    sha = run.get("head_sha")
    if not isinstance(sha, str):
        raise UsageError("the workflow_run event has no head_sha")
    conclusion = run.get("conclusion")
    return sha, run.get("html_url"), conclusion if isinstance(conclusion, str) else None


def default_branch_config(cwd: Path, config_path: str) -> Config:
    """The config on the default branch of this checkout: the base repository's, which a
    fork cannot change. UsageError when there is none to judge the result by."""
    repo = git.open_repo(cwd)
    found = git.default_branch_tip(repo)
    if found is None:
        raise UsageError("cannot tell the default branch of this checkout to read the gate from")
    name, sha = found
    files = git.CommitFiles(repo, name, sha=sha)
    cfg = config_mod.load_at(files, git.config_path(cwd, config_path))
    if cfg is None:
        raise UsageError(f"{config_path} not found on {name}: the gate to judge the result by")
    return cfg


def regated(report: Mapping[str, Any], cfg: Config) -> dict[str, Any]:
    """The report with its verdict, rows' rules and failed/skipped rules recomputed from its
    own metric values by ``cfg``'s gate and metric directions; the artifact's claims about
    them are dropped."""
    rows = report["metrics"]
    have_base = report.get("comparison") != "no-baseline"
    base = {r["name"]: r["base"] for r in rows if r["base"] is not None} if have_base else None
    head = {r["name"]: r["head"] for r in rows if r["head"] is not None}
    names = list(dict.fromkeys([*(r["name"] for r in rows), *cfg.gate]))
    deltas = [
        _with_noise(d, rows, cfg) for d in diff_metrics(base, head, names, direction=cfg.direction)
    ]
    shown = [d for d in deltas if d.name in {r["name"] for r in rows}]
    found = report.get("changes")  # absent in results of mlgate versions before it
    why = "the result has no changes section (no paired predictions)"
    verdict = changes.gated(evaluate(cfg.gate, deltas), cfg, found, why)
    drifted = report.get("drift")  # absent in results of mlgate versions before it
    judged = None if drifted is None else drift.regated(drifted, cfg.drift_rule)
    verdict = Verdict((*verdict.checks, *drift.checks(judged, cfg.drift_rule)))
    extra = {} if judged is None else {"drift": judged.to_dict()}
    return {**report, **extra, **verdict_fields(shown, cfg.gate, verdict)}


def _with_noise(row: MetricDelta, rows: list[Mapping[str, Any]], cfg: Config) -> MetricDelta:
    """The artifact's interval for ``row``, only when it is at the level the default
    branch's gate asks for (a PR cannot lower the bar by computing at another level)."""
    found = next((r.get("interval") for r in rows if r["name"] == row.name), None)
    if not found:
        return row
    noise = Noise.from_dict(found)
    return replace(row, noise=noise) if noise.confidence == cfg.confidence_for(row.name) else row


def publish(
    path: Path,
    environ: Mapping[str, str],
    *,
    cwd: Path = Path("."),
    config_path: str = config_mod.DEFAULT_CONFIG,
) -> Published:
    """Validate the saved result, check it belongs to the triggering run, judge it by the
    default branch's gate, then post it."""
    document = load_result(path)
    head_sha, run_url, conclusion = _trusted_head(environ)
    if document["head_sha"] != head_sha:
        raise ForgeError(
            f"refusing to publish: {path} is for commit {document['head_sha'][:12]}, but the "
            f"workflow run was for {head_sha[:12]}"
        )
    number = document["pull_request"]
    if document["forge"] != "github":  # the trust above is a GitHub workflow_run event
        raise UsageError(
            f"{path} is a {document['forge']} result; mlgate publish posts results of GitHub "
            "workflow runs (mlgate ci posts on GitLab itself)"
        )
    cfg = default_branch_config(cwd, config_path)
    if document["report"]["model"] != cfg.model.name:
        raise UsageError(
            f"refusing to publish: {path} is for model {document['report']['model']!r}, but "
            f"{config_path} on the default branch configures {cfg.model.name!r}"
        )
    forge = FORGES["github"].client(environ, number)
    pr_head = forge.pull_request(number)["head"]["sha"]  # type: ignore[attr-defined]
    if pr_head != head_sha:
        # A newer push: its own run will publish. Not an error, but nothing to post either.
        why = (
            f"pull request #{number} is now at {pr_head[:12]}, not at the result's commit "
            f"{head_sha[:12]}; the newer run's result will be published instead"
        )
        return Published(number, head_sha, document["report"]["verdict"], False, skipped=why)
    report = _judged(document["report"], cfg, conclusion)
    model = report["model"]
    body = render_document(report, "markdown", limit=forge.comment_limit, run_url=run_url)
    _, created = upsert_comment(forge, marker(model), body)
    forge.set_status(
        head_sha,
        "success" if report["verdict"] == "pass" else "failure",
        context=f"mlgate/{model}",
        description=status_description(report),
        target_url=run_url,
    )
    return Published(number, head_sha, report["verdict"], created)


def _judged(report: Mapping[str, Any], cfg: Config, conclusion: str | None) -> dict[str, Any]:
    """The fork's report as mlgate posts it: re-gated, and failed unless its run succeeded."""
    judged = regated(report, cfg)
    notes = [
        "These metrics were reported by the pull request's own CI run (a fork's run, which "
        "mlgate cannot verify); the verdict was recomputed from them with the default "
        "branch's gate.",
        *judged["notes"],
    ]
    if conclusion != "success":
        judged["verdict"] = "fail"
        notes.insert(0, f"The run that produced this result did not succeed ({conclusion}).")
    return {**judged, "notes": notes}
