"""Journeys 3 and 5: promotion to the production branch, refusal, races, tampering,
rollback, and `mlgate ci` on merge. Real git: a bare `origin` plus clones."""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest
import skops.io

from ci_events import github_env, read_outputs, use_env
from conftest import FIXTURES, commit_all, git
from projects import (
    base_project,
    classification_config,
    classification_frames,
    cli,
    push_to_origin,
    set_params,
    write_frames,
)


@pytest.fixture
def origin(repo: Path, tmp_path: Path) -> Path:
    """The project committed on main and pushed to a bare origin."""
    base_project(repo, classification_config(), classification_frames())
    return push_to_origin(repo, tmp_path)


def show(where: Path, rev: str, path: str) -> bytes:
    return subprocess.run(
        ["git", "show", f"{rev}:{path}"], cwd=where, capture_output=True, check=True
    ).stdout


def lineage(where: Path, rev: str = "production") -> dict[str, Any]:
    return json.loads(show(where, rev, "churn/lineage.json"))


def tags(where: Path) -> list[str]:
    return git(where, "tag", "--list", "churn@v*", "--sort=version:refname").split()


def test_first_promotion_creates_branch_tag_and_pushes(repo: Path, origin: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    code, out, err = cli(capsys, "promote")
    assert code == 0, err
    head = git(repo, "rev-parse", "HEAD")
    said, promoted = out.strip().splitlines()
    assert said == "mlgate: no production model yet: only absolute rules apply."
    assert promoted.startswith("mlgate: churn promoted as v1: tag churn@v1, commit ")
    assert promoted.endswith("(pushed to origin)")
    files = git(origin, "ls-tree", "-r", "--name-only", "production").split()
    assert files == [
        "churn/MODEL_CARD.md",
        "churn/lineage.json",
        "churn/metrics.json",
        "churn/model.skops",
    ]
    assert git(origin, "rev-list", "--count", "production") == "1"  # an orphan branch
    assert (
        git(origin, "log", "-1", "--format=%s", "production") == f"promote churn v1 from {head[:7]}"
    )
    assert git(origin, "cat-file", "-t", "churn@v1") == "tag"  # annotated
    assert git(origin, "tag", "-n1", "churn@v1").split(None, 1)[1].startswith("churn v1: accuracy ")
    record = lineage(origin)
    model = show(origin, "production", "churn/model.skops")
    assert record["version"] == 1 and record["source_commit"] == head
    assert record["model_sha256"] == hashlib.sha256(model).hexdigest()
    assert record["replaced_version"] is None and record["kind"] == "promotion"
    assert set(record["versions"]) >= {"python", "mlgate", "scikit-learn"}
    assert record["data"]["train"]["path"] == "data/train.csv"
    assert git(repo, "rev-parse", "production") == git(origin, "rev-parse", "production")
    assert git(repo, "status", "--porcelain") == ""  # the working tree was never touched


def test_worse_candidate_is_refused_and_nothing_is_written(
    repo: Path, origin: Path, capsys
) -> None:  # type: ignore[no-untyped-def]
    assert cli(capsys, "promote")[0] == 0
    before = (
        git(origin, "rev-parse", "production"),
        tags(origin),
        git(repo, "rev-parse", "production"),
        tags(repo),
    )
    set_params(repo, C=0.0001)
    commit_all(repo, "over-regularized")
    code, out, _ = cli(capsys, "promote")
    assert code == 1
    assert "mlgate: churn was not promoted (nothing was written):" in out
    assert "accuracy dropped by" in out and "(production v1 " in out and "→ candidate " in out
    # The headline metric across production versions, the refused candidate last.
    assert re.search(r"^accuracy v1\.\.head: █▁ \(0\.\d{4} to 0\.\d{4}\)$", out, re.M), out
    after = (
        git(origin, "rev-parse", "production"),
        tags(origin),
        git(repo, "rev-parse", "production"),
        tags(repo),
    )
    assert after == before


def test_better_candidate_becomes_v2_replacing_v1(repo: Path, origin: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    assert cli(capsys, "promote")[0] == 0
    v1 = lineage(origin)
    set_params(repo, C=0.8)
    head = commit_all(repo, "C 0.8")
    code, out, err = cli(capsys, "promote")
    assert code == 0, err
    assert re.search(r"^accuracy v1\.\.v2: (▁█|█▁|▄▄) \(", out, re.M), out
    v2 = lineage(origin)
    assert (v2["version"], v2["replaced_version"], v2["source_commit"]) == (2, 1, head)
    assert v2["champion_metrics"]["accuracy"] == pytest.approx(v1["metrics"]["accuracy"])
    assert tags(origin) == ["churn@v1", "churn@v2"]
    assert git(origin, "rev-list", "--count", "production") == "2"
    card = show(origin, "production", "churn/MODEL_CARD.md").decode()
    assert card.startswith("# churn v2")
    code, out, _ = cli(capsys, "promote")  # the same commit again: nothing to do
    assert code == 0 and "already production v2" in out
    assert tags(origin) == ["churn@v1", "churn@v2"]


def test_dry_run_and_no_push(repo: Path, origin: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    code, out, _ = cli(capsys, "promote", "--dry-run")
    assert code == 0 and "would become v1 (churn@v1)" in out
    assert tags(repo) == [] and git(origin, "branch", "--list", "production") == ""
    code, out, _ = cli(capsys, "promote", "--no-push")
    assert code == 0 and out.strip().endswith("(local only)")
    assert tags(repo) == ["churn@v1"] and tags(origin) == []


def _replace_production_model(repo: Path, data: bytes, *, fix_lineage: bool) -> None:
    """Edit the production branch by hand (as an attacker or a careless person would)."""
    work = repo.parent / "prod-edit"
    git(
        repo.parent,
        "clone",
        "-q",
        "--branch",
        "production",
        git(repo, "remote", "get-url", "origin"),
        str(work),
    )
    (work / "churn" / "model.skops").write_bytes(data)
    if fix_lineage:
        record = json.loads((work / "churn" / "lineage.json").read_text())
        record["model_sha256"] = hashlib.sha256(data).hexdigest()
        (work / "churn" / "lineage.json").write_text(json.dumps(record))
    commit_all(work, "edit the model")
    git(work, "push", "-q", "origin", "production")


def test_tampered_production_model_is_never_loaded(repo: Path, origin: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    assert cli(capsys, "promote")[0] == 0
    _replace_production_model(repo, b"not the model that was promoted", fix_lineage=False)
    set_params(repo, C=0.9)
    commit_all(repo, "C 0.9")
    code, _, err = cli(capsys, "promote")
    assert code == 3
    assert "churn/model.skops at " in err and "does not match the sha256 in lineage.json" in err
    assert tags(origin) == ["churn@v1"]


def test_production_model_with_an_untrusted_type_is_refused(
    repo: Path, origin: Path, capsys, tmp_path: Path, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    assert cli(capsys, "promote")[0] == 0
    (tmp_path / "evilmod.py").write_text(
        "class Payload:\n    def __init__(self):\n        self.x = 1\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    import evilmod  # type: ignore[import-not-found]

    skops.io.dump(evilmod.Payload(), tmp_path / "evil.skops")
    _replace_production_model(repo, (tmp_path / "evil.skops").read_bytes(), fix_lineage=True)
    set_params(repo, C=0.9)
    commit_all(repo, "C 0.9")
    code, _, err = cli(capsys, "promote")
    assert code == 3
    assert (
        "the production model was not loaded: it contains types mlgate never loads: evilmod.Payload"
        in err
    )
    assert tags(origin) == ["churn@v1"]


def test_a_champion_naming_a_function_through_sklearn_runs_nothing(
    repo: Path, origin: Path, capsys, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    """Issue 11: ``sklearn.utils._testing.check_output`` is subprocess.check_output; a
    planted champion naming it made ``mlgate promote`` run a shell command, then promote."""
    assert cli(capsys, "promote")[0] == 0
    marker = tmp_path / "pwned"
    data = skops.io.dumps(["sh", "-c", f"touch {marker}"])
    schema = json.loads(zipfile.ZipFile(io.BytesIO(data)).read("schema.json"))
    schema["__module__"], schema["__class__"] = "sklearn.utils._testing", "check_output"
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("schema.json", json.dumps(schema))
    _replace_production_model(repo, buf.getvalue(), fix_lineage=True)
    set_params(repo, C=0.9)
    commit_all(repo, "C 0.9")
    code, _, err = cli(capsys, "promote")
    assert not marker.exists()
    assert code == 3
    assert (
        "the production model was not loaded: it contains types mlgate never loads: "
        "sklearn.utils._testing.check_output" in err
    )
    assert tags(origin) == ["churn@v1"]


@pytest.mark.parametrize(("C", "promoted"), [(0.9, True), (0.003, False)])
def test_a_champion_that_cannot_be_scored_is_held_to_its_recorded_metrics(
    repo: Path, origin: Path, capsys, C: float, promoted: bool
) -> None:  # type: ignore[no-untyped-def]
    """Issue 11: when the production model cannot score the candidate's data (a renamed
    column), relative rules used to be dropped and anything promoted. Now they are checked
    against the champion's recorded metrics, and the output says so."""
    assert cli(capsys, "promote")[0] == 0
    train, test = classification_frames()
    write_frames(repo, train.rename(columns={"f0": "g0"}), test.rename(columns={"f0": "g0"}))
    set_params(repo, C=C)
    commit_all(repo, "rename f0, new C")
    code, out, err = cli(capsys, "promote")
    shown = out + err
    assert "relative rules compared against production v1's recorded metrics" in shown
    assert "lacks column(s) 'f0'" in shown
    assert (code, tags(origin)) == (
        (0, ["churn@v1", "churn@v2"]) if promoted else (1, ["churn@v1"])
    )
    if promoted:  # the model card says what the candidate was held to
        card = show(origin, "production", "churn/MODEL_CARD.md").decode()
        assert "relative limits were checked against the metrics it recorded" in card
    if not promoted:  # above the absolute minimum, but worse than v1 by more than allowed
        assert "below the minimum" not in shown
        assert "accuracy" in shown and "production v1" in shown


def test_two_clones_promoting_at_once_never_lose_a_version(
    repo: Path, origin: Path, tmp_path: Path
) -> None:
    clones = []
    for name, c in (("a", 0.9), ("b", 0.8)):
        clone = tmp_path / name
        git(tmp_path, "clone", "-q", str(origin), str(clone))
        set_params(clone, C=c)
        commit_all(clone, f"C {c}")
        clones.append(clone)
    runs = [
        subprocess.Popen(
            [sys.executable, "-m", "mlgate", "promote"],
            cwd=c,
            env=os.environ,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for c in clones
    ]
    results = [(r.wait(), r.communicate()) for r in runs]
    codes = sorted(code for code, _ in results)
    assert codes in ([0, 0], [0, 1]), results
    remote_tags = tags(origin)
    assert remote_tags == [f"churn@v{i}" for i in range(1, len(remote_tags) + 1)]
    assert len(remote_tags) == codes.count(0)
    log = git(origin, "log", "--format=%s", "production").splitlines()
    assert len(log) == len(remote_tags)  # every version is a commit, none overwritten
    versions = [lineage(origin, f"churn@v{i}")["version"] for i in range(1, len(remote_tags) + 1)]
    assert versions == list(range(1, len(remote_tags) + 1))
    tip = git(origin, "rev-parse", "production")
    for clone in clones:  # no clone is left with a version the remote does not have
        local = git(clone, "rev-parse", "production")
        ancestor = ["git", "merge-base", "--is-ancestor", local, tip]
        assert subprocess.run(ancestor, cwd=origin).returncode == 0
        assert set(tags(clone)) <= set(remote_tags)


def test_rollback_creates_a_new_version_equal_to_the_old_one(
    repo: Path, origin: Path, capsys
) -> None:  # type: ignore[no-untyped-def]
    assert cli(capsys, "promote")[0] == 0
    set_params(repo, C=0.8)
    commit_all(repo, "C 0.8")
    assert cli(capsys, "promote")[0] == 0
    code, out, err = cli(capsys, "rollback", "--to", "1")
    assert code == 0, err
    assert "rolled back to v1 as v3" in out
    assert tags(origin) == ["churn@v1", "churn@v2", "churn@v3"]
    for name in ("model.skops", "metrics.json"):
        assert show(origin, "churn@v3", f"churn/{name}") == show(
            origin, "churn@v1", f"churn/{name}"
        )
    record = lineage(origin, "churn@v3")
    assert (
        record["version"],
        record["kind"],
        record["rollback_of"],
        record["replaced_version"],
    ) == (3, "rollback", 1, 2)
    assert git(origin, "log", "-1", "--format=%B", "production").strip().endswith("rollback of v1")
    code, _, err = cli(capsys, "rollback", "--to", "9")
    assert (
        code == 2 and "there is no version 9 of churn (tag churn@v9); versions: v1, v2, v3" in err
    )


def test_ci_push_to_the_default_branch_promotes(
    repo: Path, origin: Path, tmp_path: Path, capsys, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    set_params(repo, C=0.9)
    commit_all(repo, "Merge pull request #7 from octo/tune")
    push = json.loads((FIXTURES / "events" / "github-push-new-branch.json").read_text())
    push["ref"] = "refs/heads/main"
    push["repository"]["default_branch"] = "main"
    push["after"] = git(repo, "rev-parse", "HEAD")
    env = github_env(tmp_path, push)
    env["GITHUB_EVENT_NAME"] = "push"
    use_env(monkeypatch, env)
    code, _, err = cli(capsys, "ci")
    assert code == 0, err
    outputs = read_outputs(tmp_path / "output.txt")
    assert outputs == {"promoted": "true", "version": "1", "tag": "churn@v1"}
    assert (tmp_path / "summary.md").read_text().startswith("# churn v1")
    assert tags(origin) == ["churn@v1"]
    assert lineage(origin)["pull_request"] == 7  # read from GitHub's merge commit message


def test_ci_job_summary_charts_the_versions_with_a_refused_candidate_last(
    repo: Path, origin: Path, tmp_path: Path, capsys, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    assert cli(capsys, "promote")[0] == 0
    set_params(repo, C=0.0001)
    commit_all(repo, "Merge pull request #8 from octo/over-regularize")
    push = json.loads((FIXTURES / "events" / "github-push-new-branch.json").read_text())
    push["ref"] = "refs/heads/main"
    push["repository"]["default_branch"] = "main"
    push["after"] = git(repo, "rev-parse", "HEAD")
    env = github_env(tmp_path, push)
    env["GITHUB_EVENT_NAME"] = "push"
    use_env(monkeypatch, env)
    code, out, _ = cli(capsys, "ci")
    assert code == 1
    assert re.search(r"^accuracy v1\.\.head: █▁ \(", out, re.M), out
    summary = (tmp_path / "summary.md").read_text()
    assert summary.startswith("### mlgate: churn was not promoted")
    assert "### accuracy over production versions" in summary
    [block] = re.findall(r"^```mermaid\n(.*?)^```$", summary, flags=re.S | re.M)
    assert '    x-axis ["v1", "head"]' in block


def test_ci_merged_pull_request_promotes_with_its_number(
    repo: Path, origin: Path, tmp_path: Path, capsys, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    closed = json.loads((FIXTURES / "events" / "github-pull_request-closed.json").read_text())
    closed["pull_request"].update(
        merged=True,
        merged_at="2019-05-15T15:21:00Z",
        merge_commit_sha=git(repo, "rev-parse", "HEAD"),
    )
    closed["pull_request"]["merged_by"] = closed["pull_request"]["user"]
    for key, value in github_env(tmp_path, closed).items():
        monkeypatch.setenv(key, value)
    code, _, err = cli(capsys, "ci")
    assert code == 0, err
    assert lineage(origin)["pull_request"] == 2
    assert read_outputs(tmp_path / "output.txt")["promoted"] == "true"


def test_candidate_that_cannot_be_reloaded_safely_is_refused(
    repo: Path, origin: Path, capsys
) -> None:  # type: ignore[no-untyped-def]
    """The predict smoke test runs on the model as deployed: reloaded from its skops file
    with trusted types only. A custom class from the repo is not trusted, so: refused."""
    (repo / "custom.py").write_text(
        "from sklearn.linear_model import LogisticRegression\n"
        "class Mine(LogisticRegression):\n    pass\n"
        "def make(C=1.0):\n    return Mine(C=C, max_iter=500)\n"
    )
    cfg = classification_config()
    cfg["model"].update(estimator="custom:make", params={"C": 1.0})
    from projects import write_config

    write_config(repo, cfg)
    commit_all(repo, "a custom estimator class")
    code, out, _ = cli(capsys, "promote")
    assert code == 1
    assert "predict smoke test failed: the saved model cannot be loaded safely" in out
    assert "custom.Mine" in out
    assert tags(origin) == [] and git(origin, "branch", "--list", "production") == ""


def test_history_lists_promotions_and_rollbacks(repo: Path, origin: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    assert cli(capsys, "promote")[0] == 0
    set_params(repo, C=0.8)
    commit_all(repo, "C 0.8")
    assert cli(capsys, "promote")[0] == 0
    assert cli(capsys, "rollback", "--to", "1")[0] == 0
    code, out, _ = cli(capsys, "history", "--format", "json")
    assert code == 0
    listed = json.loads(out)["versions"]
    assert [(v["version"], v["kind"], v["rollback_of"]) for v in listed] == [
        (1, "promotion", None),
        (2, "promotion", None),
        (3, "rollback", 1),
    ]
    code, out, _ = cli(capsys, "history", "--format", "markdown")
    assert "```mermaid" in out and "xychart-beta" in out


def test_promotion_reuses_a_run_with_unchanged_inputs(repo: Path, origin: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    set_params(repo, C=0.7)
    head = commit_all(repo, "C 0.7")
    code, out, _ = cli(capsys, "check", "--base", "HEAD~1", "--head", "HEAD", "--format", "json")
    assert code == 0
    checked = json.loads(out)["head"]["metrics"]
    code, out, err = cli(capsys, "promote")
    assert code == 0, err
    assert (
        out.splitlines()[0] == "note: HEAD was evaluated before with the same inputs: not retrained"
    )
    record = lineage(origin)
    assert record["metrics"] == checked and record["source_commit"] == head
    stored = Path(os.environ["MLGATE_CACHE_DIR"]) / "runs" / "by-inputs" / "churn"
    model = show(origin, "production", "churn/model.skops")
    entries = [e / "model.skops" for e in stored.iterdir()]  # base and head of the check
    assert len(entries) == 2
    assert model in [e.read_bytes() for e in entries]  # the very model that was checked


def test_a_histgradientboosting_model_is_promoted(repo: Path, origin: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    """scikit-learn's own internals (its TreePredictor) are trusted; user classes are not."""
    cfg = classification_config()
    cfg["model"].update(
        estimator="sklearn.ensemble.HistGradientBoostingClassifier",
        params={"max_iter": 20, "random_state": 0},
    )
    from projects import write_config

    write_config(repo, cfg)
    commit_all(repo, "gradient boosting")
    code, out, err = cli(capsys, "promote")
    assert code == 0, out + err
    assert tags(origin) == ["churn@v1"]
