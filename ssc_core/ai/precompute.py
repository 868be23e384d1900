"""AI results of a study's cases, computed ahead of time or on demand, and cached in the study file.

The work on one case is split into **units**: the cascade (levels and scores), then the heat maps of the
AI's scored levels, one level per unit. Each unit's result is written to the study's AI cache as soon as it
is complete (:func:`write_event`), so an interrupted run loses at most the unit in progress, and a new run
skips what is cached (:func:`plan_case` reads only what exists, never a value a session may hide).

The same units serve the headless ``ssc study precompute`` (:func:`precompute`, in this process) and the
workstation, which runs them in its AI process (:mod:`ssc_core.ai.service`) and writes the results from
its GUI thread with the same :func:`write_event`.

Research software, not a medical device: every cached result carries the cascade's research notice in its
details.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ssc_core.constants import LEVELS, Level, Pattern
from ssc_core.errors import BundleError, Cancelled, SSCError, StudyError
from ssc_core.progress import CancelToken, ProgressCallback, check_cancel, report
from ssc_core.study.records import ScanSource

if TYPE_CHECKING:  # pragma: no cover
    from ssc_core.ai.cascade import CascadeEvent, CascadeRunner
    from ssc_core.ai.results import CascadeResult, HeatmapResult
    from ssc_core.imaging.volume import CTVolume
    from ssc_core.study.store import StudyStore

#: Order of the patterns in a heat map's ``values`` (the cascade's output order).
HEATMAP_PATTERNS: tuple[Pattern, ...] = (Pattern.TOT, Pattern.GG, Pattern.RET)


@dataclass(frozen=True)
class WorkUnit:
    """One piece of AI work on one case, as sent to whoever runs it.

    ``cascade``: find the levels and score them. ``heatmaps``: the levels whose heat maps to compute
    afterwards, in that order; their slices come from the cascade just run, or from ``levels`` (the cached
    result's slices) when ``cascade`` is False. ``case_id`` is the case's pseudonymous code; ``scan`` says
    where to load it (its ``repr`` hides the location).
    """

    case_id: str
    scan: ScanSource
    cascade: bool = True
    heatmaps: tuple[Level, ...] = ()
    levels: Mapping[Level, int] | None = None
    request_id: int = 0

    def __post_init__(self) -> None:
        if not self.cascade:
            missing = [lv.label for lv in self.heatmaps if self.levels is None or lv not in self.levels]
            if missing:
                raise ValueError(f"heat maps of {', '.join(missing)} need the levels' slices")

    @property
    def steps(self) -> int:
        """Units of progress: one for the cascade, one per heat map."""
        return int(self.cascade) + len(self.heatmaps)

    def describe(self) -> str:
        parts = (["levels and scores"] if self.cascade else []) + [
            f"heat map {lv.label}" for lv in self.heatmaps
        ]
        return ", ".join(parts) or "nothing"


@dataclass(frozen=True)
class CaseWork:
    """What is still to compute for one case with one bundle (from the cache's outline)."""

    case_id: int
    code: str
    cascade: bool
    heatmaps: tuple[Level, ...] = ()
    #: The cached AI levels' slices (empty until the cascade has run).
    levels: Mapping[Level, int] = field(default_factory=dict)

    @property
    def done(self) -> bool:
        return not self.cascade and not self.heatmaps

    @property
    def steps(self) -> int:
        """Units of progress still to do; before the cascade the heat maps are counted as five."""
        if self.cascade:
            return 1 + len(LEVELS)
        return len(self.heatmaps)

    def units(self, scan: ScanSource, *, first: Level | None = None) -> list[WorkUnit]:
        """The units of this case: the cascade alone when it is needed (the heat maps are planned once its
        levels are known), else one unit per missing heat map, ``first`` (the level being read) first."""
        if self.cascade:
            return [WorkUnit(self.code, scan, cascade=True)]
        order = sorted(self.heatmaps, key=lambda lv: (lv != first, int(lv)))
        return [
            WorkUnit(self.code, scan, cascade=False, heatmaps=(lv,), levels={lv: self.levels[lv]})
            for lv in order
        ]


def plan_case(store: StudyStore, case_id: int, bundle_hash: str, *, heatmaps: bool = True) -> CaseWork:
    """What is missing from the cache for ``case_id`` with ``bundle_hash`` (no AI value is read)."""
    code = store.case(case_id).code
    outline = store.ai_cache_outline(case_id, bundle_hash)
    if outline is None:
        return CaseWork(case_id, code, cascade=True)
    levels = {lv: int(p.slice_index) for lv, p in outline.levels.items() if p.slice_index is not None}
    missing = outline.missing_heatmaps() if heatmaps else ()
    return CaseWork(case_id, code, cascade=False, heatmaps=missing, levels=levels)


@dataclass(frozen=True)
class PrecomputePlan:
    """The cases of a session (or study) and what each still needs."""

    bundle_hash: str
    session: str | None
    cases: tuple[CaseWork, ...]

    @property
    def todo(self) -> tuple[CaseWork, ...]:
        return tuple(c for c in self.cases if not c.done)

    @property
    def steps(self) -> int:
        return sum(c.steps for c in self.cases)


def plan_precompute(
    store: StudyStore, bundle_hash: str, *, session: str | None = None, heatmaps: bool = True
) -> PrecomputePlan:
    """Plan the AI work of ``session``'s cases (by label; None: every case of the study).

    Excluded cases are left out. A session that names its bundle (``ai_bundle``) only accepts that
    bundle: another one is refused, since its results would never be shown in that session.
    """
    if session is not None:
        s = store.session_by_label(session)
        if s.ai_bundle is not None and s.ai_bundle != bundle_hash:
            raise BundleError(
                f"Session {s.label} shows the results of model bundle {s.ai_bundle[:12]}…; "
                f"this bundle is {bundle_hash[:12]}….",
                hint="Precompute with the session's bundle (--bundle), or change the session's bundle.",
            )
        case_ids = store.session_case_ids(s.id)
    else:
        case_ids = [c.id for c in store.cases()]
    cases = []
    for cid in case_ids:
        if store.case(cid).excluded_reason is not None:
            continue
        cases.append(plan_case(store, cid, bundle_hash, heatmaps=heatmaps))
    return PrecomputePlan(bundle_hash, session, tuple(cases))


# --- running a unit ---------------------------------------------------------------------------------------


def run_unit(
    runner: CascadeRunner, volume: CTVolume, unit: WorkUnit, cancel: CancelToken | None = None
) -> Iterator[CascadeEvent]:
    """The events of one unit: the cascade (ending with ``CascadeDone``), then each heat map.

    The heat maps follow the cascade's result (only levels it found inside the scan and scored), or the
    unit's given slices.
    """
    from ssc_core.ai.cascade import CascadeDone, CascadeRequest

    request = CascadeRequest(unit.case_id, volume, unit.request_id)
    slices: dict[Level, int] = dict(unit.levels or {})
    if unit.cascade:
        for event in runner.run(request, cancel):
            if isinstance(event, CascadeDone):
                slices = {
                    r.level: int(r.finding.slice_index)
                    for r in event.result.levels
                    if r.finding.slice_index is not None and r.scores is not None
                }
            yield event
    for level in unit.heatmaps:
        k = slices.get(level)
        if k is None:
            continue  # outside the scan or no lung on the slice: nothing to explain
        check_cancel(cancel)
        yield from runner.heatmap_events(request, level=level, slice_index=k, cancel=cancel)


# --- writing results to the study's cache -------------------------------------------------------------------


def cascade_fields(result: CascadeResult) -> dict[str, Any]:
    """``put_ai_result`` keyword arguments of a cascade result (no heat maps: they are added one by one)."""
    from ssc_core.ai.results import store_fields

    fields = store_fields(result)
    for key in ("heatmaps", "heatmap_slices"):
        fields.pop(key, None)
    return fields


def heatmap_fields(heat: HeatmapResult) -> dict[str, Any]:
    """``put_ai_heatmaps`` keyword arguments of one level's heat maps, with the heat-map-derived scores in
    the details as the statistics expect them (``heatmap_scores``, ``heatmap_threshold``)."""
    if heat.level is None:
        raise ValueError("a heat map without a level cannot be cached for a case")
    level = heat.level
    maps = {(level, p): heat.values[i] for i, p in enumerate(HEATMAP_PATTERNS)}
    derived = {p.value: float(heat.derived[i]) for i, p in enumerate(HEATMAP_PATTERNS)}
    details = {
        "heatmap_scores": {level.label: derived},
        "heatmap_threshold": float(heat.threshold),
        "heatmaps": {
            level.label: {
                "derived": [float(v) for v in heat.derived],
                "threshold": float(heat.threshold),
                "base_scores": [float(v) for v in heat.base_scores],
                "positions": int(heat.positions),
                "seconds": float(heat.seconds),
            }
        },
    }
    return {"heatmaps": maps, "heatmap_slices": {level: int(heat.slice_index)}, "details": details}


def write_event(
    store: StudyStore, case_id: int, bundle_hash: str, event: object, *, by: int | None = None
) -> bool:
    """Cache what ``event`` completes (a cascade result or one level's heat maps); False for other events.

    A cascade result replaces any earlier result of the same bundle on the case (with its heat maps);
    heat maps are added to the cached result.
    """
    from ssc_core.ai.events import CascadeDone, HeatmapReady

    if isinstance(event, CascadeDone):
        if event.result.bundle_hash != bundle_hash:
            raise StudyError("The AI result belongs to another model bundle than the one being cached.")
        store.put_ai_result(case_id, bundle_hash, by=by, **cascade_fields(event.result))
        return True
    if isinstance(event, HeatmapReady):
        if event.heatmap.bundle_hash != bundle_hash:
            raise StudyError("The heat map belongs to another model bundle than the one being cached.")
        store.put_ai_heatmaps(case_id, bundle_hash, by=by, **heatmap_fields(event.heatmap))
        return True
    return False


# --- headless precompute ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class CaseOutcome:
    """How one case went: ``computed`` units written, or the reason it failed."""

    code: str
    computed: int
    skipped: bool
    error: str | None = None


@dataclass(frozen=True)
class PrecomputeSummary:
    bundle_hash: str
    bundle_name: str
    device: str
    cases: tuple[CaseOutcome, ...]
    seconds: float

    @property
    def failed(self) -> int:
        return sum(1 for c in self.cases if c.error is not None)

    @property
    def computed(self) -> int:
        return sum(c.computed for c in self.cases)

    @property
    def skipped(self) -> int:
        return sum(1 for c in self.cases if c.skipped)


def _load_volume(scan: ScanSource, cancel: CancelToken | None) -> CTVolume:
    from ssc_core.imaging.loader import load_scan

    return load_scan(Path(scan.location), series=scan.series, cancel=cancel).volume


def precompute(
    store: StudyStore,
    bundle: str | Path | None = None,
    *,
    session: str | None = None,
    heatmaps: bool = True,
    device: str | None = None,
    by: int | None = None,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
    on_case: Any = None,
) -> PrecomputeSummary:
    """Compute and cache the AI results (and heat maps) of ``session``'s cases that are not cached yet.

    Parameters
    ----------
    store
        The study, open for writing.
    bundle
        Model bundle folder (None: the demo bundle).
    session
        Session label (None: every case of the study).
    heatmaps
        Also the heat maps of every scored level (the slow part: about a thousand network passes each).
    progress, cancel
        Progress over all units; ``cancel`` stops after the unit in progress (what is done stays cached).
    on_case
        Called as ``on_case(outcome)`` after each case.

    A case that fails (a scan that no longer loads, a network error) is reported in the summary and the
    run goes on. Resumable: what an interrupted run wrote is skipped next time.
    """
    import time

    from ssc_core.ai.bundle import load_bundle
    from ssc_core.ai.cascade import CascadeRunner

    t0 = time.perf_counter()
    loaded = load_bundle(bundle)
    plan = plan_precompute(store, loaded.hash, session=session, heatmaps=heatmaps)
    runner = CascadeRunner(loaded, device)
    total = max(1, plan.steps)
    done = 0
    outcomes: list[CaseOutcome] = []
    report(progress, 0, total, f"{len(plan.todo)} of {len(plan.cases)} case(s) to compute")
    for work in plan.cases:
        check_cancel(cancel)
        if work.done:
            outcomes.append(CaseOutcome(work.code, 0, skipped=True))
            continue
        start, computed, error = done, 0, None
        try:
            scan = store.scan_source(work.code)
            volume = _load_volume(scan, cancel)
            pending = work.units(scan)
            while pending:
                unit = pending.pop(0)
                for event in run_unit(runner, volume, unit, cancel):
                    if write_event(store, work.case_id, loaded.hash, event, by=by):
                        computed += 1
                        report(
                            progress, min(start + computed, total), total, f"{work.code}: {unit.describe()}"
                        )
                if unit.cascade and heatmaps:
                    # then the heat maps of the levels the cascade found inside the scan and scored
                    pending = plan_case(store, work.case_id, loaded.hash).units(scan)
        except Cancelled:
            raise
        except SSCError as exc:
            error = exc.message
        except Exception as exc:  # one case's failure must not end the run; it is reported per case
            error = f"{type(exc).__name__}: {exc}"
        done = start + work.steps
        outcome = CaseOutcome(work.code, computed, skipped=False, error=error)
        outcomes.append(outcome)
        report(progress, min(done, total), total, f"{work.code}: {'failed' if error else 'done'}")
        if on_case is not None:
            on_case(outcome)
    return PrecomputeSummary(
        bundle_hash=loaded.hash,
        bundle_name=loaded.display_name,
        device=str(runner.device),
        cases=tuple(outcomes),
        seconds=time.perf_counter() - t0,
    )
