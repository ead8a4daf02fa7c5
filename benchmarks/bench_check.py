"""How long `mlgate check` takes, against training the same two models by hand.

Builds the tumor-classifier demo repository at its ``new-data`` state (examples/demo.py),
then times, ``--runs`` times each after one untimed warm-up run:

- ``python -c pass``: interpreter start-up, the baseline;
- ``mlgate --version``: mlgate's own start-up;
- a plain script: read the CSVs and fit and score both models (base params on data v1,
  head params on data v2) with scikit-learn directly, one after the other, in one process;
- ``mlgate check --no-cache`` (cold): base and head from git, data from the (warm) data
  cache, both models fitted and scored, the gate applied, the report rendered;
- ``mlgate check`` (warm): the same with nothing changed, both sides from the run cache.

Two scenarios: the demo's small logistic regression (fits take ~0.1 s, so fixed start-up
costs dominate) and random forests of 300 and 400 trees on the same data (fits take
seconds, as real models do; mlgate fits base and head in parallel processes).

Run it with the project's interpreter: ``make bench``, or
``.venv/bin/python benchmarks/bench_check.py [--runs N] [--keep]``.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "examples"))
import demo as demo_mod  # examples/demo.py: the repository set-up

PLAIN_SCRIPT = '''\
"""Train and score the base and head models with scikit-learn directly."""
import json
import sys

import pandas as pd
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import get_scorer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

TARGET = "diagnosis"
METRICS = ("accuracy", "f1_macro", "roc_auc")


def make(kind, value):
    if kind == "forest":
        return RandomForestClassifier(n_estimators=value, random_state=0)
    return Pipeline(
        [("scale", StandardScaler()), ("classify", LogisticRegression(C=value, max_iter=500))]
    )


def fit_and_score(data_dir, kind, value):
    train = pd.read_csv(f"{data_dir}/train.csv")
    test = pd.read_csv(f"{data_dir}/test.csv")
    model = make(kind, value)
    model.fit(train.drop(columns=TARGET), train[TARGET])
    x, y = test.drop(columns=TARGET), test[TARGET]
    return {name: float(get_scorer(name)(model, x, y)) for name in METRICS}


v1, v2, kind = sys.argv[1:4]
base, head = (300, 400) if kind == "forest" else (1.0, 0.5)
print(json.dumps({"base": fit_and_score(v1, kind, base), "head": fit_and_score(v2, kind, head)}))
'''


FOREST = "sklearn.ensemble.RandomForestClassifier"


def build(workdir: Path) -> tuple[demo_mod.Demo, list[str]]:
    """The demo repository on ``new-data``, plus the plain script's command line."""
    demo = demo_mod.setup_base(workdir, verbose=False)
    # Measure what users see: Python caches compiled modules (some CI images turn it off).
    demo.env.pop("PYTHONDONTWRITEBYTECODE", None)
    demo_mod.make_new_data_branch(demo)
    for release in ("v1", "v2"):
        out = str(workdir / "plain" / release)
        demo_mod.run(demo, sys.executable, "prepare_data.py", "--release", release, "--out", out)
    script = workdir / "plain_train.py"
    script.write_text(PLAIN_SCRIPT)
    plain = [sys.executable, str(script), *(str(workdir / "plain" / r) for r in ("v1", "v2"))]
    _forest_branches(demo)
    return demo, plain


def _use_forest(demo: demo_mod.Demo, trees: int) -> None:
    path = demo.repo / "mlgate.yaml"
    text = re.sub(r"estimator: \S+", f"estimator: {FOREST}", path.read_text(), count=1)
    text = re.sub(r"params: \{[^}]*\}", f"params: {{n_estimators: {trees}, random_state: 0}}", text)
    path.write_text(text)


def _forest_branches(demo: demo_mod.Demo) -> None:
    """``forest-base`` (main's data, 300 trees) and ``forest-head`` (data v2, 400 trees)."""
    demo_mod.git(demo, "switch", "-q", "-c", "forest-base", "main")
    demo_mod.run(demo, *demo_mod.MLGATE, "data", "pull")
    _use_forest(demo, 300)
    demo_mod.commit(demo, "Random forest, 300 trees")
    demo_mod.git(demo, "switch", "-q", "-c", "forest-head", "forest-base")
    demo_mod.git(demo, "checkout", "new-data", "--", "data/train.csv.ptr")
    demo_mod.run(demo, *demo_mod.MLGATE, "data", "pull")
    _use_forest(demo, 400)
    demo_mod.commit(demo, "Random forest, 400 trees, data v2")
    demo_mod.git(demo, "switch", "-q", "new-data")
    demo_mod.run(demo, *demo_mod.MLGATE, "data", "pull")


SMALL_PLAIN = "plain script, logreg (2 fits, serial)"
SMALL_CHECK = "mlgate check --no-cache, logreg (cold)"
SMALL_WARM = "mlgate check, logreg (warm: nothing changed)"
FOREST_PLAIN = "plain script, forests (2 fits, serial)"
FOREST_CHECK = "mlgate check --no-cache, forests (cold)"


def time_runs(cmd: Sequence[str], demo: demo_mod.Demo, runs: int) -> list[float]:
    """Wall times of ``runs`` runs, after one untimed warm-up (page cache, .pyc files)."""
    times = []
    for i in range(runs + 1):
        start = time.perf_counter()
        proc = subprocess.run(cmd, cwd=demo.repo, env=demo.env, capture_output=True, text=True)
        elapsed = time.perf_counter() - start
        if proc.returncode != 0:
            raise SystemExit(f"{' '.join(cmd)} exited {proc.returncode}: {proc.stderr.strip()}")
        if i:
            times.append(elapsed)
    return times


def same_metrics(demo: demo_mod.Demo, check: Sequence[str], plain: Sequence[str]) -> bool:
    """Both ways must train the same models: compare mlgate's JSON with the script's."""
    report = json.loads(demo_mod.run(demo, *check, "--format", "json").stdout)
    mine = json.loads(demo_mod.run(demo, *plain).stdout)
    return all(
        abs(report[side]["metrics"][name] - value) < 1e-12
        for side in ("base", "head")
        for name, value in mine[side].items()
    )


def table(results: dict[str, list[float]]) -> str:
    baseline = statistics.median(results["python -c pass"])
    lines = [f"{'':40} {'median s':>9} {'min s':>8} {'x baseline':>11}"]
    for name, times in results.items():
        median = statistics.median(times)
        lines.append(f"{name:40} {median:9.3f} {min(times):8.3f} {median / baseline:11.1f}")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="timed runs per command (default 5)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary repository")
    args = parser.parse_args(argv)
    workdir = Path(tempfile.mkdtemp(prefix="mlgate-bench-")).resolve()
    try:
        print(f"building the tumor-classifier repo at new-data in {workdir} ...", flush=True)
        demo, plain = build(workdir)
        small = [*demo_mod.MLGATE, "check", "--no-cache"]
        forest = [
            *demo_mod.MLGATE,
            *("check", "--no-cache", "--base", "forest-base", "--head", "forest-head"),
        ]
        agree = same_metrics(demo, small, [*plain, "logreg"]) and same_metrics(
            demo, forest, [*plain, "forest"]
        )
        print(f"metrics of mlgate check and the plain script agree: {agree}")
        commands = {
            "python -c pass": [sys.executable, "-c", "pass"],
            "mlgate --version": [*demo_mod.MLGATE, "--version"],
            SMALL_PLAIN: [*plain, "logreg"],
            SMALL_CHECK: small,
            SMALL_WARM: [*demo_mod.MLGATE, "check"],
            FOREST_PLAIN: [*plain, "forest"],
            FOREST_CHECK: forest,
        }
        results = {}
        for name, cmd in commands.items():
            print(f"timing {name} ({args.runs} runs) ...", flush=True)
            results[name] = time_runs(cmd, demo, args.runs)
    except demo_mod.DemoError as e:
        print(f"bench: set-up failed: {e}", file=sys.stderr)
        return 1
    finally:
        if args.keep:
            print(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    import sklearn

    print(
        f"\nPython {sys.version.split()[0]}, scikit-learn {sklearn.__version__}, "
        f"{os.cpu_count()} CPUs, {args.runs} runs each\n"
    )
    print(table(results))
    print()
    for label, check, plain_name in (
        ("logistic regression", SMALL_CHECK, SMALL_PLAIN),
        ("random forests", FOREST_CHECK, FOREST_PLAIN),
    ):
        ratio = statistics.median(results[check]) / statistics.median(results[plain_name])
        verdict = "met" if ratio <= 1.10 else "NOT MET"
        print(
            f"cold mlgate check / plain script, {label} (median): {ratio:.2f}x "
            f"(target <= 1.10: {verdict})"
        )
    warm = statistics.median(results[SMALL_WARM])
    ratio = warm / statistics.median(results[SMALL_CHECK])
    print(
        f"warm mlgate check, logreg (median): {warm:.3f} s "
        f"(target <= 0.30 s: {'met' if warm <= 0.3 else 'NOT MET'}); "
        f"warm / cold: {ratio:.2f}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
