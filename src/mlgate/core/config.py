"""``mlgate.yaml``: safe YAML -> JSON Schema -> semantic checks -> frozen dataclasses.

Every problem is one ConfigError (exit 2) naming the file, the line, the key path and what
was expected. Lines come from the composed YAML node tree: each key path ("model.task",
"gate.accuracy.min", "metrics[1]") is mapped to the line of its key (or sequence item), and
each jsonschema error's path is looked up there. When a file has several problems, the one
on the earliest line is reported.
"""

from __future__ import annotations

import contextlib
import copy
import difflib
import functools
import hashlib
import json
import math
import os
import posixpath
import shlex
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol, cast

import yaml

from mlgate.core.gate import RULE_KINDS, Rule
from mlgate.core.metrics import ALIASES, RUNTIME_METRICS, Direction, direction
from mlgate.errors import ConfigError
from mlgate.git import where_at
from mlgate.paths import repo_relpath

if TYPE_CHECKING:
    from jsonschema import Draft202012Validator, ValidationError

    from mlgate.git import Files

Task = Literal["classification", "regression"]
KeyPath = tuple[str | int, ...]
Fail = Callable[[str, str], ConfigError]  # (message, key path) -> located error

DEFAULT_CONFIG = "mlgate.yaml"


class Memo(Protocol):
    """Where config checks remember what costs time to compute: configs that passed the
    schema, scikit-learn's scorer table. Handed in (storage.layout.Memo, in the cache), so
    the core decides no paths; a memo that cannot be written only costs time."""

    def get(self, name: str) -> bytes | None: ...

    def put(self, name: str, data: bytes) -> None: ...

    def __hash__(self) -> int: ...  # lookups are cached per memo


@dataclass(frozen=True)
class CommandSpec:
    """Command mode: the repository's own training command (``model.train``)."""

    argv: tuple[str, ...]  # split without a shell
    metrics: str  # repo-relative paths, like every path in a Config
    model: str | None
    params: str | None
    timeout: float


@dataclass(frozen=True)
class ModelSpec:
    name: str
    task: Task | None  # always set with an estimator; optional in command mode
    estimator: str | None  # "pkg.mod.Class" or "pkg.mod:factory"; None in command mode
    params: dict[str, Any]
    deps: tuple[str, ...] = ()  # globs relative to the config's directory (run-cache inputs)
    train: CommandSpec | None = None

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
    features: tuple[str, ...] | None  # None: every column but the target


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

    def direction(self, name: str) -> Direction:
        if name in self.custom_metrics:
            return "higher" if self.custom_metrics[name] else "lower"
        return direction(name)

    @property
    def command_mode(self) -> bool:
        return self.model.train is not None

    def line_of(self, key: str) -> int | None:
        """Line of ``key``, else of its closest parent that has one."""
        return _line_of(self.lines, key)

    def error(self, message: str, key: str | None) -> ConfigError:
        """A ConfigError located at this file and the line of ``key`` (None: the file only)."""
        return _error(self.file, self.lines, message, key)

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
    source = _decode(text, file) if isinstance(text, bytes) else text
    data, lines = _parse(source, file)
    if not _known_valid(source, memo):
        _raise_first(_schema_errors(data, file, lines))
        _remember_valid(source, memo)
    semantic = _semantic_errors(data, base, functools.partial(_error, file, lines), memo)
    _raise_first((e.line or 0, e) for e in semantic)
    return _build(data, file, lines, base, memo)


def _valid_marker(source: str) -> str:
    """Configs that passed the schema, by content: importing and running jsonschema costs
    ~0.1 s, most of a cached check. Keyed by mlgate's version and the schema itself."""
    from mlgate import __version__

    schema_text = resources.files("mlgate").joinpath("schema/config.schema.json").read_bytes()
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


@functools.cache
def known_metrics(memo: Memo | None = None) -> tuple[str, ...]:
    """Every name allowed in ``metrics``: sklearn's scorer names plus rmse, mae, mse."""
    return tuple(sorted({*_scorer_tasks(memo), *ALIASES}))


def is_known_metric(name: str, memo: Memo | None = None) -> bool:
    """A scikit-learn scorer name or an alias. Answered from the table shipped with mlgate
    when it has the name, so checking a config imports no scikit-learn (~1.7 s on a fresh
    CI machine, on the critical path); other names ask the installed scikit-learn."""
    return name in ALIASES or name in _shipped_scorers() or name in _scorer_tasks(memo)


def metric_task(name: str, memo: Memo | None = None) -> Task | None:
    """The task a metric belongs to, or None when it fits both (clustering) or is unknown."""
    if name in ALIASES:
        return "regression"
    shipped = _shipped_scorers()
    return shipped[name] if name in shipped else _scorer_tasks(memo).get(name)


@functools.cache
def _shipped_scorers() -> dict[str, Task | None]:
    """scikit-learn's scorers as of the version mlgate was released with (schema/scorers.json;
    a test keeps it equal to the installed scikit-learn's)."""
    text = resources.files("mlgate").joinpath("schema/scorers.json").read_text("utf-8")
    return cast(dict[str, Task | None], json.loads(text)["scorers"])


@functools.cache
def _scorer_tasks(memo: Memo | None) -> dict[str, Task | None]:
    """sklearn's scorers and their task, kept in ``memo`` per sklearn version: importing
    sklearn.metrics costs seconds, and the parent process needs only these names."""
    from importlib.metadata import version

    if memo is None:
        return _scorer_tasks_from_sklearn()
    name = f"scorers-sklearn-{version('scikit-learn')}.json"
    with contextlib.suppress(TypeError, ValueError):  # absent or damaged: computed again
        cached: dict[str, Task | None] = json.loads(memo.get(name) or b"")
        return cached
    table = _scorer_tasks_from_sklearn()
    memo.put(name, json.dumps(table).encode())
    return table


def _scorer_tasks_from_sklearn() -> dict[str, Task | None]:
    from sklearn.metrics import get_scorer, get_scorer_names

    table: dict[str, Task | None] = {}
    for name in get_scorer_names():
        func = getattr(get_scorer(name), "_score_func", None)
        module = str(getattr(func, "__module__", "")).rsplit(".", 1)[-1]
        task: Task | None = None
        if module == "_regression":
            task = "regression"
        # The likelihood-ratio scorers are defined in _scorer itself.
        elif module in ("_classification", "_ranking") or "likelihood_ratio" in str(
            getattr(func, "__name__", "")
        ):
            task = "classification"
        table[name] = task
    return table


def schema() -> dict[str, Any]:
    """The JSON Schema of mlgate.yaml (a fresh copy)."""
    return copy.deepcopy(_schema())


# --- key paths and lines ---------------------------------------------------------------


def key_str(path: Iterable[str | int]) -> str:
    """Key path as in Config.lines and ConfigError.key: ``gate.accuracy.min``, ``metrics[1]``."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else part
    return out


def _parent(key: str) -> str | None:
    if not key:
        return None
    cut = max(key.rfind("."), key.rfind("["))
    return key[:cut] if cut > 0 else ""


def _line_of(lines: dict[str, int], key: str) -> int | None:
    probe: str | None = key
    while probe is not None:
        if probe in lines:
            return lines[probe]
        probe = _parent(probe)
    return None


def _error(file: str, lines: dict[str, int], message: str, key: str | None) -> ConfigError:
    line = None if key is None else _line_of(lines, key)
    return ConfigError(message, file=file, line=line, key=key or None)


def _raise_first(errors: Iterable[tuple[float, ConfigError]]) -> None:
    """Raise the error that sorts first (by line; the first found among equals)."""
    found = list(errors)
    if found:
        raise min(found, key=lambda pair: pair[0])[1]


# --- YAML ------------------------------------------------------------------------------

_STR_TAG = "tag:yaml.org,2002:str"
_MERGE_TAG = "tag:yaml.org,2002:merge"
_TAG_KINDS = {
    "tag:yaml.org,2002:bool": "true/false",
    "tag:yaml.org,2002:int": "a number",
    "tag:yaml.org,2002:float": "a number",
    "tag:yaml.org,2002:null": "null",
    "tag:yaml.org,2002:timestamp": "a date",
}


def _decode(text: bytes, file: str) -> str:
    try:
        return text.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = text.count(b"\n", 0, e.start) + 1
        raise ConfigError("not UTF-8 text; save the file as UTF-8", file=file, line=line) from e


def _parse(text: str, file: str) -> tuple[Any, dict[str, int]]:
    """Safe-load ``text`` and map each key path to its line."""
    try:
        return _load_yaml(text, file)
    except yaml.YAMLError as e:
        raise _yaml_error(e, text, file) from e
    except (ValueError, OverflowError) as e:  # e.g. a timestamp like 2024-13-45
        raise ConfigError(f"invalid YAML: {e}", file=file) from e


def _load_yaml(text: str, file: str) -> tuple[Any, dict[str, int]]:
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        walk = _NodeWalk(file)
        walk.lines[""] = 1 if node is None else _node_line(node)
        if node is None:
            return None, walk.lines
        walk.node(node, ())  # before construction, which flattens merge keys in place
        return loader.construct_document(node), walk.lines
    finally:
        loader.dispose()


def _yaml_error(e: yaml.YAMLError, text: str, file: str) -> ConfigError:
    if isinstance(e, yaml.MarkedYAMLError):
        mark = e.problem_mark or e.context_mark
        what = e.problem or e.context or "unreadable"
        if e.context and what.startswith("but "):  # "expected a single document ... but found"
            what = f"{e.context} {what}"
        return ConfigError(f"invalid YAML: {what}", file=file, line=mark.line + 1 if mark else None)
    if isinstance(e, yaml.reader.ReaderError):
        char = e.character if isinstance(e.character, int) else ord(e.character)
        line = text.count("\n", 0, e.position) + 1
        return ConfigError(
            f"invalid YAML: character #x{char:04x}: {e.reason}", file=file, line=line
        )
    return ConfigError("invalid YAML: " + " ".join(str(e).split()), file=file)


def _node_line(node: yaml.Node) -> int:
    return int(node.start_mark.line) + 1


@dataclass
class _NodeWalk:
    """Records the line of every key path; refuses non-string, duplicate and cyclic keys."""

    file: str
    lines: dict[str, int] = field(default_factory=dict)
    _done: set[int] = field(default_factory=set)
    _open: set[int] = field(default_factory=set)

    def node(self, node: yaml.Node, path: KeyPath) -> None:
        if id(node) in self._open:
            msg = "an alias refers to its own parent; mlgate.yaml must be plain data"
            raise ConfigError(msg, file=self.file, line=_node_line(node), key=key_str(path))
        if id(node) in self._done:  # an alias: walked already where its anchor is
            return
        self._open.add(id(node))
        if isinstance(node, yaml.MappingNode):
            self._mapping(node, path)
        elif isinstance(node, yaml.SequenceNode):
            for i, item in enumerate(node.value):
                self.lines[key_str((*path, i))] = _node_line(item)
                self.node(item, (*path, i))
        self._open.discard(id(node))
        self._done.add(id(node))

    def _mapping(self, node: yaml.MappingNode, path: KeyPath) -> None:
        seen: dict[str, int] = {}
        for key_node, value in node.value:
            if key_node.tag == _MERGE_TAG:  # `<<: *anchor`: its keys land in this mapping
                self.node(value, path)
                continue
            name = self._key_name(key_node, path)
            key, line = key_str((*path, name)), _node_line(key_node)
            if name in seen:
                msg = f"duplicate key; it is already set on line {seen[name]}"
                raise ConfigError(msg, file=self.file, line=line, key=key)
            seen[name] = self.lines[key] = line
            self.node(value, (*path, name))

    def _key_name(self, key_node: yaml.Node, path: KeyPath) -> str:
        if isinstance(key_node, yaml.ScalarNode) and key_node.tag == _STR_TAG:
            return str(key_node.value)
        if isinstance(key_node, yaml.ScalarNode):
            kind = _TAG_KINDS.get(key_node.tag, key_node.tag)
            msg = f"key {key_node.value!r} is read as {kind}, not a string; quote it"
        else:
            msg = "a key must be a plain string, not a list or mapping"
        line = _node_line(key_node)
        raise ConfigError(msg, file=self.file, line=line, key=key_str(path) or None)


# --- JSON Schema -----------------------------------------------------------------------


@functools.cache
def _schema() -> dict[str, Any]:
    text = resources.files("mlgate").joinpath("schema/config.schema.json").read_text("utf-8")
    return cast(dict[str, Any], json.loads(text))


@functools.cache
def _validator() -> Draft202012Validator:
    from jsonschema import Draft202012Validator

    return Draft202012Validator(_schema())


def _schema_errors(
    data: Any, file: str, lines: dict[str, int]
) -> Iterator[tuple[float, ConfigError]]:
    """(sort position, error) for every schema violation."""
    for err in _validator().iter_errors(data):
        for path, message in _explain(err):
            error = _error(file, lines, message, key_str(path))
            yield _sort_position(err, path, lines, error), error


def _sort_position(
    err: ValidationError, path: KeyPath, lines: dict[str, int], error: ConfigError
) -> float:
    # A missing key sorts after the keys its mapping has, so that a misspelt key is reported
    # as unknown (naming the right spelling) rather than the right one as missing.
    if err.validator == "required" and isinstance(err.instance, dict):
        last = max((lines.get(key_str((*path, k)), 0) for k in err.instance), default=0)
        return max(last, error.line or 0) + 0.5
    return error.line or 0


_TYPE_NAMES = {
    "object": "a mapping",
    "array": "a list",
    "string": "a string",
    "number": "a number",
    "integer": "a whole number",
    "boolean": "true or false",
    "null": "nothing",
}


def _show(value: Any) -> str:
    """A value as the user wrote it, short and on one line."""
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        shown = repr(value)
        return shown if len(shown) <= 80 else shown[:76] + "...'"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, (list, dict)):
        kind = "a list" if isinstance(value, list) else "a mapping"
        return kind if value else kind.replace("a ", "an empty ")
    return f"{type(value).__name__} {value}"


def _explain(err: ValidationError) -> list[tuple[KeyPath, str]]:
    """Turn one jsonschema error into (key path, human message) pairs."""
    path: KeyPath = tuple(err.absolute_path)
    handler = _EXPLAIN.get(str(err.validator))
    if handler is not None:
        return handler(err, path)
    hint = err.schema.get("x-expected") if isinstance(err.schema, dict) else None
    if hint:  # pattern, maxLength, minProperties: the schema says what it wants
        return [(path, f"expected {hint}, got {_show(err.instance)}")]
    return [(path, err.message)]


def _type(err: ValidationError, path: KeyPath) -> list[tuple[KeyPath, str]]:
    wanted = err.validator_value if isinstance(err.validator_value, list) else [err.validator_value]
    names = " or ".join(_TYPE_NAMES.get(str(t), str(t)) for t in wanted)
    return [(path, f"expected {names}, got {_show(err.instance)}")]


def _enum(err: ValidationError, path: KeyPath) -> list[tuple[KeyPath, str]]:
    choices = ", ".join(str(c) for c in err.validator_value)
    return [(path, f"{_show(err.instance)} is not one of {choices}")]


def _const(err: ValidationError, path: KeyPath) -> list[tuple[KeyPath, str]]:
    return [(path, f"expected {_show(err.validator_value)}, got {_show(err.instance)}")]


def _required(err: ValidationError, path: KeyPath) -> list[tuple[KeyPath, str]]:
    missing = [k for k in err.validator_value if k not in err.instance]
    plural = "s" if len(missing) > 1 else ""
    return [(path, f"missing required key{plural} {', '.join(map(repr, missing))}")]


def _additional(err: ValidationError, path: KeyPath) -> list[tuple[KeyPath, str]]:
    allowed = list(err.schema.get("properties", {}))
    message = f"unknown key; expected one of {', '.join(allowed)}"
    return [((*path, k), message) for k in err.instance if k not in allowed]


def _unique(err: ValidationError, path: KeyPath) -> list[tuple[KeyPath, str]]:
    items = err.instance
    dups = [i for i in range(len(items)) if items[i] in items[:i]]
    return [((*path, i), f"{_show(items[i])} is listed twice") for i in dups[:1]]


def _min_items(err: ValidationError, path: KeyPath) -> list[tuple[KeyPath, str]]:
    return [(path, f"expected at least {err.validator_value} entry, got {_show(err.instance)}")]


def _min_length(err: ValidationError, path: KeyPath) -> list[tuple[KeyPath, str]]:
    return [(path, f"expected a non-empty string, got {_show(err.instance)}")]


def _minimum(err: ValidationError, path: KeyPath) -> list[tuple[KeyPath, str]]:
    return [(path, f"expected a number >= {err.validator_value}, got {_show(err.instance)}")]


_EXPLAIN: dict[str, Callable[[ValidationError, KeyPath], list[tuple[KeyPath, str]]]] = {
    "type": _type,
    "enum": _enum,
    "const": _const,
    "required": _required,
    "additionalProperties": _additional,
    "uniqueItems": _unique,
    "minItems": _min_items,
    "minLength": _min_length,
    "minimum": _minimum,
}


# --- semantic checks (the data already matches the schema) -----------------------------


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
                f"higher_is_better: {_show(declared)} contradicts it",
                f"{key}.higher_is_better",
            )
    gate_extra = {*RUNTIME_METRICS, *custom}
    for name, rule in data.get("gate", {}).items():
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
    yield from _check_tag(data.get("promote", {}).get("tag"), fail)
    template = data.get("report", {}).get("template")
    if template is not None:
        yield from _check_path(template, base, "report.template", fail)


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


def _check_rule(rule: dict[str, float], key: str, fail: Fail) -> Iterator[ConfigError]:
    for kind, value in rule.items():
        if not _finite(value):
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
    for i, feature in enumerate(data.get("features") or ()):
        if feature == data.get("target"):
            yield fail(
                f"{feature!r} is the target column; it cannot also be a feature",
                f"data.features[{i}]",
            )


def _check_tag(tag: str | None, fail: Fail) -> Iterator[ConfigError]:
    if tag is None:
        return
    try:
        distinct = tag.format(name="m", version=1) != tag.format(name="m", version=2)
    except (KeyError, IndexError, ValueError, AttributeError):
        yield fail(f"{tag!r} may only use the placeholders {{name}} and {{version}}", "promote.tag")
        return
    if not distinct:
        yield fail(
            f"{tag!r} must contain {{version}}, so each promotion gets its own tag", "promote.tag"
        )


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
        ),
        data=DataSpec(
            train=path(section.get("train")),
            test=path(section.get("test")),
            target=section.get("target"),
            features=None if features is None else tuple(features),
        ),
        metrics=tuple(_metric_name(m) for m in data["metrics"]),
        gate={name: _rule(rule) for name, rule in data.get("gate", {}).items()},
        promote=PromoteSpec(**promote),
        storage=data.get("storage"),
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


def _command(section: dict[str, Any], base: str) -> CommandSpec:
    command = section["command"]
    model, params = section.get("model"), section.get("params")
    return CommandSpec(
        argv=tuple(shlex.split(command) if isinstance(command, str) else command),
        metrics=resolve(section["metrics"], base),
        model=None if model is None else resolve(model, base),
        params=None if params is None else resolve(params, base),
        timeout=float(section.get("timeout", 3600)),
    )


def _rule(rule: dict[str, float]) -> Rule:
    return Rule(**{kind: float(rule[kind]) for kind in RULE_KINDS if kind in rule})
