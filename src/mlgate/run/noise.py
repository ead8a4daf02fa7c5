"""Noise-aware comparison, the parent's side: the paired bootstrap's interval for each
metric's change, from the two models' saved predictions on the same test rows.

The intervals depend only on the two prediction files (by sha256), the metrics, their
confidence levels and the resamples, so they are remembered in the cache's memo under that
key: a warm check (both sides from the run cache, whose records carry the files' sha256)
finds them there and imports no numpy. Computing them (core.bootstrap) reads the files with
``allow_pickle=False``, after checking they hold only stored (uncompressed) numpy arrays.
"""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from mlgate.core.config import Config
from mlgate.core.metrics import RUNTIME_METRICS, MetricDelta, Noise
from mlgate.core.record import RunRecord, Scores
from mlgate.core.scorers import Memo

_ARRAYS = {"y", "pred", "proba", "proba_labels", "decision", "pos_label", "task", "rows"}
# Also written, for the changes section (run.changes): row ids, all rows of a large test set.
_ARRAYS |= {"ids", "all_y", "all_pred", "all_labels"}


@dataclass(frozen=True)
class Kept:
    """One model's saved predictions: the file, and its sha256 when a record knows it."""

    path: str | None
    sha256: str | None = None


def weighed(cfg: Config) -> dict[str, float]:
    """The metrics whose change gets an interval, with their confidence levels: those
    mlgate computes from predictions, unless their rule (or the gate) says off."""
    found = {}
    for name in cfg.evaluated_metrics:
        level = cfg.confidence_for(name)
        if level is not None and name not in RUNTIME_METRICS and name not in cfg.custom_metrics:
            found[name] = level
    return found


def attach(
    rows: Sequence[MetricDelta],
    pair: tuple[Kept, Kept] | str,
    cfg: Config,
    memo: Memo,
) -> tuple[tuple[MetricDelta, ...], tuple[str, ...]]:
    """``rows`` with their intervals, and notes on what has none and why. ``pair``: the
    base's (or champion's) and the head's (or candidate's) predictions on the same rows,
    or the reason there are none."""
    levels = {name: level for name, level in weighed(cfg).items() if _compared(rows, name)}
    if not levels:
        return tuple(rows), ()
    if isinstance(pair, str):
        return tuple(rows), (f"no noise intervals: {pair}",)
    try:
        point = {r.name: r.delta for r in rows if r.name in levels and r.delta is not None}
        found = _intervals(pair, levels, cfg.resamples, memo, point)
    except _NoInterval as e:
        return tuple(rows), (f"no noise intervals: {e}",)
    notes = tuple(v for v in found.values() if isinstance(v, str))
    intervals = {k: v for k, v in found.items() if isinstance(v, Noise)}
    out = tuple(replace(r, noise=intervals[r.name]) if r.name in intervals else r for r in rows)
    return out, notes


def _compared(rows: Sequence[MetricDelta], name: str) -> bool:
    return any(r.name == name and r.delta is not None for r in rows)


class _NoInterval(Exception):
    """Neither metric gets an interval: the message says why."""


def _sha256(kept: Kept, who: str) -> str:
    if kept.path is None or not Path(kept.path).is_file():
        raise _NoInterval(
            f"{who}'s run has no saved predictions (a run shared as a git note keeps none)"
        )
    return kept.sha256 or hashlib.sha256(Path(kept.path).read_bytes()).hexdigest()


def _intervals(
    pair: tuple[Kept, Kept],
    levels: dict[str, float],
    resamples: int,
    memo: Memo,
    point: dict[str, float],
) -> dict[str, Noise | str]:
    from mlgate import __version__

    shas = [_sha256(kept, who) for kept, who in zip(pair, ("base", "head"), strict=True)]
    key_doc = {"mlgate": __version__, "predictions": shas, "levels": levels, "resamples": resamples}
    key = hashlib.sha256(json.dumps(key_doc, sort_keys=True).encode()).hexdigest()
    name = f"noise/{key}"
    known = memo.get(name)
    if known is not None:
        try:
            return _parse(json.loads(known))
        except (KeyError, TypeError, ValueError):
            pass  # damaged: computed again
    found = _compute(pair, shas, levels, resamples, point)
    memo.put(
        name,
        json.dumps(
            {k: v if isinstance(v, str) else v.to_dict() for k, v in found.items()}
        ).encode(),
    )
    return found


def _parse(doc: dict[str, Any]) -> dict[str, Noise | str]:
    return {k: v if isinstance(v, str) else Noise.from_dict(v) for k, v in doc.items()}


def _compute(
    pair: tuple[Kept, Kept],
    shas: list[str],
    levels: dict[str, float],
    resamples: int,
    point: dict[str, float] | None = None,
) -> dict[str, Noise | str]:
    """The intervals from the two files; ``point``: the scorers' changes on all the rows."""
    from mlgate.core import bootstrap  # numpy: only when intervals are computed, not remembered

    base, head = (_read(kept, sha) for kept, sha in zip(pair, shas, strict=True))
    tasks = {str(base.pop("task", "")), str(head.pop("task", ""))}
    if len(tasks) != 1:
        raise _NoInterval("the two models' predictions are of different tasks")
    try:
        spreads = bootstrap.paired(
            bootstrap.load(base),
            bootstrap.load(head),
            list(levels),
            classification=tasks != {"regression"},
            resamples=resamples,
            point=point,
        )
    except (ValueError, IndexError, TypeError) as e:
        raise _NoInterval(str(e)) from e
    found: dict[str, Noise | str] = {}
    for name, spread in spreads.items():
        if isinstance(spread, str):
            found[name] = spread
            continue
        low, high = spread.interval(levels[name])
        found[name] = Noise(low, high, levels[name], spread.resamples, spread.rows)
    return found


def _read(kept: Kept, sha: str) -> dict[str, Any]:
    """The arrays of a worker's predictions file: only plain numpy arrays, never pickles."""
    import numpy as np  # with core.bootstrap: the cold path only

    assert kept.path is not None
    data = Path(kept.path).read_bytes()  # read once: hashed, then parsed from memory
    if hashlib.sha256(data).hexdigest() != sha:
        raise _NoInterval(f"{kept.path} does not match its recorded sha256")
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            members = archive.infolist()
        # Stored members only: what is unpacked is no bigger than the file itself.
        if any(m.compress_type != zipfile.ZIP_STORED for m in members):
            raise ValueError("it holds compressed members")
        if not {m.filename.removesuffix(".npy") for m in members} <= _ARRAYS:
            raise ValueError("it holds arrays mlgate does not write")
        with np.load(io.BytesIO(data), allow_pickle=False) as arrays:
            found = {name: arrays[name] for name in arrays.files}
    except (OSError, ValueError, zipfile.BadZipFile) as e:
        raise _NoInterval(f"cannot read the saved predictions: {e}") from e
    if "y" not in found:
        raise _NoInterval("the saved predictions lack the test labels")
    return found


def for_check(
    records: dict[str, RunRecord], test_changed: bool, comparison: str, command_mode: bool
) -> tuple[Kept, Kept] | str:
    """The base's and head's predictions on the same rows in a check, or why there are none:
    the base model on head's rows when the test data changed, else each on its own."""
    if comparison != "same-data" or "base" not in records:
        return "the two models were not scored on the same test rows"
    if command_mode:
        return "a training command's own metrics come without per-row predictions"
    base, head = records["base"], records["head"]
    if test_changed:
        same = base.same_data
        kept = Kept(None if same is None else same.predictions)
    else:
        kept = Kept(base.predictions, base.predictions_sha256)
    return kept, Kept(head.predictions, head.predictions_sha256)


def for_promotion(champion: Scores, candidate: RunRecord) -> tuple[Kept, Kept] | str:
    """The production model's and the candidate's predictions on the candidate's test rows
    (command mode: the command's model as mlgate scored it), or why there are none."""
    if champion.metrics is None:
        return "the production model was not scored on the candidate's test rows"
    return Kept(champion.predictions), Kept(candidate.predictions, candidate.predictions_sha256)


# For run.changes, which reads the same files the same way.
NoPredictions = _NoInterval


def fingerprint(kept: Kept, who: str) -> str:
    """The file's sha256 (NoPredictions when there is none to read)."""
    return _sha256(kept, who)


def read(kept: Kept, sha: str) -> dict[str, Any]:
    """The file's arrays, checked as the intervals read them (NoPredictions saying why not)."""
    return _read(kept, sha)
