"""The fork server (run.forkserver): workers forked from one process that imported the
heavy libraries behave like the fresh processes they replace."""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from pathlib import Path

import pytest

from conftest import commit_all
from mlgate.run import forkserver
from mlgate.run.worker import Worker
from projects import base_project, classification_frames, forest_config, run_json, set_params

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="the fork server is Linux-only")

# A worker module of the test's own: it reports what a worker would see of its process.
CHILD = """\
import json, os, sys, time
import numpy as np

def warm_up():  # run by the server before its first fork of this module
    import sklearn.base

def child_main(argv):
    (out,) = argv
    spec = json.loads(sys.stdin.read() or "{}")
    print("hello from the worker")
    if spec.get("exit") is not None:
        os._exit(spec["exit"])
    if spec.get("abort"):
        os.abort()
    time.sleep(spec.get("sleep", 0))
    with open(out, "w") as f:
        json.dump({
            "pid": os.getpid(), "ppid": os.getppid(), "cwd": os.getcwd(),
            "path": sys.path, "argv": sys.argv, "spec": spec,
            "env": os.environ.get("MLGATE_TEST_VALUE"), "random": float(np.random.rand()),
            "heavy": "sklearn" in sys.modules,
        }, f)
    return 0
"""


@pytest.fixture(scope="module")
def lib(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory with the module: one per module, so its tests share one server."""
    lib = tmp_path_factory.mktemp("lib")
    (lib / "forkserver_child.py").write_text(CHILD)
    return lib


@pytest.fixture
def module(lib: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """The module's name, importable by the workers through their PYTHONPATH."""
    monkeypatch.setenv("PYTHONPATH", str(lib))
    monkeypatch.delenv("MLGATE_FORK_WORKERS", raising=False)
    return "forkserver_child"


def start(worker: Worker, **spec: object) -> None:
    """``Worker.start`` with a plain JSON spec."""
    assert worker.proc.stdin is not None
    worker.proc.stdin.write(json.dumps(spec).encode())
    worker.proc.stdin.close()


def workdir(tmp_path: Path, name: str) -> Path:
    path = tmp_path / name
    path.mkdir()
    return path


def test_forked_workers_are_separate_processes_with_their_own_randomness(
    module: str, lib: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = Worker("base", workdir(tmp_path, "a"), module=module)
    # Set after the server started: each fork gets the environment of its own request.
    monkeypatch.setenv("MLGATE_TEST_VALUE", "head's")
    second = Worker("head", workdir(tmp_path, "b"), module=module)
    assert isinstance(first.proc, forkserver.Forked)
    start(first, side="base")
    start(second, side="head")
    a, b = first.result(), second.result()
    assert a["spec"] == {"side": "base"} and b["spec"] == {"side": "head"}
    assert a["pid"] != b["pid"] and os.getpid() not in (a["pid"], b["pid"])
    assert a["ppid"] == b["ppid"] != os.getpid()  # both forked by the one server
    assert a["heavy"] and b["heavy"]  # the module's warm_up ran in the server, once
    assert a["cwd"] == a["path"][0] == str(tmp_path / "a")  # like `python -m` run there
    # ... then PYTHONPATH: mlgate's own source first (Worker puts it there), then the user's.
    src = str(Path(forkserver.__file__).resolve().parents[2])
    assert a["path"][1:3] == [src, str(lib)]
    assert a["argv"][1:] == [str(first.out_path)]
    assert a["env"] is None and b["env"] == "head's"
    assert a["random"] != b["random"]  # numpy reseeded: unseeded estimators differ
    assert "hello from the worker" in b["log"]
    assert first.proc.returncode == 0


def test_exit_codes_and_signals_come_back_like_a_processs(module: str, tmp_path: Path) -> None:
    exits = Worker("exits", workdir(tmp_path, "a"), module=module)
    aborts = Worker("aborts", workdir(tmp_path, "b"), module=module)
    start(exits, exit=3)
    start(aborts, abort=True)
    assert exits.proc.wait() == 3
    assert aborts.proc.wait() == -signal.SIGABRT
    assert not exits.out_path.exists()
    with pytest.raises(Exception, match=r"crashed \(exit -6\)"):
        aborts.result()


def test_a_worker_cancelled_before_its_spec_touches_nothing(module: str, tmp_path: Path) -> None:
    where = workdir(tmp_path, "a")
    worker = Worker("unneeded", where, module=module)
    worker.cancel()  # at once: it does not wait for the server to finish importing
    where.rmdir()  # what the workspace does next: nothing may appear in it meanwhile
    time.sleep(0.5)
    assert not where.exists()
    # The server keeps serving.
    again = Worker("next", workdir(tmp_path, "b"), module=module)
    start(again)
    assert again.result()["spec"] == {}


def test_cancel_kills_a_running_worker(module: str, tmp_path: Path) -> None:
    worker = Worker("slow", workdir(tmp_path, "a"), module=module)
    start(worker, sleep=60)
    while worker.proc.pid is None:
        worker.proc.poll()
        time.sleep(0.01)
    started = time.monotonic()
    worker.cancel()
    assert time.monotonic() - started < 10
    assert worker.proc.returncode == -signal.SIGKILL
    with pytest.raises(ProcessLookupError):
        os.kill(worker.proc.pid, 0)


def test_a_dead_server_is_a_crash_of_its_workers_and_is_replaced(
    module: str, tmp_path: Path
) -> None:
    worker = Worker("orphan", workdir(tmp_path, "a"), module=module)
    start(worker, sleep=60)
    while worker.proc.pid is None:
        worker.proc.poll()
        time.sleep(0.01)
    ppid = int(Path(f"/proc/{worker.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    (server,) = [s for s in forkserver._servers.values() if s.proc.pid == ppid]
    server.proc.kill()
    server.proc.wait()
    assert worker.proc.wait() == -signal.SIGKILL  # reported, never a hang
    os.kill(worker.proc.pid, signal.SIGKILL)  # the orphaned fork itself
    fresh = Worker("fresh", workdir(tmp_path, "b"), module=module)
    start(fresh)
    assert fresh.result()["ppid"] != server.proc.pid


def test_turned_off_a_worker_is_its_own_process(
    module: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MLGATE_FORK_WORKERS", "0")
    worker = Worker("plain", workdir(tmp_path, "a"), module="mlgate.run.probe")
    assert not isinstance(worker.proc, forkserver.Forked)
    worker.cancel()


def test_a_check_scores_the_same_with_and_without_the_server(
    repo: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The fallback (macOS, Windows, MLGATE_FORK_WORKERS=0) trains exactly as the forks do."""
    base_project(repo, forest_config(), classification_frames(rows=400))
    set_params(repo, n_estimators=20)
    commit_all(repo, "fewer trees")
    metrics = {}
    for fork in ("1", "0"):
        monkeypatch.setenv("MLGATE_FORK_WORKERS", fork)
        code, doc = run_json(capsys, "--base", "HEAD~1", "--head", "HEAD", "--no-cache")
        assert code in (0, 1), doc
        metrics[fork] = {side: doc[side]["metrics"] for side in ("base", "head")}
    assert metrics["1"] == metrics["0"]
