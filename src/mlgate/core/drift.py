"""Data drift between base and head, as records and gate rules. Pure, and free of numpy:
a warm check reads a remembered report (JSON) and gates on it without importing numpy; the
statistics themselves are ``core.driftstats``.

A report holds comparisons, each of one reference data file against a current one:
``train`` (base's training data → head's), ``test`` (base's test data → head's, only when
they differ) and ``train-vs-test`` (head's training data → head's test data). Each lists
every compared column (the features and the target, which is the label shift) with
``psi`` (numeric and categorical), ``ks`` (numeric) and ``js`` (categorical, the
Jensen–Shannon distance), most drifted first.

The gate rule ``gate: {drift: {psi: {max: 0.2}, ks: {max: 0.1}, js: {max: 0.1},
features: [...]}}`` applies to the base → head comparisons (``train``, ``test``), to the
listed features (default: every compared column, the target included).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from mlgate.core.gate import DRIFT_STATS, DriftStat, RuleCheck
from mlgate.core.record import optional_number

DEFAULT_PSI = 0.2  # the usual "significant shift" of PSI: the flag when no rule sets one
DEFAULT_MAX_CELLS = 40_000_000  # rows × compared columns of one file: 2M rows × 20 columns
DEFAULT_TOP = 10  # features per comparison in the comment (the JSON has all)
FAILED_LISTED = 20  # failed drift checks per statistic and comparison before "and N more"

Status = Literal["computed", "unchanged", "skipped", "missing"]
Kind = Literal["numeric", "categorical"]
GATED = ("train", "test")  # the comparisons the gate rule applies to: base → head


@dataclass(frozen=True)
class DriftSettings:
    """``drift:`` in mlgate.yaml: whether to compute it, above which size to skip it (unless
    a gate rule asks for it), and how many features the comment shows."""

    enabled: bool = True
    max_cells: int = DEFAULT_MAX_CELLS
    top: int = DEFAULT_TOP


@dataclass(frozen=True)
class DriftRule:
    """``gate.drift``: the largest allowed value of each statistic (None: not gated), and
    the columns it applies to (None: every compared column)."""

    psi: float | None = None
    ks: float | None = None
    js: float | None = None
    features: tuple[str, ...] | None = None

    def limit(self, stat: DriftStat) -> float | None:
        value: float | None = getattr(self, stat)
        return value

    def describe(self) -> str:
        parts = [f"{s.upper()} ≤ {v:g}" for s in DRIFT_STATS if (v := self.limit(s)) is not None]
        return ", ".join(parts)


@dataclass(frozen=True)
class FeatureDrift:
    """One column compared: its statistics (None where they do not apply)."""

    name: str
    kind: Kind
    psi: float | None = None
    ks: float | None = None
    js: float | None = None
    label: bool = False  # the target: this row is the label distribution shift
    missing: tuple[float, float] = (0.0, 0.0)  # fraction of missing values, reference, current
    note: str = ""  # e.g. "numeric in base, categorical in head": no statistic
    flagged: bool = False

    def value(self, stat: DriftStat) -> float | None:
        found: float | None = getattr(self, stat)
        return found

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind,
            "label": self.label,
            "psi": self.psi,
            "ks": self.ks,
            "js": self.js,
            "missing": list(self.missing),
            "flagged": self.flagged,
            "note": self.note,
        }

    @classmethod
    def from_dict(cls, doc: Mapping[str, Any]) -> FeatureDrift:
        missing = doc.get("missing") or (0.0, 0.0)
        return cls(
            name=str(doc["name"]),
            kind="categorical" if doc.get("kind") == "categorical" else "numeric",
            psi=optional_number(doc.get("psi")),
            ks=optional_number(doc.get("ks")),
            js=optional_number(doc.get("js")),
            label=bool(doc.get("label", False)),
            missing=(float(missing[0]), float(missing[1])),
            note=str(doc.get("note") or ""),
            flagged=bool(doc.get("flagged", False)),
        )


@dataclass(frozen=True)
class Comparison:
    """One reference file against one current file."""

    name: Literal["train", "test", "train-vs-test"]
    reference: str  # who, e.g. "base's training data"
    current: str
    reference_path: str
    current_path: str
    status: Status
    note: str = ""  # why skipped or missing
    rows: tuple[int | None, int | None] = (None, None)
    sampled: bool = False  # KS and PSI from a fixed-size sample of a large file
    features: tuple[FeatureDrift, ...] = ()

    @property
    def gated(self) -> bool:
        return self.name in GATED

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "reference": self.reference,
            "current": self.current,
            "reference_path": self.reference_path,
            "current_path": self.current_path,
            "status": self.status,
            "note": self.note,
            "rows": list(self.rows),
            "sampled": self.sampled,
            "gated": self.gated,
            "flagged": sum(f.flagged for f in self.features),
            "features": [f.to_dict() for f in self.features],
        }

    def stats_dict(self) -> dict[str, Any]:
        """What the statistics decide (the remembered part): rows, sampling, features."""
        return {
            "rows": list(self.rows),
            "sampled": self.sampled,
            "features": [f.to_dict() for f in self.features],
        }

    def with_stats(self, doc: Mapping[str, Any]) -> Comparison:
        rows = doc.get("rows") or (None, None)
        return replace(
            self,
            status="computed",
            rows=(_count(rows[0]), _count(rows[1])),
            sampled=bool(doc.get("sampled", False)),
            features=tuple(FeatureDrift.from_dict(f) for f in doc.get("features") or ()),
        )


@dataclass(frozen=True)
class DriftReport:
    comparisons: tuple[Comparison, ...]
    thresholds: dict[str, float | None]  # what flags a feature: the gate's, else PSI 0.2
    top: int = DEFAULT_TOP
    rule: DriftRule | None = None
    notes: tuple[str, ...] = field(default=())

    def to_dict(self) -> dict[str, Any]:
        return {
            "thresholds": dict(self.thresholds),
            "top": self.top,
            "rule": None if self.rule is None else _rule_dict(self.rule),
            "notes": list(self.notes),
            "comparisons": [c.to_dict() for c in self.comparisons],
        }


def comparisons_from(document: Mapping[str, Any]) -> tuple[Comparison, ...]:
    """The comparisons of a report's ``drift`` (a saved result, ``mlgate publish``);
    ValueError when one does not have the shape mlgate writes."""
    found = []
    try:
        for doc in document.get("comparisons") or ():
            rows = doc.get("rows") or (None, None)
            comp = Comparison(
                name=doc["name"],
                reference=str(doc["reference"]),
                current=str(doc["current"]),
                reference_path=str(doc.get("reference_path", "")),
                current_path=str(doc.get("current_path", "")),
                status=doc["status"],
                note=str(doc.get("note") or ""),
            )
            found.append(comp.with_stats(doc) if comp.status == "computed" else comp)
            found[-1] = replace(found[-1], rows=(_count(rows[0]), _count(rows[1])))
    except (KeyError, TypeError, AttributeError, IndexError) as e:
        raise ValueError(f"not a drift report: {e}") from e
    return tuple(found)


def regated(document: Mapping[str, Any], rule: DriftRule | None) -> DriftReport:
    """A saved report's drift judged again by ``rule`` (the default branch's): flags and
    thresholds recomputed from the values, the artifact's own claims about them dropped."""
    limits = thresholds(rule)
    comparisons = tuple(
        replace(c, features=tuple(flag(c.features, limits))) for c in comparisons_from(document)
    )
    top = document.get("top")
    notes = tuple(str(n) for n in document.get("notes") or ())
    return DriftReport(
        comparisons, limits, top if isinstance(top, int) else DEFAULT_TOP, rule, notes
    )


def _rule_dict(rule: DriftRule) -> dict[str, Any]:
    return {
        "psi": rule.psi,
        "ks": rule.ks,
        "js": rule.js,
        "features": None if rule.features is None else list(rule.features),
        "describe": rule.describe(),
    }


def thresholds(rule: DriftRule | None) -> dict[str, float | None]:
    """The limits that flag a feature: the gate rule's, else PSI's customary 0.2."""
    if rule is None or all(rule.limit(s) is None for s in DRIFT_STATS):
        return {"psi": DEFAULT_PSI, "ks": None, "js": None}
    return {s: rule.limit(s) for s in DRIFT_STATS}


def flag(
    features: Sequence[FeatureDrift], limits: Mapping[str, float | None]
) -> list[FeatureDrift]:
    """``features`` flagged where a statistic is over its limit, most drifted first:
    flagged ones, then by PSI (then KS, JS) descending, then by name."""
    marked = [
        replace(f, flagged=any(_over(f.value(s), limits.get(s)) for s in DRIFT_STATS))
        for f in features
    ]

    def order(f: FeatureDrift) -> tuple[bool, float, float, float, str]:
        return (not f.flagged, -(f.psi or 0.0), -(f.ks or 0.0), -(f.js or 0.0), f.name)

    return sorted(marked, key=order)


def _over(value: float | None, limit: float | None) -> bool:
    return value is not None and limit is not None and value > limit + 1e-12


def checks(report: DriftReport | None, rule: DriftRule | None) -> tuple[RuleCheck, ...]:
    """The gate rule's checks: per gated comparison and statistic, one failed check per
    feature over the limit (at most FAILED_LISTED, then one for the rest), or one passed
    check. A comparison that could not be computed is a skipped check (its note says why);
    a listed feature that neither side has fails."""
    if rule is None:
        return ()
    stats = [s for s in DRIFT_STATS if rule.limit(s) is not None]
    if report is None:
        return tuple(
            RuleCheck("drift", s, _limit(rule, s), True, True, "drift: not computed, skipped")
            for s in stats
        )
    found: list[RuleCheck] = []
    gated = [c for c in report.comparisons if c.gated]
    for stat in stats:
        limit = _limit(rule, stat)
        if not gated:
            msg = "drift: no baseline data to compare with, skipped"
            found.append(RuleCheck("drift", stat, limit, True, True, msg))
        for comp in gated:
            found += _comparison_checks(comp, stat, limit, rule.features)
    return tuple(found)


def _limit(rule: DriftRule, stat: DriftStat) -> float:
    value = rule.limit(stat)
    assert value is not None
    return value


def _comparison_checks(
    comp: Comparison, stat: DriftStat, limit: float, wanted: tuple[str, ...] | None
) -> list[RuleCheck]:
    what = f"{comp.reference} → {comp.current}"
    if comp.status == "unchanged":
        return [RuleCheck("drift", stat, limit, True, False, "")]
    if comp.status != "computed":
        msg = f"drift {stat.upper()} ({what}): not computed, skipped: {comp.note}"
        return [RuleCheck("drift", stat, limit, True, True, msg)]
    by_name = {f.name: f for f in comp.features}
    names = list(by_name) if wanted is None else list(wanted)
    failed: list[RuleCheck] = []
    for name in names:
        feature = by_name.get(name)
        if feature is None:
            msg = f"drift: column {name!r} (gate.drift.features) is not in {comp.current_path}"
            failed.append(RuleCheck("drift", stat, limit, False, False, msg))
            continue
        value = feature.value(stat)
        if _over(value, limit):
            assert value is not None
            col = "label" if feature.label else "feature"
            msg = (
                f"drift: {col} {name!r} {stat.upper()} {value:.3g} ({what}) "
                f"is above the maximum {limit:g}"
            )
            failed.append(RuleCheck("drift", stat, limit, False, False, msg))
    if len(failed) > FAILED_LISTED:
        rest = len(failed) - FAILED_LISTED
        msg = f"drift {stat.upper()} ({what}): {rest:,} more columns above the maximum {limit:g}"
        failed = [*failed[:FAILED_LISTED], RuleCheck("drift", stat, limit, False, False, msg)]
    return failed or [RuleCheck("drift", stat, limit, True, False, "")]


def _count(value: Any) -> int | None:
    return None if value is None else int(value)
