"""Many models in one repository: which models there are, and which ones a change touches.

Every ``mlgate.yaml`` tracked at the head revision is a model (its directory is the
config's ``base``). A model is *touched* when its run-cache input digest (config's model
section, metrics, data sha256s, code: ``run.sides``) differs between base and head, or when
its config file itself, or its report template, changed (the gate is not part of the digest,
but it decides the verdict). Nothing is trained, fetched or exported: digests come from git
objects and pointers alone, so planning 257 models takes seconds.
"""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass

from mlgate import git
from mlgate.core import config as config_mod
from mlgate.core import manifest, yamlfile
from mlgate.core.config import DEFAULT_CONFIG, Config
from mlgate.errors import MlgateError, UsageError
from mlgate.run.sides import describe_side
from mlgate.storage.layout import Layout

# A directory mlgate hands to a CI job (a matrix value, a path in an artifact name): plain
# path characters only, so it can never become shell syntax, an option or a parent path.
_SAFE_DIR = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]*(/[A-Za-z0-9_][A-Za-z0-9._-]*)*")
GITHUB_MATRIX_LIMIT = 256  # jobs one matrix may generate (GitHub Actions' documented cap)


@dataclass(frozen=True)
class PlannedModel:
    """One model of the repository, and whether the change touches it."""

    name: str
    config: str  # the repository path of its mlgate.yaml
    directory: str  # the config's directory; "." for the repository root
    touched: bool
    reason: str  # why it is (or is not) touched, for the plan's table

    def matrix_entry(self) -> dict[str, str]:
        return {"model": self.name, "dir": self.directory, "config": self.config}


def config_paths(files: git.CommitFiles | git.WorkingFiles) -> list[str]:
    """Every model's ``mlgate.yaml`` on this side (tracked files), root first, then by
    path: those the root ``mlgate.yaml`` lists when it is a list of models (core.manifest),
    else every one."""
    listed = git.blob_shas(files)
    found = [p for p in listed if posixpath.basename(p) == DEFAULT_CONFIG]
    if DEFAULT_CONFIG in listed:
        found = _listed(files, found)
    for path in found:
        directory = posixpath.dirname(path)
        if directory and not _SAFE_DIR.fullmatch(directory):
            raise UsageError(
                f"{path}: a model directory may hold only letters, digits and '._-' in each "
                "part (not starting with '.' or '-'), since CI jobs are handed it; rename it"
            )
    return sorted(found, key=lambda p: (posixpath.dirname(p) != "", p))


def _listed(files: git.CommitFiles | git.WorkingFiles, found: list[str]) -> list[str]:
    raw = files.read(DEFAULT_CONFIG)
    assert raw is not None
    where = git.where_at(files, DEFAULT_CONFIG)
    entries = manifest.patterns(yamlfile.decode(raw, where), where)
    if entries is None:
        return found  # the root config is a model's: every config counts
    chosen = manifest.select(entries, (posixpath.dirname(p) for p in found if "/" in p), where)
    return [p for p in found if posixpath.dirname(p) in chosen]


def plan(
    repo: git.Repo,
    base: git.CommitFiles,
    head: git.CommitFiles | git.WorkingFiles,
) -> list[PlannedModel]:
    """Every model at ``head``, touched or not by the change from ``base``. UsageError when
    there is no model, or two configs name the same model (their statuses would collide)."""
    paths = config_paths(head)
    if not paths:
        raise UsageError(
            f"no {DEFAULT_CONFIG} is tracked in {git.root(repo)} at {head.ref}; "
            "run `mlgate init` in each model's directory"
        )
    planned = [_planned(base, head, path) for path in paths]
    seen: dict[str, str] = {}
    for model in planned:
        if model.name in seen:
            raise UsageError(
                f"{seen[model.name]} and {model.config} both name the model {model.name!r}; "
                "model.name must differ (it names the commit status mlgate/<name>)"
            )
        seen[model.name] = model.config
    return planned


def _planned(
    base: git.CommitFiles, head: git.CommitFiles | git.WorkingFiles, path: str
) -> PlannedModel:
    memo = Layout.current().memo
    head_cfg = config_mod.load_at(head, path, memo=memo)  # a broken head config: exit 2 here
    assert head_cfg is not None
    directory = posixpath.dirname(path) or "."

    def made(touched: bool, reason: str) -> PlannedModel:
        return PlannedModel(head_cfg.model.name, path, directory, touched, reason)

    same_config = base.read(path) == head.read(path) and not _template_changed(base, head, head_cfg)
    try:
        base_cfg = config_mod.load_at(base, path, memo=memo)
    except MlgateError:
        return made(True, "its config at the base is invalid")
    if base_cfg is None:
        return made(True, "new model")
    try:
        head_digest = describe_side("head", head, head_cfg, path).digest
        base_digest = describe_side("base", base, base_cfg, path).digest
    except MlgateError as e:  # e.g. a data file the config names is missing: the job says so
        return made(True, f"its inputs cannot be read without training ({e.__class__.__name__})")
    if head_digest != base_digest:
        return made(True, "inputs changed (code, data, parameters or metrics)")
    if not same_config:
        return made(True, "config changed (gate or report)")
    return made(False, "unchanged")


def _template_changed(
    base: git.CommitFiles, head: git.CommitFiles | git.WorkingFiles, cfg: Config
) -> bool:
    path = cfg.report_template
    return path is not None and base.read(path) != head.read(path)


def touched(models: list[PlannedModel]) -> list[PlannedModel]:
    return [m for m in models if m.touched]


def over_matrix_limit(count: int) -> str | None:
    """Why ``count`` touched models cannot be one GitHub Actions matrix, or None."""
    if count <= GITHUB_MATRIX_LIMIT:
        return None
    return (
        f"{count} models are touched, more than the {GITHUB_MATRIX_LIMIT} jobs a GitHub "
        "Actions matrix may have; split the models across workflows (a `paths:` filter each), "
        "or check them in one job with `mlgate check --all`"
    )
