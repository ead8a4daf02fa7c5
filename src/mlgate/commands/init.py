"""``mlgate init``: a starter mlgate.yaml and a GitHub workflow that runs the mlgate action.

A repository that already trains its own way (a ``dvc.yaml`` pipeline, an ``MLproject``, a
``train.py``) gets a command-mode config around that; otherwise an estimator config, with
columns read from a data file when given."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from mlgate import git
from mlgate.core import config as config_mod
from mlgate.core.config import is_known_metric
from mlgate.errors import DataError, TrainingError, UsageError
from mlgate.render.templates import template_dir
from mlgate.run.command import read_metrics
from mlgate.storage.files import atomic_write

ACTION = "mlgate/mlgate@v1"
WORKFLOW = ".github/workflows/mlgate.yml"
TARGET_NAMES = ("label", "target", "y", "class", "outcome")

STARTERS: dict[str, dict[str, Any]] = {
    "classification": {
        "estimator": "sklearn.ensemble.RandomForestClassifier",
        "params": {"n_estimators": 100, "random_state": 0},
        "metrics": ["accuracy", "f1_macro"],
        "gate": {
            "accuracy": {"min": 0.8, "max_regression": 0.01},
            "f1_macro": {"max_regression_pct": 2.0},
        },
    },
    "regression": {
        "estimator": "sklearn.ensemble.RandomForestRegressor",
        "params": {"n_estimators": 100, "random_state": 0},
        "metrics": ["r2", "rmse"],
        "gate": {"r2": {"min": 0.5, "max_regression": 0.02}, "rmse": {"max_regression_pct": 5.0}},
    },
}


def _model_name(root: Path) -> str:
    name = re.sub(r"[^a-z0-9._-]+", "-", root.name.lower()).strip("-._")
    return name or "model"


def _columns(path: Path) -> dict[str, Any]:
    """Column names and the target's dtype/cardinality, read with pandas."""
    import pandas as pd

    try:
        frame = pd.read_parquet(path) if path.suffix == ".parquet" else pd.read_csv(path)
    except FileNotFoundError:
        raise DataError(f"init: data file {path} does not exist") from None
    except Exception as e:
        raise DataError(f"init: cannot read {path}: {type(e).__name__}: {e}") from e
    return {"frame": frame, "columns": [str(c) for c in frame.columns]}


def _guess_task(series: Any) -> str:
    """Floats with many distinct values are a regression target; anything else classifies."""
    kind = getattr(series.dtype, "kind", "O")
    many = series.nunique() > max(20, len(series) // 10)
    return "regression" if kind == "f" or (kind in "iu" and many) else "classification"


def _test_path(train: str) -> str:
    swapped = re.sub(r"train", "test", train)
    return swapped if swapped != train else str(Path(train).with_name("test" + Path(train).suffix))


def starter_values(
    root: Path, data: str | None, target: str | None, task: str | None, name: str | None
) -> dict[str, Any]:
    values: dict[str, Any] = {"name": name or _model_name(root), "features": None}
    train = data or "data/train.csv"
    values.update(train=train, test=_test_path(train), target=target or "label")
    if data:
        info = _columns(root / data)
        columns = info["columns"]
        chosen = target or next((c for c in columns if c.lower() in TARGET_NAMES), columns[-1])
        if chosen not in columns:
            raise UsageError(f"init: --target {chosen!r} is not a column of {data}")
        values["target"] = chosen
        values["features"] = [c for c in columns if c != chosen]
        task = task or _guess_task(info["frame"][chosen])
    values["task"] = task or "classification"
    values.update(STARTERS[values["task"]])
    return values


# --- an existing training setup: command mode --------------------------------------------

_LOWER_HINTS = ("loss", "error", "rmse", "mae", "mse", "time", "latency", "size")


def _yaml(path: Path) -> Any:
    import yaml

    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return None


def _metric_entries(names: list[str]) -> list[dict[str, Any]]:
    """Known metric names as they are; other names with a guessed direction to review."""
    entries: list[dict[str, Any]] = []
    for name in names:
        if is_known_metric(name):
            entries.append({"name": name, "higher_is_better": None})
        else:
            lower = any(h in name.lower() for h in _LOWER_HINTS)
            entries.append({"name": name, "higher_is_better": not lower})
    return entries


def _metrics_in(root: Path, rel: str) -> list[str]:
    """Numeric keys of an existing metrics file (from an earlier run), dotted."""
    path = root / rel
    if not path.is_file():
        return []
    try:
        return list(read_metrics(path, rel))[:10]
    except TrainingError:
        return []


def _dvc_setup(root: Path) -> dict[str, Any] | None:
    """``dvc.yaml``: the pipeline is the command; its stages' metrics files are read."""
    doc = _yaml(root / "dvc.yaml")
    if not isinstance(doc, dict) or not isinstance(doc.get("stages"), dict):
        return None
    metrics_file = None
    for stage in doc["stages"].values():
        for entry in (stage or {}).get("metrics", []) if isinstance(stage, dict) else []:
            name = next(iter(entry)) if isinstance(entry, dict) else entry
            if isinstance(name, str):
                metrics_file = metrics_file or name
    return {
        "found": "dvc.yaml",
        "command": "dvc repro",
        "metrics_file": metrics_file or "metrics.json",
    }


def _mlproject_setup(root: Path) -> dict[str, Any] | None:
    """``MLproject``: its main entry point's command, run directly (no ``mlflow run``)."""
    doc = _yaml(root / "MLproject")
    if not isinstance(doc, dict):
        return None
    main = (doc.get("entry_points") or {}).get("main") or {}
    command = main.get("command") if isinstance(main, dict) else None
    if not isinstance(command, str) or "{" in command:
        command = "python train.py"  # parameter placeholders need values: review it
    return {"found": "MLproject", "command": command, "metrics_file": "metrics.json"}


def _train_py_setup(root: Path) -> dict[str, Any] | None:
    """``train.py``: run it; the metrics file is the first ``*metrics*.json/yaml`` it names."""
    script = next((p for p in (root / "train.py", root / "src" / "train.py") if p.is_file()), None)
    if script is None:
        return None
    text = script.read_text(encoding="utf-8", errors="replace")
    named = re.search(r"""["']([\w./-]*metrics[\w.-]*\.(?:json|ya?ml))["']""", text)
    return {
        "found": script.relative_to(root).as_posix(),
        "command": f"python {script.relative_to(root).as_posix()}",
        "metrics_file": named.group(1) if named else "metrics.json",
    }


def detect_setup(root: Path) -> dict[str, Any] | None:
    """An existing training setup at ``root``, most specific first."""
    for detect in (_dvc_setup, _mlproject_setup, _train_py_setup):
        found = detect(root)
        if found is not None:
            return found
    return None


def command_values(root: Path, setup: dict[str, Any], name: str | None) -> dict[str, Any]:
    names = _metrics_in(root, setup["metrics_file"]) or ["accuracy"]
    metrics = _metric_entries(names)
    first = metrics[0]
    rule: dict[str, float] = {"max_regression_pct": 2.0}
    return {
        **setup,
        "name": name or _model_name(root),
        "task": None,
        "params_file": "params.yaml" if (root / "params.yaml").is_file() else None,
        "data": {},
        "metrics": metrics,
        "gate": {first["name"]: rule},
    }


def _render(name: str, values: dict[str, Any]) -> str:
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(template_dir() / "init"),
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=jinja2.StrictUndefined,
        autoescape=False,
    )
    return env.get_template(name).render(**values)


def init(
    cwd: Path,
    *,
    data: str | None = None,
    target: str | None = None,
    task: str | None = None,
    name: str | None = None,
    force: bool = False,
    branch: str = "main",
) -> list[Path]:
    """Write mlgate.yaml and the workflow at the repository root; return what was written."""
    root = git.root(git.open_repo(cwd))
    setup = detect_setup(root) if data is None and task is None and target is None else None
    if setup is not None:
        config_text = _render("mlgate-command.yaml.j2", command_values(root, setup, name))
    else:
        config_text = _render("mlgate.yaml.j2", starter_values(root, data, target, task, name))
    config_mod.load(config_text)  # never write a starter that mlgate itself would reject
    workflow = _render("workflow.yml.j2", {"action": ACTION, "branch": branch})
    targets = [(root / config_mod.DEFAULT_CONFIG, config_text), (root / WORKFLOW, workflow)]
    for path, _ in targets:
        if path.exists() and not force:
            raise UsageError(f"{path} already exists; pass --force to overwrite it")
    for path, text in targets:
        atomic_write(path, text.encode("utf-8"))
    return [path for path, _ in targets]
