"""Tabular data formats: which format a file name says, how training reads it, and its
summary (rows and dtypes) for the data diff, kept by content in the summary cache.

CSV/TSV (optionally compressed) always; Parquet with pyarrow (``mlgate[parquet]``), else a
clear error. pandas is imported only when a file is read.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
from collections.abc import Mapping
from pathlib import Path, PurePosixPath
from typing import IO, Any, Literal

from mlgate.core.units import escaped, shorten
from mlgate.errors import DataError
from mlgate.storage.files import atomic_write
from mlgate.storage.layout import Layout
from mlgate.storage.versions import version_of

Format = Literal["csv", "tsv", "parquet"]


_FORMATS: dict[str, Format] = {
    ".csv": "csv",
    ".tsv": "tsv",
    ".parquet": "parquet",
    ".pq": "parquet",
}


_COMPRESSION = {".gz": "gzip", ".bz2": "bz2", ".xz": "xz", ".zip": "zip", ".zst": "zstd"}


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
        with _decompressed(source, fmt_from) as (stream, how):
            return pd.read_csv(stream, sep=sep, compression=how)
    except pd.errors.EmptyDataError:
        raise
    except (ValueError, UnicodeDecodeError, OSError) as e:  # ParserError is a ValueError
        raise DataError(f"cannot read {fmt_from} as {sep!r}-separated text: {_line(e)}") from e


# Decompressed bytes allowed per compressed byte, with a floor for small files and a
# ceiling: a 5 MB gzip of zeros expands to 2 GB and was read to the end (147 s) before.
EXPANSION, FLOOR, CEILING = 20, 64 * 2**20, 4 * 2**30
LIMIT_ENV = "MLGATE_MAX_DECOMPRESSED"  # bytes; replaces the rule above when set


def decompression_limit(compressed: int, environ: Mapping[str, str] = os.environ) -> int:
    """How many decompressed bytes a data file of ``compressed`` bytes may expand to."""
    if (raw := environ.get(LIMIT_ENV, "").strip()).isdigit():
        return int(raw)
    return min(CEILING, max(FLOOR, EXPANSION * compressed))


class _Capped(io.RawIOBase):
    """A decompressing stream that stops with a DataError past ``limit`` bytes."""

    def __init__(self, inner: IO[bytes], limit: int, fmt_from: str) -> None:
        self.inner, self.limit, self.fmt_from, self.seen = inner, limit, fmt_from, 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self.inner.read(min(len(buffer), self.limit + 1 - self.seen) or 1)
        self.seen += len(data)
        if self.seen > self.limit:
            raise DataError(
                f"{self.fmt_from} expands to more than {self.limit} bytes when decompressed; "
                f"refusing to read on (a compression bomb?). Set {LIMIT_ENV}=BYTES to allow more"
            )
        buffer[: len(data)] = data
        return len(data)


@contextlib.contextmanager
def _decompressed(source: Path | IO[bytes], fmt_from: str) -> Any:
    """(stream, compression for pandas): gzip, bz2, xz and zip are decompressed here with a
    cap on their output (``decompression_limit``); other sources go to pandas as they are."""
    how = compression(fmt_from)
    if how not in ("gzip", "bz2", "xz", "zip"):
        yield source, how
        return
    import bz2
    import gzip
    import lzma
    import zipfile

    size = source.stat().st_size if isinstance(source, Path) else _remaining(source)
    with contextlib.ExitStack() as stack:
        if how == "zip":
            archive = stack.enter_context(zipfile.ZipFile(source))
            members = [m for m in archive.namelist() if not m.endswith("/")]
            if len(members) != 1:
                raise DataError(f"{fmt_from} must hold exactly one file, not {len(members)}")
            inner: IO[bytes] = stack.enter_context(archive.open(members[0]))
        else:
            opener = {"gzip": gzip.open, "bz2": bz2.open, "xz": lzma.open}[how]
            inner = stack.enter_context(opener(source, "rb"))  # type: ignore[operator]
        capped = io.BufferedReader(_Capped(inner, decompression_limit(size), fmt_from))
        yield capped, None


def _remaining(stream: IO[bytes]) -> int:
    here = stream.tell()
    end = stream.seek(0, io.SEEK_END)
    stream.seek(here)
    return end - here


def unsupported(fmt_from: str) -> DataError:
    """Training reads only the tabular formats ``data_format`` knows."""
    return DataError(
        f"cannot train on {fmt_from}: unsupported format; expected .csv or .tsv "
        "(optionally .gz/.bz2/.xz/.zip/.zst) or .parquet"
    )


def read_frame(path: Path, fmt_from: str) -> Any:
    """The data as a pandas DataFrame, read the way training reads it. ``fmt_from`` is the
    repo path the bytes belong to (a cache object has no extension)."""
    import pandas as pd

    fmt = data_format(fmt_from)
    if fmt is None:
        raise unsupported(fmt_from)
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


def read_columns(path: Path, fmt_from: str) -> list[str]:
    """The column names training will see in ``path``, from its header alone (a CSV's first
    line, a Parquet file's schema): no row is read. DataError like ``read_frame``."""
    import pandas as pd

    fmt = data_format(fmt_from)
    if fmt == "parquet":
        return list(_parquet_summary(path, fmt_from)[1])
    if fmt is None:
        raise unsupported(fmt_from)
    try:
        with _decompressed(path, fmt_from) as (stream, how):
            sep = "\t" if fmt == "tsv" else ","
            frame = pd.read_csv(stream, sep=sep, compression=how, nrows=0)
    except pd.errors.EmptyDataError as e:
        raise DataError(f"{fmt_from} is empty") from e
    except (ValueError, UnicodeDecodeError, OSError) as e:
        raise DataError(f"cannot read {fmt_from}'s header: {_line(e)}") from e
    return [str(c) for c in frame.columns]


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


def cached_summary(
    source: Path | IO[bytes], fmt_from: str, sha256: str, *, layout: Layout
) -> Summary:
    """``_summarize`` through the summary cache (``Layout.summaries``), by content.

    A ``check`` describes the same data on every run, and importing pandas alone costs the
    parent process ~0.5 s (issue 5). The first computation still goes through pandas, as
    it gives the dtypes training will see.
    """
    key = _summary_key(fmt_from)
    if key is None:
        return _summarize(source, fmt_from)
    path = layout.summaries / f"{sha256}.json"
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
    pandas = version_of("pandas")
    pyarrow = version_of("pyarrow") if fmt == "parquet" else None
    if pandas is None or (fmt == "parquet" and pyarrow is None):
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
    """An exception's message on one line (pandas' parser errors span several), bounded
    and escaped: a reader's message may quote the file."""
    return escaped(shorten(str(e), 200), 200) or type(e).__name__


def known_summary(fmt_from: str, sha256: str, *, layout: Layout) -> Summary | None:
    """The summary of known bytes without reading them, when the summary cache has it."""
    if data_format(fmt_from) is None:
        return None, None  # not tabular: nothing to read anyway
    key = _summary_key(fmt_from)
    return None if key is None else _read_summary(layout.summaries / f"{sha256}.json", key)
