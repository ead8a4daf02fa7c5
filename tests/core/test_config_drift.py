"""``drift:`` and ``gate.drift`` in mlgate.yaml: defaults, values, located errors."""

from __future__ import annotations

import pytest

from mlgate.core import config
from mlgate.core.drift import DEFAULT_MAX_CELLS, DriftRule, DriftSettings
from projects import CLASSIFIER_YAML, config_error

BASE = CLASSIFIER_YAML
error_of = config_error


def test_defaults_compute_drift_and_gate_nothing() -> None:
    cfg = config.load(BASE, file="mlgate.yaml")
    assert cfg.drift == DriftSettings(True, DEFAULT_MAX_CELLS, 10)
    assert cfg.drift_rule is None and "drift" not in cfg.gate


def test_settings_and_rule_are_read() -> None:
    text = BASE + (
        "gate:\n"
        "  accuracy: {min: 0.5}\n"
        "  drift: {psi: {max: 0.25}, ks: {max: 0.1}, features: [age, label]}\n"
        "drift: {max_cells: 1000, top: 3, enabled: false}\n"
    )
    cfg = config.load(text, file="mlgate.yaml")
    assert cfg.drift == DriftSettings(False, 1000, 3)
    assert cfg.drift_rule == DriftRule(psi=0.25, ks=0.1, features=("age", "label"))
    assert list(cfg.gate) == ["accuracy"]  # drift is not a metric


@pytest.mark.parametrize(
    ("tail", "message"),
    [
        (
            "gate:\n  drift: {psi: {maximum: 0.2}}\n",
            "mlgate.yaml:12: gate.drift.psi.maximum: unknown key",
        ),
        (
            "gate:\n  drift: {chi2: {max: 0.2}}\n",
            "mlgate.yaml:12: gate.drift.chi2: unknown key",
        ),
        (
            "gate:\n  drift: {psi: {max: -1}}\n",
            "mlgate.yaml:12: gate.drift.psi.max:",
        ),
        (
            "gate:\n  drift: {features: [age]}\n",
            "mlgate.yaml:12: gate.drift: give at least one of psi, ks, js",
        ),
        (
            "drift:\n  max_cells: lots\n",
            "mlgate.yaml:12: drift.max_cells: expected a whole number",
        ),
        (
            "drift:\n  top: 1\n  colour: red\n",
            "mlgate.yaml:13: drift.colour: unknown key; expected one of enabled, max_cells, top",
        ),
    ],
)
def test_bad_drift_keys_are_located_errors(tail: str, message: str) -> None:
    assert error_of(BASE + tail).startswith(message)


def test_a_head_that_changes_its_drift_rule_says_so() -> None:
    from mlgate.core.diff import gate_changes

    strict = config.load(BASE + "gate:\n  drift: {psi: {max: 0.1}}\n", file="mlgate.yaml")
    loose = config.load(BASE + "gate:\n  drift: {psi: {max: 0.9}}\n", file="mlgate.yaml")
    [note] = gate_changes(strict, loose)
    assert "gate.drift" in note
    assert gate_changes(strict, strict) == ()
