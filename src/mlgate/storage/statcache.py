"""The stat cache: a working-tree file's sha256, remembered by its stat (issue 5, item 3).

``mlgate data status`` and ``check`` hash every data file of the working tree; for
gigabytes that takes seconds each run. Like git's index, we remember the digest together
with the file's (size, mtime_ns, ctime_ns, inode, device) and trust it while that stat is
unchanged, so an unchanged file is never read again.

Storage: one small JSON file per path, ``<root>/<sha256 of the absolute path>.json``,
written to a temp file and renamed into place. Chosen over one sqlite3 database because a
rename is atomic on every local filesystem and needs no lock, so two processes can never
corrupt the cache or block each other (the last writer of an entry wins, and both wrote
a true entry); sqlite's locking is unreliable on network home directories (NFS), where a
cache often lives, and a "database is locked" error would need handling of its own. A
repository has few data files, so a file per path stays small. Anything unreadable or
malformed is a miss, never an error: the cache only ever saves work.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

# "Racy git": timestamps are coarse (one kernel tick, ~4 ms, on Linux; 1-2 s on some
# filesystems), so a file written again within the tick of the hash we remember would
# keep its size and times while holding other bytes. We remember a digest only when the
# file's mtime AND ctime are this much older than the moment we started reading it; a
# file changed more recently is re-hashed on every run until it has been quiet that long.
# git applies the rule to mtime only (https://git-scm.com/docs/racy-git); ctime too
# closes the case of a rewrite that puts the old mtime back within one tick, at the cost
# of one more hash of a file that was just touched. Two seconds also covers FAT's 2 s
# mtime resolution and small clock skew between a client and an NFS server.
RACY_NS = 2_000_000_000

_SHA256 = re.compile(r"[0-9a-f]{64}")


class Stat(NamedTuple):
    """What must not change for a remembered digest to hold. ``ctime_ns`` catches a
    rewrite whose mtime was put back (``touch -r``, ``os.utime``): the kernel sets ctime
    on every change and no call sets it back."""

    size: int
    mtime_ns: int
    ctime_ns: int
    inode: int
    device: int


def stat_of(path: Path) -> Stat:
    st = os.stat(path)
    return Stat(st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino, st.st_dev)


class StatCache:
    """Digests of working-tree files under ``root``, with hit and miss counters."""

    def __init__(self, root: Path, *, racy_ns: int = RACY_NS) -> None:
        self.root = root
        self.racy_ns = racy_ns
        self.hits = 0
        self.misses = 0

    def lookup(self, path: Path) -> str | None:
        """The remembered sha256 of ``path`` if its stat is unchanged; None otherwise."""
        try:
            return self._get(path, stat_of(path))
        except OSError:
            return None

    def digest(self, path: Path, read: Callable[[Path], str]) -> str:
        """The sha256 of ``path``: remembered, else ``read(path)``, remembered when safe.

        ``read`` returns the digest of the bytes it read (it may copy them on the way).
        """
        before = stat_of(path)
        known = self._get(path, before)
        if known is not None:
            return known
        started = time.time_ns()
        digest = read(path)
        self.remember(path, before, stat_of(path), digest, started_ns=started)
        return digest

    def remember(
        self, path: Path, before: Stat, after: Stat, sha256: str, *, started_ns: int
    ) -> None:
        """Keep ``sha256`` for ``path`` if the file was not changing: the same stat before
        and after reading it, and its mtime and ctime older than the racy window (RACY_NS)."""
        if before != after or max(before.mtime_ns, before.ctime_ns) > started_ns - self.racy_ns:
            return
        entry = {"path": path_key(path), "stat": list(before), "sha256": sha256}
        # A read-only or full cache costs a re-hash next time, nothing else.
        with contextlib.suppress(OSError):
            write_atomically(self._entry(path), json.dumps(entry).encode())

    def _get(self, path: Path, now: Stat) -> str | None:
        entry = self._read(path)
        if entry is not None and entry.get("stat") == list(now):
            sha = entry.get("sha256")
            if isinstance(sha, str) and _SHA256.fullmatch(sha):
                self.hits += 1
                return sha
        self.misses += 1
        return None

    def _read(self, path: Path) -> dict[str, object] | None:
        try:
            entry = json.loads(self._entry(path).read_bytes())
        except (OSError, ValueError):
            return None  # absent, unreadable or malformed: a miss
        if not isinstance(entry, dict) or entry.get("path") != path_key(path):
            return None
        return entry

    def _entry(self, path: Path) -> Path:
        return self.root / entry_name(path)


def entry_name(path: Path) -> str:
    """The file name of ``path``'s entry in a per-path registry: its key's sha256."""
    return hashlib.sha256(path_key(path).encode()).hexdigest() + ".json"


def path_key(path: Path) -> str:
    # Absolute, not resolved: a symlink keeps its own entry, and the stat (which follows
    # it) carries the target's inode and device, so pointing it elsewhere is a miss.
    return os.path.abspath(path)


def write_atomically(final: Path, data: bytes) -> None:
    """Write to a unique temp file beside ``final``, then rename: readers see a whole file.

    No fsync: after a crash an entry may be lost or empty, which reads as a miss.
    """
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = final.parent / f".{final.name}.{os.urandom(6).hex()}.tmp"
    try:
        with open(tmp, "xb") as f:
            f.write(data)
        os.replace(tmp, final)
    finally:
        tmp.unlink(missing_ok=True)
