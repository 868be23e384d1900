"""Study reports as DataFrames: the observer study (the paper's Table 6) and AI performance (Tables 4 and 5).

Each report comes in two shapes: a *long* frame with one row per comparison x pattern x level and every
figure (MAE with SD, kappa, ICC(2,1) with 95 % CI, Bland-Altman, Wilcoxon p, the n of cases, raters and
observations, and a note with the reason of anything not estimable), and a *wide* frame in the paper's
layout with one column block per pattern. Not-estimable figures are empty (NaN) with the reason in the
note; nothing is filled in.

Comparisons of the observer study (readers are the ``reader`` raters of the ratings table):

* Inter-observer: every pair of readers within one session.
* Intra-observer: each reader's sessions pairwise (the paper: two sessions six weeks apart).
* Unaided vs assisted: a reader's values before and after the AI's output was shown (after-commit
  sessions keep both); unaided and assisted values are never mixed in the other comparisons.
* Reader vs ground truth: each reader in each session against the consensus, with the Wilcoxon p of the
  reader's absolute errors against the AI's (both against the consensus, on the cases all three scored).
* AI vs ground truth: each AI bundle against the consensus.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import combinations
from typing import TYPE_CHECKING

from ssc_core.analysis.agreement import agreement_of, compare_errors
from ssc_core.analysis.explain import explainability_report
from ssc_core.analysis.likert import likert_agreement, likert_distribution
from ssc_core.analysis.matching import RatingIndex
from ssc_core.analysis.positions import compare_positions
from ssc_core.analysis.results import PairAgreement
from ssc_core.analysis.tables import RATINGS, Rater, RaterKind, StudyTables, ai_ratings, raters
from ssc_core.constants import LEVELS, PATTERNS
from ssc_core.errors import AnalysisError
from ssc_core.progress import CancelToken, ProgressCallback, check_cancel, report

if TYPE_CHECKING:
    import pandas as pd

INTER = "Inter-observer"
INTRA = "Intra-observer"
AIDED = "Unaided vs assisted"
READER_VS_GT = "Reader vs ground truth"
AI_VS_GT = "AI vs ground truth"
ALL_LEVELS = "all"

#: Columns of the long agreement frames (observer and AI reports).
AGREEMENT_COLUMNS = [
    "group",
    "comparison",
    "rater_a",
    "rater_b",
    "session",
    "assisted",
    "pattern",
    "level",
    "n_cases",
    "n_raters",
    "n_obs",
    "mae",
    "mae_sd",
    "kappa",
    "icc",
    "icc_ci_low",
    "icc_ci_high",
    "ba_bias",
    "ba_sd",
    "ba_loa_low",
    "ba_loa_high",
    "p_vs_ai",
    "note",
]

POSITION_COLUMNS = [
    "comparison",
    "rater_a",
    "rater_b",
    "level",
    "n_cases",
    "n_raters",
    "n_obs",
    "mae_mm",
    "mae_sd_mm",
    "icc",
    "icc_ci_low",
    "icc_ci_high",
    "ba_bias_mm",
    "ba_loa_low_mm",
    "ba_loa_high_mm",
    "note",
]


@dataclass(frozen=True)
class Comparison:
    """One row group of a report: rater A against rater B."""

    group: str
    label: str
    rater_a: Rater
    rater_b: Rater
    session: str = ""


def _level_label(level: int | None) -> str:
    return ALL_LEVELS if level is None else f"L{level}"


def _levels(per_level: bool) -> list[int | None]:
    return [None, *(int(lv) for lv in LEVELS)] if per_level else [None]


def _num(x: float | None) -> float:
    return float("nan") if x is None else float(x)


def _agreement_row(c: Comparison, pa: PairAgreement) -> dict[str, object]:
    ci = pa.icc.ci or (None, None)
    loa = pa.bland_altman.loa or (None, None)
    reasons = []
    for name, est in (("MAE", pa.mae), ("kappa", pa.kappa), ("ICC", pa.icc)):
        if est.reason:
            reasons.append(f"{name}: {est.reason}")
    if not pa.bland_altman.estimable and pa.mae.estimable:
        reasons.append(f"Bland-Altman: {pa.bland_altman.reason}")
    reasons = _merge_reasons(reasons)
    if pa.note:
        reasons.append(pa.note)
    return {
        "group": c.group,
        "comparison": c.label,
        "rater_a": c.rater_a.id,
        "rater_b": c.rater_b.id,
        "session": c.session,
        "assisted": c.rater_a.assisted or c.rater_b.assisted,
        "pattern": pa.pattern,
        "level": _level_label(pa.level),
        "n_cases": pa.n_cases,
        "n_raters": 2,
        "n_obs": pa.n_obs,
        "mae": _num(pa.mae.value),
        "mae_sd": _num(pa.mae.sd),
        "kappa": _num(pa.kappa.value),
        "icc": _num(pa.icc.value),
        "icc_ci_low": _num(ci[0]),
        "icc_ci_high": _num(ci[1]),
        "ba_bias": _num(pa.bland_altman.bias),
        "ba_sd": _num(pa.bland_altman.sd),
        "ba_loa_low": _num(loa[0]),
        "ba_loa_high": _num(loa[1]),
        "p_vs_ai": float("nan"),
        "note": "; ".join(reasons),
    }


def _merge_reasons(reasons: list[str]) -> list[str]:
    """ "MAE: x; kappa: x; ICC: x" -> "x" when every figure failed for the same reason."""
    texts = {r.split(": ", 1)[1] for r in reasons if ": " in r}
    if len(reasons) == 3 and len(texts) == 1:
        return [texts.pop()]
    return reasons


def _pick_reference(candidates: list[Rater], wanted: str | None, what: str) -> Rater | None:
    if wanted is None:
        return candidates[0] if candidates else None
    for r in candidates:
        if wanted in (r.id, r.reader):
            return r
    names = ", ".join(r.id for r in candidates) or "none"
    raise AnalysisError(f"No {what} named {wanted!r}; the study has: {names}.")


def observer_comparisons(
    ratings: pd.DataFrame, *, ground_truth: str | None = None, ai: str | None = None
) -> tuple[list[Comparison], Rater | None, Rater | None]:
    """The comparisons of the observer study, the ground-truth rater and the AI rater used for p-values."""
    all_raters = raters(ratings)
    readers = [r for r in all_raters if r.kind is RaterKind.READER]
    gt = _pick_reference([r for r in all_raters if r.kind is RaterKind.CONSENSUS], ground_truth, "consensus")
    ai_raters = [r for r in all_raters if r.kind is RaterKind.AI]
    ai_ref = _pick_reference(ai_raters, ai, "AI bundle")
    out: list[Comparison] = []
    session_order = list(dict.fromkeys(r.session for r in readers))

    def aid(r: Rater) -> str:
        return ", assisted" if r.assisted else ""

    for session in session_order:
        for assisted in (False, True):
            group = sorted(
                (r for r in readers if r.session == session and r.assisted is assisted),
                key=lambda r: r.reader,
            )
            for a, b in combinations(group, 2):
                out.append(Comparison(INTER, f"{a.reader} vs {b.reader} ({session}{aid(a)})", a, b, session))
    names = sorted(dict.fromkeys(r.reader for r in readers))
    for name in names:
        for assisted in (False, True):
            own = sorted(
                (r for r in readers if r.reader == name and r.assisted is assisted),
                key=lambda r: session_order.index(r.session),
            )
            for a, b in combinations(own, 2):
                suffix = " (assisted)" if assisted else ""
                out.append(Comparison(INTRA, f"{name}: {a.session} vs {b.session}{suffix}", a, b))
    for name in names:
        for session in session_order:
            pair = [r for r in readers if r.reader == name and r.session == session]
            unaided = [r for r in pair if not r.assisted]
            assisted_ = [r for r in pair if r.assisted]
            if unaided and assisted_:
                out.append(
                    Comparison(
                        AIDED, f"{name} ({session}): unaided vs assisted", unaided[0], assisted_[0], session
                    )
                )
    if gt is not None:
        for r in sorted(readers, key=lambda r: (r.reader, session_order.index(r.session), r.assisted)):
            out.append(Comparison(READER_VS_GT, f"{r.id} vs {gt.id}", r, gt, r.session))
        for r in ai_raters:
            out.append(Comparison(AI_VS_GT, f"{r.id} vs {gt.id}", r, gt))
    return out, gt, ai_ref


def agreement_frame(
    index: RatingIndex,
    comparisons: Sequence[Comparison],
    *,
    per_level: bool = False,
    gt: Rater | None = None,
    ai: Rater | None = None,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
) -> pd.DataFrame:
    """The long agreement frame of ``comparisons`` (every pattern; all levels, and each level if asked)."""
    import pandas as pd

    rows = []
    levels = _levels(per_level)
    total = len(comparisons) * len(levels) * len(PATTERNS)
    done = 0
    for c in comparisons:
        for level in levels:
            for pattern in (p.value for p in PATTERNS):
                check_cancel(cancel)
                m = index.match([c.rater_a.id, c.rater_b.id], pattern=pattern, level=level)
                row = _agreement_row(c, agreement_of(m, pattern=pattern, level=level))
                if c.group == READER_VS_GT and gt is not None and ai is not None:
                    w = compare_errors(index, c.rater_a.id, ai.id, gt.id, pattern=pattern, level=level)
                    row["p_vs_ai"] = _num(w.p_value)
                    if not w.estimable:
                        row["note"] = "; ".join(x for x in (str(row["note"]), f"p vs AI: {w.reason}") if x)
                rows.append(row)
                done += 1
                report(progress, done, total, "Agreement statistics")
    return pd.DataFrame(rows, columns=AGREEMENT_COLUMNS)


def observer_report(
    ratings: pd.DataFrame,
    *,
    ground_truth: str | None = None,
    ai: str | None = None,
    per_level: bool = False,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
) -> pd.DataFrame:
    """The observer study, long: one row per comparison x pattern (x level when ``per_level``).

    Parameters
    ----------
    ratings
        A ratings table (readers, consensus, AI).
    ground_truth
        Id or name of the consensus rater; default the first consensus in the table.
    ai
        Id or bundle name of the AI rater the readers' errors are tested against; default the first AI.
    per_level
        Also give each level's figures (rows with ``level`` L1..L5 after the pooled ``all`` rows).
    """
    comparisons, gt, ai_ref = observer_comparisons(ratings, ground_truth=ground_truth, ai=ai)
    index = RatingIndex(ratings, "score")
    return agreement_frame(
        index,
        [c for c in comparisons if c.group != AI_VS_GT] + [c for c in comparisons if c.group == AI_VS_GT],
        per_level=per_level,
        gt=gt,
        ai=ai_ref,
        progress=progress,
        cancel=cancel,
    )


def ai_report(
    ratings: pd.DataFrame,
    *,
    ground_truth: str | None = None,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
) -> pd.DataFrame:
    """AI performance against the consensus, long: every AI bundle x level (all, L1..L5) x pattern."""
    all_raters = raters(ratings)
    gt = _pick_reference([r for r in all_raters if r.kind is RaterKind.CONSENSUS], ground_truth, "consensus")
    ai_raters = [r for r in all_raters if r.kind is RaterKind.AI]
    if gt is None or not ai_raters:
        import pandas as pd

        return pd.DataFrame(columns=AGREEMENT_COLUMNS)
    comparisons = [Comparison(AI_VS_GT, f"{r.id} vs {gt.id}", r, gt) for r in ai_raters]
    return agreement_frame(
        RatingIndex(ratings, "score"), comparisons, per_level=True, progress=progress, cancel=cancel
    )


def positions_report(levels: pd.DataFrame, *, reference: str | None = None) -> pd.DataFrame:
    """Level positions: every rater against the consensus (or every pair without one), per level and pooled.

    MAE in mm with SD, ICC(2,1) per level, Bland-Altman bias and limits in mm.
    """
    import pandas as pd

    all_raters = raters(levels)
    ref = _pick_reference([r for r in all_raters if r.kind is RaterKind.CONSENSUS], reference, "consensus")
    if ref is not None:
        pairs = [(r, ref) for r in all_raters if r.id != ref.id]
    else:
        pairs = list(combinations(all_raters, 2))
    index = RatingIndex(levels, "z_mm") if all_raters else None
    rows = []
    for a, b in pairs:
        assert index is not None
        for level in _levels(True):
            pa = compare_positions(index, a.id, b.id, level=level)
            ci = pa.icc.ci or (None, None)
            loa = pa.bland_altman.loa or (None, None)
            notes = [e.reason for e in (pa.mae_mm, pa.icc) if e.reason]
            if pa.note:
                notes.append(pa.note)
            rows.append(
                {
                    "comparison": f"{a.id} vs {b.id}",
                    "rater_a": a.id,
                    "rater_b": b.id,
                    "level": _level_label(level),
                    "n_cases": pa.n_cases,
                    "n_raters": 2,
                    "n_obs": pa.n_obs,
                    "mae_mm": _num(pa.mae_mm.value),
                    "mae_sd_mm": _num(pa.mae_mm.sd),
                    "icc": _num(pa.icc.value),
                    "icc_ci_low": _num(ci[0]),
                    "icc_ci_high": _num(ci[1]),
                    "ba_bias_mm": _num(pa.bland_altman.bias),
                    "ba_loa_low_mm": _num(loa[0]),
                    "ba_loa_high_mm": _num(loa[1]),
                    "note": "; ".join(dict.fromkeys(notes)),
                }
            )
    return pd.DataFrame(rows, columns=POSITION_COLUMNS)


# --- wide (paper) layouts --------------------------------------------------------------------------------

_WIDE_FIGURES = [
    ("MAE", "mae"),
    ("MAE SD", "mae_sd"),
    ("kappa", "kappa"),
    ("ICC", "icc"),
    ("ICC CI low", "icc_ci_low"),
    ("ICC CI high", "icc_ci_high"),
]


def _wide(long: pd.DataFrame, row_keys: list[str], row_names: list[str], with_p: bool) -> pd.DataFrame:
    import pandas as pd

    figures = list(_WIDE_FIGURES)
    if with_p:
        figures.append(("p vs AI", "p_vs_ai"))
    figures += [("n cases", "n_cases"), ("n obs", "n_obs")]
    out_rows = []
    for keys, part in long.groupby(row_keys, sort=False):
        keys = keys if isinstance(keys, tuple) else (keys,)
        row: dict[str, object] = dict(zip(row_names, keys))
        row["n raters"] = int(part["n_raters"].iloc[0])
        for pattern in (p.value for p in PATTERNS):
            sub = part[part["pattern"] == pattern]
            for title, col in figures:
                row[f"{pattern} {title}"] = sub[col].iloc[0] if len(sub) else float("nan")
        notes = [f"{p}: {n}" for p, n in zip(part["pattern"], part["note"]) if n]
        row["Notes"] = "; ".join(notes)
        out_rows.append(row)
    columns = [*row_names, "n raters"]
    columns += [f"{p.value} {t}" for p in PATTERNS for t, _ in figures]
    return pd.DataFrame(out_rows, columns=[*columns, "Notes"])


def observer_table(long: pd.DataFrame) -> pd.DataFrame:
    """The observer study in the paper's Table 6 layout (pooled levels): one row per comparison."""
    pooled = long[long["level"] == ALL_LEVELS]
    return _wide(pooled, ["group", "comparison"], ["Group", "Comparison"], with_p=True)


def ai_table(long: pd.DataFrame) -> pd.DataFrame:
    """AI performance in the layout of the paper's Tables 4 (level "all") and 5 (per level)."""
    return _wide(long, ["rater_a", "level"], ["AI", "Level"], with_p=False)


# --- everything ------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class StudyReports:
    """All report tables of a study, with the references they were computed against."""

    observer: pd.DataFrame
    observer_table: pd.DataFrame
    ai: pd.DataFrame
    ai_table: pd.DataFrame
    positions: pd.DataFrame
    likert_distribution: pd.DataFrame
    likert_agreement: pd.DataFrame
    explainability: pd.DataFrame
    ground_truth: str = ""
    ai_reference: str = ""

    def sheets(self) -> dict[str, pd.DataFrame]:
        """Report tables by sheet name, in export order."""
        return {
            "Observer study": self.observer_table,
            "Observer detail": self.observer,
            "AI performance": self.ai_table,
            "AI detail": self.ai,
            "Level positions agreement": self.positions,
            "Likert summary": self.likert_distribution,
            "Likert agreement": self.likert_agreement,
            "Explainability": self.explainability,
        }


def study_ratings(tables: StudyTables) -> pd.DataFrame:
    """The ratings table with the AI's scores added from the AI results when the ratings lack them."""
    from ssc_core.analysis.tables import concat_tables

    ratings = tables.ratings
    has_ai = bool((ratings["rater_kind"] == RaterKind.AI.value).any()) if len(ratings) else False
    if has_ai or tables.ai.empty:
        return ratings
    return concat_tables(RATINGS, ratings, ai_ratings(tables.ai))


def compute_reports(
    tables: StudyTables,
    *,
    ground_truth: str | None = None,
    ai: str | None = None,
    per_level: bool = True,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
) -> StudyReports:
    """Every report of a study (observer study, AI performance, level positions, Likert, explainability)."""
    ratings = study_ratings(tables)
    _, gt, ai_ref = observer_comparisons(ratings, ground_truth=ground_truth, ai=ai)
    report(progress, 0, 4, "Observer study")
    observer = observer_report(ratings, ground_truth=ground_truth, ai=ai, per_level=per_level, cancel=cancel)
    report(progress, 1, 4, "AI performance")
    ai_long = ai_report(ratings, ground_truth=ground_truth, cancel=cancel)
    report(progress, 2, 4, "Level positions")
    positions = positions_report(tables.levels, reference=ground_truth)
    report(progress, 3, 4, "Likert ratings and heat maps")
    check_cancel(cancel)
    out = StudyReports(
        observer=observer,
        observer_table=observer_table(observer),
        ai=ai_long,
        ai_table=ai_table(ai_long),
        positions=positions,
        likert_distribution=likert_distribution(tables.likert),
        likert_agreement=likert_agreement(tables.likert),
        explainability=explainability_report(tables.ai),
        ground_truth=gt.id if gt else "",
        ai_reference=ai_ref.id if ai_ref else "",
    )
    report(progress, 4, 4, "Reports done")
    return out
