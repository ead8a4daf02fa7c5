from __future__ import annotations

import hashlib
import shutil
import sys
from pathlib import Path

import pytest

from conftest import commit_all, git
from fakes.httpserver import Route, serve
from mlgate.commands.data import StatusEntry, add, pull, push, status
from mlgate.core.results import DataSummary
from mlgate.errors import ConfigError, DataError, ExitCode, UsageError
from mlgate.git import CommitFiles, WorkingFiles, open_repo
from mlgate.storage.datafiles import describe, materialize
from mlgate.storage.formats import data_format, summarize_file
from mlgate.storage.hashing import sha256_file
from mlgate.storage.objects import Cache, object_relpath
from mlgate.storage.pointers import Pointer, parse

CSV = b"age,plan,score,label\n31,basic,0.5,1\n45,pro,1.5,0\n22,basic,2.0,1\n"
CSV_V2 = CSV + b"60,pro,0.1,0\n"
CSV_SHA = hashlib.sha256(CSV).hexdigest()


def str_dtype() -> str:
    """What pandas calls a text column: "object" before pandas 3, "str" from it on."""
    import pandas as pd

    return str(pd.Series(["a"]).dtype)


def columns() -> dict[str, str]:
    return {"age": "int64", "plan": str_dtype(), "score": "float64", "label": "int64"}


@pytest.fixture
def cache() -> Cache:
    return Cache()


def write(root: Path, rel: str, data: bytes) -> Path:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


# --- summaries ---------------------------------------------------------------------------


def test_summarize_csv(tmp_path: Path) -> None:
    path = write(tmp_path, "blob", CSV)  # no extension: the format comes from fmt_from
    assert summarize_file(path, fmt_from="data/train.csv") == (3, columns())


def test_summarize_empty_csv(tmp_path: Path) -> None:
    assert summarize_file(write(tmp_path, "e.csv", b""), fmt_from="e.csv") == (0, {})


def test_summarize_unreadable_csv_is_a_data_error(tmp_path: Path) -> None:
    path = write(tmp_path, "bad.csv", b"a,b\n1,2\n3,4,5,6\n")
    with pytest.raises(DataError) as e:
        summarize_file(path, fmt_from="data/bad.csv")
    assert str(e.value).startswith("cannot read data/bad.csv as ','-separated text: ")
    assert "\n" not in str(e.value)


def test_summarize_other_formats_is_unknown(tmp_path: Path) -> None:
    assert summarize_file(write(tmp_path, "x.bin", b"\0\1"), fmt_from="x.bin") == (None, None)


def test_data_format() -> None:
    assert data_format("a/b.csv") == "csv"
    assert data_format("a/b.CSV.gz") == "csv"
    assert data_format("b.tsv") == "tsv"
    assert data_format("b.parquet") == "parquet"
    assert data_format("b.parquet.gz") is None
    assert data_format("b.json") is None
    assert data_format("Makefile") is None


def test_parquet_round_trip(tmp_path: Path) -> None:
    import pandas as pd

    frame = pd.read_csv(write(tmp_path, "t.csv", CSV))
    frame.to_parquet(tmp_path / "t.parquet")
    blob = write(tmp_path, "blob", (tmp_path / "t.parquet").read_bytes())
    assert summarize_file(blob, fmt_from="data/t.parquet") == (3, columns())


def test_parquet_without_pyarrow(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # None in sys.modules makes the import fail, as if pyarrow were not installed.
    monkeypatch.setitem(sys.modules, "pyarrow", None)
    monkeypatch.setitem(sys.modules, "pyarrow.parquet", None)
    with pytest.raises(DataError) as e:
        summarize_file(write(tmp_path, "x", b"PAR1"), fmt_from="data/x.parquet")
    assert str(e.value) == "reading data/x.parquet needs pyarrow: pip install 'mlgate[parquet]'"


def test_corrupt_parquet_is_a_data_error(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"^cannot read data/x\.parquet as parquet: "):
        summarize_file(write(tmp_path, "x", b"not parquet"), fmt_from="data/x.parquet")


def test_sha256_file(tmp_path: Path) -> None:
    assert sha256_file(write(tmp_path, "a", CSV)) == CSV_SHA


# --- add ---------------------------------------------------------------------------------


def test_add_writes_pointer_cache_and_gitignore(repo: Path, cache: Cache) -> None:
    write(repo, "data/train.csv", CSV)
    write(repo, ".gitignore", b"__pycache__/")  # no final newline: kept, then extended
    [(rel, ptr)] = add(repo, ["data/train.csv"], url=None, storage=None, cache=cache)
    assert rel == "data/train.csv"
    assert ptr == Pointer(CSV_SHA, len(CSV), 3, columns())
    assert (repo / "data/train.csv.ptr").read_text() == (
        f"sha256: {CSV_SHA}\n"
        f"size: {len(CSV)}\n"
        "rows: 3\n"
        f"columns: {{age: int64, plan: {str_dtype()}, score: float64, label: int64}}\n"
    )
    assert cache.path_for(CSV_SHA).read_bytes() == CSV
    assert (repo / ".gitignore").read_text() == "__pycache__/\n/data/train.csv\n"
    assert git(repo, "status", "--porcelain", "--untracked-files=all") == (
        "?? .gitignore\n?? data/train.csv.ptr"
    )


def test_add_twice_ignores_once_and_keeps_the_url(repo: Path, cache: Cache) -> None:
    write(repo, "data/train.csv", CSV)
    add(repo, ["data/train.csv"], url="https://example.org/t.csv", storage=None, cache=cache)
    [(_, ptr)] = add(repo, ["./data//train.csv"], url=None, storage=None, cache=cache)
    assert ptr.url == "https://example.org/t.csv"  # same bytes: the old url still holds
    assert (repo / ".gitignore").read_text() == "/data/train.csv\n"
    write(repo, "data/train.csv", CSV_V2)
    [(_, ptr)] = add(repo, ["data/train.csv"], url=None, storage=None, cache=cache)
    assert ptr.url is None  # new bytes: the old url points at the old ones
    assert ptr.rows == 4


def test_add_escapes_glob_characters_in_gitignore(repo: Path, cache: Cache) -> None:
    write(repo, "data/[v1]*.csv", CSV)
    add(repo, ["data/[v1]*.csv"], url=None, storage=None, cache=cache)
    assert (repo / ".gitignore").read_text() == "/data/\\[v1]\\*.csv\n"
    assert git(repo, "check-ignore", "data/[v1]*.csv") == "data/[v1]*.csv"


def test_add_pushes_to_file_storage(repo: Path, cache: Cache, tmp_path: Path) -> None:
    write(repo, "data/train.csv", CSV)
    storage = (tmp_path / "store").as_uri()
    add(repo, ["data/train.csv"], url=None, storage=storage, cache=cache)
    assert (tmp_path / "store" / object_relpath(CSV_SHA)).read_bytes() == CSV


@pytest.mark.parametrize("path", ["../x.csv", "data/../../x.csv", "/etc/passwd"])
def test_add_refuses_paths_outside_the_repo(repo: Path, cache: Cache, path: str) -> None:
    with pytest.raises(ConfigError) as e:
        add(repo, [path], url=None, storage=None, cache=cache)
    assert str(e.value) == (
        f"path {path!r} is outside the repository; use a path relative to the repo root"
    )
    assert e.value.exit_code == ExitCode.USAGE
    assert not (repo / ".gitignore").exists()


def test_add_refuses_a_symlink_out_of_the_repo(repo: Path, cache: Cache, tmp_path: Path) -> None:
    write(tmp_path, "outside/x.csv", CSV)
    (repo / "data").symlink_to(tmp_path / "outside")
    with pytest.raises(ConfigError, match=r"'data/x\.csv' leads outside the repository"):
        add(repo, ["data/x.csv"], url=None, storage=None, cache=cache)


def test_add_accepts_an_absolute_path_inside_the_repo(repo: Path, cache: Cache) -> None:
    path = write(repo, "data/train.csv", CSV)
    [(rel, _)] = add(repo, [str(path)], url=None, storage=None, cache=cache)
    assert rel == "data/train.csv"


def test_add_missing_file_is_a_data_error(repo: Path, cache: Cache) -> None:
    with pytest.raises(DataError) as e:
        add(repo, ["data/nope.csv"], url=None, storage=None, cache=cache)
    assert str(e.value) == f"cannot add data/nope.csv: {repo / 'data/nope.csv'} does not exist"
    assert e.value.exit_code == ExitCode.FAILURE


def test_add_refuses_a_pointer_and_url_for_many(repo: Path, cache: Cache) -> None:
    with pytest.raises(ConfigError, match=r"add the data file data/x\.csv instead"):
        add(repo, ["data/x.csv.ptr"], url=None, storage=None, cache=cache)
    with pytest.raises(UsageError):
        add(repo, ["a.csv", "b.csv"], url="https://x/y", storage=None, cache=cache)


def test_add_with_unsupported_storage_writes_nothing(repo: Path, cache: Cache) -> None:
    write(repo, "data/train.csv", CSV)
    with pytest.raises(ConfigError, match="unsupported storage URL"):
        add(repo, ["data/train.csv"], url=None, storage="ftp://host/p", cache=cache)
    assert not (repo / "data/train.csv.ptr").exists()


# --- describe and materialize ------------------------------------------------------------


def history(repo: Path, cache: Cache, storage: str | None = None) -> tuple[str, str]:
    """Commit 1 tracks the CSV in git; commit 2 replaces it with a pointer to new bytes."""
    write(repo, "data/train.csv", CSV)
    first = commit_all(repo, "csv in git")
    write(repo, "data/train.csv", CSV_V2)
    git(repo, "rm", "-q", "--cached", "data/train.csv")
    add(repo, ["data/train.csv"], url=None, storage=storage, cache=cache)
    second = commit_all(repo, "csv behind a pointer")
    return first, second


def test_describe_at_a_commit_and_in_the_working_tree(repo: Path, cache: Cache) -> None:
    first, second = history(repo, cache)
    handle = open_repo(repo)
    v2 = hashlib.sha256(CSV_V2).hexdigest()
    assert describe(CommitFiles(handle, first), "data/train.csv") == DataSummary(
        "data/train.csv", CSV_SHA, len(CSV), 3, columns(), source="git"
    )
    pointer = DataSummary("data/train.csv", v2, len(CSV_V2), 4, columns(), source="pointer")
    assert describe(CommitFiles(handle, second), "data/train.csv") == pointer
    assert describe(WorkingFiles(handle), "data/train.csv") == pointer
    assert describe(CommitFiles(handle, first), "data/test.csv") is None


def test_describe_an_untracked_working_tree_file(repo: Path) -> None:
    write(repo, "data/test.csv", CSV)
    summary = describe(WorkingFiles(open_repo(repo)), "data/test.csv")
    assert summary == DataSummary("data/test.csv", CSV_SHA, len(CSV), 3, columns(), "worktree")
    assert describe(WorkingFiles(open_repo(repo)), "data/none.csv") is None


def test_describe_a_bad_pointer_names_the_commit(repo: Path) -> None:
    write(repo, "data/train.csv.ptr", b"sha256: nope\nsize: 1\n")
    sha = commit_all(repo, "bad pointer")
    with pytest.raises(ConfigError) as e:
        describe(CommitFiles(open_repo(repo), sha), "data/train.csv")
    assert str(e.value) == (
        f"data/train.csv.ptr@{sha[:7]}: sha256: expected 64 lowercase hex digits, got 'nope'"
    )


def test_materialize_a_git_tracked_csv_at_an_older_commit(repo: Path, cache: Cache) -> None:
    write(repo, "data/train.csv", CSV)
    first = commit_all(repo, "v1")
    write(repo, "data/train.csv", CSV_V2)
    second = commit_all(repo, "v2")
    handle = open_repo(repo)
    old = materialize(CommitFiles(handle, first), "data/train.csv", cache=cache, storage=None)
    new = materialize(CommitFiles(handle, second), "data/train.csv", cache=cache, storage=None)
    assert old.read_bytes() == CSV
    assert new.read_bytes() == CSV_V2
    assert old == cache.path_for(CSV_SHA)


def test_materialize_working_tree_copies_into_the_cache(repo: Path, cache: Cache) -> None:
    write(repo, "data/train.csv", CSV)
    path = materialize(WorkingFiles(open_repo(repo)), "data/train.csv", cache=cache, storage=None)
    assert path == cache.path_for(CSV_SHA)
    assert path.read_bytes() == CSV


def test_materialize_a_pointer_from_storage(repo: Path, tmp_path: Path) -> None:
    storage = (tmp_path / "store").as_uri()
    _, second = history(repo, Cache(tmp_path / "other-cache"), storage=storage)
    (repo / "data/train.csv").unlink()
    cache = Cache()
    files = CommitFiles(open_repo(repo), second)
    path = materialize(files, "data/train.csv", cache=cache, storage=storage)
    assert path.read_bytes() == CSV_V2


def test_materialize_a_pointer_uses_the_matching_working_file(repo: Path, cache: Cache) -> None:
    history(repo, Cache(repo.parent / "adding-cache"))
    files = WorkingFiles(open_repo(repo))
    path = materialize(files, "data/train.csv", cache=cache, storage=None)
    assert path.read_bytes() == CSV_V2


def test_materialize_a_pointer_nowhere_to_be_found(repo: Path, cache: Cache) -> None:
    _, second = history(repo, Cache(repo.parent / "adding-cache"))
    files = CommitFiles(open_repo(repo), second)
    with pytest.raises(DataError) as e:
        materialize(files, "data/train.csv", cache=cache, storage=None)
    v2 = hashlib.sha256(CSV_V2).hexdigest()
    assert str(e.value) == (
        f"data object for data/train.csv.ptr@{second[:7]} (sha256 {v2[:12]}…) not found; "
        f"looked in cache {cache.path_for(v2)} (absent), storage (none configured)"
    )


def test_materialize_absent_names_path_and_side(repo: Path, cache: Cache) -> None:
    write(repo, "README", b"x")
    commit_all(repo, "no data")
    with pytest.raises(DataError) as e:
        materialize(CommitFiles(open_repo(repo), "HEAD"), "data/x.csv", cache=cache, storage=None)
    assert str(e.value) == (
        "data file data/x.csv not found at HEAD: neither data/x.csv nor data/x.csv.ptr exists"
    )


# --- status, pull, push ------------------------------------------------------------------


def test_status_pull_push_round_trip(repo: Path, cache: Cache, tmp_path: Path) -> None:
    storage = (tmp_path / "store").as_uri()
    write(repo, "data/train.csv", CSV)
    write(repo, "data/test.csv", CSV_V2)
    add(repo, ["data/train.csv", "data/test.csv"], url=None, storage=None, cache=cache)
    v2 = hashlib.sha256(CSV_V2).hexdigest()
    assert status(repo, cache=cache, storage=storage) == [
        StatusEntry("data/test.csv", "data/test.csv.ptr", v2, len(CSV_V2), "ok", True, "no"),
        StatusEntry("data/train.csv", "data/train.csv.ptr", CSV_SHA, len(CSV), "ok", True, "no"),
    ]
    assert push(repo, None, cache=cache, storage=storage) == ["data/test.csv", "data/train.csv"]
    assert push(repo, None, cache=cache, storage=storage) == []

    # A fresh clone: pointers only, an empty cache; pull brings the bytes from storage.
    commit_all(repo, "pointers")
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(repo), str(clone))
    fresh = Cache(tmp_path / "fresh-cache")
    assert [e.data for e in status(clone, cache=fresh, storage=storage)] == ["missing"] * 2
    assert pull(clone, ["data/train.csv.ptr"], cache=fresh, storage=storage) == ["data/train.csv"]
    assert (clone / "data/train.csv").read_bytes() == CSV
    assert pull(clone, None, cache=fresh, storage=storage) == ["data/test.csv"]
    assert pull(clone, None, cache=fresh, storage=storage) == []
    assert [e.data for e in status(clone, cache=fresh, storage=None)] == ["ok", "ok"]
    assert [e.in_storage for e in status(clone, cache=fresh, storage=None)] == ["unknown"] * 2


def test_status_reports_modified_and_not_cached(repo: Path, cache: Cache) -> None:
    write(repo, "data/train.csv", CSV)
    add(repo, ["data/train.csv"], url=None, storage=None, cache=cache)
    write(repo, "data/train.csv", CSV_V2)
    [entry] = status(repo, cache=Cache(repo.parent / "empty"), storage=None)
    assert (entry.data, entry.in_cache, entry.in_storage) == ("modified", False, "unknown")


def test_status_with_unreachable_http_storage_is_unknown(repo: Path, cache: Cache) -> None:
    write(repo, "data/train.csv", CSV)
    add(repo, ["data/train.csv"], url=None, storage=None, cache=cache)
    with serve({f"/s/{object_relpath(CSV_SHA)}": Route(status=500)}) as server:
        [entry] = status(repo, cache=cache, storage=server.url + "/s")
    assert entry.in_storage == "unknown"


def test_pull_updates_a_file_whose_old_bytes_are_cached(repo: Path, cache: Cache) -> None:
    write(repo, "data/train.csv", CSV)
    add(repo, ["data/train.csv"], url=None, storage=None, cache=cache)
    old_ptr = (repo / "data/train.csv.ptr").read_bytes()
    write(repo, "data/train.csv", CSV_V2)
    add(repo, ["data/train.csv"], url=None, storage=None, cache=cache)
    # As after `git checkout` of the old pointer: the file holds v2, the pointer says v1.
    write(repo, "data/train.csv.ptr", old_ptr)
    assert pull(repo, None, cache=cache, storage=None) == ["data/train.csv"]
    assert (repo / "data/train.csv").read_bytes() == CSV


def test_pull_never_overwrites_unrecorded_edits(repo: Path, cache: Cache) -> None:
    write(repo, "data/train.csv", CSV)
    add(repo, ["data/train.csv"], url=None, storage=None, cache=cache)
    write(repo, "data/train.csv", b"my edits\n")
    with pytest.raises(DataError) as e:
        pull(repo, None, cache=cache, storage=None)
    assert str(e.value) == (
        "data/train.csv has changes not recorded in data/train.csv.ptr; run "
        "`mlgate data add data/train.csv` to keep them, or delete data/train.csv to pull "
        f"{CSV_SHA[:12]}…"
    )
    assert (repo / "data/train.csv").read_bytes() == b"my edits\n"


def pulled_clone(repo: Path, tmp_path: Path, *versions: bytes) -> tuple[Path, Cache, Path]:
    """Each version of data/train.csv added and pushed to file storage, the last committed;
    a clone of it pulled into a fresh cache. Returns the clone, its cache, the store."""
    store = tmp_path / "store"
    for data in versions:
        write(repo, "data/train.csv", data)
        add(repo, ["data/train.csv"], url=None, storage=None, cache=Cache(tmp_path / "writer"))
        push(repo, None, cache=Cache(tmp_path / "writer"), storage=store.as_uri())
    commit_all(repo, "pointer")
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(repo), str(clone))
    fresh = Cache(tmp_path / "fresh-cache")
    assert pull(clone, None, cache=fresh, storage=store.as_uri()) == ["data/train.csv"]
    return clone, fresh, store


def test_pull_writes_once_and_a_commit_copies_the_pulled_file(repo: Path, tmp_path: Path) -> None:
    clone, fresh, store = pulled_clone(repo, tmp_path, CSV)
    assert (clone / "data/train.csv").read_bytes() == CSV
    # One copy on disk, like the storage library's own download: none in the cache.
    assert not fresh.has(CSV_SHA)
    [entry] = status(clone, cache=fresh, storage=None)
    assert (entry.data, entry.in_cache, entry.copied) == ("ok", False, True)

    # Offline, storage gone: a check of the commit copies the pulled file into the cache.
    shutil.rmtree(store)
    side = CommitFiles(open_repo(clone), "HEAD")
    got = materialize(side, "data/train.csv", cache=fresh, storage=store.as_uri())
    assert got == fresh.path_for(CSV_SHA) and got.read_bytes() == CSV
    [entry] = status(clone, cache=fresh, storage=None)
    assert (entry.in_cache, entry.copied) == (True, False)


def test_a_pulled_file_edited_since_is_never_used_as_the_object(repo: Path, tmp_path: Path) -> None:
    clone, fresh, store = pulled_clone(repo, tmp_path, CSV)
    dest = clone / "data/train.csv"
    edited = CSV.replace(b"0.5", b"9.5")  # the same size, in place
    with dest.open("r+b") as f:
        f.write(edited)
    side = CommitFiles(open_repo(clone), "HEAD")
    assert (
        materialize(side, "data/train.csv", cache=fresh, storage=store.as_uri()).read_bytes() == CSV
    )
    assert dest.read_bytes() == edited  # the user's edit is left alone
    assert not fresh.copies.wrote(dest, CSV_SHA)  # its stat changed: the note is gone

    # A note that still matches the file's stat (an edit within one timestamp tick) is a
    # hint only: the copy is hashed on the way, refused, and forgotten.
    other = Cache(tmp_path / "other-cache")
    other.copies.note(dest, CSV_SHA)
    with pytest.raises(DataError) as e:
        materialize(side, "data/train.csv", cache=other, storage=None)
    assert f"copy {dest} (corrupt: sha256 " in str(e.value) and "storage (none configured)" in str(
        e.value
    )
    assert not other.has(CSV_SHA) and not other.copies.wrote(dest, CSV_SHA)

    # A link put where the pulled file was is not that file, whatever it points at.
    third = Cache(tmp_path / "third-cache")
    outside = write(tmp_path, "outside.csv", CSV)
    dest.unlink()
    dest.symlink_to(outside)
    third.copies.note(dest, CSV_SHA)
    assert list(third.copies.of(CSV_SHA)) == []


def test_pull_over_a_version_pull_wrote_keeps_it_in_the_cache(repo: Path, tmp_path: Path) -> None:
    clone, fresh, store = pulled_clone(repo, tmp_path, CSV_V2, CSV)
    v2 = hashlib.sha256(CSV_V2).hexdigest()
    # As after `git checkout` of the older pointer: the pulled v1 is the only local copy.
    write(clone, "data/train.csv.ptr", Pointer(v2, len(CSV_V2)).dump().encode())
    shutil.rmtree(store)  # nothing to fall back on: the old bytes must be kept, not lost
    with pytest.raises(DataError, match="not found"):
        pull(clone, None, cache=fresh, storage=store.as_uri())
    assert (clone / "data/train.csv").read_bytes() == CSV
    assert fresh.path_for(CSV_SHA).read_bytes() == CSV  # saved before the attempt
    # Back to v1: from the cache now, so the same pull then needs no storage either.
    write(clone, "data/train.csv", CSV_V2)
    add(clone, ["data/train.csv"], url=None, storage=None, cache=fresh)
    write(clone, "data/train.csv.ptr", Pointer(CSV_SHA, len(CSV)).dump().encode())
    assert pull(clone, None, cache=fresh, storage=None) == ["data/train.csv"]
    assert (clone / "data/train.csv").read_bytes() == CSV


def test_a_second_clone_pulls_from_the_first_clones_file(repo: Path, tmp_path: Path) -> None:
    clone, fresh, store = pulled_clone(repo, tmp_path, CSV)
    shutil.rmtree(store)
    second = tmp_path / "second"
    git(tmp_path, "clone", "-q", str(repo), str(second))
    assert pull(second, None, cache=fresh, storage=store.as_uri()) == ["data/train.csv"]
    assert (second / "data/train.csv").read_bytes() == CSV
    assert sorted(fresh.copies.of(CSV_SHA)) == sorted(
        [clone / "data/train.csv", second / "data/train.csv"]
    )


def test_pull_a_path_without_pointer(repo: Path, cache: Cache) -> None:
    with pytest.raises(DataError, match=r"^no pointer data/x\.csv\.ptr; run `mlgate data add"):
        pull(repo, ["data/x.csv"], cache=cache, storage=None)
    with pytest.raises(ConfigError, match="outside the repository"):
        pull(repo, ["../x.csv"], cache=cache, storage=None)


def test_push_needs_writable_storage(repo: Path, cache: Cache) -> None:
    with pytest.raises(ConfigError) as e:
        push(repo, None, cache=cache, storage=None)
    assert str(e.value) == (
        "storage: no storage configured; set `storage: file:///path/to/store` in mlgate.yaml "
        "to push"
    )
    with pytest.raises(DataError, match=r"^http storage is read-only: cannot push to "):
        push(repo, None, cache=cache, storage="http://127.0.0.1:9/store")


def test_push_from_the_working_tree_when_the_cache_lost_it(
    repo: Path, cache: Cache, tmp_path: Path
) -> None:
    write(repo, "data/train.csv", CSV)
    add(repo, ["data/train.csv"], url=None, storage=None, cache=Cache(tmp_path / "gone"))
    storage = (tmp_path / "store").as_uri()
    assert push(repo, ["data/train.csv"], cache=cache, storage=storage) == ["data/train.csv"]
    assert (tmp_path / "store" / object_relpath(CSV_SHA)).read_bytes() == CSV
    assert parse((repo / "data/train.csv.ptr").read_bytes(), where="p").sha256 == CSV_SHA


def test_add_does_not_duplicate_an_existing_ignore_rule(repo: Path) -> None:
    (repo / ".gitignore").write_text("data/\n")
    (repo / "data").mkdir()
    (repo / "data" / "train.csv").write_text("a,b\n1,2\n")
    add(repo, ["data/train.csv"], url=None, storage=None, cache=Cache())
    assert (repo / ".gitignore").read_text() == "data/\n"
