"""Noise-aware comparison: does the gate tell training randomness from a real regression,
and what does the paired bootstrap cost?

1. **The unseeded forest** (issue 12): a repository whose model is a RandomForestClassifier
   without random_state (mlgate trains it with random_state 0 on both sides, as repeat 0;
   before it did, every fit differed: 1 of 10 comment-only runs failed the gate). A
   comment-only change to its model code, checked ``--runs`` times with ``mlgate check
   --no-cache``: how many runs fail the gate, and how many would have failed on the point
   comparison alone (``confidence: off``'s rule); then a real regression (``max_depth``
   8 → 1), checked as often: how many fail.
2. **The cost on a million test rows**: the same kind of repository with 1,000,000 test rows,
   ``mlgate check --no-cache`` with ``gate.confidence: off`` (no predictions kept, no
   bootstrap: the baseline) against the default (0.95), median of ``--cost-runs`` runs
   each; plus the bootstrap alone, in this process, on the two saved prediction files.

Run it with the project's interpreter: ``.venv/bin/python benchmarks/bench_noise.py
[--runs N] [--cost-runs N] [--skip-cost] [--keep] [--repeats N]``. With ``--repeats 3``
the forest has ``model.repeats: 3``: each side's mean over seeds 0, 1, 2 (the same on
both sides of a comment-only change), the gate on Welch's interval widened by the
bootstrap's.
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
from typing import Any

MODEL_CODE = '''\
"""The model: a random forest without random_state, so every fit is a little different."""
from sklearn.ensemble import RandomForestClassifier


def make(max_depth=8, n_estimators=100):
    return RandomForestClassifier(n_estimators=n_estimators, max_depth=max_depth)
'''

CONFIG = """\
version: 1
model:
  name: forest
  task: classification
  estimator: forest.model:make
  params: {{max_depth: 8, n_estimators: {trees}}}
  repeats: {repeats}
data: {{train: data/train.csv, test: data/test.csv, target: label}}
metrics: [accuracy, f1_macro, roc_auc]
gate:
  confidence: {confidence}
  accuracy: {{max_regression: 0.01}}
  f1_macro: {{max_regression: 0.01}}
"""


def _git(repo: Path, *args: str) -> str:
    env = {**os.environ, "GIT_AUTHOR_NAME": "bench", "GIT_AUTHOR_EMAIL": "bench@example.org"}
    env |= {"GIT_COMMITTER_NAME": "bench", "GIT_COMMITTER_EMAIL": "bench@example.org"}
    done = subprocess.run(["git", *args], cwd=repo, env=env, capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(f"git {' '.join(args)} failed: {done.stderr}")
    return done.stdout.strip()


def build(
    repo: Path, *, train: int, test: int, trees: int, confidence: str = "0.95", repeats: int = 1
) -> None:
    """main: the forest at max_depth 8; data from make_classification (seeded)."""
    import pandas as pd
    from sklearn.datasets import make_classification

    x, y = make_classification(
        n_samples=train + test, n_features=20, n_informative=6, flip_y=0.1, random_state=0
    )
    frame = pd.DataFrame(x, columns=[f"f{i}" for i in range(20)]).round(5)
    frame["label"] = y
    (repo / "data").mkdir(parents=True)
    (repo / "forest").mkdir()
    frame.iloc[:train].to_csv(repo / "data" / "train.csv", index=False)
    frame.iloc[train:].to_csv(repo / "data" / "test.csv", index=False)
    (repo / "forest" / "__init__.py").write_text("")
    (repo / "forest" / "model.py").write_text(MODEL_CODE)
    (repo / "mlgate.yaml").write_text(
        CONFIG.format(trees=trees, confidence=confidence, repeats=repeats)
    )
    _git(repo, "init", "-q", "-b", "main")
    _git(repo, "add", "-A")
    _git(repo, "commit", "-q", "-m", "an unseeded forest")


def check(repo: Path, cache: Path) -> tuple[int, dict[str, Any], float]:
    env = {**os.environ, "MLGATE_CACHE_DIR": str(cache)}
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "mlgate", "check", "--no-cache", "--format", "json"],
        cwd=repo,
        env=env,
        capture_output=True,
        text=True,
    )
    seconds = time.perf_counter() - start
    if done.returncode not in (0, 1):
        raise SystemExit(f"mlgate check failed: {done.stderr}")
    return done.returncode, json.loads(done.stdout), seconds


def _change(row: dict[str, Any]) -> str:
    interval = row.get("interval")
    if not interval:
        return f"{row['delta']:+.4f}"
    return f"{row['delta']:+.4f} ± {(interval['high'] - interval['low']) / 2:.3f}"


def proof(work: Path, runs: int, repeats: int) -> None:
    repo, cache = work / "forest", work / "cache"
    repo.mkdir()
    build(repo, train=1500, test=500, trees=100, repeats=repeats)
    _git(repo, "checkout", "-q", "-b", "comment")
    model = repo / "forest" / "model.py"
    model.write_text(model.read_text() + "# a comment, nothing else\n")
    _git(repo, "commit", "-q", "-am", "a comment")
    print(f"\n1. The unseeded forest: 1,500 train rows, 500 test rows, {runs} runs each")
    print("   gate: accuracy and f1_macro {max_regression: 0.01}, confidence 0.95", end="")
    print(f"; model.repeats: {repeats}\n" if repeats > 1 else "\n")
    header = f"{'change':<16} {'run':>3}  {'base acc':>8}  {'head acc':>8}  {'Δ accuracy':>16}"
    header += f"  {'noise':<13} {'point rule':<10} {'gate':<4}"
    print(header)
    print("-" * len(header))
    summary = []
    for label, edit in (("comment only", None), ("max_depth 8→1", "max_depth: 1")):
        if edit:
            _git(repo, "checkout", "-q", "-b", "stump", "main")
            cfg = repo / "mlgate.yaml"
            cfg.write_text(cfg.read_text().replace("max_depth: 8", edit))
            _git(repo, "commit", "-q", "-am", "max_depth 8 -> 1")
        fails = point_fails = within = 0
        for run in range(1, runs + 1):
            code, report, _ = check(repo, cache)
            rows = {r["name"]: r for r in report["metrics"]}
            acc = rows["accuracy"]
            point = any(r["delta"] < -0.01 - 1e-9 for r in rows.values())
            fails += code == 1
            point_fails += point
            within += all(r["noise"] == "within noise" for r in rows.values() if r["noise"])
            print(
                f"{label:<16} {run:>3}  {acc['base']:>8.4f}  {acc['head']:>8.4f}  "
                f"{_change(acc):>16}  {acc['noise'] or '—':<13} {'FAIL' if point else 'pass':<10} "
                f"{'FAIL' if code else 'pass':<4}"
            )
        summary.append((label, fails, point_fails, within))
    print()
    for label, fails, point_fails, within in summary:
        print(
            f"{label}: {fails}/{runs} gate failures (point comparison: {point_fails}/{runs}); "
            f"{within}/{runs} runs with every change within noise"
        )


def cost(work: Path, runs: int) -> None:
    print("\n2. The cost on 1,000,000 test rows (20,000 train rows, a 20-tree forest)\n")
    timings: dict[str, list[float]] = {"off": [], "0.95": []}
    repos = {}
    for confidence in timings:
        repo, cache = work / f"million-{confidence}", work / f"cache-{confidence}"
        repo.mkdir()
        build(repo, train=20_000, test=1_000_000, trees=20, confidence=confidence)
        check(repo, cache)  # untimed: the data cache and the OS page cache warm up
        repos[confidence] = (repo, cache)
    for _ in range(runs):  # interleaved, so a busy moment of the machine hits both alike
        for confidence, (repo, cache) in repos.items():
            timings[confidence].append(check(repo, cache)[2])
    # Base and head have the same inputs here: one cache entry, its file paired with itself.
    kept = sorted((repos["0.95"][1] / "runs" / "by-inputs").rglob("predictions.npz"))
    off, on = (statistics.median(timings[c]) for c in ("off", "0.95"))
    alone = _bootstrap_alone(kept)

    def row(label: str, seconds: float) -> None:
        print(f"{label:<56} {seconds:>9.2f} {seconds / off:>13.3f}")

    print(f"{'what':<56} {'median s':>9} {'× cold check':>13}")
    print("-" * 80)
    row("cold check, confidence: off (the baseline)", off)
    row("cold check, confidence: 0.95", on)
    row("  the difference: the bootstrap (read, hash, resample)", on - off)
    if alone is not None:
        row("the bootstrap alone, in-process (1000 resamples)", alone)
    shown = {c: " ".join(f"{t:.2f}" for t in ts) for c, ts in timings.items()}
    print("\nall runs (s): " + "; ".join(f"confidence {c}: {t}" for c, t in shown.items()))


def _bootstrap_alone(files: list[Path] | None) -> float | None:
    """run.noise's computation on the two stored prediction files, timed in this process
    (numpy and the module already imported, as a check's parent would have them)."""
    if not files:
        return None
    files = [files[0], files[-1]]
    from mlgate.core import bootstrap  # noqa: F401  (imported before the clock starts)
    from mlgate.run.noise import Kept, _compute

    pair = (Kept(str(files[0])), Kept(str(files[1])))
    import hashlib

    shas = [hashlib.sha256(Path(f).read_bytes()).hexdigest() for f in files[:2]]
    levels = {"accuracy": 0.95, "f1_macro": 0.95, "roc_auc": 0.95}
    point = dict.fromkeys(levels, 0.0)  # a check hands in the scorers' changes: no full pass
    start = time.perf_counter()
    _compute(pair, shas, levels, 1000, point)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--cost-runs", type=int, default=3)
    parser.add_argument("--skip-cost", action="store_true")
    parser.add_argument("--skip-proof", action="store_true")
    parser.add_argument("--keep", action="store_true")
    parser.add_argument("--repeats", type=int, default=1, help="model.repeats of the forest")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="mlgate-bench-noise-"))
    try:
        if not args.skip_proof:
            proof(work, args.runs, args.repeats)
        if not args.skip_cost:
            cost(work, args.cost_runs)
    finally:
        if args.keep:
            print(f"\nkept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
