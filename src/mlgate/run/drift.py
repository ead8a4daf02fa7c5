"""Data drift in a check: the workers summarise the frames they read, the parent compares.

Child side (``summarize``, called by run.fit with the frames already in memory): for each
data file the parent asked about, a compact summary per compared column (the features and
the target; ``core.driftstats`` says what it keeps) goes to ``{drift_out}-{role}.npz``, or,
for a file of more rows × columns than ``drift.max_cells`` when no gate rule asks for
drift, a ``{drift_out}-{role}.skipped`` file with its size.

Parent side: ``ask`` adds to a side's TrainSpec the files whose summary is not known yet;
``keep`` moves what the worker wrote into the cache's memo, keyed by the file's sha256 and
what decides the summary (target, features, task); ``for_check`` builds the report. A
comparison of two files with the same sha256 is zero drift and computes nothing; a
computed one is remembered by its two summaries' keys, so a warm check reads JSON and
imports no numpy. A base reused without summaries (a run shared as a git note, or cached
by an older mlgate) gets them from head's worker, which then also reads base's files that
differ from head's (``backfill``, ``TrainSpec.drift_extra``); a comparison still without
one is "missing", with a note.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlgate.core.drift import Comparison, DriftReport, flag, thresholds

if TYPE_CHECKING:  # the worker imports this module too: it needs none of these at run time
    from mlgate.core.config import Config
    from mlgate.core.driftstats import Summary
    from mlgate.core.results import DataSummary
    from mlgate.core.scorers import Memo
    from mlgate.run.sides import Side
    from mlgate.run.worker import TrainSpec

SUMMARY_FORMAT = 1  # bumped when what a summary keeps changes (its key changes with it)
_ROLES = ("train", "test")
_WHO = {"train": "training data", "test": "test data"}


# --- the worker ----------------------------------------------------------------------------


def summarize(spec: TrainSpec, frames: Mapping[str, Any], columns: list[str], task: str) -> None:
    """Write the summaries ``spec`` asks for (``drift_roles``) of ``frames`` (role -> the
    DataFrame the worker read); ``columns``: the compared ones, the target last. A failure
    only costs the drift section (the parent then notes the summary is missing)."""
    if not spec.drift_out:
        return
    for role in spec.drift_roles:
        frame = frames.get(role)
        if frame is not None:
            _write(spec, f"{spec.drift_out}-{role}", frame, columns, task)
    for name, (path, repo_path) in spec.drift_extra.items():
        from mlgate.storage.formats import read_frame  # pandas: the worker has it loaded

        try:
            frame = read_frame(Path(path), repo_path)
        except Exception:  # an unreadable file costs its comparison only (a note)
            continue
        present = [c for c in columns if c in frame.columns]
        _write(spec, f"{spec.drift_out}-{name}", frame, present, task)


def _write(spec: TrainSpec, base: str, frame: Any, columns: list[str], task: str) -> None:
    cells = len(frame) * len(columns)
    if spec.drift_max_cells is not None and cells > spec.drift_max_cells:
        Path(f"{base}.skipped").write_text(json.dumps([len(frame), len(columns)]))
        return
    try:
        data = _summary_bytes(frame, columns, spec.target, task == "classification")
    except Exception:  # an odd column must never fail the training: no summary, a note
        return
    Path(f"{base}.npz").write_bytes(data)


def _summary_bytes(frame: Any, columns: list[str], target: str, label_categorical: bool) -> bytes:
    from mlgate.core import driftstats  # numpy: the worker has it loaded already

    return driftstats.to_npz(summary_of(frame, columns, target, label_categorical))


def summary_of(frame: Any, columns: list[str], target: str, label_categorical: bool) -> Summary:
    """The drift summary of ``frame``'s ``columns`` (a DataFrame): what a check's worker
    keeps, and what ``mlgate monitor`` compares a batch of production inputs with."""
    import numpy as np

    from mlgate.core import driftstats  # numpy: only where frames are summarised

    found = {}
    for name in columns:
        series = frame[name]
        rows, kind = len(series), series.dtype.kind
        categorical = kind not in "iufmM" or (name == target and label_categorical)
        if categorical:
            missing = int(series.isna().sum())
            counts = series.value_counts(dropna=True, sort=False)
            values, kept, other = driftstats.top_values(
                dict(zip(counts.index.astype(str), counts.to_numpy().tolist(), strict=True)),
                rows,
                missing,
            )
            found[str(name)] = driftstats.Column(
                str(name), "categorical", rows, missing, values=values, counts=kept, other=other
            )
            continue
        if kind in "mM":  # datetimes and durations: as nanoseconds, NaT as missing
            raw = series.to_numpy()
            array = raw.astype("int64").astype(np.float64)
            array[np.isnat(raw)] = np.nan
        else:
            array = series.to_numpy(dtype=np.float64, na_value=np.nan)
        sample, missing = driftstats.numeric_sample(array)
        found[str(name)] = driftstats.Column(str(name), "numeric", rows, missing, sample=sample)
    return driftstats.Summary(len(frame), target, found)


# --- the parent: asking and keeping ------------------------------------------------------------


def summary_key(side: Side, role: str) -> str | None:
    """The memo key of the summary of ``side``'s ``role`` file: its sha256 and what decides
    which columns are summarised and how (target, features, task)."""
    summary = side.data.get(role)
    if summary is None or side.cfg.command_mode:
        return None
    cfg = side.cfg
    doc = {
        "format": SUMMARY_FORMAT,
        "sha256": summary.sha256,
        "target": cfg.data.target,
        "features": None if cfg.data.features is None else list(cfg.data.features),
        "task": cfg.model.task,
    }
    return hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()


def wanted(head_cfg: Config) -> bool:
    return head_cfg.drift.enabled or head_cfg.drift_rule is not None


def ask(
    spec: TrainSpec,
    side: Side,
    head_cfg: Config,
    out: Path,
    memo: Memo,
    extra: Mapping[str, tuple[Path, str]] | None = None,
) -> TrainSpec:
    """``spec`` asking its worker for the summaries not known yet. ``head_cfg`` decides
    (the gate is head's): off, or above ``drift.max_cells`` unless a drift rule asks.
    ``extra``: other files for it to read and summarise (``backfill``)."""
    if not wanted(head_cfg):
        return spec
    roles = [role for role in _ROLES if _unknown(summary_key(side, role), memo)]
    if not roles and not extra:
        return spec
    limit = None if head_cfg.drift_rule is not None else head_cfg.drift.max_cells
    return replace(
        spec,
        drift_out=str(out / f"{side.label}-drift"),
        drift_roles=roles,
        drift_max_cells=limit,
        drift_extra={name: [str(path), repo] for name, (path, repo) in (extra or {}).items()},
    )


def _unknown(key: str | None, memo: Memo) -> bool:
    return key is not None and memo.get(f"drift/summary/{key}.npz") is None


def backfill(base: Side | None, head: Side, reused: bool, memo: Memo) -> dict[str, str]:
    """A base reused from a git note (or a cache of an older mlgate) brings no summary of
    its data: the roles whose summary is unknown and whose file differs from head's (the
    same file needs none), by the name head's worker writes it under ("base-train"). Empty
    when the base trains now (its own worker summarises), or drift is off."""
    if base is None or not reused or base.cfg.command_mode or not wanted(head.cfg):
        return {}
    found = {}
    for role in _ROLES:
        mine, theirs = base.data.get(role), head.data.get(role)
        if mine is None or theirs is None or mine.sha256 == theirs.sha256:
            continue
        if _unknown(summary_key(base, role), memo):
            found[f"base-{role}"] = role
    return found


def keep(side: Side, spec: TrainSpec, memo: Memo, extra: Side | None = None) -> None:
    """What the worker wrote, into the memo (a skipped file: its size, for the note);
    ``extra``: the side whose files ``drift_extra`` named (the reused base)."""
    if not spec.drift_out:
        return
    written = [(name, summary_key(side, name)) for name in spec.drift_roles]
    if extra is not None:
        prefix = f"{extra.label}-"
        written += [
            (name, summary_key(extra, name.removeprefix(prefix)))
            for name in spec.drift_extra
            if name.startswith(prefix)
        ]
    for name, key in written:
        if key is None:
            continue
        for suffix in (".npz", ".skipped"):
            path = Path(f"{spec.drift_out}-{name}{suffix}")
            try:
                data = path.read_bytes()
            except OSError:
                continue
            memo.put(f"drift/summary/{key}{suffix}", data)  # a summary wins over "skipped"


# --- the parent: the report ----------------------------------------------------------------------


def for_check(base: Side | None, head: Side, memo: Memo) -> DriftReport | None:
    """The drift report of a check, or None when ``drift.enabled`` is false and no rule
    asks for it."""
    cfg = head.cfg
    if not wanted(cfg):
        return None
    limits = thresholds(cfg.drift_rule)
    report = DriftReport((), limits, cfg.drift.top, cfg.drift_rule)
    if cfg.command_mode or (base is not None and base.cfg.command_mode):
        note = "data drift is computed in estimator mode only (a command reads its own data)"
        return replace(report, notes=(note,))
    found = []
    if base is not None and "train" in base.data and "train" in head.data:
        found.append(_compare("train", (base, "train"), (head, "train"), cfg, memo))
    tests = [s.data["test"].sha256 for s in (base, head) if s is not None and "test" in s.data]
    if base is not None and len(tests) == 2 and tests[0] != tests[1]:
        found.append(_compare("test", (base, "test"), (head, "test"), cfg, memo))
    if "train" in head.data and "test" in head.data:
        found.append(_compare("train-vs-test", (head, "train"), (head, "test"), cfg, memo))
    comparisons = tuple(
        replace(c, features=tuple(flag(c.features, limits))) if c.status == "computed" else c
        for c in found
    )
    return replace(report, comparisons=comparisons)


def _compare(
    name: Any, ref: tuple[Side, str], cur: tuple[Side, str], cfg: Config, memo: Memo
) -> Comparison:
    (ref_side, ref_role), (cur_side, cur_role) = ref, cur
    a, b = ref_side.data[ref_role], cur_side.data[cur_role]
    empty = Comparison(
        name=name,
        reference=f"{ref_side.label}'s {_WHO[ref_role]}",
        current=f"{cur_side.label}'s {_WHO[cur_role]}",
        reference_path=a.path,
        current_path=b.path,
        status="unchanged",
        rows=(a.rows, b.rows),
    )
    if a.sha256 == b.sha256:
        return replace(empty, note="the same file (same sha256): no drift")
    ref_key, cur_key = summary_key(ref_side, ref_role), summary_key(cur_side, cur_role)
    if ref_key is None or cur_key is None:
        return replace(empty, status="missing", note="no data summaries")
    keys = (ref_key, cur_key)
    from mlgate import __version__

    result = hashlib.sha256(json.dumps([__version__, *keys]).encode()).hexdigest()
    known = memo.get(f"drift/result/{result}.json")
    if known is not None:
        try:
            return empty.with_stats(json.loads(known))
        except (KeyError, TypeError, ValueError, IndexError):
            pass  # damaged: computed again
    summaries = []
    for key, (side, role), data in zip(keys, (ref, cur), (a, b), strict=True):
        loaded = _load(key, memo)
        if isinstance(loaded, str):
            why = _why_missing(loaded, side, role, data, cfg)
            skipped = loaded.startswith("skipped") and "max_cells" in why
            return replace(empty, status="skipped" if skipped else "missing", note=why)
        summaries.append(loaded)
    computed = _stats(summaries[0], summaries[1])
    memo.put(f"drift/result/{result}.json", json.dumps(computed).encode())
    return empty.with_stats(computed)


def _load(key: str, memo: Memo) -> Summary | str:
    """The summary remembered under ``key``, or why there is none ("skipped R C": the
    worker skipped a file of R rows and C columns; "absent"; "damaged")."""
    data = memo.get(f"drift/summary/{key}.npz")
    if data is None:
        skipped = memo.get(f"drift/summary/{key}.skipped")
        if skipped is not None:
            try:
                rows, columns = json.loads(skipped)
                return f"skipped {int(rows)} {int(columns)}"
            except (TypeError, ValueError):
                pass
        return "absent"
    from mlgate.core import driftstats  # numpy: only when drift is computed, not remembered

    try:
        return driftstats.from_npz(data)
    except ValueError:
        return "damaged"


def _why_missing(reason: str, side: Side, role: str, data: DataSummary, cfg: Config) -> str:
    if reason.startswith("skipped"):
        _, rows, columns = reason.split()
        cells = int(rows) * int(columns)
        if cells > cfg.drift.max_cells and cfg.drift_rule is None:
            return (
                f"{data.path} ({int(rows):,} rows × {int(columns)} columns) is above "
                f"drift.max_cells {cfg.drift.max_cells:,}: skipped (raise drift.max_cells, "
                "or a gate.drift rule computes it)"
            )
        reason = "absent"
    if reason == "damaged":
        return f"the summary of {side.label}'s {data.path} is damaged; check again to rebuild it"
    return (
        f"no data summary of {side.label}'s {data.path}: its run was reused (a git note, or "
        "a run cached by an older mlgate); `mlgate check --no-cache` takes one"
    )


def _stats(reference: Summary, current: Summary) -> dict[str, Any]:
    from mlgate.core import driftstats  # numpy: only when drift is computed, not remembered

    features, sampled = driftstats.compare(reference, current)
    return {
        "rows": [reference.rows, current.rows],
        "sampled": sampled,
        "features": [f.to_dict() for f in features],
    }
