"""The statistics of data drift, pure numpy (scipy only in the tests, as the reference).

A side's worker keeps a compact summary per column of each data file it read (its frames
are in memory; nothing is read twice), and the parent compares two summaries here:

- **numeric** columns keep their row count, missing count and a sorted sample of at most
  ``SAMPLE`` non-missing values (all of them when there are fewer; above that, drawn
  without replacement with a fixed seed, so the same file gives the same summary);
- **categorical** columns (object, string, category, bool; and a classification target)
  keep the counts of their ``TOP_K`` most frequent values (as strings, cut to
  ``VALUE_CHARS``), the count of all other values ("other") and the missing count.

From two summaries, reference (base, or head's training data) and current:

- **PSI** (population stability index), Σ (q − p) · ln(q / p) over bins. Numeric: 10
  bins between the reference sample's deciles (``np.quantile``, linear; repeated edges
  merged, so a column with few values has fewer bins), each bin ``(e[i-1], e[i]]``; plus a
  "missing" bin when either side has missing values. Categorical: one bin per value, an
  "other" bin and a "missing" bin. A proportion below ``EPSILON`` (an empty bin) counts as
  ``EPSILON``, without renormalising.
- **KS**, the two-sample Kolmogorov–Smirnov statistic sup |F_ref − F_cur| of the non-missing
  values: exactly ``scipy.stats.ks_2samp``'s statistic when both columns have at most
  ``SAMPLE`` values, else the same statistic of the seeded samples (its sampling error is
  about 1/√SAMPLE ≈ 0.01).
- **JS**, the Jensen–Shannon distance (the square root of the divergence, base 2, so in
  [0, 1]) between the categorical proportions, missing and other included; what
  ``scipy.spatial.distance.jensenshannon(p, q, base=2)`` gives.

A value present in one side's top values but only in the other's "other" is moved into the
first side's "other" too (both sides then compare the same bins); when the other side has no
"other" (all its values are listed), it has none of that value, and the bin stays.
"""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from mlgate.core.drift import FeatureDrift, Kind

SAMPLE = 10_000  # numeric values kept per column; KS is exact up to this many
TOP_K = 50  # categorical values counted per column; the rest is "other"
VALUE_CHARS = 100  # a categorical value is kept as at most this many characters
BINS = 10  # PSI's quantile bins of the reference
EPSILON = 1e-4  # the proportion an empty bin counts as
SEED = 0
FORMAT = 1  # of the summary file: part of the key it is remembered under


@dataclass(frozen=True)
class Column:
    """One column's summary: a numeric one's sorted sample, or a categorical one's counts."""

    name: str
    kind: Kind
    rows: int
    missing: int
    sample: NDArray[np.float64] | None = None  # numeric: sorted, non-missing
    values: tuple[str, ...] = ()  # categorical: the top values, most frequent first
    counts: NDArray[np.int64] | None = None
    other: int = 0  # categorical: rows with any other value

    @property
    def sampled(self) -> bool:
        return self.sample is not None and len(self.sample) < self.rows - self.missing


@dataclass(frozen=True)
class Summary:
    rows: int
    target: str
    columns: dict[str, Column]


# --- summarising (the worker) ----------------------------------------------------------------


def numeric_sample(values: NDArray[Any], seed: int = SEED) -> tuple[NDArray[np.float64], int]:
    """The sorted sample of a numeric column's non-missing values, and its missing count."""
    data = np.asarray(values, dtype=np.float64)
    keep = ~np.isnan(data)
    present = data[keep]
    if len(present) > SAMPLE:
        rng = np.random.default_rng(seed)
        present = present[rng.choice(len(present), size=SAMPLE, replace=False)]
    return np.sort(present), int(len(data) - keep.sum())


def top_values(
    counts: Mapping[str, int], rows: int, missing: int
) -> tuple[tuple[str, ...], NDArray[np.int64], int]:
    """The TOP_K most frequent values (ties by value), their counts, and the rest's count."""
    merged: dict[str, int] = {}
    for value, count in counts.items():
        key = str(value)[:VALUE_CHARS]
        merged[key] = merged.get(key, 0) + int(count)
    ranked = sorted(merged.items(), key=lambda kv: (-kv[1], kv[0]))[:TOP_K]
    kept = np.array([c for _, c in ranked], dtype=np.int64)
    return tuple(v for v, _ in ranked), kept, int(rows - missing - kept.sum())


def to_npz(summary: Summary) -> bytes:
    """The summary as an uncompressed npz of plain arrays (no pickles): a JSON header
    ``meta`` (rows, target, and per column name, kind, rows, missing, other) and arrays
    ``s<i>`` (numeric samples), ``v<i>`` and ``c<i>`` (categorical values and counts)."""
    arrays: dict[str, NDArray[Any]] = {}
    columns = []
    for i, col in enumerate(summary.columns.values()):
        columns.append(
            {"name": col.name, "kind": col.kind, "rows": col.rows, "missing": col.missing}
            | ({"other": col.other} if col.kind == "categorical" else {})
        )
        if col.kind == "numeric":
            assert col.sample is not None
            arrays[f"s{i}"] = col.sample
        else:
            arrays[f"v{i}"] = np.array(col.values, dtype=str)
            arrays[f"c{i}"] = np.asarray(col.counts, dtype=np.int64)
    meta = {"format": FORMAT, "rows": summary.rows, "target": summary.target, "columns": columns}
    arrays["meta"] = np.array(json.dumps(meta))
    out = io.BytesIO()
    np.savez(out, **arrays)  # type: ignore[arg-type]
    return out.getvalue()


def from_npz(data: bytes) -> Summary:
    """A summary file back: plain stored arrays only; ValueError when it is anything else."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            members = archive.infolist()
        if any(m.compress_type != zipfile.ZIP_STORED for m in members):
            raise ValueError("it holds compressed members")
        with np.load(io.BytesIO(data), allow_pickle=False) as arrays:
            found = {name: arrays[name] for name in arrays.files}
        meta = json.loads(str(found["meta"]))
        columns = {}
        for i, doc in enumerate(meta["columns"]):
            name, kind = str(doc["name"]), doc["kind"]
            rows, missing = int(doc["rows"]), int(doc["missing"])
            if kind == "numeric":
                sample = np.asarray(found[f"s{i}"], dtype=np.float64)
                columns[name] = Column(name, "numeric", rows, missing, sample=sample)
            elif kind == "categorical":
                values = tuple(str(v) for v in found[f"v{i}"].tolist())
                counts = np.asarray(found[f"c{i}"], dtype=np.int64)
                other = int(doc["other"])
                columns[name] = Column(
                    name, "categorical", rows, missing, values=values, counts=counts, other=other
                )
            else:
                raise ValueError(f"unknown column kind {kind!r}")
        return Summary(int(meta["rows"]), str(meta["target"]), columns)
    except (KeyError, TypeError, OSError, zipfile.BadZipFile, json.JSONDecodeError) as e:
        raise ValueError(f"not a drift summary: {e}") from e


# --- the statistics ------------------------------------------------------------------------


def psi(
    reference: Sequence[float] | NDArray[Any], current: Sequence[float] | NDArray[Any]
) -> float:
    """PSI of two vectors of bin proportions, empty bins counted as EPSILON."""
    p = np.maximum(np.asarray(reference, dtype=np.float64), EPSILON)
    q = np.maximum(np.asarray(current, dtype=np.float64), EPSILON)
    return float(np.sum((q - p) * np.log(q / p)))


def js_distance(
    reference: Sequence[float] | NDArray[Any], current: Sequence[float] | NDArray[Any]
) -> float:
    """The Jensen–Shannon distance (base 2) of two proportion vectors (normalised here)."""
    p = np.asarray(reference, dtype=np.float64)
    q = np.asarray(current, dtype=np.float64)
    if p.sum() <= 0 or q.sum() <= 0:
        return 0.0
    p, q = p / p.sum(), q / q.sum()
    m = (p + q) / 2

    def kl(a: NDArray[np.float64]) -> float:
        nz = a > 0
        return float(np.sum(a[nz] * np.log2(a[nz] / m[nz])))

    return float(np.sqrt(max(0.0, (kl(p) + kl(q)) / 2)))


def ks(reference: NDArray[Any], current: NDArray[Any]) -> float:
    """sup |F_ref − F_cur| of two samples (sorted or not): the two-sample KS statistic."""
    a, b = (
        np.sort(np.asarray(reference, dtype=np.float64)),
        np.sort(np.asarray(current, dtype=np.float64)),
    )
    if len(a) == 0 or len(b) == 0:
        return 0.0
    points = np.concatenate([a, b])
    fa = np.searchsorted(a, points, side="right") / len(a)
    fb = np.searchsorted(b, points, side="right") / len(b)
    return float(np.max(np.abs(fa - fb)))


def numeric_bins(
    reference: NDArray[Any],
    current: NDArray[Any],
    missing: tuple[float, float] = (0.0, 0.0),
    bins: int = BINS,
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Both sides' proportions in ``bins`` quantile bins of the reference (see the module),
    the present values scaled by 1 − missing, then a missing bin when either has one."""
    ref = np.asarray(reference, dtype=np.float64)
    cur = np.asarray(current, dtype=np.float64)
    if len(ref) == 0:
        edges = np.array([], dtype=np.float64)
    else:
        edges = np.unique(np.quantile(ref, np.linspace(0, 1, bins + 1)[1:-1]))

    def share(values: NDArray[np.float64], lost: float) -> NDArray[np.float64]:
        counts = np.bincount(np.searchsorted(edges, values, side="left"), minlength=len(edges) + 1)
        total = counts.sum()
        return counts / total * (1 - lost) if total else np.zeros(len(edges) + 1)

    p, q = share(ref, missing[0]), share(cur, missing[1])
    if missing[0] > 0 or missing[1] > 0:
        p, q = np.append(p, missing[0]), np.append(q, missing[1])
    return p, q


def categorical_bins(ref: Column, cur: Column) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Both sides' proportions over the same bins: the values, other, missing."""
    assert ref.counts is not None and cur.counts is not None
    rc = dict(zip(ref.values, ref.counts.tolist(), strict=True))
    cc = dict(zip(cur.values, cur.counts.tolist(), strict=True))
    r_other, c_other = ref.other, cur.other
    keys = list(dict.fromkeys([*ref.values, *cur.values]))
    kept = []
    for key in keys:
        if key in rc and key not in cc and cur.other > 0:  # hidden in current's "other"
            r_other += rc.pop(key)
        elif key in cc and key not in rc and ref.other > 0:
            c_other += cc.pop(key)
        else:
            kept.append(key)
    p = [rc.get(k, 0) for k in kept] + [r_other, ref.missing]
    q = [cc.get(k, 0) for k in kept] + [c_other, cur.missing]
    pa, qa = np.asarray(p, dtype=np.float64), np.asarray(q, dtype=np.float64)
    return pa / max(ref.rows, 1), qa / max(cur.rows, 1)


def compare_column(ref: Column, cur: Column, *, label: bool = False) -> FeatureDrift:
    fractions = (ref.missing / max(ref.rows, 1), cur.missing / max(cur.rows, 1))
    if ref.kind != cur.kind:
        note = f"{ref.kind} in the reference, {cur.kind} in the current data: not compared"
        return FeatureDrift(cur.name, cur.kind, label=label, missing=fractions, note=note)
    if ref.kind == "numeric":
        assert ref.sample is not None and cur.sample is not None
        p, q = numeric_bins(ref.sample, cur.sample, fractions)
        return FeatureDrift(
            cur.name,
            "numeric",
            psi=round(psi(p, q), 6),
            ks=round(ks(ref.sample, cur.sample), 6),
            label=label,
            missing=fractions,
        )
    p, q = categorical_bins(ref, cur)
    return FeatureDrift(
        cur.name,
        "categorical",
        psi=round(psi(p, q), 6),
        js=round(js_distance(p, q), 6),
        label=label,
        missing=fractions,
    )


def compare(reference: Summary, current: Summary) -> tuple[list[FeatureDrift], bool]:
    """Every column both summaries have, compared; and whether any came from a sample.
    A column only one side has is listed with a note (the data diff names it too)."""
    found = []
    sampled = False
    for name, cur in current.columns.items():
        ref = reference.columns.get(name)
        label = name == current.target
        if ref is None:
            note = "not in the reference data"
            found.append(FeatureDrift(name, cur.kind, label=label, note=note))
            continue
        sampled = sampled or ref.sampled or cur.sampled
        found.append(compare_column(ref, cur, label=label))
    for name, ref in reference.columns.items():
        if name not in current.columns:
            found.append(FeatureDrift(name, ref.kind, note="not in the current data"))
    return found, sampled
