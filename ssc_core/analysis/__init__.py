"""Agreement statistics, study reports, spreadsheet export and import.

Modules (heavy libraries are imported inside functions, so importing this package stays fast):

* :mod:`~ssc_core.analysis.tables` -- the long-format tables every statistic and export works on
  (ratings, level positions, Likert, timing, AI results) and their validating constructors.
* :mod:`~ssc_core.analysis.results` -- typed results with the n behind each figure, or "not estimable"
  with the reason.
* :mod:`~ssc_core.analysis.agreement` -- MAE, weighted kappa, ICC(2,1), Bland-Altman, Wilcoxon;
  :mod:`~ssc_core.analysis.icc` (pingouin, selected by meaning; a numpy engine held equal to it);
  :mod:`~ssc_core.analysis.matching` (matching raters over case x level x pattern).
* :mod:`~ssc_core.analysis.likert`, :mod:`~ssc_core.analysis.positions`, :mod:`~ssc_core.analysis.explain`
  -- Likert ratings, level positions (mm), heat-map explainability (R-squared).
* :mod:`~ssc_core.analysis.reports` -- the observer study (the paper's Table 6), AI performance
  (Tables 4/5) and the other report tables; :mod:`~ssc_core.analysis.render` -- plain text.
* :mod:`~ssc_core.analysis.export` -- xlsx and CSV export (atomic) and reading an export back;
  :mod:`~ssc_core.analysis.authors_formats` and :mod:`~ssc_core.analysis.conversions` -- the authors'
  label workbook and Likert JSON.
* :mod:`~ssc_core.analysis.simulate` -- simulated reader studies of known reader noise.
"""

from ssc_core.analysis.agreement import (
    bland_altman,
    compare,
    compare_errors,
    icc,
    mae,
    weighted_kappa,
    wilcoxon_errors,
)
from ssc_core.analysis.export import export_csv, export_workbook, read_export
from ssc_core.analysis.reports import StudyReports, compute_reports, observer_report, observer_table
from ssc_core.analysis.results import BlandAltman, Estimate, LinearFit, PairAgreement, WilcoxonResult
from ssc_core.analysis.tables import (
    RaterKind,
    StudyDescription,
    StudyTables,
    ai_table,
    level_table,
    likert_table,
    ratings_table,
    timing_table,
)

__all__ = [
    "BlandAltman",
    "Estimate",
    "LinearFit",
    "PairAgreement",
    "RaterKind",
    "StudyDescription",
    "StudyReports",
    "StudyTables",
    "WilcoxonResult",
    "ai_table",
    "bland_altman",
    "compare",
    "compare_errors",
    "compute_reports",
    "export_csv",
    "export_workbook",
    "icc",
    "level_table",
    "likert_table",
    "mae",
    "observer_report",
    "observer_table",
    "ratings_table",
    "read_export",
    "timing_table",
    "weighted_kappa",
    "wilcoxon_errors",
]
