"""Where mlgate's time goes on a large generated dataset, with targets to meet.

In a temporary directory: ``make_classification`` data (``--rows`` x ``--features``, split
80/20 into train/test CSVs) tracked by pointers in a git repository whose ``main`` trains a
``HistGradientBoostingClassifier`` and whose branch ``pr`` changes one parameter. Then one
table per scenario, each the median (and minimum) of ``--runs`` timed runs after one untimed
warm-up, with ratios measured in the same run:

1. cold ``mlgate check --no-cache`` against a plain script fitting both models (target 1.10);
2. warm ``mlgate check`` (nothing changed) against cold (target 0.10);
3. a PR check in a fresh clone whose cache holds only the data objects (the cold check had
   them too), the base's record shared as a git note by ``mlgate ci`` on ``main``, against
   cold (target 0.55);
4. ``mlgate data add`` / ``data status`` of a 1 GiB file against ``hashlib.sha256`` and,
   unless ``--skip-dvc``, ``dvc add`` / ``dvc status`` (a venv made here), and warm
   ``mlgate check`` against ``dvc metrics diff`` (target 0.7);
5. ``mlgate --version`` against ``python -c pass``.

``.venv/bin/python benchmarks/bench_speed.py [--rows N] [--features N] [--runs N]
[--skip-dvc] [--keep]``
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

MLGATE = (sys.executable, "-m", "mlgate")
PY = sys.executable
ESTIMATOR = "sklearn.ensemble.HistGradientBoostingClassifier"  # OpenMP: all cores
BASE_PARAMS = {"learning_rate": 0.1, "max_iter": 100, "random_state": 0}
HEAD_PARAMS = {**BASE_PARAMS, "learning_rate": 0.2}  # branch `pr` changes one parameter
BIG_FILE = 1024**3  # bytes: the data-pointer scenario's file (1 GiB)
CHUNK = 64 * 1024**2
IDENTITY = {
    "GIT_AUTHOR_NAME": "mlgate bench",
    "GIT_AUTHOR_EMAIL": "bench@example.com",
    "GIT_COMMITTER_NAME": "mlgate bench",
    "GIT_COMMITTER_EMAIL": "bench@example.com",
}

PLAIN_SCRIPT = '''\
"""Train and score the base and head models with scikit-learn directly, one after the other."""
import json
import sys

import pandas as pd
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.metrics import get_scorer

data_dir, base, head = sys.argv[1], json.loads(sys.argv[2]), json.loads(sys.argv[3])
scores = {}
for side, params in (("base", base), ("head", head)):
    train = pd.read_csv(f"{data_dir}/train.csv")
    test = pd.read_csv(f"{data_dir}/test.csv")
    model = HistGradientBoostingClassifier(**params)
    model.fit(train.drop(columns="label"), train["label"])
    x, y = test.drop(columns="label"), test["label"]
    scores[side] = {"accuracy": float(get_scorer("accuracy")(model, x, y))}
print(json.dumps(scores))
'''

HASH_SCRIPT = """\
import hashlib, sys
h = hashlib.sha256()
with open(sys.argv[1], "rb", buffering=0) as f:
    while chunk := f.read(1 << 20):
        h.update(chunk)
print(h.hexdigest())
"""


class BenchError(Exception):
    """A set-up or timed command failed: the benchmark cannot go on."""


def say(text: str) -> None:
    print(text, flush=True)


def run(cmd: Sequence[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Run a command; a non-zero exit (or a missing program) is a BenchError with its output."""
    shown = " ".join(str(c) for c in cmd).replace(PY, "python")
    try:
        proc = subprocess.run(
            [str(c) for c in cmd], cwd=cwd, env=env, capture_output=True, text=True
        )
    except OSError as e:
        raise BenchError(f"`{shown}` (in {cwd}) could not start: {e}") from e
    if proc.returncode != 0:
        detail = (proc.stderr.strip() or proc.stdout.strip())[-3000:]
        raise BenchError(f"`{shown}` (in {cwd}) exited {proc.returncode}:\n{detail}")
    return proc


def timed(cmd: Sequence[str], cwd: Path, env: dict[str, str]) -> tuple[float, str]:
    start = time.perf_counter()
    proc = run(cmd, cwd, env)
    return time.perf_counter() - start, proc.stdout


def time_runs(
    cmd: Sequence[str],
    cwd: Path,
    env: dict[str, str],
    runs: int,
    *,
    warmup: bool = True,
    before: Callable[[], None] | None = None,
    verify: Callable[[str], None] | None = None,
) -> list[float]:
    """Wall times of ``runs`` runs, after one untimed warm-up; ``before`` runs untimed."""
    times = []
    for i in range(runs + int(warmup)):
        if before:
            before()
        elapsed, out = timed(cmd, cwd, env)
        if verify:
            verify(out)
        if i or not warmup:
            times.append(elapsed)
    return times


def base_env(workdir: Path, cache: Path) -> dict[str, str]:
    """This environment, a fixed git identity, no user/system git config, its own cache."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GIT_", "GITHUB_", "CI"))}
    gitconfig = workdir / "gitconfig"
    gitconfig.touch()
    env.update(IDENTITY)
    env["GIT_CONFIG_NOSYSTEM"] = "1"
    env["GIT_CONFIG_GLOBAL"] = str(gitconfig)
    env["MLGATE_CACHE_DIR"] = str(cache)
    env["DVC_NO_ANALYTICS"] = "1"
    # Measure what users see: Python caches compiled modules. (Some CI images turn that off,
    # which makes every run recompile mlgate's sources when it is installed editable.)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def yaml_params(params: dict[str, object]) -> str:
    return "{" + ", ".join(f"{k}: {v}" for k, v in params.items()) + "}"


def make_data(workdir: Path, rows: int, features: int) -> Path:
    import numpy as np
    import pandas as pd
    from sklearn.datasets import make_classification

    x, y = make_classification(n_samples=rows, n_features=features, random_state=0)
    frame = pd.DataFrame(x.astype(np.float32), columns=[f"f{i}" for i in range(features)])
    frame["label"] = y
    cut = int(rows * 0.8)
    out = workdir / "plain-data"
    out.mkdir()
    frame.iloc[:cut].to_csv(out / "train.csv", index=False)
    frame.iloc[cut:].to_csv(out / "test.csv", index=False)
    return out


def build_repo(workdir: Path, data: Path, env: dict[str, str]) -> Path:
    """``main``: config and data pointers (data pushed to a file:// store); ``pr``: one param."""
    repo = workdir / "repo"
    (repo / "data").mkdir(parents=True)
    for name in ("train.csv", "test.csv"):
        shutil.copyfile(data / name, repo / "data" / name)
    store = workdir / "store"
    (repo / "mlgate.yaml").write_text(
        "version: 1\n"
        "model:\n"
        "  name: bench\n"
        "  task: classification\n"
        f"  estimator: {ESTIMATOR}\n"
        f"  params: {yaml_params(BASE_PARAMS)}\n"
        "data:\n"
        "  train: data/train.csv\n"
        "  test: data/test.csv\n"
        "  target: label\n"
        "metrics: [accuracy]\n"
        "gate:\n"
        "  accuracy: {max_regression: 0.05}\n"
        f"storage: {store.as_uri()}\n"
    )
    run(["git", "init", "-q", "-b", "main"], repo, env)
    run([*MLGATE, "validate"], repo, env)
    run([*MLGATE, "data", "add", "data/train.csv", "data/test.csv"], repo, env)
    run([*MLGATE, "data", "push"], repo, env)
    run(["git", "add", "-A"], repo, env)
    run(["git", "commit", "-q", "-m", "Benchmark model on generated data"], repo, env)
    run(["git", "switch", "-q", "-c", "pr"], repo, env)
    path = repo / "mlgate.yaml"
    text, count = re.subn(r"learning_rate: [^,}]+", "learning_rate: 0.2", path.read_text())
    if count != 1:
        raise BenchError(f"{path}: no learning_rate to change")
    path.write_text(text)
    run(["git", "commit", "-q", "-am", "learning_rate 0.1 -> 0.2"], repo, env)
    return repo


def check_json(out: str, *, base: bool, head: bool) -> dict:
    try:
        report = json.loads(out)
        cached = (report["base"]["cached"], report["head"]["cached"])
    except (ValueError, KeyError, TypeError) as e:
        raise BenchError(f"mlgate check --format json printed no usable report: {e}") from e
    if cached != (base, head):
        raise BenchError(f"expected base.cached={base}, head.cached={head}; got {cached}")
    return report


def expect_cached(base: bool, head: bool) -> Callable[[str], None]:
    def verify(out: str) -> None:
        check_json(out, base=base, head=head)

    return verify


# --- the scenarios -------------------------------------------------------------------------


class Results:
    """Tables and target lines, printed at the end."""

    def __init__(self) -> None:
        self.tables: list[str] = []
        self.targets: list[str] = []
        self.warnings: list[str] = []

    def table(self, title: str, rows: dict[str, list[float]], baseline: str) -> None:
        base = statistics.median(rows[baseline])
        lines = [title, f"  {'':46} {'median s':>9} {'min s':>8} {'/ first':>8}"]
        for name, times in rows.items():
            median = statistics.median(times)
            lines.append(f"  {name:46} {median:9.3f} {min(times):8.3f} {median / base:8.2f}")
        self.tables.append("\n".join(lines))

    def target(self, label: str, num: list[float], den: list[float], limit: float) -> None:
        ratio = statistics.median(num) / statistics.median(den)
        verdict = "met" if ratio <= limit else "NOT MET"
        self.targets.append(f"  {label:58} {ratio:6.2f}  (target <= {limit:.2f}: {verdict})")

    def absolute(self, label: str, times: list[float], limit: float) -> None:
        value = statistics.median(times)
        verdict = "met" if value <= limit else "NOT MET"
        self.targets.append(f"  {label:58} {value:5.3f}s (target <= {limit:.2f} s: {verdict})")

    def info(self, label: str, num: list[float], den: list[float]) -> None:
        ratio = statistics.median(num) / statistics.median(den)
        self.targets.append(f"  {label:58} {ratio:6.2f}  (no target)")


def scenario_check(repo: Path, data: Path, env: dict[str, str], workdir: Path, args, res):
    script = workdir / "plain_train.py"
    script.write_text(PLAIN_SCRIPT)
    plain = [PY, script, data, json.dumps(BASE_PARAMS), json.dumps(HEAD_PARAMS)]
    cold_cmd = [*MLGATE, "check", "--no-cache", "--format", "json"]
    say(f"timing cold `mlgate check --no-cache` ({args.runs} runs + warm-up) ...")
    cold = time_runs(cold_cmd, repo, env, args.runs, verify=expect_cached(False, False))
    say(f"timing the plain script ({args.runs} runs + warm-up) ...")
    plain_times = time_runs(plain, repo, env, args.runs)
    report = json.loads(run([*MLGATE, "check", "--format", "json"], repo, env).stdout)
    mine = json.loads(run(plain, repo, env).stdout)
    agree = all(abs(report[s]["metrics"]["accuracy"] - mine[s]["accuracy"]) < 1e-12 for s in mine)
    say(f"accuracy of mlgate check and of the plain script agree: {agree} {mine}")
    res.table(
        "1. cold check vs training by hand",
        {"plain script (2 fits, serial)": plain_times, "mlgate check --no-cache": cold},
        "plain script (2 fits, serial)",
    )
    res.target("cold mlgate check / plain script", cold, plain_times, 1.10)

    say(f"timing warm `mlgate check` ({args.runs} runs + warm-up) ...")
    warm_cmd = [*MLGATE, "check", "--format", "json"]
    warm = time_runs(warm_cmd, repo, env, args.runs, verify=expect_cached(True, True))
    res.table(
        "2. warm check (nothing changed) vs cold",
        {"mlgate check --no-cache (cold)": cold, "mlgate check (warm)": warm},
        "mlgate check --no-cache (cold)",
    )
    res.target("warm mlgate check / cold", warm, cold, 0.10)
    return cold, warm


def scenario_notes(repo: Path, env: dict[str, str], workdir: Path, cold, args, res) -> None:
    origin = workdir / "origin.git"
    run(["git", "init", "-q", "--bare", "-b", "main", origin], workdir, env)
    run(["git", "remote", "add", "origin", origin], repo, env)
    run(["git", "push", "-q", "origin", "main", "pr"], repo, env)
    run(["git", "switch", "-q", "main"], repo, env)
    sha = run(["git", "rev-parse", "HEAD"], repo, env).stdout.strip()
    event = workdir / "push-event.json"
    event.write_text(
        json.dumps(
            {"ref": "refs/heads/main", "after": sha, "repository": {"default_branch": "main"}}
        )
    )
    ci_env = {
        **env,
        "GITHUB_ACTIONS": "true",
        "GITHUB_EVENT_NAME": "push",
        "GITHUB_EVENT_PATH": str(event),
        "GITHUB_REPOSITORY": "o/r",
    }
    say("running `mlgate ci` on main (push event): promote and share the run as a git note ...")
    ci = subprocess.run([*MLGATE, "ci"], cwd=repo, env=ci_env, capture_output=True, text=True)
    out = (ci.stdout + ci.stderr).strip()
    if ci.returncode not in (0, 1):  # 1: not promoted (the note is shared all the same)
        raise BenchError(f"`python -m mlgate ci` exited {ci.returncode}:\n{out}")
    if ci.returncode == 1:
        refusal = "; ".join(line.strip() for line in out.splitlines() if "✗" in line)
        say(f"  WARNING: mlgate ci did not promote main (exit 1): {refusal or out}")
        res.warnings.append(f"mlgate ci on main was not promoted: {refusal or out}")
    run(["git", "switch", "-q", "pr"], repo, env)
    notes = run(["git", "ls-remote", origin, "refs/notes/mlgate"], repo, env).stdout
    if not notes.strip():
        raise BenchError(f"mlgate ci pushed no refs/notes/mlgate to origin; it said:\n{out}")
    say("  refs/notes/mlgate is on origin")

    counter = iter(range(1_000_000))
    state: dict[str, object] = {}

    def fresh_clone() -> None:
        """A new clone and a new cache holding the data objects only (hard links): the cold
        check had the data too, so both pay the same for it and the difference is
        training. No run cache, no stat cache."""
        i = next(counter)
        clone, cache = workdir / f"clone-{i}", workdir / f"clone-cache-{i}"
        cache.mkdir()
        shutil.copytree(
            Path(env["MLGATE_CACHE_DIR"]) / "objects", cache / "objects", copy_function=os.link
        )
        run(["git", "clone", "-q", origin, clone], workdir, env)
        run(["git", "switch", "-q", "pr"], clone, env)
        state["clone"], state["env"] = clone, {**env, "MLGATE_CACHE_DIR": str(cache)}

    times = []
    say(f"timing PR checks in fresh clones, cache with data only ({args.runs} runs + warm-up) ...")
    for i in range(args.runs + 1):
        fresh_clone()
        cmd = [*MLGATE, "check", "--format", "json"]
        elapsed, out = timed(cmd, state["clone"], state["env"])  # type: ignore[arg-type]
        check_json(out, base=True, head=False)  # the base came from the note
        if i:
            times.append(elapsed)
    say("  verified: base.cached is true (from the git note), head.cached is false")
    res.table(
        "3. PR check, base from the git note, fresh clone + cache with the data only "
        f"({ESTIMATOR.rsplit('.', 1)[-1]}, OpenMP on all cores)",
        {"mlgate check --no-cache (cold)": cold, "PR check, base reused from the note": times},
        "mlgate check --no-cache (cold)",
    )
    res.target("PR check with the note / cold", times, cold, 0.55)


def write_big_file(path: Path) -> None:
    with path.open("wb") as f:
        for _ in range(BIG_FILE // CHUNK):
            f.write(os.urandom(CHUNK))


def make_dvc_venv(workdir: Path, env: dict[str, str]) -> Path:
    venv = workdir / "dvc-venv"
    say(f"creating a venv for DVC in {venv} ...")
    run([PY, "-m", "venv", venv], workdir, env)
    say("pip install dvc (takes a few minutes) ...")
    start = time.perf_counter()
    run([venv / "bin" / "python", "-m", "pip", "install", "-q", "dvc"], workdir, env)
    version = run([venv / "bin" / "dvc", "--version"], workdir, env).stdout.strip()
    say(f"  dvc {version} installed in {time.perf_counter() - start:.0f} s")
    return venv / "bin" / "dvc"


def dvc_repo(path: Path, dvc: Path, env: dict[str, str], workdir: Path) -> None:
    path.mkdir()
    run(["git", "init", "-q", "-b", "main"], path, env)
    run([dvc, "init", "-q"], path, env)
    run([dvc, "config", "core.analytics", "false"], path, env)
    run([dvc, "config", "core.site_cache_dir", workdir / "dvc-site-cache"], path, env)


def scenario_data(workdir: Path, env: dict[str, str], warm, args, res) -> None:
    data_repo = workdir / "data-repo"
    data_repo.mkdir()
    run(["git", "init", "-q", "-b", "main"], data_repo, env)
    big = data_repo / "big.bin"
    say(f"writing {BIG_FILE / 1024**3:.2f} GiB ({BIG_FILE:,} bytes) of random data ...")
    write_big_file(big)
    data_cache = workdir / "data-cache"
    denv = {**env, "MLGATE_CACHE_DIR": str(data_cache)}
    stamp = iter(range(1_000_000))

    def untouched_for_an_hour(path: Path) -> Callable[[], None]:
        """Fresh mtime/ctime each run, so no stat cache (mlgate's or DVC's) can skip hashing."""

        def reset() -> None:
            t = time.time() - 3600 - next(stamp)
            os.utime(path, (t, t))

        return reset

    def mlgate_fresh() -> None:
        shutil.rmtree(data_cache, ignore_errors=True)
        (data_repo / "big.bin.ptr").unlink(missing_ok=True)
        untouched_for_an_hour(big)()
        os.sync()  # the last run's gigabyte is on disk: no write-back to compete with

    hash_script = workdir / "hash.py"
    hash_script.write_text(HASH_SCRIPT)
    say(f"timing hashlib.sha256, mlgate data add, mlgate data status ({args.runs} runs) ...")
    rows = {
        "python hashlib.sha256 (1 MiB reads)": time_runs(
            [PY, hash_script, big], data_repo, env, args.runs
        ),
        "mlgate data add (cold cache)": time_runs(
            [*MLGATE, "data", "add", "big.bin"], data_repo, denv, args.runs, before=mlgate_fresh
        ),
    }
    # `status` re-hashes a file changed within the last 2 s ("racy" timestamps), as git
    # does; a file someone asks the status of was not usually written that moment.
    time.sleep(2.1)
    rows["mlgate data status (unchanged)"] = time_runs(
        [*MLGATE, "data", "status"], data_repo, denv, args.runs
    )
    # Hashing throughput alone: the function `data add`/`status` hash with, in a process
    # of its own like the hashlib script (so both pay the same start-up).
    sha_cmd = [
        PY,
        "-c",
        "import sys, pathlib; from mlgate.storage.hashing import sha256_file; "
        "sha256_file(pathlib.Path(sys.argv[1]))",
    ]
    rows["mlgate sha256_file (what add/status hash with)"] = time_runs(
        [*sha_cmd, big], data_repo, env, args.runs
    )
    dvc_rows: dict[str, list[float]] = {}
    if not args.skip_dvc:
        dvc = make_dvc_venv(workdir, env)
        drepo = workdir / "dvc-repo"
        dvc_repo(drepo, dvc, env, workdir)
        dbig = drepo / "big.bin"
        shutil.copyfile(big, dbig)

        def dvc_fresh() -> None:
            shutil.rmtree(drepo / ".dvc" / "cache", ignore_errors=True)
            shutil.rmtree(workdir / "dvc-site-cache", ignore_errors=True)
            (drepo / "big.bin.dvc").unlink(missing_ok=True)
            untouched_for_an_hour(dbig)()
            os.sync()

        say(f"timing dvc add, dvc status ({args.runs} runs) ...")
        rows["dvc add (cold cache)"] = time_runs(
            [dvc, "add", "-q", "big.bin"], drepo, env, args.runs, before=dvc_fresh
        )
        time.sleep(2.1)
        rows["dvc status (unchanged)"] = time_runs([dvc, "status", "-q"], drepo, env, args.runs)

        mrepo = workdir / "dvc-metrics"
        dvc_repo(mrepo, dvc, env, workdir)
        (mrepo / "dvc.yaml").write_text("metrics:\n  - metrics.json\n")
        for value in (0.9, 0.91):
            (mrepo / "metrics.json").write_text(json.dumps({"accuracy": value}) + "\n")
            run(["git", "add", "-A"], mrepo, env)
            run(["git", "commit", "-q", "-m", f"accuracy {value}"], mrepo, env)
        say(f"timing dvc metrics diff HEAD~1 HEAD ({args.runs} runs + warm-up) ...")
        diff = [dvc, "metrics", "diff", "HEAD~1", "HEAD"]
        dvc_rows["dvc metrics diff HEAD~1 HEAD"] = time_runs(diff, mrepo, env, args.runs)
        dvc_rows["mlgate check (warm)"] = warm
    size = f"{BIG_FILE / 1024**3:.2f} GiB"
    res.table(f"4a. data pointers, one {size} file", rows, "python hashlib.sha256 (1 MiB reads)")
    hashing = rows["python hashlib.sha256 (1 MiB reads)"]
    res.info("mlgate data add / hashlib.sha256", rows["mlgate data add (cold cache)"], hashing)
    res.info("mlgate data status / hashlib.sha256", rows["mlgate data status (unchanged)"], hashing)
    # Throughput >= 0.8 x hashlib's means time <= 1.25 x (start-up included, against mlgate).
    res.target(
        "mlgate sha256_file time / hashlib.sha256 (throughput >= 0.8x)",
        rows["mlgate sha256_file (what add/status hash with)"],
        hashing,
        1.25,
    )
    if dvc_rows:
        res.target(
            "mlgate data add / dvc add",
            rows["mlgate data add (cold cache)"],
            rows["dvc add (cold cache)"],
            0.5,
        )
        res.target(
            "mlgate data status / dvc status",
            rows["mlgate data status (unchanged)"],
            rows["dvc status (unchanged)"],
            0.3,
        )
        res.table(
            "4b. comparing two revisions' metrics",
            dvc_rows,
            "dvc metrics diff HEAD~1 HEAD",
        )
        res.target(
            "warm mlgate check / dvc metrics diff",
            warm,
            dvc_rows["dvc metrics diff HEAD~1 HEAD"],
            0.7,
        )


def scenario_startup(workdir: Path, env: dict[str, str], args, res) -> None:
    say(f"timing start-up ({args.runs} runs + warm-up) ...")
    rows = {
        "python -c pass": time_runs([PY, "-c", "pass"], workdir, env, args.runs),
        "mlgate --version": time_runs([*MLGATE, "--version"], workdir, env, args.runs),
    }
    res.table("5. start-up", rows, "python -c pass")
    res.info("mlgate --version / python -c pass", rows["mlgate --version"], rows["python -c pass"])
    res.absolute("mlgate --version", rows["mlgate --version"], 0.1)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows (default 1,000,000)")
    parser.add_argument("--features", type=int, default=20, help="features (default 20)")
    parser.add_argument("--runs", type=int, default=5, help="timed runs per command (default 5)")
    parser.add_argument("--skip-dvc", action="store_true", help="no DVC comparisons (no venv)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    parser.add_argument(
        "--only",
        default="check,notes,data,startup",
        type=lambda text: set(text.split(",")),
        help="scenarios to run (default: check,notes,data,startup)",
    )
    args = parser.parse_args(argv)
    if args.runs < 1 or args.rows < 100 or args.features < 2:
        parser.error("need --runs >= 1, --rows >= 100, --features >= 2")
    workdir = Path(tempfile.mkdtemp(prefix="mlgate-speed-")).resolve()
    env = base_env(workdir, workdir / "cache")
    res = Results()
    started = time.perf_counter()
    try:
        say(f"generating {args.rows:,} rows x {args.features} features in {workdir} ...")
        data = make_data(workdir, args.rows, args.features)
        say("building the repository (main, branch pr), data added as pointers ...")
        repo = build_repo(workdir, data, env)
        if "check" in args.only or "notes" in args.only:
            cold, warm = scenario_check(repo, data, env, workdir, args, res)
        else:  # the data scenario compares a warm check against `dvc metrics diff`
            check = [*MLGATE, "check", "--format", "json"]
            run(check, repo, env)  # fills the run cache
            warm = time_runs(check, repo, env, args.runs, verify=expect_cached(True, True))
            cold = []
        if "notes" in args.only:
            scenario_notes(repo, env, workdir, cold, args, res)
        if "data" in args.only:
            scenario_data(workdir, env, warm, args, res)
        if "startup" in args.only:
            scenario_startup(workdir, env, args, res)
    except BenchError as e:
        print(f"bench_speed: failed: {e}", file=sys.stderr)
        for text in res.tables:
            print(f"\n{text}")
        return 1
    finally:
        if args.keep:
            say(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    import sklearn

    print(
        f"\nPython {sys.version.split()[0]}, scikit-learn {sklearn.__version__}, "
        f"{os.cpu_count()} CPUs; --rows {args.rows:,} --features {args.features} "
        f"--runs {args.runs}{' --skip-dvc' if args.skip_dvc else ''}; "
        f"total {time.perf_counter() - started:.0f} s"
    )
    for text in res.tables:
        print(f"\n{text}")
    print("\nratios (medians, measured in this run):")
    print("\n".join(res.targets))
    for warning in res.warnings:
        print(f"\nwarning: {warning}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
