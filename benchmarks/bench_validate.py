"""How long `mlgate validate` takes on the bundled example, cold and warm.

Builds the tumor-classifier demo repository at its ``main`` state (examples/demo.py
``setup_base``: own model code, data by pointers, a ``file://`` store), then times, ``--runs``
times each:

- ``python -c pass``: interpreter start-up, the baseline;
- ``python -c "import pandas, sklearn.linear_model"`` (then ``os._exit``, skipping the
  interpreter's teardown as mlgate's children do): what the child that imports the
  estimator pays before it does anything, the floor of a deep validate;
- ``mlgate validate`` (cold): with an empty mlgate cache each run (no remembered config,
  schema verdict, stat cache or summaries);
- ``mlgate validate`` (warm): again with the cache the previous run left.

Run it with the project's interpreter:
``.venv/bin/python benchmarks/bench_validate.py [--runs N] [--keep]``.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "examples"))
import demo as demo_mod  # examples/demo.py: the repository set-up

# The child's floor: its imports, then an exit without interpreter teardown, as it exits.
IMPORTS = "import os, pandas, sklearn.linear_model; os._exit(0)"


def timed(cmd: Sequence[str], demo: demo_mod.Demo, before: Callable[[], None]) -> float:
    before()
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=demo.repo, env=demo.env, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} exited {proc.returncode}: {proc.stderr.strip()}")
    return seconds


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="timed runs per row (default 5)")
    parser.add_argument("--keep", action="store_true", help="keep the demo repository")
    args = parser.parse_args(argv)
    workdir = Path(tempfile.mkdtemp(prefix="mlgate-bench-validate-"))
    try:
        demo = demo_mod.setup_base(workdir, verbose=False)
        cache = Path(demo.env["MLGATE_CACHE_DIR"])

        def empty_cache() -> None:
            shutil.rmtree(cache, ignore_errors=True)

        def nothing() -> None:
            pass

        py = sys.executable
        rows = [
            ("python -c pass", [py, "-c", "pass"], nothing),
            ("import pandas, sklearn", [py, "-c", IMPORTS], nothing),
            ("mlgate validate (cold)", [*demo_mod.MLGATE, "validate"], empty_cache),
            ("mlgate validate (warm)", [*demo_mod.MLGATE, "validate"], nothing),
        ]
        results = []
        for label, cmd, before in rows:
            timed(cmd, demo, nothing)  # untimed warm-up: the OS's file cache, .pyc files
            times = [timed(cmd, demo, before) for _ in range(args.runs)]
            results.append((label, statistics.median(times), min(times)))
        baseline, imports = results[0][1], results[1][1]
        print(f"{'row':<26}{'median s':>10}{'min s':>9}{'x pass':>9}{'x imports':>11}")
        for label, median, least in results:
            print(
                f"{label:<26}{median:>10.3f}{least:>9.3f}{median / baseline:>9.1f}"
                f"{median / imports:>11.2f}"
            )
    finally:
        if args.keep:
            print(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
