"""``--demo``: the demo content (placeholder until the phantom generator is merged)."""

from __future__ import annotations


def open_demo(window, *, slice_index: int | None = None) -> None:
    window.statusBar().showMessage("The demo content is not available in this build yet.", 8000)
