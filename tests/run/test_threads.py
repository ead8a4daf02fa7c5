"""Two sides training at once share the cores: estimators that use every core take turns
at full width, others run side by side with their pools capped to their share."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_info

from mlgate.run.fit import cpu_share, uses_every_core
from mlgate.run.worker import TrainSpec, share_of_cpus, thread_limits, usable_cpus


def test_one_worker_is_not_limited() -> None:
    assert share_of_cpus(1) is None
    assert share_of_cpus(0) is None


def test_two_workers_split_the_cores() -> None:
    assert share_of_cpus(2) == max(1, usable_cpus() // 2)
    assert share_of_cpus(10_000) == 1


def test_a_limit_the_user_set_wins() -> None:
    env = {"OMP_NUM_THREADS": "7"}
    limits = thread_limits(3, env)
    assert "OMP_NUM_THREADS" not in limits
    assert limits["OPENBLAS_NUM_THREADS"] == "3"
    assert limits["LOKY_MAX_CPU_COUNT"] == "3"


def test_which_estimators_use_every_core() -> None:
    assert uses_every_core(HistGradientBoostingClassifier())
    assert uses_every_core(make_pipeline(StandardScaler(), HistGradientBoostingClassifier()))
    assert uses_every_core(RandomForestClassifier(n_jobs=-1))
    assert not uses_every_core(RandomForestClassifier())
    assert not uses_every_core(LogisticRegression())


def _spec(tmp_path: Path, threads: int | None) -> TrainSpec:
    return TrainSpec(
        *("", {}, "classification", "", "", "", "", "", "", "", "label", None, [], ""),
        threads=threads,
        turns=str(tmp_path / "cores.lock"),
    )


def test_wide_estimators_take_turns(tmp_path: Path) -> None:
    """While one side holds the turn, the other waits; then it runs."""
    spec = _spec(tmp_path, threads=1)
    order: list[str] = []
    entered = threading.Event()

    def first() -> None:
        with cpu_share(HistGradientBoostingClassifier(), spec):
            entered.set()
            time.sleep(0.3)
            order.append("first done")

    thread = threading.Thread(target=first)
    thread.start()
    entered.wait(5)
    with cpu_share(HistGradientBoostingClassifier(), spec):
        order.append("second runs")
    thread.join()
    assert order == ["first done", "second runs"]


def test_narrow_estimators_run_capped_to_their_share(tmp_path: Path) -> None:
    with cpu_share(LogisticRegression(), _spec(tmp_path, threads=1)):
        pools = threadpool_info()
        assert pools and all(p["num_threads"] == 1 for p in pools)
