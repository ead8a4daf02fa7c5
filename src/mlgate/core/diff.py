"""What changed between base and head besides the metrics: params, data files, the gate.
Pure: from configs, params and data summaries (which pointers alone provide)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mlgate.core.config import Config
from mlgate.core.metrics import flatten
from mlgate.core.results import CodeChange, DataChange, DataSummary, ParamChange


def params_diff(
    base: Config | None,
    head: Config,
    base_params: Mapping[str, Any] | None = None,
    head_params: Mapping[str, Any] | None = None,
) -> tuple[ParamChange, ...]:
    """Changed estimator (or command) and params, nested dicts as dotted names. The params
    default to the configs' ``model.params``. No baseline: no diff."""
    if base is None:
        return ()
    old_params = base.model.params if base_params is None else base_params
    new_params = head.model.params if head_params is None else head_params
    old = {"estimator": base.model.kind, **flatten(old_params)}
    new = {"estimator": head.model.kind, **flatten(new_params)}
    changes: list[ParamChange] = []
    for name in sorted(old.keys() | new.keys(), key=lambda n: (n != "estimator", n)):
        if name not in new:
            changes.append(ParamChange(name, "removed", base=old[name]))
        elif name not in old:
            changes.append(ParamChange(name, "added", head=new[name]))
        elif old[name] != new[name]:
            changes.append(ParamChange(name, "changed", old[name], new[name]))
    return tuple(changes)


def _column_changes(old: DataSummary, new: DataSummary) -> dict[str, Any]:
    if old.columns is None or new.columns is None:
        return {}
    return {
        "columns_added": tuple(c for c in new.columns if c not in old.columns),
        "columns_removed": tuple(c for c in old.columns if c not in new.columns),
        "columns_retyped": tuple(
            (c, old.columns[c], t)
            for c, t in new.columns.items()
            if c in old.columns and old.columns[c] != t
        ),
    }


def data_diff(
    base: Mapping[str, DataSummary] | None, head: Mapping[str, DataSummary]
) -> tuple[DataChange, ...]:
    """Per data file (by path), from summaries that pointers alone provide."""
    old = {s.path: s for s in (base or {}).values()}
    new = {s.path: s for s in head.values()}
    changes: list[DataChange] = []
    for path in [*new, *(p for p in old if p not in new)]:
        a, b = old.get(path), new.get(path)
        if a is None:
            changes.append(DataChange(path, "added", None, b))
        elif b is None:
            changes.append(DataChange(path, "removed", a, None))
        elif a.sha256 == b.sha256:
            changes.append(DataChange(path, "unchanged", a, b))
        else:
            changes.append(DataChange(path, "modified", a, b, **_column_changes(a, b)))
    return tuple(changes)


def code_diff(base: Mapping[str, str], head: Mapping[str, str]) -> tuple[CodeChange, ...]:
    """Code files (path -> content hash, as the run-cache digest covers them) that were
    added, removed or modified between base and head, by path."""
    changes = []
    for path in sorted(base.keys() | head.keys()):
        old, new = base.get(path), head.get(path)
        if old == new:
            continue
        if old is None:
            changes.append(CodeChange(path, "added"))
        else:
            changes.append(CodeChange(path, "removed" if new is None else "modified"))
    return tuple(changes)


def gate_changes(base: Config | None, head: Config) -> tuple[str, ...]:
    """A PR that loosens its own gate must say so loudly in the report."""
    if base is None:
        return ()
    names = sorted(
        m for m in base.gate.keys() | head.gate.keys() if base.gate.get(m) != head.gate.get(m)
    )
    names += [
        f"gate.{key}"
        for key in ("confidence", "resamples")
        if getattr(base, key) != getattr(head, key)
    ]
    if base.drift_rule != head.drift_rule:
        names.append("gate.drift")
    if not names:
        return ()
    return (f"the gate rules changed in head for: {', '.join(names)}; head's rules apply",)
