"""The dialog shown when a scan cannot be opened: the core's reason, its hint and what to do next.

Window-modal but non-blocking (``open()``), so the event loop keeps running and tests can inspect and
close it like a reader would.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox, QWidget

from ssc_core.errors import SSCError

GENERIC_ADVICE = (
    "Check that the path holds a complete CT series exported from the scanner or PACS, "
    "or choose another file or folder (File > Open)."
)


def error_texts(error: BaseException) -> tuple[str, str, str]:
    """(reason, what to do, technical details) for an exception raised while loading.

    A refusal of the core (:class:`SSCError`) is shown as it is: its message and hint are written for the
    reader and carry no patient identifier. Anything else is an unexpected failure: the reason says so,
    and the exception text (which might quote a file path) goes only into the collapsed details.
    """
    if isinstance(error, SSCError):
        reason = error.message or type(error).__name__
        advice = error.hint or GENERIC_ADVICE
        details = f"{type(error).__name__}"
    else:
        reason = f"The scan could not be read because of an unexpected error ({type(error).__name__})."
        advice = GENERIC_ADVICE + " If it keeps happening, report it with the technical details."
        details = f"{type(error).__name__}: {error}"
    return reason, advice, details


class LoadErrorDialog(QMessageBox):
    """Explains why a scan was refused; the window behind stays usable once it is closed."""

    def __init__(self, error: BaseException, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("loadErrorDialog")
        self.error = error
        self.reason, self.advice, details = error_texts(error)
        self.setIcon(QMessageBox.Icon.Warning)
        self.setWindowTitle("The scan could not be opened")
        self.setTextFormat(Qt.TextFormat.PlainText)
        self.setText(self.reason)
        self.setInformativeText(
            f"What to do: {self.advice}\n\nThe workstation is still usable; nothing was changed."
        )
        self.setDetailedText(details)
        self.setStandardButtons(QMessageBox.StandardButton.Ok)
        self.setWindowModality(Qt.WindowModality.WindowModal)
