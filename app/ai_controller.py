"""The AI in a reading session: what to compute when, caching the results, and the state the panel shows.

One :class:`AIController` per reading workspace. It follows the open case of the
:class:`~app.reading.ReadingController`: when the session's policy lets the AI be shown for that case, it
asks the window's :class:`~app.ai_service.AIService` for what the study's cache lacks (levels and scores,
then the heat maps, the current level's first), and prefetches the next case of the worklist. Every result
comes back as an event carrying its case and request id; the controller writes it to the study's cache
through the store, here in the GUI thread, and then lets the reading controller read that case's AI part of
the reader view again. Widgets only ever show what the reader view holds for the case shown, so a result of
a case the reader has left is cached but never shown.

Policies: *hidden* — nothing is computed, the service is never started; *after-commit* — nothing for a case
until its unaided reading is committed; *visible* — from the start; heat-map rating sessions — the maps
and levels (the scores only if the session shows them; the reader view withholds them otherwise).

Background work (the admin's precompute, the demo's heat maps) runs through
:class:`~app.ai_precompute.PrecomputeRunner` at the lowest priority, so the reader's own case always goes
first; a unit the reader needs that is already queued for it is moved up instead of queued twice.
"""

from __future__ import annotations

import contextlib
import logging
import sqlite3
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, Signal

from app.ai_precompute import PrecomputeRunner
from app.ai_state import AIState, AIStatus, demo_bundle_installed
from ssc_core.ai.precompute import CaseWork, WorkUnit, plan_case, write_event
from ssc_core.constants import Level
from ssc_core.errors import SSCError
from ssc_core.study.records import AIPolicy

if TYPE_CHECKING:
    from app.ai_service import AIService
    from app.reading import ReadingController
    from ssc_core.ai.service import BundleInfo

log = logging.getLogger(__name__)

#: Unit priorities (lower runs sooner): the open case, its heat maps, the next case, background work.
PRIORITY_CASE = 0.0
PRIORITY_HEATMAP_CURRENT = 1.0
PRIORITY_HEATMAP_OTHER = 2.0
PRIORITY_PREFETCH = 10.0


class AIController(QObject):
    """See the module docstring. ``stateChanged(AIState)``; the reading controller's ``aiChanged(code)``
    announces new results; ``bundleChanged(BundleInfo or None)``."""

    stateChanged = Signal(object)
    bundleChanged = Signal(object)

    def __init__(
        self,
        reading: ReadingController,
        service: Callable[[], AIService],
        *,
        bundle_path: str | None = None,
        auto_run: bool = True,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.reading = reading
        #: Run the AI by itself when a case opens (off: only on "Run AI"; cached results are still shown).
        self.auto_run = auto_run
        self._manual_cases: set[str] = set()
        self._service_factory = service
        self._svc: AIService | None = None
        self.bundle_path = bundle_path
        #: My units: request id -> (unit, owner: "case" or "prefetch").
        self._units: dict[int, tuple[WorkUnit, Any]] = {}
        #: Units queued by background work that the open case needs: moved up, not queued twice.
        self._adopted: dict[int, WorkUnit] = {}
        self._case_ids: dict[str, int] = {}
        self._stopped_cases: set[str] = set()
        #: Why the bundle cannot be used (a failed load, the process stopped): not retried by itself.
        self._bundle_error: AIState | None = None
        self._closed = False
        self._state = AIState(AIStatus.IDLE, "")
        self.jobs: list[PrecomputeRunner] = []
        if reading.ai_never:
            self._set_state(AIState(AIStatus.HIDDEN, "AI hidden in this session."))
            return
        reading.caseChanged.connect(self._on_case)
        reading.readingChanged.connect(self._on_reading)
        reading.viewer.currentLevelChanged.connect(self._on_level)
        self._on_case(reading.case_code)

    # --- state ---------------------------------------------------------------------------------------

    @property
    def state(self) -> AIState:
        return self._state

    @property
    def hidden(self) -> bool:
        return self._state.status is AIStatus.HIDDEN

    @property
    def bundle(self) -> BundleInfo | None:
        return None if self._svc is None else self._svc.bundle

    @property
    def service(self) -> AIService | None:
        """The AI service, if this controller has started using it."""
        return self._svc

    def _set_state(self, state: AIState) -> None:
        self._state = state
        self.stateChanged.emit(state)

    def _case_id(self, code: str) -> int:
        cid = self._case_ids.get(code)
        if cid is None:
            cid = self._case_ids[code] = self.reading.store.case_by_code(code).id
        return cid

    # --- the service and its bundle ------------------------------------------------------------------

    def _ensure_service(self) -> AIService:
        if self._svc is None:
            svc = self._service_factory()
            svc.bundleLoading.connect(self._on_bundle_loading)
            svc.bundleReady.connect(self._on_bundle_ready)
            svc.bundleFailed.connect(self._on_bundle_failed)
            svc.event.connect(self._on_event)
            svc.unitFinished.connect(self._on_finished)
            svc.stopped.connect(self._on_stopped)
            self._svc = svc
        return self._svc

    def _active_hash(self) -> str | None:
        b = self.bundle
        return None if b is None else b.hash

    def ensure_bundle(self) -> bool:
        """Start loading the chosen bundle if none is loaded; True when one is ready now."""
        if self.hidden:
            return False
        svc = self._ensure_service()
        if svc.bundle is not None:
            return True
        if self._bundle_error is not None:
            self._set_state(replace(self._bundle_error, case=self.reading.case_code))
            return False
        if svc.bundle_loading:
            self._set_state(AIState(AIStatus.LOADING, "Loading the model…", case=self.reading.case_code))
            return False
        if self.bundle_path is None and not demo_bundle_installed():
            self._set_state(
                AIState(
                    AIStatus.NO_BUNDLE,
                    "No model bundle installed.",
                    "The demo model is not part of this installation yet. Load a model bundle "
                    "(a folder with spec.json) with “Load model bundle…”. Scoring works without it.",
                )
            )
            return False
        svc.load_bundle(self.bundle_path)
        return False

    def load_bundle(self, path: str | Path | None) -> None:
        """Use the bundle in folder ``path`` (None: the demo bundle); verified in the AI process."""
        if self.hidden:
            return
        self.bundle_path = None if path is None else str(path)
        self._bundle_error = None
        self._forget_units()
        svc = self._ensure_service()
        if self.bundle_path is None and not demo_bundle_installed():
            self.ensure_bundle()
            return
        svc.load_bundle(self.bundle_path)

    def _on_bundle_loading(self, path: str) -> None:
        self._forget_units()
        self._set_state(AIState(AIStatus.LOADING, "Loading the model…", case=self.reading.case_code))
        self.bundleChanged.emit(None)

    def _on_bundle_ready(self, info: BundleInfo) -> None:
        self.bundleChanged.emit(info)
        self._stopped_cases.clear()
        self._on_case(self.reading.case_code)

    def _on_bundle_failed(self, failure) -> None:
        self.bundleChanged.emit(None)
        self._bundle_error = AIState(
            AIStatus.ERROR,
            f"The model bundle could not be loaded: {failure.message}",
            failure.hint or "Scoring works without the AI. Choose another bundle with “Load model bundle…”.",
            case=self.reading.case_code,
        )
        self._set_state(self._bundle_error)

    def _on_stopped(self, reason) -> None:
        self._forget_units()
        self.bundleChanged.emit(None)
        self._bundle_error = AIState(
            AIStatus.ERROR,
            reason.message,
            "Scoring goes on without the AI. “Run again” restarts it.",
            case=self.reading.case_code,
        )
        self._set_state(self._bundle_error)

    # --- following the reader ------------------------------------------------------------------------

    def _next_case(self, code: str) -> str | None:
        nxt = self.reading.next_unfinished(after=code)
        return None if nxt == code else nxt

    def _on_case(self, code: str | None) -> None:
        if self._closed or self.hidden:
            return
        keep = {code, None if code is None else self._next_case(code)} - {None}
        if self._svc is not None:
            for rid, (unit, owner) in list(self._units.items()):
                if owner in ("case", "prefetch") and unit.case_id not in keep:
                    self._svc.cancel(rid)
        if code is None:
            self._set_state(AIState(AIStatus.IDLE, "No case open."))
            return
        if not self.reading.ai_allowed_for(code):
            self._set_state(
                AIState(
                    AIStatus.WAITING_COMMIT,
                    "The AI is shown after you commit your unaided reading of this case.",
                    "Place the five levels and enter every score, then “Commit unaided reading…” "
                    "(Ctrl+Enter). Your unaided reading is then locked; changes after that are recorded "
                    "separately as your assisted revision.",
                    case=code,
                )
            )
            return
        if not self.auto_run and code not in self._manual_cases:
            self._set_state(
                AIState(
                    AIStatus.IDLE,
                    "The AI is not run automatically.",
                    "Cached results are shown; “Run AI” computes what is missing for this case.",
                    case=code,
                )
            )
            return
        self.schedule(code)

    def _on_reading(self, reading) -> None:
        code = self.reading.case_code
        if code is None or self.reading.ai_policy is not AIPolicy.AFTER_COMMIT or self.hidden:
            return
        if self.reading.ai_allowed_for(code) and self._state.status is AIStatus.WAITING_COMMIT:
            self.reading.refresh_ai(code)  # the reader view now reveals what is cached
            self.schedule(code)

    def _on_level(self, level: Level | None) -> None:
        code = self.reading.case_code
        if self._svc is None or code is None or level is None:
            return
        for rid, (unit, owner) in self._units.items():
            if unit.case_id == code and not unit.cascade and owner == "case":
                self._svc.set_priority(rid, self._heatmap_priority(unit, level))

    def _heatmap_priority(self, unit: WorkUnit, current: Level | None) -> float:
        lv = unit.heatmaps[0] if unit.heatmaps else None
        if lv is not None and lv == current:
            return PRIORITY_HEATMAP_CURRENT
        dist = 0 if lv is None or current is None else abs(int(lv) - int(current))
        return PRIORITY_HEATMAP_OTHER + 0.01 * dist

    def _current_level(self) -> Level | None:
        if self.reading.is_rating:
            return self.reading.rating_target[0]
        return self.reading.viewer.current_level

    # --- scheduling ----------------------------------------------------------------------------------

    def can_compute(self) -> bool:
        """Is a bundle loaded whose results this session shows?"""
        active = self._active_hash()
        if active is None:
            return False
        pinned = self.reading.session_bundle
        return pinned is None or pinned == active

    def schedule(self, code: str, *, prefetch: bool = True) -> None:
        """Ask for what the cache lacks for case ``code`` (and prefetch the next case)."""
        if self._closed or self.hidden or not self.reading.ai_allowed_for(code):
            return
        if not self.ensure_bundle():
            return
        if not self.can_compute():
            self._set_state(self._mismatch_state(code))
            return
        if code in self._stopped_cases:
            return
        self._plan(code, "case")
        if prefetch:
            nxt = self._next_case(code)
            if nxt is not None and self.reading.ai_allowed_for(nxt) and nxt not in self._stopped_cases:
                self._plan(nxt, "prefetch")
        self._update_state()

    def _mismatch_state(self, code: str) -> AIState:
        pinned = self.reading.session_bundle or ""
        active = self._active_hash() or ""
        return AIState(
            AIStatus.MISMATCH,
            f"This session shows the results of model bundle {pinned[:12]}…; the loaded model "
            f"({active[:12]}…) is another one, so missing results are not computed.",
            "Cached results of the session's model are shown. Load the session's model to compute the rest.",
            case=code,
        )

    def _plan(self, code: str, owner: Any) -> None:
        assert self._svc is not None
        active = self._active_hash()
        assert active is not None
        heatmaps = owner == "case" or self.reading.is_rating
        try:
            work = plan_case(self.reading.store, self._case_id(code), active, heatmaps=heatmaps)
        except SSCError as exc:
            self._set_state(AIState(AIStatus.ERROR, exc.message, exc.hint or "", case=code))
            return
        if work.done:
            return
        self._submit_work(work, owner)

    def _submit_work(self, work: CaseWork, owner: Any) -> int:
        """Queue ``work``'s units (skipping those already queued or running); number queued."""
        assert self._svc is not None
        svc = self._svc
        current = self._current_level()
        scan = self.reading.store.scan_source(work.code)
        mine = {(u.case_id, u.cascade, u.heatmaps): rid for rid, (u, _o) in self._units.items()}
        others = {(u.case_id, u.cascade, u.heatmaps): u.request_id for u in svc.pending()}
        if svc.current is not None and svc.current_owner() is not self:
            u = svc.current
            others[(u.case_id, u.cascade, u.heatmaps)] = u.request_id
        n = 0
        for unit in work.units(scan, first=current):
            key = (unit.case_id, unit.cascade, unit.heatmaps)
            priority = self._priority(unit, owner, current)
            if key in mine:
                rid = mine[key]
                u, old_owner = self._units[rid]
                if self._rank(owner) < self._rank(old_owner):
                    self._units[rid] = (u, owner)  # the reader needs it now: it is theirs
                    svc.set_priority(rid, priority)
                continue
            if key in others:  # queued by background work: move it up, its owner caches the result
                rid = others[key]
                svc.set_priority(rid, min(priority, PRIORITY_PREFETCH))
                if owner == "case":
                    self._adopted[rid] = unit
                continue
            sent = svc.submit(unit, priority, owner=self)
            self._units[sent.request_id] = (sent, owner)
            n += 1
        return n

    @staticmethod
    def _rank(owner: Any) -> int:
        return {"case": 0, "prefetch": 1}.get(owner, 2)

    def _priority(self, unit: WorkUnit, owner: Any, current: Level | None) -> float:
        if owner == "case":
            return PRIORITY_CASE if unit.cascade else self._heatmap_priority(unit, current)
        return PRIORITY_PREFETCH + (0 if unit.cascade else 1)

    def _forget_units(self) -> None:
        if self._svc is not None:
            for rid in list(self._units):
                self._svc.cancel(rid)
        self._units.clear()
        self._adopted.clear()

    # --- results -------------------------------------------------------------------------------------

    def _on_event(self, event) -> None:
        from ssc_core.ai.events import CascadeDone, HeatmapReady, StageProgress

        entry = self._units.get(getattr(event, "request_id", -1))
        if entry is None or self._closed:
            return
        unit, owner = entry
        if isinstance(event, StageProgress):
            if owner == "case" and event.case_id == self.reading.case_code:
                self._update_state(progress=event)
            return
        if not isinstance(event, (CascadeDone, HeatmapReady)):
            return
        bundle_hash = (
            event.result.bundle_hash if isinstance(event, CascadeDone) else event.heatmap.bundle_hash
        )
        try:
            write_event(
                self.reading.store, self._case_id(unit.case_id), bundle_hash, event, by=self.reading.reader_id
            )
        except (SSCError, OSError, sqlite3.Error) as exc:
            message = exc.message if isinstance(exc, SSCError) else f"{type(exc).__name__}: {exc}"
            log.warning("An AI result could not be cached: %s", type(exc).__name__)
            self._set_state(
                AIState(
                    AIStatus.ERROR,
                    f"The AI result could not be saved in the study: {message}",
                    case=unit.case_id,
                )
            )
            return
        if self.reading.ai_allowed_for(unit.case_id):
            self.reading.refresh_ai(unit.case_id)

    def _on_finished(self, finished) -> None:
        if self._adopted.pop(finished.request_id, None) is not None and not self._closed:
            self._update_state()
            return
        entry = self._units.pop(finished.request_id, None)
        if entry is None or self._closed:
            return
        unit, owner = entry
        if finished.status == "failed" and unit.case_id == self.reading.case_code:
            self._stopped_cases.add(unit.case_id)
            self._set_state(
                AIState(
                    AIStatus.ERROR,
                    f"The AI could not finish this case: {finished.message}",
                    finished.hint or "Scoring works without the AI.",
                    case=unit.case_id,
                )
            )
            return
        if finished.status == "failed":
            log.info("AI prefetch of a case failed (%s)", finished.error_type)
        if finished.status == "done" and unit.cascade:
            if unit.case_id == self.reading.case_code and owner == "case":
                self._plan(unit.case_id, "case")  # now the heat maps of the levels it found
            elif owner == "prefetch" and self.reading.is_rating:
                self._plan(unit.case_id, "prefetch")
        self._update_state()

    def _update_state(self, progress=None) -> None:
        code = self.reading.case_code
        if code is None or self.hidden:
            return
        if (
            progress is None
            and self._state.case == code
            and self._state.status
            in (
                AIStatus.ERROR,
                AIStatus.NO_BUNDLE,
                AIStatus.MISMATCH,
                AIStatus.CANCELLED,
                AIStatus.WAITING_COMMIT,
            )
        ):
            return  # shown until something new happens (a new case, Run again, another bundle)
        if self.bundle is None:
            if self._svc is not None and self._svc.bundle_loading:
                self._set_state(AIState(AIStatus.LOADING, "Loading the model…", case=code))
            return
        mine = [u for u, o in self._units.values() if u.case_id == code and o == "case"]
        mine += [u for u in self._adopted.values() if u.case_id == code]
        if mine or progress is not None:
            text = "Finding the levels and scoring them" if any(u.cascade for u in mine) else "Heat maps"
            done = total = 0
            if progress is not None:
                text = {"levels": "Finding the levels", "scores": "Scoring the levels"}.get(
                    progress.stage,
                    f"Heat map {progress.level.label}" if progress.level is not None else "Heat map",
                )
                done, total = progress.done, progress.total
            left = len(mine)
            more = f" ({left} steps left)" if left > 1 else ""
            self._set_state(AIState(AIStatus.RUNNING, text + more, done=done, total=total, case=code))
            return
        if self.reading.ai_view(code) is None:
            self._set_state(AIState(AIStatus.IDLE, "No AI result for this case yet.", case=code))
        else:
            self._set_state(AIState(AIStatus.READY, "AI result shown.", case=code))

    # --- reader's commands ---------------------------------------------------------------------------

    def cancel(self) -> None:
        """Stop the AI for the open case (and the prefetch); “Run again” resumes it."""
        code = self.reading.case_code
        if self._svc is None:
            return
        for rid, (unit, owner) in list(self._units.items()):
            if owner in ("case", "prefetch"):
                self._svc.cancel(rid)
                self._units.pop(rid, None)
                if unit.case_id is not None:
                    self._stopped_cases.add(unit.case_id)
        if code is not None:
            self._stopped_cases.add(code)
            self._set_state(
                AIState(AIStatus.CANCELLED, "AI stopped for this case.", "“Run again” resumes it.", case=code)
            )

    def run_again(self) -> None:
        """Resume (after a cancel or an error): reload the bundle if needed and compute what is missing."""
        code = self.reading.case_code
        self._stopped_cases.clear()
        self._bundle_error = None
        if code is not None:
            self._manual_cases.add(code)
        svc = self._ensure_service()
        if svc.bundle is None and not svc.bundle_loading:
            if self.bundle_path is None and not demo_bundle_installed():
                self.ensure_bundle()
                return
            svc.load_bundle(self.bundle_path)
            return
        if code is not None:
            self._on_case(code)

    # --- background precompute -------------------------------------------------------------------------

    def precompute(self, session: str | None, *, heatmaps: bool = True) -> PrecomputeRunner:
        """Compute and cache ``session``'s missing results in the background (lowest priority); started.

        Only cases whose AI this reader may see now are computed here (nothing in hidden sessions).
        Raises :class:`~ssc_core.errors.SSCError` when no usable bundle is loaded or the session names
        another one.
        """
        if self.hidden:
            raise SSCError("This session hides the AI: nothing is computed here.")
        job = PrecomputeRunner(
            self._ensure_service(),
            self.reading.store,
            session=session,
            heatmaps=heatmaps,
            by=self.reading.reader_id,
            can_compute=self.reading.ai_allowed_for,
            parent=self,
        )
        job.written.connect(self._on_background_written)
        self.jobs.append(job)
        job.finished.connect(lambda *_a, j=job: self.jobs.remove(j) if j in self.jobs else None)
        job.start()
        return job

    def _on_background_written(self, code: str) -> None:
        if not self._closed and self.reading.ai_allowed_for(code):
            self.reading.refresh_ai(code)
            if code == self.reading.case_code:
                self._update_state()

    # --- lifetime ------------------------------------------------------------------------------------

    def close(self) -> None:
        """The workspace closes: cancel this controller's units (the service and its bundle stay)."""
        if self._closed:
            return
        for job in list(self.jobs):
            job.cancel()
        self._forget_units()
        self._closed = True
        if self._svc is not None:
            for signal, slot in (
                (self._svc.bundleLoading, self._on_bundle_loading),
                (self._svc.bundleReady, self._on_bundle_ready),
                (self._svc.bundleFailed, self._on_bundle_failed),
                (self._svc.event, self._on_event),
                (self._svc.unitFinished, self._on_finished),
                (self._svc.stopped, self._on_stopped),
            ):
                with contextlib.suppress(RuntimeError, TypeError):
                    signal.disconnect(slot)


__all__ = [
    "AIController",
    "AIState",
    "AIStatus",
    "demo_bundle_installed",
]
