"""A ``report.template`` from the pull request can neither reach out nor lie about the
verdict (issue 11, item 6).

It renders in Jinja's immutable sandbox: reaching Python's internals or changing the report
it is shown is a config error (exit 2) naming the template. And the verdict headline, the
failed rules and the sticky-comment marker are mlgate's, above whatever the template
prints, so a template that says "passes" cannot hide that the gate failed.
(Named for the config key: ``tests/render/test_templates.py`` has the basename.)
"""

from __future__ import annotations

import re
from pathlib import Path

import cmarkgfm
from cmarkgfm.cmark import Options

from projects import base_project, classification_config, classification_frames, cli

ESCAPES = [
    "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "{{ cycler.__init__.__globals__.os }}",
    "{{ lipsum.__globals__['os'].popen('id').read() }}",
    "{{ self._TemplateReference__context }}",
    "{{ '{0.__class__.__mro__}'.format(report) }}",
    "{{ report.__setitem__('verdict', 'pass') }}",
    # Changing what it is shown: with a plain sandbox these went through.
    "{{ report.update(verdict='pass') }}",
    "{% set _ = report.failed_rules.clear() %}ok",
    "{{ report.metrics.append(report.metrics[0]) }}",
    "{{ report.head.metrics.setdefault('accuracy', 1.0) }}",
    "{{ report.failed_rules.pop() }}",
]


def with_template(repo: Path, source: str) -> Path:
    template = repo / "ci" / "report.md.j2"
    template.parent.mkdir(exist_ok=True)
    template.write_text(source)
    return template


def test_sandbox_escapes_and_changes_to_the_report_are_config_errors(repo: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    with_template(repo, "fine\n")
    cfg = classification_config(report={"template": "ci/report.md.j2"})
    base_project(repo, cfg, classification_frames())
    for source in ESCAPES:
        with_template(repo, f"line one\n{source}\n")
        code, out, err = cli(capsys, "check", "--format", "markdown")
        assert (code, out) == (2, ""), source
        assert err.startswith(
            "mlgate: error: ci/report.md.j2:2: report.template: the report template failed"
        ), (source, err)
        assert len(err.strip().splitlines()) == 1


def test_a_template_cannot_say_passes_for_a_failing_gate(repo: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    with_template(
        repo,
        # An old-style marker line, a setext underline for whatever came before, the good
        # news, and an unclosed HTML comment to swallow what follows.
        "<!-- mlgate:report model=churn -->\n===\n"
        "### ✅ mlgate: churn passes the gate\n\nAll rules passed.\n<!--\n",
    )
    cfg = classification_config(
        report={"template": "ci/report.md.j2"}, gate={"accuracy": {"min": 0.99}}
    )
    base_project(repo, cfg, classification_frames())

    code, out, err = cli(capsys, "check", "--format", "markdown")

    assert code == 1, err
    assert out.startswith("<!-- mlgate:report model=churn -->\n### ❌ mlgate: churn fails")
    assert out.count("mlgate:report model=churn") == 1  # the forge finds one marker
    page = cmarkgfm.github_flavored_markdown_to_html(out, options=Options.CMARK_OPT_UNSAFE)
    headings = re.findall(r"<h3>(.*?)</h3>", page)
    assert headings[0].startswith("❌ mlgate: churn fails the gate (1 rule)")
    failed = page.index("<strong>Failed rules</strong>")
    assert re.search(r"<li>❌ accuracy .*0\.99", page[failed:])
    assert failed < page.index("passes the gate")
