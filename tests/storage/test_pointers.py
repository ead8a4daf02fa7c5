from __future__ import annotations

import re

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from mlgate.errors import ConfigError, ExitCode
from mlgate.storage.pointers import Pointer, data_path, parse, pointer_path

SHA = "3f1d2c4b" + "0" * 56
WHERE = "data/train.csv.ptr@abc1234"


def test_dump_writes_the_documented_layout() -> None:
    ptr = Pointer(
        sha256=SHA,
        size=1048576,
        rows=20000,
        columns={"age": "int64", "plan": "object", "label": "int64"},
        url="https://example.org/train.csv",
    )
    assert ptr.dump() == (
        f"sha256: {SHA}\n"
        "size: 1048576\n"
        "rows: 20000\n"
        "columns: {age: int64, plan: object, label: int64}\n"
        "url: https://example.org/train.csv\n"
    )


def test_dump_omits_what_is_unknown() -> None:
    assert Pointer(SHA, 0).dump() == f"sha256: {SHA}\nsize: 0\n"


def test_dump_quotes_column_names_yaml_would_misread() -> None:
    ptr = Pointer(SHA, 3, columns={"yes": "bool", "1": "int64", "a: b": "str", "#x": "str"})
    assert parse(ptr.dump(), where=WHERE) == ptr


def test_parse_accepts_bytes_and_keeps_column_order() -> None:
    text = f"sha256: {SHA}\nsize: 10\ncolumns: {{b: int64, a: float64}}\n".encode()
    ptr = parse(text, where=WHERE)
    assert ptr == Pointer(SHA, 10, columns={"b": "int64", "a": "float64"})
    assert list(ptr.columns or {}) == ["b", "a"]


def test_pointer_path_and_back() -> None:
    assert pointer_path("data/train.csv") == "data/train.csv.ptr"
    assert data_path("data/train.csv.ptr") == "data/train.csv"


# Column names and dtypes are arbitrary text (real CSV headers are), minus surrogates, which
# no UTF-8 file can hold.
texts = st.text(st.characters(exclude_categories=("Cs",)), max_size=20)
pointers = st.builds(
    Pointer,
    sha256=st.text("0123456789abcdef", min_size=64, max_size=64),
    size=st.integers(min_value=0, max_value=2**63),
    rows=st.none() | st.integers(min_value=0, max_value=2**40),
    columns=st.none() | st.dictionaries(texts, texts, max_size=6),
    url=st.none() | texts.filter(lambda s: s.strip() != ""),
)


@given(pointers)
def test_dump_parse_round_trip(ptr: Pointer) -> None:
    assert parse(ptr.dump(), where=WHERE) == ptr
    assert parse(ptr.dump().encode(), where=WHERE) == ptr


@given(st.text().filter(lambda s: re.fullmatch(r"[0-9a-f]{64}", s) is None))
def test_malformed_sha256_is_a_config_error(bad: str) -> None:
    text = yaml.safe_dump({"sha256": bad, "size": 1})
    with pytest.raises(ConfigError) as e:
        parse(text, where=WHERE)
    assert e.value.key == "sha256"
    assert e.value.file == WHERE
    assert str(e.value).startswith(f"{WHERE}: sha256: expected 64 lowercase hex digits, got ")
    assert e.value.exit_code == ExitCode.USAGE


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("size: 1\n", "sha256: missing; expected 64 lowercase hex digits"),
        (
            f"sha256: {SHA.upper()}\nsize: 1\n",
            f"sha256: expected 64 lowercase hex digits, got '{SHA.upper()}'",
        ),
        (f"sha256: {SHA}\n", "size: missing; expected the byte count"),
        (f"sha256: {SHA}\nsize: -1\n", "size: expected a non-negative integer, got -1"),
        (f"sha256: {SHA}\nsize: yes\n", "size: expected a non-negative integer, got True"),
        (f"sha256: {SHA}\nsize: '12'\n", "size: expected a non-negative integer, got '12'"),
        (f"sha256: {SHA}\nsize: 1\nrows: 1.5\n", "rows: expected a non-negative integer, got 1.5"),
        (
            f"sha256: {SHA}\nsize: 1\ncolumns: [a, b]\n",
            "columns: expected a mapping of column name to dtype, got ['a', 'b']",
        ),
        (
            f"sha256: {SHA}\nsize: 1\ncolumns: {{a: 1}}\n",
            "columns: expected column name and dtype as strings, got 'a': 1 (quote them)",
        ),
        (f"sha256: {SHA}\nsize: 1\nurl: ''\n", "url: expected a URL string, got ''"),
        (
            f"sha256: {SHA}\nsize: 1\nmd5: abc\n",
            "md5: unknown key; a pointer has only sha256, size, rows, columns, url, source",
        ),
        (
            "- a\n- b\n",
            "expected a mapping with sha256 and size (rewrite it with `mlgate data add`)",
        ),
        ("", "expected a mapping with sha256 and size (rewrite it with `mlgate data add`)"),
    ],
)
def test_bad_pointer_names_where_and_key(text: str, message: str) -> None:
    with pytest.raises(ConfigError) as e:
        parse(text, where=WHERE)
    assert str(e.value) == f"{WHERE}: {message}"


def test_invalid_yaml_names_the_line() -> None:
    with pytest.raises(ConfigError) as e:
        parse(f"sha256: {SHA}\nsize: [1\n", where=WHERE)
    assert e.value.file == WHERE
    assert e.value.line == 3
    assert str(e.value).startswith(f"{WHERE}:3: not valid YAML: ")
