"""`action.yml` run the way the GitHub runner runs a composite action: inputs and
expressions substituted, each `run:` step executed with its `shell:` in its
`working-directory`, fresh GITHUB_OUTPUT per step, a shared GITHUB_STEP_SUMMARY, outputs
mapped from the steps. mlgate is really built and installed from the action's path, then
really runs against a temp repository and the loopback GitHub."""

from __future__ import annotations

import json
import os
import re
import site
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from ci_events import pr_event, read_outputs
from conftest import REPO_ROOT, commit_all, git
from fakes import github as fake_github
from fakes.github import serve_github
from projects import base_project, classification_config, classification_frames, set_params

# The emulated setup-python can only offer the interpreter the tests run on.
PYTHON = f"{sys.version_info.major}.{sys.version_info.minor}"
EXPRESSION = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")
# GitHub's template for `shell: bash` (docs: "Custom shell", the bash row).
SHELLS = {"bash": ["bash", "--noprofile", "--norc", "-eo", "pipefail", "{0}"]}


@dataclass
class ActionRun:
    exit_code: int
    outputs: dict[str, str]
    log: str
    steps: dict[str, dict[str, str]] = field(default_factory=dict)


class Runner:
    """Just enough of the Actions runner for a composite action of `run:` steps."""

    def __init__(self, tmp: Path, workspace: Path, env: dict[str, str], token: str) -> None:
        self.tmp, self.workspace, self.token = tmp, workspace, token
        self.env = dict(env)
        self.summary = tmp / "step-summary.md"
        self.context: dict[str, Any] = {"github": {"token": token}, "steps": {}, "inputs": {}}

    def evaluate(self, expression: str) -> str:
        parts = expression.split(".")
        if parts[0] == "inputs" and len(parts) == 2:
            return str(self.context["inputs"][parts[1]])
        if parts == ["github", "token"]:
            return self.token
        if parts[0] == "steps" and len(parts) == 4 and parts[2] == "outputs":
            return self.context["steps"].get(parts[1], {}).get("outputs", {}).get(parts[3], "")
        raise AssertionError(f"the emulated runner does not support ${{{{ {expression} }}}}")

    def substitute(self, value: Any) -> str:
        return EXPRESSION.sub(lambda m: self.evaluate(m.group(1)), str(value))

    def setup_python(self, version: str) -> None:
        """actions/setup-python: a Python of that version first on PATH. Offline here, so the
        new environment sees the test environment's packages (never mlgate's own code)."""
        assert version == f"{sys.version_info.major}.{sys.version_info.minor}"
        venv = self.tmp / "hostedtoolcache-python"
        subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
        inner = Path(
            subprocess.check_output(
                [venv / "bin" / "python", "-c", "import site; print(site.getsitepackages()[0])"],
                text=True,
            ).strip()
        )
        outer = [p for p in site.getsitepackages() if p.endswith("site-packages")]
        (inner / "_runner_toolcache.pth").write_text("\n".join(outer) + "\n")
        self.env["PATH"] = f"{venv / 'bin'}{os.pathsep}{self.env['PATH']}"

    def run(self, action: dict[str, Any], inputs: dict[str, str]) -> ActionRun:
        for name, spec in action["inputs"].items():
            self.context["inputs"][name] = self.substitute(
                inputs.get(name, spec.get("default", ""))
            )
        log: list[str] = []
        for index, step in enumerate(action["runs"]["steps"]):
            if "uses" in step:
                assert step["uses"].startswith("actions/setup-python@"), step["uses"]
                self.setup_python(self.substitute(step["with"]["python-version"]))
                continue
            code = self.run_step(index, step, log)
            if code != 0:
                return ActionRun(code, {}, "".join(log), self.context["steps"])
        outputs = {name: self.substitute(spec["value"]) for name, spec in action["outputs"].items()}
        return ActionRun(0, outputs, "".join(log), self.context["steps"])

    def run_step(self, index: int, step: dict[str, Any], log: list[str]) -> int:
        script = self.tmp / f"step-{index}.sh"
        script.write_text(self.substitute(step["run"]))
        output = self.tmp / f"output-{index}"
        output.touch()
        env = {
            **self.env,
            **{k: self.substitute(v) for k, v in step.get("env", {}).items()},
            "GITHUB_ACTION_PATH": str(REPO_ROOT),
            "GITHUB_WORKSPACE": str(self.workspace),
            "GITHUB_OUTPUT": str(output),
            "GITHUB_STEP_SUMMARY": str(self.summary),
        }
        cwd = self.workspace / self.substitute(step.get("working-directory", "."))
        argv = [arg.replace("{0}", str(script)) for arg in SHELLS[step["shell"]]]
        proc = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True)
        log.append(proc.stdout + proc.stderr)
        if "id" in step:
            self.context["steps"][step["id"]] = {"outputs": read_outputs(output)}
        return proc.returncode


@pytest.fixture
def action() -> dict[str, Any]:
    return yaml.safe_load((REPO_ROOT / "action.yml").read_text())


def runner_env(tmp_path: Path, gh: fake_github.FakeGitHub, event: dict[str, Any]) -> dict[str, str]:
    event_path = tmp_path / "event.json"
    event_path.write_text(json.dumps(event))
    return {
        "PATH": os.environ["PATH"],
        "HOME": os.environ["HOME"],
        "MLGATE_CACHE_DIR": os.environ["MLGATE_CACHE_DIR"],
        "CI": "true",
        "GITHUB_ACTIONS": "true",
        "GITHUB_EVENT_NAME": "pull_request",
        "GITHUB_EVENT_PATH": str(event_path),
        "GITHUB_REPOSITORY": gh.repository,
        "GITHUB_API_URL": gh.url,
        "GITHUB_SERVER_URL": "https://github.com",
        "GITHUB_RUN_ID": "42",
        # The runner image here has no network: pip builds with what is installed.
        "PIP_NO_INDEX": "1",
        "PIP_NO_BUILD_ISOLATION": "0",
    }


def test_the_action_comments_sets_status_and_maps_outputs(
    repo: Path, tmp_path: Path, action: dict[str, Any]
) -> None:
    base = base_project(repo, classification_config(), classification_frames())
    git(repo, "checkout", "-q", "-b", "feature")
    set_params(repo, C=0.5)
    head = commit_all(repo, "C 0.5")
    with serve_github() as gh:
        env = runner_env(tmp_path, gh, pr_event(number=gh.number, base__sha=base, head__sha=head))
        run = Runner(tmp_path, repo, env, fake_github.VALID_TOKEN).run(
            action, {"python-version": PYTHON}
        )
        assert run.exit_code == 0, run.log
        assert run.outputs["verdict"] == "pass"
        assert [m["name"] for m in json.loads(run.outputs["metrics-json"])] == [
            "accuracy",
            "f1_macro",
        ]
        report = Path(run.outputs["report-path"]).read_text()
        assert gh.bodies() == [report]
        assert [s["state"] for s in gh.statuses[head]] == ["pending", "success"]
        assert (tmp_path / "step-summary.md").read_text() == report
    installed = subprocess.check_output(
        [
            tmp_path / "hostedtoolcache-python" / "bin" / "python",
            "-c",
            "import mlgate; print(mlgate.__file__)",
        ],
        text=True,
    )
    assert str(tmp_path) in installed  # the action installed mlgate itself, from its own path


@pytest.mark.parametrize(("fail_on_gate", "expected"), [("true", 1), ("false", 0)])
def test_a_failed_gate_fails_the_step_unless_told_not_to(
    repo: Path, tmp_path: Path, action: dict[str, Any], fail_on_gate: str, expected: int
) -> None:
    cfg = classification_config(gate={"accuracy": {"max_regression": 0.0}})
    base = base_project(repo, cfg, classification_frames())
    git(repo, "checkout", "-q", "-b", "worse")
    set_params(repo, C=0.0001)
    head = commit_all(repo, "collapse")
    with serve_github() as gh:
        env = runner_env(tmp_path, gh, pr_event(number=gh.number, base__sha=base, head__sha=head))
        run = Runner(tmp_path, repo, env, fake_github.VALID_TOKEN).run(
            action, {"fail-on-gate": fail_on_gate, "python-version": PYTHON}
        )
        assert run.exit_code == expected, run.log
        assert run.steps["mlgate"]["outputs"]["verdict"] == "fail"
        assert "::error title=mlgate%3A churn failed the gate::accuracy dropped by" in run.log
        assert [s["state"] for s in gh.statuses[head]] == ["pending", "failure"]
