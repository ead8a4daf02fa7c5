"""Results of earlier runs, keyed by everything that decides them, so unchanged inputs are
never trained twice. The digest covers the config's model section, metrics, target and
features, the data sha256s, the content of the model's own code (its top-level package or
module in the repo, plus ``model.deps`` globs) and the library versions; the entry is the
run record plus its skops model and the predictions its metrics came from (for the paired
bootstrap), stored atomically (``Layout.run_entry``).
"""

from __future__ import annotations

import fnmatch
import functools
import hashlib
import json
import os
import posixpath
import shutil
import sys
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path

from mlgate.core.config import Config
from mlgate.core.record import RunRecord
from mlgate.core.results import DataSummary
from mlgate.git import CommitFiles, Files, WorkingFiles, blob_shas
from mlgate.storage.layout import Layout
from mlgate.storage.pointers import pointer_path
from mlgate.storage.versions import version_of

PREDICTIONS = "predictions.npz"  # in an entry: verified against its sha256 when it is read
LIBRARIES = ("mlgate", "scikit-learn", "numpy", "pandas", "scipy", "skops")


def library_versions() -> dict[str, str]:
    """From package metadata: no import of the libraries themselves."""
    return dict(_installed())


@functools.cache  # once per process: each side's digest asks, and the answer cannot change
def _installed() -> tuple[tuple[str, str], ...]:
    found = [("python", sys.version.split()[0])]
    found += [(name, version_of(name) or "absent") for name in LIBRARIES]
    return tuple(found)


def code_files(files: Files, cfg: Config) -> list[str]:
    """The repo files the model's code comes from: the whole top-level package (or module)
    of ``model.estimator`` where the worker would import it, plus ``model.deps`` globs.
    The whole package, not just the factory's file: it may import its siblings."""
    found: list[str] = []
    if cfg.model.estimator is not None:
        found = _package_files(files, cfg, cfg.model.estimator)
    everything = files.list_files(cfg.base) if cfg.model.deps else []
    prefix = f"{cfg.base}/" if cfg.base else ""
    for pattern in cfg.model.deps:
        found += [p for p in everything if fnmatch.fnmatch(p, prefix + pattern)]
    return sorted(set(found))


def _package_files(files: Files, cfg: Config, estimator: str) -> list[str]:
    module = estimator.partition(":")[0] if ":" in estimator else estimator.rpartition(".")[0]
    top = module.split(".")[0]
    for root in dict.fromkeys([posixpath.join(cfg.base, "src"), cfg.base, "src", ""]):
        package = posixpath.join(root, top) if root else top
        inside = [p for p in files.list_files(package) if p.endswith(".py")]
        single = f"{package}.py"
        if inside or files.read(single) is not None:
            return inside or [single]  # the first place on sys.path wins, as in Python
    return []


def _command_code(files: Files, cfg: Config, data: Mapping[str, DataSummary]) -> dict[str, str]:
    """Command mode without ``model.deps``: every tracked file, so any code change retrains.
    Left out: what the digest covers otherwise (data files and their pointers, the config
    itself) and the command's own outputs, so a run does not invalidate itself."""
    assert isinstance(files, (CommitFiles, WorkingFiles)) and cfg.model.train is not None
    spec = cfg.model.train
    skip = {posixpath.join(cfg.base, "mlgate.yaml"), spec.metrics, spec.model}
    for summary in data.values():
        skip |= {summary.path, pointer_path(summary.path)}
    return {p: sha for p, sha in blob_shas(files).items() if p not in skip}


def code_inputs(files: Files, cfg: Config, data: Mapping[str, DataSummary]) -> dict[str, str]:
    """The code the digest covers: repo path -> hash of its content (git's blob sha for
    command mode's every tracked file, else SHA-256: see ``code_hash``)."""
    if code_hash(cfg) == "git-blob":
        return _command_code(files, cfg, data)
    code = {}
    for path in code_files(files, cfg):
        content = files.read(path)
        code[path] = hashlib.sha256(content or b"").hexdigest()
    return code


def code_hash(cfg: Config) -> str:
    """How ``code_inputs`` hashes files: two sides' code compares only when it is the same."""
    return "git-blob" if cfg.model.train is not None and not cfg.model.deps else "sha256"


def digest(
    files: Files,
    cfg: Config,
    data: Mapping[str, DataSummary],
    versions: Mapping[str, str] | None = None,
    code: Mapping[str, str] | None = None,
) -> str:
    """Everything that decides a side's result, and nothing else (so a README edit or an
    unrelated file keeps the cached result). ``versions`` default to the installed ones,
    ``code`` to ``code_inputs``."""
    code = code_inputs(files, cfg, data) if code is None else code
    model = cfg.raw["model"]
    inputs = {
        "model": {k: model.get(k) for k in ("task", "estimator", "params", "train")},
        # Only when set, so that a config without repeats keeps the digests it had.
        **({"repeats": cfg.model.repeats} if cfg.model.repeats > 1 else {}),
        "data": {
            "target": cfg.data.target,
            "features": list(cfg.data.features or ()),
            **{role: d.sha256 for role, d in sorted(data.items())},
            # data.id changes the default features and what the predictions file keeps;
            # absent when unset, so the digests of configs without it stay as they were.
            **({"id": cfg.data.id} if cfg.data.id is not None else {}),
        },
        "metrics": list(cfg.evaluated_metrics),
        "directions": dict(sorted(cfg.custom_metrics.items())),
        "code": code,
        "versions": dict(versions) if versions is not None else library_versions(),
    }
    return hashlib.sha256(json.dumps(inputs, sort_keys=True, default=str).encode()).hexdigest()


def store(model: str, digest: str, record: RunRecord, model_file: Path | None) -> None:
    """Write the entry into a temp directory, then rename it into place: all or nothing.
    ``model_file`` None: a command-mode run that writes no model keeps only its record."""
    final = Layout.current().run_entry(model, digest)
    if final.exists() or (model_file is not None and not model_file.exists()):
        return
    tmp = final.with_name(f".{digest}.{os.getpid()}.tmp")
    try:
        tmp.mkdir(parents=True, exist_ok=True)
        kept = record.stored()
        if model_file is not None:
            shutil.copyfile(model_file, tmp / "model.skops")
            kept["model_sha256"] = hashlib.sha256((tmp / "model.skops").read_bytes()).hexdigest()
        if record.predictions is not None and Path(record.predictions).is_file():
            shutil.copyfile(record.predictions, tmp / PREDICTIONS)
            kept["predictions_sha256"] = hashlib.sha256(
                (tmp / PREDICTIONS).read_bytes()
            ).hexdigest()
        (tmp / "record.json").write_text(json.dumps(kept, default=str))
        os.replace(tmp, final)
    except OSError:
        shutil.rmtree(tmp, ignore_errors=True)  # a racing run stored it, or the disk is full


def lookup(model: str, digest: str) -> RunRecord | None:
    """The stored record, with ``model_path`` set when it kept a model and the file is
    intact (a damaged model file, or a record that does not parse, is a miss)."""
    entry = Layout.current().run_entry(model, digest)
    try:
        record = RunRecord.from_dict(json.loads((entry / "record.json").read_text()))
        if record.predictions_sha256 is not None:  # read (and checked) only when needed
            record = replace(record, predictions=str(entry / PREDICTIONS))
        if record.model_sha256 is None:
            return record
        data = (entry / "model.skops").read_bytes()
    except (OSError, ValueError):
        return None
    if hashlib.sha256(data).hexdigest() != record.model_sha256:
        return None
    return replace(record, model_path=str(entry / "model.skops"))
