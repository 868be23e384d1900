"""Status bar and toolbar pieces of the main window: load progress, HU readout, window controls."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QWidget,
)

from ssc_core import RESEARCH_USE_NOTICE
from ssc_core.constants import (
    CUSTOM_WINDOW_NAME,
    WINDOW_LEVEL_LIMITS,
    WINDOW_PRESETS,
    WINDOW_WIDTH_LIMITS,
    HUWindow,
)
from ssc_core.progress import Progress


class ProgressRow(QWidget):
    """A message, a progress bar and a Cancel button in one row of the status bar; hidden until used."""

    cancelRequested = Signal()

    def __init__(
        self,
        name: str,
        *,
        bar_width: int,
        bar_text: bool,
        cancel_text: str,
        cancel_name: str,
        cancel_tip: str,
        parent=None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName(name)
        self.label = QLabel(self)
        self.bar = QProgressBar(self)
        self.bar.setFixedWidth(bar_width)
        self.bar.setTextVisible(bar_text)
        self.cancel_button = QPushButton(cancel_text, self)
        self.cancel_button.setObjectName(cancel_name)
        self.cancel_button.setToolTip(cancel_tip)
        self.cancel_button.clicked.connect(self.cancelRequested)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.label)
        layout.addWidget(self.bar)
        layout.addWidget(self.cancel_button)
        self.hide()


class LoadProgress(ProgressRow):
    """The progress of loading a scan, with Cancel."""

    def __init__(self, parent=None) -> None:
        super().__init__(
            "loadProgress",
            bar_width=180,
            bar_text=True,
            cancel_text="Cancel",
            cancel_name="cancelLoad",
            cancel_tip="Stop loading (Esc); the scan already open stays open",
            parent=parent,
        )

    def start(self, message: str) -> None:
        self.label.setText(message)
        self.bar.setRange(0, 0)  # busy until the first report
        self.show()

    def update_progress(self, p: Progress) -> None:
        if p.total > 0:
            self.bar.setRange(0, p.total)
            self.bar.setValue(min(p.done, p.total))
        if p.message:
            self.label.setText(p.message)

    def stop(self) -> None:
        self.hide()


class WindowControls(QWidget):
    """Preset choice plus width/level fields; typing a value makes the window custom."""

    presetChosen = Signal(str)
    customWindowEntered = Signal(object)  # HUWindow

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setObjectName("windowControls")
        self.preset = QComboBox(self)
        self.preset.setObjectName("windowPreset")
        for w in WINDOW_PRESETS:
            self.preset.addItem(w.name)
        self.preset.addItem(CUSTOM_WINDOW_NAME)
        self.preset.setToolTip("Window preset (F2 lung, F3 mediastinum, F4 custom)")
        self.preset.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.width_box = QSpinBox(self)
        self.width_box.setObjectName("windowWidth")
        self.width_box.setRange(int(WINDOW_WIDTH_LIMITS[0]), int(WINDOW_WIDTH_LIMITS[1]))
        self.width_box.setToolTip("Window width (HU); right-drag left/right on the image changes it")
        self.level_box = QSpinBox(self)
        self.level_box.setObjectName("windowLevel")
        self.level_box.setRange(int(WINDOW_LEVEL_LIMITS[0]), int(WINDOW_LEVEL_LIMITS[1]))
        self.level_box.setToolTip("Window level (HU); right-drag up/down on the image changes it")
        for box in (self.width_box, self.level_box):
            box.setKeyboardTracking(False)
            box.setAccelerated(True)
            box.editingFinished.connect(self._entered)
        self._shown = (0, 0)
        self.preset.activated.connect(lambda i: self.presetChosen.emit(self.preset.itemText(i)))
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(QLabel("Window", self))
        layout.addWidget(self.preset)
        layout.addWidget(QLabel("W", self))
        layout.addWidget(self.width_box)
        layout.addWidget(QLabel("L", self))
        layout.addWidget(self.level_box)

    def show_window(self, window: HUWindow) -> None:
        for w in (self.preset, self.width_box, self.level_box):
            w.blockSignals(True)
        i = self.preset.findText(window.name)
        self.preset.setCurrentIndex(i if i >= 0 else self.preset.count() - 1)
        self.width_box.setValue(round(window.width))
        self.level_box.setValue(round(window.level))
        self._shown = (self.width_box.value(), self.level_box.value())
        for w in (self.preset, self.width_box, self.level_box):
            w.blockSignals(False)

    def _entered(self) -> None:
        if (self.width_box.value(), self.level_box.value()) == self._shown:
            return  # focus left without a change: keep the preset
        self.customWindowEntered.emit(
            HUWindow(CUSTOM_WINDOW_NAME, float(self.width_box.value()), float(self.level_box.value()))
        )


def research_notice_label(parent=None) -> QLabel:
    """The unobtrusive "research software" notice of the status bar."""
    label = QLabel(RESEARCH_USE_NOTICE.split(".")[0] + ".", parent)
    label.setObjectName("researchNotice")
    label.setToolTip(RESEARCH_USE_NOTICE)
    label.setStyleSheet("color: #808080;")
    return label
