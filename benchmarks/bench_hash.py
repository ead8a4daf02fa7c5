"""How fast mlgate hashes and stores a large data file (issue 5, item 3).

Writes a file of random bytes (default 512 MiB) to a temporary directory, deleted at the
end, then times each row ``--runs`` times (median; default 3) after one untimed warm-up:

hashing (the file sits in the page cache after the warm-up, so this is hashing speed):
- ``mlgate sha256_file``: mlgate's one implementation (readinto a reused 1 MiB buffer);
- ``hashlib.file_digest`` (Python 3.11+) and a plain ``f.read(1 MiB)`` loop;
- ``sha256sum``: coreutils in a subprocess, the reference the ratios are relative to;

storing (what ``mlgate data add`` does with the bytes; each run starts from an empty cache),
once with the file in the page cache and once with it evicted first (``posix_fadvise``,
this file only: what a large data file that was not just written costs):
- ``mlgate data add``: ``mlgate.commands.data.add`` in-process: one read that both hashes and copies
  into the cache (synced to disk), then the pointer and .gitignore;
- ``copyfile, sha256 of the copy``: ``shutil.copyfile`` (an in-kernel copy) then a second
  pass that hashes the copy, the reference; the same with an fsync of the copy (which
  ``data add`` does, so a pointer never names bytes that did not reach the disk);
- ``old add``: what ``data add`` did before: hash the file, then copy it while re-hashing
  (two reads of the source);

and ``data status`` of the added file, first with an empty stat cache (one hash) and then
with a warm one (no read at all).

Run: ``.venv/bin/python benchmarks/bench_hash.py [--size-mib N] [--runs N]``.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path
from typing import NamedTuple

from mlgate.commands import data
from mlgate.storage.hashing import copy_hashing, sha256_file
from mlgate.storage.objects import Cache
from mlgate.storage.statcache import StatCache

CHUNK = 1 << 20


class Row(NamedTuple):
    group: str  # rows of a group are compared with its first row
    name: str
    seconds: float  # median


def _nothing() -> None:
    pass


def timed(action: Callable[[], object], runs: int, reset: Callable[[], object] = _nothing) -> float:
    """Median wall time of ``runs`` calls, each after ``reset``, after one warm-up call."""
    reset()
    action()
    times = []
    for _ in range(runs):
        reset()
        start = time.perf_counter()
        action()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def make_file(path: Path, size: int) -> None:
    with path.open("wb") as f:
        for _ in range(size // CHUNK):
            f.write(os.urandom(CHUNK))


def read_loop(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(CHUNK):
            h.update(chunk)
    return h.hexdigest()


def file_digest(path: Path) -> str:
    with path.open("rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()  # type: ignore[attr-defined,unused-ignore]


def sha256sum(path: Path) -> str:
    out = subprocess.run(["sha256sum", str(path)], capture_output=True, text=True, check=True)
    return out.stdout.split()[0]


def two_pass(src: Path, dest: Path, *, sync: bool) -> str:
    shutil.copyfile(src, dest)
    if sync:
        with dest.open("rb+") as f:
            os.fsync(f.fileno())
    return sha256_file(dest)


def old_add(src: Path, dest: Path) -> str:
    """What ``data add`` did before issue 5: hash ``src``, then copy it while re-hashing."""
    digest = sha256_file(src)
    if copy_hashing(src, dest) != digest:
        raise AssertionError(f"{src} changed")
    return digest


def git_repo(path: Path) -> None:
    path.mkdir()
    env = {**os.environ, "GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": os.devnull}
    subprocess.run(["git", "init", "-q", str(path)], check=True, env=env)


def rows(work: Path, big: Path, runs: int) -> list[Row]:
    return [*hash_rows(big, runs), *store_rows(work, big, runs)]


def hash_rows(big: Path, runs: int) -> list[Row]:
    hashers: list[tuple[str, Callable[[Path], str]]] = [
        ("sha256sum (coreutils)", sha256sum),
        ("mlgate sha256_file", sha256_file),
        ("f.read(1 MiB) loop", read_loop),
    ]
    if hasattr(hashlib, "file_digest"):
        hashers.append(("hashlib.file_digest", file_digest))
    expected = sha256_file(big)
    found = []
    for name, fn in hashers:
        assert fn(big) == expected, name
        found.append(Row("hash", name, timed(partial(fn, big), runs)))
    return found


def store_rows(work: Path, big: Path, runs: int) -> list[Row]:
    repo, cache_root, copy = work / "repo", work / "cache", work / "copy"
    git_repo(repo)
    big = Path(shutil.move(big, repo / "big.bin"))

    def empty_cache(evict_source: bool) -> None:
        shutil.rmtree(cache_root, ignore_errors=True)
        copy.unlink(missing_ok=True)
        if evict_source:
            evict(big)

    def add() -> None:
        data.add(repo, ["big.bin"], url=None, storage=None, cache=Cache(cache_root))

    found = []
    for group, cold in (("store", False), ("store, evicted", True)):
        if cold and not hasattr(os, "posix_fadvise"):
            continue
        reset = partial(empty_cache, cold)
        for name, action in (
            ("copyfile, sha256 of the copy", partial(two_pass, big, copy, sync=False)),
            ("  ... + fsync", partial(two_pass, big, copy, sync=True)),
            ("old add: sha256, copy+sha256", partial(old_add, big, copy)),
            ("mlgate data add (1 read, fsync)", add),
        ):
            found.append(Row(group, name, timed(action, runs, reset)))
    return [*found, *status_rows(work, repo, cache_root, runs)]


def status_rows(work: Path, repo: Path, cache_root: Path, runs: int) -> list[Row]:
    def status(stats_root: Path) -> None:
        # A racy window of 0: the file was written seconds ago, and waiting is not the point.
        cache = Cache(cache_root, stats=StatCache(stats_root, racy_ns=0))
        [entry] = data.status(repo, cache=cache, storage=None)
        assert entry.data == "ok"

    cold, warm = work / "stat-cold", work / "stat-warm"
    forget = partial(shutil.rmtree, cold, ignore_errors=True)
    return [
        Row("status", "data status, no stat entry", timed(partial(status, cold), runs, forget)),
        Row("status", "data status, stat cache hit", timed(partial(status, warm), runs)),
    ]


def evict(path: Path) -> None:
    """Drop ``path`` (only it) from the page cache, so the next read comes from the disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)  # only clean pages can be dropped
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)


REFERENCE = {
    "hash": "sha256sum",
    "store": "copyfile",
    "store, evicted": "copyfile",
    "status": "no stat entry",
}


def table(found: list[Row], size: int) -> str:
    """One line per row; the ratio is to the first row of its group."""
    lines = [f"{'':34} {'median':>9} {'MiB/s':>8} {'ratio':>7}"]
    refs: dict[str, float] = {}
    for row in found:
        if row.group not in refs:
            refs[row.group] = row.seconds
            lines.append(f"-- {row.group} (ratio to {REFERENCE[row.group]})")
        rate = size / (1 << 20) / row.seconds
        ratio = row.seconds / refs[row.group]
        lines.append(f"{row.name:34} {row.seconds:8.3f}s {rate:8.0f} {ratio:6.2f}x")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mib", type=int, default=512)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args(argv)
    size = args.size_mib << 20
    with tempfile.TemporaryDirectory(prefix="mlgate-bench-hash-") as tmp:
        work = Path(tmp)
        big = work / "big.bin"
        make_file(big, size)
        print(f"{args.size_mib} MiB of random bytes, median of {args.runs} runs", flush=True)
        print(table(rows(work, big, args.runs), size))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
