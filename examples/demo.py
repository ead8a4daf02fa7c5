"""`make demo`: the tumor-classifier example through two pull requests, offline, no token.

In a fresh temporary directory: a git repository with the example on ``main`` (data v1,
tracked by pointers, pushed to a ``file://`` store); a branch ``new-data`` with more
training rows and C 1.0 -> 0.5, whose ``mlgate check`` passes the gate (exit 0); and a
branch ``over-regularized`` with C 0.0005, whose check fails it (exit 1). The demo exits 0
only when both exit codes are the expected ones.

The set-up functions are importable (benchmarks/bench_check.py builds the same repo).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

EXAMPLE = Path(__file__).resolve().parent / "tumor-classifier"
MLGATE = (sys.executable, "-m", "mlgate")
IDENTITY = {
    "GIT_AUTHOR_NAME": "mlgate demo",
    "GIT_AUTHOR_EMAIL": "demo@example.com",
    "GIT_COMMITTER_NAME": "mlgate demo",
    "GIT_COMMITTER_EMAIL": "demo@example.com",
}


class DemoError(Exception):
    """A set-up step failed: the demo cannot go on."""


@dataclass
class Demo:
    """The demo's temporary directory, its git repository and the environment to run in."""

    workdir: Path
    repo: Path
    env: dict[str, str]
    verbose: bool = True  # False: no banners, command output captured (the benchmark)

    @property
    def store(self) -> Path:
        return self.workdir / "store"


def demo_env(workdir: Path) -> dict[str, str]:
    """This environment plus a fixed git identity, no user/system git config, own cache."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    gitconfig = workdir / "gitconfig"
    gitconfig.touch()
    env.update(IDENTITY)
    env["GIT_CONFIG_NOSYSTEM"] = "1"
    env["GIT_CONFIG_GLOBAL"] = str(gitconfig)  # the user's global config stays untouched
    env["MLGATE_CACHE_DIR"] = str(workdir / "cache")
    return env


def banner(demo: Demo, text: str, expect: str | None = None) -> None:
    if demo.verbose:
        print(f"\n==> {text}" + (f"  (expect: {expect})" if expect else ""), flush=True)


def run(
    demo: Demo, *cmd: str, check: bool = True, capture: bool = False
) -> subprocess.CompletedProcess[str]:
    """Run a command in the demo repository; with ``check``, a non-zero exit is a DemoError."""
    capture = capture or not demo.verbose
    proc = subprocess.run(cmd, cwd=demo.repo, env=demo.env, text=True, capture_output=capture)
    if check and proc.returncode != 0:
        detail = (proc.stderr or proc.stdout or "").strip() if capture else ""
        shown = " ".join(cmd).replace(sys.executable, "python")
        raise DemoError(f"`{shown}` exited {proc.returncode}" + (f": {detail}" if detail else ""))
    return proc


def git(demo: Demo, *args: str) -> None:
    run(demo, "git", *args, capture=True)


def mlgate(demo: Demo, *args: str, check: bool = True) -> int:
    return run(demo, *MLGATE, *args, check=check).returncode


def prepare_data(demo: Demo, release: str) -> None:
    run(demo, sys.executable, "prepare_data.py", "--release", release)


def set_param(demo: Demo, name: str, value: str) -> None:
    """Rewrite one entry of ``model.params`` in mlgate.yaml in place, keeping its comments."""
    path = demo.repo / "mlgate.yaml"
    text, count = re.subn(rf"\b{name}: [^,}}]+", f"{name}: {value}", path.read_text(), count=1)
    if count != 1:
        raise DemoError(f"{path}: no parameter {name} to change")
    path.write_text(text)


def commit(demo: Demo, message: str) -> None:
    git(demo, "add", "-A")
    git(demo, "commit", "-q", "-m", message)


def setup_base(workdir: Path, *, verbose: bool = True) -> Demo:
    """The example on ``main``: data v1 added as pointers, pushed to the store, committed."""
    demo = Demo(workdir, workdir / "tumor-classifier", demo_env(workdir), verbose)
    banner(demo, f"main: copy {EXAMPLE.name} to {demo.repo}; git init; storage {demo.store}")
    shutil.copytree(EXAMPLE, demo.repo, ignore=shutil.ignore_patterns("data", "__pycache__"))
    git(demo, "init", "-q", "-b", "main")
    with (demo.repo / "mlgate.yaml").open("a") as f:
        f.write(f"storage: {demo.store.as_uri()}\n")
    banner(
        demo,
        "main: data release v1, tracked by pointers, then commit",
        "data add writes data/*.csv.ptr and stores the bytes; push finds nothing left to upload",
    )
    prepare_data(demo, "v1")
    mlgate(demo, "data", "add", "data/train.csv", "data/test.csv")
    mlgate(demo, "data", "push")
    mlgate(demo, "validate")
    commit(demo, "Tumor classifier on data v1")
    return demo


def make_new_data_branch(demo: Demo) -> None:
    """Branch ``new-data``: training data v2 (the pointer changes) and C 1.0 -> 0.5."""
    banner(demo, "new-data: data release v2 (more training rows), C 1.0 -> 0.5, commit")
    git(demo, "switch", "-q", "-c", "new-data", "main")
    prepare_data(demo, "v2")
    mlgate(demo, "data", "add", "data/train.csv")
    mlgate(demo, "data", "push")
    set_param(demo, "C", "0.5")
    commit(demo, "More training data; C 0.5")


def make_over_regularized_branch(demo: Demo) -> None:
    """Branch ``over-regularized`` from main: data v1 again, C 0.0005 (far too strong)."""
    banner(demo, "over-regularized: from main, data v1 pulled back, C 1.0 -> 0.0005, commit")
    git(demo, "switch", "-q", "-c", "over-regularized", "main")
    mlgate(demo, "data", "pull")  # the working tree still holds new-data's train.csv
    set_param(demo, "C", "0.0005")
    commit(demo, "Stronger regularization: C 0.0005")


def check_exit(demo: Demo, branch: str, expected: int, *args: str) -> int:
    verdict = "gate passes (exit 0)" if expected == 0 else "gate fails (exit 1)"
    shown = " ".join(("mlgate check", *args))
    banner(demo, f"{branch}: {shown}  (base: merge-base with main, head: {branch})", verdict)
    code = mlgate(demo, "check", *args, check=False)
    print(f"--> {shown} exited {code}", flush=True)
    return code


def story(demo: Demo) -> list[str]:
    """Both pull requests; returns what went differently than expected (empty: all good)."""
    problems: list[str] = []

    def expect(branch: str, code: int, expected: int) -> None:
        if code != expected:
            problems.append(f"{branch}: mlgate check exited {code}, expected {expected}")

    make_new_data_branch(demo)
    expect("new-data", check_exit(demo, "new-data", 0), 0)
    report = demo.workdir / "report-new-data.md"
    code = check_exit(demo, "new-data", 0, "--format", "markdown", "--output", str(report))
    expect("new-data (markdown)", code, 0)
    if report.exists():
        print(f"--> markdown report (the PR comment body): {report}", flush=True)
    else:
        problems.append(f"new-data: no markdown report at {report}")

    make_over_regularized_branch(demo)
    expect("over-regularized", check_exit(demo, "over-regularized", 1), 1)
    problems += promote_merges(demo)
    return problems


def promote_merges(demo: Demo) -> list[str]:
    """Journey 3: main becomes production v1; merging new-data promotes v2 against it."""
    problems = []
    banner(demo, "main: mlgate promote  (the first production version)", "v1, tag tumor@v1")
    git(demo, "switch", "-q", "main")
    mlgate(demo, "data", "pull")
    if (code := mlgate(demo, "promote", check=False)) != 0:
        problems.append(f"main: mlgate promote exited {code}, expected 0")
    banner(
        demo,
        "main: merge new-data, then mlgate promote  (compared with production v1 on the same data)",
        "v2, tag tumor@v2",
    )
    git(demo, "merge", "-q", "--no-ff", "-m", "Merge branch new-data", "new-data")
    mlgate(demo, "data", "pull")
    if (code := mlgate(demo, "promote", check=False)) != 0:
        problems.append(f"main after merging new-data: mlgate promote exited {code}, expected 0")
    banner(demo, "mlgate history  (the production branch: versions and their metrics)")
    mlgate(demo, "history")
    return problems


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", type=Path, help="an empty directory (default: a new temp)")
    args = parser.parse_args(argv)
    workdir = (args.workdir or Path(tempfile.mkdtemp(prefix="mlgate-demo-"))).resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    print(f"mlgate demo in {workdir}", flush=True)
    try:
        problems = story(setup_base(workdir))
    except (DemoError, OSError) as e:
        problems = [f"set-up step failed: {e}"]
    print()
    if problems:
        print("DEMO FAILED:\n" + "\n".join(f"  - {p}" for p in problems), file=sys.stderr)
        print(f"(the repository is kept for a look: {workdir})", file=sys.stderr)
        return 1
    print(
        "demo ok: new-data passed the gate (exit 0), over-regularized failed it (exit 1), "
        "main was promoted as v1 and the merge of new-data as v2"
    )
    print(f"production branch: cd {workdir / 'tumor-classifier'} && git show production --stat")
    print(f"look around: cd {workdir / 'tumor-classifier'} && git log --oneline --all")
    print(f"remove it with: rm -rf {workdir}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
