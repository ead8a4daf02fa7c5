"""Files that are whole or absent: temp files beside their target renamed into place,
one-line errors for OSError, and the file locks two runs take on the same object."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from mlgate.errors import DataError

if TYPE_CHECKING:
    from filelock import FileLock


@contextmanager
def temp_beside(final: Path) -> Iterator[Path]:
    """A fresh empty temp file in ``final``'s directory, removed unless the caller moved it.

    Same directory, so ``os.replace(tmp, final)`` is an atomic rename on one filesystem.
    """
    final.parent.mkdir(parents=True, exist_ok=True)
    while True:
        tmp = final.parent / f".{final.name}.{os.urandom(6).hex()}.tmp"
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


def atomic_write(final: Path, data: bytes, *, sync: bool = True) -> None:
    """Replace ``final`` with ``data`` in one step: readers see the old or the new file.
    ``sync`` flushes it to disk first; files mlgate can rebuild (in the cache) skip that."""
    with temp_beside(final) as tmp:
        with tmp.open("wb") as f:
            f.write(data)
            if sync:
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


def lock_for(path: Path) -> FileLock:
    """The lock guarding ``path``: ``<path>.lock``, blocking until the other run is done."""
    path.parent.mkdir(parents=True, exist_ok=True)
    # No timeout: the kernel drops a dead process's flock, so waiting means a live run is
    # busy with the same object, and its result is exactly what we want.
    from filelock import FileLock  # imported here: a cached check never takes a lock

    return FileLock(f"{path}.lock")
