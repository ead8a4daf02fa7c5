"""Running base and head: a record for each, stored ones where the inputs match and fresh
runs otherwise, both sides at once. When the test data changed, the base model is also
scored on head's test rows, so the comparison is on the same data."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from mlgate.core.config import Config
from mlgate.core.record import RunRecord, Scores
from mlgate.errors import MlgateError
from mlgate.run import command, drift, runcache
from mlgate.run.sides import Side
from mlgate.run.specs import rescore_spec, scorable, train_spec
from mlgate.run.worker import Worker, answer, share_of_cpus
from mlgate.run.workspace import Workspace
from mlgate.storage.layout import Layout

Progress = Callable[[str], None]


@dataclass(frozen=True)
class PairRun:
    """Both sides' records, and whether head's test data differs from base's."""

    records: dict[str, RunRecord]
    test_changed: bool


def run_commands(sides: list[Side], work: Workspace) -> list[RunRecord]:
    """Command mode: the sides' commands at once, each in its own checkout and with its
    share of the cores through the environment (the commands are opaque to mlgate). Under
    model.repeats, repeat i of both sides runs at once; each run gets MLGATE_SEED=i (0 for
    the single run by default), so a command that seeds from it is reproducible."""
    threads = share_of_cpus(len(sides))
    order = sorted(sides, key=lambda s: s.label != "head")  # head's errors first
    found: dict[str, list[dict[str, Any]]] = {s.label: [] for s in sides}
    for seed in range(max((s.cfg.model.repeats for s in sides), default=0)):
        running = {}
        for side in order:
            count = side.cfg.model.repeats
            if seed < count:
                run = command.start(
                    side.label,
                    side.cfg,
                    work.ready(side),
                    work.tmp,
                    threads=threads,
                    seed=seed,
                )
                work.stack.callback(run.stop)
                running[side.label] = run
        for side in order:
            if side.label in running:
                raw = command.finish(running[side.label], side.cfg, keep_model=seed == 0)
                found[side.label].append(raw)
    return [RunRecord.from_dict(command.combined(found[s.label])) for s in sides]


def train(
    sides: list[Side],
    workers: Mapping[str, Worker],
    work: Workspace,
    extra: Side | None,
    head_cfg: Config | None = None,
    backfill: tuple[Side, dict[str, str]] | None = None,
) -> list[RunRecord]:
    """Estimator mode: the sides at once, two processes on the two cores, neither seeing
    the other's code. ``extra``: the side whose test rows the base is also scored on.
    ``head_cfg``: the check's (head's) config, which says what drift needs (run.drift);
    None takes no data summaries. ``backfill``: a reused side and the roles of its data
    head's worker also summarises (run.drift.backfill)."""
    memo = Layout.current().memo
    share = share_of_cpus(len(sides))
    specs = {}
    for side in sides:
        spec = train_spec(side, work, extra if side.label == "base" else None)
        if share is not None:
            spec = replace(spec, threads=share, turns=str(work.tmp / "cores.lock"))
        if head_cfg is not None:
            more = None
            if backfill is not None and side.label == "head":
                more = _backfill_files(*backfill, work)
            spec = drift.ask(spec, side, head_cfg, work.tmp, memo, more)
        specs[side.label] = spec
        workers[side.label].start(spec)
    raw = [workers[s.label].result() for s in sides]
    for side in sides:
        drift.keep(side, specs[side.label], memo, backfill[0] if backfill else None)
    return [answer(r, side=s.label, cfg=s.cfg) for s, r in zip(sides, raw, strict=True)]


def _test_changed(base: Side | None, head: Side) -> bool:
    return (
        base is not None
        and "test" in base.data
        and "test" in head.data
        and base.data["test"].sha256 != head.data["test"].sha256
    )


def _can_rescore(base: Side, head: Side, stored: RunRecord | None) -> bool:
    """The base model can be scored on head's rows only with a model file, test data and
    target on both sides, and at least one metric mlgate computes itself."""
    cfg = base.cfg
    spec = cfg.model.train
    has_model = (stored is not None and stored.model_path) or (spec is not None and spec.model)
    return bool(
        has_model
        and cfg.data.target
        and head.cfg.data.test
        and "test" in head.data
        and "test" in base.data
        and scorable(cfg)
    )


def run_pair(
    base: Side | None,
    head: Side,
    stored: Mapping[str, RunRecord | None],
    work: Workspace,
    progress: Progress,
) -> PairRun:
    """Records for both sides: ``stored`` ones (by label) where the inputs match, fresh runs
    otherwise. Workers start before data is fetched, so their imports overlap that work."""
    sides = [s for s in (base, head) if s is not None]
    test_changed = _test_changed(base, head)
    reuse = {s.label: stored.get(s.label) for s in sides}
    # A result shared as a git note has no model file to re-score on new test rows.
    kept_base = reuse.get("base")
    if test_changed and kept_base is not None and not kept_base.model_path:
        reuse["base"] = None
    fresh = [s for s in sides if reuse[s.label] is None]
    # Each side runs the way its own config says (a PR may switch modes).
    commands = [s for s in fresh if s.cfg.command_mode]
    estimators = [s for s in fresh if not s.cfg.command_mode]
    # The base's same-data scores come from its training worker when it trains in estimator
    # mode; otherwise a worker scores its stored or freshly written model.
    rescore = (
        test_changed
        and base is not None
        and base not in estimators
        and (reuse["base"] is not None or base.cfg.command_mode)
        and _can_rescore(base, head, reuse["base"])
    )
    labels = [s.label for s in estimators] + (["base-on-head"] if rescore else [])
    workers = {label: work.stack.enter_context(Worker(label, work.tmp)) for label in labels}
    reused = [s.label for s in sides if s not in fresh]
    if reused:
        progress(f"reusing the earlier run of {' and '.join(reused)} (same inputs)")
    if fresh or test_changed:
        progress("fetching data and code")
    for side in sorted(estimators, key=lambda s: s.label != "head"):  # head's errors first
        work.ready(side)
    if test_changed:
        work.prepare(head, roles=("test",))
    if fresh:
        progress(f"training {' and '.join(s.label for s in fresh)}")
    extra = head if test_changed else None
    records: dict[str, RunRecord] = dict(
        zip(
            [s.label for s in estimators],
            train(estimators, workers, work, extra, head.cfg, _backfill(base, head, fresh)),
            strict=True,
        )
    )
    records.update(zip([s.label for s in commands], run_commands(commands, work), strict=True))
    for side in fresh:
        _store(side, records[side.label])
    for side in sides:
        if side not in fresh:
            kept = reuse[side.label]
            assert kept is not None
            records[side.label] = kept.reused()
    if test_changed and base is not None and base not in estimators:
        scored, mine = _base_on_head(base, head, records, rescore, workers, work, progress)
        records["base"] = replace(records["base"], same_data=scored)
        if mine is not None:
            records["head"] = replace(records["head"], candidate=mine)
    return PairRun(records, test_changed)


def _backfill(
    base: Side | None, head: Side, fresh: list[Side]
) -> tuple[Side, dict[str, str]] | None:
    """A reused base whose data summaries are unknown, and head trains now: head's worker
    summarises base's files too (drift needs them; fetched if need be)."""
    if base is None or head not in fresh or head.cfg.command_mode:
        return None
    roles = drift.backfill(base, head, base not in fresh, Layout.current().memo)
    return (base, roles) if roles else None


def _backfill_files(
    other: Side, roles: dict[str, str], work: Workspace
) -> dict[str, tuple[Path, str]]:
    """The reused side's files to summarise: those whose bytes can be had (one that cannot
    only loses its comparison, which then says its summary is missing)."""
    found = {}
    for name, role in roles.items():
        try:
            found[name] = (work.data(other, role), other.data[role].path)
        except MlgateError:
            continue
    return found


def _store(side: Side, record: RunRecord) -> None:
    """A fresh run goes into the run cache (command mode keeps a record without a model)."""
    if record.model_path or side.cfg.command_mode:
        kept = Path(record.model_path) if record.model_path else None
        runcache.store(side.cfg.model.name, side.digest, replace(record, digest=side.digest), kept)


def _base_on_head(
    base: Side,
    head: Side,
    records: Mapping[str, RunRecord],
    rescore: bool,
    workers: Mapping[str, Worker],
    work: Workspace,
    progress: Progress,
) -> tuple[Scores, Scores | None]:
    """The stored (or command-written) base model scored on head's test rows, or why not;
    and, when head is a command's model, that model scored by the same worker on the same
    rows (its command's own figures are on data mlgate does not know)."""
    if not rescore:
        why = (
            "scoring the base model on head's rows needs model.train.model, "
            "data.test and data.target, and a metric mlgate computes itself"
        )
        return Scores(error=why), None
    model = records["base"].model_path
    if not model:
        return Scores(error="the base run kept no model file"), None
    mine = records["head"].model_path if head.cfg.command_mode else None
    progress("scoring the base model on head's test data")
    workers["base-on-head"].start(rescore_spec(base, head, work, model, head_model=mine))
    scored = RunRecord.from_dict(workers["base-on-head"].result())
    return scored.champion or Scores(), scored.candidate if mine else None
