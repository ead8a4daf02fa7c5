"""Content-addressed data objects and the local cache that holds them.

Objects live at ``<root>/sha256/<2 hex>/<62 hex>``. Every write goes to a temp file in the
object's own directory and lands with ``os.replace``, so a reader never sees half an
object; bytes are verified against their sha256 before they land, so a cut-off or corrupt
transfer leaves nothing behind. In the cache, a file lock (``<cache>/locks/<sha256>``)
serializes two runs that fetch or store the same object at the same time; storage needs
none, since racing writers rename identical verified bytes into place.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from mlgate.errors import ConfigError, DataError
from mlgate.storage.copies import Copies
from mlgate.storage.files import lock_for, os_errors, temp_beside
from mlgate.storage.hashing import copy_hashing, sha256_file
from mlgate.storage.layout import Layout
from mlgate.storage.pointers import Pointer, is_sha256
from mlgate.storage.statcache import StatCache, stat_of

if TYPE_CHECKING:
    from filelock import FileLock


class TransferError(DataError):
    """Getting or storing one object failed; ``reason`` is the short why, for listings."""

    def __init__(self, message: str, *, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


class ObjectMissing(TransferError):
    """The place looked in does not have the object (``reason``: "absent", "HTTP 404")."""


class HashMismatch(TransferError):
    """Bytes did not match the sha256 or size they are supposed to have."""


class WrongSize(ConfigError):
    """The bytes are the pointer's (the sha256 matches) but its ``size`` is not: the
    pointer is wrong, and the bytes must be kept (they may be the only copy)."""


# --- paths and atomic writes -------------------------------------------------------------


def object_relpath(sha256: str) -> str:
    """``sha256/3f/1d...`` (62 hex): where an object lives under a cache or storage root."""
    # Validating here also keeps a hostile "sha" from becoming a path like ../../x.
    if not is_sha256(sha256):
        raise DataError(f"{sha256!r} is not a sha256 digest (64 lowercase hex digits)")
    return f"sha256/{sha256[:2]}/{sha256[2:]}"


def short(sha256: str) -> str:
    return sha256[:12] + "…"


# --- hashing -----------------------------------------------------------------------------


def copy_verified(src: Path, dest: Path, sha256: str, *, sync: bool = True) -> None:
    """Copy ``src`` to ``dest``, hashing while copying; HashMismatch when it is not ``sha256``."""
    actual = copy_hashing(src, dest, sync=sync)
    if actual != sha256:
        raise HashMismatch(
            f"{src} has sha256 {short(actual)}, expected {short(sha256)}; "
            "it changed while being read, or its pointer is stale",
            reason=f"sha256 {short(actual)} differs",
        )


def verify(
    path: Path, ptr: Pointer, *, stats: StatCache | None = None, hashed: str | None = None
) -> None:
    """HashMismatch unless ``path`` holds exactly the pointer's bytes; WrongSize when it
    does but the pointer's size is not theirs. With ``stats``, a file whose stat is
    unchanged since it was last hashed is not read again (the stat cache's rules: size,
    times, inode; nothing trusted within 2 s of a change). ``hashed``: the sha256 of the
    bytes, computed while they were written to ``path`` (a download), so not read again."""
    size = path.stat().st_size
    if hashed is not None:
        actual = hashed
    else:
        actual = sha256_file(path) if stats is None else stats.digest(path, sha256_file)
    if size != ptr.size and actual == ptr.sha256:
        raise WrongSize(
            f"says {ptr.size} bytes, but the data with sha256 {short(actual)} has {size} "
            f"bytes; set size: {size}",
            key="size",
        )
    if size != ptr.size:
        raise HashMismatch(
            f"{path} has {size} bytes, expected {ptr.size}",
            reason=f"corrupt: {size} bytes, expected {ptr.size}",
        )
    if actual != ptr.sha256:
        raise HashMismatch(
            f"{path} has sha256 {short(actual)}, expected {short(ptr.sha256)}",
            reason=f"corrupt: sha256 {short(actual)}",
        )


def intact(path: Path, sha256: str) -> bool:
    """Whether ``path`` exists and holds exactly the bytes of ``sha256``."""
    try:
        return sha256_file(path) == sha256
    except FileNotFoundError:
        return False


# --- the local cache ---------------------------------------------------------------------


class Cache:
    """The local content-addressed cache (``Layout.objects``), the stat cache of
    working-tree files (``Layout.stat``; pass ``stats`` to tune it), and the files pulls
    wrote (``Layout.copies``), which it copies objects from when it lacks them."""

    def __init__(self, root: Path | None = None, *, stats: StatCache | None = None) -> None:
        self.layout = Layout(root) if root is not None else Layout.current()
        self.root = self.layout.root
        self.objects = self.layout.objects
        self.stats = stats if stats is not None else StatCache(self.layout.stat)
        self.copies = Copies(self.layout.copies)
        # Temp files of killed runs that writes through this cache removed, for the output.
        self.removed: list[Path] = []

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
        return lock_for(self.layout.locks / sha256)

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
        with temp_beside(self.objects / "incoming", removed=self.removed) as tmp:
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
        if intact(final, sha256):
            return final
        with temp_beside(final, removed=self.removed) as tmp:
            fill(tmp)
            os.replace(tmp, final)
        return final


# --- storage backends --------------------------------------------------------------------


# --- HTTP --------------------------------------------------------------------------------


# --- fetch -------------------------------------------------------------------------------
