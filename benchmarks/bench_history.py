"""How long `mlgate history` takes with thousands of promoted versions.

For each size (default 1,000 and 5,000 versions) it builds a repository in a temporary
directory with one ``git fast-import`` stream (the fixture of tests/commands/test_history.py: an
orphan ``production`` branch with one commit and one annotated tag per version), then times,
``--runs`` times each after one untimed warm-up run:

- ``git for-each-ref``: the one git call history makes, run bare: the baseline;
- ``list_versions``: that call plus parsing and validating every tag's JSON block;
- ``render markdown`` / ``render text``: the table (and chart) from the parsed versions.

Run it with the project's interpreter:
``.venv/bin/python benchmarks/bench_history.py [--runs N] [--sizes 1000 5000] [--keep]``.
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

from mlgate.commands import history
from mlgate.core import production
from mlgate.render.history import render

TESTS = Path(__file__).resolve().parents[1] / "tests"
sys.path[:0] = [str(TESTS / "commands"), str(TESTS)]  # test_history, and its conftest
from test_history import fast_import_versions  # noqa: E402  # the tests' fixture, so both build the same

MODEL = "churn"


def timed(action: Callable[[], object], runs: int) -> list[float]:
    """Wall times of ``runs`` calls after one untimed warm-up call."""
    action()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        action()
        times.append(time.perf_counter() - start)
    return times


def for_each_ref(root: Path) -> None:
    # The very command list_versions runs (same format, same pattern), output discarded.
    glob = production.tag_glob(production.DEFAULT_TAG, MODEL)
    subprocess.run(
        ["git", "for-each-ref", "--sort=version:refname", f"--format={history._FORMAT}", glob],
        cwd=root,
        check=True,
        capture_output=True,
    )


def build(root: Path, size: int) -> float:
    root.mkdir()
    subprocess.run(["git", "init", "-q", "-b", "main"], cwd=root, check=True)
    start = time.perf_counter()
    fast_import_versions(root, size, MODEL)
    return time.perf_counter() - start


def bench_size(tmp: Path, size: int, runs: int) -> list[tuple[str, list[float]]]:
    root = tmp / f"repo-{size}"
    seconds = build(root, size)
    print(f"built {size:,} versions with git fast-import in {seconds:.2f} s", file=sys.stderr)
    versions = history.list_versions(root, MODEL)
    assert len(versions) == size, f"expected {size} versions, read {len(versions)}"
    return [
        ("git for-each-ref", timed(lambda: for_each_ref(root), runs)),
        ("list_versions", timed(lambda: history.list_versions(root, MODEL), runs)),
        ("render markdown", timed(lambda: render(versions, MODEL, "markdown"), runs)),
        ("render text", timed(lambda: render(versions, MODEL, "text"), runs)),
    ]


def table(size: int, rows: Sequence[tuple[str, list[float]]]) -> str:
    baseline = statistics.median(rows[0][1])
    lines = [f"| {'versions':>8} | {'what':<16} | median s | min s  | / for-each-ref |"]
    lines.append(f"|{'-' * 9}:|{'-' * 18}|---------:|-------:|---------------:|")
    for name, times in rows:
        median = statistics.median(times)
        lines.append(
            f"| {size:>8,} | {name:<16} | {median:8.4f} | {min(times):6.4f} "
            f"| {median / baseline:14.2f} |"
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--runs", type=int, default=5, help="timed runs per row (default 5)")
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 5000])
    parser.add_argument("--keep", action="store_true", help="keep the temporary repositories")
    args = parser.parse_args(argv)
    tmp = Path(tempfile.mkdtemp(prefix="mlgate-bench-history-"))
    try:
        for size in args.sizes:
            print(table(size, bench_size(tmp, size, args.runs)) + "\n")
    finally:
        if args.keep:
            print(f"repositories kept in {tmp}", file=sys.stderr)
        else:
            shutil.rmtree(tmp)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
