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
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from typing import Any, Literal, TypeVar

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
T = TypeVar("T")


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
    # What `mlgate serve` checks requests against: [{"name", "type"}] in the model's column
    # order (recorded since issue 14; None for older versions: serve uses feature_names_in_).
    input_schema: list[dict[str, str]] | None = None

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


# --- versions, as mlgate history reads them from tags -----------------------------------


@dataclass(frozen=True)
class Version:
    """One promoted version: a tag on the production branch and its JSON block."""

    version: int
    tag: str
    kind: str  # "promotion" | "rollback"
    rollback_of: int | None
    source_commit: str  # the commit the model was trained from
    pull_request: int | None
    metrics: dict[str, float]
    headline_metric: str | None
    time: str  # ISO 8601
    commit: str  # the production-branch commit the tag points to


def version_from_block(
    block: Mapping[str, Any], *, tag: str, commit: str, tagger_date: str
) -> Version:
    """The version a tag's JSON block describes; TypeError or ValueError for a field that
    does not have the shape mlgate writes (a tag is anyone's to push: never trusted)."""
    kind = block.get("kind")
    if kind not in ("promotion", "rollback"):
        raise ValueError(f"unknown kind {kind!r}")
    return Version(
        version=_positive(block["version"]),
        tag=tag,
        kind=kind,
        rollback_of=_optional(block.get("rollback_of"), _positive),
        source_commit=_string(block.get("source_commit")),
        pull_request=_optional(block.get("pull_request"), _positive),
        metrics=_metrics(block.get("metrics")),
        headline_metric=_optional(block.get("headline_metric"), _string),
        time=_time(block.get("time"), tagger_date),
        commit=commit,
    )


def _positive(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"not a positive integer: {value!r}")
    return value


def _string(value: object) -> str:
    if not isinstance(value, str):
        raise TypeError(f"not a string: {value!r}")
    return value


def _optional(value: object, convert: Callable[[object], T]) -> T | None:
    return None if value is None else convert(value)


def _metrics(value: object) -> dict[str, float]:
    if not isinstance(value, dict):
        raise TypeError(f"metrics is not an object: {value!r}")
    metrics: dict[str, float] = {}
    for name, number in value.items():
        if isinstance(number, bool) or not isinstance(number, (int, float)):
            raise TypeError(f"metric {name!r} is not a number: {number!r}")
        metrics[name] = float(number)
    return metrics


def _time(value: object, tagger_date: str) -> str:
    """The promotion time from the block; the tagger date when the block's is unreadable."""
    if isinstance(value, str) and parse_time(value) is not None:
        return value
    return tagger_date


def parse_time(value: str) -> datetime | None:
    try:  # Python 3.10's fromisoformat does not read a trailing "Z"
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)
