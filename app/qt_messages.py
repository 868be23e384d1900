"""Qt's own messages on the terminal: the few that are noise on the offscreen platform are dropped.

``--screenshot`` and ``--self-test`` run on Qt's offscreen platform (no display). There Qt prints "This
plugin does not support propagateSizeHints()" each time a window's size hints change: a platform plugin
saying it has nothing to do, which told new users nothing but looked like an error. Every other message
goes through unchanged.
"""

from __future__ import annotations

import sys

#: Messages of the offscreen platform plugin that carry no information (matched exactly).
OFFSCREEN_NOISE = frozenset({"This plugin does not support propagateSizeHints()"})

_installed = False


def quiet_offscreen_noise() -> None:
    """Install the filter (once): drop :data:`OFFSCREEN_NOISE`, print everything else as Qt would."""
    global _installed
    if _installed:
        return
    from PySide6.QtCore import qFormatLogMessage, qInstallMessageHandler

    previous = None

    def handler(mode, context, message: str) -> None:
        if message in OFFSCREEN_NOISE:
            return
        if previous is not None:
            previous(mode, context, message)
        else:
            print(qFormatLogMessage(mode, context, message), file=sys.stderr, flush=True)

    previous = qInstallMessageHandler(handler)
    _installed = True
