"""Remembered YAML loads: a warm check reads its config and pointers without PyYAML, and
what the memo gives back is exactly what a fresh load gives."""

from __future__ import annotations

import math
import tempfile
import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from mlgate.core.yamlfile import parse, remembered
from mlgate.errors import ConfigError
from mlgate.storage.layout import Memo

CONFIG = (
    "version: 1\nmodel:\n  name: churn\n  params: {C: 0.5, max_iter: 200}\nmetrics: [accuracy]\n"
)


def _entries(memo: Memo) -> list[Path]:
    return sorted(p for p in memo.root.rglob("*") if p.is_file())


def _never() -> Any:
    raise AssertionError("loaded again although the memo has it")


def test_a_second_parse_of_the_same_text_comes_from_the_memo(tmp_path: Path) -> None:
    memo = Memo(tmp_path)
    fresh = parse(CONFIG, "mlgate.yaml", memo)
    assert fresh == parse(CONFIG, "mlgate.yaml")  # the memo changes no answer
    assert len(_entries(memo)) == 1
    assert remembered("config", CONFIG, memo, _never) == list(fresh)
    again = parse(CONFIG, "mlgate.yaml", memo)
    assert again == fresh and again[1]["model.params.C"] == 4


def test_other_bytes_or_another_kind_are_loaded_afresh(tmp_path: Path) -> None:
    memo = Memo(tmp_path)
    assert remembered("pointer", "a: 1\n", memo, lambda: {"a": 1}) == {"a": 1}
    assert remembered("pointer", "a: 2\n", memo, lambda: {"a": 2}) == {"a": 2}
    assert remembered("dvc", "a: 1\n", memo, lambda: {"a": "dvc"}) == {"a": "dvc"}
    assert len(_entries(memo)) == 3


@pytest.mark.parametrize(
    "text",
    [
        "when: 2024-05-01\n",  # a date: JSON would give back a string
        "ratio: .nan\n",  # NaN is not equal to itself, JSON writes no infinity
        "tags: !!set {a, b}\n",
        "key: !!binary aGVsbG8=\n",
        "1: one\n",  # a number as a key: JSON would give back "1"
        "a: &x [1, 2]\nb: *x\n",  # an alias: JSON would copy the shared list
    ],
)
def test_values_json_would_change_are_not_remembered(tmp_path: Path, text: str) -> None:
    memo = Memo(tmp_path)
    loaded = remembered("t", text, memo, lambda: yaml.safe_load(text))
    assert repr(loaded) == repr(yaml.safe_load(text))
    assert _entries(memo) == []


def test_an_alias_bomb_is_neither_walked_forever_nor_remembered(tmp_path: Path) -> None:
    bomb = "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{n}: &{n} [{', '.join([f'*{p}'] * 10)}]\n"
        for p, n in zip("abcdefgh", "bcdefghi", strict=True)
    )  # 10**9 strings when expanded
    memo = Memo(tmp_path)
    started = time.monotonic()
    remembered("t", bomb, memo, lambda: yaml.safe_load(bomb))
    assert time.monotonic() - started < 5
    assert _entries(memo) == []


def test_errors_are_never_remembered(tmp_path: Path) -> None:
    memo = Memo(tmp_path)
    for _ in range(2):
        with pytest.raises(ConfigError, match="invalid YAML") as e:
            parse("model: [unclosed\n", "mlgate.yaml", memo)
        assert e.value.file == "mlgate.yaml"
    assert _entries(memo) == []


def test_a_torn_entry_is_loaded_again_and_rewritten(tmp_path: Path) -> None:
    memo = Memo(tmp_path)
    parse(CONFIG, "mlgate.yaml", memo)
    (entry,) = _entries(memo)
    entry.write_bytes(b'[{"version": 1, "mod')  # a run killed mid-write on a non-atomic disk
    assert parse(CONFIG, "mlgate.yaml", memo) == parse(CONFIG, "mlgate.yaml")
    assert entry.read_bytes().startswith(b"[{") and entry.read_bytes().endswith(b"]")


def test_an_unwritable_memo_only_costs_time(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    memo = Memo(blocker)
    assert parse(CONFIG, "mlgate.yaml", memo) == parse(CONFIG, "mlgate.yaml")


plain = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)


@settings(max_examples=60, deadline=None)
@given(doc=plain)
def test_a_remembered_load_equals_a_fresh_one_type_for_type(doc: Any) -> None:
    text = yaml.safe_dump(doc, allow_unicode=True)
    with tempfile.TemporaryDirectory() as tmp:
        memo = Memo(Path(tmp))
        first = remembered("t", text, memo, lambda: yaml.safe_load(text))
        second = remembered("t", text, memo, _never)  # plain data: always remembered
    assert _same(first, yaml.safe_load(text)) and _same(second, first)


def _same(a: Any, b: Any) -> bool:
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return list(a) == list(b) and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, float):
        return a == b and math.copysign(1, a) == math.copysign(1, b)
    return bool(a == b)
