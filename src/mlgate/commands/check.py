"""``mlgate check``: base and head -> CheckResult. No printing, no argparse.

Steps: resolve the two sides, read each side's config at its own revision, describe the
data from pointers alone, reuse stored runs whose inputs match (the run cache, or a git
note shared by CI), run the rest (run.pair), then compare them and apply head's gate.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from mlgate import git
from mlgate.core import config as config_mod
from mlgate.core import repeats
from mlgate.core.diff import code_diff, data_diff, gate_changes, params_diff
from mlgate.core.drift import checks as drift_checks
from mlgate.core.gate import Verdict, evaluate
from mlgate.core.metrics import RUNTIME_METRICS, diff_metrics
from mlgate.core.record import RunRecord
from mlgate.core.results import CheckResult, CodeChange, SideResult, UserTemplate
from mlgate.errors import UsageError
from mlgate.run import changes, drift, noise, runcache
from mlgate.run.command import interpreter
from mlgate.run.pair import PairRun, run_pair
from mlgate.run.sides import Side, describe_side, resolve_sides, side_result
from mlgate.run.workspace import Workspace
from mlgate.storage.files import atomic_write
from mlgate.storage.layout import Layout
from mlgate.storage.objects import Cache

if TYPE_CHECKING:
    from mlgate.run.notes import NoteRecord

Comparison = Literal["same-data", "own-data", "no-baseline"]
# Which runs shared as git notes a check may reuse: "local", any valid one (a user trusts
# their own clone); "signed", only the base's, signed by the base config's notes.public_key
# (`mlgate ci`: anyone who can push can write a note).
NotesPolicy = Literal["local", "signed"]


def run_check(
    cwd: str | os.PathLike[str] = ".",
    *,
    base: str | None = None,
    head: str | None = None,
    config_path: str = config_mod.DEFAULT_CONFIG,
    use_cache: bool = True,
    progress: Callable[[str], None] | None = None,
    notes_policy: NotesPolicy = "local",
    base_reason: str | None = None,
) -> CheckResult:
    """Train and evaluate base and head (or reuse runs with the same inputs); compare them;
    apply head's gate. ``use_cache=False`` retrains both sides (results are still stored).
    ``base_reason`` says how the caller chose ``base`` (the report shows it)."""
    repo = git.open_repo(cwd)
    layout = Layout.current()
    base_files, head_files, choice = resolve_sides(repo, base, head, base_reason=base_reason)
    head_cfg = config_mod.load_at(head_files, config_path, memo=layout.memo)
    if head_cfg is None:
        raise UsageError(
            f"{config_path} not found in {head_files.ref} of {git.root(repo)}; "
            "run `mlgate init` to create one"
        )
    base_cfg = config_mod.load_at(base_files, config_path, memo=layout.memo)
    head_side = describe_side("head", head_files, head_cfg, config_path)
    base_side = describe_side("base", base_files, base_cfg, config_path) if base_cfg else None
    sides = [s for s in (base_side, head_side) if s is not None]
    stored: dict[str, RunRecord | None] = {}
    warnings: list[str] = []
    if use_cache:
        stored = {s.label: runcache.lookup(s.cfg.model.name, s.digest) for s in sides}
        missing = [s for s in sides if stored[s.label] is None]
        warnings = _shared_results(git.root(repo), missing, stored, notes_policy)
    with ExitStack() as stack:
        work = Workspace(Cache(), stack)
        say = progress or _silent
        ran = run_pair(base_side, head_side, stored, work, say)
        say("comparing and applying the gate")
        result = _compare(base_side, head_side, ran, layout)
    result = replace(result, base_choice=choice, config=config_path)
    return replace(result, notes=(*result.notes, *warnings)) if warnings else result


def _shared_results(
    root: Path, sides: list[Side], stored: dict[str, RunRecord | None], policy: NotesPolicy
) -> list[str]:
    """Results that CI shared as git notes (refs/notes/mlgate) for a commit, reused when the
    digest matches: a PR then trains only its head. Data only, validated, never code; under
    the "signed" policy only the base's, and only with a valid signature. Returns the lines
    the report's notes get: which side came from a note, and which notes were ignored."""
    commits = [s for s in sides if isinstance(s.files, git.CommitFiles)]
    if policy == "signed":
        commits = [s for s in commits if s.label == "base"]  # the head is always run here
    if not commits:
        return []
    from mlgate.run import notes  # only when a side is missing: a cached check needs none

    if not notes.fetch(root):
        return []
    lines = []
    for side in commits:
        assert side.files.sha is not None
        found, warning = notes.read_entry(root, side.files.sha, side.cfg.model.name)
        if warning:
            lines.append(warning)
        if found is None or found.digest != side.digest:
            continue
        short = side.files.sha[:7]
        if policy == "signed":
            refusal = _unsigned(side, found)
            if refusal:
                lines.append(f"ignored the mlgate note on {short}: {refusal}; {side.label} trained")
                continue
            how = "signed with the notes.public_key of its own config"
        else:
            how = "a local check trusts its clone's notes"
        stored[side.label] = RunRecord.from_dict(found.record)
        lines.append(f"{side.label}: the run shared in {notes.NOTES_REF} for {short} ({how})")
    return lines


def _unsigned(side: Side, found: NoteRecord) -> str | None:
    """Why a note may not stand in for ``side``'s run under the "signed" policy, or None."""
    from mlgate.run import signatures  # cryptography: only when a note is weighed

    key = side.cfg.notes_key
    if key is None:
        return f"{side.cfg.file} pins no notes.public_key, so shared runs are not trusted"
    if found.signature is None:
        return "it is not signed"
    assert side.files.sha is not None
    if not signatures.verify(key, found.signature, side.files.sha, found.model, found.record):
        return "its signature does not verify against notes.public_key"
    return None


def _silent(_text: str) -> None:
    pass


def write_run_record(result: SideResult, side: Side, layout: Layout) -> str:
    """The side's run record (schema/run.schema.json) as a file, written atomically."""
    document = result.document(side.cfg.model.name, side.cfg.raw, side.digest)
    key = (result.sha or "none") + ("-dirty" if result.dirty else "")
    dest = layout.run_records / side.cfg.model.name / f"{result.label}-{key}.json"
    # Not synced: the next check rewrites a record a crash cut short (it is in the cache).
    atomic_write(dest, json.dumps(document, indent=2, default=str).encode(), sync=False)
    return str(dest)


def _runtime(side: SideResult) -> dict[str, float]:
    values = {
        "fit_time": side.fit_seconds,
        "predict_time": side.predict_seconds,
        "model_size": side.model_size,
    }
    return {k: float(v) for k, v in values.items() if v is not None}


def _compare(base: Side | None, head: Side, ran: PairRun, layout: Layout) -> CheckResult:
    sides = [s for s in (base, head) if s is not None]
    results = {}
    for side in sides:
        found = side_result(side, ran.records[side.label])
        path = write_run_record(found, side, layout)
        results[side.label] = replace(found, record_path=path)
    cfg = head.cfg
    head_res, base_res = results["head"], results.get("base")
    compared = _comparison(base, head, head_res, base_res, ran)
    names = [*cfg.evaluated_metrics, *(m for m in RUNTIME_METRICS if m in cfg.gate)]
    rows = tuple(
        diff_metrics(compared.base_values, compared.head_values, names, direction=cfg.direction)
    )
    command_mode = any(s.cfg.command_mode for s in sides)
    pair = noise.for_check(ran.records, ran.test_changed, compared.kind, command_mode)
    rows, noise_notes = noise.attach(rows, pair, cfg, layout.memo)
    base_repeats, head_repeats = _repeat_values(ran, compared, head)
    levels = {n: cfg.confidence_for(n) for n in names if n not in RUNTIME_METRICS}
    rows = repeats.attach(rows, base_repeats, head_repeats, levels)
    changed, no_changes = changes.compute(pair, cfg, layout.memo)
    verdict = changes.gated(evaluate(cfg.gate, rows), cfg, changed, no_changes)
    drifted = drift.for_check(base, head, layout.memo)
    verdict = Verdict((*verdict.checks, *drift_checks(drifted, cfg.drift_rule)))
    notes_ = [*gate_changes(base.cfg if base else None, cfg), *verdict.noise_notes, *noise_notes]
    notes_ += _training_noise(sides, ran.records)
    notes_ += _serial_on_cluster(sides, ran.records)
    if head_res.dirty:
        shown = ", ".join(head_res.dirty[:5]) + (" …" if len(head_res.dirty) > 5 else "")
        notes_.insert(
            0, f"head is the working tree with {len(head_res.dirty)} uncommitted change(s): {shown}"
        )
    return CheckResult(
        report_template=user_template(head.cfg, head.files),
        model=cfg.model.name,
        task=cfg.model.task or "command",
        base=base_res,
        head=head_res,
        rows=rows,
        rules=dict(cfg.gate),
        verdict=verdict,
        comparison=compared.kind,
        comparison_note=compared.note,
        base_on_head_data=compared.on_head,
        same_data_metrics=compared.same,
        params_diff=params_diff(
            base.cfg if base else None, cfg, base.params if base else None, head.params
        ),
        data_diff=data_diff(base.data if base else None, head.data),
        notes=tuple(notes_),
        mode="command" if cfg.command_mode else "estimator",
        code_diff=_code_diff(base, head),
        interpreter=interpreter() if cfg.command_mode else None,
        changes=changed,
        drift=drifted,
    )


def _repeat_values(
    ran: PairRun, compared: _Compared, head: Side
) -> tuple[dict[str, tuple[float, ...]], dict[str, tuple[float, ...]]]:
    """Each side's per-repeat values of the compared figures: the base's on head's rows
    where those are compared; none where mlgate scored a command's model once."""
    base = ran.records.get("base")
    head_values = dict(ran.records["head"].repeats)
    if base is None:
        return {}, head_values
    base_values = dict(base.repeats)
    if compared.on_head is not None and base.same_data is not None:
        for name in compared.same:
            base_values[name] = base.same_data.repeats.get(name, ())
            if head.cfg.command_mode:
                head_values.pop(name, None)
    return base_values, head_values


def _training_noise(sides: list[Side], records: dict[str, RunRecord]) -> list[str]:
    """Notes on what varies between runs: random_state left unset (unless model.repeats
    seeds it), and repeats that were not needed (every random_state set)."""
    found: list[str] = []
    for side in sides:
        record, count = records[side.label], side.cfg.model.repeats
        name = side.cfg.model.kind.rpartition(".")[2].rpartition(":")[2]
        if record.unseeded and count == 1:
            params = ", ".join(record.unseeded)
            line = (
                f"{name} leaves {params} unset: results vary between runs, so mlgate "
                "trained it with 0 (on both sides alike); set random_state, or "
                "model.repeats to weigh the spread over seeds"
            )
        elif count > 1 and not record.repeats and not side.cfg.command_mode:
            line = (
                f"model.repeats is {count}, but {name} has no random_state left unset: "
                "repeats would give the same figures, so it was trained once"
            )
        else:
            continue
        found.append(f"{side.label}: {line}")
    return _merged(found)


def _serial_on_cluster(sides: list[Side], records: dict[str, RunRecord]) -> list[str]:
    """model.backend.dask: the estimators that gained nothing from the cluster (no joblib
    parallelism), which trained in mlgate's worker instead."""
    found = []
    for side in sides:
        record = records[side.label]
        if record.cluster is not None and record.serial:
            found.append(
                f"{side.label}: {', '.join(record.serial)} does not parallelize through "
                f"joblib (no n_jobs), so it trained in mlgate's worker, not on the dask "
                f"cluster {record.cluster.address}"
            )
    return _merged(found)


def _merged(found: list[str]) -> list[str]:
    """Per-side notes ("base: ...", "head: ..."), as one "base and head: ..." when equal."""
    if len(found) == 2 and found[0].partition(": ")[2] == found[1].partition(": ")[2]:
        return [f"base and head: {found[0].partition(': ')[2]}"]
    return found


def _code_diff(base: Side | None, head: Side) -> tuple[CodeChange, ...] | None:
    """The code files the digests cover that differ; None without a baseline, or when the
    two sides hash code differently (one estimator mode, the other command mode)."""
    if base is None or runcache.code_hash(base.cfg) != runcache.code_hash(head.cfg):
        return None
    return code_diff(base.code, head.code)


def user_template(cfg: config_mod.Config, files: git.Files) -> UserTemplate | None:
    """``report.template`` as it is on the side ``files`` reads (the head, rendered later
    in Jinja's sandbox)."""
    path = cfg.report_template
    if path is None:
        return None
    source = files.read(path)
    if source is None:
        raise cfg.error(f"{path} not found in {files.ref}", "report.template")
    return UserTemplate(name=path, source=source.decode("utf-8", errors="replace"))


@dataclass(frozen=True)
class _Compared:
    """What the diff compares: each side's figures, and how they were obtained."""

    kind: Comparison
    note: str  # the report's sentence for own-data: who measured what, on which rows
    base_values: dict[str, float] | None
    head_values: dict[str, float]
    on_head: dict[str, float] | None  # the base model on head's test rows
    same: tuple[str, ...]  # the metrics mlgate scored for both sides on the same rows


def _comparison(
    base: Side | None,
    head: Side,
    head_res: SideResult,
    base_res: SideResult | None,
    ran: PairRun,
) -> _Compared:
    """Same-data only when mlgate itself scored both models on the same test rows: both in
    estimator mode on unchanged test data, or both scored on head's rows when it changed.
    A figure a command reported is its own, on whatever data it chose (own-data)."""
    head_values = {**head_res.metrics, **_runtime(head_res)}
    if base is None or base_res is None:
        return _Compared("no-baseline", "", None, head_values, None, ())
    own = {**base_res.metrics, **_runtime(base_res)}
    wanted = [m for m in head.cfg.evaluated_metrics if m not in RUNTIME_METRICS]
    if not ran.test_changed:
        if not base.cfg.command_mode and not head.cfg.command_mode:
            return _Compared("same-data", "", own, head_values, None, tuple(wanted))
        return _Compared("own-data", _own_note(base, head, None), own, head_values, None, ())
    same_data = ran.records["base"].same_data
    on_head = None if same_data is None else same_data.metrics
    if on_head is None:
        reason = (same_data.error if same_data is not None else None) or "unknown reason"
        return _Compared("own-data", _own_note(base, head, reason), own, head_values, None, ())
    on_head = dict(on_head)
    by_mlgate = head_res.metrics if not head.cfg.command_mode else _scored(ran.records["head"])
    same = tuple(m for m in wanted if m in on_head and m in by_mlgate)
    base_values = {**own, **{m: on_head[m] for m in same}}
    head_values.update({m: by_mlgate[m] for m in same})
    rest = [m for m in wanted if m not in same]
    if not rest:
        return _Compared("same-data", "", base_values, head_values, on_head, same)
    if not same:  # base on head's rows beside head's own report would mix two measures
        note = (
            "mlgate scored the base model on head's test data, but not head's "
            "model; the table compares each side's own figures on its own data."
        )
        return _Compared("own-data", note, own, head_values, on_head, ())
    note = (
        f"mlgate scored {', '.join(same)} for both models on head's test data; "
        f"{', '.join(rest)} {'is' if len(rest) == 1 else 'are'} what each side reported "
        "on its own data (a command's own metric)."
    )
    return _Compared("own-data", note, base_values, head_values, on_head, same)


def _scored(record: RunRecord) -> dict[str, float]:
    """A command's model as mlgate scored it on head's test rows (empty when it was not)."""
    return dict(record.candidate.metrics or {}) if record.candidate else {}


def _own_note(base: Side, head: Side, reason: str | None) -> str:
    """The sentence for an own-data comparison: who measured each side, and why not both
    on the same rows (``reason``: the test data changed, but that scoring failed)."""
    commands = [s.label for s in (base, head) if s.cfg.command_mode]
    why = ""
    if reason is not None:
        why = f" The test data changed, but a same-data comparison is impossible: {reason}."
    if len(commands) == 2:
        no_test = reason is None and not (head.cfg.data.test and "test" in head.data)
        return (
            "Each side's metrics are what its own command reported on its own data; mlgate "
            f"scored nothing{' (there is no data.test to score the models on)' if no_test else ''}."
            + why
        )
    if commands:
        other = "head" if commands[0] == "base" else "base"
        return (
            f"{other}'s metrics were scored by mlgate on its own test data; {commands[0]}'s "
            "are what its command reported, so the two were not measured on the same rows." + why
        )
    return "Each model was scored by mlgate on its own test data." + why
