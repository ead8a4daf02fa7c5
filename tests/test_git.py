"""The git boundary on real repositories: opening, resolving, reading files at a commit
without checking it out, and the shapes of answers the rest of mlgate relies on."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from conftest import commit_all, git
from mlgate import git as mgit
from mlgate.errors import UsageError


def test_open_repo_from_a_subdirectory_finds_the_root(repo: Path) -> None:
    (repo / "a" / "b").mkdir(parents=True)
    handle = mgit.open_repo(repo / "a" / "b")
    assert mgit.root(handle) == repo.resolve()
    assert mgit.head_sha(handle) is None  # no commits yet


def test_outside_a_repository_and_in_a_bare_one_are_usage_errors(tmp_path: Path) -> None:
    plain = tmp_path / "plain"
    plain.mkdir()
    with pytest.raises(UsageError, match="is not inside a git repository"):
        mgit.open_repo(plain)
    with pytest.raises(UsageError, match="is not inside a git repository"):
        mgit.open_repo(tmp_path / "does-not-exist")
    bare = tmp_path / "bare.git"
    git(tmp_path, "init", "-q", "--bare", str(bare))
    handle = mgit.open_repo(bare)
    with pytest.raises(UsageError, match="is a bare repository; mlgate needs a working tree"):
        mgit.root(handle)


def test_resolve_names_commits_and_refuses_anything_else(repo: Path, tmp_path: Path) -> None:
    (repo / "f.txt").write_text("one\n")
    first = commit_all(repo, "first")
    (repo / "f.txt").write_text("two\n")
    second = commit_all(repo, "second")
    handle = mgit.open_repo(repo)
    assert mgit.resolve(handle, "HEAD") == second
    assert mgit.resolve(handle, "HEAD~1") == first
    assert mgit.resolve(handle, first[:8]) == first
    assert mgit.resolve(handle, "main") == second
    tree = git(repo, "rev-parse", "HEAD^{tree}")
    written = tmp_path / "written"
    # A tree is not a commit, and a revision is never read as an option of git's.
    for bad in ("nope", tree, "", f"--output={written}", "--all"):
        with pytest.raises(UsageError, match="unknown revision"):
            mgit.resolve(handle, bad)
    assert not written.exists()
    assert mgit.commit_message(handle, "HEAD") == "second\n"


def test_commit_files_read_blobs_only_and_list_by_prefix(repo: Path) -> None:
    (repo / "src" / "pkg").mkdir(parents=True)
    (repo / "src" / "pkg" / "a.py").write_text("A = 1\n")
    (repo / "src" / "pkg" / "b.py").write_bytes(b"\x00binary\xff")
    (repo / "top.txt").write_text("top\n")
    os.symlink("top.txt", repo / "link")
    sha = commit_all(repo, "files")
    (repo / "top.txt").write_text("changed in the working tree\n")
    files = mgit.CommitFiles(mgit.open_repo(repo), "HEAD")
    assert files.sha == sha
    assert files.read("top.txt") == b"top\n"  # the commit, not the working tree
    assert files.read("src/pkg/b.py") == b"\x00binary\xff"
    assert files.read("link") == b"top\n"  # followed inside the tree, as on disk
    assert files.read("src/pkg") is None  # a directory
    assert files.read("missing.txt") is None
    assert files.list_files("src") == ["src/pkg/a.py", "src/pkg/b.py"]
    assert files.list_files("src/pkg/a.py") == []  # a file is not a folder
    assert files.list_files("sr") == []  # a prefix of a name is not a folder
    assert files.list_files() == ["link", "src/pkg/a.py", "src/pkg/b.py", "top.txt"]
    assert files.tree_sha == git(repo, "rev-parse", "HEAD^{tree}")
    with pytest.raises(Exception, match="outside the repository"):
        files.read("../etc/passwd")


def test_export_writes_the_commit_and_nothing_outside(repo: Path, tmp_path: Path) -> None:
    (repo / "code.py").write_text("x = 1\n")
    commit_all(repo, "code")
    (repo / "code.py").write_text("x = 2\n")
    files = mgit.CommitFiles(mgit.open_repo(repo), "HEAD")
    with mgit.exported(files, tmp_path) as dest:
        assert (dest / "code.py").read_text() == "x = 1\n"
        assert not (dest / ".git").exists()


def test_default_branch_merge_base_and_dirty_paths(repo: Path) -> None:
    (repo / "a.txt").write_text("a\n")
    base = commit_all(repo, "base")
    git(repo, "checkout", "-q", "-b", "feature")
    (repo / "b.txt").write_text("b\n")
    tip = commit_all(repo, "feature")
    handle = mgit.open_repo(repo)
    assert mgit.default_branch(handle) == "main"
    assert mgit.merge_base(handle, "main", tip) == base
    git(repo, "checkout", "-q", "--orphan", "lonely")
    git(repo, "rm", "-q", "-rf", ".")
    (repo / "c.txt").write_text("c\n")
    lonely = commit_all(repo, "unrelated")
    assert mgit.merge_base(handle, "main", lonely) is None
    git(repo, "checkout", "-q", "feature")
    git(repo, "mv", "b.txt", "renamed.txt")
    (repo / "new file.txt").write_text("untracked\n")
    assert mgit.dirty_paths(handle) == ("new file.txt", "renamed.txt")


def test_many_reads_in_a_row_each_get_their_own_bytes(repo: Path) -> None:
    """Reads go through one long-lived ``git cat-file --batch``: none may see another's."""
    for i in range(50):
        (repo / f"f{i}.txt").write_bytes(f"{i}\n".encode() * (i + 1))
    commit_all(repo, "fifty")
    files = mgit.CommitFiles(mgit.open_repo(repo), "HEAD")
    order = [*range(50), *reversed(range(50))]
    assert [files.read(f"f{i}.txt") for i in order] == [f"{i}\n".encode() * (i + 1) for i in order]
    assert files.read("f1.txt\nf2.txt") is None  # cannot be asked: not a file here


def test_default_branch_name_for_a_workflow(repo: Path, tmp_path: Path) -> None:
    """origin's HEAD when there is one; in a new repository the branch it is on."""
    handle = mgit.open_repo(repo)
    git(repo, "switch", "-q", "--orphan", "trunk")  # unborn: no main or master anywhere
    assert mgit.default_branch_name(handle) == "trunk"
    (repo / "f.txt").write_text("one\n")
    commit_all(repo, "first")
    git(repo, "branch", "-m", "master")
    git(repo, "switch", "-q", "-c", "feature")  # on a topic branch: master is the default
    assert mgit.default_branch_name(handle) == "master"
    bare = tmp_path / "origin.git"
    git(tmp_path, "init", "-q", "--bare", "-b", "develop", str(bare))
    git(repo, "push", "-q", str(bare), "master:develop")
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(bare), str(clone))
    assert mgit.default_branch_name(mgit.open_repo(clone)) == "develop"
