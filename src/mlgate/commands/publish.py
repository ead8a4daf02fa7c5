"""``mlgate publish RESULT.json``: post a saved result from a trusted workflow.

A pull request from a fork gets a read-only token, so its ``mlgate ci`` run cannot comment.
It saves ``mlgate-result.json`` as an artifact instead; a ``workflow_run`` workflow (base
repository code, write token) downloads it and runs ``mlgate publish``. The file came from
the fork's run, so it is untrusted data: size-capped, parsed strictly, validated against
``schema/result.schema.json``, rendered only with mlgate's own template and escaping, and
posted only if its head sha is the triggering run's head sha *and* the pull request's
current head on the forge. Nothing in it is executed or unpickled.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from mlgate.errors import ConfigError, DataError, UsageError
from mlgate.forge import ForgeError, upsert_comment
from mlgate.forge.env import FORGES, github_event
from mlgate.paths import package_file
from mlgate.render.report import marker, render_document, status_description

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
    except (ValueError, UnicodeDecodeError) as e:
        raise ConfigError(f"not a JSON result: {e}", file=str(path)) from e
    error = next(iter(sorted(_validator().iter_errors(document), key=lambda e: e.path)), None)
    if error is not None:
        where = ".".join(str(p) for p in error.absolute_path) or "(top level)"
        raise ConfigError(f"not a valid mlgate result: {error.message}", file=str(path), key=where)
    return dict(document)


def _trusted_head(environ: Mapping[str, str]) -> tuple[str, str | None]:
    """The head sha (and run URL) of the workflow run that produced the artifact."""
    if environ.get("GITHUB_EVENT_NAME") != "workflow_run":
        raise UsageError(
            "mlgate publish runs in a workflow triggered by workflow_run (it trusts that "
            "event, not the result file, for which commit to report on)"
        )
    run = github_event(environ).get("workflow_run") or {}
    sha = run.get("head_sha")
    if not isinstance(sha, str):
        raise UsageError("the workflow_run event has no head_sha")
    return sha, run.get("html_url")


def publish(path: Path, environ: Mapping[str, str]) -> Published:
    """Validate the saved result, check it belongs to the triggering run, then post it."""
    document = load_result(path)
    head_sha, run_url = _trusted_head(environ)
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
    forge = FORGES["github"].client(environ, number)
    pr_head = forge.pull_request(number)["head"]["sha"]  # type: ignore[attr-defined]
    if pr_head != head_sha:
        # A newer push: its own run will publish. Not an error, but nothing to post either.
        why = (
            f"pull request #{number} is now at {pr_head[:12]}, not at the result's commit "
            f"{head_sha[:12]}; the newer run's result will be published instead"
        )
        return Published(number, head_sha, document["report"]["verdict"], False, skipped=why)
    report = document["report"]
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
