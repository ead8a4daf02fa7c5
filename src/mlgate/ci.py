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
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TypeVar

from mlgate import git
from mlgate.errors import ExitCode, MlgateError, UsageError
from mlgate.forge import ForbiddenError, Forge, ForgeError, State, upsert_comment
from mlgate.results import CheckResult
from mlgate.store import atomic_write

T = TypeVar("T")
PR_ACTIONS = frozenset({"opened", "synchronize", "reopened", "ready_for_review"})
DESCRIPTION_LIMIT = 140


@dataclass(frozen=True)
class Change:
    """The pull or merge request a CI run is about."""

    forge: Literal["github", "gitlab"]
    repository: str
    number: int
    base_sha: str
    status_sha: str  # the PR's head commit: statuses go here, never on the merge commit
    run_url: str | None
    fork: bool = False


@dataclass
class CiOutcome:
    exit_code: int
    lines: list[str] = field(default_factory=list)  # for stdout, in order
    result: CheckResult | None = None
    result_path: Path | None = None
    report_path: Path | None = None


# --- reading the CI environment ----------------------------------------------------------


def detect(environ: Mapping[str, str]) -> Literal["github", "gitlab"]:
    if environ.get("GITHUB_ACTIONS") == "true":
        return "github"
    if environ.get("GITLAB_CI") == "true":
        return "gitlab"
    raise UsageError(
        "mlgate ci runs in GitHub Actions or GitLab CI (GITHUB_ACTIONS or GITLAB_CI is not "
        "set); on your machine, use `mlgate check`"
    )


def _event(environ: Mapping[str, str]) -> dict[str, Any]:
    path = environ.get("GITHUB_EVENT_PATH")
    if not path:
        raise UsageError("GITHUB_EVENT_PATH is not set; cannot read the triggering event")
    try:
        event: dict[str, Any] = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise UsageError(f"cannot read the GitHub event at {path}: {e}") from e
    return event


def _github_run_url(environ: Mapping[str, str]) -> str | None:
    server, repo, run = (
        environ.get(k) for k in ("GITHUB_SERVER_URL", "GITHUB_REPOSITORY", "GITHUB_RUN_ID")
    )
    return f"{server}/{repo}/actions/runs/{run}" if server and repo and run else None


@dataclass(frozen=True)
class Promotion:
    """A merge landed on the default branch: promote what it produced."""

    ref: str
    pull_request: int | None = None


def github_change(environ: Mapping[str, str]) -> Change | Promotion | str:
    """The PR to check, the merge to promote, or a sentence saying why there is nothing to do."""
    name = environ.get("GITHUB_EVENT_NAME", "")
    event = _event(environ)
    if name == "push":
        default = (event.get("repository") or {}).get("default_branch")
        if default and event.get("ref") == f"refs/heads/{default}" and not event.get("deleted"):
            return Promotion(ref=event.get("after") or "HEAD")
        return f"nothing to do for a push to {event.get('ref')} (promotion follows {default})"
    if name != "pull_request":
        kind = name or "unknown"
        return f"nothing to check for a {kind} event (mlgate ci checks pull_request events)"
    action = event.get("action", "")
    pr = event["pull_request"]
    if action == "closed" and pr.get("merged") and pr.get("merge_commit_sha"):
        return Promotion(ref=pr["merge_commit_sha"], pull_request=int(pr["number"]))
    if action not in PR_ACTIONS:
        return f"nothing to check for pull_request.{action}"
    head_repo = (pr["head"].get("repo") or {}).get("full_name")
    return Change(
        forge="github",
        repository=environ.get("GITHUB_REPOSITORY") or pr["base"]["repo"]["full_name"],
        number=int(pr["number"]),
        base_sha=pr["base"]["sha"],
        status_sha=pr["head"]["sha"],
        run_url=_github_run_url(environ),
        fork=head_repo != pr["base"]["repo"]["full_name"],
    )


def gitlab_change(environ: Mapping[str, str]) -> Change | str:
    iid = environ.get("CI_MERGE_REQUEST_IID")
    if not iid:
        source = environ.get("CI_PIPELINE_SOURCE", "unknown")
        return f"nothing to check in a {source} pipeline (mlgate ci checks merge request pipelines)"
    base = environ.get("CI_MERGE_REQUEST_DIFF_BASE_SHA")
    head = environ.get("CI_MERGE_REQUEST_SOURCE_BRANCH_SHA") or environ.get("CI_COMMIT_SHA")
    if not base or not head:
        raise UsageError(
            "CI_MERGE_REQUEST_DIFF_BASE_SHA or CI_COMMIT_SHA is not set; run mlgate ci in a "
            "merge request pipeline"
        )
    return Change(
        forge="gitlab",
        repository=environ.get("CI_PROJECT_PATH", environ.get("CI_PROJECT_ID", "")),
        number=int(iid),
        base_sha=base,
        status_sha=head,
        run_url=environ.get("CI_JOB_URL") or environ.get("CI_PIPELINE_URL"),
        fork=environ.get("CI_MERGE_REQUEST_SOURCE_PROJECT_ID", environ.get("CI_PROJECT_ID"))
        != environ.get("CI_PROJECT_ID"),
    )


def make_forge(change: Change, environ: Mapping[str, str]) -> Forge | None:
    """The forge client, or None when no token is available (the run still reports)."""
    if change.forge == "github":
        if not (environ.get("MLGATE_TOKEN") or environ.get("GITHUB_TOKEN")):
            return None
        from mlgate.forge.github import GitHub

        return GitHub.from_env(environ, change.number)
    # CI_JOB_TOKEN is deliberately not used: GitLab refuses it for notes and statuses.
    if not any(environ.get(k) for k in ("MLGATE_TOKEN", "GITLAB_TOKEN")):
        return None
    from mlgate.forge.gitlab import GitLab

    return GitLab.from_env(environ)


# --- posting, tolerant of a read-only token ------------------------------------------------


class Poster:
    """Forge writes that degrade to a single warning when the token may not write."""

    def __init__(self, forge: Forge | None, change: Change, warn: Callable[[str], None]) -> None:
        self.forge, self.change, self.warn = forge, change, warn
        self.read_only = forge is None
        if forge is None:
            names = (
                "GITHUB_TOKEN or MLGATE_TOKEN"
                if change.forge == "github"
                else "MLGATE_TOKEN or GITLAB_TOKEN; CI_JOB_TOKEN cannot post merge request "
                "notes, use a project access token with api scope"
            )
            warn(f"no token ({names}): the report is only in the job log and the result file")

    def attempt(self, what: str, call: Callable[[Forge], T]) -> T | None:
        if self.read_only or self.forge is None:
            return None
        try:
            return call(self.forge)
        except ForbiddenError as e:
            self.read_only = True
            hint = (
                "expected for a pull request from a fork: the job summary has the report, and "
                "`mlgate publish` can post the saved result from a workflow_run workflow"
            )
            self.warn(f"the token may not {what} ({e}); {hint}")
            return None

    def status(self, state: State, context: str, description: str) -> None:
        self.attempt(
            "set commit statuses",
            lambda f: f.set_status(
                self.change.status_sha,
                state,
                context=context,
                description=shorten(description),
                target_url=self.change.run_url,
            ),
        )


def server_limit(error: ForgeError) -> int | None:
    """The body size a 422 "body is too long (maximum is N characters)" allows, if it says."""
    if error.status != 422:
        return None
    found = re.search(r"maximum is (\d+) characters", str(error))
    return int(found.group(1)) if found else None


def shorten(text: str, limit: int = DESCRIPTION_LIMIT) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _fmt(value: float | None) -> str:
    return "—" if value is None else f"{value:.4g}"


def status_description(report: Mapping[str, Any]) -> str:
    """≤ 140 characters with the headline metric: ``accuracy 0.94 → 0.96 (+0.02); gate passed``.
    Takes the report document, so a saved result (``mlgate publish``) says the same."""
    failed = len(report["failed_rules"])
    verdict = "gate passed" if report["verdict"] == "pass" else f"gate failed ({failed} rule(s))"
    if not report["metrics"]:
        return shorten(verdict)
    row = report["metrics"][0]
    delta = "" if row["delta"] is None else f" ({row['delta']:+.4g})"
    base, head = row["base"], row["head"]
    figures = _fmt(head) if base is None else f"{_fmt(base)} → {_fmt(head)}"
    return shorten(f"{row['name']} {figures}{delta}; {verdict}")


# --- GitHub Actions files and workflow commands --------------------------------------------


def escape_data(text: str) -> str:
    """Workflow-command data: %, CR and LF must be escaped or they end the command."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def write_outputs(path: str, outputs: Mapping[str, str]) -> None:
    """Append to GITHUB_OUTPUT with a random heredoc delimiter: multi-line safe."""
    with open(path, "a", encoding="utf-8") as f:
        for name, value in outputs.items():
            delimiter = f"ghadelimiter_{uuid.uuid4()}"
            f.write(f"{name}<<{delimiter}\n{value}\n{delimiter}\n")


def append_summary(path: str, markdown: str) -> None:
    with open(path, "a", encoding="utf-8") as f:
        f.write(markdown if markdown.endswith("\n") else markdown + "\n")


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


def ensure_commit(repo: Any, sha: str) -> None:
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
) -> CiOutcome:
    """One CI run: detect the platform and event, then check, report and set statuses."""
    platform = detect(environ)
    change = github_change(environ) if platform == "github" else gitlab_change(environ)
    if isinstance(change, str):
        return CiOutcome(int(ExitCode.OK), [f"mlgate: {change}"])
    if isinstance(change, Promotion):
        return _promote(Path(cwd), environ, change, config_path)
    return _check_change(
        Path(cwd), environ, change, config_path, fail_on_gate, result_path, progress
    )


def _check_change(
    cwd: Path,
    environ: Mapping[str, str],
    change: Change,
    config_path: str,
    fail_on_gate: bool,
    result_path: str,
    progress: Callable[[str], None] | None = None,
) -> CiOutcome:
    from mlgate import config as config_mod
    from mlgate.check import run_check
    from mlgate.report import marker, render

    github = change.forge == "github"
    outcome = CiOutcome(int(ExitCode.OK))

    def warn(message: str) -> None:
        outcome.lines.append(
            f"::warning::{escape_data(message)}" if github else f"WARNING: {message}"
        )

    repo = git.open_repo(cwd)
    ensure_commit(repo, change.base_sha)
    model = config_mod.load_path(cwd / config_path).model.name
    context = f"mlgate/{model}"
    forge = make_forge(change, environ)
    poster = Poster(forge, change, warn)
    poster.status("pending", context, "training and comparing base and head…")
    try:
        result = run_check(
            cwd,
            base=change.base_sha,
            head="HEAD",
            config_path=_rel(repo, cwd, config_path),
            progress=progress,
        )
    except MlgateError as e:
        poster.status("error", context, f"mlgate could not check: {e}")
        if github and environ.get("GITHUB_STEP_SUMMARY"):
            append_summary(
                environ["GITHUB_STEP_SUMMARY"], f"### ⚠️ mlgate could not check {model}\n\n`{e}`\n"
            )
        raise
    limit = forge.comment_limit if forge is not None else 65536
    body = render(result, "markdown", limit=limit, run_url=change.run_url)
    try:
        poster.attempt(
            "comment on the pull request", lambda f: upsert_comment(f, marker(model), body)
        )
    except ForgeError as e:
        smaller = server_limit(e)
        if smaller is None or smaller >= len(body):
            raise
        # The server allows less than we assumed (an Enterprise setting): fit and retry once.
        body = render(result, "markdown", limit=smaller, run_url=change.run_url)
        poster.attempt(
            "comment on the pull request", lambda f: upsert_comment(f, marker(model), body)
        )
    poster.status(
        "success" if result.passed else "failure", context, status_description(result.to_dict())
    )
    _leave_files(cwd, environ, change, result, body, result_path, outcome, github)
    from mlgate.mlflowlog import log_check  # a no-op unless MLFLOW_TRACKING_URI is set

    for message in log_check(result, environ):
        warn(message)
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
    outcome.result = result
    failed = not result.passed and fail_on_gate
    outcome.exit_code = int(ExitCode.GATE_FAILED if failed else ExitCode.OK)
    return outcome


def _promote(
    cwd: Path, environ: Mapping[str, str], change: Promotion, config_path: str
) -> CiOutcome:
    """Promotion on merge: outputs promoted/version/tag, the model card in the summary."""
    from mlgate.promote import promote, summary_lines

    repo = git.open_repo(cwd)
    ensure_commit(repo, change.ref)
    number = change.pull_request or pull_request_of(repo.commit(change.ref).message)
    outcome = promote(
        cwd, ref=change.ref, config_path=_rel(repo, cwd, config_path), pull_request=number
    )
    lines = summary_lines(outcome) + _share(git.root(repo), repo.commit(change.ref).hexsha, outcome)
    github = environ.get("GITHUB_ACTIONS") == "true"
    if github and environ.get("GITHUB_STEP_SUMMARY"):
        refusal = "\n".join(f"- {escape_md(r)}" for r in outcome.reasons)
        summary = outcome.card or f"### mlgate: {outcome.model} was not promoted\n\n{refusal}\n"
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


def _share(root: Path, commit: str, outcome: Any) -> list[str]:
    """Store the default branch's run as a git note, so PR checks reuse it as their base."""
    from mlgate import notes

    if outcome.run is None:
        return []
    try:
        notes.write(root, commit, outcome.model, outcome.run)
    except (ValueError, MlgateError) as e:
        return [f"mlgate: the run was not shared as a git note: {e}"]
    if notes.push(root):
        return [f"mlgate: shared this run in {notes.NOTES_REF} for pull requests to reuse"]
    return [f"mlgate: could not push {notes.NOTES_REF}; pull requests will retrain this commit"]


def pull_request_of(message: str | bytes) -> int | None:
    """The PR a merge commit came from, as GitHub writes it: ``Merge pull request #12 from …``
    for merge commits, ``Title (#12)`` for squash merges. None when it does not say."""
    text = message.decode(errors="replace") if isinstance(message, bytes) else message
    subject = text.split("\n", 1)[0]
    found = re.match(r"Merge pull request #(\d+) ", subject) or re.search(r"\(#(\d+)\)$", subject)
    return int(found.group(1)) if found else None


def escape_md(text: str) -> str:
    from mlgate.report import md_escape

    return str(md_escape(text))


def _rel(repo: Any, cwd: Path, config_path: str) -> str:
    root = git.root(repo).resolve()
    try:
        return (cwd / config_path).resolve().relative_to(root).as_posix()
    except ValueError:
        raise UsageError(f"config {config_path} is outside the repository {root}") from None


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
