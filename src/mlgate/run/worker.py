"""The training worker, parent side: one process per side, started early, fed a spec.

The parent writes a JSON ``TrainSpec`` and runs ``python -m mlgate.run.fit OUT`` with the
side's code root first on ``sys.path``, so base and head never import each other's code.
The child answers with a JSON document that ``answer`` parses once into a ``RunRecord``,
or turns into the right mlgate error (``{"ok": false, "kind": "config"|"training"|"data",
"key": ..., "message": ...}``). Two sides training at once share the cores.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlgate.core.record import RunRecord
from mlgate.errors import ConfigError, DataError, TrainingError
from mlgate.run.forkserver import Forked, fork_worker

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

    from mlgate.core.config import Config


@dataclass(frozen=True)
class TrainSpec:
    """Everything the child needs; paths are absolute, names are repo-relative for messages."""

    estimator: str
    params: dict[str, Any]
    task: str
    code_root: str  # the side's tree: the working tree, or an export of its commit
    project_dir: str  # the config's directory inside code_root: cwd and first on sys.path
    train: str
    test: str
    train_name: str  # repo paths: they decide the format and name the file in messages
    test_name: str
    ref: str  # the side's revision, for messages
    target: str
    features: list[str] | None
    metrics: list[str]
    model_out: str
    extra_eval: str | None = None  # the other side's test data, for same-data comparison
    extra_eval_name: str | None = None
    # Promotion: check the saved model reloads (trusted types only) and predicts, and score
    # the production model (already sha256-verified by the parent) on this side's test data.
    smoke_test: bool = False
    champion_model: str | None = None
    score_only: bool = False  # skip training: only score champion_model (a promotion retry)
    # Command mode's promotion: also score model_out (the command's model) on this test data,
    # so candidate and champion are measured the same way on the same rows.
    score_candidate: bool = False
    # Two sides training at once share the cores: ``threads`` is this side's share, and
    # ``turns`` a lock file that estimators which use every core take turns on.
    threads: int | None = None
    turns: str | None = None
    # ``data.id``: a test-data column naming the rows in the report's changes section.
    id_column: str | None = None
    # model.repeats: fit this many times, repeat i with every unset random_state set to i.
    repeats: int = 1
    # Data drift (run.drift): summarise the frames of these roles ("train", "test") to
    # ``{drift_out}-{role}.npz``, unless rows × columns is above ``drift_max_cells``.
    drift_out: str | None = None
    drift_roles: list[str] = field(default_factory=list)
    drift_max_cells: int | None = None
    # ... and of other data files the worker reads only for that (a reused base's, whose
    # summary is unknown): name ("base-train") -> [path, repo path for its format].
    drift_extra: dict[str, list[str]] = field(default_factory=dict)
    # model.backend.dask (or MLGATE_DASK_ADDRESS, run.cluster): fit under
    # joblib.parallel_backend("dask") on this scheduler, reached within dask_timeout seconds.
    dask_address: str | None = None
    dask_timeout: float = 10.0


# Thread pools that size themselves to every core: OpenMP (HistGradientBoosting, KMeans),
# the BLAS libraries numpy/scipy link, and joblib's ``n_jobs=-1`` (LOKY_MAX_CPU_COUNT).
_THREAD_VARS = (
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "BLIS_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
    "NUMEXPR_NUM_THREADS",
    "LOKY_MAX_CPU_COUNT",
)


def usable_cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        return os.cpu_count() or 1


def share_of_cpus(concurrent: int) -> int | None:
    """Threads per worker when ``concurrent`` workers train at once: each gets its share,
    because two pools spinning on all cores at once run far slower than one after the other.
    None when a single worker may use everything."""
    if concurrent <= 1:
        return None
    return max(1, usable_cpus() // concurrent)


def thread_limits(threads: int, env: Mapping[str, str]) -> dict[str, str]:
    """The environment that caps a worker's thread pools; a limit the user set wins."""
    return {var: str(threads) for var in _THREAD_VARS if not env.get(var)}


class Worker:
    """The child process for one side. It starts at once and imports sklearn, pandas and
    skops while the parent works out what to train (or is forked, those imported, by the
    process's fork server: run.forkserver); ``start`` then sends the spec.
    Output goes to a log file, so a chatty estimator can never block on a full pipe."""

    def __init__(self, label: str, workdir: Path, *, module: str = "mlgate.run.fit") -> None:
        """``module``: the child's code (``python -m MODULE OUT``)."""
        self.label = label
        self.out_path = workdir / f"{label}-out.json"
        self.log_path = workdir / f"{label}.log"
        env = dict(os.environ)
        # The child must import this mlgate (even from a source checkout), then user code.
        here = str(Path(__file__).resolve().parents[2])
        env["PYTHONPATH"] = os.pathsep.join(p for p in (here, env.get("PYTHONPATH")) if p)
        forked = fork_worker(module, [str(self.out_path)], cwd=workdir, env=env, log=self.log_path)
        if forked is not None:
            self.proc: subprocess.Popen[bytes] | Forked = forked
            return
        with self.log_path.open("wb") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", module, str(self.out_path)],
                cwd=workdir,
                env=env,
                stdin=subprocess.PIPE,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def __enter__(self) -> Worker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.cancel()

    def start(self, spec: DataclassInstance) -> None:
        """Send the child its spec (a dataclass of JSON values: a TrainSpec for training)."""
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps(asdict(spec)).encode())
        self.proc.stdin.close()

    def cancel(self) -> None:
        """Stop the child if it is still running (an error elsewhere, or no work for it)."""
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        if self.proc.stdin and not self.proc.stdin.closed:
            self.proc.stdin.close()

    def result(self) -> dict[str, Any]:
        self.proc.wait()
        log = self.log_path.read_text(errors="replace")
        if not self.out_path.exists():
            tail = log.strip().splitlines()[-1:] or ["no output"]
            raise TrainingError(
                f"training the {self.label} model crashed (exit {self.proc.returncode}): {tail[0]}"
            )
        record: dict[str, Any] = json.loads(self.out_path.read_text())
        record["log"] = log[-4000:]
        return record


def raise_failure(record: Mapping[str, Any], *, side: str, config_file: str) -> None:
    """Turn a child's error record into the matching mlgate error."""
    message = f"{side}: {record['message']}"
    kind = record["kind"]
    if kind == "config":
        raise ConfigError(message, file=config_file, key=record.get("key"))
    if kind == "data":
        raise DataError(message)
    raise TrainingError(message)


def answer(raw: Mapping[str, Any], *, side: str, cfg: Config, locate: bool = True) -> RunRecord:
    """A worker's answer as a RunRecord; its error, if it failed, as the matching mlgate
    error, located (``locate``) at the line of the side's config that its key names."""
    if not raw["ok"]:
        try:
            raise_failure(raw, side=side, config_file=cfg.file)
        except ConfigError as e:
            if e.key and locate:
                raise cfg.error(e.detail, e.key) from None
            raise
    return RunRecord.from_dict(raw)
