"""Start-up probe: with ``SSC_STARTUP_PROBE=1`` in the environment, ``ssc-workstation`` prints, once the main
window has been painted for the first time, the monotonic clock and the heavy modules already imported, then
quits.

``benchmarks/startup.py`` reads the clock (``time.monotonic`` is the system-wide monotonic clock, so a parent
process can subtract the time it started the child) and ``tests/app/test_cli.py`` the module list. Output::

    SSC_STARTUP_PROBE shown 12345.678901
    SSC_STARTUP_PROBE heavy []
"""

from __future__ import annotations

import json
import os
import sys
import time

from PySide6.QtCore import QEvent, QObject, QTimer
from PySide6.QtWidgets import QApplication

#: Environment variable that turns the probe on.
PROBE_ENV = "SSC_STARTUP_PROBE"
#: Modules that must not be imported before the window shows (they load on first use, in workers).
HEAVY_MODULES = (
    "torch",
    "timm",
    "torchvision",
    "pandas",
    "scipy",
    "sklearn",
    "pingouin",
    "statsmodels",
    "matplotlib",
    "SimpleITK",
    "pydicom",
    "openpyxl",
)


def probe_requested() -> bool:
    return bool(os.environ.get(PROBE_ENV))


def heavy_modules_loaded() -> list[str]:
    """The members of :data:`HEAVY_MODULES` found in ``sys.modules`` now."""
    return sorted(m for m in HEAVY_MODULES if m in sys.modules)


class FirstPaintProbe(QObject):
    """Application event filter: after the first paint of any widget, report and quit.

    The report runs from a zero-delay timer queued during that paint, i.e. after the window's whole
    backing store has been painted and flushed.
    """

    def __init__(self, app: QApplication) -> None:
        super().__init__(app)
        self._app = app
        self._seen = False
        app.installEventFilter(self)

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:
        if not self._seen and event.type() == QEvent.Type.Paint:
            self._seen = True
            QTimer.singleShot(0, self._report)
        return False

    def _report(self) -> None:
        shown = time.monotonic()
        self._app.removeEventFilter(self)
        print(f"{PROBE_ENV} shown {shown:.6f}", flush=True)
        print(f"{PROBE_ENV} heavy {json.dumps(heavy_modules_loaded())}", flush=True)
        self._app.quit()
