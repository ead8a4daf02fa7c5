"""Journey 6: `mlgate serve`, a real server on 127.0.0.1 (port 0) in a subprocess, asked with
real HTTP requests; the model promoted to a bare origin's production branch first."""

from __future__ import annotations

import hashlib
import http.client
import json
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import skops.io

from conftest import commit_all, git
from mlgate.run.protocol import request_body
from mlgate.storage.models import load_trusted
from projects import (
    base_project,
    classification_config,
    classification_frames,
    cli,
    forest_config,
    push_to_origin,
    set_params,
)

READY = re.compile(r"^mlgate: serving (\S+) v(\d+) .* on (http://\S+)$")


class Server:
    """``mlgate serve`` in a subprocess; ``request`` talks to it over one keep-alive
    connection."""

    def __init__(self, cwd: Path, *args: str, timeout: float = 60.0) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "mlgate", "serve", "--port", "0", *args],
            cwd=cwd,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline().strip()
        match = READY.match(line)
        if match is None:
            self.proc.kill()
            _, err = self.proc.communicate(timeout=timeout)
            raise AssertionError(f"mlgate serve did not start: {line!r} {err}")
        self.url = match.group(3)
        host, port = self.url.removeprefix("http://").rsplit(":", 1)
        self.conn = http.client.HTTPConnection(host, int(port), timeout=timeout)

    def request(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        content_type: str | None = "application/json",
    ) -> tuple[int, Any]:
        headers = {"Content-Type": content_type} if content_type else {}
        self.conn.request(method, path, body=body, headers=headers)
        response = self.conn.getresponse()
        data = response.read()
        kind = response.getheader("content-type") or ""
        return response.status, json.loads(data) if "json" in kind and data.strip() else data

    def post(self, doc: Any, path: str = "/invocations") -> tuple[int, Any]:
        return self.request("POST", path, json.dumps(doc).encode())

    def stop(self) -> tuple[int, str]:
        self.conn.close()
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        _, err = self.proc.communicate(timeout=30)
        return self.proc.returncode, err


@pytest.fixture
def origin(repo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    """The project on main, pushed to a bare origin and promoted as churn v1."""
    base_project(repo, classification_config(), classification_frames())
    bare = push_to_origin(repo, tmp_path)
    code, _, err = cli(capsys, "promote")
    assert code == 0, err
    return bare


@pytest.fixture
def server(repo: Path, origin: Path) -> Iterator[Server]:
    started = Server(repo, "--max-body", "100000")
    yield started
    started.stop()


def production_model(where: Path, rev: str = "production") -> Any:
    data = subprocess.run(
        ["git", "show", f"{rev}:churn/model.skops"], cwd=where, capture_output=True, check=True
    ).stdout
    path = where.parent / f"model-{hashlib.sha256(data).hexdigest()[:8]}.skops"
    path.write_bytes(data)
    return load_trusted(str(path))


def test_four_json_formats_and_csv_answer_what_model_predict_does(
    repo: Path, server: Server
) -> None:
    rows = classification_frames()[1].drop(columns=["label"])
    model = production_model(repo)
    expected = model.predict(rows).tolist()
    for fmt in ("dataframe_split", "dataframe_records", "instances", "inputs"):
        status, doc = server.request("POST", "/invocations", request_body(rows, fmt))
        assert status == 200, (fmt, doc)
        assert doc == {"predictions": expected}, fmt
    csv = rows.to_csv(index=False).encode()
    status, doc = server.request("POST", "/invocations", csv, "text/csv; charset=utf-8")
    assert status == 200 and doc == {"predictions": expected}
    # One row, and positional rows (no column names) in the schema's order.
    status, doc = server.post({"instances": [rows.iloc[0].tolist()]})
    assert status == 200 and doc == {"predictions": expected[:1]}
    status, doc = server.post({"dataframe_split": {"data": rows.iloc[:3].values.tolist()}})
    assert status == 200 and doc == {"predictions": expected[:3]}
    # predict_proba when asked.
    body = json.loads(request_body(rows.iloc[:5]))
    status, doc = server.post({**body, "params": {"method": "predict_proba"}})
    assert status == 200
    assert np.allclose(doc["predictions"], model.predict_proba(rows.iloc[:5]), atol=1e-12)


def test_ping_health_version_and_metadata(repo: Path, server: Server) -> None:
    assert server.request("GET", "/ping")[0] == 200
    assert server.request("GET", "/health")[0] == 200
    status, version = server.request("GET", "/version")
    assert status == 200 and version.decode() == "0.1.0"
    status, meta = server.request("GET", "/metadata")
    assert status == 200
    lineage = json.loads(git(repo, "show", "production:churn/lineage.json"))
    assert meta["model"] == "churn" and meta["version"] == 1 and meta["tag"] == "churn@v1"
    assert meta["source_commit"] == git(repo, "rev-parse", "main")
    assert meta["production_commit"] == git(repo, "rev-parse", "origin/production")
    assert meta["metrics"] == lineage["metrics"] and "accuracy" in meta["metrics"]
    assert meta["input_schema_source"] == "lineage"
    assert meta["input_schema"] == [{"name": f"f{i}", "type": "float64"} for i in range(5)]
    assert meta["methods"] == ["predict", "predict_proba"]


def test_promotion_records_the_input_schema_in_column_order(
    repo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """12 columns: f10 and f11 sort before f2, and the model needs them in fit order."""
    frames = classification_frames(features=12)
    base_project(repo, classification_config(), frames)
    origin = push_to_origin(repo, tmp_path)
    code, _, err = cli(capsys, "promote")
    assert code == 0, err
    lineage = json.loads(git(origin, "show", "production:churn/lineage.json"))
    names = [f"f{i}" for i in range(12)]
    assert lineage["input_schema"] == [{"name": n, "type": "float64"} for n in names]
    rows = frames[1].drop(columns=["label"])
    started = Server(repo)
    try:
        status, doc = started.post({"instances": rows.values.tolist()})
        assert status == 200
        assert doc["predictions"] == production_model(repo).predict(rows).tolist()
        shuffled = rows[sorted(names)]  # named columns in any order
        status, doc = started.request("POST", "/invocations", request_body(shuffled))
        assert status == 200
        assert doc["predictions"] == production_model(repo).predict(rows).tolist()
    finally:
        started.stop()


def test_bad_requests_get_a_clear_json_error_and_never_a_traceback(server: Server) -> None:
    rows = classification_frames()[1].drop(columns=["label"]).iloc[:3]
    split = json.loads(request_body(rows))["dataframe_split"]

    def refused(status: int, body: bytes | None, content_type: str | None, *said: str) -> None:
        got, doc = server.request("POST", "/invocations", body, content_type)
        assert got == status, (body, doc)
        assert set(doc) == {"error_code", "message"}, doc
        assert "\n" not in doc["message"] and "Traceback" not in doc["message"]
        for text in said:
            assert text in doc["message"], (text, doc["message"])

    missing = {"columns": ["f0", "f1", "f2", "f3", "typo"], "data": split["data"]}
    refused(
        400,
        json.dumps({"dataframe_split": missing}).encode(),
        "application/json",
        "missing column(s): f4; unexpected: typo",
        "the model takes f0 (float64), f1 (float64), f2 (float64), f3 (float64), f4 (float64)",
    )
    wrong = [dict(r) for r in rows.to_dict(orient="records")]
    wrong[1]["f2"] = "abc"
    refused(
        400,
        json.dumps({"dataframe_records": wrong}).encode(),
        "application/json",
        "column f2 expects float64 values; row 1 has 'abc'",
    )
    refused(400, b"", "application/json", "the request body is empty")
    refused(400, b'{"dataframe_split": ', "application/json", "the body is not valid JSON")
    refused(400, b"[1, 2]", "application/json", "must be an object with exactly one of")
    both = {"instances": [[1] * 5], "inputs": [[1] * 5]}
    refused(400, json.dumps(both).encode(), "application/json", "it has instances and inputs")
    refused(400, b"{}", "application/json", "it has none")
    refused(400, b"f0,f1\n", "text/csv", "header but no rows")
    bad_method = {"dataframe_split": split, "params": {"method": "transform"}}
    refused(400, json.dumps(bad_method).encode(), "application/json", "unknown method 'transform'")
    short = {"instances": [[1.0, 2.0]]}
    refused(400, json.dumps(short).encode(), "application/json", "every row must have 5 values")
    refused(415, b"f0=1", "application/x-www-form-urlencoded", "unsupported content type")
    refused(415, b"{}", None, "unsupported content type none")
    big = json.dumps({"instances": [[0.5] * 5] * 5000}).encode()
    assert len(big) > 100000
    refused(413, big, "application/json", "at most 100000")
    # The model itself raises (LogisticRegression refuses NaN): 500, one line, logged.
    nan = {"columns": split["columns"], "data": [[None, 1.0, 1.0, 1.0, 1.0]]}
    refused(
        500,
        json.dumps({"dataframe_split": nan}).encode(),
        "application/json",
        "the model failed to predict: ValueError: Input X contains NaN",
    )
    # The server still answers after all that.
    assert server.post({"dataframe_split": split})[0] == 200
    code, err = server.stop()
    assert code == 0, err
    assert "mlgate serve: the model failed to predict: ValueError: Input X contains NaN" in err
    assert "Traceback" not in err


def test_a_model_with_an_untrusted_type_is_refused_at_start(
    repo: Path, origin: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "evilmod.py").write_text(
        "class Payload:\n    def __init__(self):\n        self.x = 1\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    import evilmod  # type: ignore[import-not-found]

    skops.io.dump(evilmod.Payload(), tmp_path / "evil.skops")
    replace_production_model(repo, (tmp_path / "evil.skops").read_bytes(), fix_lineage=True)
    git(repo, "fetch", "-q", "origin")
    proc = serve_once(repo)
    assert proc.returncode == 3
    assert proc.stderr.strip().splitlines() == [
        "mlgate: error: churn v1 (churn/model.skops at production "
        f"({git(repo, 'rev-parse', '--short=7', 'origin/production')})) was not loaded: it "
        "contains types mlgate never loads: evilmod.Payload"
    ]


def test_a_model_that_does_not_match_its_lineage_sha256_is_refused(
    repo: Path, origin: Path
) -> None:
    replace_production_model(repo, b"not the promoted model", fix_lineage=False)
    git(repo, "fetch", "-q", "origin")
    proc = serve_once(repo)
    assert proc.returncode == 3
    assert "does not match the sha256 in lineage.json; refusing to load it" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


def test_nothing_promoted_or_no_such_version_is_a_usage_error(repo: Path, tmp_path: Path) -> None:
    base_project(repo, classification_config(), classification_frames())
    proc = serve_once(repo)
    assert proc.returncode == 2
    assert "there is no production branch here: nothing was promoted yet" in proc.stderr
    proc = serve_once(repo, "--version", "3")
    assert proc.returncode == 2


def test_an_older_version_without_a_schema_falls_back_to_feature_names(
    repo: Path, origin: Path
) -> None:
    work = repo.parent / "prod-edit"
    git(repo.parent, "clone", "-q", "--branch", "production", str(origin), str(work))
    record = json.loads((work / "churn" / "lineage.json").read_text())
    del record["input_schema"]
    (work / "churn" / "lineage.json").write_text(json.dumps(record))
    commit_all(work, "a version promoted before issue 14")
    git(work, "push", "-q", "origin", "production")
    git(repo, "fetch", "-q", "origin")
    started = Server(repo)
    try:
        meta = started.request("GET", "/metadata")[1]
        assert meta["input_schema_source"] == "model"
        assert meta["input_schema"][0] == {"name": "f0", "type": "unknown"}
        status, doc = started.post({"instances": [{"f0": 1, "f1": 2, "f2": 3}]})
        assert status == 400 and "missing column(s): f3, f4" in doc["message"]
        status, doc = started.post({"instances": [{f"f{i}": "0.5" for i in range(5)}]})
        assert status == 200 and len(doc["predictions"]) == 1
    finally:
        started.stop()


def test_version_n_serves_that_version(
    repo: Path, origin: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    set_params(repo, C=0.8)
    commit_all(repo, "C 0.8")
    code, _, err = cli(capsys, "promote")
    assert code == 0, err
    for args, version in (((), 2), (("--version", "1"), 1), (("churn", "--version", "2"), 2)):
        started = Server(repo, *args)
        try:
            assert started.request("GET", "/metadata")[1]["version"] == version
        finally:
            started.stop()


def test_follow_swaps_in_v2_after_a_promotion(
    repo: Path, origin: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    deployed = tmp_path / "deployed"
    git(tmp_path, "clone", "-q", "--branch", "production", str(origin), str(deployed))
    started = Server(deployed, "--follow", "--interval", "0.3")
    try:
        rows = classification_frames()[1].drop(columns=["label"])
        assert started.request("POST", "/invocations", request_body(rows))[0] == 200
        assert started.request("GET", "/metadata")[1]["version"] == 1
        set_params(repo, C=0.8)
        commit_all(repo, "C 0.8")
        code, _, err = cli(capsys, "promote")
        assert code == 0, err
        deadline = time.monotonic() + 60
        while started.request("GET", "/metadata")[1]["version"] != 2:
            assert time.monotonic() < deadline, "v2 was never served"
            status, _ = started.request("POST", "/invocations", request_body(rows.iloc[:2]))
            assert status == 200  # answered all along, by v1 then v2
            time.sleep(0.2)
        expected = production_model(repo, "origin/production").predict(rows).tolist()
        assert started.request("POST", "/invocations", request_body(rows))[1] == {
            "predictions": expected
        }
        meta = started.request("GET", "/metadata")[1]
        assert meta["tag"] == "churn@v2"
        assert meta["production_commit"] == git(repo, "rev-parse", "origin/production")
    finally:
        code, err = started.stop()
    assert "now serving churn v2 (was v1)" in err


def test_the_request_log_survives_a_kill_9_without_a_torn_batch(
    repo: Path, origin: Path, tmp_path: Path
) -> None:
    logs = tmp_path / "logs"
    started = Server(repo, "--log-dir", str(logs), "--log-interval", "0.2", "--workers", "1")
    rows = classification_frames()[1].drop(columns=["label"])
    sent = 0
    for i in range(10):
        status, _ = started.request("POST", "/invocations", request_body(rows.iloc[i : i + 3]))
        assert status == 200
        sent += 3
    deadline = time.monotonic() + 30
    while sum(len(pd.read_parquet(p)) for p in logs.glob("requests-*.parquet")) < sent:
        assert time.monotonic() < deadline, "the request log was never written"
        time.sleep(0.1)
    for i in range(50):  # more rows in flight while the server is killed
        started.request("POST", "/invocations", request_body(rows.iloc[i : i + 2]))
    started.proc.send_signal(signal.SIGKILL)
    started.stop()
    files = sorted(logs.glob("requests-*.parquet"))
    assert files
    frame = pd.concat([pd.read_parquet(p) for p in files], ignore_index=True)
    assert len(frame) >= sent
    assert list(frame.columns) == [
        *[f"f{i}" for i in range(5)],
        "mlgate.time",
        "mlgate.version",
        "mlgate.prediction",
    ]
    model = production_model(repo)
    first = frame.iloc[:sent]
    assert first["mlgate.prediction"].tolist() == model.predict(first[rows.columns]).tolist()
    assert set(frame["mlgate.version"]) == {1}
    assert all(not p.name.startswith(".") for p in logs.iterdir() if p.suffix == ".parquet")


def serve_once(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mlgate", "serve", "--port", "0", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
    )


def replace_production_model(repo: Path, data: bytes, *, fix_lineage: bool) -> None:
    """Edit the production branch by hand (as an attacker or a careless person would)."""
    work = repo.parent / "prod-edit"
    origin = git(repo, "remote", "get-url", "origin")
    git(repo.parent, "clone", "-q", "--branch", "production", origin, str(work))
    (work / "churn" / "model.skops").write_bytes(data)
    if fix_lineage:
        record = json.loads((work / "churn" / "lineage.json").read_text())
        record["model_sha256"] = hashlib.sha256(data).hexdigest()
        (work / "churn" / "lineage.json").write_text(json.dumps(record))
    commit_all(work, "edit the model")
    git(work, "push", "-q", "origin", "production")


def test_serve_help_says_the_protocol_and_imports_nothing_heavy() -> None:
    code = (
        "import sys\n"
        "from mlgate.cli import main\n"
        "try:\n"
        "    main(['serve', '--help'])\n"
        "except SystemExit:\n"
        "    pass\n"
        "heavy = sorted(m for m in ('pandas', 'sklearn', 'numpy', 'starlette', 'uvicorn')"
        " if m in sys.modules)\n"
        "print('HEAVY', heavy, file=sys.stderr)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert "HEAVY []" in proc.stderr
    for text in ("/invocations", "dataframe_split", "--follow", "--log-dir", "--workers", "413"):
        assert text in proc.stdout


def test_workers_share_the_socket_and_stop_together(repo: Path, origin: Path) -> None:
    started = Server(repo, "--workers", "2")
    rows = classification_frames()[1].drop(columns=["label"])
    try:
        deadline = time.monotonic() + 30
        while len(children_of(started.proc.pid)) != 2:  # forked after the ready line
            assert time.monotonic() < deadline, children_of(started.proc.pid)
            time.sleep(0.05)
        for i in range(20):
            started.conn.close()  # a new connection each time: either worker may answer
            status, doc = started.request(
                "POST", "/invocations", request_body(rows.iloc[i : i + 1])
            )
            assert status == 200 and len(doc["predictions"]) == 1
    finally:
        code, err = started.stop()
    assert code == 0, err


def children_of(pid: int) -> list[int]:
    """The processes whose parent is ``pid`` (from /proc: Linux, as --workers' fork is)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def test_a_forest_answers_over_http_what_its_own_predict_does(
    repo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The forests' fast path (run.protocol.forest_methods), through the real server."""
    frames = classification_frames(rows=400)
    base_project(repo, forest_config(), frames)
    push_to_origin(repo, tmp_path)
    code, _, err = cli(capsys, "promote")
    assert code == 0, err
    rows = frames[1].drop(columns=["label"])
    model = production_model(repo)
    started = Server(repo)
    try:
        for method in ("predict", "predict_proba"):
            body = json.loads(request_body(rows))
            status, doc = started.post({**body, "params": {"method": method}})
            assert status == 200
            assert doc["predictions"] == getattr(model, method)(rows).tolist(), method
    finally:
        started.stop()
