"""The AI panel (a dock) and the AI's progress in the status bar.

The panel says which model is in use (its display name and its own notice, e.g. "demo model, trained on
synthetic data, not for clinical use"), that the output is for research use only, what the AI is doing
(loading, running with progress, ready, cancelled, or an error with its reason), and holds the heat-map
controls: pattern (TOT / GG / RET), opacity, show/hide (hold H to hide it while held). Under the hidden
policy it says only "AI hidden in this session" and nothing else is ever filled in.

It shows states and takes commands; it never reads the store or the reader view itself.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QSlider,
    QVBoxLayout,
    QWidget,
)

from app.ai_state import AIState, AIStatus
from app.widgets.ai_style import AI_TEXT_COLOR
from app.widgets.status import ProgressRow
from ssc_core import RESEARCH_USE_NOTICE
from ssc_core.ai.service import BundleInfo
from ssc_core.constants import HEATMAP_OPACITY, HEATMAP_OPACITY_RANGE_PCT, PATTERNS, Pattern

ERROR_COLOR = "#c82828"
MUTED_COLOR = "#707070"
RESEARCH_TEXT = "Research use only — not for clinical use."
SHOW_HEATMAP_TEXT = "Show (H; hold H to hide)"


class AIPanel(QWidget):
    """See the module docstring."""

    cancelRequested = Signal()
    runAgainRequested = Signal()
    loadBundleRequested = Signal()
    patternChosen = Signal(object)  # Pattern
    opacityChanged = Signal(float)
    heatmapShown = Signal(bool)

    def __init__(self, *, hidden: bool = False, rating: bool = False, parent=None) -> None:
        super().__init__(parent)
        self.setObjectName("aiPanel")
        self.hidden_session = hidden
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        self.hidden_label = QLabel("AI hidden in this session.", self)
        self.hidden_label.setObjectName("aiHidden")
        self.hidden_label.setWordWrap(True)
        self.hidden_label.setStyleSheet(f"color: {MUTED_COLOR};")
        layout.addWidget(self.hidden_label)
        self.hidden_label.setVisible(hidden)
        if hidden:
            layout.addStretch(1)
            return

        self.model_label = QLabel(self)
        self.model_label.setObjectName("aiModel")
        self.model_label.setWordWrap(True)
        self.notice_label = QLabel(self)
        self.notice_label.setObjectName("aiNotice")
        self.notice_label.setWordWrap(True)
        self.research_label = QLabel(RESEARCH_TEXT, self)
        self.research_label.setObjectName("aiResearchOnly")
        self.research_label.setToolTip(RESEARCH_USE_NOTICE)
        self.research_label.setStyleSheet(f"color: {AI_TEXT_COLOR.name()}; font-weight: bold;")
        self.device_label = QLabel(self)
        self.device_label.setObjectName("aiDevice")
        self.device_label.setStyleSheet(f"color: {MUTED_COLOR};")
        self.status_label = QLabel(self)
        self.status_label.setObjectName("aiStatus")
        self.status_label.setWordWrap(True)
        self.hint_label = QLabel(self)
        self.hint_label.setObjectName("aiHint")
        self.hint_label.setWordWrap(True)
        self.hint_label.setStyleSheet(f"color: {MUTED_COLOR};")
        self.progress = QProgressBar(self)
        self.progress.setObjectName("aiProgressBar")
        self.progress.setTextVisible(False)
        self.progress.setMaximumHeight(10)
        self.progress.hide()
        self.cancel_button = QPushButton("Cancel", self)
        self.cancel_button.setObjectName("aiCancel")
        self.cancel_button.setToolTip("Stop the AI for this case; scoring goes on")
        self.run_button = QPushButton("Run again", self)
        self.run_button.setObjectName("aiRunAgain")
        self.load_button = QPushButton("Load model bundle…", self)
        self.load_button.setObjectName("aiLoadBundle")
        self.load_button.setToolTip(
            "Use a lab's own model bundle (a folder with spec.json); it is verified first"
        )
        for b in (self.cancel_button, self.run_button, self.load_button):
            b.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.cancel_button.clicked.connect(self.cancelRequested)
        self.run_button.clicked.connect(self.runAgainRequested)
        self.load_button.clicked.connect(self.loadBundleRequested)
        buttons = QHBoxLayout()
        buttons.setContentsMargins(0, 0, 0, 0)
        buttons.addWidget(self.cancel_button)
        buttons.addWidget(self.run_button)
        buttons.addStretch(1)
        buttons.addWidget(self.load_button)

        self.heatmap_box = QGroupBox("Heat map", self)
        self.heatmap_box.setObjectName("aiHeatmapBox")
        box = QVBoxLayout(self.heatmap_box)
        row = QHBoxLayout()
        self.pattern_buttons = QButtonGroup(self)
        self.pattern_buttons.setExclusive(True)
        for i, p in enumerate(PATTERNS):
            b = QPushButton(p.value, self.heatmap_box)
            b.setObjectName(f"heatmap{p.value}")
            b.setCheckable(True)
            b.setChecked(i == 0)
            b.setFocusPolicy(Qt.FocusPolicy.NoFocus)
            b.setToolTip(f"Show the heat map of {p.long_name} ({p.value})")
            # narrower than a push button's default 80 px when the dock is narrow, so the row fits
            b.setMinimumWidth(b.fontMetrics().horizontalAdvance("RET") + 24)
            self.pattern_buttons.addButton(b, i)
            row.addWidget(b)
        self.pattern_buttons.idClicked.connect(lambda i: self.patternChosen.emit(PATTERNS[i]))
        # Beside the pattern buttons (which shrink as needed): at their full 80 px the row was wider than the
        # dock a 1440 px window gives, and Qt clipped the dock's right edge (this label, the status text).
        self.show_box = QCheckBox(SHOW_HEATMAP_TEXT, self.heatmap_box)
        self.show_box.setToolTip("Tap H to show or hide the heat map; hold H to hide it while held")
        self.show_box.setObjectName("heatmapShow")
        self.show_box.setChecked(True)
        self.show_box.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.show_box.toggled.connect(self.heatmapShown)
        row.addStretch(1)
        row.addWidget(self.show_box)
        box.addLayout(row)
        opacity = QHBoxLayout()
        opacity.addWidget(QLabel("Opacity", self.heatmap_box))
        self.opacity_slider = QSlider(Qt.Orientation.Horizontal, self.heatmap_box)
        self.opacity_slider.setObjectName("heatmapOpacity")
        self.opacity_slider.setRange(*HEATMAP_OPACITY_RANGE_PCT)
        self.opacity_slider.setValue(round(100 * HEATMAP_OPACITY))
        self.opacity_slider.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.opacity_slider.setToolTip("Opacity of the heat map over the CT")
        self.opacity_value = QLabel(f"{self.opacity_slider.value()} %", self.heatmap_box)
        self.opacity_slider.valueChanged.connect(self._on_opacity)
        opacity.addWidget(self.opacity_slider, 1)
        opacity.addWidget(self.opacity_value)
        box.addLayout(opacity)
        self.heatmap_status = QLabel(self.heatmap_box)
        self.heatmap_status.setObjectName("aiHeatmapStatus")
        self.heatmap_status.setWordWrap(True)
        # Two lines kept for it: a dock at its minimum height does not grow for a label that wraps, and the
        # second line of the status ("… AI output, research use only.") was cut off.
        self.heatmap_status.setMinimumHeight(2 * self.heatmap_status.fontMetrics().lineSpacing())
        box.addWidget(self.heatmap_status)
        if rating:  # the pattern is the one being rated
            for b in self.pattern_buttons.buttons():
                b.setEnabled(False)
                b.setToolTip("The heat map of the pattern being rated is shown")

        layout.addWidget(self.model_label)
        layout.addWidget(self.notice_label)
        layout.addWidget(self.research_label)
        layout.addWidget(self.device_label)
        layout.addWidget(self.status_label)
        layout.addWidget(self.progress)
        layout.addWidget(self.hint_label)
        layout.addLayout(buttons)
        layout.addWidget(self.heatmap_box)
        layout.addStretch(1)
        self.setMinimumWidth(260)
        self.set_bundle(None)
        self.set_state(AIState(AIStatus.IDLE, ""))

    # --- display -------------------------------------------------------------------------------------

    def set_bundle(self, info: BundleInfo | None) -> None:
        if self.hidden_session:
            return
        if info is None:
            self.model_label.setText("<b>Model:</b> none loaded")
            self.notice_label.clear()
            self.notice_label.hide()
            self.device_label.clear()
            return
        self.model_label.setText(f"<b>Model:</b> {info.display_name}")
        self.model_label.setToolTip(f"Model bundle {info.hash[:16]}…")
        self.notice_label.setText(info.description)
        self.notice_label.setVisible(bool(info.description))
        self.device_label.setText(f"Runs on: {info.device_label}")

    def set_state(self, state: AIState) -> None:
        if self.hidden_session:
            return
        s = state.status
        error = s is AIStatus.ERROR
        self.status_label.setText(state.message)
        self.status_label.setStyleSheet(f"color: {ERROR_COLOR}; font-weight: bold;" if error else "")
        self.hint_label.setText(state.hint)
        self.hint_label.setVisible(bool(state.hint))
        running = s is AIStatus.RUNNING or s is AIStatus.LOADING
        self.progress.setVisible(running)
        if running:
            if state.total > 0:
                self.progress.setRange(0, state.total)
                self.progress.setValue(min(state.done, state.total))
            else:
                self.progress.setRange(0, 0)
        self.cancel_button.setEnabled(s is AIStatus.RUNNING)
        self.run_button.setVisible(s in (AIStatus.CANCELLED, AIStatus.ERROR, AIStatus.IDLE))
        self.run_button.setText("Run AI" if s is AIStatus.IDLE else "Run again")
        self.load_button.setEnabled(s is not AIStatus.WAITING_COMMIT)

    def set_heatmap_status(self, text: str, *, problem: bool = False) -> None:
        if self.hidden_session:
            return
        self.heatmap_status.setText(text)
        self.heatmap_status.setStyleSheet(f"color: {ERROR_COLOR if problem else MUTED_COLOR};")

    def set_pattern(self, pattern: Pattern) -> None:
        if not self.hidden_session:
            self.pattern_buttons.button(PATTERNS.index(Pattern(pattern))).setChecked(True)

    @property
    def pattern(self) -> Pattern:
        return PATTERNS[max(0, self.pattern_buttons.checkedId())]

    @property
    def opacity(self) -> float:
        return self.opacity_slider.value() / 100.0

    def _on_opacity(self, value: int) -> None:
        self.opacity_value.setText(f"{value} %")
        self.opacityChanged.emit(value / 100.0)


class AIStatusWidget(ProgressRow):
    """The AI's progress in the status bar: what it does for which case, a bar and Cancel."""

    def __init__(self, parent=None) -> None:
        super().__init__(
            "aiStatusBar",
            bar_width=120,
            bar_text=False,
            cancel_text="Cancel AI",
            cancel_name="aiStatusCancel",
            cancel_tip="Stop the AI for this case; scoring goes on",
            parent=parent,
        )
        self.cancel_button.setFocusPolicy(Qt.FocusPolicy.NoFocus)

    def set_state(self, state: AIState) -> None:
        running = state.status in (AIStatus.RUNNING, AIStatus.LOADING)
        if not running:
            self.hide()
            return
        self.label.setText(f"AI: {state.message}")
        if state.total > 0:
            self.bar.setRange(0, state.total)
            self.bar.setValue(min(state.done, state.total))
        else:
            self.bar.setRange(0, 0)
        self.cancel_button.setEnabled(state.status is AIStatus.RUNNING)
        self.show()
