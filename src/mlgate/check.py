"""``mlgate check``: base and head -> CheckResult. No printing, no argparse.

Steps: resolve the two sides, read each side's config at its own revision, describe the
data from pointers alone, fetch verified bytes, then fit and score both sides in parallel
processes. When the test data differs, the base model is also scored on head's test rows
so the diff compares two models on the same data.
"""

from __future__ import annotations

import functools
import json
import os
import posixpath
import tempfile
from collections.abc import Callable, Mapping
from contextlib import ExitStack
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from mlgate import config as config_mod
from mlgate import data as data_mod
from mlgate import git, runcache
from mlgate.config import Config
from mlgate.errors import ConfigError, DataError, UsageError
from mlgate.gate import evaluate
from mlgate.metrics import RUNTIME_METRICS, diff_metrics
from mlgate.results import (
    CheckResult,
    DataChange,
    DataSummary,
    ParamChange,
    SideResult,
    UserTemplate,
)
from mlgate.store import Cache, atomic_write, cache_dir, copy_verified

if TYPE_CHECKING:  # train (and its dataclasses) load only when a side must run
    from mlgate.train import TrainSpec, Worker


@dataclass
class _Side:
    label: Literal["base", "head"]
    files: git.CommitFiles | git.WorkingFiles
    cfg: Config
    data: dict[str, DataSummary]
    config_path: str = config_mod.DEFAULT_CONFIG
    paths: dict[str, Path] = field(default_factory=dict)  # role -> verified local bytes
    code_root: Path | None = None  # set by prepare(), only for a side that trains
    cached: dict[str, Any] | None = None  # a stored run with the same inputs
    # The run's parameters: model.params, or command mode's params file at this side.
    params: dict[str, Any] = field(default_factory=dict)

    @functools.cached_property
    def digest(self) -> str:
        """The run-cache key: everything that decides this side's result."""
        return runcache.digest(self.files, self.cfg, self.data)


def resolve_sides(
    repo: Any, base: str | None, head: str | None
) -> tuple[git.CommitFiles, git.CommitFiles | git.WorkingFiles]:
    """``--head`` defaults to the working tree, ``--base`` to the merge-base with the
    default branch (which is HEAD itself when you are on the default branch)."""
    head_files = git.files_at(repo, head)
    if base is not None:
        return git.CommitFiles(repo, base), head_files
    tip = head_files.sha
    if tip is None:
        raise UsageError(f"{git.root(repo)} has no commits yet; commit a baseline first")
    default = git.default_branch(repo)
    if default is None:
        raise UsageError(
            "cannot tell the default branch (no origin/HEAD, main or master); pass --base REV"
        )
    default_sha = git.resolve(repo, default)
    merge_base = git.merge_base(repo, default_sha, tip)
    if merge_base is None:
        raise UsageError(f"{head or 'HEAD'} shares no history with {default}; pass --base REV")
    base_files = git.CommitFiles(repo, merge_base)
    base_files.ref = default if merge_base == default_sha else f"merge-base with {default}"
    return base_files, head_files


def _describe(files: git.Files, cfg: Config) -> dict[str, DataSummary]:
    found: dict[str, DataSummary] = {}
    for role in ("train", "test"):
        path = getattr(cfg.data, role)
        if path is None:  # command mode may leave data out
            continue
        summary = data_mod.describe(files, path, base=cfg.base)
        if summary is None:
            raise cfg.error(
                f"{path} not found in {files.ref}: neither {path} nor {path}.ptr "
                f"nor {path}.dvc exists",
                f"data.{role}",
            )
        found[role] = summary
    if cfg.command_mode:  # the command may read any pointed file: each is an input
        listed = {s.path for s in found.values()}
        for path in _pointed(files, cfg):
            if path in listed:
                continue
            try:
                summary = data_mod.describe(files, path, base=cfg.base)
            except DataError:
                continue  # e.g. a DVC directory output: only listed data must be usable
            if summary is not None:
                found[path] = summary
    return found


def _pointed(files: git.Files, cfg: Config) -> list[str]:
    """Data paths behind the pointers on this side, under the config's directory: mlgate's
    ``.ptr`` files and DVC's ``.dvc`` files (not its ``.dvc/`` directory)."""
    suffixes = (".ptr", ".dvc")
    if isinstance(files, git.WorkingFiles):
        paths = data_mod.pointed_files(files.root, suffixes)
    else:
        listed = files.list_files(cfg.base)
        paths = [p[: -len(".ptr")] for p in listed if p.endswith(suffixes)]  # both 4 chars
    prefix = f"{cfg.base}/" if cfg.base else ""
    return sorted(
        {p for p in paths if p.startswith(prefix) and not (p.startswith(".dvc/") or "/.dvc/" in p)}
    )


def _params(files: git.Files, cfg: Config) -> dict[str, Any]:
    """The run's parameters: ``model.params`` or command mode's params file, plus, in a DVC
    pipeline repository, the params DVC tracks (``params.yaml``, ``dvc.lock``) by file."""
    spec = cfg.model.train
    found: dict[str, Any] = {}
    if spec is None:
        found = dict(cfg.model.params)
    elif spec.params is not None:
        from mlgate.command import read_params

        found = read_params(files.read(spec.params), git.where_at(files, spec.params))
    if _dvc_pipeline(files, cfg):
        from mlgate.dvcfiles import dvc_params

        own = spec.params if spec is not None else None
        for name, values in dvc_params(files, cfg.base).items():
            if name != own:  # command mode's own params file is already shown, unprefixed
                found[name] = values
    return found


def _dvc_pipeline(files: git.Files, cfg: Config) -> bool:
    places = dict.fromkeys(["", cfg.base])
    return any(
        files.read(posixpath.join(p, name)) is not None
        for p in places
        for name in ("dvc.yaml", "dvc.lock")
    )


def describe_side(
    label: Literal["base", "head"],
    files: git.CommitFiles | git.WorkingFiles,
    cfg: Config,
    config_path: str = config_mod.DEFAULT_CONFIG,
) -> _Side:
    """What a side is, from pointers and git alone: no download, no export."""
    return _Side(label, files, cfg, _describe(files, cfg), config_path, params=_params(files, cfg))


def prepare(
    side: _Side,
    cache: Cache,
    stack: ExitStack,
    tmp: Path,
    roles: tuple[str, ...] = ("train", "test"),
    code: bool = True,
) -> None:
    """Verified local bytes of the side's data, and its code, for a side that must run."""
    for role in roles:
        if role in side.data:
            _local_copy(side, role, cache)
    if code and side.code_root is None:
        side.code_root = stack.enter_context(git.exported(side.files, tmp))
        if side.cfg.command_mode:
            _place_data(side, cache)


def _local_copy(side: _Side, role: str, cache: Cache) -> Path:
    """The verified bytes of one of the side's data files, in the cache (fetched once)."""
    if role not in side.paths:
        side.paths[role] = data_mod.materialize(
            side.files,
            side.data[role].path,
            cache=cache,
            storage=side.cfg.storage,
            base=side.cfg.base,
        )
    return side.paths[role]


def _place_data(side: _Side, cache: Cache) -> None:
    """Command mode: every data file of the side at its path in the side's checkout, the way
    the command expects to find it. An export gets copies (the command may write to them;
    the cache must stay intact). The working tree gets only what is missing, like
    ``mlgate data pull``; a local file that differs from its pointer is an error, since the
    report would claim the pointer's bytes."""
    assert side.code_root is not None
    working = isinstance(side.files, git.WorkingFiles)
    for role, summary in side.data.items():
        dest = side.code_root / summary.path
        if summary.source in ("git", "worktree") or (dest.is_file() and not working):
            continue  # already there: committed, the user's own file, or in the export
        if dest.is_file():
            if cache.sha256_of(dest) != summary.sha256:
                raise DataError(
                    f"{summary.path} differs from its pointer; record it with "
                    f"`mlgate data add {summary.path}` or restore it with `mlgate data pull`"
                )
            continue
        dest.parent.mkdir(parents=True, exist_ok=True)
        copy_verified(_local_copy(side, role, cache), dest, summary.sha256)


def load_side(
    label: Literal["base", "head"],
    files: git.CommitFiles | git.WorkingFiles,
    cfg: Config,
    cache: Cache,
    stack: ExitStack,
    tmp: Path,
    config_path: str = config_mod.DEFAULT_CONFIG,
) -> _Side:
    """A side ready to train (promotion)."""
    side = describe_side(label, files, cfg, config_path)
    prepare(side, cache, stack, tmp)
    return side


def train_spec(side: _Side, tmp: Path, extra: _Side | None) -> TrainSpec:
    from mlgate.train import TrainSpec

    cfg = side.cfg
    assert side.code_root is not None, "prepare() the side first"
    assert cfg.model.estimator and cfg.model.task and cfg.data.train and cfg.data.test
    assert cfg.data.target
    return TrainSpec(
        estimator=cfg.model.estimator,
        params=dict(cfg.model.params),
        task=cfg.model.task,
        code_root=str(side.code_root),
        project_dir=str(side.code_root / cfg.base) if cfg.base else str(side.code_root),
        train=str(side.paths["train"]),
        test=str(side.paths["test"]),
        train_name=cfg.data.train,
        test_name=cfg.data.test,
        ref=side.files.ref,
        target=cfg.data.target,
        features=list(cfg.data.features) if cfg.data.features else None,
        metrics=list(cfg.evaluated_metrics),
        model_out=str(tmp / f"{side.label}.skops"),
        extra_eval=None if extra is None else str(extra.paths["test"]),
        extra_eval_name=None if extra is None else extra.cfg.data.test,
    )


def run_commands(
    sides: list[_Side], cache: Cache, stack: ExitStack, tmp: Path
) -> list[dict[str, Any]]:
    """Command mode: both sides' commands at once, each in its own checkout and with its
    share of the cores through the environment (the commands are opaque to mlgate)."""
    from mlgate import command
    from mlgate.train import share_of_cpus

    threads = share_of_cpus(len(sides))
    running = []
    for side in sorted(sides, key=lambda s: s.label != "head"):
        prepare(side, cache, stack, tmp)
        assert side.code_root is not None
        run = command.start(side.label, side.cfg, side.code_root, tmp, threads=threads)
        stack.callback(run.stop)
        running.append(run)
    by_label = {r.label: r for r in running}
    records = {}
    for side in sorted(sides, key=lambda s: s.label != "head"):  # head's errors first
        records[side.label] = command.finish(by_label[side.label], side.cfg)
    return [records[s.label] for s in sides]


def _train(
    sides: list[_Side], workers: Mapping[str, Worker], tmp: Path, same_data_for_base: _Side | None
) -> list[dict[str, Any]]:
    """Both sides at once: two processes use the two cores, and neither sees the other's code."""
    from mlgate.train import raise_failure, share_of_cpus

    share = share_of_cpus(len(sides))
    for side in sides:
        extra = same_data_for_base if side.label == "base" else None
        spec = train_spec(side, tmp, extra)
        if share is not None:
            spec = replace(spec, threads=share, turns=str(tmp / "cores.lock"))
        workers[side.label].start(spec)
    records = [workers[s.label].result() for s in sides]
    for side, record in zip(sides, records, strict=True):
        if not record["ok"]:
            try:
                raise_failure(record, side=side.label, config_file=side.cfg.file)
            except ConfigError as e:
                if e.key:
                    raise side.cfg.error(e.detail, e.key) from None
                raise
    return records


def flatten_params(params: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested params as dotted names: ``{a: {b: 1}}`` -> ``{a.b: 1}``."""
    flat: dict[str, Any] = {}
    for key, value in params.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            flat.update(flatten_params(value, f"{name}."))
        else:
            flat[name] = value
    return flat


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
    old = {"estimator": base.model.kind, **flatten_params(old_params)}
    new = {"estimator": head.model.kind, **flatten_params(new_params)}
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


def side_result(side: _Side, record: Mapping[str, Any]) -> SideResult:
    dirty = git.dirty_paths(side.files.repo) if isinstance(side.files, git.WorkingFiles) else ()
    return SideResult(
        label=side.label,
        ref=side.files.ref,
        sha=side.files.sha,
        metrics=dict(record["metrics"]),
        params=dict(side.params),
        estimator=side.cfg.model.kind,
        data=side.data,
        dirty=dirty,
        fit_seconds=record["fit_seconds"],
        predict_seconds=record["predict_seconds"],
        model_size=record.get("model_size"),
        duration_seconds=record.get("seconds", record.get("duration_seconds")),
        cached=bool(record.get("cached")),
        versions=dict(record["versions"]),
    )


def _runtime(side: SideResult) -> dict[str, float]:
    values = {
        "fit_time": side.fit_seconds,
        "predict_time": side.predict_seconds,
        "model_size": side.model_size,
    }
    return {k: float(v) for k, v in values.items() if v is not None}


def _gate_changes(base: Config | None, head: Config) -> tuple[str, ...]:
    """A PR that loosens its own gate must say so loudly in the report."""
    if base is None or base.gate == head.gate:
        return ()
    names = sorted(
        m for m in base.gate.keys() | head.gate.keys() if base.gate.get(m) != head.gate.get(m)
    )
    return (f"the gate rules changed in head for: {', '.join(names)}; head's rules apply",)


def run_record(side: SideResult, cfg: Config, digest: str | None) -> dict[str, Any]:
    """A side's run record (schema: schema/run.schema.json): a file per check, a git note."""
    record = {
        "schema": "mlgate/run@1",
        "model": cfg.model.name,
        "side": side.label,
        "config": cfg.raw,
        "digest": digest,
        **side.to_dict(),
    }
    record.pop("record_path", None)
    return record


def write_run_record(
    side: SideResult, cfg: Config, root: Path, *, digest: str | None = None
) -> str:
    """The run record as a file, written atomically."""
    record = run_record(side, cfg, digest)
    key = side.sha or "none"
    if side.dirty:
        key += "-dirty"
    dest = root / cfg.model.name / f"{side.label}-{key}.json"
    atomic_write(dest, json.dumps(record, indent=2, default=str).encode())
    return str(dest)


def run_check(
    cwd: str | os.PathLike[str] = ".",
    *,
    base: str | None = None,
    head: str | None = None,
    config_path: str = config_mod.DEFAULT_CONFIG,
    use_cache: bool = True,
    progress: Callable[[str], None] | None = None,
) -> CheckResult:
    """Train and evaluate base and head (or reuse runs with the same inputs); compare them;
    apply head's gate. ``use_cache=False`` retrains both sides (results are still stored)."""
    repo = git.open_repo(cwd)
    base_files, head_files = resolve_sides(repo, base, head)
    head_cfg = config_mod.load_at(head_files, config_path)
    if head_cfg is None:
        raise UsageError(
            f"{config_path} not found in {head_files.ref} of {git.root(repo)}; "
            "run `mlgate init` to create one"
        )
    base_cfg = config_mod.load_at(base_files, config_path)
    head_side = describe_side("head", head_files, head_cfg, config_path)
    base_side = describe_side("base", base_files, base_cfg, config_path) if base_cfg else None
    sides = [s for s in (base_side, head_side) if s is not None]
    warnings: list[str] = []
    if use_cache:
        for side in sides:
            side.cached = runcache.lookup(side.cfg.model.name, side.digest)
        warnings = _shared_results(git.root(repo), [s for s in sides if s.cached is None])
    with ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="mlgate-")))
        result = _compare(base_side, head_side, Cache(), stack, tmp, progress or _silent)
    return replace(result, notes=(*result.notes, *warnings)) if warnings else result


def _shared_results(root: Path, sides: list[_Side]) -> list[str]:
    """Results that CI shared as git notes (refs/notes/mlgate) for a commit, reused when the
    digest matches: a PR then trains only its head. Data only, validated, never code."""
    from mlgate import notes

    commits = [s for s in sides if isinstance(s.files, git.CommitFiles)]
    if not commits or not notes.fetch(root):
        return []
    warnings = []
    for side in commits:
        assert side.files.sha is not None
        record, warning = notes.read(root, side.files.sha, side.cfg.model.name)
        if warning:
            warnings.append(warning)
        if record and record.get("digest") == side.digest:
            side.cached = record
    return warnings


def _score_spec(
    cfg: Config, ref: str, test: str, test_name: str, model_out: str, champion: str | None
) -> TrainSpec:
    """A worker spec that trains nothing: it scores stored models on ``test``."""
    from mlgate.train import TrainSpec

    return TrainSpec(
        estimator="",
        params={},
        task=cfg.model.task or "",
        code_root="",
        project_dir="",
        train="",
        test=test,
        train_name=cfg.data.train or "",
        test_name=test_name,
        ref=ref,
        target=cfg.data.target or "",
        features=list(cfg.data.features) if cfg.data.features else None,
        metrics=_scorable(cfg),
        model_out=model_out,
        champion_model=champion,
        score_only=True,
    )


def _rescore_spec(base: _Side, head: _Side, model_path: str) -> TrainSpec:
    """Score a stored base model on head's test rows (same-data), without retraining it."""
    assert head.cfg.data.test
    test = str(head.paths["test"])
    return _score_spec(base.cfg, head.files.ref, test, head.cfg.data.test, "", model_path)


def command_score_spec(side: _Side, tmp: Path, model_path: str, champion: str | None) -> TrainSpec:
    """Command mode's promotion: smoke-test the command's model, and score it and the
    champion on the side's test rows (when data.test and data.target say which)."""
    cfg = side.cfg
    has_test = bool(cfg.data.test and cfg.data.target and "test" in side.data)
    test = ""
    if has_test:
        from mlgate.store import Cache

        with ExitStack() as stack:
            prepare(side, Cache(), stack, tmp, roles=("test",), code=False)
        test = str(side.paths["test"])
    spec = _score_spec(cfg, side.files.ref, test, cfg.data.test or "", model_path, champion)
    return replace(spec, smoke_test=True, score_candidate=has_test)


def _scorable(cfg: Config) -> list[str]:
    """The metrics mlgate can compute itself from a model (not a command's own metrics)."""
    return [m for m in cfg.evaluated_metrics if config_mod.is_known_metric(m)]


def _can_rescore(base: _Side, head: _Side) -> bool:
    """Command mode: the base model can be scored on head's rows only with a model file,
    test data and target on both sides, and at least one metric mlgate computes itself."""
    cfg = base.cfg
    spec = cfg.model.train
    has_model = (base.cached or {}).get("model_path") or (spec is not None and spec.model)
    return bool(
        has_model
        and cfg.data.target
        and head.cfg.data.test
        and "test" in head.data
        and "test" in base.data
        and _scorable(cfg)
    )


def _silent(_text: str) -> None:
    pass


def _run(
    base_side: _Side | None,
    head_side: _Side,
    cache: Cache,
    stack: ExitStack,
    tmp: Path,
    progress: Callable[[str], None],
) -> tuple[dict[str, dict[str, Any]], bool]:
    """Records for both sides: stored ones where the inputs match, fresh runs otherwise.
    Workers start before data is fetched, so their imports overlap that work."""
    sides = [s for s in (base_side, head_side) if s is not None]
    test_changed = (
        base_side is not None
        and "test" in base_side.data
        and "test" in head_side.data
        and base_side.data["test"].sha256 != head_side.data["test"].sha256
    )
    # A result shared as a git note has no model file to re-score on new test rows.
    if test_changed and base_side and base_side.cached and "model_path" not in base_side.cached:
        base_side.cached = None
    fresh = [s for s in sides if s.cached is None]
    # Each side runs the way its own config says (a PR may switch modes).
    commands = [s for s in fresh if s.cfg.command_mode]
    estimators = [s for s in fresh if not s.cfg.command_mode]
    # The base's same-data scores come from its training worker when it trains in
    # estimator mode; otherwise a worker scores its stored or freshly written model.
    rescore = (
        test_changed
        and base_side is not None
        and base_side not in estimators
        and (base_side.cached is not None or base_side.cfg.command_mode)
        and _can_rescore(base_side, head_side)
    )
    labels: list[str] = [s.label for s in estimators] + (["base-on-head"] if rescore else [])
    from mlgate.train import Worker

    workers = {label: stack.enter_context(Worker(label, tmp)) for label in labels}
    reused = [s.label for s in sides if s not in fresh]
    if reused:
        progress(f"reusing the earlier run of {' and '.join(reused)} (same inputs)")
    if fresh or test_changed:
        progress("fetching data and code")
    for side in sorted(estimators, key=lambda s: s.label != "head"):  # head's errors first
        prepare(side, cache, stack, tmp)
    if test_changed:
        prepare(head_side, cache, stack, tmp, roles=("test",), code=False)
    if fresh:
        progress(f"training {' and '.join(s.label for s in fresh)}")
    same_data = head_side if test_changed else None
    records = dict(
        zip(
            [s.label for s in estimators],
            _train(estimators, workers, tmp, same_data),
            strict=True,
        )
    )
    ran = run_commands(commands, cache, stack, tmp)
    records.update(zip([s.label for s in commands], ran, strict=True))
    for side in fresh:
        record = records[side.label]
        if record.get("model_path") or side.cfg.command_mode:
            kept = record.get("model_path")
            runcache.store(
                side.cfg.model.name,
                side.digest,
                {**record, "digest": side.digest},
                Path(kept) if kept else None,
            )
    for side in sides:
        if side not in fresh:
            assert side.cached is not None
            records[side.label] = {**side.cached, "cached": True}
    if rescore:
        assert base_side is not None
        model_path = records["base"].get("model_path")
        if model_path:
            progress("scoring the base model on head's test data")
            spec = _rescore_spec(base_side, head_side, model_path)
            workers["base-on-head"].start(spec)
            scored = workers["base-on-head"].result().get("champion") or {}
            records["base"]["same_data"] = scored
        else:
            records["base"]["same_data"] = {"error": "the base run kept no model file"}
    elif test_changed and base_side is not None and base_side not in estimators:
        records["base"]["same_data"] = {
            "error": "scoring the base model on head's rows needs model.train.model, "
            "data.test and data.target, and a metric mlgate computes itself"
        }
    return records, test_changed


def _compare(
    base_side: _Side | None,
    head_side: _Side,
    cache: Cache,
    stack: ExitStack,
    tmp: Path,
    progress: Callable[[str], None],
) -> CheckResult:
    records, test_changed = _run(base_side, head_side, cache, stack, tmp, progress)
    progress("comparing and applying the gate")
    sides = [s for s in (base_side, head_side) if s is not None]
    results = {s.label: side_result(s, records[s.label]) for s in sides}
    cfg = head_side.cfg
    records_dir = cache_dir() / "runs"
    for s in sides:
        path = write_run_record(results[s.label], s.cfg, records_dir, digest=s.digest)
        results[s.label] = replace(results[s.label], record_path=path)
    base_record = records.get("base") if test_changed else None
    head_res, base_res = results["head"], results.get("base")
    comparison, note, base_values, on_head = _comparison(base_res, base_record)
    names = [*cfg.evaluated_metrics, *(m for m in RUNTIME_METRICS if m in cfg.gate)]
    head_values = {**head_res.metrics, **_runtime(head_res)}
    rows = tuple(diff_metrics(base_values, head_values, names, direction=cfg.direction))
    notes = list(_gate_changes(base_side.cfg if base_side else None, cfg))
    if head_res.dirty:
        shown = ", ".join(head_res.dirty[:5]) + (" …" if len(head_res.dirty) > 5 else "")
        notes.insert(
            0, f"head is the working tree with {len(head_res.dirty)} uncommitted change(s): {shown}"
        )
    return CheckResult(
        report_template=_user_template(head_side),
        model=cfg.model.name,
        task=cfg.model.task or "command",
        base=base_res,
        head=head_res,
        rows=rows,
        rules=dict(cfg.gate),
        verdict=evaluate(cfg.gate, rows),
        comparison=comparison,
        comparison_note=note,
        base_on_head_data=on_head,
        params_diff=params_diff(
            base_side.cfg if base_side else None,
            cfg,
            base_side.params if base_side else None,
            head_side.params,
        ),
        data_diff=data_diff(base_side.data if base_side else None, head_side.data),
        notes=tuple(notes),
    )


def _user_template(side: _Side) -> UserTemplate | None:
    """``report.template`` as it is on the head side (rendered later in Jinja's sandbox)."""
    path = side.cfg.report_template
    if path is None:
        return None
    source = side.files.read(path)
    if source is None:
        raise side.cfg.error(f"{path} not found in {side.files.ref}", "report.template")
    return UserTemplate(name=path, source=source.decode("utf-8", errors="replace"))


def _comparison(
    base: SideResult | None, base_record: Mapping[str, Any] | None
) -> tuple[
    Literal["same-data", "own-data", "no-baseline"],
    str,
    dict[str, float] | None,
    dict[str, float] | None,
]:
    """Which base figures the diff uses: base on head's rows when possible, else its own."""
    if base is None:
        return "no-baseline", "", None, None
    own = {**base.metrics, **_runtime(base)}
    if base_record is None:  # the test data did not change: trivially the same rows
        return "same-data", "", own, None
    same = base_record.get("same_data") or {}
    if "metrics" in same:
        on_head = dict(same["metrics"])
        return "same-data", "", {**own, **on_head}, on_head
    reason = same.get("error", "unknown reason")
    note = f"The test data changed, but a same-data comparison is impossible: {reason}."
    return "own-data", note, own, None
