"""Study tables from a study file: the whole study (admin) or one blinded reader's own readings.

The admin tables come from :mod:`ssc_core.study.queries` (pseudonymous case codes only; scan locations,
source names and identities are never read into them). A blinded reader's tables are built from their
:class:`~ssc_core.study.records.ReaderView` alone, so nothing hidden from them can reach their export.

Mapping to the tables (:mod:`ssc_core.analysis.tables`):

* consensus sessions give the ``consensus`` rater (reader "Consensus", the session label), observer and
  heat-map rating sessions give ``reader`` raters; values entered with the AI's output in view
  (phase "assisted") are a rater of their own;
* ``finished`` = the reading is submitted; ``entered_at`` = when the reading was last edited (for the
  unaided values of an after-commit reading: when they were committed), ``submitted_at`` = submission;
* excluded cases are left out (their number is noted in the study description);
* AI results: ``output`` = the cached network output, ``score`` = that output rounded to the grid,
  clipped and made consistent as the workstation shows it; the heat-map-derived score and threshold are
  read from the result's details (``{"heatmap_scores": {"L1": {"TOT": 12.5, ...}}, "heatmap_threshold":
  -0.6}``) when the AI integration stored them. Bundles are named by the first 12 characters of their hash.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from ssc_core import __version__
from ssc_core.analysis.tables import CONSENSUS_READER, RaterKind, SessionInfo, StudyDescription, StudyTables
from ssc_core.constants import LEVELS, PATTERNS, Level
from ssc_core.scoring import make_consistent, round_to_grid

if TYPE_CHECKING:
    from ssc_core.study.records import ReaderView
    from ssc_core.study.store import StudyStore

#: Characters of a bundle hash used as the bundle's name in tables and reports.
BUNDLE_NAME_CHARS = 12
#: Shortest source name used as a forbidden text in exports (shorter ones are too likely to be words).
MIN_FORBIDDEN_CHARS = 4


def bundle_name(bundle_hash: str) -> str:
    return bundle_hash[:BUNDLE_NAME_CHARS]


def _kind(session_kind: Any) -> str:
    from ssc_core.study.records import SessionKind

    return (
        RaterKind.CONSENSUS.value
        if SessionKind(session_kind) is SessionKind.CONSENSUS
        else RaterKind.READER.value
    )


def _who(key: Any) -> dict[str, object]:
    kind = _kind(key.session_kind)
    return {
        "case": key.case_code,
        "rater_kind": kind,
        "reader": CONSENSUS_READER if kind == RaterKind.CONSENSUS.value else key.reader,
        "session": key.session,
    }


def _entered(key: Any, phase: Any) -> datetime | None:
    from ssc_core.study.records import Phase

    if Phase(phase) is Phase.UNAIDED and key.unaided_committed_at is not None:
        return key.unaided_committed_at
    return key.updated_at


def _finished(key: Any) -> bool:
    from ssc_core.study.records import ReadingStatus

    return ReadingStatus(key.status) is ReadingStatus.SUBMITTED


def _assisted(phase: Any) -> bool:
    from ssc_core.study.records import Phase

    return Phase(phase) is Phase.ASSISTED


def _ai_tables(
    store: StudyStore,
) -> tuple[list[dict[str, object]], list[dict[str, object]], set[str]]:
    """(AI result rows, AI level-position rows, bundle hashes) of the cached results of included cases."""
    from ssc_core.study.queries import ai_rows

    results: list[dict[str, object]] = []
    positions: list[dict[str, object]] = []
    details_cache: dict[tuple[str, str], dict[str, Any]] = {}
    excluded = {c.code for c in store.cases() if c.excluded_reason is not None}
    bundles: set[str] = set()
    for row in ai_rows(store):
        if row.case_code in excluded:
            continue
        bundles.add(row.bundle_hash)
        name = bundle_name(row.bundle_hash)
        if row.world_z is not None:
            positions.append(
                {
                    "case": row.case_code,
                    "rater_kind": RaterKind.AI.value,
                    "reader": name,
                    "session": "",
                    "level": int(row.level),
                    "z_mm": row.world_z,
                    "slice_index": row.slice_index,
                    # A cached AI result is complete; without this the reader rows' column would leave
                    # the AI's positions unfinished, and every comparison with them out.
                    "finished": True,
                    "entered_at": row.created_at,
                }
            )
        if not all(p.value in row.scores for p in PATTERNS):
            continue
        key = (row.case_code, row.bundle_hash)
        if key not in details_cache:
            res = store.ai_result(store.case_by_code(row.case_code).id, row.bundle_hash)
            details_cache[key] = dict(res.details or {}) if res is not None else {}
        details = details_cache[key]
        hm_all = details.get("heatmap_scores") if isinstance(details.get("heatmap_scores"), dict) else {}
        hm = hm_all.get(Level(row.level).label, {}) if isinstance(hm_all, dict) else {}
        threshold = details.get("heatmap_threshold")
        raw = [float(row.scores[p.value]) for p in PATTERNS]
        shown = make_consistent(*(round_to_grid(v) for v in raw))
        for pattern, output, score in zip(PATTERNS, raw, shown):
            value = hm.get(pattern.value) if isinstance(hm, dict) else None
            results.append(
                {
                    "case": row.case_code,
                    "bundle": name,
                    "level": int(row.level),
                    "pattern": pattern.value,
                    "output": output,
                    "score": score,
                    "heatmap_score": float(value) if isinstance(value, (int, float)) else None,
                    "heatmap_threshold": float(threshold) if isinstance(threshold, (int, float)) else None,
                }
            )
    return results, positions, bundles


def study_description(store: StudyStore, *, notes: tuple[str, ...] = ()) -> StudyDescription:
    """Sessions, readers, software version and audit-chain head of a study (no patient data)."""
    from ssc_core.study.records import AIPolicy

    names = {r.id: r.name for r in store.readers()}
    sessions = tuple(
        SessionInfo(
            label=s.label,
            kind=s.kind.value,
            assisted=s.ai_policy is not AIPolicy.HIDDEN,
            blinded=s.blinded,
            readers=tuple(names.get(i, str(i)) for i in s.reader_ids),
            opened="" if s.opened_at is None else s.opened_at.astimezone(timezone.utc).isoformat(),
            closed="" if s.closed_at is None else s.closed_at.astimezone(timezone.utc).isoformat(),
        )
        for s in store.sessions()
    )
    readers = tuple(dict.fromkeys(n for s in sessions for n in s.readers))
    return StudyDescription(
        title=store.study.name,
        sessions=sessions,
        readers=readers,
        software_version=__version__,
        audit_head=store.audit_head,
        notes=notes,
    )


def study_tables(store: StudyStore) -> StudyTables:
    """Every reading of the study as validated tables (admin export and statistics)."""
    from ssc_core.study.queries import level_rows, rating_rows, score_rows, timing_rows

    excluded_cases = {c.code for c in store.cases() if c.excluded_reason is not None}
    policy = {s.label: s.ai_policy.value for s in store.sessions()}

    def keep(key: Any) -> bool:
        return not key.case_excluded

    ratings = [
        {
            **_who(r.key),
            "level": int(r.level),
            "pattern": r.pattern.value,
            "score": r.value,
            "assisted": _assisted(r.phase),
            "finished": _finished(r.key),
            "entered_at": _entered(r.key, r.phase),
            "submitted_at": r.key.submitted_at,
        }
        for r in score_rows(store)
        if keep(r.key)
    ]
    levels = [
        {
            **_who(r.key),
            "level": int(r.level),
            "z_mm": r.world_z,
            "slice_index": r.slice_index,
            "assisted": _assisted(r.phase),
            "finished": _finished(r.key),
            "entered_at": _entered(r.key, r.phase),
        }
        for r in level_rows(store)
        if keep(r.key)
    ]
    likert = [
        {
            **_who(r.key),
            "level": int(r.level),
            "pattern": r.pattern.value,
            "rating": r.value,
            "assisted": _assisted(r.phase),
            "finished": _finished(r.key),
            "entered_at": _entered(r.key, r.phase),
        }
        for r in rating_rows(store)
        if keep(r.key)
    ]
    timing = [
        {
            **_who(r.key),
            "assisted": r.key.unaided_committed_at is not None or policy.get(r.key.session) == "visible",
            "scope": "case" if r.level is None else Level(r.level).label,
            "seconds": r.seconds,
            "started_at": r.key.created_at,
            "submitted_at": r.key.submitted_at,
        }
        for r in timing_rows(store)
        if keep(r.key)
    ]
    ai, ai_levels, bundles = _ai_tables(store)
    notes: list[str] = []
    if excluded_cases:
        notes.append(f"{len(excluded_cases)} excluded case(s) left out of every table")
    notes += [f"AI bundle {bundle_name(b)} = {b}" for b in sorted(bundles)]
    return StudyTables.build(
        ratings=ratings,
        levels=levels + ai_levels,
        likert=likert,
        timing=timing,
        ai=ai,
        description=study_description(store, notes=tuple(notes)),
    )


def reader_view_tables(view: ReaderView) -> StudyTables:
    """One reader's own readings of one session, from their reader view only (a blinded reader's export).

    Only what the view holds is read: the reader's own values, timing and status; nothing of other
    readers, the consensus, or an AI the session hides.
    """
    from ssc_core.study.records import Phase, SessionKind

    session = view.session
    kind = RaterKind.CONSENSUS.value if session.kind is SessionKind.CONSENSUS else RaterKind.READER.value
    reader = CONSENSUS_READER if kind == RaterKind.CONSENSUS.value else view.reader.name
    ratings: list[dict[str, object]] = []
    levels: list[dict[str, object]] = []
    likert: list[dict[str, object]] = []
    timing: list[dict[str, object]] = []
    for item in view.worklist:
        r = view.readings.get(item.case_code)
        if r is None:
            continue
        base = {"case": item.case_code, "rater_kind": kind, "reader": reader, "session": session.label}
        finished = r.submitted
        phases = [(r.phase, r.values, r.updated_at)]
        if r.unaided is not None and r.phase is not Phase.UNAIDED:
            phases.insert(0, (Phase.UNAIDED, r.unaided, r.unaided_committed_at or r.updated_at))
        for phase, values, when in phases:
            assisted = phase is Phase.ASSISTED
            common = {**base, "assisted": assisted, "finished": finished, "entered_at": when}
            for lv in LEVELS:
                placed = values.levels.get(lv)
                if placed is not None:
                    levels.append(
                        {
                            **common,
                            "level": int(lv),
                            "z_mm": placed.world_z,
                            "slice_index": placed.slice_index,
                        }
                    )
                for pat in PATTERNS:
                    score = values.score(lv, pat)
                    if score is not None:
                        ratings.append(
                            {
                                **common,
                                "level": int(lv),
                                "pattern": pat.value,
                                "score": score,
                                "submitted_at": r.submitted_at,
                            }
                        )
                    rating = values.rating(lv, pat)
                    if rating is not None:
                        likert.append({**common, "level": int(lv), "pattern": pat.value, "rating": rating})
        timing.append(
            {
                **base,
                "assisted": r.unaided_committed_at is not None or r.phase is Phase.ASSISTED,
                "scope": "case",
                "seconds": r.time_on_case_s,
                "started_at": r.created_at,
                "submitted_at": r.submitted_at,
            }
        )
        for lv, seconds in sorted(r.time_per_level_s.items()):
            timing.append(
                {
                    **base,
                    "assisted": r.unaided_committed_at is not None or r.phase is Phase.ASSISTED,
                    "scope": Level(lv).label,
                    "seconds": seconds,
                    "started_at": r.created_at,
                    "submitted_at": r.submitted_at,
                }
            )
    description = StudyDescription(
        title="",
        sessions=(
            SessionInfo(
                label=session.label,
                kind=session.kind.value,
                assisted=session.ai_policy.value != "hidden",
                blinded=session.blinded,
                readers=(view.reader.name,),
            ),
        ),
        readers=(view.reader.name,),
        software_version=__version__,
        audit_head="",
        exported_for=f"reader {view.reader.name}, session {session.label} (own readings only)",
        notes=(f"{view.submitted} of {view.total} case(s) submitted",),
    )
    return StudyTables.build(
        ratings=ratings, levels=levels, likert=likert, timing=timing, description=description
    )


def forbidden_texts(store: StudyStore) -> list[str]:
    """Texts an export of this study must never contain (a safety net; the tables never read them).

    The study file keeps where each scan came from, for the admin; PACS exports often name folders and
    files after the patient. Forbidden are the cases' source names and every component of their scan
    locations that is particular to one case (components shared by several cases, such as a common
    "scans" folder, identify nobody), each of at least four characters.
    """
    from pathlib import PurePath

    per_case: list[set[str]] = []
    for c in store.cases():
        parts = {c.source_name or ""}
        for part in (
            PurePath(c.location).parts[1:] if PurePath(c.location).anchor else PurePath(c.location).parts
        ):
            parts.add(part)
            parts.add(part.split(".", 1)[0])  # without suffixes (".mha", ".nii.gz")
        per_case.append({p.strip() for p in parts if len(p.strip()) >= MIN_FORBIDDEN_CHARS})
    counts: dict[str, int] = {}
    for parts in per_case:
        for p in parts:
            counts[p] = counts.get(p, 0) + 1
    shared = len(per_case) > 1
    return sorted(p for p, n in counts.items() if not (shared and n > 1))
