"""Content-addressed storage for data objects: the local cache and the storage backends.

Objects live at ``<root>/sha256/<2 hex>/<62 hex>``. Every write goes to a temp file in the
object's own directory and lands with ``os.replace``, so a reader never sees half an
object; bytes are verified against their sha256 before they land, so a cut-off or corrupt
transfer leaves nothing behind. In the cache, a file lock (``<cache>/locks/<sha256>``)
serializes two runs that fetch or store the same object at the same time; storage needs
none, since racing writers rename identical verified bytes into place.
"""

from __future__ import annotations

import errno
import hashlib
import itertools
import os
import secrets
import shutil
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, Protocol
from urllib.parse import unquote, urlsplit, urlunsplit

from mlgate.errors import ConfigError, DataError
from mlgate.pointers import Pointer, is_sha256
from mlgate.statcache import StatCache, stat_of

if TYPE_CHECKING:
    import requests
    from filelock import FileLock

CHUNK = 1 << 20
# Hashing reads this much per call into one reused buffer: no new bytes object per chunk,
# and hashlib releases the GIL while it hashes it. 1 MiB runs at the disk's or the
# SHA-NI's speed (benchmarks/bench_hash.py); larger buffers measured no faster.
HASH_CHUNK = 1 << 20
HTTP_TIMEOUT = (10.0, 60.0)  # seconds: to connect, and between two reads of the body
SCHEMES = ("file://", "http://", "https://")


class TransferError(DataError):
    """Getting or storing one object failed; ``reason`` is the short why, for listings."""

    def __init__(self, message: str, *, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


class ObjectMissing(TransferError):
    """The place looked in does not have the object (``reason``: "absent", "HTTP 404")."""


class HashMismatch(TransferError):
    """Bytes did not match the sha256 or size they are supposed to have."""


# --- paths and atomic writes -------------------------------------------------------------


def cache_dir() -> Path:
    """``$MLGATE_CACHE_DIR``, else ``$XDG_CACHE_HOME/mlgate``, else ``~/.cache/mlgate``."""
    if env := os.environ.get("MLGATE_CACHE_DIR"):
        return Path(env).expanduser()
    if xdg := os.environ.get("XDG_CACHE_HOME"):
        return Path(xdg).expanduser() / "mlgate"
    return Path.home() / ".cache" / "mlgate"


def object_relpath(sha256: str) -> str:
    """``sha256/3f/1d...`` (62 hex): where an object lives under a cache or storage root."""
    # Validating here also keeps a hostile "sha" from becoming a path like ../../x.
    if not is_sha256(sha256):
        raise DataError(f"{sha256!r} is not a sha256 digest (64 lowercase hex digits)")
    return f"sha256/{sha256[:2]}/{sha256[2:]}"


def short(sha256: str) -> str:
    return sha256[:12] + "…"


@contextmanager
def temp_beside(final: Path) -> Iterator[Path]:
    """A fresh empty temp file in ``final``'s directory, removed unless the caller moved it.

    Same directory, so ``os.replace(tmp, final)`` is an atomic rename on one filesystem.
    """
    final.parent.mkdir(parents=True, exist_ok=True)
    while True:
        tmp = final.parent / f".{final.name}.{secrets.token_hex(6)}.tmp"
        try:
            # 0o666 lets the umask decide, like any new file (mkstemp would force 0o600,
            # which breaks a storage directory shared by a team).
            os.close(os.open(tmp, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o666))
            break
        except FileExistsError:
            continue
    try:
        yield tmp
    finally:
        tmp.unlink(missing_ok=True)


def atomic_write(final: Path, data: bytes) -> None:
    """Replace ``final`` with ``data`` in one step: readers see the old or the new file."""
    with temp_beside(final) as tmp:
        with tmp.open("wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, final)


@contextmanager
def os_errors(doing: str) -> Iterator[None]:
    """An OSError (disk full, no permission) as a one-line DataError instead of a traceback."""
    try:
        yield
    except OSError as e:
        where = f" ({e.filename})" if e.filename else ""
        raise DataError(f"{doing}: {e.strerror or e}{where}") from e


def _url_path(path: str) -> str:
    """A file URL's path as a local path (urllib.request costs 15 ms to import)."""
    if os.name == "nt":
        from urllib.request import url2pathname

        return str(url2pathname(path))
    return unquote(path)


def lock_for(path: Path) -> FileLock:
    """The lock guarding ``path``: ``<path>.lock``, blocking until the other run is done."""
    path.parent.mkdir(parents=True, exist_ok=True)
    # No timeout: the kernel drops a dead process's flock, so waiting means a live run is
    # busy with the same object, and its result is exactly what we want.
    from filelock import FileLock  # imported here: a cached check never takes a lock

    return FileLock(f"{path}.lock")


# --- hashing -----------------------------------------------------------------------------


def sha256_file(path: Path) -> str:
    """The sha256 hex digest of a file: the one implementation every caller uses."""
    h = hashlib.sha256()
    buf = bytearray(HASH_CHUNK)
    view = memoryview(buf)
    with path.open("rb", buffering=0) as f:
        while n := f.readinto(buf):
            h.update(view[:n])
    return h.hexdigest()


def copy_hashing(src: Path, dest: Path, *, sync: bool = True) -> str:
    """Copy ``src`` to ``dest`` and return the sha256 of the bytes copied.

    ``src`` is read from disk once. A large file (>= PIPELINE_MIN) is copied by the kernel
    (``copy_file_range``) in a thread while this thread hashes it (the second reader finds
    its pages cached), which takes about as long as hashing alone; if ``src`` changed
    meanwhile (its stat), or the kernel cannot copy, it falls back to one userspace pass
    in which writing chunk i overlaps hashing chunk i+1. ``sync`` flushes ``dest`` before
    returning; the local cache skips that (every use of a cache object verifies its bytes
    first, so one torn by a crash is caught and fetched again); storage other machines
    read from, and files handed to the user, are synced.
    """
    with src.open("rb", buffering=0) as fin, dest.open("wb", buffering=0) as fout:
        size = os.fstat(fin.fileno()).st_size
        digest = _kernel_copy_hashing(fin, fout, size) if size >= PIPELINE_MIN else None
        if digest is None:
            fin.seek(0)
            fout.seek(0)
            fout.truncate()
            h = hashlib.sha256()
            if size >= PIPELINE_MIN:
                _copy_pipelined(fin, fout, h)
            else:
                buf = bytearray(HASH_CHUNK)
                view = memoryview(buf)
                while n := fin.readinto(buf):
                    chunk = view[:n]
                    h.update(chunk)
                    _write_all(fout, chunk)
            digest = h.hexdigest()
        if sync:  # before the caller renames it into place
            os.fsync(fout.fileno())
    return digest


PIPELINE_MIN = 16 * 1024**2  # below this, a thread costs more than it saves
_NO_KERNEL_COPY = {errno.EXDEV, errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP, errno.EBADF}


def _kernel_copy_hashing(fin: Any, fout: Any, size: int) -> str | None:
    """The sha256 of ``fin`` with its bytes copied to ``fout`` by the kernel, or None
    (nothing trustworthy written) when the kernel cannot or ``fin`` changed meanwhile."""
    copy_range = getattr(os, "copy_file_range", None)
    if copy_range is None:
        return None
    src, dst = fin.fileno(), fout.fileno()
    before = os.fstat(src)
    try:  # the first chunk synchronously: it tells whether the kernel can copy at all
        done = copy_range(src, dst, min(HASH_CHUNK, size), 0, 0)
    except OSError as e:
        if e.errno in _NO_KERNEL_COPY:
            return None
        raise
    failure: list[BaseException] = []

    def rest() -> None:
        offset = done
        try:
            while offset < size:
                n = copy_range(src, dst, size - offset, offset, offset)
                if n == 0:
                    raise OSError(errno.EIO, f"{fin.name}: shorter than its size")
                offset += n
        except BaseException as e:  # reported to the hashing thread
            failure.append(e)

    import threading

    copier = threading.Thread(target=rest, name="mlgate-copy")
    copier.start()
    h = hashlib.sha256()
    buf = bytearray(HASH_CHUNK)
    view = memoryview(buf)
    try:
        while n := fin.readinto(buf):
            h.update(view[:n])
    finally:
        copier.join()
    if failure:
        raise failure[0]
    after = os.fstat(src)
    same = (before.st_size, before.st_mtime_ns, before.st_ctime_ns) == (
        after.st_size,
        after.st_mtime_ns,
        after.st_ctime_ns,
    )
    return h.hexdigest() if same and after.st_size == size else None


def _copy_pipelined(fin: Any, fout: BinaryIO, h: Any) -> None:
    """Read chunk i+1 and hash it while a writer thread writes chunk i (two buffers)."""
    from concurrent.futures import Future, ThreadPoolExecutor

    buffers = [bytearray(HASH_CHUNK), bytearray(HASH_CHUNK)]
    pending: Future[None] | None = None
    with ThreadPoolExecutor(max_workers=1) as writer:
        for i in itertools.count():
            buf = buffers[i % 2]  # the writer is done with it: it was waited for below
            n = fin.readinto(buf)
            if not n:
                break
            chunk = memoryview(buf)[:n]
            h.update(chunk)
            if pending is not None:
                pending.result()  # re-raises the writer's error
            pending = writer.submit(_write_all, fout, chunk)
        if pending is not None:
            pending.result()


def _write_all(f: BinaryIO, chunk: memoryview) -> None:
    # An unbuffered write may write less than asked (a signal, a pipe); loop until done.
    while chunk:
        written = f.write(chunk) or 0
        chunk = chunk[written:]


def copy_verified(src: Path, dest: Path, sha256: str, *, sync: bool = True) -> None:
    """Copy ``src`` to ``dest``, hashing while copying; HashMismatch when it is not ``sha256``."""
    actual = copy_hashing(src, dest, sync=sync)
    if actual != sha256:
        raise HashMismatch(
            f"{src} has sha256 {short(actual)}, expected {short(sha256)}; "
            "it changed while being read, or its pointer is stale",
            reason=f"sha256 {short(actual)} differs",
        )


def verify(path: Path, ptr: Pointer, *, stats: StatCache | None = None) -> None:
    """HashMismatch unless ``path`` holds exactly the pointer's bytes (size first: cheap).
    With ``stats``, a file whose stat is unchanged since it was last hashed is not read
    again (the stat cache's rules: size, times, inode; nothing trusted within 2 s of a
    change)."""
    size = path.stat().st_size
    if size != ptr.size:
        raise HashMismatch(
            f"{path} has {size} bytes, expected {ptr.size}",
            reason=f"corrupt: {size} bytes, expected {ptr.size}",
        )
    actual = sha256_file(path) if stats is None else stats.digest(path, sha256_file)
    if actual != ptr.sha256:
        raise HashMismatch(
            f"{path} has sha256 {short(actual)}, expected {short(ptr.sha256)}",
            reason=f"corrupt: sha256 {short(actual)}",
        )


def _intact(path: Path, sha256: str) -> bool:
    try:
        return sha256_file(path) == sha256
    except FileNotFoundError:
        return False


# --- the local cache ---------------------------------------------------------------------


class Cache:
    """The local content-addressed cache under ``<root>/objects``, and the stat cache of
    working-tree files under ``<root>/stat`` (``stats``; pass one to tune it)."""

    def __init__(self, root: Path | None = None, *, stats: StatCache | None = None) -> None:
        self.root = root if root is not None else cache_dir()
        self.objects = self.root / "objects"
        self.stats = stats if stats is not None else StatCache(self.root / "stat")

    def sha256_of(self, path: Path) -> str:
        """The sha256 of a working-tree file, from the stat cache when it is unchanged."""
        return self.stats.digest(path, sha256_file)

    def path_for(self, sha256: str) -> Path:
        return self.objects / object_relpath(sha256)

    def has(self, sha256: str) -> bool:
        """The object exists (it was verified when it was put)."""
        return self.path_for(sha256).is_file()

    def lock(self, sha256: str) -> FileLock:
        # Locks live apart from the objects, so the object tree holds only data.
        return lock_for(self.root / "locks" / sha256)

    def put_file(self, src: Path, sha256: str) -> Path:
        """Store a copy of ``src`` as ``sha256``; HashMismatch (nothing stored) if it is not."""
        with os_errors(f"cannot store {src} in the cache {self.root}"), self.lock(sha256):
            return self._put(sha256, lambda tmp: copy_verified(src, tmp, sha256, sync=False))

    def add_file(self, src: Path) -> tuple[str, Path]:
        """Store a copy of the working-tree file ``src``; returns its sha256 and the object.

        ``src`` is read once, hashed while it is copied (issue 5: ``data add`` of a large
        file used to read it twice). A file whose stat cache entry holds and whose object
        is already stored is not read at all.
        """
        with os_errors(f"cannot store {src} in the cache {self.root}"):
            digest = self.stats.digest(src, self._copy_in)
            if not self.has(digest):  # known by its stat, but the object is gone
                digest = self._copy_in(src)
        return digest, self.path_for(digest)

    def _copy_in(self, src: Path) -> str:
        before = stat_of(src)
        # The temp file sits in the objects directory: the same filesystem, so the rename
        # into place once the digest is known is atomic.
        with temp_beside(self.objects / "incoming") as tmp:
            digest = copy_hashing(src, tmp, sync=False)
            if stat_of(src) != before:
                # The copy may mix old and new bytes: refuse it rather than store a torn file.
                raise DataError(f"{src} changed while being stored; try again once it is written")
            with self.lock(digest):
                final = self.path_for(digest)
                final.parent.mkdir(parents=True, exist_ok=True)
                # Over an existing object too: these bytes were just verified, so this also
                # repairs a corrupt one without reading it first.
                os.replace(tmp, final)
        return digest

    def put_bytes(self, data: bytes, sha256: str | None = None) -> Path:
        """Store ``data``; with ``sha256`` given, HashMismatch (nothing stored) if it differs."""
        actual = hashlib.sha256(data).hexdigest()
        if sha256 is not None and actual != sha256:
            raise HashMismatch(
                f"data has sha256 {short(actual)}, expected {short(sha256)}",
                reason=f"sha256 {short(actual)} differs",
            )
        with os_errors(f"cannot store data in the cache {self.root}"), self.lock(actual):
            return self._put(actual, lambda tmp: tmp.write_bytes(data))

    def _put(self, sha256: str, fill: Callable[[Path], object]) -> Path:
        # The caller holds the object's lock. An existing object is re-checked, so putting
        # good bytes also repairs a corrupt one.
        final = self.path_for(sha256)
        if _intact(final, sha256):
            return final
        with temp_beside(final) as tmp:
            fill(tmp)
            os.replace(tmp, final)
        return final


# --- storage backends --------------------------------------------------------------------


class Backend(Protocol):
    """A place objects are stored, addressed by sha256."""

    url: str
    writable: bool

    def get(self, sha256: str, dest: Path) -> None:
        """Write the object to ``dest``; ObjectMissing when absent, TransferError on failure."""
        ...

    def put(self, src: Path, sha256: str) -> None:
        """Store ``src`` (verified against ``sha256``) as the object; DataError when read-only."""
        ...

    def has(self, sha256: str) -> bool:
        """Whether the object is there; DataError when that cannot be known."""
        ...


class FileBackend:
    """``file:///path``: a directory (local disk or a mount), readable and writable."""

    writable = True

    def __init__(self, url: str) -> None:
        self.url = url
        self.root = file_url_path(url)

    def path_for(self, sha256: str) -> Path:
        return self.root / object_relpath(sha256)

    def get(self, sha256: str, dest: Path) -> None:
        copy_file(self.path_for(sha256), dest, where=f"storage {self.url}")

    def put(self, src: Path, sha256: str) -> None:
        final = self.path_for(sha256)
        # No lock: the name is the content, so two writers racing both rename identical,
        # verified bytes into place, and a shared store stays free of lock files.
        try:
            if _intact(final, sha256):
                return
            with temp_beside(final) as tmp:
                copy_verified(src, tmp, sha256)
                os.replace(tmp, final)
        except OSError as e:
            raise DataError(f"cannot write {final} to storage {self.url}: {e.strerror}") from e

    def has(self, sha256: str) -> bool:
        return self.path_for(sha256).is_file()


class HttpBackend:
    """``http(s)://host/prefix``: read-only, objects at ``<prefix>/sha256/<2>/<62>``."""

    writable = False

    def __init__(self, url: str) -> None:
        self.url = url.rstrip("/")

    def object_url(self, sha256: str) -> str:
        return f"{self.url}/{object_relpath(sha256)}"

    def get(self, sha256: str, dest: Path) -> None:
        download(self.object_url(sha256), dest)

    def put(self, src: Path, sha256: str) -> None:
        raise DataError(
            f"http storage is read-only: cannot upload to {redact(self.url)}; "
            "push to file:// storage instead"
        )

    def has(self, sha256: str) -> bool:
        import requests

        url = self.object_url(sha256)
        try:
            with http_session() as session:
                resp = session.head(url, timeout=HTTP_TIMEOUT, allow_redirects=True)
        except requests.RequestException as e:
            raise DataError(f"cannot reach {redact(url)}: {_why(e)}") from e
        if resp.status_code in (404, 410):
            return False
        if resp.status_code == 200:
            return True
        raise DataError(f"cannot tell whether {redact(url)} exists: HTTP {resp.status_code}")


def backend_for(url: str) -> Backend:
    """The backend for a storage URL; ConfigError (exit 2) for an unsupported scheme."""
    scheme = urlsplit(url).scheme.lower()
    if scheme == "file":
        return FileBackend(url)
    if scheme in ("http", "https"):
        return HttpBackend(url)
    raise ConfigError(
        f"unsupported storage URL {redact(url)!r}; supported schemes: {', '.join(SCHEMES)}",
        key="storage",
    )


def file_url_path(url: str) -> Path:
    """``file:///srv/store`` -> ``/srv/store``; ConfigError for a remote host or relative path."""
    parts = urlsplit(url)
    if parts.netloc not in ("", "localhost"):
        raise ConfigError(
            f"file URL {url!r} names host {parts.netloc!r}; use file:///absolute/path",
            key="storage",
        )
    path = Path(_url_path(parts.path))
    if not parts.path or not path.is_absolute():
        raise ConfigError(f"file URL {url!r} needs an absolute path (file:///srv/store)")
    return path


def copy_file(src: Path, dest: Path, *, where: str) -> None:
    """Copy ``src`` over ``dest``; ObjectMissing when ``src`` is absent."""
    try:
        shutil.copyfile(src, dest)
    except FileNotFoundError as e:
        raise ObjectMissing(f"{src} not found in {where}", reason="absent") from e
    except OSError as e:
        raise TransferError(
            f"cannot read {src} from {where}: {e.strerror}", reason=str(e.strerror)
        ) from e


# --- HTTP --------------------------------------------------------------------------------


def http_session() -> requests.Session:
    """A session with retries on connection errors and 5xx, for GET/HEAD only."""
    import requests
    from requests.adapters import HTTPAdapter
    from urllib3.util.retry import Retry

    from mlgate import __version__

    retry = Retry(
        total=2,
        read=0,  # a body cut off mid-way is reported, not silently re-downloaded
        backoff_factor=0.2,
        status_forcelist=(500, 502, 503, 504),
        allowed_methods=frozenset({"GET", "HEAD"}),
        raise_on_status=False,
    )
    session = requests.Session()
    adapter = HTTPAdapter(max_retries=retry)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    session.headers["User-Agent"] = f"mlgate/{__version__}"
    return session


def download(url: str, dest: Path) -> None:
    """Stream ``url`` into ``dest`` in chunks; ObjectMissing on 404/410, TransferError else."""
    scheme = urlsplit(url).scheme.lower()
    if scheme == "file":
        copy_file(file_url_path(url), dest, where=redact(url))
        return
    if scheme not in ("http", "https"):
        raise TransferError(
            f"cannot download {redact(url)}: unsupported scheme", reason="unsupported scheme"
        )
    _http_download(url, dest)


def _http_download(url: str, dest: Path) -> None:
    import requests

    shown = redact(url)
    # identity: we hash the stored bytes, so ask the server not to re-encode them on the way.
    headers = {"Accept-Encoding": "identity"}
    try:
        with (
            http_session() as session,
            session.get(url, stream=True, timeout=HTTP_TIMEOUT, headers=headers) as resp,
        ):
            _check_status(resp, shown)
            written = _write_body(resp, dest)
            expected = resp.headers.get("Content-Length")
            encoded = "Content-Encoding" in resp.headers
    except requests.RequestException as e:
        raise TransferError(f"downloading {shown} failed: {_why(e)}", reason=_why(e)) from e
    # urllib3 already enforces Content-Length; this is a second net for other stacks.
    if expected is not None and expected.isdigit() and not encoded and int(expected) != written:
        reason = f"download cut off after {written} of {expected} bytes"
        raise TransferError(f"downloading {shown} failed: {reason}", reason=reason)


def _check_status(resp: requests.Response, shown: str) -> None:
    code = resp.status_code
    if code in (404, 410):
        raise ObjectMissing(f"{shown} not found (HTTP {code})", reason=f"HTTP {code}")
    if code != 200:
        raise TransferError(f"downloading {shown} failed: HTTP {code}", reason=f"HTTP {code}")


def _write_body(resp: requests.Response, dest: Path) -> int:
    written = 0
    with dest.open("wb") as f:
        for chunk in resp.iter_content(CHUNK):
            f.write(chunk)
            written += len(chunk)
    return written


def _why(e: Exception) -> str:
    import requests

    if isinstance(e, requests.Timeout):
        return "timed out"
    if isinstance(e, requests.ConnectionError):
        return "connection failed"
    if isinstance(e, requests.exceptions.ChunkedEncodingError):
        return "download cut off (connection closed early)"
    return type(e).__name__


def redact(url: str) -> str:
    """The URL without credentials or query string, which may hold tokens or signatures."""
    parts = urlsplit(url)
    netloc = parts.netloc
    if "@" in netloc:
        netloc = "***@" + netloc.rsplit("@", 1)[1]
    query = "***" if parts.query else ""
    return urlunsplit((parts.scheme, netloc, parts.path, query, ""))


# --- fetch -------------------------------------------------------------------------------


def fetch(
    ptr: Pointer,
    *,
    name: str,
    cache: Cache,
    storage: str | None,
    local: Path | None,
    local_label: str | None = None,
) -> Path:
    """A verified copy of the pointer's bytes in the cache, fetched if need be.

    Tried in order: the cache; ``local`` (the working-tree data file, only if it matches);
    ``storage``; ``ptr.url``. DataError naming ``name`` and every place looked otherwise.
    """
    with os_errors(f"cannot fetch {name} into the cache {cache.root}"), cache.lock(ptr.sha256):
        looked: list[str] = []
        final = _cached(ptr, cache, looked)
        if final is not None:
            return final
        for label, fill in _sources(ptr, cache.stats, storage, local, local_label, looked):
            try:
                return _install(ptr, cache, fill)
            except TransferError as e:
                looked.append(f"{label} ({e.reason})")
    raise DataError(
        f"data object for {name} (sha256 {short(ptr.sha256)}) not found; looked in "
        + ", ".join(looked)
    )


def _cached(ptr: Pointer, cache: Cache, looked: list[str]) -> Path | None:
    final = cache.path_for(ptr.sha256)
    if not final.is_file():
        looked.append(f"cache {final} (absent)")
        return None
    try:
        # Every use checks the bytes; the stat cache spares re-reading an object that has
        # not changed since it was last hashed (a 1 GB training file costs ~0.7 s to hash).
        verify(final, ptr, stats=cache.stats)
        return final
    except HashMismatch as e:
        # A torn write, bit rot or a tampered cache: drop it and fetch a good copy.
        final.unlink(missing_ok=True)
        looked.append(f"cache {final} ({e.reason}, removed)")
        return None


Fill = Callable[[Path], None]


def _sources(
    ptr: Pointer,
    stats: StatCache,
    storage: str | None,
    local: Path | None,
    local_label: str | None,
    looked: list[str],
) -> Iterator[tuple[str, Fill]]:
    """(label, fill) per place to try; a fill leaves verified bytes at the temp path."""
    if local is not None:
        label = f"working tree {local_label or local}"
        yield label, lambda tmp: _from_local(local, ptr, tmp, stats)
    if storage is None:
        looked.append("storage (none configured)")
    else:
        backend = backend_for(storage)
        yield f"storage {redact(storage)}", _verified(ptr, lambda tmp: backend.get(ptr.sha256, tmp))
    if ptr.url is not None:
        url = ptr.url
        yield f"url {redact(url)}", _verified(ptr, lambda tmp: download(url, tmp))


def _verified(ptr: Pointer, fill: Fill) -> Fill:
    def fill_and_verify(tmp: Path) -> None:
        fill(tmp)
        verify(tmp, ptr)

    return fill_and_verify


def _from_local(local: Path, ptr: Pointer, tmp: Path, stats: StatCache) -> None:
    try:
        size = local.stat().st_size
    except FileNotFoundError as e:
        raise ObjectMissing(f"{local} does not exist", reason="absent") from e
    # Cheap first: a different size, or another digest in the stat cache, needs no read.
    if size != ptr.size or stats.lookup(local) not in (None, ptr.sha256):
        raise HashMismatch(f"{local} differs from its pointer", reason="modified")
    before, started = stat_of(local), time.time_ns()
    actual = copy_hashing(local, tmp, sync=False)  # into the cache
    stats.remember(local, before, stat_of(local), actual, started_ns=started)
    if actual != ptr.sha256:
        raise HashMismatch(f"{local} differs from its pointer", reason="modified")


def _install(ptr: Pointer, cache: Cache, fill: Fill) -> Path:
    # The caller holds the object's lock; fill() has verified the bytes, or raised.
    final = cache.path_for(ptr.sha256)
    with temp_beside(final) as tmp:
        fill(tmp)
        os.replace(tmp, final)
    return final
