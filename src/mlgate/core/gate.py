"""The gate: metric deltas plus rules from ``mlgate.yaml`` give a verdict. Pure.

``min``/``max`` bound the head's value. ``max_regression`` bounds how much worse head may
be than base, in the metric's units, in the metric's worse direction (a drop for scores,
a rise for rmse/mae/mse/times/size); ``max_regression_pct`` bounds it relative to
``|base|``, in percent. Without a baseline only absolute rules apply, the others are
reported as skipped.

Noise-aware: when a row carries the bootstrap interval of its change, a regression rule
fails only when the worsening exceeds its tolerance **and** the interval excludes zero on
the worse side (the drop is distinguishable from noise). Without an interval, the point
comparison decides. Under ``model.repeats`` the interval is Welch's t-interval for the
change of the means, widened by the bootstrap's (core.repeats): the gate then compares the
two sides' distributions. ``min``/``max`` are always point rules (on the mean).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from mlgate.core.metrics import EPSILON, MetricDelta, is_missing

# A rule's ``confidence``: None inherits the gate's, False turns the bootstrap off for it.
Confidence = float | Literal[False] | None

RuleKind = Literal["min", "max", "max_regression", "max_regression_pct", "max_broken_pct"]
RULE_KINDS: tuple[RuleKind, ...] = ("min", "max", "max_regression", "max_regression_pct")
# The data-drift rule's statistics (core.drift): ``gate: {drift: {psi: {max: 0.2}}}``.
DriftStat = Literal["psi", "ks", "js"]
DRIFT_STATS: tuple[DriftStat, ...] = ("psi", "ks", "js")


@dataclass(frozen=True)
class Rule:
    min: float | None = None
    max: float | None = None
    max_regression: float | None = None
    max_regression_pct: float | None = None
    confidence: Confidence = None

    def describe(self) -> str:
        """Short human form for the report's "rule" column, e.g. ``≥ 0.85, drop ≤ 0.01``."""
        parts = []
        if self.min is not None:
            parts.append(f"≥ {self.min:g}")
        if self.max is not None:
            parts.append(f"≤ {self.max:g}")
        if self.max_regression is not None:
            parts.append(f"worse by ≤ {self.max_regression:g}")
        if self.max_regression_pct is not None:
            parts.append(f"worse by ≤ {self.max_regression_pct:g}%")
        return ", ".join(parts)


@dataclass(frozen=True)
class RuleCheck:
    metric: str
    kind: RuleKind | DriftStat
    limit: float
    passed: bool
    skipped: bool
    message: str
    # What noise says about this rule: a drop over the tolerance that passes as within
    # noise, or a test set too small to detect a drop of the rule's size.
    noise: str = ""


@dataclass(frozen=True)
class Verdict:
    checks: tuple[RuleCheck, ...]

    @property
    def passed(self) -> bool:
        return all(c.passed for c in self.checks)

    @property
    def failed(self) -> tuple[RuleCheck, ...]:
        return tuple(c for c in self.checks if not c.passed)

    def for_metric(self, metric: str) -> tuple[RuleCheck, ...]:
        return tuple(c for c in self.checks if c.metric == metric)

    @property
    def noise_notes(self) -> tuple[str, ...]:
        """What the bootstrap says about the rules: passes within noise, blind spots."""
        return tuple(c.noise for c in self.checks if c.noise)


def _fmt(value: float) -> str:
    return f"{value:.4g}" if abs(value) >= 1e-3 or value == 0 else f"{value:.3e}"


def _within(value: float, limit: float) -> bool:
    return value <= limit + EPSILON * max(1.0, abs(limit))


def _level(confidence: float) -> str:
    return f"{confidence * 100:g}%"


def _noise_verdict(row: MetricDelta, kind: RuleKind, limit: float, ok: bool, msg: str) -> RuleCheck:
    """A regression rule's check once the interval is weighed: a drop over the tolerance
    fails only beyond noise; and a tolerance smaller than the noise is said to be so."""
    noise, worse_side = row.noise, row.worse_side
    if noise is None or worse_side is None or row.worsening is None:
        return RuleCheck(row.name, kind, limit, ok, False, "" if ok else msg)
    assert row.base is not None
    pct = kind == "max_regression_pct"
    scale = 100.0 / abs(row.base) if pct and row.base != 0 else 1.0
    unit = "%" if pct else ""
    level, shown = _level(noise.confidence), f"± {_fmt(noise.half_width * scale)}{unit}"
    lines = []
    # How far the worse end of the interval reaches past the point: the smallest drop these
    # rows can tell from noise.
    reach = (worse_side[1] - row.worsening) * scale
    if reach > limit + EPSILON:
        what = "drop" if row.direction == "higher" else "rise"
        who = f"the {noise.rows:,} test rows" if noise.rows else ""
        if noise.repeats:
            who += f"{' and ' if who else ''}{noise.repeats} repeats"
        lines.append(
            f"{row.name}: {who} cannot detect a {what} of {limit:g}{unit} "
            f"at {level} (noise ± {_fmt(reach)}{unit})"
        )
    beyond = worse_side[0] > 0
    if not ok and not beyond:
        lines.insert(0, f"{msg}, but within noise at {level} ({shown}): passes")
        return RuleCheck(row.name, kind, limit, True, False, "", "; ".join(lines))
    message = "" if ok else f"{msg}, beyond noise at {level} ({shown})"
    return RuleCheck(row.name, kind, limit, ok, False, message, "; ".join(lines))


def _check(
    row: MetricDelta, kind: RuleKind, limit: float, labels: tuple[str, str] = ("base", "head")
) -> RuleCheck:
    name = row.name
    if is_missing(row.head):
        return RuleCheck(name, kind, limit, False, False, f"{name} has no value for head")
    assert row.head is not None
    if kind == "min":
        ok = _within(limit, row.head)
        msg = f"{name} {_fmt(row.head)} is below the minimum {limit:g}"
        return RuleCheck(name, kind, limit, ok, False, "" if ok else msg)
    if kind == "max":
        ok = _within(row.head, limit)
        msg = f"{name} {_fmt(row.head)} is above the maximum {limit:g}"
        return RuleCheck(name, kind, limit, ok, False, "" if ok else msg)
    worse = row.worsening
    if worse is None:
        return RuleCheck(name, kind, limit, True, True, f"{name}: no baseline, {kind} skipped")
    assert row.base is not None
    verb = "dropped" if row.direction == "higher" else "rose"
    span = f"({labels[0]} {_fmt(row.base)} → {labels[1]} {_fmt(row.head)})"
    if kind == "max_regression":
        ok = _within(worse, limit)
        msg = f"{name} {verb} by {_fmt(worse)} {span}, more than the allowed {limit:g}"
        return _noise_verdict(row, kind, limit, ok, msg)
    if row.base == 0:
        ok = worse <= EPSILON
        msg = f"{name} {verb} from 0 {span}; a relative limit of {limit:g}% allows no change"
        return RuleCheck(name, kind, limit, ok, False, "" if ok else msg)
    pct = worse / abs(row.base) * 100.0
    ok = _within(pct, limit)
    msg = f"{name} {verb} by {pct:.2f}% {span}, more than the allowed {limit:g}%"
    return _noise_verdict(row, kind, limit, ok, msg)


def evaluate(
    rules: Mapping[str, Rule],
    rows: Sequence[MetricDelta],
    *,
    labels: tuple[str, str] = ("base", "head"),
) -> Verdict:
    """Check every rule against its metric's row. A rule whose metric has no row fails.
    ``labels`` name the two sides in messages (promotion: the champion and the candidate)."""
    by_name = {row.name: row for row in rows}
    checks: list[RuleCheck] = []
    for metric, rule in rules.items():
        for kind in RULE_KINDS:
            limit = getattr(rule, kind)
            if limit is None:
                continue
            row = by_name.get(metric)
            if row is None:
                msg = f"{metric} was not measured"
                checks.append(RuleCheck(metric, kind, limit, False, False, msg))
            else:
                checks.append(_check(row, kind, float(limit), labels))
    return Verdict(tuple(checks))


def flips_check(limit: float, flips: Mapping[str, Any] | None, rows: int, why: str) -> RuleCheck:
    """``gate: {flips: {max_broken_pct}}``, a point rule: fails when the predictions that
    broke (right under base, wrong under head) exceed ``limit`` percent of the ``rows``
    both models were scored on. ``flips`` None (no paired predictions, ``why`` says why):
    skipped."""
    if flips is None:
        return RuleCheck("flips", "max_broken_pct", limit, True, True, f"flips: {why}, skipped")
    broken = int(flips["broken"])
    pct = broken / rows * 100.0 if rows else 0.0
    ok = _within(pct, limit)
    msg = (
        f"flips: {broken:,} of {rows:,} predictions broke (right under base, wrong under head): "
        f"{pct:.2f}%, more than the allowed {limit:g}%"
    )
    return RuleCheck("flips", "max_broken_pct", limit, ok, False, "" if ok else msg)
