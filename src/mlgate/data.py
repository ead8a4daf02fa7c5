"""Data files: what a side of the comparison holds, and the ``mlgate data`` commands.

A data file is either committed to git directly, stands behind a pointer (``<path>.ptr``)
whose bytes live in the cache and storage, or is tracked by DVC (``<path>.dvc`` or a
``dvc.lock`` output; see dvcfiles). ``describe`` answers from the pointer alone (no
download; a DVC file's md5 is mapped to its sha256 once its bytes were seen);
``materialize`` gives a local, verified copy to train on.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import IO, TYPE_CHECKING, Any, Literal, NoReturn

from mlgate.errors import ConfigError, DataError, UsageError
from mlgate.git import Files, WorkingFiles, ignored, run_git, where_at
from mlgate.paths import repo_relpath
from mlgate.pointers import SUFFIX, Pointer, data_path, parse, pointer_path
from mlgate.results import DataSummary
from mlgate.store import (
    Backend,
    Cache,
    atomic_write,
    backend_for,
    cache_dir,
    copy_verified,
    fetch,
    lock_for,
    os_errors,
    redact,
    sha256_file,
    short,
    temp_beside,
)

if TYPE_CHECKING:
    from mlgate import dvcfiles

__all__ = [
    "StatusEntry",
    "add",
    "data_format",
    "describe",
    "materialize",
    "pull",
    "push",
    "sha256_file",
    "status",
    "summarize_file",
]

Format = Literal["csv", "tsv", "parquet"]
_FORMATS: dict[str, Format] = {
    ".csv": "csv",
    ".tsv": "tsv",
    ".parquet": "parquet",
    ".pq": "parquet",
}
_COMPRESSION = {".gz": "gzip", ".bz2": "bz2", ".xz": "xz", ".zip": "zip", ".zst": "zstd"}


# --- formats and summaries ---------------------------------------------------------------


def data_format(name: str) -> Format | None:
    """The tabular format a file name says (``x.csv``, ``x.csv.gz``, ``x.parquet``), if any."""
    suffixes = [s.lower() for s in PurePosixPath(name).suffixes]
    if suffixes and suffixes[-1] in _COMPRESSION:
        suffixes.pop()
        if suffixes and suffixes[-1] not in (".csv", ".tsv"):
            return None  # only the text formats are read compressed
    return _FORMATS.get(suffixes[-1]) if suffixes else None


def compression(name: str) -> str | None:
    """The compression a file name says, for pandas (which cannot infer it from a cache path)."""
    return _COMPRESSION.get(PurePosixPath(name).suffix.lower())


def summarize_file(path: Path, *, fmt_from: str) -> tuple[int | None, dict[str, str] | None]:
    """Rows and {column: dtype} of a tabular file; (None, None) for other formats.

    ``fmt_from`` is the repo path the bytes belong to: it decides the format (a cache object
    has no extension) and names the file in errors.
    """
    return _summarize(path, fmt_from)


Summary = tuple[int | None, dict[str, str] | None]


def _summarize(source: Path | IO[bytes], fmt_from: str) -> Summary:
    fmt = data_format(fmt_from)
    if fmt == "parquet":
        return _parquet_summary(source, fmt_from)
    if fmt is not None:
        return _csv_summary(source, fmt_from, sep="\t" if fmt == "tsv" else ",")
    return None, None


def _csv_summary(
    source: Path | IO[bytes], fmt_from: str, *, sep: str
) -> tuple[int, dict[str, str]]:
    import pandas as pd

    try:
        frame = _read_csv(source, fmt_from, sep=sep)
    except pd.errors.EmptyDataError:
        return 0, {}
    return len(frame), {str(name): str(dtype) for name, dtype in frame.dtypes.items()}


def _read_csv(source: Path | IO[bytes], fmt_from: str, *, sep: str) -> Any:
    import pandas as pd

    # The default C engine, even when pyarrow is installed (issue 5 asked for the fastest):
    # metrics must not depend on which libraries happen to be installed, and
    # engine="pyarrow" reads a different frame. Measured with pandas 3.1 / pyarrow 26: it
    # turns "2024-01-02 10:00:00" into datetime64 and "10:00:00" into time objects (C: str),
    # "0x10" into the int 16 (C: str), and 18446744073709551615 into a float (C: uint64).
    # It agreed on the example datasets, ints, floats to 17 digits, text, missing values
    # and booleans, and was no faster there (100 MB of floats on 2 CPUs: 0.31 s against
    # 0.18-0.23 s), so nothing is lost by not using it. tests/test_statcache.py pins this.
    try:
        return pd.read_csv(source, sep=sep, compression=compression(fmt_from))
    except pd.errors.EmptyDataError:
        raise
    except (ValueError, UnicodeDecodeError, OSError) as e:  # ParserError is a ValueError
        raise DataError(f"cannot read {fmt_from} as {sep!r}-separated text: {_line(e)}") from e


def read_frame(path: Path, fmt_from: str) -> Any:
    """The data as a pandas DataFrame, read the way training reads it. ``fmt_from`` is the
    repo path the bytes belong to (a cache object has no extension)."""
    import pandas as pd

    fmt = data_format(fmt_from)
    if fmt is None:
        raise DataError(
            f"cannot train on {fmt_from}: unsupported format; expected .csv or .tsv "
            "(optionally .gz/.bz2/.xz/.zip/.zst) or .parquet"
        )
    if fmt != "parquet":
        try:
            return _read_csv(path, fmt_from, sep="\t" if fmt == "tsv" else ",")
        except pd.errors.EmptyDataError as e:
            raise DataError(f"{fmt_from} is empty") from e
    try:
        import pyarrow  # noqa: F401
    except ImportError as e:
        raise DataError(f"reading {fmt_from} needs pyarrow: pip install 'mlgate[parquet]'") from e
    try:
        return pd.read_parquet(path)
    except (ValueError, OSError) as e:
        raise DataError(f"cannot read {fmt_from} as parquet: {_line(e)}") from e


def _parquet_summary(source: Path | IO[bytes], fmt_from: str) -> tuple[int, dict[str, str]]:
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError as e:
        raise DataError(f"reading {fmt_from} needs pyarrow: pip install 'mlgate[parquet]'") from e
    try:
        with pq.ParquetFile(str(source) if isinstance(source, Path) else source) as pf:
            rows = pf.metadata.num_rows
            # An empty table through pandas gives the dtypes training will see, in the same
            # vocabulary as CSV (int64, float64, object/str), without reading any row.
            dtypes = pf.schema_arrow.empty_table().to_pandas().dtypes
    except (pa.ArrowException, ValueError, OSError) as e:
        raise DataError(f"cannot read {fmt_from} as parquet: {_line(e)}") from e
    return int(rows), {str(name): str(dtype) for name, dtype in dtypes.items()}


# --- the summary cache: rows and dtypes by content, so describing known bytes skips pandas --


def _summary(source: Path | IO[bytes], fmt_from: str, sha256: str, *, root: Path) -> Summary:
    """``_summarize`` through ``<root>/summaries/<sha256>.json``.

    A ``check`` describes the same data on every run, and importing pandas alone costs the
    parent process ~0.5 s (issue 5). The first computation still goes through pandas, as
    it gives the dtypes training will see.
    """
    key = _summary_key(fmt_from)
    if key is None:
        return _summarize(source, fmt_from)
    path = root / "summaries" / f"{sha256}.json"
    found = _read_summary(path, key)
    if found is not None:
        return found
    rows, columns = _summarize(source, fmt_from)
    record = {"key": key, "rows": rows, "columns": columns}
    with contextlib.suppress(OSError):  # a read-only cache only costs the next run time
        atomic_write(path, json.dumps(record).encode())
    return rows, columns


def _summary_key(fmt_from: str) -> dict[str, str | None] | None:
    """What a summary depends on besides the bytes; None when nothing is worth caching.

    The library versions are in it because dtype names change with them (pandas 3 calls
    a text column "str", pandas 2 "object"): a stale name would show as a retyped column.
    They come from package metadata, which does not import the libraries.
    """
    fmt = data_format(fmt_from)
    if fmt is None:
        return None  # not tabular: the summary is (None, None) without reading anything
    try:
        from importlib import metadata  # ~15 ms: only when a summary is computed

        pandas = metadata.version("pandas")
        pyarrow = metadata.version("pyarrow") if fmt == "parquet" else None
    except metadata.PackageNotFoundError:
        return None  # summarizing will say what is missing
    return {
        "format": fmt,
        "compression": compression(fmt_from),
        "pandas": pandas,
        "pyarrow": pyarrow,
    }


def _read_summary(path: Path, key: dict[str, str | None]) -> Summary | None:
    try:
        record = json.loads(path.read_bytes())
    except (OSError, ValueError):
        return None  # absent or damaged: computed again and rewritten
    if not isinstance(record, dict) or record.get("key") != key:
        return None  # another format or library version (same bytes read as .tsv, say)
    rows, columns = record.get("rows"), record.get("columns")
    if not isinstance(rows, int) or not isinstance(columns, dict):
        return None
    if not all(isinstance(v, str) for v in columns.values()):
        return None
    return rows, columns


def _line(e: BaseException) -> str:
    """An exception's message on one line (pandas' parser errors span several)."""
    return " ".join(str(e).split()) or type(e).__name__


# --- one side of a comparison ------------------------------------------------------------


def describe(files: Files, path: str, *, base: str = "") -> DataSummary | None:
    """What this side holds at ``path``: from its pointer (no download), its DVC pointer,
    or the file itself. ``base`` is the config's directory (where a dvc.lock may be)."""
    rel = repo_relpath(path)
    raw = files.read(pointer_path(rel))
    if raw is not None:
        ptr = parse(raw, where=where_at(files, pointer_path(rel)))
        return DataSummary(rel, ptr.sha256, ptr.size, ptr.rows, ptr.columns, source="pointer")
    from mlgate import dvcfiles  # only where a data file may be DVC-tracked

    out = dvcfiles.find_out(files, rel, base=base)
    if out is not None:
        return _describe_dvc(files, out)
    if isinstance(files, WorkingFiles):
        return _describe_file(files.root / rel, rel)
    data = files.read(rel)
    if data is None:
        return None
    digest = hashlib.sha256(data).hexdigest()
    rows, columns = _summary(io.BytesIO(data), rel, digest, root=cache_dir())
    return DataSummary(rel, digest, len(data), rows, columns, source="git")


def _describe_file(path: Path, rel: str) -> DataSummary | None:
    if not path.is_file():
        return None
    cache = Cache()
    digest = cache.sha256_of(path)  # unchanged since last time: not read again
    rows, columns = _summary(path, rel, digest, root=cache.root)
    size = path.stat().st_size
    return DataSummary(rel, digest, size, rows, columns, source="worktree")


def _describe_dvc(files: Files, out: dvcfiles.DvcOut) -> DataSummary:
    """A DVC-tracked file: named by md5, summarized by sha256 like any other.

    In the working tree, DVC usually has the file checked out too. When it holds the
    pointer's bytes (``dvc status`` would call it unchanged), the summary is the DVC
    one, read from the local file. When it does not, the file was edited after
    ``dvc add``: the head of a local check is the working tree, so its bytes are what
    is trained and shown (source "worktree"), as for an edited file committed to git.
    """
    from mlgate import dvcfiles

    cache = Cache()
    if isinstance(files, WorkingFiles) and (local := files.root / out.path).is_file():
        sha = dvcfiles.local_match(local, out, cache)
        if sha is None:
            return _describe_file(local, out.path) or _gone(out.path)
        rows, columns = _summary(local, out.path, sha, root=cache.root)
        size = local.stat().st_size
        return DataSummary(out.path, sha, size, rows, columns, source="dvc", md5=out.md5)
    known = dvcfiles.known_sha256(out, cache)
    if known is not None:
        summary = _known_summary(out.path, known[0], root=cache.root)
        if summary is not None:  # seen before: no download, no read
            sha, size = known
            return DataSummary(out.path, sha, size, *summary, source="dvc", md5=out.md5)
    # Never seen: the sha256 that everything downstream is keyed by needs the bytes.
    sha, obj = dvcfiles.fetch_out(files, out, cache=cache)
    rows, columns = _summary(obj, out.path, sha, root=cache.root)
    size = obj.stat().st_size
    return DataSummary(out.path, sha, size, rows, columns, source="dvc", md5=out.md5)


def _known_summary(fmt_from: str, sha256: str, *, root: Path) -> Summary | None:
    """The summary of known bytes without reading them, when the summary cache has it."""
    if data_format(fmt_from) is None:
        return None, None  # not tabular: nothing to read anyway
    key = _summary_key(fmt_from)
    return None if key is None else _read_summary(root / "summaries" / f"{sha256}.json", key)


def _gone(rel: str) -> NoReturn:
    raise DataError(f"{rel} disappeared from the working tree while being read")


def materialize(
    files: Files, path: str, *, cache: Cache, storage: str | None, base: str = ""
) -> Path:
    """A local, verified copy (in the cache) of this side's data at ``path``."""
    rel = repo_relpath(path)
    ptr_rel = pointer_path(rel)
    raw = files.read(ptr_rel)
    root = files.root if isinstance(files, WorkingFiles) else None
    if raw is not None:
        where = where_at(files, ptr_rel)
        local = root / rel if root is not None else None
        ptr = parse(raw, where=where)
        return fetch(ptr, name=where, cache=cache, storage=storage, local=local, local_label=rel)
    from mlgate import dvcfiles

    out = dvcfiles.find_out(files, rel, base=base)
    if out is not None and (root is None or not (root / rel).is_file()):
        # Verified against the md5 on the way in; a working file is handled below, as
        # describe did: its bytes, whether they match the DVC pointer or were edited since.
        return dvcfiles.fetch_out(files, out, cache=cache)[1]
    if root is not None and (root / rel).is_file():
        # Copy, don't hand out the working file: it could change while training reads it.
        return cache.add_file(root / rel)[1]
    if root is None and (data := files.read(rel)) is not None:
        return cache.put_bytes(data)
    raise DataError(f"data file {rel} not found at {files.ref}: neither {rel} nor {ptr_rel} exists")


# --- mlgate data add ---------------------------------------------------------------------


def add(
    root: Path,
    paths: Sequence[str],
    *,
    url: str | None,
    storage: str | None,
    cache: Cache,
) -> list[tuple[str, Pointer]]:
    """Point git at each data file: write ``<path>.ptr``, store the bytes, git-ignore the file."""
    if url is not None and len(paths) != 1:
        raise UsageError("--url is the location of one file; add files one at a time with it")
    backend = backend_for(storage) if storage else None  # a bad URL fails before any write
    rels = [_add_target(root, p) for p in paths]
    with os_errors(f"cannot add {', '.join(rels)}"):
        added = [(rel, _add_one(root, rel, url=url, backend=backend, cache=cache)) for rel in rels]
        _gitignore(root, rels, cache)
    return added


def _add_target(root: Path, path: str) -> str:
    rel = _repo_path(root, path)
    if rel.endswith(SUFFIX):
        raise ConfigError(f"{rel} is a pointer; add the data file {data_path(rel)} instead")
    if rel == ".git" or rel.startswith(".git/"):
        raise ConfigError(f"{rel} is inside .git; add a data file of the repository")
    return rel


def _add_one(
    root: Path, rel: str, *, url: str | None, backend: Backend | None, cache: Cache
) -> Pointer:
    src = root / rel
    if not src.is_file():
        what = "is a directory" if src.is_dir() else "does not exist"
        raise DataError(f"cannot add {rel}: {src} {what}")
    # One read: hashed while copied into the cache (a file that changes mid-way fails).
    # The summary reads the stored copy, or comes from the summary cache.
    digest, obj = cache.add_file(src)
    rows, columns = _summary(obj, rel, digest, root=cache.root)
    ptr = Pointer(digest, obj.stat().st_size, rows, columns, url or _kept_url(root, rel, digest))
    if backend is not None and backend.writable:
        backend.put(obj, digest)
    # Last: a pointer is only written once its bytes are stored.
    atomic_write(root / pointer_path(rel), ptr.dump().encode())
    return ptr


def _kept_url(root: Path, rel: str, digest: str) -> str | None:
    """The old pointer's url, while it still names the same bytes."""
    try:
        old = parse((root / pointer_path(rel)).read_bytes(), where=pointer_path(rel))
    except (FileNotFoundError, ConfigError):
        return None  # no pointer yet, or a broken one this add replaces
    return old.url if old.sha256 == digest else None


def _gitignore(root: Path, rels: Sequence[str], cache: Cache) -> None:
    """Add ``/<rel>`` lines to the repo's .gitignore, each once, keeping what is there."""
    gitignore = root / ".gitignore"
    # The lock lives in the cache, not the repo, so it never shows up as an untracked file.
    key = hashlib.sha256(str(root.resolve()).encode()).hexdigest()[:16]
    with lock_for(cache.root / "locks" / f"gitignore-{key}"):
        text = gitignore.read_bytes().decode("utf-8") if gitignore.exists() else ""
        present = {line.rstrip("\r") for line in text.split("\n")}
        already = ignored(root, list(rels))  # e.g. by "data/" or "*.csv" lines
        wanted = [r for r in rels if r not in already]
        entries = [e for e in dict.fromkeys(_ignore_entry(r) for r in wanted) if e not in present]
        if not entries:
            return
        newline = "\r\n" if "\r\n" in text else "\n"
        if text and not text.endswith("\n"):
            text += newline
        atomic_write(gitignore, (text + "".join(e + newline for e in entries)).encode("utf-8"))


def _ignore_entry(rel: str) -> str:
    """``/data/train.csv``: anchored at the repo root, glob characters escaped."""
    escaped = re.sub(r"([*?\[\\])", r"\\\1", rel)
    if escaped.endswith(" "):
        escaped = escaped[:-1] + "\\ "  # git drops unescaped trailing spaces
    return "/" + escaped


# --- mlgate data status / pull / push ----------------------------------------------------


@dataclass(frozen=True)
class StatusEntry:
    path: str  # the data file, repo-relative
    pointer: str  # its .ptr
    sha256: str
    size: int
    data: Literal["ok", "modified", "missing"]  # the working-tree file against the pointer
    in_cache: bool
    in_storage: Literal["yes", "no", "unknown"]  # unknown: no storage, or it did not answer


def status(root: Path, *, cache: Cache, storage: str | None) -> list[StatusEntry]:
    """One entry per pointer tracked or present in the working tree, sorted by path."""
    backend = backend_for(storage) if storage else None
    entries = []
    for rel in pointed_files(root):
        ptr = _read_pointer(root, rel)
        entries.append(
            StatusEntry(
                path=rel,
                pointer=pointer_path(rel),
                sha256=ptr.sha256,
                size=ptr.size,
                data=_worktree_state(root / rel, ptr, cache),
                in_cache=cache.has(ptr.sha256),
                in_storage=_in_storage(backend, ptr.sha256),
            )
        )
    return entries


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


def _worktree_state(path: Path, ptr: Pointer, cache: Cache) -> Literal["ok", "modified", "missing"]:
    if not path.is_file():
        return "missing"
    if path.stat().st_size != ptr.size or cache.sha256_of(path) != ptr.sha256:
        return "modified"
    return "ok"


def _in_storage(backend: Backend | None, digest: str) -> Literal["yes", "no", "unknown"]:
    if backend is None:
        return "unknown"
    try:
        return "yes" if backend.has(digest) else "no"
    except DataError:
        return "unknown"  # status reports; it does not fail because storage is unreachable


def pull(
    root: Path, paths: Sequence[str] | None, *, cache: Cache, storage: str | None
) -> list[str]:
    """Put each pointer's bytes at its data path; returns the paths written."""
    return [rel for rel in _selected(root, paths) if _pull_one(root, rel, cache, storage)]


def _pull_one(root: Path, rel: str, cache: Cache, storage: str | None) -> bool:
    ptr = _read_pointer(root, rel)
    dest = root / rel
    if dest.exists() and not dest.is_file():
        raise DataError(f"cannot pull {rel}: {dest} exists and is not a file")
    if dest.is_file():
        current = cache.sha256_of(dest)
        if current == ptr.sha256:
            return False
        # Overwrite only bytes the cache still holds, so a pull never loses local edits.
        if not cache.has(current):
            raise DataError(
                f"{rel} has changes not recorded in {pointer_path(rel)}; run "
                f"`mlgate data add {rel}` to keep them, or delete {rel} to pull "
                f"{short(ptr.sha256)}"
            )
    obj = fetch(ptr, name=pointer_path(rel), cache=cache, storage=storage, local=None)
    with os_errors(f"cannot pull {rel}"), temp_beside(dest) as tmp:
        copy_verified(obj, tmp, ptr.sha256)
        os.replace(tmp, dest)
    return True


def push(
    root: Path, paths: Sequence[str] | None, *, cache: Cache, storage: str | None
) -> list[str]:
    """Upload each pointer's bytes that storage lacks; returns the paths uploaded."""
    if storage is None:
        raise ConfigError(
            "no storage configured; set `storage: file:///path/to/store` in mlgate.yaml to push",
            key="storage",
        )
    backend = backend_for(storage)
    if not backend.writable:
        scheme = storage.split(":", 1)[0]
        raise DataError(f"{scheme} storage is read-only: cannot push to {redact(storage)}")
    return [rel for rel in _selected(root, paths) if _push_one(root, rel, cache, backend)]


def _push_one(root: Path, rel: str, cache: Cache, backend: Backend) -> bool:
    ptr = _read_pointer(root, rel)
    if backend.has(ptr.sha256):
        return False
    obj = fetch(
        ptr,
        name=pointer_path(rel),
        cache=cache,
        storage=backend.url,
        local=root / rel,
        local_label=rel,
    )
    backend.put(obj, ptr.sha256)
    return True


def _selected(root: Path, paths: Sequence[str] | None) -> list[str]:
    """Data paths to act on: those named (data or .ptr paths), else every pointer's."""
    if paths is None:
        return pointed_files(root)
    rels = [data_path(_repo_path(root, p)) for p in paths]
    for rel in rels:
        if not (root / pointer_path(rel)).is_file():
            raise DataError(f"no pointer {pointer_path(rel)}; run `mlgate data add {rel}` first")
    return list(dict.fromkeys(rels))


def _read_pointer(root: Path, rel: str) -> Pointer:
    ptr_rel = pointer_path(rel)
    return parse((root / ptr_rel).read_bytes(), where=ptr_rel)


def _repo_path(root: Path, path: str) -> str:
    """A repo-relative path; ConfigError (exit 2) for anything outside the repository."""
    given = Path(path)
    if given.is_absolute():
        # An absolute path inside the repo is fine; repo_relpath refuses any other.
        real_root = root.resolve()
        if given.resolve().is_relative_to(real_root):
            path = given.resolve().relative_to(real_root).as_posix()
    rel = repo_relpath(path)
    # A symlink inside the repo may still lead out of it.
    if not (root / rel).resolve().is_relative_to(root.resolve()):
        raise ConfigError(f"path {rel!r} leads outside the repository through a symlink")
    return rel
