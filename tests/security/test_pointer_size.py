"""Data is never lost by a wrong pointer (issue 11, item 7).

A pointer whose ``size:`` was wrong made mlgate delete the cache object as corrupt, though
its sha256 matched: with no storage configured, the only copy. The bytes are now judged by
their sha256 before anything is deleted; a wrong size with the right hash is the pointer's
error (exit 2, naming it), and the object stays.
"""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path

import pytest
import yaml

from conftest import commit_all, git
from projects import base_project, classification_config, classification_frames, cli


def _object(sha256: str) -> Path:
    return Path(os.environ["MLGATE_CACHE_DIR"]) / "objects" / "sha256" / sha256[:2] / sha256[2:]


def _pointed_project(repo: Path, capsys: pytest.CaptureFixture[str]) -> tuple[str, int]:
    """A project whose training data is behind a pointer (no storage: the cache holds the
    only copy once the file is gone); returns the pointer's sha256 and size."""
    base_project(repo, classification_config(), classification_frames())
    git(repo, "checkout", "-q", "-b", "pointer")
    git(repo, "rm", "-q", "--cached", "data/train.csv")
    code, _, err = cli(capsys, "data", "add", "data/train.csv")
    assert code == 0, err
    commit_all(repo, "train.csv behind a pointer")
    (repo / "data" / "train.csv").unlink()
    ptr = yaml.safe_load((repo / "data" / "train.csv.ptr").read_text())
    assert _object(ptr["sha256"]).is_file()
    return ptr["sha256"], ptr["size"]


def _set_size(repo: Path, size: int) -> None:
    path = repo / "data" / "train.csv.ptr"
    path.write_text(re.sub(r"(?m)^size: \d+$", f"size: {size}", path.read_text()))


def _intact(sha256: str) -> bool:
    obj = _object(sha256)
    return obj.is_file() and hashlib.sha256(obj.read_bytes()).hexdigest() == sha256


@pytest.mark.parametrize("command", [("check",), ("data", "pull")])
def test_a_wrong_size_names_the_pointer_and_keeps_the_data(
    repo: Path, capsys: pytest.CaptureFixture[str], command: tuple[str, ...]
) -> None:
    sha, size = _pointed_project(repo, capsys)
    _set_size(repo, size + 1000)
    code, _, err = cli(capsys, *command)
    assert code == 2, err
    assert err.splitlines() == [
        f"mlgate: error: data/train.csv.ptr: size: says {size + 1000} bytes, but the data "
        f"with sha256 {sha[:12]}… has {size} bytes; set size: {size}"
    ]
    assert _intact(sha)

    _set_size(repo, size)  # corrected: the cache's copy serves, with no storage anywhere
    code, _, err = cli(capsys, *command)
    assert code == 0, err
    assert _intact(sha)


def test_a_wrong_size_at_a_revision_names_the_pointer_there(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sha, _ = _pointed_project(repo, capsys)
    _set_size(repo, 7)
    head = commit_all(repo, "a wrong size")
    code, _, err = cli(capsys, "check", "--head", head)
    assert code == 2, err
    assert err.startswith(f"mlgate: error: data/train.csv.ptr@{head[:7]}: size: says 7 bytes")
    assert _intact(sha)


def test_a_damaged_object_is_still_replaced(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Bytes that are not their name's are no one's copy: dropped, fetched anew (here from
    the working file), as before."""
    sha, _ = _pointed_project(repo, capsys)
    git(repo, "checkout", "-q", "main", "--", "data/train.csv")  # the same bytes, from git
    git(repo, "rm", "-q", "--cached", "data/train.csv")
    _object(sha).write_bytes(b"rot")
    code, _, err = cli(capsys, "check", "--no-cache")  # a cached result would fetch nothing
    assert code == 0, err
    assert _intact(sha)
