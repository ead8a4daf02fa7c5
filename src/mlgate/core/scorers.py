"""Which metric names mlgate knows, and their task: scikit-learn's scorers plus the aliases
rmse, mae and mse. Answered from the table shipped with mlgate (``schema/scorers.json``)
when it has the name, so checking a config imports no scikit-learn; other names ask the
installed scikit-learn once, remembered in a ``Memo`` the caller hands in."""

from __future__ import annotations

import contextlib
import functools
import json
from typing import Literal, Protocol, cast

from mlgate.core.metrics import ALIASES
from mlgate.paths import package_file

Task = Literal["classification", "regression"]


class Memo(Protocol):
    """Where config checks remember what costs time to compute: configs that passed the
    schema, scikit-learn's scorer table. Handed in (storage.layout.Memo, in the cache), so
    the core decides no paths; a memo that cannot be written only costs time."""

    def get(self, name: str) -> bytes | None: ...

    def put(self, name: str, data: bytes) -> None: ...

    def __hash__(self) -> int: ...  # lookups are cached per memo


@functools.cache
def known_metrics(memo: Memo | None = None) -> tuple[str, ...]:
    """Every name allowed in ``metrics``: sklearn's scorer names plus rmse, mae, mse."""
    return tuple(sorted({*_scorer_tasks(memo), *ALIASES}))


def is_known_metric(name: str, memo: Memo | None = None) -> bool:
    """A scikit-learn scorer name or an alias. Answered from the table shipped with mlgate
    when it has the name, so checking a config imports no scikit-learn (~1.7 s on a fresh
    CI machine, on the critical path); other names ask the installed scikit-learn."""
    return name in ALIASES or name in _shipped_scorers() or name in _scorer_tasks(memo)


def metric_task(name: str, memo: Memo | None = None) -> Task | None:
    """The task a metric belongs to, or None when it fits both (clustering) or is unknown."""
    if name in ALIASES:
        return "regression"
    shipped = _shipped_scorers()
    return shipped[name] if name in shipped else _scorer_tasks(memo).get(name)


@functools.cache
def _shipped_scorers() -> dict[str, Task | None]:
    """scikit-learn's scorers as of the version mlgate was released with (schema/scorers.json;
    a test keeps it equal to the installed scikit-learn's)."""
    text = package_file("schema", "scorers.json").read_text("utf-8")
    return cast(dict[str, Task | None], json.loads(text)["scorers"])


@functools.cache
def _scorer_tasks(memo: Memo | None) -> dict[str, Task | None]:
    """sklearn's scorers and their task, kept in ``memo`` per sklearn version: importing
    sklearn.metrics costs seconds, and the parent process needs only these names."""
    from importlib.metadata import version

    if memo is None:
        return _scorer_tasks_from_sklearn()
    name = f"scorers-sklearn-{version('scikit-learn')}.json"
    with contextlib.suppress(TypeError, ValueError):  # absent or damaged: computed again
        cached: dict[str, Task | None] = json.loads(memo.get(name) or b"")
        return cached
    table = _scorer_tasks_from_sklearn()
    memo.put(name, json.dumps(table).encode())
    return table


def _scorer_tasks_from_sklearn() -> dict[str, Task | None]:
    from sklearn.metrics import get_scorer, get_scorer_names

    table: dict[str, Task | None] = {}
    for name in get_scorer_names():
        func = getattr(get_scorer(name), "_score_func", None)
        module = str(getattr(func, "__module__", "")).rsplit(".", 1)[-1]
        task: Task | None = None
        if module == "_regression":
            task = "regression"
        # The likelihood-ratio scorers are defined in _scorer itself.
        elif module in ("_classification", "_ranking") or "likelihood_ratio" in str(
            getattr(func, "__name__", "")
        ):
            task = "classification"
        table[name] = task
    return table
