"""The gate before you push (issue 18): `mlgate check --pre-push` as a plain git pre-push
hook and as pre-commit's, in real repositories pushing to bare remotes. The projects are
command-mode ones whose training takes milliseconds (tests/projects.py's quick project)."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from conftest import REPO_ROOT, commit_all, git
from projects import (
    QUICK_TRAIN_PY,
    cli,
    config_error,
    push_to_origin,
    quick_command_config,
    write_config,
)

BIN = Path(sys.executable).parent  # the mlgate and pre-commit this test run installed
ZERO = "0" * 40


@pytest.fixture
def on_path(monkeypatch: pytest.MonkeyPatch) -> None:
    """git runs hooks with the user's PATH: this venv's `mlgate` (and `python`) first."""
    monkeypatch.setenv("PATH", f"{BIN}{os.pathsep}{os.environ['PATH']}")


def gated_project(repo: Path, tmp_path: Path, where: str = "") -> Path:
    """A quick project (score = 1 - alpha, alpha 0.5) gated on a drop of at most 0.1,
    committed on main and pushed to a bare origin; returns the origin."""
    project = repo / where
    project.mkdir(parents=True, exist_ok=True)
    cfg = quick_command_config()
    cfg["gate"] = {"score": {"max_regression": 0.1}}
    write_config(project, cfg)
    (project / "train.py").write_text(QUICK_TRAIN_PY)
    (project / ".gitignore").write_text("out/\n")
    commit_all(repo, "quick project")
    return push_to_origin(repo, tmp_path)


def set_alpha(repo: Path, alpha: str, where: str = "") -> str:
    """Commit the project (in ``where``) with ``--alpha``: 0.9 regresses the score by 0.4."""
    path = repo / where / "mlgate.yaml"
    cfg = yaml.safe_load(path.read_text())
    cfg["model"]["train"]["command"] = f"python train.py --alpha {alpha}"
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    return commit_all(repo, f"alpha {alpha}")


def push(repo: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["git", "push", *args], cwd=repo, capture_output=True, text=True)


def on_origin(bare: Path, ref: str) -> str | None:
    proc = subprocess.run(
        ["git", "rev-parse", "--verify", "--quiet", ref], cwd=bare, capture_output=True, text=True
    )
    return proc.stdout.strip() or None


def pre_push(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, lines: str, *args: str
) -> tuple[int, str, str]:
    """`mlgate check --pre-push ARGS` in-process, fed ``lines`` as git feeds its hook."""
    monkeypatch.setattr(sys, "stdin", io.StringIO(lines))
    return cli(capsys, "check", "--pre-push", *args)


# --- git's pre-push protocol, in-process ---------------------------------------------------


def test_each_pushed_branch_tip_is_checked_once_as_committed(  # type: ignore[no-untyped-def]
    repo: Path, tmp_path: Path, monkeypatch, capsys
) -> None:
    gated_project(repo, tmp_path)
    main = git(repo, "rev-parse", "HEAD")
    git(repo, "checkout", "-q", "-b", "worse")
    worse = set_alpha(repo, "0.9")
    # The working tree passes the gate; the push sends the commit, and that one fails.
    set_alpha(repo, "0.5")
    git(repo, "reset", "-q", "--soft", "HEAD~1")
    lines = (
        f"refs/heads/worse {worse} refs/heads/worse {ZERO}\n"
        f"refs/heads/worse {worse} refs/heads/copy {ZERO}\n"
        f"refs/tags/v1 {worse} refs/tags/v1 {ZERO}\n"
        f"(delete) {ZERO} refs/heads/old {main}\n"
    )

    code, out, err = pre_push(capsys, monkeypatch, lines, "--format", "json", "--remote", "origin")

    assert code == 1, err
    report = json.loads(out)  # one report: the second branch pushes the same commit
    assert report["verdict"] == "fail"
    assert report["head"]["sha"] == worse and not report["head"]["dirty"]
    assert report["base_choice"] == {
        "ref": main,
        "sha": main,
        "reason": "merge-base of the pushed worse and origin/main",
    }
    assert [r["metric"] for r in report["failed_rules"]] == ["score"]
    assert "mlgate: skipped copy: the same commit as worse, checked once" in err
    assert "mlgate: skipped refs/tags/v1: not a branch" in err
    assert "mlgate: skipped refs/heads/old: deleted, nothing to check" in err
    # origin/HEAD is unknown after a plain push: which branch stood in, in one line.
    assert (
        "mlgate: note: origin names no default branch here (refs/remotes/origin/HEAD; "
        "`git remote set-head origin --auto` records it): comparing with origin/main"
    ) in err
    assert "mlgate: push blocked: quick fails the gate on worse (" in err
    assert "score dropped by 0.4 (base 0.5 → head 0.1), more than the allowed 0.1" in err
    assert err.rstrip().endswith("git push --no-verify")

    # The same push again (say after fixing something unrelated): nothing is retrained.
    code, out, _ = pre_push(capsys, monkeypatch, lines, "--format", "json")
    again = json.loads(out)
    assert code == 1 and again["base"]["cached"] and again["head"]["cached"]


def test_the_base_is_the_merge_base_with_the_remotes_own_default_branch(  # type: ignore[no-untyped-def]
    repo: Path, tmp_path: Path, monkeypatch, capsys
) -> None:
    gated_project(repo, tmp_path)
    pushed_main = git(repo, "rev-parse", "HEAD")
    git(repo, "remote", "set-head", "origin", "main")
    set_alpha(repo, "0.9")  # local main moves on (unpushed); a branch starts from it
    git(repo, "checkout", "-q", "-b", "feature")
    feature = set_alpha(repo, "0.85")
    lines = f"refs/heads/feature {feature} refs/heads/feature {ZERO}\n"

    code, out, err = pre_push(capsys, monkeypatch, lines, "--format", "json")

    report = json.loads(out)
    assert report["base"]["sha"] == pushed_main  # origin's main, not the local one
    assert report["base_choice"]["reason"] == "merge-base of the pushed feature and origin/main"
    assert code == 1 and "note:" not in err


def test_nothing_new_and_no_config_are_skipped_and_bad_lines_refused(  # type: ignore[no-untyped-def]
    repo: Path, tmp_path: Path, monkeypatch, capsys
) -> None:
    gated_project(repo, tmp_path)
    main = git(repo, "rev-parse", "HEAD")
    git(repo, "checkout", "-q", "--orphan", "docs")
    git(repo, "rm", "-q", "-r", "--cached", ".")
    (repo / "README").write_text("docs\n")
    git(repo, "add", "README")
    git(repo, "commit", "-q", "-m", "docs")
    docs = git(repo, "rev-parse", "HEAD")

    code, _, err = pre_push(
        capsys,
        monkeypatch,
        f"refs/heads/main {main} refs/heads/same {ZERO}\n"
        f"refs/heads/docs {docs} refs/heads/docs {ZERO}\n",
    )
    assert code == 0, err
    assert f"mlgate: skipped same: {main[:7]} is already in origin/main, nothing new" in err
    assert f"mlgate: skipped docs: {docs[:7]} has no mlgate.yaml, nothing to gate" in err
    assert "mlgate: nothing to check in this push" in err

    code, out, err = pre_push(capsys, monkeypatch, "refs/heads/main main refs/heads/main\n")
    assert code == 2 and out == ""
    assert err == (
        "mlgate: error: --pre-push: stdin line 1 is not `<local ref> <local sha> <remote ref> "
        "<remote sha>` (git's pre-push protocol): 'refs/heads/main main refs/heads/main'\n"
    )
    code, _, err = cli(capsys, "check", "--remote", "origin")
    assert code == 2 and "--remote goes with --pre-push" in err


def test_pre_commits_variables_name_the_push(  # type: ignore[no-untyped-def]
    repo: Path, tmp_path: Path, monkeypatch, capsys
) -> None:
    gated_project(repo, tmp_path)
    git(repo, "checkout", "-q", "-b", "worse")
    worse = set_alpha(repo, "0.9")
    monkeypatch.setenv("PRE_COMMIT", "1")
    monkeypatch.setenv("PRE_COMMIT_REMOTE_NAME", "origin")
    monkeypatch.setenv("PRE_COMMIT_LOCAL_BRANCH", "refs/heads/worse")
    monkeypatch.setenv("PRE_COMMIT_REMOTE_BRANCH", "refs/heads/worse")
    monkeypatch.setenv("PRE_COMMIT_TO_REF", worse)
    # pre-commit has read git's lines already: whatever is left on stdin is not read.
    code, out, err = pre_push(capsys, monkeypatch, "not a pre-push line\n")
    assert code == 1 and "FAIL mlgate: quick fails the gate" in out
    assert "Run details" not in out  # the short report
    assert "on worse (" in err and "git push --no-verify" in err

    # A push of history the remote has none of: pre-commit names the local ref, no sha.
    monkeypatch.delenv("PRE_COMMIT_TO_REF")
    code, out, _ = pre_push(capsys, monkeypatch, "", "--format", "json")
    assert code == 1 and json.loads(out)["head"]["sha"] == worse
    code, _, err = cli(capsys, "check", "--pre-push", "--head", "HEAD")
    assert code == 2 and "--pre-push checks the pushed commits" in err and "drop --head" in err

    monkeypatch.setenv("PRE_COMMIT_REMOTE_BRANCH", "refs/tags/v1")
    code, _, err = pre_push(capsys, monkeypatch, "")
    assert code == 0 and "skipped refs/tags/v1: not a branch" in err


# --- a plain git hook: `mlgate init --git-hook` --------------------------------------------


@pytest.mark.usefixtures("on_path")
def test_the_git_hook_blocks_a_regressing_push_and_lets_a_passing_one_through(  # type: ignore[no-untyped-def]
    repo: Path, tmp_path: Path, capsys
) -> None:
    bare = gated_project(repo, tmp_path)
    code, out, _ = cli(capsys, "init", "--git-hook")
    hook = repo / ".git" / "hooks" / "pre-push"
    assert code == 0 and out.startswith(f"created {hook}: the pre-push hook for mlgate.yaml\n")
    assert os.access(hook, os.X_OK)
    git(repo, "checkout", "-q", "-b", "worse")
    worse = set_alpha(repo, "0.9")

    blocked = push(repo, "origin", "worse")

    assert blocked.returncode != 0
    assert "FAIL mlgate: quick fails the gate (1 rule)" in blocked.stdout + blocked.stderr
    assert f"mlgate: push blocked: quick fails the gate on worse ({worse[:7]}): score dropped" in (
        blocked.stderr
    )
    assert "push anyway, deliberately: git push --no-verify" in blocked.stderr
    assert on_origin(bare, "refs/heads/worse") is None

    assert push(repo, "--no-verify", "origin", "worse").returncode == 0  # deliberately
    assert on_origin(bare, "refs/heads/worse") == worse

    git(repo, "checkout", "-q", "main")
    git(repo, "checkout", "-q", "-b", "docs")
    (repo / "NOTES.md").write_text("notes\n")
    docs = commit_all(repo, "notes")
    passed = push(repo, "origin", "docs")
    assert passed.returncode == 0, passed.stderr
    assert "PASS mlgate: quick passes the gate" in passed.stdout + passed.stderr
    assert on_origin(bare, "refs/heads/docs") == docs

    git(repo, "tag", "v1", worse)  # a tag of the failing commit is not gated
    tagged = push(repo, "origin", "v1", ":docs")
    assert tagged.returncode == 0, tagged.stderr
    assert "skipped refs/tags/v1: not a branch" in tagged.stderr
    assert "skipped refs/heads/docs: deleted" in tagged.stderr
    assert on_origin(bare, "refs/heads/docs") is None


@pytest.mark.usefixtures("on_path")
def test_the_git_hook_adds_a_monorepos_model_and_refuses_a_foreign_hook(  # type: ignore[no-untyped-def]
    repo: Path, tmp_path: Path, capsys
) -> None:
    bare = gated_project(repo, tmp_path, "models/b")
    hook = repo / ".git" / "hooks" / "pre-push"
    hook.write_text("#!/bin/sh\necho mine\n")

    code, _, err = cli(capsys, "-C", "models/b", "init", "--git-hook")

    assert code == 2 and hook.read_text() == "#!/bin/sh\necho mine\n"
    assert f"mlgate: error: {hook} is another pre-push hook; mlgate leaves it as it is" in err
    assert (
        "refs=$(cat)" in err
        and 'mlgate check --pre-push --remote "$1" -c models/b/mlgate.yaml' in err
    )
    hook.unlink()

    assert cli(capsys, "-C", "models/b", "init", "--git-hook")[0] == 0
    (repo / "mlgate.yaml").write_text((repo / "models/b/mlgate.yaml").read_text())
    (repo / "train.py").write_text(QUICK_TRAIN_PY)
    commit_all(repo, "a second model at the root")
    assert cli(capsys, "init", "--git-hook")[1].startswith(f"updated {hook}: ")
    assert "for config in models/b/mlgate.yaml mlgate.yaml; do" in hook.read_text()
    assert cli(capsys, "init", "--git-hook")[1].startswith(f"{hook} already runs")
    assert push(repo, "origin", "main").returncode == 0  # the root model is new: no baseline

    git(repo, "checkout", "-q", "-b", "worse")
    worse = set_alpha(repo, "0.9", "models/b")
    blocked = push(repo, "origin", "worse")
    assert blocked.returncode != 0 and on_origin(bare, "refs/heads/worse") is None
    assert blocked.stderr.count("mlgate: push blocked") == 1
    assert f"quick fails the gate on worse ({worse[:7]})" in blocked.stderr

    (repo / ".git" / "hooks" / "pre-push").write_text("#!/bin/sh\n# pre-commit hook-impl\n")
    code, _, err = cli(capsys, "init", "--git-hook")
    assert code == 2 and "pre-commit manages" in err and "mlgate init --hooks" in err


# --- real pre-commit -------------------------------------------------------------------------


def pre_commit(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(BIN / "pre-commit"), *args], cwd=cwd, capture_output=True, text=True)


def test_the_manifest_is_valid_and_its_hooks_are_the_ones_init_adds() -> None:
    from mlgate.commands.hooks import hooks_entry

    checked = pre_commit(REPO_ROOT, "validate-manifest", ".pre-commit-hooks.yaml")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    manifest = yaml.safe_load((REPO_ROOT / ".pre-commit-hooks.yaml").read_text())
    [local] = yaml.safe_load(hooks_entry("mlgate.yaml"))
    assert [h["id"] for h in manifest] == [h["id"] for h in local["hooks"]]
    fields = ("entry", "pass_filenames", "files", "stages", "always_run", "require_serial")
    for shipped, added in zip(manifest, local["hooks"], strict=True):
        assert {f: shipped.get(f) for f in fields} == {f: added.get(f) for f in fields}
        assert (shipped["language"], added["language"]) == ("python", "system")


@pytest.mark.usefixtures("on_path")
def test_pre_commit_blocks_a_bad_config_on_commit_and_a_regression_on_push(  # type: ignore[no-untyped-def]
    repo: Path, tmp_path: Path, capsys
) -> None:
    bare = gated_project(repo, tmp_path)
    assert cli(capsys, "init", "--hooks")[0] == 0
    installed = pre_commit(repo, "install")
    assert installed.returncode == 0, installed.stdout + installed.stderr
    commit_all(repo, "pre-commit hooks")
    before = git(repo, "rev-parse", "HEAD")

    bad = (repo / "mlgate.yaml").read_text().replace("version: 1", "version: 7")
    (repo / "mlgate.yaml").write_text(bad)
    refused = subprocess.run(
        ["git", "commit", "-q", "-am", "bad config"], cwd=repo, capture_output=True, text=True
    )
    assert refused.returncode != 0 and git(repo, "rev-parse", "HEAD") == before
    assert f"mlgate: error: {config_error(bad)}\n" in refused.stdout + refused.stderr
    git(repo, "checkout", "-q", "mlgate.yaml")

    git(repo, "checkout", "-q", "-b", "worse")
    worse = set_alpha(repo, "0.9")  # a valid config: the commit goes through
    blocked = push(repo, "origin", "worse")
    assert blocked.returncode != 0 and on_origin(bare, "refs/heads/worse") is None
    shown = blocked.stdout + blocked.stderr
    assert "mlgate check" in shown and "Failed" in shown
    assert f"quick fails the gate on worse ({worse[:7]}): score dropped by 0.4" in shown
    assert "git push --no-verify" in shown

    git(repo, "checkout", "-q", "main")
    passed = push(repo, "origin", "main")  # main gained the hooks commit: it passes
    assert passed.returncode == 0, passed.stdout + passed.stderr
    assert on_origin(bare, "refs/heads/main") == before
