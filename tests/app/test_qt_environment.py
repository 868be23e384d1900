"""The Qt binding the workstation runs on must not leak references on every signal.

PySide6 6.12.0 on CPython 3.11 drops a reference to ``True`` on each ``Signal.emit``; a viewer emits
thousands of signals a minute, so the process aborts ("bool_dealloc") after a short while of scrolling.
pyproject.toml excludes that combination; this test catches an environment that slipped through.
"""

from __future__ import annotations

import sys

import pytest
from PySide6.QtCore import QObject, Signal

pytestmark = pytest.mark.gui


class _Emitter(QObject):
    value = Signal(object)


def test_signal_emit_keeps_refcounts(qtbot):
    e = _Emitter()
    got = []
    e.value.connect(got.append)
    before_true, before_false = sys.getrefcount(True), sys.getrefcount(False)
    for i in range(500):
        e.value.emit(i)
    assert len(got) == 500
    # A few references may come and go elsewhere; a leak per emit would show as -500.
    assert abs(sys.getrefcount(True) - before_true) < 50
    assert abs(sys.getrefcount(False) - before_false) < 50
