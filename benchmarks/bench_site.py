"""How long `mlgate site` takes with 1,000 production versions and 5,000 evaluated commits.

It builds a repository in a temporary directory by git plumbing (the tests' fixtures in
tests/sites.py and tests/commands/test_history.py: one ``git fast-import`` for 5,000
commits on ``main`` with a run-record note each, one for the production branch with an
annotated tag per version, every 10th a rollback), then times, ``--runs`` times each
after one untimed warm-up:

- ``git baseline``: the git calls a build cannot avoid, run bare (``for-each-ref`` of the
  tags, ``log --first-parent`` of main, ``notes list``): the baseline;
- ``history``: ``list_versions`` (what ``mlgate history`` reads), for scale;
- ``site, full build``: ``mlgate site --force``'s work in-process: read everything, render
  every page and chart, write a new directory and swap it in (target: under 2 s);
- ``site, nothing changed``: a build whose inputs' key matches the stamp (near-instant);
- ``mlgate site`` (process): the same no-change build as a user runs it, start-up included.

Run it with the project's interpreter:
``.venv/bin/python benchmarks/bench_site.py [--runs N] [--versions N] [--commits N] [--keep]``.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from mlgate.commands import history, site

TESTS = Path(__file__).resolve().parents[1] / "tests"
sys.path[:0] = [str(TESTS / "commands"), str(TESTS)]  # the tests' fixtures, and their conftest
from bench_history import timed  # noqa: E402  # one way to time, in every benchmark
from test_history import fast_import_versions  # noqa: E402

from sites import fast_import_commits  # noqa: E402  # the tests' fixture, so both build the same

MODEL = "churn"


def git_baseline(root: Path) -> None:
    for args in (
        ["for-each-ref", "refs/tags/"],
        ["log", "--first-parent", "--format=%H%x00%cI%x00%s", "main"],
        ["notes", "--ref=refs/notes/mlgate", "list"],
    ):
        subprocess.run(["git", *args], cwd=root, check=True, capture_output=True)


def full_build(root: Path) -> None:
    built = site.build(root, "site", force=True)
    assert built.rebuilt


def no_change(root: Path) -> None:
    assert not site.build(root, "site").rebuilt


def cli_no_change(root: Path) -> None:
    mlgate = Path(sys.executable).parent / "mlgate"
    subprocess.run([str(mlgate), "site"], cwd=root, check=True, capture_output=True)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--runs", type=int, default=5, help="timed runs per row (default 5)")
    parser.add_argument("--versions", type=int, default=1000)
    parser.add_argument("--commits", type=int, default=5000)
    parser.add_argument("--keep", action="store_true", help="keep the temporary repository")
    args = parser.parse_args(argv)
    tmp = Path(tempfile.mkdtemp(prefix="mlgate-bench-site-"))
    root = tmp / "repo"
    root.mkdir()
    try:
        subprocess.run(["git", "init", "-q", "-b", "main"], cwd=root, check=True)
        start = time.perf_counter()
        fast_import_commits(root, args.commits, MODEL)
        fast_import_versions(root, args.versions, MODEL)
        print(
            f"built {args.versions:,} versions and {args.commits:,} noted commits with git "
            f"fast-import in {time.perf_counter() - start:.2f} s",
            file=sys.stderr,
        )
        rows = [
            ("git baseline", timed(lambda: git_baseline(root), args.runs)),
            ("history", timed(lambda: history.list_versions(root, MODEL), args.runs)),
            ("site, full build", timed(lambda: full_build(root), args.runs)),
            ("site, nothing changed", timed(lambda: no_change(root), args.runs)),
            ("mlgate site (process)", timed(lambda: cli_no_change(root), args.runs)),
        ]
        built = site.build(root, "site")
        assert (built.versions, built.evaluated) == (args.versions, args.commits)
        print(table(args.versions, args.commits, rows))
        print(f"\n{built.pages:,} files in the site")
    finally:
        if args.keep:
            print(f"repository kept in {tmp}", file=sys.stderr)
        else:
            shutil.rmtree(tmp)
    return 0


def table(versions: int, commits: int, rows: Sequence[tuple[str, list[float]]]) -> str:
    baseline = statistics.median(rows[0][1])
    lines = [
        f"{versions:,} versions, {commits:,} evaluated commits",
        "",
        f"| {'what':<22} | median s | min s  | / git baseline |",
        f"|{'-' * 24}|---------:|-------:|---------------:|",
    ]
    for name, times in rows:
        median = statistics.median(times)
        lines.append(
            f"| {name:<22} | {median:8.4f} | {min(times):6.4f} | {median / baseline:14.2f} |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
