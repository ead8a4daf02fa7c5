"""A repository's list of models: a root ``mlgate.yaml`` that holds ``models:``.

    version: 1
    models:
      - models/churn
      - models/forecast-*     # a pattern per path part: *, ?, [abc]

Without one, every tracked ``mlgate.yaml`` is a model. With one, the models are exactly
the directories it lists that hold a tracked ``mlgate.yaml`` (configs elsewhere, such as
examples or experiments, are not checked), and the root file is that list, not a model.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable
from typing import Any

from mlgate.core.yamlfile import located, parse
from mlgate.errors import ConfigError

KEYS = ("version", "models")


def is_manifest(data: Any) -> bool:
    """Whether a parsed ``mlgate.yaml`` is a list of models rather than a model's config."""
    return isinstance(data, dict) and "models" in data and "model" not in data


def patterns(text: str, file: str) -> list[str] | None:
    """The ``models:`` entries of a root ``mlgate.yaml``; None when it is a model's config.
    ConfigError, at its line, for anything else in it or an entry that is not a plain
    relative directory pattern."""
    data, lines = parse(text, file)
    if not is_manifest(data):
        return None
    for key in data:
        if key not in KEYS:
            raise located(
                file, lines, "not a key of a list of models (it holds only version and models)", key
            )
    if data.get("version", 1) != 1:
        raise located(file, lines, "version must be 1", "version")
    entries = data["models"]
    if not isinstance(entries, list) or not entries:
        raise located(file, lines, "must be a list of model directories", "models")
    found = []
    for i, entry in enumerate(entries):
        key = f"models[{i}]"
        if not isinstance(entry, str) or not entry.strip("/ "):
            raise located(file, lines, "each entry is a model's directory, as text", key)
        parts = entry.strip().strip("/").split("/")
        if entry.startswith("/") or any(p in ("", ".", "..") for p in parts) or "\\" in entry:
            raise located(
                file,
                lines,
                f"{entry!r} is not a directory inside the repository (like models/churn)",
                key,
            )
        found.append("/".join(parts))
    return found


def select(entries: list[str], directories: Iterable[str], file: str) -> set[str]:
    """The directories (repository paths, each holding a config) the entries name;
    ConfigError naming an entry that names none of them, which is always a mistake."""
    directories = set(directories)
    chosen: set[str] = set()
    for entry in entries:
        matched = {d for d in directories if _matches(d, entry)}
        if not matched:
            raise ConfigError(
                f"models: {entry!r} names no directory with a tracked mlgate.yaml", file=file
            )
        chosen |= matched
    return chosen


def _matches(directory: str, entry: str) -> bool:
    parts, wanted = directory.split("/"), entry.split("/")
    return len(parts) == len(wanted) and all(
        fnmatch.fnmatchcase(p, w) for p, w in zip(parts, wanted, strict=True)
    )
