"""``mlgate init``: a starter mlgate.yaml (columns read from a data file when given) and a
GitHub workflow that runs the mlgate action."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from mlgate.errors import DataError, UsageError
from mlgate.store import atomic_write
from mlgate.templating import template_dir

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
    from mlgate import config as config_mod
    from mlgate import git

    root = git.root(git.open_repo(cwd))
    values = starter_values(root, data, target, task, name)
    config_text = _render("mlgate.yaml.j2", values)
    config_mod.load(config_text)  # never write a starter that mlgate itself would reject
    workflow = _render("workflow.yml.j2", {"action": ACTION, "branch": branch})
    targets = [(root / config_mod.DEFAULT_CONFIG, config_text), (root / WORKFLOW, workflow)]
    for path, _ in targets:
        if path.exists() and not force:
            raise UsageError(f"{path} already exists; pass --force to overwrite it")
    for path, text in targets:
        atomic_write(path, text.encode("utf-8"))
    return [path for path, _ in targets]
