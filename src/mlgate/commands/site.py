"""``mlgate site`` and ``mlgate ui``: every model, production version and evaluated commit
as a static site built from the repository alone (pages from render.site).

One pass over each source: the tags through ``history.list_versions`` (one
``for-each-ref`` per model), each version's ``lineage.json`` and ``MODEL_CARD.md`` through
one ``cat-file --batch``, the default branch through one ``git log``, the run records of
its commits through ``notes.read_many``. The site is written into a directory beside
``--out`` and swapped in, so a reader (or ``mlgate ui``) never sees half of it; a stamp in
it holds the key of its inputs (every ref, the config, mlgate's version), and a build whose
key is unchanged does nothing. ``ui`` serves the directory on 127.0.0.1 and rebuilds when
the key changes, checked at most once a second, on requests.
"""

from __future__ import annotations

import contextlib
import hashlib
import http.server
import json
import os
import shutil
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlgate import __version__, git
from mlgate.commands.history import list_versions
from mlgate.core import config as config_mod
from mlgate.core import production
from mlgate.errors import ConfigError, UsageError
from mlgate.run import notes
from mlgate.storage.files import lock_for, os_errors
from mlgate.storage.layout import Layout

if TYPE_CHECKING:
    from mlgate.render import site as site_mod

STAMP = ".mlgate-site.json"
DEFAULT_OUT = "site"
MAX_CARD_BYTES = 1024 * 1024
_TEMP_SUFFIXES = (".site-new", ".site-old")


@dataclass(frozen=True)
class Built:
    """What a build did: where the site is, whether it was (re)written, how many pages."""

    out: Path
    rebuilt: bool
    pages: int
    models: int
    versions: int
    evaluated: int
    seconds: float


@dataclass(frozen=True)
class _Settings:
    root: Path
    model: str | None  # the configured model, if there is a config
    branch: str
    tag: str
    gated: tuple[str, ...]
    config_bytes: bytes


def _settings(cwd: str | os.PathLike[str], config_path: str) -> _Settings:
    root = git.root(git.open_repo(cwd))
    cfg_file = Path(cwd, config_path)  # relative to where you stand, as for every command
    if not cfg_file.is_file():  # a site of whatever the refs hold, with the defaults
        return _Settings(root, None, production.DEFAULT_BRANCH, production.DEFAULT_TAG, (), b"")
    cfg = config_mod.load_path(cfg_file, memo=Layout.current().memo)
    gated = tuple(m for m in cfg.metrics if m in cfg.gate) + tuple(
        m for m in cfg.gate if m not in cfg.metrics
    )
    return _Settings(
        root, cfg.model.name, cfg.promote.branch, cfg.promote.tag, gated, cfg_file.read_bytes()
    )


def inputs_key(settings: _Settings) -> str:
    """What the site is made of: every ref, the config and mlgate's version."""
    digest = hashlib.sha256(f"mlgate {__version__}\n".encode())
    digest.update(settings.config_bytes)
    digest.update(git.refs_listing(settings.root).encode())
    return digest.hexdigest()


def build(
    cwd: str | os.PathLike[str],
    out: str | os.PathLike[str] = DEFAULT_OUT,
    *,
    config_path: str = config_mod.DEFAULT_CONFIG,
    force: bool = False,
) -> Built:
    """Build the site into ``out`` (relative to ``cwd``), unless its inputs are unchanged."""
    start = time.perf_counter()
    settings = _settings(cwd, config_path)
    target = Path(cwd, out).absolute()
    _check_target(target, settings.root)
    with os_errors(f"writing the site to {target}"), lock_for(_lock_path(target)):
        _remove_leftovers(target)
        key = inputs_key(settings)
        stamp = _stamp(target)
        if not force and stamp is not None and stamp.get("key") == key:
            return Built(target, False, **_counts(stamp), seconds=time.perf_counter() - start)
        from mlgate.render import site as site_mod  # jinja2: only when the site is rebuilt

        data = collect(settings, key)
        files = site_mod.render(data)
        counts = {
            "pages": len(files),
            "models": len(data.models),
            "versions": sum(len(m.versions) for m in data.models),
            "evaluated": len(data.evaluated),
        }
        files[STAMP] = json.dumps({"key": key, "mlgate": __version__, **counts}).encode()
        _swap_in(target, files)
    return Built(target, True, **counts, seconds=time.perf_counter() - start)


def _counts(stamp: dict[str, Any]) -> dict[str, int]:
    found = {k: stamp.get(k) for k in ("pages", "models", "versions", "evaluated")}
    return {k: v if isinstance(v, int) else 0 for k, v in found.items()}


def _lock_path(target: Path) -> Path:
    return target.parent / f".{target.name}"


def _check_target(target: Path, root: Path) -> None:
    """Refuse an --out that would replace the repository or a directory that is not a site."""
    resolved = target.resolve()
    if resolved == root.resolve() or resolved in root.resolve().parents:
        raise UsageError(f"--out {target} would replace the repository: name a new directory")
    if resolved.exists() and not resolved.is_dir():
        raise UsageError(f"--out {target} is a file, not a directory")
    if resolved.is_dir() and any(resolved.iterdir()) and not (resolved / STAMP).is_file():
        raise UsageError(
            f"--out {target} is a directory that mlgate site did not write (no {STAMP}): "
            "name an empty or new directory"
        )


def _stamp(target: Path) -> dict[str, Any] | None:
    try:
        found = json.loads((target / STAMP).read_bytes())
    except (OSError, ValueError):
        return None
    return found if isinstance(found, dict) else None


def _remove_leftovers(target: Path) -> None:
    """A killed build's directories beside ``target`` (we hold the lock: none is live)."""
    for suffix in _TEMP_SUFFIXES:
        for leftover in target.parent.glob(f".{target.name}.*{suffix}"):
            shutil.rmtree(leftover, ignore_errors=True)


def _swap_in(target: Path, files: dict[str, bytes]) -> None:
    """Write ``files`` into a new directory beside ``target``, then swap it in."""
    token = os.urandom(6).hex()
    fresh = target.parent / f".{target.name}.{token}.site-new"
    old = target.parent / f".{target.name}.{token}.site-old"
    fresh.mkdir(parents=True)
    made: set[Path] = {fresh}
    for rel, content in files.items():
        path = fresh / rel
        if path.parent not in made:
            path.parent.mkdir(parents=True, exist_ok=True)
            made.add(path.parent)
        path.write_bytes(content)
    if target.exists():
        os.replace(target, old)
    os.replace(fresh, target)
    shutil.rmtree(old, ignore_errors=True)


# --- reading the repository ------------------------------------------------------------------


def _production_tip(root: Path, branch: str) -> str | None:
    """The production branch as origin has it (a fresh clone has no local one), else ours."""
    for ref in (f"refs/remotes/origin/{branch}", f"refs/heads/{branch}"):
        sha = git.ref_sha(root, ref)
        if sha is not None:
            return sha
    return None


def collect(settings: _Settings, key: str = "") -> site_mod.SiteData:
    """Everything the site shows, read from the repository at ``settings.root``."""
    from mlgate.render import site as site_mod  # the renderers: not for an unchanged site

    root = settings.root
    repo = git.open_repo(root)
    found = git.default_branch_tip(repo)
    default, default_sha = found if found is not None else (None, None)
    log = git.first_parent_log(root, default_sha) if default_sha else []
    tip = _production_tip(root, settings.branch)
    names: dict[str, None] = {}
    if settings.model is not None:
        names[settings.model] = None
    if tip is not None:
        for name in git.tree_names(root, tip):
            if repo.object(f"{tip}:{production.path(name, production.LINEAGE_FILE)}"):
                names[name] = None
    versions = {name: list_versions(root, name, tag_template=settings.tag) for name in names}
    sources = {v.source_commit for vs in versions.values() for v in vs}
    records = notes.read_many(root, {sha for sha, _, _ in log} | sources, full=False)
    evaluated = [
        site_mod.Evaluated(sha, subject, when, {r.model: r.record for r in records[sha]})
        for sha, when, subject in reversed(log)
        if sha in records
    ]
    for e in evaluated:
        names.update(dict.fromkeys(e.records))
    models = []
    for name in names:
        found_versions = versions.get(name)
        if found_versions is None:
            found_versions = list_versions(root, name, tag_template=settings.tag)
        infos = [_version_info(repo, name, v, records) for v in found_versions]
        gated = settings.gated if name == settings.model else ()
        models.append(site_mod.ModelInfo(name, infos, gated))
    models.sort(key=lambda m: m.name)
    title = root.name
    return site_mod.SiteData(title, default, models, evaluated, key)


def _version_info(
    repo: git.Repo,
    model: str,
    version: production.Version,
    records: dict[str, list[notes.NoteRecord]],
) -> site_mod.VersionInfo:
    from mlgate.render import site as site_mod  # as in collect

    lineage = _lineage(repo, version.commit, model)
    card = repo.object(f"{version.commit}:{production.path(model, production.CARD_FILE)}")
    text = None
    if card is not None and card[0] == "blob" and len(card[1]) <= MAX_CARD_BYTES:
        text = card[1].decode("utf-8", errors="replace")
    rows: dict[str, int] = {}
    for entry in records.get(version.source_commit, ()):
        if entry.model == model:  # data.<role>.rows: a whole number, or null when unknown
            for role, ref in (entry.record.get("data") or {}).items():
                if isinstance(ref.get("rows"), int):
                    rows[role] = ref["rows"]
    return site_mod.VersionInfo(version, lineage, text, rows)


def _lineage(repo: git.Repo, commit: str, model: str) -> production.Lineage | None:
    """The version's lineage.json, or None when it is missing or not what mlgate writes."""
    found = repo.object(f"{commit}:{production.path(model, production.LINEAGE_FILE)}")
    if found is None or found[0] != "blob":
        return None
    try:
        document = json.loads(found[1])
        return production.Lineage.from_dict(document) if isinstance(document, dict) else None
    except (ValueError, TypeError, KeyError, AttributeError, RecursionError):
        return None


# --- mlgate ui -------------------------------------------------------------------------------


def ui_out(root: Path) -> Path:
    """Where ``mlgate ui`` keeps a repository's site: in mlgate's cache, one per clone."""
    name = hashlib.sha256(str(root.resolve()).encode()).hexdigest()[:16]
    return Layout.current().root / "site" / name


class _Handler(http.server.SimpleHTTPRequestHandler):
    """Files of the site only; before each request, the site rebuilt if its inputs moved."""

    refresh: Callable[[], None]
    lock: threading.Lock  # held while rebuilding and serving: no request sees a swap

    def do_GET(self) -> None:
        with self.lock:
            self.refresh()
            super().do_GET()

    def do_HEAD(self) -> None:
        with self.lock:
            self.refresh()
            super().do_HEAD()

    def end_headers(self) -> None:
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Content-Type-Options", "nosniff")
        super().end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass  # nothing below cli.py prints


def ui_server(
    cwd: str | os.PathLike[str],
    *,
    port: int = 5000,
    out: str | os.PathLike[str] | None = None,
    config_path: str = config_mod.DEFAULT_CONFIG,
    interval: float = 1.0,
    on_build: Callable[[Built], None] | None = None,
) -> http.server.ThreadingHTTPServer:
    """A server of the site on 127.0.0.1:``port`` (0: any free port), built now and rebuilt
    when its inputs change (checked at most every ``interval`` seconds, on requests).
    The caller runs ``serve_forever`` and closes it."""
    root = git.root(git.open_repo(cwd))
    target = Path(out).absolute() if out is not None else ui_out(root)
    lock = threading.Lock()
    checked = [0.0]

    def rebuild() -> None:
        built = build(cwd, target, config_path=config_path)
        if on_build is not None and built.rebuilt:
            on_build(built)

    def refresh() -> None:  # called with the lock held
        if time.monotonic() - checked[0] < interval:
            return
        with contextlib.suppress(ConfigError):  # a config being edited: the last good site
            rebuild()
        checked[0] = time.monotonic()

    rebuild()
    checked[0] = time.monotonic()
    handler = type(
        "SiteHandler",
        (_Handler,),
        {"refresh": staticmethod(refresh), "lock": lock, "__init__": _directory_init(target)},
    )
    try:
        return http.server.ThreadingHTTPServer(("127.0.0.1", port), handler)
    except OSError as e:
        raise UsageError(f"mlgate ui cannot listen on 127.0.0.1:{port}: {e.strerror or e}") from e


def _directory_init(directory: Path) -> Callable[..., None]:
    def init(self: http.server.SimpleHTTPRequestHandler, *args: Any, **kwargs: Any) -> None:
        http.server.SimpleHTTPRequestHandler.__init__(
            self, *args, directory=str(directory), **kwargs
        )

    return init
