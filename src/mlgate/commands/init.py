"""``mlgate init``: a starter mlgate.yaml and a GitHub workflow that runs the mlgate action.

A repository that already trains its own way (a ``dvc.yaml`` pipeline, an ``MLproject``, a
``train.py``) gets a command-mode config around that, written from what the command did
when init ran it in an export of HEAD (twice when it is quick, to see whether its results
repeat); otherwise an estimator config, with columns read from a data file when given."""

from __future__ import annotations

import json
import math
import os
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlgate import git
from mlgate.core import config as config_mod
from mlgate.core.config import STDOUT, Config, is_known_metric, metric_task
from mlgate.core.metrics import direction
from mlgate.errors import ConfigError, DataError, TrainingError, UsageError
from mlgate.render.templates import render_init
from mlgate.run import command
from mlgate.storage.files import atomic_write

ACTION = "mlgate/mlgate@v1"
WORKFLOW = ".github/workflows/mlgate.yml"
# Builds `mlgate site` after each run of WORKFLOW on the default branch and publishes it to
# GitHub Pages once the repository opts in (its comments say how); a file of its own, so
# Pages' permissions never reach the workflow that runs pull requests.
PAGES_WORKFLOW = ".github/workflows/mlgate-pages.yml"
# What the Pages workflow installs: mlgate at the action's release.
INSTALL = "git+https://github.com/mlgate/mlgate@v1"
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

AFFORD_SECONDS = 30.0  # a first run quicker than this is run again to see if results repeat
MODEL_SUFFIXES = (".skops", ".pkl", ".pickle", ".joblib")
METRICS_SUFFIXES = (".json", ".yaml", ".yml", ".txt")
METRIC_WORDS = ("metric", "score", "eval", "result", "perf")
# Tracking stores other tools write in the repository: their YAML holds timestamps, not
# metrics (MLflow's metrics there are not in a format mlgate reads).
TOOL_STORES = ("mlruns/", "mlartifacts/", "wandb/", "lightning_logs/", ".dvc/")
# Words in metric names whose direction is well known (names are split at non-letters).
_LOWER_WORDS = frozenset(
    [
        "loss",
        "error",
        "err",
        "rmse",
        "mae",
        "mse",
        "mape",
        "rmsle",
        "msle",
        "time",
        "latency",
        "size",
        "perplexity",
    ]
)
_HIGHER_WORDS = frozenset(
    [
        "accuracy",
        "acc",
        "f1",
        "auc",
        "roc",
        "r2",
        "precision",
        "recall",
        "score",
        "iou",
        "map",
        "kappa",
        "mcc",
        "explained",
    ]
)
_REGRESSION_WORDS = frozenset(["r2", "rmse", "mae", "mse", "mape", "rmsle", "msle", "explained"])
_CLASSIFICATION_WORDS = frozenset(
    ["accuracy", "acc", "f1", "auc", "roc", "precision", "recall", "kappa", "mcc"]
)
HEADLINES = {  # the metric a task's gate rule goes on, by preference
    "classification": ("accuracy", "f1", "f1_macro", "roc_auc", "auc"),
    "regression": ("rmse", "r2", "mae", "mse"),
}
SKOPS_HINT = (
    "to use it, save with skops instead (vetted types load without unpickling): "
    "`import skops.io` and `skops.io.dump(model, {path!r})`, then add "
    "`model: {path}` under model.train"
)


@dataclass
class Setup:
    """A training setup found in the repository."""

    found: str  # what was recognized: dvc.yaml, MLproject, train.py
    command: str
    metrics_file: str  # a guess from the files, replaced by what a run shows
    params_file: str | None = None
    params: dict[str, Any] = field(default_factory=dict)  # MLproject's defaults


@dataclass
class Observed:
    """What one run of the command did in an export of HEAD."""

    seconds: float
    outputs: list[str]  # files it created or changed, repo-relative
    created: list[str]  # of those, the ones HEAD does not have
    committed_tops: set[str]  # first path components of HEAD's files
    tree: Path
    log: str


@dataclass
class InitResult:
    """What init wrote, what it found and what the user should review (cli prints it)."""

    written: list[Path]
    found: list[str] = field(default_factory=list)
    review: list[str] = field(default_factory=list)


def _yaml(path: Path) -> Any:
    import yaml

    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return None


def _params_yaml(root: Path) -> str | None:
    return "params.yaml" if (root / "params.yaml").is_file() else None


def _dvc_setup(root: Path) -> Setup | None:
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
    return Setup("dvc.yaml", "dvc repro", metrics_file or "metrics.json", _params_yaml(root))


def _mlproject_setup(root: Path) -> Setup | None:
    """``MLproject``: its main entry point's command, run directly (no ``mlflow run``), its
    ``{param}`` placeholders filled from the MLproject's defaults at each run."""
    doc = _yaml(root / "MLproject")
    if not isinstance(doc, dict):
        return None
    points = doc.get("entry_points")
    main = points.get("main") if isinstance(points, dict) else None
    text = main.get("command") if isinstance(main, dict) else None
    if not isinstance(text, str) or not text.strip():
        raise ConfigError("MLproject: entry point main has no command; init needs one to run")
    command_line = " ".join(text.split())  # MLproject commands may be folded over lines
    params = command.mlproject_defaults(doc, "MLproject")
    params_file = "MLproject" if params else _params_yaml(root)
    return Setup("MLproject", command_line, "metrics.json", params_file, params)


def _train_py_setup(root: Path) -> Setup | None:
    """``train.py``: run it; the metrics file guessed is the first ``*metrics*`` it names."""
    script = next((p for p in (root / "train.py", root / "src" / "train.py") if p.is_file()), None)
    if script is None:
        return None
    text = script.read_text(encoding="utf-8", errors="replace")
    named = re.search(r"""["']([\w./-]*metrics[\w.-]*\.(?:json|ya?ml|txt))["']""", text)
    rel = script.relative_to(root).as_posix()
    guess = named.group(1) if named else "metrics.json"
    return Setup(rel, f"python {rel}", guess, _params_yaml(root))


def detect_setup(root: Path) -> Setup | None:
    """An existing training setup at ``root``, most specific first."""
    for detect in (_dvc_setup, _mlproject_setup, _train_py_setup):
        found = detect(root)
        if found is not None:
            return found
    return None


# --- running it ---------------------------------------------------------------------------


def _draft(setup: Setup, name: str, timeout: float) -> Config:
    """The config the trial runs use: the command, its params file, the timeout."""
    train: dict[str, Any] = {"command": setup.command, "metrics": STDOUT, "timeout": timeout}
    if setup.params_file:
        train["params"] = setup.params_file
    draft = {
        "version": 1,
        "model": {"name": name, "train": train},
        "metrics": [{"name": "draft", "higher_is_better": True}],
    }
    return config_mod.load(json.dumps(draft), file="the command init found")


def _files(tree: Path) -> dict[str, tuple[int, int]]:
    """Every file under ``tree`` with its size and modification time."""
    found: dict[str, tuple[int, int]] = {}
    for folder, _, names in os.walk(tree):
        for n in names:
            path = Path(folder, n)
            with_stat = path.lstat()
            found[path.relative_to(tree).as_posix()] = (with_stat.st_size, with_stat.st_mtime_ns)
    return found


def _run_once(repo: git.Repo, draft: Config, workdir: Path) -> Observed:
    """The command once, in a fresh export of HEAD, as check runs a side."""
    workdir.mkdir()
    with git.exported(git.files_at(repo, "HEAD"), workdir) as tree:  # stays with workdir
        before = _files(tree)
        run = command.start("init", draft, tree, workdir)
        try:
            seconds = command.wait(run)
        finally:
            run.stop()
    after = _files(tree)
    outputs = sorted(p for p, stat in after.items() if before.get(p) != stat)
    log = run.log_path.read_text(encoding="utf-8", errors="replace")
    created = [p for p in outputs if p not in before]
    tops = {p.split("/", 1)[0] for p in before}
    return Observed(seconds, outputs, created, tops, tree, log)


def _metricish(rel: str) -> bool:
    return any(word in rel.lower() for word in METRIC_WORDS)


def _metrics_source(run: Observed) -> tuple[str, dict[str, float], list[str]]:
    """Where the run's metrics are: a file among its outputs named like metrics that holds
    numbers, else the ``name: number`` lines it printed, else any other output file holding
    numbers (a guess, to review). Also the other files holding numbers, for review."""
    candidates: list[tuple[str, dict[str, float]]] = []
    for rel in run.outputs:
        if Path(rel).suffix.lower() in METRICS_SUFFIXES and not rel.startswith(TOOL_STORES):
            try:
                values = command.read_metrics(run.tree / rel, rel)
            except TrainingError:
                continue
            if values:
                candidates.append((rel, values))
    candidates.sort(key=lambda c: (not _metricish(c[0]), c[0].count("/"), c[0]))
    others = [c[0] for c in candidates[1:]]
    printed = command.output_metrics(run.log)
    if candidates and (_metricish(candidates[0][0]) or not printed):
        return candidates[0][0], candidates[0][1], others
    if printed:
        return STDOUT, printed, [c[0] for c in candidates]
    raise TrainingError(
        "init: the command wrote no metrics file (JSON, YAML or `name: number` text) and "
        "printed no `name: number` lines; make it write one and run init again"
    )


def _values_in(run: Observed, source: str) -> dict[str, float]:
    if source == STDOUT:
        return command.output_metrics(run.log)
    try:
        return command.read_metrics(run.tree / source, source)
    except TrainingError:
        return {}


# --- turning what it did into a config ------------------------------------------------------


def _words(name: str) -> set[str]:
    return set(re.split(r"[^a-z0-9]+", name.lower())) - {""}


def _direction(name: str) -> tuple[bool, bool]:
    """(higher is better, sure): known names and well-known words; otherwise a guess."""
    if is_known_metric(name) or is_known_metric(name.lower()):
        return direction(name.lower()) == "higher", True
    words = _words(name)
    if words & _LOWER_WORDS:
        return False, True
    return True, bool(words & _HIGHER_WORDS)


def _task(names: list[str], script: str) -> str | None:
    """The task the metric names (else the script's estimator) point to, when only one."""
    words = set().union(*(_words(n) for n in names)) if names else set()
    regression, classification = (
        bool(words & _REGRESSION_WORDS),
        bool(words & _CLASSIFICATION_WORDS),
    )
    if regression != classification:
        return "regression" if regression else "classification"
    if not (regression or classification):
        if re.search(r"Regressor\b|\b(ElasticNet|Lasso|Ridge|LinearRegression|SVR)\b", script):
            return "regression"
        if re.search(r"Classifier\b|\b(LogisticRegression|SVC)\b", script):
            return "classification"
    return None


def _headline(names: list[str], task: str | None) -> str:
    """The metric the gate rule goes on: the task's usual one if written, else one whose
    direction is sure, else the first."""
    lowered = {n.lower(): n for n in names}
    for preferred in HEADLINES.get(task or "", ()):
        if preferred in lowered:
            return lowered[preferred]
    return next((n for n in names if _direction(n)[1]), names[0])


def _fmt(value: float) -> str:
    return f"{value:.4g}"


REPEATS = 3  # model.repeats init writes when two runs of the same code differ


def _rule(values: list[float], varies: bool) -> dict[str, float]:
    """At most 2% worse than the base. Results that vary between runs of the same code get
    model.repeats, so the gate weighs the change against that noise, and a tolerance of at
    least three times the gap the two runs showed: a drop must be both real and large."""
    mean = abs(sum(values) / len(values))
    if not varies or mean == 0:
        return {"max_regression_pct": 2.0}
    seen = 300 * (max(values) - min(values)) / mean
    return {"max_regression_pct": max(2.0, math.ceil(seen * 10) / 10)}


def _scripts(root: Path, setup: Setup) -> list[str]:
    """The Python files the command names that are in the working tree."""
    return [w for w in setup.command.split() if w.endswith(".py") and (root / w).is_file()]


def _script_text(root: Path, setup: Setup) -> str:
    paths = _scripts(root, setup)
    return "".join((root / s).read_text(encoding="utf-8", errors="replace") for s in paths)


def _can_run(repo: git.Repo, root: Path, setup: Setup) -> None:
    """The export of HEAD holds what the command needs, as far as init can tell."""
    advice = "commit it first (or pass --no-run)"
    if git.head_sha(repo) is None:
        raise UsageError(
            f"init runs your training command in an export of HEAD, and there is no commit "
            f"yet: {advice}"
        )
    head = git.files_at(repo, "HEAD")
    for script in _scripts(root, setup):
        if head.read(script) is None:
            raise UsageError(
                f"init runs `{setup.command}` in an export of HEAD, which has no {script}: {advice}"
            )


def _gitignore_entries(root: Path, run: Observed) -> list[str]:
    """The run's new files as .gitignore lines: one in a directory HEAD does not have as
    ``/dir/``, any other as ``/path``; ones git already ignores left out."""
    fresh = sorted(set(run.created) - git.ignored(root, run.created))
    entries: dict[str, None] = {}
    for rel in fresh:
        top = rel.split("/", 1)[0]
        new_dir = "/" in rel and top not in run.committed_tops
        entries[f"/{top}/" if new_dir else f"/{rel}"] = None
    return list(entries)


def _metric_entries(
    names: list[str], task: str | None
) -> tuple[list[dict[str, Any]], list[str], str | None]:
    """Config entries for metric names (known ones bare, others with their direction, a
    guessed one marked for review), the review lines, and the task when the names fit it."""
    metrics: list[dict[str, Any]] = []
    review: list[str] = []
    for n in names:
        higher, sure = _direction(n)
        entry: dict[str, Any] = {"name": n, "higher_is_better": higher, "review": None}
        if is_known_metric(n):
            entry["higher_is_better"] = None  # a known name: its direction is known
            if metric_task(n) not in (None, task):
                task = None  # model.task would reject a metric the names point away from
        elif not sure:
            entry["review"] = "direction guessed: confirm higher_is_better"
            review.append(f"metric {n!r}: direction guessed (higher is better); confirm it")
        metrics.append(entry)
    return metrics, review, task


def _variation(values: dict[str, float], second: dict[str, float] | None) -> str | None:
    """The warning when a second run of the same code gave other numbers."""
    if second is None:
        return None
    varies = [n for n in values if second.get(n) != values[n]]
    if not varies:
        return None
    shown = ", ".join(
        f"{n} {_fmt(values[n])} vs {_fmt(second[n])}" if n in second else f"{n} (missing)"
        for n in varies[:3]
    )
    return (
        f"results vary between runs of the same code ({shown}): model.repeats: {REPEATS} "
        f"trains each side {REPEATS} times (MLGATE_SEED=0..{REPEATS - 1} in the command's "
        "environment) and the gate compares the distributions; seeding the training from "
        "MLGATE_SEED makes each repeat reproducible"
    )


def _models(outputs: list[str]) -> tuple[str | None, list[str], list[str]]:
    """The skops model file among the outputs, and found/review lines about model files."""
    models = [o for o in outputs if Path(o).suffix.lower() in MODEL_SUFFIXES]
    skops = next((m for m in models if m.endswith(".skops")), None)
    found = [f"model file: {skops} (skops: used for promotion)"] if skops else []
    review = [
        f"{m} is a pickle, which mlgate never loads; "
        + SKOPS_HINT.format(path=str(Path(m).with_suffix(".skops")))
        for m in models
        if not m.endswith(".skops")
    ]
    return skops, found, review


def _observe(repo: git.Repo, root: Path, setup: Setup, name: str, timeout: float) -> dict[str, Any]:
    """Run the command (twice when quick) and turn what it did into template values."""
    draft = _draft(setup, name, timeout)
    with tempfile.TemporaryDirectory(prefix="mlgate-init-") as tmp:
        first = _run_once(repo, draft, Path(tmp) / "first")
        source, values, others = _metrics_source(first)
        second, again = None, ""
        if first.seconds < AFFORD_SECONDS:
            rerun = _run_once(repo, draft, Path(tmp) / "second")
            second, again = _values_in(rerun, source), f", again: {rerun.seconds:.1f} s"
    names = list(values)
    metrics, review, task = _metric_entries(names, _task(names, _script_text(root, setup)))
    found = [f"ran `{setup.command}` in an export of HEAD: {first.seconds:.1f} s{again}"]
    if setup.params:
        shown = ", ".join(f"{k}={v}" for k, v in setup.params.items())
        found.append(f"MLproject parameters (defaults, filled in at each run): {shown}")
    where = "the lines it printed" if source == STDOUT else source
    found.append(f"metrics from {where}: " + ", ".join(f"{n} {_fmt(v)}" for n, v in values.items()))
    review[:0] = [f"{o} also holds numbers; mlgate reads {where} only" for o in others]
    if source != STDOUT and not _metricish(source):
        review.insert(0, f"metrics file {source} is a guess: its name does not say metrics")
    warning = _variation(values, second)
    if warning:
        review.append(warning)
    elif second is None:
        review.append(f"ran once only ({first.seconds:.0f} s): whether results repeat is unchecked")
    headline = _headline(names, task)
    seen = [values[headline]] + ([second[headline]] if second and headline in second else [])
    skops, model_found, model_review = _models(first.outputs)
    return {
        **_values(setup, source, metrics, {headline: _rule(seen, bool(warning))}),
        "repeats": REPEATS if warning else 1,
        "model_file": skops,
        "task": task,
        "timeout": max(int(timeout), math.ceil(first.seconds * 10)),
        "warning": warning,
        "ignore": _gitignore_entries(root, first),
        "lines": found + model_found,
        "review": review + model_review,
    }


def _values(
    setup: Setup, source: str, metrics: list[dict[str, Any]], gate: dict[str, Any]
) -> dict[str, Any]:
    """Template values for a command-mode config; the rest default to what --no-run has."""
    return {
        "found": setup.found,
        "command": setup.command,
        "metrics_file": source,
        "params_file": setup.params_file,
        "params": setup.params,
        "metrics": metrics,
        "gate": gate,
        "model_file": None,
        "task": None,
        "timeout": 3600,
        "warning": None,
        "repeats": 1,
        "ignore": [],
    }


def _guessed(root: Path, setup: Setup) -> dict[str, Any]:
    """``--no-run``: the config from the files alone (metric names from an earlier run's
    metrics file, if there is one), to review before the first check."""
    try:
        names = list(command.read_metrics(root / setup.metrics_file, setup.metrics_file))[:10]
    except TrainingError:
        names = []
    review = [f"not run: {setup.metrics_file} is a guess at the metrics file it writes"]
    if not names:
        names = ["score"]
        review.append("the metric 'score' is a placeholder: list the ones the command writes")
    metrics, more, task = _metric_entries(names, _task(names, _script_text(root, setup)))
    gate = {_headline(names, task): {"max_regression_pct": 2.0}}
    return {
        **_values(setup, setup.metrics_file, metrics, gate),
        "task": task,
        "lines": [f"found {setup.found}; not run (--no-run)"],
        "review": review + more,
    }


def _with_ignores(root: Path, entries: list[str]) -> bytes | None:
    """.gitignore with ``entries`` appended, or None when there is nothing to add."""
    if not entries:
        return None
    path = root / ".gitignore"
    old = path.read_text(encoding="utf-8") if path.is_file() else ""
    block = "# outputs of the training command (mlgate init)\n" + "\n".join(entries) + "\n"
    sep = "" if not old or old.endswith("\n") else "\n"
    return (old + sep + ("\n" if old else "") + block).encode("utf-8")


def init(
    cwd: Path,
    *,
    data: str | None = None,
    target: str | None = None,
    task: str | None = None,
    name: str | None = None,
    force: bool = False,
    run: bool = True,
    timeout: float = 3600.0,
) -> InitResult:
    """Write mlgate.yaml, the workflow and (after a run) .gitignore entries at the
    repository root; what was written, found and is left to review."""
    if not timeout > 0:
        raise UsageError(f"init: --timeout must be a positive number of seconds, got {timeout:g}")
    repo = git.open_repo(cwd)
    root = git.root(repo)
    model_name = name or _model_name(root)
    config_path, workflow_path = root / config_mod.DEFAULT_CONFIG, root / WORKFLOW
    pages_path = root / PAGES_WORKFLOW
    for path in (config_path, workflow_path, pages_path):
        if path.exists() and not force:
            raise UsageError(f"{path} already exists; pass --force to overwrite it")
    setup = detect_setup(root) if data is None and task is None and target is None else None
    result = InitResult(written=[])
    ignores: list[str] = []
    if setup is None:
        config_text = render_init(
            "mlgate.yaml.j2", **starter_values(root, data, target, task, name)
        )
    else:
        if run:
            _can_run(repo, root, setup)
        values = _observe(repo, root, setup, model_name, timeout) if run else _guessed(root, setup)
        values["name"] = model_name
        config_text = render_init("mlgate-command.yaml.j2", **values)
        result.found, result.review, ignores = values["lines"], values["review"], values["ignore"]
    config_mod.load(config_text)  # never write a starter that mlgate itself would reject
    branch = git.default_branch_name(repo)
    result.found.append(f"the workflow promotes on pushes to {branch} (the default branch)")
    workflow = render_init("workflow.yml.j2", action=ACTION, branch=branch)
    pages = render_init("pages.yml.j2", branch=branch, install=INSTALL)
    targets = [
        (config_path, config_text.encode()),
        (workflow_path, workflow.encode()),
        (pages_path, pages.encode()),
    ]
    gitignore = _with_ignores(root, ignores)
    if gitignore is not None:
        targets.append((root / ".gitignore", gitignore))
        result.found.append(f"added to .gitignore: {', '.join(ignores)}")
    for path, content in targets:
        atomic_write(path, content)
    result.written = [path for path, _ in targets]
    return result


def init_monorepo(cwd: Path, *, force: bool = False) -> InitResult:
    """``mlgate init --monorepo``: the many-models workflow (plan, one job per touched
    model, gather) at the repository root; each model keeps its own ``mlgate.yaml`` (run
    ``mlgate init`` in its directory, or write one)."""
    from mlgate.run.plan import config_paths  # the plan reads git: only for this form

    repo = git.open_repo(cwd)
    root = git.root(repo)
    path = root / WORKFLOW
    if path.exists() and not force:
        raise UsageError(f"{path} already exists; pass --force to overwrite it")
    models = config_paths(git.WorkingFiles(repo))
    branch = git.default_branch_name(repo)
    found = [f"found {len(models)} tracked mlgate.yaml: {', '.join(models) or 'none yet'}"]
    found.append(f"the workflow promotes on pushes to {branch} (the default branch)")
    workflow = render_init("workflow-matrix.yml.j2", action=ACTION, branch=branch)
    atomic_write(path, workflow.encode())
    return InitResult(written=[path], found=found)
