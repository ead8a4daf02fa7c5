"""``mlgate monitor``: a batch of production inputs against the production model's training
data. Nothing here prints: the CLI renders the ``MonitorResult``.

The model is read as ``mlgate serve`` reads it (the production branch without a checkout,
its sha256 checked against lineage.json, vetted types only); its training data through
lineage.json's ``data["train"]`` (path and sha256): the cache, the working-tree file, the
configured storage, the pointer's url (``storage.fetch``), else the file as git holds it
at the source commit, each checked by sha256. The batch is CSV/TSV/Parquet files, or
directories of them (``mlgate serve --log-dir``: hidden temporary files are skipped, the
``mlgate.*`` columns are not features, ``mlgate.prediction`` is the predictions' source).
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from mlgate import git
from mlgate.commands import serve as serve_mod
from mlgate.core import config as config_mod
from mlgate.core import driftstats, production
from mlgate.core.config import Config
from mlgate.core.drift import Comparison, thresholds
from mlgate.core.monitor import PREDICTION, MonitorResult, PredictionSource, judge
from mlgate.core.production import Lineage
from mlgate.errors import DataError, UsageError
from mlgate.run.drift import summary_of
from mlgate.run.fit import score
from mlgate.storage.fetch import fetch
from mlgate.storage.formats import data_format, read_frame
from mlgate.storage.layout import Layout
from mlgate.storage.objects import Cache, short
from mlgate.storage.pointers import Pointer

LOG_PREFIX = "mlgate."  # the request log's own columns
LOG_PREDICTION = "mlgate.prediction"
LOG_VERSION = "mlgate.version"


def monitor(
    cwd: str | os.PathLike[str],
    *,
    data: Sequence[str],
    name: str | None = None,
    labels: str | None = None,
    config_path: str = config_mod.DEFAULT_CONFIG,
    cache: Cache | None = None,
) -> MonitorResult:
    """Drift, prediction drift and (with ``labels``) live metrics of the batch ``data``
    (paths relative to ``cwd``) for the production model ``name`` (default: the only one).
    UsageError for a bad batch (missing, empty, without the model's columns); DataError
    when the training data cannot be had."""
    if not data:
        raise UsageError("give the batch to monitor: --data PATH (files or directories)")
    files = batch_files(Path(cwd), data)
    where = serve_mod.target(cwd, name=name, config_path=config_path)
    cfg = _config(where.root, config_path)
    with tempfile.TemporaryDirectory(prefix="mlgate-monitor-") as tmp:
        deployment = serve_mod.load(where, Path(tmp))
    lineage = _lineage(where.root, deployment.commit, deployment.name)
    batch = _read_batch(files)
    model = deployment.served.model
    schema = deployment.served.schema
    features = list(schema.names) if schema is not None else _features(lineage, cfg, batch)
    shown = ", ".join(data)
    lacking = [c for c in features if c not in batch.columns]
    if lacking:
        listed = ", ".join(repr(c) for c in lacking[:10])
        more = f" and {len(lacking) - 10} more" if len(lacking) > 10 else ""
        raise UsageError(
            f"the batch ({shown}) lacks the columns {deployment.name} takes: {listed}{more}"
        )
    if labels is not None and labels not in batch.columns:
        raise UsageError(f"--labels {labels}: the batch ({shown}) has no column {labels!r}")
    train = _training_frame(where.root, lineage, cfg, cache or Cache())
    classifier = hasattr(model, "classes_")
    target = _target(lineage, cfg)
    compared = list(features)
    current = batch
    if labels is not None and target is not None and target in train.columns:
        current = batch.rename(columns={labels: target}) if labels != target else batch
        compared.append(target)  # the label shift, as in the PR report
    missing_train = [c for c in features if c not in train.columns]
    if missing_train:
        raise DataError(
            f"the training data {lineage.data['train'].path} lacks the model's columns "
            + ", ".join(repr(c) for c in missing_train)
        )
    ref_summary = summary_of(train, compared, target or "", classifier)
    cur_summary = summary_of(current, compared, target or "", classifier)
    stats, sampled = driftstats.compare(ref_summary, cur_summary)
    train_ref = lineage.data["train"]
    comparison = Comparison(
        name="train",
        reference=f"the training data of {deployment.name} v{deployment.version}",
        current="the batch",
        reference_path=train_ref.path,
        current_path=shown,
        status="computed",
        rows=(len(train), len(batch)),
        sampled=sampled,
        features=tuple(stats),
    )
    predictions, source, notes = _prediction_drift(
        model, train, batch, features, classifier, deployment.version
    )
    live = None
    if labels is not None:
        wanted = list(cfg.metrics) if cfg is not None else list(lineage.metrics)
        try:
            live = score(model, batch[features], batch[labels], wanted)
        except Exception as e:  # a metric that does not apply to these labels
            raise DataError(
                f"cannot score {deployment.name} on the batch's labels {labels!r}: "
                f"{type(e).__name__}: {e}"
            ) from None
    drift_rule = cfg.monitor_drift if cfg is not None else None
    comparison, predictions, rows, checks = judge(
        comparison,
        predictions,
        live,
        lineage.metrics,
        drift_rule=drift_rule,
        metric_rules=cfg.monitor_metrics if cfg is not None else {},
    )
    return MonitorResult(
        model=deployment.name,
        version=deployment.version,
        tag=deployment.tag,
        production_commit=deployment.commit,
        source_commit=deployment.source_commit,
        batch=tuple(str(f) for f in files),
        drift=comparison,
        predictions=predictions,
        prediction_source=source,
        thresholds=thresholds(drift_rule),
        labels=labels,
        metrics=rows,
        checks=checks,
        rule=drift_rule,
        notes=tuple(notes),
    )


# --- the batch -----------------------------------------------------------------------------


def batch_files(cwd: Path, data: Sequence[str]) -> list[Path]:
    """The data files ``data`` names: files as given, directories' data files (hidden ones,
    such as the request log's temporary files, skipped), in name order."""
    found: list[Path] = []
    for given in data:
        path = cwd / given
        if path.is_dir():
            inside = sorted(
                p
                for p in path.iterdir()
                if p.is_file() and not p.name.startswith(".") and data_format(p.name) is not None
            )
            if not inside:
                raise UsageError(f"--data {given}: the directory holds no CSV or Parquet file")
            found += inside
        elif path.is_file():
            if data_format(path.name) is None:
                raise UsageError(f"--data {given}: not a CSV, TSV or Parquet file")
            found.append(path)
        else:
            raise UsageError(f"--data {given}: no such file or directory")
    return found


def _read_batch(files: Sequence[Path]) -> Any:
    import pandas as pd

    frames = []
    for path in files:
        try:
            frames.append(read_frame(path, path.name))
        except DataError as e:
            raise UsageError(f"--data {path}: {e}") from None
    frame = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
    if len(frame) == 0:
        raise UsageError("the batch has no rows")
    return frame


# --- the production model's lineage and training data --------------------------------------


def _config(root: Path, config_path: str) -> Config | None:
    cfg_file = root / config_path
    if not cfg_file.is_file():
        return None
    return config_mod.load_path(cfg_file, memo=Layout.current().memo)


def _lineage(root: Path, commit: str, name: str) -> Lineage:
    files = git.CommitFiles(git.open_repo(root), commit, sha=commit)
    raw = files.read(production.path(name, production.LINEAGE_FILE))
    if raw is None:  # serve.load read it a moment ago
        raise DataError(f"{name}/lineage.json vanished from {commit[:7]}")
    return Lineage.from_dict(json.loads(raw))


def _target(lineage: Lineage, cfg: Config | None) -> str | None:
    data = lineage.config.get("data") if isinstance(lineage.config, dict) else None
    if isinstance(data, dict) and isinstance(data.get("target"), str):
        return str(data["target"])
    return cfg.data.target if cfg is not None else None


def _features(lineage: Lineage, cfg: Config | None, batch: Any) -> list[str]:
    if lineage.input_schema:
        return [c["name"] for c in lineage.input_schema]
    if cfg is not None and cfg.data.features is not None:
        return list(cfg.data.features)
    return [c for c in batch.columns if not str(c).startswith(LOG_PREFIX)]


def _training_frame(root: Path, lineage: Lineage, cfg: Config | None, cache: Cache) -> Any:
    ref = lineage.data.get("train")
    who = f"the training data of {lineage.model} v{lineage.version}"
    if ref is None:
        raise DataError(f"{who} is not named in its lineage.json (no data.train)")
    ptr = Pointer(sha256=ref.sha256, size=ref.size)
    local = root / ref.path
    looked = ""
    try:
        path = fetch(
            ptr,
            name=ref.path,
            cache=cache,
            storage=cfg.storage if cfg is not None else None,
            local=local if local.is_file() else None,
        )
        return read_frame(path, ref.path)
    except DataError as e:
        looked = str(e)
    raw = git.CommitFiles(git.open_repo(root), lineage.source_commit).read(ref.path)
    if raw is not None and hashlib.sha256(raw).hexdigest() == ref.sha256:
        with tempfile.TemporaryDirectory(prefix="mlgate-monitor-") as tmp:
            path = Path(tmp) / "train"
            path.write_bytes(raw)
            return read_frame(path, ref.path)
    raise DataError(
        f"{who} ({ref.path}, sha256 {short(ref.sha256)}) is not available: {looked}; nor in git "
        f"at {lineage.source_commit[:7]} (`mlgate data pull` it, or set storage in mlgate.yaml)"
    )


# --- the predictions -----------------------------------------------------------------------


def _prediction_drift(
    model: Any, train: Any, batch: Any, features: list[str], classifier: bool, version: int
) -> tuple[Any, PredictionSource | None, list[str]]:
    """The drift of the model's predictions: on the training rows → on the batch (the ones
    the request log recorded, when this version answered every row, else the model's)."""
    import pandas as pd

    notes: list[str] = []
    answered = batch.get(LOG_VERSION)
    if answered is not None and (answered != version).any():
        others = sorted({int(v) for v in answered.dropna() if v != version})
        shown = ", ".join(f"v{v}" for v in others) or "unknown versions"
        notes.append(
            f"{int((answered != version).sum()):,} logged rows were answered by {shown}: "
            f"the prediction drift is v{version}'s predictions on the whole batch"
        )
        batch = batch.drop(columns=[LOG_PREDICTION], errors="ignore")
    try:
        on_train = model.predict(train[features])
    except Exception as e:  # the report still has the feature drift
        return None, None, [f"no prediction drift: the model fails on its training data: {e}"]
    source: PredictionSource = "model"
    recorded = batch.get(LOG_PREDICTION)
    if recorded is not None and recorded.notna().all() and not _lists(recorded):
        on_batch: Any = recorded.to_numpy()
        source = "recorded"
    else:
        if recorded is not None and not notes:
            notes.append("the request log's predictions are incomplete: the model predicted")
        try:
            on_batch = model.predict(batch[features])
        except Exception as e:
            return None, None, [f"no prediction drift: the model fails on the batch: {e}"]
    frames = [pd.DataFrame({PREDICTION: list(values)}) for values in (on_train, on_batch)]
    if classifier:  # the classes as their text: a CSV log reads 1 where predict gave "1"
        frames = [f.astype(str) for f in frames]
    ref, cur = (summary_of(f, [PREDICTION], "", False) for f in frames)
    return (
        driftstats.compare_column(ref.columns[PREDICTION], cur.columns[PREDICTION]),
        source,
        notes,
    )


def _lists(values: Any) -> bool:
    """predict_proba answers (logged as JSON lists), not classes or values."""
    return bool(values.astype(str).str.startswith("[").any())
