"""What mlgate's pre-push hook adds to a `git push`, cold and warm.

Builds the tumor-classifier demo repository (examples/demo.py: ``main`` with data v1 pushed
to a bare ``origin``, branch ``new-data`` with data v2 and C 0.5, whose gate passes),
installs the plain git hook (``mlgate init --git-hook``) and times, ``--runs`` times each,
a push of ``new-data`` to ``origin`` (the branch is deleted from ``origin`` again, untimed,
between runs):

- ``git push --no-verify``: the push without the hook, the baseline;
- ``git push`` (cold): the hook with an empty run cache (both sides trained);
- ``git push`` (warm): the hook again, the run cache the previous push left: a repeated
  push (after a blocked one, or the same commit to another remote) trains nothing;
- ``mlgate check --base main --head new-data`` (warm): the same check by hand, for scale.

Run it with the project's interpreter:
``.venv/bin/python benchmarks/bench_prepush.py [--runs N] [--keep]``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "examples"))
import demo as demo_mod  # examples/demo.py: the repository set-up
from bench_validate import timed  # one command's wall time in the demo repository


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="timed runs per row (default 5)")
    parser.add_argument("--keep", action="store_true", help="keep the demo repository")
    args = parser.parse_args(argv)
    workdir = Path(tempfile.mkdtemp(prefix="mlgate-bench-prepush-"))
    try:
        demo = demo_mod.setup_base(workdir, verbose=False)
        # The hook runs the `mlgate` on PATH: this interpreter's.
        demo.env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{demo.env['PATH']}"
        origin = workdir / "origin.git"
        demo_mod.git(demo, "init", "-q", "--bare", str(origin))
        demo_mod.git(demo, "remote", "add", "origin", str(origin))
        demo_mod.git(demo, "push", "-q", "origin", "main")
        demo_mod.git(demo, "remote", "set-head", "origin", "main")
        demo_mod.make_new_data_branch(demo)
        demo_mod.mlgate(demo, "init", "--git-hook")
        cache = Path(demo.env["MLGATE_CACHE_DIR"])
        runs = cache / "runs"

        def gone() -> None:  # new-data is not on origin: each push sends it
            demo_mod.run(
                demo, "git", "push", "-q", "--no-verify", "origin", ":new-data", check=False
            )

        def cold() -> None:
            gone()
            shutil.rmtree(runs, ignore_errors=True)  # results only: the data stays cached

        def nothing() -> None:
            pass

        push = ["git", "push", "-q", "origin", "new-data"]
        rows = [
            (
                "git push --no-verify",
                ["git", "push", "-q", "--no-verify", "origin", "new-data"],
                gone,
            ),
            ("git push, hook (cold)", push, cold),
            ("git push, hook (warm)", push, gone),
            (
                "mlgate check (warm)",
                [*demo_mod.MLGATE, "check", "--base", "main", "--head", "new-data"],
                nothing,
            ),
        ]
        results = []
        for label, cmd, before in rows:
            timed(cmd, demo, before)  # untimed warm-up: the OS's file cache, .pyc files
            times = [timed(cmd, demo, before) for _ in range(args.runs)]
            results.append((label, statistics.median(times), min(times)))
        baseline = results[0][1]
        print(f"{'row':<26}{'median s':>10}{'min s':>9}{'x push':>9}")
        for label, median, least in results:
            print(f"{label:<26}{median:>10.3f}{least:>9.3f}{median / baseline:>9.1f}")
    finally:
        if args.keep:
            print(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
