"""``s3://`` storage against a real S3-compatible server on 127.0.0.1 (moto's, started
here), and ``gs://`` / ``az://`` as far as no local server is needed (issue 17, item 3).

Push, pull from a fresh cache, a corrupt object refused, an interrupted upload that leaves
no object, wrong credentials as one line without key material (``--debug`` too), the
shared AWS credentials file, and a DVC remote in a bucket.
"""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from conftest import REPO_ROOT, commit_all
from fakes.s3 import ACCESS_KEY, SECRET_KEY, S3Server, moto_server, stalling_proxy
from mlgate.errors import ConfigError, DataError, ExitCode
from mlgate.git import CommitFiles, open_repo
from mlgate.storage import cloud
from mlgate.storage.backends import backend_for
from mlgate.storage.datafiles import describe
from mlgate.storage.objects import Cache, HashMismatch, object_relpath
from projects import (
    classification_config,
    classification_frames,
    cli,
    dvc_add,
    dvc_init,
    md5,
    run_json,
    sha,
    write_config,
    write_frames,
)

pytest.importorskip("obstore")

CLOUD_VARS = ("AWS_", "GOOGLE_", "AZURE_")


@pytest.fixture(scope="session")
def s3() -> Iterator[S3Server]:
    with moto_server() as server:
        yield server


@pytest.fixture(scope="session")
def s3_auth() -> Iterator[S3Server]:
    with moto_server(auth=True) as server:
        yield server


def use(monkeypatch: pytest.MonkeyPatch, server: S3Server, **overrides: str) -> None:
    for var in list(os.environ):
        if var.startswith(CLOUD_VARS):
            monkeypatch.delenv(var)
    for key, value in server.environ(**overrides).items():
        monkeypatch.setenv(key, value)


@pytest.fixture
def bucket(s3: S3Server, monkeypatch: pytest.MonkeyPatch) -> str:
    """A fresh bucket on the session's server, its environment set."""
    use(monkeypatch, s3)
    name = f"store-{uuid.uuid4().hex[:12]}"
    s3.client().create_bucket(Bucket=name)
    return name


def keys(s3: S3Server, bucket: str) -> list[str]:
    return [o["Key"] for o in s3.client().list_objects_v2(Bucket=bucket).get("Contents", [])]


def in_progress(s3: S3Server, bucket: str) -> list[dict[str, Any]]:
    return list(s3.client().list_multipart_uploads(Bucket=bucket).get("Uploads", []))


def data_project(repo: Path, storage: str, files: dict[str, bytes]) -> None:
    write_config(repo, classification_config(storage=storage))
    for rel, data in files.items():
        path = repo / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)


def fresh_cache(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    root = tmp_path / f"cache-{uuid.uuid4().hex[:6]}"
    monkeypatch.setenv("MLGATE_CACHE_DIR", str(root))
    return root


CSV = b"f0,label\n" + b"".join(b"%d,%d\n" % (i, i % 2) for i in range(2000))
BIG = os.urandom(20 << 20)  # more than one part: a multipart upload


# --- push, pull, status ------------------------------------------------------------------


def test_push_pull_and_status_through_a_bucket(
    repo: Path,
    bucket: str,
    s3: S3Server,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    data_project(repo, f"s3://{bucket}/team/data", {"data/train.csv": CSV, "data/big.bin": BIG})
    monkeypatch.setenv("MLGATE_CACHE_DIR", str(tmp_path / "writer-cache"))
    write_config(repo, classification_config())  # no storage: add only caches
    assert cli(capsys, "data", "add", "data/train.csv", "data/big.bin")[0] == 0
    write_config(repo, classification_config(storage=f"s3://{bucket}/team/data"))
    code, out, err = cli(capsys, "data", "push")
    assert code == 0, err
    assert "pushed 2 file(s)" in out
    assert sorted(keys(s3, bucket)) == sorted(
        f"team/data/{object_relpath(sha(d))}" for d in (CSV, BIG)
    )
    assert in_progress(s3, bucket) == []
    code, out, _ = cli(capsys, "data", "push")
    assert code == 0 and "nothing to do: storage already has every object" in out
    code, out, _ = cli(capsys, "data", "status")
    lines = out.splitlines()
    assert len(lines) == 2 and all("storage: yes" in line for line in lines), out

    # Another machine: a fresh cache, no working files.
    cache_root = fresh_cache(monkeypatch, tmp_path)
    for rel in ("data/train.csv", "data/big.bin"):
        (repo / rel).unlink()
    code, out, err = cli(capsys, "data", "pull")
    assert code == 0, err
    assert (repo / "data/train.csv").read_bytes() == CSV
    assert (repo / "data/big.bin").read_bytes() == BIG
    # Written once, into the working tree; the cache copies it when a check needs it.
    assert not Cache(cache_root).has(sha(BIG))
    code, out, _ = cli(capsys, "data", "status")
    lines = out.splitlines()
    assert len(lines) == 2 and all("file ok        copy only " in line for line in lines), out


def test_a_corrupt_object_in_the_bucket_is_refused(
    repo: Path,
    bucket: str,
    s3: S3Server,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    data_project(repo, f"s3://{bucket}", {"data/train.csv": CSV})
    assert cli(capsys, "data", "add", "data/train.csv")[0] == 0
    key = object_relpath(sha(CSV))
    assert keys(s3, bucket) == [key]
    tampered = CSV.replace(b"1,1", b"1,0")
    s3.client().put_object(Bucket=bucket, Key=key, Body=tampered)  # same size, other bytes

    cache_root = fresh_cache(monkeypatch, tmp_path)
    (repo / "data/train.csv").unlink()
    code, out, err = cli(capsys, "data", "pull")
    assert code == ExitCode.FAILURE
    assert out == "" and len(err.strip().splitlines()) == 1
    assert f"storage s3://{bucket} (corrupt: sha256" in err
    assert not (repo / "data/train.csv").exists()
    assert [p.name for p in (repo / "data").iterdir() if p.name.endswith(".tmp")] == []
    assert not Cache(cache_root).has(sha(CSV))
    objects = cache_root / "objects"
    assert not objects.exists() or [p for p in objects.rglob("*") if p.is_file()] == []


def test_upload_of_bytes_that_are_not_their_sha_is_aborted(
    bucket: str, s3: S3Server, tmp_path: Path
) -> None:
    backend = backend_for(f"s3://{bucket}/p")
    src = tmp_path / "big.bin"
    src.write_bytes(BIG)
    with pytest.raises(HashMismatch):
        backend.put(src, "1" * 64)  # the last part read finds the mismatch: abort
    small = tmp_path / "small.csv"
    small.write_bytes(CSV)
    with pytest.raises(HashMismatch):
        backend.put(small, "2" * 64)  # one part: checked before anything is sent
    assert keys(s3, bucket) == []
    assert in_progress(s3, bucket) == []
    backend.put(src, sha(BIG))
    dest = tmp_path / "back"
    assert backend.get(sha(BIG), dest) == sha(BIG)  # hashed while downloading
    assert dest.read_bytes() == BIG


def test_a_killed_push_leaves_no_object_and_a_rerun_succeeds(
    repo: Path, bucket: str, s3: S3Server, capsys: pytest.CaptureFixture[str]
) -> None:
    data_project(repo, f"s3://{bucket}", {"data/big.bin": BIG})
    write_config(repo, classification_config())
    assert cli(capsys, "data", "add", "data/big.bin")[0] == 0
    write_config(repo, classification_config(storage=f"s3://{bucket}"))
    key = object_relpath(sha(BIG))
    # The network hangs once 12 MiB are sent: the upload is mid-way, parts in flight.
    with stalling_proxy(s3.url, budget=12 << 20) as stall:
        env = {**os.environ, "AWS_ENDPOINT_URL": stall.url}
        proc = subprocess.Popen(
            [sys.executable, "-m", "mlgate", "data", "push"],
            cwd=repo,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            assert stall.stalled.wait(60), "the push never reached the stall"
            assert [u["Key"] for u in in_progress(s3, bucket)] == [key]  # multipart begun
        finally:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
    assert keys(s3, bucket) == []  # nothing visible under the final key
    code, out, err = cli(capsys, "data", "push")
    assert code == 0 and "pushed 1 file(s)" in out, err
    body = s3.client().get_object(Bucket=bucket, Key=key)["Body"].read()
    assert hashlib.sha256(body).hexdigest() == sha(BIG)


def test_check_reads_pointer_data_from_the_bucket_on_a_fresh_machine(
    repo: Path,
    bucket: str,
    s3: S3Server,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    cfg = classification_config(storage=f"s3://{bucket}/ml", gate={"accuracy": {"min": 0.0}})
    write_config(repo, cfg)
    train, test = classification_frames()
    write_frames(repo, train, test)
    assert cli(capsys, "data", "add", "data/train.csv", "data/test.csv")[0] == 0  # and pushes
    commit_all(repo, "base")
    bigger = pd.concat([train, classification_frames(seed=1)[0]], ignore_index=True)
    bigger.to_csv(repo / "data" / "train.csv", index=False)
    assert cli(capsys, "data", "add", "data/train.csv")[0] == 0
    commit_all(repo, "more training data")
    assert len(keys(s3, bucket)) == 3

    # CI: a clone with the pointers only and an empty cache.
    fresh_cache(monkeypatch, tmp_path)
    for rel in ("data/train.csv", "data/test.csv"):
        (repo / rel).unlink()
    code, report = run_json(capsys, "--base", "HEAD~1")
    assert code == 0, report
    diff = {d["path"]: d for d in report["data_diff"]}
    assert diff["data/train.csv"]["status"] == "modified"
    assert diff["data/train.csv"]["new"]["rows"] == len(bigger)


# --- credentials -------------------------------------------------------------------------


def test_wrong_credentials_are_one_line_without_key_material(
    repo: Path,
    s3_auth: S3Server,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    use(monkeypatch, s3_auth)  # moto issued no key: ours is refused with 403
    data_project(repo, "s3://team-bucket/data", {"data/train.csv": CSV})
    write_config(repo, classification_config())
    assert cli(capsys, "data", "add", "data/train.csv")[0] == 0
    write_config(repo, classification_config(storage="s3://team-bucket/data"))
    for args in (("data", "push"), ("--debug", "data", "push")):
        code, out, err = cli(capsys, *args)
        assert code == ExitCode.FAILURE
        last = err.strip().splitlines()[-1]
        assert "credentials" in last and "team-bucket" in last, last
        assert ACCESS_KEY not in out + err and SECRET_KEY not in out + err
        if "--debug" not in args:
            assert len(err.strip().splitlines()) == 1
    (repo / "data/train.csv").unlink()
    monkeypatch.setenv("MLGATE_CACHE_DIR", str(repo.parent / "other-cache"))
    code, out, err = cli(capsys, "--debug", "data", "pull")
    assert code == ExitCode.FAILURE
    assert "storage s3://team-bucket/data (the credentials were refused" in err
    assert ACCESS_KEY not in out + err and SECRET_KEY not in out + err


def test_credentials_from_the_shared_credentials_file(
    repo: Path,
    bucket: str,
    s3: S3Server,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    monkeypatch.delenv("AWS_DEFAULT_REGION")
    monkeypatch.setenv("AWS_PROFILE", "ml")
    aws = Path(os.environ["HOME"]) / ".aws"
    aws.mkdir()
    (aws / "credentials").write_text(
        f"[default]\naws_access_key_id = WRONG\n\n[ml]\naws_access_key_id = {ACCESS_KEY}\n"
        f"aws_secret_access_key = {SECRET_KEY}\n"
    )
    (aws / "config").write_text("[profile ml]\nregion = us-east-1\n")
    assert cloud.aws_config(os.environ) == {
        "region": "us-east-1",
        "access_key_id": ACCESS_KEY,
        "secret_access_key": SECRET_KEY,
    }
    data_project(repo, f"s3://{bucket}", {"data/train.csv": CSV})
    code, out, err = cli(capsys, "data", "add", "data/train.csv")
    assert code == 0, err
    assert keys(s3, bucket) == [object_relpath(sha(CSV))]
    assert SECRET_KEY not in out + err


CREDENTIAL_PROCESS = """\
import json, pathlib, sys
pathlib.Path(sys.argv[1]).write_text("asked")
if sys.argv[2] == "fail":
    print("denied for {secret}", file=sys.stderr)
    sys.exit(1)
print(json.dumps({{"Version": 1, "AccessKeyId": "{key}", "SecretAccessKey": "{secret}"}}))
"""


@pytest.mark.parametrize("outcome", ["works", "fail"])
def test_credentials_from_a_profiles_credential_process(
    repo: Path,
    bucket: str,
    s3: S3Server,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    outcome: str,
) -> None:
    """A profile whose keys come from a command (SSO helpers, aws-vault, 1Password): boto3
    runs it, obstore uses what it printed; a failing one is one line, no secret."""
    for var in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.delenv(var)
    monkeypatch.setenv("AWS_PROFILE", "sso")
    script = tmp_path / "creds.py"
    script.write_text(CREDENTIAL_PROCESS.format(key=ACCESS_KEY, secret=SECRET_KEY))
    asked = tmp_path / "asked"
    aws = Path(os.environ["HOME"]) / ".aws"
    aws.mkdir()
    (aws / "config").write_text(
        f"[profile sso]\nregion = us-east-1\n"
        f"credential_process = {sys.executable} {script} {asked} {outcome}\n"
    )
    data_project(repo, f"s3://{bucket}", {"data/train.csv": CSV})
    for args in (("data", "add", "data/train.csv"), ("--debug", "data", "add", "data/train.csv")):
        code, out, err = cli(capsys, *args)
        assert asked.exists()
        assert SECRET_KEY not in out + err and ACCESS_KEY not in out + err
        if outcome == "works":
            assert code == 0, err
            assert keys(s3, bucket) == [object_relpath(sha(CSV))]
            continue
        assert code == ExitCode.FAILURE, (args, out, err)
        last = err.strip().splitlines()[-1]
        assert "the AWS profile sso gave no credentials through credential_process" in last
        if "--debug" not in args:
            assert len(err.strip().splitlines()) == 1, err


def test_a_broken_credentials_file_is_named_without_its_text(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    creds = tmp_path / "credentials"
    creds.write_text(f"aws_secret_access_key = {SECRET_KEY}\n[default\n")
    env = {"HOME": str(tmp_path), "AWS_SHARED_CREDENTIALS_FILE": str(creds)}
    with pytest.raises(DataError) as e:
        cloud.aws_config(env)
    assert str(e.value) == f"cannot read the AWS config file {creds}: not valid INI"


# --- URLs, and the other providers -------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("s3://Bad_Bucket/x", "names no valid bucket"),
        ("s3:///prefix", "names no valid bucket"),
        ("s3://bucket/a/../b", "the prefix has an empty, . or .. part"),
        (f"s3://{ACCESS_KEY}:{SECRET_KEY}@bucket/x", "credentials come from the environment"),
        ("gs://bucket/x?token=abc", "credentials come from the environment"),
    ],
)
def test_bad_bucket_urls_are_config_errors(url: str, problem: str) -> None:
    with pytest.raises(ConfigError) as e:
        backend_for(url)
    assert problem in str(e.value) and e.value.exit_code == ExitCode.USAGE
    assert SECRET_KEY not in str(e.value) and "abc" not in str(e.value)


def test_gcs_and_azure_credential_and_endpoint_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    """No local GCS or Azure server here: what is tested is URL parsing, a key that cannot
    be used, and a store that cannot be reached (Azure's emulator address, 127.0.0.1:10000,
    where nothing listens). None of it leaves the machine."""
    for var in list(os.environ):
        if var.startswith(CLOUD_VARS):
            monkeypatch.delenv(var)
    key = "-----BEGIN PRIVATE KEY-----\\nnotakey\\n-----END PRIVATE KEY-----\\n"
    monkeypatch.setenv(
        "GOOGLE_SERVICE_ACCOUNT_KEY",
        '{"type": "service_account", "client_email": "ci@example.iam.gserviceaccount.com", '
        f'"private_key": "{key}", "private_key_id": "k1"}}',
    )
    with pytest.raises(DataError) as e:
        backend_for("gs://ml-bucket/data").has("a" * 64)
    assert str(e.value) == (
        "cannot open gs://ml-bucket: no usable credentials for bucket ml-bucket "
        "(environment or config files)"
    )
    assert "notakey" not in str(e.value)

    monkeypatch.setenv("AZURE_STORAGE_ACCOUNT_NAME", "mlaccount")
    monkeypatch.setenv("AZURE_STORAGE_ACCOUNT_KEY", "not base64 !!")
    with pytest.raises(DataError, match="no usable credentials for bucket ml-container"):
        backend_for("az://ml-container/data").has("a" * 64)
    monkeypatch.delenv("AZURE_STORAGE_ACCOUNT_KEY")
    monkeypatch.setenv("AZURE_STORAGE_USE_EMULATOR", "true")
    with pytest.raises(DataError) as e:
        backend_for("az://ml-container/data").has("a" * 64)
    assert str(e.value).endswith(
        "in az://ml-container/data: cannot connect to the storage endpoint"
    )


def test_without_obstore_a_bucket_url_says_which_extra_to_install(tmp_path: Path) -> None:
    code = (
        "import sys; sys.modules['obstore'] = None\n"
        "from mlgate.cli import main\n"
        "sys.exit(main(['data', 'status']))\n"
    )
    repo = tmp_path / "r"
    repo.mkdir()
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    cfg = {**classification_config(storage="s3://some-bucket/x")}
    write_config(repo, cfg)
    (repo / "a.csv.ptr").write_text(f"sha256: {sha(CSV)}\nsize: {len(CSV)}\n")
    proc = subprocess.run(
        [sys.executable, "-c", code],
        cwd=repo,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT / "src")},
    )
    assert "storage: unknown" in proc.stdout, proc.stderr
    proc = subprocess.run(
        [sys.executable, "-c", code.replace("'status'", "'push'")],
        cwd=repo,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT / "src")},
    )
    assert proc.returncode == ExitCode.FAILURE
    assert proc.stderr.strip() == (
        "mlgate: error: s3:// storage needs obstore; install it with pip install 'mlgate[cloud]'"
    )


# --- a DVC remote in a bucket ------------------------------------------------------------


def test_a_dvc_remote_in_a_bucket_is_read(repo: Path, bucket: str, s3: S3Server) -> None:
    digest = md5(CSV)
    dvc_init(repo, remote=f"s3://{bucket}/dvcstore")
    dvc_add(repo, "data/train.csv", CSV)
    s3.client().put_object(
        Bucket=bucket, Key=f"dvcstore/files/md5/{digest[:2]}/{digest[2:]}", Body=CSV
    )
    files = CommitFiles(open_repo(repo), commit_all(repo, "dvc data"))
    (repo / "data" / "train.csv").unlink()
    summary = describe(files, "data/train.csv")
    assert summary is not None and summary.sha256 == sha(CSV)
    assert Cache().path_for(sha(CSV)).read_bytes() == CSV


def test_many_files_move_at_once_and_a_missing_one_leaves_the_rest_whole(
    repo: Path,
    bucket: str,
    s3: S3Server,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    files = {f"data/part-{i:02d}.bin": os.urandom(50_000 + i) for i in range(12)}
    files["data/same-as-00.bin"] = files["data/part-00.bin"]  # one object, two paths at once
    data_project(repo, f"s3://{bucket}", files)
    code, out, err = cli(capsys, "data", "add", *files)
    assert code == 0, err
    code, out, err = cli(capsys, "data", "push", "--jobs", "4")
    assert code == 0 and "nothing to do" in out, err
    assert len(keys(s3, bucket)) == 12

    fresh_cache(monkeypatch, tmp_path)
    for rel in files:
        (repo / rel).unlink()
    gone = "data/part-07.bin"
    s3.client().delete_object(Bucket=bucket, Key=object_relpath(sha(files[gone])))
    for jobs in ("8", "1"):  # at once, and one after the other: the same outcome
        code, out, err = cli(capsys, "data", "pull", "-j", jobs)
        assert code == ExitCode.FAILURE, (out, err)
        (line,) = err.strip().splitlines()
        assert f"{gone}.ptr" in line and "not found" in line, line
        for rel, data in files.items():
            assert (repo / rel).exists() == (rel != gone)
            if rel != gone:
                assert (repo / rel).read_bytes() == data
        assert sorted(p.name for p in (repo / "data").iterdir() if p.name.startswith(".")) == []
    code, out, err = cli(capsys, "data", "pull", *(r for r in files if r != gone))
    assert code == 0 and "nothing to do: the working tree already has every object" in out
