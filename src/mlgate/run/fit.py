"""The training worker, child side: fit and score one side's model in a process of its own.

``python -m mlgate.run.fit OUT`` (started by run.worker) imports pandas, scikit-learn and
skops at once, then reads its ``TrainSpec`` from stdin and writes its answer to OUT as
JSON: metrics, timings, model size, or an error ``{"ok": false, "kind":
"config"|"training"|"data", "key": ..., "message": ...}`` that the parent turns into the
right exit code. sklearn and pandas are imported only here.
"""

from __future__ import annotations

import difflib
import functools
import importlib
import inspect
import json
import os
import sys
import time
import traceback
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

from mlgate.core import units
from mlgate.core.metrics import ALIASES
from mlgate.core.repeats import combine
from mlgate.core.scorers import metric_task
from mlgate.errors import DataError, MlgateError
from mlgate.run import drift
from mlgate.run.protocol import ProtocolError, Served, frame_schema, invoke, request_body, schema_of
from mlgate.run.worker import TrainSpec
from mlgate.storage.formats import read_frame
from mlgate.storage.models import UntrustedModel, load_trusted, save_model


class WorkerFailure(MlgateError):
    """Raised in the child; serialized to the parent as kind/key/message."""

    def __init__(self, kind: str, message: str, key: str | None = None) -> None:
        super().__init__(message)
        self.kind, self.key, self.message = kind, key, message


def load_frame(path: str, name: str) -> Any:
    try:
        return read_frame(Path(path), name)
    except DataError as e:
        raise WorkerFailure("data", str(e)) from e


def _estimator_choices(module: Any) -> list[str]:
    """Public estimator classes in ``module``, and the functions it defines (factories)."""
    names = []
    for attr in dir(module):
        obj = getattr(module, attr, None)
        factory = inspect.isfunction(obj) and obj.__module__ == module.__name__
        estimator = isinstance(obj, type) and hasattr(obj, "fit")
        if not attr.startswith("_") and (factory or estimator):
            names.append(attr)
    return sorted(names)


def resolve_estimator(ref: str) -> Callable[..., Any]:
    """``pkg.mod.Class`` or ``pkg.mod:factory`` -> the callable; config errors name choices."""
    mod_name, sep, attr = ref.partition(":")
    if not sep:
        mod_name, _, attr = ref.rpartition(".")
    try:
        module = importlib.import_module(mod_name)
    except ImportError as e:
        raise WorkerFailure(
            "config", f"cannot import {mod_name!r}: {type(e).__name__}: {e}", "model.estimator"
        ) from e
    except Exception as e:
        msg = f"importing {mod_name!r} raised {type(e).__name__}: {e}"
        raise WorkerFailure("config", msg, "model.estimator") from e
    obj = getattr(module, attr, None)
    if obj is None or not callable(obj):
        choices = _estimator_choices(module)
        close = difflib.get_close_matches(attr, choices, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        listing = f"; expected one of {', '.join(choices)}" if choices else ""
        msg = f"unknown estimator {attr!r} in module {mod_name!r}{hint}{listing}"
        raise WorkerFailure("config", msg, "model.estimator")
    return obj  # type: ignore[no-any-return]


def build_estimator(ref: str, params: Mapping[str, Any]) -> Any:
    make = resolve_estimator(ref)
    try:
        est = make(**params)
    except TypeError as e:
        raise WorkerFailure("config", f"invalid params for {ref}: {e}", "model.params") from e
    if not (hasattr(est, "fit") and hasattr(est, "predict")):
        msg = f"{ref} returned {type(est).__name__}, which has no fit/predict"
        raise WorkerFailure("config", msg, "model.estimator")
    return est


def column_problems(
    columns: Sequence[str],
    target: str,
    features: Sequence[str] | None,
    name: str,
    id_column: str | None = None,
) -> list[WorkerFailure]:
    """Why a file with ``columns`` (named ``name``) cannot give the target and features
    (and, for the test data, the ``id_column``): one config error per key (data.target,
    data.features, data.id), none when it can."""
    found = []
    if id_column is not None and id_column not in columns:
        close = difflib.get_close_matches(id_column, columns, n=1)
        hint = f"; did you mean {units.escaped(close[0])!r}?" if close else ""
        msg = f"column {id_column!r} not in {name} (columns: {units.names(list(columns))}){hint}"
        found.append(WorkerFailure("config", msg, "data.id"))
    if target not in columns:
        close = difflib.get_close_matches(target, columns, n=1)
        hint = f"; did you mean {units.escaped(close[0])!r}?" if close else ""
        msg = f"column {target!r} not in {name} (columns: {units.names(list(columns))}){hint}"
        found.append(WorkerFailure("config", msg, "data.target"))
    missing = [c for c in features or () if c not in columns]
    if missing:
        msg = f"column(s) {', '.join(map(repr, missing))} not in {name}"
        found.append(WorkerFailure("config", msg, "data.features"))
    return found


def split_xy(frame: Any, spec: TrainSpec, name: str, *, test: bool = False) -> tuple[Any, Any]:
    """Features and target; ``data.id`` (a column of the test data) is never a default
    feature."""
    name = f"{name} ({spec.ref})"
    columns = [str(c) for c in frame.columns]
    id_column = spec.id_column if test else None
    for problem in column_problems(columns, spec.target, spec.features, name, id_column):
        raise problem
    features = spec.features or [c for c in columns if c not in (spec.target, spec.id_column)]
    return frame[features], frame[spec.target]


def score(
    est: Any, x: Any, y: Any, metrics: Sequence[str], seen: dict[str, Any] | None = None
) -> dict[str, float]:
    """Every metric in one multi-metric scorer: scikit-learn then predicts (and
    predict_proba's) once for all of them instead of once per metric. ``seen`` receives
    the predictions the scorers asked for (by method name), for the bootstrap."""
    from sklearn.metrics import check_scoring

    if not metrics:
        return {}
    scoring = {name: ALIASES.get(name, name) for name in metrics}
    with _recording(est, seen):
        try:
            values = check_scoring(est, scoring=scoring)(est, x, y)
        except (TypeError, ValueError):  # scikit-learn < 1.4: no multi-metric check_scoring
            from sklearn.metrics import get_scorer

            values = {name: get_scorer(scorer)(est, x, y) for name, scorer in scoring.items()}
    return {
        name: -float(values[name]) if name in ALIASES else float(values[name]) for name in metrics
    }


_RESPONSES = ("predict", "predict_proba", "decision_function")


@contextmanager
def _recording(est: Any, seen: dict[str, Any] | None) -> Iterator[None]:
    """Keep what the scorers' calls of predict / predict_proba / decision_function return:
    the same predictions the metrics were computed from, without predicting twice. The
    wrappers are instance attributes, removed again before the model is saved."""
    wrapped = []
    for name in _RESPONSES if seen is not None else ():
        method = getattr(est, name, None)
        if method is None or name in getattr(est, "__dict__", {}):  # already an attribute
            continue

        @functools.wraps(method)  # scikit-learn reads the method's __name__
        def keep(*args: Any, _method: Any = method, _name: str = name, **kwargs: Any) -> Any:
            out = _method(*args, **kwargs)
            seen[_name] = out  # type: ignore[index]
            return out

        try:
            setattr(est, name, keep)
        except (AttributeError, TypeError):  # __slots__ or a read-only property
            continue
        wrapped.append(name)
    try:
        yield
    finally:
        for name in wrapped:
            delattr(est, name)


def save_predictions(
    path: str, y: Any, seen: Mapping[str, Any], est: Any, task: str, ids: Any = None
) -> str | None:
    """The rows' labels and the predictions the metrics were computed from, as a numpy file
    the parent reads with allow_pickle=False (labels as strings, scores as float32), for
    the paired bootstrap and the report's changes section. None when there is nothing
    usable (the run goes on without). ``ids``: the ``data.id`` column's values, kept as
    UTF-8 bytes (cut at core.changes.TEXT_WIDTH characters) to name the rows."""
    import numpy as np

    from mlgate.core import bootstrap  # numpy: the worker has it loaded already
    from mlgate.core.changes import cut  # numpy, likewise

    arrays: dict[str, Any] = {}
    truth = np.asarray(y)
    pred = seen.get("predict")
    try:
        if task == "regression":
            arrays["y"] = truth.astype(float)
            if pred is not None and np.shape(pred) == truth.shape:
                arrays["pred"] = np.asarray(pred, dtype=float)
        else:
            arrays["y"] = truth.astype(str)
            labels = list(dict.fromkeys(truth.tolist()))
            if pred is not None and np.shape(pred) == truth.shape:
                arrays["pred"] = np.asarray(pred).astype(str)
                labels += list(dict.fromkeys(np.asarray(pred).tolist()))
            classes = getattr(est, "classes_", None)
            if classes is not None:  # predict_proba's columns; decision_function ranks [1]
                arrays["proba_labels"] = np.asarray(classes).astype(str)
            proba = seen.get("predict_proba")
            if proba is not None and classes is not None and np.ndim(proba) == 2:
                arrays["proba"] = np.asarray(proba, dtype=np.float32)
            decision = seen.get("decision_function")
            if decision is not None and np.shape(decision) == truth.shape:
                arrays["decision"] = np.asarray(decision, dtype=np.float32)
            # scikit-learn's binary scorers (f1, precision, ...) take the label equal to 1.
            arrays["pos_label"] = np.array(next((str(v) for v in labels if v == 1), ""))
        arrays["task"] = np.array(task)
        if ids is not None:
            arrays["ids"] = np.array([cut(str(v)).encode("utf-8") for v in ids], dtype=bytes)
        rows = bootstrap.subset(len(truth))
        if rows is not None:  # a large test set: only the rows the bootstrap will draw from
            arrays.update(_all_rows(arrays, task))
            for key in ("y", "pred", "proba", "decision"):
                if key in arrays:
                    arrays[key] = arrays[key][rows]
            arrays["rows"] = np.array(len(truth))
        np.savez(path, **arrays)
    except (TypeError, ValueError, OSError):
        return None
    return path


def _all_rows(arrays: Mapping[str, Any], task: str) -> dict[str, Any]:
    """Labels and predictions on every row, compactly, for the changes section (flips and
    confusion matrices count all rows, not the bootstrap's subset): regression as float64,
    classification as the smallest unsigned codes into ``all_labels``."""
    import numpy as np

    if "pred" not in arrays:
        return {}
    y, pred = arrays["y"], arrays["pred"]
    if task == "regression":
        return {"all_y": y, "all_pred": pred}
    labels, codes = np.unique(np.concatenate([y, pred]), return_inverse=True)
    codes = codes.astype(np.min_scalar_type(max(len(labels) - 1, 0)))
    return {"all_labels": labels, "all_y": codes[: len(y)], "all_pred": codes[len(y) :]}


def _versions() -> dict[str, str]:
    import numpy
    import pandas
    import sklearn

    from mlgate import __version__

    found = {
        "python": sys.version.split()[0],
        "mlgate": __version__,
        "scikit-learn": sklearn.__version__,
        "numpy": numpy.__version__,
        "pandas": pandas.__version__,
    }
    try:
        import skops

        found["skops"] = skops.__version__
    except ImportError:
        pass
    return found


def _params_error(e: Exception) -> WorkerFailure | None:
    """sklearn validates params at fit time; that is the user's config, not a crash."""
    try:
        from sklearn.utils._param_validation import InvalidParameterError
    except ImportError:  # pragma: no cover - older sklearn
        return None
    if isinstance(e, InvalidParameterError):
        return WorkerFailure("config", str(e), "model.params")
    return None


def task_of(spec: TrainSpec) -> str:
    """The model's task; command mode may leave it out, then its metrics tell."""
    if spec.task:
        return spec.task
    tasks = {metric_task(m) for m in spec.metrics}
    return "regression" if "regression" in tasks else "classification"


def _score_on(
    model: Any, used: list[str], frame: Any, spec: TrainSpec, *, data: str, who: str, keep: str
) -> dict[str, Any]:
    """``{"metrics": ...}`` of ``model`` (which uses columns ``used``) on ``frame``, or
    ``{"error": ...}`` saying why that is impossible. With ``keep`` (a path without its
    suffix), also ``"predictions"``: the file of what the metrics were computed from."""
    columns = {str(c) for c in frame.columns}
    missing = [c for c in [*used, spec.target] if c not in columns]
    if missing:
        listed = ", ".join(map(repr, missing))
        return {"error": f"{data} lacks column(s) {listed} that {who} uses"}
    seen: dict[str, Any] = {}
    y = frame[spec.target]
    try:
        found: dict[str, Any] = {"metrics": score(model, frame[used], y, spec.metrics, seen)}
    except Exception as e:
        return {"error": f"{who} cannot score {data}: {type(e).__name__}: {e}"}
    kept = save_predictions(f"{keep}.npz", y, seen, model, task_of(spec)) if keep else None
    if kept:
        found["predictions"] = kept
    return found


def _smoke_test(path: str, x_test: Any) -> dict[str, Any]:
    """The model as it will be deployed: reloaded from its file, it answers an
    ``/invocations`` request built from evaluation rows through the code ``mlgate serve``
    runs (run.protocol), with one prediction a row. Its input schema goes to lineage.json."""
    sample = x_test.iloc[:100]
    try:
        model = load_trusted(path)
    except UntrustedModel as e:
        return {"ok": False, "error": f"the saved model cannot be loaded safely: {e}"}
    except Exception as e:
        return {"ok": False, "error": f"the saved model does not load: {type(e).__name__}: {e}"}
    schema = frame_schema(sample, model)
    served = Served.of(model, schema_of(schema, model))
    try:
        answer = invoke(served, request_body(sample), "application/json")
    except ProtocolError as e:
        return {
            "ok": False,
            "error": f"the reloaded model fails to answer an /invocations request: {e.message}",
        }
    except Exception as e:  # rows the protocol cannot carry: say so, never crash the worker
        return {
            "ok": False,
            "error": "the evaluation rows cannot be sent as an /invocations request: "
            f"{type(e).__name__}: {e}",
        }
    predicted = answer.document["predictions"]
    if len(predicted) != len(sample):
        return {
            "ok": False,
            "error": f"it answered {len(predicted)} predictions for {len(sample)} rows",
        }
    return {"ok": True, "rows": len(sample), "schema": schema}


def _score_champion(spec: TrainSpec, test: Any, keep: str) -> dict[str, Any]:
    """The production model on this side's test rows, or why that cannot be done."""
    assert spec.champion_model is not None
    return _score_file(spec.champion_model, spec, test, "the production model", keep)


def _score_file(path: str, spec: TrainSpec, test: Any, who: str, keep: str) -> dict[str, Any]:
    try:
        model = load_trusted(path)
    except UntrustedModel as e:
        return {"untrusted": True, "error": f"{who} was not loaded: {e}"}
    columns = [str(c) for c in test.columns]
    wanted = [str(c) for c in getattr(model, "feature_names_in_", [])] or [
        c for c in (spec.features or columns) if c != spec.target
    ]
    data = "the candidate's test data"
    return _score_on(model, wanted, test, spec, data=data, who=who, keep=keep)


def _load_only(path: str) -> dict[str, Any]:
    """No evaluation rows to predict on (command mode without data.test): the model must at
    least load with trusted types only."""
    try:
        load_trusted(path)
    except UntrustedModel as e:
        return {"ok": False, "error": f"the saved model cannot be loaded safely: {e}"}
    except Exception as e:
        return {"ok": False, "error": f"the saved model does not load: {type(e).__name__}: {e}"}
    return {"ok": True, "rows": 0}


def run(spec: TrainSpec, keep: str = "") -> dict[str, Any]:
    """Train and score (or only score) as ``spec`` says. ``keep``: where the predictions
    each score was computed from go (``{keep}-<what>.npz``); "" keeps none."""

    def kept(what: str) -> str:
        return f"{keep}-{what}" if keep else ""

    if spec.score_only:  # a promotion reusing a stored run, or retrying after a race
        out: dict[str, Any] = {"ok": True, "versions": _versions()}
        if not spec.test:  # command mode without evaluation data
            if spec.smoke_test:
                out["smoke"] = _load_only(spec.model_out)
            if spec.champion_model:
                why = "there is no data.test and data.target to score the production model on"
                out["champion"] = {"error": why}
            return out
        test = load_frame(spec.test, spec.test_name)
        if spec.score_candidate:
            who = "the candidate model"
            out["candidate"] = _score_file(spec.model_out, spec, test, who, kept("candidate"))
        if spec.champion_model:
            out["champion"] = _score_champion(spec, test, kept("champion"))
        if spec.smoke_test:
            out["smoke"] = _smoke_test(spec.model_out, split_xy(test, spec, spec.test_name)[0])
        return out
    est = build_estimator(spec.estimator, spec.params)
    train = load_frame(spec.train, spec.train_name)
    test = load_frame(spec.test, spec.test_name)
    x_train, y_train = split_xy(train, spec, spec.train_name)
    x_test, y_test = split_xy(test, spec, spec.test_name, test=True)
    random = unseeded(est)
    # Repeat i seeds what was left random with i, repeat 0 (the only one by default) too:
    # base and head then differ by their code and data, not by a draw of the seed, and a
    # stored run is what the same inputs give again. An estimator with nothing random
    # would give N equal results: it trains once.
    seeds = range(spec.repeats) if random else range(1)
    extra = None
    if spec.extra_eval:
        extra = load_frame(spec.extra_eval, spec.extra_eval_name or spec.extra_eval)
    fits, same = [], []
    with on_cluster(spec) as cluster:
        for seed in seeds:
            if seed:
                est = build_estimator(spec.estimator, spec.params)
            if random:
                est.set_params(**dict.fromkeys(random, seed))
            fits.append(_fit(est, spec, x_train, y_train, x_test, y_test))
            if seed == 0:
                first = est
            if extra is not None:
                where = kept("same-data") if seed == 0 else ""
                same.append(
                    _score_on(
                        est,
                        fits[0].features,
                        extra,
                        spec,
                        data="head's test data",
                        who="the base model",
                        keep=where,
                    )
                )
    est, fitted = first, fits[0]
    metrics, per_repeat = combine([f.metrics for f in fits])
    record: dict[str, Any] = {
        "ok": True,
        "metrics": metrics,
        "fit_seconds": sum(f.fit_seconds for f in fits) / len(fits),
        "predict_seconds": sum(f.predict_seconds for f in fits) / len(fits),
        "features": fitted.features,
        "rows": {"train": len(train), "test": len(test)},
        "versions": _versions(),
        "unseeded": random,
    }
    if len(fits) > 1:
        record["repeats"] = per_repeat
    if cluster is not None:
        record["cluster"] = cluster
        record["serial"] = serial_estimators(est)
    ids = test[spec.id_column] if spec.id_column else None
    own = f"{kept('own')}.npz"
    if keep and (saved := save_predictions(own, y_test, fitted.seen, est, task_of(spec), ids)):
        record["predictions"] = saved
    record.update(save_model(est, spec.model_out))
    drift.summarize(
        spec, {"train": train, "test": test}, [*record["features"], spec.target], task_of(spec)
    )
    if same:
        record["same_data"] = _same_repeats(same)
    if spec.smoke_test:
        record["smoke"] = _smoke_test(spec.model_out, x_test)
    if spec.champion_model:
        record["champion"] = _score_champion(spec, test, kept("champion"))
    return record


@dataclass
class _Fitted:
    metrics: dict[str, float]
    fit_seconds: float
    predict_seconds: float
    features: list[str]
    seen: dict[str, Any]


def _fit(
    est: Any, spec: TrainSpec, x_train: Any, y_train: Any, x_test: Any, y_test: Any
) -> _Fitted:
    """Fit ``est`` and score it on the test rows, timing both."""
    label = spec.estimator.rpartition(".")[2].rpartition(":")[2]
    try:
        with cpu_share(est, spec):
            start = time.perf_counter()
            est.fit(x_train, y_train)
            fit_seconds = time.perf_counter() - start
            # predict_time: the predictions the metrics need, made once (not a separate
            # predict call whose only use would be the timing).
            start = time.perf_counter()
            seen: dict[str, Any] = {}
            metrics = score(est, x_test, y_test, spec.metrics, seen)
            predict_seconds = time.perf_counter() - start
    except Exception as e:
        config_problem = _params_error(e)
        if config_problem:
            raise config_problem from e
        msg = f"training {label} on {spec.train_name} ({spec.ref}) failed: {type(e).__name__}: {e}"
        raise WorkerFailure("training", msg) from e
    features = [str(c) for c in x_train.columns]
    return _Fitted(metrics, fit_seconds, predict_seconds, features, seen)


def _same_repeats(found: list[dict[str, Any]]) -> dict[str, Any]:
    """The base model's same-data scores over its repeats: the first's file, the means."""
    first = found[0]
    if len(found) == 1 or "metrics" not in first:
        return first
    scored = [f["metrics"] for f in found if "metrics" in f]
    if len(scored) < len(found):  # one repeat could not score: none is a fair comparison
        return next(f for f in found if "metrics" not in f)
    means, per_repeat = combine(scored)
    return {**first, "metrics": means, "repeats": per_repeat}


# What random_state changes, by estimator class and its other params: an unset one where
# it changes nothing (an lbfgs logistic regression, an SVC without probability) is no
# source of variation and is not reported.
_SEED_MATTERS: dict[str, Callable[[Mapping[str, Any]], bool]] = {
    "LogisticRegression": lambda p: p.get("solver") in ("sag", "saga", "liblinear"),
    "LogisticRegressionCV": lambda p: p.get("solver") in ("sag", "saga", "liblinear"),
    "Ridge": lambda p: p.get("solver") in ("sag", "saga"),
    "RidgeClassifier": lambda p: p.get("solver") in ("sag", "saga"),
    "SVC": lambda p: bool(p.get("probability")),
    "NuSVC": lambda p: bool(p.get("probability")),
    "Lasso": lambda p: p.get("selection") == "random",
    "ElasticNet": lambda p: p.get("selection") == "random",
    "MultiTaskLasso": lambda p: p.get("selection") == "random",
    "MultiTaskElasticNet": lambda p: p.get("selection") == "random",
}


def unseeded(est: Any) -> list[str]:
    """The ``random_state`` params (as ``set_params`` names them, ``clf__random_state`` in
    a Pipeline) left None in ``est`` and the estimators inside it where they matter."""
    found = []
    for prefix, obj in estimators_in(est):
        try:
            params = obj.get_params(deep=False)
        except Exception:
            continue
        if "random_state" not in params or params["random_state"] is not None:
            continue
        matters = _SEED_MATTERS.get(type(obj).__name__)
        if matters is None or matters(params):
            found.append(f"{prefix}random_state")
    return found


# Estimators that run OpenMP on every core by themselves (scikit-learn's histogram
# gradient boosting, k-means, neighbors searches), by the module their class lives in.
_OPENMP_MODULES = (
    "sklearn.ensemble._hist_gradient_boosting",
    "sklearn.cluster",
    "sklearn.neighbors",
)


def estimators_in(est: Any) -> Iterator[tuple[str, Any]]:
    """(param prefix, estimator): ``est`` itself, then each estimator among its deep params
    (a Pipeline's steps, a meta-estimator's base), as ``set_params`` names them."""
    yield "", est
    try:
        nested = est.get_params(deep=True)
    except Exception:
        return
    for name, value in nested.items():
        if hasattr(value, "get_params") and hasattr(value, "fit"):
            yield f"{name}__", value


def uses_every_core(est: Any) -> bool:
    """Whether fitting ``est`` (or any estimator inside it, e.g. a Pipeline step) runs on
    every core: a known OpenMP estimator, or ``n_jobs`` set to anything but None/1."""
    for _, obj in estimators_in(est):
        if type(obj).__module__.startswith(_OPENMP_MODULES):
            return True
        if hasattr(obj, "fit") and getattr(obj, "n_jobs", None) not in (None, 1):
            return True
    return False


def serial_estimators(est: Any) -> list[str]:
    """The class names in ``est`` (itself and the estimators inside it), when none of them
    parallelizes through joblib (an ``n_jobs`` param that is not 1): such a model gains
    nothing from a Dask cluster, it trains in this process. Empty when one of them does."""
    names = []
    for _, obj in estimators_in(est):
        try:
            params = obj.get_params(deep=False)
        except Exception:
            params = {}
        if "n_jobs" in params and params["n_jobs"] != 1:
            return []
        names.append(type(obj).__name__)
    return list(dict.fromkeys(names))


@contextmanager
def on_cluster(spec: TrainSpec) -> Iterator[dict[str, Any] | None]:
    """With ``spec.dask_address``: connected to that scheduler (within dask_timeout
    seconds), joblib's parallel work goes to the cluster; yields where (address, workers).
    Without: nothing changes, None. An unreachable cluster or one without workers (its
    tasks would wait forever) is a failure of the environment, exit 3."""
    address = spec.dask_address
    if address is None:
        yield None
        return
    try:
        import distributed
        import joblib
    except ImportError as e:
        msg = f"training on dask cluster {address} needs `pip install 'mlgate[dask]'`: {e}"
        raise WorkerFailure("training", msg) from e
    try:
        connect: Any = distributed.Client  # untyped
        client = connect(address, timeout=spec.dask_timeout, set_as_default=True)
    except Exception as e:
        why = (str(e).strip().splitlines() or [type(e).__name__])[0]
        raise WorkerFailure("training", f"dask cluster {address} unreachable: {why}") from e
    try:
        workers = len(client.nthreads())
        if not workers:
            raise WorkerFailure("training", f"dask cluster {address} has no workers")
        # n_jobs=-1: an estimator's n_jobs=None means the whole cluster here (1 would
        # keep it sequential; an n_jobs the estimator sets still wins).
        with joblib.parallel_config(backend="dask", n_jobs=-1):
            yield {"address": address, "workers": workers}
    finally:
        client.close()


@contextmanager
def cpu_share(est: Any, spec: TrainSpec) -> Iterator[None]:
    """How this side uses the cores while the other side trains too. An estimator that
    uses every core by itself takes turns with the other side (a file lock) and runs at
    full width: two such fits at once on half the cores each leave a core idle as soon as
    the faster one ends. Anything else runs at the same time as the other side, its BLAS
    and OpenMP pools capped to its share so the two do not oversubscribe the cores."""
    if spec.threads is None:
        yield
        return
    remote = spec.dask_address is not None and not serial_estimators(est)
    if spec.turns and uses_every_core(est) and not remote:  # on a cluster: its cores
        from filelock import FileLock

        with FileLock(spec.turns):
            yield
        return
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=spec.threads):
        yield


def warm_up() -> None:
    """Import the heavy libraries while the parent is still resolving revisions and data.
    (skops, needed only to save the model, loads here too: loading it in a background
    thread instead was measured slower, since its imports hold the GIL that reading the
    CSV needs.)"""
    try:
        import pandas  # noqa: F401
        import sklearn.metrics  # noqa: F401
        import skops.io  # noqa: F401
    except ImportError:
        pass  # reported properly when the spec needs them


def enter_project(project_dir: str, code_root: str) -> None:
    """Run from the side's project directory, its own code first on ``sys.path`` (a
    monorepo's model next to its config), then the repository's."""
    os.chdir(project_dir)
    candidates = [
        os.path.join(project_dir, "src"),
        project_dir,
        os.path.join(code_root, "src"),
        code_root,
    ]
    sys.path[:0] = [p for p in dict.fromkeys(candidates) if os.path.isdir(p)]


def child_main(argv: Sequence[str]) -> int:
    (out_path,) = argv
    warm_up()
    text = sys.stdin.read()
    if not text:
        return 0  # the parent needed no model from this side
    start = time.perf_counter()
    spec = TrainSpec(**json.loads(text))
    if spec.project_dir:  # empty for a spec that only scores stored models: no user code
        enter_project(spec.project_dir, spec.code_root)
    try:
        record = run(spec, keep=str(Path(out_path).with_suffix("")))
    except WorkerFailure as e:
        record = {"ok": False, "kind": e.kind, "key": e.key, "message": e.message}
    except Exception as e:  # a bug or an exotic estimator: keep the traceback for --debug
        record = {
            "ok": False,
            "kind": "training",
            "key": None,
            "message": f"{type(e).__name__}: {e}",
            "traceback": traceback.format_exc(),
        }
    record["seconds"] = time.perf_counter() - start
    Path(out_path).write_text(json.dumps(record))
    return 0


def exit_now(code: int) -> NoReturn:
    """Exit a child whose answer is on disk, skipping interpreter teardown (a few hundred
    ms once scikit-learn and pandas are loaded), which the parent would otherwise wait for."""
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    exit_now(child_main(sys.argv[1:]))
