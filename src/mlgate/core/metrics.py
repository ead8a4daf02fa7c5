"""Metric names, directions and the base-vs-head diff. Pure: no sklearn import here.

Every sklearn scorer is "higher is better" (that is why sklearn negates errors as
``neg_*``). The aliases ``rmse``, ``mae`` and ``mse`` are shown positive, so lower is
better. ``fit_time``, ``predict_time`` (seconds) and ``model_size`` (bytes) are always
recorded and may be gated too; lower is better.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

Direction = Literal["higher", "lower"]

ALIASES: dict[str, str] = {
    "rmse": "neg_root_mean_squared_error",
    "mae": "neg_mean_absolute_error",
    "mse": "neg_mean_squared_error",
}
RUNTIME_METRICS: dict[str, str] = {
    "fit_time": "s",
    "predict_time": "s",
    "model_size": "bytes",
}
LOWER_IS_BETTER = frozenset(ALIASES) | frozenset(RUNTIME_METRICS)

# Two values closer than this are "unchanged"; also the slack on gate limits, so that
# 0.86 - 0.85 (= 0.010000000000000009 in floating point) does not break a 0.01 limit.
EPSILON = 1e-9


def direction(name: str) -> Direction:
    return "lower" if name in LOWER_IS_BETTER else "higher"


def is_missing(value: float | None) -> bool:
    return value is None or math.isnan(value)


@dataclass(frozen=True)
class Noise:
    """The paired bootstrap's percentile interval for a metric's change (head − base):
    both models on the same resamples of the shared test rows (core.bootstrap)."""

    low: float
    high: float
    confidence: float  # e.g. 0.95
    resamples: int  # 0: no bootstrap (training noise only)
    rows: int  # test rows the interval speaks for
    repeats: int = 0  # > 0: widened by the spread of this many training repeats (core.repeats)

    @property
    def half_width(self) -> float:
        return (self.high - self.low) / 2

    @property
    def contains_zero(self) -> bool:
        return self.low <= 0 <= self.high

    def to_dict(self) -> dict[str, Any]:
        return {
            "low": self.low,
            "high": self.high,
            "confidence": self.confidence,
            "resamples": self.resamples,
            "rows": self.rows,
            **({"repeats": self.repeats} if self.repeats else {}),
        }

    @classmethod
    def from_dict(cls, doc: Mapping[str, Any]) -> Noise:
        return cls(
            float(doc["low"]),
            float(doc["high"]),
            float(doc["confidence"]),
            int(doc["resamples"]),
            int(doc["rows"]),
            int(doc.get("repeats", 0)),
        )


@dataclass(frozen=True)
class Spread:
    """One metric's values over a side's repeats."""

    values: tuple[float, ...]

    @property
    def n(self) -> int:
        return len(self.values)

    @property
    def mean(self) -> float:
        return math.fsum(self.values) / len(self.values)

    @property
    def std(self) -> float:
        """The sample standard deviation (n - 1); 0 for a single value."""
        if len(self.values) < 2:
            return 0.0
        mean = self.mean
        return math.sqrt(math.fsum((v - mean) ** 2 for v in self.values) / (len(self.values) - 1))


@dataclass(frozen=True)
class MetricDelta:
    """One metric, base against head. ``better`` is None when unchanged or not comparable.
    ``noise``: the bootstrap interval of the change, when both models' predictions on the
    same rows were at hand (widened by training noise under ``model.repeats``)."""

    name: str
    base: float | None
    head: float | None
    direction: Direction
    noise: Noise | None = None
    # ``model.repeats``: the base's (None: no baseline) and the head's values per repeat.
    spread: tuple[Spread | None, Spread] | None = None

    @property
    def delta(self) -> float | None:
        if is_missing(self.base) or is_missing(self.head):
            return None
        assert self.base is not None and self.head is not None
        return self.head - self.base

    @property
    def delta_pct(self) -> float | None:
        delta = self.delta
        if delta is None or self.base == 0:
            return None
        assert self.base is not None
        return delta / abs(self.base) * 100.0

    @property
    def worsening(self) -> float | None:
        """How much worse head is than base, in the metric's units (negative: it improved)."""
        delta = self.delta
        if delta is None:
            return None
        return -delta if self.direction == "higher" else delta

    @property
    def worse_side(self) -> tuple[float, float] | None:
        """The interval in worsening units (positive: worse), low end first."""
        if self.noise is None:
            return None
        low, high = self.noise.low, self.noise.high
        return (-high, -low) if self.direction == "higher" else (low, high)

    @property
    def noise_label(self) -> str | None:
        """ "within noise" when the interval of the change contains zero, else "beyond noise"."""
        if self.noise is None or self.delta is None:
            return None
        return "within noise" if self.noise.contains_zero else "beyond noise"

    @property
    def better(self) -> bool | None:
        worse = self.worsening
        if worse is None or abs(worse) <= EPSILON * max(1.0, abs(self.base or 0.0)):
            return None
        return worse < 0


def diff_metrics(
    base: Mapping[str, float] | None,
    head: Mapping[str, float],
    names: Sequence[str],
    *,
    direction: Callable[[str], Direction] = direction,
) -> list[MetricDelta]:
    """The rows of the metrics table, in ``names`` order. ``base`` is None without a baseline."""
    return [
        MetricDelta(
            name=name,
            base=None if base is None else base.get(name),
            head=head.get(name),
            direction=direction(name),
        )
        for name in names
    ]


def flatten(params: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested names as dotted ones: ``{a: {b: 1}}`` -> ``{a.b: 1}`` (params diffs, a
    command's metrics file, MLflow params)."""
    flat: dict[str, Any] = {}
    for key, value in params.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            flat.update(flatten(value, f"{name}."))
        else:
            flat[name] = value
    return flat
