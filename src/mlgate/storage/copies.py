"""Known copies: working-tree files that ``mlgate data pull`` wrote, by the sha256 they hold.

A pull writes the bytes once, into the working tree, as the storage library's own
download would; it does not leave a second copy in the cache, which would double the
disk a large dataset takes. The pull notes the file here instead, and the cache copies
it in when something needs the object: a check of a commit (``fetch``), another clone's
pull, or a pull about to replace it with another version (it saves the old one first).

A note is only a hint of where the bytes may be. Whoever copies them hashes them on the
way and uses them only if they match, so a file edited since (or an entry left by a
killed run) costs a look, never a wrong byte. Notes that a changed stat shows to be stale
are removed when they are read.

Storage: ``<root>/<sha256>/<sha256 of the absolute path>.json`` holding the path and its
stat when the pull wrote it, each written to a temp file and renamed, like the stat cache.
Only mlgate writes here, and only for files pull placed inside a repository.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from pathlib import Path

from mlgate.storage.pointers import is_sha256
from mlgate.storage.statcache import Stat, entry_name, path_key, stat_of, write_atomically


class Copies:
    """Files outside the cache known to have held an object's bytes, under ``root``."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def note(self, path: Path, sha256: str) -> None:
        """Remember that ``path`` now holds ``sha256``."""
        entry = {"path": path_key(path), "stat": list(stat_of(path))}
        # A read-only or full cache costs a download later, nothing else.
        with contextlib.suppress(OSError):
            write_atomically(self._entry(sha256, path), json.dumps(entry).encode())

    def forget(self, path: Path, sha256: str) -> None:
        with contextlib.suppress(OSError):
            self._entry(sha256, path).unlink(missing_ok=True)

    def wrote(self, path: Path, sha256: str) -> bool:
        """Whether a pull put ``sha256`` at ``path`` (whatever has happened to it since)."""
        return self._read(self._entry(sha256, path)) is not None

    def of(self, sha256: str) -> Iterator[Path]:
        """Each noted file whose stat is unchanged since its pull: likely still the bytes.
        Entries for files that changed or are gone are removed."""
        if not is_sha256(sha256):
            return
        try:
            entries = sorted(self.root.joinpath(sha256).iterdir())
        except OSError:
            return
        for entry in entries:
            if entry.suffix != ".json":
                continue  # a temp file of a note being written
            found = self._read(entry)
            if found is None:
                continue
            path, stat = found
            try:
                # A link swapped in is not the regular file the pull wrote.
                now = None if path.is_symlink() else stat_of(path)
            except OSError:
                now = None
            if now != stat:
                with contextlib.suppress(OSError):
                    entry.unlink()
                continue
            yield path

    def _read(self, entry: Path) -> tuple[Path, Stat] | None:
        try:
            data = json.loads(entry.read_bytes())
            path, stat = Path(data["path"]), Stat(*data["stat"])
        except (OSError, ValueError, KeyError, TypeError):
            return None  # absent, or not a note this module wrote: no copy known
        if entry.name != entry_name(path) or not path.is_absolute():
            return None
        return path, stat

    def _entry(self, sha256: str, path: Path) -> Path:
        if not is_sha256(sha256):  # never a path component from elsewhere
            raise ValueError(f"{sha256!r} is not a sha256 digest")
        return self.root / sha256 / entry_name(path)
