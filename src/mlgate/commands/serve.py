"""``mlgate serve``: the production model behind MLflow's scoring protocol.

The model is read from the production branch (or a version's tag) without a checkout:
``<name>/model.skops`` is loaded only when its sha256 is the one ``lineage.json`` records,
and only with the types ``load_trusted`` vets, exactly as promotion loads a champion. The
app, the request log and ``--follow`` live in run.serving; this module finds what to
serve. Nothing here prints: the CLI is told the address through ``on_ready``.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from mlgate import git
from mlgate.core import config as config_mod
from mlgate.core import production
from mlgate.core.production import Lineage
from mlgate.errors import DataError, UsageError
from mlgate.run import serving
from mlgate.run.protocol import Served, schema_of
from mlgate.storage.layout import Layout
from mlgate.storage.models import UntrustedModel, load_trusted, verified_production_model


@dataclass(frozen=True)
class Target:
    """Where the model comes from: a repository, a ref to read (the production branch,
    a version's tag, or any revision) and, for --follow, the branch to fetch."""

    root: Path
    name: str | None
    ref: str  # what to resolve: refs/remotes/origin/production, refs/tags/churn@v2, …
    tag_template: str
    branch: str | None  # fetched by --follow; None for a fixed revision or version
    remote: str | None


def target(
    cwd: str | os.PathLike[str],
    *,
    name: str | None = None,
    version: int | None = None,
    ref: str | None = None,
    config_path: str = config_mod.DEFAULT_CONFIG,
) -> Target:
    """What ``mlgate serve`` would load, from the options and the working tree's config
    (its promote.branch and promote.tag; the defaults without one)."""
    if version is not None and ref is not None:
        raise UsageError("give --version or --ref, not both")
    repo = git.open_repo(cwd)
    root = git.root(repo)
    cfg_file = root / config_path
    branch, template = production.DEFAULT_BRANCH, production.DEFAULT_TAG
    if cfg_file.is_file():
        cfg = config_mod.load_path(cfg_file, memo=Layout.current().memo)
        branch, template = cfg.promote.branch, cfg.promote.tag
    remote = "origin" if git.has_remote(root) else None
    if version is not None:
        if name is None:
            name = only_model(root, _branch_ref(root, remote, branch), branch)
        tag = production.tag_name(template, name, version)
        if git.ref_sha(root, f"refs/tags/{tag}") is None:
            raise UsageError(f"there is no version {version} of {name} (no tag {tag} here)")
        return Target(root, name, f"refs/tags/{tag}", template, None, remote)
    if ref is not None and ref != branch:
        return Target(root, name, ref, template, None, remote)
    return Target(root, name, _branch_ref(root, remote, branch), template, branch, remote)


def _branch_ref(root: Path, remote: str | None, branch: str) -> str:
    """The remote's branch is the truth when there is one (a fresh clone has no local
    production branch); else the local one."""
    if remote and git.ref_sha(root, f"refs/remotes/{remote}/{branch}"):
        return f"refs/remotes/{remote}/{branch}"
    return f"refs/heads/{branch}"


def only_model(root: Path, ref: str, shown: str) -> str:
    """The one model on the production branch; a UsageError when there are none or many."""
    commit = git.ref_sha(root, ref)
    if commit is None:
        raise UsageError(
            f"there is no {shown} branch here: nothing was promoted yet (or fetch it first)"
        )
    names = _models(root, commit)
    if len(names) != 1:
        listed = ", ".join(names) or "none"
        raise UsageError(f"name the model to serve: the {shown} branch holds {listed}")
    return names[0]


def _models(root: Path, commit: str) -> list[str]:
    listing = git.run_git(["ls-tree", "-r", "--name-only", commit], root).splitlines()
    suffix = "/" + production.LINEAGE_FILE
    return sorted(
        p.removesuffix(suffix) for p in listing if p.count("/") == 1 and p.endswith(suffix)
    )


def load(where: Target, tmp: Path) -> serving.Deployment:
    """The deployment at ``where.ref``'s current commit."""
    commit = git.ref_sha(where.root, where.ref)
    if commit is None:
        if where.branch is None:
            raise UsageError(f"unknown revision {where.ref!r}; check the branch, tag or sha")
        raise UsageError(
            f"there is no {where.branch} branch here: nothing was promoted yet (or fetch it first)"
        )
    return load_commit(where, commit, tmp)


def load_commit(where: Target, commit: str, tmp: Path) -> serving.Deployment:
    """The model at a production commit: lineage, sha256 check, vetted types only."""
    name = where.name or only_model(where.root, commit, where.branch or where.ref)
    files = git.CommitFiles(git.open_repo(where.root), commit, sha=commit)
    raw = files.read(production.path(name, production.LINEAGE_FILE))
    short = f"{where.branch or where.ref} ({commit[:7]})"
    if raw is None:
        models = ", ".join(_models(where.root, commit)) or "none"
        raise UsageError(f"there is no model {name} on {short}; it holds {models}")
    try:
        lineage = Lineage.from_dict(json.loads(raw))
    except (ValueError, TypeError, RecursionError) as e:
        raise DataError(f"{name}/lineage.json at {short} cannot be read: {e}") from None
    where_model = f"{name}/model.skops at {short}"
    dest = tmp / f"{name}-v{lineage.version}-{commit[:12]}.skops"
    path = verified_production_model(files, lineage, dest, where_model)
    try:
        model = load_trusted(str(path))
    except UntrustedModel as e:
        raise DataError(f"{name} v{lineage.version} ({where_model}) was not loaded: {e}") from None
    except Exception as e:
        raise DataError(
            f"{name} v{lineage.version} ({where_model}) does not load: {type(e).__name__}: {e}"
        ) from None
    finally:
        path.unlink(missing_ok=True)
    return serving.Deployment(
        name=name,
        version=lineage.version,
        tag=production.tag_name(where.tag_template, name, lineage.version),
        commit=commit,
        source_commit=lineage.source_commit,
        metrics=dict(lineage.metrics),
        promoted_at=lineage.time,
        served=Served.of(model, schema_of(lineage.input_schema, model)),
        extra={"kind": lineage.kind, "rollback_of": lineage.rollback_of},
    )


def checker(where: Target, first: serving.Deployment, tmp: Path) -> serving.Check:
    """--follow: ``check(fetch)`` fetches the production branch (when asked) and returns
    the deployment at its tip when that is a commit not seen yet, else None."""
    seen = {"commit": first.commit}

    def check(fetch: bool) -> serving.Deployment | None:
        if where.branch is None:
            return None
        if fetch:
            _fetch(where)
        commit = git.ref_sha(where.root, where.ref)
        if commit is None or commit == seen["commit"]:
            return None
        seen["commit"] = commit
        found = load_commit(where, commit, tmp)
        return None if found.commit == first.commit else found

    return check


def _fetch(where: Target) -> None:
    """The production branch from the remote (--follow), into its remote-tracking ref."""
    if where.remote and where.branch:
        ref = f"refs/remotes/{where.remote}/{where.branch}"
        git.fetch_refs(where.root, where.remote, [f"+refs/heads/{where.branch}:{ref}"])


def serve(
    cwd: str | os.PathLike[str],
    *,
    name: str | None = None,
    version: int | None = None,
    ref: str | None = None,
    host: str = "127.0.0.1",
    port: int = 5000,
    options: serving.Options | None = None,
    config_path: str = config_mod.DEFAULT_CONFIG,
    on_ready: Callable[[serving.Deployment, str], None] | None = None,
) -> None:
    """Load, bind, tell ``on_ready`` the address, serve until stopped."""
    options = options or serving.Options()
    if options.follow_interval and (version is not None or (ref is not None)):
        raise UsageError(
            "--follow serves the production branch's newest version: drop --version/--ref"
        )
    if options.workers < 1:
        raise UsageError(f"--workers must be at least 1, not {options.workers}")
    where = target(cwd, name=name, version=version, ref=ref, config_path=config_path)
    with tempfile.TemporaryDirectory(prefix="mlgate-serve-") as tmp:
        if options.follow_interval and where.remote and where.branch:
            _fetch(where)  # start from the remote's newest
            where = target(cwd, name=name, config_path=config_path)
        deployment = load(where, Path(tmp))
        try:
            sock = serving.bind(host, port)
        except OSError as e:
            raise UsageError(f"cannot listen on {host}:{port}: {e.strerror or e}") from None
        if on_ready is not None:
            on_ready(deployment, serving.url_of(sock))
        check = checker(where, deployment, Path(tmp)) if options.follow_interval else None
        with sock:
            serving.run(deployment, sock, options, check)
