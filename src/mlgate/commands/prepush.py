"""``mlgate check --pre-push``: the gate on what a ``git push`` is about to send.

git's pre-push hook reads one line per pushed ref on stdin, ``<local ref> <local sha>
<remote ref> <remote sha>``; pre-commit reads those itself and hands its hooks the first
pushed ref in ``PRE_COMMIT_*`` variables instead. Either way each pushed branch tip is
checked once, as a commit (never the working tree), against its merge-base with the
remote's default branch; deletions, tags and other refs are skipped and said so.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from mlgate import git
from mlgate.commands.check import run_check
from mlgate.core.results import CheckResult
from mlgate.errors import UsageError


@dataclass(frozen=True)
class PushedRef:
    """One line of git's pre-push protocol; ``local_sha`` None: pre-commit named the local
    ref but not its commit (a push of history the remote has none of)."""

    local_ref: str
    local_sha: str | None
    remote_ref: str
    remote_sha: str

    @property
    def deleted(self) -> bool:
        return self.local_sha is not None and git.is_null_sha(self.local_sha)

    @property
    def branch(self) -> str | None:
        """The branch name the remote gets, or None for a tag, a note or any other ref."""
        return self.remote_ref.removeprefix("refs/heads/") if self.branch_ref else None

    @property
    def branch_ref(self) -> bool:
        return self.remote_ref.startswith("refs/heads/")


def parse_lines(text: str) -> list[PushedRef]:
    """git's pre-push lines; UsageError naming the first line that is not one."""
    found = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        # A local ref may be an expression with spaces (``HEAD~1``… is not, but be lenient).
        parts = line.rsplit(maxsplit=3)
        if len(parts) != 4 or not all(_is_sha(p) for p in (parts[1], parts[3])):
            raise UsageError(
                f"--pre-push: stdin line {number} is not `<local ref> <local sha> <remote ref> "
                f"<remote sha>` (git's pre-push protocol): {line[:120]!r}"
            )
        found.append(PushedRef(parts[0], parts[1], parts[2], parts[3]))
    return found


def _is_sha(text: str) -> bool:
    return len(text) in (40, 64) and all(c in "0123456789abcdef" for c in text)


def from_pre_commit(environ: Mapping[str, str]) -> list[PushedRef] | None:
    """The pushed ref pre-commit names (``PRE_COMMIT_LOCAL_BRANCH``, ``_REMOTE_BRANCH``,
    ``_TO_REF``), None when not run by pre-commit. ``pre-commit run --hook-stage pre-push``
    by hand names none: then HEAD is checked, as if pushed to a branch of its name."""
    if environ.get("PRE_COMMIT") != "1":
        return None
    local, remote = environ.get("PRE_COMMIT_LOCAL_BRANCH"), environ.get("PRE_COMMIT_REMOTE_BRANCH")
    to_ref = environ.get("PRE_COMMIT_TO_REF") or None
    if not local or not remote:
        return [PushedRef("HEAD", to_ref, "refs/heads/HEAD", git.ZERO)]
    return [PushedRef(local, to_ref, remote, environ.get("PRE_COMMIT_FROM_REF") or git.ZERO)]


def remote_name(given: str | None, environ: Mapping[str, str]) -> str:
    """``--remote`` (the git hook passes its first argument), else pre-commit's, else origin."""
    return given or environ.get("PRE_COMMIT_REMOTE_NAME") or "origin"


@dataclass(frozen=True)
class Checked:
    branch: str
    sha: str
    result: CheckResult


@dataclass(frozen=True)
class PrePush:
    checked: tuple[Checked, ...]
    skipped: tuple[str, ...]  # one line each: a pushed ref not checked, and why
    notes: tuple[str, ...]  # how the base was found, when it was a guess

    @property
    def passed(self) -> bool:
        return all(c.result.passed for c in self.checked)


def pre_push(
    cwd: str | os.PathLike[str],
    pushed: list[PushedRef],
    *,
    remote: str,
    config_path: str,
    base: str | None = None,
    use_cache: bool = True,
    progress: Callable[[str], None] | None = None,
) -> PrePush:
    """Check each pushed branch tip once against its merge-base with ``remote``'s default
    branch (``base`` overrides it, as ``--base`` does for ``mlgate check``)."""
    repo = git.open_repo(cwd)
    skipped: list[str] = []
    tips: dict[str, str] = {}  # sha -> the first branch pushing it
    for ref in pushed:
        if ref.deleted:
            skipped.append(f"{ref.remote_ref}: deleted, nothing to check")
            continue
        if ref.branch is None:
            skipped.append(f"{ref.remote_ref}: not a branch (tags and other refs are not gated)")
            continue
        sha = ref.local_sha or git.resolve(repo, ref.local_ref)
        if sha in tips:
            skipped.append(f"{ref.branch}: the same commit as {tips[sha]}, checked once")
            continue
        tips[sha] = ref.branch
    if not tips:
        return PrePush((), tuple(skipped), ())
    notes: list[str] = []
    default = None
    if base is None:
        default = git.upstream_default(repo, remote)
        if default is None:
            raise UsageError(
                f"cannot tell {remote}'s default branch to compare the push with (no "
                f"refs/remotes/{remote}/HEAD, main or master); run `git remote set-head "
                f"{remote} --auto`, or pass --base REV"
            )
        if default.guessed:
            notes.append(default.guessed)
    checked = []
    for sha, branch in tips.items():
        if git.CommitFiles(repo, sha, sha=sha).read(config_path) is None:
            skipped.append(f"{branch}: {sha[:7]} has no {config_path}, nothing to gate")
            continue
        if default is None:
            assert base is not None
            chosen, reason = git.resolve(repo, base), f"--base {base}"
        else:
            found = git.merge_base(repo, default.sha, sha)
            if found is None:
                raise UsageError(f"{branch} shares no history with {default.name}; pass --base REV")
            if found == sha:
                skipped.append(f"{branch}: {sha[:7]} is already in {default.name}, nothing new")
                continue
            chosen, reason = found, f"merge-base of the pushed {branch} and {default.name}"
        result = run_check(
            cwd,
            base=chosen,
            head=sha,
            config_path=config_path,
            use_cache=use_cache,
            progress=progress,
            base_reason=reason,
        )
        checked.append(Checked(branch, sha, result))
    return PrePush(tuple(checked), tuple(skipped), tuple(notes))
