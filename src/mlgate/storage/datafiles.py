"""The data files of one side of a comparison, read through git's ``Files``.

A data file is either committed to git directly, stands behind a pointer (``<path>.ptr``)
whose bytes live in the cache and storage, or is tracked by DVC (``<path>.dvc`` or a
``dvc.lock`` output; see storage.dvc). ``describe`` answers from the pointer alone (no
download; a DVC file's md5 is mapped to its sha256 once its bytes were seen);
``materialize`` gives a local, verified copy to train on.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

from mlgate.core.results import DataSummary
from mlgate.errors import DataError
from mlgate.git import Files, WorkingFiles, run_git, where_at
from mlgate.paths import repo_relpath
from mlgate.storage import dvc
from mlgate.storage.fetch import fetch, locate
from mlgate.storage.formats import cached_summary, known_summary
from mlgate.storage.layout import Layout
from mlgate.storage.objects import Cache, HashMismatch, WrongSize, verify
from mlgate.storage.pointers import SUFFIX, Pointer, parse, pointer_path


def describe(files: Files, path: str, *, base: str = "") -> DataSummary | None:
    """What this side holds at ``path``: from its pointer (no download), its DVC pointer,
    or the file itself. ``base`` is the config's directory (where a dvc.lock may be)."""
    rel = repo_relpath(path)
    raw = files.read(pointer_path(rel))
    if raw is not None:
        where = where_at(files, pointer_path(rel))
        ptr = parse(raw, where=where)
        _size_of_known(ptr, where)
        return DataSummary(rel, ptr.sha256, ptr.size, ptr.rows, ptr.columns, source="pointer")

    out = dvc.find_out(files, rel, base=base)
    if out is not None:
        return _describe_dvc(files, out)
    if isinstance(files, WorkingFiles):
        return _describe_file(files.local(rel), rel)
    data = files.read(rel)
    if data is None:
        return None
    digest = hashlib.sha256(data).hexdigest()
    rows, columns = cached_summary(io.BytesIO(data), rel, digest, layout=Layout.current())
    return DataSummary(rel, digest, len(data), rows, columns, source="git")


def absent(path: str, ref: str) -> str:
    """Why a side has no data at ``path``."""
    return f"{path} not found in {ref}: neither {path} nor {path}.ptr nor {path}.dvc exists"


def differs(path: str) -> str:
    """What to do about a working file that is not the bytes its pointer names."""
    return (
        f"differs from its pointer; record it with `mlgate data add {path}` or restore it "
        "with `mlgate data pull`"
    )


def _size_of_known(ptr: Pointer, where: str) -> None:
    """WrongSize naming the pointer when the cache holds its bytes and they are another
    size: a side whose result is cached never fetches them, and its report would show the
    pointer's size. One stat when the sizes agree."""
    cache = Cache()
    obj = cache.path_for(ptr.sha256)
    try:
        if obj.stat().st_size == ptr.size:
            return
        verify(obj, ptr, stats=cache.stats)
    except WrongSize as e:
        raise e.located(file=where, line=None) from None
    except (OSError, HashMismatch):
        pass  # not in the cache, or damaged there: fetching replaces it


def _describe_file(path: Path, rel: str) -> DataSummary | None:
    if not path.is_file():
        return None
    cache = Cache()
    digest = cache.sha256_of(path)  # unchanged since last time: not read again
    rows, columns = cached_summary(path, rel, digest, layout=cache.layout)
    size = path.stat().st_size
    return DataSummary(rel, digest, size, rows, columns, source="worktree")


def _describe_dvc(files: Files, out: dvc.DvcOut) -> DataSummary:
    """A DVC-tracked file: named by md5, summarized by sha256 like any other.

    In the working tree, DVC usually has the file checked out too. When it holds the
    pointer's bytes (``dvc status`` would call it unchanged), the summary is the DVC
    one, read from the local file. When it does not, the file was edited after
    ``dvc add``: the head of a local check is the working tree, so its bytes are what
    is trained and shown (source "worktree"), as for an edited file committed to git.
    """
    cache = Cache()
    if isinstance(files, WorkingFiles) and (local := files.local(out.path)).is_file():
        sha = dvc.local_match(local, out, cache)
        if sha is None:
            return _describe_file(local, out.path) or _gone(out.path)
        rows, columns = cached_summary(local, out.path, sha, layout=cache.layout)
        size = local.stat().st_size
        return DataSummary(out.path, sha, size, rows, columns, source="dvc", md5=out.md5)
    known = dvc.known_sha256(out, cache)
    if known is not None:
        summary = known_summary(out.path, known[0], layout=cache.layout)
        if summary is not None:  # seen before: no download, no read
            sha, size = known
            return DataSummary(out.path, sha, size, *summary, source="dvc", md5=out.md5)
    # Never seen: the sha256 that everything downstream is keyed by needs the bytes.
    sha, obj = dvc.fetch_out(files, out, cache=cache)
    rows, columns = cached_summary(obj, out.path, sha, layout=cache.layout)
    size = obj.stat().st_size
    return DataSummary(out.path, sha, size, rows, columns, source="dvc", md5=out.md5)


def _gone(rel: str) -> NoReturn:
    raise DataError(f"{rel} disappeared from the working tree while being read")


def materialize(
    files: Files, path: str, *, cache: Cache, storage: str | None, base: str = ""
) -> Path:
    """A local, verified copy (in the cache) of this side's data at ``path``."""
    rel = repo_relpath(path)
    ptr_rel = pointer_path(rel)
    raw = files.read(ptr_rel)
    local = files.local(rel) if isinstance(files, WorkingFiles) else None
    if raw is not None:
        where = where_at(files, ptr_rel)
        ptr = parse(raw, where=where)
        return fetch(ptr, name=where, cache=cache, storage=storage, local=local, local_label=rel)
    out = dvc.find_out(files, rel, base=base)
    if out is not None and (local is None or not local.is_file()):
        # Verified against the md5 on the way in; a working file is handled below, as
        # describe did: its bytes, whether they match the DVC pointer or were edited since.
        return dvc.fetch_out(files, out, cache=cache)[1]
    if local is not None and local.is_file():
        # Copy, don't hand out the working file: it could change while training reads it.
        return cache.add_file(local)[1]
    if local is None and (data := files.read(rel)) is not None:
        return cache.put_bytes(data)
    raise DataError(f"data file {rel} not found at {files.ref}: neither {rel} nor {ptr_rel} exists")


@dataclass(frozen=True)
class Presence:
    """Whether a data file of the working tree can be had for training (without fetching
    it), and what tells its columns."""

    path: str  # repo-relative
    missing: str | None  # why its bytes cannot be had; None when they can
    columns: tuple[str, ...] | None = None  # known without reading data (pointer, summary)
    header: Path | None = None  # a local copy of its bytes, whose header names the columns
    modified: bool = False  # a pointer's working file that holds other bytes than it names


def presence(
    files: WorkingFiles,
    path: str,
    *,
    base: str = "",
    cache: Cache,
    storage: str | None,
    compare: bool = False,
) -> Presence | None:
    """What ``materialize`` would find at ``path``, asked without downloading anything: the
    working file, the pointer's bytes in the cache, the working tree, storage or its url,
    or a DVC out's in the cache, DVC's cache or its remote. None when neither the file nor
    a pointer nor a DVC entry exists. ConfigError/DataError for a broken pointer.
    ``compare``: also tell whether a pointer's working file holds other bytes (hashing it
    once; the stat cache remembers)."""
    rel = repo_relpath(path)
    local = files.local(rel)
    raw = files.read(pointer_path(rel))
    if raw is not None:
        ptr = parse(raw, where=pointer_path(rel))
        found = locate(ptr, cache=cache, storage=storage, local=local, local_label=rel)
        columns = tuple(ptr.columns) if ptr.columns else _known_columns(rel, ptr.sha256, cache)
        what = f"{pointer_path(rel)} (sha256 {ptr.sha256[:12]}…)"
        why = None if found.place else _not_fetched(what, found.looked, "mlgate data")
        modified = compare and local.is_file() and found.local != local
        modified = modified and not _holds(local, ptr, cache)
        return Presence(rel, why, columns, found.local, modified)
    out = dvc.find_out(files, rel, base=base)
    if local.is_file():  # committed, untracked, or DVC's checkout (edited or not): trained
        return Presence(rel, None, header=local)
    if out is None:
        return None
    known = dvc.known_sha256(out, cache)
    if known is not None and cache.has(known[0]):
        return Presence(rel, None, _known_columns(rel, known[0], cache), cache.path_for(known[0]))
    looked = ["cache (md5 not seen before)" if known is None else "cache (absent)"]
    if dvc.stored_at(files, out, looked) is not None:
        return Presence(rel, None)
    return Presence(rel, _not_fetched(f"{out.where} (md5 {out.md5[:12]}…)", looked, "dvc"))


def _holds(local: Path, ptr: Pointer, cache: Cache) -> bool:
    return local.stat().st_size == ptr.size and cache.sha256_of(local) == ptr.sha256


def _known_columns(rel: str, sha256: str, cache: Cache) -> tuple[str, ...] | None:
    summary = known_summary(rel, sha256, layout=cache.layout)
    columns = summary[1] if summary is not None else None
    return None if columns is None else tuple(columns)


def _not_fetched(what: str, looked: Iterable[str], tool: str) -> str:
    return (
        f"not fetched: the data of {what} is in none of the places check looks: "
        f"{', '.join(looked)}; `{tool} push` where it is, then `{tool} pull` here"
    )


def pointed_files(root: Path, suffixes: tuple[str, ...] = (SUFFIX,)) -> list[str]:
    """Data paths behind every pointer (``*.ptr``; also ``*.dvc`` when asked) that git
    tracks or would track, present on disk."""
    patterns = ["*" + s for s in suffixes]
    out = run_git(
        ["ls-files", "-z", "--cached", "--others", "--exclude-standard", "--", *patterns], root
    )
    found = {p for p in out.split("\0") if p.endswith(suffixes) and (root / p).is_file()}
    return sorted(_strip_suffix(p, suffixes) for p in found)


def _strip_suffix(path: str, suffixes: tuple[str, ...]) -> str:
    return next(path[: -len(s)] for s in suffixes if path.endswith(s))
