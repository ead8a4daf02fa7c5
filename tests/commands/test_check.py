"""Journey 1 and 4 end to end: `mlgate check` on real git repositories, real training
processes, numbers checked against scikit-learn computed directly in the test."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
import yaml
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.metrics import (
    accuracy_score,
    f1_score,
    mean_absolute_error,
    r2_score,
    root_mean_squared_error,
)

from conftest import commit_all, git
from projects import (
    base_project,
    classification_config,
    classification_frames,
    cli,
    read_csv_at,
    regression_config,
    regression_frames,
    run_json,
    set_params,
    write_config,
    write_frames,
)


def fit_logreg(train, test, **params):  # type: ignore[no-untyped-def]
    model = LogisticRegression(**params).fit(train.drop(columns="label"), train["label"])
    return model, model.predict(test.drop(columns="label"))


def test_classification_pass_with_metrics_equal_to_sklearn(repo: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    base_sha = base_project(repo, classification_config(), classification_frames())
    git(repo, "checkout", "-q", "-b", "tune")
    set_params(repo, C=0.5)
    head_sha = commit_all(repo, "tune C")

    code, report = run_json(capsys)

    assert code == 0
    assert report["verdict"] == "pass"
    assert report["base"]["sha"] == base_sha and report["head"]["sha"] == head_sha
    assert report["comparison"] == "same-data"  # the test data is unchanged
    assert report["base_on_head_data"] is None
    train = read_csv_at(repo, head_sha, "data/train.csv")
    test = read_csv_at(repo, head_sha, "data/test.csv")
    for side, c in (("base", 1.0), ("head", 0.5)):
        _, pred = fit_logreg(train, test, C=c, max_iter=500)
        assert report[side]["metrics"]["accuracy"] == pytest.approx(
            accuracy_score(test["label"], pred), abs=1e-12
        )
        assert report[side]["metrics"]["f1_macro"] == pytest.approx(
            f1_score(test["label"], pred, average="macro"), abs=1e-12
        )
    rows = {r["name"]: r for r in report["metrics"]}
    assert rows["accuracy"]["delta"] == pytest.approx(
        report["head"]["metrics"]["accuracy"] - report["base"]["metrics"]["accuracy"]
    )
    assert report["params_diff"] == [{"name": "C", "status": "changed", "base": 1.0, "head": 0.5}]
    assert [d["status"] for d in report["data_diff"]] == ["unchanged", "unchanged"]
    assert report["head"]["model_size"] > 0 and report["head"]["fit_seconds"] > 0


def test_classification_gate_fails_with_exit_1_and_names_the_rule(repo: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    cfg = classification_config(gate={"accuracy": {"max_regression": 0.01}})
    base_project(repo, cfg, classification_frames())
    git(repo, "checkout", "-q", "-b", "worse")
    set_params(repo, C=0.0001)  # heavy regularization: the model collapses
    commit_all(repo, "over-regularize")

    code, report = run_json(capsys)

    assert code == 1
    assert report["verdict"] == "fail"
    [failed] = report["failed_rules"]
    assert failed["metric"] == "accuracy" and failed["rule"] == "max_regression"
    assert failed["message"].startswith("accuracy dropped by ")
    code, out, _ = cli(capsys, "check")
    assert code == 1
    assert "accuracy dropped by" in out
    assert "\x1b[" not in out  # no colour when stdout is not a terminal


def test_regression_metrics_equal_sklearn_and_errors_shown_positive(repo: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    base_project(repo, regression_config(), regression_frames())
    git(repo, "checkout", "-q", "-b", "alpha")
    set_params(repo, alpha=0.5)
    head_sha = commit_all(repo, "alpha 0.5")

    code, report = run_json(capsys)

    assert code == 0, report["failed_rules"]
    train = read_csv_at(repo, head_sha, "data/train.csv")
    test = read_csv_at(repo, head_sha, "data/test.csv")
    model = Ridge(alpha=0.5).fit(train.drop(columns="price"), train["price"])
    pred = model.predict(test.drop(columns="price"))
    head = report["head"]["metrics"]
    assert head["rmse"] == pytest.approx(root_mean_squared_error(test["price"], pred), rel=1e-12)
    assert head["mae"] == pytest.approx(mean_absolute_error(test["price"], pred), rel=1e-12)
    assert head["r2"] == pytest.approx(r2_score(test["price"], pred), rel=1e-12)
    assert head["rmse"] > 0
    rmse = next(r for r in report["metrics"] if r["name"] == "rmse")
    assert rmse["direction"] == "lower"
    assert rmse["better"] is (rmse["head"] < rmse["base"])


def test_regression_gate_fails_when_rmse_rises_too_much(repo: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    base_project(
        repo, regression_config(gate={"rmse": {"max_regression_pct": 5.0}}), regression_frames()
    )
    git(repo, "checkout", "-q", "-b", "bad")
    set_params(repo, alpha=500.0)
    commit_all(repo, "alpha 500")
    code, report = run_json(capsys)
    assert code == 1
    assert report["failed_rules"][0]["message"].startswith("rmse rose by ")


def test_same_data_comparison_when_test_data_changes(repo: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    train, test = classification_frames(seed=0)
    base_sha = base_project(repo, classification_config(), (train, test))
    git(repo, "checkout", "-q", "-b", "new-test")
    _, fresh = classification_frames(seed=0, rows=400)
    write_frames(repo, train, fresh)
    head_sha = commit_all(repo, "bigger test set")

    code, report = run_json(capsys)

    assert report["comparison"] == "same-data"
    base_train = read_csv_at(repo, base_sha, "data/train.csv")
    base_test = read_csv_at(repo, base_sha, "data/test.csv")
    head_test = read_csv_at(repo, head_sha, "data/test.csv")
    model, own_pred = fit_logreg(base_train, base_test, C=1.0, max_iter=500)
    on_head = accuracy_score(head_test["label"], model.predict(head_test.drop(columns="label")))
    own = accuracy_score(base_test["label"], own_pred)
    rows = {r["name"]: r for r in report["metrics"]}
    assert rows["accuracy"]["base"] == pytest.approx(on_head, abs=1e-12)
    assert report["base_on_head_data"]["accuracy"] == pytest.approx(on_head, abs=1e-12)
    assert report["base"]["metrics"]["accuracy"] == pytest.approx(own, abs=1e-12)
    assert report["comparison_note"] == ""
    assert code in (0, 1)


def test_same_data_falls_back_when_head_test_lacks_base_columns(repo: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    train, test = classification_frames()
    base_project(repo, classification_config(), (train, test))
    git(repo, "checkout", "-q", "-b", "drop-col")
    write_frames(repo, train.drop(columns="f4"), test.drop(columns="f4"))
    commit_all(repo, "drop f4")

    _, report = run_json(capsys)

    assert report["comparison"] == "own-data"
    assert "lacks column(s) 'f4'" in report["comparison_note"]
    changes = {d["path"]: d for d in report["data_diff"]}
    assert changes["data/test.csv"]["columns_removed"] == ["f4"]


def test_no_baseline_when_base_has_no_config(repo: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    (repo / "README.md").write_text("project\n")
    commit_all(repo, "initial")
    git(repo, "checkout", "-q", "-b", "add-mlgate")
    cfg = classification_config(gate={"accuracy": {"min": 0.5, "max_regression": 0.0}})
    write_config(repo, cfg)
    write_frames(repo, *classification_frames())
    commit_all(repo, "add model")

    code, report = run_json(capsys)

    assert code == 0
    assert report["comparison"] == "no-baseline" and report["base"] is None
    assert [r["rule"] for r in report["skipped_rules"]] == ["max_regression"]
    code, out, _ = cli(capsys, "check", "--format", "markdown")
    assert "No baseline" in out or "no baseline" in out


def test_working_tree_head_flags_uncommitted_changes(repo: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    base_project(repo, classification_config(), classification_frames())
    set_params(repo, C=0.9)  # on main, uncommitted: base is HEAD, head the working tree

    code, report = run_json(capsys)

    assert report["head"]["ref"] == "working tree"
    assert report["head"]["dirty"] == ["mlgate.yaml"]
    assert any("uncommitted" in n for n in report["notes"])
    assert report["params_diff"][0]["head"] == 0.9
    assert code == 0


def test_factory_is_imported_from_each_sides_own_commit(repo: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    pkg = repo / "mymodels"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "build.py").write_text(
        "from sklearn.linear_model import LogisticRegression\n"
        "def make(C=1.0):\n    return LogisticRegression(C=C, max_iter=500)\n"
    )
    cfg = classification_config()
    cfg["model"]["estimator"] = "mymodels.build:make"
    cfg["model"]["params"] = {"C": 1.0}
    base_sha = base_project(repo, cfg, classification_frames())
    git(repo, "checkout", "-q", "-b", "tree-model")
    (pkg / "build.py").write_text(
        "from sklearn.tree import DecisionTreeClassifier\n"
        "def make(C=1.0):\n    return DecisionTreeClassifier(max_depth=2, random_state=0)\n"
    )
    commit_all(repo, "switch to a tree")

    _, report = run_json(capsys)

    train = read_csv_at(repo, base_sha, "data/train.csv")
    test = read_csv_at(repo, base_sha, "data/test.csv")
    _, pred = fit_logreg(train, test, C=1.0, max_iter=500)
    assert report["base"]["metrics"]["accuracy"] == pytest.approx(
        accuracy_score(test["label"], pred)
    )
    from sklearn.tree import DecisionTreeClassifier

    tree = DecisionTreeClassifier(max_depth=2, random_state=0).fit(
        train.drop(columns="label"), train["label"]
    )
    expected = accuracy_score(test["label"], tree.predict(test.drop(columns="label")))
    assert report["head"]["metrics"]["accuracy"] == pytest.approx(expected)


def test_explicit_base_and_head_revisions(repo: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    first = base_project(repo, classification_config(), classification_frames())
    set_params(repo, C=0.3)
    second = commit_all(repo, "C 0.3")
    set_params(repo, C=0.2)  # uncommitted, must be ignored with --head

    _, report = run_json(capsys, "--base", first, "--head", second)

    assert report["base"]["sha"] == first and report["head"]["sha"] == second
    assert report["head"]["dirty"] == []
    assert report["params_diff"][0] == {"name": "C", "status": "changed", "base": 1.0, "head": 0.3}


def test_output_file_and_formats(repo: Path, capsys, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    base_project(repo, classification_config(), classification_frames())
    out = tmp_path / "report.md"
    code, stdout, stderr = cli(capsys, "check", "--format", "markdown", "--output", str(out))
    assert code == 0 and stdout == ""
    assert str(out) in stderr
    assert out.read_text().splitlines()[0] == "<!-- mlgate:report model=churn -->"


def test_report_template_from_the_repo_is_used_and_sandboxed(repo: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    cfg = classification_config(report={"template": "ci/report.md.j2"})
    (repo / "ci").mkdir()
    (repo / "ci" / "report.md.j2").write_text(
        "## {{ report.model | md }}: {{ report.verdict }}\n{% include 'report/metrics.md.j2' %}\n"
    )
    base_project(repo, cfg, classification_frames())
    code, out, err = cli(capsys, "check", "--format", "markdown")
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0] == "<!-- mlgate:report model=churn -->"  # the marker is kept
    assert lines[1].startswith("### ✅ mlgate: churn passes the gate")  # so is the verdict
    assert "## churn: pass" in lines
    assert "| accuracy |" in out
    (repo / "ci" / "report.md.j2").write_text("{{ ''.__class__.__mro__[1].__subclasses__() }}\n")
    code, out, err = cli(capsys, "check", "--format", "markdown")
    assert code == 2 and out == ""
    assert err.startswith(
        "mlgate: error: ci/report.md.j2:1: report.template: the report template failed"
    )


def test_run_records_validate_against_the_published_schema(repo: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    import json
    from importlib.resources import files

    import jsonschema

    base_project(repo, classification_config(), classification_frames())
    set_params(repo, C=0.7)
    _, report = run_json(capsys)
    schema = json.loads((files("mlgate") / "schema" / "run.schema.json").read_text())
    for side in ("base", "head"):
        record = json.loads(Path(report[side]["record_path"]).read_text())
        jsonschema.validate(record, schema)
        assert record["side"] == side and record["metrics"] == report[side]["metrics"]
    assert report["head"]["record_path"].endswith("-dirty.json")


def test_parquet_data_through_pointers(repo: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    train, test = regression_frames()
    (repo / "data").mkdir()
    train.to_parquet(repo / "data" / "train.parquet")
    test.to_parquet(repo / "data" / "test.parquet")
    cfg = regression_config()
    cfg["data"].update(train="data/train.parquet", test="data/test.parquet")
    write_config(repo, cfg)
    code, _, err = cli(capsys, "data", "add", "data/train.parquet", "data/test.parquet")
    assert code == 0, err
    commit_all(repo, "parquet data")
    code, out, err = cli(capsys, "check", "--format", "json")
    assert code == 0, err
    report = json.loads(out)
    model = Ridge(alpha=1.0).fit(train.drop(columns="price"), train["price"])
    pred = model.predict(test.drop(columns="price"))
    assert report["head"]["metrics"]["r2"] == pytest.approx(
        r2_score(test["price"], pred), rel=1e-12
    )
    assert report["head"]["data"]["train"]["source"] == "pointer"
    assert report["head"]["data"]["train"]["rows"] == len(train)


def test_data_diff_of_an_updated_pointer_needs_no_download(repo: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    from mlgate import git
    from mlgate.core.diff import data_diff
    from mlgate.storage import datafiles as data

    train, test = classification_frames()
    write_config(repo, classification_config())
    write_frames(repo, train, test)
    assert cli(capsys, "data", "add", "data/train.csv")[0] == 0
    old_sha = commit_all(repo, "v1")
    train2 = train.assign(f5=train["f0"], f1=train["f1"].astype(str) + "x").drop(columns="f2")
    train2 = train2.iloc[:150]
    train2.to_csv(repo / "data" / "train.csv", index=False)
    assert cli(capsys, "data", "add", "data/train.csv")[0] == 0
    new_sha = commit_all(repo, "v2")
    # No bytes anywhere: not in the working tree, not in the cache, no storage.
    (repo / "data" / "train.csv").unlink()
    cache = Path(os.environ["MLGATE_CACHE_DIR"])
    shutil.rmtree(cache / "objects")

    repository = git.open_repo(repo)
    roles = ("train", "test")
    old = {r: data.describe(git.CommitFiles(repository, old_sha), f"data/{r}.csv") for r in roles}
    new = {r: data.describe(git.CommitFiles(repository, new_sha), f"data/{r}.csv") for r in roles}
    changes = {c.path: c for c in data_diff(old, new)}  # type: ignore[arg-type]

    change = changes["data/train.csv"]
    assert change.status == "modified"
    assert change.old is not None and change.new is not None
    assert (change.old.rows, change.new.rows) == (168, 150)
    assert change.old.source == change.new.source == "pointer"
    assert change.columns_added == ("f5",)
    assert change.columns_removed == ("f2",)
    [(name, was, now)] = change.columns_retyped
    assert (name, was) == ("f1", "float64")
    assert now in ("str", "object")  # pandas 3 names text columns "str", pandas 2 "object"
    ptr = yaml.safe_load(git_show(repo, new_sha, "data/train.csv.ptr"))
    assert change.new.sha256 == ptr["sha256"] and change.new.size == ptr["size"]
    assert changes["data/test.csv"].status == "unchanged"
    assert not (cache / "objects").exists()


def git_show(repo: Path, rev: str, path: str) -> str:
    return git(repo, "show", f"{rev}:{path}")


def test_a_project_in_a_subdirectory_resolves_paths_and_code_from_there(repo: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    project = repo / "models" / "churn"
    (project / "churnmodel").mkdir(parents=True)
    (project / "churnmodel" / "__init__.py").write_text("")
    (project / "churnmodel" / "build.py").write_text(
        "from sklearn.linear_model import LogisticRegression\n"
        "def make(C=1.0):\n    return LogisticRegression(C=C, max_iter=500)\n"
    )
    cfg = classification_config()
    cfg["model"].update(estimator="churnmodel.build:make", params={"C": 1.0})
    cfg["data"].update(train="data/train.csv", test="../../shared/test.csv")
    write_config(project, cfg)
    train, test = classification_frames()
    write_frames(project, train, test)
    (repo / "shared").mkdir()
    test.to_csv(repo / "shared" / "test.csv", index=False)
    commit_all(repo, "a model in a monorepo")
    set_params(project, C=0.5)

    code, out, err = cli(capsys, "-C", str(project), "check", "--format", "json")

    assert code == 0, err
    report = json.loads(out)
    assert report["head"]["data"]["train"]["path"] == "models/churn/data/train.csv"
    assert report["head"]["data"]["test"]["path"] == "shared/test.csv"
    _, pred = fit_logreg(train, test, C=0.5, max_iter=500)
    assert report["head"]["metrics"]["accuracy"] == pytest.approx(
        accuracy_score(test["label"], pred)
    )
    cfg["data"]["train"] = "../../../outside.csv"
    write_config(project, cfg)
    code, _, err = cli(capsys, "-C", str(project), "check")
    assert code == 2
    assert "data.train: path '../../../outside.csv' (relative to models/churn/) is outside" in err


def test_this_repositorys_example_model_checks_at_head(capsys) -> None:  # type: ignore[no-untyped-def]
    """What .github/workflows/example.yml runs on mlgate's own pull requests."""
    from conftest import REPO_ROOT

    example = REPO_ROOT / "examples" / "diabetes-regression"
    code, out, err = cli(
        capsys, "-C", str(example), "check", "--base", "HEAD", "--head", "HEAD", "--format", "json"
    )
    assert code == 0, err
    report = json.loads(out)
    assert report["model"] == "diabetes"
    assert report["head"]["data"]["train"]["path"] == "examples/diabetes-regression/data/train.csv"
    assert report["base"]["metrics"] == report["head"]["metrics"]
