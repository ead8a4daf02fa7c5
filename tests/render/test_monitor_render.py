"""render.monitor: a MonitorResult as text, markdown (marker first, names escaped) and JSON
(valid against schema/monitor.schema.json)."""

from __future__ import annotations

import json

import jsonschema

from mlgate.core.drift import Comparison, DriftRule, FeatureDrift
from mlgate.core.gate import Rule
from mlgate.core.monitor import MonitorResult, judge
from mlgate.paths import package_file
from mlgate.render.monitor import render

EVIL = "<img src=x onerror=alert(1)> @admin [x](javascript:1)"


def result() -> MonitorResult:
    comparison = Comparison(
        name="train",
        reference="the training data of churn v2",
        current="the batch",
        reference_path="data/train.csv",
        current_path="logs",
        status="computed",
        rows=(1000, 50),
        features=(
            FeatureDrift(EVIL, "categorical", psi=0.9, js=0.4),
            FeatureDrift("age", "numeric", psi=0.01, ks=0.02),
        ),
    )
    rule = DriftRule(psi=0.25)
    prediction = FeatureDrift("prediction", "categorical", psi=0.3, js=0.2)
    comparison, prediction_drift, rows, checks = judge(
        comparison,
        prediction,
        {"accuracy": 0.8},
        {"accuracy": 0.9},
        drift_rule=rule,
        metric_rules={"accuracy": Rule(max_regression=0.05)},
    )
    return MonitorResult(
        model="churn",
        version=2,
        tag="churn@v2",
        production_commit="a" * 40,
        source_commit="b" * 40,
        batch=("logs/requests-1.parquet",),
        drift=comparison,
        predictions=prediction_drift,
        prediction_source="recorded",
        thresholds={"psi": 0.25, "ks": None, "js": None},
        labels="label",
        metrics=rows,
        checks=checks,
        rule=rule,
    )


def test_the_checks_follow_the_gate_semantics() -> None:
    found = result()
    assert not found.healthy
    failed = [c.message for c in found.failed]
    assert len(failed) == 3
    assert failed[0].startswith(f"drift: feature {EVIL!r} PSI 0.9")
    assert "the predictions' PSI 0.3" in failed[1]
    assert failed[2] == (
        "accuracy dropped by 0.1 (at promotion 0.9 → live 0.8), more than the allowed 0.05"
    )
    assert [f.name for f in found.drift.features if f.flagged] == [EVIL]


def test_markdown_starts_with_the_marker_and_escapes_names() -> None:
    text = render(result(), "markdown")
    assert text.splitlines()[0] == "<!-- mlgate:monitor model=churn -->"
    assert "<img" not in text and "&lt;img" in text
    assert "@admin" not in text and "[x](" not in text and "\\[x\\]" in text
    assert "is unhealthy (3 rules broken)" in text


def test_text_and_json() -> None:
    text = render(result(), "text")
    assert text.startswith("UNHEALTHY mlgate monitor: churn v2 (3 rules broken)")
    assert "Prediction drift (recorded by the request log): PSI 0.300, JS 0.200 drifted" in text
    doc = json.loads(render(result(), "json"))
    jsonschema.validate(doc, json.loads(package_file("schema", "monitor.schema.json").read_text()))
    assert doc["verdict"] == "unhealthy" and doc["rows"] == 50 and doc["training_rows"] == 1000
    assert abs(doc["metrics"][0]["delta"] + 0.1) < 1e-12
