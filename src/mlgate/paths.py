"""Repository-relative paths. Anything that names a file in the repo goes through here,
so a config or pointer cannot reach outside the repository (``../``, absolute paths)."""

from __future__ import annotations

import posixpath
from pathlib import Path, PurePosixPath

from mlgate.errors import ConfigError

_PACKAGE = Path(__file__).resolve().parent


def package_file(*parts: str) -> Path:
    """A file shipped inside mlgate (schemas, tables, templates). From the package's own
    directory: importlib.resources costs ~6 ms on every start, and mlgate ships unzipped."""
    return _PACKAGE.joinpath(*parts)


def repo_relpath(path: str, *, key: str | None = None, file: str | None = None) -> str:
    """Normalize ``path`` to a clean POSIX path inside the repo, or raise ConfigError (exit 2)."""
    raw = path.replace("\\", "/")
    norm = posixpath.normpath(raw) if raw else raw
    if (
        not raw
        or PurePosixPath(raw).is_absolute()
        or (len(raw) > 1 and raw[1] == ":")  # C:/... on Windows
        or norm == ".."
        or norm.startswith("../")
        or norm == "."
    ):
        raise ConfigError(
            f"path {path!r} is outside the repository; use a path relative to the repo root",
            key=key,
            file=file,
        )
    return norm
