"""Runner time of a many-models pull request: the matrix plan against checking every model.

Builds a repository of ``--models`` models (default 10; each its own directory, config and
data: random forests on seeded synthetic data) and a pull request that changes one model's
parameters, then, with a fresh cache for every CI job (as on fresh runners) and no token
(nothing is posted; the work is the same), times:

- **all models**: one ``mlgate ci -c <model>/mlgate.yaml`` job per model, each training
  base and head: what a workflow without a plan does;
- **matrix plan**: the plan job (``mlgate ci --matrix``), the one job it lists, and the
  gather job (``mlgate ci --gather``).

Runner time is the sum of the jobs' wall times (what a CI bill counts, each job on its own
runner), taken ``--runs`` times; the table shows medians and the ratio (target ≤ 0.2).

``make bench``, or ``.venv/bin/python benchmarks/bench_matrix.py [--models N] [--rows N]
[--runs N] [--keep]``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
import yaml
from sklearn.datasets import make_classification

EVENT = {
    "action": "synchronize",
    "number": 2,
    "pull_request": {
        "number": 2,
        "base": {"sha": "", "repo": {"full_name": "bench/models"}},
        "head": {"sha": "", "repo": {"full_name": "bench/models"}},
    },
    "repository": {"full_name": "bench/models", "default_branch": "main"},
}


def git(cwd: Path, *args: str) -> str:
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "bench",
        "GIT_AUTHOR_EMAIL": "bench@example.com",
        "GIT_COMMITTER_NAME": "bench",
        "GIT_COMMITTER_EMAIL": "bench@example.com",
    }
    done = subprocess.run(["git", *args], cwd=cwd, env=env, capture_output=True, text=True)
    done.check_returncode()
    return done.stdout.strip()


def build(root: Path, models: int, rows: int) -> tuple[str, str]:
    """The repository: ``models`` models on main, a PR branch changing the first; (base, head)."""
    git(root, "init", "-q", "-b", "main")
    for i in range(models):
        where = root / "models" / f"m{i:02d}"
        (where / "data").mkdir(parents=True)
        x, y = make_classification(n_samples=rows, n_features=12, random_state=i)
        frame = pd.DataFrame(x, columns=[f"f{j}" for j in range(12)]).round(5)
        frame["label"] = y
        cut = int(rows * 0.7)
        frame.iloc[:cut].to_csv(where / "data" / "train.csv", index=False)
        frame.iloc[cut:].to_csv(where / "data" / "test.csv", index=False)
        (where / "mlgate.yaml").write_text(yaml.safe_dump(config(f"m{i:02d}", 100)))
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "models")
    base = git(root, "rev-parse", "HEAD")
    git(root, "checkout", "-q", "-b", "feature")
    (root / "models" / "m00" / "mlgate.yaml").write_text(yaml.safe_dump(config("m00", 120)))
    git(root, "commit", "-q", "-am", "m00: 120 trees")
    return base, git(root, "rev-parse", "HEAD")


def config(name: str, trees: int) -> dict[str, object]:
    return {
        "version": 1,
        "model": {
            "name": name,
            "task": "classification",
            "estimator": "sklearn.ensemble.RandomForestClassifier",
            "params": {"n_estimators": trees, "random_state": 0},
        },
        "data": {"train": "data/train.csv", "test": "data/test.csv", "target": "label"},
        "metrics": ["accuracy", "f1_macro"],
        "gate": {"accuracy": {"max_regression": 0.05}},
    }


def job(root: Path, work: Path, env: dict[str, str], *args: str) -> float:
    """One CI job on a fresh runner: its own cache; its wall time."""
    cache = Path(tempfile.mkdtemp(dir=work, prefix="cache-"))
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "mlgate", *args],
        cwd=root,
        env={**env, "MLGATE_CACHE_DIR": str(cache)},
        capture_output=True,
        text=True,
    )
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"mlgate {' '.join(args)} failed:\n{done.stdout}{done.stderr}")
    shutil.rmtree(cache, ignore_errors=True)
    return seconds


def ci_env(work: Path, base: str, head: str) -> dict[str, str]:
    event = json.loads(json.dumps(EVENT))
    event["pull_request"]["base"]["sha"], event["pull_request"]["head"]["sha"] = base, head
    (work / "event.json").write_text(json.dumps(event))
    keep = {k: v for k, v in os.environ.items() if not k.startswith(("GITHUB_", "MLGATE_"))}
    return {
        **keep,
        "GITHUB_ACTIONS": "true",
        "GITHUB_EVENT_NAME": "pull_request",
        "GITHUB_EVENT_PATH": str(work / "event.json"),
        "GITHUB_REPOSITORY": "bench/models",
        "GITHUB_OUTPUT": str(work / "output.txt"),
    }


def one_run(
    root: Path, work: Path, env: dict[str, str], models: int
) -> tuple[float, float, float, float]:
    """Runner seconds of (all models, the plan job, the one model job, the gather job)."""
    every = sum(
        job(root, work, env, "ci", "-c", f"models/m{i:02d}/mlgate.yaml", "--result", "r.json")
        for i in range(models)
    )
    plan = job(root, work, env, "ci", "--matrix")
    listed = json.loads((root / "mlgate-plan.json").read_text())["models"]
    touched = [m for m in listed if m["touched"]]
    assert [m["model"] for m in touched] == ["m00"], touched
    saved = "results/mlgate-result-m00/mlgate-result.json"
    one = job(root, work, env, "ci", "-c", touched[0]["config"], "--no-comment", "--result", saved)
    gathered = job(root, work, env, "ci", "--gather", "results")
    return every, plan, one, gathered


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", type=int, default=10)
    parser.add_argument("--rows", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--keep", action="store_true", help="keep the temporary repository")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="mlgate-bench-matrix-"))
    root = work / "repo"
    root.mkdir()
    try:
        base, head = build(root, args.models, args.rows)
        env = ci_env(work, base, head)
        runs = [one_run(root, work, env, args.models) for _ in range(args.runs)]
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    every, plan, one, gathered = (statistics.median(r[i] for r in runs) for i in range(4))
    matrix = plan + one + gathered
    print(
        f"{args.models} models, a pull request touching 1; {args.rows} rows each; "
        f"median of {args.runs} runs; runner seconds (sum of the jobs' wall times)"
    )
    print(f"| {'approach':<42} | {'jobs':>4} | {'runner s':>8} |")
    print(f"|{'-' * 44}|{'-' * 6}|{'-' * 10}|")
    print(f"| {'all models (one ci job per model)':<42} | {args.models:>4} | {every:>8.2f} |")
    print(f"| {'matrix plan (plan + 1 job + gather)':<42} | {3:>4} | {matrix:>8.2f} |")
    print(f"| {'  of which the plan job':<42} | {1:>4} | {plan:>8.2f} |")
    print(f"| {'  of which the model job':<42} | {1:>4} | {one:>8.2f} |")
    print(f"| {'  of which the gather job':<42} | {1:>4} | {gathered:>8.2f} |")
    ratio = matrix / every
    print(f"ratio matrix / all: {ratio:.3f} (target <= 0.2){'' if ratio <= 0.2 else '  MISSED'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
