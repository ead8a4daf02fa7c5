"""`mlgate init --hooks`: mlgate's hooks in the user's .pre-commit-config.yaml, created or
extended as text, so every byte already there (comments, other hooks, later keys) stays."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from conftest import REPO_ROOT, commit_all
from mlgate.commands.hooks import hooks_entry
from projects import cli, quick_command_project

PRE_COMMIT = Path(sys.executable).parent / "pre-commit"

EXISTING = """\
# Our hooks. Keep this list short!
default_language_version:
    python: python3.11   # the team's interpreter
repos:
-   repo: https://github.com/pre-commit/pre-commit-hooks
    rev: v4.6.0
    hooks:
    -   id: trailing-whitespace   # with a comment
    -   id: end-of-file-fixer

# disabled for now:
#-   repo: https://github.com/psf/black
#    rev: 24.4.2

# pre-commit.ci settings
ci:
    autofix_prs: false
"""


def valid_config(repo: Path) -> None:
    proc = subprocess.run(
        [str(PRE_COMMIT), "validate-config", ".pre-commit-config.yaml"],
        cwd=repo,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def without(text: str, block: str) -> str:
    assert text.count(block) == 1, text
    return text.replace(block, "")


def test_init_hooks_creates_a_config_pre_commit_accepts(repo: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    quick_command_project(repo)

    code, out, _ = cli(capsys, "init", "--hooks")

    path = repo / ".pre-commit-config.yaml"
    assert code == 0
    assert out == (
        f"created {path}: mlgate-validate and mlgate-check for mlgate.yaml\n"
        "next: run `pre-commit install` once\n"
    )
    document = yaml.safe_load(path.read_text())
    assert document["default_install_hook_types"] == ["pre-commit", "pre-push"]
    [local] = document["repos"]
    assert local["repo"] == "local"
    assert [(h["id"], h["entry"], h["stages"]) for h in local["hooks"]] == [
        ("mlgate-validate", "mlgate validate", ["pre-commit"]),
        ("mlgate-check", "mlgate check --pre-push", ["pre-push"]),
    ]
    valid_config(repo)


def test_init_hooks_extends_a_config_keeping_every_byte(repo: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    quick_command_project(repo)
    path = repo / ".pre-commit-config.yaml"
    path.write_text(EXISTING)

    code, out, _ = cli(capsys, "init", "--hooks")

    assert code == 0 and out.startswith(f"extended {path}: ")
    assert "pre-commit install --hook-type pre-commit --hook-type pre-push" in out
    text = path.read_text()
    entry = hooks_entry("mlgate.yaml")
    block = "".join(line + "\n" for line in entry.splitlines())
    assert without(text, block) == EXISTING  # inserted, nothing else touched
    last = "end-of-file-fixer\n"
    assert text.index(block) == EXISTING.index(last) + len(last)  # the end of repos:
    old, new = yaml.safe_load(EXISTING), yaml.safe_load(text)
    assert new == {**old, "repos": [*old["repos"], *yaml.safe_load(entry)]}
    valid_config(repo)

    code, out, _ = cli(capsys, "init", "--hooks")  # again: already there
    assert code == 0 and out.startswith(f"{path} already runs mlgate-validate and mlgate-check")
    assert path.read_text() == text


def test_an_indented_list_and_crlf_lines_are_matched(repo: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    quick_command_project(repo)
    path = repo / ".pre-commit-config.yaml"
    original = b"repos:\r\n  - repo: local\r\n    hooks: []  # none yet"  # no final newline
    path.write_bytes(original)

    assert cli(capsys, "init", "--hooks")[0] == 0

    data = path.read_bytes()
    assert data.startswith(original + b"\r\n  - repo: local  # mlgate init --hooks")
    assert b"\n" not in data.replace(b"\r\n", b"")  # every line ends as the file's did
    assert len(yaml.safe_load(data)["repos"]) == 2
    valid_config(repo)


def test_a_model_in_a_subdirectory_gets_its_own_entry(repo: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    quick_command_project(repo)
    sub = repo / "models" / "b"
    sub.mkdir(parents=True)
    (sub / "mlgate.yaml").write_text((repo / "mlgate.yaml").read_text())
    commit_all(repo, "a second model")
    assert cli(capsys, "init", "--hooks")[0] == 0

    code, out, _ = cli(capsys, "-C", "models/b", "init", "--hooks")

    assert code == 0 and "for models/b/mlgate.yaml" in out
    repos = yaml.safe_load((repo / ".pre-commit-config.yaml").read_text())["repos"]
    assert len(repos) == 2
    for hook in repos[1]["hooks"]:
        assert hook["args"] == ["-c", "models/b/mlgate.yaml"]
    validate = repos[1]["hooks"][0]
    assert re.search(validate["files"], "models/b/mlgate.yaml")
    assert re.search(validate["files"], "models/b/src/model.py")
    assert re.search(validate["files"], "models/b/data/train.csv.ptr")
    assert not re.search(validate["files"], "mlgate.yaml")
    assert not re.search(validate["files"], "models/bb/mlgate.yaml")
    valid_config(repo)


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("repos: []\n", "without rewriting what is there"),
        ("repos: [\n", ".pre-commit-config.yaml:2: not valid YAML (expected the node content"),
        ("- just a list\n", "is not a mapping with `repos:`"),
    ],
)
def test_a_config_init_cannot_extend_is_left_alone(repo: Path, capsys, text: str, why: str) -> None:  # type: ignore[no-untyped-def]
    quick_command_project(repo)
    path = repo / ".pre-commit-config.yaml"
    path.write_text(text)

    code, out, err = cli(capsys, "init", "--hooks")

    assert code == 2 and out == "" and why in err and len(err.splitlines()) == 1
    assert path.read_text() == text


def test_hooks_need_a_config(repo: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    (repo / "README").write_text("x\n")
    commit_all(repo, "no model yet")

    code, _, err = cli(capsys, "init", "--hooks")

    assert code == 2 and "run `mlgate init` first" in err
    assert not (repo / ".pre-commit-config.yaml").exists()


def test_the_readme_shows_the_entry_init_adds() -> None:
    readme = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("## Before you push") :]
    shown = section[section.index("```yaml\nrepos:\n") + len("```yaml\nrepos:\n") :]
    assert shown[: shown.index("```")] == hooks_entry("mlgate.yaml")
