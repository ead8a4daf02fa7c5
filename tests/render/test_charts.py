"""render/charts.py and where its charts land: the check report (markdown only, rendered
with GitHub's cmark-gfm), the history and a promotion's summary. The browser tests
(test_charts_browser.py) parse the same charts with the real mermaid."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import cmarkgfm
import pytest
from hypothesis import given
from hypothesis import strategies as st
from test_report import failing, make_result, passing, to_html

from browser import assert_safe_xychart, mermaid_blocks
from mlgate.core.gate import Rule
from mlgate.core.results import Outcome
from mlgate.render import charts
from mlgate.render.history import outcome_trend
from mlgate.render.report import render


def row(name: str, base: float | None, head: float | None, **kw: Any) -> dict[str, Any]:
    pct = None if base in (None, 0) or head is None else (head - base) / abs(base) * 100
    return {"name": name, "base": base, "head": head, "delta_pct": pct, "rule": "≥ 0"} | kw


def series(block: str, kind: str) -> list[float]:
    found = re.search(rf"^    {kind} \[(.*)\]$", block, re.M)
    assert found, block
    return [float(x) for x in found[1].split(", ")]


def labels(block: str) -> list[str]:
    found = re.search(r"^    x-axis \[(.*)\]$", block, re.M)
    assert found, block
    return re.findall(r'"([^"]*)"', found[1])


# --- the pieces ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("accuracy", "accuracy"),
        ("f1 (macro)/2 + x.y-z: w", "f1 (macro)/2 + x.y-z: w"),
        ('a"b]c;d%%e#35;f`g\nh<i>', "a_b_c_d__e_35_f_g_h_i_"),
        ("ünï 😀\u202e", "_n_ __"),
        ("", "_"),
        ("x" * 100, "x" * 57 + "..."),
    ],
)
def test_mermaid_text_keeps_a_safe_charset(value: str, shown: str) -> None:
    assert charts.mermaid_text(value) == shown


@given(st.text())
def test_no_text_leaves_the_safe_charset(value: str) -> None:
    shown = charts.mermaid_text(value)
    assert re.fullmatch(r"[A-Za-z0-9 _.:+()/-]{1,60}", shown)


@pytest.mark.parametrize(
    ("value", "text"),
    [(1e-05, "0.00001"), (-2.5e-05, "-0.000025"), (1e20, "100000000000000000000"), (0.1, "0.1")],
)
def test_numbers_are_plain_decimals(value: float, text: str) -> None:
    assert charts.mermaid_number(value) == text


def test_sparkline() -> None:
    assert charts.sparkline([1, 2, 3, 4, 5, 6, 7, 8]) == "▁▂▃▄▅▆▇█"
    assert charts.sparkline([1.0, None, 3.0, float("nan")]) == "▁ █ "
    assert charts.sparkline([2.0, 2.0]) == "▄▄"
    assert charts.sparkline([None]) == charts.sparkline([]) == ""
    assert charts.sparkline([-1e308, 1e308]) == "▄▄"  # no finite spread: flat


def test_no_chart_when_no_axis_holds_the_values() -> None:
    bar = charts.Series("bar", (float("inf"),))
    assert charts.xychart(title="t", x_labels=["a"], y_title="y", series=[bar]) == ""
    wide = charts.Series("line", (-1e308, 1e308))
    assert charts.xychart(title="t", x_labels=["a", "b"], y_title="y", series=[wide]) == ""
    assert charts.trend_chart("t", "m", []) == ""


# --- a check's comparison charts -------------------------------------------------------------


def test_head_as_a_percentage_of_base_for_the_gated_metrics() -> None:
    rows = [
        row("accuracy", 0.8, 0.84),
        row("log_loss", 2.0, 1.5, direction="lower"),
        row("f1_macro", 0.5, 0.4, rule=None),  # not gated
        row("fit_time", 2.0, 3.0),
        row("model_size", 1e6, 5e5),
    ]
    scores, runtime = charts.comparison_charts("churn", rows)
    assert scores.metrics == ("accuracy", "log_loss") and scores.lower == ("log_loss",)
    assert labels(scores.block) == ["accuracy", "log_loss"]
    assert series(scores.block, "bar") == [105.0, 75.0]
    assert series(scores.block, "line") == [100.0, 100.0]
    assert 'y-axis "percent of base" 72 --> 108' in scores.block
    assert runtime.metrics == ("fit_time", "model_size")
    assert series(runtime.block, "bar") == [150.0, 50.0]
    assert '    title "churn runtime: head vs base (base 100)"' in runtime.block
    for chart in (scores, runtime):
        assert_safe_xychart(mermaid_blocks(chart.block)[0])


@given(
    st.lists(
        st.tuples(st.text(), st.floats(allow_nan=False), st.floats(allow_nan=False)),
        max_size=15,
    )
)
def test_any_rows_make_safe_charts(values: list[tuple[str, float, float]]) -> None:
    rows = [row(name, base, head) for name, base, head in values]
    rows = [
        r | {"delta_pct": None} if r["delta_pct"] in (float("inf"), float("-inf")) else r
        for r in rows
    ]
    for chart in charts.comparison_charts("m", rows):
        [block] = mermaid_blocks(chart.block)
        assert_safe_xychart(block)
        assert len(series(block, "bar")) == len(chart.metrics) <= charts.CHART_METRICS


def test_every_metric_is_charted_when_none_is_gated() -> None:
    rows = [row("accuracy", 0.8, 0.8, rule=None), row("f1", 0.5, 0.6, rule=None)]
    [chart] = charts.comparison_charts("m", rows)
    assert chart.metrics == ("accuracy", "f1")


def test_rows_without_a_base_to_scale_by_are_left_out_and_named() -> None:
    rows = [row("accuracy", 0.8, 0.9), row("r2", 0.0, 0.1), row("new", None, 0.5)]
    [chart] = charts.comparison_charts("m", rows)
    assert chart.metrics == ("accuracy",) and chart.left_out == ("r2", "new")
    assert charts.comparison_charts("m", [row("new", None, 0.5)]) == []


def test_at_most_a_dozen_metrics_a_chart() -> None:
    rows = [row(f"m{i}", 1.0, 1.0 + i / 100) for i in range(20)]
    [chart] = charts.comparison_charts("m", rows)
    assert len(chart.metrics) == charts.CHART_METRICS and chart.total == 20


# --- in the report ----------------------------------------------------------------------------


def test_the_chart_follows_the_metrics_table_in_the_comment() -> None:
    markdown = render(failing(), "markdown")
    page = to_html(markdown)
    table_end = page.index("</table>")
    chart = page.index('<pre lang="mermaid"><code>xychart-beta\n')
    assert table_end < chart < page.index("<details>")
    caption = page[page.index("</pre>", chart) :].split("\n")[1]
    assert caption == "<p>Bars: head as a percentage of base; the line at 100 is base.</p>"
    [block] = mermaid_blocks(markdown)
    # The gated metrics (accuracy, f1_macro), not rmse, which has no rule.
    assert labels(block) == ["accuracy", "f1_macro"]
    assert series(block, "bar") == [93.33, 87.5]


def test_lower_is_better_and_left_out_metrics_are_named_under_the_chart() -> None:
    result = make_result(
        {"rmse": 2.0, "r2": 0.0},
        {"rmse": 1.5, "r2": 0.2},
        {"rmse": Rule(max=3.0), "r2": Rule(min=-1.0)},
    )
    page = to_html(render(result, "markdown"))
    assert "the line at 100 is base. Lower is better for rmse.</p>" in page
    assert "<p>Not charted (no base value to scale by): r2.</p>" in page


def test_no_chart_without_a_base_nor_in_the_terminal() -> None:
    no_base = make_result(None, {"accuracy": 0.9}, {"accuracy": Rule(min=0.5)})
    assert mermaid_blocks(render(no_base, "markdown")) == []
    text = render(passing(), "text")
    assert "mermaid" not in text and not set(charts.SPARK) & set(text)


def test_a_custom_template_includes_the_chart_by_name(tmp_path: Path) -> None:
    template = tmp_path / "report.md.j2"
    template.write_text('Our report\n\n{% include "report/charts.md.j2" %}\n')
    markdown = render(failing(), "markdown", template=template)
    body = markdown[markdown.index("Our report") :]
    assert mermaid_blocks(body) == mermaid_blocks(render(failing(), "markdown"))


def test_truncation_never_leaves_the_chart_open() -> None:
    full = render(failing(), "markdown", limit=1_000_000)
    start = full.index("```mermaid")
    end = full.index("```\n", start + 3) + 4
    for limit in range(start, end + 200, 9):
        text = render(failing(), "markdown", limit=limit)
        assert len(text) <= limit
        assert text.count("```") % 2 == 0, limit


# --- a promotion's trend ------------------------------------------------------------------------


def trend_outcome(last: str = "head") -> Outcome:
    points = (("v1", 0.8), ("v2", None), ("v3", 0.85), (last, 0.9))
    return Outcome("churn", last != "head", trend_metric="accuracy", trend=points)


def test_a_promotion_charts_production_versions_then_the_candidate() -> None:
    markdown = outcome_trend(trend_outcome(), "markdown")
    [block] = mermaid_blocks(markdown)
    assert labels(block) == ["v1", "v3", "head"]  # v2 has no value
    assert series(block, "line") == [0.8, 0.85, 0.9]
    page = cmarkgfm.github_flavored_markdown_to_html(markdown)
    assert page.startswith("<h3>accuracy over production versions</h3>")
    assert "the last point is the candidate, which did not become a version." in page
    assert outcome_trend(trend_outcome(), "text") == "accuracy v1..head: ▁ ▄█ (0.8000 to 0.9000)"


def test_a_promoted_candidate_is_its_version() -> None:
    markdown = outcome_trend(trend_outcome("v4"), "markdown")
    assert labels(mermaid_blocks(markdown)[0]) == ["v1", "v3", "v4"]
    assert "candidate" not in markdown


def test_no_trend_from_one_point() -> None:
    one = Outcome("churn", True, trend_metric="accuracy", trend=(("v1", 0.8),))
    assert outcome_trend(one, "markdown") == outcome_trend(one, "text") == ""
    assert outcome_trend(Outcome("churn", False), "markdown") == ""
