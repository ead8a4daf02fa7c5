"""``mlgate monitor``'s result and rules: a batch of production inputs against the production
model's training data. Pure, and free of numpy (the statistics are ``core.driftstats``).

The result holds one drift comparison (the training data of the promoted version → the
batch, the same statistics as the PR report's drift section), the drift of the model's
predictions (on the training rows → on the batch, or the predictions ``mlgate serve``
logged), and, with labels, the live metrics next to those recorded at promotion. The rules
``monitor: {drift: {psi: {max: 0.25}}, metrics: {accuracy: {max_regression: 0.05}}}`` give
the checks; the batch is healthy when every check passes.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from mlgate.core import drift
from mlgate.core.drift import Comparison, DriftReport, DriftRule, FeatureDrift
from mlgate.core.gate import DRIFT_STATS, RULE_KINDS, Rule, RuleCheck, Verdict, evaluate
from mlgate.core.metrics import MetricDelta, direction

SCHEMA = "mlgate.monitor/1"
MARKER = "<!-- mlgate:monitor model={name} -->"
LABELS = ("at promotion", "live")  # the two sides in a metric rule's message
PREDICTION = "prediction"  # the name of the predictions' drift row

PredictionSource = Literal["model", "recorded"]


@dataclass(frozen=True)
class LiveMetric:
    """One metric: its value at promotion (lineage.json), on the labelled batch, its rule."""

    name: str
    promoted: float | None
    live: float | None
    rule: str = ""

    @property
    def delta(self) -> float | None:
        if self.promoted is None or self.live is None:
            return None
        return self.live - self.promoted

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "promoted": self.promoted,
            "live": self.live,
            "delta": self.delta,
            "direction": direction(self.name),
            "rule": self.rule,
        }


@dataclass(frozen=True)
class MonitorResult:
    model: str
    version: int
    tag: str
    production_commit: str
    source_commit: str
    batch: tuple[str, ...]  # the files read, as given (a directory's files one by one)
    drift: Comparison
    predictions: FeatureDrift | None
    prediction_source: PredictionSource | None
    thresholds: dict[str, float | None]
    labels: str | None = None
    metrics: tuple[LiveMetric, ...] = ()
    checks: tuple[RuleCheck, ...] = ()
    rule: DriftRule | None = None
    notes: tuple[str, ...] = field(default=())

    @property
    def healthy(self) -> bool:
        return Verdict(self.checks).passed

    @property
    def failed(self) -> tuple[RuleCheck, ...]:
        return Verdict(self.checks).failed

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema": SCHEMA,
            "model": self.model,
            "version": self.version,
            "tag": self.tag,
            "production_commit": self.production_commit,
            "source_commit": self.source_commit,
            "verdict": "healthy" if self.healthy else "unhealthy",
            "batch": list(self.batch),
            "rows": self.drift.rows[1],
            "training_rows": self.drift.rows[0],
            "thresholds": dict(self.thresholds),
            "rule": None if self.rule is None else self.rule.describe(),
            "drift": self.drift.to_dict(),
            "predictions": None if self.predictions is None else self.predictions.to_dict(),
            "prediction_source": self.prediction_source,
            "labels": self.labels,
            "metrics": [m.to_dict() for m in self.metrics],
            "checks": [_check_dict(c) for c in self.checks],
            "failed_rules": [c.message for c in self.failed],
            "notes": list(self.notes),
        }


def _check_dict(check: RuleCheck) -> dict[str, Any]:
    return {
        "metric": check.metric,
        "kind": check.kind,
        "limit": check.limit,
        "passed": check.passed,
        "skipped": check.skipped,
        "message": check.message,
    }


def judge(
    comparison: Comparison,
    predictions: FeatureDrift | None,
    live: Mapping[str, float] | None,
    promoted: Mapping[str, float],
    *,
    drift_rule: DriftRule | None,
    metric_rules: Mapping[str, Rule],
) -> tuple[Comparison, FeatureDrift | None, tuple[LiveMetric, ...], tuple[RuleCheck, ...]]:
    """The comparison and prediction drift flagged (the rule's limits, else PSI 0.2), the
    live metrics beside the promoted ones, and the checks of the rules: ``drift_rule`` on
    the batch's columns and on the predictions, ``metric_rules`` (gate semantics: the
    promoted value is the baseline) when there are live metrics (labels), else skipped."""
    limits = drift.thresholds(drift_rule)
    flagged = drift.flag(comparison.features, limits)
    comparison = Comparison(
        name=comparison.name,
        reference=comparison.reference,
        current=comparison.current,
        reference_path=comparison.reference_path,
        current_path=comparison.current_path,
        status=comparison.status,
        note=comparison.note,
        rows=comparison.rows,
        sampled=comparison.sampled,
        features=tuple(flagged),
    )
    if predictions is not None:
        predictions = drift.flag([predictions], limits)[0]
    checks = list(drift.checks(DriftReport((comparison,), limits, rule=drift_rule), drift_rule))
    if drift_rule is not None and predictions is not None:
        checks += _prediction_checks(predictions, drift_rule)
    rows: list[LiveMetric] = []
    if live is not None:
        names = list(dict.fromkeys([*live, *metric_rules]))
        rows = [
            LiveMetric(
                n,
                promoted.get(n),
                live.get(n),
                metric_rules[n].describe() if n in metric_rules else "",
            )
            for n in names
        ]
        deltas = [MetricDelta(r.name, r.promoted, r.live, direction(r.name)) for r in rows]
        checks += evaluate(metric_rules, deltas, labels=LABELS).checks
    else:
        checks += _skipped_metric_checks(metric_rules)
    return comparison, predictions, tuple(rows), tuple(checks)


def _prediction_checks(predictions: FeatureDrift, rule: DriftRule) -> list[RuleCheck]:
    found = []
    for stat in DRIFT_STATS:
        limit = rule.limit(stat)
        if limit is None:
            continue
        value = predictions.value(stat)
        over = value is not None and value > limit + 1e-12
        msg = (
            f"drift: the predictions' {stat.upper()} {value:.3g} (on the training data → on "
            f"the batch) is above the maximum {limit:g}"
            if over and value is not None
            else ""
        )
        found.append(RuleCheck(PREDICTION, stat, limit, not over, False, msg))
    return found


def _skipped_metric_checks(rules: Mapping[str, Rule]) -> list[RuleCheck]:
    found = []
    for metric, rule in rules.items():
        for kind in RULE_KINDS:
            limit = getattr(rule, kind)
            if limit is not None:
                msg = f"{metric}: no labels (--labels COLUMN), {kind} skipped"
                found.append(RuleCheck(metric, kind, float(limit), True, True, msg))
    return found


def marker(model: str) -> str:
    """The markdown's first line: the sticky issue of ``mlgate ci`` finds it by this."""
    return MARKER.format(name=re.sub(r"[^A-Za-z0-9._-]", "_", model))
