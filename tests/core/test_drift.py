"""The drift statistics against scipy and hand computations, and the drift gate rule."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.spatial.distance import jensenshannon
from scipy.stats import ks_2samp

from mlgate.core import driftstats
from mlgate.core.drift import (
    Comparison,
    DriftReport,
    DriftRule,
    FeatureDrift,
    checks,
    flag,
    regated,
    thresholds,
)
from mlgate.core.driftstats import Column, Summary


@pytest.mark.parametrize("seed", range(5))
def test_ks_is_scipys_statistic_on_small_samples(seed: int) -> None:
    rng = np.random.default_rng(seed)
    a = rng.normal(size=rng.integers(5, 400))
    b = rng.normal(0.3, 1.2, size=rng.integers(5, 400))
    b[:3] = a[:3]  # ties across the samples
    assert driftstats.ks(a, b) == pytest.approx(ks_2samp(a, b).statistic, abs=1e-15)


def test_ks_of_integers_with_many_ties_is_scipys() -> None:
    rng = np.random.default_rng(1)
    a, b = rng.integers(0, 5, size=300), rng.integers(1, 6, size=200)
    assert driftstats.ks(a, b) == pytest.approx(ks_2samp(a, b).statistic, abs=1e-15)


def test_a_sample_is_the_whole_column_up_to_the_sample_size_and_seeded_above() -> None:
    rng = np.random.default_rng(2)
    small = rng.normal(size=driftstats.SAMPLE)
    small[::100] = np.nan
    sample, missing = driftstats.numeric_sample(small)
    assert missing == 100 and len(sample) == driftstats.SAMPLE - 100
    assert np.array_equal(sample, np.sort(small[~np.isnan(small)]))
    big = rng.normal(size=200_000)
    first, _ = driftstats.numeric_sample(big)
    again, _ = driftstats.numeric_sample(big)
    assert len(first) == driftstats.SAMPLE and np.array_equal(first, again)
    shifted, _ = driftstats.numeric_sample(big + 0.1)
    # KS of the samples is within a few 1/sqrt(SAMPLE) of the exact one.
    exact = ks_2samp(big, big + 0.1).statistic
    assert abs(driftstats.ks(first, shifted) - exact) < 0.03


def test_psi_of_quantile_bins_matches_a_hand_computation() -> None:
    # Two bins: the reference's median 2.5 is the edge; (-inf, 2.5], (2.5, inf).
    p, q = driftstats.numeric_bins(np.array([1.0, 2, 3, 4]), np.array([3.0, 4, 5, 6]), bins=2)
    assert list(p) == [0.5, 0.5] and list(q) == [0.0, 1.0]
    eps = 1e-4
    by_hand = (eps - 0.5) * math.log(eps / 0.5) + (1.0 - 0.5) * math.log(1.0 / 0.5)
    assert driftstats.psi(p, q) == pytest.approx(by_hand, rel=1e-12)
    assert by_hand == pytest.approx(4.6043, abs=1e-4)


def test_psi_with_ten_deciles_and_a_missing_bin() -> None:
    ref = np.arange(1.0, 101.0)  # deciles at 10.9, 20.8, ...: ten bins of ten values each
    cur = np.arange(1.0, 101.0)
    p, q = driftstats.numeric_bins(ref, cur, missing=(0.0, 0.2))
    assert len(p) == 11  # ten bins and the missing one
    assert np.allclose(p[:10], 0.1) and p[10] == 0
    assert np.allclose(q[:10], 0.08) and q[10] == pytest.approx(0.2)
    by_hand = 10 * (0.08 - 0.1) * math.log(0.08 / 0.1) + (0.2 - 1e-4) * math.log(0.2 / 1e-4)
    assert driftstats.psi(p, q) == pytest.approx(by_hand, rel=1e-12)


def test_identical_data_has_zero_drift() -> None:
    rng = np.random.default_rng(3)
    x = np.sort(rng.normal(size=1000))
    p, q = driftstats.numeric_bins(x, x)
    assert driftstats.psi(p, q) == 0 and driftstats.ks(x, x) == 0


def categorical(name: str, counts: dict[str, int], other: int = 0, missing: int = 0) -> Column:
    rows = sum(counts.values()) + other + missing
    values, kept, rest = driftstats.top_values(counts, rows - other, missing)
    assert rest == 0
    return Column(name, "categorical", rows, missing, values=values, counts=kept, other=other)


def test_categorical_js_and_psi_match_hand_computations() -> None:
    ref = categorical("plan", {"a": 50, "b": 30, "c": 20})
    cur = categorical("plan", {"a": 20, "b": 30, "d": 50})
    p, q = driftstats.categorical_bins(ref, cur)
    # bins: a, b, c, d, other, missing
    assert list(p) == [0.5, 0.3, 0.2, 0.0, 0.0, 0.0]
    assert list(q) == [0.2, 0.3, 0.0, 0.5, 0.0, 0.0]
    m = [0.35, 0.3, 0.1, 0.25]
    kl_p = 0.5 * math.log2(0.5 / 0.35) + 0.3 * math.log2(0.3 / 0.3) + 0.2 * math.log2(0.2 / 0.1)
    kl_q = 0.2 * math.log2(0.2 / 0.35) + 0.3 * math.log2(0.3 / 0.3) + 0.5 * math.log2(0.5 / 0.25)
    assert sum(m) == pytest.approx(1)
    by_hand = math.sqrt((kl_p + kl_q) / 2)
    assert driftstats.js_distance(p, q) == pytest.approx(by_hand, rel=1e-12)
    assert driftstats.js_distance(p, q) == pytest.approx(jensenshannon(p, q, base=2), rel=1e-12)
    eps = 1e-4
    psi = (
        (0.2 - 0.5) * math.log(0.2 / 0.5)
        + (eps - 0.2) * math.log(eps / 0.2)
        + (0.5 - eps) * math.log(0.5 / eps)
    )
    assert driftstats.psi(p, q) == pytest.approx(psi, rel=1e-12)


def test_a_value_hidden_in_the_others_other_moves_into_other_on_both_sides() -> None:
    # Head lists only its top values: "c" may be among its 10 "other" rows.
    ref = categorical("plan", {"a": 50, "b": 30, "c": 20})
    cur = Column(
        "plan", "categorical", 100, 0, values=("a", "b"), counts=np.array([60, 30]), other=10
    )
    p, q = driftstats.categorical_bins(ref, cur)
    assert list(p) == [0.5, 0.3, 0.2, 0.0]  # a, b, other (c moved there), missing
    assert list(q) == [0.6, 0.3, 0.1, 0.0]


def test_top_values_keep_the_most_frequent_and_count_the_rest() -> None:
    counts = {f"v{i}": i + 1 for i in range(driftstats.TOP_K + 5)}
    values, kept, other = driftstats.top_values(counts, sum(counts.values()), 0)
    assert len(values) == driftstats.TOP_K and values[0] == f"v{driftstats.TOP_K + 4}"
    assert other == sum(range(1, 6)) and int(kept[0]) == driftstats.TOP_K + 5


def test_a_summary_round_trips_through_its_npz_without_pickles() -> None:
    sample = np.sort(np.random.default_rng(4).normal(size=50))
    summary = Summary(
        60,
        "label",
        {
            "x": Column("x", "numeric", 60, 10, sample=sample),
            "<b>": categorical("<b>", {"@a": 40, "b": 20}),
        },
    )
    back = driftstats.from_npz(driftstats.to_npz(summary))
    assert back.rows == 60 and back.target == "label"
    assert np.array_equal(back.columns["x"].sample, sample)  # type: ignore[arg-type]
    assert back.columns["<b>"].values == ("@a", "b")
    with pytest.raises(ValueError):
        driftstats.from_npz(b"not a zip")


def test_compare_lists_the_label_and_columns_only_one_side_has() -> None:
    x = np.arange(10.0)
    ref = Summary(
        10,
        "y",
        {
            "x": Column("x", "numeric", 10, 0, sample=x),
            "old": Column("old", "numeric", 10, 0, sample=x),
        },
    )
    cur = Summary(
        10,
        "y",
        {"x": Column("x", "numeric", 10, 0, sample=x + 5), "y": categorical("y", {"1": 10})},
    )
    found, sampled = driftstats.compare(ref, cur)
    by_name = {f.name: f for f in found}
    assert by_name["x"].ks == 0.5 and not sampled
    assert by_name["y"].label and by_name["y"].note == "not in the reference data"
    assert by_name["old"].note == "not in the current data"


# --- the gate rule ---------------------------------------------------------------------------


def report(*features: FeatureDrift, name: str = "train", status: str = "computed") -> DriftReport:
    comp = Comparison(
        name=name,  # type: ignore[arg-type]
        reference="base's training data",
        current="head's training data",
        reference_path="data/train.csv",
        current_path="data/train.csv",
        status=status,  # type: ignore[arg-type]
        note="because",
        features=tuple(flag(features, {"psi": 0.2})),
    )
    return DriftReport((comp,), thresholds(None))


def test_flag_orders_the_drifted_first() -> None:
    found = flag(
        [FeatureDrift("a", "numeric", psi=0.1), FeatureDrift("b", "numeric", psi=0.5)],
        {"psi": 0.2, "ks": None, "js": None},
    )
    assert [(f.name, f.flagged) for f in found] == [("b", True), ("a", False)]


def test_the_drift_rule_fails_per_feature_over_the_limit() -> None:
    drifted = report(FeatureDrift("a", "numeric", psi=0.1), FeatureDrift("b", "numeric", psi=0.5))
    rule = DriftRule(psi=0.2)
    [check] = checks(drifted, rule)
    assert not check.passed and check.kind == "psi" and check.metric == "drift"
    assert "'b' PSI 0.5" in check.message and "maximum 0.2" in check.message
    assert all(c.passed for c in checks(drifted, DriftRule(psi=0.6)))
    only_a = checks(drifted, DriftRule(psi=0.2, features=("a",)))
    assert [c.passed for c in only_a] == [True]
    unknown = checks(drifted, DriftRule(psi=0.2, features=("zzz",)))
    assert not unknown[0].passed and "'zzz'" in unknown[0].message


def test_train_vs_test_is_not_gated_and_unknown_drift_is_skipped() -> None:
    within = report(FeatureDrift("b", "numeric", psi=9.0), name="train-vs-test")
    [check] = checks(within, DriftRule(psi=0.2))
    assert check.passed and check.skipped  # no base → head comparison: nothing to gate
    missing = report(status="missing")
    [check] = checks(missing, DriftRule(ks=0.1))
    assert check.passed and check.skipped and "because" in check.message
    assert checks(report(), None) == ()


def test_a_saved_reports_drift_is_judged_again_by_another_rule() -> None:
    saved = report(FeatureDrift("b", "numeric", psi=0.5, ks=0.3)).to_dict()
    saved["comparisons"][0]["features"][0]["flagged"] = False  # the artifact's claim
    judged = regated(saved, DriftRule(psi=0.4))
    [comp] = judged.comparisons
    assert comp.features[0].flagged and judged.thresholds["psi"] == 0.4
    [check] = checks(judged, DriftRule(psi=0.4))
    assert not check.passed
    with pytest.raises(ValueError):
        regated({"comparisons": [{"name": "train"}]}, None)
