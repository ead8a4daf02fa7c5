"""What data drift costs a cold check, on 1M rows × 20 columns (issue 13: < 5%).

Builds a repository whose training data has 1,000,000 rows of 16 numeric and 4
categorical feature columns plus a binary label, and 100,000 test rows, both stored with
`mlgate data add` (pointers in git, bytes in the cache); the head shifts two features.
The model is a one-hot encoding and a logistic regression. Then, in the same run, it times
``--runs`` times each, alternating:

- ``mlgate check --no-cache`` with drift on (the default), the drift memo cleared first so
  that every run takes all the summaries (base's and head's training and test data) and
  computes every comparison, as a first check of new data does;
- the same with ``-c mlgate-nodrift.yaml`` (``drift: {enabled: false}``): the check
  without drift;

and prints the medians, the difference and its ratio to the check without drift. It also
times the two parts in this process: summarising one training frame (what each worker
adds) and comparing two summaries (what the parent adds).

``.venv/bin/python benchmarks/bench_drift.py [--runs N] [--rows N] [--keep]``
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

FACTORY = """\
from sklearn.compose import make_column_transformer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder

CATEGORIES = ["c0", "c1", "c2", "c3"]


def make():
    encode = make_column_transformer(
        (OneHotEncoder(handle_unknown="ignore"), CATEGORIES), remainder="passthrough"
    )
    return make_pipeline(encode, LogisticRegression(max_iter=50))
"""


def frame(rows: int, seed: int, shift: float = 0.0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    data = {f"x{i}": rng.normal(size=rows).round(4) for i in range(16)}
    data["x0"] = data["x0"] + shift
    data["x1"] = data["x1"] * (1 + shift)
    for i in range(4):
        data[f"c{i}"] = rng.choice([f"v{j}" for j in range(3 + 4 * i)], size=rows)
    score = data["x0"] - data["x2"] + (data["c0"] == "v1")
    data["label"] = (score + rng.normal(size=rows) > 0).astype(int)
    return pd.DataFrame(data)


def config(drift: bool) -> dict[str, object]:
    cfg: dict[str, object] = {
        "version": 1,
        "model": {"name": "big", "task": "classification", "estimator": "model:make"},
        "data": {"train": "data/train.csv", "test": "data/test.csv", "target": "label"},
        "metrics": ["accuracy"],
    }
    if not drift:
        cfg["drift"] = {"enabled": False}
    return cfg


def run(cmd: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)


def build(root: Path, rows: int) -> tuple[Path, dict[str, str]]:
    repo = root / "repo"
    repo.mkdir()
    env = dict(os.environ, MLGATE_CACHE_DIR=str(root / "cache"))
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    mlgate = [sys.executable, "-m", "mlgate"]

    def git(*args: str) -> None:
        subprocess.run(["git", *args], cwd=repo, env=env, check=True, capture_output=True)

    git("init", "-q", "-b", "main")
    git("config", "user.email", "bench@example.com")
    git("config", "user.name", "bench")
    (repo / "model.py").write_text(FACTORY)
    (repo / "mlgate.yaml").write_text(yaml.safe_dump(config(True), sort_keys=False))
    (repo / "mlgate-nodrift.yaml").write_text(yaml.safe_dump(config(False), sort_keys=False))
    (repo / "data").mkdir()
    for shift, branch in ((0.0, None), (0.3, "shift")):
        if branch:
            git("checkout", "-q", "-b", branch)
        frame(rows, 1 if not shift else 2, shift).to_csv(repo / "data/train.csv", index=False)
        frame(rows // 10, 3, shift).to_csv(repo / "data/test.csv", index=False)
        done = run([*mlgate, "data", "add", "data/train.csv", "data/test.csv"], repo, env)
        assert done.returncode == 0, done.stderr
        git("add", "-A")
        git("commit", "-q", "-m", "data" if not shift else "shift")
    return repo, env


def parts(rows: int) -> tuple[float, float]:
    """In this process, the work drift adds to a cold check's critical path, in seconds: a
    worker summarising its side's training and test frames (the two sides do this at once,
    in their own processes), and the parent loading the summaries and computing the three
    comparisons (base → head training and test data, head's training → test data)."""
    from mlgate.core import driftstats
    from mlgate.run.drift import _summary_bytes

    frames = {
        "base train": frame(rows, 1),
        "base test": frame(rows // 10, 3),
        "head train": frame(rows, 2, 0.3),
        "head test": frame(rows // 10, 4, 0.3),
    }
    columns = list(frames["base train"].columns)
    summaries, side = {}, 0.0
    for name, data in frames.items():
        start = time.perf_counter()
        summaries[name] = _summary_bytes(data, columns, "label", True)
        if name.startswith("head"):
            side += time.perf_counter() - start
    start = time.perf_counter()
    for ref, cur in (
        ("base train", "head train"),
        ("base test", "head test"),
        ("head train", "head test"),
    ):
        driftstats.compare(driftstats.from_npz(summaries[ref]), driftstats.from_npz(summaries[cur]))
    return side, time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="mlgate-bench-drift-"))
    try:
        print(f"building {args.rows:,} × 20 training rows (and {args.rows // 10:,} test rows)…")
        repo, env = build(root, args.rows)
        cache = Path(env["MLGATE_CACHE_DIR"])
        check = [sys.executable, "-m", "mlgate", "check", "--no-cache", "--format", "json"]
        times: dict[str, list[float]] = {"drift": [], "no drift": []}
        for _ in range(args.runs):
            for label, extra in (("drift", []), ("no drift", ["-c", "mlgate-nodrift.yaml"])):
                shutil.rmtree(cache / "meta" / "drift", ignore_errors=True)
                start = time.perf_counter()
                done = run([*check, *extra], repo, env)
                times[label].append(time.perf_counter() - start)
                assert done.returncode in (0, 1), done.stderr
                if label == "drift":
                    assert '"status": "computed"' in done.stdout, done.stdout[-2000:]
        side, compare = parts(args.rows)
        on, off = (statistics.median(times[k]) for k in ("drift", "no drift"))
        low_on, low_off = (min(times[k]) for k in ("drift", "no drift"))
        w = 52
        print(f"\n{'row':<{w}}{'median s':>10}{'min s':>10}")
        for label, values in times.items():
            name = f"mlgate check --no-cache ({label})"
            print(f"{name:<{w}}{statistics.median(values):>10.2f}{min(values):>10.2f}")
        print(f"{'difference (drift - no drift)':<{w}}{on - off:>10.2f}{low_on - low_off:>10.2f}")
        print(
            f"{'  as a share of the check without drift':<{w}}{(on - off) / off:>10.1%}"
            f"{(low_on - low_off) / low_off:>10.1%}"
        )
        print(f"{'a worker summarising train + test (in-process)':<{w}}{side:>10.3f}")
        print(f"{'the parent comparing three pairs (in-process)':<{w}}{compare:>10.3f}")
        share = (side + compare) / off
        print(f"{'  together, as a share of the median check':<{w}}{share:>10.1%}")
    finally:
        if args.keep:
            print(f"kept {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
