"""What a worker is asked to do for a side: train and score it, or score stored models."""

from __future__ import annotations

from dataclasses import replace

from mlgate.core.config import DASK_TIMEOUT, Config
from mlgate.core.metrics import RUNTIME_METRICS
from mlgate.run import cluster
from mlgate.run.sides import Side
from mlgate.run.worker import TrainSpec
from mlgate.run.workspace import Workspace


def train_spec(side: Side, work: Workspace, extra: Side | None = None) -> TrainSpec:
    """Fit and score ``side`` (estimator mode); with ``extra``, also score the fitted model
    on ``extra``'s test rows (the same-data comparison)."""
    cfg = side.cfg
    code_root = work.ready(side)
    dask = cluster.backend(cfg)
    assert cfg.model.estimator and cfg.model.task and cfg.data.train and cfg.data.test
    assert cfg.data.target
    return TrainSpec(
        estimator=cfg.model.estimator,
        params=dict(cfg.model.params),
        task=cfg.model.task,
        code_root=str(code_root),
        project_dir=str(code_root / cfg.base) if cfg.base else str(code_root),
        train=str(work.data(side, "train")),
        test=str(work.data(side, "test")),
        train_name=cfg.data.train,
        test_name=cfg.data.test,
        ref=side.files.ref,
        target=cfg.data.target,
        features=list(cfg.data.features) if cfg.data.features else None,
        metrics=list(cfg.evaluated_metrics),
        model_out=str(work.tmp / f"{side.label}.skops"),
        extra_eval=None if extra is None else str(work.data(extra, "test")),
        extra_eval_name=None if extra is None else extra.cfg.data.test,
        id_column=cfg.data.id,
        repeats=cfg.model.repeats,
        dask_address=None if dask is None else dask.address,
        dask_timeout=DASK_TIMEOUT if dask is None else dask.timeout,
    )


def score_spec(
    cfg: Config, ref: str, test: str, test_name: str, model_out: str, champion: str | None
) -> TrainSpec:
    """A spec that trains nothing: it scores stored models on ``test``."""
    return TrainSpec(
        estimator="",
        params={},
        task=cfg.model.task or "",
        code_root="",
        project_dir="",
        train="",
        test=test,
        train_name=cfg.data.train or "",
        test_name=test_name,
        ref=ref,
        target=cfg.data.target or "",
        features=list(cfg.data.features) if cfg.data.features else None,
        metrics=scorable(cfg),
        model_out=model_out,
        champion_model=champion,
        score_only=True,
    )


def rescore_spec(
    base: Side, head: Side, work: Workspace, model_path: str, *, head_model: str | None = None
) -> TrainSpec:
    """Score a stored base model on head's test rows (same-data), without retraining it;
    with ``head_model`` (a command's model), score that one on the same rows too."""
    assert head.cfg.data.test
    test = str(work.data(head, "test"))
    spec = score_spec(base.cfg, head.files.ref, test, head.cfg.data.test, "", model_path)
    if head_model is None:
        return spec
    return replace(spec, model_out=head_model, score_candidate=True)


def command_score_spec(
    side: Side, work: Workspace, model_path: str, champion: str | None
) -> TrainSpec:
    """Command mode's promotion: smoke-test the command's model, and score it and the
    champion on the side's test rows (when data.test and data.target say which)."""
    cfg = side.cfg
    has_test = bool(cfg.data.test and cfg.data.target and "test" in side.data)
    test = str(work.data(side, "test")) if has_test else ""
    spec = score_spec(cfg, side.files.ref, test, cfg.data.test or "", model_path, champion)
    return replace(spec, smoke_test=True, score_candidate=has_test)


def scorable(cfg: Config) -> list[str]:
    """The metrics mlgate can compute itself from a model (not a command's own metrics:
    the config declared those as custom, since mlgate did not know them)."""
    return [
        m for m in cfg.evaluated_metrics if m not in cfg.custom_metrics and m not in RUNTIME_METRICS
    ]
