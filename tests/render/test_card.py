"""The model card: hand-built lineages rendered and read back with GitHub's cmark-gfm.
The gate and metrics code is the real thing."""

from __future__ import annotations

import html
import re
from collections.abc import Mapping
from typing import Any

import cmarkgfm
from cmarkgfm.cmark import Options

from mlgate.core.gate import Rule, RuleCheck, evaluate
from mlgate.core.metrics import diff_metrics
from mlgate.core.production import DataRef, Lineage
from mlgate.render.card import intended_use, render_card

SHA_V1 = "1a2b3c4d" * 5
SHA_V2 = "5e6f7a8b" * 5
ORDER = ("accuracy", "f1_macro")
RULES = {"accuracy": Rule(min=0.85, max_regression=0.01), "f1_macro": Rule(max_regression_pct=2)}
PARAMS = {"C": 0.5, "max_iter": 500, "solver": "lbfgs"}
ESTIMATOR = "sklearn.linear_model.LogisticRegression"
DATA = {
    "test": DataRef("data/test.csv", "cd" * 32, 2048),
    "train": DataRef("data/train.csv", "ef" * 32, 40960),
}
VERSIONS = {"python": "3.11.4", "scikit-learn": "1.4.2", "mlgate": "0.1.0"}
V1_METRICS = {"accuracy": 0.9, "f1_macro": 0.88}
V2_METRICS = {"accuracy": 0.92, "f1_macro": 0.87}
EDITED = """\
Scores churn risk for the retention team's weekly call list.

### Out of scope

Not for pricing decisions.


```text
## not a heading: inside a code block
```"""


# --- builders -----------------------------------------------------------------------------


def lineage(version: int, **kw: Any) -> Lineage:
    fields: dict[str, Any] = {
        "model": "churn",
        "version": version,
        "kind": "promotion",
        "source_commit": SHA_V1,
        "metrics": V1_METRICS,
        "model_sha256": "ab" * 32,
        "model_size": 12345,
        "time": "2024-05-01T12:00:00+00:00",
        "data": DATA,
        "pull_request": 7,
        "versions": VERSIONS,
    }
    return Lineage(**{**fields, **kw})


def first() -> Lineage:
    return lineage(1)


def second() -> Lineage:
    return lineage(
        2,
        source_commit=SHA_V2,
        metrics=V2_METRICS,
        pull_request=12,
        replaced_version=1,
        champion_metrics=V1_METRICS,
    )


def rollback() -> Lineage:
    return lineage(
        3, kind="rollback", rollback_of=1, replaced_version=2, time="2024-05-02T09:30:00Z"
    )


def checks_for(lin: Lineage, rules: Mapping[str, Rule] = RULES) -> tuple[RuleCheck, ...]:
    rows = diff_metrics(lin.champion_metrics, lin.metrics, list(lin.metrics))
    return evaluate(rules, rows).checks


def card(lin: Lineage, **kw: Any) -> str:
    args: dict[str, Any] = {
        "rules": RULES,
        "checks": checks_for(lin) if lin.kind == "promotion" else (),
        "metric_order": ORDER,
        "task": "classification",
        "estimator": ESTIMATOR,
        "params": PARAMS,
    }
    return render_card(lin, **{**args, **kw})


# --- reading the markdown back ------------------------------------------------------------


def to_html(md: str) -> str:
    # UNSAFE keeps raw HTML: the safety must come from our escaping, not the renderer's.
    page: str = cmarkgfm.github_flavored_markdown_to_html(md, options=Options.CMARK_OPT_UNSAFE)
    return page


def text(fragment: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", "", fragment)).strip()


def tables(page: str) -> list[list[list[str]]]:
    """Every table as rows of cell texts."""
    return [
        [
            [text(c) for c in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row, re.S)]
            for row in re.findall(r"<tr>(.*?)</tr>", table, re.S)
        ]
        for table in re.findall(r"<table>(.*?)</table>", page, re.S)
    ]


def table_with(page: str, header: str) -> list[list[str]]:
    return next(t for t in tables(page) if t[0][0] == header)


def section(page: str, heading: str) -> str:
    """The HTML between ``<h2>heading</h2>`` and the next h2."""
    return page.split(f"<h2>{heading}</h2>", 1)[1].split("<h2>", 1)[0]


def items(fragment: str) -> list[str]:
    return [text(li) for li in re.findall(r"<li>(.*?)</li>", fragment, re.S)]


def pipes_per_table_line(md: str) -> list[list[int]]:
    """Unescaped pipes on each line of each markdown table. GFM pads or drops cells to
    the header's width, so the HTML alone would hide an injected pipe; the source does not."""
    blocks: list[list[int]] = [[]]
    for line in md.splitlines():
        if line.startswith("|"):
            blocks[-1].append(len(re.findall(r"(?<!\\)(?:\\\\)*\|", line)))
        elif blocks[-1]:
            blocks.append([])
    return [b for b in blocks if b]


# --- the sections -------------------------------------------------------------------------


def test_first_promotion() -> None:
    md = card(first())
    page = to_html(md)
    assert md.startswith("# churn v1\n\n")
    assert md.splitlines()[2] == (
        "Promoted on 2024-05-01 12:00 UTC from commit 1a2b3c4 (PR #7), "
        "the first production version."
    )
    assert items(section(page, "Model")) == [
        "Task: classification",
        f"Estimator: {ESTIMATOR}",
        "File: model.skops, sha256 abababab, 12.1 KiB",
    ]
    assert table_with(page, "param") == [
        ["param", "value"],
        ["C", "0.5"],
        ["max_iter", "500"],
        ["solver", '"lbfgs"'],
    ]
    assert table_with(page, "data") == [
        ["data", "path", "sha256", "size"],
        ["train", "data/train.csv", "efefefef", "40.0 KiB"],
        ["test", "data/test.csv", "cdcdcdcd", "2.0 KiB"],
    ]
    metrics = section(page, "Metrics")
    assert "v1 on its evaluation data (data/test.csv); there was no champion" in metrics
    assert tables(metrics) == [[["metric", "v1"], ["accuracy", "0.9000"], ["f1_macro", "0.8800"]]]


def test_first_promotion_gate_skips_rules_that_need_a_champion() -> None:
    gate = section(to_html(card(first())), "Gate")
    assert "with no champion to compare with, only absolute limits applied" in gate
    assert tables(gate) == [
        [
            ["metric", "rule", "limit", "result"],
            ["accuracy", "min", "0.85", "✅ pass"],
            ["accuracy", "max_regression", "0.01", "⏭️ skipped: no champion"],
            ["f1_macro", "max_regression_pct", "2%", "⏭️ skipped: no champion"],
        ]
    ]


def test_promotion_over_a_champion_shows_both_on_the_same_data() -> None:
    md = card(second())
    page = to_html(md)
    assert md.startswith("# churn v2\n\nPromoted on 2024-05-01 12:00 UTC from commit 5e6f7a8 ")
    assert "(PR #12), replacing v1.\n" in md
    metrics = section(page, "Metrics")
    assert "v2 and the champion v1 it replaced, both scored on the same evaluation data" in metrics
    assert tables(metrics) == [
        [
            ["metric", "v2", "champion v1", "Δ", "Δ%"],
            ["accuracy", "0.9200", "0.9000", "▲ +0.0200 🟢", "+2.22%"],
            ["f1_macro", "0.8700", "0.8800", "▼ -0.0100 🔴", "-1.14%"],
        ]
    ]
    gate = table_with(section(page, "Gate"), "metric")
    assert [row[3] for row in gate[1:]] == ["✅ pass", "✅ pass", "✅ pass"]
    assert items(section(page, "Lineage")) == [
        "Version: v2 (promotion)",
        f"Source commit: {SHA_V2}",
        "Pull request: #12",
        "Replaced: v1",
        "Time: 2024-05-01T12:00:00+00:00",
    ]
    assert table_with(page, "library") == [
        ["library", "version"],
        ["mlgate", "0.1.0"],
        ["python", "3.11.4"],
        ["scikit-learn", "1.4.2"],
    ]


def test_metrics_follow_the_config_order_then_the_rest_sorted() -> None:
    lin = lineage(1, metrics={"roc_auc": 0.7, "fit_time": 0.25, "f1_macro": 0.8, "accuracy": 0.9})
    rows = table_with(section(to_html(card(lin)), "Metrics"), "metric")
    assert rows[1:] == [
        ["accuracy", "0.9000"],
        ["f1_macro", "0.8000"],
        ["fit_time", "250 ms"],
        ["roc_auc", "0.7000"],
    ]


def test_a_champion_that_could_not_be_scored() -> None:
    lin = lineage(2, replaced_version=1)
    page = to_html(card(lin))
    assert "v2 on its evaluation data (data/test.csv).</p>" in section(page, "Metrics")
    gate = section(page, "Gate")
    assert "the champion v1 could not be scored on the same evaluation data" in gate
    assert table_with(gate, "metric")[2] == [
        "accuracy",
        "max_regression",
        "0.01",
        "⏭️ skipped: champion not scored",
    ]


def test_failed_rules_are_spelled_out() -> None:
    lin = lineage(2, metrics={"accuracy": 0.8}, champion_metrics={"accuracy": 0.9})
    page = to_html(card(lin, checks=checks_for(lin, {"accuracy": Rule(min=0.85)})))
    gate = section(page, "Gate")
    assert table_with(gate, "metric")[1] == ["accuracy", "min", "0.85", "❌ fail"]
    assert items(gate) == ["❌ accuracy 0.8 is below the minimum 0.85"]


def test_rollback() -> None:
    md = card(rollback())
    page = to_html(md)
    assert md.splitlines()[:3] == [
        "# churn v3",
        "",
        "Rolled back on 2024-05-02 09:30 UTC: the model of v1 (commit 1a2b3c4, PR #7) is in "
        "production again, replacing v2.",
    ]
    gate = section(page, "Gate")
    assert "Not checked for this version: a rollback restores v1 as it was." in gate
    assert tables(gate) == [
        [
            ["metric", "rule"],
            ["accuracy", "≥ 0.85, worse by ≤ 0.01"],
            ["f1_macro", "worse by ≤ 2%"],
        ]
    ]
    assert items(section(page, "Lineage"))[:5] == [
        "Version: v3 (rollback)",
        f"Source commit: {SHA_V1}",
        "Pull request: #7",
        "Rollback of: v1",
        "Replaced: v2",
    ]


def test_no_rules_no_params_no_data() -> None:
    page = to_html(card(lineage(1, data={}, versions={}), rules={}, checks=(), params={}))
    assert "<p>No gate rules.</p>" in section(page, "Gate")
    assert "<p>No params: the estimator's defaults.</p>" in section(page, "Model")
    assert "<p>No data files recorded.</p>" in section(page, "Data")
    assert [t[0][0] for t in tables(page)] == ["metric"]


def test_same_inputs_same_card() -> None:
    params = dict(reversed(PARAMS.items()))
    data = dict(reversed(DATA.items()))
    assert card(second()) == card(second())
    assert card(second()) == card(lineage(**{**vars(second()), "data": data}), params=params)


# --- intended use -------------------------------------------------------------------------


def with_intended_use(card_text: str, body: str) -> str:
    """``card_text`` with its Intended use section's body replaced, as a team would edit it."""
    old = intended_use(card_text)
    assert old is not None
    return card_text.replace(old, body)


def test_new_card_has_the_prompts() -> None:
    prompts = items(section(to_html(card(first())), "Intended use"))
    assert [p.split(":")[0] for p in prompts] == [
        "Intended use",
        "Out-of-scope uses",
        "Known limitations",
        "Contact",
    ]


def test_edited_intended_use_survives_promotions_verbatim() -> None:
    v1 = with_intended_use(card(first()), EDITED)
    v2 = card(second(), previous_card=v1)
    v3 = card(rollback(), previous_card=v2)
    assert intended_use(v2) == EDITED
    assert intended_use(v3) == EDITED
    assert f"## Intended use\n\n{EDITED}\n\n## Data\n" in v3  # blank lines kept, even doubled
    page = to_html(v3)
    assert "Not for pricing decisions." in section(page, "Intended use")
    assert "Known limitations" not in page


def test_untouched_prompts_are_rendered_again() -> None:
    v1 = card(first())
    # Editors trim trailing spaces and change line endings: still the prompts.
    resaved = v1.replace("\n", "  \r\n")
    assert card(second(), previous_card=resaved) == card(second())


def test_a_missing_or_emptied_section_gets_the_prompts() -> None:
    expected = card(second())
    emptied = with_intended_use(card(first()), "")
    assert card(second(), previous_card=emptied) == expected
    assert card(second(), previous_card="# churn v1\n\n## Model\n") == expected


def test_intended_use_ends_at_the_next_section_outside_code() -> None:
    text = "# m v1\n\n## Intended use ##\n\nours\n~~~\n## code\n~~~\n### sub\n\n## Data\nx\n"
    assert intended_use(text) == "ours\n~~~\n## code\n~~~\n### sub"
    assert intended_use("# m v1\n\n## intended USE\nlast section\n") == "last section"
    assert intended_use("# m v1\n```\n## Intended use\n```\n") is None


# --- untrusted text -----------------------------------------------------------------------

IMG = "<img src=x onerror=1>"
PIPES = "| a | b |"
MENTION = "@octocat"


def hostile_card() -> str:
    name = f"{IMG} {PIPES} {MENTION}"
    lin = lineage(
        2,
        metrics={name: 0.9, "accuracy": 0.9},
        champion_metrics={name: 0.8, "accuracy": 0.95},
        replaced_version=1,
        data={
            "test": DataRef(f"data/{PIPES}{IMG}.csv", "cd" * 32, 1),
            name: DataRef(name, "ef" * 32, 2),
        },
        versions={name: MENTION},
    )
    rules = {name: Rule(min=0.5), "accuracy": Rule(max_regression=0.01)}
    return card(
        lin,
        rules=rules,
        checks=checks_for(lin, rules),
        metric_order=[name],
        task=MENTION,
        estimator=f"{IMG}.{MENTION}",
        params={IMG: PIPES, PIPES: MENTION, MENTION: IMG},
    )


def test_injection_in_params_paths_and_metric_names_is_escaped() -> None:
    md = hostile_card()
    page = to_html(md)
    assert "<img" not in page
    assert MENTION not in md and MENTION not in page
    for block in pipes_per_table_line(md):
        assert len(set(block)) == 1, block
    for table in tables(page):
        assert len({len(row) for row in table}) == 1, table
    params = table_with(page, "param")
    assert sorted(row[0] for row in params[1:]) == sorted(["@\u200boctocat", IMG, PIPES])
    assert [IMG, f'"{PIPES}"'] in params
    name = f"{IMG} {PIPES} @\u200boctocat"
    assert table_with(page, "metric")[1] == [name, "0.9000", "0.8000", "▲ +0.1000 🟢", "+12.50%"]
    assert [name, "min", "0.5", "✅ pass"] in table_with(section(page, "Gate"), "metric")
    assert ["test", f"data/{PIPES}{IMG}.csv", "cdcdcdcd", "1 B"] in table_with(page, "data")
    assert items(section(page, "Gate")) == [
        "❌ accuracy dropped by 0.05 (base 0.95 → head 0.9), more than the allowed 0.01"
    ]
