"""The report: markdown (rendered with GitHub's cmark-gfm), text and JSON, from hand-built
results. The gate and metrics code is the real thing; only the training is skipped."""

from __future__ import annotations

import dataclasses
import html
import importlib.resources
import json
import os
import re
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any

import cmarkgfm
import jsonschema
import pytest
from cmarkgfm.cmark import Options
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from browser import assert_safe_xychart, mermaid_blocks
from mlgate.core import units
from mlgate.core.gate import Rule, evaluate
from mlgate.core.metrics import diff_metrics
from mlgate.core.results import CheckResult, DataChange, DataSummary, ParamChange, SideResult
from mlgate.errors import ConfigError
from mlgate.render import markup, report
from mlgate.render.markup import md_escape
from mlgate.render.report import COMMENT_LIMIT, marker, render

SHA_A = "a" * 40
SHA_B = "b" * 40
HASH_OLD = "3f1d2a4b" + "0" * 56
HASH_NEW = "9abc0123" + "1" * 56
RUN_URL = "https://github.com/o/r/actions/runs/42"
PAYLOADS = [
    "<img src=x onerror=alert(1)>",
    "| x | y |",
    "@octocat",
    "**bold**",
    "[link](http://evil)",
    "line\nbreak | z",
    "`code` _em_ ~~gone~~ $x$",
    "</details><script>alert(1)</script>",
    "www.evil.example",
    "# heading",
    "&lt;b&gt;",
    "\x1b[31mred\x1b[0m",
]


# --- builders -----------------------------------------------------------------------------


def side(label: str, values: Mapping[str, float], **kw: Any) -> SideResult:
    defaults: dict[str, Any] = {
        "ref": "main" if label == "base" else "feature/x",
        "sha": SHA_A if label == "base" else SHA_B,
        "params": {"n_estimators": 100},
        "estimator": "sklearn.ensemble.RandomForestClassifier",
        "data": {"test": DataSummary("data/test.csv", HASH_OLD, 2048, rows=2000)},
        "fit_seconds": 1.5,
        "predict_seconds": 0.02,
        "model_size": 1_500_000,
        "duration_seconds": 75.0,
        "versions": {"scikit-learn": "1.5.0", "python": "3.11.7"},
    }
    defaults.update(kw)
    defaults.setdefault("metrics", dict(values))
    return SideResult(label=label, **defaults)  # type: ignore[arg-type]


def make_result(
    base: Mapping[str, float] | None,
    head: Mapping[str, float],
    rules: Mapping[str, Rule],
    *,
    model: str = "churn",
    comparison: str | None = None,
    base_side: Mapping[str, Any] | None = None,
    head_side: Mapping[str, Any] | None = None,
    **kw: Any,
) -> CheckResult:
    """A CheckResult as check.py would build it: rows by diff_metrics, verdict by the gate."""
    rows = tuple(diff_metrics(base, head, list(head)))
    if comparison is None:
        comparison = "no-baseline" if base is None else "own-data"
    return CheckResult(
        model=model,
        task="classification",
        base=None if base is None else side("base", base, **(base_side or {})),
        head=side("head", head, **(head_side or {})),
        rows=rows,
        rules=dict(rules),
        verdict=evaluate(rules, rows),
        comparison=comparison,  # type: ignore[arg-type]
        **kw,
    )


def passing() -> CheckResult:
    return make_result(
        {"accuracy": 0.8512, "f1_macro": 0.8},
        {"accuracy": 0.8634, "f1_macro": 0.81},
        {"accuracy": Rule(min=0.85, max_regression=0.01)},
    )


def failing() -> CheckResult:
    return make_result(
        {"accuracy": 0.90, "f1_macro": 0.80, "rmse": 1.2},
        {"accuracy": 0.84, "f1_macro": 0.70, "rmse": 1.0},
        {"accuracy": Rule(min=0.85), "f1_macro": Rule(max_regression_pct=2.0)},
    )


def with_diffs(name: str = "max_depth", column: str = "tenure") -> CheckResult:
    old = DataSummary("data/train.csv", HASH_OLD, 1_048_576, rows=20_000)
    new = DataSummary("data/train.csv", HASH_NEW, 1_153_434, rows=21_000)
    change = DataChange(
        "data/train.csv",
        "modified",
        old,
        new,
        columns_added=(column, "region"),
        columns_removed=("legacy_id",),
        columns_retyped=(("age", "int64", "float64"),),
    )
    params = (
        ParamChange("n_estimators", "changed", 100, 200),
        ParamChange(name, "added", None, 8),
        ParamChange("criterion", "removed", "gini", None),
    )
    return make_result(
        {"accuracy": 0.85},
        {"accuracy": 0.86},
        {"accuracy": Rule(min=0.8)},
        params_diff=params,
        data_diff=(change,),
        notes=("head has uncommitted changes in 2 files",),
    )


# --- rendering helpers --------------------------------------------------------------------


def to_html(md: str) -> str:
    # UNSAFE keeps raw HTML (our <details>): the safety must come from our escaping,
    # not from the renderer's safe mode.
    return cmarkgfm.github_flavored_markdown_to_html(md, options=Options.CMARK_OPT_UNSAFE)


def tables(page: str) -> list[list[list[str]]]:
    """Every table as rows of cell texts (tags stripped, entities decoded)."""
    found = []
    for table in re.findall(r"<table>(.*?)</table>", page, re.S):
        rows = []
        for row in re.findall(r"<tr>(.*?)</tr>", table, re.S):
            cells = re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row, re.S)
            rows.append([html.unescape(re.sub(r"<[^>]+>", "", c)) for c in cells])
        found.append(rows)
    return found


def table_with(page: str, header: str) -> list[list[str]]:
    return next(t for t in tables(page) if t[0][0] == header)


def assert_tables_intact(md: str) -> None:
    """Every line of a markdown table has as many unescaped pipes as its header.

    GFM pads or drops cells to the header's width, so the rendered HTML alone would hide
    an injected pipe; the markdown source does not."""
    blocks: list[list[int]] = [[]]
    for line in md.splitlines():
        if line.startswith("|"):
            blocks[-1].append(len(re.findall(r"(?<!\\)(?:\\\\)*\|", line)))
        elif blocks[-1]:
            blocks.append([])
    assert blocks[0], "expected tables"
    for counts in blocks:
        assert len(set(counts)) <= 1, counts


@cache
def schema() -> dict[str, Any]:
    path = importlib.resources.files("mlgate") / "schema" / "report.schema.json"
    return json.loads(path.read_text(encoding="utf-8"))  # type: ignore[no-any-return]


# --- marker -------------------------------------------------------------------------------


def test_marker_is_the_design_format() -> None:
    assert marker("churn") == "<!-- mlgate:report model=churn -->"
    assert marker("churn") == report.MARKER.format(name="churn")


def test_marker_cannot_close_the_html_comment() -> None:
    assert marker("x --> <img>") == "<!-- mlgate:report model=x_--___img_ -->"


# --- markdown -----------------------------------------------------------------------------


def test_passing_report_layout() -> None:
    md = render(passing(), "markdown")
    lines = md.splitlines()
    assert lines[0] == "<!-- mlgate:report model=churn -->"
    assert lines[1] == "### ✅ mlgate: churn passes the gate — accuracy 0.8512 → 0.8634 (+0.0122)"
    page = to_html(md)
    metrics = table_with(page, "metric")
    assert metrics[0] == ["metric", "base", "head", "Δ", "Δ%", "rule", "result"]
    assert metrics[1] == [
        "accuracy",
        "0.8512",
        "0.8634",
        "▲ +0.0122 🟢",
        "+1.43%",
        "≥ 0.85, worse by ≤ 0.01",
        "✅",
    ]
    assert metrics[2] == ["f1_macro", "0.8000", "0.8100", "▲ +0.0100 🟢", "+1.25%", "—", "—"]
    assert "<details><summary>Run details</summary>" in page
    assert "Failed rules" not in page


def test_failing_report_spells_out_each_failed_rule() -> None:
    md = render(failing(), "markdown")
    assert md.splitlines()[1] == (
        "### ❌ mlgate: churn fails the gate (2 rules) — accuracy 0.9000 → 0.8400 (-0.0600)"
    )
    page = to_html(md)
    assert "<li>❌ accuracy 0.84 is below the minimum 0.85</li>" in page
    assert (
        "<li>❌ f1_macro dropped by 12.50% (base 0.8 → head 0.7), more than the allowed 2%</li>"
        in page
    )
    rows = {row[0]: row for row in table_with(page, "metric")}
    assert rows["accuracy"][3:] == ["▼ -0.0600 🔴", "-6.67%", "≥ 0.85", "❌"]
    # rmse: lower is better, so a drop is green.
    assert rows["rmse"][3] == "▼ -0.2000 🟢"


def test_failed_rules_come_before_the_metrics_table() -> None:
    md = render(failing(), "markdown")
    assert md.index("**Failed rules**") < md.index("| metric |")


def test_no_baseline() -> None:
    result = make_result(None, {"accuracy": 0.9}, {"accuracy": Rule(min=0.85, max_regression=0.01)})
    md = render(result, "markdown")
    page = to_html(md)
    assert md.splitlines()[1] == "### ✅ mlgate: churn passes the gate — accuracy 0.9000"
    assert "No baseline: base has no mlgate.yaml; only absolute rules apply." in page
    row = table_with(page, "metric")[1]
    assert row == ["accuracy", "—", "0.9000", "—", "—", "≥ 0.85, worse by ≤ 0.01", "✅ (1 skipped)"]
    details = table_with(page, "")
    assert details[0] == ["", "head"]
    assert "<li>accuracy: no baseline, max_regression skipped</li>" in page


def test_same_data_shows_base_own_figures_in_details() -> None:
    result = make_result(
        {"accuracy": 0.85},
        {"accuracy": 0.86},
        {},
        comparison="same-data",
        base_side={"metrics": {"accuracy": 0.88}},
        base_on_head_data={"accuracy": 0.85},
    )
    page = to_html(render(result, "markdown"))
    assert (
        "mlgate scored both models on head's test data (2,000 rows); base's own figures in details."
        in page
    )
    own = next(t for t in tables(page) if t[0][1] == "base on base's data")
    assert own[1] == ["accuracy", "0.8800", "0.8500"]
    assert page.index("base on base's data") > page.index("<details>")


@pytest.mark.parametrize("fmt", ["markdown", "text"])
def test_an_own_data_note_is_the_sentence(fmt: str) -> None:
    """own-data's note says who measured what (mlgate or a command), so it replaces the
    generic sentence; without one (an older result) the generic one stays."""
    noted = make_result(
        {"accuracy": 0.85}, {"accuracy": 0.86}, {}, comparison_note="base cannot read head's data"
    )
    page = render(noted, fmt)  # type: ignore[arg-type]
    assert "\nbase cannot read head's data\n" in page
    assert "its own, on its own data" not in page
    bare = render(make_result({"accuracy": 0.85}, {"accuracy": 0.86}, {}), fmt)  # type: ignore[arg-type]
    assert "\nEach side's metrics are its own, on its own data.\n" in bare


def test_params_diff_table() -> None:
    page = to_html(render(with_diffs(), "markdown"))
    params = table_with(page, "param")
    assert params == [
        ["param", "base", "head"],
        ["n_estimators", "100", "200"],
        ["max_depth", "—", "8"],
        ["criterion", '"gini"', "—"],
    ]
    assert "<h4>Params (3 changed)</h4>" in page


def test_data_diff_table() -> None:
    page = to_html(render(with_diffs(), "markdown"))
    data = table_with(page, "file")
    assert data[0] == ["file", "status", "sha256", "size", "rows", "columns"]
    assert data[1] == [
        "data/train.csv",
        "modified",
        "3f1d2a4b → 9abc0123",
        "1.0 MiB → 1.1 MiB",
        "20,000 → 21,000",
        "added tenure, region; removed legacy_id; retyped age (int64 → float64)",
    ]


def test_added_data_file_has_no_old_side() -> None:
    new = DataSummary("data/extra.csv", HASH_NEW, 10, rows=None)
    result = make_result(
        {"a": 1.0}, {"a": 1.0}, {}, data_diff=(DataChange("data/extra.csv", "added", None, new),)
    )
    row = table_with(to_html(render(result, "markdown")), "file")[1]
    assert row == ["data/extra.csv", "added", "— → 9abc0123", "— → 10 B", "—", "—"]


def test_notes_are_a_blockquote() -> None:
    page = to_html(render(with_diffs(), "markdown"))
    assert "<blockquote>\n<p>⚠️ head has uncommitted changes in 2 files</p>\n</blockquote>" in page


def test_run_details() -> None:
    page = to_html(render(passing(), "markdown", run_url=RUN_URL))
    details = {row[0]: row[1:] for row in table_with(page, "")}
    assert details[""] == ["base", "head"]
    assert details["ref"] == ["main", "feature/x"]
    assert details["commit"] == ["aaaaaaaa", "bbbbbbbb"]
    assert details["duration"] == ["1 min 15 s", "1 min 15 s"]
    assert details["fit time"] == ["1.50 s", "1.50 s"]
    assert details["predict time"] == ["20 ms", "20 ms"]
    assert details["model size"] == ["1.4 MiB", "1.4 MiB"]
    assert details["cached"] == ["no", "no"]
    assert details["scikit-learn"] == ["1.5.0", "1.5.0"]
    assert f'<a href="{RUN_URL}">CI run</a>' in page
    assert page.rstrip().endswith("</details>")


def test_runtime_metrics_in_their_units() -> None:
    result = make_result(
        {"model_size": 2048.0, "fit_time": 2.0}, {"model_size": 3072.0, "fit_time": 0.5}, {}
    )
    rows = {r[0]: r for r in table_with(to_html(render(result, "markdown")), "metric")}
    assert rows["model_size"][1:4] == ["2.0 KiB", "3.0 KiB", "▲ +1.0 KiB 🔴"]
    assert rows["fit_time"][1:4] == ["2.00 s", "500 ms", "▼ -1.50 s 🟢"]


def test_nan_metric_is_shown_missing() -> None:
    result = make_result({"accuracy": float("nan")}, {"accuracy": 0.9}, {})
    row = table_with(to_html(render(result, "markdown")), "metric")[1]
    assert row[1:5] == ["—", "0.9000", "—", "—"]


# --- injection ----------------------------------------------------------------------------


def injected(payload: str) -> CheckResult:
    """``payload`` in every place a pull request controls."""
    return make_result(
        {payload: 0.5},
        {payload: 0.4},
        {payload: Rule(min=0.45)},
        model=payload,
        base_side={"ref": payload, "versions": {payload: payload}},
        params_diff=(ParamChange(payload, "changed", payload, {payload: [payload]}),),
        data_diff=(
            DataChange(
                payload,
                "modified",
                DataSummary(payload, payload, 1, columns={payload: payload}),
                DataSummary(payload, HASH_NEW, 2),
                columns_added=(payload,),
                columns_removed=(payload,),
                columns_retyped=((payload, payload, payload),),
            ),
        ),
        notes=(payload,),
        comparison_note=payload,
    )


def assert_inert(md: str) -> None:
    # The charts are code blocks of mlgate's own, labels in a safe charset.
    for block in mermaid_blocks(md):
        assert_safe_xychart(block)
    page = re.sub(r'<pre lang="mermaid"><code>.*?</code></pre>', "", to_html(md), flags=re.S)
    assert "<img" not in page
    assert "<script" not in page
    assert "<strong>bold" not in page
    assert "<em>" not in page
    assert "<del>" not in page
    assert "<code>" not in page
    assert "<h1>" not in page
    assert "<a href=" not in page.replace(f'<a href="{RUN_URL}">', "")
    assert re.search(r"@[A-Za-z]", page) is None
    assert page.count("<details>") == 1 and page.count("</details>") == 1
    assert "\x1b" not in md
    assert_tables_intact(md)


@pytest.mark.parametrize("payload", PAYLOADS)
def test_untrusted_strings_cannot_inject_markup(payload: str) -> None:
    md = render(injected(payload), "markdown", run_url=RUN_URL)
    assert md.splitlines()[0].startswith("<!-- mlgate:report model=")
    assert md.splitlines()[0].endswith(" -->")
    assert_inert(md)
    page = to_html(md)
    assert [len(row) for row in table_with(page, "metric")] == [7, 7]
    assert [len(row) for row in table_with(page, "param")] == [3, 3]
    assert [len(row) for row in table_with(page, "file")] == [6, 6]


def test_injected_text_is_shown_literally() -> None:
    payload = "<img src=x onerror=alert(1)> | **bold** [link](http://evil) @octocat"
    page = to_html(render(injected(payload), "markdown"))
    shown = "<img src=x onerror=alert(1)> | **bold** [link](http://evil) @\u200boctocat"
    assert table_with(page, "param")[1][0] == shown


def test_md_escape() -> None:
    assert md_escape(None) == "—"
    assert md_escape("a|b") == "a\\|b"
    assert md_escape("<b>&") == "&lt;b&gt;&amp;"
    assert md_escape("1. x") == "1\\. x"
    assert md_escape("- x") == "\\- x"
    assert md_escape("hi @you") == "hi @\u200byou"
    assert md_escape("see https://x.y") == "see https\\://x.y"
    assert md_escape("a\r\nb\tc\x1b[0m") == "a b c\\[0m"
    assert md_escape("# heading") == "\\# heading"
    assert md_escape("---") == "\\---"
    assert md_escape("#123 stays an issue ref") == "#123 stays an issue ref"
    assert md_escape("-1") == "-1"
    assert md_escape("3.11.7") == "3.11.7"


NAME_TEXT = st.one_of(
    st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=40),
    # Mostly markdown syntax, where escaping mistakes show.
    st.lists(
        st.sampled_from([*"|\\`*_[]()<>&;@#!~$:/.=+- \n\twh1", "www.", "://"]), max_size=30
    ).map("".join),
)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(param=NAME_TEXT, value=NAME_TEXT, column=NAME_TEXT, metric=NAME_TEXT, model=NAME_TEXT)
def test_any_text_keeps_the_tables_intact(
    param: str, value: str, column: str, metric: str, model: str
) -> None:
    result = make_result(
        {metric: 0.5},
        {metric: 0.6},
        {metric: Rule(min=0.1)},
        model=model,
        params_diff=(ParamChange(param, "changed", value, 1),),
        data_diff=(
            DataChange(
                "d.csv", "modified", None, None, columns_added=(column,), columns_removed=("x",)
            ),
        ),
    )
    md = render(result, "markdown")
    page = to_html(md)
    widths = {"metric": 7, "param": 3, "file": 6, "": 3}
    for header, width in widths.items():
        assert {len(row) for row in table_with(page, header)} == {width}
    assert_tables_intact(md)
    # Each value stays in its cell, shown as itself (one line, @ defused).
    assert squash(table_with(page, "param")[1][0]) == squash(visible(param))
    assert squash(table_with(page, "metric")[1][0]) == squash(visible(metric))
    assert squash(table_with(page, "file")[1][5]) == squash(f"added {visible(column)}; removed x")
    heading = html.unescape(re.findall(r"<h3>(.*?)</h3>", page)[0])
    assert squash(heading).startswith(squash(f"✅ mlgate: {visible(model)} passes the gate"))
    assert re.search(r"@[^\u200b]", page) is None


def squash(text: str) -> str:
    return " ".join(text.split())


def visible(text: str) -> str:
    """What a reader should see for ``text``: one line, no control characters, @ defused."""
    text = re.sub(r"\r\n|[\r\n\t\v\f\x85\u2028\u2029]", " ", text)
    text = re.sub("[\x00-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]", "", text)
    return text.strip().replace("@", "@\u200b")


# --- size limit ---------------------------------------------------------------------------


def huge(count: int = 5000) -> CheckResult:
    params = tuple(
        ParamChange(f"param_{i:05d}_{'x' * 20}", "changed", i, i + 1) for i in range(count)
    )
    return dataclasses.replace(failing(), params_diff=params)


def assert_essentials(md: str, limit: int) -> None:
    assert len(md) <= limit
    lines = md.splitlines()
    assert lines[0] == "<!-- mlgate:report model=churn -->"
    assert lines[1].startswith("### ❌ mlgate: churn fails the gate (2 rules)")
    assert "- ❌ accuracy 0.84 is below the minimum 0.85" in md
    assert "- ❌ f1\\_macro dropped by 12.50%" in md


def test_small_report_is_untouched() -> None:
    md = render(passing(), "markdown")
    assert "truncated" not in md and "Omitted" not in md


def test_run_details_go_first() -> None:
    full = render(with_diffs(), "markdown")
    md = render(with_diffs(), "markdown", limit=len(full) - 1, run_url=RUN_URL)
    assert len(md) < len(full)
    page = to_html(md)
    assert "<p>Omitted to keep this comment under" in page
    assert f'<a href="{RUN_URL}">CI run</a>' in page
    assert table_with(page, "param")[1] == ["n_estimators", "100", "200"]


def test_5000_params_fit_the_comment_limit() -> None:
    md = render(huge(), "markdown", run_url=RUN_URL)
    assert_essentials(md, COMMENT_LIMIT)
    assert "… and 4,950 more params" in md
    assert "truncated" not in md
    page = to_html(md)
    assert len(table_with(page, "param")) == 51
    assert f'<a href="{RUN_URL}">CI run</a>' in page


def test_long_params_table_is_cut_to_fewer_rows() -> None:
    md = render(huge(), "markdown", limit=1500, run_url=RUN_URL)
    assert_essentials(md, 1500)
    assert "… and 4,995 more params" in md
    assert "truncated" not in md


@pytest.mark.parametrize("limit", [600, 800, 1000])
def test_small_limit_truncates_with_a_note(limit: int) -> None:
    md = render(huge(), "markdown", limit=limit, run_url=RUN_URL)
    assert_essentials(md, limit)
    assert md.rstrip().endswith(
        f"**✂️ Report truncated at {limit:,} characters; full report: "
        f"[https\\://github.com/o/r/actions/runs/42]({RUN_URL})**"
    )
    page = to_html(md)
    assert f'<a href="{RUN_URL}">' in page
    assert page.count("<details>") == page.count("</details>")


def test_truncation_without_run_url() -> None:
    md = render(huge(), "markdown", limit=800)
    assert_essentials(md, 800)
    assert md.rstrip().endswith("**✂️ Report truncated at 800 characters.**")


def test_tiny_limit_is_still_respected() -> None:
    assert len(render(huge(), "markdown", limit=100)) <= 100


def test_many_columns_are_clipped() -> None:
    columns = tuple(f"col{i}" for i in range(300))
    change = DataChange("d.csv", "modified", None, None, columns_added=columns)
    md = render(make_result({"a": 1.0}, {"a": 1.0}, {}, data_diff=(change,)), "markdown")
    assert "col49, … and 250 more" in md


def test_hostile_run_url_is_encoded() -> None:
    md = render(passing(), "markdown", run_url="https://x.example/a b)(<c>")
    assert "[CI run](https://x.example/a%20b%29%28%3Cc%3E)" in md
    assert "javascript" not in render(passing(), "markdown", run_url="javascript:alert(1)")


# --- custom template ----------------------------------------------------------------------


def test_custom_template_can_reuse_sections(tmp_path: Path) -> None:
    template = tmp_path / "report.md.j2"
    template.write_text(
        '{{ marker }}\nCustom for {{ report.model | md }}\n{% include "report/metrics.md.j2" %}\n'
    )
    md = render(passing(), "markdown", template=template)
    lines = md.splitlines()
    assert lines[0] == "<!-- mlgate:report model=churn -->" and md.count("mlgate:report") == 1
    assert lines[1].startswith("### ✅ mlgate: churn passes the gate")  # mlgate's own
    assert "Custom for churn" in lines
    assert table_with(to_html(md), "metric")[1][0] == "accuracy"


def test_custom_template_always_starts_with_the_marker(tmp_path: Path) -> None:
    template = tmp_path / "report.md.j2"
    template.write_text("Just {{ report.verdict }}\n")
    md = render(passing(), "markdown", template=template)
    assert md.startswith("<!-- mlgate:report model=churn -->\n### ✅ mlgate: churn passes")
    assert md.endswith("\n\nJust pass\n")


def test_custom_template_syntax_error_is_a_config_error(tmp_path: Path) -> None:
    template = tmp_path / "bad.md.j2"
    template.write_text("{{ marker }}\n{% if %}\n")
    with pytest.raises(ConfigError) as excinfo:
        render(passing(), "markdown", template=template)
    assert str(excinfo.value).startswith(f"{template}:2: report.template: template syntax error")


def test_custom_template_undefined_name_is_a_config_error(tmp_path: Path) -> None:
    template = tmp_path / "bad.md.j2"
    template.write_text("{{ nope }}\n")
    with pytest.raises(ConfigError, match="'nope' is undefined"):
        render(passing(), "markdown", template=template)


def test_missing_custom_template_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read the report template"):
        render(passing(), "markdown", template=tmp_path / "missing.j2")


def test_custom_template_is_sandboxed(tmp_path: Path) -> None:
    template = tmp_path / "evil.md.j2"
    template.write_text("{{ report.__class__.__mro__[1].__subclasses__() }}\n")
    with pytest.raises(ConfigError):
        render(passing(), "markdown", template=template)


def test_builtin_templates_are_found() -> None:
    assert (report.template_dir() / "report.md.j2").is_file()


# --- JSON ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    # Model names are validated by the config, so the injected case keeps a valid one.
    "build",
    [passing, failing, with_diffs, lambda: dataclasses.replace(injected("<x>"), model="churn")],
)
def test_json_validates_against_the_schema(build: Any) -> None:
    result = build()
    doc = json.loads(render(result, "json"))
    assert doc == json.loads(json.dumps(result.to_dict()))
    jsonschema.Draft202012Validator(schema()).validate(doc)


def test_json_no_baseline_and_same_data_validate() -> None:
    for result in (
        make_result(None, {"a": 1.0}, {"a": Rule(max_regression=0.1)}),
        make_result({"a": 1.0}, {"a": 1.0}, {}, comparison="same-data", base_on_head_data={}),
    ):
        jsonschema.Draft202012Validator(schema()).validate(json.loads(render(result, "json")))


def test_json_nan_becomes_null() -> None:
    result = make_result({"accuracy": float("nan")}, {"accuracy": 0.9}, {})
    text = render(result, "json")
    assert "NaN" not in text
    doc = json.loads(text)
    assert doc["base"]["metrics"]["accuracy"] is None
    jsonschema.Draft202012Validator(schema()).validate(doc)


def test_schema_is_valid_and_documents_every_field() -> None:
    jsonschema.Draft202012Validator.check_schema(schema())
    doc = json.loads(render(with_diffs(), "json"))
    defs = schema()["$defs"]

    def check(obj: Mapping[str, Any], node: Mapping[str, Any], where: str) -> None:
        props = node["properties"]
        assert set(obj) == set(props), where
        for key, spec in props.items():
            assert spec.get("description"), f"{where}.{key} has no description"

    check(doc, schema(), "report")
    check(doc["head"], defs["side"], "side")
    check(doc["metrics"][0], defs["metric_row"], "metric_row")
    check(doc["params_diff"][0], defs["param_change"], "param_change")
    check(doc["data_diff"][0], defs["data_change"], "data_change")
    check(doc["data_diff"][0]["new"], defs["data_summary"], "data_summary")
    check(json.loads(render(failing(), "json"))["failed_rules"][0], defs["rule_check"], "rule")


# --- text ---------------------------------------------------------------------------------


def test_text_without_color_has_no_escapes() -> None:
    text = render(failing(), "text")
    assert "\x1b" not in text
    lines = text.splitlines()
    assert (
        lines[0]
        == "FAIL mlgate: churn fails the gate (2 rules) — accuracy 0.9000 → 0.8400 (-0.0600)"
    )
    assert "  ✗ accuracy 0.84 is below the minimum 0.85" in lines
    assert "<" not in text


def test_text_with_color_paints_pass_and_fail() -> None:
    text = render(failing(), "text", color=True)
    assert "\x1b[31mFAIL\x1b[0m" in text
    assert "\x1b[32m" in text  # rmse improved


def test_text_metrics_are_aligned() -> None:
    colored = render(failing(), "text", color=True)
    text = re.sub(r"\x1b\[[0-9;]*m", "", colored)
    assert text == render(failing(), "text")  # colour changes nothing else
    lines = text.splitlines()
    start = lines.index("Metrics:") + 1
    header, *rows = lines[start : start + 4]
    assert header.split() == ["metric", "base", "head", "Δ", "Δ%", "change", "rule", "result"]
    assert rows[0].split()[:6] == ["accuracy", "0.9000", "0.8400", "-0.0600", "-6.67%", "worse"]
    # Numbers are right-aligned under their header.
    end = header.index("head") + len("head")
    assert [row[end - 6 : end] for row in rows] == ["0.8400", "0.7000", "1.0000"]


def test_text_has_the_same_sections() -> None:
    text = render(with_diffs(), "text", run_url=RUN_URL)
    assert "Params (3 changed):" in text
    assert '  criterion     "gini"  —' in text
    assert "  data/train.csv (modified)" in text
    assert "    sha256   3f1d2a4b → 9abc0123" in text
    assert "    retyped  age (int64 → float64)" in text
    assert "warning: head has uncommitted changes in 2 files" in text
    assert re.search(r"^  scikit-learn +1\.5\.0 +1\.5\.0$", text, re.M)
    assert text.rstrip().endswith(RUN_URL)


def test_text_strips_terminal_escapes_from_untrusted_text() -> None:
    text = render(injected("\x1b]0;pwned\x07name\nnext"), "text", color=False)
    assert "\x1b" not in text and "\x07" not in text
    assert "]0;pwnedname next" in text


def test_unknown_format() -> None:
    with pytest.raises(ValueError, match="unknown report format 'html'"):
        render(passing(), "html")  # type: ignore[arg-type]


# --- number formats -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [(0.86341, "0.8634"), (0.0, "0"), (12345.678, "12,345.7"), (0.00001234, "1.234e-05")],
)
def test_fmt_number(value: float, expected: str) -> None:
    assert markup.fmt_number(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [(512, "512 B"), (1536, "1.5 KiB"), (5 * 1024**3, "5.0 GiB")],
)
def test_fmt_size(value: int, expected: str) -> None:
    assert units.fmt_size(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (0.0004, "400 µs"),
        (0.25, "250 ms"),
        (4.254, "4.25 s"),
        (125, "2 min 5 s"),
        (3780, "1 h 3 min"),
    ],
)
def test_fmt_seconds(value: float, expected: str) -> None:
    assert markup.fmt_seconds(value) == expected


def test_the_same_document_prints_the_same_text_without_loading_jinja(tmp_path: Path) -> None:
    """A warm check renders what it rendered last time from the cache: no jinja2 import;
    any change to the document renders it anew."""
    import subprocess
    import sys

    passed, failed = tmp_path / "passing.json", tmp_path / "failing.json"
    passed.write_text(json.dumps(passing().to_dict()))
    failed.write_text(json.dumps(failing().to_dict()))
    code = (
        "import json, sys\n"
        "from mlgate.render.report import render_document\n"
        "text = render_document(json.load(open(sys.argv[1])), sys.argv[2])\n"
        "print(json.dumps([text, 'jinja2' in sys.modules]))\n"
    )
    env = {**os.environ, "MLGATE_CACHE_DIR": str(tmp_path / "cache")}

    def run(path: Path, fmt: str) -> tuple[str, bool]:
        out = subprocess.run(
            [sys.executable, "-c", code, str(path), fmt], env=env, capture_output=True, text=True
        )
        assert out.returncode == 0, out.stderr
        text, loaded = json.loads(out.stdout)
        return text, loaded

    first, loaded = run(passed, "text")
    assert loaded and first.startswith("PASS mlgate:")
    assert run(passed, "text") == (first, False)
    other, loaded = run(failed, "text")
    assert loaded and other.startswith("FAIL") and other != first
    markdown, loaded = run(passed, "markdown")
    assert loaded and markdown.startswith(marker("churn"))
    assert run(passed, "markdown") == (markdown, False)
