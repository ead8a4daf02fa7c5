"""Training noise, the pure part: the t quantile against scipy's, Welch's interval against
scipy's t-test, and how repeats widen the bootstrap's interval."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from mlgate.core.gate import Rule, evaluate
from mlgate.core.metrics import MetricDelta, Noise, Spread
from mlgate.core.repeats import attach, combine, t_quantile, two_sided_cdf, welch_half_width


@pytest.mark.parametrize("df", [1, 2, 3, 4, 5, 7, 10, 19, 38])
@pytest.mark.parametrize("confidence", [0.8, 0.9, 0.95, 0.99])
def test_t_quantile_matches_scipy(df: int, confidence: float) -> None:
    expected = stats.t.ppf((1 + confidence) / 2, df)
    assert t_quantile(confidence, df) == pytest.approx(expected, rel=1e-9)


@given(st.floats(0.0, 50.0), st.integers(1, 40))
@settings(max_examples=200, deadline=None)
def test_two_sided_cdf_matches_scipy(t: float, df: int) -> None:
    assert two_sided_cdf(t, df) == pytest.approx(1 - 2 * stats.t.sf(t, df), abs=1e-9)


def test_fractional_degrees_of_freedom_round_down_to_a_wider_interval() -> None:
    assert t_quantile(0.95, 3.7) == pytest.approx(stats.t.ppf(0.975, 3))
    assert t_quantile(0.95, 3.7) > stats.t.ppf(0.975, 3.7)


def test_welch_interval_matches_scipy_ttest_when_degrees_of_freedom_are_whole() -> None:
    # Equal sizes and spreads: Welch's degrees of freedom are exactly 2n - 2.
    base = Spread((0.81, 0.83, 0.85))
    head = Spread((0.84, 0.86, 0.88))
    half = welch_half_width(base, head, 0.95)
    test = stats.ttest_ind(head.values, base.values, equal_var=False)
    low, high = test.confidence_interval(0.95)
    assert half == pytest.approx((high - low) / 2)


def test_a_side_run_once_borrows_the_other_sides_spread() -> None:
    base, head = Spread((0.84,)), Spread((0.80, 0.82, 0.84))
    se = head.std * math.sqrt(1 / 1 + 1 / 3)
    assert welch_half_width(base, head, 0.95) == pytest.approx(stats.t.ppf(0.975, 2) * se)
    assert welch_half_width(Spread((1.0,)), Spread((2.0,)), 0.95) is None
    # A given model (promotion's champion) has no training noise: a one-sample interval.
    fixed = welch_half_width(base, head, 0.95, fixed_base=True)
    assert fixed == pytest.approx(stats.t.ppf(0.975, 2) * head.std / math.sqrt(3))


def test_combine_means_per_metric_in_repeat_order() -> None:
    means, values = combine([{"a": 1.0, "b": 2.0}, {"a": 3.0, "b": 2.0}, {"a": 5.0}])
    assert values == {"a": [1.0, 3.0, 5.0], "b": [2.0, 2.0]}
    assert means == {"a": 3.0, "b": 2.0}


def row(base: float, head: float, noise: Noise | None = None) -> MetricDelta:
    return MetricDelta("accuracy", base, head, "higher", noise)


def test_repeats_widen_the_bootstrap_in_quadrature() -> None:
    boot = Noise(-0.03, 0.01, 0.95, 1000, 120)
    base, head = (0.80, 0.82, 0.84), (0.79, 0.80, 0.81)
    (out,) = attach(
        [row(0.82, 0.80, boot)], {"accuracy": base}, {"accuracy": head}, {"accuracy": 0.95}
    )
    half = welch_half_width(Spread(base), Spread(head), 0.95)
    assert half is not None
    assert out.noise is not None and out.noise.repeats == 3 and out.noise.rows == 120
    assert out.noise.half_width == pytest.approx(math.hypot(half, 0.02))
    assert (out.noise.low + out.noise.high) / 2 == pytest.approx(-0.02)  # the means' change
    assert out.spread == (Spread(base), Spread(head))


def test_training_noise_lets_a_drop_inside_the_spread_pass_and_a_real_one_fail() -> None:
    rule = {"accuracy": Rule(max_regression=0.01)}
    noisy = {"accuracy": (0.80, 0.85, 0.83)}, {"accuracy": (0.84, 0.79, 0.82)}
    (within,) = attach([row(0.8267, 0.8167)], *noisy, {"accuracy": 0.95})
    assert (
        within.noise is not None
        and within.noise.resamples == 0
        and within.noise_label == "within noise"
    )
    assert evaluate(rule, [within]).passed
    tight = {"accuracy": (0.850, 0.851, 0.849)}, {"accuracy": (0.800, 0.801, 0.799)}
    (real,) = attach([row(0.85, 0.80)], *tight, {"accuracy": 0.95})
    verdict = evaluate(rule, [real])
    assert not verdict.passed and "beyond noise" in verdict.failed[0].message


def test_confidence_off_keeps_the_spread_but_a_point_comparison() -> None:
    (out,) = attach(
        [row(0.83, 0.80)],
        {"accuracy": (0.80, 0.86)},
        {"accuracy": (0.79, 0.81)},
        {"accuracy": None},
    )
    assert out.noise is None and out.spread is not None
    assert not evaluate({"accuracy": Rule(max_regression=0.01)}, [out]).passed


def test_rows_without_repeats_are_left_alone() -> None:
    original = row(0.8, 0.8)
    assert attach([original], {}, {}, {"accuracy": 0.95}) == (original,)
