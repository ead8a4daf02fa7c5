"""Hashing: the one sha256 of a file every caller uses, copies that hash what they copy
(reading the source once), and DVC's md5s computed in the same pass."""

from __future__ import annotations

import errno
import hashlib
import itertools
import os
from pathlib import Path
from typing import Any, BinaryIO

from mlgate.storage.files import NO_KERNEL_COPY

# Hashing reads this much per call into one reused buffer: no new bytes object per chunk,
# and hashlib releases the GIL while it hashes it. 1 MiB runs at the disk's or the
# SHA-NI's speed (benchmarks/bench_hash.py); larger buffers measured no faster.
HASH_CHUNK = 1 << 20


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
        if e.errno in NO_KERNEL_COPY:
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


# --- DVC's md5s alongside ------------------------------------------------------------


class Digests:
    """sha256, md5 and DVC 2's CRLF->LF md5 of a byte stream, in one pass."""

    def __init__(self) -> None:
        self._sha = hashlib.sha256()
        self._md5 = hashlib.md5(usedforsecurity=False)
        self._unix = hashlib.md5(usedforsecurity=False)
        self._cr = False  # a chunk ended in \r: it may pair with the next chunk's \n
        self.size = 0

    def update(self, chunk: bytes) -> None:
        self._sha.update(chunk)
        self._md5.update(chunk)
        self.size += len(chunk)
        if self._cr:
            chunk = b"\r" + chunk
        self._cr = chunk.endswith(b"\r")
        if self._cr:
            chunk = chunk[:-1]
        self._unix.update(chunk.replace(b"\r\n", b"\n"))

    def sha256(self) -> str:
        return self._sha.hexdigest()

    def md5(self) -> str:
        return self._md5.hexdigest()

    def unix_md5(self) -> str:
        tail = self._unix.copy()
        if self._cr:
            tail.update(b"\r")
        return tail.hexdigest()


def copy_digesting(src: Path, dest: Path | None) -> Digests:
    """Read ``src`` once: hashed, and copied to ``dest`` (synced) when given."""
    digests = Digests()
    with src.open("rb") as fin:
        fout = dest.open("wb") if dest is not None else None
        try:
            while chunk := fin.read(HASH_CHUNK):
                digests.update(chunk)
                if fout is not None:
                    fout.write(chunk)
            if fout is not None:
                fout.flush()
                os.fsync(fout.fileno())
        finally:
            if fout is not None:
                fout.close()
    return digests
