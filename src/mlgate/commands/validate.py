"""``mlgate validate``: the config checked as ``check`` would check it, in one line."""

from __future__ import annotations

from pathlib import Path

from mlgate.core import config as config_mod
from mlgate.storage.layout import Layout


def validate(path: Path, *, shown: str) -> str:
    """The summary line for a valid config at ``path`` (named ``shown``); ConfigError else."""
    cfg = config_mod.load_path(path, memo=Layout.current().memo)
    rules = sum(1 for _ in cfg.gate)
    how: str = cfg.model.task or "command mode"
    if cfg.model.task and cfg.command_mode:
        how += ", command mode"
    return (
        f"{shown}: ok (model {cfg.model.name}, {how}, "
        f"{len(cfg.evaluated_metrics)} metric(s), {rules} gated)"
    )
