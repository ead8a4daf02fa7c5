"""Results: what a check found (``CheckResult``, for the report) and what a promotion or
rollback did (``Outcome``). Plain frozen dataclasses, JSON-ready.

``CheckResult.to_dict()`` is the ``--format json`` document; its JSON Schema is
``schema/report.schema.json``. ``SideResult.document()`` is a side's run record
(``schema/run.schema.json``). Fields may be added, never renamed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from mlgate.core.drift import DriftReport
from mlgate.core.gate import Rule, RuleCheck, Verdict
from mlgate.core.metrics import MetricDelta, Spread
from mlgate.core.record import Cluster


@dataclass(frozen=True)
class DataSummary:
    """What is known about one data file on one side, without downloading it when possible."""

    path: str  # repo-relative path of the data file (not the .ptr)
    sha256: str
    size: int
    rows: int | None = None
    columns: dict[str, str] | None = None  # name -> dtype, in file order
    source: Literal["pointer", "git", "worktree", "dvc"] = "pointer"
    md5: str | None = None  # a DVC-tracked file's md5, as its .dvc or dvc.lock names it

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "sha256": self.sha256,
            "size": self.size,
            "rows": self.rows,
            "columns": self.columns,
            "source": self.source,
            "md5": self.md5,
        }


@dataclass(frozen=True)
class DataChange:
    path: str
    status: Literal["added", "removed", "modified", "unchanged"]
    old: DataSummary | None
    new: DataSummary | None
    columns_added: tuple[str, ...] = ()
    columns_removed: tuple[str, ...] = ()
    columns_retyped: tuple[tuple[str, str, str], ...] = ()  # (name, old dtype, new dtype)

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "status": self.status,
            "old": None if self.old is None else self.old.to_dict(),
            "new": None if self.new is None else self.new.to_dict(),
            "columns_added": list(self.columns_added),
            "columns_removed": list(self.columns_removed),
            "columns_retyped": [
                {"name": n, "old": o, "new": w} for n, o, w in self.columns_retyped
            ],
        }


@dataclass(frozen=True)
class ParamChange:
    name: str
    status: Literal["added", "removed", "changed"]
    base: Any = None
    head: Any = None

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "status": self.status, "base": self.base, "head": self.head}


@dataclass(frozen=True)
class BaseChoice:
    """Which commit the base is and why: every report names it, so a surprising baseline
    (a stale ``origin/main``, a merge-base far back) is seen, not guessed at."""

    ref: str  # as the user named it (``--base v1.2``) or as resolved (``main``)
    sha: str
    reason: str  # "merge-base of HEAD and main", "--base v1.2", "the working tree's HEAD"

    def to_dict(self) -> dict[str, Any]:
        return {"ref": self.ref, "sha": self.sha, "reason": self.reason}


@dataclass(frozen=True)
class CodeChange:
    """A code file the run-cache digest covers that differs between base and head."""

    path: str
    status: Literal["added", "removed", "modified"]

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.path, "status": self.status}


@dataclass(frozen=True)
class Interpreter:
    """The Python that command mode puts first on the command's ``PATH``: mlgate's own."""

    executable: str
    version: str

    def to_dict(self) -> dict[str, Any]:
        return {"executable": self.executable, "version": self.version}


@dataclass(frozen=True)
class SideResult:
    """One side of the comparison (base or head): where it came from and what it measured."""

    label: Literal["base", "head"]
    ref: str  # what the user asked for: a rev, or "working tree"
    sha: str | None  # commit sha; for the working tree, the commit it sits on
    metrics: dict[str, float]  # on this side's own evaluation data
    params: dict[str, Any]
    estimator: str
    data: dict[str, DataSummary]  # keyed by role: "train", "test"
    dirty: tuple[str, ...] = ()  # uncommitted paths, for a working-tree head
    cached: bool = False
    fit_seconds: float | None = None
    predict_seconds: float | None = None
    model_size: int | None = None
    duration_seconds: float | None = None
    versions: dict[str, str] = field(default_factory=dict)
    record_path: str | None = None
    digest: str | None = None  # the run-cache key of its inputs (in its run record)
    repeats: dict[str, tuple[float, ...]] = field(default_factory=dict)  # model.repeats
    unseeded: tuple[str, ...] = ()  # estimator params left random (random_state None)
    cluster: Cluster | None = None  # the Dask cluster it trained on; None: this machine

    def to_dict(self) -> dict[str, Any]:
        return {
            "ref": self.ref,
            "sha": self.sha,
            "dirty": list(self.dirty),
            "cached": self.cached,
            "estimator": self.estimator,
            "metrics": self.metrics,
            "params": self.params,
            "data": {role: d.to_dict() for role, d in self.data.items()},
            "fit_seconds": self.fit_seconds,
            "predict_seconds": self.predict_seconds,
            "model_size": self.model_size,
            "duration_seconds": self.duration_seconds,
            "versions": self.versions,
            "record_path": self.record_path,
            "repeats": {k: list(v) for k, v in self.repeats.items()},
            "unseeded": list(self.unseeded),
            "cluster": None if self.cluster is None else self.cluster.to_dict(),
        }

    def document(self, model: str, config: dict[str, Any], digest: str | None) -> dict[str, Any]:
        """This side's run record (schema/run.schema.json): a file per check, a git note."""
        record = {
            "schema": "mlgate/run@1",
            "model": model,
            "side": self.label,
            "config": config,
            "digest": digest,
            **self.to_dict(),
        }
        record.pop("record_path", None)
        return record


@dataclass(frozen=True)
class UserTemplate:
    """A report template from the user's repo (``report.template``): name for messages."""

    name: str
    source: str


@dataclass(frozen=True)
class CheckResult:
    model: str
    task: str
    base: SideResult | None  # None: "no baseline" (the base has no mlgate.yaml)
    head: SideResult
    rows: tuple[MetricDelta, ...]  # the compared rows (same data when comparison == same-data)
    rules: dict[str, Rule]
    verdict: Verdict
    comparison: Literal["same-data", "own-data", "no-baseline"]
    comparison_note: str = ""  # own-data: who measured each side's figures, and on what rows
    base_on_head_data: dict[str, float] | None = None  # base model scored on head's test rows
    same_data_metrics: tuple[str, ...] = ()  # the metrics mlgate scored for both on one set of rows
    params_diff: tuple[ParamChange, ...] = ()
    data_diff: tuple[DataChange, ...] = ()
    notes: tuple[str, ...] = ()  # other things the reader must know (e.g. uncommitted changes)
    report_template: UserTemplate | None = None  # head's report.template; not in the JSON
    base_choice: BaseChoice | None = None  # which commit the base is and why
    config: str = "mlgate.yaml"  # the config file compared (repository path)
    mode: Literal["estimator", "command"] = "estimator"  # head's: what fit_seconds timed
    code_diff: tuple[CodeChange, ...] | None = None  # None: no baseline to compare with
    interpreter: Interpreter | None = None  # command mode: the Python first on PATH
    drift: DriftReport | None = None  # data drift (core.drift); None: drift.enabled false
    # Where the model changed (core.changes), on the same rows only; None otherwise.
    changes: Mapping[str, Any] | None = None

    @property
    def passed(self) -> bool:
        return self.verdict.passed

    def rule_for(self, metric: str) -> Rule | None:
        return self.rules.get(metric)

    def checks_for(self, metric: str) -> tuple[RuleCheck, ...]:
        return self.verdict.for_metric(metric)

    def to_dict(self) -> dict[str, Any]:
        from mlgate import __version__

        gated = verdict_fields(self.rows, self.rules, self.verdict)
        return {
            "mlgate_version": __version__,
            "model": self.model,
            "task": self.task,
            "verdict": gated["verdict"],
            "comparison": self.comparison,
            "comparison_note": self.comparison_note,
            "base": None if self.base is None else self.base.to_dict(),
            "head": self.head.to_dict(),
            "base_on_head_data": self.base_on_head_data,
            "same_data_metrics": list(self.same_data_metrics),
            "metrics": gated["metrics"],
            "params_diff": [p.to_dict() for p in self.params_diff],
            "data_diff": [d.to_dict() for d in self.data_diff],
            "failed_rules": gated["failed_rules"],
            "skipped_rules": gated["skipped_rules"],
            "notes": list(self.notes),
            "base_choice": None if self.base_choice is None else self.base_choice.to_dict(),
            "config": self.config,
            "mode": self.mode,
            "code_diff": None if self.code_diff is None else _code_diff(self.code_diff),
            "interpreter": None if self.interpreter is None else self.interpreter.to_dict(),
            "drift": None if self.drift is None else self.drift.to_dict(),
            "changes": None if self.changes is None else dict(self.changes),
        }


CODE_FILES_LISTED = 100  # code changes a result lists (its total counts them all)


def _code_diff(changes: Sequence[CodeChange]) -> dict[str, Any]:
    """Capped: a PR that vendors a library must not make a result too big to publish."""
    return {
        "total": len(changes),
        "files": [c.to_dict() for c in changes[:CODE_FILES_LISTED]],
    }


def verdict_fields(
    rows: Sequence[MetricDelta], rules: Mapping[str, Rule], verdict: Verdict
) -> dict[str, Any]:
    """The report fields the gate decides: ``verdict``, ``metrics`` (each row's rule and
    whether it passed), ``failed_rules`` and ``skipped_rules``. Shared by a check's report
    and by `mlgate publish`, which recomputes them for a fork's result."""

    def row(r: MetricDelta) -> dict[str, Any]:
        active = [c for c in verdict.for_metric(r.name) if not c.skipped]
        rule = rules.get(r.name)
        return {
            "name": r.name,
            "base": r.base,
            "head": r.head,
            "delta": r.delta,
            "delta_pct": r.delta_pct,
            "direction": r.direction,
            "better": r.better,
            "rule": rule.describe() if rule else None,
            "passed": None if not active else all(c.passed for c in active),
            "interval": None if r.noise is None else r.noise.to_dict(),
            "noise": r.noise_label,
            "spread": _spread(r),
        }

    def check(c: RuleCheck) -> dict[str, Any]:
        return {"metric": c.metric, "rule": c.kind, "limit": c.limit, "message": c.message}

    return {
        "verdict": "pass" if verdict.passed else "fail",
        "metrics": [row(r) for r in rows],
        "failed_rules": [check(c) for c in verdict.failed],
        "skipped_rules": [check(c) for c in verdict.checks if c.skipped],
    }


def _spread(row: MetricDelta) -> dict[str, Any] | None:
    if row.spread is None:
        return None

    def side(found: Spread | None) -> dict[str, Any] | None:
        return None if found is None else {"mean": found.mean, "std": found.std, "n": found.n}

    return {"base": side(row.spread[0]), "head": side(row.spread[1])}


@dataclass(frozen=True)
class Outcome:
    """What a promotion or rollback did (or would do, with ``dry_run``)."""

    model: str
    promoted: bool
    version: int | None = None
    tag: str | None = None
    commit: str | None = None
    pushed: bool = False
    dry_run: bool = False
    champion_version: int | None = None
    reasons: tuple[str, ...] = ()  # why it was refused
    notes: tuple[str, ...] = ()
    # What the candidate was held to: the production model scored by mlgate on the
    # candidate's rows ("same-data"), or, for some metrics, its recorded metrics.
    comparison: Literal["same-data", "recorded", "no-baseline"] = "no-baseline"
    comparison_note: str = ""  # the sentence saying so, printed before the verdict
    recorded_metrics: tuple[str, ...] = ()  # held to the champion's recorded values
    rows: tuple[MetricDelta, ...] = ()
    verdict: Verdict = field(default_factory=lambda: Verdict(()))
    card: str | None = None
    attempts: int = 1
    run: dict[str, Any] | None = None  # the candidate's run@1 document (for a git note)
    rollback_of: int | None = None  # a rollback: the version made current again
    # Committed, but deliberately not pushed to the remote (``--no-push``).
    kept_local: bool = False
    # The headline metric across production versions, oldest first, ending with the
    # candidate: (label, value) pairs such as ("v3", 0.91), ("head", 0.93); for the charts.
    trend_metric: str | None = None
    trend: tuple[tuple[str, float | None], ...] = ()


def summary_lines(outcome: Outcome) -> list[str]:
    """What a promotion or rollback did, for the terminal and the CI log."""
    lines = [f"note: {n}" for n in outcome.notes]
    if outcome.comparison_note:
        lines.append(f"mlgate: {outcome.comparison_note}")
    if outcome.reasons:
        lines.append(f"mlgate: {outcome.model} was not promoted (nothing was written):")
        lines += [f"  ✗ {r}" for r in outcome.reasons]
    elif outcome.dry_run:
        lines.append(
            f"mlgate: dry run: {outcome.model} would become v{outcome.version} ({outcome.tag})"
        )
    elif outcome.commit is None:
        lines.append(f"mlgate: nothing to promote for {outcome.model}")
    else:
        where = "pushed to origin" if outcome.pushed else "local only"
        how = (
            "promoted" if outcome.rollback_of is None else f"rolled back to v{outcome.rollback_of}"
        )
        lines.append(
            f"mlgate: {outcome.model} {how} as v{outcome.version}: tag {outcome.tag}, "
            f"commit {outcome.commit[:7]} ({where})"
        )
    return lines
