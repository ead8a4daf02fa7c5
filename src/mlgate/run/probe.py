"""``mlgate validate``'s worker: the project's estimator, params and data columns checked
the way training would meet them, in a child process of its own.

Importing the estimator runs the repository's code (its model module), so it happens in
``python -m mlgate.run.probe OUT`` (a run.worker ``Worker``, from the project's
directory with its code first on ``sys.path``, like training), never in mlgate's own
process. The child reads a ``ProbeSpec`` from stdin and writes ``{"problems": [{"key",
"message"}], "unchecked": [data paths]}`` to OUT. It builds the estimator without fitting
it and asks scikit-learn's parameter constraints about each param; each data file's
columns come from the spec (a pointer's ``columns:``) or its header.
"""

from __future__ import annotations

import difflib
import inspect
import json
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlgate.errors import MlgateError
from mlgate.run.fit import (
    WorkerFailure,
    build_estimator,
    column_problems,
    enter_project,
    estimators_in,
    exit_now,
    resolve_estimator,
)
from mlgate.run.worker import Worker
from mlgate.storage.formats import read_columns


@dataclass(frozen=True)
class DataHeader:
    """Where a data file's columns come from: known already, or a local copy's header."""

    name: str  # repo path, for messages and the format
    key: str  # the config key naming it (data.train, data.test)
    columns: list[str] | None = None
    header: str | None = None  # absolute path of a local copy of its bytes


@dataclass(frozen=True)
class ProbeSpec:
    estimator: str | None  # None in command mode: nothing to import
    params: dict[str, Any]
    code_root: str  # the working tree
    project_dir: str  # the config's directory in it
    target: str | None
    features: list[str] | None
    data: list[DataHeader] = field(default_factory=list)
    id_column: str | None = None  # data.id: must be a column of the test data


@dataclass(frozen=True)
class ProbeAnswer:
    problems: list[tuple[str | None, str]]  # (config key, message)
    unchecked: list[str]  # data files whose columns could not be read without fetching


def start_probe(workdir: Path) -> Worker:
    """The child, started at once (it imports scikit-learn while the parent prepares its
    spec); a context manager that stops it if no spec comes."""
    return Worker("validate", workdir, module=__name__)


def probe_answer(worker: Worker, spec: ProbeSpec) -> ProbeAnswer:
    """The child's answer to ``spec``. A child that died before answering (a module that
    exits or crashes the interpreter on import) is reported as a problem of the estimator."""
    worker.start(spec)
    worker.proc.wait()
    if not worker.out_path.exists():
        log = worker.log_path.read_text(errors="replace").strip().splitlines()
        last = log[-1] if log else "it printed nothing"
        code = worker.proc.returncode
        msg = f"checking {spec.estimator} ended the process (exit {code}): {last}"
        return ProbeAnswer([("model.estimator", msg)], [])
    raw = worker.result()
    problems = [(p["key"], p["message"]) for p in raw["problems"]]
    return ProbeAnswer(problems, list(raw["unchecked"]))


# --- child side ----------------------------------------------------------------------------


def probe(spec: ProbeSpec) -> ProbeAnswer:
    """Every problem training would meet before fitting, found without fitting."""
    problems: list[WorkerFailure] = []
    if spec.estimator is not None:
        problems += estimator_problems(spec.estimator, spec.params)
    unchecked = []
    for data in spec.data if spec.target is not None else ():
        try:
            columns = _columns(data)
        except MlgateError as e:
            problems.append(WorkerFailure("data", str(e), data.key))
            continue
        if columns is None:
            unchecked.append(data.name)
            continue
        assert spec.target is not None
        id_column = spec.id_column if data.key == "data.test" else None
        problems += column_problems(columns, spec.target, spec.features, data.name, id_column)
    return ProbeAnswer([(p.key, p.message) for p in problems], unchecked)


def _columns(data: DataHeader) -> list[str] | None:
    if data.columns is not None:
        return data.columns
    return None if data.header is None else read_columns(Path(data.header), data.name)


def estimator_problems(ref: str, params: Mapping[str, Any]) -> list[WorkerFailure]:
    """Why training could not build ``ref`` with ``params``: the estimator not found (with
    a did-you-mean), params its signature does not take, or values its scikit-learn
    parameter constraints refuse; one WorkerFailure per problem, keyed at the param."""
    try:
        make = resolve_estimator(ref)
    except WorkerFailure as e:
        return [e]
    unknown = list(_unknown_params(make, ref, params))
    if unknown:
        return unknown
    try:
        est = build_estimator(ref, params)
    except WorkerFailure as e:
        return [e]
    except Exception as e:  # a factory's own error: training would stop at the same call
        return [WorkerFailure("config", f"{ref} raised {type(e).__name__}: {e}", "model.params")]
    return list(_constraint_problems(est, params))


def _unknown_params(
    make: Callable[..., Any], ref: str, params: Mapping[str, Any]
) -> Iterator[WorkerFailure]:
    try:
        signature = inspect.signature(make)
    except (TypeError, ValueError):  # a builtin without one: calling it will tell
        return
    accepted = [
        name
        for name, p in signature.parameters.items()
        if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
    ]
    if any(p.kind == p.VAR_KEYWORD for p in signature.parameters.values()):
        return
    label = ref.rpartition(".")[2].rpartition(":")[2]
    for name in params:
        if name in accepted:
            continue
        close = difflib.get_close_matches(name, accepted, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        takes = f"; it takes {', '.join(accepted)}" if accepted else "; it takes none"
        msg = f"{label} has no parameter {name!r}{hint}{takes}"
        yield WorkerFailure("config", msg, f"model.params.{name}")


def _constraint_problems(est: Any, params: Mapping[str, Any]) -> Iterator[WorkerFailure]:
    """Each value scikit-learn's ``_parameter_constraints`` refuse (what ``fit`` checks
    first), in the estimator and in every estimator nested in it (a Pipeline's steps)."""
    try:
        from sklearn.utils._param_validation import (
            InvalidParameterError,
            validate_parameter_constraints,
        )
    except ImportError:  # scikit-learn < 1.2: its fit checks params its own way
        return
    for prefix, obj in estimators_in(est):
        constraints = getattr(obj, "_parameter_constraints", None)
        if not isinstance(constraints, dict):
            continue
        for name, value in obj.get_params(deep=False).items():
            if name not in constraints:
                continue
            try:
                validate_parameter_constraints(
                    {name: constraints[name]}, {name: value}, caller_name=type(obj).__name__
                )
            except InvalidParameterError as e:
                # A factory's own param is usually passed through under the same name.
                named = next((n for n in (prefix + name, name) if n in params), None)
                key = "model.params" if named is None else f"model.params.{named}"
                yield WorkerFailure("config", str(e), key)


def warm_up() -> None:
    """Import what every probe needs, while the parent looks at the files, and before the
    project's code could shadow them (run.forkserver calls it too)."""
    try:
        import pandas  # noqa: F401
        import sklearn  # noqa: F401
    except ImportError:
        pass  # the estimator's import says what is missing


def child_main(argv: Sequence[str]) -> int:
    (out_path,) = argv
    warm_up()
    raw = json.loads(sys.stdin.read())
    raw["data"] = [DataHeader(**d) for d in raw["data"]]
    spec = ProbeSpec(**raw)
    enter_project(spec.project_dir, spec.code_root)
    answer = probe(spec)
    problems = [{"key": key, "message": message} for key, message in answer.problems]
    Path(out_path).write_text(json.dumps({"problems": problems, "unchecked": answer.unchecked}))
    return 0


if __name__ == "__main__":
    exit_now(child_main(sys.argv[1:]))
