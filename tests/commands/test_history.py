"""mlgate history: versions read back from real annotated tags on a real production branch.

The branch and tags are built with git plumbing (one commit per version, the way a
promotion writes them) or, for a thousand versions, with one ``git fast-import`` stream.
"""

from __future__ import annotations

import dataclasses
import json
import re
import subprocess
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import cmarkgfm
import pytest

from conftest import git
from mlgate.commands import history
from mlgate.core import production
from mlgate.core.production import Version
from mlgate.errors import GitError
from mlgate.render.history import render as render_history
from sites import BOT, ORDER, git_input, lineage

SHA_A = "1a2b3c4d5e6f" + "0" * 28
SHA_B = "5e6f7a8b9c0d" + "1" * 28


def production_commit(repo: Path, record: production.Lineage) -> str:
    """One commit on the orphan ``production`` branch holding ``<model>/lineage.json``."""
    blob = git_input(repo, json.dumps(record.to_dict()), "hash-object", "-w", "--stdin")
    inner = git_input(repo, f"100644 blob {blob}\t{production.LINEAGE_FILE}\n", "mktree")
    tree = git_input(repo, f"040000 tree {inner}\t{record.model}\n", "mktree")
    tip = git(repo, "for-each-ref", "--format=%(objectname)", "refs/heads/production")
    parent = ["-p", tip] if tip else []
    message = production.commit_message(record)
    commit = git(repo, "commit-tree", tree, *parent, "-m", message)
    git(repo, "update-ref", "refs/heads/production", commit)
    return commit


def annotated_tag(repo: Path, name: str, message: str, target: str, *options: str) -> None:
    git_input(repo, message, "tag", "-a", *options, "--cleanup=verbatim", "-F", "-", name, target)


def promote(repo: Path, record: production.Lineage, template: str = production.DEFAULT_TAG) -> str:
    """What a promotion leaves behind: a production commit and its annotated tag."""
    commit = production_commit(repo, record)
    name = production.tag_name(template, record.model, record.version)
    annotated_tag(repo, name, production.tag_message(record, ORDER), commit)
    return commit


def expected(record: production.Lineage, commit: str, tag: str | None = None) -> Version:
    return Version(
        version=record.version,
        tag=tag or f"{record.model}@v{record.version}",
        kind=record.kind,
        rollback_of=record.rollback_of,
        source_commit=record.source_commit,
        pull_request=record.pull_request,
        metrics=record.metrics,
        headline_metric=ORDER[0],
        time=record.time,
        commit=commit,
    )


def fast_import_versions(repo: Path, count: int, model: str = "churn") -> None:
    """``count`` versions of ``model`` (every 10th a rollback) in one ``git fast-import``."""
    start = datetime(2024, 1, 1, tzinfo=timezone.utc)
    chunks: list[bytes] = []
    for n in range(1, count + 1):
        when = start + timedelta(hours=n)
        record = lineage(
            n,
            metrics={"accuracy": 0.8 + (n % 97) / 1000, "f1_macro": 0.75 + (n % 89) / 1000},
            source=f"{n:040x}",
            time=when.isoformat(),
            pull_request=None if n % 10 == 0 else n,
            rollback_of=n - 2 if n % 10 == 0 else None,
            model=model,
        )
        chunks.append(_fast_import_version(record, int(when.timestamp())))
    proc = subprocess.run(
        ["git", "fast-import", "--quiet"], cwd=repo, input=b"".join(chunks), capture_output=True
    )
    assert proc.returncode == 0, proc.stderr.decode()


def _fast_import_version(record: production.Lineage, stamp: int) -> bytes:
    def data(text: str) -> str:
        return f"data {len(text.encode())}\n{text}\n"

    n, model = record.version, record.model
    return (
        f"commit refs/heads/production\nmark :{n}\ncommitter {BOT} {stamp} +0000\n"
        + data(production.commit_message(record))
        + f"M 100644 inline {model}/{production.LINEAGE_FILE}\n"
        + data(json.dumps(record.to_dict()))
        + f"tag {production.tag_name(production.DEFAULT_TAG, model, n)}\nfrom :{n}\n"
        + f"tagger {BOT} {stamp} +0000\n"
        + data(production.tag_message(record, ORDER))
    ).encode()


# --- list_versions ---------------------------------------------------------------------------


def test_promotions_and_rollbacks_parse_back_exactly(repo: Path) -> None:
    v1 = lineage(1, pull_request=12, metrics={"accuracy": 0.9123, "f1_macro": 0.9001})
    v2 = lineage(2, source=SHA_B, metrics={"accuracy": 0.9345, "f1_macro": 0.91})
    v3 = lineage(3, rollback_of=1, metrics=v1.metrics, time="2024-05-03T08:05:00Z")
    commits = [promote(repo, record) for record in (v1, v2, v3)]

    versions = history.list_versions(repo, "churn")

    assert versions == [expected(r, c) for r, c in zip((v1, v2, v3), commits, strict=True)]
    assert [(v.kind, v.rollback_of) for v in versions] == [
        ("promotion", None),
        ("promotion", None),
        ("rollback", 1),
    ]
    assert git(repo, "rev-parse", "production") == versions[-1].commit


def test_versions_are_sorted_numerically_not_by_name(repo: Path) -> None:
    for n in (2, 10, 1, 9):
        promote(repo, lineage(n))
    assert [v.version for v in history.list_versions(repo, "churn")] == [1, 2, 9, 10]


def test_a_repository_without_versions_has_an_empty_history(repo: Path) -> None:
    git(repo, "commit", "-q", "--allow-empty", "-m", "init")
    assert history.list_versions(repo, "churn") == []


def test_foreign_look_alike_and_other_models_tags_are_ignored(repo: Path) -> None:
    ours = promote(repo, lineage(1))
    promote(repo, lineage(1, model="other"))
    block = json.loads(production.tag_message(lineage(7), ORDER).splitlines()[-1])

    def tag(name: str, message: str, target: str = ours) -> None:
        annotated_tag(repo, name, message, target)

    git(repo, "tag", "churn@v99", ours)  # lightweight: the commit's message is no block
    tag("churn@v98", "release 98, by hand")
    tag("churn@v97", "x\n\n" + json.dumps({**block, "version": 97, "model": "other"}))
    tag("churn@v96", "x\n\n" + json.dumps({**block, "version": 5}))  # name and block differ
    tag("churn@v95", "x\n\n" + json.dumps({**block, "version": 95, "metrics": "high"}))
    tag("churn@v94", "x\n\n" + json.dumps({**block, "version": 94, "kind": "promoted"}))
    tag("churn@v93", "x\n\n" + json.dumps({**block, "version": 93, "pull_request": True}))
    tag("churn@v92", "x\n\n" + "[" * 100_000)  # deeper than json.loads can recurse
    tag("churn@v91", "x\n\n" + json.dumps({**block, "version": 91}), "churn@v1")  # nested
    tag("churn@v90", "x\n\n" + json.dumps({**block, "version": 90}), f"{ours}^{{tree}}")
    tag("churn@v089", "x\n\n" + json.dumps({**block, "version": 89}))
    tag("churn@vnext", "x\n\n" + json.dumps(block))
    tag("churn@v1-rc", "x\n\n" + json.dumps(block))
    git(repo, "branch", "churn@v1", ours)  # makes %(refname:short) say "tags/churn@v1"

    assert [v.tag for v in history.list_versions(repo, "churn")] == ["churn@v1"]
    assert [v.tag for v in history.list_versions(repo, "other")] == ["other@v1"]


def test_a_custom_tag_template_names_and_finds_the_tags(repo: Path) -> None:
    template = "models/{name}/{version}"
    records = [lineage(1), lineage(2, rollback_of=1)]
    commits = [promote(repo, record, template) for record in records]
    promote(repo, lineage(3))  # the default template's name: not a tag of this scheme

    versions = history.list_versions(repo, "churn", tag_template=template)

    tags = ["models/churn/1", "models/churn/2"]
    assert versions == [expected(*args) for args in zip(records, commits, tags, strict=True)]


def test_the_tagger_date_stands_in_for_an_unreadable_time(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GIT_COMMITTER_DATE", "2024-06-01T12:34:56+02:00")
    promote(repo, lineage(1, time="yesterday"))
    assert history.list_versions(repo, "churn")[0].time == "2024-06-01T12:34:56+02:00"


def test_signed_tags_are_read_without_their_signature(repo: Path, tmp_path: Path) -> None:
    key = tmp_path / "signing-key"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    git(repo, "config", "gpg.format", "ssh")
    git(repo, "config", "user.signingkey", str(key))
    record = lineage(1, pull_request=3)
    commit = production_commit(repo, record)
    annotated_tag(repo, "churn@v1", production.tag_message(record, ORDER), commit, "-s")
    assert "-----BEGIN SSH SIGNATURE-----" in git(repo, "cat-file", "-p", "churn@v1")

    assert history.list_versions(repo, "churn") == [expected(record, commit)]


def test_a_tag_message_that_is_not_utf8_is_a_clear_git_error(repo: Path) -> None:
    commit = promote(repo, lineage(1))
    git_input(repo, b"caf\xe9\n", "tag", "-a", "-F", "-", "churn@v2", commit)

    with pytest.raises(GitError) as excinfo:
        history.list_versions(repo, "churn")

    assert str(excinfo.value) == (
        f"a tag matching refs/tags/churn@v* in {repo} has a message that is not UTF-8, so it "
        "is not one mlgate wrote; delete or re-create that tag and run mlgate history again"
    )


def test_outside_a_repository_is_a_git_error(tmp_path: Path) -> None:
    with pytest.raises(GitError, match=r"^git for-each-ref .* failed in "):
        history.list_versions(tmp_path, "churn")


def test_a_thousand_versions_from_fast_import(repo: Path) -> None:
    fast_import_versions(repo, 1000)

    versions = history.list_versions(repo, "churn")

    assert [v.version for v in versions] == list(range(1, 1001))
    assert git(repo, "rev-list", "--count", "production") == "1000"
    assert versions[-1].commit == git(repo, "rev-parse", "production")
    assert versions[9].kind == "rollback" and versions[9].rollback_of == 8
    assert versions[10].pull_request == 11 and versions[10].source_commit == f"{11:040x}"
    assert versions[10].metrics == {"accuracy": 0.8 + 11 / 1000, "f1_macro": 0.75 + 11 / 1000}


# --- render ----------------------------------------------------------------------------------


def three_versions(repo: Path) -> list[Version]:
    promote(repo, lineage(1, pull_request=12, metrics={"accuracy": 0.9123}))
    promote(repo, lineage(2, source=SHA_B, time="2024-05-02T11:30:00+02:00"))
    promote(repo, lineage(3, rollback_of=1, metrics={"accuracy": 0.9123}, time="2024-05-03"))
    return history.list_versions(repo, "churn")


def test_text_is_an_aligned_table(repo: Path) -> None:
    assert render_history(three_versions(repo), "churn", "text") == (
        "churn: 3 versions, current v3\n"
        "\n"
        "version  date                  source       accuracy  note\n"
        "v1       2024-05-01 10:00 UTC  1a2b3c4 #12    0.9123\n"
        "v2       2024-05-02 09:30 UTC  5e6f7a8        0.9000\n"
        "v3       2024-05-03 00:00 UTC  1a2b3c4        0.9123  rollback of v1\n"
        "\n"
        "accuracy v1..v3: █▁█ (0.9000 to 0.9123)\n"
    )


def mermaid_blocks(markdown: str) -> list[str]:
    return re.findall(r"^```mermaid\n(.*?)^```$", markdown, flags=re.S | re.M)


def chart_series(block: str) -> tuple[list[str], list[float], float, float]:
    """The x labels, the line's values and the y-axis range of an xychart-beta block."""
    labels = re.search(r"^ *x-axis \[(.*)\]$", block, re.M)
    values = re.search(r"^ *line \[(.*)\]$", block, re.M)
    y_axis = re.search(r'^ *y-axis "[^"]*" (-?[\d.]+) --> (-?[\d.]+)$', block, re.M)
    assert labels and values and y_axis, block
    numbers = [float(x) for x in values[1].split(", ")]
    return (
        [x.strip('"') for x in labels[1].split(", ")],
        numbers,
        float(y_axis[1]),
        float(y_axis[2]),
    )


def test_markdown_is_a_gfm_table_and_a_mermaid_chart(repo: Path) -> None:
    markdown = render_history(three_versions(repo), "churn", "markdown")
    html = cmarkgfm.github_flavored_markdown_to_html(markdown)

    assert html.startswith("<h2>Promoted versions of churn</h2>\n<p>3 versions, current v3.</p>")
    headers = re.findall(r"<th[^>]*>(.*?)</th>", html)
    assert headers == ["Version", "Date", "Source", "accuracy", "Note"]
    rows = re.findall(r"<tr>\n(.*?)</tr>", html, flags=re.S)[1:]
    cells = [re.findall(r"<td[^>]*>(.*?)</td>", row) for row in rows]
    assert cells == [
        ["v1", "2024-05-01 10:00 UTC", "1a2b3c4 #12", "0.9123", ""],
        ["v2", "2024-05-02 09:30 UTC", "5e6f7a8", "0.9000", ""],
        ["v3", "2024-05-03 00:00 UTC", "1a2b3c4", "0.9123", "rollback of v1"],
    ]
    assert '<pre lang="mermaid"><code>xychart-beta' in html
    [block] = mermaid_blocks(markdown)
    assert block.splitlines()[:2] == ["xychart-beta", '    title "churn: accuracy"']
    labels, values, low, high = chart_series(block)
    assert labels == ["v1", "v2", "v3"]
    assert values == [0.9123, 0.9, 0.9123]
    assert low < min(values) and max(values) < high and high - low < 0.02


BASE = Version(
    version=1,
    tag="churn@v1",
    kind="promotion",
    rollback_of=None,
    source_commit=SHA_A,
    pull_request=None,
    metrics={},
    headline_metric="rmse",
    time="2024-05-01T10:00:00+00:00",
    commit=SHA_B,
)


def version(n: int, **changes: Any) -> Version:
    """A Version built in memory, for what ``render`` alone decides."""
    numbered = dataclasses.replace(BASE, version=n, tag=f"churn@v{n}", metrics={"rmse": 100.0 + n})
    return dataclasses.replace(numbered, **changes)


def test_the_chart_shows_the_last_60_versions_and_says_so() -> None:
    markdown = render_history([version(n) for n in range(1, 76)], "churn", "markdown")

    assert "The chart shows the last 60 of 75 versions." in markdown
    assert markdown.count("\n| v") == 75  # the table keeps every version
    labels, values, low, high = chart_series(mermaid_blocks(markdown)[0])
    assert labels == [f"v{n}" for n in range(16, 76)]
    assert values == [100.0 + n for n in range(16, 76)]
    assert (low, high) == (110.0, 181.0)


def test_the_chart_skips_missing_values_and_plain_decimals_only() -> None:
    versions = [
        version(1, metrics={"rmse": 1.5e-05}),
        version(2, metrics={"rmse": float("nan")}),
        version(3, metrics={"mae": 1.0}),
        version(4, metrics={"rmse": -2.5e-05}),
    ]
    labels, values, low, high = chart_series(
        mermaid_blocks(render_history(versions, "churn", "markdown"))[0]
    )
    assert labels == ["v1", "v4"]
    assert values == [0.000015, -0.000025]
    assert (low, high) == (-0.000029, 0.000019)
    assert "e-" not in mermaid_blocks(render_history(versions, "churn", "markdown"))[0]


def test_no_chart_without_a_headline_value() -> None:
    versions = [version(1, metrics={}, headline_metric=None)]
    markdown = render_history(versions, "churn", "markdown")
    assert "| Version | Date | Source | metric | Note |" in markdown
    assert mermaid_blocks(markdown) == []


def test_untrusted_tag_contents_are_escaped(repo: Path) -> None:
    name = "<img src=x onerror=alert(1)>|**bold**\n# @team\x1b[31m"
    block = json.loads(production.tag_message(lineage(1), ORDER).splitlines()[-1])
    block.update(metrics={name: 0.5}, headline_metric=name, source_commit="`|<b>x</b>")
    annotated_tag(
        repo, "churn@v1", "hi\n\n" + json.dumps(block), production_commit(repo, lineage(1))
    )
    versions = history.list_versions(repo, "churn")
    assert versions[0].metrics == {name: 0.5}

    markdown = render_history(versions, "churn", "markdown")
    html = cmarkgfm.github_flavored_markdown_to_html(markdown)
    table = html[html.index("<table>") : html.index("</table>")]
    assert "<img" not in html and "<b>" not in html and "<script" not in html
    assert len(re.findall(r"<td[ >]", table)) == len(re.findall(r"<th[ >]", table)) == 5
    assert "@\u200bteam" in markdown and "\x1b" not in markdown
    [chart] = mermaid_blocks(markdown)
    assert '    y-axis "_img src_x onerror_alert(1)____bold____ _team__31m" 0.47 --> 0.53' in chart
    assert "`" not in chart and "<" not in chart

    text = render_history(versions, "churn", "text")
    assert "\x1b" not in text and len(text.splitlines()) == 4


def test_the_text_sparkline_leaves_a_gap_for_a_missing_value() -> None:
    versions = [
        version(1, metrics={"rmse": 1.0}),
        version(2, metrics={"rmse": float("nan")}),
        version(3, metrics={"rmse": 3.0}),
        version(4, metrics={"rmse": 2.0}),
    ]
    text = render_history(versions, "churn", "text")
    assert text.endswith("\nrmse v1..v4: ▁ █▅ (1.0000 to 3.0000)\n")


def test_the_text_sparkline_shows_the_last_60_versions() -> None:
    text = render_history([version(n) for n in range(1, 76)], "churn", "text")
    last = text.splitlines()[-1]
    assert last.startswith("rmse v16..v75: ▁") and last.endswith("█ (116.0000 to 175.0000)")
    assert len(last.split(": ", 1)[1].split(" ")[0]) == 60


def test_an_unreadable_time_is_shown_escaped() -> None:
    versions = [version(1, time="<script>|x")]
    assert "| v1 | &lt;script&gt;\\|x | 1a2b3c4 | 101.0000 |  |" in render_history(
        versions, "churn", "markdown"
    )
    assert "v1       <script>|x  1a2b3c4" in render_history(versions, "churn", "text")


def test_json_has_stable_keys_and_no_nan(repo: Path) -> None:
    promote(repo, lineage(1, pull_request=4, metrics={"accuracy": float("nan")}))

    document = json.loads(render_history(history.list_versions(repo, "churn"), "churn", "json"))

    assert document["model"] == "churn"
    [entry] = document["versions"]
    assert list(entry) == [
        "version",
        "tag",
        "kind",
        "rollback_of",
        "source_commit",
        "pull_request",
        "metrics",
        "headline_metric",
        "time",
        "commit",
    ]
    assert entry["metrics"] == {"accuracy": None}
    assert entry["pull_request"] == 4 and entry["tag"] == "churn@v1"


@pytest.mark.parametrize(
    ("fmt", "output"),
    [
        ("text", "no promoted versions of churn yet\n"),
        ("markdown", "## Promoted versions of churn\n\nNo promoted versions of churn yet.\n"),
        ("json", '{\n  "model": "churn",\n  "versions": []\n}\n'),
    ],
)
def test_an_empty_history_says_so(fmt: history.Format, output: str) -> None:
    assert render_history([], "churn", fmt) == output


def test_the_table_and_chart_follow_the_current_headline_metric() -> None:
    """A config may change its metrics: the latest version's headline metric is shown."""
    older = version(1, metrics={"rmse": 3.0}, headline_metric="rmse")
    latest = version(2, metrics={"rmse": 2.0, "mae": 1.5}, headline_metric="mae")
    text = render_history([older, latest], "churn", "text")
    assert text == (
        "churn: 2 versions, current v2\n"
        "\n"
        "version  date                  source      mae  note\n"
        "v1       2024-05-01 10:00 UTC  1a2b3c4       —\n"
        "v2       2024-05-01 10:00 UTC  1a2b3c4  1.5000\n"
    )
    assert render_history([older], "churn", "text").startswith("churn: 1 version, current v1\n")
