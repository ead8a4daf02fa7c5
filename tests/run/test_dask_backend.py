"""model.backend.dask end to end, against a real ``distributed.LocalCluster`` on 127.0.0.1:
a seeded forest scores the same on the cluster as on this machine and the scheduler ran
its trees; where it trained is in the report; an unreachable scheduler is exit 3 in one
line; command mode hands the address to the command; MLGATE_DASK_ADDRESS wins."""

from __future__ import annotations

import json
import re
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from conftest import commit_all
from mlgate.paths import package_file
from projects import (
    base_project,
    classification_config,
    classification_frames,
    cli,
    config_error,
    forest_config,
    quick_command_config,
    run_json,
    write_config,
)

distributed = pytest.importorskip("distributed")
from distributed.diagnostics.plugin import SchedulerPlugin  # noqa: E402

SCHEMA = json.loads(package_file("schema", "report.schema.json").read_text())


@pytest.fixture(scope="module")
def cluster() -> Iterator[Any]:
    """Two workers of one thread each, in this process (threads, not processes: starts in
    a fraction of a second), reachable over tcp like a remote scheduler."""
    with distributed.LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=False,
        protocol="tcp",
        host="127.0.0.1",
        dashboard_address="127.0.0.1:0",  # a free port, not 8787 (another run may hold it)
    ) as found:
        yield found


class Finished(SchedulerPlugin):  # type: ignore[misc]
    """The keys of the tasks the scheduler saw finish (a plugin in the scheduler)."""

    def __init__(self) -> None:
        self.keys: list[str] = []

    def transition(self, key: Any, start: str, finish: str, *args: Any, **kwargs: Any) -> None:
        if finish == "memory":
            self.keys.append(str(key))


@pytest.fixture
def finished(cluster: Any) -> Iterator[Finished]:
    plugin = Finished()
    cluster.scheduler.add_plugin(plugin, name="finished")
    try:
        yield plugin
    finally:
        cluster.scheduler.remove_plugin(name="finished")


def closed_port() -> int:
    """A port on 127.0.0.1 nothing listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def on_cluster(cfg: dict[str, Any], address: str, **dask: Any) -> dict[str, Any]:
    cfg["model"]["backend"] = {"dask": {"address": address, **dask}}
    return cfg


def test_a_seeded_forest_scores_the_same_on_the_cluster(
    repo: Path, cluster: Any, finished: Finished, capsys: pytest.CaptureFixture[str]
) -> None:
    base_project(repo, forest_config(), classification_frames(rows=400))
    code, here = run_json(capsys, "--base", "HEAD", "--head", "HEAD")
    assert code == 0, here
    assert finished.keys == []
    write_config(repo, on_cluster(forest_config(), cluster.scheduler_address))
    commit_all(repo, "train on the cluster")
    code, there = run_json(capsys, "--base", "HEAD", "--head", "HEAD", "--no-cache")
    assert code == 0, there
    jsonschema.validate(there, SCHEMA)
    assert there["head"]["metrics"] == here["head"]["metrics"]
    assert there["head"]["metrics"]["accuracy"] == pytest.approx(0.883, abs=1e-3)
    # The 30 trees of each side ran on the cluster, in batches joblib named after them.
    assert [k for k in finished.keys if "_parallel_build_trees" in k], finished.keys
    assert there["head"]["cluster"] == {"address": cluster.scheduler_address, "workers": 2}
    assert here["head"]["cluster"] is None
    # The forest parallelizes through joblib: no note says it gained nothing.
    assert not [n for n in there["notes"] if "joblib" in n]
    # The backend is not in the run-cache key: with the cache, the cluster config reuses
    # the first (local) run, which says where it trained, and the cluster runs nothing.
    finished.keys.clear()
    code, again = run_json(capsys, "--base", "HEAD", "--head", "HEAD")
    assert code == 0 and again["head"]["cached"] and finished.keys == []
    assert again["head"]["metrics"] == here["head"]["metrics"]
    assert again["head"]["cluster"] is None


def test_the_report_says_where_it_trained(
    repo: Path, cluster: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    address = cluster.scheduler_address
    base_project(repo, on_cluster(forest_config(), address), classification_frames(rows=400))
    code, out, err = cli(
        capsys, "check", "--base", "HEAD", "--head", "HEAD", "--format", "markdown"
    )
    assert code == 0, err
    escaped = address.replace("://", "\\://")
    assert f"| trained on | dask cluster {escaped} (2 workers) |" in out
    code, text, err = cli(capsys, "check", "--base", "HEAD", "--head", "HEAD")
    assert code == 0, err
    assert re.search(rf"trained on +dask cluster {address} \(2 workers\) +dask cluster", text), text


def test_an_estimator_without_joblib_is_named_in_a_note(
    repo: Path, cluster: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = classification_config()  # LogisticRegression has n_jobs (one-vs-rest): a tree
    cfg["model"].update(estimator="sklearn.tree.DecisionTreeClassifier", params={"random_state": 0})
    base_project(repo, on_cluster(cfg, cluster.scheduler_address), classification_frames())
    code, report = run_json(capsys, "--base", "HEAD", "--head", "HEAD")
    assert code == 0, report
    address = cluster.scheduler_address
    assert (
        "base and head: DecisionTreeClassifier does not parallelize through joblib (no n_jobs), "
        f"so it trained in mlgate's worker, not on the dask cluster {address}"
    ) in report["notes"]


def test_an_unreachable_cluster_is_exit_3_in_one_line(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    address = f"tcp://127.0.0.1:{closed_port()}"
    cfg = on_cluster(forest_config(), address, timeout=1)
    base_project(repo, cfg, classification_frames(rows=400))
    code, out, err = cli(capsys, "check", "--base", "HEAD", "--head", "HEAD")
    assert code == 3, (out, err)
    (line,) = err.strip().splitlines()
    assert re.fullmatch(
        rf"mlgate: error: (base|head): dask cluster {address} unreachable: Timed out .* 1 s", line
    ), line


def test_a_cluster_without_workers_is_exit_3(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Its tasks would wait forever: the run fails at once instead."""
    with distributed.LocalCluster(
        n_workers=0,
        processes=False,
        protocol="tcp",
        host="127.0.0.1",
        dashboard_address="127.0.0.1:0",
    ) as empty:
        address = empty.scheduler_address
        base_project(repo, on_cluster(forest_config(), address), classification_frames(rows=400))
        code, out, err = cli(capsys, "check", "--base", "HEAD", "--head", "HEAD")
    assert code == 3, (out, err)
    (line,) = err.strip().splitlines()
    assert re.fullmatch(rf"mlgate: error: (base|head): dask cluster {address} has no workers", line)


def test_the_environment_variable_overrides_the_config(
    repo: Path, cluster: Any, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The operator's MLGATE_DASK_ADDRESS wins over the PR's model.backend."""
    dead = f"tcp://127.0.0.1:{closed_port()}"
    base_project(
        repo, on_cluster(forest_config(), dead, timeout=1), classification_frames(rows=400)
    )
    monkeypatch.setenv("MLGATE_DASK_ADDRESS", cluster.scheduler_address)
    code, report = run_json(capsys, "--base", "HEAD", "--head", "HEAD")
    assert code == 0, report
    assert report["head"]["cluster"]["address"] == cluster.scheduler_address
    # Without any model.backend, the variable alone trains on the cluster.
    write_config(repo, forest_config())
    commit_all(repo, "no backend")
    code, report = run_json(capsys, "--base", "HEAD", "--head", "HEAD", "--no-cache")
    assert code == 0 and report["head"]["cluster"]["workers"] == 2


@pytest.mark.parametrize(
    "value", ["http://127.0.0.1:8786", "tcp://user:secret@host:8786", "tcp://h:1/x", "`x`"]
)
def test_a_malformed_environment_address_is_a_usage_error(
    repo: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    base_project(repo, forest_config(), classification_frames(rows=400))
    monkeypatch.setenv("MLGATE_DASK_ADDRESS", value)
    code, out, err = cli(capsys, "check", "--base", "HEAD", "--head", "HEAD")
    assert code == 2, (out, err)
    (line,) = err.strip().splitlines()
    assert "MLGATE_DASK_ADDRESS" in line and "is not a Dask scheduler address" in line
    assert "secret" not in out + err  # the value is not echoed: it might hold one


@pytest.mark.parametrize(
    "address", ["tcp://user:secret@host:8786", "http://host:8786", "tcp://host:8786/path", ""]
)
def test_a_config_address_with_credentials_or_a_path_is_a_config_error(address: str) -> None:
    message = config_error(yaml.safe_dump(on_cluster(forest_config(), address)))
    assert message.startswith("mlgate.yaml:"), message
    assert "model.backend.dask.address" in message
    assert 'a scheduler address like "tcp://scheduler.internal:8786"' in message


ADDRESS_TRAIN_PY = """\
import json, os, pathlib
pathlib.Path("out").mkdir(exist_ok=True)
seen = os.environ.get("MLGATE_DASK_ADDRESS", "")
score = {"tcp://127.0.0.1:9": 1.0, "tcp://10.0.0.7:8786": 2.0}.get(seen, 0.0)
pathlib.Path("out/metrics.json").write_text(json.dumps({"score": score}))
"""


def test_command_mode_gets_the_address(
    repo: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """mlgate does not connect in command mode: the command gets the address and does."""
    write_config(repo, on_cluster(quick_command_config("python train.py"), "tcp://127.0.0.1:9"))
    (repo / "train.py").write_text(ADDRESS_TRAIN_PY)
    (repo / ".gitignore").write_text("out/\n")
    commit_all(repo, "command on a cluster")
    code, report = run_json(capsys, "--base", "HEAD", "--head", "HEAD")
    assert code == 0 and report["head"]["metrics"] == {"score": 1.0}
    monkeypatch.setenv("MLGATE_DASK_ADDRESS", "tcp://10.0.0.7:8786")
    code, report = run_json(capsys, "--base", "HEAD", "--head", "HEAD", "--no-cache")
    assert code == 0 and report["head"]["metrics"] == {"score": 2.0}
