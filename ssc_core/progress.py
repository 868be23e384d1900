"""Progress reporting and cancellation for long work.

Long work in the core is either a generator that yields :class:`Progress` or a function that takes a
``progress`` callback and a ``cancel`` token. The GUI wraps both in worker threads; the CLI prints a bar.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import TypeVar

from ssc_core.errors import Cancelled

T = TypeVar("T")


@dataclass(frozen=True)
class Progress:
    """One progress report: ``done`` of ``total`` steps (``total`` 0 = unknown), with a message."""

    done: int
    total: int
    message: str = ""

    @property
    def fraction(self) -> float | None:
        """Share done in [0, 1], or None when the total is unknown."""
        if self.total <= 0:
            return None
        return min(1.0, max(0.0, self.done / self.total))


ProgressCallback = Callable[[Progress], None]


class CancelToken:
    """A thread-safe cancel flag, set from the GUI thread and polled by the work."""

    __slots__ = ("_event",)

    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def raise_if_cancelled(self) -> None:
        """Raise :class:`~ssc_core.errors.Cancelled` if cancellation was requested."""
        if self._event.is_set():
            raise Cancelled()


def check_cancel(cancel: CancelToken | None) -> None:
    """Raise ``Cancelled`` when ``cancel`` is set; a ``None`` token never cancels."""
    if cancel is not None:
        cancel.raise_if_cancelled()


def report(progress: ProgressCallback | None, done: int, total: int, message: str = "") -> None:
    """Call ``progress`` if one was given."""
    if progress is not None:
        progress(Progress(done, total, message))


def tracked(
    items: Iterable[T],
    total: int,
    message: str,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
) -> Iterator[T]:
    """Iterate ``items``, checking ``cancel`` before and reporting progress after each item."""
    for i, item in enumerate(items):
        check_cancel(cancel)
        yield item
        report(progress, i + 1, total, message)
