"""The window's AI process: starting it, loading a bundle, a queue of work units by priority, cancel, stop.

The AI runs in a process of its own (:mod:`ssc_core.ai.service`; why: measured, see there and
docs/architecture.md). :class:`AIService` is its GUI-side handle. It sends one unit at a time, the most
urgent first (the open case's levels and scores, then its current level's heat map, then the other heat
maps, then the next case, then background work), so a unit queued later can still overtake what is
waiting. Everything the process sends arrives through a relay thread that only reads the pipe and hands
each message to the GUI thread as a queued signal: no widget and no store is touched off the GUI thread.

Requests carry a request id (and the case code); the owner of a unit decides what to do with its events
(the AI controller drops those of a case the reader has left from the display).
"""

from __future__ import annotations

import heapq
import itertools
import logging
import threading
import time
from dataclasses import dataclass, replace
from typing import Any

from PySide6.QtCore import QObject, Qt, Signal, Slot

from ssc_core.ai.precompute import WorkUnit
from ssc_core.ai.service import (
    BundleFailed,
    BundleInfo,
    BundleReady,
    CancelUnit,
    LoadBundle,
    RunUnit,
    ServiceStarted,
    Stop,
    UnitFinished,
)
from ssc_core.constants import AI_STOP_TIMEOUT_S

log = logging.getLogger(__name__)

_request_ids = itertools.count(1)


class _Relay(QObject):
    """Carries messages from the relay thread to the GUI thread (queued)."""

    message = Signal(object)
    ended = Signal(object, object)  # (the process, its exit code or None)


@dataclass(frozen=True)
class ServiceStopped:
    """The AI process ended without being asked to (a crash, killed by the system)."""

    exit_code: int | None

    @property
    def message(self) -> str:
        code = "" if self.exit_code is None else f" (exit code {self.exit_code})"
        return f"The AI process stopped unexpectedly{code}."


@dataclass(order=True)
class _Queued:
    priority: float
    seq: int
    unit: WorkUnit
    owner: Any = None


class AIService(QObject):
    """See the module docstring. Signals are emitted in the GUI thread."""

    #: The process is up (its pid).
    started = Signal(int)
    #: A bundle is being loaded (its folder, or "" for the demo bundle).
    bundleLoading = Signal(str)
    bundleReady = Signal(object)  # BundleInfo
    bundleFailed = Signal(object)  # BundleFailed
    #: A cascade event of a unit (StageProgress, LevelsFound, LevelScored, HeatmapReady, CascadeDone).
    event = Signal(object)
    unitStarted = Signal(object)  # WorkUnit
    unitFinished = Signal(object)  # UnitFinished
    #: The process ended without being asked to (ServiceStopped).
    stopped = Signal(object)

    def __init__(self, parent: QObject | None = None, *, target: Any = None) -> None:
        """``target``: the function the AI process runs (default :func:`ssc_core.ai.service.serve`; a
        module-level function taking the pipe, e.g. a test's fault-injecting wrapper)."""
        super().__init__(parent)
        self._target = target
        self._relay = _Relay()
        self._relay.message.connect(self._on_message, Qt.ConnectionType.QueuedConnection)
        self._relay.ended.connect(self._on_ended, Qt.ConnectionType.QueuedConnection)
        self._proc: Any = None
        self._conn: Any = None
        self._thread: threading.Thread | None = None
        self._stopping = False
        self._queue: list[_Queued] = []
        self._seq = itertools.count()
        self._current: _Queued | None = None
        self._cancelled: set[int] = set()
        self._bundle: BundleInfo | None = None
        self._bundle_request: LoadBundle | None = None
        self._bundle_loading = False
        self.pid: int | None = None

    # --- state ---------------------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        return self._proc is not None

    @property
    def bundle(self) -> BundleInfo | None:
        """The loaded bundle (None while none is, or while one is loading)."""
        return self._bundle

    @property
    def bundle_loading(self) -> bool:
        return self._bundle_loading

    @property
    def current(self) -> WorkUnit | None:
        """The unit running in the AI process."""
        return None if self._current is None else self._current.unit

    def current_owner(self) -> Any:
        return None if self._current is None else self._current.owner

    def pending(self, owner: Any = None) -> list[WorkUnit]:
        """Units waiting (of ``owner``, or all), in the order they will run."""
        return [q.unit for q in sorted(self._queue) if owner is None or q.owner is owner]

    @property
    def busy(self) -> bool:
        return self._current is not None or bool(self._queue)

    # --- process -------------------------------------------------------------------------------------

    def _ensure_process(self) -> None:
        if self._proc is not None:
            return
        import multiprocessing

        from ssc_core.ai.service import serve

        ctx = multiprocessing.get_context("spawn")
        parent, child = ctx.Pipe(duplex=True)
        proc = ctx.Process(target=self._target or serve, args=(child,), name="ssc-ai", daemon=True)
        self._stopping = False
        self._proc, self._conn = proc, parent
        # Starting a process and reading its pipe happen on the relay thread, never the GUI thread.
        self._thread = threading.Thread(
            target=self._relay_loop, args=(proc, parent, child), name="ai-relay", daemon=True
        )
        self._thread.start()

    def _relay_loop(self, proc: Any, conn: Any, child: Any) -> None:
        try:
            proc.start()
        except Exception as exc:  # pragma: no cover - cannot start a process at all
            log.error("The AI process could not be started: %s", type(exc).__name__)
            self._relay.ended.emit(proc, None)
            return
        finally:
            child.close()
        while True:
            try:
                msg = conn.recv()
            except (EOFError, OSError):
                break
            except Exception:  # a message that does not unpickle: the process is unusable
                log.exception("Unreadable message from the AI process")
                break
            self._relay.message.emit(msg)
        proc.join(timeout=5.0)
        self._relay.ended.emit(proc, proc.exitcode)

    def _send(self, msg: object) -> bool:
        if self._conn is None:
            return False
        try:
            self._conn.send(msg)
        except (OSError, ValueError):
            return False
        return True

    # --- bundle --------------------------------------------------------------------------------------

    def load_bundle(self, path: str | None = None, *, device: str | None = None) -> None:
        """Load and verify a bundle in the AI process (None: the demo bundle); ``bundleReady`` or
        ``bundleFailed`` follows. Units of the previous bundle are cancelled."""
        self.cancel_all()
        self._ensure_process()
        self._bundle = None
        self._bundle_loading = True
        self._bundle_request = LoadBundle(path, device)
        self._send(self._bundle_request)
        self.bundleLoading.emit(path or "")

    # --- units ---------------------------------------------------------------------------------------

    def submit(self, unit: WorkUnit, priority: float, owner: Any = None) -> WorkUnit:
        """Queue ``unit`` (lower ``priority`` runs sooner); returns it with its request id."""
        unit = replace(unit, request_id=next(_request_ids))
        heapq.heappush(self._queue, _Queued(priority, next(self._seq), unit, owner))
        self._pump()
        return unit

    def set_priority(self, request_id: int, priority: float) -> None:
        for q in self._queue:
            if q.unit.request_id == request_id:
                q.priority = priority
        heapq.heapify(self._queue)

    def cancel(self, request_id: int) -> bool:
        """Drop a waiting unit, or ask the running one to stop (it ends with status "cancelled")."""
        for q in self._queue:
            if q.unit.request_id == request_id:
                self._queue.remove(q)
                heapq.heapify(self._queue)
                self._cancelled.add(request_id)
                self.unitFinished.emit(UnitFinished(request_id, q.unit.case_id, "cancelled"))
                return True
        if self._current is not None and self._current.unit.request_id == request_id:
            if request_id not in self._cancelled:
                self._cancelled.add(request_id)
                self._send(CancelUnit(request_id))
            return True
        return False

    def cancel_where(self, keep_running: bool = False, **match: Any) -> list[int]:
        """Cancel every unit whose attributes (``owner=``, ``case_id=``) match; ids cancelled."""

        def matches(q: _Queued) -> bool:
            return all((q.owner if k == "owner" else getattr(q.unit, k)) == v for k, v in match.items())

        ids = [q.unit.request_id for q in list(self._queue) if matches(q)]
        if self._current is not None and matches(self._current) and not keep_running:
            ids.append(self._current.unit.request_id)
        for rid in ids:
            self.cancel(rid)
        return ids

    def cancel_all(self) -> None:
        for q in list(self._queue):
            self.cancel(q.unit.request_id)
        if self._current is not None:
            self.cancel(self._current.unit.request_id)

    def _pump(self) -> None:
        if self._current is not None or not self._queue or self._bundle is None:
            return
        q = heapq.heappop(self._queue)
        self._current = q
        if not self._send(RunUnit(q.unit)):
            self._current = None
            self.unitFinished.emit(
                UnitFinished(q.unit.request_id, q.unit.case_id, "failed", "The AI process is not running.")
            )
            return
        self.unitStarted.emit(q.unit)

    # --- messages ------------------------------------------------------------------------------------

    @Slot(object)
    def _on_message(self, msg: object) -> None:
        if isinstance(msg, ServiceStarted):
            self.pid = msg.pid
            self.started.emit(msg.pid)
        elif isinstance(msg, BundleReady):
            self._bundle_loading = False
            self._bundle = msg.info
            self.bundleReady.emit(msg.info)
            self._pump()
        elif isinstance(msg, BundleFailed):
            self._bundle_loading = False
            self._bundle = None
            self.bundleFailed.emit(msg)
        elif isinstance(msg, UnitFinished):
            if self._current is not None and self._current.unit.request_id == msg.request_id:
                self._current = None
            self._cancelled.discard(msg.request_id)
            self.unitFinished.emit(msg)
            self._pump()
        else:
            # Events of a unit being cancelled still arrive until it stops: a result complete before the
            # cancel is still valid; its owner decides (it caches it, and never shows a case left).
            self.event.emit(msg)

    @Slot(object, object)
    def _on_ended(self, proc: object, exit_code: object) -> None:
        if proc is not self._proc:
            return  # an earlier process (stopped on purpose) reporting late
        was_stopping = self._stopping
        self._proc, self._conn, self._thread = None, None, None
        self._bundle, self._bundle_loading, self.pid = None, False, None
        current, self._current = self._current, None
        if was_stopping:
            return
        reason = ServiceStopped(exit_code if isinstance(exit_code, int) else None)
        log.warning("%s", reason.message)
        if current is not None:
            self.unitFinished.emit(
                UnitFinished(
                    current.unit.request_id,
                    current.unit.case_id,
                    "failed",
                    reason.message,
                    "Load the model again to restart the AI; scoring goes on without it.",
                    "ServiceStopped",
                )
            )
        for q in list(self._queue):
            self._queue.remove(q)
            self.unitFinished.emit(UnitFinished(q.unit.request_id, q.unit.case_id, "cancelled"))
        self.stopped.emit(reason)

    # --- lifetime ------------------------------------------------------------------------------------

    def shutdown(self, timeout_s: float = AI_STOP_TIMEOUT_S) -> bool:
        """Stop the AI process (the window is closing): ask, wait up to ``timeout_s``, then end it.

        Waiting results are dropped. True when the process has ended.
        """
        self._queue.clear()
        self._current = None
        proc, thread = self._proc, self._thread
        if proc is None:
            return True
        self._stopping = True
        self._send(Stop())
        t0 = time.monotonic()
        if thread is not None:
            thread.join(timeout=timeout_s)
        if proc.is_alive():
            log.warning("The AI process did not stop in time; ending it.")
            proc.terminate()
            proc.join(timeout=1.0)
            if proc.is_alive():  # pragma: no cover - SIGTERM ignored
                proc.kill()
                proc.join(timeout=1.0)
        if self._conn is not None:
            self._conn.close()
        if thread is not None:
            thread.join(timeout=max(0.1, timeout_s - (time.monotonic() - t0)))
        self._proc, self._conn, self._thread = None, None, None
        self._bundle = None
        return not proc.is_alive()
