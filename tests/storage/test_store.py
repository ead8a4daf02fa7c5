from __future__ import annotations

import hashlib
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from fakes.httpserver import Route, Server, serve
from mlgate.errors import ConfigError, DataError, ExitCode
from mlgate.http import redact_url as redact
from mlgate.storage.backends import FileBackend, HttpBackend, backend_for
from mlgate.storage.cloud import CloudBackend
from mlgate.storage.fetch import fetch
from mlgate.storage.layout import cache_dir
from mlgate.storage.objects import Cache, HashMismatch, ObjectMissing, object_relpath
from mlgate.storage.pointers import Pointer

DATA = b"age,plan,label\n31,basic,1\n45,pro,0\n" * 50
SHA = hashlib.sha256(DATA).hexdigest()
PTR = Pointer(SHA, len(DATA))
OBJ = f"sha256/{SHA[:2]}/{SHA[2:]}"


@pytest.fixture
def cache() -> Cache:
    return Cache()


@pytest.fixture
def server() -> Iterator[Server]:
    with serve() as s:
        yield s


def file_storage(tmp_path: Path, data: bytes = DATA) -> str:
    """A file:// store holding ``data`` under SHA (whatever the bytes)."""
    obj = tmp_path / "store" / OBJ
    obj.parent.mkdir(parents=True)
    obj.write_bytes(data)
    return (tmp_path / "store").as_uri()


def leftovers(cache: Cache) -> list[str]:
    """Everything in the cache but lock files: temp files and partial objects would show."""
    if not cache.root.exists():
        return []
    return sorted(
        str(p.relative_to(cache.root))
        for p in cache.root.rglob("*")
        if p.is_file() and not p.name.endswith(".lock")
    )


# --- locations ---------------------------------------------------------------------------


def test_cache_dir_precedence(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLGATE_CACHE_DIR", str(tmp_path / "explicit"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_dir() == tmp_path / "explicit"
    monkeypatch.delenv("MLGATE_CACHE_DIR")
    assert cache_dir() == tmp_path / "xdg" / "mlgate"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert cache_dir() == tmp_path / "home" / ".cache" / "mlgate"


def test_cache_defaults_to_the_isolated_cache_dir() -> None:
    assert Cache().root == cache_dir()
    assert Cache().path_for(SHA) == cache_dir() / "objects" / OBJ


def test_object_relpath() -> None:
    assert object_relpath(SHA) == OBJ
    assert len(OBJ.rsplit("/", 1)[1]) == 62
    with pytest.raises(DataError, match=r"'\.\./\.\./x' is not a sha256 digest"):
        object_relpath("../../x")


def test_redact_hides_credentials_and_query() -> None:
    assert redact("https://user:tok@host/a/b?sig=123") == "https://***@host/a/b?***"
    assert redact("file:///srv/store") == "file:///srv/store"


# --- the cache ---------------------------------------------------------------------------


def test_put_bytes_and_put_file(cache: Cache, tmp_path: Path) -> None:
    assert not cache.has(SHA)
    path = cache.put_bytes(DATA)
    assert path == cache.path_for(SHA)
    assert path.read_bytes() == DATA
    assert cache.has(SHA)
    src = tmp_path / "b.bin"
    src.write_bytes(b"other")
    other = hashlib.sha256(b"other").hexdigest()
    assert cache.put_file(src, other).read_bytes() == b"other"
    assert leftovers(cache) == [f"objects/{OBJ}", f"objects/{object_relpath(other)}"]


def test_put_with_the_wrong_hash_leaves_nothing(cache: Cache, tmp_path: Path) -> None:
    src = tmp_path / "a.csv"
    src.write_bytes(DATA)
    wrong = "0" * 64
    with pytest.raises(HashMismatch) as e:
        cache.put_file(src, wrong)
    assert str(e.value) == (
        f"{src} has sha256 {SHA[:12]}…, expected {wrong[:12]}…; "
        "it changed while being read, or its pointer is stale"
    )
    assert e.value.exit_code == ExitCode.FAILURE
    with pytest.raises(HashMismatch):
        cache.put_bytes(DATA, wrong)
    assert not cache.has(wrong)
    assert leftovers(cache) == []


def test_put_repairs_a_corrupt_object(cache: Cache) -> None:
    path = cache.path_for(SHA)
    path.parent.mkdir(parents=True)
    path.write_bytes(b"garbage")
    assert cache.put_bytes(DATA, SHA).read_bytes() == DATA


def test_threads_putting_the_same_object_make_one_good_object(cache: Cache, tmp_path: Path) -> None:
    big = DATA * 2000  # a few MB, so the copies overlap
    digest = hashlib.sha256(big).hexdigest()
    src = tmp_path / "big.csv"
    src.write_bytes(big)
    start = threading.Barrier(8)
    errors: list[BaseException] = []

    def put() -> None:
        start.wait()
        try:
            Cache().put_file(src, digest)
        except BaseException as e:  # collected, asserted below
            errors.append(e)

    threads = [threading.Thread(target=put) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert cache.path_for(digest).read_bytes() == big
    assert leftovers(cache) == [f"objects/{object_relpath(digest)}"]


def test_processes_putting_the_same_object_make_one_good_object(
    cache: Cache, tmp_path: Path
) -> None:
    big = DATA * 2000
    digest = hashlib.sha256(big).hexdigest()
    src = tmp_path / "big.csv"
    src.write_bytes(big)
    code = (
        "import sys; from pathlib import Path; from mlgate.storage.objects import Cache; "
        "Cache().put_file(Path(sys.argv[1]), sys.argv[2])"
    )
    procs = [subprocess.Popen([sys.executable, "-c", code, str(src), digest]) for _ in range(4)]
    assert [p.wait() for p in procs] == [0, 0, 0, 0]
    assert cache.path_for(digest).read_bytes() == big
    assert leftovers(cache) == [f"objects/{object_relpath(digest)}"]


# --- backends ----------------------------------------------------------------------------


def test_backend_for_schemes(tmp_path: Path) -> None:
    assert isinstance(backend_for(tmp_path.as_uri()), FileBackend)
    assert isinstance(backend_for("http://127.0.0.1:9/store"), HttpBackend)
    assert isinstance(backend_for("HTTPS://example.org/store"), HttpBackend)
    assert isinstance(backend_for("s3://bucket/prefix"), CloudBackend)
    with pytest.raises(ConfigError) as e:
        backend_for("ftp://host/prefix")
    assert str(e.value) == (
        "storage: unsupported storage URL 'ftp://host/prefix'; "
        "supported schemes: file://, http://, https://, s3://, gs://, az://"
    )
    assert e.value.exit_code == ExitCode.USAGE


def test_file_url_must_be_local_and_absolute() -> None:
    with pytest.raises(ConfigError, match="names host 'server'"):
        backend_for("file://server/share")
    with pytest.raises(ConfigError, match="needs an absolute path"):
        backend_for("file:relative/store")


def test_file_backend_put_get_has(tmp_path: Path) -> None:
    backend = backend_for((tmp_path / "store").as_uri())
    src = tmp_path / "a.csv"
    src.write_bytes(DATA)
    assert not backend.has(SHA)
    backend.put(src, SHA)
    backend.put(src, SHA)  # already there: a no-op
    assert backend.has(SHA)
    assert (tmp_path / "store" / OBJ).read_bytes() == DATA
    dest = tmp_path / "copy"
    backend.get(SHA, dest)
    assert dest.read_bytes() == DATA
    with pytest.raises(ObjectMissing) as e:
        backend.get("1" * 64, dest)
    assert e.value.reason == "absent"


def test_file_backend_refuses_bytes_that_do_not_match(tmp_path: Path) -> None:
    backend = backend_for((tmp_path / "store").as_uri())
    src = tmp_path / "a.csv"
    src.write_bytes(DATA)
    with pytest.raises(HashMismatch):
        backend.put(src, "1" * 64)
    assert [p.name for p in (tmp_path / "store").rglob("*") if p.is_file()] == []


def test_http_backend(server: Server, tmp_path: Path) -> None:
    server.routes[f"/store/{OBJ}"] = Route(DATA)
    backend = backend_for(server.url + "/store/")
    assert backend.has(SHA)
    assert not backend.has("1" * 64)
    backend.get(SHA, tmp_path / "x")
    assert (tmp_path / "x").read_bytes() == DATA
    with pytest.raises(DataError) as e:
        backend.put(tmp_path / "x", SHA)
    assert str(e.value) == (
        f"http storage is read-only: cannot upload to {server.url}/store; "
        "push to file:// or bucket storage instead"
    )
    assert server.paths() == [
        f"/store/{OBJ}",
        f"/store/{object_relpath('1' * 64)}",
        f"/store/{OBJ}",
    ]


# --- fetch: where the bytes come from ----------------------------------------------------


def test_cache_hit_needs_no_server(cache: Cache, server: Server) -> None:
    cache.put_bytes(DATA)
    ptr = Pointer(SHA, len(DATA), url=server.url + "/train.csv")
    path = fetch(ptr, name="data/train.csv.ptr", cache=cache, storage=server.url, local=None)
    assert path.read_bytes() == DATA
    assert server.requests == []


def test_fetch_from_the_working_tree_file(cache: Cache, tmp_path: Path, server: Server) -> None:
    local = tmp_path / "train.csv"
    local.write_bytes(DATA)
    path = fetch(PTR, name="p", cache=cache, storage=server.url, local=local)
    assert path == cache.path_for(SHA)
    assert path.read_bytes() == DATA
    assert server.requests == []


def test_a_modified_working_tree_file_is_not_used(
    cache: Cache, tmp_path: Path, server: Server
) -> None:
    local = tmp_path / "train.csv"
    local.write_bytes(DATA[:-1] + b"X")  # same size, other bytes
    server.routes[f"/{OBJ}"] = Route(DATA)
    path = fetch(PTR, name="p", cache=cache, storage=server.url, local=local)
    assert path.read_bytes() == DATA
    assert server.paths() == [f"/{OBJ}"]


def test_fetch_from_file_storage(cache: Cache, tmp_path: Path) -> None:
    storage = file_storage(tmp_path)
    path = fetch(PTR, name="p", cache=cache, storage=storage, local=tmp_path / "absent.csv")
    assert path.read_bytes() == DATA
    assert leftovers(cache) == [f"objects/{OBJ}"]


def test_fetch_from_http_storage(cache: Cache, server: Server) -> None:
    server.routes[f"/store/{OBJ}"] = Route(DATA)
    path = fetch(PTR, name="p", cache=cache, storage=server.url + "/store", local=None)
    assert path.read_bytes() == DATA
    assert server.paths("GET") == [f"/store/{OBJ}"]
    assert server.requests[0].headers["Accept-Encoding"] == "identity"


def test_fetch_from_the_pointer_url(cache: Cache, server: Server, tmp_path: Path) -> None:
    server.routes["/files/train.csv"] = Route(DATA)
    ptr = Pointer(SHA, len(DATA), url=server.url + "/files/train.csv")
    empty_store = (tmp_path / "store").as_uri()
    path = fetch(ptr, name="p", cache=cache, storage=empty_store, local=None)
    assert path.read_bytes() == DATA
    assert server.paths() == ["/files/train.csv"]


def test_concurrent_fetches_download_once(cache: Cache, server: Server) -> None:
    server.routes[f"/{OBJ}"] = Route(DATA)
    start = threading.Barrier(4)
    results: list[bytes] = []

    def get() -> None:
        start.wait()
        path = fetch(PTR, name="p", cache=Cache(), storage=server.url, local=None)
        results.append(path.read_bytes())

    threads = [threading.Thread(target=get) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [DATA] * 4
    assert server.paths("GET") == [f"/{OBJ}"]


# --- fetch: failures ---------------------------------------------------------------------


def test_missing_everywhere_lists_every_place(cache: Cache, server: Server, tmp_path: Path) -> None:
    storage = (tmp_path / "store").as_uri()
    ptr = Pointer(SHA, len(DATA), url=server.url + "/train.csv?token=secret")
    with pytest.raises(DataError) as e:
        fetch(
            ptr,
            name="data/train.csv.ptr",
            cache=cache,
            storage=storage,
            local=tmp_path / "train.csv",
            local_label="data/train.csv",
        )
    assert str(e.value) == (
        f"data object for data/train.csv.ptr (sha256 {SHA[:12]}…) not found; looked in "
        f"cache {cache.path_for(SHA)} (absent), working tree data/train.csv (absent), "
        f"storage {storage} (absent), url {server.url}/train.csv?*** (HTTP 404)"
    )
    assert e.value.exit_code == ExitCode.FAILURE
    assert "secret" not in str(e.value)


def test_missing_without_storage_says_none_is_configured(cache: Cache) -> None:
    with pytest.raises(DataError) as e:
        fetch(PTR, name="data/train.csv.ptr", cache=cache, storage=None, local=None)
    assert str(e.value) == (
        f"data object for data/train.csv.ptr (sha256 {SHA[:12]}…) not found; looked in "
        f"cache {cache.path_for(SHA)} (absent), storage (none configured)"
    )


def test_http_storage_404(cache: Cache, server: Server) -> None:
    with pytest.raises(DataError, match=r"storage http://127\.0\.0\.1:\d+ \(HTTP 404\)$"):
        fetch(PTR, name="p", cache=cache, storage=server.url, local=None)


def test_corrupt_object_in_file_storage_never_lands(cache: Cache, tmp_path: Path) -> None:
    storage = file_storage(tmp_path, data=DATA[:-1] + b"X")
    bad = hashlib.sha256(DATA[:-1] + b"X").hexdigest()
    with pytest.raises(DataError) as e:
        fetch(PTR, name="p", cache=cache, storage=storage, local=None)
    assert str(e.value).endswith(f"storage {storage} (corrupt: sha256 {bad[:12]}…)")
    assert not cache.has(SHA)
    assert leftovers(cache) == []


def test_corrupt_object_in_http_storage_never_lands(cache: Cache, server: Server) -> None:
    server.routes[f"/{OBJ}"] = Route(DATA, corrupt=True)
    with pytest.raises(DataError, match=r"\(corrupt: sha256 [0-9a-f]{12}…\)$"):
        fetch(PTR, name="p", cache=cache, storage=server.url, local=None)
    assert not cache.has(SHA)
    assert leftovers(cache) == []


def test_a_short_object_is_reported_by_size(cache: Cache, server: Server) -> None:
    server.routes[f"/{OBJ}"] = Route(DATA[:10])
    with pytest.raises(DataError, match=rf"\(corrupt: 10 bytes, expected {len(DATA)}\)$"):
        fetch(PTR, name="p", cache=cache, storage=server.url, local=None)
    assert leftovers(cache) == []


def test_download_cut_off_midway_leaves_no_partial_object(cache: Cache, server: Server) -> None:
    server.routes["/train.csv"] = Route(DATA, cut=True)
    ptr = Pointer(SHA, len(DATA), url=server.url + "/train.csv")
    with pytest.raises(DataError) as e:
        fetch(ptr, name="p", cache=cache, storage=None, local=None)
    assert str(e.value).endswith(
        f"url {server.url}/train.csv (download cut off (connection closed early))"
    )
    assert not cache.has(SHA)
    assert leftovers(cache) == []


def test_corrupt_object_in_cache_is_replaced_from_storage(cache: Cache, tmp_path: Path) -> None:
    path = cache.path_for(SHA)
    path.parent.mkdir(parents=True)
    path.write_bytes(DATA[:-1] + b"X")
    storage = file_storage(tmp_path)
    assert fetch(PTR, name="p", cache=cache, storage=storage, local=None).read_bytes() == DATA
    assert leftovers(cache) == [f"objects/{OBJ}"]


def test_corrupt_object_in_cache_with_nowhere_else_is_removed(cache: Cache) -> None:
    path = cache.path_for(SHA)
    path.parent.mkdir(parents=True)
    path.write_bytes(DATA[:-1] + b"X")
    with pytest.raises(DataError, match=r"\(corrupt: sha256 [0-9a-f]{12}…, removed\)"):
        fetch(PTR, name="p", cache=cache, storage=None, local=None)
    assert not path.exists()


def test_unreachable_url_is_a_data_error(cache: Cache) -> None:
    with serve() as gone:
        url = gone.url + "/train.csv"
    ptr = Pointer(SHA, len(DATA), url=url)
    with pytest.raises(DataError, match=r"\(connection failed\)$"):
        fetch(ptr, name="p", cache=cache, storage=None, local=None)


def test_large_copies_overlap_hashing_and_writing_and_stay_exact(tmp_path: Path) -> None:
    """Above PIPELINE_MIN a writer thread writes chunk i while chunk i+1 is hashed: the
    copy and its sha256 must still be exact, including a short last chunk."""
    import os

    from mlgate.storage.hashing import HASH_CHUNK, PIPELINE_MIN, copy_hashing

    src = tmp_path / "big.bin"
    data = os.urandom(PIPELINE_MIN + 3 * HASH_CHUNK + 123)
    src.write_bytes(data)
    dest = tmp_path / "copy.bin"
    assert copy_hashing(src, dest, sync=False) == hashlib.sha256(data).hexdigest()
    assert dest.read_bytes() == data


def test_the_userspace_fallback_copy_is_exact_too(tmp_path: Path) -> None:
    """Where the kernel cannot copy (another file system, an old kernel) or the source
    changed during a kernel copy, one userspace pass copies and hashes."""
    import os

    from mlgate.storage.hashing import HASH_CHUNK, _copy_pipelined

    data = os.urandom(5 * HASH_CHUNK + 7)
    (tmp_path / "src.bin").write_bytes(data)
    h = hashlib.sha256()
    with (
        (tmp_path / "src.bin").open("rb", buffering=0) as fin,
        (tmp_path / "dst.bin").open("wb", buffering=0) as fout,
    ):
        _copy_pipelined(fin, fout, h)
    assert h.hexdigest() == hashlib.sha256(data).hexdigest()
    assert (tmp_path / "dst.bin").read_bytes() == data


@pytest.mark.parametrize("kernel", [True, False], ids=["copy_file_range", "userspace"])
def test_copy_file_copies_every_byte_with_or_without_the_kernel(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kernel: bool
) -> None:
    import errno
    import os

    from mlgate.storage.files import copy_file

    if not kernel:  # a filesystem or OS without copy_file_range (macOS, some FUSE mounts)

        def refuse(*args: object) -> int:
            raise OSError(errno.ENOSYS, "copy_file_range")

        monkeypatch.setattr(os, "copy_file_range", refuse, raising=False)
    src = tmp_path / "big.bin"
    data = os.urandom((3 << 20) + 17)
    src.write_bytes(data)
    dest = tmp_path / "copy.bin"
    assert copy_file(src, dest) == len(data)
    assert dest.read_bytes() == data
