"""mlgate.yaml's JSON Schema, and its errors in words: each jsonschema error becomes
(key path, message) pairs that say what was expected and what the file has."""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, cast

from mlgate.core.yamlfile import KeyPath, key_str, located
from mlgate.errors import ConfigError
from mlgate.paths import package_file

if TYPE_CHECKING:
    from jsonschema import Draft202012Validator, ValidationError


@functools.cache
def schema_document() -> dict[str, Any]:
    text = package_file("schema", "config.schema.json").read_text("utf-8")
    return cast(dict[str, Any], json.loads(text))


@functools.cache
def _validator() -> Draft202012Validator:
    from jsonschema import Draft202012Validator

    return Draft202012Validator(schema_document())


def schema_errors(
    data: Any, file: str, lines: dict[str, int]
) -> Iterator[tuple[float, ConfigError]]:
    """(sort position, error) for every schema violation."""
    for err in _validator().iter_errors(data):
        for path, message in _explain(err):
            error = located(file, lines, message, key_str(path))
            yield _sort_position(err, path, lines, error), error


def _sort_position(
    err: ValidationError, path: KeyPath, lines: dict[str, int], error: ConfigError
) -> float:
    # A missing key sorts after the keys its mapping has, so that a misspelt key is reported
    # as unknown (naming the right spelling) rather than the right one as missing.
    if err.validator == "required" and isinstance(err.instance, dict):
        last = max((lines.get(key_str((*path, k)), 0) for k in err.instance), default=0)
        return max(last, error.line or 0) + 0.5
    return error.line or 0


_TYPE_NAMES = {
    "object": "a mapping",
    "array": "a list",
    "string": "a string",
    "number": "a number",
    "integer": "a whole number",
    "boolean": "true or false",
    "null": "nothing",
}


def show(value: Any) -> str:
    """A value as the user wrote it, short and on one line."""
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        shown = repr(value)
        return shown if len(shown) <= 80 else shown[:76] + "...'"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, (list, dict)):
        kind = "a list" if isinstance(value, list) else "a mapping"
        return kind if value else kind.replace("a ", "an empty ")
    return f"{type(value).__name__} {value}"


def _explain(err: ValidationError) -> list[tuple[KeyPath, str]]:
    """Turn one jsonschema error into (key path, human message) pairs."""
    path: KeyPath = tuple(err.absolute_path)
    hint = err.schema.get("x-expected") if isinstance(err.schema, dict) else None
    if hint and err.validator in ("minimum", "maximum"):  # a range: say both ends
        return [(path, f"expected {hint}, got {show(err.instance)}")]
    handler = _EXPLAIN.get(str(err.validator))
    if handler is not None:
        return handler(err, path)
    if hint:  # pattern, maxLength, minProperties: the schema says what it wants
        return [(path, f"expected {hint}, got {show(err.instance)}")]
    return [(path, err.message)]


def _type(err: ValidationError, path: KeyPath) -> list[tuple[KeyPath, str]]:
    wanted = err.validator_value if isinstance(err.validator_value, list) else [err.validator_value]
    names = " or ".join(_TYPE_NAMES.get(str(t), str(t)) for t in wanted)
    return [(path, f"expected {names}, got {show(err.instance)}")]


def _enum(err: ValidationError, path: KeyPath) -> list[tuple[KeyPath, str]]:
    choices = ", ".join(str(c) for c in err.validator_value)
    return [(path, f"{show(err.instance)} is not one of {choices}")]


def _const(err: ValidationError, path: KeyPath) -> list[tuple[KeyPath, str]]:
    return [(path, f"expected {show(err.validator_value)}, got {show(err.instance)}")]


def _required(err: ValidationError, path: KeyPath) -> list[tuple[KeyPath, str]]:
    missing = [k for k in err.validator_value if k not in err.instance]
    plural = "s" if len(missing) > 1 else ""
    return [(path, f"missing required key{plural} {', '.join(map(repr, missing))}")]


def _additional(err: ValidationError, path: KeyPath) -> list[tuple[KeyPath, str]]:
    allowed = list(err.schema.get("properties", {}))
    message = f"unknown key; expected one of {', '.join(allowed)}"
    return [((*path, k), message) for k in err.instance if k not in allowed]


def _unique(err: ValidationError, path: KeyPath) -> list[tuple[KeyPath, str]]:
    items = err.instance
    dups = [i for i in range(len(items)) if items[i] in items[:i]]
    return [((*path, i), f"{show(items[i])} is listed twice") for i in dups[:1]]


def _min_items(err: ValidationError, path: KeyPath) -> list[tuple[KeyPath, str]]:
    return [(path, f"expected at least {err.validator_value} entry, got {show(err.instance)}")]


def _min_length(err: ValidationError, path: KeyPath) -> list[tuple[KeyPath, str]]:
    return [(path, f"expected a non-empty string, got {show(err.instance)}")]


def _minimum(err: ValidationError, path: KeyPath) -> list[tuple[KeyPath, str]]:
    return [(path, f"expected a number >= {err.validator_value}, got {show(err.instance)}")]


_EXPLAIN: dict[str, Callable[[ValidationError, KeyPath], list[tuple[KeyPath, str]]]] = {
    "type": _type,
    "enum": _enum,
    "const": _const,
    "required": _required,
    "additionalProperties": _additional,
    "uniqueItems": _unique,
    "minItems": _min_items,
    "minLength": _min_length,
    "minimum": _minimum,
}
