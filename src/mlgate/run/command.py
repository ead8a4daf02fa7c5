"""Command mode: run the repository's own training command for one side, read its metrics.

The command comes from the side's own ``mlgate.yaml`` (the same trust as its code) and runs
without a shell, so nothing from a PR is ever interpolated into shell text. Each side runs
in its own checkout of its own commit (the working tree for a local head), from the
config's directory, with ``MLGATE_SIDE`` and ``MLGATE_OUTPUT_DIR`` set. Output goes to a log
file per side; a failure shows its last lines.
"""

from __future__ import annotations

import json
import math
import os
import re
import shlex
import shutil
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from mlgate.core import units
from mlgate.core.config import CommandSpec, Config
from mlgate.core.metrics import flatten
from mlgate.errors import ConfigError, TrainingError
from mlgate.run.runcache import library_versions
from mlgate.run.worker import thread_limits

TAIL_LINES = 50
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
) -> Running:
    """Start ``cfg``'s command in ``checkout`` (the side's tree), from the config's directory."""
    spec = cfg.model.train
    assert spec is not None, "not a command-mode config"
    cwd = checkout / cfg.base if cfg.base else checkout
    out_dir = workdir / f"{label}-output"
    out_dir.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    if threads is not None:
        env.update(thread_limits(threads, env))
    env.update({"MLGATE_SIDE": label, "MLGATE_OUTPUT_DIR": str(out_dir)})
    log_path = workdir / f"{label}.log"
    log = log_path.open("wb")
    started = time.time()
    try:
        proc = subprocess.Popen(
            list(spec.argv),
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


def finish(run: Running, cfg: Config) -> dict[str, Any]:
    """Wait for the command (at most its timeout from its start), then read its metrics and
    model file. Returns a record like the estimator worker's; raises TrainingError (exit 3)."""
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
    metrics_path = _output(run, spec.metrics, cfg)
    values = read_metrics(metrics_path, _name(spec.metrics, cfg))
    record: dict[str, Any] = {
        "ok": True,
        "metrics": pick_metrics(values, cfg, run.label, _name(spec.metrics, cfg)),
        "fit_seconds": seconds,
        "predict_seconds": None,
        "seconds": seconds,
        "model_size": None,
        "versions": library_versions(),
    }
    if spec.model is not None:
        model = _output(run, spec.model, cfg)
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


def read_metrics(path: Path, name: str) -> dict[str, float]:
    """A JSON or YAML metrics file as flat ``{dotted.name: number}``; booleans and strings
    are skipped, a file that is not a mapping is an error naming it."""
    try:
        if path.stat().st_size > MAX_METRICS_BYTES:
            raise TrainingError(f"{name} is larger than {MAX_METRICS_BYTES} bytes")
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise TrainingError(f"cannot read metrics file {name}: {e}") from e
    import yaml  # only after a command ran: a cached check needs no PyYAML

    try:
        if path.suffix.lower() == ".json":
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
    """A side's params file (YAML or JSON) as a mapping; missing: empty."""
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
    return dict(doc)


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
    if shutil.which(program) is not None:
        return None
    if (cwd / program).is_file():
        return f"{program!r} is not on PATH; to run the repository's own, write ./{program}"
    return f"{program!r} not found on PATH"
