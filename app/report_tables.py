"""The study reports as display tables: formatted cells, section headings, reasons and notes.

Built in the worker from :class:`~ssc_core.analysis.reports.StudyReports` (no Qt here), so the window only
hands finished rows to its table models. Layouts follow the paper: the observer study as its Table 6 (one
row per comparison, one block of MAE / kappa / ICC per pattern), AI performance as its Tables 4 and 5 (all
levels, then each level). A figure the data cannot give reads "n.e." and carries its reason; everything
that was left out of a comparison is in the row's notes.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ssc_core.analysis.render import fmt, fmt_ci, fmt_p, fmt_sd
from ssc_core.analysis.reports import ALL_LEVELS
from ssc_core.analysis.results import NOT_ESTIMABLE
from ssc_core.constants import LEVELS, PATTERNS, SIGNIFICANCE_LEVEL

if TYPE_CHECKING:
    import pandas as pd

    from ssc_core.analysis.reports import StudyReports

#: Level keys of the per-level tables, pooled first.
LEVEL_KEYS: tuple[str, ...] = (ALL_LEVELS, *(lv.label for lv in LEVELS))
PATTERN_NAMES = {"TOT": "total extent", "GG": "ground glass", "RET": "reticulation"}
EM_DASH = "\u2014"


def level_name(key: str) -> str:
    return "All levels" if key == ALL_LEVELS else key


@dataclass(frozen=True)
class Cell:
    """One displayed figure: its text, a tooltip (the reason when not estimable), and emphasis."""

    text: str
    tooltip: str = ""
    not_estimable: bool = False
    numeric: bool = True
    bold: bool = False


@dataclass(frozen=True)
class TableRow:
    """A row of figures, or (``heading``) a section title spanning the table.

    ``pair`` names the two raters the row compares and ``level`` its level key, so the plots can follow
    the row a user selects.
    """

    cells: tuple[Cell, ...]
    heading: bool = False
    pair: tuple[str, str] | None = None
    level: str | None = None


@dataclass(frozen=True)
class ReportTable:
    """A report as shown: column titles, rows, what the figures mean, and what to say when empty.

    ``column_patterns`` gives the pattern (TOT/GG/RET) of each column, or None.
    """

    key: str
    title: str
    columns: tuple[str, ...]
    rows: tuple[TableRow, ...]
    caption: str = ""
    empty_message: str = ""
    column_patterns: tuple[str | None, ...] = ()

    @property
    def empty(self) -> bool:
        return not any(not r.heading for r in self.rows)

    def text_rows(self) -> list[list[str]]:
        """Header and rows as plain text (headings in the first column), for CSV and the clipboard."""
        width = len(self.columns)
        out = [[c.replace("\n", " ") for c in self.columns]]
        for r in self.rows:
            texts = [c.text for c in r.cells]
            out.append((texts + [""] * width)[:width])
        return out


@dataclass(frozen=True, eq=False)
class DisplayTables:
    """All display tables of a study."""

    observer: dict[str, ReportTable]
    ai: ReportTable
    positions: ReportTable
    likert: ReportTable
    likert_agreement: ReportTable
    explainability: ReportTable
    ground_truth: str = ""
    ai_reference: str = ""


# --- cells -------------------------------------------------------------------------------------------------


def _missing(x: object) -> bool:
    return x is None or (isinstance(x, float) and math.isnan(x))


_NEGATIVE_ZERO = re.compile(r"-(0\.0+)(?![0-9])")


def _figure(text: str, value: object, note: str, what: str) -> Cell:
    if _missing(value):
        reason = note or "not estimable from these data"
        return Cell(NOT_ESTIMABLE, f"{what} not estimable: {reason}", not_estimable=True)
    return Cell(_NEGATIVE_ZERO.sub(r"\1", text))  # "-0.0": a tiny negative rounded, shown as 0.0


def _text(text: str, tooltip: str = "") -> Cell:
    return Cell(text, tooltip, numeric=False)


def _heading(text: str, tooltip: str = "") -> TableRow:
    return TableRow((_text(text, tooltip),), heading=True)


def _n_text(values: Iterable[object]) -> str:
    ns = sorted({int(v) for v in values if not _missing(v)})
    if not ns:
        return "0"
    return str(ns[0]) if len(ns) == 1 else f"{ns[0]}\u2013{ns[-1]}"


def _merge_notes(notes: Sequence[tuple[str, str]]) -> str:
    """Per-pattern notes; one note when every pattern has the same one."""
    texts = [n for _, n in notes if n]
    if not texts:
        return ""
    if len(texts) == len(notes) and len(set(texts)) == 1:
        return texts[0]
    return "; ".join(f"{p}: {n}" for p, n in notes if n)


def _notes_cell(text: str) -> Cell:
    return Cell(text, text, numeric=False)


def _agreement_cells(rec: object, *, with_p: bool) -> list[Cell]:
    """MAE (SD), kappa, ICC [CI] (and p vs AI) of one pattern of a long agreement row."""
    note = str(getattr(rec, "note", "") or "")
    mae = _figure(fmt_sd(rec.mae, rec.mae_sd), rec.mae, note, "MAE")
    if not mae.not_estimable and not _missing(rec.ba_bias):
        mae = Cell(
            mae.text,
            f"Mean absolute difference {fmt(rec.mae)} points (SD {fmt(rec.mae_sd)}); Bland-Altman bias "
            f"{fmt(rec.ba_bias)} [{fmt(rec.ba_loa_low)}, {fmt(rec.ba_loa_high)}]; n = {rec.n_cases} cases, "
            f"{rec.n_obs} observations",
        )
    cells = [
        mae,
        _figure(fmt(rec.kappa), rec.kappa, note, "Kappa"),
        _figure(fmt_ci(rec.icc, rec.icc_ci_low, rec.icc_ci_high), rec.icc, note, "ICC"),
    ]
    if not cells[2].not_estimable and (_missing(rec.icc_ci_low) or _missing(rec.icc_ci_high)):
        cells[2] = Cell(cells[2].text, note)
    if with_p:
        p = getattr(rec, "p_vs_ai", float("nan"))
        if _missing(p):
            cells.append(
                Cell("", "No Wilcoxon test for this row" + (f": {note}" if "p vs AI" in note else ""))
            )
        else:
            cells.append(
                Cell(fmt_p(p), f"Wilcoxon signed-rank p = {float(p):.4f}", bold=p < SIGNIFICANCE_LEVEL)
            )
    return cells


def _pattern_columns(titles: Sequence[str]) -> tuple[list[str], list[str | None]]:
    cols: list[str] = []
    pats: list[str | None] = []
    for p in PATTERNS:
        for t in titles:
            cols.append(f"{p.value}\n{t}")
            pats.append(p.value)
    return cols, pats


def _agreement_rows(
    long: pd.DataFrame, key_cols: Sequence[str], label: str, *, with_p: bool
) -> tuple[list[list[Cell]], list[tuple[str, str]], list[object]]:
    """One row of cells per comparison (grouped by ``key_cols``): n cases, n obs, pattern blocks, notes."""
    rows: list[list[Cell]] = []
    pairs: list[tuple[str, str]] = []
    keys: list[object] = []
    for key, part in long.groupby(list(key_cols), sort=False):
        by_pattern = {rec.pattern: rec for rec in part.itertuples(index=False)}
        first = next(iter(by_pattern.values()))
        cells = [
            _text(str(getattr(first, label))),
            Cell(_n_text(part["n_cases"])),
            Cell(_n_text(part["n_obs"])),
        ]
        notes = []
        for p in PATTERNS:
            rec = by_pattern.get(p.value)
            if rec is None:
                cells += [Cell(EM_DASH)] * (4 if with_p else 3)
                continue
            cells += _agreement_cells(rec, with_p=with_p)
            notes.append((p.value, str(rec.note or "")))
        cells.append(_notes_cell(_merge_notes(notes)))
        rows.append(cells)
        pairs.append((str(first.rater_a), str(first.rater_b)))
        keys.append(key)
    return rows, pairs, keys


# --- tables ------------------------------------------------------------------------------------------------

_AGREEMENT_TITLES = ("MAE (SD)", "\u03ba", "ICC [95% CI]")
_CAPTION_FIGURES = (
    "MAE: mean absolute difference in score points (% of the lung area), with its SD. \u03ba: Cohen's "
    "kappa with linear weights on the 21 categories 0, 5, \u2026, 100. ICC: ICC(2,1), two-way random, "
    "absolute agreement, single rater, with its 95 % confidence interval. n.e.: not estimable (the reason "
    "is in the cell's tooltip)."
)


def observer_tables(reports: StudyReports) -> dict[str, ReportTable]:
    """The observer study in the Table 6 layout, pooled and for each level."""
    long = reports.observer
    with_p = bool(reports.ai_reference) and not long.empty and bool(long["p_vs_ai"].notna().any())
    titles = (*_AGREEMENT_TITLES, "p vs AI") if with_p else _AGREEMENT_TITLES
    pcols, pats = _pattern_columns(titles)
    columns = ("Comparison", "n cases", "n obs", *pcols, "Notes")
    caption = _CAPTION_FIGURES
    if reports.ground_truth:
        caption += f" Ground truth: {reports.ground_truth}."
    if with_p:
        caption += (
            f" p vs AI: Wilcoxon signed-rank test of the reader's absolute errors against those of "
            f"{reports.ai_reference} (both against the ground truth); bold: p < {SIGNIFICANCE_LEVEL:g}."
        )
    out = {}
    for level in LEVEL_KEYS:
        part = long[long["level"] == level] if not long.empty else long
        rows: list[TableRow] = []
        if not part.empty:
            for group, g in part.groupby("group", sort=False):
                rows.append(_heading(str(group)))
                cells, pairs, _ = _agreement_rows(g, ["comparison"], "comparison", with_p=with_p)
                rows += [TableRow(tuple(c), pair=p, level=level) for c, p in zip(cells, pairs)]
        where = "all levels pooled" if level == ALL_LEVELS else f"level {level} only"
        out[level] = ReportTable(
            key=f"observer-{level}",
            title=f"Observer study ({where})",
            columns=columns,
            rows=tuple(rows),
            caption=caption,
            empty_message="No two raters have finished readings of the same cases yet: nothing to compare.",
            column_patterns=(None, None, None, *pats, None),
        )
    return out


def ai_performance_table(reports: StudyReports) -> ReportTable:
    """AI performance against the ground truth: all levels (Table 4) and each level (Table 5)."""
    long = reports.ai
    pcols, pats = _pattern_columns(_AGREEMENT_TITLES)
    rows: list[TableRow] = []
    if not long.empty:
        for (ai_id, gt_id), g in long.groupby(["rater_a", "rater_b"], sort=False):
            rows.append(_heading(f"{ai_id} vs {gt_id}", "AI output is research output, not a diagnosis."))
            cells, pairs, keys = _agreement_rows(g, ["level"], "level", with_p=False)
            for c, p, k in zip(cells, pairs, keys):
                c[0] = _text(level_name(str(k[0] if isinstance(k, tuple) else k)))
                rows.append(TableRow(tuple(c), pair=p, level=str(k[0] if isinstance(k, tuple) else k)))
    caption = _CAPTION_FIGURES + " AI scores as the workstation shows them (rounded to the 5 % grid)."
    if reports.ground_truth:
        caption += f" Ground truth: {reports.ground_truth}."
    return ReportTable(
        key="ai",
        title="AI performance against the ground truth",
        columns=("Level", "n cases", "n obs", *pcols, "Notes"),
        rows=tuple(rows),
        caption=caption + " Research use only.",
        empty_message=(
            "No AI results to evaluate: this needs cached AI results and a finished consensus "
            "(ground truth) of the same cases."
        ),
        column_patterns=(None, None, None, *pats, None),
    )


def positions_table(frame: pd.DataFrame) -> ReportTable:
    """Level positions against the consensus (or every pair without one): MAE, ICC, Bland-Altman in mm."""
    rows: list[TableRow] = []
    if not frame.empty:
        for comparison, g in frame.groupby("comparison", sort=False):
            rows.append(_heading(str(comparison)))
            for rec in g.itertuples(index=False):
                note = str(rec.note or "")
                if rec.level == ALL_LEVELS and _missing(rec.icc):
                    icc = Cell(EM_DASH, note or "ICC is reported per level")
                else:
                    icc = _figure(fmt_ci(rec.icc, rec.icc_ci_low, rec.icc_ci_high), rec.icc, note, "ICC")
                ba_text = (
                    f"{fmt(rec.ba_bias_mm, 1)} [{fmt(rec.ba_loa_low_mm, 1)}, {fmt(rec.ba_loa_high_mm, 1)}]"
                )
                cells = (
                    _text(level_name(str(rec.level))),
                    Cell(str(rec.n_cases)),
                    Cell(str(rec.n_obs)),
                    _figure(fmt_sd(rec.mae_mm, rec.mae_sd_mm, 1), rec.mae_mm, note, "MAE"),
                    icc,
                    _figure(ba_text, rec.ba_bias_mm, note, "Bland-Altman"),
                    _notes_cell(note),
                )
                rows.append(TableRow(cells, pair=(str(rec.rater_a), str(rec.rater_b)), level=str(rec.level)))
    return ReportTable(
        key="positions",
        title="Level positions",
        columns=("Level", "n cases", "n obs", "MAE mm (SD)", "ICC [95% CI]", "Bias mm [95% LoA]", "Notes"),
        rows=tuple(rows),
        caption=(
            "World z of each level (mm, DICOM patient coordinates). MAE: mean absolute distance with its SD; "
            "ICC(2,1) per level with its 95 % CI; Bland-Altman bias (A \u2212 B) with 95 % limits of "
            "agreement (bias \u00b1 1.96 SD)."
        ),
        empty_message="No two raters have placed the levels of the same cases yet.",
    )


def likert_table(frame: pd.DataFrame) -> ReportTable:
    """Heat-map explainability ratings: counts of 1..5 per rater and pattern, and the share of 4-5."""
    from ssc_core.analysis.likert import ALL_RATERS

    rows: list[TableRow] = []
    if not frame.empty and int(frame["n_ratings"].sum()) > 0:
        n_raters = frame.loc[frame["rater"] != ALL_RATERS, "rater"].nunique()
        for pattern, g in frame.groupby("pattern", sort=False):
            rows.append(_heading(f"{pattern} ({PATTERN_NAMES.get(str(pattern), pattern)})"))
            for rec in g.itertuples(index=False):
                if rec.rater == ALL_RATERS and n_raters < 2:
                    continue  # the pooled row would repeat the only rater's
                share = rec.share_agree
                cells = (
                    _text(str(rec.rater)),
                    Cell(str(rec.n_cases)),
                    Cell(str(rec.n_ratings)),
                    *(Cell(str(getattr(rec, f"n_{v}"))) for v in range(1, 6)),
                    Cell(EM_DASH, "Nothing rated") if _missing(share) else Cell(f"{100 * share:.0f} %"),
                )
                rows.append(TableRow(cells))
    return ReportTable(
        key="likert",
        title="Heat-map ratings (Likert)",
        columns=(
            "Rater",
            "n cases",
            "n ratings",
            "1\nstrongly disagree",
            "2\ndisagree",
            "3\nneutral",
            "4\nagree",
            "5\nstrongly agree",
            "Agree\n(4 or 5)",
        ),
        rows=tuple(rows),
        caption=(
            "How well the heat map explains the disease of a level, rated by experts blinded to the "
            "network's scores: counts of each rating over case \u00d7 level, and the share of agree or "
            "strongly agree (the paper: 91, 90 and 80 % for TOT, GG, RET)."
        ),
        empty_message="No finished heat-map rating session in this study.",
    )


def likert_agreement_table(frame: pd.DataFrame) -> ReportTable:
    rows = []
    for rec in frame.itertuples(index=False):
        note = str(rec.note or "")
        rows.append(
            TableRow(
                (
                    _text(f"{rec.rater_a} vs {rec.rater_b}"),
                    _text(str(rec.pattern)),
                    Cell(str(rec.n_cases)),
                    Cell(str(rec.n_obs)),
                    _figure(fmt(rec.kappa), rec.kappa, note, "Kappa"),
                    _notes_cell(note),
                ),
                pair=(str(rec.rater_a), str(rec.rater_b)),
            )
        )
    return ReportTable(
        key="likert-agreement",
        title="Agreement between heat-map raters",
        columns=("Raters", "Pattern", "n cases", "n obs", "\u03ba", "Notes"),
        rows=tuple(rows),
        caption="Cohen's kappa with linear weights on the full scale 1..5.",
        empty_message="Agreement between raters needs at least two raters of the same heat maps.",
    )


def explainability_table(frame: pd.DataFrame) -> ReportTable:
    rows = []
    for rec in frame.itertuples(index=False):
        note = str(rec.note or "")
        rows.append(
            TableRow(
                (
                    _text(str(rec.bundle)),
                    _text(f"{rec.pattern} ({PATTERN_NAMES.get(str(rec.pattern), rec.pattern)})"),
                    Cell(str(rec.n_cases)),
                    Cell(str(rec.n_obs)),
                    _figure(fmt(rec.r_squared), rec.r_squared, note, "R\u00b2"),
                    _figure(fmt(rec.slope), rec.slope, note, "Slope"),
                    _figure(fmt(rec.intercept), rec.intercept, note, "Intercept"),
                    _notes_cell(note),
                )
            )
        )
    return ReportTable(
        key="explainability",
        title="Heat-map explainability",
        columns=("AI bundle", "Pattern", "n cases", "n slices", "R\u00b2", "Slope", "Intercept", "Notes"),
        rows=tuple(rows),
        caption=(
            "Share of the variance of the network's output explained by the heat-map-derived score "
            "(least-squares line output = slope \u00d7 heat-map score + intercept; the paper: 0.84, 0.87, "
            "0.83). AI output: research use only."
        ),
        empty_message=(
            "No heat-map-derived scores stored with the AI results: the AI integration records them when "
            "it computes heat maps."
        ),
    )


def display_tables(reports: StudyReports) -> DisplayTables:
    """Every display table of ``reports``."""
    return DisplayTables(
        observer=observer_tables(reports),
        ai=ai_performance_table(reports),
        positions=positions_table(reports.positions),
        likert=likert_table(reports.likert_distribution),
        likert_agreement=likert_agreement_table(reports.likert_agreement),
        explainability=explainability_table(reports.explainability),
        ground_truth=reports.ground_truth,
        ai_reference=reports.ai_reference,
    )
