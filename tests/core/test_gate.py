"""The gate and diff arithmetic: examples a user would check, plus properties."""

from __future__ import annotations

import math

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from mlgate.core.gate import Rule, evaluate
from mlgate.core.metrics import MetricDelta, diff_metrics, direction

finite = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False, allow_infinity=False)
limits = st.floats(min_value=0, max_value=1e3, allow_nan=False)


def row(name: str, base: float | None, head: float | None) -> MetricDelta:
    return diff_metrics(None if base is None else {name: base}, {name: head}, [name])[0]  # type: ignore[dict-item]


def test_direction_of_scores_and_error_aliases() -> None:
    assert direction("accuracy") == "higher"
    assert direction("neg_mean_squared_error") == "higher"
    assert [direction(m) for m in ("rmse", "mae", "mse", "fit_time", "model_size")] == ["lower"] * 5


def test_accuracy_drop_within_and_beyond_allowed_regression() -> None:
    rules = {"accuracy": Rule(min=0.85, max_regression=0.01)}
    ok = evaluate(rules, [row("accuracy", 0.86, 0.85)])  # 0.86-0.85 is 0.0100000000000000089
    assert ok.passed
    bad = evaluate(rules, [row("accuracy", 0.90, 0.87)])
    assert not bad.passed
    assert [c.message for c in bad.failed] == [
        "accuracy dropped by 0.03 (base 0.9 → head 0.87), more than the allowed 0.01"
    ]


def test_min_floor_fails_even_when_improving() -> None:
    verdict = evaluate({"accuracy": Rule(min=0.85)}, [row("accuracy", 0.70, 0.80)])
    assert [c.message for c in verdict.failed] == ["accuracy 0.8 is below the minimum 0.85"]


def test_rmse_rise_is_a_regression_and_drop_is_not() -> None:
    rules = {"rmse": Rule(max_regression_pct=5.0)}
    assert evaluate(rules, [row("rmse", 10.0, 10.4)]).passed
    verdict = evaluate(rules, [row("rmse", 10.0, 11.0)])
    assert [c.message for c in verdict.failed] == [
        "rmse rose by 10.00% (base 10 → head 11), more than the allowed 5%"
    ]
    assert evaluate(rules, [row("rmse", 10.0, 2.0)]).passed
    assert row("rmse", 10.0, 2.0).better is True


def test_no_baseline_skips_relative_rules_but_keeps_absolute() -> None:
    rules = {"accuracy": Rule(min=0.9, max_regression=0.0)}
    verdict = evaluate(rules, [row("accuracy", None, 0.95)])
    assert verdict.passed
    assert [(c.kind, c.skipped) for c in verdict.checks] == [
        ("min", False),
        ("max_regression", True),
    ]
    assert not evaluate(rules, [row("accuracy", None, 0.5)]).passed


def test_nan_or_unmeasured_metric_fails_its_rule() -> None:
    assert not evaluate({"r2": Rule(min=0.1)}, [row("r2", 0.5, math.nan)]).passed
    verdict = evaluate({"f1_macro": Rule(min=0.1)}, [row("accuracy", 0.5, 0.6)])
    assert [c.message for c in verdict.failed] == ["f1_macro was not measured"]


def test_relative_rule_against_zero_base_allows_no_worsening() -> None:
    rules = {"mae": Rule(max_regression_pct=50.0)}
    assert evaluate(rules, [row("mae", 0.0, 0.0)]).passed
    assert not evaluate(rules, [row("mae", 0.0, 0.1)]).passed


@given(base=finite, head=finite)
def test_delta_is_head_minus_base_and_pct_relative_to_abs_base(base: float, head: float) -> None:
    r = row("accuracy", base, head)
    assert r.delta == head - base
    if base == 0:
        assert r.delta_pct is None
    else:
        assert r.delta_pct == pytest.approx((head - base) / abs(base) * 100)


@given(name=st.sampled_from(["accuracy", "r2", "rmse", "mae"]), base=finite, head=finite)
def test_better_agrees_with_direction(name: str, base: float, head: float) -> None:
    assume(abs(head - base) > 1e-6 * max(1.0, abs(base)))
    r = row(name, base, head)
    improved = head > base if direction(name) == "higher" else head < base
    assert r.better is improved


@given(name=st.sampled_from(["accuracy", "rmse"]), base=finite, head=finite, limit=limits)
def test_max_regression_passes_iff_worsening_within_limit(
    name: str, base: float, head: float, limit: float
) -> None:
    worse = (base - head) if direction(name) == "higher" else (head - base)
    assume(abs(worse - limit) > 1e-6 * max(1.0, limit))  # away from the tolerance band
    verdict = evaluate({name: Rule(max_regression=limit)}, [row(name, base, head)])
    assert verdict.passed is (worse <= limit)


@given(base=finite, head=finite, limit=limits)
def test_max_regression_pct_passes_iff_relative_drop_within_limit(
    base: float, head: float, limit: float
) -> None:
    assume(base != 0)
    pct = (base - head) / abs(base) * 100
    assume(abs(pct - limit) > 1e-6 * max(1.0, limit))
    verdict = evaluate({"f1_macro": Rule(max_regression_pct=limit)}, [row("f1_macro", base, head)])
    assert verdict.passed is (pct <= limit)


@given(head=finite, lo=finite, hi=finite)
def test_min_max_bounds(head: float, lo: float, hi: float) -> None:
    assume(lo <= hi and min(abs(head - lo), abs(head - hi)) > 1e-6 * max(1.0, abs(head)))
    verdict = evaluate({"r2": Rule(min=lo, max=hi)}, [row("r2", None, head)])
    assert verdict.passed is (lo <= head <= hi)


def test_rule_describe() -> None:
    assert Rule(min=0.85, max_regression=0.01).describe() == "≥ 0.85, worse by ≤ 0.01"
    assert Rule(max_regression_pct=2.0).describe() == "worse by ≤ 2%"
