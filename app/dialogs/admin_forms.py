"""Small forms of the study admin dialog: a reason, a reader, a new session, a pick list, a washout override.

Each form validates what it can itself (a label is given, at least one reader is ticked) and emits its values
through a ``given`` signal; the admin dialog makes the store call and reports the store's refusal, if any.
"""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPlainTextEdit,
    QVBoxLayout,
    QWidget,
)

from ssc_core.study.records import AIPolicy, Reader, Session, SessionKind

ERROR_STYLE = "color: #c82828;"


class _Form(QDialog):
    """A dialog with a form layout, an error line and OK/Cancel; subclasses implement ``values()``."""

    def __init__(self, title: str, parent: QWidget | None, ok_text: str = "OK") -> None:
        super().__init__(parent)
        self.setWindowTitle(title)
        self.form = QFormLayout()
        self.error = QLabel(self)
        self.error.setObjectName("formError")
        self.error.setStyleSheet(ERROR_STYLE)
        self.error.setWordWrap(True)
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel, self
        )
        self.ok_button = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.ok_button.setText(ok_text)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(self.form)
        layout.addWidget(self.error)
        layout.addWidget(self.buttons)

    def fail(self, text: str) -> None:
        self.error.setText(text)


def _checklist(items: Sequence[tuple[str, int]], parent: QWidget, checked: Sequence[int] = ()) -> QListWidget:
    lst = QListWidget(parent)
    for text, value in items:
        item = QListWidgetItem(text)
        item.setData(Qt.ItemDataRole.UserRole, value)
        item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
        item.setCheckState(Qt.CheckState.Checked if value in checked else Qt.CheckState.Unchecked)
        lst.addItem(item)
    return lst


def checked_values(lst: QListWidget) -> list[int]:
    return [
        int(lst.item(i).data(Qt.ItemDataRole.UserRole))
        for i in range(lst.count())
        if lst.item(i).checkState() == Qt.CheckState.Checked
    ]


class ReasonDialog(_Form):
    """Asks for the reason of an audited action (reopening a session, excluding a case, ...)."""

    given = Signal(str)

    def __init__(self, title: str, prompt: str, parent: QWidget | None = None, ok_text: str = "OK") -> None:
        super().__init__(title, parent, ok_text)
        self.setObjectName("reasonDialog")
        self.prompt = QLabel(prompt, self)
        self.prompt.setWordWrap(True)
        self.text = QPlainTextEdit(self)
        self.text.setObjectName("reasonText")
        self.text.setMaximumHeight(80)
        self.form.addRow(self.prompt)
        self.form.addRow("Reason (kept in the audit log)", self.text)

    def accept(self) -> None:
        reason = self.text.toPlainText().strip()
        if not reason:
            self.fail("Give a reason; it is recorded in the audit log.")
            return
        super().accept()
        self.given.emit(reason)


class AddReaderDialog(_Form):
    given = Signal(str, str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Add a reader", parent, "Add")
        self.setObjectName("addReaderDialog")
        self.name = QLineEdit(self)
        self.name.setObjectName("readerName")
        self.role = QComboBox(self)
        self.role.setObjectName("readerRole")
        self.role.addItem("reader", "reader")
        self.role.addItem("admin (may also manage the study)", "admin")
        self.form.addRow("Name", self.name)
        self.form.addRow("Role", self.role)

    def accept(self) -> None:
        if not self.name.text().strip():
            self.fail("Give the reader's name.")
            return
        super().accept()
        self.given.emit(self.name.text().strip(), str(self.role.currentData()))


class NewSessionDialog(_Form):
    """Plan a session: the same choices as ``ssc study add-session``. ``given(dict)`` holds the keywords."""

    given = Signal(object)

    def __init__(
        self,
        readers: Sequence[Reader],
        sessions: Sequence[Session],
        cases: Sequence[tuple[str, int]],
        parent: QWidget | None = None,
    ) -> None:
        super().__init__("New session", parent, "Create")
        self.setObjectName("newSessionDialog")
        self.label = QLineEdit(self)
        self.label.setObjectName("sessionLabel")
        self.label.setPlaceholderText("e.g. T1")
        self.kind = QComboBox(self)
        self.kind.setObjectName("sessionKind")
        for k in (SessionKind.OBSERVER, SessionKind.CONSENSUS, SessionKind.HEATMAP_RATING):
            self.kind.addItem(k.display_name, k.value)
        self.readers = _checklist([(r.name, r.id) for r in readers], self)
        self.readers.setObjectName("sessionReaders")
        self.blinded = QCheckBox("Blinded (readers see no one else's readings)", self)
        self.blinded.setObjectName("sessionBlinded")
        self.blinded.setChecked(True)
        self.ai_policy = QComboBox(self)
        self.ai_policy.setObjectName("sessionAIPolicy")
        for p, text in (
            (AIPolicy.HIDDEN, "hidden (never shown)"),
            (AIPolicy.AFTER_COMMIT, "after-commit (shown once the unaided reading is committed)"),
            (AIPolicy.VISIBLE, "visible (from the start)"),
        ):
            self.ai_policy.addItem(text, p.value)
        self.repeat_of = QComboBox(self)
        self.repeat_of.setObjectName("sessionRepeatOf")
        self.repeat_of.addItem("— (not a repeat)", None)
        for s in sessions:
            self.repeat_of.addItem(f"{s.label} (washout applies)", s.id)
        self.references = _checklist([(s.label, s.id) for s in sessions], self)
        self.references.setObjectName("sessionReferences")
        self.references.setMaximumHeight(90)
        self.all_cases = QCheckBox("All cases of the study (or of the repeated session)", self)
        self.all_cases.setObjectName("sessionAllCases")
        self.all_cases.setChecked(True)
        self.cases = _checklist(list(cases), self)
        self.cases.setObjectName("sessionCases")
        self.cases.setEnabled(False)
        self.all_cases.toggled.connect(lambda on: self.cases.setEnabled(not on))
        self.form.addRow("Label", self.label)
        self.form.addRow("Kind", self.kind)
        self.form.addRow("Readers", self.readers)
        self.form.addRow("", self.blinded)
        self.form.addRow("AI", self.ai_policy)
        self.form.addRow("Repeats", self.repeat_of)
        self.form.addRow("Compares (references)", self.references)
        self.form.addRow("Cases", self.all_cases)
        self.form.addRow("", self.cases)

    def values(self) -> dict:
        return {
            "label": self.label.text().strip(),
            "kind": str(self.kind.currentData()),
            "readers": checked_values(self.readers),
            "blinded": self.blinded.isChecked(),
            "ai_policy": str(self.ai_policy.currentData()),
            "repeat_of": self.repeat_of.currentData(),
            "references": checked_values(self.references),
            "cases": None if self.all_cases.isChecked() else checked_values(self.cases),
        }

    def accept(self) -> None:
        v = self.values()
        if not v["label"]:
            self.fail("Give the session a label (such as T1).")
            return
        if not v["readers"]:
            self.fail("Tick at least one reader.")
            return
        if v["cases"] is not None and not v["cases"]:
            self.fail("Tick the cases, or read all cases.")
            return
        super().accept()
        self.given.emit(v)


class PickDialog(_Form):
    """Tick items from a list (readers or cases to add to a session)."""

    given = Signal(object)

    def __init__(self, title: str, items: Sequence[tuple[str, int]], parent: QWidget | None = None) -> None:
        super().__init__(title, parent, "Add")
        self.setObjectName("pickDialog")
        self.items = _checklist(items, self)
        self.items.setObjectName("pickList")
        self.form.addRow(self.items)
        if not items:
            self.form.addRow(QLabel("Nothing to add.", self))

    def accept(self) -> None:
        picked = checked_values(self.items)
        if not picked:
            self.fail("Tick at least one.")
            return
        super().accept()
        self.given.emit(picked)


class WashoutDialog(_Form):
    """Let one reader into a repeat session before the washout has passed (admin, with a reason)."""

    given = Signal(int, str)

    def __init__(self, session_label: str, readers: Sequence[Reader], parent: QWidget | None = None) -> None:
        super().__init__(f"Override the washout of {session_label}", parent, "Override")
        self.setObjectName("washoutDialog")
        self.reader = QComboBox(self)
        self.reader.setObjectName("washoutReader")
        for r in readers:
            self.reader.addItem(r.name, r.id)
        self.reason = QPlainTextEdit(self)
        self.reason.setObjectName("reasonText")
        self.reason.setMaximumHeight(80)
        note = QLabel(
            "The washout keeps a reader from remembering their earlier reading; overriding it weakens the "
            "intra-observer comparison. The override and its reason are recorded in the audit log.",
            self,
        )
        note.setWordWrap(True)
        self.form.addRow(note)
        self.form.addRow("Reader", self.reader)
        self.form.addRow("Reason", self.reason)

    def accept(self) -> None:
        reason = self.reason.toPlainText().strip()
        if self.reader.currentData() is None:
            self.fail("This session has no reader.")
            return
        if not reason:
            self.fail("Give a reason; it is recorded in the audit log.")
            return
        super().accept()
        self.given.emit(int(self.reader.currentData()), reason)
