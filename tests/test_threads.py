"""Parallel training shares the cores: each worker's thread pools get their share."""

from __future__ import annotations

import os
import time
from pathlib import Path

from mlgate.train import Worker, share_of_cpus, thread_limits, usable_cpus


def test_one_worker_is_not_limited() -> None:
    assert share_of_cpus(1) is None
    assert share_of_cpus(0) is None


def test_two_workers_split_the_cores() -> None:
    assert share_of_cpus(2) == max(1, usable_cpus() // 2)
    assert share_of_cpus(10_000) == 1


def test_a_limit_the_user_set_wins() -> None:
    env = {"OMP_NUM_THREADS": "7"}
    limits = thread_limits(3, env)
    assert "OMP_NUM_THREADS" not in limits
    assert limits["OPENBLAS_NUM_THREADS"] == "3"
    assert limits["LOKY_MAX_CPU_COUNT"] == "3"


def test_the_worker_process_sees_its_share(tmp_path: Path) -> None:
    """The child really starts with the limits (read back from /proc, not from our dict)."""
    worker = Worker("head", tmp_path, threads=1)
    try:
        environ = Path(f"/proc/{worker.proc.pid}/environ")
        if not environ.exists():  # not Linux
            return
        # Until exec, /proc shows the forked parent's environment: wait for the child itself.
        cmdline = Path(f"/proc/{worker.proc.pid}/cmdline")
        deadline = time.monotonic() + 30
        while b"mlgate.train" not in cmdline.read_bytes() and time.monotonic() < deadline:
            time.sleep(0.01)
        seen = dict(item.split("=", 1) for item in environ.read_text().split("\0") if "=" in item)
        if "OMP_NUM_THREADS" in os.environ:
            assert seen["OMP_NUM_THREADS"] == os.environ["OMP_NUM_THREADS"]
        else:
            assert seen["OMP_NUM_THREADS"] == "1"
        assert seen["LOKY_MAX_CPU_COUNT"] in ("1", os.environ.get("LOKY_MAX_CPU_COUNT"))
    finally:
        worker.cancel()
