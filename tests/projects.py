"""Builders for small, seeded ML projects in real temporary git repositories."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml
from sklearn.datasets import make_classification, make_regression

from conftest import commit_all, git
from mlgate.cli import main


def classification_frames(
    seed: int = 0, rows: int = 240, features: int = 5
) -> tuple[pd.DataFrame, pd.DataFrame]:
    x, y = make_classification(
        n_samples=rows, n_features=features, n_informative=3, random_state=seed, flip_y=0.05
    )
    frame = pd.DataFrame(x, columns=[f"f{i}" for i in range(features)]).round(6)
    frame["label"] = y
    cut = int(rows * 0.7)
    return frame.iloc[:cut].reset_index(drop=True), frame.iloc[cut:].reset_index(drop=True)


def regression_frames(seed: int = 0, rows: int = 200) -> tuple[pd.DataFrame, pd.DataFrame]:
    x, y = make_regression(n_samples=rows, n_features=4, noise=10.0, random_state=seed)
    frame = pd.DataFrame(x, columns=["a", "b", "c", "d"]).round(6)
    frame["price"] = y.round(6)
    cut = int(rows * 0.75)
    return frame.iloc[:cut].reset_index(drop=True), frame.iloc[cut:].reset_index(drop=True)


def classification_config(**overrides: Any) -> dict[str, Any]:
    cfg: dict[str, Any] = {
        "version": 1,
        "model": {
            "name": "churn",
            "task": "classification",
            "estimator": "sklearn.linear_model.LogisticRegression",
            "params": {"C": 1.0, "max_iter": 500},
        },
        "data": {"train": "data/train.csv", "test": "data/test.csv", "target": "label"},
        "metrics": ["accuracy", "f1_macro"],
        "gate": {"accuracy": {"min": 0.5, "max_regression": 0.02}},
    }
    cfg.update(overrides)
    return cfg


def forest_config(**gate: Any) -> dict[str, Any]:
    """A seeded random forest (random_state 3: accuracy 0.883 on the 120 test rows of
    ``classification_frames(rows=400)``; random_state 7 gives 0.867), gated on accuracy."""
    cfg = classification_config(
        metrics=["accuracy", "f1_macro", "roc_auc"],
        gate={"accuracy": {"max_regression": 0.01}, **gate},
    )
    cfg["model"].update(
        estimator="sklearn.ensemble.RandomForestClassifier",
        params={"n_estimators": 30, "max_depth": 8, "random_state": 3},
    )
    return cfg


def regression_config(**overrides: Any) -> dict[str, Any]:
    cfg: dict[str, Any] = {
        "version": 1,
        "model": {
            "name": "prices",
            "task": "regression",
            "estimator": "sklearn.linear_model.Ridge",
            "params": {"alpha": 1.0},
        },
        "data": {"train": "data/train.csv", "test": "data/test.csv", "target": "price"},
        "metrics": ["r2", "rmse", "mae"],
        "gate": {"rmse": {"max_regression_pct": 5.0}, "r2": {"min": 0.5}},
    }
    cfg.update(overrides)
    return cfg


def write_config(repo: Path, cfg: dict[str, Any]) -> None:
    (repo / "mlgate.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))


def write_frames(repo: Path, train: pd.DataFrame, test: pd.DataFrame) -> None:
    (repo / "data").mkdir(exist_ok=True)
    train.to_csv(repo / "data" / "train.csv", index=False)
    test.to_csv(repo / "data" / "test.csv", index=False)


def read_csv_at(repo: Path, rev: str, path: str) -> pd.DataFrame:
    import io

    return pd.read_csv(io.StringIO(git(repo, "show", f"{rev}:{path}") + "\n"))


def set_params(repo: Path, **params: Any) -> None:
    cfg = yaml.safe_load((repo / "mlgate.yaml").read_text())
    cfg["model"]["params"].update(params)
    write_config(repo, cfg)


def run_json(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict[str, Any]]:
    """``mlgate check --format json`` in-process; the exit code and the parsed report."""
    code = main(["check", "--format", "json", *args])
    out = capsys.readouterr().out
    return code, json.loads(out) if out.strip() else {}


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def base_project(repo: Path, cfg: dict[str, Any], frames: tuple[pd.DataFrame, pd.DataFrame]) -> str:
    write_config(repo, cfg)
    write_frames(repo, *frames)
    return commit_all(repo, "base")


def push_to_origin(repo: Path, tmp_path: Path) -> Path:
    """A bare ``origin`` (``tmp_path/origin.git``) holding ``repo``'s main branch."""
    bare = tmp_path / "origin.git"
    git(tmp_path, "init", "-q", "--bare", str(bare))
    git(repo, "remote", "add", "origin", str(bare))
    git(repo, "push", "-q", "origin", "main")
    return bare


QUICK_TRAIN_PY = '''\
"""A training command that takes milliseconds: its score comes from --alpha. It also
writes which `python` its PATH finds and the PATH itself to out/env.json."""
import json, os, subprocess, sys
from pathlib import Path

alpha = float(sys.argv[sys.argv.index("--alpha") + 1]) if "--alpha" in sys.argv else 0.0
found = subprocess.run(
    ["python", "-c", "import sys; print(sys.executable)"], capture_output=True, text=True
)
out = Path("out")
out.mkdir(exist_ok=True)
seen = {"python": found.stdout.strip(), "path": os.environ["PATH"]}
(out / "env.json").write_text(json.dumps(seen))
(out / "metrics.json").write_text(json.dumps({"score": 1.0 - alpha}))
'''


def quick_command_config(command: str = "python train.py --alpha 0.5") -> dict[str, Any]:
    """Command mode without a params file: the command's arguments are its params."""
    return {
        "version": 1,
        "model": {"name": "quick", "train": {"command": command, "metrics": "out/metrics.json"}},
        "metrics": [{"name": "score", "higher_is_better": True}],
        "gate": {"score": {"min": 0.0}},
    }


def quick_command_project(repo: Path, command: str = "python train.py --alpha 0.5") -> str:
    """A committed command-mode project whose check runs no training library."""
    write_config(repo, quick_command_config(command))
    (repo / "train.py").write_text(QUICK_TRAIN_PY)
    (repo / ".gitignore").write_text("out/\n")
    return commit_all(repo, "quick command project")


# --- DVC: what `dvc init` / `dvc add` / `dvc push` leave behind, without DVC ----------


def md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def object_path(root: Path, digest: str, *, dvc: int) -> Path:
    """Where DVC 3 (``files/md5/<2>/<30>``) or DVC 2 (``<2>/<30>``) keeps an object."""
    prefix = root / "files" / "md5" if dvc == 3 else root
    return prefix / digest[:2] / digest[2:]


def dvc_init(repo: Path, *, remote: str | None = None, extra: str = "") -> None:
    """What ``dvc init`` (plus ``dvc remote add -d store URL``) leaves in a repository."""
    (repo / ".dvc").mkdir(exist_ok=True)
    (repo / ".dvc" / ".gitignore").write_text("/config.local\n/tmp\n/cache\n")
    config = ""
    if remote is not None:
        config = f"[core]\n    remote = store\n['remote \"store\"']\n    url = {remote}\n"
    (repo / ".dvc" / "config").write_text(config + extra)


def dvc_add(
    repo: Path,
    rel: str,
    data: bytes,
    *,
    remote: Path | None = None,
    local_cache: bool = False,
    dvc: int = 3,
    digest: str | None = None,
) -> str:
    """``dvc add rel`` (+ ``dvc push``): the data file, its .dvc, the git-ignore line, and
    the object in the local cache and/or remote. Returns the md5 recorded."""
    path = repo / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    digest = digest or md5(data)
    out: dict[str, Any] = {"md5": digest, "size": len(data)}
    if dvc == 3:
        out["hash"] = "md5"
    out["path"] = path.name
    (repo / f"{rel}.dvc").write_text(yaml.safe_dump({"outs": [out]}, sort_keys=False))
    ignore = path.parent / ".gitignore"
    lines = ignore.read_text() if ignore.exists() else ""
    if f"/{path.name}\n" not in lines:
        ignore.write_text(lines + f"/{path.name}\n")
    for root, wanted in ((remote, remote is not None), (repo / ".dvc" / "cache", local_cache)):
        if wanted and root is not None:
            obj = object_path(root, digest, dvc=dvc)
            obj.parent.mkdir(parents=True, exist_ok=True)
            obj.write_bytes(data)
    return digest


# --- configs as text, for the config module's own tests ---------------------------------

CLASSIFIER_YAML = """\
version: 1
model:
  name: churn
  task: classification
  estimator: sklearn.linear_model.LogisticRegression
data:
  train: data/train.csv
  test: data/test.csv
  target: label
metrics: [accuracy]
"""


def config_error(text: str) -> str:
    """The one line ``config.load`` refuses ``text`` (as mlgate.yaml) with."""
    from mlgate.core import config
    from mlgate.errors import ConfigError

    with pytest.raises(ConfigError) as info:
        config.load(text, file="mlgate.yaml")
    return str(info.value)
