"""Local checks never read outside the repository (issue 11, item 5).

A pull request controls its tree, symbolic links included. A committed link
``data/train.csv -> /proc/self/environ`` used to put the whole process environment (tokens
included) into an error; a link to a CSV outside the repository, or a ``data/`` directory
linked outside, trained on it silently; at a revision the same links were an internal
error. Each is now refused with exit 2 and one line naming the link, before anything
trains, in the working tree and at either side's revision. Links that stay inside still
work. mlgate runs as a child process here, with a secret in its environment that must
never show.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from conftest import commit_all, git
from projects import base_project, classification_config, classification_frames, write_config

SECRET = "s3cr3t-5f0e9c1b-never-print-me"
ATTACKS = ("environ", "csv", "directory")


def _mlgate(repo: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "MLGATE_TEST_SECRET": SECRET}
    return subprocess.run(
        [sys.executable, "-m", "mlgate", *args], cwd=repo, env=env, capture_output=True, text=True
    )


def _outside(tmp_path: Path) -> Path:
    """A directory next to the repository holding data mlgate must not train on."""
    folder = tmp_path / "outside"
    folder.mkdir(exist_ok=True)
    train, test = classification_frames(seed=7)
    train.to_csv(folder / "train.csv", index=False)
    test.to_csv(folder / "test.csv", index=False)
    return folder


def _plant(repo: Path, tmp_path: Path, attack: str) -> str:
    """The attack in the working tree; returns the path the refusal must name."""
    train = repo / "data" / "train.csv"
    if attack == "directory":
        git(repo, "rm", "-rq", "data")
        os.symlink(_outside(tmp_path), repo / "data")
        return "data/train.csv"
    train.unlink()
    target = "/proc/self/environ" if attack == "environ" else _outside(tmp_path) / "train.csv"
    os.symlink(target, train)
    return "data/train.csv"


def _refused(proc: subprocess.CompletedProcess[str], where: str) -> None:
    assert proc.returncode == 2, proc.stderr
    assert SECRET not in proc.stdout + proc.stderr
    lines = proc.stderr.splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith(f"mlgate: error: {where}")
    assert "leads outside the repository" in lines[0]


def _nothing_trained() -> None:
    runs = Path(os.environ["MLGATE_CACHE_DIR"]) / "runs"  # every side's record lands here
    assert not runs.exists() or not [p for p in runs.rglob("*") if p.is_file()]


@pytest.mark.parametrize("attack", ATTACKS)
def test_a_link_out_in_the_working_tree_is_refused(repo: Path, tmp_path: Path, attack: str) -> None:
    base_project(repo, classification_config(), classification_frames())
    where = _plant(repo, tmp_path, attack)
    # The directory case first meets the pointer looked for beside the data file.
    _refused(_mlgate(repo, "check"), where + (".ptr" if attack == "directory" else ""))
    _nothing_trained()


@pytest.mark.parametrize("attack", ATTACKS)
def test_a_link_out_at_the_head_revision_is_refused(
    repo: Path, tmp_path: Path, attack: str
) -> None:
    clean = base_project(repo, classification_config(), classification_frames())
    where = _plant(repo, tmp_path, attack)
    sha = commit_all(repo, "data from elsewhere")
    shown = where + (".ptr" if attack == "directory" else "")
    _refused(_mlgate(repo, "check", "--base", clean, "--head", sha), f"{shown}@{sha[:7]}")
    _nothing_trained()


@pytest.mark.parametrize("attack", ATTACKS)
def test_a_link_out_at_the_base_revision_is_refused(
    repo: Path, tmp_path: Path, attack: str
) -> None:
    base_project(repo, classification_config(), classification_frames())
    where = _plant(repo, tmp_path, attack)
    bad = commit_all(repo, "data from elsewhere")
    git(repo, "revert", "--no-edit", "HEAD")
    shown = where + (".ptr" if attack == "directory" else "")
    _refused(_mlgate(repo, "check", "--base", bad), f"{shown}@{bad[:7]}")
    _nothing_trained()


def test_a_link_into_git_is_refused(repo: Path) -> None:
    """``.git`` is inside the working tree, and actions/checkout keeps the token there."""
    base_project(repo, classification_config(), classification_frames())
    git(repo, "config", "http.https://github.com/.extraheader", f"AUTHORIZATION: {SECRET}")
    (repo / "data" / "train.csv").unlink()
    os.symlink("../.git/config", repo / "data" / "train.csv")
    proc = _mlgate(repo, "check")
    assert proc.returncode == 2, proc.stderr
    assert SECRET not in proc.stdout + proc.stderr
    assert proc.stderr.splitlines() == [
        "mlgate: error: data/train.csv: leads into .git, which holds git's own files, "
        "not the project's"
    ]


def test_code_and_templates_linked_out_are_refused(repo: Path, tmp_path: Path) -> None:
    """The model's own code is hashed for the run cache, a report template rendered: both
    are read, so neither may lead out."""
    cfg = classification_config(report={"template": "report.md.j2"})
    cfg["model"]["estimator"] = "mymodel.make:build"
    cfg["model"]["params"] = {}
    (repo / "mymodel").mkdir()
    (repo / "mymodel" / "make.py").write_text(
        "from sklearn.linear_model import LogisticRegression\n\n"
        "def build():\n    return LogisticRegression(max_iter=500)\n"
    )
    (repo / "report.md.j2").write_text("{{ verdict }}\n")
    clean = base_project(repo, cfg, classification_frames())
    os.symlink("/proc/self/environ", repo / "mymodel" / "secrets.py")
    _refused(_mlgate(repo, "check", "--base", clean), "mymodel/secrets.py")
    sha = commit_all(repo, "code from elsewhere")
    proc = _mlgate(repo, "check", "--base", clean, "--head", sha)
    _refused(proc, f"mymodel/secrets.py@{sha[:7]}")

    git(repo, "rm", "-q", "mymodel/secrets.py")
    (repo / "report.md.j2").unlink()
    os.symlink("/proc/self/environ", repo / "report.md.j2")
    _refused(_mlgate(repo, "check", "--base", clean, "--format", "markdown"), "report.md.j2")
    sha = commit_all(repo, "template from elsewhere")
    proc = _mlgate(repo, "check", "--base", clean, "--head", sha, "--format", "markdown")
    _refused(proc, f"report.md.j2@{sha[:7]}")


def test_a_link_out_anywhere_in_an_exported_commit_is_refused(repo: Path, tmp_path: Path) -> None:
    """Training at a revision exports its tree: a link leading out of it (absolute, or
    through another link) is refused, where it was an internal error (AbsoluteLinkError)."""
    clean = base_project(repo, classification_config(), classification_frames())
    os.symlink("/etc", repo / "tools")
    sha = commit_all(repo, "a link out")
    proc = _mlgate(repo, "check", "--base", clean, "--head", sha, "--no-cache")
    _refused(proc, f"tools@{sha[:7]}")

    git(repo, "rm", "-q", "tools")
    os.symlink(".", repo / "here")
    os.symlink("here/../outside", repo / "away")  # inside by its text, outside on disk
    sha = commit_all(repo, "a link out through a link")
    proc = _mlgate(repo, "check", "--base", clean, "--head", sha, "--no-cache")
    _refused(proc, f"away@{sha[:7]}")


def test_links_that_stay_inside_still_work(repo: Path) -> None:
    base_project(repo, classification_config(), classification_frames())
    (repo / "data" / "train.csv").rename(repo / "data" / "real.csv")
    os.symlink("real.csv", repo / "data" / "train.csv")
    os.symlink("data", repo / "datasets")
    data = {"train": "data/train.csv", "test": "datasets/test.csv", "target": "label"}
    write_config(repo, classification_config(data=data))
    proc = _mlgate(repo, "check", "--format", "json")
    assert proc.returncode == 0, proc.stderr
    sha = commit_all(repo, "data through links")
    proc = _mlgate(repo, "check", "--head", sha, "--no-cache", "--format", "json")
    assert proc.returncode == 0, proc.stderr


def test_a_missing_target_names_a_bounded_escaped_excerpt_of_the_columns(repo: Path) -> None:
    """Column names are the file's content: at most 20 in an error, each cut at 60
    characters, control characters escaped."""
    base_project(repo, classification_config(), classification_frames())
    names = [f"\x1b[31mcol{i:03d}" + "x" * 100 for i in range(500)]
    pd.DataFrame([[1] * 500], columns=names).to_csv(repo / "data" / "train.csv", index=False)
    proc = _mlgate(repo, "check")
    assert proc.returncode == 2, proc.stderr
    line = proc.stderr.strip()
    assert "\n" not in line and "\x1b" not in line
    assert "\\x1b[31m" in line and "and 480 more" in line
    assert len(line) < 2000
