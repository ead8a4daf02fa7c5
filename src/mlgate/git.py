"""The git boundary: the only module that imports GitPython.

Files are read at a revision without checking it out (``CommitFiles``); the working tree
is read from disk (``WorkingFiles``). Both answer the same small ``Files`` protocol, so the
rest of mlgate does not care which side it reads.
"""

from __future__ import annotations

import io
import os
import subprocess
import tarfile
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from mlgate.errors import GitError, UsageError
from mlgate.paths import repo_relpath

if TYPE_CHECKING:
    import git as gitpython

WORKING_TREE = "working tree"


def open_repo(path: str | os.PathLike[str] = ".") -> gitpython.Repo:
    """The repository containing ``path``, or UsageError (exit 2) when there is none."""
    import git

    try:
        return git.Repo(path, search_parent_directories=True)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError) as e:
        raise UsageError(
            f"{os.path.abspath(path)} is not inside a git repository; run mlgate from your "
            "project's checkout (or `git init` first)"
        ) from e


def toplevel(path: str | os.PathLike[str] = ".") -> Path:
    """The working tree root containing ``path``, asking git itself (GitPython costs ~40 ms
    to import; commands that need only the root skip it). UsageError like ``open_repo``."""
    proc = subprocess.run(
        ["git", "rev-parse", "--show-toplevel"], cwd=path, capture_output=True, text=True
    )
    if proc.returncode != 0 or not proc.stdout.strip():
        if "bare" in proc.stderr or proc.stderr.strip().startswith("fatal: this operation"):
            raise UsageError(
                f"{os.path.abspath(path)} is in a bare repository; mlgate needs a working tree"
            )
        raise UsageError(
            f"{os.path.abspath(path)} is not inside a git repository; run mlgate from your "
            "project's checkout (or `git init` first)"
        )
    return Path(proc.stdout.strip())


def root(repo: gitpython.Repo) -> Path:
    if repo.working_tree_dir is None:
        raise UsageError(f"{repo.git_dir} is a bare repository; mlgate needs a working tree")
    return Path(repo.working_tree_dir)


def head_sha(repo: gitpython.Repo) -> str | None:
    """The commit HEAD points at, or None in a repository with no commits yet."""
    try:
        return repo.head.commit.hexsha
    except ValueError:
        return None


def resolve(repo: gitpython.Repo, rev: str) -> str:
    """Full sha of ``rev``; UsageError (exit 2) when it names no commit."""
    import git

    try:
        return repo.commit(rev).hexsha
    except (git.BadName, git.BadObject, ValueError, git.GitCommandError) as e:
        raise UsageError(
            f"unknown revision {rev!r} in {root(repo)}; check the branch, tag or sha "
            "(in a shallow clone, fetch it first)"
        ) from e


def default_branch(repo: gitpython.Repo) -> str | None:
    """The default branch: origin's HEAD if known, else a local main/master, else init's."""
    try:
        ref = str(repo.git.symbolic_ref("--quiet", "refs/remotes/origin/HEAD"))
        return ref.removeprefix("refs/remotes/")
    except Exception:
        pass
    names = {h.name for h in repo.heads}
    remote = {r.name for r in repo.refs if r.name.startswith("origin/")}
    for name in ("main", "master"):
        if f"origin/{name}" in remote:
            return f"origin/{name}"
        if name in names:
            return name
    try:
        configured = repo.git.config("--get", "init.defaultBranch")
    except Exception:
        return None
    return configured if configured in names else None


def merge_base(repo: gitpython.Repo, a: str, b: str) -> str | None:
    bases = repo.merge_base(a, b)
    return bases[0].hexsha if bases else None


def dirty_paths(repo: gitpython.Repo) -> tuple[str, ...]:
    """Paths with uncommitted changes (staged, unstaged or untracked, not ignored)."""
    out = repo.git.status("--porcelain=v1", "-z", "--untracked-files=all")
    paths: list[str] = []
    entries = iter(out.split("\0"))
    for entry in entries:
        if not entry:
            continue
        status, path = entry[:2], entry[3:]
        paths.append(path)
        if "R" in status or "C" in status:
            next(entries, None)  # the rename's source path follows
    return tuple(sorted(paths))


class Files(Protocol):
    """Read-only view of the repository's files on one side of a comparison."""

    ref: str  # what the user asked for
    sha: str | None  # the commit (for the working tree: the commit it sits on)

    def read(self, path: str) -> bytes | None:
        """Bytes of a repo-relative file, or None when it does not exist on this side."""
        ...

    def list_files(self, prefix: str = "") -> list[str]:
        """Repo-relative paths of every file under ``prefix`` on this side."""
        ...


class CommitFiles:
    def __init__(self, repo: gitpython.Repo, rev: str) -> None:
        self.repo = repo
        self.ref = rev
        self.sha: str | None = resolve(repo, rev)
        self._tree = repo.commit(self.sha).tree

    @property
    def tree_sha(self) -> str:
        """The commit's tree: same tree, same code, config and pointers."""
        return str(self._tree.hexsha)

    def read(self, path: str) -> bytes | None:
        rel = repo_relpath(path)
        try:
            item = self._tree / rel
        except KeyError:
            return None
        if item.type != "blob":
            return None
        data: bytes = item.data_stream.read()
        return data

    def list_files(self, prefix: str = "") -> list[str]:
        """Every file path under ``prefix`` (repo-relative, POSIX), recursively."""
        try:
            tree = self._tree / prefix if prefix else self._tree
        except KeyError:
            return []
        if tree.type != "tree":
            return []
        items = tree.traverse()  # a Tree's traverse() yields its blobs and subtrees
        return sorted(str(i.path) for i in items if getattr(i, "type", None) == "blob")  # type: ignore[union-attr]

    def export(self, dest: Path) -> None:
        """Write this commit's tree (code only matters, but git archive is cheap) to ``dest``."""
        data = self.repo.git.archive(self.sha, format="tar", stdout_as_string=False)
        with tarfile.open(fileobj=io.BytesIO(data)) as tar:
            try:
                tar.extractall(dest, filter="data")  # refuses links/paths out of dest
            except TypeError:  # Python < 3.10.12 has no filters; git archive emits no "../"
                tar.extractall(dest)


class WorkingFiles:
    def __init__(self, repo: gitpython.Repo) -> None:
        self.repo = repo
        self.ref = WORKING_TREE
        self.sha = head_sha(repo)
        self.root = root(repo)

    def list_files(self, prefix: str = "") -> list[str]:
        base = self.root / prefix if prefix else self.root
        if not base.is_dir():
            return []
        found = []
        for dirpath, dirnames, filenames in os.walk(base):
            dirnames[:] = [d for d in dirnames if d != ".git"]
            rel = Path(dirpath).relative_to(self.root).as_posix()
            found += [f if rel == "." else f"{rel}/{f}" for f in filenames]
        return sorted(found)

    def read(self, path: str) -> bytes | None:
        target = self.root / repo_relpath(path)
        try:
            return target.read_bytes()
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            return None


def blob_shas(files: CommitFiles | WorkingFiles) -> dict[str, str]:
    """Every tracked file on this side -> its git blob sha (content hash), without reading
    the files git already knows. For the working tree, tracked files as they are on disk:
    modified ones are hashed, deleted ones left out; untracked files are not code."""
    if isinstance(files, CommitFiles):
        out = files.repo.git.ls_tree("-r", "-z", "--full-tree", files.sha)
        found = {}
        for entry in out.split("\0"):
            if entry:
                meta, _, path = entry.partition("\t")
                _mode, kind, sha = meta.split()
                if kind == "blob":
                    found[path] = sha
        return found
    root = files.root
    found = {}
    for entry in run_git(["ls-files", "-z", "-s"], root).split("\0"):
        if entry:
            meta, _, path = entry.partition("\t")
            found[path] = meta.split()[1]
    changed = [p for p in run_git(["ls-files", "-z", "--modified"], root).split("\0") if p]
    existing = [p for p in dict.fromkeys(changed) if (root / p).is_file()]
    for path in changed:
        found.pop(path, None)
    if existing:
        proc = subprocess.run(
            ["git", "hash-object", "--stdin-paths"],
            cwd=root,
            input="\n".join(existing) + "\n",
            capture_output=True,
            text=True,
        )
        if proc.returncode != 0:
            raise GitError(f"git hash-object failed: {proc.stderr.strip()}")
        found.update(zip(existing, proc.stdout.split(), strict=True))
    return found


def where_at(files: Files, path: str) -> str:
    """A file as messages name it: ``data/x.csv.ptr@abc1234`` at a commit, the bare path
    in the working tree."""
    if isinstance(files, WorkingFiles) or not files.sha:
        return path
    return f"{path}@{files.sha[:7]}"


def files_at(repo: gitpython.Repo, rev: str | None) -> CommitFiles | WorkingFiles:
    """``rev`` None means the working tree."""
    return WorkingFiles(repo) if rev is None else CommitFiles(repo, rev)


@contextmanager
def exported(files: CommitFiles | WorkingFiles, tmp: Path) -> Iterator[Path]:
    """A directory holding this side's code: the working tree itself, or a commit's export."""
    if isinstance(files, WorkingFiles):
        yield files.root
        return
    dest = tmp / f"tree-{files.sha}"
    dest.mkdir(parents=True, exist_ok=True)
    files.export(dest)
    yield dest


def ignored(root: Path, paths: list[str]) -> set[str]:
    """The subset of ``paths`` that git already ignores (by any .gitignore or exclude file)."""
    if not paths:
        return set()
    proc = subprocess.run(
        ["git", "check-ignore", "--no-index", "-z", "--stdin"],
        cwd=root,
        input="\0".join(paths) + "\0",
        capture_output=True,
        text=True,
    )
    if proc.returncode not in (0, 1):  # 1: none ignored; 128: not a repo or bad input
        return set()
    return {p for p in proc.stdout.split("\0") if p}


def run_git(args: list[str], cwd: Path) -> str:
    """Plain git for the few things GitPython makes awkward; errors become GitError."""
    proc = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise GitError(f"git {' '.join(args)} failed in {cwd}: {proc.stderr.strip()}")
    return proc.stdout


def has_commit(root: Path, sha: str) -> bool:
    proc = subprocess.run(
        ["git", "cat-file", "-e", f"{sha}^{{commit}}"], cwd=root, capture_output=True
    )
    return proc.returncode == 0


# --- writing a branch without checking it out (the production branch) ----------------------

ZERO = "0" * 40
FALLBACK_IDENTITY = ("mlgate", "mlgate@users.noreply.github.com")


def _git(
    root: Path, *args: str, input: str | bytes | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[bytes]:
    data = input.encode() if isinstance(input, str) else input
    return subprocess.run(["git", *args], cwd=root, input=data, capture_output=True, env=env)


def _out(root: Path, *args: str, **kw: Any) -> str:
    proc = _git(root, *args, **kw)
    if proc.returncode != 0:
        err = proc.stderr.decode(errors="replace").strip()
        raise GitError(f"git {' '.join(args[:3])} failed in {root}: {err}")
    return proc.stdout.decode().strip()


def identity(root: Path) -> list[str]:
    """``-c user.name=… -c user.email=…`` when the repository has no identity (a CI runner)."""
    name = _git(root, "config", "user.name").stdout.strip()
    email = _git(root, "config", "user.email").stdout.strip()
    if name and email:
        return []
    return ["-c", f"user.name={FALLBACK_IDENTITY[0]}", "-c", f"user.email={FALLBACK_IDENTITY[1]}"]


def has_remote(root: Path, name: str = "origin") -> bool:
    return _git(root, "remote", "get-url", name).returncode == 0


def ref_sha(root: Path, ref: str) -> str | None:
    proc = _git(root, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}")
    return proc.stdout.decode().strip() or None if proc.returncode == 0 else None


def fetch_refs(root: Path, remote: str, refspecs: list[str]) -> None:
    """Fetch exactly these refspecs (missing remote branches are fine: first promotion)."""
    proc = _git(root, "fetch", "--quiet", "--no-tags", remote, *refspecs)
    if proc.returncode != 0:
        err = proc.stderr.decode(errors="replace").strip()
        if "couldn't find remote ref" not in err:
            raise GitError(f"git fetch {remote} failed in {root}: {err}")


def commit_files(
    root: Path, parent: str | None, files: dict[str, bytes], message: str, *, replace_dir: str
) -> str:
    """A commit whose tree is ``parent``'s with ``replace_dir/`` replaced by ``files``; made
    with a temporary index, so the working tree and the user's index are never touched."""
    with tempfile.TemporaryDirectory(prefix="mlgate-index-") as tmp:
        env = {**os.environ, "GIT_INDEX_FILE": str(Path(tmp) / "index")}
        if parent:
            _out(root, "read-tree", parent, env=env)
            _out(
                root,
                "rm",
                "-r",
                "--cached",
                "--quiet",
                "--ignore-unmatch",
                "--",
                replace_dir,
                env=env,
            )
        for path, data in sorted(files.items()):
            blob = _out(root, "hash-object", "-w", "--stdin", input=data)
            _out(root, "update-index", "--add", "--cacheinfo", f"100644,{blob},{path}", env=env)
        tree = _out(root, "write-tree", env=env)
    parents = ["-p", parent] if parent else []
    return _out(root, *identity(root), "commit-tree", tree, *parents, input=message)


def move_ref(root: Path, ref: str, new: str, old: str | None) -> bool:
    """Compare-and-swap: point ``ref`` at ``new`` only if it is still at ``old``."""
    return _git(root, "update-ref", ref, new, old or ZERO).returncode == 0


def create_tag(root: Path, name: str, commit: str, message: str) -> bool:
    """An annotated tag; False when the name is taken (another promotion got there first)."""
    proc = _git(root, *identity(root), "tag", "-a", name, commit, "-F", "-", input=message)
    return proc.returncode == 0


def delete_tag(root: Path, name: str) -> None:
    _git(root, "tag", "-d", name)


def push_atomic(root: Path, remote: str, refspecs: list[str]) -> tuple[bool, str]:
    """All refspecs or none (``--atomic``); no force. (accepted, git's message)."""
    proc = _git(root, "push", "--atomic", "--porcelain", remote, *refspecs)
    message = (proc.stdout + proc.stderr).decode(errors="replace").strip()
    return proc.returncode == 0, message


def tree_files(root: Path, rev: str, directory: str) -> dict[str, bytes]:
    """Every file under ``directory/`` at ``rev``: {path: bytes}."""
    listing = _out(root, "ls-tree", "-r", "-z", "--full-tree", rev, "--", directory + "/")
    found: dict[str, bytes] = {}
    for entry in filter(None, listing.split("\0")):
        meta, path = entry.split("\t", 1)
        blob = meta.split()[2]
        found[path] = _git(root, "cat-file", "blob", blob).stdout
    return found
