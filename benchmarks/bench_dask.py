"""What training on a Dask cluster (model.backend.dask) costs and gains, for a forest.

Starts a ``distributed.LocalCluster`` on 127.0.0.1 (2 worker processes, 1 thread each,
like tests/run/test_dask_backend.py but in processes, as a real cluster would be), then
fits the same seeded RandomForestClassifier three ways, as run.fit does:

- here, n_jobs None: mlgate's worker without a backend (one core);
- here, n_jobs -1: joblib's own processes/threads on this machine's cores;
- cluster: under ``joblib.parallel_config(backend="dask", n_jobs=-1)``.

It checks the three give identical predictions and prints the median fit time of each
(``--runs``, after one untimed warm-up), with the ratio to the first. Also timed once:
importing distributed and connecting a Client (what a side pays before its first fit).

    .venv/bin/python benchmarks/bench_dask.py            # --runs N (default 3), --quick
"""

from __future__ import annotations

import argparse
import statistics
import time
from typing import Any

WAYS = ("here, n_jobs None", "here, n_jobs -1", "cluster")


def fit(how: str, trees: int, x: Any, y: Any) -> Any:
    """The forest fitted ``how`` (one of WAYS), as run.fit would; its test-row scores."""
    import joblib
    from sklearn.ensemble import RandomForestClassifier

    cut = int(len(y) * 0.7)
    jobs = -1 if how == "here, n_jobs -1" else None
    est = RandomForestClassifier(n_estimators=trees, max_depth=8, random_state=3, n_jobs=jobs)
    if how == "cluster":
        with joblib.parallel_config(backend="dask", n_jobs=-1):
            est.fit(x[:cut], y[:cut])
    else:
        est.fit(x[:cut], y[:cut])
    return est.predict_proba(x[cut:])


def timed(how: str, trees: int, x: Any, y: Any, runs: int) -> tuple[float, Any]:
    """Median seconds over ``runs`` after a warm-up (imports, the cluster's first task)."""
    scores = fit(how, trees, x, y)
    found = []
    for _ in range(runs):
        start = time.perf_counter()
        fit(how, trees, x, y)
        found.append(time.perf_counter() - start)
    return statistics.median(found), scores


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="the small case only")
    args = parser.parse_args()

    start = time.perf_counter()
    import distributed

    import_seconds = time.perf_counter() - start
    import numpy as np
    from sklearn.datasets import make_classification

    cases = [("test forest: 30 trees, 280 rows", 30, 400)]
    if not args.quick:
        cases.append(("larger forest: 200 trees, 14000 rows", 200, 20000))
    with distributed.LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        dashboard_address="127.0.0.1:0",
        silence_logs=50,
    ) as cluster:
        start = time.perf_counter()
        client = distributed.Client(cluster.scheduler_address, timeout=10)
        connect_seconds = time.perf_counter() - start
        print(f"import distributed {import_seconds:.2f} s, connect {connect_seconds:.3f} s\n")
        print("| case | fit | median s | ratio |")
        print("|:--|:--|--:|--:|")
        for name, trees, rows in cases:
            x, y = make_classification(
                n_samples=rows, n_features=5, n_informative=3, random_state=0, flip_y=0.05
            )
            scores = {}
            baseline = None
            for how in WAYS:
                seconds, scores[how] = timed(how, trees, x, y, args.runs)
                baseline = baseline or seconds
                print(f"| {name} | {how} | {seconds:.3f} | {seconds / baseline:.2f}x |")
            # The cluster's forest is the same one; n_jobs -1 predicts in threads, which add
            # the trees' probabilities in another order (equal up to float rounding).
            first = scores[WAYS[0]]
            assert np.array_equal(first, scores["cluster"]), "the cluster's forest differs"
            assert np.allclose(first, scores["here, n_jobs -1"], rtol=0, atol=1e-12)
        client.close()


if __name__ == "__main__":
    main()
