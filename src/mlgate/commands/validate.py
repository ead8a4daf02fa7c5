"""``mlgate validate``: what ``check`` would reject before training, found without training.

Two stages. The config itself (YAML, schema, semantic checks) as ``check`` loads it: its
first error by line is a ConfigError, as for every command. Then, on a valid config, every
problem with what it names in the working tree, all reported at once: each data file
present (the file, or its pointer's or DVC entry's bytes somewhere ``check`` looks, asked
without downloading), the estimator importable with its params (in a child process:
importing it runs the project's code), the target and features in each data file's
columns, command mode's program found, and the report template compiling.
"""

from __future__ import annotations

import tempfile
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

from mlgate import git
from mlgate.commands.check import user_template
from mlgate.core import config as config_mod
from mlgate.core.config import Config
from mlgate.errors import ConfigError, DataError, MlgateError
from mlgate.render.report import check_template
from mlgate.run.command import program_problem
from mlgate.run.probe import DataHeader, ProbeSpec, probe_answer, start_probe
from mlgate.run.sides import pointed
from mlgate.storage import datafiles
from mlgate.storage.formats import data_format, unsupported
from mlgate.storage.layout import Layout
from mlgate.storage.objects import Cache


@dataclass(frozen=True)
class Validation:
    summary: str  # the line for a config without problems
    problems: tuple[MlgateError, ...]  # by config line; each names its file and line
    notes: tuple[str, ...]  # what could not be checked, and why


def validate(path: Path, *, shown: str) -> Validation:
    """The config at ``path`` (named ``shown``) checked as ``check`` would check it and the
    files it names; ConfigError when the config itself is invalid."""
    cfg = config_mod.load_path(path, memo=Layout.current().memo)
    problems, notes = _deep(cfg, path)
    ordered = sorted(problems, key=lambda e: (getattr(e, "file", None) != cfg.file, _line(e)))
    return Validation(_summary(cfg, shown), tuple(ordered), tuple(notes))


def _summary(cfg: Config, shown: str) -> str:
    rules = sum(1 for _ in cfg.gate)
    how: str = cfg.model.task or "command mode"
    if cfg.model.task and cfg.command_mode:
        how += ", command mode"
    return (
        f"{shown}: ok (model {cfg.model.name}, {how}, "
        f"{len(cfg.evaluated_metrics)} metric(s), {rules} gated)"
    )


def _line(e: MlgateError) -> int:
    return getattr(e, "line", None) or 0


def _deep(cfg: Config, path: Path) -> tuple[list[MlgateError], list[str]]:
    try:
        files = git.WorkingFiles(git.open_repo(path.parent))
    except MlgateError as e:  # not a repository: check needs one
        return [e], []
    with tempfile.TemporaryDirectory(prefix="mlgate-validate-") as tmp, ExitStack() as stack:
        # The child imports scikit-learn while the files are looked at here.
        worker = stack.enter_context(start_probe(Path(tmp))) if cfg.model.estimator else None
        problems, headers = _data(cfg, files)
        problems += _command(cfg, files.root)
        problems += _template(cfg, files)
        if worker is None:
            return problems, []
        answer = probe_answer(worker, _spec(cfg, files.root, headers))
    # One line each: a factory's own exception may say more over several.
    problems += [cfg.error(" ".join(msg.splitlines()), key) for key, msg in answer.problems]
    notes = [
        f"the columns of {name} were not checked: its bytes are not here (working tree or "
        "cache) and nothing records its columns; fetch it to check them"
        for name in answer.unchecked
    ]
    return problems, notes


def _spec(cfg: Config, root: Path, headers: list[DataHeader]) -> ProbeSpec:
    return ProbeSpec(
        estimator=cfg.model.estimator,
        params=dict(cfg.model.params),
        code_root=str(root),
        project_dir=str(root / cfg.base) if cfg.base else str(root),
        target=cfg.data.target,
        features=list(cfg.data.features) if cfg.data.features else None,
        data=headers,
        id_column=cfg.data.id,
    )


def _data(cfg: Config, files: git.WorkingFiles) -> tuple[list[MlgateError], list[DataHeader]]:
    """Each data file present, or where its bytes are; what gives its columns. In command
    mode every pointed file is placed for the command, so each must be fetchable and, in
    the working tree, hold its pointer's bytes."""
    problems: list[MlgateError] = []
    headers = []
    cache = Cache()
    listed = {role: getattr(cfg.data, role) for role in ("train", "test")}
    wanted: list[tuple[str, str | None]] = [
        (rel, f"data.{role}") for role, rel in listed.items() if rel is not None
    ]
    if cfg.command_mode:
        wanted += [(rel, None) for rel in pointed(files, cfg) if rel not in listed.values()]
    for rel, key in wanted:
        if key is not None and cfg.model.estimator and data_format(rel) is None:
            problems.append(cfg.error(str(unsupported(rel)), key))
            continue
        try:
            # Only the command reads a working file itself: check whether it is the pointer's.
            compare = cfg.command_mode
            found = datafiles.presence(
                files, rel, base=cfg.base, cache=cache, storage=cfg.storage, compare=compare
            )
        except MlgateError as e:
            # Of the other pointed files check skips one DVC cannot give (a directory output).
            if key is not None or not isinstance(e, DataError):
                problems.append(_at(cfg, e, key or "data"))
            continue
        if found is None:
            if key is not None:
                problems.append(cfg.error(datafiles.absent(rel, files.ref), key))
            continue
        problems += _unusable(cfg, found, key)
        if key is not None:
            columns = None if found.columns is None else list(found.columns)
            header = None if found.header is None else str(found.header)
            headers.append(DataHeader(rel, key, columns, header))
    return problems, headers


def _unusable(cfg: Config, found: datafiles.Presence, key: str | None) -> list[MlgateError]:
    """Why the command or the worker could not have ``found``'s bytes."""
    whys = [found.missing] if found.missing else []
    if found.modified:
        whys.append(datafiles.differs(found.path))
    if key is None:
        return [ConfigError(why, file=found.path) for why in whys]
    return [cfg.error(f"{found.path}: {why}", key) for why in whys]


def _at(cfg: Config, e: MlgateError, key: str) -> MlgateError:
    """An error from a file the config names, located at the config's key unless it
    names a file of its own (a pointer)."""
    if isinstance(e, ConfigError) and e.file:
        return e
    detail = e.detail if isinstance(e, ConfigError) else str(e)
    return cfg.error(detail, e.key if isinstance(e, ConfigError) and e.key else key)


def _command(cfg: Config, root: Path) -> list[MlgateError]:
    spec = cfg.model.train
    if spec is None:
        return []
    problem = program_problem(spec.argv, root / cfg.base if cfg.base else root)
    return [] if problem is None else [cfg.error(problem, "model.train.command")]


def _template(cfg: Config, files: git.WorkingFiles) -> list[MlgateError]:
    try:
        template = user_template(cfg, files)
        if template is not None:
            check_template(template)
    except MlgateError as e:
        return [_at(cfg, e, "report.template")]
    return []
