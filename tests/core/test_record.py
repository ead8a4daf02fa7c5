"""RunRecord: every shape a run's JSON arrives in parses to the same typed record."""

from __future__ import annotations

import json

import pytest

from mlgate.core.record import RunRecord, Scores, Smoke

WORKER_ANSWER = {
    "ok": True,
    "metrics": {"accuracy": 0.9, "f1_macro": 0.8},
    "fit_seconds": 0.5,
    "predict_seconds": 0.01,
    "features": ["a", "b"],
    "rows": {"train": 100, "test": 20},
    "versions": {"python": "3.11.7", "scikit-learn": "1.9.1"},
    "model_size": 1234,
    "model_path": "/tmp/x/head.skops",
    "same_data": {"metrics": {"accuracy": 0.85}},
    "smoke": {"ok": True, "rows": 20},
    "champion": {"untrusted": True, "error": "the production model was not loaded: …"},
    "seconds": 1.5,
    "log": "fitting…",
}


def test_a_worker_answer_parses_once_into_typed_fields() -> None:
    record = RunRecord.from_dict(WORKER_ANSWER)
    assert record.metrics == {"accuracy": 0.9, "f1_macro": 0.8}
    assert (record.fit_seconds, record.predict_seconds, record.seconds) == (0.5, 0.01, 1.5)
    assert record.features == ("a", "b") and record.rows == {"train": 100, "test": 20}
    assert record.same_data == Scores(metrics={"accuracy": 0.85})
    assert record.smoke == Smoke(ok=True, rows=20)
    assert record.champion is not None and record.champion.untrusted
    assert not record.cached and record.reused().cached


def test_the_run_cache_keeps_what_the_inputs_decide_and_reads_it_back() -> None:
    record = RunRecord.from_dict({**WORKER_ANSWER, "digest": "d" * 64})
    stored = json.loads(json.dumps(record.stored()))
    for context in ("log", "model_path", "same_data", "champion", "candidate"):
        assert context not in stored  # this run's own context, not a result of its inputs
    again = RunRecord.from_dict(stored)
    assert (again.metrics, again.versions, again.digest) == (
        record.metrics,
        record.versions,
        "d" * 64,
    )
    assert again.smoke == record.smoke and again.model_path is None


def test_a_run_document_from_a_git_note_reads_its_duration() -> None:
    document = {
        "schema": "mlgate/run@1",
        "model": "churn",
        "side": "base",
        "metrics": {"accuracy": 0.9},
        "fit_seconds": None,
        "predict_seconds": None,
        "model_size": None,
        "duration_seconds": 3.0,
        "versions": {"mlgate": "0.1.0"},
        "digest": "e" * 64,
    }
    record = RunRecord.from_dict(document)
    assert record.seconds == 3.0 and record.digest == "e" * 64 and record.fit_seconds is None


@pytest.mark.parametrize(
    "bad",
    [
        {"metrics": {"accuracy": "0.9"}},
        {"metrics": {"accuracy": True}},
        {"metrics": {"accuracy": None}},
        {"metrics": ["accuracy"]},
        {"model_size": 1.5},
        {"fit_seconds": "fast"},
        {"versions": "1.0"},
    ],
)
def test_a_field_of_the_wrong_shape_is_refused(bad: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        RunRecord.from_dict({**WORKER_ANSWER, **bad})
