"""``mlgate ci``: the pull-request loop in GitHub Actions or GitLab CI.

On a pull/merge request: check the checked-out commit (on GitHub the merge commit, which is
what would land) against the PR's base sha, keep one sticky comment, set the commit status
on the PR's head sha, and leave the job summary, step outputs and a result file that
``mlgate publish`` can post later. A read-only token (a PR from a fork) never crashes the
run: it warns once and the gate still decides the exit code. Nothing here prints; the CLI
prints ``CiOutcome.lines``.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from mlgate import git
from mlgate.commands.check import run_check
from mlgate.commands.promote import promote
from mlgate.core import config as config_mod
from mlgate.core.results import CheckResult, Outcome, summary_lines
from mlgate.errors import ExitCode, MlgateError, UsageError
from mlgate.forge import ForgeError, upsert_comment
from mlgate.forge.actions import append_summary, escape_data, escape_property, write_outputs
from mlgate.forge.env import FORGES, Change, Promotion, Watch, detect, issue_tracker, make_forge
from mlgate.forge.poster import Poster, server_limit
from mlgate.interop.mlflow import log_check, log_promotion
from mlgate.render.history import outcome_trend
from mlgate.render.markup import md_escape
from mlgate.render.report import marker, render, status_description
from mlgate.run import notes, signatures
from mlgate.storage.files import atomic_write
from mlgate.storage.layout import Layout


@dataclass
class CiOutcome:
    exit_code: int
    lines: list[str] = field(default_factory=list)  # for stdout, in order
    result: CheckResult | None = None
    result_path: Path | None = None
    report_path: Path | None = None


def result_document(change: Change, result: CheckResult) -> dict[str, Any]:
    """The saved result (schema/result.schema.json) for `mlgate publish`."""
    return {
        "schema": "mlgate/result@1",
        "forge": change.forge,
        "repository": change.repository,
        "pull_request": change.number,
        "head_sha": change.status_sha,
        "base_sha": change.base_sha,
        "run_url": change.run_url,
        "report": result.to_dict(),
    }


# --- the run --------------------------------------------------------------------------------


def ensure_commit(repo: git.Repo, sha: str) -> None:
    """A shallow clone may lack the base commit: fetch just that one, or say what to set."""
    root = git.root(repo)
    if git.has_commit(root, sha):
        return
    try:
        git.run_git(["fetch", "--no-tags", "--depth=1", "origin", sha], root)
    except MlgateError as e:
        raise UsageError(
            f"the base commit {sha[:12]} is not in this clone and fetching it failed ({e}); "
            "check out with full history (actions/checkout: `fetch-depth: 0`; GitLab: "
            "`GIT_DEPTH: 0`)"
        ) from e


def run_ci(
    cwd: str | os.PathLike[str],
    environ: Mapping[str, str],
    *,
    config_path: str = "mlgate.yaml",
    fail_on_gate: bool = True,
    result_path: str = "mlgate-result.json",
    progress: Callable[[str], None] | None = None,
    comment: bool = True,
) -> CiOutcome:
    """One CI run: detect the platform and event, then check, report and set statuses.
    ``comment=False``: no sticky comment (a matrix job: ``mlgate ci --gather`` posts one
    for every model); the status, summary and result file as ever."""
    change = detect(environ).change(environ)
    if isinstance(change, str):
        return CiOutcome(int(ExitCode.OK), [f"mlgate: {change}"])
    if isinstance(change, Promotion):
        return _promote(Path(cwd), environ, change, config_path)
    if isinstance(change, Watch):
        return _watch(Path(cwd), environ, change, config_path)
    return _check_change(
        Path(cwd), environ, change, config_path, fail_on_gate, result_path, progress, comment
    )


def _check_change(
    cwd: Path,
    environ: Mapping[str, str],
    change: Change,
    config_path: str,
    fail_on_gate: bool,
    result_path: str,
    progress: Callable[[str], None] | None = None,
    comment: bool = True,
) -> CiOutcome:
    github = change.forge == "github"
    outcome = CiOutcome(int(ExitCode.OK))

    def warn(message: str) -> None:
        outcome.lines.append(
            f"::warning::{escape_data(message)}" if github else f"WARNING: {message}"
        )

    repo = git.open_repo(cwd)
    ensure_commit(repo, change.base_sha)
    model = config_mod.load_path(cwd / config_path, memo=Layout.current().memo).model.name
    context = f"mlgate/{model}"
    forge = make_forge(change, environ)
    poster = Poster(forge, change, warn)
    poster.status("pending", context, "training and comparing base and head…")
    try:
        result = run_check(
            cwd,
            base=change.base_sha,
            head="HEAD",
            config_path=git.config_path(cwd, config_path),
            progress=progress,
            notes_policy="signed",  # anyone who can push writes notes: only signed bases
            base_reason=change.base_reason or None,
        )
    except MlgateError as e:
        poster.status("error", context, f"mlgate could not check: {e}")
        if github and environ.get("GITHUB_STEP_SUMMARY"):
            # The error may quote the pull request (a column name): escaped, not in a code span
            # that a backtick in it would end.
            summary = f"### ⚠️ mlgate could not check {md_escape(model)}\n\n{md_escape(e)}\n"
            append_summary(environ["GITHUB_STEP_SUMMARY"], summary)
        raise
    if comment:
        body = _comment(poster, result, model, change)
    else:
        body = render(result, "markdown", run_url=change.run_url)
    poster.status(
        "success" if result.passed else "failure", context, status_description(result.to_dict())
    )
    _leave_files(cwd, environ, change, result, body, result_path, outcome, github)
    for message in log_check(result, environ):  # a no-op unless MLFLOW_TRACKING_URI is set
        warn(message)
    _verdict_lines(outcome, result, model, github)
    outcome.result = result
    failed = not result.passed and fail_on_gate
    outcome.exit_code = int(ExitCode.GATE_FAILED if failed else ExitCode.OK)
    return outcome


def _watch(cwd: Path, environ: Mapping[str, str], watch: Watch, config_path: str) -> CiOutcome:
    """A scheduled run: monitor the production model on ``monitor.data`` and keep its one
    alert issue current (opened while unhealthy, closed when healthy again). Exit 1 while
    unhealthy, so the scheduled run shows it too."""
    from mlgate.commands.monitor import monitor  # numpy, pandas: a scheduled run only
    from mlgate.core.monitor import marker as monitor_marker  # with it: a scheduled run only
    from mlgate.forge.alerts import sync_alert  # likewise
    from mlgate.render.monitor import render as render_monitor  # jinja2: likewise

    github = watch.forge == "github"
    cfg = config_mod.load_path(cwd / config_path, memo=Layout.current().memo)
    model = cfg.model.name
    if not cfg.monitor_data:
        return CiOutcome(
            int(ExitCode.OK),
            [f"mlgate: nothing to monitor on a schedule: set monitor.data in {config_path}"],
        )
    result = monitor(
        cwd,
        data=list(cfg.monitor_data),
        name=model,
        labels=cfg.monitor_labels,
        config_path=git.config_path(cwd, config_path),
    )
    body = render_monitor(result, "markdown")
    outcome = CiOutcome(int(ExitCode.OK if result.healthy else ExitCode.GATE_FAILED))
    verdict = "healthy" if result.healthy else f"unhealthy ({len(result.failed)} rule(s) broken)"
    outcome.lines.append(f"mlgate: {model} in production is {verdict}")
    if github and environ.get("GITHUB_STEP_SUMMARY"):
        append_summary(environ["GITHUB_STEP_SUMMARY"], body)
    tracker = issue_tracker(watch.forge, environ)
    if tracker is None:
        hint = FORGES[watch.forge].no_token_hint
        outcome.lines.append(f"mlgate: no token ({hint}): the alert issue was not updated")
        return outcome
    where = f" ({watch.run_url})" if watch.run_url else ""
    alert = sync_alert(
        tracker,
        monitor_marker(model),
        title=f"mlgate: {model} is unhealthy in production",
        body=body,
        healthy=result.healthy,
        closing=f"✅ {md_escape(model)} is healthy again: every monitor rule holds{where}.",
    )
    if alert.issue is not None:
        outcome.lines.append(f"mlgate: alert issue #{alert.issue.number} {alert.action}")
    return outcome


def _comment(poster: Poster, result: CheckResult, model: str, change: Change) -> str:
    """The sticky comment, fitted to the forge's limit; returns the body posted."""
    return post_sticky(
        poster,
        marker(model),
        lambda limit: render(result, "markdown", limit=limit, run_url=change.run_url),
    )


def post_sticky(poster: Poster, mark: str, body_within: Callable[[int], str]) -> str:
    """Create or edit the comment marked ``mark``, its body from ``body_within(limit)``;
    returns the body posted (or that would have been, without a token)."""
    limit = poster.forge.comment_limit if poster.forge is not None else 65536
    body = body_within(limit)
    try:
        poster.attempt("comment on the pull request", lambda f: upsert_comment(f, mark, body))
    except ForgeError as e:
        smaller = server_limit(e)
        if smaller is None or smaller >= len(body):
            raise
        # The server allows less than we assumed (an Enterprise setting): fit and retry once.
        body = body_within(smaller)
        poster.attempt("comment on the pull request", lambda f: upsert_comment(f, mark, body))
    return body


def _verdict_lines(outcome: CiOutcome, result: CheckResult, model: str, github: bool) -> None:
    """An annotation per failed rule, then the verdict line, for the job log."""
    for check in result.verdict.failed:
        title = escape_property(f"mlgate: {model} failed the gate")
        outcome.lines.append(
            f"::error title={title}::{escape_data(check.message)}"
            if github
            else f"ERROR: {check.message}"
        )
    verdict = "passes" if result.passed else "fails"
    outcome.lines.append(
        f"mlgate: {model} {verdict} the gate ({status_description(result.to_dict())})"
    )


def _promote(
    cwd: Path, environ: Mapping[str, str], change: Promotion, config_path: str
) -> CiOutcome:
    """Promotion on merge: outputs promoted/version/tag, the model card in the summary."""
    repo = git.open_repo(cwd)
    ensure_commit(repo, change.ref)
    number = change.pull_request or pull_request_of(git.commit_message(repo, change.ref))
    outcome = promote(
        cwd, ref=change.ref, config_path=git.config_path(cwd, config_path), pull_request=number
    )
    logged = log_promotion(git.root(repo), outcome, environ=environ)  # notes, never failures
    outcome = replace(outcome, notes=(*outcome.notes, *logged))
    commit = git.resolve(repo, change.ref)
    files = git.CommitFiles(repo, commit, sha=commit)
    cfg = config_mod.load_at(files, git.config_path(cwd, config_path), memo=Layout.current().memo)
    pinned = None if cfg is None else cfg.notes_key
    lines = summary_lines(outcome) + _share(git.root(repo), commit, outcome, environ, pinned)
    lines += [trend] if (trend := outcome_trend(outcome, "text")) else []
    github = environ.get("GITHUB_ACTIONS") == "true"
    if github and environ.get("GITHUB_STEP_SUMMARY"):
        refusal = "\n".join(f"- {md_escape(r)}" for r in outcome.reasons)
        heading = f"### mlgate: {md_escape(outcome.model)} was not promoted"
        held = md_escape(outcome.comparison_note)  # what the candidate was compared with
        summary = outcome.card or f"{heading}\n\n{held}\n\n{refusal}\n"
        if trend := outcome_trend(outcome, "markdown"):
            summary = f"{summary.rstrip()}\n\n{trend}"
        append_summary(environ["GITHUB_STEP_SUMMARY"], summary)
    if github and environ.get("GITHUB_OUTPUT"):
        promoted = outcome.commit is not None
        write_outputs(
            environ["GITHUB_OUTPUT"],
            {
                "promoted": "true" if promoted else "false",
                "version": str(outcome.version) if promoted else "",
                "tag": (outcome.tag or "") if promoted else "",
            },
        )
    if github:
        lines += [f"::error title=mlgate: not promoted::{escape_data(r)}" for r in outcome.reasons]
    code = ExitCode.GATE_FAILED if outcome.reasons else ExitCode.OK
    return CiOutcome(int(code), lines)


def _share(
    root: Path, commit: str, outcome: Outcome, environ: Mapping[str, str], pinned: str | None
) -> list[str]:
    """Store the default branch's run as a git note, so PR checks reuse it as their base:
    signed with ``MLGATE_NOTES_KEY`` when this job has it (PR jobs reuse only signed runs)."""
    if outcome.run is None:
        return []
    signature, lines = _signature(commit, outcome.model, outcome.run, environ, pinned)
    try:
        notes.write(root, commit, outcome.model, outcome.run, signature)
    except (ValueError, MlgateError) as e:
        return [*lines, f"mlgate: the run was not shared as a git note: {e}"]
    if notes.push(root):
        how = "signed, " if signature else ""
        return [
            *lines,
            f"mlgate: shared this run in {notes.NOTES_REF} ({how}for pull requests to reuse)",
        ]
    return [
        *lines,
        f"mlgate: could not push {notes.NOTES_REF}; pull requests will retrain this commit",
    ]


def _signature(
    commit: str,
    model: str,
    record: Mapping[str, Any],
    environ: Mapping[str, str],
    pinned: str | None,
) -> tuple[str | None, list[str]]:
    """(signature or None, warnings). Unsigned notes still serve local checks."""
    private = environ.get(signatures.ENV_KEY, "").strip()
    if not private:
        return None, []
    try:
        own = signatures.public_line(private)
        signature = signatures.sign(private, commit, model, record)
    except signatures.SigningKeyError as e:
        return None, [f"mlgate: the shared run is not signed: {e}"]
    kind, key = own.split()[:2]  # the comment after them may differ
    if pinned is None or pinned.split()[:2] != [kind, key]:
        return signature, [
            f"mlgate: {signatures.ENV_KEY} is not the notes.public_key in mlgate.yaml "
            f"({kind} {key[:16]}…); pull requests will not reuse this run"
        ]
    return signature, []


def pull_request_of(message: str | bytes) -> int | None:
    """The PR a merge commit came from, as GitHub writes it: ``Merge pull request #12 from …``
    for merge commits, ``Title (#12)`` for squash merges. None when it does not say."""
    text = message.decode(errors="replace") if isinstance(message, bytes) else message
    subject = text.split("\n", 1)[0]
    found = re.match(r"Merge pull request #(\d+) ", subject) or re.search(r"\(#(\d+)\)$", subject)
    return int(found.group(1)) if found else None


def _leave_files(
    cwd: Path,
    environ: Mapping[str, str],
    change: Change,
    result: CheckResult,
    body: str,
    result_path: str,
    outcome: CiOutcome,
    github: bool,
) -> None:
    """The result file (for upload-artifact and publish), the report, summary and outputs."""
    saved = (cwd / result_path).absolute()
    document = json.dumps(result_document(change, result), indent=2, default=str)
    atomic_write(saved, document.encode())
    report_path = saved.with_name("mlgate-report.md")
    atomic_write(report_path, body.encode("utf-8"))
    outcome.result_path, outcome.report_path = saved, report_path
    outcome.lines.append(f"mlgate: result saved to {saved}; report in {report_path}")
    if not github:
        return
    if environ.get("GITHUB_STEP_SUMMARY"):
        append_summary(environ["GITHUB_STEP_SUMMARY"], body)
    if environ.get("GITHUB_OUTPUT"):
        metrics = json.dumps(result.to_dict()["metrics"], separators=(",", ":"), default=str)
        write_outputs(
            environ["GITHUB_OUTPUT"],
            {
                "verdict": "pass" if result.passed else "fail",
                "report-path": str(report_path),
                "metrics-json": metrics,
            },
        )
