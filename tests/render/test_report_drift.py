"""The drift section: markdown (rendered with cmark-gfm), text and JSON, from hand-built
results; hostile column names and values stay text, the comment stays under the limit."""

from __future__ import annotations

import html
import importlib.resources
import json
import re
from typing import Any

import cmarkgfm
import jsonschema
import pytest
from cmarkgfm.cmark import Options

from mlgate.core.drift import Comparison, DriftReport, DriftRule, FeatureDrift, checks, flag
from mlgate.core.gate import Rule, Verdict, evaluate
from mlgate.core.metrics import diff_metrics
from mlgate.core.results import CheckResult, DataSummary, SideResult
from mlgate.render.report import COMMENT_LIMIT, render

HOSTILE = [
    "<img src=x onerror=alert(1)>",
    "| x | y |",
    "@octocat",
    "**bold**",
    "[link](http://evil)",
    "line\nbreak | z",
    "</details><script>alert(1)</script>",
    "www.evil.example",
    "# heading",
    "\x1b[31mred\x1b[0m",
]


def side(label: str) -> SideResult:
    return SideResult(
        label=label,  # type: ignore[arg-type]
        ref="main" if label == "base" else "feature",
        sha=("a" if label == "base" else "b") * 40,
        metrics={"accuracy": 0.9},
        params={},
        estimator="sklearn.linear_model.LogisticRegression",
        data={"train": DataSummary("data/train.csv", "0" * 64, 100, rows=10)},
    )


def comparison(name: str, features: list[FeatureDrift], limits: dict[str, Any]) -> Comparison:
    return Comparison(
        name=name,  # type: ignore[arg-type]
        reference="base's training data" if name != "train-vs-test" else "head's training data",
        current="head's training data" if name != "train-vs-test" else "head's test data",
        reference_path="data/train.csv",
        current_path="data/train.csv" if name != "train-vs-test" else "data/test.csv",
        status="computed",
        rows=(1000, 1000),
        features=tuple(flag(features, limits)),
    )


def result(
    features: list[FeatureDrift], rule: DriftRule | None = None, top: int = 10
) -> CheckResult:
    limits = {"psi": 0.2, "ks": None, "js": None}
    if rule is not None:
        limits = {"psi": rule.psi, "ks": rule.ks, "js": rule.js}
    drift = DriftReport(
        (
            comparison("train", features, limits),
            comparison("train-vs-test", features[:3], limits),
        ),
        limits,
        top,
        rule,
    )
    rules = {"accuracy": Rule(min=0.5)}
    rows = tuple(diff_metrics({"accuracy": 0.9}, {"accuracy": 0.9}, ["accuracy"]))
    verdict = Verdict((*evaluate(rules, rows).checks, *checks(drift, rule)))
    return CheckResult(
        model="churn",
        task="classification",
        base=side("base"),
        head=side("head"),
        rows=rows,
        rules=rules,
        verdict=verdict,
        comparison="same-data",
        drift=drift,
    )


def to_html(md: str) -> str:
    return cmarkgfm.github_flavored_markdown_to_html(md, options=Options.CMARK_OPT_UNSAFE)


def schema() -> dict[str, Any]:
    path = importlib.resources.files("mlgate") / "schema" / "report.schema.json"
    return json.loads(path.read_text(encoding="utf-8"))  # type: ignore[no-any-return]


def features(n: int, prefix: str = "f") -> list[FeatureDrift]:
    return [
        FeatureDrift(f"{prefix}{i}", "numeric", psi=round(i / n, 4), ks=round(i / (2 * n), 4))
        for i in range(n)
    ]


def test_the_top_rows_come_first_and_the_rest_folds_into_details() -> None:
    md = render(result(features(30)), "markdown")
    section = md.split("#### Data drift", 1)[1]
    page = to_html(section)
    first_table = page.split("<details>", 1)[0]
    rows = re.findall(r"<tr>\s*<td[^>]*>([^<]*)</td>", first_table)
    assert rows == ["f29", "f28", "f27", "f26", "f25"]  # the five most drifted, open
    assert "5 more columns of base" in section  # up to top=10, then folded
    assert "… and 20 more columns" in section  # the JSON has the rest
    assert "<summary>Drift: head's training data → head's test data</summary>" in page


def test_hostile_names_are_inert_in_markdown_and_text() -> None:
    hostile = [FeatureDrift(name, "categorical", psi=1.0, js=0.5) for name in HOSTILE]
    found = result(hostile, DriftRule(psi=0.2), top=20)
    md = render(found, "markdown")
    page = to_html(md)
    drift = page.split("Data drift", 1)[1]
    assert "<img" not in drift and "<script" not in drift and "<strong>" not in drift
    assert 'href="http://evil"' not in drift and "<h1>" not in drift
    assert "@octocat" not in md
    # Each row keeps its 7 cells: no injected pipe or line break splits it.
    drift_tables = [t for t in re.findall(r"<table>(.*?)</table>", drift, re.S) if ">column<" in t]
    assert len(drift_tables) == 3  # five rows open, five folded, train-vs-test folded
    for table in drift_tables:
        for row in re.findall(r"<tr>(.*?)</tr>", table, re.S):
            assert len(re.findall(r"<t[hd][^>]*>", row)) == 7
    # and the failed rules name them as text too.
    top = page.split("Data drift", 1)[0]
    assert "<img" not in top and "<script" not in top
    text = render(found, "text")
    assert "\x1b" not in text and "\nbreak" not in text


def test_a_huge_drift_table_stays_under_the_comment_limit() -> None:
    long = [FeatureDrift("x" * 3000 + str(i), "numeric", psi=1.0, ks=0.9) for i in range(100)]
    md = render(result(long, top=100), "markdown")
    assert len(md) <= COMMENT_LIMIT
    assert md.count("<details>") == md.count("</details>")


def test_the_json_report_lists_every_feature_and_validates() -> None:
    found = result(features(30), DriftRule(psi=0.5, ks=0.4))
    document = json.loads(render(found, "json"))
    jsonschema.validate(document, schema())
    train = document["drift"]["comparisons"][0]
    assert len(train["features"]) == 30 and train["gated"]
    assert document["drift"]["thresholds"] == {"psi": 0.5, "ks": 0.4, "js": None}
    failed = [r for r in document["failed_rules"] if r["metric"] == "drift"]
    assert {r["rule"] for r in failed} == {"psi", "ks"}
    assert document["verdict"] == "fail"


@pytest.mark.parametrize("fmt", ["markdown", "text"])
def test_unchanged_and_missing_comparisons_are_one_line(fmt: str) -> None:
    plain = result(features(3))
    assert plain.drift is not None
    unchanged = Comparison(
        "train", "base's training data", "head's training data", "a", "a", "unchanged"
    )
    missing = Comparison(
        "test", "base's test data", "head's test data", "t", "t", "missing", note="no summary"
    )
    drift = DriftReport((unchanged, missing), plain.drift.thresholds)
    out = render(CheckResult(**{**plain.__dict__, "drift": drift}), fmt)  # type: ignore[arg-type]
    assert "no drift" in out and "no summary" in html.unescape(out)
