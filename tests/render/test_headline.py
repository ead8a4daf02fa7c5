"""The ten-second headline: the verdict, the number that decided it and the biggest
surprise, in the markdown (rendered with GitHub's cmark-gfm), the text and the status."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

import cmarkgfm
import pytest
from cmarkgfm.cmark import Options

from mlgate.core import changes
from mlgate.core.gate import Rule, evaluate
from mlgate.core.metrics import MetricDelta, Noise, diff_metrics
from mlgate.core.results import CheckResult, ParamChange, SideResult
from mlgate.render import headline
from mlgate.render.report import render, render_document, status_description

UNSAFE = Options.CMARK_OPT_UNSAFE  # keep our <details>: the escaping must hold by itself


def side(label: str, values: Mapping[str, float]) -> SideResult:
    return SideResult(
        label=label,  # type: ignore[arg-type]
        ref=label,
        sha=("a" if label == "base" else "b") * 40,
        metrics=dict(values),
        params={},
        estimator="sklearn.ensemble.RandomForestClassifier",
        data={},
    )


def result(
    base: Mapping[str, float],
    head: Mapping[str, float],
    rules: Mapping[str, Rule],
    *,
    rows: tuple[MetricDelta, ...] | None = None,
    notes: tuple[str, ...] = (),
) -> CheckResult:
    rows = rows or tuple(diff_metrics(base, head, list(head)))
    verdict = evaluate(rules, rows)
    return CheckResult(
        model="churn",
        task="classification",
        base=side("base", base),
        head=side("head", head),
        rows=rows,
        rules=dict(rules),
        verdict=verdict,
        comparison="same-data",
        notes=(*verdict.noise_notes, *notes),
    )


def test_a_failure_leads_with_the_metric_whose_rule_failed_not_the_first_row() -> None:
    found = result(
        {"f1_macro": 0.80, "accuracy": 0.90},
        {"f1_macro": 0.81, "accuracy": 0.84},
        {"accuracy": Rule(max_regression=0.01)},
    )
    md = render(found, "markdown")
    assert md.splitlines()[1] == (
        "### ❌ mlgate: churn fails the gate (1 rule) — accuracy 0.9000 → 0.8400 (-0.0600)"
    )
    assert status_description(found.to_dict()).startswith("accuracy 0.9 → 0.84 (-0.06)")
    text = render(found, "text")
    assert text.splitlines()[0].endswith("— accuracy 0.9000 → 0.8400 (-0.0600)")


def test_a_pass_leads_with_the_first_gated_metric() -> None:
    found = result(
        {"f1_macro": 0.80, "roc_auc": 0.90},
        {"f1_macro": 0.81, "roc_auc": 0.91},
        {"roc_auc": Rule(max_regression=0.01)},
    )
    assert headline.decider(found.to_dict())["name"] == "roc_auc"  # type: ignore[index]


def forgiven() -> CheckResult:
    noise = Noise(-0.05, 0.015, 0.95, 1000, 120)
    rows = (MetricDelta("accuracy", 0.8833, 0.8667, "higher", noise),)
    return result(
        {"accuracy": 0.8833},
        {"accuracy": 0.8667},
        {"accuracy": Rule(max_regression=0.01)},
        rows=rows,
    )


def test_a_drop_forgiven_as_noise_is_the_surprise_right_under_the_verdict() -> None:
    found = forgiven()
    md = render(found, "markdown")
    lines = md.splitlines()
    assert lines[1] == (
        "### ✅ mlgate: churn passes the gate — accuracy 0.8833 → 0.8667 (-0.0166 ± 0.033, "
        "within noise)"
    )
    page = cmarkgfm.github_flavored_markdown_to_html(md)
    assert (
        "<p><strong>Worth a look:</strong> accuracy dropped by 0.0166 (base 0.8833 → head "
        "0.8667), more than the allowed 0.01, but within noise at 95% (± 0.0325): passes</p>"
    ) in page
    assert page.index("Worth a look") < page.index("<table>")
    assert "Worth a look: accuracy dropped by 0.0166" in render(found, "text")


@pytest.mark.parametrize(
    "note",
    ["head: @octocat leaves random_state unset: results vary between runs; set random_state"],
)
def test_the_surprise_is_escaped_like_every_untrusted_string(note: str) -> None:
    found = result({"accuracy": 0.85}, {"accuracy": 0.86}, {}, notes=(note,))
    md = render(found, "markdown")
    assert "Worth a look" in md
    page = cmarkgfm.github_flavored_markdown_to_html(md)
    assert "@octocat" not in page.replace("@\u200boctocat", "")  # no mention
    assert headline.surprise(found.to_dict()) == note


def test_nothing_surprising_adds_no_line() -> None:
    found = result({"accuracy": 0.85}, {"accuracy": 0.86}, {"accuracy": Rule(min=0.8)})
    assert "Worth a look" not in render(found, "markdown")
    assert headline.surprise(found.to_dict()) is None


def test_long_sections_fold_into_details_and_short_ones_stay_open() -> None:
    few = tuple(ParamChange(f"p{i}", "changed", i, i + 1) for i in range(5))
    many = tuple(ParamChange(f"p{i}", "changed", i, i + 1) for i in range(6))
    base = result({"accuracy": 0.85}, {"accuracy": 0.86}, {})
    short = cmarkgfm.github_flavored_markdown_to_html(
        render(dataclasses.replace(base, params_diff=few), "markdown"), options=UNSAFE
    )
    assert "<h4>Params (5 changed)</h4>" in short
    long = cmarkgfm.github_flavored_markdown_to_html(
        render(dataclasses.replace(base, params_diff=many), "markdown"), options=UNSAFE
    )
    assert "<details><summary>Params (6 changed)</summary>" in long
    folded = long[long.index("<summary>Params") : long.index("</details>")]
    assert '<td align="left">p5</td>' in folded  # the rows are inside the fold
    assert long.index("<table>") < long.index("<summary>Params")  # metrics first, open


def test_a_class_that_got_worse_is_the_surprise_and_a_flips_failure_leads_the_headline() -> None:
    # 40 rows of "@team <b>": base right on all, head wrong on 8; 40 of "b": both right.
    y = ["@team <b>"] * 40 + ["b"] * 40
    base = list(y)
    head = ["b"] * 8 + y[8:]
    doc = result({"accuracy": 0.85}, {"accuracy": 0.86}, {}).to_dict()
    doc["changes"] = changes.classification(y, base, head)
    worse = headline.surprise(doc)
    assert worse is not None and worse.startswith("class @team <b> got worse: F1 1.000 → 0.889")
    md = render_document(doc, "markdown")
    page = cmarkgfm.github_flavored_markdown_to_html(md, options=UNSAFE)
    assert "<b>" not in page and "@team" not in page  # escaped, no mention
    doc["changes"]["per_class"] = []
    assert headline.surprise(doc) == (
        "8 of 80 test rows that base got right are wrong in head (10.00%)"
    )
    message = "flips: 8 of 80 predictions broke (10.00%), more than the allowed 1%"
    doc["verdict"] = "fail"
    doc["failed_rules"] = [
        {"metric": "flips", "rule": "max_broken_pct", "limit": 1.0, "message": message}
    ]
    lines = render_document(doc, "markdown").splitlines()
    assert lines[1] == f"### ❌ mlgate: churn fails the gate (1 rule) — {message}"
