"""Computing a session's AI results in the background: the admin's precompute and the demo's heat maps.

:class:`PrecomputeRunner` is the workstation's form of ``ssc study precompute``: the same plan
(:func:`ssc_core.ai.precompute.plan_precompute`) and units, run in the window's AI process at the lowest
priority, one case at a time, so the case a reader has open always goes first. Each case is planned again
from the cache just before its units are queued, so whatever the reader's own AI controller has computed
meanwhile is not computed twice. Every result is written to the study from the GUI thread as soon as it
arrives (:func:`ssc_core.ai.precompute.write_event`); stopping, closing the window or a crash loses at most
the unit in progress, and a new run continues where this one stopped.
"""

from __future__ import annotations

import contextlib
import logging
import sqlite3
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, Signal

from ssc_core.ai.precompute import CaseWork, plan_case, plan_precompute, write_event
from ssc_core.constants import LEVELS
from ssc_core.errors import SSCError

if TYPE_CHECKING:
    from app.ai_service import AIService
    from ssc_core.study.store import StudyStore

log = logging.getLogger(__name__)

#: Priority of background units (lower runs sooner; the open case's units are 0..11).
PRIORITY_BACKGROUND = 20.0


class PrecomputeRunner(QObject):
    """See the module docstring.

    Signals: ``progressed(done, total, message)`` in steps (one per cascade or heat map, five heat maps
    counted per case before its levels are known); ``written(case_code)`` after each result is cached;
    ``finished(computed, failed, cancelled)`` once.
    """

    progressed = Signal(int, int, str)
    written = Signal(str)
    finished = Signal(int, int, bool)

    def __init__(
        self,
        service: AIService,
        store: StudyStore,
        *,
        session: str | None,
        heatmaps: bool = True,
        by: int | None = None,
        can_compute: Callable[[str], bool] | None = None,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.service = service
        self.store = store
        self.session = session
        self.heatmaps = heatmaps
        self.by = by
        #: A filter the owner may set (a reading session computes only what its reader may see).
        self.can_compute = can_compute
        bundle = service.bundle
        if bundle is None:
            raise SSCError("No model is loaded yet.", hint="Wait until the model is loaded, then start.")
        self.bundle_hash = bundle.hash
        plan = plan_precompute(store, self.bundle_hash, session=session, heatmaps=heatmaps)
        self.total = plan.steps
        self.done = self.total - sum(c.steps for c in plan.todo)
        self.computed = 0
        self.failed = 0
        self.errors: list[str] = []
        self.ended = False
        self.cancelled = False
        self._todo: list[CaseWork] = list(plan.todo)
        self._case: CaseWork | None = None
        self._case_start = 0
        self._case_written = 0
        self._running: dict[int, Any] = {}
        service.event.connect(self._on_event)
        service.unitFinished.connect(self._on_finished)
        service.bundleLoading.connect(lambda _p: self.cancel())
        service.stopped.connect(lambda _r: self.cancel())

    @property
    def label(self) -> str:
        return self.session or "the study"

    # --- running -------------------------------------------------------------------------------------

    def start(self) -> None:
        self.progressed.emit(self.done, self.total, f"{len(self._todo)} case(s) to compute")
        self._next_case()

    def cancel(self) -> None:
        """Stop: the unit in progress is cancelled; what was written stays cached."""
        if self.ended:
            return
        for rid in list(self._running):
            self.service.cancel(rid)
        self._running.clear()
        self._end(cancelled=True)

    def _next_case(self) -> None:
        while self._todo and not self.ended:
            work = self._todo.pop(0)
            if self._case is not None:
                self.done = self._case_start + self._case.steps
            self._case, self._case_start, self._case_written = work, self.done, 0
            if self.can_compute is not None and not self.can_compute(work.code):
                self.done += work.steps
                continue
            fresh = plan_case(self.store, work.case_id, self.bundle_hash, heatmaps=self.heatmaps)
            if fresh.done:  # computed meanwhile (by the reader's own AI controller)
                self.done += work.steps
                self.progressed.emit(self.done, self.total, f"{work.code}: already computed")
                continue
            if self._submit(fresh):
                return
        if not self.ended:
            if self._case is not None:
                self.done = self._case_start + self._case.steps
            self._end()

    def _submit(self, work: CaseWork) -> bool:
        try:
            scan = self.store.scan_source(work.code)
        except SSCError as exc:
            self._failed_case(work, exc.message)
            return False
        for unit in work.units(scan):
            sent = self.service.submit(unit, PRIORITY_BACKGROUND + (0 if unit.cascade else 1), owner=self)
            self._running[sent.request_id] = sent
        return bool(self._running)

    def _failed_case(self, work: CaseWork, message: str) -> None:
        self.failed += 1
        self.errors.append(f"{work.code}: {message}")

    def _on_event(self, event) -> None:
        from ssc_core.ai.events import CascadeDone, HeatmapReady

        unit = self._running.get(getattr(event, "request_id", -1))
        if unit is None or self.ended or not isinstance(event, (CascadeDone, HeatmapReady)):
            return
        case = self._case
        assert case is not None
        try:
            write_event(self.store, case.case_id, self.bundle_hash, event, by=self.by)
        except (SSCError, OSError, sqlite3.Error) as exc:
            message = exc.message if isinstance(exc, SSCError) else type(exc).__name__
            log.warning("A precomputed AI result could not be cached: %s", type(exc).__name__)
            self.errors.append(f"{case.code}: not saved: {message}")
            return
        self.computed += 1
        self._case_written += 1
        self.done = min(self._case_start + self._case_written, self._case_start + case.steps)
        self.progressed.emit(self.done, self.total, f"{case.code}: {unit.describe()}")
        self.written.emit(case.code)

    def _on_finished(self, finished) -> None:
        unit = self._running.pop(finished.request_id, None)
        if unit is None or self.ended:
            return
        case = self._case
        assert case is not None
        if finished.status == "failed":
            self._failed_case(case, finished.message)
            for rid in list(self._running):  # the rest of this case would fail the same way
                self.service.cancel(rid)
            self._running.clear()
        elif finished.status == "cancelled":
            self._running.clear()
            self._end(cancelled=True)
            return
        elif unit.cascade and self.heatmaps:
            after = plan_case(self.store, case.case_id, self.bundle_hash)
            # levels outside the scan or without lung have no heat map: count them as done
            self._case_written += len(LEVELS) - len(after.heatmaps)
            self._submit(after)
        if not self._running:
            self._next_case()

    def _end(self, *, cancelled: bool = False) -> None:
        if self.ended:
            return
        self.ended, self.cancelled = True, cancelled
        svc = self.service
        for signal, slot in ((svc.event, self._on_event), (svc.unitFinished, self._on_finished)):
            with contextlib.suppress(RuntimeError, TypeError):
                signal.disconnect(slot)
        if not cancelled:
            self.done = self.total
        self.progressed.emit(self.done, self.total, "stopped" if cancelled else "done")
        self.finished.emit(self.computed, self.failed, cancelled)
