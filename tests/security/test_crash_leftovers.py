"""Issue 11, item 8: a run killed with SIGKILL leaves nothing behind that matters. Its temp
files in the cache and in file:// storage go on the next write there; a promotion whose
push never happened leaves no local tag or production commit that would skip a version.
Real processes, really killed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import projects
from conftest import commit_all, git
from projects import classification_config, cli, write_config

BIG = 96 << 20  # bytes: a copy that takes long enough for the kill to land in the middle
HOUR = 3600


def big_file(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    block = os.urandom(1 << 20)
    with path.open("wb") as f:
        for _ in range(BIG >> 20):
            f.write(block)


def kill_mid_write(args: list[str], cwd: Path, temps: Path, pattern: str) -> Path:
    """Run ``mlgate ARGS`` and SIGKILL it once its temp file under ``temps`` has bytes."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "mlgate", *args],
        cwd=cwd,
        env=os.environ,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 120
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            started = [p for p in temps.glob(pattern) if p.stat().st_size > 0]
            if started:
                os.kill(proc.pid, signal.SIGKILL)
                proc.wait()
                break
            time.sleep(0.001)
    finally:
        if proc.poll() is None:
            proc.kill()
        _, err = proc.communicate()
    assert proc.returncode == -signal.SIGKILL, f"not killed mid-write: {err.decode()}"
    [left] = list(temps.glob(pattern))
    assert 0 < left.stat().st_size < BIG  # half a copy: what the kill left behind
    return left


def age(path: Path, seconds: float) -> None:
    """As if written ``seconds`` ago (the age rule: a live writer keeps its file fresh)."""
    then = time.time() - seconds
    os.utime(path, (then, then))


def cache_objects() -> Path:
    return Path(os.environ["MLGATE_CACHE_DIR"]) / "objects"


def test_a_killed_data_add_leaves_no_temp_file_after_the_next_add(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    big_file(repo / "data" / "big.bin")
    left = kill_mid_write(["data", "add", "data/big.bin"], repo, cache_objects(), ".incoming.*.tmp")
    assert not (repo / "data" / "big.bin.ptr").exists()
    age(left, 2 * HOUR)
    live = cache_objects() / ".incoming.0123456789ab.tmp"  # a writer still at work
    live.write_bytes(b"half")

    code, out, err = cli(capsys, "data", "add", "data/big.bin")

    assert code == 0, err
    assert "data/big.bin.ptr: sha256" in out
    assert not left.exists()
    assert f"removed {left}, a temp file an interrupted run left" in err
    assert live.exists() and str(live) not in err  # an hour not yet passed: maybe alive
    assert [p.name for p in cache_objects().glob(".*.tmp")] == [live.name]


def test_a_killed_data_push_leaves_no_temp_file_in_the_store(
    repo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = tmp_path / "store"
    write_config(repo, classification_config(storage=store.as_uri()))
    big_file(repo / "data" / "big.bin")
    # Added without storage (no config yet), so the push is what writes into the store.
    os.rename(repo / "mlgate.yaml", tmp_path / "mlgate.yaml")
    assert cli(capsys, "data", "add", "data/big.bin")[0] == 0
    os.rename(tmp_path / "mlgate.yaml", repo / "mlgate.yaml")

    left = kill_mid_write(["data", "push"], repo, store, "sha256/*/.*.tmp")
    age(left, 2 * HOUR)

    code, out, err = cli(capsys, "data", "push")

    assert code == 0, err
    assert "pushed 1 file(s)" in out
    assert not left.exists()
    assert f"removed {left}, a temp file an interrupted run left" in err
    assert list(store.rglob("*.tmp")) == []
    [obj] = [p for p in store.rglob("*") if p.is_file()]
    assert obj.stat().st_size == BIG


def production_state(where: Path) -> tuple[str, list[str]]:
    tags = git(where, "tag", "--list", "churn@v*", "--sort=version:refname").split()
    return git(where, "rev-parse", "production"), tags


def test_a_promotion_whose_push_never_happened_leaves_no_gap_and_no_stray_tag(
    repo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    projects.base_project(repo, classification_config(), projects.classification_frames())
    origin = projects.push_to_origin(repo, tmp_path)
    assert cli(capsys, "promote")[0] == 0
    projects.set_params(repo, C=0.8)
    commit_all(repo, "C 0.8")
    # What a run killed between its local commit and tag and its push leaves behind.
    assert cli(capsys, "promote", "--no-push")[0] == 0
    stray, _ = production_state(repo)
    assert production_state(repo)[1] == ["churn@v1", "churn@v2"]
    assert production_state(origin)[1] == ["churn@v1"]

    code, out, err = cli(capsys, "promote")

    assert code == 0, err
    assert "churn promoted as v2: tag churn@v2" in out
    assert production_state(origin)[1] == ["churn@v1", "churn@v2"]
    assert production_state(repo) == production_state(origin)  # nothing local-only is left
    assert git(origin, "rev-list", "--count", "production") == "2"  # no gap, no lost commit
    assert git(repo, "cat-file", "-t", stray) == "commit"  # unreferenced, not rewritten
    assert "deleted the local tag churn@v2: origin does not have it" in out
    assert f"reset the local production branch to origin's: {stray[:7]} was never pushed" in out
