"""DVC interop without DVC: repositories laid out the way DVC 2 and 3 write them (``.dvc``
files, ``dvc.lock``, ``.dvc/config``, the local cache and file/http remotes), read by
mlgate's describe, materialize, dvc_params and, end to end, ``mlgate check``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

from conftest import commit_all, git
from fakes.httpserver import Route, serve
from mlgate.errors import DataError
from mlgate.git import CommitFiles, WorkingFiles, open_repo
from mlgate.storage.datafiles import describe, materialize
from mlgate.storage.dvc import dvc_params, find_out, parse_config
from mlgate.storage.objects import Cache
from mlgate.storage.pointers import Pointer
from projects import (
    classification_config,
    classification_frames,
    dvc_add,
    dvc_init,
    md5,
    object_path,
    sha,
    write_config,
)

CSV = b"age,plan,score,label\n31,basic,0.5,1\n45,pro,1.5,0\n22,basic,2.0,1\n"
CSV_V2 = CSV + b"60,pro,0.1,0\n"


def objects_in(cache: Cache) -> list[Path]:
    return [p for p in cache.objects.rglob("*") if p.is_file()] if cache.objects.exists() else []


def md5_map(cache: Cache) -> list[str]:
    folder = cache.root / "dvc-md5"
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


@pytest.fixture
def cache() -> Cache:
    return Cache()


@pytest.fixture
def remote(tmp_path: Path) -> Path:
    path = tmp_path / "dvc-remote"
    path.mkdir()
    return path


def committed(repo: Path, message: str = "data") -> CommitFiles:
    sha_ = commit_all(repo, message)
    return CommitFiles(open_repo(repo), sha_)


# --- describe and materialize at a commit ----------------------------------------------


def test_describe_at_commit_fetches_from_file_remote_once(
    repo: Path, remote: Path, cache: Cache
) -> None:
    dvc_init(repo, remote=remote.as_uri())
    digest = dvc_add(repo, "data/train.csv", CSV, remote=remote)
    files = committed(repo)
    assert git(repo, "ls-files", "data") == "data/.gitignore\ndata/train.csv.dvc"
    (repo / "data" / "train.csv").unlink()  # a fresh clone: DVC has not checked it out

    summary = describe(files, "data/train.csv")

    assert summary is not None
    assert summary.source == "dvc" and summary.md5 == digest
    assert summary.sha256 == sha(CSV) and summary.size == len(CSV) and summary.rows == 3
    assert summary.to_dict()["md5"] == digest
    assert cache.path_for(sha(CSV)).read_bytes() == CSV
    assert md5_map(cache) == [digest]
    # Seen before: describe needs neither the remote nor the object any more.
    for p in [*remote.rglob("*"), *objects_in(cache)]:
        if p.is_file():
            p.unlink()
    assert describe(files, "data/train.csv") == summary
    assert objects_in(cache) == []
    # Training does need the bytes: now gone everywhere, and the error says where it looked.
    with pytest.raises(DataError) as err:
        materialize(files, "data/train.csv", cache=cache, storage=None)
    assert f"data/train.csv.dvc@{files.sha[:7]}" in str(err.value)


def test_materialize_copies_from_remote_verified(repo: Path, remote: Path, cache: Cache) -> None:
    dvc_init(repo, remote=str(remote))  # a plain absolute path, as `dvc remote add` allows
    dvc_add(repo, "data/train.csv", CSV, remote=remote)
    files = committed(repo)
    (repo / "data" / "train.csv").unlink()

    obj = materialize(files, "data/train.csv", cache=cache, storage=None)

    assert obj == cache.path_for(sha(CSV)) and obj.read_bytes() == CSV


def test_dvc2_layout_from_local_cache_without_hash_key(repo: Path, cache: Cache) -> None:
    dvc_init(repo)  # no remote: only the repo's own .dvc/cache
    digest = dvc_add(repo, "data/train.csv", CSV, local_cache=True, dvc=2)
    assert "hash" not in (repo / "data/train.csv.dvc").read_text()
    files = committed(repo)
    (repo / "data" / "train.csv").unlink()

    summary = describe(files, "data/train.csv")

    assert summary is not None and summary.md5 == digest and summary.sha256 == sha(CSV)
    assert (repo / ".dvc/cache" / digest[:2] / digest[2:]).is_file()


def test_cache_dir_from_dvc_config_is_relative_to_dot_dvc(repo: Path, cache: Cache) -> None:
    dvc_init(repo, extra="[cache]\n    dir = ../../shared-cache\n")
    dvc_add(repo, "data/train.csv", CSV)
    shared = repo.parent / "shared-cache"
    obj = object_path(shared, md5(CSV), dvc=3)
    obj.parent.mkdir(parents=True)
    obj.write_bytes(CSV)
    files = committed(repo)
    (repo / "data" / "train.csv").unlink()

    assert materialize(files, "data/train.csv", cache=cache, storage=None).read_bytes() == CSV


def test_legacy_md5_of_a_crlf_text_file(repo: Path, remote: Path, cache: Cache) -> None:
    """DVC 2 hashed text after CRLF -> LF; the object holds the original CRLF bytes."""
    crlf = CSV.replace(b"\n", b"\r\n")
    legacy = md5(CSV)  # what DVC 2 recorded for crlf
    dvc_init(repo, remote=remote.as_uri())
    dvc_add(repo, "data/train.csv", crlf, remote=remote, dvc=2, digest=legacy)
    files = committed(repo)
    (repo / "data" / "train.csv").unlink()

    summary = describe(files, "data/train.csv")

    assert summary is not None and summary.md5 == legacy
    assert summary.sha256 == sha(crlf) and summary.size == len(crlf) and summary.rows == 3
    assert md5_map(cache) == [f"{legacy}-legacy"]
    assert materialize(files, "data/train.csv", cache=cache, storage=None).read_bytes() == crlf


def test_dvc3_md5_is_exact_no_crlf_leniency(repo: Path, remote: Path, cache: Cache) -> None:
    crlf = CSV.replace(b"\n", b"\r\n")
    dvc_init(repo, remote=remote.as_uri())
    dvc_add(repo, "data/train.csv", crlf, remote=remote, dvc=3, digest=md5(CSV))
    files = committed(repo)
    (repo / "data" / "train.csv").unlink()

    with pytest.raises(DataError, match="corrupt: md5"):
        describe(files, "data/train.csv")


def test_corrupt_remote_object_is_one_line_error_and_nothing_cached(
    repo: Path, remote: Path, cache: Cache
) -> None:
    dvc_init(repo, remote=remote.as_uri())
    digest = dvc_add(repo, "data/train.csv", CSV, remote=remote)
    files = committed(repo)
    (repo / "data" / "train.csv").write_bytes(CSV_V2)  # edited since: not a source either
    object_path(remote, digest, dvc=3).write_bytes(CSV.replace(b"31", b"99"))  # same size

    with pytest.raises(DataError) as err:
        describe(files, "data/train.csv")

    message = str(err.value)
    assert "\n" not in message
    assert message.startswith(f"data object for data/train.csv.dvc@{files.sha[:7]} (md5 ")
    assert "working tree data/train.csv (modified)" in message
    assert f"DVC cache {repo / '.dvc/cache/files/md5' / digest[:2] / digest[2:]} (absent)" in (
        message
    )
    assert f"{object_path(remote, digest, dvc=3)} (corrupt: md5 " in message
    assert f"{object_path(remote, digest, dvc=2)} (absent)" in message
    assert objects_in(cache) == [] and md5_map(cache) == []
    leftovers = [p for p in cache.root.rglob("*.tmp")]
    assert leftovers == []


def test_missing_remote_config_is_named(repo: Path, cache: Cache) -> None:
    dvc_init(repo)
    dvc_add(repo, "data/train.csv", CSV)
    files = committed(repo)
    (repo / "data" / "train.csv").unlink()

    with pytest.raises(DataError, match=r"DVC remote \(none configured\)"):
        materialize(files, "data/train.csv", cache=cache, storage=None)


def test_unsupported_remote_scheme_says_so(repo: Path, cache: Cache) -> None:
    dvc_init(repo, remote="hdfs://namenode/dvc")
    dvc_add(repo, "data/train.csv", CSV)
    files = committed(repo)
    (repo / "data" / "train.csv").unlink()

    with pytest.raises(DataError, match=r"DVC remote store hdfs://namenode/dvc \(unsupported"):
        describe(files, "data/train.csv")


def test_http_remote_streams_from_loopback_server(repo: Path, cache: Cache) -> None:
    digest = md5(CSV)
    v3 = f"/dvc/files/md5/{digest[:2]}/{digest[2:]}"
    with serve({v3: Route(CSV)}) as server:
        dvc_init(repo, remote=f"{server.url}/dvc")
        dvc_add(repo, "data/train.csv", CSV)
        files = committed(repo)
        (repo / "data" / "train.csv").unlink()

        summary = describe(files, "data/train.csv")
        again = describe(files, "data/train.csv")

    assert summary is not None and summary.sha256 == sha(CSV) and again == summary
    assert server.paths("GET") == [v3]  # once: the second describe used the md5 map


def test_http_remote_dvc2_layout_and_corrupt_download(repo: Path, cache: Cache) -> None:
    digest = md5(CSV)
    v2 = f"/dvc/{digest[:2]}/{digest[2:]}"
    with serve({v2: Route(CSV, corrupt=True)}) as server:
        dvc_init(repo, remote=f"{server.url}/dvc")
        dvc_add(repo, "data/train.csv", CSV, dvc=2)
        files = committed(repo)
        (repo / "data" / "train.csv").unlink()
        with pytest.raises(DataError) as err:
            describe(files, "data/train.csv")
        assert f"{server.url}{v2} (corrupt: md5" in str(err.value)
        assert "(HTTP 404)" in str(err.value)  # the DVC 3 layout was tried too
        server.routes[v2] = Route(CSV)
        summary = describe(files, "data/train.csv")
    assert summary is not None and summary.sha256 == sha(CSV)
    assert objects_in(cache) == [cache.path_for(sha(CSV))]


def test_config_local_overrides_the_remote_with_a_relative_path(repo: Path, cache: Cache) -> None:
    dvc_init(repo, remote="/nonexistent/store")
    (repo / ".dvc" / "config.local").write_text(
        "['remote \"store\"']\n    url = ../../local-store\n"
    )
    dvc_add(repo, "data/train.csv", CSV, remote=repo.parent / "local-store")
    files = committed(repo)
    assert ".dvc/config.local" not in git(repo, "ls-files")
    (repo / "data" / "train.csv").unlink()

    assert materialize(files, "data/train.csv", cache=cache, storage=None).read_bytes() == CSV


def test_parse_config_handles_configobj_quotes_and_comments() -> None:
    text = (
        b"[core]\n    remote = Store  # default\n    autostage = true\n"
        b"['remote \"Store\"']\n    url = 'https://example.org/dvc'\n; comment\n"
    )
    assert parse_config(text, ".dvc/config") == {
        "core": {"remote": "Store", "autostage": "true"},
        'remote "Store"': {"url": "https://example.org/dvc"},
    }
    with pytest.raises(DataError, match=r"\.dvc/config:2: cannot read"):
        parse_config(b"[core]\nnonsense\n", ".dvc/config")


# --- the working tree --------------------------------------------------------------------


def test_worktree_file_matching_its_dvc_pointer_is_described_from_it(
    repo: Path, cache: Cache
) -> None:
    dvc_init(repo)  # no remote and no DVC cache: the working file is the only copy
    digest = dvc_add(repo, "data/train.csv", CSV)
    commit_all(repo, "data")
    files = WorkingFiles(open_repo(repo))

    summary = describe(files, "data/train.csv")

    assert summary is not None and summary.source == "dvc" and summary.md5 == digest
    assert summary.sha256 == sha(CSV)
    assert materialize(files, "data/train.csv", cache=cache, storage=None).read_bytes() == CSV


def test_worktree_file_edited_after_dvc_add_is_the_worktree_copy(repo: Path, cache: Cache) -> None:
    dvc_init(repo)
    dvc_add(repo, "data/train.csv", CSV)
    commit_all(repo, "data")
    (repo / "data" / "train.csv").write_bytes(CSV_V2)
    files = WorkingFiles(open_repo(repo))

    summary = describe(files, "data/train.csv")

    assert summary is not None and summary.source == "worktree" and summary.md5 is None
    assert summary.sha256 == sha(CSV_V2) and summary.rows == 4
    assert materialize(files, "data/train.csv", cache=cache, storage=None).read_bytes() == CSV_V2


def test_ptr_pointer_wins_over_dvc(repo: Path, remote: Path, cache: Cache) -> None:
    dvc_init(repo, remote=remote.as_uri())
    dvc_add(repo, "data/train.csv", CSV, remote=remote)
    cache.put_bytes(CSV_V2)
    ptr = Pointer(sha(CSV_V2), len(CSV_V2))
    (repo / "data" / "train.csv.ptr").write_text(ptr.dump())
    files = committed(repo)

    summary = describe(files, "data/train.csv")

    assert summary is not None and summary.source == "pointer" and summary.sha256 == sha(CSV_V2)


# --- dvc.lock and directories -----------------------------------------------------------


def test_dvc_lock_pipeline_output(repo: Path, remote: Path, cache: Cache) -> None:
    dvc_init(repo, remote=remote.as_uri())
    digest = md5(CSV)
    obj = object_path(remote, digest, dvc=3)
    obj.parent.mkdir(parents=True)
    obj.write_bytes(CSV)
    lock = {
        "schema": "2.0",
        "stages": {
            "prepare": {
                "cmd": "python prepare.py",
                "deps": [{"path": "prepare.py", "hash": "md5", "md5": "0" * 32, "size": 1}],
                "outs": [
                    {"path": "data/other.csv", "hash": "md5", "md5": "1" * 32, "size": 2},
                    {"path": "data/train.csv", "hash": "md5", "md5": digest, "size": len(CSV)},
                ],
            }
        },
    }
    (repo / "dvc.lock").write_text(yaml.safe_dump(lock, sort_keys=False))
    files = committed(repo)

    out = find_out(files, "data/train.csv")
    summary = describe(files, "data/train.csv")

    assert out is not None and out.pointer == "dvc.lock" and not out.legacy
    assert out.where == f"dvc.lock@{files.sha[:7]} stage prepare"
    assert summary is not None and summary.md5 == digest and summary.sha256 == sha(CSV)
    assert find_out(files, "data/test.csv") is None


def test_dvc_lock_in_the_config_directory(repo: Path, remote: Path, cache: Cache) -> None:
    dvc_init(repo, remote=remote.as_uri())
    digest = dvc_add(repo, "models/churn/data/train.csv", CSV, remote=remote)
    (repo / "models/churn/data/train.csv.dvc").unlink()
    lock = {"stages": {"s": {"outs": [{"path": "data/train.csv", "md5": digest}]}}}
    (repo / "models/churn/dvc.lock").write_text(yaml.safe_dump(lock))
    files = committed(repo)

    out = find_out(files, "models/churn/data/train.csv", base="models/churn")

    assert out is not None and out.legacy and out.size is None  # a DVC 2 lock
    assert out.pointer == "models/churn/dvc.lock"


def test_directory_output_is_not_supported_yet(repo: Path) -> None:
    dvc_init(repo)
    (repo / "data").mkdir()
    (repo / "data.dvc").write_text(
        yaml.safe_dump(
            {"outs": [{"md5": "a" * 32 + ".dir", "size": 9, "nfiles": 2, "path": "data"}]}
        )
    )
    files = committed(repo)

    with pytest.raises(DataError, match="directory outputs are not supported yet"):
        describe(files, "data/train.csv")


def test_malformed_dvc_file_names_file_and_line(repo: Path) -> None:
    (repo / "data").mkdir()
    (repo / "data/train.csv.dvc").write_text("outs:\n- md5: [unclosed\n")
    files = committed(repo)

    with pytest.raises(DataError, match=rf"data/train\.csv\.dvc@{files.sha[:7]}:\d+: not valid"):
        describe(files, "data/train.csv")


# --- params ------------------------------------------------------------------------------


def test_params_from_params_yaml_and_dvc_lock(repo: Path) -> None:
    (repo / "params.yaml").write_text("train:\n  lr: 0.1\n  epochs: 5\nseed: 0\n")
    (repo / "sub").mkdir()
    (repo / "sub" / "params.yaml").write_text("depth: 3\n")
    lock = {
        "schema": "2.0",
        "stages": {
            "train": {
                "params": {
                    "params.yaml": {"train.lr": 0.05},  # the file itself wins
                    "configs/model.yaml": {"alpha": 1.5},
                },
            },
            "eval": {"params": {"configs/model.yaml": {"beta": 2}}},
        },
    }
    (repo / "dvc.lock").write_text(yaml.safe_dump(lock))
    files = committed(repo)

    assert dvc_params(files, "sub") == {
        "params.yaml": {"train": {"lr": 0.1, "epochs": 5}, "seed": 0},
        "sub/params.yaml": {"depth": 3},
        "configs/model.yaml": {"alpha": 1.5, "beta": 2},
    }
    assert dvc_params(WorkingFiles(open_repo(repo))) == {
        "params.yaml": {"train": {"lr": 0.1, "epochs": 5}, "seed": 0},
        "configs/model.yaml": {"alpha": 1.5, "beta": 2},
    }


def test_params_malformed_yaml_is_a_data_error_with_line(repo: Path) -> None:
    (repo / "params.yaml").write_text("a: 1\nb: [2\n")
    files = committed(repo)

    with pytest.raises(DataError, match=rf"params\.yaml@{files.sha[:7]}:\d+: not valid YAML"):
        dvc_params(files)


def test_params_without_dvc_files_is_empty(repo: Path) -> None:
    (repo / "README").write_text("x\n")
    assert dvc_params(committed(repo)) == {}


# --- end to end: mlgate check through the real CLI ---------------------------------------


def test_check_end_to_end_with_dvc_tracked_data(repo: Path, remote: Path) -> None:
    cfg = classification_config(gate={"accuracy": {"min": 0.0}})
    write_config(repo, cfg)
    dvc_init(repo, remote=remote.as_uri())
    train, test = classification_frames()
    old_md5 = dvc_add(repo, "data/train.csv", train.to_csv(index=False).encode(), remote=remote)
    test_md5 = dvc_add(repo, "data/test.csv", test.to_csv(index=False).encode(), remote=remote)
    commit_all(repo, "base")
    git(repo, "checkout", "-q", "-b", "more-data")
    bigger = pd.concat([train, classification_frames(seed=1)[0]], ignore_index=True)
    new_bytes = bigger.to_csv(index=False).encode()
    new_md5 = dvc_add(repo, "data/train.csv", new_bytes, remote=remote)
    commit_all(repo, "more training data")
    assert git(repo, "status", "--porcelain") == ""

    run = [sys.executable, "-m", "mlgate", "check"]
    proc = subprocess.run([*run, "--format", "json"], cwd=repo, capture_output=True, text=True)

    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    diff = {d["path"]: d for d in report["data_diff"]}
    train_diff = diff["data/train.csv"]
    assert train_diff["status"] == "modified"
    assert train_diff["old"]["md5"] == old_md5 and train_diff["new"]["md5"] == new_md5
    assert train_diff["old"]["source"] == "dvc" and train_diff["new"]["source"] == "dvc"
    assert train_diff["new"]["sha256"] == sha(new_bytes)
    assert train_diff["new"]["rows"] == len(bigger)
    assert diff["data/test.csv"]["status"] == "unchanged"
    assert diff["data/test.csv"]["new"]["md5"] == test_md5
    assert report["head"]["data"]["train"]["md5"] == new_md5

    md = subprocess.run([*run, "--format", "markdown"], cwd=repo, capture_output=True, text=True)

    assert md.returncode == 0, md.stderr
    assert f"md5 {old_md5[:8]} → {new_md5[:8]}" in md.stdout
    text = subprocess.run([*run, "--format", "text"], cwd=repo, capture_output=True, text=True)
    assert f"md5      {old_md5[:8]} → {new_md5[:8]}" in text.stdout

    # The base's bytes came from the DVC remote (its working file is head's): drop the
    # remote object and mlgate's cache, and the failure names the pointer and the places.
    object_path(remote, old_md5, dvc=3).unlink()
    env_cache = Path(os.environ["MLGATE_CACHE_DIR"])
    for p in env_cache.rglob("*"):
        if p.is_file():
            p.unlink()
    failed = subprocess.run([*run, "--no-cache"], cwd=repo, capture_output=True, text=True)
    assert failed.returncode == 3
    assert "data/train.csv.dvc@" in failed.stderr and "DVC remote store" in failed.stderr
    assert "Traceback" not in failed.stderr


def test_summary_schema_allows_md5_and_dvc_source() -> None:
    import jsonschema

    schema_dir = Path(__file__).resolve().parents[2] / "src" / "mlgate" / "schema"
    report = json.loads((schema_dir / "report.schema.json").read_text())
    run = json.loads((schema_dir / "run.schema.json").read_text())
    summary = {
        "path": "data/train.csv",
        "sha256": sha(CSV),
        "size": len(CSV),
        "rows": 3,
        "columns": None,
        "source": "dvc",
        "md5": md5(CSV),
    }
    data_summary = {**report["$defs"]["data_summary"], "$defs": report["$defs"]}
    jsonschema.validate(summary, data_summary)
    jsonschema.validate(summary, run["$defs"]["data"])
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({**summary, "md5": "xyz"}, data_summary)
    jsonschema.validate({**summary, "md5": None, "source": "git"}, data_summary)


def test_legacy_md5_with_crlf_split_across_read_chunks(repo: Path, remote: Path) -> None:
    from mlgate.storage.hashing import HASH_CHUNK

    data = b"a" * (HASH_CHUNK - 1) + b"\r\n" + b"b\r\n"  # the first read ends in \r
    legacy = md5(data.replace(b"\r\n", b"\n"))
    dvc_init(repo, remote=remote.as_uri())
    dvc_add(repo, "data/blob.bin", data, remote=remote, dvc=2, digest=legacy)
    files = committed(repo)
    (repo / "data" / "blob.bin").unlink()

    summary = describe(files, "data/blob.bin")

    assert summary is not None and summary.sha256 == sha(data) and summary.rows is None


def test_dvc_file_without_the_output_is_an_error(repo: Path) -> None:
    (repo / "data").mkdir()
    (repo / "data/train.csv.dvc").write_text(yaml.safe_dump({"outs": [{"path": "x.csv"}]}))
    files = committed(repo)

    with pytest.raises(DataError, match=r"train\.csv\.dvc@\w+: no output train\.csv"):
        describe(files, "data/train.csv")
