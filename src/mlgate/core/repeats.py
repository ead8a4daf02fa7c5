"""Training noise: a side trained ``model.repeats`` times, and the test of two such sides.

Each repeat gives every metric one value; the report shows their mean ± standard deviation.
The gate's interval for a change is Welch's t-interval for the difference of the two means
(each side's spread from its own repeats; a side run once borrows the other side's), and
when the paired bootstrap also gave an interval (test-row noise), the two half-widths add
in quadrature: training noise and test-row noise are independent. Pure: no numpy, no
scipy; the t quantile comes from the closed form of Student's t for whole degrees of
freedom (Abramowitz & Stegun 26.7.3-4), rounded down: a slightly wider, never narrower,
interval than the fractional Welch degrees of freedom give.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import replace

from mlgate.core.metrics import MetricDelta, Noise, Spread

MAX_REPEATS = 20


def combine(runs: Sequence[Mapping[str, float]]) -> tuple[dict[str, float], dict[str, list[float]]]:
    """The repeats' metrics as one side's: each metric's mean (over the repeats that have
    it), and every repeat's value, in repeat order."""
    names = list(dict.fromkeys(name for run in runs for name in run))
    values = {name: [float(run[name]) for run in runs if name in run] for name in names}
    return {name: Spread(tuple(v)).mean for name, v in values.items()}, values


def two_sided_cdf(t: float, df: int) -> float:
    """P(|T| < t) for Student's t with ``df`` (a whole number >= 1) degrees of freedom."""
    theta = math.atan(t / math.sqrt(df))
    cos2, sin = math.cos(theta) ** 2, math.sin(theta)
    if df % 2 == 1:
        if df == 1:
            return 2 * theta / math.pi
        term, total = math.cos(theta), math.cos(theta)
        for k in range(3, df - 1, 2):  # cos θ (1 + 2/3 cos²θ + 2·4/(3·5) cos⁴θ + …)
            term *= cos2 * (k - 1) / k
            total += term
        return 2 / math.pi * (theta + sin * total)
    term = total = 1.0
    for k in range(2, df - 1, 2):  # 1 + 1/2 cos²θ + 1·3/(2·4) cos⁴θ + …
        term *= cos2 * (k - 1) / k
        total += term
    return sin * total


def t_quantile(confidence: float, df: float) -> float:
    """The t with P(|T| < t) = ``confidence``, for ``df`` degrees of freedom rounded down
    (at least 1). Bisection on the closed form: 60 halvings reach double precision."""
    whole = max(1, math.floor(df + 1e-9))
    low, high = 0.0, 1.0
    while two_sided_cdf(high, whole) < confidence:
        high *= 2
    for _ in range(60):
        mid = (low + high) / 2
        low, high = (mid, high) if two_sided_cdf(mid, whole) < confidence else (low, mid)
    return (low + high) / 2


def welch_half_width(
    base: Spread, head: Spread, confidence: float, *, fixed_base: bool = False
) -> float | None:
    """Half the width of the t-interval for mean(head) - mean(base); None when neither side
    has two values (no spread to learn from). A side run once borrows the other's variance
    (it was one draw of its own training) unless ``fixed_base``: a base that is one given
    model (the production model a candidate is held to) has no training noise."""
    if base.n < 2 and head.n < 2:
        return None
    var_b = base.std**2 if base.n >= 2 else 0.0 if fixed_base else head.std**2
    var_h = head.std**2 if head.n >= 2 else base.std**2
    se_b, se_h = var_b / base.n, var_h / head.n
    se2 = se_b + se_h
    if se2 == 0:
        return 0.0
    if base.n >= 2 and head.n >= 2:  # Welch-Satterthwaite
        df = se2**2 / (se_b**2 / (base.n - 1) + se_h**2 / (head.n - 1))
    else:
        df = max(base.n, head.n) - 1
    return t_quantile(confidence, df) * math.sqrt(se2)


def attach(
    rows: Sequence[MetricDelta],
    base: Mapping[str, Sequence[float]],
    head: Mapping[str, Sequence[float]],
    levels: Mapping[str, float | None],
    *,
    fixed_base: bool = False,
) -> tuple[MetricDelta, ...]:
    """``rows`` with their repeats' spreads, and, for metrics weighed at a confidence
    (``levels``), their interval widened by the training noise. ``base``/``head``: each
    metric's value per repeat (a metric missing on a side: that side ran it once);
    ``fixed_base``: the base is one given model (promotion's champion)."""
    out = []
    for row in rows:
        b = Spread(tuple(base.get(row.name) or ([] if row.base is None else [row.base])))
        h = Spread(tuple(head.get(row.name) or ([] if row.head is None else [row.head])))
        if b.n < 2 and h.n < 2:
            out.append(row)
            continue
        row = replace(row, spread=(b if b.n else None, h))
        level = levels.get(row.name)
        delta = row.delta
        half = None
        if level is not None and b.n and delta is not None:
            half = welch_half_width(b, h, level, fixed_base=fixed_base)
        if half is not None and delta is not None and level is not None:
            row = replace(row, noise=_widened(row.noise, delta, half, level, max(b.n, h.n)))
        out.append(row)
    return tuple(out)


def _widened(boot: Noise | None, delta: float, half: float, level: float, repeats: int) -> Noise:
    """The change's interval with training noise: centred on the change of the means, its
    half-width the t-interval's and the bootstrap's (if any) in quadrature."""
    if boot is None:
        return Noise(delta - half, delta + half, level, 0, 0, repeats)
    total = math.hypot(half, boot.half_width)
    return Noise(delta - total, delta + total, level, boot.resamples, boot.rows, repeats)
