"""``mlgate promote`` and ``mlgate rollback``: the production branch, append-only.

Promotion trains the candidate at a revision, loads the current production model (only
after its sha256 matches lineage.json, and only with types skops trusts), scores both on the
candidate's evaluation data and applies the gate. A pass becomes one commit on the orphan
production branch plus an annotated tag, pushed atomically; a push rejected because the
branch moved is fetched, re-compared against the new champion and retried. Refusal writes
nothing. Nothing here prints, and nothing is logged to MLflow: the caller does that.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from contextlib import ExitStack
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from mlgate import git
from mlgate.commands.history import list_versions
from mlgate.core import config as config_mod
from mlgate.core import production, repeats
from mlgate.core.gate import evaluate
from mlgate.core.metrics import RUNTIME_METRICS, diff_metrics
from mlgate.core.production import Lineage
from mlgate.core.record import RunRecord, Scores, Smoke
from mlgate.core.results import Outcome
from mlgate.errors import DataError, GitError, UsageError
from mlgate.render.card import render_card
from mlgate.render.history import CHART_POINTS, chart_metric
from mlgate.run import noise, runcache
from mlgate.run.pair import run_commands
from mlgate.run.sides import Side, describe_side, side_result
from mlgate.run.specs import command_score_spec, train_spec
from mlgate.run.worker import TrainSpec, Worker, answer
from mlgate.run.workspace import Workspace
from mlgate.storage.files import lock_for
from mlgate.storage.layout import Layout
from mlgate.storage.models import verified_production_model
from mlgate.storage.objects import Cache

if TYPE_CHECKING:
    from filelock import FileLock

MAX_ATTEMPTS = 4


@dataclass
class _State:
    """The production branch as fetched: its tip, the champion, the next version."""

    tip: str | None
    next_version: int
    champion: Lineage | None
    champion_model: Path | None
    champion_card: str | None
    forgotten: tuple[str, ...] = ()  # what _forget_unpushed removed, as notes


def _now() -> str:
    return datetime.now(timezone.utc).replace(microsecond=0).isoformat()


def _sync(root: Path, remote: str | None, branch: str, glob: str) -> None:
    if remote:
        git.fetch_refs(
            root,
            remote,
            [f"+refs/heads/{branch}:refs/remotes/{remote}/{branch}", f"+{glob}:{glob}"],
        )


def _production_lock(root: Path) -> FileLock:
    """Held from a promotion's first local ref to the end of its push, and while local refs
    the remote lacks are forgotten: those of a live run in the same clone are never taken
    for a killed run's (the kernel frees a killed run's lock)."""
    common = git.run_git(["rev-parse", "--git-common-dir"], root).strip()
    return lock_for(root / common / "mlgate-production")


def _forget_unpushed(repo: git.Repo, root: Path, remote: str, branch: str, glob: str) -> list[str]:
    """Delete local tags and production commits the remote lacks: a run killed before its
    push (or a --no-push one) left them. Kept, the next version would skip their number
    and a stray tag could be pushed later; the remote's branch is the truth."""
    listed = git.run_git(["ls-remote", "--tags", "--refs", remote, glob], root).splitlines()
    theirs = {line.split("\t", 1)[-1] for line in listed}
    notes = []
    for ref in git.run_git(["for-each-ref", "--format=%(refname)", glob], root).split():
        if ref not in theirs:
            name = ref.removeprefix("refs/tags/")
            git.delete_tag(root, name)
            notes.append(
                f"deleted the local tag {name}: {remote} does not have it (an interrupted "
                "or --no-push promotion)"
            )
    branch_ref = f"refs/heads/{branch}"
    local = git.ref_sha(root, branch_ref)
    tip = git.ref_sha(root, f"refs/remotes/{remote}/{branch}")
    if local is None or local == tip or (tip and git.merge_base(repo, local, tip) == local):
        return notes  # nothing the remote lacks (at most behind it)
    if tip:
        git.move_ref(root, branch_ref, tip, local)
    else:
        git.run_git(["update-ref", "-d", branch_ref, local], root)
    notes.append(f"reset the local {branch} branch to {remote}'s: {local[:7]} was never pushed")
    return notes


def _tip(root: Path, remote: str | None, branch: str) -> str | None:
    """The remote's branch is the truth when there is a remote; else the local one."""
    ref = f"refs/remotes/{remote}/{branch}" if remote else f"refs/heads/{branch}"
    return git.ref_sha(root, ref)


def _versions(root: Path, template: str, model: str) -> list[int]:
    pattern = production.tag_pattern(template, model)
    names = git.run_git(
        ["for-each-ref", "--format=%(refname:lstrip=2)", production.tag_glob(template, model)], root
    ).split()
    return [int(m.group(1)) for n in names if (m := pattern.match(n))]


def _state(
    root: Path, repo: git.Repo, remote: str | None, cfg: config_mod.Config, tmp: Path
) -> _State:
    branch, template, model = cfg.promote.branch, cfg.promote.tag, cfg.model.name
    glob = production.tag_glob(template, model)
    forgotten: list[str] = []
    with _production_lock(root):
        _sync(root, remote, branch, glob)
        if remote:
            forgotten = _forget_unpushed(repo, root, remote, branch, glob)
    tip = _tip(root, remote, branch)
    champion = card = None
    model_path = None
    if tip:
        files = git.CommitFiles(repo, tip)
        raw = files.read(production.path(model, production.LINEAGE_FILE))
        if raw is not None:
            champion = Lineage.from_dict(json.loads(raw))
            model_path = _verified_model(files, champion, tmp, tip)
            text = files.read(production.path(model, production.CARD_FILE))
            card = None if text is None else text.decode("utf-8", errors="replace")
    known = [*_versions(root, template, model), champion.version if champion else 0]
    return _State(tip, max(known) + 1, champion, model_path, card, tuple(forgotten))


def _verified_model(files: git.CommitFiles, lineage: Lineage, tmp: Path, tip: str) -> Path:
    """The production model's bytes, written out only if they are the ones lineage names."""
    where = f"{production.path(lineage.model, production.MODEL_FILE)} at {tip[:7]}"
    return verified_production_model(
        files, lineage, tmp / f"champion-v{lineage.version}.skops", where
    )


def promote(
    cwd: str | os.PathLike[str] = ".",
    *,
    ref: str = "HEAD",
    config_path: str = config_mod.DEFAULT_CONFIG,
    dry_run: bool = False,
    push: bool = True,
    pull_request: int | None = None,
) -> Outcome:
    """Promote the model at ``ref`` if it passes the gate against the production model.
    Nothing is logged to MLflow here: the caller does that (interop.mlflow.log_promotion)."""
    repo = git.open_repo(cwd)
    root = git.root(repo)
    files = git.CommitFiles(repo, ref)
    cfg = config_mod.load_at(files, config_path, memo=Layout.current().memo)
    if cfg is None:
        raise UsageError(f"{config_path} not found at {ref}; nothing to promote")
    remote = "origin" if git.has_remote(root) else None
    with ExitStack() as stack:
        work = Workspace(Cache(), stack, prefix="mlgate-promote-")
        side = describe_side("head", files, cfg, config_path)
        work.ready(side)
        candidate = runcache.lookup(cfg.model.name, side.digest)
        reused: tuple[str, ...] = (
            (f"{files.ref} was evaluated before with the same inputs: not retrained",)
            if candidate
            else ()
        )
        for attempt in range(1, MAX_ATTEMPTS + 1):
            state = _state(root, repo, remote, cfg, work.tmp)
            reused += state.forgotten
            if state.champion and state.champion.source_commit == files.sha:
                # A re-run, or both the push and the merged-PR event of one merge.
                done = f"v{state.champion.version}"
                note = f"{files.ref} ({files.sha[:7]}) is already production {done}"
                return Outcome(cfg.model.name, False, state.champion.version, notes=(*reused, note))
            candidate, scored, measured = _evaluate(side, state, work, candidate)
            outcome = _decide(cfg, state, candidate, scored, measured, dry_run, attempt)
            document = side_result(side, candidate).document(cfg.model.name, cfg.raw, side.digest)
            outcome = replace(outcome, notes=reused + outcome.notes, run=document)
            if not outcome.promoted or dry_run:
                return _with_trend(root, cfg, outcome)
            lineage = _lineage(cfg, side, state, candidate, scored, pull_request)
            written = _write(
                root,
                remote,
                push,
                cfg,
                state,
                lineage,
                _files(cfg, lineage, candidate, side, scored, state, outcome),
            )
            if written is not None:
                kept_local = remote is not None and not push
                promoted = replace(outcome, **written, attempts=attempt, kept_local=kept_local)
                return _with_trend(root, cfg, promoted)
        _restore(root, remote, cfg)
        raise GitError(
            f"could not promote {cfg.model.name} after {MAX_ATTEMPTS} attempts: the production "
            "branch kept moving; nothing was written, run it again"
        )


def _with_trend(root: Path, cfg: config_mod.Config, outcome: Outcome) -> Outcome:
    """``outcome`` with the headline metric across the production versions (its tags, one
    git call) and, when the candidate did not become a version (refused, a dry run), the
    candidate last as "head"; a rollback adds no point of its own. Tags mlgate cannot read
    leave the outcome without a chart: what was done stands, and must be reported."""
    try:
        versions = list_versions(root, cfg.model.name, tag_template=cfg.promote.tag)
    except GitError:
        return outcome
    metric = outcome.rows[0].name if outcome.rows else chart_metric(versions)
    if metric is None:
        return outcome
    candidate = outcome.commit is None and outcome.rollback_of is None and bool(outcome.rows)
    shown = versions[-(CHART_POINTS - candidate) :]
    points = [(f"v{v.version}", v.metrics.get(metric)) for v in shown]
    if candidate:
        points.append(("head", outcome.rows[0].head))
    return replace(outcome, trend_metric=metric, trend=tuple(points))


def _ask(work: Workspace, spec: TrainSpec, side: Side, *, strict: bool = True) -> RunRecord:
    """One worker run for the candidate (numbered: a retry after a race asks again). Not
    ``strict``: a failed run is an empty record (its smoke test then says "not run")."""
    label = f"promote-{len(list(work.tmp.glob('promote-*-out.json')))}"
    with Worker(label, work.tmp) as worker:
        worker.start(spec)
        raw = worker.result()
    if not strict and not raw["ok"]:
        return RunRecord()
    return answer(raw, side="candidate", cfg=side.cfg, locate=False)


def _evaluate(
    side: Side, state: _State, work: Workspace, previous: RunRecord | None
) -> tuple[RunRecord, Scores, frozenset[str]]:
    """Train the candidate once; score the (possibly new) champion on its test data. Also
    returns the candidate's metrics mlgate computed itself (not a command's report)."""
    champion = str(state.champion_model) if state.champion_model else None
    if side.cfg.command_mode:
        return _evaluate_command(side, champion, work, previous)
    spec = train_spec(side, work)
    if previous is None:
        spec = replace(spec, smoke_test=True, champion_model=champion)
    else:  # the model exists (a stored run, or an earlier attempt): score, smoke-test it
        assert previous.model_path is not None
        spec = replace(
            spec,
            score_only=True,
            champion_model=champion,
            smoke_test=previous.smoke is None,
            model_out=previous.model_path,
        )
    record = _ask(work, spec, side)
    candidate = previous or record
    if record.smoke is not None:
        candidate = replace(candidate, smoke=record.smoke)
    return candidate, _trusted(record.champion), frozenset(candidate.metrics)


def _trusted(scored: Scores | None) -> Scores:
    """The champion's scores; a champion whose file holds unvetted types stops promotion."""
    if scored is not None and scored.untrusted:
        raise DataError(scored.error or "the production model was not loaded")
    return scored or Scores()


def _evaluate_command(
    side: Side, champion: str | None, work: Workspace, previous: RunRecord | None
) -> tuple[RunRecord, Scores, frozenset[str]]:
    """Command mode: run the command once (its model file is what gets promoted), then in a
    worker smoke-test that model and score it and the champion on the same test rows."""
    cfg = side.cfg
    assert cfg.model.train is not None
    if cfg.model.train.model is None:
        raise cfg.error(
            "promotion needs the model file: set model.train.model (a .skops file the "
            "command writes)",
            "model.train",
        )
    if previous is None:
        (previous,) = run_commands([side], work)
    assert previous.model_path is not None
    spec = command_score_spec(side, work, previous.model_path, champion)
    record = _ask(work, spec, side, strict=False)
    candidate = replace(previous, smoke=record.smoke or Smoke(ok=False, error="not run"))
    mine = record.candidate.metrics if record.candidate else None
    if mine:  # the candidate measured exactly as the champion is
        assert record.candidate is not None
        kept = record.candidate.predictions
        candidate = replace(candidate, metrics={**candidate.metrics, **mine}, predictions=kept)
    return candidate, _trusted(record.champion), frozenset(mine or ())


def _decide(
    cfg: config_mod.Config,
    state: _State,
    candidate: RunRecord,
    scored: Scores,
    measured: frozenset[str],
    dry_run: bool,
    attempt: int,
) -> Outcome:
    names = list(cfg.evaluated_metrics)
    held = _champion_metrics(state, scored, measured, names)
    champion_metrics, reasons = held.values, list(held.reasons)
    # Runtime metrics in the gate are gated as check gates them (before, their rows were
    # missing and every such promotion was refused): the candidate's own run, against the
    # champion's recorded model size (its timings are not recorded: relative rules on them
    # are refused as unchecked).
    gated = [m for m in RUNTIME_METRICS if m in cfg.gate]
    runtime = {"fit_time": candidate.fit_seconds, "predict_time": candidate.predict_seconds}
    runtime["model_size"] = candidate.model_size
    mine = {**candidate.metrics, **{m: float(v) for m, v in runtime.items() if v is not None}}
    if champion_metrics is not None and state.champion and state.champion.model_size:
        champion_metrics = {**champion_metrics, "model_size": float(state.champion.model_size)}
    rows = tuple(diff_metrics(champion_metrics, mine, names + gated, direction=cfg.direction))
    recorded = "the production model's figures are the ones recorded at its promotion"
    pair = noise.for_promotion(scored, candidate) if held.kind == "same-data" else recorded
    rows, noise_notes = noise.attach(rows, pair, cfg, Layout.current().memo)
    # model.repeats: the candidate's spread against the champion, one given model (no
    # training noise of its own); a command's model scored by mlgate is repeat 0's alone.
    rescored = measured if cfg.command_mode else frozenset()
    spread = {m: v for m, v in candidate.repeats.items() if m not in rescored}
    levels = {n: cfg.confidence_for(n) for n in names}
    rows = repeats.attach(rows, {}, spread, levels, fixed_base=True)
    champion = f"production v{state.champion.version}" if state.champion else "production"
    verdict = evaluate(cfg.gate, rows, labels=(champion, "candidate"))
    notes = (*verdict.noise_notes, *noise_notes)
    reasons += [c.message for c in verdict.failed]
    if state.champion:  # a rule is applied or the promotion refused, never skipped
        reasons += [
            f"{c.metric} {c.kind} could not be checked against {champion}: {c.message}"
            for c in verdict.checks
            if c.skipped
        ]
    smoke = candidate.smoke or Smoke(ok=False)
    if not smoke.ok:
        reasons.append(f"predict smoke test failed: {smoke.error or 'not run'}")
    if candidate.model_size is None:
        reasons.append(candidate.model_error or "the model could not be saved with skops")
    tag = production.tag_name(cfg.promote.tag, cfg.model.name, state.next_version)
    return Outcome(
        model=cfg.model.name,
        promoted=not reasons,
        version=state.next_version,
        tag=tag,
        dry_run=dry_run,
        champion_version=state.champion.version if state.champion else None,
        reasons=tuple(reasons),
        notes=notes,
        comparison=held.kind,
        comparison_note=held.note,
        recorded_metrics=held.recorded,
        rows=rows,
        verdict=verdict,
        attempts=attempt,
    )


@dataclass(frozen=True)
class _Held:
    """What the candidate is held to: the champion's values, and how they were obtained."""

    kind: Literal["same-data", "recorded", "no-baseline"]
    values: dict[str, float] | None
    note: str = ""
    reasons: tuple[str, ...] = ()  # why the promotion must be refused
    recorded: tuple[str, ...] = ()  # the metrics held to the champion's recorded values


def _champion_metrics(
    state: _State, scored: Scores, measured: frozenset[str], names: list[str]
) -> _Held:
    """The champion's values to compare against. A metric counts as same-data only when
    mlgate scored both models on the candidate's test rows; for every other metric (the
    production model cannot be scored on this data, there is no data.test, or a command's
    own metric) its value as recorded at its own promotion (lineage.json) stands in, so
    every relative rule is applied, and the output says so. A metric with neither leaves
    its relative rules unchecked, and _decide refuses the promotion."""
    if state.champion is None:
        return _Held("no-baseline", None, "no production model yet: only absolute rules apply.")
    label = f"production v{state.champion.version}"
    fresh = {m: v for m, v in (scored.metrics or {}).items() if m in names and m in measured}
    rest = [m for m in names if m not in fresh]
    if not rest:
        both = f"{label} and the candidate were both scored by mlgate on the candidate's test data."
        return _Held("same-data", fresh, both)
    recorded = {m: state.champion.metrics[m] for m in rest if m in state.champion.metrics}
    why = scored.error or "the production model was not scored"
    if not fresh and not recorded:
        return _Held(
            "recorded", None, reasons=(f"{why}, and {label} records no metrics to compare against",)
        )
    if scored.metrics is not None:  # scored, but these are a command's own figures
        why = "they are what the commands reported, which mlgate cannot compute itself"
    parts = []
    if recorded:
        parts.append(
            f"relative rules compared against {label}'s recorded metrics for "
            f"{', '.join(recorded)} (lineage.json: measured on its own test data when it was "
            f"promoted): {why}"
        )
    if fresh:
        parts.append(f"{', '.join(fresh)} scored by mlgate for both on the candidate's test data")
    if missing := [m for m in rest if m not in recorded]:
        parts.append(f"{label} records no {', '.join(missing)} to compare against")
    kind: Literal["same-data", "recorded"] = "recorded" if recorded else "same-data"
    return _Held(kind, {**recorded, **fresh}, "; ".join(parts) + ".", recorded=tuple(recorded))


def _lineage(
    cfg: config_mod.Config,
    side: Side,
    state: _State,
    candidate: RunRecord,
    scored: Scores,
    pull_request: int | None,
) -> Lineage:
    assert candidate.model_path is not None and side.files.sha is not None
    data = Path(candidate.model_path).read_bytes()
    return Lineage(
        model=cfg.model.name,
        version=state.next_version,
        kind="promotion",
        source_commit=side.files.sha,
        metrics=dict(candidate.metrics),
        model_sha256=hashlib.sha256(data).hexdigest(),
        model_size=len(data),
        time=_now(),
        config=cfg.raw,
        data={role: production.DataRef(s.path, s.sha256, s.size) for role, s in side.data.items()},
        pull_request=pull_request,
        replaced_version=state.champion.version if state.champion else None,
        champion_metrics=scored.metrics,
        versions=dict(candidate.versions),
        input_schema=candidate.smoke.schema if candidate.smoke else None,
    )


def _card(
    cfg: config_mod.Config,
    lineage: Lineage,
    outcome: Outcome,
    previous: str | None,
    params: dict[str, Any],
) -> str:
    return render_card(
        lineage,
        rules=cfg.gate,
        checks=outcome.verdict.checks,
        metric_order=list(cfg.evaluated_metrics),
        task=cfg.model.task or "unknown",  # command mode may leave it out
        estimator=cfg.model.kind,
        params=params,
        command_mode=cfg.command_mode,
        previous_card=previous,
        recorded=outcome.recorded_metrics,
    )


def _files(
    cfg: config_mod.Config,
    lineage: Lineage,
    candidate: RunRecord,
    side: Side,
    scored: Scores,
    state: _State,
    outcome: Outcome,
) -> dict[str, bytes]:
    name = cfg.model.name
    assert candidate.model_path is not None
    # The card shows the run's params: command mode's params file or arguments, else
    # model.params.
    params = side.params if cfg.command_mode else cfg.model.params
    metrics = {
        "model": name,
        "version": lineage.version,
        "metrics": lineage.metrics,
        "evaluated_on": {r: {"path": d.path, "sha256": d.sha256} for r, d in lineage.data.items()},
        "champion": None
        if state.champion is None
        else {
            "version": state.champion.version,
            "metrics_on_same_data": scored.metrics,
            "comparison": outcome.comparison,  # "recorded": some metrics are its recorded ones
        },
    }
    return {
        production.path(name, production.MODEL_FILE): Path(candidate.model_path).read_bytes(),
        production.path(name, production.METRICS_FILE): _json(metrics),
        production.path(name, production.LINEAGE_FILE): _json(lineage.to_dict()),
        production.path(name, production.CARD_FILE): _card(
            cfg, lineage, outcome, state.champion_card, params
        ).encode(),
    }


def _json(value: Any) -> bytes:
    return (json.dumps(value, indent=2, sort_keys=True, default=str) + "\n").encode()


def _write(
    root: Path,
    remote: str | None,
    push: bool,
    cfg: config_mod.Config,
    state: _State,
    lineage: Lineage,
    files: dict[str, bytes],
) -> dict[str, Any] | None:
    """Commit, tag, push. None when another promotion got there first (retry)."""
    branch_ref = f"refs/heads/{cfg.promote.branch}"
    tag = production.tag_name(cfg.promote.tag, lineage.model, lineage.version)
    order = list(cfg.evaluated_metrics)
    commit = git.commit_files(
        root, state.tip, files, production.commit_message(lineage), replace_dir=lineage.model
    )
    with _production_lock(root):
        old_local = git.ref_sha(root, branch_ref)
        if not git.move_ref(root, branch_ref, commit, old_local):
            return None
        if not git.create_tag(root, tag, commit, production.tag_message(lineage, order)):
            _undo(root, branch_ref, commit, old_local, None)
            return None
        pushed = False
        if remote and push:
            ok, _ = git.push_atomic(
                root, remote, [f"{branch_ref}:{branch_ref}", f"refs/tags/{tag}:refs/tags/{tag}"]
            )
            if not ok:
                _undo(root, branch_ref, commit, old_local, tag)
                return None
            pushed = True
    card = files[production.path(lineage.model, production.CARD_FILE)].decode()
    return {
        "commit": commit,
        "tag": tag,
        "pushed": pushed,
        "card": card,
        "version": lineage.version,
    }


def _undo(root: Path, branch_ref: str, commit: str, old: str | None, tag: str | None) -> None:
    """Put the local branch (and tag) back as they were before this attempt."""
    if tag:
        git.delete_tag(root, tag)
    if old:
        git.move_ref(root, branch_ref, old, commit)
    else:
        git.run_git(["update-ref", "-d", branch_ref, commit], root)


def _restore(root: Path, remote: str | None, cfg: config_mod.Config) -> None:
    """After the last failed attempt: the local branch exactly as on the remote."""
    if not remote:
        return
    branch_ref = f"refs/heads/{cfg.promote.branch}"
    remote_tip = git.ref_sha(root, f"refs/remotes/{remote}/{cfg.promote.branch}")
    local = git.ref_sha(root, branch_ref)
    if remote_tip and local != remote_tip:
        git.move_ref(root, branch_ref, remote_tip, local)


def rollback(
    cwd: str | os.PathLike[str] = ".",
    *,
    to: int,
    config_path: str = config_mod.DEFAULT_CONFIG,
    dry_run: bool = False,
    push: bool = True,
) -> Outcome:
    """Make version ``to`` current again as a new version: append-only, no force needed."""
    repo = git.open_repo(cwd)
    root = git.root(repo)
    cfg = config_mod.load_at(git.WorkingFiles(repo), config_path, memo=Layout.current().memo)
    if cfg is None:
        raise UsageError(f"{config_path} not found in {root}; it names the model to roll back")
    remote = "origin" if git.has_remote(root) else None
    forgotten: tuple[str, ...] = ()
    with tempfile.TemporaryDirectory(prefix="mlgate-rollback-") as tmp:
        for attempt in range(1, MAX_ATTEMPTS + 1):
            state = _state(root, repo, remote, cfg, Path(tmp))
            forgotten += state.forgotten
            lineage, files = _rollback_files(root, cfg, state, to)
            outcome = Outcome(
                model=cfg.model.name,
                promoted=True,
                version=lineage.version,
                tag=production.tag_name(cfg.promote.tag, cfg.model.name, lineage.version),
                dry_run=dry_run,
                champion_version=state.champion.version if state.champion else None,
                attempts=attempt,
                rollback_of=to,
                notes=forgotten,
            )
            if dry_run:
                return _with_trend(root, cfg, outcome)
            written = _write(root, remote, push, cfg, state, lineage, files)
            if written is not None:
                kept_local = remote is not None and not push
                return _with_trend(root, cfg, replace(outcome, **written, kept_local=kept_local))
        _restore(root, remote, cfg)
        raise GitError(f"could not roll back after {MAX_ATTEMPTS} attempts; run it again")


def _rollback_files(
    root: Path, cfg: config_mod.Config, state: _State, to: int
) -> tuple[Lineage, dict[str, bytes]]:
    name = cfg.model.name
    tag = production.tag_name(cfg.promote.tag, name, to)
    commit = git.ref_sha(root, f"refs/tags/{tag}")
    if commit is None:
        known = sorted(_versions(root, cfg.promote.tag, name))
        listed = ", ".join(f"v{v}" for v in known) or "none yet"
        raise UsageError(f"there is no version {to} of {name} (tag {tag}); versions: {listed}")
    files = git.tree_files(root, commit, name)
    old = Lineage.from_dict(json.loads(files[production.path(name, production.LINEAGE_FILE)]))
    model = files.get(production.path(name, production.MODEL_FILE), b"")
    if hashlib.sha256(model).hexdigest() != old.model_sha256:
        raise DataError(f"{name}/model.skops of v{to} does not match its lineage.json sha256")
    lineage = replace(
        old,
        version=state.next_version,
        kind="rollback",
        rollback_of=to,
        replaced_version=state.champion.version if state.champion else None,
        champion_metrics=None,
        time=_now(),
    )
    card_path = production.path(name, production.CARD_FILE)
    banner = (
        f"> **v{lineage.version} is a rollback of v{to}** ({lineage.time}): the model, data and "
        f"metrics below are v{to}'s.\n\n"
    )
    files[production.path(name, production.LINEAGE_FILE)] = _json(lineage.to_dict())
    files[card_path] = banner.encode() + files.get(card_path, b"")
    return lineage, files
