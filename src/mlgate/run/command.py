"""Command mode: run the repository's own training command for one side, read its metrics.

The command comes from the side's own ``mlgate.yaml`` (the same trust as its code) and runs
without a shell, so nothing from a PR is ever interpolated into shell text. Each side runs
in its own checkout of its own commit (the working tree for a local head), from the
config's directory, with ``MLGATE_SIDE`` and ``MLGATE_OUTPUT_DIR`` set (and
``MLGATE_DASK_ADDRESS``, the scheduler of ``model.backend.dask``, when there is one).
Output goes to a log file per side; a failure shows its last lines.
"""

from __future__ import annotations

import json
import math
import os
import posixpath
import re
import shlex
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from mlgate import git
from mlgate.core import units
from mlgate.core.config import STDOUT, CommandSpec, Config
from mlgate.core.metrics import flatten
from mlgate.core.repeats import combine
from mlgate.core.results import Interpreter
from mlgate.errors import ConfigError, TrainingError
from mlgate.run import cluster
from mlgate.run.runcache import library_versions
from mlgate.run.worker import thread_limits

TAIL_LINES = 50
# `python3.11`, `python`, `pypy3`: a program whose next argument is a script, not a param.
_PYTHON = re.compile(r"(python|pypy)[0-9.]*(\.exe)?", re.IGNORECASE)
_PYTHON_OPTIONS_WITH_VALUE = ("-W", "-X", "--check-hash-based-pycs")
MAX_METRICS_BYTES = 16 * 1024**2  # a metrics file is small; refuse to parse a huge one


@dataclass
class Running:
    """One side's command, started; ``finish`` waits for it and reads what it wrote."""

    label: str
    spec: CommandSpec
    cwd: Path
    out_dir: Path
    log_path: Path
    proc: subprocess.Popen[bytes]
    started: float  # time.time(): files older than this are stale
    clock: float  # time.perf_counter()
    log: IO[bytes]

    def stop(self) -> None:
        """Kill the command and everything it started (its own process group)."""
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                self.proc.kill()
        self.proc.wait()
        self.log.close()


def start(
    label: str,
    cfg: Config,
    checkout: Path,
    workdir: Path,
    *,
    threads: int | None = None,
    seed: int | None = None,
) -> Running:
    """Start ``cfg``'s command in ``checkout`` (the side's tree), from the config's directory;
    ``seed``: a repeat's number, given to the command as ``MLGATE_SEED`` (model.repeats)."""
    spec = cfg.model.train
    assert spec is not None, "not a command-mode config"
    cwd = checkout / cfg.base if cfg.base else checkout
    out_dir = workdir / f"{label}-output"
    out_dir.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    env["PATH"] = command_path(env.get("PATH"))
    if threads is not None:
        env.update(thread_limits(threads, env))
    env.update({"MLGATE_SIDE": label, "MLGATE_OUTPUT_DIR": str(out_dir)})
    if seed is not None:
        env["MLGATE_SEED"] = str(seed)
    dask = cluster.backend(cfg, env)
    if dask is not None:  # the command connects itself; mlgate only says where
        env[cluster.ENV] = dask.address
    argv = fill_placeholders(spec, cwd, cfg)
    log_path = workdir / f"{label}.log"
    log = log_path.open("wb")
    started = time.time()
    try:
        proc = subprocess.Popen(
            argv,
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: a timeout stops its children too
        )
    except OSError as e:
        log.close()
        what = shlex.join(spec.argv)
        raise TrainingError(f"{label}: cannot run `{what}` in {cwd}: {e.strerror or e}") from e
    return Running(label, spec, cwd, out_dir, log_path, proc, started, time.perf_counter(), log)


def wait(run: Running) -> float:
    """Wait for the command (at most its timeout from its start); its seconds. A timeout or
    a non-zero exit is a TrainingError (exit 3) with the last lines it printed."""
    spec = run.spec
    what = f"`{shlex.join(spec.argv)}`"
    limit = max(0.0, run.clock + spec.timeout - time.perf_counter())
    try:
        code = run.proc.wait(timeout=limit)
    except subprocess.TimeoutExpired:
        run.stop()
        raise TrainingError(
            f"{run.label}: {what} timed out after {spec.timeout:g} s "
            f"(model.train.timeout){_tail(run.log_path)}"
        ) from None
    finally:
        run.log.close()
    seconds = time.perf_counter() - run.clock
    if code != 0:
        how = f"was killed by signal {-code}" if code < 0 else f"exited with {code}"
        raise TrainingError(f"{run.label}: {what} {how}{_tail(run.log_path)}")
    return seconds


def finish(run: Running, cfg: Config, *, keep_model: bool = True) -> dict[str, Any]:
    """Wait for the command, then read its metrics and model file (``keep_model``: copy it
    out; a later repeat only checks it was written). Returns a record like the estimator
    worker's; raises TrainingError (exit 3)."""
    spec = run.spec
    seconds = wait(run)
    if spec.metrics == STDOUT:
        source = "the lines it printed"
        values = output_metrics(run.log_path.read_text(encoding="utf-8", errors="replace"))
    else:
        source = _name(spec.metrics, cfg)
        values = read_metrics(_output(run, spec.metrics, cfg), source)
    record: dict[str, Any] = {
        "ok": True,
        "metrics": pick_metrics(values, cfg, run.label, source),
        "fit_seconds": seconds,
        "predict_seconds": None,
        "seconds": seconds,
        "model_size": None,
        "versions": library_versions(),
    }
    if spec.model is not None:
        model = _output(run, spec.model, cfg)
        if not keep_model:
            return record
        kept = run.out_dir.parent / f"{run.label}.skops"
        shutil.copyfile(model, kept)  # the working tree's copy may change after we return
        record["model_size"] = kept.stat().st_size
        record["model_path"] = str(kept)
    record["log"] = run.log_path.read_text(errors="replace")[-4000:]
    return record


def _name(path: str, cfg: Config) -> str:
    """A config path as the user wrote it, relative to the config's directory."""
    prefix = f"{cfg.base}/" if cfg.base else ""
    return path[len(prefix) :] if prefix and path.startswith(prefix) else path


def _output(run: Running, repo_path: str, cfg: Config) -> Path:
    """A file the command had to write, fresh from this run (an old copy is not the answer)."""
    name = _name(repo_path, cfg)
    path = run.cwd / name
    what = f"`{shlex.join(run.spec.argv)}`"
    if not path.is_file():
        raise TrainingError(
            f"{run.label}: {what} succeeded but wrote no {name}{_tail(run.log_path)}"
        )
    if path.stat().st_mtime < run.started - 1.0:  # 1 s: coarse file-system clocks
        raise TrainingError(
            f"{run.label}: {what} did not write {name} (the one there is older than this run)"
            f"{_tail(run.log_path)}"
        )
    return path


def _tail(log: Path) -> str:
    """The last lines of a side's log, indented under the one-line reason."""
    try:
        lines = log.read_text(errors="replace").splitlines()[-TAIL_LINES:]
    except OSError:
        return ""
    if not lines:
        return "; it printed nothing"
    body = "\n".join(f"    {line}" for line in lines)
    return f"; the last {len(lines)} line(s) it printed:\n{body}"


# `name: number` or `name = number` on a line of its own (an optional % after the number,
# kept as written): metrics.txt files as CML examples write them, and printed metrics.
_NUMBER = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"
_METRIC_LINE = re.compile(
    rf"\s*(?P<name>[A-Za-z_][\w .()/-]*?)\s*[:=]\s*(?P<value>{_NUMBER})\s*%?\s*"
)


def read_metrics(path: Path, name: str) -> dict[str, float]:
    """A metrics file as flat ``{dotted.name: number}``: JSON (``.json``), YAML (``.yaml``,
    ``.yml``; booleans and strings skipped) or, any other name, ``name: number`` text lines
    (``#`` comments and blank lines allowed, anything else an error naming the line)."""
    try:
        if path.stat().st_size > MAX_METRICS_BYTES:
            raise TrainingError(f"{name} is larger than {MAX_METRICS_BYTES} bytes")
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise TrainingError(f"cannot read metrics file {name}: {e}") from e
    suffix = path.suffix.lower()
    if suffix not in (".json", ".yaml", ".yml"):
        return _text_metrics(text, name)
    import yaml  # only after a command ran: a cached check needs no PyYAML

    try:
        if suffix == ".json":
            doc = json.loads(text)
        else:
            doc = yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except (ValueError, yaml.YAMLError) as e:
        first = " ".join(str(e).split())
        raise TrainingError(f"metrics file {name} is not valid JSON or YAML: {first}") from e
    if not isinstance(doc, Mapping):
        kind = type(doc).__name__ if doc is not None else "empty"
        raise TrainingError(
            f"metrics file {name} must hold a mapping of names to numbers, got {kind}"
        )
    return flatten_numbers(doc)


def _text_metrics(text: str, name: str) -> dict[str, float]:
    """Strict ``name: number`` / ``name = number`` lines; a name given twice is an error."""
    values: dict[str, float] = {}
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        match = _METRIC_LINE.fullmatch(line)
        if match is None:
            raise TrainingError(
                f"metrics file {name}, line {number}: expected `name: number` or "
                f"`name = number`, got {units.shorten(line.strip(), 80)!r}"
            )
        key = match["name"]
        if key in values:
            raise TrainingError(f"metrics file {name}, line {number}: {key!r} is given twice")
        values[key] = float(match["value"])
    return values


def output_metrics(text: str) -> dict[str, float]:
    """``model.train.metrics: stdout``: the ``name: number`` / ``name = number`` lines among
    what the command printed (other lines are its own business); the last value of a name
    wins, as a training loop prints its progress."""
    values: dict[str, float] = {}
    for line in text.splitlines():
        match = _METRIC_LINE.fullmatch(line)
        if match is not None:
            values[match["name"]] = float(match["value"])
    return values


def flatten_numbers(doc: Mapping[Any, Any]) -> dict[str, float]:
    """The numbers in a nested mapping, by dotted name (``{loss: {val: 1}}`` -> ``loss.val``)."""
    return {
        name: float(value)
        for name, value in flatten(doc).items()
        if isinstance(value, (int, float)) and not isinstance(value, bool)
    }


def pick_metrics(
    values: Mapping[str, float], cfg: Config, label: str, name: str
) -> dict[str, float]:
    """The configured metrics from the file; a missing one names what the file has."""
    wanted = [m for m in cfg.evaluated_metrics]
    missing = [m for m in wanted if m not in values]
    if missing:
        have = units.names(sorted(values)) or "no numbers"
        raise TrainingError(
            f"{label}: metric(s) {', '.join(map(repr, missing))} not in {name} (it has: {have})"
        )
    out = {m: values[m] for m in wanted}
    bad = [m for m, v in out.items() if not math.isfinite(v)]
    if bad:
        raise TrainingError(f"{label}: {name} gives a non-finite value for {', '.join(bad)}")
    return out


def read_params(data: bytes | None, name: str) -> dict[str, Any]:
    """A side's params file (YAML or JSON) as a mapping; missing: empty. An MLflow
    ``MLproject`` file gives its main entry point's parameter defaults."""
    if data is None:
        return {}
    import yaml  # only for a side that has a params file

    try:
        doc = yaml.load(data, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except yaml.YAMLError as e:
        raise ConfigError(f"{name}: not valid YAML or JSON: {' '.join(str(e).split())}") from e
    if doc is None:
        return {}
    if not isinstance(doc, Mapping):
        raise ConfigError(f"{name}: expected a mapping of parameters, got {type(doc).__name__}")
    if posixpath.basename(name.partition("@")[0]) == "MLproject":
        return mlproject_defaults(doc, name)
    return dict(doc)


def mlproject_defaults(doc: Mapping[str, Any], name: str) -> dict[str, Any]:
    """``entry_points.main.parameters``' defaults (a parameter without one is an error: the
    command could not run unattended)."""
    points = doc.get("entry_points")
    main = points.get("main") if isinstance(points, Mapping) else None
    params = main.get("parameters") if isinstance(main, Mapping) else None
    found: dict[str, Any] = {}
    for key, value in params.items() if isinstance(params, Mapping) else ():
        # MLflow's short form `alpha: float` has no default either
        if not isinstance(value, Mapping) or "default" not in value:
            raise ConfigError(f"{name}: parameter {key!r} of entry point main has no default")
        found[str(key)] = value["default"]
    return found


_PLACEHOLDER = re.compile(r"\{([A-Za-z_][\w.-]*)\}")


def fill_placeholders(spec: CommandSpec, cwd: Path, cfg: Config) -> list[str]:
    """The command's arguments with ``{name}`` replaced by the params file's value of that
    name (MLproject style), read from this side's own checkout: a pull request changing a
    parameter's value changes both the run and the params diff. Without a params file the
    arguments are used as written."""
    if spec.params is None or not any(_PLACEHOLDER.search(a) for a in spec.argv):
        return list(spec.argv)
    shown = _name(spec.params, cfg)
    path = git.inside(cwd, shown)  # a params file linking out of the checkout is refused
    params = flatten(read_params(path.read_bytes() if path.is_file() else None, shown))

    def value(match: re.Match[str]) -> str:
        if match[1] not in params:
            raise ConfigError(
                f"{cfg.file}: model.train.command uses {{{match[1]}}}, which {shown} does "
                f"not define (it has: {units.names(sorted(params)) or 'nothing'})"
            )
        return str(params[match[1]])

    return [_PLACEHOLDER.sub(value, a) for a in spec.argv]


def interpreter() -> Interpreter:
    """The Python mlgate runs on: first on the command's ``PATH``, so its ``python`` is it."""
    return Interpreter(sys.executable, sys.version.split()[0])


def command_path(path: str | None) -> str:
    """``PATH`` with the directory of mlgate's interpreter first (a venv's ``bin``), as tox
    and nox do, unless it is already first: a command's ``python`` is then the environment
    mlgate (and the libraries its digest records) runs in."""
    first = os.path.dirname(sys.executable)
    parts = path.split(os.pathsep) if path else []
    if not first or (parts and parts[0] == first):
        return path or ""
    return os.pathsep.join([first, *parts])


def argument_params(argv: tuple[str, ...]) -> dict[str, Any]:
    """The command's arguments as params, for a command without a params file: a PR that
    changes one then shows in the params diff. After the program (and, for Python, its
    options and the script or ``-m module``): ``--name value``, ``--name=value`` and
    ``-n value`` become ``name: value``; a flag with no value ``name: true``; the other
    arguments ``arg1``, ``arg2``, ... Values stay the strings they are; a repeated name
    lists them. Empty when there are no arguments."""
    rest = list(argv[1:])
    if argv and _PYTHON.fullmatch(os.path.basename(argv[0])):
        rest = _after_script(rest)
    found: dict[str, Any] = {}
    positional = 0
    options = True
    while rest:
        word = rest.pop(0)
        if options and word == "--":  # the end of options: the rest is positional
            options = False
            continue
        name, value = _option(word, rest) if options else (None, word)
        if name is None:
            positional += 1
            name = f"arg{positional}"
        if name in found:
            earlier = found[name]
            found[name] = [*(earlier if isinstance(earlier, list) else [earlier]), value]
        else:
            found[name] = value
    return found


def _after_script(words: list[str]) -> list[str]:
    """A Python command's arguments after its own options and the script (or module)."""
    while words and words[0].startswith("-") and words[0] != "-":
        option = words.pop(0)
        if option in ("-m", "-c"):
            return words[1:]
        if option in _PYTHON_OPTIONS_WITH_VALUE and words:
            words.pop(0)
    return words[1:]


def _option(word: str, rest: list[str]) -> tuple[str | None, Any]:
    """(name, value) of an option, taking its value from ``rest``; (None, word) otherwise."""
    if not word.startswith("-") or word == "-" or _number(word):
        return None, word
    name, equals, value = word.lstrip("-").partition("=")
    if equals:
        return name, value
    if rest and (not rest[0].startswith("-") or _number(rest[0])):
        return name, rest.pop(0)
    return name, True


def _number(word: str) -> bool:
    try:
        float(word)
    except ValueError:
        return False
    return True


_ASSIGNMENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*=.*", re.DOTALL)


def program_problem(argv: Sequence[str], cwd: Path) -> str | None:
    """Why the program of ``argv`` (its first word after ``NAME=value`` assignments) cannot
    be started from ``cwd``, the way ``start`` starts it (no shell: a bare name is looked up
    on PATH only, a path is taken from ``cwd``), or None when it can."""
    words = list(argv)
    while words and _ASSIGNMENT.fullmatch(words[0]):
        words.pop(0)
    if not words:
        return "the command only sets variables; it names no program to run"
    program = words[0]
    if os.sep in program or "/" in program:
        path = cwd / program  # an absolute program replaces cwd
        if not path.is_file():
            return f"{program} not found (from {cwd})"
        if not os.access(path, os.X_OK):
            return f"{program} is not executable: chmod +x it, or run it with its interpreter"
        return None
    if shutil.which(program, path=command_path(os.environ.get("PATH"))) is not None:
        return None
    if (cwd / program).is_file():
        return f"{program!r} is not on PATH; to run the repository's own, write ./{program}"
    return f"{program!r} not found on PATH"


def combined(runs: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """The records of a side's repeats as one: the first's model and log, each metric's
    mean with its value per repeat, the mean run time (``seconds``: all of them)."""
    first = dict(runs[0])
    if len(runs) == 1:
        return first
    means, per_repeat = combine([run["metrics"] for run in runs])
    first["metrics"], first["repeats"] = means, per_repeat
    first["fit_seconds"] = sum(run["fit_seconds"] for run in runs) / len(runs)
    first["seconds"] = sum(run["seconds"] for run in runs)
    return first
