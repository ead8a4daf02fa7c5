"""From the CI environment to a forge: which platform runs us, what the event is about, and
the client for it, with the token precedence stated once.

``FORGES`` is the registry ``mlgate ci`` and ``mlgate publish`` look forges up in: each
entry knows its environment (``active``), reads the event into a ``Change`` (a pull/merge
request to check), a ``Promotion`` (a merge to promote) or a sentence saying why there is
nothing to do, and builds its client. Clients are imported only when one is built.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol

from mlgate.errors import UsageError
from mlgate.forge import Forge

if TYPE_CHECKING:
    from mlgate.forge.alerts import Tracker

ForgeName = Literal["github", "gitlab"]
PR_ACTIONS = frozenset({"opened", "synchronize", "reopened", "ready_for_review"})


@dataclass(frozen=True)
class Change:
    """The pull or merge request a CI run is about."""

    forge: ForgeName
    repository: str
    number: int
    base_sha: str
    status_sha: str  # the PR's head commit: statuses go here, never on the merge commit
    run_url: str | None
    fork: bool = False
    base_reason: str = ""  # how the event chose base_sha, for the report


@dataclass(frozen=True)
class Watch:
    """A scheduled run: monitor the production model, keep its alert issue current."""

    forge: ForgeName
    run_url: str | None = None


@dataclass(frozen=True)
class Promotion:
    """A merge landed on the default branch: promote what it produced."""

    ref: str
    pull_request: int | None = None


class ForgeKind(Protocol):
    name: ForgeName
    # Where the token comes from, first found wins. MLGATE_TOKEN first: it may carry more
    # permissions than the platform's own token.
    token_vars: tuple[str, ...]
    no_token_hint: str  # what the warning says when none is set

    def active(self, environ: Mapping[str, str]) -> bool:
        """Whether this process runs in this forge's CI."""
        ...

    def change(self, environ: Mapping[str, str]) -> Change | Promotion | Watch | str:
        """What the triggering event asks of mlgate."""
        ...

    def client(self, environ: Mapping[str, str], number: int) -> Forge:
        """The client for pull/merge request ``number`` of the repository CI runs for."""
        ...


def token(kind: ForgeKind, environ: Mapping[str, str]) -> str | None:
    """The forge's token by its precedence, or None. Surrounding whitespace (a token read
    from a file keeps its newline) is not part of it: in a header it would be refused with
    an error quoting the value."""
    return next((t for v in kind.token_vars if (t := environ.get(v, "").strip())), None)


def secrets(environ: Mapping[str, str]) -> list[str]:
    """Every forge token the environment holds (CI_JOB_TOKEN too): never to be shown, not
    even in a ``--debug`` traceback."""
    names = {v for kind in FORGES.values() for v in kind.token_vars} | {"CI_JOB_TOKEN"}
    return [value for name in sorted(names) if (value := environ.get(name, ""))]


def detect(environ: Mapping[str, str]) -> ForgeKind:
    """The forge whose CI runs this process; UsageError outside CI."""
    for kind in FORGES.values():
        if kind.active(environ):
            return kind
    raise UsageError(
        "mlgate ci runs in GitHub Actions or GitLab CI (GITHUB_ACTIONS or GITLAB_CI is not "
        "set); on your machine, use `mlgate check`"
    )


def make_forge(change: Change, environ: Mapping[str, str]) -> Forge | None:
    """The forge client, or None when no token is available (the run still reports)."""
    kind = FORGES[change.forge]
    return kind.client(environ, change.number) if token(kind, environ) else None


# --- GitHub Actions ----------------------------------------------------------------------


def github_event(environ: Mapping[str, str]) -> dict[str, Any]:
    """The triggering event's payload (GITHUB_EVENT_PATH)."""
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


def github_change(environ: Mapping[str, str]) -> Change | Promotion | Watch | str:
    """The PR to check, the merge to promote, the schedule's monitoring, or a sentence saying
    why there is nothing to do."""
    name = environ.get("GITHUB_EVENT_NAME", "")
    if scheduled(environ):
        return Watch(forge="github", run_url=_github_run_url(environ))
    event = github_event(environ)
    if name == "push":
        default = (event.get("repository") or {}).get("default_branch")
        if default and event.get("ref") == f"refs/heads/{default}" and not event.get("deleted"):
            return Promotion(ref=event.get("after") or "HEAD")
        return f"nothing to do for a push to {event.get('ref')} (promotion follows {default})"
    if name == "workflow_dispatch":
        return _dispatched_change(environ, event)
    if name != "pull_request":
        kind = name or "unknown"
        return f"nothing to check for a {kind} event (mlgate ci checks pull_request events)"
    action = event.get("action", "")
    pr = event["pull_request"]
    if action == "closed" and pr.get("merged") and pr.get("merge_commit_sha"):
        return Promotion(ref=pr["merge_commit_sha"], pull_request=int(pr["number"]))
    if action not in PR_ACTIONS:
        return f"nothing to check for pull_request.{action}"
    return _pull_change(environ, pr, "the event names it")


def scheduled(environ: Mapping[str, str]) -> bool:
    """A run of the schedule's work (data bump, then the monitor): a GitHub ``schedule``
    event, a ``workflow_dispatch`` on the default branch (the schedule run by hand), or a
    GitLab scheduled pipeline."""
    if environ.get("GITLAB_CI") == "true":
        return environ.get("CI_PIPELINE_SOURCE") == "schedule"
    if environ.get("GITHUB_ACTIONS") != "true":
        return False
    name = environ.get("GITHUB_EVENT_NAME", "")
    if name != "workflow_dispatch":
        return name == "schedule"
    event = github_event(environ)
    default = (event.get("repository") or {}).get("default_branch")
    ref = str(event.get("ref") or environ.get("GITHUB_REF") or "")
    return bool(default) and ref == f"refs/heads/{default}"


def _dispatched_change(environ: Mapping[str, str], event: Mapping[str, Any]) -> Change | str:
    """A ``workflow_dispatch`` on a branch other than the default (``mlgate data bump``
    starts one, since its push with the Actions token starts none): the open pull request
    from that branch, checked as on ``pull_request``; nothing to do when it has none."""
    ref = str(event.get("ref") or environ.get("GITHUB_REF") or "")
    if not ref.startswith("refs/heads/"):
        return f"nothing to check for a workflow_dispatch on {ref or 'an unknown ref'}"
    branch = ref.removeprefix("refs/heads/")
    from mlgate.forge.github import GitHub  # requests: only when a client is built

    pull = GitHub.from_env(environ, 0).open_pull_for(branch)
    if pull is None:
        return f"nothing to check: no open pull request from {branch}"
    return _pull_change(environ, pull, "GitHub names it (the workflow was dispatched on its head)")


def _pull_change(environ: Mapping[str, str], pr: Mapping[str, Any], how: str) -> Change:
    head_repo = (pr["head"].get("repo") or {}).get("full_name")
    return Change(
        forge="github",
        repository=environ.get("GITHUB_REPOSITORY") or pr["base"]["repo"]["full_name"],
        number=int(pr["number"]),
        base_sha=pr["base"]["sha"],
        status_sha=pr["head"]["sha"],
        run_url=_github_run_url(environ),
        fork=head_repo != pr["base"]["repo"]["full_name"],
        base_reason=f"pull request #{pr['number']}'s base: the tip of "
        f"{pr['base'].get('ref') or 'its base branch'} as {how}",
    )


class _GitHubKind:
    name: ForgeName = "github"
    token_vars: tuple[str, ...] = ("MLGATE_TOKEN", "GITHUB_TOKEN")
    no_token_hint = "GITHUB_TOKEN or MLGATE_TOKEN"

    def active(self, environ: Mapping[str, str]) -> bool:
        return environ.get("GITHUB_ACTIONS") == "true"

    def change(self, environ: Mapping[str, str]) -> Change | Promotion | Watch | str:
        return github_change(environ)

    def client(self, environ: Mapping[str, str], number: int) -> Forge:
        from mlgate.forge.github import GitHub  # requests: only when a client is built

        return GitHub.from_env(environ, number)


# --- GitLab CI ---------------------------------------------------------------------------


def gitlab_change(environ: Mapping[str, str]) -> Change | Watch | str:
    if scheduled(environ):
        return Watch(forge="gitlab", run_url=environ.get("CI_JOB_URL"))
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
        base_reason=f"merge request !{iid}'s diff base with "
        f"{environ.get('CI_MERGE_REQUEST_TARGET_BRANCH_NAME') or 'its target branch'}",
    )


class _GitLabKind:
    name: ForgeName = "gitlab"
    # CI_JOB_TOKEN is deliberately not among them: GitLab refuses it for notes and
    # statuses (the client still falls back to it, to say so in its error).
    token_vars: tuple[str, ...] = ("MLGATE_TOKEN", "GITLAB_TOKEN")
    no_token_hint = (
        "MLGATE_TOKEN or GITLAB_TOKEN; CI_JOB_TOKEN cannot post merge request notes, use a "
        "project access token with api scope"
    )

    def active(self, environ: Mapping[str, str]) -> bool:
        return environ.get("GITLAB_CI") == "true"

    def change(self, environ: Mapping[str, str]) -> Change | Promotion | Watch | str:
        return gitlab_change(environ)

    def client(self, environ: Mapping[str, str], number: int) -> Forge:
        from mlgate.forge.gitlab import GitLab  # requests: only when a client is built

        return GitLab.from_env(environ)


FORGES: dict[str, ForgeKind] = {"github": _GitHubKind(), "gitlab": _GitLabKind()}


def issue_tracker(forge: ForgeName, environ: Mapping[str, str]) -> Tracker | None:
    """The repository's issues, for monitoring alerts; None without a token."""
    if not token(FORGES[forge], environ):
        return None
    if forge == "github":
        from mlgate.forge.github import GitHub  # requests: only when a client is built

        return GitHub.from_env(environ, 0)
    from mlgate.forge.gitlab import GitLab  # requests, likewise

    return GitLab.for_project(environ)
