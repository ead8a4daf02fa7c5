"""The run cache: a side whose inputs did not change is not retrained, and a changed
input always is. Real repositories and real training processes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score

from ci_events import ci_push, sides_cached
from conftest import commit_all, git
from mlgate import git as mgit
from mlgate.core import config as config_mod
from mlgate.core.results import DataSummary
from mlgate.run import runcache
from projects import (
    base_project,
    classification_config,
    classification_frames,
    push_to_origin,
    read_csv_at,
    run_json,
    set_params,
    write_config,
    write_frames,
)


@pytest.fixture
def project(repo: Path) -> Path:
    base_project(repo, classification_config(), classification_frames())
    git(repo, "checkout", "-q", "-b", "feature")
    set_params(repo, C=0.5)
    commit_all(repo, "C 0.5")
    return repo


def test_a_second_check_with_nothing_changed_reuses_both_sides(project: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    _, cold = run_json(capsys)
    assert sides_cached(cold) == (False, False)
    _, warm = run_json(capsys)
    assert sides_cached(warm) == (True, True)
    assert warm["metrics"] == cold["metrics"] and warm["verdict"] == cold["verdict"]
    _, again = run_json(capsys, "--no-cache")
    assert sides_cached(again) == (False, False)
    assert again["metrics"] == cold["metrics"]


def test_a_cached_check_imports_no_library_it_does_not_need(project: Path) -> None:
    """Not pandas nor scikit-learn; nor PyYAML, Jinja or jsonschema (configs, pointers and the
    report are remembered by content), nor tempfile (nothing runs, no scratch directory)."""
    unneeded = ("pandas", "sklearn", "skops", "mlflow", "yaml", "jinja2", "jsonschema", "tempfile")
    code = (
        "import sys\n"
        "from mlgate.cli import main\n"
        "code = main(['check', '--format', 'json'])\n"
        f"heavy = sorted(m for m in {unneeded!r} if m in sys.modules)\n"
        "print('HEAVY', heavy, 'EXIT', code, file=sys.stderr)\n"
    )
    first = subprocess.run(
        [sys.executable, "-c", code], cwd=project, capture_output=True, text=True
    )
    assert "EXIT 0" in first.stderr, first.stderr
    second = subprocess.run(
        [sys.executable, "-c", code], cwd=project, capture_output=True, text=True
    )
    assert "HEAVY [] EXIT 0" in second.stderr
    assert json.loads(second.stdout)["head"]["cached"] is True


def test_unrelated_changes_keep_the_cache_and_model_code_changes_do_not(
    project: Path, capsys
) -> None:  # type: ignore[no-untyped-def]
    pkg = project / "churnlib"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "model.py").write_text(
        "from sklearn.linear_model import LogisticRegression\n"
        "def make(C=1.0):\n    return LogisticRegression(C=C, max_iter=500)\n"
    )
    (pkg / "helpers.py").write_text("SCALE = 1\n")
    (project / "sql").mkdir()
    (project / "sql" / "features.sql").write_text("select 1\n")
    cfg = classification_config()
    cfg["model"].update(estimator="churnlib.model:make", params={"C": 0.5}, deps=["sql/*.sql"])
    write_config(project, cfg)
    commit_all(project, "own model code")
    _, report = run_json(capsys)
    assert report["head"]["cached"] is False

    (project / "README.md").write_text("docs only\n")
    commit_all(project, "docs")
    _, report = run_json(capsys)
    assert report["head"]["cached"] is True  # a README edit changes no input

    (pkg / "helpers.py").write_text("SCALE = 2\n")  # a sibling module the factory may import
    _, report = run_json(capsys)
    assert report["head"]["cached"] is False
    _, report = run_json(capsys)
    assert report["head"]["cached"] is True

    (project / "sql" / "features.sql").write_text("select 2\n")  # a model.deps file
    _, report = run_json(capsys)
    assert report["head"]["cached"] is False


def test_cached_base_is_rescored_on_changed_test_data(project: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    run_json(capsys)  # stores base and head
    train, _ = classification_frames()
    _, fresh_test = classification_frames(seed=0, rows=400)
    write_frames(project, train, fresh_test)
    head = commit_all(project, "bigger test set")
    _, report = run_json(capsys)
    assert report["base"]["cached"] is True and report["head"]["cached"] is False
    assert report["comparison"] == "same-data"
    base_sha = report["base"]["sha"]
    base_train = read_csv_at(project, base_sha, "data/train.csv")
    head_test = read_csv_at(project, head, "data/test.csv")
    model = LogisticRegression(C=1.0, max_iter=500).fit(
        base_train.drop(columns="label"), base_train["label"]
    )
    expected = accuracy_score(head_test["label"], model.predict(head_test.drop(columns="label")))
    assert report["base_on_head_data"]["accuracy"] == pytest.approx(expected, abs=1e-12)


def test_two_checks_sharing_one_cache_both_succeed(project: Path) -> None:
    runs = [
        subprocess.Popen(
            [sys.executable, "-m", "mlgate", "check", "--format", "json"],
            cwd=project,
            env=os.environ,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    outputs = [r.communicate() for r in runs]
    assert [r.returncode for r in runs] == [0, 0], outputs
    reports = [json.loads(out) for out, _ in outputs]
    assert reports[0]["metrics"] == reports[1]["metrics"]
    entries = list(
        (Path(os.environ["MLGATE_CACHE_DIR"]) / "runs" / "by-inputs" / "churn").iterdir()
    )
    assert len(entries) == 2 and not any(e.name.startswith(".") for e in entries)


# --- the digest itself: it changes exactly when an input changes -----------------------------

_REPO = Path(tempfile.mkdtemp(prefix="mlgate-digest-"))
subprocess.run(["git", "init", "-q", str(_REPO)], check=True)
_FILES = mgit.WorkingFiles(mgit.open_repo(_REPO))
_DATA = {
    "train": DataSummary("data/train.csv", "a" * 64, 1),
    "test": DataSummary("data/test.csv", "b" * 64, 1),
}

params = st.dictionaries(st.sampled_from(["C", "max_iter", "tol"]), st.integers(1, 5), max_size=3)


def _digest(
    p: dict,  # type: ignore[type-arg]
    target: str = "label",
    test_sha: str = "b" * 64,
    versions: dict[str, str] | None = None,
) -> str:
    cfg = classification_config()
    cfg["model"]["params"] = p
    cfg["data"]["target"] = target
    import yaml

    loaded = config_mod.load(yaml.safe_dump(cfg))
    data = {**_DATA, "test": DataSummary("data/test.csv", test_sha, 1)}
    return runcache.digest(_FILES, loaded, data, versions)


@settings(max_examples=30, deadline=None)
@given(a=params, b=params)
def test_digest_equal_iff_params_equal(a: dict, b: dict) -> None:  # type: ignore[type-arg]
    assert (_digest(a) == _digest(b)) is (a == b)


@settings(max_examples=20, deadline=None)
@given(sha=st.text(alphabet="0123456789abcdef", min_size=64, max_size=64))
def test_digest_follows_the_data_hash(sha: str) -> None:
    assert (_digest({}, test_sha=sha) == _digest({})) is (sha == "b" * 64)


def test_digest_follows_the_target_and_library_versions() -> None:
    assert _digest({}, target="label") != _digest({}, target="churned")
    installed = runcache.library_versions()
    assert _digest({}) == _digest({}, versions=installed)
    assert _digest({}) != _digest({}, versions={**installed, "scikit-learn": "0.0.1"})
    assert _digest({}) != _digest({}, versions={**installed, "python": "3.99.0"})


def _pr_in_a_fresh_clone(origin: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Another machine: a new clone with an empty cache, on a PR branch that changes C."""
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(origin), str(clone))
    monkeypatch.setenv("MLGATE_CACHE_DIR", str(tmp_path / "other-machine-cache"))
    monkeypatch.chdir(clone)
    git(clone, "checkout", "-q", "-b", "feature")
    set_params(clone, C=0.5)
    commit_all(clone, "C 0.5")


def test_a_pr_check_reuses_the_default_branchs_shared_run(
    repo: Path, tmp_path: Path, monkeypatch, capsys
) -> None:  # type: ignore[no-untyped-def]
    base_project(repo, classification_config(), classification_frames())
    origin = push_to_origin(repo, tmp_path)
    ci_push(repo, tmp_path, monkeypatch, capsys)
    assert git(origin, "notes", "--ref=mlgate", "list")  # the note reached the remote

    _pr_in_a_fresh_clone(origin, tmp_path, monkeypatch)
    _, report = run_json(capsys)
    assert sides_cached(report) == (True, False)  # only the head was trained
    base = git(origin, "rev-parse", "main")
    # The report says where the base's numbers came from, and why they have no noise interval.
    assert report["notes"] == [
        "no noise intervals: base's run has no saved predictions "
        "(a run shared as a git note keeps none)",
        f"base: the run shared in refs/notes/mlgate for {base[:7]} "
        "(a local check trusts its clone's notes)",
    ]


def test_a_corrupted_note_is_ignored_with_a_warning(
    repo: Path, tmp_path: Path, monkeypatch, capsys
) -> None:  # type: ignore[no-untyped-def]
    base = base_project(repo, classification_config(), classification_frames())
    origin = tmp_path / "origin.git"
    git(tmp_path, "init", "-q", "--bare", str(origin))
    git(repo, "remote", "add", "origin", str(origin))
    git(
        repo,
        "notes",
        "--ref=mlgate",
        "add",
        "-f",
        "-m",
        '{"mlgate": "notes@1", "records": {"churn": {"schema": "nope"}}}',
        base,
    )
    git(repo, "push", "-q", "origin", "main", "refs/notes/mlgate")
    _pr_in_a_fresh_clone(origin, tmp_path, monkeypatch)
    code, report = run_json(capsys)
    assert code == 0
    assert sides_cached(report) == (False, False)  # never trusted
    [warning] = report["notes"]
    assert warning.startswith(f"ignored the mlgate note on {base[:7]}: ")


def test_library_versions_are_what_importlib_metadata_says() -> None:
    """Read from the dist-info directories on sys.path, without importing importlib.metadata;
    the answers must be the same (they are part of every digest)."""
    from importlib import metadata

    expected = {}
    for name in runcache.LIBRARIES:
        try:
            expected[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            expected[name] = "absent"
    found = runcache.library_versions()
    assert found == {"python": sys.version.split()[0], **expected}
