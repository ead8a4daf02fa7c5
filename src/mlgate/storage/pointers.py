"""Data pointers: ``<data file>.ptr`` YAML files that git holds in place of the data.

A pointer names the bytes by content (sha256 and size) and may carry a summary (rows,
columns) so a report can show a data diff without downloading anything, plus an optional
explicit ``url`` and an optional ``source`` (where ``mlgate data bump`` gets new bytes: a
URL string, or a command as a list of arguments). Parsing is strict: a pointer is config,
and a wrong one is exit 2.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from mlgate.core.units import cut
from mlgate.core.yamlfile import remembered
from mlgate.errors import ConfigError
from mlgate.storage.layout import Layout

if TYPE_CHECKING:
    import yaml

SUFFIX = ".ptr"
KEYS = ("sha256", "size", "rows", "columns", "url", "source")  # also the order they are written in
_SHA256 = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True)
class Pointer:
    sha256: str
    size: int
    rows: int | None = None
    columns: dict[str, str] | None = None  # name -> dtype, in file order
    url: str | None = None
    source: str | tuple[str, ...] | None = None  # a URL, or a command's argv

    def dump(self) -> str:
        """The pointer as YAML, keys in the documented order, ``columns`` on one line."""
        doc: dict[str, Any] = {k: getattr(self, k) for k in KEYS if getattr(self, k) is not None}
        if self.columns is not None:
            doc["columns"] = _FlowMap(self.columns)
        if isinstance(self.source, tuple):
            doc["source"] = list(self.source)
        # PyYAML writes YAML 1.1's extra line breaks (NEL, LS, PS) raw under allow_unicode,
        # and reads them back as line breaks: escape everything when one occurs.
        raw = "".join(
            [
                *(self.columns or {}).keys(),
                *(self.columns or {}).values(),
                self.url or "",
                *source_words(self.source),
            ]
        )
        readable = not any(ch in raw for ch in _LINE_BREAKS)
        # An unbounded width keeps a wide table's columns on one line.
        import yaml  # only where pointers are written: reading one may need no PyYAML

        text: str = yaml.dump(
            doc,
            Dumper=_dumper(),
            sort_keys=False,
            default_flow_style=False,
            allow_unicode=readable,
            width=2**31,
        )
        return text


_LINE_BREAKS = ("\x85", "\u2028", "\u2029")


class _FlowMap(dict[str, str]):
    """A mapping written in flow style: ``{age: int64, plan: object}``."""


@functools.cache
def _dumper() -> type[yaml.SafeDumper]:
    import yaml

    class Dumper(yaml.SafeDumper):  # type: ignore[misc]  # no stubs for PyYAML
        pass

    Dumper.add_representer(_FlowMap, _represent_flow)
    return Dumper


def _represent_flow(dumper: yaml.SafeDumper, data: _FlowMap) -> yaml.Node:
    return dumper.represent_mapping("tag:yaml.org,2002:map", data, flow_style=True)


def source_words(source: str | tuple[str, ...] | None) -> tuple[str, ...]:
    """A source as words: the URL alone, or the command's argv."""
    if source is None:
        return ()
    return (source,) if isinstance(source, str) else source


def is_sha256(value: object) -> bool:
    return isinstance(value, str) and _SHA256.fullmatch(value) is not None


def pointer_path(data_path: str) -> str:
    """``data/train.csv`` -> ``data/train.csv.ptr``."""
    return data_path + SUFFIX


def data_path(pointer: str) -> str:
    """``data/train.csv.ptr`` -> ``data/train.csv``."""
    return pointer.removesuffix(SUFFIX)


def parse(data: bytes | str, *, where: str) -> Pointer:
    """Parse and validate a pointer; any problem is a ConfigError naming ``where`` and the key."""
    doc = _load(data, where=where)
    unknown = [str(k) for k in doc if k not in KEYS]
    if unknown:
        raise ConfigError(
            f"unknown key; a pointer has only {', '.join(KEYS)}", file=where, key=unknown[0]
        )
    return Pointer(
        sha256=_sha256(doc, where),
        size=_size(doc, where),
        rows=None if doc.get("rows") is None else _count(doc["rows"], "rows", where),
        columns=_columns(doc, where),
        url=_url(doc, where),
        source=_source(doc, where),
    )


def _load(data: bytes | str, *, where: str) -> dict[Any, Any]:
    doc = remembered("pointer", data, Layout.current().memo, lambda: _load_yaml(data, where))
    if not isinstance(doc, dict):
        raise ConfigError(
            "expected a mapping with sha256 and size (rewrite it with `mlgate data add`)",
            file=where,
        )
    return doc


def _load_yaml(data: bytes | str, where: str) -> Any:
    import yaml

    try:
        # the C loader when built: ~10x faster
        return yaml.load(data, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        problem = getattr(e, "problem", None) or "invalid YAML"
        raise ConfigError(f"not valid YAML: {problem}", file=where, line=line) from e


def _sha256(doc: dict[Any, Any], where: str) -> str:
    if "sha256" not in doc:
        raise ConfigError("missing; expected 64 lowercase hex digits", file=where, key="sha256")
    value = doc["sha256"]
    if not is_sha256(value):
        raise ConfigError(
            f"expected 64 lowercase hex digits, got {_shown(value)}", file=where, key="sha256"
        )
    return str(value)


def _size(doc: dict[Any, Any], where: str) -> int:
    if doc.get("size") is None:
        raise ConfigError("missing; expected the byte count", file=where, key="size")
    return _count(doc["size"], "size", where)


def _count(value: object, key: str, where: str) -> int:
    # bool is an int subclass, and `size: yes` is not a count.
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ConfigError(
            f"expected a non-negative integer, got {_shown(value)}", file=where, key=key
        )
    return value


def _columns(doc: dict[Any, Any], where: str) -> dict[str, str] | None:
    value = doc.get("columns")
    if value is None:
        return None
    if not isinstance(value, dict):
        raise ConfigError(
            f"expected a mapping of column name to dtype, got {_shown(value)}",
            file=where,
            key="columns",
        )
    for name, dtype in value.items():
        if not isinstance(name, str) or not isinstance(dtype, str):
            raise ConfigError(
                "expected column name and dtype as strings, got "
                f"{_shown(name)}: {_shown(dtype)} (quote them)",
                file=where,
                key="columns",
            )
    return dict(value)


def _url(doc: dict[Any, Any], where: str) -> str | None:
    value = doc.get("url")
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"expected a URL string, got {_shown(value)}", file=where, key="url")
    return value


def _source(doc: dict[Any, Any], where: str) -> str | tuple[str, ...] | None:
    value = doc.get("source")
    if value is None:
        return None
    if isinstance(value, str) and value.strip():
        return value
    if (
        isinstance(value, list)
        and value
        and all(isinstance(w, str) for w in value)
        and value[0].strip()
    ):
        return tuple(value)
    raise ConfigError(
        f"expected a URL string or a command as a list of strings, got {_shown(value)}",
        file=where,
        key="source",
    )


def _shown(value: object) -> str:
    """A pointer's value in an error: the pointer may be anything, so a bounded excerpt
    (long enough for a whole sha256)."""
    return cut(repr(value), 100)
