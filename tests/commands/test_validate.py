"""``mlgate validate``: everything ``check`` would reject before training, found without
training, each problem on its own line at the config's line, exit 2. Real git
repositories; the estimator is imported in a real child process."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from conftest import commit_all
from mlgate.storage.objects import Cache
from projects import (
    base_project,
    classification_config,
    classification_frames,
    cli,
    dvc_add,
    dvc_init,
    object_path,
    write_config,
    write_frames,
)

OK = "mlgate.yaml: ok (model churn, classification, 2 metric(s), 1 gated)\n"


def project(repo: Path, **changes: Any) -> dict[str, Any]:
    """The classification project in ``repo`` (data in the working tree), its config with
    ``changes`` applied to the model and data sections."""
    cfg = classification_config()
    for key, value in changes.items():
        section, _, name = key.partition("__")
        cfg[section][name] = value
    write_config(repo, cfg)
    write_frames(repo, *classification_frames())
    return cfg


def errors(err: str) -> list[str]:
    prefix = "mlgate: error: "
    return [line.removeprefix(prefix) for line in err.splitlines() if line.startswith(prefix)]


def problems(capsys: pytest.CaptureFixture[str]) -> list[str]:
    """The problems ``mlgate validate`` reports, having exited 2 with nothing on stdout."""
    code, out, err = cli(capsys, "validate")
    assert (code, out) == (2, ""), err
    return errors(err)


def one_problem(capsys: pytest.CaptureFixture[str]) -> str:
    lines = problems(capsys)
    assert len(lines) == 1, lines
    return lines[0]


def test_a_sound_project_is_ok(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    project(repo)
    assert cli(capsys, "validate") == (0, OK, "")


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            {"model__estimator": "sklearn.linear_model.LogisticRegresion"},
            "mlgate.yaml:5: model.estimator: unknown estimator 'LogisticRegresion' in module "
            "'sklearn.linear_model' (did you mean 'LogisticRegression'?); expected one of ",
        ),
        (
            {"model__params": {"C": 1.0, "max_iters": 500}},
            "mlgate.yaml:8: model.params.max_iters: LogisticRegression has no parameter "
            "'max_iters' (did you mean 'max_iter'?); it takes penalty, ",
        ),
    ],
    ids=["estimator", "param"],
)
def test_a_misspelling_is_named_with_the_right_spelling(
    repo: Path, capsys: pytest.CaptureFixture[str], change: dict[str, Any], expected: str
) -> None:
    project(repo, **change)
    assert one_problem(capsys).startswith(expected)


def test_a_misspelled_factory_in_the_repository_is_named(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (repo / "model.py").write_text(
        "from sklearn.linear_model import LogisticRegression\n\n\n"
        "def make_model(C=1.0, max_iter=100):\n"
        "    return LogisticRegression(C=C, max_iter=max_iter)\n"
    )
    project(repo, model__estimator="model:make_modle")
    assert problems(capsys) == [
        "mlgate.yaml:5: model.estimator: unknown estimator 'make_modle' in module 'model' "
        "(did you mean 'make_model'?); expected one of LogisticRegression, make_model"
    ]


def test_a_param_value_its_constraints_refuse(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    project(repo, model__params={"C": -1, "max_iter": 500, "solver": "lbfgz"})
    lines = problems(capsys)
    assert lines[0] == (
        "mlgate.yaml:7: model.params.C: The 'C' parameter of LogisticRegression must be a "
        "float in the range (0.0, inf]. Got -1 instead."
    )
    assert lines[1].startswith(
        "mlgate.yaml:9: model.params.solver: The 'solver' parameter of LogisticRegression "
        "must be a str among "
    )
    assert len(lines) == 2


def test_a_misspelled_target_and_a_missing_feature(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    project(repo, data__target="lable", data__features=["f0", "f9"])
    lines = problems(capsys)
    columns = "(columns: f0, f1, f2, f3, f4, label)"
    assert lines == [
        f"mlgate.yaml:12: data.target: column 'lable' not in data/train.csv {columns}; "
        "did you mean 'label'?",
        f"mlgate.yaml:12: data.target: column 'lable' not in data/test.csv {columns}; "
        "did you mean 'label'?",
        "mlgate.yaml:13: data.features: column(s) 'f9' not in data/train.csv",
        "mlgate.yaml:13: data.features: column(s) 'f9' not in data/test.csv",
    ]


def test_a_missing_test_file(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    project(repo, data__test="data/tests.csv")
    assert problems(capsys) == [
        "mlgate.yaml:11: data.test: data/tests.csv not found in working tree: neither "
        "data/tests.csv nor data/tests.csv.ptr nor data/tests.csv.dvc exists"
    ]


def test_an_unsupported_data_format(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    project(repo, data__train="data/train.txt")
    shutil.copy(repo / "data" / "train.csv", repo / "data" / "train.txt")
    assert problems(capsys) == [
        "mlgate.yaml:10: data.train: cannot train on data/train.txt: unsupported format; "
        "expected .csv or .tsv (optionally .gz/.bz2/.xz/.zip/.zst) or .parquet",
    ]


def test_parquet_columns_come_from_its_schema(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    project(repo, data__train="data/train.parquet", data__target="y")
    train, _ = classification_frames()
    train.to_parquet(repo / "data" / "train.parquet")
    lines = problems(capsys)
    assert lines[0].startswith("mlgate.yaml:12: data.target: column 'y' not in data/train.parquet")


# --- data behind pointers and DVC --------------------------------------------------------


def pointed(repo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    """The project with its data added as pointers and pushed to file:// storage; then the
    working files and the local cache removed. Returns the storage directory."""
    store = tmp_path / "store"
    cfg = project(repo)
    cfg["storage"] = store.as_uri()
    write_config(repo, cfg)
    assert cli(capsys, "data", "add", "data/train.csv", "data/test.csv")[0] == 0
    assert cli(capsys, "data", "push")[0] == 0
    for name in ("train.csv", "test.csv"):
        (repo / "data" / name).unlink()
    shutil.rmtree(os.environ["MLGATE_CACHE_DIR"])
    return store


def test_pointed_data_in_storage_is_ok_and_its_columns_come_from_the_pointer(
    repo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pointed(repo, tmp_path, capsys)
    assert cli(capsys, "validate") == (0, OK, "")
    cfg = yaml.safe_load((repo / "mlgate.yaml").read_text())
    cfg["data"]["target"] = "lable"
    write_config(repo, cfg)
    lines = problems(capsys)
    assert lines[0].startswith("mlgate.yaml:12: data.target: column 'lable' not in data/train.csv")
    assert not (repo / "data" / "train.csv").exists()  # nothing was downloaded
    assert not Path(os.environ["MLGATE_CACHE_DIR"], "objects").exists()
    cfg["data"]["target"] = "label"  # as validate said ok: check fetches and passes
    write_config(repo, cfg)
    commit_all(repo, "data in storage only")
    code, _, err = cli(capsys, "check")
    assert code == 0, err


def test_pointed_data_in_no_place_is_not_fetched(
    repo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = pointed(repo, tmp_path, capsys)
    shutil.rmtree(store / "sha256")
    lines = problems(capsys)
    ptr = yaml.safe_load((repo / "data" / "train.csv.ptr").read_text())
    assert lines[0] == (
        f"mlgate.yaml:10: data.train: data/train.csv: not fetched: the data of "
        f"data/train.csv.ptr (sha256 {ptr['sha256'][:12]}…) is in none of the places check "
        f"looks: cache (absent), working tree data/train.csv (absent), storage "
        f"{store.as_uri()} (absent); `mlgate data push` where it is, then `mlgate data pull` "
        "here"
    )
    assert lines[1].startswith("mlgate.yaml:11: data.test: data/test.csv: not fetched: ")
    assert len(lines) == 2


def test_a_pointer_without_columns_and_not_fetched_says_its_columns_went_unchecked(
    repo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pointed(repo, tmp_path, capsys)
    ptr = repo / "data" / "train.csv.ptr"
    doc = yaml.safe_load(ptr.read_text())
    del doc["columns"]
    ptr.write_text(yaml.safe_dump(doc))
    code, out, err = cli(capsys, "validate")
    assert (code, out) == (0, OK)
    assert err == (
        "mlgate: note: the columns of data/train.csv were not checked: its bytes are not "
        "here (working tree or cache) and nothing records its columns; fetch it to check "
        "them\n"
    )


def test_dvc_tracked_data_in_dvcs_cache_is_ok_and_absent_everywhere_is_not_fetched(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    project(repo)
    dvc_init(repo)
    data = (repo / "data" / "train.csv").read_bytes()
    digest = dvc_add(repo, "data/train.csv", data, local_cache=True)
    (repo / "data" / "train.csv").unlink()
    assert cli(capsys, "validate")[:2] == (0, OK)
    object_path(repo / ".dvc" / "cache", digest, dvc=3).unlink()
    lines = problems(capsys)
    assert lines == [
        f"mlgate.yaml:10: data.train: data/train.csv: not fetched: the data of "
        f"data/train.csv.dvc (md5 {digest[:12]}…) is in none of the places check looks: cache "
        f"(md5 not seen before), DVC cache "
        f"{object_path(repo / '.dvc' / 'cache', digest, dvc=3)} (absent), DVC cache "
        f"{object_path(repo / '.dvc' / 'cache', digest, dvc=2)} (absent), DVC remote (none "
        "configured); `dvc push` where it is, then `dvc pull` here"
    ]


# --- command mode and the report template ------------------------------------------------


def command_project(repo: Path, command: str | list[str], **train: str) -> None:
    cfg = classification_config()
    del cfg["model"]["estimator"], cfg["model"]["params"], cfg["model"]["task"]
    cfg["model"]["train"] = {"command": command, "metrics": "out/metrics.json", **train}
    write_config(repo, cfg)
    write_frames(repo, *classification_frames())


def test_command_modes_program_must_be_found(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    command_project(repo, "MODE=fast no-such-trainer --fast")
    assert problems(capsys) == [
        "mlgate.yaml:5: model.train.command: 'no-such-trainer' not found on PATH"
    ]
    (repo / "train.sh").write_text("#!/bin/sh\n")
    command_project(repo, "train.sh")
    assert problems(capsys) == [
        "mlgate.yaml:5: model.train.command: 'train.sh' is not on PATH; to run the "
        "repository's own, write ./train.sh"
    ]
    command_project(repo, "./train.sh")
    assert problems(capsys) == [
        "mlgate.yaml:5: model.train.command: ./train.sh is not executable: chmod +x it, or "
        "run it with its interpreter"
    ]
    (repo / "train.sh").chmod(0o755)
    code, out, err = cli(capsys, "validate")
    assert (code, err) == (0, "")
    assert out == "mlgate.yaml: ok (model churn, command mode, 2 metric(s), 1 gated)\n"


def test_command_mode_needs_every_pointed_file_as_its_pointer_says(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The command finds every pointed file at its path (not only data.train/test), and
    check refuses a working file that is not what its pointer names."""
    command_project(repo, [sys.executable, "train.py"])
    (repo / "data" / "extra.csv").write_text("a,b\n1,2\n")
    assert cli(capsys, "data", "add", "data/test.csv", "data/extra.csv")[0] == 0
    extra = yaml.safe_load((repo / "data" / "extra.csv.ptr").read_text())["sha256"]
    (repo / "data" / "extra.csv").unlink()
    Cache().path_for(extra).unlink()
    with (repo / "data" / "test.csv").open("a") as f:
        f.write("0,0,0,0,0,1\n")
    (repo / "data" / "notes.csv.ptr").write_text("size: 3\n")
    assert problems(capsys) == [
        "mlgate.yaml:11: data.test: data/test.csv: differs from its pointer; record it with "
        "`mlgate data add data/test.csv` or restore it with `mlgate data pull`",
        f"data/extra.csv: not fetched: the data of data/extra.csv.ptr (sha256 {extra[:12]}…) "
        "is in none of the places check looks: cache (absent), working tree data/extra.csv "
        "(absent), storage (none configured); `mlgate data push` where it is, then "
        "`mlgate data pull` here",
        "data/notes.csv.ptr: sha256: missing; expected 64 lowercase hex digits",
    ]


def test_command_modes_output_paths_must_stay_in_the_repository(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    command_project(repo, [sys.executable, "train.py"], model="../model.skops")
    assert problems(capsys) == [
        "mlgate.yaml:9: model.train.model: path '../model.skops' is outside the "
        "repository; use a path relative to the repo root"
    ]


def test_a_report_template_that_does_not_parse(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = project(repo)
    cfg["report"] = {"template": "report.md.j2"}
    write_config(repo, cfg)
    assert problems(capsys) == [
        "mlgate.yaml:21: report.template: report.md.j2 not found in working tree"
    ]
    (repo / "report.md.j2").write_text("# {{ report.model }}\n{% for m in report.metrics %}\n")
    assert problems(capsys) == [
        "report.md.j2:2: report.template: template syntax error: Unexpected end of "
        "template. Jinja was looking for the following tags: 'endfor' or 'else'. The "
        "innermost block that needs to be closed is 'for'."
    ]


# --- all at once; not stricter than check; the project's code kept out of mlgate ---------


def test_every_problem_is_reported_at_once(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = project(
        repo,
        model__params={"C": 1.0, "max_iters": 500},
        data__test="data/tests.csv",
        data__target="lable",
    )
    cfg["report"] = {"template": "report.md.j2"}
    write_config(repo, cfg)
    (repo / "report.md.j2").write_text("{{ report.model }\n")
    lines = problems(capsys)
    where = [line.split(": ", 2)[:2] for line in lines]
    assert where == [
        ["mlgate.yaml:8", "model.params.max_iters"],
        ["mlgate.yaml:11", "data.test"],
        ["mlgate.yaml:12", "data.target"],
        ["report.md.j2:1", "report.template"],
    ]


def test_a_project_that_validates_passes_check(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (repo / "model.py").write_text(
        "from sklearn.linear_model import LogisticRegression\n\n\n"
        "def make_model(C=1.0, **kw):\n"
        "    return LogisticRegression(C=C, **kw)\n"
    )
    cfg = classification_config()
    cfg["model"]["estimator"] = "model:make_model"
    cfg["model"]["params"] = {"C": 0.5, "max_iter": 300, "class_weight": "balanced"}
    cfg["data"]["features"] = ["f0", "f1", "f3"]
    cfg["report"] = {"template": "report.md.j2"}
    (repo / "report.md.j2").write_text("{% for m in report.metrics %}{{ m.name }}{% endfor %}\n")
    base_project(repo, cfg, classification_frames())
    assert cli(capsys, "validate")[0] == 0
    code, out, err = cli(capsys, "check", "--format", "markdown")
    assert code == 0, err
    assert "accuracy" in out


def test_importing_the_estimator_runs_in_a_child_process(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (repo / "model.py").write_text("import os\n\nos._exit(7)\n")
    project(repo, model__estimator="model:make_model")
    assert problems(capsys) == [
        "mlgate.yaml:5: model.estimator: checking model:make_model ended the process "
        "(exit 7): it printed nothing"
    ]
    (repo / "model.py").write_text(
        "from sklearn.linear_model import LogisticRegression as make_model\n"
    )
    assert cli(capsys, "validate") == (0, OK, "")  # and this process carries on
