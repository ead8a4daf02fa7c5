"""Bad input, end to end through `mlgate` on real temporary git repositories: each case
gets one clear line on stderr, the documented exit code, and nothing half-written."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from conftest import commit_all, git
from fakes.httpserver import Route, serve
from projects import (
    base_project,
    classification_config,
    classification_frames,
    cli,
    write_config,
    write_frames,
)


def one_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1, f"expected one line on stderr, got: {err!r}"
    assert "Traceback" not in err
    return lines[0]


def cache_objects() -> list[Path]:
    root = Path(os.environ["MLGATE_CACHE_DIR"]) / "objects"
    return sorted(p for p in root.rglob("*") if p.is_file())


@pytest.fixture
def project(repo: Path) -> Path:
    """A committed classification project on main, head = the working tree."""
    base_project(repo, classification_config(), classification_frames())
    return repo


def test_malformed_yaml_names_the_line(project: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    text = (project / "mlgate.yaml").read_text().replace("task: classification", "task: [oops")
    (project / "mlgate.yaml").write_text(text)
    code, out, err = cli(capsys, "check")
    assert code == 2 and out == ""
    line = one_line(err)
    assert line.startswith("mlgate: error: mlgate.yaml:")
    assert "invalid YAML" in line
    lineno = int(line.split(":")[3])
    assert 3 <= lineno <= 6  # the flow sequence opened on line 4 never closes


def test_schema_violation_names_key_path_and_line(project: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    cfg = classification_config()
    cfg["model"]["task"] = "clasification"
    write_config(project, cfg)
    code, _, err = cli(capsys, "validate")
    assert code == 2
    assert one_line(err) == (
        "mlgate: error: mlgate.yaml:4: model.task: 'clasification' is not one of "
        "classification, regression"
    )


def test_unknown_metric_lists_valid_choices(project: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    cfg = classification_config(metrics=["accuracy", "acuracy"])
    write_config(project, cfg)
    code, _, err = cli(capsys, "check")
    assert code == 2
    line = one_line(err)
    assert line.startswith("mlgate: error: mlgate.yaml:")
    assert "metrics[1]: unknown metric 'acuracy'" in line
    assert "did you mean 'accuracy'" in line
    assert "balanced_accuracy" in line and "f1_macro" in line and "rmse" in line


def test_unknown_estimator_lists_choices(project: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    cfg = classification_config()
    cfg["model"]["estimator"] = "sklearn.ensemble.RandomForestClasifier"
    write_config(project, cfg)
    code, _, err = cli(capsys, "check")
    assert code == 2
    line = one_line(err)
    assert line.startswith("mlgate: error: mlgate.yaml:5: model.estimator: head: unknown estimator")
    assert "did you mean 'RandomForestClassifier'?" in line
    assert "ExtraTreesClassifier" in line


def test_estimator_module_that_cannot_import(project: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    cfg = classification_config()
    cfg["model"]["estimator"] = "nosuchpkg.models:make"
    write_config(project, cfg)
    code, _, err = cli(capsys, "check")
    assert code == 2
    assert "cannot import 'nosuchpkg.models': ModuleNotFoundError" in one_line(err)


def test_invalid_param_value_is_a_config_error(project: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    cfg = classification_config()
    cfg["model"]["params"]["C"] = -1.0
    write_config(project, cfg)
    code, _, err = cli(capsys, "check")
    assert code == 2
    assert "model.params" in one_line(err) and "'C' parameter" in err


def test_target_column_missing(project: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    cfg = classification_config()
    cfg["data"]["target"] = "churned"
    write_config(project, cfg)
    code, _, err = cli(capsys, "check")
    assert code == 2
    line = one_line(err)
    assert "data.target: head: column 'churned' not in data/train.csv" in line
    assert "(columns: f0, f1, f2, f3, f4, label)" in line


def test_training_that_raises_gives_3_with_estimators_message(project: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    (project / "boom.py").write_text(
        "from sklearn.linear_model import LogisticRegression\n"
        "class Boom(LogisticRegression):\n"
        "    def fit(self, X, y):\n"
        "        raise ValueError('feature f3 has gone negative')\n"
        "def make():\n    return Boom()\n"
    )
    cfg = classification_config()
    cfg["model"]["estimator"] = "boom:make"
    cfg["model"]["params"] = {}
    write_config(project, cfg)
    code, _, err = cli(capsys, "check")
    assert code == 3
    assert one_line(err) == (
        "mlgate: error: head: training make on data/train.csv (working tree) failed: "
        "ValueError: feature f3 has gone negative"
    )


def test_not_a_git_repository(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    code, _, err = cli(capsys, "-C", str(tmp_path), "check")
    assert code == 2
    assert one_line(err).endswith(
        "is not inside a git repository; run mlgate from your "
        "project's checkout (or `git init` first)"
    )


def test_unknown_base_revision(project: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    code, _, err = cli(capsys, "check", "--base", "no-such-branch")
    assert code == 2
    assert "unknown revision 'no-such-branch'" in one_line(err)


def test_data_path_escaping_the_repo_is_refused(project: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    cfg = classification_config()
    cfg["data"]["train"] = "../outside.csv"
    write_config(project, cfg)
    code, _, err = cli(capsys, "check")
    assert code == 2
    assert one_line(err).startswith(
        "mlgate: error: mlgate.yaml:10: data.train: path '../outside.csv'"
    )
    (project.parent / "secret.csv").write_text("a,b\n1,2\n")
    code, _, err = cli(capsys, "data", "add", "../secret.csv")
    assert code == 2
    assert "outside the repository" in one_line(err)
    assert not (project.parent / "secret.csv.ptr").exists()


def _pointer_project(repo: Path, storage: Path) -> str:
    cfg = classification_config(storage=storage.as_uri())
    write_config(repo, cfg)
    write_frames(repo, *classification_frames())
    code = subprocess.run(
        [sys.executable, "-m", "mlgate", "data", "add", "data/train.csv", "data/test.csv"],
        cwd=repo,
        capture_output=True,
        text=True,
    )
    assert code.returncode == 0, code.stderr
    assert (
        subprocess.run([sys.executable, "-m", "mlgate", "data", "push"], cwd=repo).returncode == 0
    )
    return commit_all(repo, "data as pointers")


def _forget_local_copies(repo: Path) -> None:
    for name in ("train.csv", "test.csv"):
        (repo / "data" / name).unlink()
    for obj in cache_objects():
        obj.unlink()


def test_missing_data_object_names_pointer_and_every_place(
    repo: Path, tmp_path: Path, capsys
) -> None:  # type: ignore[no-untyped-def]
    store = tmp_path / "store"
    _pointer_project(repo, store)
    _forget_local_copies(repo)
    for obj in store.rglob("*"):
        if obj.is_file():
            obj.unlink()
    code, _, err = cli(capsys, "check")
    assert code == 3
    line = one_line(err)
    assert "data/train.csv.ptr" in line or "data/test.csv.ptr" in line
    assert "not found" in line
    for place in ("cache", "working tree", "storage " + store.as_uri()):
        assert place in line


def test_corrupt_object_in_storage_leaves_nothing_in_cache(
    repo: Path, tmp_path: Path, capsys
) -> None:  # type: ignore[no-untyped-def]
    store = tmp_path / "store"
    _pointer_project(repo, store)
    _forget_local_copies(repo)
    for obj in store.rglob("*"):
        if obj.is_file():
            obj.write_bytes(obj.read_bytes().replace(b"1", b"7"))
    code, _, err = cli(capsys, "check")
    assert code == 3
    assert "sha256" in one_line(err)
    assert cache_objects() == []


def test_corrupt_object_in_cache_is_replaced_not_used(repo: Path, tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    store = tmp_path / "store"
    _pointer_project(repo, store)
    for name in ("train.csv", "test.csv"):
        (repo / "data" / name).unlink()
    for obj in cache_objects():
        obj.write_bytes(b"garbage")
    code, _out, err = cli(capsys, "check", "--format", "json")
    assert code == 0, err
    for obj in cache_objects():
        assert obj.read_bytes() != b"garbage"


def test_download_cut_off_midway_gives_3_and_no_partial_object(repo: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    train, test = classification_frames()
    write_frames(repo, train, test)
    body = (repo / "data" / "train.csv").read_bytes()
    with serve({"/train.csv": Route(body, cut=True)}) as server:
        code, _, err = cli(
            capsys, "data", "add", "data/train.csv", "--url", server.url + "/train.csv"
        )
        assert code == 0, err
        write_config(repo, classification_config())
        commit_all(repo, "train data from a URL")
        (repo / "data" / "train.csv").unlink()
        for obj in cache_objects():
            obj.unlink()
        code, _, err = cli(capsys, "check")
    assert code == 3
    line = one_line(err)
    assert server.url in line
    assert cache_objects() == []
    leftovers = [p for p in Path(os.environ["MLGATE_CACHE_DIR"]).rglob("*") if ".tmp" in p.name]
    assert leftovers == []


def test_missing_config_points_to_init(repo: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    (repo / "x.txt").write_text("x")
    commit_all(repo, "x")
    code, _, err = cli(capsys, "check")
    assert code == 2
    assert "run `mlgate init`" in one_line(err)


def test_debug_shows_the_traceback(project: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "mlgate", "--debug", "check", "--base", "nope"],
        cwd=project,
        capture_output=True,
        text=True,
    )
    assert proc.returncode != 0 and "Traceback" in proc.stderr


def test_validate_accepts_a_good_config(project: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    code, out, err = cli(capsys, "validate")
    assert (code, err) == (0, "")
    assert out == "mlgate.yaml: ok (model churn, classification, 2 metric(s), 1 gated)\n"
    assert yaml.safe_load((project / "mlgate.yaml").read_text())["version"] == 1
    git(project, "status")
