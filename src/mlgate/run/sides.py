"""The two sides of a comparison: what base and head are, from git and pointers alone.

A ``Side`` is frozen: its revision, its config, its data (as pointers describe it) and its
parameters, and the run-cache digest those decide. What happens to a side while it runs
(fetched bytes, an exported checkout) lives in ``run.workspace``; what it measured is a
``RunRecord``.
"""

from __future__ import annotations

import functools
import posixpath
from dataclasses import dataclass, field
from typing import Any, Literal

from mlgate import git
from mlgate.core.config import DEFAULT_CONFIG, Config
from mlgate.core.record import RunRecord
from mlgate.core.results import BaseChoice, DataSummary, SideResult
from mlgate.errors import DataError, UsageError
from mlgate.run import runcache
from mlgate.run.command import argument_params, read_params
from mlgate.storage import datafiles
from mlgate.storage.dvc import dvc_params

Label = Literal["base", "head"]


@dataclass(frozen=True)
class Side:
    """One side's inputs, decided before anything runs."""

    label: Label
    files: git.CommitFiles | git.WorkingFiles
    cfg: Config
    data: dict[str, DataSummary]  # role ("train", "test", or a path in command mode)
    params: dict[str, Any] = field(default_factory=dict)  # model.params, or the params file
    config_path: str = DEFAULT_CONFIG

    @functools.cached_property
    def code(self) -> dict[str, str]:
        """The code files the digest covers, path -> content hash."""
        return runcache.code_inputs(self.files, self.cfg, self.data)

    @functools.cached_property
    def digest(self) -> str:
        """The run-cache key: everything that decides this side's result."""
        return runcache.digest(self.files, self.cfg, self.data, code=self.code)

    @property
    def working_tree(self) -> bool:
        return isinstance(self.files, git.WorkingFiles)


def resolve_sides(
    repo: git.Repo, base: str | None, head: str | None, *, base_reason: str | None = None
) -> tuple[git.CommitFiles, git.CommitFiles | git.WorkingFiles, BaseChoice]:
    """``--head`` defaults to the working tree, ``--base`` to the merge-base with the
    default branch (which is HEAD itself when you are on the default branch); the local
    default branch wins over origin's when it has commits origin lacks. Also returns how
    the base was chosen (``base_reason`` overrides "--base REV", e.g. for CI's base)."""
    head_files = git.files_at(repo, head)
    if base is not None:
        base_files = git.CommitFiles(repo, base)
        assert base_files.sha is not None
        choice = BaseChoice(base, base_files.sha, base_reason or f"--base {base}")
        return base_files, head_files, choice
    tip = head_files.sha
    if tip is None:
        raise UsageError(f"{git.root(repo)} has no commits yet; commit a baseline first")
    found = git.default_branch_choice(repo)
    if found is None:
        raise UsageError(
            "cannot tell the default branch (no origin/HEAD, main or master); pass --base REV"
        )
    default, default_sha = found.name, found.sha or git.resolve(repo, found.name)
    merge_base = default_sha if default_sha == tip else git.merge_base(repo, default_sha, tip)
    if merge_base is None:
        raise UsageError(f"{head or 'HEAD'} shares no history with {default}; pass --base REV")
    base_files = git.CommitFiles(repo, merge_base, sha=merge_base)
    base_files.ref = default if merge_base == default_sha else f"merge-base with {default}"
    if head is None and tip == default_sha:  # on the default branch: its own uncommitted work
        reason = f"the working tree's HEAD, the tip of {found.describe()}"
    else:
        reason = f"merge-base of {head or 'HEAD'} and {found.describe()}"
    return base_files, head_files, BaseChoice(default, merge_base, reason)


def describe_side(
    label: Label,
    files: git.CommitFiles | git.WorkingFiles,
    cfg: Config,
    config_path: str = DEFAULT_CONFIG,
) -> Side:
    """What a side is, from pointers and git alone: no download, no export."""
    return Side(label, files, cfg, _describe(files, cfg), _params(files, cfg), config_path)


def _describe(files: git.Files, cfg: Config) -> dict[str, DataSummary]:
    found: dict[str, DataSummary] = {}
    for role in ("train", "test"):
        path = getattr(cfg.data, role)
        if path is None:  # command mode may leave data out
            continue
        summary = datafiles.describe(files, path, base=cfg.base)
        if summary is None:
            raise cfg.error(datafiles.absent(path, files.ref), f"data.{role}")
        found[role] = summary
    if cfg.command_mode:  # the command may read any pointed file: each is an input
        listed = {s.path for s in found.values()}
        for path in pointed(files, cfg):
            if path in listed:
                continue
            try:
                summary = datafiles.describe(files, path, base=cfg.base)
            except DataError:
                continue  # e.g. a DVC directory output: only listed data must be usable
            if summary is not None:
                found[path] = summary
    return found


def pointed(files: git.Files, cfg: Config) -> list[str]:
    """Data paths behind the pointers on this side, under the config's directory: mlgate's
    ``.ptr`` files and DVC's ``.dvc`` files (not its ``.dvc/`` directory)."""
    suffixes = (".ptr", ".dvc")
    if isinstance(files, git.WorkingFiles):
        paths = datafiles.pointed_files(files.root, suffixes)
    else:
        listed = files.list_files(cfg.base)
        paths = [p[: -len(".ptr")] for p in listed if p.endswith(suffixes)]  # both 4 chars
    prefix = f"{cfg.base}/" if cfg.base else ""
    return sorted(
        {p for p in paths if p.startswith(prefix) and not (p.startswith(".dvc/") or "/.dvc/" in p)}
    )


def _params(files: git.Files, cfg: Config) -> dict[str, Any]:
    """The run's parameters: ``model.params`` or command mode's params file (without one,
    its arguments, under ``args``), plus, in a DVC
    pipeline repository, the params DVC tracks (``params.yaml``, ``dvc.lock``) by file."""
    spec = cfg.model.train
    found: dict[str, Any] = {}
    if spec is None:
        found = dict(cfg.model.params)
    elif spec.params is not None:
        found = read_params(files.read(spec.params), git.where_at(files, spec.params))
    elif args := argument_params(spec.argv):  # no params file: the command's arguments
        found = {"args": args}
    if _dvc_pipeline(files, cfg):
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


def side_result(side: Side, record: RunRecord) -> SideResult:
    """The side as the report shows it: its inputs and what its run measured."""
    dirty = git.dirty_paths(side.files.repo) if side.working_tree else ()
    return SideResult(
        label=side.label,
        ref=side.files.ref,
        sha=side.files.sha,
        metrics=dict(record.metrics),
        params=dict(side.params),
        estimator=side.cfg.model.kind,
        data=side.data,
        dirty=dirty,
        fit_seconds=record.fit_seconds,
        predict_seconds=record.predict_seconds,
        model_size=record.model_size,
        duration_seconds=record.seconds,
        cached=record.cached,
        versions=dict(record.versions),
        digest=side.digest,
        repeats=dict(record.repeats),
        unseeded=record.unseeded,
        cluster=record.cluster,
    )
