"""The production branch's format: what a promoted version is made of, and how it is named.

An orphan branch (default ``production``) holds, per model, ``<name>/model.skops``,
``metrics.json``, ``lineage.json`` and ``MODEL_CARD.md``. Each promotion or rollback is one
commit ``promote <name> v<N> from <short sha>`` and an annotated tag (``<name>@v<N>`` by
default) whose message starts with a human headline and ends with a JSON block, so
``mlgate history`` reads every version from the tags in one git call. Pure: no git here.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

DEFAULT_BRANCH = "production"
DEFAULT_TAG = "{name}@v{version}"
MODEL_FILE, METRICS_FILE, LINEAGE_FILE, CARD_FILE = (
    "model.skops",
    "metrics.json",
    "lineage.json",
    "MODEL_CARD.md",
)
TAG_SCHEMA = "mlgate/tag@1"
LINEAGE_SCHEMA = "mlgate/lineage@1"


def path(model: str, name: str) -> str:
    """A file of a model on the production branch, e.g. ``churn/lineage.json``."""
    return f"{model}/{name}"


def tag_name(template: str, model: str, version: int) -> str:
    return template.format(name=model, version=version)


def tag_pattern(template: str, model: str) -> re.Pattern[str]:
    """Matches this model's tags and captures the version (``churn@v12`` -> 12)."""
    marker = "\0VERSION\0"
    literal = re.escape(template.format(name=model, version=marker))
    return re.compile("^" + literal.replace(re.escape(marker), r"([1-9][0-9]*)") + "$")


def tag_glob(template: str, model: str) -> str:
    """A ``git for-each-ref`` pattern that finds this model's tags."""
    return "refs/tags/" + template.format(name=model, version="*")


@dataclass(frozen=True)
class DataRef:
    path: str
    sha256: str
    size: int


@dataclass(frozen=True)
class Lineage:
    """``<name>/lineage.json``: where a version came from and what it replaced."""

    model: str
    version: int
    kind: Literal["promotion", "rollback"]
    source_commit: str  # the commit the model was trained from
    metrics: dict[str, float]  # this version on its evaluation data
    model_sha256: str  # of model.skops: checked before the file is ever loaded
    model_size: int
    time: str  # ISO 8601, UTC
    config: dict[str, Any] = field(default_factory=dict)
    data: dict[str, DataRef] = field(default_factory=dict)  # role -> data file
    pull_request: int | None = None
    rollback_of: int | None = None
    replaced_version: int | None = None  # the champion this version replaced
    champion_metrics: dict[str, float] | None = None  # that champion on the same data
    versions: dict[str, str] = field(default_factory=dict)  # python, mlgate, scikit-learn…

    def to_dict(self) -> dict[str, Any]:
        return {"schema": LINEAGE_SCHEMA, **asdict(self)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Lineage:
        fields = {k: v for k, v in data.items() if k != "schema"}
        fields["data"] = {role: DataRef(**ref) for role, ref in fields.get("data", {}).items()}
        return cls(**fields)


def commit_message(lineage: Lineage) -> str:
    """``promote churn v3 from 1a2b3c4``, with the rollback or replaced version below."""
    head = f"promote {lineage.model} v{lineage.version} from {lineage.source_commit[:7]}"
    if lineage.rollback_of is not None:
        return f"{head}\n\nrollback of v{lineage.rollback_of}\n"
    if lineage.replaced_version is not None:
        return f"{head}\n\nreplaces v{lineage.replaced_version}\n"
    return head + "\n"


def headline(metrics: Mapping[str, float], order: Sequence[str]) -> str:
    """``accuracy 0.9415, f1_macro 0.9376``: the metrics in config order, 4 significant."""
    shown = [m for m in order if m in metrics] or sorted(metrics)
    return ", ".join(f"{m} {metrics[m]:.4g}" for m in shown)


def tag_message(lineage: Lineage, order: Sequence[str]) -> str:
    """First line for people (``git tag -n``), then a JSON block for ``mlgate history``."""
    what = f" (rollback of v{lineage.rollback_of})" if lineage.rollback_of is not None else ""
    first = f"{lineage.model} v{lineage.version}{what}: {headline(lineage.metrics, order)}"
    block = {
        "schema": TAG_SCHEMA,
        "model": lineage.model,
        "version": lineage.version,
        "kind": lineage.kind,
        "rollback_of": lineage.rollback_of,
        "source_commit": lineage.source_commit,
        "pull_request": lineage.pull_request,
        "metrics": lineage.metrics,
        "headline_metric": next(iter(order), None),
        "time": lineage.time,
    }
    return f"{first}\n\n{json.dumps(block, sort_keys=True)}\n"


def parse_tag_message(text: str) -> dict[str, Any] | None:
    """The JSON block of a tag message, or None when it is not an mlgate tag."""
    last = text.strip().rsplit("\n", 1)[-1]
    try:
        block = json.loads(last)
    except (ValueError, RecursionError):  # RecursionError: a deeply nested JSON "bomb"
        return None
    if not isinstance(block, dict) or block.get("schema") != TAG_SCHEMA:
        return None
    return block
