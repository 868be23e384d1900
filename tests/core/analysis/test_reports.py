"""Study reports: the paper's layouts, simulated readers of known noise, not-estimable rows."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from ssc_core.analysis.explain import heatmap_fit, linear_fit
from ssc_core.analysis.likert import ALL_RATERS, likert_distribution, likert_kappa
from ssc_core.analysis.positions import compare_positions
from ssc_core.analysis.render import render_text
from ssc_core.analysis.reports import (
    AI_VS_GT,
    INTER,
    INTRA,
    READER_VS_GT,
    compute_reports,
    observer_report,
    observer_table,
)
from ssc_core.analysis.simulate import simulate_study
from ssc_core.analysis.tables import StudyTables, level_table, likert_table, ratings_table
from ssc_core.errors import AnalysisError, Cancelled
from ssc_core.progress import CancelToken


@pytest.fixture(scope="module")
def noisy_study() -> StudyTables:
    # Three readers of known noise SD (score points) on a phantom-like cohort.
    return simulate_study(
        n_cases=40, readers={"A": 1.5, "B": 4.0, "C": 9.0}, likert_readers=("A", "B"), seed=1
    )


@pytest.fixture(scope="module")
def reports(noisy_study):
    return compute_reports(noisy_study)


def _fig(long: pd.DataFrame, comparison: str, pattern: str, col: str, level: str = "all") -> float:
    row = long[(long["comparison"] == comparison) & (long["pattern"] == pattern) & (long["level"] == level)]
    assert len(row) == 1, comparison
    return float(row[col].iloc[0])


@pytest.mark.parametrize("pattern", ["TOT", "GG", "RET"])
def test_less_noise_gives_better_agreement(reports, pattern):
    long = reports.observer
    for session in ("S1", "S2"):
        vs_gt = [f"{r} ({session}) vs Consensus (GT)" for r in "ABC"]
        maes = [_fig(long, c, pattern, "mae") for c in vs_gt]
        kappas = [_fig(long, c, pattern, "kappa") for c in vs_gt]
        iccs = [_fig(long, c, pattern, "icc") for c in vs_gt]
        assert maes == sorted(maes), maes
        assert kappas == sorted(kappas, reverse=True), kappas
        assert iccs == sorted(iccs, reverse=True), iccs
    intra = [_fig(long, f"{r}: S1 vs S2", pattern, "mae") for r in "ABC"]
    assert intra == sorted(intra)
    assert _fig(long, "A vs B (S1)", pattern, "mae") < _fig(long, "A vs C (S1)", pattern, "mae")
    assert _fig(long, "A vs B (S1)", pattern, "icc") > _fig(long, "A vs C (S1)", pattern, "icc")


def test_observer_report_layout(reports):
    long = reports.observer
    pooled = long[long["level"] == "all"]
    groups = list(dict.fromkeys(pooled["group"]))
    assert groups == [INTER, INTRA, READER_VS_GT, AI_VS_GT]
    # 3 readers: 3 pairs per session x 2 sessions, 3 intra, 6 reader readings, 1 AI.
    assert pooled.groupby("group", sort=False)["comparison"].nunique().tolist() == [6, 3, 6, 1]
    assert set(long["level"]) == {"all", "L1", "L2", "L3", "L4", "L5"}
    per_level = long[long["level"] == "L3"]
    assert (per_level["n_obs"] == per_level["n_cases"]).all()
    assert (pooled["n_obs"] == 5 * pooled["n_cases"]).all()
    assert (long["n_raters"] == 2).all()
    p = pooled.set_index("group")["p_vs_ai"]
    assert p.loc[READER_VS_GT].notna().all()
    assert p.drop(READER_VS_GT).isna().all()

    table = reports.observer_table
    assert list(table.columns[:3]) == ["Group", "Comparison", "n raters"]
    for pattern in ("TOT", "GG", "RET"):
        for fig in (
            "MAE",
            "MAE SD",
            "kappa",
            "ICC",
            "ICC CI low",
            "ICC CI high",
            "p vs AI",
            "n cases",
            "n obs",
        ):
            assert f"{pattern} {fig}" in table.columns
    assert len(table) == 16
    row = table[table["Comparison"] == "A vs B (S1)"].iloc[0]
    assert row["TOT MAE"] == pytest.approx(_fig(long, "A vs B (S1)", "TOT", "mae"))
    assert row["TOT ICC CI low"] < row["TOT ICC"] < row["TOT ICC CI high"]


def test_ai_table_has_tables_4_and_5_rows(reports):
    t = reports.ai_table
    assert t[["AI", "Level"]].values.tolist() == [
        ["AI (cascade-sim)", lv] for lv in ["all", "L1", "L2", "L3", "L4", "L5"]
    ]
    assert t["TOT n obs"].iloc[0] == 5 * t["TOT n obs"].iloc[1]


def test_unfinished_reader_is_not_estimable_with_the_reason(noisy_study):
    r = noisy_study.ratings.copy()
    r.loc[r["rater"] == "C (S2)", "finished"] = False
    long = observer_report(ratings_table(r))
    row = long[(long["comparison"] == "C (S2) vs Consensus (GT)") & (long["pattern"] == "GG")].iloc[0]
    assert math.isnan(row["mae"])
    assert math.isnan(row["kappa"])
    assert math.isnan(row["icc"])
    assert "C (S2) has no finished reading" in row["note"]
    text = render_text(compute_reports(StudyTables.build(ratings=r)))
    assert "n.e." in text
    assert "C (S2) has no finished reading" in text


def test_unknown_reference_is_refused(noisy_study):
    with pytest.raises(AnalysisError, match="No consensus named 'Z'"):
        observer_report(noisy_study.ratings, ground_truth="Z")


def test_without_consensus_only_observer_rows():
    st = simulate_study(n_cases=6, ai_noise=None, seed=3)
    ratings = st.ratings[st.ratings["rater_kind"] != "consensus"]
    long = observer_report(ratings)
    assert set(long["group"]) == {INTER, INTRA}
    assert not observer_table(long).empty


def test_progress_and_cancel(noisy_study):
    seen = []
    compute_reports(noisy_study, per_level=False, progress=seen.append)
    assert seen[-1].done == seen[-1].total
    token = CancelToken()
    token.cancel()
    with pytest.raises(Cancelled):
        compute_reports(noisy_study, cancel=token)


def test_positions_per_level_and_pooled(reports, noisy_study):
    pos = reports.positions
    row = pos[(pos["comparison"] == "A (S1) vs Consensus (GT)") & (pos["level"] == "L2")].iloc[0]
    assert 0 < row["mae_mm"] < 10
    assert 0 < row["icc"] <= 1
    pooled = pos[(pos["comparison"] == "A (S1) vs Consensus (GT)") & (pos["level"] == "all")].iloc[0]
    assert math.isnan(pooled["icc"])
    assert "per level" in pooled["note"]
    # Direct: the MAE is the mean absolute z difference.
    lv = noisy_study.levels
    a = lv[(lv["rater"] == "A (S1)") & (lv["level"] == 2)].set_index("case")["z_mm"]
    gt = lv[(lv["rater"] == "Consensus (GT)") & (lv["level"] == 2)].set_index("case")["z_mm"]
    assert row["mae_mm"] == pytest.approx((a - gt.loc[a.index]).abs().mean())
    assert compare_positions(lv, "A (S1)", "Consensus (GT)", level=2).icc.ci is not None


def test_likert_distribution_and_kappa():
    rows = []
    ratings_a = [5, 4, 4, 3, 1]
    ratings_b = [5, 5, 4, 2, 1]
    for reader, values in (("A", ratings_a), ("B", ratings_b)):
        for i, v in enumerate(values):
            rows.append(
                {
                    "case": f"C{i}",
                    "rater_kind": "reader",
                    "reader": reader,
                    "session": "HM",
                    "level": 1,
                    "pattern": "TOT",
                    "rating": v,
                }
            )
    t = likert_table(rows)
    d = likert_distribution(t)
    a = d[(d["rater"] == "A (HM)") & (d["pattern"] == "TOT")].iloc[0]
    assert [a[f"n_{v}"] for v in range(1, 6)] == [1, 0, 1, 2, 1]
    assert a["share_agree"] == pytest.approx(3 / 5)
    pooled = d[(d["rater"] == ALL_RATERS) & (d["pattern"] == "TOT")].iloc[0]
    assert pooled["n_agree"] == 6
    assert pooled["n_ratings"] == 10
    gg = d[(d["rater"] == "A (HM)") & (d["pattern"] == "GG")].iloc[0]
    assert gg["n_ratings"] == 0
    assert math.isnan(gg["share_agree"])
    from sklearn.metrics import cohen_kappa_score

    k = likert_kappa(t, "A (HM)", "B (HM)", pattern="TOT")
    assert k.value == pytest.approx(
        cohen_kappa_score(ratings_a, ratings_b, weights="linear", labels=[1, 2, 3, 4, 5])
    )


def test_heatmap_r_squared(noisy_study):
    ai = noisy_study.ai
    fit = heatmap_fit(ai, pattern="GG")
    rows = ai[ai["pattern"] == "GG"]
    expected = stats.linregress(rows["heatmap_score"], rows["output"]).rvalue ** 2
    assert fit.r_squared == pytest.approx(expected)
    assert (fit.n_cases, fit.n_obs) == (40, 200)
    none = ai.assign(heatmap_score=np.nan)
    assert not heatmap_fit(none, pattern="TOT").estimable
    flat = linear_fit([1, 1, 1, 1], [1, 2, 3, 4])
    assert not flat.estimable
    assert "no variance" in flat.reason


def test_render_text_lists_all_sections(reports):
    text = render_text(reports, title="Demo")
    for heading in (
        "Observer study (Table 6 layout)",
        "AI performance",
        "Level positions",
        "Likert",
        "Heat-map explainability: R-squared",
        "Research software",
    ):
        assert heading in text
    assert "A vs B (S1)" in text
    assert "p vs AI" in text


def test_unaided_and_assisted_values_are_separate_raters():
    st = simulate_study(n_cases=15, readers={"A": 3.0, "B": 5.0}, sessions=("S1",), seed=8)
    r = st.ratings
    assisted = r[r["rater_kind"] == "reader"].assign(assisted=True)
    # After seeing the AI the readers move half-way to the consensus (a known AI effect).
    gt = r[r["rater"] == "Consensus (GT)"].set_index(["case", "level", "pattern"])["score"]
    idx = pd.MultiIndex.from_frame(assisted[["case", "level", "pattern"]])
    moved = (assisted["score"].to_numpy() + gt.loc[idx].to_numpy()) / 2
    assisted["score"] = np.round(moved / 5) * 5
    assisted = assisted.drop(columns="rater")
    both = ratings_table(pd.concat([r.drop(columns="rater"), assisted], ignore_index=True))
    assert {"A (S1)", "A (S1, assisted)", "B (S1, assisted)"} <= set(both["rater"])
    long = observer_report(both)
    pooled = long[long["level"] == "all"]
    assert "A vs B (S1, assisted)" in set(pooled[pooled["group"] == INTER]["comparison"])
    aided = pooled[pooled["group"] == "Unaided vs assisted"]
    assert set(aided["comparison"]) == {"A (S1): unaided vs assisted", "B (S1): unaided vs assisted"}
    tot = pooled[(pooled["group"] == READER_VS_GT) & (pooled["pattern"] == "TOT")].set_index("comparison")
    assert tot.loc["A (S1, assisted) vs Consensus (GT)", "mae"] < tot.loc["A (S1) vs Consensus (GT)", "mae"]
    # Unaided and assisted values are never paired across readers.
    assert not pooled["comparison"].str.contains(r"\(S1\) vs .*assisted", regex=True).any()


def _positions(noise_mm: float, seed: int = 3) -> pd.DataFrame:
    """Two readers placing five levels on 30 patients whose table offsets differ by up to +-200 mm."""
    rng = np.random.default_rng(seed)
    rows = []
    for case in range(30):
        offset = rng.uniform(-200, 200)
        anatomy = np.array([60.0, 30.0, 0.0, -40.0, -80.0]) + rng.normal(0, 12, 5)
        for reader in ("A", "B"):
            for lv in range(5):
                z = offset + anatomy[lv] + rng.normal(0, noise_mm)
                rows.append(
                    {
                        "rater": f"{reader} (S1)",
                        "rater_kind": "reader",
                        "reader": reader,
                        "session": "S1",
                        "case": f"C{case:03d}",
                        "level": lv + 1,
                        "z_mm": z,
                    }
                )
    return level_table(rows)


def test_position_icc_ignores_table_offsets():
    """Raw world z would give ICC ~1 for any readers; centred positions separate good from poor agreement."""
    close = compare_positions(_positions(2.0), "A (S1)", "B (S1)", level=3)
    poor = compare_positions(_positions(15.0), "A (S1)", "B (S1)", level=3)
    assert close.icc.value > 0.9
    assert poor.icc.value < 0.6
    assert poor.mae_mm.value > close.mae_mm.value
