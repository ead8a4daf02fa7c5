"""The stat cache, one-pass ``data add`` and the summary cache (issue 5, item 3).

Everything here runs on real files. Where a test needs a digest to be trusted right after
the file was written, it gives the cache a racy window of 0 (``fresh_ok``): the default
window of 2 s would otherwise make it wait, and the window itself is tested on its own.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import commit_all
from mlgate.commands.data import add, status
from mlgate.core.results import DataSummary
from mlgate.git import CommitFiles, WorkingFiles, open_repo
from mlgate.storage.datafiles import describe
from mlgate.storage.fetch import fetch
from mlgate.storage.hashing import HASH_CHUNK, sha256_file
from mlgate.storage.layout import cache_dir
from mlgate.storage.objects import Cache
from mlgate.storage.pointers import Pointer
from mlgate.storage.statcache import RACY_NS, StatCache, stat_of

CSV = b"age,plan,score,label\n31,basic,0.5,1\n45,pro,1.5,0\n22,basic,2.0,1\n"
CSV_SHA = hashlib.sha256(CSV).hexdigest()
SAME_SIZE = CSV.replace(b"basic,0.5", b"basic,0.7")  # other bytes, same length


def write(root: Path, rel: str, data: bytes) -> Path:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def quiet_since(path: Path) -> int:
    """A reading start time at which ``path`` has been unchanged for the racy window."""
    st = stat_of(path)
    return max(st.mtime_ns, st.ctime_ns) + RACY_NS + 1


def fresh_ok() -> Cache:
    """A cache whose stat cache trusts even a file written a moment ago."""
    return Cache(stats=StatCache(cache_dir() / "stat", racy_ns=0))


def bytes_read() -> int:
    """Bytes this process has read through read(2) so far (Linux's /proc/self/io)."""
    for line in Path("/proc/self/io").read_text().splitlines():
        if line.startswith("rchar:"):
            return int(line.split()[1])
    raise AssertionError("no rchar in /proc/self/io")


needs_proc_io = pytest.mark.skipif(
    not Path("/proc/self/io").exists(), reason="counts reads with Linux's /proc/self/io"
)


# --- hashing -----------------------------------------------------------------------------


@pytest.mark.parametrize("size", [0, 1, HASH_CHUNK, 3 * HASH_CHUNK + 7])
def test_sha256_file_matches_hashlib(tmp_path: Path, size: int) -> None:
    data = os.urandom(size)
    assert sha256_file(write(tmp_path, "f", data)) == hashlib.sha256(data).hexdigest()


# --- the rule: what is remembered --------------------------------------------------------


def test_a_quiet_file_is_remembered(tmp_path: Path) -> None:
    path = write(tmp_path, "a.csv", CSV)
    stats = StatCache(tmp_path / "stat")
    st = stat_of(path)
    stats.remember(path, st, st, CSV_SHA, started_ns=quiet_since(path))
    assert stats.lookup(path) == CSV_SHA
    assert (stats.hits, stats.misses) == (1, 0)
    # Another process (a new StatCache) finds it too.
    assert StatCache(tmp_path / "stat").lookup(path) == CSV_SHA


def test_a_file_changed_within_the_racy_window_is_not_remembered(tmp_path: Path) -> None:
    path = write(tmp_path, "a.csv", CSV)
    stats = StatCache(tmp_path / "stat")
    st = stat_of(path)
    stats.remember(path, st, st, CSV_SHA, started_ns=quiet_since(path) - 2)
    assert stats.lookup(path) is None
    # An old mtime does not help when the ctime is recent: os.utime just set it.
    os.utime(path, ns=(1_000_000_000, 1_000_000_000))
    st = stat_of(path)
    stats.remember(path, st, st, CSV_SHA, started_ns=time.time_ns())
    assert stats.lookup(path) is None


def test_a_file_changing_while_read_is_not_remembered(tmp_path: Path) -> None:
    path = write(tmp_path, "a.csv", CSV)
    stats = StatCache(tmp_path / "stat")
    before = stat_of(path)
    after = before._replace(size=before.size + 1)
    stats.remember(path, before, after, CSV_SHA, started_ns=quiet_since(path))
    assert stats.lookup(path) is None


@pytest.mark.parametrize("field", ["size", "mtime_ns", "ctime_ns", "inode", "device"])
def test_any_stat_field_that_differs_is_a_miss(tmp_path: Path, field: str) -> None:
    path = write(tmp_path, "a.csv", CSV)
    stats = StatCache(tmp_path / "stat")
    st = stat_of(path)
    other = st._replace(**{field: getattr(st, field) + 1})
    stats.remember(path, other, other, CSV_SHA, started_ns=quiet_since(path) + 10)
    assert stats.lookup(path) is None


def test_with_the_real_clock_a_fresh_file_is_hashed_every_time(tmp_path: Path) -> None:
    path = write(tmp_path, "a.csv", CSV)
    stats = StatCache(tmp_path / "stat")
    reads: list[Path] = []

    def read(p: Path) -> str:
        reads.append(p)
        return sha256_file(p)

    assert stats.digest(path, read) == CSV_SHA
    # Rewritten within the same second, same size, its mtime put back: still seen.
    mtime = stat_of(path).mtime_ns
    path.write_bytes(SAME_SIZE)
    os.utime(path, ns=(mtime, mtime))
    assert stats.digest(path, read) == hashlib.sha256(SAME_SIZE).hexdigest()
    assert len(reads) == 2
    assert (stats.hits, stats.misses) == (0, 2)


def test_a_changed_entry_is_replaced(tmp_path: Path) -> None:
    path = write(tmp_path, "a.csv", CSV)
    stats = StatCache(tmp_path / "stat", racy_ns=0)
    assert stats.digest(path, sha256_file) == CSV_SHA
    path.write_bytes(CSV + b"1,pro,1.0,1\n")
    new = stats.digest(path, sha256_file)
    assert new == hashlib.sha256(CSV + b"1,pro,1.0,1\n").hexdigest()
    assert stats.lookup(path) == new
    assert len(list((tmp_path / "stat").iterdir())) == 1  # one entry per path


def test_a_damaged_entry_is_a_miss(tmp_path: Path) -> None:
    path = write(tmp_path, "a.csv", CSV)
    stats = StatCache(tmp_path / "stat", racy_ns=0)
    stats.digest(path, sha256_file)
    [entry] = (tmp_path / "stat").iterdir()
    for damage in (b"", b"{not json", b"[]", json.dumps({"path": str(path)}).encode()):
        entry.write_bytes(damage)
        assert stats.lookup(path) is None
    assert stats.digest(path, sha256_file) == CSV_SHA  # and it heals


def test_a_read_only_cache_still_hashes(tmp_path: Path) -> None:
    path = write(tmp_path, "a.csv", CSV)
    (tmp_path / "stat").write_text("a file where the directory should be")
    stats = StatCache(tmp_path / "stat", racy_ns=0)
    assert stats.digest(path, sha256_file) == CSV_SHA


def test_two_processes_at_once_never_see_a_torn_entry(tmp_path: Path) -> None:
    paths = [write(tmp_path, f"d/{i}.csv", CSV * (i + 1)) for i in range(4)]
    # Each process rewrites every entry 100 times and reads it back each time. An entry
    # exists from the first write on, so a reader that caught a half-written file would
    # get a miss, and the assert in the child would fail.
    code = """
import sys, time
from pathlib import Path
from mlgate.storage.statcache import StatCache, stat_of
from mlgate.storage.hashing import sha256_file
stats = StatCache(Path(sys.argv[1]), racy_ns=0)
paths = [Path(p) for p in sys.argv[2:]]
sums = {p: sha256_file(p) for p in paths}
for _ in range(100):
    for p in paths:
        st = stat_of(p)
        stats.remember(p, st, st, sums[p], started_ns=time.time_ns())
        assert stats.lookup(p) == sums[p], p
print(stats.hits, stats.misses)
"""
    argv = [sys.executable, "-c", code, str(tmp_path / "stat"), *map(str, paths)]
    procs = [subprocess.Popen(argv, stdout=subprocess.PIPE, text=True) for _ in range(2)]
    outs = [p.communicate()[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0]
    assert outs == ["400 0\n", "400 0\n"]
    entries = sorted(p.name for p in (tmp_path / "stat").iterdir())
    assert len(entries) == 4
    assert all(name.endswith(".json") for name in entries)  # no temp file left behind


# --- data status, add and fetch use it ---------------------------------------------------


def test_status_of_an_unchanged_file_does_not_rehash(repo: Path) -> None:
    write(repo, "data/train.csv", CSV)
    add(repo, ["data/train.csv"], url=None, storage=None, cache=fresh_ok())
    cache = fresh_ok()
    assert [e.data for e in status(repo, cache=cache, storage=None)] == ["ok"]
    assert [e.data for e in status(repo, cache=cache, storage=None)] == ["ok"]
    # add hashed the file; neither status read it again.
    assert (cache.stats.hits, cache.stats.misses) == (2, 0)


def test_status_sees_a_same_size_rewrite_with_its_mtime_put_back(repo: Path) -> None:
    path = write(repo, "data/train.csv", CSV)
    add(repo, ["data/train.csv"], url=None, storage=None, cache=Cache())
    mtime = stat_of(path).mtime_ns
    path.write_bytes(SAME_SIZE)
    os.utime(path, ns=(mtime, mtime))
    assert [e.data for e in status(repo, cache=Cache(), storage=None)] == ["modified"]


@needs_proc_io
def test_add_reads_the_file_once_and_an_unchanged_file_not_at_all(repo: Path) -> None:
    data = os.urandom(8 * HASH_CHUNK)
    write(repo, "data/blob.bin", data)  # not tabular: the summary reads nothing
    cache = fresh_ok()
    start = bytes_read()
    [(_, ptr)] = add(repo, ["data/blob.bin"], url=None, storage=None, cache=cache)
    once = bytes_read() - start
    assert ptr == Pointer(hashlib.sha256(data).hexdigest(), len(data))
    assert cache.path_for(ptr.sha256).read_bytes() == data
    assert len(data) <= once < 1.5 * len(data)  # hashing and copying share one read
    start = bytes_read()
    add(repo, ["data/blob.bin"], url=None, storage=None, cache=cache)
    assert bytes_read() - start < len(data) / 8


def test_add_stores_the_object_again_when_the_cache_lost_it(repo: Path) -> None:
    write(repo, "data/train.csv", CSV)
    cache = fresh_ok()
    add(repo, ["data/train.csv"], url=None, storage=None, cache=cache)
    cache.path_for(CSV_SHA).unlink()
    add(repo, ["data/train.csv"], url=None, storage=None, cache=cache)
    assert cache.path_for(CSV_SHA).read_bytes() == CSV
    assert [p.name for p in cache.objects.iterdir()] == ["sha256"]  # no temp file left


def test_fetch_remembers_the_working_tree_copy(tmp_path: Path) -> None:
    local = write(tmp_path, "train.csv", CSV)
    cache = fresh_ok()
    ptr = Pointer(CSV_SHA, len(CSV))
    assert fetch(ptr, name="p", cache=cache, storage=None, local=local).read_bytes() == CSV
    assert cache.stats.lookup(local) == CSV_SHA


def test_fetch_skips_a_working_tree_file_known_to_differ(tmp_path: Path) -> None:
    local = write(tmp_path, "train.csv", SAME_SIZE)
    cache = fresh_ok()
    cache.sha256_of(local)  # remembered: other bytes
    ptr = Pointer(CSV_SHA, len(CSV))
    with pytest.raises(Exception, match=r"working tree .*train\.csv \(modified\)"):
        fetch(ptr, name="p", cache=cache, storage=None, local=local)
    assert (cache.stats.hits, cache.stats.misses) == (1, 1)


# --- the summary cache -------------------------------------------------------------------

DESCRIBE_IN_A_SUBPROCESS = """
import json, sys
from mlgate.storage.datafiles import describe
from mlgate.git import CommitFiles, WorkingFiles, open_repo
handle = open_repo(sys.argv[1])
files = WorkingFiles(handle) if sys.argv[2] == "worktree" else CommitFiles(handle, sys.argv[2])
summary = describe(files, "data/train.csv")
print(json.dumps({"summary": summary.to_dict(), "pandas": "pandas" in sys.modules}))
"""


def describe_elsewhere(repo: Path, side: str) -> dict[str, object]:
    out = subprocess.run(
        [sys.executable, "-c", DESCRIBE_IN_A_SUBPROCESS, str(repo), side],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    result: dict[str, object] = json.loads(out)
    return result


def test_describing_known_bytes_again_does_not_import_pandas(repo: Path) -> None:
    write(repo, "data/train.csv", CSV)
    sha = commit_all(repo, "csv in git")
    handle = open_repo(repo)
    at_commit = describe(CommitFiles(handle, sha), "data/train.csv")
    in_tree = describe(WorkingFiles(handle), "data/train.csv")
    assert at_commit is not None and in_tree is not None
    assert (at_commit.rows, at_commit.source, in_tree.source) == (3, "git", "worktree")
    assert describe_elsewhere(repo, sha) == {"summary": at_commit.to_dict(), "pandas": False}
    assert describe_elsewhere(repo, "worktree") == {"summary": in_tree.to_dict(), "pandas": False}


def test_a_summary_of_other_bytes_or_another_format_is_not_reused(repo: Path) -> None:
    text = b"a\tb\n1\t2\n"
    write(repo, "x.csv", text)
    write(repo, "x.tsv", text)
    files = WorkingFiles(open_repo(repo))
    as_csv, as_tsv = describe(files, "x.csv"), describe(files, "x.tsv")
    assert as_csv is not None and as_tsv is not None
    assert as_tsv.columns == {"a": "int64", "b": "int64"}
    assert list(as_csv.columns or {}) == ["a\tb"]  # one column: "1\t2" is its text
    assert describe(files, "x.csv") == as_csv


def test_a_damaged_or_outdated_summary_is_computed_again(repo: Path) -> None:
    write(repo, "data/train.csv", CSV)
    files = WorkingFiles(open_repo(repo))
    first = describe(files, "data/train.csv")
    record_path = cache_dir() / "summaries" / f"{CSV_SHA}.json"
    record = json.loads(record_path.read_text())
    assert record["key"]["format"] == "csv"
    record["key"]["pandas"] = "0.1"
    record["rows"] = 99  # what an older pandas said, say: not to be trusted now
    record_path.write_text(json.dumps(record))
    assert describe(files, "data/train.csv") == first
    record_path.write_text("{")
    assert describe(files, "data/train.csv") == first


def test_add_fills_the_summary_cache(repo: Path) -> None:
    write(repo, "data/train.csv", CSV)
    [(_, ptr)] = add(repo, ["data/train.csv"], url=None, storage=None, cache=Cache())
    (repo / "data/train.csv.ptr").unlink()  # describe the file itself, not the pointer
    assert describe_elsewhere(repo, "worktree") == {
        "summary": DataSummary(
            "data/train.csv", CSV_SHA, len(CSV), 3, ptr.columns, "worktree"
        ).to_dict(),
        "pandas": False,
    }


# --- reading CSV: one engine, whatever is installed ----------------------------------------


def test_read_frame_types_do_not_depend_on_pyarrow(tmp_path: Path) -> None:
    """Each column here reads differently with engine="pyarrow" (see data._read_csv)."""
    import pandas as pd

    from mlgate.storage.formats import read_frame

    text = (
        b"when,at,code,big,n\n"
        b"2024-01-02 10:00:00,10:00:00,0x10,18446744073709551615,1\n"
        b"2024-01-03 11:00:00,11:00:00,0x11,1,2\n"
    )
    frame = read_frame(write(tmp_path, "blob", text), "data/t.csv")
    default = pd.read_csv(write(tmp_path, "t.csv", text))
    pd.testing.assert_frame_equal(frame, default, check_exact=True)
    assert str(frame.dtypes["big"]) == "uint64"
    assert frame["code"].tolist() == ["0x10", "0x11"]
