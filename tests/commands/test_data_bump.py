"""``mlgate data bump``: pointers with a source get the source's newest bytes."""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

import pytest

from conftest import commit_all, git
from fakes.httpserver import Route, serve
from mlgate.cli import main
from mlgate.commands.data import add, bump
from mlgate.errors import ConfigError, DataError, UsageError
from mlgate.storage.objects import Cache
from mlgate.storage.pointers import Pointer, parse

CSV = b"age,plan,label\n31,basic,1\n45,pro,0\n"
CSV_V2 = CSV + b"60,pro,0\n"
CSV_V3 = CSV_V2 + b"22,basic,1\n"


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def pointer(repo: Path, rel: str = "data/train.csv") -> Pointer:
    return parse((repo / f"{rel}.ptr").read_bytes(), where=f"{rel}.ptr")


def added(repo: Path, source: str | tuple[str, ...], data: bytes = CSV) -> Path:
    (repo / "data").mkdir(exist_ok=True)
    (repo / "data/train.csv").write_bytes(data)
    add(repo, ["data/train.csv"], url=None, storage=None, cache=Cache(), source=source)
    return repo / "data/train.csv.ptr"


def script(repo: Path, body: str) -> tuple[str, ...]:
    (repo / "build.py").write_text(body)
    return (sys.executable, "build.py")


# --- the pointer's source ------------------------------------------------------------------


def test_source_round_trips_as_url_or_argv() -> None:
    for source in ("https://example.com/a.csv", ("python", "make data.py", "--seed", "1")):
        ptr = Pointer("0" * 64, 3, source=source)
        assert parse(ptr.dump(), where="x.ptr") == ptr


def test_a_pointer_without_source_still_parses() -> None:
    assert parse(f"sha256: {'a' * 64}\nsize: 3\n", where="x.ptr").source is None


@pytest.mark.parametrize("value", ["''", "[]", "[1, 2]", "{a: b}", "['']"])
def test_a_bad_source_is_a_config_error(value: str) -> None:
    with pytest.raises(ConfigError, match=r"^x\.ptr: source: expected a URL string or a command"):
        parse(f"sha256: {'a' * 64}\nsize: 3\nsource: {value}\n", where="x.ptr")


def test_add_records_the_source_and_a_later_add_keeps_it(repo: Path) -> None:
    added(repo, "https://example.com/train.csv")
    assert pointer(repo).source == "https://example.com/train.csv"
    (repo / "data/train.csv").write_bytes(CSV_V2)
    add(repo, ["data/train.csv"], url=None, storage=None, cache=Cache())
    assert pointer(repo).source == "https://example.com/train.csv"
    assert pointer(repo).sha256 == sha(CSV_V2)


# --- bump ----------------------------------------------------------------------------------


def test_bump_from_an_http_url(repo: Path) -> None:
    with serve({"/train.csv": Route(CSV_V2)}) as server:
        added(repo, server.url + "/train.csv")
        [b] = bump(repo, None, cache=Cache(), storage=None)
    assert b.changed and b.old.sha256 == sha(CSV) and b.new.sha256 == sha(CSV_V2)
    ptr = pointer(repo)
    assert (ptr.sha256, ptr.size, ptr.rows) == (sha(CSV_V2), len(CSV_V2), 3)
    assert ptr.source == server.url + "/train.csv"
    assert (repo / "data/train.csv").read_bytes() == CSV_V2
    assert Cache().has(sha(CSV_V2))


def test_bump_from_a_command_writing_stdout_or_its_output(repo: Path) -> None:
    argv = script(repo, f"import sys\nsys.stdout.buffer.write({CSV_V2!r})\n")
    added(repo, argv)
    [b] = bump(repo, ["data/train.csv"], cache=Cache(), storage=None)
    assert b.changed and pointer(repo).sha256 == sha(CSV_V2)
    out = "pathlib.Path(os.environ['MLGATE_OUTPUT'])"
    body = f"import os, pathlib\n{out}.write_bytes({CSV_V3!r})\n"
    script(repo, body)
    [b] = bump(repo, None, cache=Cache(), storage=None)
    assert pointer(repo).sha256 == sha(CSV_V3) and pointer(repo).source == argv


def test_a_command_runs_in_the_repo_root_without_a_shell(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    argv = script(
        repo,
        "import os, sys\nassert os.getcwd() == os.path.realpath(os.environ['WANT'])\n"
        "sys.stdout.write(sys.argv[1] + '\\n1\\n')\n",
    )
    added(repo, (*argv, "a;$(echo b)"))
    monkeypatch.setenv("WANT", str(repo))
    bump(repo, None, cache=Cache(), storage=None)
    assert (repo / "data/train.csv").read_bytes() == b"a;$(echo b)\n1\n"


def test_unchanged_source_changes_nothing(repo: Path) -> None:
    added(repo, "file://" + str(repo / "upstream.csv"))
    (repo / "upstream.csv").write_bytes(CSV)
    before = (repo / "data/train.csv.ptr").read_bytes()
    [b] = bump(repo, None, cache=Cache(), storage=None)
    assert not b.changed and (repo / "data/train.csv.ptr").read_bytes() == before


def test_pointers_without_a_source_are_skipped_unless_named(repo: Path) -> None:
    (repo / "other.csv").write_bytes(CSV)
    add(repo, ["other.csv"], url=None, storage=None, cache=Cache())
    assert bump(repo, None, cache=Cache(), storage=None) == []
    with pytest.raises(UsageError, match=r"other\.csv\.ptr has no source"):
        bump(repo, ["other.csv"], cache=Cache(), storage=None)


@pytest.mark.parametrize(
    ("route", "message"),
    [
        (Route(b"", status=500), "source http://127.0.0.1:.*/train.csv failed: HTTP 500"),
        (Route(b""), "gave an empty file"),
        (Route(b"a,b\n1,2\n3,4,5,6\n"), "gave a corrupt file: cannot read data/train.csv"),
    ],
)
def test_a_failing_or_corrupt_source_changes_nothing(
    repo: Path, route: Route, message: str
) -> None:
    with serve({"/train.csv": route}) as server:
        ptr_file = added(repo, server.url + "/train.csv")
        before = ptr_file.read_bytes()
        with pytest.raises(DataError, match=message) as e:
            bump(repo, None, cache=Cache(), storage=None)
    assert "\n" not in str(e.value)
    assert ptr_file.read_bytes() == before and (repo / "data/train.csv").read_bytes() == CSV


def test_a_failing_command_changes_nothing(repo: Path) -> None:
    added(repo, script(repo, "import sys\nsys.stderr.write('upstream down\\n')\nsys.exit(4)\n"))
    before = (repo / "data/train.csv.ptr").read_bytes()
    with pytest.raises(DataError, match=r"failed with exit code 4: upstream down$"):
        bump(repo, None, cache=Cache(), storage=None)
    assert (repo / "data/train.csv.ptr").read_bytes() == before


def test_a_slow_or_missing_command_is_a_data_error(repo: Path) -> None:
    added(repo, script(repo, "import time\ntime.sleep(30)\n"))
    with pytest.raises(DataError, match=r"did not finish within 0\.5 s"):
        bump(repo, None, cache=Cache(), storage=None, timeout=0.5)
    added(repo, ("no-such-program-mlgate",))
    with pytest.raises(DataError, match="no-such-program-mlgate not found"):
        bump(repo, None, cache=Cache(), storage=None)


def test_one_failing_source_stops_every_write(repo: Path) -> None:
    with serve({"/a.csv": Route(CSV_V2), "/b.csv": Route(b"", status=404)}) as server:
        for name in ("a", "b"):
            (repo / f"{name}.csv").write_bytes(CSV)
            source = f"{server.url}/{name}.csv"
            add(repo, [f"{name}.csv"], url=None, storage=None, cache=Cache(), source=source)
        with pytest.raises(DataError):
            bump(repo, None, cache=Cache(), storage=None)
    assert pointer(repo, "a.csv").sha256 == sha(CSV)


def test_bump_refuses_to_overwrite_unrecorded_edits(repo: Path) -> None:
    with serve({"/train.csv": Route(CSV_V2)}) as server:
        added(repo, server.url + "/train.csv")
        (repo / "data/train.csv").write_bytes(CSV_V3)
        with pytest.raises(DataError, match="has changes not recorded"):
            bump(repo, None, cache=Cache(), storage=None)
    assert pointer(repo).sha256 == sha(CSV)


# --- the command line ------------------------------------------------------------------------


def test_cli_add_source_command_then_bump(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (repo / "data").mkdir()
    (repo / "data/train.csv").write_bytes(CSV)
    script(repo, f"import sys\nsys.stdout.buffer.write({CSV_V2!r})\n")
    cmd = f"'{sys.executable}' build.py"
    assert main(["data", "add", "data/train.csv", "--source-command", cmd]) == 0
    assert pointer(repo).source == (sys.executable, "build.py")
    commit_all(repo, "data")
    capsys.readouterr()
    assert main(["data", "bump"]) == 0
    out = capsys.readouterr().out
    assert f"data/train.csv.ptr: {sha(CSV)[:12]} -> {sha(CSV_V2)[:12]}" in out
    assert main(["data", "bump"]) == 0
    assert "data/train.csv: unchanged" in capsys.readouterr().out
    assert git(repo, "status", "--porcelain") == "M data/train.csv.ptr"


def test_cli_failing_source_is_exit_3_in_one_line(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    added(repo, "file://" + str(repo / "gone.csv"))
    capsys.readouterr()
    assert main(["data", "bump"]) == 3
    err = capsys.readouterr().err
    assert err.startswith("mlgate: error: source file://") and err.count("\n") == 1
