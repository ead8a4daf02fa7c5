"""How fast ``mlgate data push`` / ``pull`` move a large file through S3 (issue 17, item 4).

Starts moto's S3 server on 127.0.0.1 (tests/fakes/s3.py, in its own process), writes a
file of random bytes (default 1 GiB) to a temporary directory, deleted at the end, and
times each row ``--runs`` times (median; default 3), every run into a fresh bucket. The
rows of a group take turns, one run each per round, each round starting with the next
row, so the load moto puts on the shared cores falls on every row alike:

- push: obstore's own ``put`` of the file (its default multipart settings), the
  reference; ``mlgate data push`` (in-process ``commands.data.push``: the bytes read once,
  hashed while they upload as a multipart upload completed only if the sha256 matches);
- pull: obstore's own ``get`` streamed into a file, the reference; mlgate's fetch into a
  fresh cache (streamed into a temp file, hashed on the way, verified before rename), what
  a check does; ``mlgate data pull`` from a fresh cache (the same stream into the working
  tree file, flushed to disk, and noted as a copy the cache takes when a check needs it);
- many files (``--files`` of ``--file-kib``, default 64 of 256 KiB): ``data push`` and
  ``data pull`` one file at a time (``--jobs 1``, the reference) against 8 at once;
- with ``--s3fs`` (fsspec + s3fs installed): ``S3FileSystem.put_file`` / ``get_file``, the
  alternative library, for the comparison.

The server is moto, a Python program: it, not the client, bounds these figures, so the
ratio says whether mlgate's hashing slows a transfer down (target: >= 0.9 of the library's
throughput), not what a real S3 or MinIO would do.

Run: ``.venv/bin/python benchmarks/bench_s3.py [--size-mib N] [--runs N] [--s3fs]``.
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
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from fakes.s3 import S3Server, moto_server  # the same server the tests start

CHUNK = 1 << 20
# obstore's own settings but mlgate's request timeout: moto takes longer than obstore's
# default 30 s to complete a 1 GiB multipart upload, and a retried complete then fails.
LIBRARY = {"allow_http": True, "timeout": "300s"}


class Row(NamedTuple):
    group: str  # rows of a group are compared with its first row
    name: str
    seconds: float  # median


def _write_random(path: Path, size: int) -> None:
    with path.open("wb") as f:
        left = size
        while left:
            n = min(CHUNK * 16, left)
            f.write(os.urandom(n))
            left -= n


def _time(runs: int, setup: Callable[[], Any], fn: Callable[[Any], None]) -> float:
    times = []
    for _ in range(runs):
        state = setup()
        start = time.perf_counter()
        fn(state)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


Case = tuple[str, Callable[[], Any], Callable[[Any], None]]  # name, setup, timed


def _rounds(runs: int, group: str, cases: list[Case]) -> list[Row]:
    """Each case's median over ``runs`` rounds; a round times every case once, starting
    with a different one each time, so the machine's load drifting (moto shares the cores)
    falls on all of them alike instead of on whichever ran last."""
    times: list[list[float]] = [[] for _ in cases]
    for r in range(runs):
        for i in [(r + k) % len(cases) for k in range(len(cases))]:
            _, setup, fn = cases[i]
            times[i].append(_time(1, setup, fn))
    return [
        Row(group, name, statistics.median(t)) for (name, _, _), t in zip(cases, times, strict=True)
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size-mib", type=int, default=1024)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--s3fs", action="store_true", help="also time fsspec + s3fs")
    parser.add_argument("--files", type=int, default=64, help="files of the many-files rows")
    parser.add_argument("--file-kib", type=int, default=256)
    args = parser.parse_args()
    size = args.size_mib << 20
    tmp = Path(tempfile.mkdtemp(prefix="mlgate-bench-s3-"))
    try:
        with moto_server() as s3:
            os.environ.update(s3.environ())
            rows = _bench(s3, tmp, size, args.runs, with_s3fs=args.s3fs)
            many = _many(s3, tmp / "many", args.files, args.file_kib << 10, args.runs)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    _print(rows, size)
    if many:
        print()
        total = args.files * (args.file_kib << 10)
        _print(many, total, f"{args.files} files of {args.file_kib} KiB")


def _many(s3: S3Server, tmp: Path, count: int, size: int, runs: int) -> list[Row]:
    """``data push`` / ``pull`` of many small files: one at a time (``--jobs 1``, the
    reference) against the default (8 at once), each into a fresh bucket or cache."""
    from mlgate.commands import data
    from mlgate.storage.objects import Cache
    from mlgate.storage.pointers import Pointer, pointer_path

    if count < 1:
        return []
    repo = tmp / "repo"
    (repo / "data").mkdir(parents=True)
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    writer = Cache(tmp / "writer-cache")
    files = []
    for i in range(count):
        rel = f"data/part-{i:04d}.bin"
        payload = os.urandom(size)
        (repo / rel).write_bytes(payload)
        digest, _ = writer.add_file(repo / rel)
        (repo / pointer_path(rel)).write_text(Pointer(digest, size).dump())
        files.append(rel)
    client = s3.client()

    def bucket() -> str:
        name = f"many-{uuid.uuid4().hex[:10]}"
        client.create_bucket(Bucket=name)
        return name

    def filled() -> tuple[str, Cache]:
        name = bucket()
        data.push(repo, None, cache=writer, storage=f"s3://{name}")
        for rel in files:
            (repo / rel).unlink(missing_ok=True)
        return name, Cache(tmp / f"cache-{uuid.uuid4().hex[:6]}")

    def push(name: str, jobs: int | None) -> None:
        data.push(repo, None, cache=writer, storage=f"s3://{name}", jobs=jobs)

    def pull(state: tuple[str, Cache], jobs: int | None) -> None:
        data.pull(repo, None, cache=state[1], storage=f"s3://{state[0]}", jobs=jobs)

    rows = []
    for group, setup, move in (("push", bucket, push), ("pull", filled, pull)):
        cases: list[Case] = [
            (f"mlgate data {group}, {label}", setup, lambda st, j=jobs, m=move: m(st, j))
            for jobs, label in ((1, "one at a time (--jobs 1)"), (None, "8 at once (the default)"))
        ]
        rows += _rounds(runs, group, cases)
    return rows


def _bench(s3: S3Server, tmp: Path, size: int, runs: int, *, with_s3fs: bool) -> list[Row]:
    import obstore
    from obstore.store import S3Store

    from mlgate.commands import data
    from mlgate.storage.hashing import sha256_file
    from mlgate.storage.objects import Cache, object_relpath
    from mlgate.storage.pointers import Pointer, pointer_path

    client = s3.client()
    repo = tmp / "repo"
    (repo / "data").mkdir(parents=True)
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    src = repo / "data" / "big.bin"
    _write_random(src, size)
    digest = sha256_file(src)  # also puts the file in the page cache for every row
    (repo / pointer_path("data/big.bin")).write_text(Pointer(digest, size).dump())
    key = object_relpath(digest)
    writer = Cache(tmp / "writer-cache")
    writer.put_file(src, digest)
    used: list[str] = []

    def bucket() -> str:
        for old in used:  # free the server's memory of the last run
            for obj in client.list_objects_v2(Bucket=old).get("Contents", []):
                client.delete_object(Bucket=old, Key=obj["Key"])
            client.delete_bucket(Bucket=old)
        used.clear()
        name = f"bench-{uuid.uuid4().hex[:10]}"
        client.create_bucket(Bucket=name)
        used.append(name)
        return name

    def filled() -> str:
        name = bucket()
        obstore.put(S3Store(name, client_options=LIBRARY), key, src)
        return name

    def fresh_cache() -> tuple[str, Cache]:
        name = filled()
        cache_dir = tmp / f"cache-{uuid.uuid4().hex[:6]}"
        return name, Cache(cache_dir)

    def pull_setup() -> tuple[str, Cache]:
        name, cache = fresh_cache()
        src.unlink(missing_ok=True)
        return name, cache

    out = tmp / "out.bin"

    def lib_get(name: str) -> None:
        got = obstore.get(S3Store(name, client_options=LIBRARY), key)
        with out.open("wb") as f:
            for chunk in got.stream(min_chunk_size=CHUNK):
                f.write(chunk)
            f.flush()
            os.fsync(f.fileno())

    def lib_put(name: str) -> None:
        obstore.put(S3Store(name, client_options=LIBRARY), key, src)

    def fetch(state: tuple[str, Cache]) -> None:
        from mlgate.storage.fetch import fetch as fetch_object

        name, cache = state
        ptr = Pointer(digest, size)
        fetch_object(ptr, name="bench", cache=cache, storage=f"s3://{name}", local=None)

    def push(n: str) -> None:
        data.push(repo, None, cache=writer, storage=f"s3://{n}")

    def pull(state: tuple[str, Cache]) -> None:
        data.pull(repo, None, cache=state[1], storage=f"s3://{state[0]}")

    rows = _rounds(
        runs,
        "push",
        [
            ("obstore put (library's own)", bucket, lib_put),
            ("mlgate data push", bucket, push),
        ],
    )
    rows += _rounds(
        runs,
        "pull",
        [
            ("obstore get (library's own)", filled, lib_get),
            ("mlgate fetch into a fresh cache", fresh_cache, fetch),
            ("mlgate data pull (fresh cache)", pull_setup, pull),
        ],
    )
    assert sha256_file(src) == digest
    if with_s3fs:
        rows += _s3fs_rows(s3, runs, bucket, filled, src, key, out)
    order = {"push": 0, "pull": 1}  # each group's library row first: its reference
    return sorted(rows, key=lambda r: order[r.group])


def _s3fs_rows(
    s3: S3Server,
    runs: int,
    bucket: Callable[[], str],
    filled: Callable[[], str],
    src: Path,
    key: str,
    out: Path,
) -> list[Row]:
    import s3fs

    fs = s3fs.S3FileSystem(endpoint_url=s3.url, config_kwargs={"read_timeout": 300})
    rows = []
    for group, name, setup, fn in (
        ("push", "s3fs put_file", bucket, lambda n: fs.put_file(str(src), f"{n}/{key}")),
        ("pull", "s3fs get_file", filled, lambda n: fs.get_file(f"{n}/{key}", str(out))),
    ):
        try:
            rows.append(Row(group, name, _time(runs, setup, fn)))
        except Exception as e:  # moto has refused s3fs's large multipart completes
            print(f"{name}: failed: {type(e).__name__}: {str(e)[:120]}", file=sys.stderr)
    return rows


def _print(rows: list[Row], size: int, what: str = "") -> None:
    what = what or f"{size / 2**20:.0f} MiB"
    print(f"{what} through moto's S3 server on 127.0.0.1 (median seconds)")
    print(f"{'':6} {'':44} {'seconds':>8} {'MB/s':>8} {'ratio':>6}")
    reference: dict[str, float] = {}
    for row in rows:
        reference.setdefault(row.group, row.seconds)
        ratio = reference[row.group] / row.seconds  # throughput relative to the library's
        mbs = size / row.seconds / 1e6
        print(f"{row.group:6} {row.name:44} {row.seconds:8.2f} {mbs:8.1f} {ratio:6.2f}")


if __name__ == "__main__":
    main()
