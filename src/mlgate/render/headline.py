"""The report's first lines, read in ten seconds: the verdict, the one number that decided
it, and the biggest surprise (what a reviewer would want to know before the tables).

Both are picked from the report document (``CheckResult.to_dict()``), so a saved result
renders the same headline; every string stays untrusted (the templates escape it).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

Report = Mapping[str, Any]


def deciding_rule(report: Report) -> str | None:
    """A failed rule that has no metrics row (the flips rule): its message leads instead."""
    rows = {row["name"] for row in report["metrics"]}
    first = next(iter(report["failed_rules"]), None)
    if first is None or first["metric"] in rows:
        return None
    return str(first["message"])


def decider(report: Report) -> Mapping[str, Any] | None:
    """The metrics row that decided the verdict: a failed rule's metric (the first), else
    the first gated metric, else the first row."""
    rows: dict[str, Mapping[str, Any]] = {row["name"]: row for row in report["metrics"]}
    if deciding_rule(report):
        return None
    for rule in report["failed_rules"]:
        if rule["metric"] in rows:
            return rows[rule["metric"]]
    gated = [row for row in rows.values() if row.get("rule")]
    return next(iter(gated or rows.values()), None)


def surprise(report: Report) -> str | None:
    """The one thing most worth a look that the verdict does not say, or None. In order: a
    drop over a rule's tolerance that passed as within noise, a drifted feature, a class
    that got worse, predictions that broke (1% or more of the rows), a test set too small
    to detect a rule's drop, an unseeded estimator."""
    for find in _FINDERS:
        found = next(find(report), None)
        if found:
            return found
    return None


def _forgiven(report: Report) -> Iterator[str]:
    for note in report["notes"]:
        if ", but within noise at " in note:
            yield note.split("; ")[0]


def _drifted(report: Report) -> Iterator[str]:
    """The most drifted flagged column of a base → head comparison (train first)."""
    drift = report.get("drift") or {}
    for comparison in drift.get("comparisons") or ():
        if comparison.get("name") == "train-vs-test":
            continue
        for feature in comparison.get("features") or ():  # most drifted first
            if feature.get("flagged"):
                what = "the label" if feature.get("label") else f"feature {feature['name']}"
                stats = [
                    f"{stat.upper()} {feature[stat]:.2f}"
                    for stat in ("psi", "ks", "js")
                    if isinstance(feature.get(stat), (int, float))
                ]
                shown = f" ({', '.join(stats)})" if stats else ""
                yield f"{what} drifted in the {comparison['name']} data{shown}"


def _worse_class(report: Report) -> Iterator[str]:
    changes = report.get("changes") or {}
    for cls in changes.get("per_class") or ():  # the largest F1 drop first
        delta = (cls.get("delta") or {}).get("f1")
        if isinstance(delta, (int, float)) and delta <= -0.01:
            base, head = cls["base"]["f1"], cls["head"]["f1"]
            yield f"class {cls['label']} got worse: F1 {base:.3f} → {head:.3f} ({delta:+.3f})"


def _broken(report: Report) -> Iterator[str]:
    flips = (report.get("changes") or {}).get("flips") or {}
    if flips and flips.get("broken_pct", 0) >= 1.0:
        rows = report["changes"]["rows"]
        yield (
            f"{flips['broken']:,} of {rows:,} test rows that base got right are wrong in head "
            f"({flips['broken_pct']:.2f}%)"
        )


def _blind(report: Report) -> Iterator[str]:
    for note in report["notes"]:
        for part in note.split("; "):
            if " cannot detect a " in part:
                yield part


def _unseeded(report: Report) -> Iterator[str]:
    for note in report["notes"]:
        if "results vary between runs" in note:
            yield note


_FINDERS: tuple[Callable[[Report], Iterator[str]], ...] = (
    _forgiven,
    _drifted,
    _worse_class,
    _broken,
    _blind,
    _unseeded,
)
