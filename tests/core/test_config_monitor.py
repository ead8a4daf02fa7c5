"""``monitor:`` in mlgate.yaml (the rules of ``mlgate monitor``): values, located errors."""

from __future__ import annotations

import pytest

from mlgate.core import config
from mlgate.core.drift import DriftRule
from mlgate.core.gate import Rule
from projects import CLASSIFIER_YAML, config_error

BASE = CLASSIFIER_YAML
error_of = config_error


def test_no_monitor_section_means_no_rules() -> None:
    cfg = config.load(BASE, file="mlgate.yaml")
    assert cfg.monitor_drift is None and cfg.monitor_metrics == {}


def test_the_rules_are_read() -> None:
    text = BASE + (
        "monitor:\n"
        "  drift: {psi: {max: 0.25}, features: [f0]}\n"
        "  metrics: {accuracy: {max_regression: 0.05, min: 0.5}}\n"
    )
    cfg = config.load(text, file="mlgate.yaml")
    assert cfg.monitor_drift == DriftRule(psi=0.25, features=("f0",))
    assert cfg.monitor_metrics == {"accuracy": Rule(min=0.5, max_regression=0.05)}
    assert cfg.drift_rule is None and "accuracy" not in cfg.gate


@pytest.mark.parametrize(
    ("tail", "message"),
    [
        ("monitor:\n  drift: {psi: {maximum: 0.2}}\n", "mlgate.yaml:12: monitor.drift.psi.maximum"),
        ("monitor:\n  drift: {features: [f0]}\n", "mlgate.yaml:12: monitor.drift: give at least"),
        (
            "monitor:\n  metrics: {accuracy: {most: 1}}\n",
            "mlgate.yaml:12: monitor.metrics.accuracy",
        ),
        ("monitor:\n  metrics: {rmse: {max: 1}}\n", "mlgate.yaml:12: monitor.metrics.rmse"),
        ("monitor:\n  alerts: {}\n", "mlgate.yaml:12: monitor.alerts: unknown key"),
    ],
)
def test_errors_name_the_line_and_key(tail: str, message: str) -> None:
    assert error_of(BASE + tail).startswith(message)
