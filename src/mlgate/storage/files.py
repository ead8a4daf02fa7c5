"""Files that are whole or absent: temp files beside their target renamed into place (and
those a killed run left, removed by the next write there), one-line errors for OSError,
and the file locks two runs take on the same object."""

from __future__ import annotations

import errno
import os
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from mlgate.errors import DataError

if TYPE_CHECKING:
    from filelock import FileLock


# A temp file untouched this long was left by a killed run: a live writer's copy refreshes
# its mtime with every chunk it writes.
STALE_AFTER = 3600.0  # seconds

_TEMP_NAME = re.compile(r"\..+\.[0-9a-f]{12}\.tmp")  # temp_beside's names, nobody else's


def remove_stale_temps(directory: Path) -> list[Path]:
    """Remove the temp files in ``directory`` untouched for ``STALE_AFTER``; returns them.

    Age is the one rule because it is the only safe one in a directory several machines
    share (a storage mount), where no lock or pid tells a live writer from a dead one.
    """
    cutoff = time.time() - STALE_AFTER
    removed: list[Path] = []
    try:
        entries = list(os.scandir(directory))
    except OSError:
        return removed  # not there yet: nothing to clean
    for entry in entries:
        if not _TEMP_NAME.fullmatch(entry.name):
            continue
        try:
            if entry.stat(follow_symlinks=False).st_mtime < cutoff and entry.is_file(
                follow_symlinks=False
            ):
                os.unlink(entry.path)
                removed.append(Path(entry.path))
        except OSError:
            continue  # another run removed it first, or it is not ours to remove
    return removed


@contextmanager
def temp_beside(final: Path, *, removed: list[Path] | None = None) -> Iterator[Path]:
    """A fresh empty temp file in ``final``'s directory, removed unless the caller moved it.

    Same directory, so ``os.replace(tmp, final)`` is an atomic rename on one filesystem.
    Stale temp files there (a killed run's) are removed first and added to ``removed``.
    """
    final.parent.mkdir(parents=True, exist_ok=True)
    stale = remove_stale_temps(final.parent)
    if removed is not None:
        removed += stale
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


def copy_file(src: Path, dest: Path, *, sync: bool = True) -> int:
    """Copy ``src`` to ``dest`` and (``sync``) flush it to disk; returns the bytes copied.
    The kernel copies (``copy_file_range``: a shared-block clone on btrfs and XFS, no
    userspace pass anywhere), else ``shutil``. For bytes already verified: nothing here
    hashes them."""
    import shutil  # only the fallback needs it

    with src.open("rb") as fin, dest.open("wb") as fout:
        size = os.fstat(fin.fileno()).st_size
        done = 0
        copy_range = getattr(os, "copy_file_range", None)
        try:
            while copy_range is not None and done < size:
                n = copy_range(fin.fileno(), fout.fileno(), size - done, done, done)
                if n == 0:
                    break  # shorter than its size: the fallback copies what is there
                done += n
        except OSError as e:
            if done or e.errno not in NO_KERNEL_COPY:
                raise
        if done < size:
            fin.seek(done)
            fout.seek(done)
            shutil.copyfileobj(fin, fout, 1 << 20)
            done = fout.tell()
        if sync:
            os.fsync(fout.fileno())
    return done


# copy_file_range's errors that mean "not here" (another filesystem, an old kernel, a
# file system or file kind it cannot copy): a userspace copy then does the work.
NO_KERNEL_COPY = {errno.EXDEV, errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP, errno.EBADF}


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
