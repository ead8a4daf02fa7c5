"""The scoring protocol in-process: bodies to frames, the schema, errors to statuses (the
HTTP side is tests/commands/test_serve.py)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import make_classification
from sklearn.ensemble import ExtraTreesClassifier, RandomForestClassifier, RandomForestRegressor
from sklearn.linear_model import LinearRegression, LogisticRegression

from mlgate.run.fit import _smoke_test
from mlgate.run.protocol import (
    BadRequest,
    ModelFailed,
    ProtocolError,
    Served,
    UnsupportedMediaType,
    frame_schema,
    invoke,
    request_body,
    schema_of,
)
from mlgate.storage.models import save_model

ROWS = pd.DataFrame({"n": [1, 2, 3, 4], "x": [0.5, -1.25, 2.0, 0.1], "flag": [1, 0, 1, 0]})


def served() -> Served:
    model = LogisticRegression().fit(ROWS, [0, 1, 0, 1])
    return Served(model, schema_of(frame_schema(ROWS, model), model))


@pytest.mark.parametrize("fmt", ["dataframe_split", "dataframe_records", "instances", "inputs"])
def test_every_json_format_gives_the_same_frame_and_predictions(fmt: str) -> None:
    s = served()
    answer = invoke(s, request_body(ROWS, fmt), "application/json; charset=utf-8")
    assert answer.document == {"predictions": s.model.predict(ROWS).tolist()}
    pd.testing.assert_frame_equal(answer.frame, ROWS)


def test_csv_and_positional_rows_and_one_flat_row() -> None:
    s = served()
    expected = s.model.predict(ROWS).tolist()
    assert invoke(s, ROWS.to_csv(index=False).encode(), "text/csv").document["predictions"] == (
        expected
    )
    body = json.dumps({"instances": ROWS.values.tolist()}).encode()
    assert invoke(s, body, "application/json").document["predictions"] == expected
    flat = json.dumps({"inputs": ROWS.iloc[0].tolist()}).encode()
    assert invoke(s, flat, "application/json").document["predictions"] == expected[:1]


def test_values_are_cast_to_the_recorded_dtypes_and_extra_columns_dropped() -> None:
    s = served()
    records = [{"flag": "1", "x": "0.5", "n": 1.0, "note": "ignored"}]
    answer = invoke(s, json.dumps({"dataframe_records": records}).encode(), "application/json")
    assert list(answer.frame.columns) == ["n", "x", "flag"]
    assert [str(t) for t in answer.frame.dtypes] == ["int64", "float64", "int64"]


def test_predict_proba_when_asked_and_not_on_a_regressor() -> None:
    s = served()
    doc = json.loads(request_body(ROWS))
    body = json.dumps({**doc, "params": {"method": "predict_proba"}}).encode()
    got = invoke(s, body, "application/json").document["predictions"]
    assert np.allclose(got, s.model.predict_proba(ROWS))
    regressor = Served(LinearRegression().fit(ROWS, [1.0, 2.0, 3.0, 4.0]), None)
    with pytest.raises(BadRequest, match="this model has no predict_proba"):
        invoke(regressor, body, "application/json")


@pytest.mark.parametrize(
    ("body", "content_type", "error", "said"),
    [
        (b"", "application/json", BadRequest, "the request body is empty"),
        (b"{", "application/json", BadRequest, "not valid JSON"),
        (b"\xff\xfe", "application/json", BadRequest, "not valid JSON"),
        (b"[" * 100_000, "application/json", BadRequest, "not valid JSON"),
        (b'{"instances": [], "x": 1}', "application/json", BadRequest, "unknown key(s)"),
        (b'{"instances": []}', "application/json", BadRequest, "instances holds no rows"),
        (b'{"dataframe_split": [1]}', "application/json", BadRequest, "must be an object"),
        (b'{"dataframe_records": [1]}', "application/json", BadRequest, "list of objects"),
        (b'{"inputs": {"n": [1], "x": 2}}', "application/json", BadRequest, "to a list"),
        (b'{"instances": [[1, 2, 3]], "params": 3}', "application/json", BadRequest, "params"),
        (
            b'{"instances": [{"n": 1}]}',
            "application/json",
            BadRequest,
            "missing column(s): x, flag",
        ),
        (b'{"instances": [{"n": 1, "x": [1], "flag": 1}]}', "application/json", BadRequest, "x"),
        (b'"n,x,flag\n"', "text/plain", UnsupportedMediaType, "unsupported content type"),
    ],
)
def test_bad_requests_raise_their_error(
    body: bytes, content_type: str, error: type[ProtocolError], said: str
) -> None:
    with pytest.raises(error) as raised:
        invoke(served(), body, content_type)
    assert said in raised.value.message and "\n" not in raised.value.message
    assert raised.value.document() == {"error_code": error.code, "message": raised.value.message}


def test_a_model_that_raises_is_a_500_in_one_line() -> None:
    body = json.dumps({"instances": [{"n": 1, "x": None, "flag": 1}]}).encode()
    with pytest.raises(ModelFailed, match=r"^the model failed to predict: ValueError: ") as raised:
        invoke(served(), body, "application/json")
    assert raised.value.status == 500


def test_without_a_recorded_schema_the_model_feature_names_are_used() -> None:
    model = LogisticRegression().fit(ROWS, [0, 1, 0, 1])
    schema = schema_of(None, model)
    assert schema is not None and schema.source == "model"
    assert schema.columns == (("n", ""), ("x", ""), ("flag", ""))
    body = json.dumps({"instances": [{"n": "1", "x": "0.5", "flag": 0}]}).encode()
    assert len(invoke(Served(model, schema), body, "application/json").document["predictions"]) == 1
    assert schema_of(None, LogisticRegression().fit(ROWS.values, [0, 1, 0, 1])) is None


def test_promotion_smoke_test_answers_an_invocations_request(tmp_path: Path) -> None:
    """Issue 14, item 6: the candidate answers through run.protocol, as `mlgate serve`
    would, and its schema is what lineage.json records."""
    model = LogisticRegression().fit(ROWS, [0, 1, 0, 1])
    path = str(tmp_path / "model.skops")
    save_model(model, path)
    done = _smoke_test(path, ROWS)
    assert done == {
        "ok": True,
        "rows": 4,
        "schema": [
            {"name": "n", "type": "int64"},
            {"name": "x", "type": "float64"},
            {"name": "flag", "type": "int64"},
        ],
    }
    done = _smoke_test(path, ROWS.drop(columns=["x"]))
    assert done["ok"] is False
    assert done["error"].startswith(
        "the reloaded model fails to answer an /invocations request: missing column(s): x"
    )


@pytest.mark.parametrize(
    "forest",
    [
        RandomForestClassifier(n_estimators=15, random_state=0),
        ExtraTreesClassifier(n_estimators=15, random_state=0),
        RandomForestRegressor(n_estimators=15, random_state=0),
    ],
)
def test_forests_answer_exactly_what_their_own_methods_do(forest: Any) -> None:
    """The forests' fast path (no joblib) must give the very floats the model's own
    predict and predict_proba give, and leave missing values to the model."""
    x, y = make_classification(n_samples=300, n_features=6, random_state=1)
    frame = pd.DataFrame(x, columns=[f"c{i}" for i in range(6)])
    model = forest.fit(frame, y)
    s = Served.of(model, schema_of(frame_schema(frame, model), model))
    methods = ["predict", "predict_proba"] if hasattr(model, "classes_") else ["predict"]
    assert sorted(s.fast) == methods
    for method in methods:
        doc = json.loads(request_body(frame))
        body = json.dumps({**doc, "params": {"method": method}}).encode()
        got = invoke(s, body, "application/json").document["predictions"]
        assert got == getattr(model, method)(frame).tolist(), method
    holes = frame.iloc[:5].copy()
    holes.iloc[0, 0] = np.nan
    body = json.dumps({"dataframe_split": holes.to_dict(orient="split", index=False)}).encode()
    got = invoke(s, body, "application/json").document["predictions"]
    assert got == model.predict(holes).tolist()


def test_a_forest_run_in_parallel_or_without_a_schema_asks_the_model() -> None:
    model = RandomForestClassifier(n_estimators=5, n_jobs=2, random_state=0).fit(ROWS, [0, 1, 0, 1])
    assert Served.of(model, schema_of(frame_schema(ROWS, model), model)).fast == {}
    serial = RandomForestClassifier(n_estimators=5, random_state=0).fit(ROWS, [0, 1, 0, 1])
    assert Served.of(serial, None).fast == {}
