"""Agreement statistics against published reference values and hand-computed cases."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import cohen_kappa_score

from ssc_core.analysis.agreement import (
    bland_altman,
    bland_altman_points,
    compare,
    compare_errors,
    icc,
    mae,
    weighted_kappa,
    wilcoxon_errors,
)
from ssc_core.analysis.icc import icc_a1_anova, icc_a1_matrix, icc_table, select_icc_a1
from ssc_core.analysis.results import Estimate
from ssc_core.analysis.tables import ratings_table
from ssc_core.constants import LIKERT_SCALE, SCORE_GRID

# Shrout & Fleiss (1979), Table 2: six targets rated by four judges.
SHROUT_FLEISS = np.array(
    [[9, 2, 5, 8], [6, 1, 3, 2], [8, 4, 6, 8], [7, 1, 2, 6], [10, 5, 6, 9], [6, 2, 4, 7]]
)
SHROUT_FLEISS_ICC = {
    "ICC(1,1)": 0.1657,
    "ICC(A,1)": 0.2898,
    "ICC(C,1)": 0.7148,
    "ICC(1,k)": 0.4428,
    "ICC(A,k)": 0.6201,
    "ICC(C,k)": 0.9093,
}


def _long(matrix: np.ndarray) -> pd.DataFrame:
    n, k = matrix.shape
    return pd.DataFrame(
        {"t": np.repeat(np.arange(n), k), "r": np.tile(np.arange(k), n), "s": matrix.ravel().astype(float)}
    )


# --- ICC -------------------------------------------------------------------------------------------------


def test_shrout_fleiss_six_icc_values_to_four_decimals():
    table = icc_table(_long(SHROUT_FLEISS), targets="t", raters="r", ratings="s")
    got = dict(zip(table["Type"], table["ICC"]))
    for name, expected in SHROUT_FLEISS_ICC.items():
        assert round(got[name], 4) == expected, name


@pytest.mark.parametrize("engine", ["anova", "pingouin"])
def test_shrout_fleiss_icc_a1_with_ci(engine):
    est = icc(*SHROUT_FLEISS.T, engine=engine)
    assert est.statistic == "ICC(A,1)"
    assert round(est.value, 4) == 0.2898
    assert est.ci is not None
    assert (round(est.ci[0], 2), round(est.ci[1], 2)) == (0.02, 0.76)
    assert (est.n_cases, est.n_raters, est.n_obs) == (6, 4, 6)


def test_pingouin_ci_is_not_rounded_to_two_decimals():
    row = icc_a1_matrix(SHROUT_FLEISS.astype(float), engine="pingouin")
    # pingouin rounds its CI column to 2 decimals by default; the wrapper switches that off.
    assert row.ci_low != round(row.ci_low, 2)
    assert row.ci_low == pytest.approx(icc_a1_anova(SHROUT_FLEISS).ci_low, rel=1e-9)


def test_anova_engine_equals_pingouin_on_many_random_tables():
    rng = np.random.default_rng(42)
    checked = 0
    for trial in range(150):
        n = int(rng.integers(3, 40))  # pingouin needs at least 5 ratings
        k = int(rng.integers(2, 6))
        if trial % 3 == 0:  # grid scores with many ties, as readers give them
            base = rng.integers(0, 21, size=(n, 1)) * 5
            m = np.clip(base + rng.integers(-2, 3, size=(n, k)) * 5, 0, 100).astype(float)
        elif trial % 3 == 1:
            m = rng.normal(50, 20, size=(n, 1)) + rng.normal(rng.normal(0, 5, size=k), 8, size=(n, k))
        else:
            m = rng.normal(size=(n, k))
        ours = icc_a1_anova(m)
        ref = icc_a1_matrix(m, engine="pingouin")
        for a, b in [(ours.value, ref.value), (ours.ci_low, ref.ci_low), (ours.ci_high, ref.ci_high)]:
            if math.isnan(b):
                assert math.isnan(a)
            else:
                assert a == pytest.approx(b, rel=1e-8, abs=1e-10)
        assert ours.pval == pytest.approx(ref.pval, rel=1e-8, abs=1e-12)
        checked += 1
    assert checked == 150


def test_icc_row_selected_by_meaning_across_pingouin_versions():
    new = pd.DataFrame(
        {
            "Type": ["ICC(C,1)", "ICC(A,1)", "ICC(1,1)"],  # shuffled: never pick by position
            "ICC": [0.7, 0.29, 0.16],
            "F": [11.0, 11.0, 1.8],
            "df1": 5,
            "df2": 15,
            "pval": [0.001, 0.001, 0.16],
            "CI95": [np.array([0.3, 0.9]), np.array([0.02, 0.76]), np.array([-0.1, 0.7])],
        }
    )
    assert select_icc_a1(new).value == 0.29
    old = pd.DataFrame(
        {
            "Type": ["ICC1", "ICC2", "ICC3", "ICC1k", "ICC2k", "ICC3k"],
            "Description": [
                "Single raters absolute",
                "Single random raters",
                "Single fixed raters",
                "Average raters absolute",
                "Average random raters",
                "Average fixed raters",
            ],
            "ICC": [0.17, 0.29, 0.71, 0.44, 0.62, 0.91],
            "F": [1.8, 11.0, 11.0, 1.8, 11.0, 11.0],
            "df1": 5,
            "df2": 15,
            "pval": 0.001,
            "CI95%": [np.array([0.0, 1.0])] * 6,
        }
    )
    row = select_icc_a1(old)
    assert (row.value, row.ci_low) == (0.29, 0.0)
    with pytest.raises(LookupError):
        select_icc_a1(new[new["Type"] != "ICC(A,1)"])


# --- kappa -----------------------------------------------------------------------------------------------

A = [0, 5, 10, 100]
B = [0, 10, 10, 95]


def test_kappa_hand_computed_on_full_grid():
    # Categories i = score / 5 (0..20), weights |i - j| / 20.
    # Observed weighted disagreement: (1 + 1) / 20 / 4 = 0.025; expected from the margins: 7.5 / 20 = 0.375.
    est = weighted_kappa(A, B)
    assert est.value == pytest.approx(1 - 0.025 / 0.375)  # 14/15
    assert (est.n_obs, est.n_raters) == (4, 2)


def test_kappa_needs_the_full_label_list():
    # 15, 20, ..., 90 are missing from both raters; with only the observed labels (0, 5, 10, 95, 100)
    # the distance between 10 and 95 shrinks to one step and kappa falls to 2/3. This is the trap.
    observed_only = cohen_kappa_score(A, B, weights="linear")
    assert observed_only == pytest.approx(2 / 3)
    assert weighted_kappa(A, B).value != pytest.approx(observed_only)
    assert weighted_kappa(A, B).value == pytest.approx(
        cohen_kappa_score(A, B, weights="linear", labels=list(SCORE_GRID))
    )


def test_authors_range_100_bug_drops_scores_of_100():
    # labels=range(100) silently ignores the pair (100, 95); the result is computed on three cases only.
    buggy = cohen_kappa_score(A, B, weights="linear", labels=list(range(100)))
    assert buggy == pytest.approx(cohen_kappa_score(A[:3], B[:3], weights="linear", labels=list(range(100))))
    assert weighted_kappa(A, B).value != pytest.approx(buggy)


def test_kappa_with_0_and_100_and_perfect_agreement():
    est = weighted_kappa([0, 100, 50, 0], [0, 100, 50, 0])
    assert est.value == pytest.approx(1.0)
    worst = weighted_kappa([0, 100], [100, 0])
    assert worst.value == pytest.approx(-1.0)


def test_kappa_refuses_values_off_the_categories():
    with pytest.raises(ValueError, match="33 is not one of the kappa categories"):
        weighted_kappa([0, 33, 5], [0, 35, 5])
    with pytest.raises(ValueError, match="not one of the kappa categories"):
        weighted_kappa([1, 2, 6], [1, 2, 3], labels=LIKERT_SCALE)


def test_likert_kappa_uses_scale_1_to_5():
    a, b = [1, 2, 5, 4], [1, 3, 5, 5]
    est = weighted_kappa(a, b, labels=LIKERT_SCALE)
    assert est.value == pytest.approx(cohen_kappa_score(a, b, weights="linear", labels=[1, 2, 3, 4, 5]))


# --- MAE, Bland-Altman, Wilcoxon ------------------------------------------------------------------------


def test_mae_and_bland_altman_hand_computed():
    a = [10, 20, 30, 40]
    b = [5, 25, 30, 30]
    m = mae(a, b)
    # |d| = 5, 5, 0, 10: mean 5, sample SD sqrt(((0)^2 + 0 + 25 + 25) / 3)
    assert m.value == pytest.approx(5.0)
    assert m.sd == pytest.approx(math.sqrt(50 / 3))
    ba = bland_altman(a, b)
    # d = 5, -5, 0, 10: bias 2.5, SD sqrt((6.25 + 56.25 + 6.25 + 56.25) / 3)
    sd = math.sqrt(125 / 3)
    assert ba.bias == pytest.approx(2.5)
    assert ba.sd == pytest.approx(sd)
    assert ba.loa == pytest.approx((2.5 - 1.96 * sd, 2.5 + 1.96 * sd))
    means, diffs = bland_altman_points(a, b)
    assert list(diffs) == [5, -5, 0, 10]
    assert list(means) == [7.5, 22.5, 30, 35]


def test_mae_counts_cases_and_observations():
    m = mae([0, 5, 10, 15], [0, 0, 10, 10], cases=["C1", "C1", "C2", "C2"])
    assert (m.n_cases, m.n_obs, m.n_raters) == (2, 4, 2)
    assert "2 cases, 4 obs., 2 raters" in str(m)


def test_wilcoxon_matches_scipy_on_absolute_errors():
    from scipy import stats

    ref = np.array([0, 10, 20, 30, 40, 50, 60, 70])
    a = ref + np.array([0, 5, 0, 5, 0, 0, 5, 0])
    b = ref + np.array([10, -15, 5, 20, -10, 5, 15, 25])
    w = wilcoxon_errors(a, b, ref)
    expected = stats.wilcoxon(np.abs(a - ref), np.abs(b - ref))
    assert w.p_value == pytest.approx(expected.pvalue)
    assert w.mean_error_a < w.mean_error_b
    assert w.significant is (w.p_value < 0.05)


# --- degenerate inputs -----------------------------------------------------------------------------------


def test_no_variance_is_not_estimable_with_reason():
    k = weighted_kappa([5, 5, 5], [5, 5, 5])
    assert not k.estimable
    assert k.value is None
    assert "no variance" in k.reason
    i = icc([5, 5, 5], [5, 5, 10])
    assert not i.estimable
    assert "gave every observation the same value (5)" in i.reason
    assert k.format() == "n.e."
    # MAE and Bland-Altman are defined without variance.
    assert mae([5, 5, 5], [5, 5, 5]).value == 0.0


def test_one_case_is_not_estimable():
    for result in (
        mae([0, 5, 10, 15, 20], [5, 5, 10, 10, 20], cases=["C1"] * 5),
        weighted_kappa([0, 5, 10, 15, 20], [5, 5, 10, 10, 20], cases=["C1"] * 5),
        icc([0, 5, 10, 15, 20], [5, 5, 10, 10, 20], cases=["C1"] * 5),
    ):
        assert not result.estimable
        assert "only 1 case" in result.reason
    single = mae([5], [10])
    assert not single.estimable
    assert "only 1 matched observation" in single.reason


def test_nan_is_not_estimable():
    est = icc([0, float("nan"), 10], [0, 5, 10])
    assert not est.estimable
    assert "missing" in est.reason
    assert not bland_altman([0, float("nan")], [1, 2]).estimable


def test_identical_errors_give_no_wilcoxon_p():
    # scipy reports p = 1.0 here; that is not a finding, so it is not passed on.
    w = wilcoxon_errors([5, 10, 15], [5, 10, 15], [0, 10, 20])
    assert not w.estimable
    assert w.p_value is None
    assert "same error" in w.reason


def test_estimate_refuses_numbers_that_look_real():
    with pytest.raises(ValueError, match="finite"):
        Estimate("ICC(A,1)", float("nan"))
    with pytest.raises(ValueError, match="needs a reason"):
        Estimate("kappa", None, estimable=False)
    with pytest.raises(ValueError, match="carries no value"):
        Estimate("kappa", 0.5, estimable=False, reason="x")


# --- on tables -------------------------------------------------------------------------------------------


def _rows(reader, session, cases, scores, finished=True, kind="reader"):
    return [
        {
            "case": c,
            "rater_kind": kind,
            "reader": reader,
            "session": session,
            "level": lv,
            "pattern": "TOT",
            "score": s,
            "finished": finished,
        }
        for c, per_level in zip(cases, scores)
        for lv, s in enumerate(per_level, start=1)
    ]


def test_compare_on_a_table_matches_the_arrays():
    cases = ["C1", "C2", "C3"]
    a = [[0, 5, 10, 20, 30], [0, 0, 5, 10, 15], [10, 20, 30, 40, 50]]
    b = [[0, 10, 10, 20, 25], [5, 0, 5, 15, 15], [10, 15, 30, 45, 50]]
    t = ratings_table(_rows("A", "S1", cases, a) + _rows("B", "S1", cases, b))
    pa = compare(t, "A (S1)", "B (S1)", pattern="TOT")
    flat_a, flat_b = np.ravel(a), np.ravel(b)
    assert pa.mae.value == pytest.approx(np.abs(flat_a - flat_b).mean())
    assert pa.kappa.value == pytest.approx(weighted_kappa(flat_a, flat_b).value)
    assert (pa.n_cases, pa.n_obs) == (3, 15)
    per_level = compare(t, "A (S1)", "B (S1)", pattern="TOT", level=5)
    assert per_level.n_obs == 3
    assert per_level.mae.value == pytest.approx((0 + 5 + 0) / 3)


def test_unfinished_and_unmatched_readings():
    cases = ["C1", "C2", "C3"]
    scores = [[0, 5, 10, 20, 30], [0, 0, 5, 10, 15], [10, 20, 30, 40, 50]]
    t = ratings_table(
        _rows("A", "S1", cases, scores)
        + _rows("B", "S1", cases, scores, finished=False)
        + _rows("C", "S1", ["C7", "C8"], scores[:2])
        + _rows("D", "S1", cases[:2], scores[:2])
        + _rows("D", "S1", cases[2:], scores[2:], finished=False)
    )
    unfinished = compare(t, "A (S1)", "B (S1)", pattern="TOT")
    assert not unfinished.icc.estimable
    assert "B (S1) has no finished reading" in unfinished.icc.reason
    unmatched = compare(t, "A (S1)", "C (S1)", pattern="TOT")
    assert not unmatched.kappa.estimable
    assert "unmatched" in unmatched.kappa.reason
    partial = compare(t, "A (S1)", "D (S1)", pattern="TOT")
    assert partial.n_cases == 2
    assert partial.icc.estimable
    assert "5 observation(s) of D (S1) left out: reading not finished" in partial.note
    assert "5 observation(s) of A (S1) not matched" in partial.note


def test_compare_errors_uses_cases_all_three_share():
    cases = ["C1", "C2", "C3"]
    gt = [[0, 5, 10, 20, 30], [0, 0, 5, 10, 15], [10, 20, 30, 40, 50]]
    a = [[0, 5, 10, 20, 35], [0, 0, 5, 10, 15], [10, 20, 30, 40, 55]]
    b = [[5, 10, 20, 30, 30], [5, 10, 5, 20, 25], [0, 10, 30, 50, 50]]
    t = ratings_table(
        _rows("GT", "GT", cases, gt, kind="consensus")
        + _rows("A", "S1", cases, a)
        + _rows("B", "S1", cases, b)
    )
    w = compare_errors(t, "A (S1)", "B (S1)", "GT (GT)", pattern="TOT")
    assert w.estimable
    assert w.p_value < 0.05
    assert w.n_cases == 3
    assert w.n_obs == 15


def test_icc_without_residual_variance_has_no_ci_and_says_why():
    est = icc([0, 10, 20, 30], [5, 15, 25, 35])  # a constant offset: no residual variance
    assert est.estimable
    assert 0 < est.value < 1
    assert est.ci is None
    assert "CI not estimable" in est.reason
    assert est.format() == f"{est.value:.2f}"
