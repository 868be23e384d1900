"""The AI service: a process of its own that loads a model bundle and runs work units on request.

The workstation runs the cascade and the heat maps here rather than in a thread of the window's process.
Measured (``benchmarks/ai_gui_stall.py``, docs/architecture.md): importing torch in a worker thread held
the GUI thread for up to 250 ms (loading torch's libraries holds Python's GIL), and every Python-level step
of the networks competes with the GUI for that lock; in a process of its own the AI never blocks the
window, a crash or an out-of-memory error of the networks cannot take the window down, and closing the
window can always end it.

Protocol (a ``multiprocessing`` pipe; both ends are this program's own processes):

* to the service: :class:`LoadBundle`, :class:`RunUnit`, :class:`CancelUnit`, :class:`Stop`;
* from the service: :class:`ServiceStarted`, :class:`BundleReady` / :class:`BundleFailed`, the cascade's own
  events (:class:`~ssc_core.ai.cascade.StageProgress` at most every ``AI_PROGRESS_INTERVAL_S``,
  ``LevelsFound``, ``LevelScored``, ``HeatmapReady``, ``CascadeDone``), each carrying the unit's
  ``case_id`` and ``request_id``, and one :class:`UnitFinished` per unit (done, cancelled or failed, with
  the reason).

A listener thread receives the messages, so a :class:`CancelUnit` reaches the running unit at once; the
unit stops at its next step (one scorer pass, one heat-map batch, one scan file), well within a second.
The service runs at a lower scheduling priority than the window and, on the CPU, leaves
``AI_RESERVED_CORES`` to it. It never opens the study file: results go back to the window, which caches
them through its own store. Scans are loaded here from their source (the window sends where, never the
voxels), the last ``AI_VOLUME_CACHE`` of them kept for the next units.
"""

from __future__ import annotations

import os
import queue
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ssc_core import RESEARCH_USE_NOTICE
from ssc_core.ai.precompute import WorkUnit
from ssc_core.constants import AI_PROGRESS_INTERVAL_S, AI_RESERVED_CORES, AI_VOLUME_CACHE
from ssc_core.errors import Cancelled, SSCError
from ssc_core.progress import CancelToken

if TYPE_CHECKING:  # pragma: no cover
    from multiprocessing.connection import Connection

    from ssc_core.imaging.volume import CTVolume

# --- messages to the service ------------------------------------------------------------------------------


@dataclass(frozen=True)
class LoadBundle:
    """Load (verify) a bundle; ``path`` None = the demo bundle. ``device`` as ``SSC_DEVICE``."""

    path: str | None = None
    device: str | None = None


@dataclass(frozen=True)
class RunUnit:
    unit: WorkUnit


@dataclass(frozen=True)
class CancelUnit:
    request_id: int


@dataclass(frozen=True)
class Stop:
    pass


# --- messages from the service ------------------------------------------------------------------------------


@dataclass(frozen=True)
class ServiceStarted:
    pid: int


@dataclass(frozen=True)
class BundleInfo:
    """A loaded bundle as the window shows it (research use only)."""

    path: str
    hash: str
    display_name: str
    description: str
    device: str
    threads: int
    notice: str = RESEARCH_USE_NOTICE

    @property
    def device_label(self) -> str:
        if self.device.startswith("cuda"):
            return f"GPU ({self.device})"
        return f"CPU, {self.threads} thread{'s' if self.threads != 1 else ''}"


@dataclass(frozen=True)
class BundleReady:
    info: BundleInfo


@dataclass(frozen=True)
class BundleFailed:
    message: str
    hint: str = ""
    error_type: str = ""


@dataclass(frozen=True)
class UnitFinished:
    """The end of a unit: ``status`` "done", "cancelled" or "failed" (``message``/``hint`` say why)."""

    request_id: int
    case_id: str
    status: str
    message: str = ""
    hint: str = ""
    error_type: str = ""
    seconds: float = 0.0


def error_texts(exc: BaseException, *, scrub: tuple[str, ...] = ()) -> tuple[str, str, str]:
    """(message, hint, type name) of a failure, for the AI panel. Paths in ``scrub`` are replaced: scan
    locations may name the patient's folder."""
    if isinstance(exc, SSCError):
        message, hint = exc.message, exc.hint or ""
    elif isinstance(exc, MemoryError):
        message, hint = "The computer ran out of memory while running the AI.", "Close other programs."
    else:
        message = f"The AI failed ({type(exc).__name__}: {exc})."
        hint = "Scoring goes on without the AI; if it keeps happening, report it."
    for text in scrub:
        if text:
            message = message.replace(text, "<scan>")
            hint = hint.replace(text, "<scan>")
    return message, hint, type(exc).__name__


def lower_priority() -> None:
    """Run this process below the window's priority (the GUI wins the CPU whenever it needs it)."""
    try:
        import psutil

        proc = psutil.Process()
        if os.name == "nt":
            proc.nice(psutil.BELOW_NORMAL_PRIORITY_CLASS)
        else:
            proc.nice(min(19, proc.nice() + 10))
    except Exception:  # not permitted or not supported: run at normal priority
        pass


def cpu_threads() -> int:
    """Torch threads for CPU inference: every core but ``AI_RESERVED_CORES`` (at least one)."""
    from ssc_core.ai.device import available_cores

    return max(1, available_cores() - AI_RESERVED_CORES)


class _Service:
    """State of the service process (see the module docstring)."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.inbox: queue.Queue[Any] = queue.Queue()
        self.lock = threading.Lock()
        self.tokens: dict[int, CancelToken] = {}
        self.runner: Any = None
        self.info: BundleInfo | None = None
        self.volumes: OrderedDict[str, CTVolume] = OrderedDict()
        self._last_progress: float = 0.0

    # --- receiving (listener thread) -----------------------------------------------------------------

    def listen(self) -> None:
        while True:
            try:
                msg = self.conn.recv()
            except (EOFError, OSError):  # the window is gone: stop
                msg = Stop()
            if isinstance(msg, CancelUnit):
                self._token(msg.request_id).cancel()
                continue
            if isinstance(msg, RunUnit):
                self._token(msg.unit.request_id)
            if isinstance(msg, Stop):
                with self.lock:
                    for token in self.tokens.values():
                        token.cancel()
                self.inbox.put(msg)
                return
            self.inbox.put(msg)

    def _token(self, request_id: int) -> CancelToken:
        with self.lock:
            return self.tokens.setdefault(request_id, CancelToken())

    # --- sending (main thread only) ------------------------------------------------------------------

    def send(self, msg: object) -> None:
        self.conn.send(msg)

    def send_event(self, event: object) -> None:
        from ssc_core.ai.events import StageProgress

        if isinstance(event, StageProgress):
            now = time.monotonic()
            last = event.total > 0 and event.done >= event.total
            if not last and event.done > 0 and now - self._last_progress < AI_PROGRESS_INTERVAL_S:
                return
            self._last_progress = now
        self.send(event)

    # --- work ----------------------------------------------------------------------------------------

    def load_bundle(self, msg: LoadBundle) -> None:
        self.runner, self.info = None, None
        try:
            import torch

            from ssc_core.ai.bundle import load_bundle
            from ssc_core.ai.cascade import CascadeRunner

            bundle = load_bundle(msg.path)
            runner = CascadeRunner(bundle, msg.device)
            threads = 1
            if runner.device.type == "cpu":
                threads = cpu_threads()
                torch.set_num_threads(threads)
            self.runner = runner
            self.info = BundleInfo(
                path=str(bundle.path),
                hash=bundle.hash,
                display_name=bundle.display_name,
                description=bundle.spec.description,
                device=str(runner.device),
                threads=threads,
            )
            self.volumes.clear()
            self.send(BundleReady(self.info))
        except Exception as exc:  # any failure to load is shown in the AI panel; the service lives on
            message, hint, kind = error_texts(exc, scrub=(msg.path or "",))
            self.send(BundleFailed(message, hint, kind))

    def volume(self, unit: WorkUnit, cancel: CancelToken) -> CTVolume:
        vol = self.volumes.get(unit.case_id)
        if vol is not None:
            self.volumes.move_to_end(unit.case_id)
            return vol
        from pathlib import Path

        from ssc_core.imaging.loader import load_scan

        vol = load_scan(Path(unit.scan.location), series=unit.scan.series, cancel=cancel).volume
        self.volumes[unit.case_id] = vol
        while len(self.volumes) > AI_VOLUME_CACHE:
            self.volumes.popitem(last=False)
        return vol

    def run(self, unit: WorkUnit) -> None:
        from ssc_core.ai.precompute import run_unit

        token = self._token(unit.request_id)
        t0 = time.perf_counter()

        def finished(status: str, message: str = "", hint: str = "", kind: str = "") -> None:
            with self.lock:
                self.tokens.pop(unit.request_id, None)
            self.send(
                UnitFinished(
                    unit.request_id, unit.case_id, status, message, hint, kind, time.perf_counter() - t0
                )
            )

        if self.runner is None:
            finished("failed", "No model bundle is loaded.", "Load a model bundle first.")
            return
        try:
            token.raise_if_cancelled()
            volume = self.volume(unit, token)
            self._last_progress = 0.0
            for event in run_unit(self.runner, volume, unit, token):
                self.send_event(event)
            token.raise_if_cancelled()
        except Cancelled:
            finished("cancelled")
            return
        except Exception as exc:  # reported to the window as the unit's failure; the service lives on
            message, hint, kind = error_texts(exc, scrub=(unit.scan.location,))
            finished("failed", message, hint, kind)
            return
        finished("done")

    def serve(self) -> None:
        threading.Thread(target=self.listen, name="ai-service-listener", daemon=True).start()
        self.send(ServiceStarted(os.getpid()))
        while True:
            msg = self.inbox.get()
            if isinstance(msg, Stop):
                break
            if isinstance(msg, LoadBundle):
                self.load_bundle(msg)
            elif isinstance(msg, RunUnit):
                self.run(msg.unit)


def serve(conn: Connection) -> None:
    """Entry point of the AI service process (``multiprocessing`` target)."""
    lower_priority()
    service = _Service(conn)
    try:
        service.serve()
    except (BrokenPipeError, EOFError, OSError):  # the window went away mid-send
        pass
    finally:
        conn.close()


__all__ = [
    "BundleFailed",
    "BundleInfo",
    "BundleReady",
    "CancelUnit",
    "LoadBundle",
    "RunUnit",
    "ServiceStarted",
    "Stop",
    "UnitFinished",
    "WorkUnit",
    "cpu_threads",
    "error_texts",
    "serve",
]
