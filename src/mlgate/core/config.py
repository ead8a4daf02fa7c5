"""``mlgate.yaml``: safe YAML -> JSON Schema -> semantic checks -> frozen dataclasses.

Every problem is one ConfigError (exit 2) naming the file, the line, the key path and what
was expected: core.yamlfile locates key paths at their lines, core.configschema words the
schema's errors, core.scorers knows the metric names; the semantic checks and the
dataclasses are here. When a file has several problems, the one on the earliest line is
reported.
"""

from __future__ import annotations

import copy
import functools
import hashlib
import math
import os
import posixpath
import re
import shlex
import string
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlgate.core.configschema import schema_document, schema_errors, show
from mlgate.core.drift import DriftRule, DriftSettings
from mlgate.core.gate import DRIFT_STATS, RULE_KINDS, Confidence, Rule
from mlgate.core.manifest import is_manifest
from mlgate.core.metrics import RUNTIME_METRICS, Direction, direction
from mlgate.core.scorers import Memo, Task, is_known_metric, known_metrics, metric_task
from mlgate.core.units import shorten
from mlgate.core.yamlfile import decode, key_str, line_of, located, parse, raise_first
from mlgate.errors import ConfigError
from mlgate.git import ref_name_problem, where_at
from mlgate.paths import package_file, repo_relpath

if TYPE_CHECKING:
    from mlgate.git import Files

__all__ = [
    "DASK_ADDRESS",
    "DEFAULT_CONFIG",
    "STDOUT",
    "CommandSpec",
    "Config",
    "DaskBackend",
    "DataSpec",
    "Memo",
    "ModelSpec",
    "PromoteSpec",
    "Task",
    "is_known_metric",
    "known_metrics",
    "load",
    "load_at",
    "load_path",
    "metric_task",
    "resolve",
    "schema",
]
Fail = Callable[[str, str], ConfigError]  # (message, key path) -> located error

DEFAULT_CONFIG = "mlgate.yaml"
# Keys of `gate` that are not metric names: settings of the noise-aware comparison, the
# flips rule (`flips: {max_broken_pct: 1.0}`, on the changes section's counts) and the
# data-drift rule (`drift: {psi: {max: 0.2}}`, core.drift).
GATE_SETTINGS = ("confidence", "resamples", "flips", "drift")
DEFAULT_CONFIDENCE = 0.95
DEFAULT_RESAMPLES = 1000
# model.train.metrics: read the `name: number` lines the command prints, not a file.
STDOUT = "stdout"


@dataclass(frozen=True)
class CommandSpec:
    """Command mode: the repository's own training command (``model.train``)."""

    argv: tuple[str, ...]  # split without a shell
    metrics: str  # repo-relative paths, like every path in a Config
    model: str | None
    params: str | None
    timeout: float


# model.backend.dask.address, as the schema's pattern: a scheme, a host and a port, no
# room for credentials. MLGATE_DASK_ADDRESS (run.cluster) must match it too.
DASK_ADDRESS = re.compile(
    r"^(tcp|tls)://(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9][A-Za-z0-9.-]*)(:[0-9]{1,5})?$"
)
DASK_TIMEOUT = 10.0  # seconds to reach the scheduler


@dataclass(frozen=True)
class DaskBackend:
    """``model.backend.dask``: an existing Dask cluster joblib-parallel estimators fit on."""

    address: str
    timeout: float = DASK_TIMEOUT


@dataclass(frozen=True)
class ModelSpec:
    name: str
    task: Task | None  # always set with an estimator; optional in command mode
    estimator: str | None  # "pkg.mod.Class" or "pkg.mod:factory"; None in command mode
    params: dict[str, Any]
    deps: tuple[str, ...] = ()  # globs relative to the config's directory (run-cache inputs)
    train: CommandSpec | None = None
    repeats: int = 1  # each side trained this many times (core.repeats)
    dask: DaskBackend | None = None  # model.backend.dask (run.cluster: the env var wins)

    @property
    def kind(self) -> str:
        """What trains the model, for reports: the estimator or the command."""
        if self.train is not None:
            return "command: " + shlex.join(self.train.argv)
        assert self.estimator is not None
        return self.estimator


@dataclass(frozen=True)
class DataSpec:
    # Repo-relative, normalized by paths.repo_relpath. All three are set with an estimator;
    # in command mode any may be None.
    train: str | None
    test: str | None
    target: str | None
    features: tuple[str, ...] | None  # None: every column but the target (and the id)
    id: str | None = None  # a test-data column naming rows in the report's changes section


@dataclass(frozen=True)
class PromoteSpec:
    branch: str = "production"
    tag: str = "{name}@v{version}"


@dataclass(frozen=True)
class Config:
    model: ModelSpec
    data: DataSpec
    metrics: tuple[str, ...]  # names, in report order
    gate: dict[str, Rule]
    promote: PromoteSpec
    storage: str | None
    report_template: str | None  # repo-relative, from `report: {template: path}`
    file: str  # the name used in messages, e.g. "mlgate.yaml" or "mlgate.yaml@1a2b3c4"
    lines: dict[str, int] = field(repr=False)  # key path -> 1-based line
    raw: dict[str, Any] = field(repr=False)  # the parsed YAML mapping
    # The config's directory, repo-relative ("" at the root): paths in the config are
    # relative to it, and the model's own code is imported from it first (monorepos).
    base: str = ""
    # Metrics mlgate does not know (command mode), by name -> higher is better.
    custom_metrics: dict[str, bool] = field(default_factory=dict)
    # `notes: {public_key}`: the key shared run records must be signed with to be reused
    # by `mlgate ci` (trusted only as read from the default branch).
    notes_key: str | None = None
    # `gate: {confidence, resamples}`: the paired bootstrap's level (None: off) and size.
    confidence: float | None = DEFAULT_CONFIDENCE
    resamples: int = DEFAULT_RESAMPLES
    # `drift:` (what is computed and shown) and `gate: {drift: ...}` (core.drift).
    drift: DriftSettings = field(default_factory=DriftSettings)
    drift_rule: DriftRule | None = None
    # `gate: {flips: {max_broken_pct}}`: the most predictions, in percent of the test rows,
    # that may break (right under base, wrong under head); None: no flips rule.
    max_broken_pct: float | None = None
    # `monitor: {drift, metrics}`: the rules of `mlgate monitor` (core.monitor).
    monitor_drift: DriftRule | None = None
    monitor_metrics: dict[str, Rule] = field(default_factory=dict)
    # `monitor: {data, labels}`: the batch a scheduled `mlgate ci` monitors.
    monitor_data: tuple[str, ...] = ()
    monitor_labels: str | None = None

    def confidence_for(self, metric: str) -> float | None:
        """The level ``metric``'s change is weighed at: its rule's, else the gate's; None
        means a point comparison (``confidence: off``)."""
        rule = self.gate.get(metric)
        own = None if rule is None else rule.confidence
        if own is False:
            return None
        return self.confidence if own is None else own

    def direction(self, name: str) -> Direction:
        if name in self.custom_metrics:
            return "higher" if self.custom_metrics[name] else "lower"
        return direction(name)

    @property
    def command_mode(self) -> bool:
        return self.model.train is not None

    def line_of(self, key: str) -> int | None:
        """Line of ``key``, else of its closest parent that has one."""
        return line_of(self.lines, key)

    def error(self, message: str, key: str | None) -> ConfigError:
        """A ConfigError located at this file and the line of ``key`` (None: the file only)."""
        return located(self.file, self.lines, message, key)

    @property
    def evaluated_metrics(self) -> tuple[str, ...]:
        """``metrics`` in order, then gated metrics not listed there (runtime ones are free)."""
        extra = (m for m in self.gate if m not in RUNTIME_METRICS)
        return tuple(dict.fromkeys((*self.metrics, *extra)))


def load(
    text: bytes | str, *, file: str = DEFAULT_CONFIG, base: str = "", memo: Memo | None = None
) -> Config:
    """Parse and validate a config; ConfigError (exit 2) at the first problem by line.
    ``base`` is the config's directory in the repo: its paths are relative to it."""
    source = decode(text, file) if isinstance(text, bytes) else text
    data, lines = parse(source, file, memo)
    if is_manifest(data):
        raise ConfigError(
            "this file lists the repository's models (models:), it is not one; check one "
            "with `mlgate -C <its directory> check`, or every one with `mlgate check --all`",
            file=file,
        )
    if not _known_valid(source, memo):
        raise_first(schema_errors(data, file, lines))
        _remember_valid(source, memo)
    semantic = _semantic_errors(data, base, functools.partial(located, file, lines), memo)
    raise_first((e.line or 0, e) for e in semantic)
    return _build(data, file, lines, base, memo)


def _valid_marker(source: str) -> str:
    """Configs that passed the schema, by content: importing and running jsonschema costs
    ~0.1 s, most of a cached check. Keyed by mlgate's version and the schema itself."""
    from mlgate import __version__

    schema_text = package_file("schema", "config.schema.json").read_bytes()
    key = hashlib.sha256(source.encode() + b"\0" + schema_text + __version__.encode()).hexdigest()
    return f"valid-configs/{key}"


def _known_valid(source: str, memo: Memo | None) -> bool:
    return memo is not None and memo.get(_valid_marker(source)) is not None


def _remember_valid(source: str, memo: Memo | None) -> None:
    if memo is not None:
        memo.put(_valid_marker(source), b"")  # an empty entry: its name is the fact


def resolve(path: str, base: str, *, key: str | None = None) -> str:
    """A path from the config, relative to its directory ``base``, as a repo path."""
    if not base:
        return repo_relpath(path, key=key)
    try:
        return repo_relpath(posixpath.join(base, path.replace("\\", "/")), key=key)
    except ConfigError:
        msg = f"path {path!r} (relative to {base}/) is outside the repository"
        raise ConfigError(msg, key=key) from None


def _repo_base(path: Path) -> str:
    """The directory of a config file on disk, relative to its git repository's root."""
    folder = path.absolute().parent
    for parent in (folder, *folder.parents):
        if (parent / ".git").exists():
            return "" if parent == folder else folder.relative_to(parent).as_posix()
    return ""


def load_path(path: str | os.PathLike[str], *, memo: Memo | None = None) -> Config:
    """Load a config file from disk, named in messages relative to the current directory."""
    p = Path(path)
    try:
        data = p.read_bytes()
    except FileNotFoundError as e:
        where = os.path.abspath(p.parent)
        hint = "; run `mlgate init` to create one" if p.name == DEFAULT_CONFIG else ""
        raise ConfigError(f"{p.name} not found in {where}{hint}") from e
    except IsADirectoryError as e:
        raise ConfigError(f"{p} is a directory; expected a config file") from e
    except OSError as e:
        raise ConfigError(f"cannot read {p}: {e.strerror}") from e
    return load(data, file=_display_path(p), base=_repo_base(p), memo=memo)


def _display_path(path: Path) -> str:
    # `-c` paths arrive joined to the cwd; "mlgate.yaml:4" reads better than an absolute path.
    try:
        rel = os.path.relpath(os.path.abspath(path))
    except ValueError:  # another drive, on Windows
        return os.fspath(path)
    return os.fspath(path) if rel.startswith("..") else rel


def load_at(files: Files, path: str = DEFAULT_CONFIG, *, memo: Memo | None = None) -> Config | None:
    """The config on one side of a comparison, or None when that side has none."""
    data = files.read(path)
    if data is None:
        return None
    base = posixpath.dirname(repo_relpath(path))
    return load(data, file=where_at(files, path), base=base, memo=memo)


def schema() -> dict[str, Any]:
    """The JSON Schema of mlgate.yaml (a fresh copy)."""
    return copy.deepcopy(schema_document())


# --- key paths and lines ---------------------------------------------------------------


# --- YAML ------------------------------------------------------------------------------


# --- JSON Schema -----------------------------------------------------------------------


# --- semantic checks (the data already matches the schema) -----------------------------


def ed25519_key_bytes(line: str) -> bytes | None:
    """The 32 key bytes of an OpenSSH ``ssh-ed25519 AAAA… [comment]`` line (its base64 is
    the SSH wire format: two length-prefixed strings), None when it holds no such key."""
    import base64
    import binascii

    parts = line.split()
    if len(parts) < 2 or parts[0] != "ssh-ed25519":
        return None
    try:
        blob = base64.b64decode(parts[1], validate=True)
    except (binascii.Error, ValueError):
        return None
    fields: list[bytes] = []
    while blob and len(fields) < 3:
        size = int.from_bytes(blob[:4], "big")
        fields.append(blob[4 : 4 + size])
        blob = blob[4 + size :]
    ok = len(fields) == 2 and not blob and fields[0] == b"ssh-ed25519" and len(fields[1]) == 32
    return fields[1] if ok else None


def _metric_name(entry: str | dict[str, Any]) -> str:
    return entry if isinstance(entry, str) else str(entry["name"])


def _semantic_errors(
    data: dict[str, Any], base: str, fail: Fail, memo: Memo | None
) -> Iterator[ConfigError]:
    model = data["model"]
    yield from _check_mode(model, data, fail)
    command = "train" in model
    task = model.get("task")
    seen: set[str] = set()
    custom: set[str] = set()
    for i, entry in enumerate(data["metrics"]):
        name, key = _metric_name(entry), f"metrics[{i}]"
        if name in seen:
            yield fail(f"{name!r} is listed twice", key)
        seen.add(name)
        declared = None if isinstance(entry, str) else entry.get("higher_is_better")
        if command and not is_known_metric(name, memo) and name not in RUNTIME_METRICS:
            if declared is None:
                yield fail(
                    f"mlgate does not know metric {name!r}; say which way is better: "
                    f"{{name: {name}, higher_is_better: true}} (or false)",
                    key,
                )
            custom.add(name)
            continue
        yield from _check_metric(name, key, task, (), fail, memo)
        if declared is not None and (direction(name) == "higher") != declared:
            yield fail(
                f"{name!r} is known: {direction(name)} is better; "
                f"higher_is_better: {show(declared)} contradicts it",
                f"{key}.higher_is_better",
            )
    gate_extra = {*RUNTIME_METRICS, *custom}
    gate = data.get("gate", {})
    if "confidence" in gate:  # resamples: the schema bounds it
        yield from _check_confidence(gate["confidence"], "gate.confidence", fail)
    if "drift" in gate and not any(s in gate["drift"] for s in DRIFT_STATS):
        yield fail("give at least one of psi, ks, js, each as {max: number}", "gate.drift")
    monitor = data.get("monitor", {})
    if "drift" in monitor and not any(s in monitor["drift"] for s in DRIFT_STATS):
        yield fail("give at least one of psi, ks, js, each as {max: number}", "monitor.drift")
    for name, rule in monitor.get("metrics", {}).items():
        where = key_str(("monitor", "metrics", name))
        yield from _check_metric(name, where, task, gate_extra, fail, memo)
        yield from _check_rule(rule, where, fail)
    if "flips" in gate and task == "regression":
        yield fail(
            "flips counts changed class predictions; model.task is regression (the report "
            "shows how the errors changed instead)",
            "gate.flips",
        )
    for name, rule in gate.items():
        if name in GATE_SETTINGS:
            continue
        if command and not (
            name in custom or name in RUNTIME_METRICS or is_known_metric(name, memo)
        ):
            yield fail(
                f"{name!r} is not a metric mlgate knows nor one listed in metrics; list it "
                f"there as {{name: {name}, higher_is_better: true}} (or false)",
                key_str(("gate", name)),
            )
            continue
        yield from _check_metric(name, key_str(("gate", name)), task, gate_extra, fail, memo)
        yield from _check_rule(rule, key_str(("gate", name)), fail)
    if "data" in data:
        yield from _check_data(data["data"], base, fail)
    if command:
        for key in ("metrics", "model", "params"):
            if key in model["train"]:
                yield from _check_path(model["train"][key], base, f"model.train.{key}", fail)
        yield from _check_command(model["train"]["command"], fail)
    yield from _check_promote(data.get("promote", {}), model["name"], fail)
    template = data.get("report", {}).get("template")
    if template is not None:
        yield from _check_path(template, base, "report.template", fail)
    key = data.get("notes", {}).get("public_key")
    if key is not None and ed25519_key_bytes(key) is None:
        yield fail(
            "not an ssh-ed25519 public key (its base64 does not hold one)", "notes.public_key"
        )


def _check_mode(model: dict[str, Any], data: dict[str, Any], fail: Fail) -> Iterator[ConfigError]:
    """Estimator mode or command mode, and what each needs."""
    if "train" in model and "estimator" in model:
        yield fail(
            "give either estimator (mlgate trains it) or train (your own command), not both",
            "model.train",
        )
        return
    if "train" in model:
        if "params" in model:
            yield fail(
                "with train (command mode) parameters come from a file: model.train.params",
                "model.params",
            )
        return
    if "estimator" not in model:
        yield fail(
            "missing 'estimator' (a scikit-learn estimator) or 'train' (your own command)",
            "model",
        )
        return
    if "task" not in model:
        yield fail("missing required key 'task' (classification or regression)", "model")
    section = data.get("data")
    if section is None:
        yield fail("missing required key 'data' (train, test and target)", "")
        return
    missing = [k for k in ("train", "test", "target") if k not in section]
    if missing:
        plural = "s" if len(missing) > 1 else ""
        yield fail(f"missing required key{plural} {', '.join(map(repr, missing))}", "data")


def _check_command(command: str | list[str], fail: Fail) -> Iterator[ConfigError]:
    try:
        argv = shlex.split(command) if isinstance(command, str) else command
    except ValueError as e:
        yield fail(f"cannot split the command: {e}", "model.train.command")
        return
    if not argv:
        yield fail("expected a command, got an empty one", "model.train.command")


def _check_metric(
    name: str,
    key: str,
    task: str | None,
    extra: Iterable[str],
    fail: Fail,
    memo: Memo | None = None,
) -> Iterator[ConfigError]:
    """``name`` must be a known metric or one of ``extra``; the full list of choices (which
    may import scikit-learn) is computed only to word the error."""
    extra = frozenset(extra)
    if name in extra:  # runtime or declared custom metrics: no task to check
        return
    if not is_known_metric(name, memo):
        import difflib  # only to word an error

        choices = tuple(sorted({*known_metrics(memo), *extra}))
        close = difflib.get_close_matches(name, choices, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        yield fail(f"unknown metric {name!r}{hint}; expected one of {', '.join(choices)}", key)
        return
    kind = metric_task(name, memo)
    if kind is not None and task is not None and kind != task:
        yield fail(f"{name!r} is a {kind} metric but model.task is {task}", key)


def _finite(value: float) -> bool:
    try:
        return math.isfinite(value)
    except OverflowError:  # an int too large for a float
        return False


def _confidence(value: Any) -> Confidence:
    """A confidence as written: a level, or off (YAML reads a bare ``off`` as false)."""
    return False if value is False or value == "off" else float(value)


def _check_confidence(value: Any, key: str, fail: Fail) -> Iterator[ConfigError]:
    if value is False or value == "off":
        return
    number = isinstance(value, (int, float)) and not isinstance(value, bool)
    if not (number and 0 < value < 1):
        yield fail(
            f"expected a confidence level between 0 and 1 (e.g. 0.95) or off, got {show(value)}",
            key,
        )


def _check_rule(rule: dict[str, Any], key: str, fail: Fail) -> Iterator[ConfigError]:
    for kind, value in rule.items():
        if kind == "confidence":
            yield from _check_confidence(value, f"{key}.confidence", fail)
        elif not _finite(value):
            yield fail(f"expected a finite number, got {value}", f"{key}.{kind}")
    low, high = rule.get("min"), rule.get("max")
    if low is not None and high is not None and _finite(low) and _finite(high) and low > high:
        yield fail(f"min {low:g} is greater than max {high:g}; no value can pass", key)


def _check_path(path: str, base: str, key: str, fail: Fail) -> Iterator[ConfigError]:
    try:
        resolve(path, base, key=key)
    except ConfigError as e:
        yield fail(e.detail, key)


def _check_data(data: dict[str, Any], base: str, fail: Fail) -> Iterator[ConfigError]:
    for side in ("train", "test"):
        if side in data:
            yield from _check_path(data[side], base, f"data.{side}", fail)
    if "id" in data and data["id"] == data.get("target"):
        yield fail(f"{data['id']!r} is the target column; it cannot also be the id", "data.id")
    for i, feature in enumerate(data.get("features") or ()):
        if feature == data.get("target"):
            yield fail(
                f"{feature!r} is the target column; it cannot also be a feature",
                f"data.features[{i}]",
            )


_WIDTH = re.compile(r"0?[1-9]?[0-9]?d?")  # {version:03d}: a bounded zero-padded width


def tag_template_problem(template: str, model: str) -> str | None:
    """Why ``template`` cannot name ``model``'s tags, or None: only ``{name}`` and
    ``{version}`` (with at most a two-digit width), ``{version}`` present, and every name
    it makes one git accepts. A format spec such as ``{version:>99999999}`` would build a
    100 MB string; ``{name.__class__}`` reads attributes."""
    try:
        parsed = list(string.Formatter().parse(template))
    except ValueError:
        parsed = [("", "?", "", None)]
    fields = [(f, spec or "", conv) for _, f, spec, conv in parsed if f is not None]
    if any(f not in ("name", "version") or conv for f, _, conv in fields) or any(
        spec and (f != "version" or not _WIDTH.fullmatch(spec)) for f, spec, _ in fields
    ):
        return "may only use the placeholders {name} and {version} (a width like {version:03d})"
    if "version" not in (f for f, _, _ in fields):
        return "must contain {version}, so each promotion gets its own tag"
    made = template.format(name=model, version=999999)  # as production.tag_name makes it
    problem = ref_name_problem(f"refs/tags/{made}")
    return None if problem is None else f"makes tags like {made[:80]!r}, which {problem}"


def _check_promote(promote: dict[str, Any], model: str, fail: Fail) -> Iterator[ConfigError]:
    tag, branch = promote.get("tag"), promote.get("branch")
    if tag is not None and (problem := tag_template_problem(tag, model)):
        yield fail(f"{shorten(tag, 80)!r} {problem}", "promote.tag")
    if branch is not None and (problem := ref_name_problem(f"refs/heads/{branch}")):
        yield fail(f"branch {shorten(branch, 80)!r} {problem}", "promote.branch")


# --- building --------------------------------------------------------------------------


def _build(
    data: dict[str, Any], file: str, lines: dict[str, int], base: str, memo: Memo | None
) -> Config:
    model, section = data["model"], data.get("data", {})
    promote, report = data.get("promote", {}), data.get("report", {})
    features = section.get("features")
    template = report.get("template")

    def path(value: str | None) -> str | None:
        return None if value is None else resolve(value, base)

    return Config(
        model=ModelSpec(
            name=model["name"],
            task=model.get("task"),
            estimator=model.get("estimator"),
            params=copy.deepcopy(model.get("params", {})),
            deps=tuple(model.get("deps", ())),
            train=_command(model["train"], base) if "train" in model else None,
            repeats=int(model.get("repeats", 1)),
            dask=_dask(model.get("backend", {}).get("dask")),
        ),
        data=DataSpec(
            train=path(section.get("train")),
            test=path(section.get("test")),
            target=section.get("target"),
            features=None if features is None else tuple(features),
            id=section.get("id"),
        ),
        metrics=tuple(_metric_name(m) for m in data["metrics"]),
        gate={
            name: _rule(rule)
            for name, rule in data.get("gate", {}).items()
            if name not in GATE_SETTINGS
        },
        confidence=_level(data.get("gate", {}).get("confidence", DEFAULT_CONFIDENCE)),
        resamples=int(data.get("gate", {}).get("resamples", DEFAULT_RESAMPLES)),
        drift=DriftSettings(**data.get("drift", {})),
        drift_rule=_drift_rule(data.get("gate", {}).get("drift")),
        max_broken_pct=_max_broken_pct(data.get("gate", {})),
        monitor_drift=_drift_rule(data.get("monitor", {}).get("drift")),
        monitor_data=tuple(data.get("monitor", {}).get("data", ())),
        monitor_labels=data.get("monitor", {}).get("labels"),
        monitor_metrics={
            name: _rule(rule) for name, rule in data.get("monitor", {}).get("metrics", {}).items()
        },
        promote=PromoteSpec(**promote),
        storage=data.get("storage"),
        notes_key=data.get("notes", {}).get("public_key"),
        report_template=path(template),
        file=file,
        lines=lines,
        raw=data,
        base=base,
        custom_metrics={
            m["name"]: bool(m["higher_is_better"])
            for m in data["metrics"]
            if isinstance(m, dict)
            and "higher_is_better" in m
            and not is_known_metric(m["name"], memo)
            and m["name"] not in RUNTIME_METRICS
        },
    )


def _dask(section: dict[str, Any] | None) -> DaskBackend | None:
    if section is None:
        return None
    return DaskBackend(section["address"], float(section.get("timeout", DASK_TIMEOUT)))


def _command(section: dict[str, Any], base: str) -> CommandSpec:
    command = section["command"]
    model, params = section.get("model"), section.get("params")
    return CommandSpec(
        argv=tuple(shlex.split(command) if isinstance(command, str) else command),
        metrics=STDOUT if section["metrics"] == STDOUT else resolve(section["metrics"], base),
        model=None if model is None else resolve(model, base),
        params=None if params is None else resolve(params, base),
        timeout=float(section.get("timeout", 3600)),
    )


def _rule(rule: dict[str, Any]) -> Rule:
    found: dict[str, Any] = {kind: float(rule[kind]) for kind in RULE_KINDS if kind in rule}
    if "confidence" in rule:
        found["confidence"] = _confidence(rule["confidence"])
    return Rule(**found)


def _drift_rule(rule: dict[str, Any] | None) -> DriftRule | None:
    if rule is None:
        return None
    limits = {s: float(rule[s]["max"]) for s in DRIFT_STATS if s in rule}
    features = rule.get("features")
    return DriftRule(**limits, features=None if features is None else tuple(features))


def _max_broken_pct(gate: dict[str, Any]) -> float | None:
    flips = gate.get("flips")
    return None if flips is None else float(flips["max_broken_pct"])


def _level(value: Any) -> float | None:
    level = _confidence(value)
    return None if level is False else level
