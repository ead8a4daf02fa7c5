"""`mlgate init` in repositories that already train their own way: init runs the command in
an export of HEAD and writes the config from what it saw; `mlgate check` then passes with
the config unedited. Real git repositories, real training subprocesses (tiny data)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
import yaml

from conftest import commit_all, git
from projects import cli, run_json

# The repository's own scripts run as `python train.py`: the interpreter of the active
# environment, as on a developer's machine with the venv activated.
TRAIN_TXT = """\
import pickle
from sklearn.datasets import make_classification
from sklearn.linear_model import LogisticRegression

x, y = make_classification(n_samples=120, n_features=4, random_state=0, flip_y=0.1)
model = LogisticRegression(C={C}).fit(x[:80], y[:80])
with open("metrics.txt", "w") as f:
    f.write(f"Accuracy: {{model.score(x[80:], y[80:])}}\\n")
    f.write(f"training rows = {{80}}\\n")
pickle.dump(model, open("model.pkl", "wb"))
"""

MLPROJECT = """\
name: wine
entry_points:
  main:
    parameters:
      alpha: {type: float, default: 0.5}
      l1_ratio: {type: float, default: 0.1}
    command: "python train.py {alpha} {l1_ratio}"
"""

ELASTICNET = """\
import os, sys
from sklearn.datasets import make_regression
from sklearn.linear_model import ElasticNet
from sklearn.metrics import mean_squared_error, r2_score

alpha, l1_ratio = float(sys.argv[1]), float(sys.argv[2])
x, y = make_regression(n_samples=120, n_features=4, noise=5.0, random_state=0)
model = ElasticNet(alpha=alpha, l1_ratio=l1_ratio, random_state=0).fit(x[:80], y[:80])
predicted = model.predict(x[80:])
os.makedirs("out", exist_ok=True)
with open("out/metrics.yaml", "w") as f:
    f.write(f"rmse: {mean_squared_error(y[80:], predicted) ** 0.5}\\n")
    f.write(f"r2: {r2_score(y[80:], predicted)}\\n")
"""

PRINTS_ONLY = """\
import json, os
from sklearn.datasets import make_classification
from sklearn.tree import DecisionTreeClassifier

x, y = make_classification(n_samples=120, n_features=4, random_state=1)
model = DecisionTreeClassifier(max_depth=3, random_state=0).fit(x[:80], y[:80])
print("Decision tree (max_depth=3):")
print(f"  accuracy: {model.score(x[80:], y[80:])}")
print("done")
os.makedirs("out", exist_ok=True)
json.dump({"max_depth": 3, "rows": 80}, open("out/config.json", "w"))  # numbers, not metrics
"""

# An unseeded forest on rows where 90 of 100 test points are clear and 10 sit in a
# region of random labels: accuracy stays within [0.9, 1.0], the probabilities vary.
UNSEEDED_FOREST = """\
import numpy as np
from sklearn.ensemble import RandomForestClassifier
from sklearn.metrics import accuracy_score, log_loss

rng = np.random.default_rng(0)
def rows(clear, noisy):
    x_clear = rng.uniform(-1, 1, (clear, 2)) + np.array([3.0, 0])
    y_clear = (x_clear[:, 0] > 3.0).astype(int)
    x_clear[:, 0] += np.where(y_clear == 1, 2.0, -2.0)
    x_noisy = rng.uniform(-0.2, 0.2, (noisy, 2)) + np.array([3.0, 0])
    return np.vstack([x_clear, x_noisy]), np.concatenate([y_clear, rng.integers(0, 2, noisy)])
x_train, y_train = rows(200, 40)
x_test, y_test = rows(90, 10)
model = RandomForestClassifier(n_estimators=15).fit(x_train, y_train)
with open("metrics.txt", "w") as f:
    f.write(f"accuracy: {accuracy_score(y_test, model.predict(x_test))}\\n")
    f.write(f"log_loss: {log_loss(y_test, model.predict_proba(x_test))}\\n")
"""


@pytest.fixture(autouse=True)
def python_on_path(monkeypatch: pytest.MonkeyPatch) -> None:
    bin_dir = os.path.dirname(sys.executable)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}")


def _project(path: Path, files: dict[str, str], branch: str = "main") -> Path:
    path.mkdir()
    git(path, "init", "-q", "-b", branch)
    for name, text in files.items():
        (path / name).write_text(text)
    commit_all(path, "the project, as it was before mlgate")
    os.chdir(path)
    return path


def _init_then_pr(capsys: pytest.CaptureFixture[str], repo: Path) -> tuple[str, str]:
    """``mlgate init``, commit (and push) what it wrote on the default branch, open a branch with a
    change that should not matter; init's output and the config it wrote."""
    code, out, err = cli(capsys, "init")
    assert (code, err) == (0, ""), out
    config = (repo / "mlgate.yaml").read_text()
    commit_all(repo, "add mlgate")
    if git(repo, "remote"):
        git(repo, "push", "-q", "origin", "HEAD")
    git(repo, "switch", "-q", "-c", "docs")
    (repo / "README.md").write_text("# a model\n")
    commit_all(repo, "docs")
    return out, config


def test_train_py_writing_metrics_txt_on_master(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    origin = tmp_path / "origin.git"
    seed = _project(tmp_path / "seed", {"train.py": TRAIN_TXT.format(C=1.0)}, branch="master")
    git(tmp_path, "init", "-q", "--bare", "-b", "master", str(origin))
    git(seed, "push", "-q", str(origin), "master")
    git(tmp_path, "clone", "-q", str(origin), "repo")  # origin/HEAD -> origin/master
    repo = tmp_path / "repo"
    os.chdir(repo)

    out, config = _init_then_pr(capsys, repo)

    cfg = yaml.safe_load(config)
    assert cfg["model"]["train"] == {
        "command": "python train.py",
        "metrics": "metrics.txt",
        "timeout": 3600,
    }
    assert cfg["metrics"] == [
        {"name": "Accuracy", "higher_is_better": True},
        {"name": "training rows", "higher_is_better": True},
    ]
    assert cfg["model"]["task"] == "classification"
    assert cfg["gate"] == {"Accuracy": {"max_regression_pct": 2.0}}
    assert "results vary" not in config
    workflow = yaml.safe_load((repo / ".github/workflows/mlgate.yml").read_text())
    assert workflow[True]["push"]["branches"] == ["master"]  # YAML 1.1 reads `on` as True
    assert "pushes to master" in out
    ignored = (repo / ".gitignore").read_text().splitlines()
    assert {"/metrics.txt", "/model.pkl"} <= set(ignored)
    assert git(repo, "status", "--porcelain") == ""
    assert "model.pkl is a pickle" in out
    assert "skops.io.dump(model, 'model.skops')" in out
    assert "metric 'training rows': direction guessed" in out

    code, report = run_json(capsys)
    assert code == 0, report
    assert report["verdict"] == "pass"
    assert report["base"]["ref"] in ("master", "origin/master")
    assert [m["name"] for m in report["metrics"]] == ["Accuracy", "training rows"]
    assert git(repo, "status", "--porcelain") == ""  # the check's outputs stay ignored


def test_mlproject_keeps_its_parameters(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    repo = _project(tmp_path / "repo", {"MLproject": MLPROJECT, "train.py": ELASTICNET})

    out, config = _init_then_pr(capsys, repo)

    train = yaml.safe_load(config)["model"]["train"]
    assert train["command"] == "python train.py {alpha} {l1_ratio}"
    assert (train["metrics"], train["params"]) == ("out/metrics.yaml", "MLproject")
    cfg = yaml.safe_load(config)
    assert cfg["model"]["task"] == "regression"
    assert cfg["metrics"] == ["rmse", "r2"]  # known names: their directions are known
    assert cfg["gate"] == {"rmse": {"max_regression_pct": 2.0}}
    assert "alpha=0.5, l1_ratio=0.1" in out
    assert "/out/" in (repo / ".gitignore").read_text().splitlines()

    code, report = run_json(capsys)
    assert code == 0, report
    assert report["head"]["params"] == {"alpha": 0.5, "l1_ratio": 0.1}

    # A pull request changing a default: it is what runs, and the params diff says so.
    (repo / "MLproject").write_text(MLPROJECT.replace("default: 0.5", "default: 5.0"))
    commit_all(repo, "much more regularization")
    code, report = run_json(capsys)
    assert code == 1
    assert report["head"]["params"]["alpha"] == 5.0
    changed = {(d["name"], d["base"], d["head"]) for d in report["params_diff"]}
    assert ("alpha", 0.5, 5.0) in changed
    assert report["failed_rules"], report


def test_metrics_printed_only(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    repo = _project(tmp_path / "repo", {"train.py": PRINTS_ONLY})

    out, config = _init_then_pr(capsys, repo)

    cfg = yaml.safe_load(config)
    assert cfg["model"]["train"]["metrics"] == "stdout"
    assert cfg["metrics"] == ["accuracy"]
    assert "metrics from the lines it printed: accuracy" in out
    assert "out/config.json also holds numbers; mlgate reads the lines it printed only" in out
    assert (repo / ".gitignore").read_text().splitlines()[-1] == "/out/"

    code, report = run_json(capsys)
    assert code == 0, report
    assert report["head"]["metrics"]["accuracy"] == report["base"]["metrics"]["accuracy"]


def test_unseeded_forest_is_flagged(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    repo = _project(tmp_path / "repo", {"train.py": UNSEEDED_FOREST})

    out, config = _init_then_pr(capsys, repo)

    warning = next(line for line in config.splitlines() if "results vary" in line)
    assert warning.startswith("# results vary between runs of the same code (")
    assert warning.endswith(
        "): model.repeats: 3 trains each side 3 times (MLGATE_SEED=0..2 in the command's "
        "environment) and the gate compares the distributions; seeding the training from "
        "MLGATE_SEED makes each repeat reproducible"
    )
    assert "results vary between runs of the same code" in out
    cfg = yaml.safe_load(config)
    assert cfg["metrics"] == ["accuracy", {"name": "log_loss", "higher_is_better": False}]
    # Repeats, and a relative rule the noise of the repeats is weighed against, its
    # tolerance at least the 2% a repeatable project gets.
    assert cfg["model"]["repeats"] == 3
    assert set(cfg["gate"]) == {"accuracy"} and set(cfg["gate"]["accuracy"]) == {
        "max_regression_pct"
    }
    assert cfg["gate"]["accuracy"]["max_regression_pct"] >= 2.0

    code, report = run_json(capsys)
    assert code == 0, report
    assert len(report["head"]["repeats"]["accuracy"]) == 3
    (row,) = [m for m in report["metrics"] if m["name"] == "accuracy"]
    assert row["spread"]["head"]["n"] == 3 and row["interval"]["repeats"] == 3


def test_a_failing_command_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = _project(tmp_path / "repo", {"train.py": "import sys\nprint('no data')\nsys.exit(4)\n"})
    code, _, err = cli(capsys, "init")
    assert code == 3
    assert "init: `python train.py` exited with 4" in err
    assert "    no data" in err
    assert sorted(p.name for p in repo.iterdir()) == [".git", "train.py"]


def test_a_script_not_committed_yet_is_named(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = _project(tmp_path / "repo", {"README.md": "# a model\n"})
    (repo / "train.py").write_text(PRINTS_ONLY)
    code, _, err = cli(capsys, "init")
    assert code == 2
    assert err.strip() == (
        "mlgate: error: init runs `python train.py` in an export of HEAD, which has no "
        "train.py: commit it first (or pass --no-run)"
    )
    assert not (repo / "mlgate.yaml").exists()
