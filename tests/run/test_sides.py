"""Which commit the base is, and the report naming it in every format: real repositories
with a bare `origin`, real git, mlgate's own CLI."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema

from conftest import commit_all, git
from mlgate import git as mgit
from mlgate.paths import package_file
from mlgate.run.sides import resolve_sides
from projects import (
    QUICK_TRAIN_PY,
    cli,
    push_to_origin,
    quick_command_config,
    quick_command_project,
    run_json,
    write_config,
)

REPORT_SCHEMA = json.loads(package_file("schema", "report.schema.json").read_text())


def _clone(origin: Path, tmp_path: Path, name: str) -> Path:
    """A clone as CI or a colleague has it: ``origin/HEAD`` points at ``origin/main``."""
    clone = tmp_path / name
    git(tmp_path, "clone", "-q", str(origin), str(clone))
    return clone


def _origin_moved_on(repo: Path, tmp_path: Path) -> Path:
    """A clone of ``repo``'s origin whose ``origin/main`` then got a colleague's commit
    (fetched, not merged): the clone's local main is behind it."""
    _commit(repo, "a.txt")
    origin = push_to_origin(repo, tmp_path)
    clone = _clone(origin, tmp_path, "clone")
    other = _clone(origin, tmp_path, "colleague")
    _commit(other, "theirs.txt")
    git(other, "push", "-q", "origin", "main")
    git(clone, "fetch", "-q", "origin")
    return clone


def _commit(repo: Path, name: str) -> str:
    (repo / name).write_text(f"{name}\n")
    return commit_all(repo, name)


def test_a_local_default_branch_ahead_of_origin_is_the_base_and_every_format_says_so(  # type: ignore[no-untyped-def]
    repo: Path, tmp_path: Path, monkeypatch, capsys
) -> None:
    quick_command_project(repo)
    origin = push_to_origin(repo, tmp_path)
    clone = _clone(origin, tmp_path, "clone")
    monkeypatch.chdir(clone)
    _commit(clone, "one.txt")
    local_main = _commit(clone, "two.txt")  # main: two commits origin/main lacks
    git(clone, "checkout", "-q", "-b", "feature")
    _commit(clone, "three.txt")

    code, report = run_json(capsys)

    assert code == 0, report
    reason = "merge-base of HEAD and main (local; 2 commits ahead of origin/main)"
    assert report["base_choice"] == {"ref": "main", "sha": local_main, "reason": reason}
    assert report["base"]["sha"] == local_main  # not origin/main's older tip
    # The feature's own change is the only code change: the two commits of main are base's.
    assert report["code_diff"] == {"total": 1, "files": [{"path": "three.txt", "status": "added"}]}
    line = f"Base: {local_main[:7]} (main), {reason}."
    assert line in cli(capsys, "check")[1]
    markdown = cli(capsys, "check", "--format", "markdown")[1]
    assert f"Base: **{local_main[:7]} (main)**, {reason}." in markdown


def test_origin_stays_the_base_when_the_local_branch_is_only_behind(
    repo: Path, tmp_path: Path
) -> None:
    clone = _origin_moved_on(repo, tmp_path)
    git(clone, "checkout", "-q", "-b", "feature")
    forked = _commit(clone, "feature.txt")

    base, _, choice = resolve_sides(mgit.open_repo(clone), None, None)

    assert choice.ref == "origin/main"
    assert choice.reason == "merge-base of HEAD and origin/main"
    assert base.sha == choice.sha == git(clone, "rev-parse", "main") != forked


def test_a_diverged_local_branch_wins_and_says_how_far_apart_they_are(
    repo: Path, tmp_path: Path
) -> None:
    clone = _origin_moved_on(repo, tmp_path)
    mine = _commit(clone, "mine.txt")  # on main: one commit each way

    _, _, choice = resolve_sides(mgit.open_repo(clone), None, None)

    assert choice.ref == "main" and choice.sha == mine
    assert choice.reason == (
        "the working tree's HEAD, the tip of main (local; 1 commit ahead of origin/main, 1 behind)"
    )


def test_an_explicit_base_and_the_default_branch_itself_are_named(repo: Path) -> None:
    first = _commit(repo, "a.txt")
    git(repo, "tag", "v1.2")
    tip = _commit(repo, "b.txt")
    handle = mgit.open_repo(repo)

    assert resolve_sides(handle, "v1.2", None)[2].to_dict() == {
        "ref": "v1.2",
        "sha": first,
        "reason": "--base v1.2",
    }
    _, _, on_main = resolve_sides(handle, None, None)  # on main: the working tree's HEAD
    assert (on_main.ref, on_main.sha) == ("main", tip)
    assert on_main.reason == "the working tree's HEAD, the tip of main"
    _, _, with_head = resolve_sides(handle, None, first)
    assert with_head.reason == f"merge-base of {first} and main" and with_head.sha == first


def test_no_baseline_names_the_commit_that_lacks_the_config(repo: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    bare = _commit(repo, "README.md")
    git(repo, "checkout", "-q", "-b", "add-mlgate")
    (repo / "models").mkdir()
    write_config(repo / "models", quick_command_config())
    (repo / "models" / "train.py").write_text(QUICK_TRAIN_PY)
    (repo / ".gitignore").write_text("out/\n")
    commit_all(repo, "add mlgate")

    code, report = run_json(capsys, "-c", "models/mlgate.yaml")

    assert code == 0, report
    assert report["comparison"] == "no-baseline" and report["base"] is None
    assert report["base_choice"]["sha"] == bare and report["config"] == "models/mlgate.yaml"
    assert report["code_diff"] is None
    sentence = f"No baseline: {bare[:7]} (main) has no models/mlgate.yaml; only absolute rules"
    assert sentence in cli(capsys, "check", "-c", "models/mlgate.yaml")[1]
    markdown = cli(capsys, "check", "-c", "models/mlgate.yaml", "--format", "markdown")[1]
    assert sentence in markdown


def test_ci_names_the_pull_requests_base(repo: Path, tmp_path: Path, monkeypatch, capsys) -> None:  # type: ignore[no-untyped-def]
    from ci_events import saved_result

    base = quick_command_project(repo)
    git(repo, "checkout", "-q", "-b", "feature")
    head = _commit(repo, "feature.txt")

    result = saved_result(repo, tmp_path, monkeypatch, capsys, base, head)

    assert result["report"]["base_choice"] == {
        "ref": base,
        "sha": base,
        "reason": "pull request #2's base: the tip of master as the event names it",
    }


def test_a_base_named_like_markup_is_escaped_and_the_json_validates(repo: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    first = quick_command_project(repo)
    git(repo, "tag", "@team_x")
    _commit(repo, "later.txt")

    code, report = run_json(capsys, "--base", "@team_x")

    assert code == 0, report
    assert report["base_choice"] == {"ref": "@team_x", "sha": first, "reason": "--base @team_x"}
    jsonschema.Draft202012Validator(REPORT_SCHEMA).validate(report)
    markdown = cli(capsys, "check", "--base", "@team_x", "--format", "markdown")[1]
    assert f"Base: **{first[:7]} (@\u200bteam\\_x)**, \\--base @\u200bteam\\_x." in markdown
    assert "@team" not in markdown
