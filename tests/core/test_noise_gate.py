"""The noise-aware gate: regression rules fail only beyond noise, absolute rules never look
at it; and the config keys that set it (gate.confidence, gate.resamples, a rule's own)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from mlgate.core import config
from mlgate.core.gate import Rule, evaluate
from mlgate.core.metrics import MetricDelta, Noise, diff_metrics
from mlgate.errors import ConfigError

GATE = """\
gate:
  accuracy: {min: 0.85, max_regression: 0.01}   # absolute floor; allowed drop vs baseline
"""
CONFIG = """\
version: 1
model: {name: churn, task: classification, estimator: sklearn.ensemble.RandomForestClassifier}
data: {train: data/train.csv, test: data/test.csv, target: label}
metrics: [accuracy, f1_macro]
"""


def noisy(name: str, base: float, head: float, low: float, high: float) -> MetricDelta:
    row = diff_metrics({name: base}, {name: head}, [name])[0]
    return replace(row, noise=Noise(low, high, 0.95, 1000, 569))


def test_a_drop_over_the_tolerance_within_noise_passes_and_says_why() -> None:
    rules = {"accuracy": Rule(max_regression=0.01)}
    verdict = evaluate(rules, [noisy("accuracy", 0.90, 0.88, -0.05, 0.01)])
    assert verdict.passed
    assert verdict.noise_notes == (
        "accuracy dropped by 0.02 (base 0.9 → head 0.88), more than the allowed 0.01, but "
        "within noise at 95% (± 0.03): passes; accuracy: the 569 test rows cannot detect a "
        "drop of 0.01 at 95% (noise ± 0.03)",
    )


def test_a_drop_beyond_noise_fails_and_the_message_says_so() -> None:
    rules = {"accuracy": Rule(max_regression=0.01)}
    verdict = evaluate(rules, [noisy("accuracy", 0.90, 0.85, -0.062, -0.038)])
    assert [c.message for c in verdict.failed] == [
        "accuracy dropped by 0.05 (base 0.9 → head 0.85), more than the allowed 0.01, "
        "beyond noise at 95% (± 0.012)"
    ]
    # The interval reaches 0.012 past the point on the worse side: more than the tolerance.
    assert verdict.noise_notes == (
        "accuracy: the 569 test rows cannot detect a drop of 0.01 at 95% (noise ± 0.012)",
    )
    sharp = evaluate(rules, [noisy("accuracy", 0.90, 0.85, -0.055, -0.045)])
    assert not sharp.passed and sharp.noise_notes == ()


def test_a_drop_within_the_tolerance_passes_whatever_the_noise() -> None:
    rules = {"accuracy": Rule(max_regression=0.05)}
    assert evaluate(rules, [noisy("accuracy", 0.90, 0.88, -0.03, -0.01)]).passed


def test_absolute_bounds_stay_point_rules() -> None:
    verdict = evaluate({"accuracy": Rule(min=0.9)}, [noisy("accuracy", 0.90, 0.88, -0.1, 0.1)])
    assert [c.message for c in verdict.failed] == ["accuracy 0.88 is below the minimum 0.9"]


def test_lower_is_better_metrics_weigh_a_rise() -> None:
    rules = {"rmse": Rule(max_regression_pct=5.0)}
    within = evaluate(rules, [noisy("rmse", 10.0, 11.0, -0.2, 2.2)])
    assert within.passed and within.noise_notes[0].startswith("rmse rose by 10.00%")
    beyond = evaluate(rules, [noisy("rmse", 10.0, 11.0, 0.6, 1.4)])
    assert [c.message for c in beyond.failed] == [
        "rmse rose by 10.00% (base 10 → head 11), more than the allowed 5%, "
        "beyond noise at 95% (± 4%)"
    ]


def test_without_an_interval_the_point_comparison_decides() -> None:
    row = diff_metrics({"accuracy": 0.90}, {"accuracy": 0.88}, ["accuracy"])[0]
    verdict = evaluate({"accuracy": Rule(max_regression=0.01)}, [row])
    assert not verdict.passed and verdict.noise_notes == ()


def test_the_noise_label_says_whether_the_interval_contains_zero() -> None:
    assert noisy("accuracy", 0.9, 0.91, -0.01, 0.03).noise_label == "within noise"
    assert noisy("accuracy", 0.9, 0.95, 0.02, 0.08).noise_label == "beyond noise"


def load(gate: str) -> config.Config:
    return config.load(CONFIG + gate)


def test_confidence_defaults_to_95_percent_and_rules_may_override_it() -> None:
    cfg = load(GATE)
    assert (cfg.confidence, cfg.resamples) == (0.95, 1000)
    assert cfg.confidence_for("accuracy") == 0.95
    assert list(cfg.gate) == ["accuracy"]  # the settings are not metrics
    cfg = load(
        "gate:\n  confidence: 0.9\n  resamples: 2000\n"
        "  accuracy: {max_regression: 0.01, confidence: off}\n"
        "  f1_macro: {max_regression: 0.01, confidence: 0.99}\n"
    )
    assert (cfg.confidence, cfg.resamples) == (0.9, 2000)
    assert cfg.confidence_for("accuracy") is None
    assert cfg.confidence_for("f1_macro") == 0.99
    assert load('gate:\n  confidence: "off"\n').confidence is None
    assert load("gate:\n  confidence: false\n").confidence_for("accuracy") is None


@pytest.mark.parametrize(
    ("gate", "message"),
    [
        (
            "gate:\n  confidence: 1.5\n",
            "mlgate.yaml:6: gate.confidence: expected a confidence level between 0 and 1 "
            "(e.g. 0.95) or off, got 1.5",
        ),
        (
            "gate:\n  accuracy: {max_regression: 0.01, confidence: true}\n",
            "mlgate.yaml:6: gate.accuracy.confidence: expected a confidence level between 0 and "
            "1 (e.g. 0.95) or off, got true",
        ),
        (
            "gate:\n  confidence: high\n",
            "mlgate.yaml:6: gate.confidence: expected a confidence level between 0 and 1 "
            "(e.g. 0.95) or off, got 'high'",
        ),
    ],
)
def test_a_bad_confidence_is_one_located_error(gate: str, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        load(gate)
    assert str(info.value) == message


def test_resamples_are_bounded() -> None:
    with pytest.raises(ConfigError) as info:
        load("gate:\n  resamples: 10000000\n")
    assert str(info.value).startswith("mlgate.yaml:6: gate.resamples:")
    assert info.value.exit_code == 2
