"""Where sides run: verified local bytes of their data, and their checkouts.

One ``Workspace`` per check or promotion (a temporary directory, made when first needed;
the cache; and an ExitStack that removes what it made). Sides stay frozen: the workspace
remembers, per side, what it fetched and exported, so each is done once however often it
is asked for.
"""

from __future__ import annotations

import functools
from contextlib import ExitStack
from pathlib import Path

from mlgate import git
from mlgate.errors import DataError
from mlgate.run.sides import Side
from mlgate.storage import datafiles
from mlgate.storage.objects import Cache, copy_verified


class Workspace:
    """Data and code for the sides of one run, made on first use."""

    def __init__(self, cache: Cache, stack: ExitStack, prefix: str = "mlgate-") -> None:
        self.cache, self.stack, self._prefix = cache, stack, prefix
        self._data: dict[tuple[str, str], Path] = {}  # (side, role) -> verified bytes
        self._code: dict[str, Path] = {}  # side -> its checkout

    @functools.cached_property
    def tmp(self) -> Path:
        """A private temporary directory, removed with the stack; none when all was cached."""
        import tempfile  # with random and shutil, ~9 ms a cached check does not need

        return Path(self.stack.enter_context(tempfile.TemporaryDirectory(prefix=self._prefix)))

    def data(self, side: Side, role: str) -> Path:
        """The verified bytes of one of the side's data files, in the cache (fetched once)."""
        key = (side.label, role)
        if key not in self._data:
            self._data[key] = datafiles.materialize(
                side.files,
                side.data[role].path,
                cache=self.cache,
                storage=side.cfg.storage,
                base=side.cfg.base,
            )
        return self._data[key]

    def prepare(self, side: Side, roles: tuple[str, ...] = ("train", "test")) -> None:
        """Fetch the side's data for ``roles`` (those it has)."""
        for role in roles:
            if role in side.data:
                self.data(side, role)

    def checkout(self, side: Side) -> Path:
        """The side's code (the working tree, or an export of its commit); in command mode
        with every data file placed where the command expects it."""
        if side.label not in self._code:
            # A directory per side, even for one commit on both: two commands writing the
            # same outputs in one tree at once would read each other's half-written files.
            root = self.stack.enter_context(git.exported(side.files, self.tmp / side.label))
            self._code[side.label] = root
            if side.cfg.command_mode:
                self._place_data(side, root)
        return self._code[side.label]

    def ready(self, side: Side) -> Path:
        """Data and code: a side about to train."""
        self.prepare(side)
        return self.checkout(side)

    def _place_data(self, side: Side, root: Path) -> None:
        """Command mode: every data file of the side at its path in the side's checkout, the
        way the command expects to find it. An export gets copies (the command may write to
        them; the cache must stay intact). The working tree gets only what is missing, like
        ``mlgate data pull``; a local file that differs from its pointer is an error, since
        the report would claim the pointer's bytes."""
        for role, summary in side.data.items():
            dest = git.inside(root, summary.path)  # a link out must not be written through
            if summary.source in ("git", "worktree") or (dest.is_file() and not side.working_tree):
                continue  # already there: committed, the user's own file, or in the export
            if dest.is_file():
                if self.cache.sha256_of(dest) != summary.sha256:
                    raise DataError(f"{summary.path} {datafiles.differs(summary.path)}")
                continue
            dest.parent.mkdir(parents=True, exist_ok=True)
            copy_verified(self.data(side, role), dest, summary.sha256)
