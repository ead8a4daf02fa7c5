"""Many models in one repository (issue 17, item 1): `mlgate ci --matrix` plans one job per
touched model, `mlgate ci -c <dir>/mlgate.yaml --no-comment` is such a job, and `mlgate ci
--gather DIR` posts one combined comment and every model's status; `mlgate check --all`.
Real repositories with three models, a bare origin, and the loopback GitHub."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
import yaml

from ci_events import github_env, pr_event, read_outputs, use_env, use_push_env
from conftest import commit_all, git
from fakes import github as fake_github
from fakes.github import serve_github
from mlgate.render.combined import MARKER
from mlgate.run import signatures
from projects import classification_config, classification_frames, cli, push_to_origin
from security.test_forged_notes import keypair

MODELS = ("churn", "fraud", "prices")


def model_config(name: str, public_key: str | None = None, **gate: Any) -> dict[str, Any]:
    cfg = classification_config()
    cfg["model"]["name"] = name
    cfg["gate"].update(gate)
    if public_key:
        cfg["notes"] = {"public_key": public_key}
    return cfg


def write_model(repo: Path, name: str, cfg: dict[str, Any]) -> None:
    where = repo / "models" / name
    (where / "data").mkdir(parents=True, exist_ok=True)
    (where / "mlgate.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))


def monorepo(repo: Path, public_key: str | None = None) -> str:
    """Three models under models/<name>/, each with its own data; the commit."""
    for seed, name in enumerate(MODELS):
        write_model(repo, name, model_config(name, public_key))
        train, test = classification_frames(seed=seed)
        train.to_csv(repo / "models" / name / "data" / "train.csv", index=False)
        test.to_csv(repo / "models" / name / "data" / "test.csv", index=False)
    return commit_all(repo, "three models")


def change_churn(repo: Path) -> str:
    """A pull request branch that changes only churn's parameters."""
    git(repo, "checkout", "-q", "-b", "feature")
    path = repo / "models" / "churn" / "mlgate.yaml"
    cfg = yaml.safe_load(path.read_text())
    cfg["model"]["params"]["C"] = 0.5
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    return commit_all(repo, "churn: C 0.5")


def _cache() -> Path:
    return Path(os.environ["MLGATE_CACHE_DIR"])


def runs_in_cache(cache: Path) -> list[Path]:
    """Every stored run: a plan that trained nothing stored none."""
    runs = cache / "runs"
    return sorted(runs.rglob("record.json")) if runs.exists() else []


def pr_env(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, base: str, head: str, gh: Any = None
) -> dict[str, str]:
    events = tmp_path / "events"
    events.mkdir(exist_ok=True)
    token = fake_github.VALID_TOKEN if gh is not None else None
    env = github_env(events, pr_event(number=2, base__sha=base, head__sha=head), token=token)
    if gh is not None:
        env["GITHUB_API_URL"] = gh.url
    use_env(monkeypatch, env)
    return env


def test_the_plan_lists_only_the_touched_model_and_trains_nothing(
    repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    base = monorepo(repo)
    head = change_churn(repo)
    env = pr_env(tmp_path, monkeypatch, base, head)

    code, out, err = cli(capsys, "ci", "--matrix")

    assert code == 0, err
    outputs = read_outputs(Path(env["GITHUB_OUTPUT"]))
    assert json.loads(outputs["matrix"]) == {
        "include": [{"model": "churn", "dir": "models/churn", "config": "models/churn/mlgate.yaml"}]
    }
    assert outputs["count"] == "1"
    plan = json.loads((repo / "mlgate-plan.json").read_text())
    assert [(m["model"], m["touched"]) for m in plan["models"]] == [
        ("churn", True),
        ("fraud", False),
        ("prices", False),
    ]
    assert "mlgate: 1 of 3 model(s) to check" in out
    assert runs_in_cache(_cache()) == []


def test_a_data_change_or_a_gate_change_touches_a_model_and_a_readme_does_not(
    repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    base = monorepo(repo)
    git(repo, "checkout", "-q", "-b", "feature")
    (repo / "README.md").write_text("docs only\n")
    data = repo / "models" / "fraud" / "data" / "train.csv"
    data.write_text(data.read_text().replace("\n1", "\n0", 3))
    write_model(repo, "prices", model_config("prices", accuracy={"min": 0.6}))
    head = commit_all(repo, "fraud data, prices gate, a README")
    env = pr_env(tmp_path, monkeypatch, base, head)

    code, _, err = cli(capsys, "ci", "--matrix")

    assert code == 0, err
    matrix = json.loads(read_outputs(Path(env["GITHUB_OUTPUT"]))["matrix"])
    assert [m["model"] for m in matrix["include"]] == ["fraud", "prices"]
    planned = json.loads((repo / "mlgate-plan.json").read_text())["models"]
    assert {m["model"]: m["reason"] for m in planned} == {
        "churn": "unchanged",
        "fraud": "inputs changed (code, data, parameters or metrics)",
        "prices": "config changed (gate or report)",
    }


@pytest.fixture
def shared_fraud(
    repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> tuple[str, str]:
    """main pins a notes key, and its CI shared a signed run of fraud (not of prices); the
    PR branch changes churn. (base, head)."""
    private, public = keypair()
    base = monorepo(repo, public)
    push_to_origin(repo, tmp_path)
    pushed = tmp_path / "push"
    pushed.mkdir()
    env = use_push_env(repo, pushed, monkeypatch)
    monkeypatch.setenv(signatures.ENV_KEY, private)
    code, out, err = cli(capsys, "ci", "-c", "models/fraud/mlgate.yaml")
    assert code == 0, err
    assert "shared this run in refs/notes/mlgate (signed, " in out
    for key in [*env, signatures.ENV_KEY]:
        monkeypatch.delenv(key)
    return base, change_churn(repo)


def matrix_jobs(repo: Path, env: dict[str, str], capsys: Any, results: str = "results") -> None:
    """The plan job, then each matrix job as the workflow runs it."""
    code, _, err = cli(capsys, "ci", "--matrix")
    assert code == 0, err
    matrix = json.loads(read_outputs(Path(env["GITHUB_OUTPUT"]))["matrix"])
    for job in matrix["include"]:
        saved = f"{results}/mlgate-result-{job['model']}/mlgate-result.json"
        code, _, err = cli(capsys, "ci", "-c", job["config"], "--no-comment", "--result", saved)
        assert code == 0, err


def last_statuses(gh: fake_github.FakeGitHub, sha: str) -> dict[str, tuple[str, str]]:
    return {s["context"]: (s["state"], s["description"]) for s in gh.statuses[sha]}


def test_gather_posts_one_comment_for_every_model_and_each_models_status(
    repo: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: Any,
    shared_fraud: tuple[str, str],
) -> None:
    base, head = shared_fraud
    with serve_github() as gh:
        env = pr_env(tmp_path, monkeypatch, base, head, gh)
        matrix_jobs(repo, env, capsys)
        assert gh.bodies() == []  # the matrix job posts no comment

        code, out, err = cli(capsys, "ci", "--gather", "results")

        assert code == 0, err
        (body,) = gh.bodies()
        assert body.startswith(MARKER + "\n### ✅ mlgate: every model passes (3 model(s): 1 ")
        for name in MODELS:
            assert f"\n| {name} | " in body
        assert "<details><summary>churn: ✅ pass</summary>" in body
        assert "<summary>fraud" not in body and "<summary>prices" not in body
        assert "<!-- mlgate:report model=" not in body  # no model's own sticky marker
        statuses = last_statuses(gh, head)
        assert statuses["mlgate/churn"][0] == "success"
        assert statuses["mlgate/churn"][1].startswith("accuracy ")
        assert statuses["mlgate/fraud"][0] == "success"
        assert statuses["mlgate/fraud"][1].startswith(f"unchanged since {base[:7]}: accuracy 0.")
        assert statuses["mlgate/fraud"][1].endswith("(base's run)")
        assert statuses["mlgate/prices"] == (
            "success",
            f"unchanged since {base[:7]}: not retrained",
        )
        assert "mlgate: fraud: unchanged" in out

        # The next push edits the same comment.
        code, _, err = cli(capsys, "ci", "--gather", "results")
        assert code == 0, err
        assert len(gh.bodies()) == 1


def two_touched(repo: Path) -> tuple[str, str]:
    """(base, head): a pull request that changes churn's and fraud's parameters."""
    base = monorepo(repo)
    git(repo, "checkout", "-q", "-b", "feature")
    for name in ("churn", "fraud"):
        path = repo / "models" / name / "mlgate.yaml"
        cfg = yaml.safe_load(path.read_text())
        cfg["model"]["params"]["C"] = 0.5
        path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    return base, commit_all(repo, "churn and fraud: C 0.5")


def test_the_combined_comment_fits_the_servers_limit_with_every_report_folded(
    repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    base, head = two_touched(repo)
    with serve_github(comment_limit=5000) as gh:  # an Enterprise server's lower limit
        env = pr_env(tmp_path, monkeypatch, base, head, gh)
        matrix_jobs(repo, env, capsys)

        code, _, err = cli(capsys, "ci", "--gather", "results")

        assert code == 0, err
        (body,) = gh.bodies()
        assert len(body) <= 5000
        assert "<details><summary>churn: ✅ pass</summary>" in body
        assert "<details><summary>fraud: ✅ pass</summary>" in body
        assert body.count("<details>") == body.count("</details>")
        assert "Report truncated at" in body


def test_gather_refuses_a_forged_artifact_and_regates_a_claimed_pass(
    repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    base, head = two_touched(repo)
    with serve_github() as gh:
        env = pr_env(tmp_path, monkeypatch, base, head, gh)
        matrix_jobs(repo, env, capsys)
        results = repo / "results"
        churn = results / "mlgate-result-churn" / "mlgate-result.json"
        fraud = results / "mlgate-result-fraud" / "mlgate-result.json"
        # churn's job (PR code) writes a result claiming to be prices', and one into the
        # untouched prices' place; fraud's claims a pass with a failing accuracy.
        doc = json.loads(churn.read_text())
        doc["report"]["model"] = "prices"
        churn.write_text(json.dumps(doc))
        (results / "mlgate-result-prices").mkdir()
        (results / "mlgate-result-prices" / "mlgate-result.json").write_text(json.dumps(doc))
        doc = json.loads(fraud.read_text())
        accuracy = next(r for r in doc["report"]["metrics"] if r["name"] == "accuracy")
        accuracy["head"], doc["report"]["verdict"] = 0.1, "pass"
        fraud.write_text(json.dumps(doc))

        code, out, _ = cli(capsys, "ci", "--gather", "results")

        assert code == 1
        statuses = last_statuses(gh, head)
        assert statuses["mlgate/churn"] == (
            "error",
            f"its result was refused: {churn.relative_to(repo)} names 'prices' as the model, "
            "not 'churn'",
        )
        assert statuses["mlgate/fraud"][0] == "failure"
        unchanged = ("success", f"unchanged since {base[:7]}: not retrained")
        assert statuses["mlgate/prices"] == unchanged
        assert "::warning::ignored results/mlgate-result-prices: no touched model's" in out
        (body,) = gh.bodies()
        assert "| churn | ⚠️ error |" in body and "| fraud | ❌ fail |" in body


def test_gather_reports_a_model_whose_job_left_no_result(
    repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    base = monorepo(repo)
    head = change_churn(repo)
    with serve_github() as gh:
        pr_env(tmp_path, monkeypatch, base, head, gh)
        code, _, _ = cli(capsys, "ci", "--gather", "results")
        assert code == 1
        assert last_statuses(gh, head)["mlgate/churn"] == (
            "error",
            "no result from its job (it failed before saving)",
        )

        # A link in the results (to a file outside them) is not read.
        outside = tmp_path / "elsewhere.json"
        outside.write_text("{}")
        (repo / "results" / "mlgate-result-churn").mkdir(parents=True)
        (repo / "results" / "mlgate-result-churn" / "mlgate-result.json").symlink_to(outside)
        code, out, _ = cli(capsys, "ci", "--gather", "results")
        assert code == 1
        assert last_statuses(gh, head)["mlgate/churn"] == (
            "error",
            "its result was refused: a symbolic link",
        )
        assert "is a symbolic link" in out


def test_more_than_256_touched_models_is_a_usage_error_before_any_training(
    repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    train, test = classification_frames()
    (repo / "data").mkdir()
    train.to_csv(repo / "data" / "train.csv", index=False)
    test.to_csv(repo / "data" / "test.csv", index=False)
    base = commit_all(repo, "shared data")
    git(repo, "checkout", "-q", "-b", "many")
    for i in range(257):
        cfg = model_config(f"m{i:03d}")
        cfg["data"].update(train="../data/train.csv", test="../data/test.csv")
        (repo / f"m{i:03d}").mkdir()
        (repo / f"m{i:03d}" / "mlgate.yaml").write_text(yaml.safe_dump(cfg))
    head = commit_all(repo, "257 models")
    env = pr_env(tmp_path, monkeypatch, base, head)

    code, _, err = cli(capsys, "ci", "--matrix")

    assert code == 2
    assert err == (
        "mlgate: error: 257 models are touched, more than the 256 jobs a GitHub Actions "
        "matrix may have; split the models across workflows (a `paths:` filter each), or "
        "check them in one job with `mlgate check --all`\n"
    )
    assert not Path(env["GITHUB_OUTPUT"]).exists()
    assert runs_in_cache(_cache()) == []


def test_a_model_directory_that_could_become_shell_syntax_is_refused(
    repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    base = monorepo(repo)
    git(repo, "checkout", "-q", "-b", "evil")
    evil = repo / "models" / "$(curl evil)"
    evil.mkdir()
    (evil / "mlgate.yaml").write_text(yaml.safe_dump(model_config("evil")))
    head = commit_all(repo, "evil")
    pr_env(tmp_path, monkeypatch, base, head)

    code, _, err = cli(capsys, "ci", "--matrix")

    assert code == 2
    assert err.startswith("mlgate: error: models/$(curl evil)/mlgate.yaml: a model directory")


def test_two_configs_naming_one_model_are_refused(
    repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    base = monorepo(repo)
    git(repo, "checkout", "-q", "-b", "twin")
    write_model(repo, "prices", model_config("churn"))
    head = commit_all(repo, "twin")
    pr_env(tmp_path, monkeypatch, base, head)

    code, _, err = cli(capsys, "ci", "--matrix")

    assert code == 2
    assert err == (
        "mlgate: error: models/churn/mlgate.yaml and models/prices/mlgate.yaml both name the "
        "model 'churn'; model.name must differ (it names the commit status mlgate/<name>)\n"
    )


def test_check_all_prints_every_model_and_exits_with_the_worst(repo: Path, capsys: Any) -> None:
    monorepo(repo)
    git(repo, "checkout", "-q", "-b", "feature")
    write_model(repo, "prices", model_config("prices", accuracy={"min": 0.99}))
    commit_all(repo, "prices: a floor it cannot reach")

    code, out, err = cli(capsys, "check", "--all")

    assert code == 1, err
    lines = out.splitlines()
    assert lines[0].split() == ["model", "verdict", "details"]
    verdicts = {line.split()[0]: line.split()[1] for line in lines[1:]}
    assert verdicts == {"churn": "pass", "fraud": "pass", "prices": "fail"}
    assert "models/prices/mlgate.yaml: accuracy " in out

    code, _, err = cli(capsys, "check", "--all", "--format", "json")
    assert code == 2
    assert "--all prints a summary table of every model" in err


def test_the_gitlab_examples_model_job_asks_the_plan_which_models_are_touched(
    repo: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    import shutil
    import subprocess

    from conftest import REPO_ROOT

    base = monorepo(repo)
    head = change_churn(repo)
    env = {
        "GITLAB_CI": "true",
        "CI_PIPELINE_SOURCE": "merge_request_event",
        "CI_PROJECT_ID": "7",
        "CI_PROJECT_PATH": "group/models",
        "CI_MERGE_REQUEST_IID": "3",
        "CI_MERGE_REQUEST_DIFF_BASE_SHA": base,
        "CI_MERGE_REQUEST_SOURCE_BRANCH_SHA": head,
        "CI_COMMIT_SHA": head,
    }
    use_env(monkeypatch, env)
    code, _, err = cli(capsys, "ci", "--matrix")
    assert code == 0, err
    example = yaml.safe_load((REPO_ROOT / "examples" / "gitlab-ci-monorepo.yml").read_text())
    ask = example["model"]["script"][0]
    bash = shutil.which("bash")
    assert bash
    ended = {}
    for directory in ("models/churn", "models/fraud"):
        script = f"{ask}\necho checked\n"
        proc = subprocess.run(
            [bash, "-ec", script],
            cwd=repo,
            env={"PATH": os.environ["PATH"], "MODEL_DIR": directory},
            capture_output=True,
            text=True,
        )
        assert proc.returncode == 0, proc.stderr
        ended[directory] = proc.stdout
    assert ended == {"models/churn": "checked\n", "models/fraud": ""}


def test_on_a_push_to_main_the_plan_lists_what_the_pushed_commit_touched(
    repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    monorepo(repo)
    change_churn(repo)
    git(repo, "checkout", "-q", "main")
    git(repo, "merge", "-q", "--no-ff", "-m", "Merge pull request #2 from feature", "feature")
    env = use_push_env(repo, tmp_path, monkeypatch)

    code, _, err = cli(capsys, "ci", "--matrix")

    assert code == 0, err
    matrix = json.loads(read_outputs(Path(env["GITHUB_OUTPUT"]))["matrix"])
    assert [m["model"] for m in matrix["include"]] == ["churn"]
    assert runs_in_cache(_cache()) == []
