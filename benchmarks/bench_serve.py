"""`mlgate serve` against `mlflow models serve`: the same model, the same machine, the same
client.

Two models on 20 features (make_classification, 2,000 rows): a 100-tree random forest and a
logistic regression. Each is promoted with `mlgate promote` into a temporary repository
(with a bare origin), and saved from the very same fitted object as an MLflow model
(``mlflow.sklearn.save_model``). Each server then runs alone, one worker each, on
127.0.0.1:

- **start-up**: from starting the process to the first 200 answer of ``/invocations``;
- **throughput and latency**: ``--clients`` threads, each with one keep-alive connection,
  send a bounded number of ``dataframe_split`` requests (``--requests`` in all, after a
  warm-up), single rows and 100-row batches; requests/s and p50/p99 latency.

MLflow comes from PyPI into a virtual environment of the benchmark's own
(``--mlflow-venv``, default ``benchmarks/.venv-mlflow``, created on first use with
``pip install mlflow`` and the project's scikit-learn version), never into the project's
venv; ``mlflow models serve --env-manager local`` runs from it.

``.venv/bin/python benchmarks/bench_serve.py [--requests N] [--clients C] [--mlflow-venv DIR]``
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import sklearn
import yaml
from sklearn.datasets import make_classification

from mlgate.run.protocol import request_body
from mlgate.storage.models import load_trusted

HERE = Path(__file__).resolve().parent
MODELS = {
    "forest": (
        "sklearn.ensemble.RandomForestClassifier",
        {"n_estimators": 100, "random_state": 0},
    ),
    "logistic": ("sklearn.linear_model.LogisticRegression", {"max_iter": 1000}),
}


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=cwd, check=True, capture_output=True, text=True
    ).stdout.strip()


def project(root: Path, name: str, estimator: str, params: dict[str, Any]) -> Path:
    """A repository with the model promoted to its origin's production branch."""
    repo = root / name
    (repo / "data").mkdir(parents=True)
    x, y = make_classification(n_samples=2000, n_features=20, n_informative=8, random_state=0)
    frame = pd.DataFrame(x, columns=[f"f{i}" for i in range(20)])
    frame["label"] = y
    frame.iloc[:1500].to_csv(repo / "data" / "train.csv", index=False)
    frame.iloc[1500:].to_csv(repo / "data" / "test.csv", index=False)
    cfg = {
        "version": 1,
        "model": {
            "name": name,
            "task": "classification",
            "estimator": estimator,
            "params": params,
        },
        "data": {"train": "data/train.csv", "test": "data/test.csv", "target": "label"},
        "metrics": ["accuracy"],
        "gate": {"accuracy": {"min": 0.5}},
    }
    (repo / "mlgate.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))
    git(repo.parent, "init", "-q", "-b", "main", str(repo))
    git(repo, "add", "-A")
    git(repo, "-c", "user.name=bench", "-c", "user.email=b@example.com", "commit", "-qm", "m")
    git(root, "init", "-q", "--bare", str(root / f"{name}.git"))
    git(repo, "remote", "add", "origin", str(root / f"{name}.git"))
    git(repo, "push", "-q", "origin", "main")
    subprocess.run(
        [sys.executable, "-m", "mlgate", "promote"], cwd=repo, check=True, capture_output=True
    )
    return repo


def mlflow_model(repo: Path, name: str, dest: Path) -> Path:
    """The promoted model, saved as an MLflow model (the same fitted object)."""
    import mlflow.sklearn

    data = subprocess.run(
        ["git", "show", f"production:{name}/model.skops"], cwd=repo, check=True, capture_output=True
    ).stdout
    skops_file = dest / f"{name}.skops"
    skops_file.write_bytes(data)
    model = load_trusted(str(skops_file))
    path = dest / f"mlflow-{name}"
    mlflow.sklearn.save_model(model, str(path), serialization_format="pickle")
    return path


def mlflow_venv(where: Path) -> Path:
    python = where / "bin" / "python"
    if not python.exists():
        print(f"creating {where} with mlflow from PyPI (once)", flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(where)], check=True)
        subprocess.run(
            [
                str(python),
                "-m",
                "pip",
                "install",
                "-q",
                "mlflow",
                f"scikit-learn=={sklearn.__version__}",
            ],
            check=True,
        )
    return where


def mlgate_command() -> Any:
    return lambda port: [sys.executable, "-m", "mlgate", "serve", "--port", str(port)]


def mlflow_command(venv: Path, saved: Path) -> Any:
    mlflow = str(venv / "bin" / "mlflow")
    return lambda port: [
        *(mlflow, "models", "serve", "-m", str(saved), "--env-manager", "local"),
        *("-h", "127.0.0.1", "-p", str(port), "-w", "1"),
    ]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start(
    command: list[str], cwd: Path, port: int, body: bytes, env: dict[str, str]
) -> tuple[subprocess.Popen[bytes], float]:
    """The server process and the seconds until its first 200 answer to ``body``."""
    began = time.perf_counter()
    proc = subprocess.Popen(
        command,
        cwd=cwd,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
        start_new_session=True,
    )
    deadline = began + 180
    while time.perf_counter() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"{command[0]} exited with {proc.returncode}")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            conn.request("POST", "/invocations", body, {"Content-Type": "application/json"})
            response = conn.getresponse()
            response.read()
            conn.close()
            if response.status == 200:
                return proc, time.perf_counter() - began
        except OSError:
            pass
        time.sleep(0.01)
    stop(proc)
    raise SystemExit(f"{command} did not answer within 180 s")


def stop(proc: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def load(port: int, body: bytes, requests: int, clients: int, expected: Any) -> dict[str, float]:
    """``requests`` POSTs from ``clients`` threads over keep-alive connections."""
    per = max(1, requests // clients)
    latencies: list[list[float]] = [[] for _ in range(clients)]
    errors: list[str] = []

    def client(i: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        headers = {"Content-Type": "application/json"}
        for _ in range(per):
            t = time.perf_counter()
            conn.request("POST", "/invocations", body, headers)
            response = conn.getresponse()
            data = response.read()
            latencies[i].append(time.perf_counter() - t)
            if response.status != 200:
                errors.append(f"{response.status}: {data[:200]!r}")
        conn.close()
        if json.loads(data)["predictions"] != expected:
            errors.append("predictions differ from model.predict")

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    began = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - began
    if errors:
        raise SystemExit(f"errors: {errors[:3]}")
    every = sorted(x for lat in latencies for x in lat)
    return {
        "rps": len(every) / elapsed,
        "p50": statistics.median(every) * 1000,
        "p99": every[min(len(every) - 1, int(len(every) * 0.99))] * 1000,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=2000, help="per case (default 2000)")
    parser.add_argument("--clients", type=int, default=4, help="client threads (default 4)")
    parser.add_argument("--mlflow-venv", type=Path, default=HERE / ".venv-mlflow")
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=list(MODELS))
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = parser.parse_args()
    venv = mlflow_venv(args.mlflow_venv)
    root = Path(tempfile.mkdtemp(prefix="mlgate-bench-serve-"))
    env = {**os.environ, "MLFLOW_TRACKING_URI": "", "PYTHONDONTWRITEBYTECODE": ""}
    env.pop("MLFLOW_TRACKING_URI")
    rows: list[dict[str, Any]] = []
    try:
        for name in args.models:
            estimator, params = MODELS[name]
            repo = project(root, name, estimator, params)
            saved = mlflow_model(repo, name, root)
            model = load_trusted(str(root / f"{name}.skops"))
            test = pd.read_csv(repo / "data" / "test.csv").drop(columns=["label"])
            servers = {"mlgate": mlgate_command(), "mlflow": mlflow_command(venv, saved)}
            for batch in (1, 100):
                sample = test.iloc[:batch]
                body = request_body(sample)
                expected = np.asarray(model.predict(sample)).tolist()
                for server, command in servers.items():
                    port = free_port()
                    # mlflow runs `uvicorn` from PATH: its venv's
                    path = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
                    run_env = {**env, "PATH": path} if server == "mlflow" else env
                    proc, startup = start(command(port), repo, port, body, run_env)
                    try:
                        load(port, body, max(50, args.requests // 20), args.clients, expected)
                        measured = load(port, body, args.requests, args.clients, expected)
                    finally:
                        stop(proc)
                    row = {
                        "model": name,
                        "rows": batch,
                        "server": server,
                        "startup": startup,
                        **measured,
                    }
                    rows.append(row)
                    print(
                        f"{name:8} {batch:>3} rows  {server:6}  start {startup:6.2f} s  "
                        f"{measured['rps']:8.1f} req/s  p50 {measured['p50']:7.2f} ms  "
                        f"p99 {measured['p99']:7.2f} ms",
                        flush=True,
                    )
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)
    print("\nmlgate / mlflow (throughput: higher is better; p99 and start-up: lower is better)")
    print(f"{'model':8} {'rows':>4}  {'req/s':>7}  {'p50':>6}  {'p99':>6}  {'start-up':>8}")
    for name in args.models:
        for batch in (1, 100):
            ours, theirs = (
                next(r for r in rows if (r["model"], r["rows"], r["server"]) == (name, batch, s))
                for s in ("mlgate", "mlflow")
            )
            print(
                f"{name:8} {batch:>4}  {ours['rps'] / theirs['rps']:6.2f}x  "
                f"{ours['p50'] / theirs['p50']:5.2f}x  {ours['p99'] / theirs['p99']:5.2f}x  "
                f"{ours['startup'] / theirs['startup']:7.2f}x"
            )


if __name__ == "__main__":
    main()
