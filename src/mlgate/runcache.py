"""Results of earlier runs, keyed by everything that decides them, so unchanged inputs are
never trained twice. The key covers the commit's tree (code, config and data pointers, or
data committed to git), the verified data hashes and the library versions; the entry is the
run record plus its skops model, stored atomically under ``$MLGATE_CACHE_DIR/runs/by-inputs``.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
from collections.abc import Mapping
from importlib import metadata
from pathlib import Path
from typing import Any

from mlgate.results import DataSummary
from mlgate.store import cache_dir

LIBRARIES = ("mlgate", "scikit-learn", "numpy", "pandas", "scipy", "skops")


def library_versions() -> dict[str, str]:
    """From package metadata: no import of the libraries themselves."""
    found = {"python": sys.version.split()[0]}
    for name in LIBRARIES:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = "absent"
    return found


def key(tree: str, config_path: str, data: Mapping[str, DataSummary]) -> str:
    inputs = {
        "tree": tree,
        "config": config_path,
        "data": {role: d.sha256 for role, d in sorted(data.items())},
        "versions": library_versions(),
    }
    return hashlib.sha256(json.dumps(inputs, sort_keys=True).encode()).hexdigest()


def _entry(model: str, digest: str) -> Path:
    return cache_dir() / "runs" / "by-inputs" / model / digest


def store(model: str, digest: str, record: Mapping[str, Any], model_file: Path) -> None:
    """Write the entry into a temp directory, then rename it into place: all or nothing."""
    final = _entry(model, digest)
    if final.exists() or not model_file.exists():
        return
    tmp = final.with_name(f".{digest}.{os.getpid()}.tmp")
    try:
        tmp.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(model_file, tmp / "model.skops")
        kept = {k: v for k, v in record.items() if k not in ("log", "model_path", "same_data")}
        kept["model_sha256"] = hashlib.sha256((tmp / "model.skops").read_bytes()).hexdigest()
        (tmp / "record.json").write_text(json.dumps(kept, default=str))
        os.replace(tmp, final)
    except OSError:
        shutil.rmtree(tmp, ignore_errors=True)  # a racing run stored it, or the disk is full


def lookup(model: str, digest: str) -> dict[str, Any] | None:
    """The stored record with ``model_path`` set, if its model file is intact."""
    entry = _entry(model, digest)
    try:
        record: dict[str, Any] = json.loads((entry / "record.json").read_text())
        data = (entry / "model.skops").read_bytes()
    except (OSError, ValueError):
        return None
    if hashlib.sha256(data).hexdigest() != record.get("model_sha256"):
        return None
    record["model_path"] = str(entry / "model.skops")
    return record
