"""Bounded decompression (issue 11, item 9): a compressed data file is read only up to a
cap on what it expands to. Before: a 5 MB gzip that expands to 2.1 GB was read to the end
(147 s) before failing."""

from __future__ import annotations

import gzip
import io
import time
import zipfile
from pathlib import Path

import pandas as pd
import pytest

from conftest import commit_all
from mlgate.errors import DataError
from mlgate.storage.formats import LIMIT_ENV, decompression_limit, read_frame
from projects import classification_config, classification_frames, cli, write_config

ROWS = b"0.1,0.2,0.3,0.4,0.5,1\n"


def _bomb(path: Path, expanded: int) -> None:
    with gzip.open(path, "wb", compresslevel=9) as out:
        out.write(b"f0,f1,f2,f3,f4,label\n")
        for _ in range(expanded // (len(ROWS) * 10_000) + 1):
            out.write(ROWS * 10_000)


def test_the_default_cap_grows_with_the_file_within_bounds() -> None:
    assert decompression_limit(1_000, {}) == 64 * 2**20  # small files: the floor
    assert decompression_limit(10 * 2**20, {}) == 200 * 2**20  # 20x
    assert decompression_limit(10 * 2**30, {}) == 4 * 2**30  # the ceiling
    assert decompression_limit(10, {LIMIT_ENV: "123"}) == 123


def test_a_gzip_bomb_in_the_data_stops_at_the_cap_with_one_line(
    repo: Path, capsys, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv(LIMIT_ENV, str(2 * 2**20))
    (repo / "data").mkdir()
    _bomb(repo / "data" / "train.csv.gz", 60 * 2**20)  # ~60 MB of rows, ~100 KB on disk
    _, test = classification_frames()
    test.to_csv(repo / "data" / "test.csv", index=False)
    cfg = classification_config()
    cfg["data"]["train"] = "data/train.csv.gz"
    write_config(repo, cfg)
    commit_all(repo, "a bomb")
    started = time.monotonic()
    code, out, err = cli(capsys, "check")
    assert time.monotonic() - started < 20  # stopped at 2 MB, not read to 60 MB
    assert code == DataError.exit_code and out == ""
    assert err == (
        f"mlgate: error: data/train.csv.gz expands to more than {2 * 2**20} bytes when "
        f"decompressed; refusing to read on (a compression bomb?). Set {LIMIT_ENV}=BYTES to "
        "allow more\n"
    )


@pytest.mark.parametrize("suffix", [".gz", ".bz2", ".xz", ".zip"])
def test_compressed_data_under_the_cap_reads_as_pandas_reads_it(
    tmp_path: Path, suffix: str
) -> None:
    frame = classification_frames()[0]
    plain = frame.to_csv(index=False).encode()
    path = tmp_path / f"train.csv{suffix}"
    if suffix == ".zip":
        with zipfile.ZipFile(path, "w") as z:
            z.writestr("train.csv", plain)
    else:
        frame.to_csv(path, index=False)  # pandas compresses by the suffix
    mine = read_frame(path, f"data/train.csv{suffix}")
    pd.testing.assert_frame_equal(mine, pd.read_csv(io.BytesIO(plain)))


def test_a_zip_with_two_files_is_named(tmp_path: Path) -> None:
    path = tmp_path / "train.csv.zip"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("a.csv", "x\n1\n")
        z.writestr("b.csv", "x\n2\n")
    with pytest.raises(DataError, match=r"data/train\.csv\.zip must hold exactly one file"):
        read_frame(path, "data/train.csv.zip")
