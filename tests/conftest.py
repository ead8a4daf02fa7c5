"""Shared fixtures: every test runs with an isolated HOME and cache and a fixed git identity,
so nothing touches the real home directory and commits are reproducible."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
FIXTURES = Path(__file__).resolve().parent / "fixtures"  # copies: CI has no shared/


@pytest.fixture(autouse=True)
def isolate(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("MLGATE_CACHE_DIR", str(home / "mlgate-cache"))
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    for var in list(os.environ):
        if var.startswith(("GIT_", "GITHUB_", "GITLAB_", "CI_", "MLFLOW_")) or var in {
            "CI",
            "MLGATE_TOKEN",
            "MLGATE_DASK_ADDRESS",
        }:
            monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("GIT_AUTHOR_NAME", "Test Author")
    monkeypatch.setenv("GIT_AUTHOR_EMAIL", "author@example.com")
    monkeypatch.setenv("GIT_COMMITTER_NAME", "Test Committer")
    monkeypatch.setenv("GIT_COMMITTER_EMAIL", "committer@example.com")
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(home / ".gitconfig"))
    (home / ".gitconfig").write_text(
        "[init]\n\tdefaultBranch = main\n[advice]\n\tdetachedHead = false\n"
    )


def git(cwd: Path, *args: str) -> str:
    """Run real git in ``cwd``; fail the test loudly when git fails."""
    proc = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True)
    assert proc.returncode == 0, f"git {' '.join(args)} failed: {proc.stderr}"
    return proc.stdout.strip()


def commit_all(repo: Path, message: str) -> str:
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", message)
    return git(repo, "rev-parse", "HEAD")


@pytest.fixture
def repo(tmp_path: Path) -> Iterator[Path]:
    """An empty git repository (branch ``main``) as the current directory."""
    path = tmp_path / "repo"
    path.mkdir()
    git(path, "init", "-q", "-b", "main")
    old = Path.cwd()
    os.chdir(path)
    try:
        yield path
    finally:
        os.chdir(old)


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """Headless chromium with the pinned mermaid (tests/browser.py): one per pytest worker;
    skips, saying what is missing, where the browser cannot run."""
    import browser as browser_mod  # the browser helpers only for the tests that use them

    reason = browser_mod.unavailable()
    if reason is not None:
        pytest.skip(reason)
    started = browser_mod.Browser()
    try:
        yield started
    finally:
        started.close()
