"""The fetch loop: a verified copy of an object in the local cache, from the first place
that has it. ``first_of`` is the loop itself, shared by mlgate's pointers (sha256) and
DVC-tracked files (md5, storage.dvc): each place is tried in order, and every failure is
noted with its reason, so a miss names every place looked and why it did not serve."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TypeVar

from mlgate.errors import DataError
from mlgate.http import redact_url
from mlgate.storage.backends import backend_for, download, exists
from mlgate.storage.files import copy_file, os_errors, temp_beside
from mlgate.storage.hashing import copy_hashing
from mlgate.storage.objects import (
    Cache,
    HashMismatch,
    ObjectMissing,
    TransferError,
    WrongSize,
    short,
    verify,
)
from mlgate.storage.pointers import Pointer
from mlgate.storage.statcache import StatCache, stat_of

T = TypeVar("T")


def first_of(places: Iterable[tuple[str, Callable[[], T]]], looked: list[str]) -> T | None:
    """The result of the first place whose attempt succeeds; each TransferError is noted in
    ``looked`` as ``label (reason)`` and the next place tried. None when none served."""
    for label, attempt in places:
        try:
            return attempt()
        except TransferError as e:
            looked.append(f"{label} ({e.reason})")
    return None


def not_found(what: str, looked: list[str]) -> DataError:
    return DataError(f"data object for {what} not found; looked in " + ", ".join(looked))


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
    the files pulls wrote (storage.copies); ``storage``; ``ptr.url``. DataError naming
    ``name`` and every place looked otherwise; ConfigError naming it when the bytes are
    found but the pointer's size is wrong.
    """
    try:
        return _fetch(ptr, name, cache, storage, local, local_label)
    except WrongSize as e:
        raise e.located(file=name, line=None) from None


def _fetch(
    ptr: Pointer,
    name: str,
    cache: Cache,
    storage: str | None,
    local: Path | None,
    local_label: str | None,
) -> Path:
    with os_errors(f"cannot fetch {name} into the cache {cache.root}"), cache.lock(ptr.sha256):
        looked: list[str] = []
        found = _cached(ptr, cache, looked)
        if found is None:
            places = _sources(ptr, cache, storage, local, local_label, looked)
            found = first_of(
                ((label, partial(_install, ptr, cache, fill)) for label, fill in places), looked
            )
        if found is not None:
            return found
    raise not_found(f"{name} (sha256 {short(ptr.sha256)})", looked)


def place(ptr: Pointer, dest: Path, *, name: str, cache: Cache, storage: str | None) -> None:
    """The pointer's verified bytes at ``dest``, flushed to disk (``data pull``).

    A kernel copy of the cache's object when it has one; else one pass straight from the
    first place that has them (a file another pull wrote, ``storage``, ``ptr.url``),
    written and hashed at once like the storage library's own download, and noted in
    ``cache.copies`` instead of copied into the cache too. ``dest`` changes in one rename,
    after the bytes are verified. Errors as ``fetch``.
    """
    try:
        with os_errors(f"cannot write {dest}"), cache.lock(ptr.sha256):
            # Under the object's lock, so a second pull of the same bytes (another path,
            # another clone) waits and then copies this one's file instead of downloading.
            looked: list[str] = []
            found = _cached(ptr, cache, looked)
            with temp_beside(dest) as tmp:
                if found is not None:
                    if copy_file(found, tmp) != ptr.size:
                        raise DataError(f"{found} changed while it was copied to {dest}")
                else:
                    places = _sources(ptr, cache, storage, None, None, looked)
                    attempts = ((label, partial(_synced, fill, tmp)) for label, fill in places)
                    if first_of(attempts, looked) is None:
                        raise not_found(f"{name} (sha256 {short(ptr.sha256)})", looked)
                os.replace(tmp, dest)
            if found is None:
                cache.copies.note(dest, ptr.sha256)
    except WrongSize as e:
        raise e.located(file=name, line=None) from None


def _synced(fill: Fill, tmp: Path) -> bool:
    fill(tmp)
    # Handed to the user, not rebuilt like a cache object: on disk before its rename.
    with tmp.open("rb") as f:
        os.fsync(f.fileno())
    return True


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
        # Not the bytes of its name (verify hashed it; a wrong size alone raised WrongSize):
        # a torn write, bit rot or a tampered cache. Drop it and fetch a good copy.
        final.unlink(missing_ok=True)
        looked.append(f"cache {final} ({e.reason}, removed)")
        return None


@dataclass(frozen=True)
class Located:
    """Where ``fetch`` would get an object's bytes, found without downloading them."""

    place: str | None  # the first place that has them; None: none has
    local: Path | None  # a local copy of them (the cache's, or the working file)
    looked: tuple[str, ...]  # the places before it, each with why it did not serve


def locate(
    ptr: Pointer, *, cache: Cache, storage: str | None, local: Path | None, local_label: str
) -> Located:
    """``fetch``'s places in ``fetch``'s order, asked whether they have the pointer's bytes:
    the cache by its object's size (the bytes were verified when they were put), the
    working file by size and sha256 (the stat cache spares re-reading an unchanged file),
    storage and the pointer's url by a stat or an HTTP HEAD, so nothing is downloaded.
    DataError when storage cannot be asked."""
    looked: list[str] = []
    obj = cache.path_for(ptr.sha256)
    if obj.is_file() and obj.stat().st_size == ptr.size:
        return Located("cache", obj, ())
    looked.append("cache (absent)")
    if local is not None and local.is_file():
        if local.stat().st_size == ptr.size and cache.sha256_of(local) == ptr.sha256:
            return Located(f"working tree {local_label}", local, tuple(looked))
        looked.append(f"working tree {local_label} (modified)")
    elif local is not None:
        looked.append(f"working tree {local_label} (absent)")
    for copy in cache.copies.of(ptr.sha256):
        # Unchanged since a pull wrote these bytes (by its stat); fetch hashes it on the way.
        return Located(f"copy {copy}", copy, tuple(looked))
    if storage is None:
        looked.append("storage (none configured)")
    elif backend_for(storage).has(ptr.sha256):
        return Located(f"storage {redact_url(storage)}", None, tuple(looked))
    else:
        looked.append(f"storage {redact_url(storage)} (absent)")
    if ptr.url is not None:
        if exists(ptr.url):
            return Located(f"url {redact_url(ptr.url)}", None, tuple(looked))
        looked.append(f"url {redact_url(ptr.url)} (absent)")
    return Located(None, None, tuple(looked))


Fill = Callable[[Path], None]


def _sources(
    ptr: Pointer,
    cache: Cache,
    storage: str | None,
    local: Path | None,
    local_label: str | None,
    looked: list[str],
) -> Iterator[tuple[str, Fill]]:
    """(label, fill) per place to try; a fill leaves verified bytes at the temp path."""
    if local is not None:
        label = f"working tree {local_label or local}"
        yield label, lambda tmp: _from_local(local, ptr, tmp, cache.stats)
    for copy in cache.copies.of(ptr.sha256):
        yield f"copy {copy}", partial(_from_copy, copy, ptr, cache)
    if storage is None:
        looked.append("storage (none configured)")
    else:
        backend = backend_for(storage)
        fill = _verified(ptr, lambda tmp: backend.get(ptr.sha256, tmp))
        yield f"storage {redact_url(storage)}", fill
    if ptr.url is not None:
        url = ptr.url
        yield f"url {redact_url(url)}", _verified(ptr, lambda tmp: download(url, tmp))


def _verified(ptr: Pointer, fill: Callable[[Path], str | None]) -> Fill:
    """``fill``, then a check of what it wrote: by the sha256 ``fill`` computed on the way
    when it did (a bucket's download: no second read), else by reading it."""

    def fill_and_verify(tmp: Path) -> None:
        verify(tmp, ptr, hashed=fill(tmp))

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


def _from_copy(copy: Path, ptr: Pointer, cache: Cache, tmp: Path) -> None:
    """A file a pull wrote, hashed while copied: used only if it still holds the bytes."""
    try:
        actual = copy_hashing(copy, tmp, sync=False)
    except FileNotFoundError as e:
        raise ObjectMissing(f"{copy} does not exist", reason="absent") from e
    try:
        verify(tmp, ptr, hashed=actual)
    except HashMismatch:
        cache.copies.forget(copy, ptr.sha256)  # edited since its pull, within a tick
        raise


def _install(ptr: Pointer, cache: Cache, fill: Fill) -> Path:
    # The caller holds the object's lock; fill() has verified the bytes, or raised.
    final = cache.path_for(ptr.sha256)
    with temp_beside(final) as tmp:
        fill(tmp)
        os.replace(tmp, final)
    return final
