"""The changes section in the report: hostile class labels, ids and column names stay
inert in the markdown (rendered with GitHub's cmark-gfm), the tables keep their shape,
the section folds into <details>, fits the comment limit, and the JSON validates. The
changes themselves come from core.changes on hand-made predictions."""

from __future__ import annotations

import dataclasses
import json
import re
from typing import Any

import cmarkgfm
import jsonschema
import numpy as np
from cmarkgfm.cmark import Options

from mlgate.core import changes as changes_mod
from mlgate.core.gate import Verdict, flips_check
from mlgate.core.results import CheckResult, DataSummary, SideResult, UserTemplate
from mlgate.paths import package_file
from mlgate.render.report import COMMENT_LIMIT, render, render_document

HOSTILE = [
    "@admin",
    "<img src=x onerror=alert(1)>",
    "a | b",
    "`tick`",
    "[x](http://evil)",
    "</details><script>alert(1)</script>",
    "# heading",
    "www.evil.example",
]


def side(label: str) -> SideResult:
    return SideResult(
        label=label,  # type: ignore[arg-type]
        ref="main" if label == "base" else "pr",
        sha=("a" if label == "base" else "b") * 40,
        metrics={"accuracy": 0.5},
        params={},
        estimator="sklearn.linear_model.LogisticRegression",
        data={"test": DataSummary("data/test.csv", "c" * 64, 100, rows=80)},
    )


def result(found: dict[str, Any] | None, *, limit_pct: float | None = None) -> CheckResult:
    checks = ()
    if limit_pct is not None:
        flips = None if found is None else found["flips"]
        checks = (flips_check(limit_pct, flips, 0 if found is None else found["rows"], "none"),)
    return CheckResult(
        model="churn",
        task="classification",
        base=side("base"),
        head=side("head"),
        rows=(),
        rules={},
        verdict=Verdict(checks),
        comparison="same-data",
        changes=found,
    )


def hostile_changes(labels: list[str] = HOSTILE, rows: int = 80) -> dict[str, Any]:
    rng = np.random.default_rng(0)
    y = rng.choice(labels, rows)
    base = np.where(rng.random(rows) < 0.2, rng.choice(labels, rows), y)
    head = np.where(rng.random(rows) < 0.4, rng.choice(labels, rows), y)
    ids = np.array([HOSTILE[i % len(HOSTILE)] + f"-{i}" for i in range(rows)])
    return changes_mod.classification(y, base, head, ids=ids, id_column="<b>@id|col</b>")


def html_of(markdown: str) -> str:
    page: str = cmarkgfm.github_flavored_markdown_to_html(
        markdown, options=Options.CMARK_OPT_UNSAFE
    )
    return page


def assert_inert(page: str) -> None:
    tags = set(re.findall(r"<([a-z0-9]+)[\s>/]", page))
    allowed = {"h3", "h4", "p", "strong", "table", "thead", "tbody", "tr", "th", "td",
               "details", "summary", "ul", "li", "code", "em"}  # fmt: skip
    assert tags <= allowed, tags - allowed
    assert "<a " not in page and "<img" not in page and "<script" not in page
    assert not re.search(r"@(admin|id)", page)  # every @ is followed by a zero-width space


def test_hostile_labels_and_ids_are_inert_and_the_tables_keep_their_shape() -> None:
    found = hostile_changes()
    text = render(result(found), "markdown")
    page = html_of(text)
    assert_inert(page)
    section = page[page.index("Where the model changed") : page.index("Run details")]
    assert "<details>" in section and "<summary>" in section
    tables = re.findall(r"<table>.*?</table>", section, re.S)
    assert len(tables) == 3  # confusion matrix, per class, broken rows
    k = len(found["confusion"]["labels"])
    widths = [
        len(re.findall(r"<t[hd]", row)) for row in re.findall(r"<tr>.*?</tr>", tables[0], re.S)
    ]
    assert widths == [k + 1] * (k + 1)
    for table, columns in ((tables[1], 6), (tables[2], 5)):
        rows = re.findall(r"<tr>.*?</tr>", table, re.S)
        assert {len(re.findall(r"<t[hd]", r)) for r in rows} == {columns}
    assert "a | b" in section and "[x](http://evil)" in section  # shown literally
    assert len(re.findall(r"<tr>", tables[2])) == 1 + len(found["flips"]["broken_rows"])


def test_the_text_report_has_the_compact_section_without_control_characters() -> None:
    found = hostile_changes([*HOSTILE, "\x1b[31mred\x1b[0m"])
    text = render(result(found, limit_pct=1.0), "text")
    assert "Where the model changed (80 test rows):" in text
    assert f"{found['flips']['changed']} predictions changed" in text
    assert "\x1b" not in text
    assert "flips:" in text and "predictions broke" in text  # the failed rule


def test_many_long_hostile_labels_stay_under_the_comment_limit() -> None:
    labels = [("<b>@x|`" * 30) + str(i) for i in range(200)]
    found = hostile_changes(labels, rows=5000)
    assert found["confusion"] is None and len(found["per_class"]) == changes_mod.CLASSES_LISTED
    text = render(result(found), "markdown")
    assert len(text) <= COMMENT_LIMIT
    page = html_of(text)
    assert_inert(page)
    assert "200 labels: too many for a confusion matrix here" in page
    small = render(result(found), "markdown", limit=6000)
    assert len(small) <= 6000


def test_regression_changes_render_inert_ids() -> None:
    y = np.linspace(0, 10, 50)
    found = changes_mod.regression(
        y, y + 0.1, y + np.linspace(-2, 2, 50), ids=np.array(HOSTILE * 7)[:50], id_column="@who"
    )
    page = html_of(render(result(found), "markdown"))
    assert_inert(page)
    assert "p99" in page and "rows whose error grew most" in page


def test_no_changes_no_section_and_a_custom_template_can_include_it() -> None:
    assert "Where the model changed" not in render(result(None), "markdown")
    assert "Where the model changed" not in render(result(None), "text")
    custom = UserTemplate("report.md.j2", '{% include "report/changes.md.j2" %}\n')
    text = render(
        dataclasses.replace(result(hostile_changes()), report_template=custom), "markdown"
    )
    assert "Where the model changed" in text
    assert_inert(html_of(text))


def test_the_json_report_validates_against_the_schema() -> None:
    schema = json.loads(package_file("schema/report.schema.json").read_text())
    for found in (hostile_changes(), None):
        document = json.loads(render(result(found, limit_pct=1.0), "json"))
        jsonschema.validate(document, schema)
    y = np.arange(30.0)
    regression = changes_mod.regression(y, y + 1, y - 2)
    jsonschema.validate(json.loads(render(result(regression), "json")), schema)


def test_a_saved_result_with_a_malformed_matrix_renders_without_it() -> None:
    """mlgate publish renders a fork's saved result: its matrix may be anything."""
    found = hostile_changes()
    assert found["confusion"] is not None
    document = json.loads(render(result(found), "json"))
    document["changes"]["confusion"]["base"] = [[1, 2]]
    document["changes"]["labels_total"] = None
    text = render_document(document, "markdown")
    assert "Where the model changed" in text and "true ↓ predicted →" not in text
