"""The record of one self-test check and a helper that times a check and turns a failure into a result."""

from __future__ import annotations

import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass

from ssc_core.errors import SSCError


@dataclass(frozen=True)
class Check:
    """One line of the self-test report.

    Attributes
    ----------
    name
        What was checked ("decode JPEG 2000 (lossless)").
    passed
        True when the check succeeded.
    seconds
        Wall time of the check.
    detail
        What was found (or why it failed), one line.
    """

    name: str
    passed: bool
    seconds: float
    detail: str = ""

    def line(self) -> str:
        """``[ OK ]  name  0.12 s  detail`` (or ``[FAIL]``), one line for the terminal."""
        mark = "[ OK ]" if self.passed else "[FAIL]"
        text = f"{mark} {self.name:<46} {self.seconds:7.2f} s"
        return f"{text}  {self.detail}" if self.detail else text


def run_check(name: str, fn: Callable[[], str]) -> Check:
    """Run ``fn`` (which returns the detail text, or raises) and time it.

    An :class:`~ssc_core.errors.SSCError` becomes a failed check with its message; any other exception a
    failed check with its type and message (and the innermost frame, which is what a broken bundle needs).
    """
    start = time.perf_counter()
    try:
        detail = fn()
    except SSCError as exc:
        return Check(name, False, time.perf_counter() - start, _one_line(exc.message))
    except Exception as exc:
        frames = traceback.extract_tb(exc.__traceback__)
        where = f" (at {frames[-1].name}, {frames[-1].filename.rsplit('/', 1)[-1]}:{frames[-1].lineno})"
        text = f"{type(exc).__name__}: {exc}" + (where if frames else "")
        return Check(name, False, time.perf_counter() - start, _one_line(text))
    return Check(name, True, time.perf_counter() - start, _one_line(detail))


def _one_line(text: str) -> str:
    return " ".join(str(text).split())
