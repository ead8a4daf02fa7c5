"""Training workers forked from one server (run.forkserver) against one process per worker.

Each worker used to import scikit-learn, pandas, scipy and skops itself (~2.5 s of CPU
here) before reading a byte of data. With the fork server one process per mlgate run
imports them and forks each worker. This times, in the repository of
``benchmarks/bench_matrix.py`` (``--models`` random-forest models, a branch changing the
first), with a fresh cache each time:

- ``mlgate check`` of one model (two workers: base and head, started at once);
- ``mlgate check --all`` (every model: two workers each);

each with ``MLGATE_FORK_WORKERS=0`` (a process per worker, the baseline) and with the fork
server (the default). Wall and CPU seconds (mlgate and every process it started), medians
of ``--runs``; the ratio is the fork server's over the baseline's.

``.venv/bin/python benchmarks/bench_workers.py [--models N] [--rows N] [--runs N]``.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_matrix import build  # the same many-models repository


def run(root: Path, work: Path, fork: bool, *args: str) -> tuple[float, float]:
    """(wall, cpu) seconds of one ``mlgate`` run with a fresh cache."""
    cache = Path(tempfile.mkdtemp(dir=work, prefix="cache-"))
    keep = {k: v for k, v in os.environ.items() if not k.startswith(("GITHUB_", "MLGATE_"))}
    env = {**keep, "MLGATE_CACHE_DIR": str(cache), "MLGATE_FORK_WORKERS": "1" if fork else "0"}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "mlgate", *args], cwd=root, env=env, capture_output=True, text=True
    )
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode not in (0, 1):  # 1: a gate failed, still a full run
        raise SystemExit(f"mlgate {' '.join(args)} failed:\n{done.stdout}{done.stderr}")
    shutil.rmtree(cache, ignore_errors=True)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--models", type=int, default=5)
    parser.add_argument("--rows", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="mlgate-bench-workers-"))
    try:
        root = work / "repo"
        root.mkdir()
        base, head = build(root, args.models, args.rows)
        cases = {
            "check (1 model)": ["-C", "models/m00", "check", "--base", base, "--head", head],
            f"check --all ({args.models} models)": [
                "check",
                "--all",
                "--base",
                base,
                "--head",
                head,
            ],
        }
        print(f"{os.cpu_count()} cores; median of {args.runs} runs, fresh cache each")
        print(f"{'':28} {'workers':>18} {'wall s':>7} {'cpu s':>7} {'wall':>6} {'cpu':>6}")
        for name, argv in cases.items():
            medians = {}
            for fork in (False, True):
                runs = [run(root, work, fork, *argv) for _ in range(args.runs)]
                medians[fork] = (
                    statistics.median(r[0] for r in runs),
                    statistics.median(r[1] for r in runs),
                )
            for fork, label in ((False, "a process each"), (True, "fork server")):
                wall, cpu = medians[fork]
                ratio_w = wall / medians[False][0]
                ratio_c = cpu / medians[False][1]
                print(f"{name:28} {label:>18} {wall:7.2f} {cpu:7.2f} {ratio_w:6.2f} {ratio_c:6.2f}")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
