"""Every output that is markdown is escaped (issue 11, item 6).

A pull request controls its data's column names, and through them error messages. Whatever
reaches the job summary or the PR comment, be it an error from a failed run or a value a
team's own ``report.template`` prints without ``| md``, must render as text: no HTML, no
link, no mention. Checked on what GitHub's renderer (cmark-gfm) makes of it.
"""

from __future__ import annotations

import html
import re
from pathlib import Path

import cmarkgfm
import pytest
from cmarkgfm.cmark import Options

from ci_events import github_env, pr_event
from conftest import commit_all, git
from projects import base_project, classification_config, classification_frames, cli, write_config

# The backtick closes the code span the old job summary put error text in.
ATTACK = "`<img src=x onerror=alert(1)>[click](https://evil.example) @org/team"


def to_html(markdown: str) -> str:
    # UNSAFE keeps raw HTML: the safety must come from mlgate's escaping, not the renderer.
    return cmarkgfm.github_flavored_markdown_to_html(markdown, options=Options.CMARK_OPT_UNSAFE)


def assert_inert(markdown: str) -> None:
    page = to_html(markdown)
    assert "<img" not in page
    assert not [url for url in re.findall(r'href="([^"]*)"', page) if "evil.example" in url]
    assert "@org/team" not in page  # a mention needs the "@" right before the name
    assert "onerror=alert(1)" in html.unescape(page)  # still shown, as text


def ci_on_a_pull_request(
    repo: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys,
    base: str,  # type: ignore[no-untyped-def]
) -> tuple[int, str]:
    """Commit the working tree as a pull request onto ``base`` and run `mlgate ci` on it
    (no token: the report goes to the job summary and the report file)."""
    head = commit_all(repo, "the pull request")
    env = github_env(tmp_path, pr_event(number=7, base__sha=base, head__sha=head))
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    code, _, err = cli(capsys, "ci")
    return code, err


def test_error_text_in_the_job_summary_is_escaped(
    repo: Path,
    tmp_path: Path,
    capsys,
    monkeypatch,  # type: ignore[no-untyped-def]
) -> None:
    base = base_project(repo, classification_config(), classification_frames())
    git(repo, "checkout", "-q", "-b", "feature")
    # A label column the data does not have: the error names it.
    cfg = classification_config()
    cfg["data"]["target"] = ATTACK
    write_config(repo, cfg)

    code, err = ci_on_a_pull_request(repo, tmp_path, monkeypatch, capsys, base)

    assert code == 2, err
    summary = (tmp_path / "summary.md").read_text()
    assert "mlgate could not check churn" in summary
    assert_inert(summary)


def test_values_a_team_template_prints_raw_are_escaped_in_summary_and_comment(
    repo: Path,
    tmp_path: Path,
    capsys,
    monkeypatch,  # type: ignore[no-untyped-def]
) -> None:
    # The team's template forgets `| md`; a pull request then adds a column named ATTACK.
    cfg = classification_config(report={"template": "ci/report.md.j2"})
    (repo / "ci").mkdir()
    (repo / "ci" / "report.md.j2").write_text(
        "{% for d in report.data_diff %}\n"
        "- {{ d.path }}: {{ d.columns_added | join(', ') }}\n"
        "- {{ (d.path | md) ~ ' gained ' ~ d.columns_added[0] }}\n"
        "{% endfor %}\n"
    )
    train, test = classification_frames()
    base = base_project(repo, cfg, (train, test))
    git(repo, "checkout", "-q", "-b", "feature")
    for frame, name in ((train, "train"), (test, "test")):
        frame.assign(**{ATTACK: 1.0}).to_csv(repo / "data" / f"{name}.csv", index=False)

    code, err = ci_on_a_pull_request(repo, tmp_path, monkeypatch, capsys, base)

    assert code == 0, err
    summary = (tmp_path / "summary.md").read_text()
    comment = (repo / "mlgate-report.md").read_text()  # the body posted as the PR comment
    assert summary == comment
    assert "data/train.csv" in comment
    assert_inert(comment)
