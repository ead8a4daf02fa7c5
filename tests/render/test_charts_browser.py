"""Every chart mlgate writes, parsed and drawn by the real mermaid (the npm release the
Makefile pins, the one GitHub draws comments with) in headless chromium: the check
report's, the history's and a promotion's, also when names are hostile. One rendered
comment is saved as a screenshot in tests/.artifacts/ (CI uploads it).

Skipped, saying why, where chromium or the npm packages are not installed (tests/browser.py).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import cmarkgfm
import pytest
from cmarkgfm.cmark import Options
from test_report import make_result

from browser import ARTIFACTS, Rendered, assert_safe_xychart, mermaid_blocks
from mlgate.core.gate import Rule
from mlgate.core.production import Version
from mlgate.core.results import Outcome
from mlgate.render import charts
from mlgate.render.history import outcome_trend
from mlgate.render.history import render as render_history
from mlgate.render.report import render

# Mermaid's own syntax and the comment around it: each would end a label, add a statement,
# reconfigure mermaid (an init directive) or reach the page, if it got through.
HOSTILE = [
    'acc"uracy',
    "acc]uracy, [x",
    "a; bar [1000]",
    "a\n    bar [1000]\n    title x",
    '%%{init: {"securityLevel": "loose", "theme": "dark"}}%%',
    "%% a comment",
    'click a call alert(1) "x"',
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    "#quot; #35; #lt;b#gt; &lt;b&gt;",
    "```\n<b>out of the fence</b>",
    "`code` ~~x~~ **b** [l](http://evil) @octocat",
    'title "x"\nx-axis [a]\n',
    "\u202eevil\u2066 ünïcödé 😀",
    "",
    "x" * 500,
]

SHOT_ROWS = {"accuracy": (0.8512, 0.8634), "f1_macro": (0.80, 0.79), "log_loss": (2.31, 2.12)}


def rendered_ok(result: Rendered) -> None:
    assert result.ok, result.error
    assert result.type == "xychart"
    assert result.active == [], result.active


def checked(browser: Any, markdown: str) -> list[Rendered]:
    """Every mermaid block of ``markdown``, of mlgate's shape and drawn without error."""
    blocks = mermaid_blocks(markdown)
    assert blocks
    for block in blocks:
        assert_safe_xychart(block)
    results: list[Rendered] = browser.render(blocks)
    for result in results:
        rendered_ok(result)
    return results


def report_with(names: list[str], **kw: Any) -> str:
    base = {name: 0.5 + i / 100 for i, name in enumerate(names)}
    head = {name: value + 0.01 for name, value in base.items()}
    rules = {name: Rule(min=0.1) for name in names}
    return render(make_result(base, head, rules, **kw), "markdown")


def version(n: int, metrics: dict[str, float], headline: str) -> Version:
    return Version(
        version=n,
        tag=f"churn@v{n}",
        kind="promotion",
        rollback_of=None,
        source_commit="a" * 40,
        pull_request=None,
        metrics=metrics,
        headline_metric=headline,
        time="2024-05-01T10:00:00+00:00",
        commit="b" * 40,
    )


def test_the_check_report_charts_render(browser: Any) -> None:
    result = make_result(
        {"accuracy": 0.90, "f1_macro": 0.80, "log_loss": 2.3, "fit_time": 1.5, "model_size": 1e6},
        {"accuracy": 0.84, "f1_macro": 0.81, "log_loss": 2.1, "fit_time": 3.0, "model_size": 2e6},
        {
            "accuracy": Rule(min=0.85),
            "f1_macro": Rule(max_regression_pct=2.0),
            "log_loss": Rule(max=3.0),
            "fit_time": Rule(max=10.0),
            "model_size": Rule(max=1e7),
        },
    )
    scores, runtime = checked(browser, render(result, "markdown"))
    assert scores.title == ["churn: head vs base (base 100)"]
    assert scores.x_labels == ["accuracy", "f1_macro", "log_loss"]
    assert scores.y_title == ["percent of base"]
    assert (scores.bars, scores.lines) == (3, 1)
    assert runtime.x_labels == ["fit_time", "model_size"]
    assert (runtime.bars, runtime.lines) == (2, 1)


def test_history_and_promotion_charts_render(browser: Any) -> None:
    versions = [version(n, {"rmse": 10.0 - n / 3}, "rmse") for n in range(1, 8)]
    history = render_history(versions, "churn", "markdown")
    outcome = Outcome(
        "churn",
        False,
        trend_metric="rmse",
        trend=(*((f"v{v.version}", v.metrics["rmse"]) for v in versions), ("head", 7.1)),
    )
    promotion = outcome_trend(outcome, "markdown")
    [drawn_history] = checked(browser, history)
    [drawn_promotion] = checked(browser, promotion)
    assert drawn_history.x_labels == [f"v{n}" for n in range(1, 8)]
    assert drawn_promotion.x_labels == [*(f"v{n}" for n in range(1, 8)), "head"]
    # Bars with a line through them: a line alone is drawn next to invisible on white.
    assert (drawn_history.bars, drawn_history.lines) == (7, 1)
    assert (drawn_promotion.bars, drawn_promotion.lines) == (8, 1)
    assert drawn_promotion.title == ["churn: rmse"]


@pytest.mark.parametrize("batch", [HOSTILE])
def test_hostile_names_stay_text(browser: Any, batch: list[str]) -> None:
    """Metric, model and version names mermaid's syntax would act on: every chart still
    parses, draws exactly its bars, and shows the name reduced to the safe charset."""
    markdown = []
    for name in batch:
        markdown.append(report_with([name, "f1_macro"], model=name))
        versions = [version(n, {name: 0.5 + n / 10}, name) for n in (1, 2, 3)]
        markdown.append(render_history(versions, name, "markdown"))
        trend = tuple((f"v{v.version}", v.metrics[name]) for v in versions)
        outcome = Outcome(name, False, trend_metric=name, trend=(*trend, ("head", 0.9)))
        markdown.append(outcome_trend(outcome, "markdown"))
    blocks = [block for text in markdown for block in mermaid_blocks(text)]
    assert len(blocks) == 3 * len(batch)
    for block in blocks:
        assert_safe_xychart(block)
    results = browser.render(blocks)
    for i, name in enumerate(batch):
        report, history, promotion = results[3 * i : 3 * i + 3]
        for result in (report, history, promotion):
            rendered_ok(result)
        shown = charts.mermaid_text(name)
        assert report.x_labels == [shown, "f1_macro"]
        assert (report.bars, report.lines) == (2, 1)
        assert report.title == [charts.mermaid_text(f"{name}: head vs base (base 100)")]
        assert history.y_title == promotion.y_title == [shown]
        assert history.x_labels == ["v1", "v2", "v3"]
        assert promotion.x_labels == ["v1", "v2", "v3", "head"]
        for result in (report, history, promotion):
            # Markup in a name is text in the SVG (rendered_ok: no element acts on it).
            svg = (result.svg or "").lower()
            assert "<script" not in svg and "<img" not in svg and "<b>" not in svg


def test_the_parser_is_the_real_one(browser: Any) -> None:
    """The same hostile label, not reduced, breaks or changes the chart: the browser tests
    above would catch a label that gets through."""
    raw = [
        'xychart-beta\n    title "a"b"\n    x-axis ["x"]\n    y-axis "y" 0 --> 2\n    bar [1]',
        'xychart-beta\n    x-axis ["a", "b"]\n    y-axis "y" 0 --> 2\n    bar [1, 1]; bar [9, 9]',
        'xychart-beta\n    x-axis ["a"]]\n    y-axis "y" 0 --> 2\n    bar [1]',
        'xychart-beta\n    x-axis [a]\n    y-axis "y" 0 --> 2\n    bar [1e-05]',
    ]
    first, second, third, fourth = browser.render(raw)
    assert not first.ok and "Parse error" in (first.error or "")
    assert not third.ok and not fourth.ok
    # `;` ends a statement: a second bar series appears.
    assert second.ok and second.bars == 4


def test_a_rendered_comment_screenshot(browser: Any) -> None:
    """The PR comment as GitHub shows it (cmark-gfm's HTML, mermaid blocks drawn): saved as
    tests/.artifacts/report-comment.png for people to look at."""
    base = {name: b for name, (b, _) in SHOT_ROWS.items()}
    head = {name: h for name, (_, h) in SHOT_ROWS.items()}
    rules = {"accuracy": Rule(min=0.85, max_regression=0.01), "f1_macro": Rule(max_regression=0.02)}
    rules["log_loss"] = Rule(max=3.0)
    result = make_result(base, head, rules, comparison="same-data")
    result = dataclasses.replace(result, notes=("shown in a browser by the test suite",))
    markdown = render(result, "markdown")
    page = cmarkgfm.github_flavored_markdown_to_html(markdown, options=Options.CMARK_OPT_UNSAFE)
    assert '<pre lang="mermaid"><code>xychart-beta' in page
    path = ARTIFACTS / "report-comment.png"
    [drawn] = browser.screenshot(page, path)
    rendered_ok(drawn)
    assert drawn.x_labels == list(SHOT_ROWS)
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000
    print(f"screenshot of a rendered comment: {path}")


def test_the_installed_mermaid_is_the_pinned_one(browser: Any) -> None:
    makefile = (Path(__file__).resolve().parents[2] / "Makefile").read_text()
    assert f"MERMAID_NPM = mermaid@{browser.mermaid_version}\n" in makefile
