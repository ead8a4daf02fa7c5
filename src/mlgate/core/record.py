"""What one run of one side measured: the ``RunRecord``, parsed once where its JSON arrives.

A record comes from a training worker's answer, a command-mode run, the run cache
(``record.json``) or a git note (a ``mlgate/run@1`` document, ``schema/run.schema.json``);
``RunRecord.from_dict`` reads all of them, so check, the run cache, notes, promotion and
MLflow logging work with typed fields instead of a ``dict[str, Any]``. Pure.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any


@dataclass(frozen=True)
class Scores:
    """A model scored on some rows: its metrics, or why that was impossible.
    ``untrusted``: the model file was refused before loading (types not vetted)."""

    metrics: dict[str, float] | None = None
    error: str | None = None
    untrusted: bool = False
    predictions: str | None = None  # the worker's file of what the metrics came from
    repeats: dict[str, tuple[float, ...]] = field(default_factory=dict)  # metric -> per repeat

    @classmethod
    def from_dict(cls, doc: Mapping[str, Any]) -> Scores:
        metrics = doc.get("metrics")
        return cls(
            metrics=None if metrics is None else _numbers(metrics, "metrics"),
            error=_text(doc.get("error")),
            untrusted=bool(doc.get("untrusted", False)),
            predictions=_text(doc.get("predictions")),
            repeats=_series(doc.get("repeats") or {}),
        )

    def to_dict(self) -> dict[str, Any]:
        found: dict[str, Any] = {}
        if self.metrics is not None:
            found["metrics"] = dict(self.metrics)
        if self.repeats:
            found["repeats"] = {k: list(v) for k, v in self.repeats.items()}
        if self.error is not None:
            found["error"] = self.error
        if self.untrusted:
            found["untrusted"] = True
        return found


def _schema(value: Any) -> list[dict[str, str]] | None:
    if not isinstance(value, list) or not all(isinstance(c, dict) and "name" in c for c in value):
        return None
    return [{"name": str(c["name"]), "type": str(c.get("type", ""))} for c in value]


@dataclass(frozen=True)
class Smoke:
    """The saved model reloaded (trusted types only) and predicted ``rows`` rows."""

    ok: bool
    error: str | None = None
    rows: int = 0
    # The input schema the model answered requests with ([{"name", "type"}], in order),
    # recorded in lineage.json at promotion for `mlgate serve`.
    schema: list[dict[str, str]] | None = None

    @classmethod
    def from_dict(cls, doc: Mapping[str, Any]) -> Smoke:
        schema = doc.get("schema")
        return cls(
            bool(doc.get("ok")),
            _text(doc.get("error")),
            int(doc.get("rows") or 0),
            _schema(schema),
        )

    def to_dict(self) -> dict[str, Any]:
        found: dict[str, Any] = {"ok": self.ok, "rows": self.rows}
        if self.error is not None:
            found["error"] = self.error
        if self.schema is not None:
            found["schema"] = self.schema
        return found


@dataclass(frozen=True)
class Cluster:
    """The Dask cluster a run trained on (model.backend.dask): its scheduler, its workers
    when the run connected."""

    address: str
    workers: int

    @classmethod
    def from_dict(cls, doc: Mapping[str, Any]) -> Cluster:
        workers = _count(doc.get("workers"))
        return cls(str(doc["address"]), 0 if workers is None else workers)

    def to_dict(self) -> dict[str, Any]:
        return {"address": self.address, "workers": self.workers}


@dataclass(frozen=True)
class RunRecord:
    """One side's run: metrics and timings, the model file it kept, and, for promotion and
    same-data comparison, how stored models scored on other rows."""

    metrics: dict[str, float] = field(default_factory=dict)
    versions: dict[str, str] = field(default_factory=dict)  # python, mlgate, scikit-learn…
    fit_seconds: float | None = None
    predict_seconds: float | None = None
    model_size: int | None = None  # bytes of the skops file
    seconds: float | None = None  # the whole run
    features: tuple[str, ...] = ()
    rows: dict[str, int] = field(default_factory=dict)  # role -> rows read
    model_path: str | None = None  # where the model file is now (never persisted)
    model_error: str | None = None  # why there is no model file
    model_sha256: str | None = None  # of the model file the run cache keeps
    digest: str | None = None  # the run-cache key of the inputs
    cached: bool = False  # reused, not run now
    same_data: Scores | None = None  # the base model on head's test rows
    smoke: Smoke | None = None
    champion: Scores | None = None  # the production model on this side's test rows
    candidate: Scores | None = None  # command mode: the command's model, scored by mlgate
    log: str = ""  # the end of what the run printed
    # The per-row predictions its metrics came from (the paired bootstrap's input): where
    # the file is now (never persisted) and, for a run-cache entry, its sha256.
    predictions: str | None = None
    predictions_sha256: str | None = None
    # ``model.repeats``: each metric's value per repeat (``metrics`` holds their means),
    # and the estimator params left unseeded (random_state None: results vary between runs).
    repeats: dict[str, tuple[float, ...]] = field(default_factory=dict)
    unseeded: tuple[str, ...] = ()
    # model.backend.dask: where it trained (None: in mlgate's worker on this machine), and
    # the estimators that do not parallelize through joblib, so gained nothing from it.
    cluster: Cluster | None = None
    serial: tuple[str, ...] = ()

    @classmethod
    def from_dict(cls, doc: Mapping[str, Any]) -> RunRecord:
        """A worker's answer, a run-cache entry or a run@1 document; ValueError when a
        field does not have the shape mlgate writes."""
        try:
            return cls(
                metrics=_numbers(doc.get("metrics") or {}, "metrics"),
                versions={str(k): str(v) for k, v in (doc.get("versions") or {}).items()},
                fit_seconds=optional_number(doc.get("fit_seconds")),
                predict_seconds=optional_number(doc.get("predict_seconds")),
                model_size=_count(doc.get("model_size")),
                # A run@1 document names the whole run's time duration_seconds.
                seconds=optional_number(doc.get("seconds", doc.get("duration_seconds"))),
                features=tuple(str(c) for c in doc.get("features") or ()),
                rows={str(k): int(v) for k, v in (doc.get("rows") or {}).items()},
                model_path=_text(doc.get("model_path")),
                model_error=_text(doc.get("model_error")),
                model_sha256=_text(doc.get("model_sha256")),
                digest=_text(doc.get("digest")),
                cached=bool(doc.get("cached", False)),
                same_data=_optional(doc.get("same_data"), Scores.from_dict),
                smoke=_optional(doc.get("smoke"), Smoke.from_dict),
                champion=_optional(doc.get("champion"), Scores.from_dict),
                candidate=_optional(doc.get("candidate"), Scores.from_dict),
                log=str(doc.get("log") or ""),
                predictions=_text(doc.get("predictions")),
                predictions_sha256=_text(doc.get("predictions_sha256")),
                repeats=_series(doc.get("repeats") or {}),
                unseeded=tuple(str(p) for p in doc.get("unseeded") or ()),
                cluster=_optional(doc.get("cluster"), Cluster.from_dict),
                serial=tuple(str(n) for n in doc.get("serial") or ()),
            )
        except (TypeError, AttributeError, KeyError) as e:
            raise ValueError(f"not a run record: {e}") from e

    def stored(self) -> dict[str, Any]:
        """The JSON the run cache keeps: what the inputs decide, not this run's context
        (its log, where its files are now, how it scored on another side's rows)."""
        found: dict[str, Any] = {
            "ok": True,
            "metrics": dict(self.metrics),
            "versions": dict(self.versions),
            "fit_seconds": self.fit_seconds,
            "predict_seconds": self.predict_seconds,
            "model_size": self.model_size,
            "seconds": self.seconds,
            "features": list(self.features),
            "rows": dict(self.rows),
            "digest": self.digest,
        }
        if self.model_error is not None:
            found["model_error"] = self.model_error
        if self.model_sha256 is not None:
            found["model_sha256"] = self.model_sha256
        if self.smoke is not None:
            found["smoke"] = self.smoke.to_dict()
        if self.predictions_sha256 is not None:
            found["predictions_sha256"] = self.predictions_sha256
        if self.repeats:
            found["repeats"] = {k: list(v) for k, v in self.repeats.items()}
        if self.unseeded:
            found["unseeded"] = list(self.unseeded)
        if self.cluster is not None:  # where it trained; the run-cache key ignores it
            found["cluster"] = self.cluster.to_dict()
        if self.serial:
            found["serial"] = list(self.serial)
        return found

    def reused(self) -> RunRecord:
        """This record as a reused result (a cache hit or a shared note)."""
        return replace(self, cached=True)


def _optional(value: Any, parse: Any) -> Any:
    return None if value is None else parse(value)


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def optional_number(value: Any) -> float | None:
    """A JSON number as written by mlgate (a bool is not one), or None; ValueError else."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"expected a number, got {value!r}")
    return float(value)


def _count(value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"expected a whole number, got {value!r}")
    return value


def _numbers(values: Mapping[str, Any], what: str) -> dict[str, float]:
    found = {}
    for name, value in values.items():
        number = optional_number(value)
        if number is None:
            raise ValueError(f"{what}.{name}: expected a number, got null")
        found[str(name)] = number
    return found


def _series(values: Mapping[str, Any]) -> dict[str, tuple[float, ...]]:
    found = {}
    for name, series in values.items():
        if not isinstance(series, (list, tuple)):
            raise ValueError(f"repeats.{name}: expected a list of numbers, got {series!r}")
        numbered = {str(i): value for i, value in enumerate(series)}
        found[str(name)] = tuple(_numbers(numbered, f"repeats.{name}").values())
    return found
