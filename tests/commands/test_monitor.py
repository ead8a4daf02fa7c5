"""`mlgate monitor`: batches built here (undrifted, drifted, labelled, a real `mlgate serve`
request log) against churn v1, promoted to a bare origin's production branch. The drift
numbers are recomputed here from the definitions (PSI over the training data's deciles,
scipy's KS), the live metrics with scikit-learn on the promoted model."""

from __future__ import annotations

import hashlib
import itertools
import json
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import jsonschema
import numpy as np
import pandas as pd
import pytest
from scipy.stats import ks_2samp
from sklearn.metrics import accuracy_score, f1_score

from mlgate.paths import package_file
from mlgate.run.protocol import request_body
from mlgate.storage.models import load_trusted
from projects import base_project, classification_config, classification_frames, cli, push_to_origin

RULES = {"drift": {"psi": {"max": 0.25}}, "metrics": {"accuracy": {"max_regression": 0.05}}}
FEATURES = [f"f{i}" for i in range(5)]


@pytest.fixture
def origin(repo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    """churn v1 promoted, its config with monitor rules."""
    base_project(repo, classification_config(monitor=RULES), classification_frames(rows=600))
    bare = push_to_origin(repo, tmp_path)
    code, _, err = cli(capsys, "promote")
    assert code == 0, err
    return bare


def train_frame() -> pd.DataFrame:
    return classification_frames(rows=600)[0]


def batch(repo: Path, frame: pd.DataFrame, name: str = "batch.csv") -> str:
    (repo / "batches").mkdir(exist_ok=True)
    frame.to_csv(repo / "batches" / name, index=False)
    return f"batches/{name}"


def monitor_json(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict[str, Any]]:
    code, out, err = cli(capsys, "monitor", "--format", "json", *args)
    assert out.strip(), err
    return code, json.loads(out)


def psi(reference: np.ndarray, current: np.ndarray) -> float:
    """PSI by its definition: deciles of the reference, bins (e[i-1], e[i]], empty = 1e-4."""
    edges = np.unique(np.quantile(reference, np.linspace(0.1, 0.9, 9)))
    bins = np.concatenate([[-np.inf], edges, [np.inf]])
    p = np.array([((reference > a) & (reference <= b)).mean() for a, b in itertools.pairwise(bins)])
    q = np.array([((current > a) & (current <= b)).mean() for a, b in itertools.pairwise(bins)])
    p, q = np.maximum(p, 1e-4), np.maximum(q, 1e-4)
    return float(np.sum((q - p) * np.log(q / p)))


def production_model(repo: Path) -> Any:
    data = subprocess.run(
        ["git", "show", "production:churn/model.skops"], cwd=repo, capture_output=True, check=True
    ).stdout
    path = repo.parent / f"model-{hashlib.sha256(data).hexdigest()[:8]}.skops"
    path.write_bytes(data)
    return load_trusted(str(path))


def feature(doc: dict[str, Any], name: str) -> dict[str, Any]:
    found: dict[str, Any] = next(f for f in doc["drift"]["features"] if f["name"] == name)
    return found


def test_an_undrifted_batch_is_healthy_with_the_statistics_recomputed(
    repo: Path, origin: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    live = classification_frames(rows=600)[1].drop(columns=["label"])
    code, doc = monitor_json(capsys, "--data", batch(repo, live))
    assert code == 0, doc
    jsonschema.validate(doc, json.loads(package_file("schema", "monitor.schema.json").read_text()))
    assert doc["verdict"] == "healthy" and doc["model"] == "churn" and doc["version"] == 1
    assert doc["rows"] == len(live) and doc["training_rows"] == len(train_frame())
    train = train_frame()
    for name in FEATURES:
        got = feature(doc, name)
        assert got["psi"] == pytest.approx(
            psi(train[name].to_numpy(), live[name].to_numpy()), abs=1e-6
        )
        assert got["ks"] == pytest.approx(ks_2samp(train[name], live[name]).statistic, abs=1e-6)
        assert got["psi"] < 0.25 and not got["flagged"]
    # prediction drift: the model's classes on the training rows vs on the batch
    model = production_model(repo)
    p = np.bincount(model.predict(train[FEATURES]), minlength=2) / len(train)
    q = np.bincount(model.predict(live[FEATURES]), minlength=2) / len(live)
    pp, qq = np.append(p, [0, 0]), np.append(q, [0, 0])  # the "other" and "missing" bins
    pp, qq = np.maximum(pp, 1e-4), np.maximum(qq, 1e-4)
    assert doc["predictions"]["psi"] == pytest.approx(
        float(np.sum((qq - pp) * np.log(qq / pp))), abs=1e-6
    )
    assert doc["prediction_source"] == "model"
    assert doc["metrics"] == [] and doc["labels"] is None
    skipped = [c for c in doc["checks"] if c["metric"] == "accuracy"]
    assert skipped and all(c["skipped"] and c["passed"] for c in skipped)


def test_a_drifted_batch_breaks_the_psi_rule_in_every_format(
    repo: Path, origin: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    live = classification_frames(rows=600)[1].drop(columns=["label"])
    live["f0"] = live["f0"] + 3.0
    path = batch(repo, live)
    code, doc = monitor_json(capsys, "--data", path)
    assert code == 1
    assert doc["verdict"] == "unhealthy"
    got = feature(doc, "f0")
    assert got["flagged"] and got["psi"] > 0.25
    assert got["psi"] == pytest.approx(
        psi(train_frame()["f0"].to_numpy(), live["f0"].to_numpy()), abs=1e-6
    )
    assert any(
        "'f0' PSI" in line and "above the maximum 0.25" in line for line in doc["failed_rules"]
    )
    assert doc["drift"]["features"][0]["name"] == "f0"  # the most drifted first
    code, out, _ = cli(capsys, "monitor", "--data", path, "--format", "markdown")
    assert code == 1
    assert out.splitlines()[0] == "<!-- mlgate:monitor model=churn -->"
    assert "is unhealthy" in out and "| f0 |" in out and "🔴 drifted" in out
    code, out, _ = cli(capsys, "monitor", "churn", "--data", path)
    assert code == 1
    assert out.startswith("UNHEALTHY mlgate monitor: churn v1") and "Broken rules:" in out
    assert re.search(r"^f0\s+numeric\s+\d+\.\d{3}", out, re.M)


def test_labels_give_live_metrics_against_the_promoted_ones(
    repo: Path, origin: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    live = classification_frames(rows=600)[1]
    model = production_model(repo)
    predicted = model.predict(live[FEATURES])
    lineage = json.loads(
        subprocess.run(
            ["git", "show", "production:churn/lineage.json"],
            cwd=repo,
            capture_output=True,
            check=True,
        ).stdout
    )
    code, doc = monitor_json(capsys, "--data", batch(repo, live), "--labels", "label")
    assert code == 0, doc["failed_rules"]
    rows = {m["name"]: m for m in doc["metrics"]}
    assert rows["accuracy"]["live"] == pytest.approx(accuracy_score(live["label"], predicted))
    assert rows["f1_macro"]["live"] == pytest.approx(
        f1_score(live["label"], predicted, average="macro")
    )
    assert rows["accuracy"]["promoted"] == lineage["metrics"]["accuracy"]
    assert feature(doc, "label")["label"]  # the label shift is compared too
    # labels that are mostly wrong: accuracy drops by far more than 0.05
    wrong = live.assign(label=1 - predicted)
    code, doc = monitor_json(capsys, "--data", batch(repo, wrong, "wrong.csv"), "--labels", "label")
    assert code == 1
    assert any(
        line.startswith("accuracy dropped by") and "at promotion" in line and "live" in line
        for line in doc["failed_rules"]
    )
    assert {m["name"]: m for m in doc["metrics"]}["accuracy"]["live"] == 0.0


def test_bad_input_is_one_line_and_exit_2(
    repo: Path, origin: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = cli(capsys, "monitor", "--data", "nowhere.csv")
    assert (code, out) == (2, "")
    assert err.strip() == "mlgate: error: --data nowhere.csv: no such file or directory"
    path = batch(repo, classification_frames(rows=600)[1].drop(columns=["f1", "f3"]))
    code, _, err = cli(capsys, "monitor", "--data", path)
    assert code == 2
    assert err.strip().endswith("lacks the columns churn takes: 'f1', 'f3'")
    assert len(err.strip().splitlines()) == 1
    code, _, err = cli(capsys, "monitor", "--data", path.replace("batch", "x"), "--labels", "y")
    assert code == 2
    path = batch(repo, classification_frames(rows=600)[1])
    code, _, err = cli(capsys, "monitor", "--data", path, "--labels", "truth")
    assert code == 2 and "has no column 'truth'" in err
    code, _, err = cli(capsys, "monitor", "other", "--data", path)
    assert code == 2 and "there is no model other" in err


READY = re.compile(r"^mlgate: serving (\S+) v(\d+) .* on (http://\S+)$")


def test_monitor_reads_a_real_serve_request_log(
    repo: Path, origin: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import http.client

    logs = tmp_path / "logs"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "mlgate",
            "serve",
            "--port",
            "0",
            "--log-dir",
            str(logs),
            "--log-interval",
            "0.2",
        ],
        cwd=repo,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline().strip()
        match = READY.match(line)
        assert match, line
        host, port = match.group(3).removeprefix("http://").rsplit(":", 1)
        conn = http.client.HTTPConnection(host, int(port), timeout=60)
        rows = classification_frames(rows=600)[1].drop(columns=["label"])
        rows["f2"] = rows["f2"] * 4 + 2  # a drifted feature
        for start in range(0, len(rows), 30):
            body = request_body(rows.iloc[start : start + 30])
            conn.request(
                "POST", "/invocations", body=body, headers={"Content-Type": "application/json"}
            )
            response = conn.getresponse()
            response.read()
            assert response.status == 200
        conn.close()
        deadline = time.monotonic() + 30
        while sum(len(pd.read_parquet(p)) for p in logs.glob("requests-*.parquet")) < len(rows):
            assert time.monotonic() < deadline, "the request log was never written"
            time.sleep(0.1)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=30)
    (logs / ".requests-torn.parquet.tmp").write_bytes(b"half a batch")  # skipped: hidden
    code, doc = monitor_json(capsys, "--data", str(logs))
    assert code == 1
    assert doc["rows"] == len(rows) and doc["prediction_source"] == "recorded"
    assert all(not Path(p).name.startswith(".") for p in doc["batch"])
    names = {f["name"] for f in doc["drift"]["features"]}
    assert names == set(FEATURES)  # the mlgate.* columns are not features
    got = feature(doc, "f2")
    assert got["flagged"]
    assert got["psi"] == pytest.approx(
        psi(train_frame()["f2"].to_numpy(), rows["f2"].to_numpy()), abs=1e-6
    )
    model = production_model(repo)
    train = train_frame()
    p = np.bincount(model.predict(train[FEATURES]), minlength=2) / len(train)
    q = np.bincount(model.predict(rows[FEATURES]), minlength=2) / len(rows)
    pp, qq = np.maximum(np.append(p, [0, 0]), 1e-4), np.maximum(np.append(q, [0, 0]), 1e-4)
    assert doc["predictions"]["psi"] == pytest.approx(
        float(np.sum((qq - pp) * np.log(qq / pp))), abs=1e-6
    )


def test_training_data_from_storage_else_a_clear_exit_3(
    repo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import os
    import shutil

    from conftest import commit_all
    from projects import write_config, write_frames

    store = tmp_path / "store"
    write_config(repo, classification_config(storage=store.as_uri()))
    write_frames(repo, *classification_frames(rows=600))
    code, _, err = cli(capsys, "data", "add", "data/train.csv", "data/test.csv")
    assert code == 0, err
    commit_all(repo, "data behind pointers")
    push_to_origin(repo, tmp_path)
    code, _, err = cli(capsys, "promote")
    assert code == 0, err
    live = batch(repo, classification_frames(rows=600)[1].drop(columns=["label"]))
    (repo / "data" / "train.csv").unlink()
    shutil.rmtree(os.environ["MLGATE_CACHE_DIR"])  # only storage has the bytes now
    code, doc = monitor_json(capsys, "--data", live)
    assert code == 0 and doc["training_rows"] == len(train_frame())
    shutil.rmtree(os.environ["MLGATE_CACHE_DIR"])
    shutil.rmtree(store)
    code, out, err = cli(capsys, "monitor", "--data", live)
    assert (code, out) == (3, "")
    line = err.strip()
    assert len(line.splitlines()) == 1
    assert line.startswith("mlgate: error: the training data of churn v1 (data/train.csv, sha256 ")
    assert "is not available" in line and "storage" in line


def test_a_csv_log_with_rows_of_another_version_is_predicted_again(
    repo: Path, origin: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A log the way `mlgate serve` writes it without pyarrow (CSV), two batches, one of
    them answered by an older version: its recorded predictions are not v1's."""
    logs = tmp_path / "csvlog"
    logs.mkdir()
    rows = classification_frames(rows=600)[1].drop(columns=["label"])
    model = production_model(repo)
    for n, (part, version) in enumerate(((rows.iloc[:90], 1), (rows.iloc[90:], 0)), 1):
        part = part.assign(
            **{"mlgate.time": "2026-01-01T00:00:00+00:00", "mlgate.version": version}
        )
        part["mlgate.prediction"] = 1 - model.predict(part[FEATURES])  # what v0 said
        part.to_csv(logs / f"requests-20260101T000000000000Z-1-{n:06d}.csv", index=False)
    code, doc = monitor_json(capsys, "--data", str(logs))
    assert code == 0, doc["failed_rules"]
    assert doc["rows"] == len(rows) and doc["prediction_source"] == "model"
    assert {f["name"] for f in doc["drift"]["features"]} == set(FEATURES)
    assert doc["notes"] == [
        "90 logged rows were answered by v0: the prediction drift is v1's predictions on the "
        "whole batch"
    ]


def test_a_regressor_s_prediction_drift_is_numeric(
    repo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from projects import regression_config, regression_frames

    cfg = regression_config(monitor={"metrics": {"rmse": {"max_regression_pct": 500.0}}})
    base_project(repo, cfg, regression_frames(rows=400))
    push_to_origin(repo, tmp_path)
    code, _, err = cli(capsys, "promote")
    assert code == 0, err
    train, live = regression_frames(rows=400)
    code, doc = monitor_json(capsys, "--data", batch(repo, live), "--labels", "price")
    assert code == 0, doc["failed_rules"]
    data = subprocess.run(
        ["git", "show", "production:prices/model.skops"], cwd=repo, capture_output=True, check=True
    ).stdout
    (tmp_path / "m.skops").write_bytes(data)
    model = load_trusted(str(tmp_path / "m.skops"))
    columns = ["a", "b", "c", "d"]
    expected = ks_2samp(model.predict(train[columns]), model.predict(live[columns])).statistic
    assert doc["predictions"]["kind"] == "numeric"
    assert doc["predictions"]["ks"] == pytest.approx(expected, abs=1e-6)
    rmse = float(np.sqrt(np.mean((model.predict(live[columns]) - live["price"]) ** 2)))
    assert {m["name"]: m for m in doc["metrics"]}["rmse"]["live"] == pytest.approx(rmse)
    assert feature(doc, "price")["label"] and feature(doc, "price")["kind"] == "numeric"
