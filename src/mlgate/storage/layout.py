"""The local cache directory and everything in it: the one place its layout is decided.

``$MLGATE_CACHE_DIR``, else ``$XDG_CACHE_HOME/mlgate``, else ``~/.cache/mlgate``::

    objects/sha256/<2>/<62>     data objects, content-addressed (storage.objects)
    locks/                      file locks: one per object, per DVC md5, per .gitignore
    stat/                       digests of working-tree files by their stat (storage.statcache)
    copies/<sha256>/            working-tree files that data pull wrote (storage.copies)
    summaries/<sha256>.json     rows and dtypes of known bytes (storage.formats)
    dvc-md5/<md5>[-legacy]      DVC md5 -> sha256 of bytes seen (storage.dvc)
    runs/<model>/<side>-<sha>.json   the run record of each side of each check
    runs/by-inputs/<model>/<digest>/ the run cache: record.json and model.skops (run.runcache)
    meta/valid-configs/<key>    configs that passed the schema (core.config)
    meta/scorers-sklearn-<v>.json    scikit-learn's scorer table (core.config)
    meta/jinja/                 compiled templates (render.templates)
    meta/reports/<sha256>       rendered reports by their inputs (render.report)

Every user of the cache asks this module for its place, so the layout is read in one file.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from pathlib import Path

from mlgate.storage.files import atomic_write


def cache_dir() -> Path:
    """``$MLGATE_CACHE_DIR``, else ``$XDG_CACHE_HOME/mlgate``, else ``~/.cache/mlgate``."""
    if env := os.environ.get("MLGATE_CACHE_DIR"):
        return Path(env).expanduser()
    if xdg := os.environ.get("XDG_CACHE_HOME"):
        return Path(xdg).expanduser() / "mlgate"
    return Path.home() / ".cache" / "mlgate"


@dataclass(frozen=True)
class Layout:
    """The places inside one cache root (the current one by default)."""

    root: Path

    @classmethod
    def current(cls) -> Layout:
        return cls(cache_dir())

    @property
    def objects(self) -> Path:
        return self.root / "objects"

    @property
    def locks(self) -> Path:
        return self.root / "locks"

    @property
    def stat(self) -> Path:
        return self.root / "stat"

    @property
    def copies(self) -> Path:
        return self.root / "copies"

    @property
    def summaries(self) -> Path:
        return self.root / "summaries"

    @property
    def dvc_md5(self) -> Path:
        return self.root / "dvc-md5"

    @property
    def run_records(self) -> Path:
        return self.root / "runs"

    def run_entry(self, model: str, digest: str) -> Path:
        return self.root / "runs" / "by-inputs" / model / digest

    @property
    def meta(self) -> Path:
        return self.root / "meta"

    @property
    def memo(self) -> Memo:
        """What config checks remember (core.config.Memo), under ``meta``."""
        return Memo(self.meta)

    @property
    def templates(self) -> Path:
        return self.root / "meta" / "jinja"


@dataclass(frozen=True)
class Memo:
    """Small named entries under one directory; a missing or unwritable one is no error."""

    root: Path

    def get(self, name: str) -> bytes | None:
        try:
            return (self.root / name).read_bytes()
        except OSError:
            return None

    def put(self, name: str, data: bytes) -> None:
        with contextlib.suppress(OSError):  # a read-only cache only costs time next run
            atomic_write(self.root / name, data, sync=False)  # rebuilt when lost
