"""MLflow interop (the ``mlgate[mlflow]`` extra): with MLFLOW_TRACKING_URI set, checks log a
run per side and promotions/rollbacks a run, a registered model version and the
``production`` alias. Real CLI in subprocesses, a real local sqlite store, MlflowClient to
read it back; logging problems are one warning and never change the exit code."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("mlflow")
pytest.importorskip("sqlalchemy")
pytest.importorskip("alembic")

from mlflow import MlflowClient

from ci_events import github_env, pr_event
from conftest import FIXTURES, commit_all, git
from mlgate import __version__
from mlgate.interop.mlflow import clean_key, finite, flatten
from projects import (
    base_project,
    classification_config,
    classification_frames,
    push_to_origin,
    set_params,
)

# The installed SQLAlchemy warns about MLflow's own store code when the tests read it back.
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:mlflow")


@pytest.fixture
def uri(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'mlflow' / 'mlflow.db'}"


@pytest.fixture
def project(repo: Path, tmp_path: Path) -> Path:
    """main with a model pushed to a bare origin; HEAD on a feature branch that changes C."""
    base_project(repo, classification_config(), classification_frames())
    push_to_origin(repo, tmp_path)
    return repo


def mlgate(
    cwd: Path, *args: str, uri: str | None, extra: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
    if uri is not None:
        env["MLFLOW_TRACKING_URI"] = uri
    env.update(extra or {})
    return subprocess.run(
        [sys.executable, "-m", "mlgate", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


def client(uri: str) -> MlflowClient:
    return MlflowClient(tracking_uri=uri, registry_uri=uri)


def runs(uri: str, model: str = "churn") -> list[Any]:
    c = client(uri)
    experiment = c.get_experiment_by_name(f"mlgate/{model}")
    assert experiment is not None
    return list(c.search_runs([experiment.experiment_id], order_by=["attributes.start_time ASC"]))


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_check_logs_one_run_per_side_and_reuses_them_for_the_same_inputs(
    project: Path, uri: str
) -> None:
    base = git(project, "rev-parse", "HEAD")
    git(project, "checkout", "-q", "-b", "feature")
    set_params(project, C=0.5)
    head = commit_all(project, "C 0.5")

    proc = mlgate(project, "check", "--format", "json", uri=uri)
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)  # stdout stays pure JSON: MLflow's chatter is silenced
    assert "warning" not in proc.stderr
    logged = {r.data.tags["mlgate.side"]: r for r in runs(uri)}
    assert sorted(logged) == ["base", "head"]
    for side, sha, c in (("base", base, "1.0"), ("head", head, "0.5")):
        run = logged[side]
        assert run.info.run_name == f"churn:{side}@{sha[:7]}"
        assert run.info.status == "FINISHED"
        assert run.data.params == {"C": c, "max_iter": "500"}
        for name in ("accuracy", "f1_macro"):
            assert run.data.metrics[name] == pytest.approx(report[side]["metrics"][name])
        tags = run.data.tags
        assert tags["mlgate.commit"] == tags["mlflow.source.git.commit"] == sha
        assert tags["mlgate.verdict"] == "pass"
        assert tags["mlgate.cached"] == "false"
        assert tags["mlgate.version"] == __version__
        assert len(tags["mlgate.digest"]) >= 16
    assert git(project, "status", "--porcelain") == ""  # no ./mlruns in the user's repo

    # The same inputs again: both sides come from the run cache, and MLflow has them already.
    again = mlgate(project, "check", "--format", "json", uri=uri)
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["head"]["cached"] is True
    assert len(runs(uri)) == 2

    # Uncommitted changes: a new head run named and tagged as the working tree.
    set_params(project, C=0.25)
    dirty = mlgate(project, "check", "--format", "json", uri=uri)
    assert dirty.returncode == 0, dirty.stderr
    new = [r for r in runs(uri) if r.info.run_id not in {x.info.run_id for x in logged.values()}]
    assert len(new) == 1
    assert new[0].info.run_name == f"churn:head@{head[:7]}+dirty"
    assert new[0].data.tags["mlgate.commit"] == json.loads(dirty.stdout)["head"]["ref"]
    assert new[0].data.params["C"] == "0.25"


def test_promotions_and_rollback_register_versions_and_move_the_production_alias(
    project: Path, uri: str
) -> None:
    first = mlgate(project, "promote", uri=uri)
    assert first.returncode == 0, first.stderr
    set_params(project, C=0.8)
    source = commit_all(project, "C 0.8")
    second = mlgate(project, "promote", uri=uri)
    assert second.returncode == 0, second.stderr + second.stdout
    for proc in (first, second):
        assert "MLflow" not in proc.stdout + proc.stderr  # no warning on success

    c = client(uri)
    versions = sorted(c.search_model_versions("name = 'churn'"), key=lambda v: int(v.version))
    assert [v.tags["mlgate.tag"] for v in versions] == ["churn@v1", "churn@v2"]
    alias = c.get_model_version_by_alias("churn", "production")
    assert alias.version == versions[1].version
    assert alias.tags["mlgate.model_version"] == "2"
    promotion = c.get_run(alias.run_id)
    tags = promotion.data.tags
    assert (tags["mlgate.kind"], tags["mlgate.tag"], tags["mlgate.commit"]) == (
        "promotion",
        "churn@v2",
        source,
    )
    assert tags["mlgate.version"] == __version__
    assert tags["mlgate.comparison"] == "same-data"  # v1 scored on the candidate's rows
    assert promotion.data.params["C"] == "0.8"
    lineage = json.loads(git(project, "show", "churn@v2:churn/lineage.json"))
    assert promotion.data.metrics["accuracy"] == pytest.approx(lineage["metrics"]["accuracy"])
    assert "champion.accuracy" in promotion.data.metrics

    def model_bytes(run_id: str, where: Path) -> bytes:
        from mlflow.artifacts import download_artifacts

        path = download_artifacts(
            run_id=run_id, artifact_path="model/model.skops", dst_path=where, tracking_uri=uri
        )
        return Path(path).read_bytes()

    def production_model(rev: str) -> bytes:
        return subprocess.run(
            ["git", "show", f"{rev}:churn/model.skops"],
            cwd=project,
            capture_output=True,
            check=True,
        ).stdout

    tmp = project.parent
    assert model_bytes(alias.run_id, tmp / "a") == production_model("churn@v2")
    assert {a.path for a in c.list_artifacts(alias.run_id)} >= {
        "model",
        "lineage.json",
        "MODEL_CARD.md",
    }

    back = mlgate(project, "rollback", "--to", "1", uri=uri)
    assert back.returncode == 0, back.stderr
    rolled = c.get_model_version_by_alias("churn", "production")
    assert rolled.tags["mlgate.tag"] == "churn@v3"
    assert int(rolled.version) == 3
    run = c.get_run(rolled.run_id)
    assert run.data.tags["mlgate.kind"] == "rollback"
    assert run.data.tags["mlgate.rollback_of"] == "1"
    assert model_bytes(rolled.run_id, tmp / "b") == production_model("churn@v1")
    assert git(project, "status", "--porcelain") == ""


def test_no_push_promotion_is_not_logged_and_says_so(project: Path, uri: str) -> None:
    proc = mlgate(project, "promote", "--no-push", uri=uri)
    assert proc.returncode == 0, proc.stderr
    assert "note: v1 was not logged to MLflow: --no-push keeps it local" in proc.stdout
    assert client(uri).search_registered_models() == []


def test_ci_pull_request_logs_the_check_and_push_logs_the_promotion(
    project: Path, uri: str, tmp_path: Path
) -> None:
    base = git(project, "rev-parse", "HEAD")
    git(project, "checkout", "-q", "-b", "feature")
    set_params(project, C=0.5)
    head = commit_all(project, "C 0.5")
    event = pr_event(base__sha=base, head__sha=head)
    proc = mlgate(project, "ci", uri=uri, extra=github_env(tmp_path, event))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "MLflow" not in proc.stdout
    assert {r.data.tags["mlgate.side"] for r in runs(uri)} == {"base", "head"}

    git(project, "checkout", "-q", "main")
    git(project, "merge", "-q", "--no-ff", "-m", "Merge pull request #2 from octo/c", "feature")
    push = json.loads((FIXTURES / "events" / "github-push-new-branch.json").read_text())
    push.update(ref="refs/heads/main", after=git(project, "rev-parse", "HEAD"))
    push["repository"]["default_branch"] = "main"
    env = {**github_env(tmp_path, push), "GITHUB_EVENT_NAME": "push"}
    proc = mlgate(project, "ci", uri=uri, extra=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    version = client(uri).get_model_version_by_alias("churn", "production")
    assert version.tags["mlgate.tag"] == "churn@v1"
    assert client(uri).get_run(version.run_id).data.tags["mlgate.pull_request"] == "2"


def test_unreachable_server_is_one_warning_and_keeps_the_exit_code_and_the_secret(
    project: Path,
) -> None:
    git(project, "checkout", "-q", "-b", "feature")
    set_params(project, C=0.0001)  # far worse: the gate fails
    commit_all(project, "over-regularized")
    uri = f"http://mlgate-user:s3cr3t-pw@127.0.0.1:{closed_port()}"
    bounded = {"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0", "MLFLOW_HTTP_REQUEST_TIMEOUT": "5"}
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}, **bounded}
    env["MLFLOW_TRACKING_URI"] = uri
    proc = subprocess.run(
        [sys.executable, "-m", "mlgate", "check"],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 1, proc.stderr  # the gate's code, not a logging failure
    output = proc.stdout + proc.stderr
    assert "s3cr3t-pw" not in output and "mlgate-user" not in output
    warnings = [ln for ln in proc.stderr.splitlines() if "MLflow" in ln]
    assert len(warnings) == 1, proc.stderr
    assert warnings[0].startswith("mlgate: warning: could not log the check to MLflow at ")
    port = uri.rsplit(":", 1)[1]
    assert warnings[0].endswith(
        f"at http://***@127.0.0.1:{port}: cannot connect to the tracking server "
        "(connection refused)"
    )

    git(project, "checkout", "-q", "main")
    promoted = subprocess.run(
        [sys.executable, "-m", "mlgate", "promote"],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert promoted.returncode == 0, promoted.stderr
    assert "s3cr3t-pw" not in promoted.stdout + promoted.stderr
    notes = [ln for ln in promoted.stdout.splitlines() if "MLflow" in ln]
    assert len(notes) == 1 and notes[0].startswith("note: could not log v1 to MLflow at ")
    assert "churn promoted as v1" in promoted.stdout


def test_tracking_uri_without_mlflow_installed_says_how_to_install(project: Path) -> None:
    """mlflow hidden from the import system, as if the extra were not installed."""
    code = (
        "import sys\n"
        "sys.modules['mlflow'] = None\n"
        "from mlgate.cli import main\n"
        "sys.exit(main(['check']))\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
    env["MLFLOW_TRACKING_URI"] = "http://user:hunter22@127.0.0.1:9"
    proc = subprocess.run(
        [sys.executable, "-c", code], cwd=project, env=env, capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr
    warnings = [ln for ln in proc.stderr.splitlines() if "mlflow" in ln.lower()]
    assert len(warnings) == 1
    assert "pip install 'mlgate[mlflow]'" in warnings[0]
    assert "hunter22" not in proc.stdout + proc.stderr


def test_params_and_metrics_fit_mlflow_rules() -> None:
    flat = flatten({"a": {"b": 1, "c": {"d": [1, 2]}}, "e": None, "f": "x" * 900, "g h/i": True})
    assert flat["a.b"] == "1" and flat["a.c.d"] == "[1, 2]" and flat["e"] == "null"
    assert len(flat["f"]) == 500 and flat["f"].endswith("...")
    assert flat["g h_i"] == "true"
    assert finite({"ok": 0.5, "nan": float("nan"), "inf": float("inf"), "b": True, "s": "1"}) == {
        "ok": 0.5
    }
    assert clean_key("r2@test[0]") == "r2_test_0_"
    assert clean_key("..") == "_.."
