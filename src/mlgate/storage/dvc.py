"""DVC interop: data files tracked by DVC, read without DVC installed.

A data path in ``mlgate.yaml`` may be tracked by DVC: named by ``<path>.dvc`` (``dvc add``)
or by a stage output in ``dvc.lock`` (``dvc repro``). Those files name the bytes by md5;
everything downstream in mlgate (run cache, report, objects) is keyed by sha256. So the
bytes are found (the working file, the repo's DVC cache, the default DVC remote), verified
against the md5 while they are copied, stored in mlgate's sha256-addressed cache, and an
md5 -> sha256 map (``<cache>/dvc-md5/<md5>``) remembers the pair, so a later ``describe``
of the same md5 needs no download.

DVC 2 ("legacy" md5, an out without ``hash: md5``) hashed text files after converting
CRLF to LF; such an out is satisfied by bytes whose plain md5 or whose CRLF->LF md5 is
the recorded one. Directory outputs (``md5: <hex>.dir``) are not supported yet.
"""

from __future__ import annotations

import contextlib
import json
import os
import posixpath
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from mlgate.core.yamlfile import remembered
from mlgate.errors import ConfigError, DataError
from mlgate.git import CommitFiles, Files, WorkingFiles, inside, where_at
from mlgate.git import root as git_root
from mlgate.http import redact_url
from mlgate.storage import cloud
from mlgate.storage.backends import download, exists, file_url_path
from mlgate.storage.fetch import first_of, not_found
from mlgate.storage.files import atomic_write, lock_for, os_errors, temp_beside
from mlgate.storage.hashing import Digests, copy_digesting
from mlgate.storage.layout import Layout
from mlgate.storage.objects import (
    Cache,
    HashMismatch,
    ObjectMissing,
    TransferError,
    WrongSize,
    verify,
)
from mlgate.storage.pointers import Pointer
from mlgate.storage.statcache import stat_of

__all__ = [
    "DvcOut",
    "dvc_params",
    "fetch_out",
    "find_out",
    "known_sha256",
    "local_match",
    "stored_at",
]

SUFFIX = ".dvc"
LOCK = "dvc.lock"
PARAMS = "params.yaml"
_MD5 = re.compile(r"[0-9a-f]{32}")


@dataclass(frozen=True)
class DvcOut:
    """One DVC-tracked file: its repo path, md5 and size, and the file that names it."""

    path: str  # repo-relative data path
    md5: str  # 32 lowercase hex
    size: int | None  # DVC omits it in some old files
    legacy: bool  # DVC 2.x md5: text files were hashed after CRLF -> LF
    pointer: str  # repo-relative .dvc or dvc.lock naming it
    where: str  # for messages: ``data/train.csv.dvc@abc1234`` or ``dvc.lock@abc1234 stage x``


# --- finding the pointer -----------------------------------------------------------------


def find_out(files: Files, rel: str, *, base: str = "") -> DvcOut | None:
    """The DVC output for the repo path ``rel`` on this side, or None when DVC does not
    track it. Looked up in ``<rel>.dvc``, then ``dvc.lock`` at the repo root, in ``base``
    (the config's directory) and in each directory above ``rel``. A directory output that
    holds ``rel`` is a DataError: not supported yet."""
    own = rel + SUFFIX
    raw = files.read(own)
    if raw is not None:
        where = where_at(files, own)
        outs = _outs(_load(raw, where), where, posixpath.dirname(own), where)
        found = _match(outs, rel, own)
        if found is None:
            name = posixpath.basename(rel)
            raise DataError(f"{where}: no output {name}; expected outs: [{{path: {name}, ...}}]")
        return found
    parents = _parents(rel)
    for parent in reversed(parents):  # a directory tracked whole: data.dvc for data/
        dvc = parent + SUFFIX
        raw = files.read(dvc)
        if raw is not None:
            where = where_at(files, dvc)
            _match(_outs(_load(raw, where), where, posixpath.dirname(dvc), where), rel, dvc)
    for folder in dict.fromkeys(["", _clean(base), *parents]):
        lock = posixpath.join(folder, LOCK) if folder else LOCK
        raw = files.read(lock)
        if raw is None:
            continue
        where = where_at(files, lock)
        for name, stage in _stages(_load(raw, where), where):
            found = _match(_outs(stage, where, folder, f"{where} stage {name}"), rel, lock)
            if found is not None:
                return found
    return None


def _clean(path: str) -> str:
    norm = posixpath.normpath(path.replace("\\", "/")) if path else ""
    return "" if norm in ("", ".") or norm.startswith("../") or norm == ".." else norm


def _parents(rel: str) -> list[str]:
    """``a/b/c.csv`` -> ``["a", "a/b"]``."""
    parts = rel.split("/")[:-1]
    return ["/".join(parts[: i + 1]) for i in range(len(parts))]


def _load(raw: bytes, where: str) -> Any:
    return remembered("dvc", raw, Layout.current().memo, lambda: _load_yaml(raw, where))


def _load_yaml(raw: bytes, where: str) -> Any:
    import yaml  # here, not at the top: a remembered load needs no PyYAML

    try:
        return yaml.load(raw, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))  # safe
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        line = f":{mark.line + 1}" if mark is not None else ""
        problem = getattr(e, "problem", None) or "invalid YAML"
        raise DataError(f"{where}{line}: not valid YAML: {problem}") from e


def _stages(doc: Any, where: str) -> Iterator[tuple[str, dict[str, Any]]]:
    if doc is None:
        return
    if not isinstance(doc, dict):
        raise DataError(f"{where}: expected a mapping with stages:, as dvc writes it")
    stages = doc.get("stages") or {}
    if not isinstance(stages, dict):
        raise DataError(f"{where}: stages: expected a mapping of stage name to stage")
    for name, stage in stages.items():
        if not isinstance(stage, dict):
            raise DataError(f"{where}: stages.{name}: expected a mapping")
        yield str(name), stage


def _outs(doc: Any, where: str, folder: str, label: str) -> list[tuple[str, dict[str, Any], str]]:
    """(repo path, out, label) per output of a .dvc file or a dvc.lock stage."""
    if not isinstance(doc, dict):
        raise DataError(f"{where}: expected a mapping with outs:, as dvc writes it")
    outs = doc.get("outs") or []
    if not isinstance(outs, list):
        raise DataError(f"{where}: outs: expected a list")
    found = []
    for i, out in enumerate(outs):
        if not isinstance(out, dict) or not isinstance(out.get("path"), str):
            raise DataError(f"{where}: outs[{i}]: expected a mapping with a path")
        joined = posixpath.normpath(posixpath.join(folder, out["path"].replace("\\", "/")))
        found.append((joined, out, label))
    return found


def _match(outs: list[tuple[str, dict[str, Any], str]], rel: str, pointer: str) -> DvcOut | None:
    for path, out, label in outs:
        inside = rel.startswith(path + "/") or path in (".", "")
        if path != rel and not inside:
            continue
        md5 = out.get("md5")
        if (isinstance(md5, str) and md5.endswith(".dir")) or inside:
            what = f"as part of the directory {path}" if inside else "as a directory"
            raise DataError(
                f"{rel} is tracked by DVC {what} ({label}); directory outputs are not "
                f"supported yet: track the file itself (dvc add {rel}), or commit it"
            )
        if out.get("cache") is False:
            return None  # not in DVC's cache: the file is committed to git, if anywhere
        if not isinstance(md5, str) or not _MD5.fullmatch(md5):
            raise DataError(f"{label}: out {path}: md5: expected 32 hex digits, got {md5!r}")
        size = out.get("size")
        if size is not None and (not isinstance(size, int) or isinstance(size, bool) or size < 0):
            raise DataError(f"{label}: out {path}: size: expected a byte count, got {size!r}")
        return DvcOut(
            path=rel,
            md5=md5,
            size=size,
            legacy=out.get("hash") != "md5",
            pointer=pointer,
            where=label,
        )
    return None


# --- the md5 -> sha256 map ---------------------------------------------------------------

# ``<cache>/dvc-md5/<md5>``: bytes whose plain md5 is <md5>. ``<md5>-legacy``: bytes that
# only match a DVC 2 md5 after CRLF -> LF (another file may match the same legacy md5).


def _map_path(cache: Cache, md5: str, *, legacy: bool) -> Path:
    return cache.layout.dvc_md5 / (f"{md5}-legacy" if legacy else md5)


def known_sha256(out: DvcOut, cache: Cache) -> tuple[str, int] | None:
    """(sha256, size) of the out's bytes when they were seen before; no read of the data."""
    for legacy in (False, True) if out.legacy else (False,):
        try:
            record = json.loads(_map_path(cache, out.md5, legacy=legacy).read_bytes())
        except (OSError, ValueError):
            continue  # absent or damaged: a miss
        if not isinstance(record, dict):
            continue
        sha, size = record.get("sha256"), record.get("size")
        if (
            isinstance(sha, str)
            and re.fullmatch(r"[0-9a-f]{64}", sha)
            and isinstance(size, int)
            and out.size in (None, size)
        ):
            return sha, size
    return None


def _remember(cache: Cache, out: DvcOut, digests: Digests) -> None:
    legacy = digests.md5() != out.md5  # matched only after CRLF -> LF
    record = {"sha256": digests.sha256(), "size": digests.size}
    # A read-only cache: the next describe fetches again, nothing worse.
    with contextlib.suppress(OSError):
        atomic_write(_map_path(cache, out.md5, legacy=legacy), json.dumps(record).encode())


# --- hashing -----------------------------------------------------------------------------


def _matches(digests: Digests, out: DvcOut) -> bool:
    return digests.md5() == out.md5 or (out.legacy and digests.unix_md5() == out.md5)


def _check(digests: Digests, out: DvcOut) -> None:
    """HashMismatch unless these are the out's bytes (size first, then md5)."""
    if out.size is not None and digests.size != out.size:
        reason = f"corrupt: {digests.size} bytes, expected {out.size}"
        raise HashMismatch(f"{reason} for {out.where}", reason=reason)
    if not _matches(digests, out):
        reason = f"corrupt: md5 {digests.md5()[:12]}… differs"
        raise HashMismatch(f"{reason} for {out.where}", reason=reason)


def local_match(path: Path, out: DvcOut, cache: Cache) -> str | None:
    """The sha256 of the working file ``path`` when it holds the out's bytes, else None.

    Cheap when nothing changed: the stat cache gives the file's sha256 without a read,
    and the md5 map says whether that is the out's. Otherwise the file is read once.
    """
    size = path.stat().st_size
    if out.size is not None and size != out.size:
        return None
    sha = cache.stats.lookup(path)
    known = known_sha256(out, cache)
    if sha is not None and known is not None:
        if known[0] == sha:
            return sha
        if not out.legacy:
            return None  # a plain md5 names exactly one content, and it is another one
    before, started = stat_of(path), time.time_ns()
    digests = copy_digesting(path, None)
    cache.stats.remember(path, before, stat_of(path), digests.sha256(), started_ns=started)
    if not _matches(digests, out):
        return None
    _remember(cache, out, digests)
    return digests.sha256()


# --- fetching the bytes ------------------------------------------------------------------

Fill = Callable[[Path], Digests]


def fetch_out(files: Files, out: DvcOut, *, cache: Cache) -> tuple[str, Path]:
    """(sha256, verified object in mlgate's cache) for the out's bytes, found if need be.

    Looked in: mlgate's cache (through the md5 map), the working file, the repo's DVC
    cache, the default DVC remote. DataError naming the pointer and every place looked.
    """
    doing = f"cannot fetch {out.where} into the cache {cache.root}"
    with os_errors(doing), lock_for(cache.layout.locks / f"dvc-md5-{out.md5}"):
        looked: list[str] = []
        found = _cached(out, cache, looked)
        if found is not None:
            return found
        places = _places(files, out, looked)
        found = first_of(
            ((label, partial(_install, out, cache, fill)) for label, fill in places), looked
        )
        if found is not None:
            return found
    raise not_found(f"{out.where} (md5 {out.md5[:12]}…)", looked)


def _cached(out: DvcOut, cache: Cache, looked: list[str]) -> tuple[str, Path] | None:
    known = known_sha256(out, cache)
    if known is None:
        looked.append("cache (md5 not seen before)")
        return None
    sha, size = known
    final = cache.path_for(sha)
    if not final.is_file():
        looked.append(f"cache {final} (absent)")
        return None
    try:
        verify(final, Pointer(sha, size))
    except WrongSize:  # the object is good, the map's size is not: fetched and mapped anew
        looked.append(f"cache {final} (the md5 map's size is wrong)")
        return None
    except HashMismatch as e:
        final.unlink(missing_ok=True)
        looked.append(f"cache {final} ({e.reason}, removed)")
        return None
    return sha, final


def _install(out: DvcOut, cache: Cache, fill: Fill) -> tuple[str, Path]:
    # The temp file sits in the objects directory: one filesystem, so the rename is atomic.
    with temp_beside(cache.objects / "incoming") as tmp:
        digests = fill(tmp)
        _check(digests, out)
        sha = digests.sha256()
        final = cache.path_for(sha)
        with cache.lock(sha):
            final.parent.mkdir(parents=True, exist_ok=True)
            os.replace(tmp, final)
    _remember(cache, out, digests)
    return sha, final


def _repo_root(files: Files) -> Path | None:
    if isinstance(files, WorkingFiles):
        return files.root
    if isinstance(files, CommitFiles):
        try:
            return git_root(files.repo)
        except Exception:
            return None  # a bare repository: no working files, no local DVC cache
    return None


def _object_names(md5: str, *, legacy: bool) -> list[str]:
    """DVC 3 keeps objects at ``files/md5/<2>/<30>``, DVC 2 (and DVC 3 for legacy md5s)
    at ``<2>/<30>``: the likelier one first."""
    new, old = f"files/md5/{md5[:2]}/{md5[2:]}", f"{md5[:2]}/{md5[2:]}"
    return [old, new] if legacy else [new, old]


def _places(files: Files, out: DvcOut, looked: list[str]) -> Iterator[tuple[str, Fill]]:
    top = _repo_root(files)
    if top is not None:
        local = inside(top, out.path)
        yield f"working tree {out.path}", lambda tmp: _from_local(local, out, tmp)
    for label, source in _stores(files, top, out, looked):
        yield label, _copier(source) if isinstance(source, Path) else _downloader(source)


def _stores(
    files: Files, top: Path | None, out: DvcOut, looked: list[str]
) -> Iterator[tuple[str, Path | str]]:
    """(label, local path or URL) per place DVC keeps the out's bytes: its cache, then its
    default remote."""
    config = _config(files, top)
    dvc_dir = top / ".dvc" if top is not None else None
    names = _object_names(out.md5, legacy=out.legacy)
    cache_root = _cache_dir(config, dvc_dir)
    if cache_root is not None:
        for name in names:
            path = cache_root / name
            yield f"DVC cache {path}", path
    yield from _remote_places(config, dvc_dir, names, looked)


def stored_at(files: Files, out: DvcOut, looked: list[str]) -> str | None:
    """The first place in DVC's cache or default remote holding the out's bytes, found
    without downloading them (a stat, or an HTTP HEAD), or None; each place looked is noted
    in ``looked``. DataError when a remote cannot be asked."""
    for label, source in _stores(files, _repo_root(files), out, looked):
        if source.is_file() if isinstance(source, Path) else exists(source):
            return label
        looked.append(f"{label} (absent)")
    return None


def _from_local(local: Path, out: DvcOut, tmp: Path) -> Digests:
    try:
        size = local.stat().st_size
    except (FileNotFoundError, NotADirectoryError) as e:
        raise ObjectMissing(f"{local} does not exist", reason="absent") from e
    if out.size is not None and size != out.size:
        raise HashMismatch(f"{local} differs from {out.where}", reason="modified")
    digests = copy_digesting(local, tmp)
    if not _matches(digests, out):
        raise HashMismatch(f"{local} differs from {out.where}", reason="modified")
    return digests


def _copier(src: Path) -> Fill:
    def fill(tmp: Path) -> Digests:
        try:
            return copy_digesting(src, tmp)
        except (FileNotFoundError, NotADirectoryError) as e:
            raise ObjectMissing(f"{src} not found", reason="absent") from e
        except OSError as e:
            raise TransferError(f"cannot read {src}: {e.strerror}", reason=str(e.strerror)) from e

    return fill


def _downloader(url: str) -> Fill:
    def fill(tmp: Path) -> Digests:
        download(url, tmp)  # streamed; ObjectMissing on 404, TransferError otherwise
        return copy_digesting(tmp, None)

    return fill


def _remote_places(
    config: dict[str, dict[str, str]], dvc_dir: Path | None, names: list[str], looked: list[str]
) -> Iterator[tuple[str, Path | str]]:
    name = config.get("core", {}).get("remote")
    if not name:
        looked.append("DVC remote (none configured)")
        return
    url = config.get(f'remote "{name}"', {}).get("url")
    if not url:
        looked.append(f"DVC remote {name} (no url in .dvc/config)")
        return
    shown = f"DVC remote {name} {redact_url(url)}"
    scheme = urlsplit(url).scheme.lower()
    if scheme == "azure":  # DVC's spelling of az://
        url = "az" + url[len(scheme) :]
        scheme = "az"
    if scheme in ("http", "https", *cloud.SCHEMES):
        # A bucket is read with mlgate's own credentials and endpoint (the environment and
        # the provider's config files), never .dvc/config's: that file is the PR's, and its
        # endpointurl would send signed requests wherever the PR says.
        for obj in names:
            full = f"{url.rstrip('/')}/{obj}"
            yield f"DVC remote {name} {redact_url(full)}", full
        return
    if scheme == "file":
        try:
            base = file_url_path(url)
        except ConfigError as e:
            looked.append(f"{shown} ({e.detail})")
            return
    elif len(scheme) <= 1:  # no scheme, or a Windows drive letter: a local path
        base = Path(url).expanduser()
        if not base.is_absolute():
            if dvc_dir is None:
                looked.append(f"{shown} (a relative path, and no working tree)")
                return
            base = dvc_dir / base
    else:
        looked.append(
            f"{shown} (unsupported: mlgate reads file://, local path, http(s), s3, gs and "
            "azure remotes; "
            "run `dvc pull` to fetch it)"
        )
        return
    for obj in names:
        path = base / obj
        yield f"DVC remote {name} {path}", path


# --- .dvc/config -------------------------------------------------------------------------


def _config(files: Files, top: Path | None) -> dict[str, dict[str, str]]:
    """``.dvc/config`` at this side's revision, overridden by ``.dvc/config.local`` of the
    working tree (never committed: it holds local paths and credentials)."""
    merged: dict[str, dict[str, str]] = {}
    layers: list[tuple[bytes | None, str]] = [
        (files.read(".dvc/config"), where_at(files, ".dvc/config"))
    ]
    if top is not None:
        try:
            local: bytes | None = inside(top, ".dvc/config.local").read_bytes()
        except OSError:
            local = None
        layers.append((local, ".dvc/config.local"))
    for raw, where in layers:
        if raw is None:
            continue
        for section, values in parse_config(raw, where).items():
            merged.setdefault(section, {}).update(values)
    return merged


def parse_config(raw: bytes, where: str) -> dict[str, dict[str, str]]:
    """DVC's config (configobj syntax): ``[core]``, ``['remote "name"']``, ``key = value``.

    Section names lose their outer quotes and are lowercased like DVC does
    (``remote "store"``); values lose theirs and any trailing `` # comment``.
    """
    sections: dict[str, dict[str, str]] = {}
    current: dict[str, str] | None = None
    text = raw.decode("utf-8", errors="replace")
    for number, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        if not stripped or stripped.startswith(("#", ";")):
            continue
        if stripped.startswith("[") and stripped.endswith("]"):
            name = _unquote(stripped.strip("[]").strip())
            kind, _, rest = name.partition(" ")
            name = f"{kind.lower()} {rest.strip()}" if rest else kind.lower()
            current = sections.setdefault(name, {})
            continue
        key, sep, value = stripped.partition("=")
        if not sep or current is None or not key.strip():
            raise DataError(
                f"{where}:{number}: cannot read {stripped!r}; expected [section] or key = value"
            )
        value = value.strip()
        if value[:1] in ("'", '"'):
            value = _unquote(value)
        else:
            value = re.split(r"\s+#", value, maxsplit=1)[0].strip()
        current[key.strip().lower()] = value
    return sections


def _unquote(text: str) -> str:
    if len(text) >= 2 and text[0] == text[-1] and text[0] in ("'", '"'):
        return text[1:-1]
    return text


def _cache_dir(config: dict[str, dict[str, str]], dvc_dir: Path | None) -> Path | None:
    configured = config.get("cache", {}).get("dir")
    if configured:
        path = Path(configured).expanduser()
        if path.is_absolute():
            return path
        return None if dvc_dir is None else dvc_dir / path
    return None if dvc_dir is None else dvc_dir / "cache"


# --- params ------------------------------------------------------------------------------


def dvc_params(files: Files, base: str = "") -> dict[str, Any]:
    """The params DVC tracks on this side: ``{file: {key: value}}``, for a params diff.

    ``params.yaml`` at the repo root and in ``base`` (the config's directory) are read
    whole; the ``params:`` of every stage in ``dvc.lock`` (root and ``base``) add the
    values recorded for other files. A file read whole wins over the values a lock
    recorded for it: the file is what the revision holds. Keys are repo-relative paths.
    """
    folder = _clean(base)
    folders = list(dict.fromkeys(["", folder]))
    found: dict[str, Any] = {}
    whole: set[str] = set()
    for f in folders:
        path = posixpath.join(f, PARAMS) if f else PARAMS
        raw = files.read(path)
        if raw is None:
            continue
        where = where_at(files, path)
        doc = _load(raw, where)
        if doc is None:
            doc = {}
        if not isinstance(doc, dict):
            raise DataError(f"{where}: expected a mapping of parameter names to values")
        found[path] = doc
        whole.add(path)
    for f in folders:
        lock = posixpath.join(f, LOCK) if f else LOCK
        raw = files.read(lock)
        if raw is None:
            continue
        where = where_at(files, lock)
        for name, stage in _stages(_load(raw, where), where):
            params = stage.get("params") or {}
            if not isinstance(params, dict):
                raise DataError(f"{where}: stages.{name}.params: expected a mapping of files")
            for file, values in params.items():
                path = posixpath.normpath(posixpath.join(f, str(file)))
                if path in whole:
                    continue
                if not isinstance(values, dict):
                    raise DataError(
                        f"{where}: stages.{name}.params.{file}: expected a mapping of keys"
                    )
                found.setdefault(path, {}).update(values)
    return found
