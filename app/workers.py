"""Background work: the only module of the app that knows about threads.

A :class:`TaskRunner` runs a core function or generator on a thread pool and reports back through the
Qt signals of a :class:`Task`, always delivered in the GUI thread (queued), so no widget is ever touched
from a worker. Each task has a request id, and everything it reports carries that id, so a receiver can
drop results of a request it no longer wants (the user opened another scan meanwhile).

The work is called as ``fn(*args, progress=..., cancel=..., **kwargs)`` (the core's convention, see
:mod:`ssc_core.progress`); if it returns a generator, the runner iterates it, forwarding yielded
:class:`~ssc_core.progress.Progress` and checking the cancel token between steps; the generator's return
value is the result. With ``partial=True`` the work also gets ``partial=callback`` to publish an early
piece of its result (the first slice of a scan).
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
from collections.abc import Callable, Generator
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QObject, QRunnable, Qt, QThreadPool, Signal, Slot

from ssc_core.errors import Cancelled
from ssc_core.progress import CancelToken, Progress

log = logging.getLogger(__name__)

#: Progress reports are forwarded to the GUI at most this often (seconds); the last one always is.
PROGRESS_INTERVAL_S = 0.04

_request_ids = itertools.count(1)


@dataclass(frozen=True)
class TaskResult:
    """How a task ended: ``value`` on success, ``error`` on failure, or ``cancelled``."""

    request_id: int
    value: Any = None
    error: BaseException | None = None
    cancelled: bool = False

    @property
    def ok(self) -> bool:
        return self.error is None and not self.cancelled


class _Relay(QObject):
    """Signals emitted from the worker thread; connected (queued) to the task in the GUI thread."""

    progress = Signal(object)
    partial = Signal(object)
    done = Signal(object)


class Task(QObject):
    """One piece of background work as seen from the GUI thread.

    Signals (all in the GUI thread): ``progressed(request_id, Progress)``, ``partial(request_id, value)``,
    ``finished(TaskResult)`` (exactly once: success, error or cancellation).
    """

    progressed = Signal(int, object)
    partial = Signal(int, object)
    finished = Signal(object)

    def __init__(self, name: str, on_done: Callable[[Task], None] | None = None) -> None:
        super().__init__()
        self.name = name
        self._on_done_cb = on_done
        self.request_id = next(_request_ids)
        self.cancel_token = CancelToken()
        self.running = True
        self._dropped = False
        self._relay = _Relay()
        conn = Qt.ConnectionType.QueuedConnection
        self._relay.progress.connect(self._on_progress, conn)
        self._relay.partial.connect(self._on_partial, conn)
        self._relay.done.connect(self._on_done, conn)

    def cancel(self) -> None:
        """Ask the work to stop; ``finished`` follows with ``cancelled=True`` once it has."""
        self.cancel_token.cancel()

    @Slot(object)
    def _on_progress(self, p: Progress) -> None:
        if self.running:
            self.progressed.emit(self.request_id, p)

    @Slot(object)
    def _on_partial(self, value: object) -> None:
        if self.running:
            self.partial.emit(self.request_id, value)

    @Slot(object)
    def _on_done(self, result: TaskResult) -> None:
        self.running = False
        if self._dropped:
            return
        try:
            self.finished.emit(result)
        finally:
            if self._on_done_cb is not None:
                self._on_done_cb(self)


class _Runnable(QRunnable):
    def __init__(
        self,
        task: Task,
        fn: Callable[..., Any],
        args: tuple,
        kwargs: dict,
        with_partial: bool,
    ) -> None:
        super().__init__()
        self.setAutoDelete(False)
        self._task = task
        self._relay = task._relay
        self._token = task.cancel_token
        self._fn = fn
        self._args = args
        self._kwargs = kwargs
        self._with_partial = with_partial
        self._last_progress = 0.0

    def _progress(self, p: Progress) -> None:
        now = time.monotonic()
        final = p.total > 0 and p.done >= p.total
        if final or now - self._last_progress >= PROGRESS_INTERVAL_S:
            self._last_progress = now
            self._relay.progress.emit(p)

    def _partial(self, value: object) -> None:
        self._relay.partial.emit(value)

    def run(self) -> None:
        rid = self._task.request_id
        kwargs = dict(self._kwargs, progress=self._progress, cancel=self._token)
        if self._with_partial:
            kwargs["partial"] = self._partial
        try:
            self._token.raise_if_cancelled()
            value = self._fn(*self._args, **kwargs)
            if isinstance(value, Generator):
                value = self._drain(value)
            self._token.raise_if_cancelled()
            result = TaskResult(rid, value=value)
        except Cancelled:
            result = TaskResult(rid, cancelled=True)
        except BaseException as exc:  # reported to the GUI, which shows it; never lost
            if not isinstance(exc, Exception):
                log.exception("task %s ended abnormally", self._task.name)
            result = TaskResult(rid, error=exc)
        self._relay.done.emit(result)

    def _drain(self, gen: Generator) -> Any:
        while True:
            self._token.raise_if_cancelled()
            try:
                item = next(gen)
            except StopIteration as stop:
                return stop.value
            if isinstance(item, Progress):
                self._progress(item)


class TaskRunner(QObject):
    """Starts tasks on a private thread pool and can wait for all of them (at shutdown)."""

    def __init__(self, parent: QObject | None = None, *, max_threads: int = 2) -> None:
        super().__init__(parent)
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(max_threads)
        self._lock = threading.Lock()
        self._active: dict[int, tuple[Task, _Runnable]] = {}

    def submit(
        self,
        name: str,
        fn: Callable[..., Any],
        *args: Any,
        partial: bool = False,
        **kwargs: Any,
    ) -> Task:
        """Run ``fn`` in the background; connect to the returned task's signals right away."""
        task = Task(name, on_done=self._forget)
        runnable = _Runnable(task, fn, args, kwargs, partial)
        with self._lock:
            self._active[task.request_id] = (task, runnable)
        self._pool.start(runnable)
        return task

    def _forget(self, task: Task) -> None:
        with self._lock:
            self._active.pop(task.request_id, None)

    @property
    def active_count(self) -> int:
        with self._lock:
            return len(self._active)

    def cancel_all(self) -> None:
        with self._lock:
            tasks = [t for t, _ in self._active.values()]
        for t in tasks:
            t.cancel()

    def shutdown(self, timeout_ms: int = 5000) -> bool:
        """Cancel everything and wait up to ``timeout_ms`` for the threads; True when all work stopped.

        Results still queued for the GUI are dropped (the window is closing).
        """
        self.cancel_all()
        done = bool(self._pool.waitForDone(timeout_ms))
        with self._lock:
            for task, _ in self._active.values():
                task.running = False
                task._dropped = True
            self._active.clear()
        return done
