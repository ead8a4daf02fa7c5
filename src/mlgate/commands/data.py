"""``mlgate data add/status/pull/push/bump``: pointers in git, bytes in the cache and storage."""

from __future__ import annotations

import base64
import hashlib
import os
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from mlgate import git
from mlgate.core.diff import data_diff
from mlgate.core.results import DataChange, DataSummary
from mlgate.core.units import fmt_size
from mlgate.errors import ConfigError, DataError, UsageError
from mlgate.forge import ForgeError
from mlgate.forge import env as forge_env
from mlgate.git import ignored, inside
from mlgate.http import redact_url
from mlgate.paths import repo_relpath
from mlgate.render.markup import md_escape
from mlgate.storage.backends import Backend, backend_for
from mlgate.storage.datafiles import pointed_files
from mlgate.storage.fetch import fetch, place
from mlgate.storage.files import atomic_write, lock_for, os_errors, temp_beside
from mlgate.storage.formats import cached_summary
from mlgate.storage.objects import Cache, copy_verified, short
from mlgate.storage.pointers import SUFFIX, Pointer, data_path, parse, pointer_path
from mlgate.storage.sources import DEFAULT_TIMEOUT, obtain, shown

# --- mlgate data add ---------------------------------------------------------------------


def add(
    root: Path,
    paths: Sequence[str],
    *,
    url: str | None,
    storage: str | None,
    cache: Cache,
    source: str | tuple[str, ...] | None = None,
) -> list[tuple[str, Pointer]]:
    """Point git at each data file: write ``<path>.ptr``, store the bytes, git-ignore the file."""
    if url is not None and len(paths) != 1:
        raise UsageError("--url is the location of one file; add files one at a time with it")
    if source is not None and len(paths) != 1:
        raise UsageError("--source is where one file comes from; add files one at a time with it")
    if isinstance(source, str) and urlsplit(source).scheme.lower() not in ("http", "https", "file"):
        raise UsageError(
            f"--source {redact_url(source)} is not an http(s):// or file:// URL; a command "
            "that builds the file goes in --source-command"
        )
    # A bad URL fails before any write. What the storage's writes clean up is listed with
    # the cache's: one list of what this command removed.
    backend = backend_for(storage, removed=cache.removed) if storage else None
    rels = [_add_target(root, p) for p in paths]
    with os_errors(f"cannot add {', '.join(rels)}"):
        added = [
            (rel, _add_one(root, rel, url=url, backend=backend, cache=cache, source=source))
            for rel in rels
        ]
        _gitignore(root, rels, cache)
    return added


def _add_target(root: Path, path: str) -> str:
    rel = _repo_path(root, path)
    if rel.endswith(SUFFIX):
        raise ConfigError(f"{rel} is a pointer; add the data file {data_path(rel)} instead")
    if rel == ".git" or rel.startswith(".git/"):
        raise ConfigError(f"{rel} is inside .git; add a data file of the repository")
    return rel


def _add_one(
    root: Path,
    rel: str,
    *,
    url: str | None,
    backend: Backend | None,
    cache: Cache,
    source: str | tuple[str, ...] | None = None,
) -> Pointer:
    src = root / rel
    if not src.is_file():
        what = "is a directory" if src.is_dir() else "does not exist"
        raise DataError(f"cannot add {rel}: {src} {what}")
    # One read: hashed while copied into the cache (a file that changes mid-way fails).
    # The summary reads the stored copy, or comes from the summary cache.
    digest, obj = cache.add_file(src)
    rows, columns = cached_summary(obj, rel, digest, layout=cache.layout)
    old = _old_pointer(root, rel)
    kept_url = old.url if old is not None and old.sha256 == digest else None
    ptr = Pointer(
        digest,
        obj.stat().st_size,
        rows,
        columns,
        url or kept_url,
        source or (old.source if old is not None else None),
    )
    if backend is not None and backend.writable:
        backend.put(obj, digest)
    # Last: a pointer is only written once its bytes are stored.
    atomic_write(root / pointer_path(rel), ptr.dump().encode())
    return ptr


def _old_pointer(root: Path, rel: str) -> Pointer | None:
    """The pointer ``add`` replaces: its url is kept while it names the same bytes, and
    its source always (the file still comes from there)."""
    try:
        return parse((root / pointer_path(rel)).read_bytes(), where=pointer_path(rel))
    except (FileNotFoundError, ConfigError):
        return None  # no pointer yet, or a broken one this add replaces


def _gitignore(root: Path, rels: Sequence[str], cache: Cache) -> None:
    """Add ``/<rel>`` lines to the repo's .gitignore, each once, keeping what is there."""
    gitignore = root / ".gitignore"
    # The lock lives in the cache, not the repo, so it never shows up as an untracked file.
    key = hashlib.sha256(str(root.resolve()).encode()).hexdigest()[:16]
    with lock_for(cache.layout.locks / f"gitignore-{key}"):
        text = gitignore.read_bytes().decode("utf-8") if gitignore.exists() else ""
        present = {line.rstrip("\r") for line in text.split("\n")}
        already = ignored(root, list(rels))  # e.g. by "data/" or "*.csv" lines
        wanted = [r for r in rels if r not in already]
        entries = [e for e in dict.fromkeys(_ignore_entry(r) for r in wanted) if e not in present]
        if not entries:
            return
        newline = "\r\n" if "\r\n" in text else "\n"
        if text and not text.endswith("\n"):
            text += newline
        atomic_write(gitignore, (text + "".join(e + newline for e in entries)).encode("utf-8"))


def _ignore_entry(rel: str) -> str:
    """``/data/train.csv``: anchored at the repo root, glob characters escaped."""
    escaped = re.sub(r"([*?\[\\])", r"\\\1", rel)
    if escaped.endswith(" "):
        escaped = escaped[:-1] + "\\ "  # git drops unescaped trailing spaces
    return "/" + escaped


# --- mlgate data status / pull / push ----------------------------------------------------


@dataclass(frozen=True)
class StatusEntry:
    path: str  # the data file, repo-relative
    pointer: str  # its .ptr
    sha256: str
    size: int
    data: Literal["ok", "modified", "missing"]  # the working-tree file against the pointer
    in_cache: bool
    in_storage: Literal["yes", "no", "unknown"]  # unknown: no storage, or it did not answer
    # Not in the cache, but a file a pull wrote (this one, or another clone's) holds the
    # bytes, by its stat: a check copies them in from there, without the network.
    copied: bool = False


def status(root: Path, *, cache: Cache, storage: str | None) -> list[StatusEntry]:
    """One entry per pointer tracked or present in the working tree, sorted by path."""
    backend = backend_for(storage) if storage else None
    entries = []
    for rel in pointed_files(root):
        ptr = _read_pointer(root, rel)
        in_cache = cache.has(ptr.sha256)
        entries.append(
            StatusEntry(
                path=rel,
                pointer=pointer_path(rel),
                sha256=ptr.sha256,
                size=ptr.size,
                data=_worktree_state(root / rel, ptr, cache),
                in_cache=in_cache,
                in_storage=_in_storage(backend, ptr.sha256),
                copied=not in_cache and next(cache.copies.of(ptr.sha256), None) is not None,
            )
        )
    return entries


def _worktree_state(path: Path, ptr: Pointer, cache: Cache) -> Literal["ok", "modified", "missing"]:
    if not path.is_file():
        return "missing"
    if path.stat().st_size != ptr.size or cache.sha256_of(path) != ptr.sha256:
        return "modified"
    return "ok"


def _in_storage(backend: Backend | None, digest: str) -> Literal["yes", "no", "unknown"]:
    if backend is None:
        return "unknown"
    try:
        return "yes" if backend.has(digest) else "no"
    except DataError:
        return "unknown"  # status reports; it does not fail because storage is unreachable


# Files moved at once by push and pull: a bucket's latency per object (a HEAD, then the
# transfer) overlaps across files; a large file alone already streams in parallel parts.
JOBS = 8


def _each(rels: list[str], one: Callable[[str], bool], jobs: int | None) -> list[str]:
    """The paths ``one`` did something for, in order; ``jobs`` files at a time. Every file
    is whole or absent whatever happens to another; the first failure (in path order) is
    raised once every started file has finished."""
    jobs = min(jobs or JOBS, len(rels))
    if jobs <= 1:
        return [rel for rel in rels if one(rel)]
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=jobs, thread_name_prefix="mlgate-data") as pool:
        futures = [pool.submit(one, rel) for rel in rels]
    return [rel for rel, done in zip(rels, futures, strict=True) if done.result()]


def pull(
    root: Path,
    paths: Sequence[str] | None,
    *,
    cache: Cache,
    storage: str | None,
    jobs: int | None = None,
) -> list[str]:
    """Put each pointer's bytes at its data path; returns the paths written."""
    rels = _selected(root, paths)
    return _each(rels, lambda rel: _pull_one(root, rel, cache, storage), jobs)


def _pull_one(root: Path, rel: str, cache: Cache, storage: str | None) -> bool:
    ptr = _read_pointer(root, rel)
    dest = inside(root, rel)  # a directory linked out of the repository is not written to
    if dest.exists() and not dest.is_file():
        raise DataError(f"cannot pull {rel}: {dest} exists and is not a file")
    replaced = None
    if dest.is_file():
        replaced = cache.sha256_of(dest)
        if replaced == ptr.sha256:
            return False
        _keep(rel, dest, replaced, cache, unless=f"or delete {rel} to pull {short(ptr.sha256)}")
    # One write, into the working tree; the cache copies it when a check needs it.
    place(ptr, dest, name=pointer_path(rel), cache=cache, storage=storage)
    if replaced is not None:
        cache.copies.forget(dest, replaced)
    return True


def _keep(rel: str, dest: Path, current: str, cache: Cache, *, unless: str) -> None:
    """Before ``dest`` (holding ``current``) is overwritten: fine when the cache holds its
    bytes; a version an earlier pull wrote there is copied into the cache first; anything
    else is a local edit no pointer records, and the overwrite is refused (exit 3)."""
    if cache.has(current):
        return
    if not cache.copies.wrote(dest, current):
        raise DataError(
            f"{rel} has changes not recorded in {pointer_path(rel)}; run "
            f"`mlgate data add {rel}` to keep them, {unless}"
        )
    cache.put_file(dest, current)  # verified: the bytes are the version that pull wrote


def push(
    root: Path,
    paths: Sequence[str] | None,
    *,
    cache: Cache,
    storage: str | None,
    jobs: int | None = None,
) -> list[str]:
    """Upload each pointer's bytes that storage lacks; returns the paths uploaded."""
    if storage is None:
        raise ConfigError(
            "no storage configured; set `storage: file:///path/to/store` in mlgate.yaml to push",
            key="storage",
        )
    backend = backend_for(storage, removed=cache.removed)
    if not backend.writable:
        scheme = storage.split(":", 1)[0]
        raise DataError(f"{scheme} storage is read-only: cannot push to {redact_url(storage)}")
    rels = _selected(root, paths)
    return _each(rels, lambda rel: _push_one(root, rel, cache, backend), jobs)


def _push_one(root: Path, rel: str, cache: Cache, backend: Backend) -> bool:
    ptr = _read_pointer(root, rel)
    if backend.has(ptr.sha256):
        return False
    obj = fetch(
        ptr,
        name=pointer_path(rel),
        cache=cache,
        storage=backend.url,
        local=inside(root, rel),
        local_label=rel,
    )
    backend.put(obj, ptr.sha256)
    return True


# --- mlgate data bump --------------------------------------------------------------------


@dataclass(frozen=True)
class Bumped:
    path: str  # the data file, repo-relative
    old: Pointer
    new: Pointer  # == old when the source gave the same bytes

    @property
    def changed(self) -> bool:
        return self.new.sha256 != self.old.sha256


def bump(
    root: Path,
    paths: Sequence[str] | None,
    *,
    cache: Cache,
    storage: str | None,
    timeout: float = DEFAULT_TIMEOUT,
) -> list[Bumped]:
    """For each pointer with a ``source`` (those named, else all): get the source's bytes,
    and when they differ, store them, update the working file and rewrite the pointer.

    Every source is fetched and checked before anything is written, so a source that fails
    or gives a corrupt file (empty, or not readable as the file's format) changes nothing:
    DataError (exit 3). Pointers without a source are skipped unless named (then UsageError).
    """
    rels = _selected(root, paths)
    targets = [(rel, _read_pointer(root, rel)) for rel in rels]
    if paths is not None:
        for rel, ptr in targets:
            if ptr.source is None:
                raise UsageError(
                    f"{pointer_path(rel)} has no source; record one with "
                    f"`mlgate data add {rel} --source URL`"
                )
    backend = backend_for(storage, removed=cache.removed) if storage else None
    with os_errors("cannot bump data"):
        fetched = [
            (rel, old, _fetch_source(root, rel, old, cache, timeout))
            for rel, old in targets
            if old.source is not None
        ]
        for rel, old, new in fetched:  # unrecorded edits are refused before any write
            if new.sha256 != old.sha256:
                _check_worktree(root, rel, old, cache)
        for rel, old, new in fetched:
            if new.sha256 == old.sha256:
                continue
            obj = cache.path_for(new.sha256)
            if backend is not None and backend.writable:
                backend.put(obj, new.sha256)
            dest = inside(root, rel)
            with temp_beside(dest) as tmp:
                copy_verified(obj, tmp, new.sha256)
                os.replace(tmp, dest)
            atomic_write(root / pointer_path(rel), new.dump().encode())
    return [Bumped(rel, old, new) for rel, old, new in fetched]


def _fetch_source(root: Path, rel: str, old: Pointer, cache: Cache, timeout: float) -> Pointer:
    """The pointer for the source's current bytes, which are in the cache; ``old`` when
    they are the same bytes."""
    assert old.source is not None
    where = cache.objects / "incoming"
    with temp_beside(where, removed=cache.removed) as tmp:
        # The forge tokens mlgate holds are mlgate's, not the build's.
        obtain(old.source, tmp, root=root, timeout=timeout, hidden=FORGE_TOKEN_VARS)
        if tmp.stat().st_size == 0:
            raise DataError(f"source {shown(old.source)} of {rel} gave an empty file")
        digest, obj = cache.add_file(tmp)
    if digest == old.sha256:
        return old
    try:
        rows, columns = cached_summary(obj, rel, digest, layout=cache.layout)
    except DataError as e:
        raise DataError(f"source {shown(old.source)} of {rel} gave a corrupt file: {e}") from e
    return Pointer(digest, obj.stat().st_size, rows, columns, None, old.source)


def _check_worktree(root: Path, rel: str, old: Pointer, cache: Cache) -> None:
    dest = inside(root, rel)
    if dest.exists() and not dest.is_file():
        raise DataError(f"cannot bump {rel}: {dest} exists and is not a file")
    if not dest.is_file():
        return
    current = cache.sha256_of(dest)
    if current != old.sha256:
        _keep(rel, dest, current, cache, unless=f"or delete {rel}, before bumping it")


# --- mlgate data bump --pr ---------------------------------------------------------------

FORGE_TOKEN_VARS = frozenset(
    {v for kind in forge_env.FORGES.values() for v in kind.token_vars} | {"CI_JOB_TOKEN"}
)
BUMP_MARKER = "<!-- mlgate:data-bump -->"
DEFAULT_WORKFLOW = "mlgate.yml"  # what `mlgate init` writes to .github/workflows/


@dataclass(frozen=True)
class Proposal:
    """The pull request (GitHub) or merge request (GitLab) a bump opened or updated."""

    branch: str
    commit: str
    number: int
    url: str | None
    created: bool
    workflow: str | None = None  # GitHub: the workflow dispatched on the branch
    pipeline: int | None = None  # GitLab: the merge request pipeline mlgate started
    forge: forge_env.ForgeName = "github"

    @property
    def noun(self) -> str:
        return NOUNS[self.forge]

    @property
    def ref(self) -> str:
        return f"{'!' if self.forge == 'gitlab' else '#'}{self.number}"


NOUNS: dict[forge_env.ForgeName, str] = {"github": "pull request", "gitlab": "merge request"}
TOKEN_NEEDS: dict[forge_env.ForgeName, str] = {
    "github": "a GitHub token with contents, pull-requests and actions write permission",
    "gitlab": "a GitLab project access token with api scope and the Developer role",
}


def bump_branch(model: str) -> str:
    branch = f"mlgate/data/{model}"
    problem = git.ref_name_problem(f"refs/heads/{branch}")
    if problem:
        raise ConfigError(f"the bump branch {branch!r} {problem}", key="model.name")
    return branch


def bump_forge(environ: Mapping[str, str]) -> forge_env.ForgeName:
    """Where a bump proposes: the CI it runs in; on a machine, GitLab when its project is
    named (CI_PROJECT_ID), else GitHub."""
    for kind in forge_env.FORGES.values():
        if kind.active(environ):
            return kind.name
    return "gitlab" if environ.get("CI_PROJECT_ID") else "github"


def propose(
    root: Path,
    bumped: Sequence[Bumped],
    *,
    model: str,
    environ: Mapping[str, str],
    dispatch: bool = True,
    workflow: str | None = None,
) -> Proposal | None:
    """Commit the changed pointers on ``mlgate/data/<model>`` (on top of HEAD, force-pushed
    to origin), open its pull/merge request or update the open one (there is never a
    second), and start its check: on GitHub a push made with the Actions ``GITHUB_TOKEN``
    starts no workflow, so the mlgate workflow is dispatched on the branch; on GitLab the
    merge request gets a pipeline. ``dispatch=False`` leaves starting it to the forge.
    None when nothing changed."""
    repo = git.open_repo(root)
    head = git.head_sha(repo)
    if head is None:
        raise UsageError("data bump --pr needs a commit to branch from; commit first")
    changed = _against(git.CommitFiles(repo, head, sha=head), bumped)
    if not changed:
        return None
    forge = bump_forge(environ)
    kind = forge_env.FORGES[forge]
    if not forge_env.token(kind, environ):
        raise UsageError(f"data bump --pr needs {TOKEN_NEEDS[forge]}: set {kind.no_token_hint}")
    branch = bump_branch(model)
    files = {pointer_path(b.path): b.new.dump().encode() for b in changed}
    title = f"mlgate: new data for {model} ({', '.join(b.path for b in changed)})"
    commit = git.commit_files(root, head, files, title + "\n", replace_dir=None)
    body = bump_body(model, changed, noun=NOUNS[forge])
    if forge == "gitlab":
        return _propose_gitlab(root, commit, branch, title, body, environ, dispatch)
    git.push_branch(root, "origin", commit, branch)
    base = git.default_branch_name(repo)
    return _propose_github(commit, branch, base, title, body, environ, dispatch, workflow)


def _propose_github(
    commit: str,
    branch: str,
    base: str,
    title: str,
    body: str,
    environ: Mapping[str, str],
    dispatch: bool,
    workflow: str | None,
) -> Proposal:
    from mlgate.forge.github import GitHub  # requests: only when a PR is opened

    forge = GitHub.from_env(environ, 0)
    found = forge.open_pull_for(branch)
    if found is None:
        try:
            pull = forge.create_pull(head=branch, base=base, title=title, body=body)
        except ForgeError as e:
            # 422: a racing bump opened it first; edit that one rather than fail.
            found = forge.open_pull_for(branch) if e.status == 422 else None
            if found is None:
                raise
    if found is not None:
        pull = forge.update_pull(int(found["number"]), title=title, body=body)
    chosen = None
    if dispatch:
        chosen = workflow or _running_workflow(environ) or DEFAULT_WORKFLOW
        try:
            forge.dispatch_workflow(chosen, branch)
        except ForgeError as e:
            if e.status not in (404, 422):
                raise
            raise ForgeError(
                f"{e} (pull request #{pull['number']} is open; does "
                f".github/workflows/{chosen} exist with `on: workflow_dispatch`? --workflow "
                "names another)",
                status=e.status,
            ) from e
    number = int(pull["number"])
    return Proposal(branch, commit, number, pull.get("html_url"), found is None, chosen)


def _propose_gitlab(
    root: Path,
    commit: str,
    branch: str,
    title: str,
    body: str,
    environ: Mapping[str, str],
    dispatch: bool,
) -> Proposal:
    """Push with ``ci.skip`` (the push starts no pipeline of its own), then open the merge
    request, which starts its merge request pipeline (GitLab does so when one is opened),
    or edit the open one and start that pipeline through the API: one pipeline a bump,
    and one that knows its merge request."""
    from mlgate.forge.gitlab import GitLab  # requests: only when a merge request is opened

    token = forge_env.token(forge_env.FORGES["gitlab"], environ)
    header = None
    if token and urlsplit(git.remote_url(root, "origin") or "").scheme in ("http", "https"):
        # In a pipeline, origin holds the job token, which may not push: the project token
        # does, for this push only.
        basic = base64.b64encode(f"oauth2:{token}".encode()).decode()
        header = f"Authorization: Basic {basic}"
    git.push_branch(
        root, "origin", commit, branch, options=("ci.skip",) if dispatch else (), header=header
    )
    target = environ.get("CI_DEFAULT_BRANCH") or git.default_branch_name(git.open_repo(root))
    forge = GitLab.for_project(environ)
    found = forge.open_merge_request_for(branch)
    if found is None:
        try:
            mr = forge.create_merge_request(
                source=branch, target=target, title=title, description=body
            )
        except ForgeError as e:
            # 409 "Another open merge request already exists for this source branch".
            found = forge.open_merge_request_for(branch) if e.status == 409 else None
            if found is None:
                raise
    pipeline = None
    if found is not None:
        mr = forge.update_merge_request(int(found["iid"]), title=title, description=body)
        if dispatch:
            pipeline = int(forge.create_merge_request_pipeline(int(mr["iid"]))["id"])
    number = int(mr["iid"])
    return Proposal(
        branch, commit, number, mr.get("web_url"), found is None, pipeline=pipeline, forge="gitlab"
    )


def _against(committed: git.CommitFiles, bumped: Sequence[Bumped]) -> list[Bumped]:
    """The bumps as changes from the pointers committed at HEAD: a bump whose pull request
    failed to open leaves the working tree's pointer new, and the next one still proposes it."""
    changes = []
    for b in bumped:
        ptr_rel = pointer_path(b.path)
        data = committed.read(ptr_rel)
        old = b.old if data is None else parse(data, where=f"HEAD:{ptr_rel}")
        if old.sha256 != b.new.sha256:
            changes.append(Bumped(b.path, old, b.new))
    return changes


def _running_workflow(environ: Mapping[str, str]) -> str | None:
    """The file name of the workflow this run is part of, from GITHUB_WORKFLOW_REF
    (``owner/repo/.github/workflows/mlgate.yml@refs/heads/main``)."""
    ref = environ.get("GITHUB_WORKFLOW_REF", "").partition("@")[0]
    name = ref.rpartition("/")[2]
    return name if name.endswith((".yml", ".yaml")) else None


def bump_body(model: str, changed: Sequence[Bumped], *, noun: str = "pull request") -> str:
    """The pull (merge) request's body: the data diff the bump makes, from the pointers."""
    diff = data_diff(
        {b.path: _summary(b.path, b.old) for b in changed},
        {b.path: _summary(b.path, b.new) for b in changed},
    )
    lines = [
        BUMP_MARKER,
        f"**mlgate data bump** for {md_escape(model)}: the pointers' sources give new data.",
        "",
        "| data | source | before | after | rows | columns |",
        "|---|---|---|---|---|---|",
    ]
    sources = {b.path: b.new.source for b in changed}
    for change in diff:
        source = sources[change.path]
        lines.append(
            f"| {md_escape(change.path)} | {md_escape(shown(source)) if source else ''} "
            f"| {_side(change.old)} | {_side(change.new)} | {_rows(change)} "
            f"| {_columns(change)} |"
        )
    lines += [
        "",
        f"The mlgate/{md_escape(model)} check on this {noun} retrains on the new data "
        "and reports the metrics and the drift against the current data. Every bump "
        "force-updates this branch and edits this description.",
    ]
    return "\n".join(lines) + "\n"


def _summary(path: str, ptr: Pointer) -> DataSummary:
    return DataSummary(path, ptr.sha256, ptr.size, ptr.rows, ptr.columns)


def _side(s: DataSummary | None) -> str:
    if s is None:
        return ""
    rows = f", {s.rows} rows" if s.rows is not None else ""
    return f"`{s.sha256[:8]}` {fmt_size(s.size)}{rows}"


def _rows(change: DataChange) -> str:
    if change.old is None or change.new is None:
        return ""
    if change.old.rows is None or change.new.rows is None:
        return ""
    return f"{change.new.rows - change.old.rows:+d}"


def _columns(change: DataChange) -> str:
    parts = [f"+{md_escape(c)}" for c in change.columns_added]
    parts += [f"−{md_escape(c)}" for c in change.columns_removed]
    parts += [
        f"{md_escape(n)}: {md_escape(o)} → {md_escape(w)}" for n, o, w in change.columns_retyped
    ]
    return ", ".join(parts) or "same"


def _selected(root: Path, paths: Sequence[str] | None) -> list[str]:
    """Data paths to act on: those named (data or .ptr paths), else every pointer's."""
    if paths is None:
        return pointed_files(root)
    rels = [data_path(_repo_path(root, p)) for p in paths]
    for rel in rels:
        if not (root / pointer_path(rel)).is_file():
            raise DataError(f"no pointer {pointer_path(rel)}; run `mlgate data add {rel}` first")
    return list(dict.fromkeys(rels))


def _read_pointer(root: Path, rel: str) -> Pointer:
    ptr_rel = pointer_path(rel)
    return parse(inside(root, ptr_rel).read_bytes(), where=ptr_rel)


def _repo_path(root: Path, path: str) -> str:
    """A repo-relative path; ConfigError (exit 2) for anything outside the repository."""
    given = Path(path)
    if given.is_absolute():
        # An absolute path inside the repo is fine; repo_relpath refuses any other.
        real_root = root.resolve()
        if given.resolve().is_relative_to(real_root):
            path = given.resolve().relative_to(real_root).as_posix()
    rel = repo_relpath(path)
    # A symlink inside the repo may still lead out of it.
    if not (root / rel).resolve().is_relative_to(root.resolve()):
        raise ConfigError(f"path {rel!r} leads outside the repository through a symlink")
    return rel
