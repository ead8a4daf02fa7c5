"""The git boundary: every git operation mlgate performs runs the ``git`` command here.

Files are read at a revision without checking it out (``CommitFiles``, through one
``git cat-file --batch`` process per repository); the working tree is read from disk
(``WorkingFiles``). Both answer the same small ``Files`` protocol, so the rest of mlgate
does not care which side it reads. Plain ``git`` rather than GitPython: importing
GitPython cost a warm check ~0.1 s, more than all the git calls it made.
"""

from __future__ import annotations

import errno
import io
import os
import subprocess
import weakref
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Protocol

from mlgate.errors import ConfigError, GitError, UsageError
from mlgate.paths import repo_relpath

WORKING_TREE = "working tree"


class Repo:
    """A repository: its working tree (None when bare) and its git directory."""

    def __init__(self, git_dir: Path, working_tree: Path | None) -> None:
        self.git_dir = git_dir
        self.working_tree_dir = None if working_tree is None else str(working_tree)
        self._cat: _CatFile | None = None

    @property
    def cwd(self) -> Path:
        """Where git commands for this repository run."""
        return Path(self.working_tree_dir) if self.working_tree_dir else self.git_dir

    def git(self, *args: str) -> str:
        """``git ARGS`` here; GitError with git's message when it fails."""
        return run_git(list(args), self.cwd)

    def object(self, spec: str) -> tuple[str, bytes] | None:
        """(type, content) of ``rev:path`` or an object name, None when there is none."""
        if self._cat is None:
            self._cat = _CatFile(self.cwd)
            weakref.finalize(self, self._cat.close)
        return self._cat.get(spec)

    def __repr__(self) -> str:
        return f"Repo({self.working_tree_dir or self.git_dir})"


# What ``cat-file --follow-symlinks`` answers instead of an object, for a path whose
# symbolic links lead outside the tree, nowhere, in a circle or through a file.
_NOT_AN_OBJECT = (b"symlink", b"dangling", b"loop", b"notdir")


class _CatFile:
    """One ``git cat-file --batch`` for every object read: a process per read would cost
    more than the reads themselves. Symbolic links in ``rev:path`` are followed inside the
    tree, as the working tree would, and one leading outside answers ("symlink", target)."""

    def __init__(self, cwd: Path) -> None:
        self.proc = subprocess.Popen(
            ["git", "cat-file", "--batch", "--follow-symlinks"],
            cwd=cwd,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )

    def get(self, spec: str) -> tuple[str, bytes] | None:
        if "\n" in spec:
            return None  # the batch protocol is line-based: such a path cannot be asked for
        stdin, stdout = self._pipes()
        stdin.write(spec.encode() + b"\n")
        stdin.flush()
        header = stdout.readline()
        if not header:
            raise GitError(f"git cat-file stopped while reading {spec}")
        line = header.rstrip(b"\n")
        if line.endswith((b" missing", b" ambiguous")):
            return None  # "<spec> missing": the spec may hold spaces, so judged by its end
        kind, _, size = line.partition(b" ")
        if kind not in _NOT_AN_OBJECT:
            kind, size = line.split(b" ")[1:]  # "<sha> <type> <size>"
        data = stdout.read(int(size))
        stdout.read(1)  # the newline after the content
        if kind in _NOT_AN_OBJECT:
            return ("symlink", data) if kind == b"symlink" else None
        return kind.decode(), data

    def _pipes(self) -> tuple[IO[bytes], IO[bytes]]:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        return self.proc.stdin, self.proc.stdout

    def close(self) -> None:
        if self.proc.stdin:
            self.proc.stdin.close()
        if self.proc.stdout:
            self.proc.stdout.close()
        self.proc.wait()


MAX_REF_BYTES = 255  # a ref is a file name on most systems: one path component's limit


def ref_name_problem(name: str) -> str | None:
    """Why git would refuse ``name`` (e.g. ``refs/tags/churn@v3``) as a ref, the rules of
    ``git check-ref-format``, or None; checked without a git call (configs are validated
    on every start). Over-long names are refused too."""
    if len(name.encode()) > MAX_REF_BYTES:
        return f"is longer than {MAX_REF_BYTES} bytes"
    bad = sorted({c for c in name if ord(c) < 0x20 or ord(c) == 0x7F or c in " ~^:?*[\\"})
    if bad:
        return f"contains {', '.join(repr(c) for c in bad)}, which git does not allow in a ref"
    if name == "@" or "@{" in name or ".." in name or "//" in name:
        return "contains '@{', '..' or '//', or is '@', which git does not allow"
    if name.startswith("/") or name.endswith(("/", ".")):
        return "starts with '/' or ends with '/' or '.', which git does not allow"
    if any(part.startswith(".") or part.endswith(".lock") for part in name.split("/")):
        return "has a part starting with '.' or ending with '.lock', which git does not allow"
    return None


def _not_a_repo(path: str | os.PathLike[str]) -> UsageError:
    return UsageError(
        f"{os.path.abspath(path)} is not inside a git repository; run mlgate from your "
        "project's checkout (or `git init` first)"
    )


def open_repo(path: str | os.PathLike[str] = ".") -> Repo:
    """The repository containing ``path``, or UsageError (exit 2) when there is none."""
    # One git call in a working tree; --show-toplevel fails in a bare one: ask again without.
    lines = _rev_parse(path, "--is-bare-repository", "--absolute-git-dir", "--show-toplevel")
    if lines is not None and len(lines) == 3:
        return Repo(Path(lines[1]), None if lines[0] == "true" else Path(lines[2]))
    lines = _rev_parse(path, "--is-bare-repository", "--absolute-git-dir")
    if lines is None or len(lines) != 2:
        raise _not_a_repo(path)
    bare, git_dir = lines[0] == "true", Path(lines[1])
    return Repo(git_dir, None if bare else toplevel(path))


def _rev_parse(path: str | os.PathLike[str], *args: str) -> list[str] | None:
    """``git rev-parse ARGS`` in ``path``, one answer per line; None when git refuses."""
    try:
        proc = subprocess.run(["git", "rev-parse", *args], cwd=path, capture_output=True, text=True)
    except (FileNotFoundError, NotADirectoryError) as e:
        raise _not_a_repo(path) from e
    return proc.stdout.splitlines() if proc.returncode == 0 else None


def toplevel(path: str | os.PathLike[str] = ".") -> Path:
    """The working tree root containing ``path``, asking git itself. UsageError like
    ``open_repo``."""
    try:
        proc = subprocess.run(
            ["git", "rev-parse", "--show-toplevel"], cwd=path, capture_output=True, text=True
        )
    except (FileNotFoundError, NotADirectoryError) as e:
        raise _not_a_repo(path) from e
    if proc.returncode != 0 or not proc.stdout.strip():
        if "bare" in proc.stderr or proc.stderr.strip().startswith("fatal: this operation"):
            raise UsageError(
                f"{os.path.abspath(path)} is in a bare repository; mlgate needs a working tree"
            )
        raise _not_a_repo(path)
    return Path(proc.stdout.strip())


def config_path(cwd: str | os.PathLike[str], config: str) -> str:
    """``-c FILE`` (given relative to where the user stands) as a repository path, which is
    how configs are read at a revision; UsageError when it is outside the repository."""
    top = toplevel(cwd).resolve()
    try:
        return (Path(cwd) / config).resolve().relative_to(top).as_posix()
    except ValueError:
        raise UsageError(f"config {config} is outside the repository {top}") from None


def root(repo: Repo) -> Path:
    if repo.working_tree_dir is None:
        raise UsageError(f"{repo.git_dir} is a bare repository; mlgate needs a working tree")
    return Path(repo.working_tree_dir)


def _commit_of(repo: Repo, rev: str) -> str | None:
    proc = _git(
        repo.cwd, "rev-parse", "--verify", "--quiet", "--end-of-options", f"{rev}^{{commit}}"
    )
    return proc.stdout.decode().strip() or None if proc.returncode == 0 else None


def head_sha(repo: Repo) -> str | None:
    """The commit HEAD points at, or None in a repository with no commits yet."""
    return _commit_of(repo, "HEAD")


def resolve(repo: Repo, rev: str) -> str:
    """Full sha of ``rev``; UsageError (exit 2) when it names no commit."""
    sha = _commit_of(repo, rev) if rev else None
    if sha is None:
        raise UsageError(
            f"unknown revision {rev!r} in {repo.cwd}; check the branch, tag or sha "
            "(in a shallow clone, fetch it first)"
        )
    return sha


def commit_message(repo: Repo, rev: str) -> str:
    """The full message of the commit ``rev`` names, as it is stored."""
    found = repo.object(resolve(repo, rev))
    assert found is not None and found[0] == "commit"
    return found[1].partition(b"\n\n")[2].decode(errors="replace")


def default_branch(repo: Repo) -> str | None:
    """The default branch: origin's HEAD if known, else a local main/master, else init's."""
    found = default_branch_tip(repo)
    return None if found is None else found[0]


def default_branch_tip(repo: Repo) -> tuple[str, str | None] | None:
    """``default_branch`` and the commit it points at (None: not a commit), from one
    ``for-each-ref`` instead of a call per guess."""
    found = _default_branch(repo)
    return None if found is None else found[:2]


@dataclass(frozen=True)
class DefaultBranch:
    """The branch a check's base is chosen against. ``name`` is ``origin/main`` as origin
    has it, or the local ``main`` when that has commits origin lacks (``ahead`` of
    ``origin``, which is then set; ``behind``: commits only origin has)."""

    name: str
    sha: str | None
    origin: str | None = None
    ahead: int = 0
    behind: int = 0

    def describe(self) -> str:
        """``main (local; 2 commits ahead of origin/main)``, or just the name."""
        if self.origin is None:
            return self.name
        ahead = f"{self.ahead} commit{'s' if self.ahead != 1 else ''} ahead of"
        behind = f", {self.behind} behind" if self.behind else ""
        return f"{self.name} (local; {ahead} {self.origin}{behind})"


def default_branch_choice(repo: Repo) -> DefaultBranch | None:
    """``default_branch_tip``, except that a local branch of the same name as origin's
    default (``main`` for ``origin/main``) wins when it has commits origin lacks: a base
    that is behind your own default branch would credit your PR with its commits. One git
    call more (``rev-list --count``) only when the two tips differ."""
    found = _default_branch(repo)
    if found is None:
        return None
    name, sha, local = found
    short = name.removeprefix("origin/")
    mine = local.get(short) if name != short else None
    if sha is None or mine is None or mine == sha:
        return DefaultBranch(name, sha)
    counts = repo.git("rev-list", "--left-right", "--count", f"{sha}...{mine}").split()
    behind, ahead = int(counts[0]), int(counts[1])
    if ahead == 0:
        return DefaultBranch(name, sha)
    return DefaultBranch(short, mine, origin=name, ahead=ahead, behind=behind)


def _default_branch(repo: Repo) -> tuple[str, str | None, dict[str, str | None]] | None:
    """(the default branch, its commit, every local branch's commit) from one
    ``for-each-ref``: origin's HEAD if known, else main/master, else init's default."""
    out = repo.git(
        "for-each-ref",
        "--format=%(refname)%00%(symref)%00%(objecttype)%00%(objectname)",
        "refs/heads",
        "refs/remotes/origin",
    )
    symref = None
    local: dict[str, str | None] = {}
    remote: dict[str, str | None] = {}
    for line in out.splitlines():
        ref, target, kind, sha = line.split("\0")
        if ref == "refs/remotes/origin/HEAD" and target:
            symref = target.removeprefix("refs/remotes/")
        tips = local if ref.startswith("refs/heads/") else remote
        tips[ref.removeprefix("refs/heads/").removeprefix("refs/remotes/")] = (
            sha if kind == "commit" else None
        )
    if symref is not None:
        return symref, remote.get(symref), local
    for name in ("main", "master"):
        if f"origin/{name}" in remote:
            return f"origin/{name}", remote[f"origin/{name}"], local
        if name in local:
            return name, local[name], local
    configured = _git(repo.cwd, "config", "--get", "init.defaultBranch").stdout.decode().strip()
    return (configured, local[configured], local) if configured in local else None


def default_branch_name(repo: Repo) -> str:
    """The default branch's plain name, for a workflow's ``branches:``: ``default_branch``
    without ``origin/``; in a repository with no main or master yet, the current branch,
    else init.defaultBranch, else main."""
    found = default_branch_tip(repo)
    if found is not None:
        return found[0].removeprefix("origin/")
    for args in (("symbolic-ref", "--quiet", "--short", "HEAD"), ("config", "init.defaultBranch")):
        name = _git(repo.cwd, *args).stdout.decode().strip()
        if name:
            return name
    return "main"


def merge_base(repo: Repo, a: str, b: str) -> str | None:
    proc = _git(repo.cwd, "merge-base", "--end-of-options", a, b)
    return proc.stdout.decode().strip() or None if proc.returncode == 0 else None


def dirty_paths(repo: Repo) -> tuple[str, ...]:
    """Paths with uncommitted changes (staged, unstaged or untracked, not ignored)."""
    out = repo.git("status", "--porcelain=v1", "-z", "--untracked-files=all")
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
    def __init__(self, repo: Repo, rev: str, *, sha: str | None = None) -> None:
        """``sha``: the full commit sha when the caller has it from git already."""
        self.repo = repo
        self.ref = rev
        self.sha: str | None = sha or resolve(repo, rev)
        self._blobs: list[str] | None = None

    @property
    def tree_sha(self) -> str:
        """The commit's tree: same tree, same code, config and pointers."""
        return self.repo.git("rev-parse", f"{self.sha}^{{tree}}").strip()

    def read(self, path: str) -> bytes | None:
        rel = repo_relpath(path)
        found = self.repo.object(f"{self.sha}:{rel}")
        if found is not None and found[0] == "symlink":
            raise outside(where_at(self, rel))
        if found is None or found[0] != "blob":
            return None  # absent, a directory, a submodule, or a link to nothing
        return found[1]

    def list_files(self, prefix: str = "") -> list[str]:
        """Every file path under ``prefix`` (repo-relative, POSIX), recursively."""
        if self._blobs is None:
            self._blobs = sorted(blob_shas(self))
        if not prefix:
            return list(self._blobs)
        under = prefix.rstrip("/") + "/"
        return [p for p in self._blobs if p.startswith(under)]

    def export(self, dest: Path) -> None:
        """Write this commit's tree (code only matters, but git archive is cheap) to ``dest``."""
        assert self.sha is not None
        proc = _git(self.repo.cwd, "archive", "--format=tar", self.sha)
        if proc.returncode != 0:
            err = proc.stderr.decode(errors="replace").strip()
            raise GitError(f"git archive {self.sha[:12]} failed in {self.repo.cwd}: {err}")
        import tarfile  # only to export a commit: a cached check needs none

        with tarfile.open(fileobj=io.BytesIO(proc.stdout)) as tar:
            try:
                tar.extractall(dest, filter="data")  # refuses links/paths out of dest
            except TypeError:  # Python < 3.10.12 has no filters (first: nor these errors)
                tar.extractall(dest)
            except (tarfile.AbsoluteLinkError, tarfile.LinkOutsideDestinationError) as e:
                raise outside(where_at(self, e.tarinfo.name)) from None
        # A link may also get out through another link, which the filter judges before the
        # other exists (and old Pythons have no filter): every link, once all are in place.
        top = dest.resolve()
        for dirpath, dirnames, filenames in os.walk(dest):
            for name in dirnames + filenames:
                link = Path(dirpath, name)
                if link.is_symlink() and not _resolved(link).is_relative_to(top):
                    raise outside(where_at(self, link.relative_to(dest).as_posix()))


class WorkingFiles:
    def __init__(self, repo: Repo) -> None:
        self.repo = repo
        self.ref = WORKING_TREE
        self.sha = head_sha(repo)
        self.root = root(repo)

    def list_files(self, prefix: str = "") -> list[str]:
        base = self.local(prefix) if prefix else self.root
        if not base.is_dir():
            return []
        found = []
        for dirpath, dirnames, filenames in os.walk(base):
            dirnames[:] = [d for d in dirnames if d != ".git"]
            rel = Path(dirpath).relative_to(self.root).as_posix()
            found += [f if rel == "." else f"{rel}/{f}" for f in filenames]
        return sorted(found)

    def read(self, path: str) -> bytes | None:
        target = self.local(path)
        try:
            return target.read_bytes()
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            return None
        except OSError as e:
            if e.errno == errno.ELOOP:
                return None  # links in a circle: nothing there, as at a revision
            raise

    def local(self, path: str) -> Path:
        """Where the repository path ``path`` is on disk; ConfigError (exit 2) when it leads
        outside the working tree or into ``.git`` (symbolic links followed), since a pull
        request's links must not make mlgate read the machine's files or git's credentials."""
        return inside(self.root, repo_relpath(path))


def inside(root: Path, rel: str) -> Path:
    """``root / rel``, once sure that it resolves inside ``root`` and not into a ``.git``
    there; ConfigError naming ``rel`` otherwise."""
    path = root / rel
    real, top = _resolved(path), _resolved(root)
    if not real.is_relative_to(top):
        raise outside(rel)
    if ".git" in (part.lower() for part in real.relative_to(top).parts):
        raise ConfigError(
            "leads into .git, which holds git's own files, not the project's", file=rel
        )
    return path


def _resolved(path: Path) -> Path:
    try:
        return path.resolve()
    except (OSError, RuntimeError):  # a loop of links (RuntimeError before Python 3.13)
        return path.absolute()  # then nothing lies behind it: it reads as missing


def outside(where: str) -> ConfigError:
    return ConfigError(
        "leads outside the repository through a symbolic link; mlgate reads nothing outside it",
        file=where,
    )


def blob_shas(files: CommitFiles | WorkingFiles) -> dict[str, str]:
    """Every tracked file on this side -> its git blob sha (content hash), without reading
    the files git already knows. For the working tree, tracked files as they are on disk:
    modified ones are hashed, deleted ones left out; untracked files are not code."""
    if isinstance(files, CommitFiles):
        assert files.sha is not None
        out = files.repo.git("ls-tree", "-r", "-z", "--full-tree", files.sha)
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
    # git hash-object follows links: only those staying inside are hashed.
    existing = [p for p in dict.fromkeys(changed) if inside(root, p).is_file()]
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


def files_at(repo: Repo, rev: str | None) -> CommitFiles | WorkingFiles:
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
    """``git ARGS`` in ``cwd``, its output as text; errors become GitError."""
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


def remote_url(root: Path, name: str = "origin") -> str | None:
    """The remote's push URL (it may hold credentials: never show it), None without one."""
    proc = _git(root, "remote", "get-url", "--push", name)
    return proc.stdout.decode().strip() or None if proc.returncode == 0 else None


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
    root: Path,
    parent: str | None,
    files: dict[str, bytes],
    message: str,
    *,
    replace_dir: str | None,
) -> str:
    """A commit whose tree is ``parent``'s with ``replace_dir/`` replaced by ``files`` (or,
    with ``replace_dir`` None, with just ``files`` written over it); made with a temporary
    index, so the working tree and the user's index are never touched."""
    import tempfile  # only to write commits: a check needs none

    with tempfile.TemporaryDirectory(prefix="mlgate-index-") as tmp:
        env = {**os.environ, "GIT_INDEX_FILE": str(Path(tmp) / "index")}
        if parent:
            _out(root, "read-tree", parent, env=env)
        if parent and replace_dir is not None:
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


def push_branch(
    root: Path,
    remote: str,
    commit: str,
    branch: str,
    *,
    options: Sequence[str] = (),
    header: str | None = None,
) -> None:
    """Force ``refs/heads/<branch>`` on ``remote`` to ``commit`` (a branch mlgate owns).

    ``options`` are push options (``-o``); ``header`` an HTTP header for this push only
    (a token's ``Authorization``), passed through git's environment config so that it is
    in no process's argv and in no config file."""
    env = None
    if header is not None:
        env = {
            **os.environ,
            "GIT_CONFIG_COUNT": "1",
            "GIT_CONFIG_KEY_0": "http.extraHeader",
            "GIT_CONFIG_VALUE_0": header,
        }
    flags = [a for o in options for a in ("-o", o)]
    proc = _git(
        root, "push", "--force", "--quiet", *flags, remote, f"{commit}:refs/heads/{branch}", env=env
    )
    if proc.returncode != 0:
        err = proc.stderr.decode(errors="replace").strip()
        raise GitError(f"git push {remote} {branch} failed in {root}: {err}")


def tree_files(root: Path, rev: str, directory: str) -> dict[str, bytes]:
    """Every file under ``directory/`` at ``rev``: {path: bytes}."""
    listing = _out(root, "ls-tree", "-r", "-z", "--full-tree", rev, "--", directory + "/")
    found: dict[str, bytes] = {}
    for entry in filter(None, listing.split("\0")):
        meta, path = entry.split("\t", 1)
        blob = meta.split()[2]
        found[path] = _git(root, "cat-file", "blob", blob).stdout
    return found
