"""Many models in one repository: ``mlgate ci --matrix``, ``mlgate ci --gather DIR`` and
``mlgate check --all``.

The plan job (``--matrix``) lists the models a change touches (``run.plan``: input digests,
nothing trained) as a GitHub Actions job matrix; one job per touched model runs ``mlgate ci
-c <dir>/mlgate.yaml --no-comment`` and uploads its result as the artifact
``mlgate-result-<model>``; the gather job (``--gather``), which runs no pull-request code,
posts one combined comment and every model's ``mlgate/<name>`` status.

The artifacts came from jobs that ran the pull request's code, so they are untrusted: each
is read only from its own model's directory in DIR, validated against
``schema/result.schema.json``, must name that model, this pull request and its head and
base shas, and its verdict is recomputed from its metrics with the gate of the head's
config as this job reads it. A model the change does not touch gets its status from the
base's shared run (a git note, trusted only when signed by that config's
``notes.public_key``), never from an artifact.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlgate import git
from mlgate.commands.check import run_check
from mlgate.commands.ci import CiOutcome, ensure_commit, post_sticky
from mlgate.commands.publish import load_result, regated
from mlgate.core import config as config_mod
from mlgate.core.config import Config
from mlgate.core.gate import evaluate
from mlgate.core.metrics import diff_metrics
from mlgate.core.results import CheckResult
from mlgate.errors import ExitCode, MlgateError, UsageError
from mlgate.forge import State
from mlgate.forge.actions import append_summary, escape_data, write_outputs
from mlgate.forge.env import Change, Promotion, Watch, detect, make_forge
from mlgate.forge.poster import Poster
from mlgate.render.combined import MARKER, ModelRow, render_combined
from mlgate.render.report import status_description
from mlgate.run import notes, signatures
from mlgate.run.plan import PlannedModel, config_paths, over_matrix_limit, plan, touched
from mlgate.storage.files import atomic_write
from mlgate.storage.layout import Layout

PLAN_FILE = "mlgate-plan.json"
ARTIFACT_PREFIX = "mlgate-result-"  # + the model's name: one artifact (directory) per model
RESULT_FILE = "mlgate-result.json"


@dataclass
class MatrixOutcome:
    exit_code: int
    models: list[PlannedModel] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)
    plan_path: Path | None = None


# --- the plan job ---------------------------------------------------------------------------


def _sides(cwd: Path, change: Change | Promotion) -> tuple[git.Repo, git.CommitFiles, str]:
    """The repository, the base commit the change is measured from, and the head's ref."""
    repo = git.open_repo(cwd)
    if isinstance(change, Change):
        ensure_commit(repo, change.base_sha)
        return repo, git.CommitFiles(repo, change.base_sha, sha=change.base_sha), "HEAD"
    head = git.resolve(repo, change.ref)
    parents = repo.git("rev-list", "--parents", "-n", "1", head).split()[1:]
    base = parents[0] if parents else head  # a root commit: nothing to compare it with
    return repo, git.CommitFiles(repo, base, sha=base), head


def plan_matrix(
    cwd: str | os.PathLike[str], environ: Mapping[str, str], *, plan_path: str = PLAN_FILE
) -> MatrixOutcome:
    """``mlgate ci --matrix``: the touched models as ``matrix`` (and ``count``) in
    GITHUB_OUTPUT, the whole plan in ``plan_path``. On a push to the default branch, the
    models the pushed commit touched (each job then promotes its model); on a schedule,
    every model (each job monitors its own). UsageError over GitHub's 256-job cap."""
    where = Path(cwd)
    change = detect(environ).change(environ)
    if isinstance(change, str):
        models: list[PlannedModel] = []
        lines = [f"mlgate: {change}"]
    elif isinstance(change, Watch):
        repo = git.open_repo(where)
        head = git.CommitFiles(repo, "HEAD")
        models = [
            PlannedModel(m.name, m.config, m.directory, True, "scheduled: every model")
            for m in plan(repo, head, head)
        ]
        lines = []
    else:
        repo, base, head_ref = _sides(where, change)
        models = plan(repo, base, git.CommitFiles(repo, head_ref))
        lines = []
    chosen = touched(models)
    if (refusal := over_matrix_limit(len(chosen))) is not None:
        raise UsageError(refusal)
    saved = (where / plan_path).absolute()
    atomic_write(saved, _plan_text(models).encode())
    width = max((len(m.name) for m in models), default=0)
    lines += [f"{m.name:<{width}}  {m.directory}  {m.reason}" for m in models]
    lines.append(f"mlgate: {len(chosen)} of {len(models)} model(s) to check; plan in {saved}")
    if environ.get("GITHUB_ACTIONS") == "true" and environ.get("GITHUB_OUTPUT"):
        matrix = {"include": [m.matrix_entry() for m in chosen]}
        write_outputs(
            environ["GITHUB_OUTPUT"],
            {"matrix": json.dumps(matrix, separators=(",", ":")), "count": str(len(chosen))},
        )
    return MatrixOutcome(int(ExitCode.OK), models, lines, saved)


def _plan_text(models: list[PlannedModel]) -> str:
    """The plan as JSON with one model a line, keys in a fixed order, so that a shell can
    ask it too: ``grep -F '"config": "models/churn/mlgate.yaml", "touched": true'``."""
    lines = [
        json.dumps({**m.matrix_entry(), "touched": m.touched, "reason": m.reason}) for m in models
    ]
    return '{"schema": "mlgate/plan@1", "models": [\n' + ",\n".join(lines) + "\n]}\n"


# --- the gather job -------------------------------------------------------------------------


def gather(cwd: str | os.PathLike[str], environ: Mapping[str, str], directory: str) -> CiOutcome:
    """``mlgate ci --gather DIR``: one combined comment and every model's status, from the
    per-model jobs' result artifacts in DIR (``mlgate-result-<model>/mlgate-result.json``).
    Exit 1 when a touched model fails its gate or has no valid result."""
    change = detect(environ).change(environ)
    if not isinstance(change, Change):
        why = change if isinstance(change, str) else "not a pull or merge request"
        return CiOutcome(int(ExitCode.OK), [f"mlgate: nothing to gather: {why}"])
    where = Path(cwd)
    repo, base, _ = _sides(where, change)
    head = git.CommitFiles(repo, "HEAD")
    models = plan(repo, base, head)
    github = change.forge == "github"
    outcome = CiOutcome(int(ExitCode.OK))

    def warn(message: str) -> None:
        outcome.lines.append(
            f"::warning::{escape_data(message)}" if github else f"WARNING: {message}"
        )

    results = where / directory
    expected = {f"{ARTIFACT_PREFIX}{m.name}" for m in models if m.touched}
    if results.is_dir():
        for extra in sorted(p.name for p in results.iterdir() if p.name not in expected):
            warn(f"ignored {directory}/{extra}: no touched model's result goes there")
    rows = [_row(repo, change, m, results, head, warn) for m in models]
    poster = Poster(make_forge(change, environ), change, warn)
    body = post_sticky(
        poster, MARKER, lambda limit: render_combined(rows, limit=limit, run_url=change.run_url)
    )
    for row in rows:
        state: State = "success" if row.state in ("pass", "unchanged") else "failure"
        if row.state == "error":
            state = "error"
        poster.status(state, f"mlgate/{row.name}", row.description)
    if github and environ.get("GITHUB_STEP_SUMMARY"):
        append_summary(environ["GITHUB_STEP_SUMMARY"], body)
    bad = [r.name for r in rows if r.state in ("fail", "error")]
    if github and environ.get("GITHUB_OUTPUT"):
        write_outputs(environ["GITHUB_OUTPUT"], {"verdict": "fail" if bad else "pass"})
    for row in rows:
        outcome.lines.append(f"mlgate: {row.name}: {row.state} ({row.description})")
    outcome.exit_code = int(ExitCode.GATE_FAILED if bad else ExitCode.OK)
    return outcome


def _row(
    repo: git.Repo,
    change: Change,
    model: PlannedModel,
    results: Path,
    head: git.CommitFiles,
    warn: Callable[[str], None],
) -> ModelRow:
    cfg = config_mod.load_at(head, model.config, memo=Layout.current().memo)
    assert cfg is not None  # the plan read it a moment ago
    if not model.touched:
        return _unchanged(git.root(repo), change.base_sha, model, cfg)
    path = results / f"{ARTIFACT_PREFIX}{model.name}" / RESULT_FILE
    if path.is_symlink() or path.parent.is_symlink():  # an artifact holds files, not links
        warn(f"refused the result for {model.name}: {path} is a symbolic link")
        return ModelRow(model.name, "error", "its result was refused: a symbolic link")
    if not path.is_file():
        return ModelRow(model.name, "error", "no result from its job (it failed before saving)")
    try:
        document = load_result(path)
        _belongs(document, change, model.name, path)
    except MlgateError as e:
        warn(f"refused the result for {model.name}: {e}")
        return ModelRow(model.name, "error", f"its result was refused: {e}")
    report = regated(document["report"], cfg)
    passed = report["verdict"] == "pass"
    return ModelRow(model.name, "pass" if passed else "fail", status_description(report), report)


def _belongs(document: Mapping[str, Any], change: Change, model: str, path: Path) -> None:
    """UsageError unless the result is this model's, for this change's head and base."""
    claims = {
        "the model": (document["report"]["model"], model),
        "the pull request": (document["pull_request"], change.number),
        "the head commit": (document["head_sha"], change.status_sha),
        "the base commit": (document["base_sha"], change.base_sha),
        "the repository": (document["repository"], change.repository),
    }
    for what, (found, wanted) in claims.items():
        if found != wanted:
            raise UsageError(f"{path} names {found!r} as {what}, not {wanted!r}")


def _unchanged(root: Path, base_sha: str, model: PlannedModel, cfg: Config) -> ModelRow:
    """An untouched model: its inputs are the base's, so its status is the base's run (a
    signed git note) judged by the gate; without one, only that nothing changed."""
    short = base_sha[:7]
    record = _trusted_record(root, base_sha, model.name, cfg)
    if record is None:
        return ModelRow(model.name, "unchanged", f"unchanged since {short}: not retrained")
    metrics = {k: float(v) for k, v in record.get("metrics", {}).items()}
    names = [*cfg.evaluated_metrics, *(n for n in cfg.gate if n not in cfg.evaluated_metrics)]
    rows = diff_metrics(metrics, metrics, names, direction=cfg.direction)
    verdict = evaluate(cfg.gate, rows)
    shown = next((r for r in rows if r.head is not None), None)
    figure = "" if shown is None or shown.head is None else f"{shown.name} {shown.head:.4g} "
    if verdict.passed:
        return ModelRow(model.name, "unchanged", f"unchanged since {short}: {figure}(base's run)")
    failed = len(verdict.failed)
    text = f"unchanged since {short}: {figure}(base's run) fails {failed} rule(s)"
    return ModelRow(model.name, "fail", text)


def _trusted_record(root: Path, sha: str, model: str, cfg: Config) -> dict[str, Any] | None:
    key = cfg.notes_key
    if key is None or not notes.fetch(root):
        return None
    found, _ = notes.read_entry(root, sha, model)
    if found is None or not signatures.verify(key, found.signature, sha, model, found.record):
        return None
    return found.record


# --- check --all ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Checked:
    config: str  # the model's mlgate.yaml, a repository path
    result: CheckResult | None
    error: MlgateError | None = None

    @property
    def exit_code(self) -> int:
        if self.error is not None:
            return int(self.error.exit_code)
        assert self.result is not None
        return int(ExitCode.OK if self.result.passed else ExitCode.GATE_FAILED)


def check_all(
    cwd: str | os.PathLike[str],
    *,
    base: str | None = None,
    head: str | None = None,
    use_cache: bool = True,
    progress: Callable[[str], None] | None = None,
) -> list[Checked]:
    """``mlgate check --all``: every model's ``mlgate.yaml`` (those the root one lists, or
    every tracked one: run.plan.config_paths) checked in turn (unchanged models come from
    the run cache), each model's error kept beside the others' results."""
    repo = git.open_repo(cwd)
    files = git.files_at(repo, head)
    paths = config_paths(files)
    if not paths:
        raise UsageError("no mlgate.yaml is tracked in this repository; run `mlgate init`")
    checked = []
    for path in paths:
        say = (lambda text, name=path: progress(f"{name}: {text}")) if progress else None
        try:
            result = run_check(
                git.root(repo),
                base=base,
                head=head,
                config_path=path,
                use_cache=use_cache,
                progress=say,
            )
        except MlgateError as e:
            checked.append(Checked(path, None, e))
            continue
        checked.append(Checked(path, result))
    return checked
