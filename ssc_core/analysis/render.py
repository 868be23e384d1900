"""Plain-text rendering of the study reports for the terminal (``ssc stats``)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

from ssc_core import RESEARCH_USE_NOTICE
from ssc_core.analysis.reports import ALL_LEVELS, StudyReports
from ssc_core.analysis.results import NOT_ESTIMABLE

if TYPE_CHECKING:
    import pandas as pd


def _is_missing(x: object) -> bool:
    return x is None or (isinstance(x, float) and math.isnan(x))


def fmt(x: object, digits: int = 2) -> str:
    """A figure to ``digits`` decimals; "n.e." when missing."""
    if _is_missing(x):
        return NOT_ESTIMABLE
    return f"{float(x):.{digits}f}"  # type: ignore[arg-type]


def fmt_sd(value: object, sd: object, digits: int = 2) -> str:
    """``"5.25 (3.10)"``; the SD is left out when missing."""
    if _is_missing(value):
        return NOT_ESTIMABLE
    return fmt(value, digits) + ("" if _is_missing(sd) else f" ({fmt(sd, digits)})")


def fmt_ci(value: object, low: object, high: object, digits: int = 2) -> str:
    """``"0.83 [0.75, 0.89]"``; the interval is left out when missing."""
    if _is_missing(value):
        return NOT_ESTIMABLE
    ci = "" if _is_missing(low) or _is_missing(high) else f" [{fmt(low, digits)}, {fmt(high, digits)}]"
    return fmt(value, digits) + ci


def fmt_p(p: object) -> str:
    if _is_missing(p):
        return ""
    return "<0.001" if float(p) < 0.001 else f"{float(p):.3f}"  # type: ignore[arg-type]


def format_table(header: Sequence[str], rows: Sequence[Sequence[str]], *, right: Sequence[bool]) -> list[str]:
    """Aligned text table: header, a rule, the rows. A row of one cell is a section heading."""
    widths = [len(h) for h in header]
    for r in rows:
        if len(r) == len(header):
            widths = [max(w, len(c)) for w, c in zip(widths, r)]

    def line(cells: Sequence[str]) -> str:
        parts = [c.rjust(w) if rj else c.ljust(w) for c, w, rj in zip(cells, widths, right)]
        return "  ".join(parts).rstrip()

    out = [line(header), "  ".join("-" * w for w in widths)]
    for r in rows:
        out.append(r[0] if len(r) == 1 else line(r))
    return out


def _notes(items: list[tuple[str, str]]) -> list[str]:
    seen = dict.fromkeys(f"  {who}: {note}" for who, note in items if note)
    return ["Notes:", *seen] if seen else []


def render_agreement(long: pd.DataFrame, *, title: str, row_label: str = "comparison") -> list[str]:
    """A long agreement frame as text: one line per comparison (or level) and pattern."""
    if long.empty:
        return [title, "  (nothing to compare)", ""]
    has_p = long["p_vs_ai"].notna().any()
    header = ["Comparison", "Level", "Pattern", "n cases/obs", "MAE (SD)", "kappa", "ICC [95% CI]"]
    right = [False, False, False, True, True, True, True]
    if has_p:
        header.append("p vs AI")
        right.append(True)
    rows: list[list[str]] = []
    notes: list[tuple[str, str]] = []
    group = None
    for rec in long.itertuples(index=False):
        if "group" in long.columns and rec.group != group:
            group = rec.group
            rows.append([str(group)])
        label = str(getattr(rec, row_label))
        row = [
            "  " + label,
            str(rec.level),
            str(rec.pattern),
            f"{rec.n_cases}/{rec.n_obs}",
            fmt_sd(rec.mae, rec.mae_sd),
            fmt(rec.kappa),
            fmt_ci(rec.icc, rec.icc_ci_low, rec.icc_ci_high),
        ]
        if has_p:
            row.append(fmt_p(rec.p_vs_ai))
        rows.append(row)
        notes.append((f"{label}, {rec.level}, {rec.pattern}", str(rec.note)))
    return [title, *format_table(header, rows, right=right), *_notes(notes), ""]


def render_positions(frame: pd.DataFrame) -> list[str]:
    title = "Level positions (world z, mm): MAE (SD), ICC(2,1) per level, Bland-Altman bias [95% limits]"
    if frame.empty:
        return [title, "  (no level positions)", ""]
    header = ["Comparison", "Level", "n cases", "MAE mm (SD)", "ICC [95% CI]", "Bias mm [LoA]"]
    rows = []
    notes = []
    for rec in frame.itertuples(index=False):
        ba = (
            NOT_ESTIMABLE
            if _is_missing(rec.ba_bias_mm)
            else f"{fmt(rec.ba_bias_mm, 1)} [{fmt(rec.ba_loa_low_mm, 1)}, {fmt(rec.ba_loa_high_mm, 1)}]"
        )
        icc_text = "" if rec.level == ALL_LEVELS else fmt_ci(rec.icc, rec.icc_ci_low, rec.icc_ci_high)
        rows.append(
            [
                "  " + rec.comparison,
                rec.level,
                str(rec.n_cases),
                fmt_sd(rec.mae_mm, rec.mae_sd_mm, 1),
                icc_text,
                ba,
            ]
        )
        if rec.level != ALL_LEVELS:
            notes.append((f"{rec.comparison}, {rec.level}", str(rec.note)))
    return [
        title,
        *format_table(header, rows, right=[False, False, True, True, True, True]),
        *_notes(notes),
        "",
    ]


def render_likert(dist: pd.DataFrame, agreement: pd.DataFrame) -> list[str]:
    title = (
        "Heat-map explainability ratings (Likert 1..5): counts and share of agree (4) or strongly agree (5)"
    )
    if dist.empty or int(dist["n_ratings"].sum()) == 0:
        return [title, "  (no ratings)", ""]
    header = ["Rater", "Pattern", "n", "1", "2", "3", "4", "5", "agree (4-5)"]
    rows = []
    for rec in dist.itertuples(index=False):
        share = "" if _is_missing(rec.share_agree) else f"{100 * rec.share_agree:.0f} %"
        rows.append(
            [
                "  " + rec.rater,
                rec.pattern,
                str(rec.n_ratings),
                *(str(getattr(rec, f"n_{v}")) for v in range(1, 6)),
                share,
            ]
        )
    out = [title, *format_table(header, rows, right=[False, False, *([True] * 7)])]
    if not agreement.empty:
        out.append("Kappa between raters (linear weights, scale 1..5):")
        rows = [
            ["  " + f"{r.rater_a} vs {r.rater_b}", r.pattern, f"{r.n_cases}/{r.n_obs}", fmt(r.kappa)]
            for r in agreement.itertuples(index=False)
        ]
        out += format_table(
            ["Raters", "Pattern", "n cases/obs", "kappa"], rows, right=[False, False, True, True]
        )
        out += _notes(
            [(f"{r.rater_a} vs {r.rater_b}, {r.pattern}", str(r.note)) for r in agreement.itertuples()]
        )
    return [*out, ""]


def render_explainability(frame: pd.DataFrame) -> list[str]:
    title = "Heat-map explainability: R-squared of the network output explained by the heat-map-derived score"
    if frame.empty:
        return [title, "  (no AI results)", ""]
    rows = [
        [
            "  " + r.bundle,
            r.pattern,
            f"{r.n_cases}/{r.n_obs}",
            fmt(r.r_squared),
            fmt(r.slope),
            fmt(r.intercept),
        ]
        for r in frame.itertuples(index=False)
    ]
    header = ["AI bundle", "Pattern", "n cases/slices", "R-squared", "slope", "intercept"]
    out = format_table(header, rows, right=[False, False, True, True, True, True])
    notes = _notes([(f"{r.bundle}, {r.pattern}", str(r.note)) for r in frame.itertuples()])
    return [title, *out, *notes, ""]


def render_text(reports: StudyReports, *, title: str = "", per_level: bool = False) -> str:
    """All reports as plain text; per-level observer rows only when ``per_level``."""
    observer = reports.observer
    if not per_level and not observer.empty:
        observer = observer[observer["level"] == ALL_LEVELS]
    lines = [title or "Study report", RESEARCH_USE_NOTICE + " AI figures are research output.", ""]
    refs = []
    if reports.ground_truth:
        refs.append(f"Ground truth: {reports.ground_truth}.")
    if reports.ai_reference:
        refs.append(
            f"p vs AI: Wilcoxon signed-rank test of the reader's absolute errors against those of "
            f"{reports.ai_reference} (both against the ground truth)."
        )
    lines += refs + ([""] if refs else [])
    lines += render_agreement(
        observer,
        title="Observer study (Table 6 layout): MAE in score points (SD), linearly weighted kappa on the "
        "21 categories, ICC(2,1) [95% CI]",
    )
    lines += render_agreement(
        reports.ai.assign(group="AI vs ground truth") if not reports.ai.empty else reports.ai,
        title="AI performance against the ground truth (Tables 4 and 5 layout), per level",
    )
    lines += render_positions(reports.positions)
    lines += render_likert(reports.likert_distribution, reports.likert_agreement)
    lines += render_explainability(reports.explainability)
    return "\n".join(lines).rstrip() + "\n"
