"""YAML as mlgate reads its config: safe, UTF-8, and every key path located at its line.

``parse`` safe-loads the text and maps each key path ("model.task", "gate.accuracy.min",
"metrics[1]") to the line of its key (or sequence item), from the composed node tree;
``located`` makes a ConfigError at the line of a key path (or its closest parent).
Duplicate keys, non-string keys and self-referencing aliases are errors here.
``remembered`` answers a load from a ``Memo`` when the same bytes were loaded before, so a
warm check does not import PyYAML (~30 ms, a tenth of it).
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from mlgate.core.scorers import Memo
from mlgate.errors import ConfigError

if TYPE_CHECKING:
    import yaml

KeyPath = tuple[str | int, ...]


def key_str(path: Iterable[str | int]) -> str:
    """Key path as in Config.lines and ConfigError.key: ``gate.accuracy.min``, ``metrics[1]``."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else part
    return out


def _parent(key: str) -> str | None:
    if not key:
        return None
    cut = max(key.rfind("."), key.rfind("["))
    return key[:cut] if cut > 0 else ""


def line_of(lines: dict[str, int], key: str) -> int | None:
    probe: str | None = key
    while probe is not None:
        if probe in lines:
            return lines[probe]
        probe = _parent(probe)
    return None


def located(file: str, lines: dict[str, int], message: str, key: str | None) -> ConfigError:
    line = None if key is None else line_of(lines, key)
    return ConfigError(message, file=file, line=line, key=key or None)


def raise_first(errors: Iterable[tuple[float, ConfigError]]) -> None:
    """Raise the error that sorts first (by line; the first found among equals)."""
    found = list(errors)
    if found:
        raise min(found, key=lambda pair: pair[0])[1]


_STR_TAG = "tag:yaml.org,2002:str"


_MERGE_TAG = "tag:yaml.org,2002:merge"


_TAG_KINDS = {
    "tag:yaml.org,2002:bool": "true/false",
    "tag:yaml.org,2002:int": "a number",
    "tag:yaml.org,2002:float": "a number",
    "tag:yaml.org,2002:null": "null",
    "tag:yaml.org,2002:timestamp": "a date",
}


def decode(text: bytes, file: str) -> str:
    try:
        return text.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = text.count(b"\n", 0, e.start) + 1
        raise ConfigError("not UTF-8 text; save the file as UTF-8", file=file, line=line) from e


def remembered(kind: str, data: bytes | str, memo: Memo | None, load: Callable[[], Any]) -> Any:
    """``load()`` of ``data``, or what it gave for the same bytes before, from ``memo``.

    Only plain JSON values are remembered (no dates, sets, shared aliases or non-finite
    numbers), so a remembered answer equals a fresh one; errors are never remembered.
    Keyed by ``kind``, mlgate's version and the bytes."""
    if memo is None:
        return load()
    from mlgate import __version__  # the package root: its version only

    raw = data.encode() if isinstance(data, str) else data
    digest = hashlib.sha256(b"%s\0%s\0" % (kind.encode(), __version__.encode()) + raw)
    name = f"loaded/{kind}/{digest.hexdigest()}"
    if (known := memo.get(name)) is not None:
        try:
            return json.loads(known)
        except ValueError:  # a torn or foreign entry: load again and rewrite it
            pass
    value = load()
    if _plain_enough(value):
        memo.put(name, json.dumps(value, separators=(",", ":")).encode())
    return value


def _plain_enough(value: object) -> bool:
    try:
        return _plain(value, set())
    except RecursionError:  # nested deeper than the stack: load it afresh next time
        return False


def _plain(value: object, seen: set[int]) -> bool:
    """A value JSON gives back as it is. A container met twice (a YAML alias) is not:
    JSON would copy it, and walking every copy of an alias bomb would never end."""
    kind = type(value)
    if value is None or kind in (str, int, bool):
        return True
    if kind is float:
        return math.isfinite(value)  # type: ignore[arg-type]
    if kind not in (list, dict) or id(value) in seen:
        return False
    seen.add(id(value))
    if kind is list:
        return all(_plain(item, seen) for item in value)  # type: ignore[attr-defined]
    items = value.items()  # type: ignore[attr-defined]
    return all(type(k) is str and _plain(v, seen) for k, v in items)


def parse(text: str, file: str, memo: Memo | None = None) -> tuple[Any, dict[str, int]]:
    """Safe-load ``text`` and map each key path to its line (remembered in ``memo``)."""
    data, lines = remembered("config", text, memo, lambda: list(_parse(text, file)))
    return data, lines


def _parse(text: str, file: str) -> tuple[Any, dict[str, int]]:
    import yaml  # here, not at the top: a remembered parse needs no PyYAML

    try:
        return _load_yaml(text, file)
    except yaml.YAMLError as e:
        raise _yamllocated(e, text, file) from e
    except (ValueError, OverflowError) as e:  # e.g. a timestamp like 2024-13-45
        raise ConfigError(f"invalid YAML: {e}", file=file) from e
    except RecursionError:  # [[[[…: deeper than Python's stack, never a real config
        raise ConfigError("invalid YAML: nested too deeply", file=file) from None


def _load_yaml(text: str, file: str) -> tuple[Any, dict[str, int]]:
    import yaml

    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        walk = _NodeWalk(file)
        walk.lines[""] = 1 if node is None else _node_line(node)
        if node is None:
            return None, walk.lines
        walk.node(node, ())  # before construction, which flattens merge keys in place
        return loader.construct_document(node), walk.lines
    finally:
        loader.dispose()


def _yamllocated(e: yaml.YAMLError, text: str, file: str) -> ConfigError:
    import yaml

    if isinstance(e, yaml.MarkedYAMLError):
        mark = e.problem_mark or e.context_mark
        what = e.problem or e.context or "unreadable"
        if e.context and what.startswith("but "):  # "expected a single document ... but found"
            what = f"{e.context} {what}"
        return ConfigError(f"invalid YAML: {what}", file=file, line=mark.line + 1 if mark else None)
    if isinstance(e, yaml.reader.ReaderError):
        char = e.character if isinstance(e.character, int) else ord(e.character)
        line = text.count("\n", 0, e.position) + 1
        return ConfigError(
            f"invalid YAML: character #x{char:04x}: {e.reason}", file=file, line=line
        )
    return ConfigError("invalid YAML: " + " ".join(str(e).split()), file=file)


def _node_line(node: yaml.Node) -> int:
    return int(node.start_mark.line) + 1


@dataclass
class _NodeWalk:
    """Records the line of every key path; refuses non-string, duplicate and cyclic keys."""

    file: str
    lines: dict[str, int] = field(default_factory=dict)
    _done: set[int] = field(default_factory=set)
    _open: set[int] = field(default_factory=set)

    def node(self, node: yaml.Node, path: KeyPath) -> None:
        import yaml

        if id(node) in self._open:
            msg = "an alias refers to its own parent; mlgate.yaml must be plain data"
            raise ConfigError(msg, file=self.file, line=_node_line(node), key=key_str(path))
        if id(node) in self._done:  # an alias: walked already where its anchor is
            return
        self._open.add(id(node))
        if isinstance(node, yaml.MappingNode):
            self._mapping(node, path)
        elif isinstance(node, yaml.SequenceNode):
            for i, item in enumerate(node.value):
                self.lines[key_str((*path, i))] = _node_line(item)
                self.node(item, (*path, i))
        self._open.discard(id(node))
        self._done.add(id(node))

    def _mapping(self, node: yaml.MappingNode, path: KeyPath) -> None:
        seen: dict[str, int] = {}
        for key_node, value in node.value:
            if key_node.tag == _MERGE_TAG:  # `<<: *anchor`: its keys land in this mapping
                self.node(value, path)
                continue
            name = self._key_name(key_node, path)
            key, line = key_str((*path, name)), _node_line(key_node)
            if name in seen:
                msg = f"duplicate key; it is already set on line {seen[name]}"
                raise ConfigError(msg, file=self.file, line=line, key=key)
            seen[name] = self.lines[key] = line
            self.node(value, (*path, name))

    def _key_name(self, key_node: yaml.Node, path: KeyPath) -> str:
        import yaml

        if isinstance(key_node, yaml.ScalarNode) and key_node.tag == _STR_TAG:
            return str(key_node.value)
        if isinstance(key_node, yaml.ScalarNode):
            kind = _TAG_KINDS.get(key_node.tag, key_node.tag)
            msg = f"key {key_node.value!r} is read as {kind}, not a string; quote it"
        else:
            msg = "a key must be a plain string, not a list or mapping"
        line = _node_line(key_node)
        raise ConfigError(msg, file=self.file, line=line, key=key_str(path) or None)
