"""``ssc evaluate``: a bundle against reference labels, in the paper's tables (every statistic from analysis).

For each case the bundle's cascade runs as the workstation runs it (:class:`~ssc_core.ai.cascade.
CascadeRunner`): the level finder places the five levels, and the scorer scores

* the **reference level slices** (the scorer alone, as the paper's Table 4 evaluates the S-Net), rater
  "AI (bundle, reference levels)", and
* the **slices the level finder chose** (the whole cascade), rater "AI (bundle, found levels)".

The reference labels are the consensus rater. :func:`ssc_core.analysis.reports.compute_reports` then gives
MAE with SD, linearly weighted kappa on the 21 categories and ICC(2,1) with 95 % CI per pattern, per level
and over all levels (the paper's Table 4/5 layout), and level positions against the reference (MAE in mm,
ICC per level); :func:`ssc_core.analysis.export.export_workbook` writes them with the data sheets, and the
same figures go to a JSON summary. Scores are the displayed ones (rounded to the 5 % grid, union rule);
the MAE of the raw outputs is in the summary too. Research software: the figures describe this data only.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ssc_core import RESEARCH_USE_NOTICE
from ssc_core.constants import LEVELS, PATTERNS
from ssc_core.errors import SSCError
from ssc_core.progress import CancelToken, ProgressCallback, check_cancel, report
from ssc_core.training.data import DataProblem, TrainingCase

REFERENCE = "Reference"
REFERENCE_SESSION = "labels"
AT_REFERENCE = "reference levels"
AT_FOUND = "found levels"


@dataclass(frozen=True, eq=False)
class Evaluation:
    """Everything ``ssc evaluate`` computed."""

    tables: Any  # StudyTables
    reports: Any  # StudyReports
    summary: dict[str, Any]
    problems: tuple[DataProblem, ...]


def _case_name(case: TrainingCase) -> str:
    return case.where.removeprefix("case ").removeprefix("phantom ")


def _num(x: Any) -> float | None:
    try:
        v = float(x)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(v) else round(v, 4)


def evaluate_bundle(
    bundle: str | Path | None,
    cases: Sequence[TrainingCase],
    *,
    device: str | None = None,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
) -> Evaluation:
    """Run the bundle on ``cases`` and compare with their labels (see the module docstring)."""
    from ssc_core.ai.bundle import load_bundle
    from ssc_core.ai.cascade import CascadeRunner
    from ssc_core.ai.results import SliceScores
    from ssc_core.analysis.agreement import mae
    from ssc_core.analysis.reports import compute_reports
    from ssc_core.analysis.tables import RaterKind, StudyDescription, StudyTables, rater_id

    b = load_bundle(bundle)
    runner = CascadeRunner(b, device)
    ai_name = b.display_name
    ratings: list[dict[str, Any]] = []
    levels: list[dict[str, Any]] = []
    problems: list[DataProblem] = []
    raw_ref: list[np.ndarray] = []
    raw_out: list[np.ndarray] = []
    outside = 0
    for n, case in enumerate(cases):
        check_cancel(cancel)
        report(progress, n, len(cases), f"Evaluating case {n + 1} of {len(cases)}")
        try:
            volume, labels = case.load()
        except SSCError as exc:
            problems.append(DataProblem(case.where, "scan", f"the scan cannot be read: {exc}"))
            continue
        ref_k = {lv: volume.nearest_slice(labels.level_z[lv]) for lv in LEVELS}
        bad = [lv for lv, k in ref_k.items() if k is None]
        if bad:
            problems.append(
                DataProblem(case.where, f"L{int(bad[0])}_pos", f"{bad[0].label} lies outside the scan")
            )
            continue
        name = _case_name(case)
        findings = runner.level_finder.find(volume, cancel=cancel)
        ref_slices = np.stack([np.asarray(volume.axial(int(ref_k[lv]))) for lv in LEVELS])  # type: ignore[arg-type]
        raw = runner.raw_scores(ref_slices)
        _, dy, dx = volume.spacing
        for lv, finding, r in zip(LEVELS, findings, raw):
            truth = labels.score_vector(lv)
            shown = SliceScores.from_raw(*r)
            raw_ref.append(np.asarray(truth))
            raw_out.append(np.asarray(r))
            levels.append(_level_row(name, "consensus", REFERENCE, REFERENCE_SESSION, lv, labels.level_z[lv]))
            if finding.world_z is not None:
                levels.append(_level_row(name, "ai", ai_name, "", lv, finding.world_z))
            if not finding.inside:
                outside += 1
            found_scores = None
            if finding.inside and finding.slice_index is not None:
                found_scores, _ = runner.score_slice(np.asarray(volume.axial(finding.slice_index)), (dy, dx))
            for i, p in enumerate(PATTERNS):
                ratings.append(
                    _rating_row(name, "consensus", REFERENCE, REFERENCE_SESSION, lv, p.value, truth[i])
                )
                ratings.append(_rating_row(name, "ai", ai_name, AT_REFERENCE, lv, p.value, shown.rounded[i]))
                value = found_scores.rounded[i] if found_scores is not None else float("nan")
                ratings.append(_rating_row(name, "ai", ai_name, AT_FOUND, lv, p.value, value))
    report(progress, len(cases), len(cases), "Computing statistics")
    tables = StudyTables.build(
        ratings=ratings,
        levels=levels,
        description=StudyDescription(
            title=f"Evaluation of the model bundle '{ai_name}'",
            notes=(RESEARCH_USE_NOTICE, f"bundle hash {b.hash}"),
        ),
    )
    gt = rater_id(RaterKind.CONSENSUS, REFERENCE, REFERENCE_SESSION)
    reports = compute_reports(tables, ground_truth=gt, cancel=cancel)
    summary = _summary(reports, ai_name, b.hash, len(cases) - len({p.where for p in problems}), outside)
    if raw_out:
        out, ref = np.asarray(raw_out), np.asarray(raw_ref)
        summary["raw_output_mae"] = {
            p.value: _num(mae(np.clip(out[:, i], 0, 100), ref[:, i]).value) for i, p in enumerate(PATTERNS)
        }
    return Evaluation(tables, reports, summary, tuple(problems))


def _rating_row(
    case: str, kind: str, reader: str, session: str, lv, pattern: str, score: float
) -> dict[str, Any]:
    return {
        "case": case,
        "rater_kind": kind,
        "reader": reader,
        "session": session,
        "level": int(lv),
        "pattern": pattern,
        "score": score,
    }


def _level_row(case: str, kind: str, reader: str, session: str, lv, z: float) -> dict[str, Any]:
    return {
        "case": case,
        "rater_kind": kind,
        "reader": reader,
        "session": session,
        "level": int(lv),
        "z_mm": z,
    }


def _summary(reports: Any, ai_name: str, bundle_hash: str, n_cases: int, outside: int) -> dict[str, Any]:
    scorer: dict[str, Any] = {}
    for _, row in reports.ai.iterrows():
        where = AT_REFERENCE if AT_REFERENCE in row["rater_a"] else AT_FOUND
        scorer.setdefault(where, {}).setdefault(row["level"], {})[row["pattern"]] = {
            "mae": _num(row["mae"]),
            "mae_sd": _num(row["mae_sd"]),
            "kappa": _num(row["kappa"]),
            "icc": _num(row["icc"]),
            "icc_ci": [_num(row["icc_ci_low"]), _num(row["icc_ci_high"])],
            "n_cases": int(row["n_cases"]),
            "n_obs": int(row["n_obs"]),
        }
    positions: dict[str, Any] = {}
    for _, row in reports.positions.iterrows():
        positions[row["level"]] = {
            "mae_mm": _num(row["mae_mm"]),
            "mae_sd_mm": _num(row["mae_sd_mm"]),
            "icc": _num(row["icc"]),
            "icc_ci": [_num(row["icc_ci_low"]), _num(row["icc_ci_high"])],
            "n_cases": int(row["n_cases"]),
        }
    return {
        "bundle": ai_name,
        "bundle_hash": bundle_hash,
        "cases": n_cases,
        "levels_outside_scan": outside,
        "level_positions": positions,
        "scores": scorer,
        "notice": RESEARCH_USE_NOTICE,
    }


def write_evaluation(
    evaluation: Evaluation, out: str | Path, json_path: str | Path | None = None
) -> tuple[Path, Path]:
    """The workbook (data, description, the paper's tables) and the JSON summary beside it."""
    from ssc_core.analysis.export import export_workbook
    from ssc_core.fileio import atomic_write

    xlsx = export_workbook(evaluation.tables, out, reports=evaluation.reports)
    target = Path(json_path) if json_path is not None else Path(out).with_suffix(".json")
    with atomic_write(target) as tmp:
        Path(tmp).write_text(json.dumps(evaluation.summary, indent=1) + "\n", encoding="utf-8")
    return xlsx, target


def headline(summary: dict[str, Any]) -> dict[str, Any]:
    """The figures the demo bundle is held to: level MAE (mm) per level; scorer TOT kappa and MAE."""
    pos = summary.get("level_positions", {})
    tot = summary.get("scores", {}).get(AT_REFERENCE, {}).get("all", {}).get("TOT", {})
    cascade = summary.get("scores", {}).get(AT_FOUND, {}).get("all", {}).get("TOT", {})
    return {
        "level_mae_mm": {lv.label: pos.get(lv.label, {}).get("mae_mm") for lv in LEVELS},
        "scorer_tot_kappa": tot.get("kappa"),
        "scorer_tot_mae": tot.get("mae"),
        "cascade_tot_kappa": cascade.get("kappa"),
        "cascade_tot_mae": cascade.get("mae"),
    }
