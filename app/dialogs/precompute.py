"""The admin's "Precompute AI results…": a session's AI results and heat maps, computed ahead of time.

The same work as ``ssc study precompute``: every case of the chosen session (or of the study) without a
cached result gets the cascade and, optionally, the heat maps of its scored levels. The units run in the
window's AI process at the lowest priority (the case being read always goes first) and each result is
written to the study as soon as it arrives, so closing the dialog or the window loses at most the piece in
progress and "Start" later continues where it stopped.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
)

from app.ai_precompute import PrecomputeRunner
from app.ai_state import demo_bundle_installed
from ssc_core import RESEARCH_USE_NOTICE
from ssc_core.errors import SSCError

ALL_CASES = "All cases of the study"


class PrecomputeDialog(QDialog):
    """See the module docstring. ``job`` is the running :class:`PrecomputeRunner` (None before Start).

    ``store``: the study, open for writing; ``service``: the window's AI service (its bundle is loaded when
    none is); ``start_job(session, heatmaps)``: how a run starts (default: a :class:`PrecomputeRunner` of
    the dialog's own; a reading session passes its AI controller's, which also refreshes what the reader
    sees).
    """

    def __init__(
        self,
        store,
        service,
        *,
        bundle_path: str | None = None,
        by: int | None = None,
        session: str | None = None,
        start_job=None,
        parent=None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("precomputeDialog")
        self.setWindowTitle("Precompute AI results")
        self.store = store
        self.service = service
        self.by = by
        self._start_job = start_job
        self.job: PrecomputeRunner | None = None
        self.session_box = QComboBox(self)
        self.session_box.setObjectName("precomputeSession")
        self.session_box.addItem(ALL_CASES, None)
        for s in store.sessions():
            self.session_box.addItem(f"{s.label} ({s.kind.display_name})", s.label)
        self.session_box.setCurrentIndex(max(0, self.session_box.findData(session)))
        self.heatmaps_box = QCheckBox(
            "Heat maps of every level too (slow on a CPU: about 15 s per level)", self
        )
        self.heatmaps_box.setObjectName("precomputeHeatmaps")
        self.heatmaps_box.setChecked(True)
        self.model_label = QLabel(self)
        self.model_label.setObjectName("precomputeModel")
        self.model_label.setWordWrap(True)
        self.status_label = QLabel(
            "Cases that already have a cached result are skipped; an interrupted run continues where it "
            "stopped. Results are stored in the study file.",
            self,
        )
        self.status_label.setObjectName("precomputeStatus")
        self.status_label.setWordWrap(True)
        self.bar = QProgressBar(self)
        self.bar.setObjectName("precomputeProgress")
        self.bar.setRange(0, 1)
        self.bar.setValue(0)
        notice = QLabel(RESEARCH_USE_NOTICE, self)
        notice.setWordWrap(True)
        notice.setStyleSheet("color: #707070;")
        self.start_button = QPushButton("Start", self)
        self.start_button.setObjectName("precomputeStart")
        self.start_button.setEnabled(False)
        self.cancel_button = QPushButton("Stop", self)
        self.cancel_button.setObjectName("precomputeStop")
        self.cancel_button.setEnabled(False)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        buttons.addButton(self.start_button, QDialogButtonBox.ButtonRole.ActionRole)
        buttons.addButton(self.cancel_button, QDialogButtonBox.ButtonRole.ActionRole)
        buttons.rejected.connect(self.reject)
        self.start_button.clicked.connect(self.start)
        self.cancel_button.clicked.connect(self.stop)
        form = QFormLayout()
        form.addRow("Cases", self.session_box)
        form.addRow("", self.heatmaps_box)
        layout = QVBoxLayout(self)
        layout.addWidget(self.model_label)
        layout.addLayout(form)
        layout.addWidget(self.status_label)
        layout.addWidget(self.bar)
        layout.addWidget(notice)
        layout.addWidget(buttons)
        self.setMinimumWidth(520)
        self.finished.connect(lambda _r: self.stop())
        self.setWindowModality(Qt.WindowModality.NonModal)
        service.bundleReady.connect(self._show_model)
        service.bundleFailed.connect(self._bundle_failed)
        if service.bundle is not None:
            self._show_model(service.bundle)
        elif service.bundle_loading:
            self.model_label.setText("Loading the model…")
        elif bundle_path is None and not demo_bundle_installed():
            self.model_label.setText(
                "No model bundle installed: load one first (Reading > Load model bundle…), or use "
                "“ssc study precompute --bundle”."
            )
        else:
            self.model_label.setText("Loading the model…")
            service.load_bundle(bundle_path)

    def _show_model(self, info) -> None:
        self.model_label.setText(f"Model: {info.display_name} ({info.device_label})")
        self.model_label.setStyleSheet("")
        self.start_button.setEnabled(self.job is None or self.job.ended)

    def _bundle_failed(self, failure) -> None:
        self.model_label.setText(f"The model bundle could not be loaded: {failure.message}")
        self.model_label.setStyleSheet("color: #c82828;")
        self.start_button.setEnabled(False)

    def start(self) -> PrecomputeRunner | None:
        if self.job is not None and not self.job.ended:
            return self.job
        session = self.session_box.currentData()
        heatmaps = self.heatmaps_box.isChecked()
        try:
            if self._start_job is not None:
                job = self._start_job(session, heatmaps)
            else:
                job = PrecomputeRunner(
                    self.service, self.store, session=session, heatmaps=heatmaps, by=self.by, parent=self
                )
                job.start()
        except SSCError as exc:
            self.status_label.setText(exc.message + (f" {exc.hint}" if exc.hint else ""))
            self.status_label.setStyleSheet("color: #c82828;")
            return None
        self.job = job
        self.status_label.setStyleSheet("")
        job.progressed.connect(self._on_progress)
        job.finished.connect(self._on_finished)
        self._on_progress(job.done, job.total, "")
        if job.ended:
            self._on_finished(job.computed, job.failed, job.cancelled)
            return job
        self.start_button.setEnabled(False)
        self.cancel_button.setEnabled(True)
        self.session_box.setEnabled(False)
        self.heatmaps_box.setEnabled(False)
        return job

    def stop(self) -> None:
        if self.job is not None and not self.job.ended:
            self.job.cancel()

    def _on_progress(self, done: int, total: int, message: str) -> None:
        self.bar.setRange(0, max(1, total))
        self.bar.setValue(min(done, max(1, total)))
        self.status_label.setText(f"{done} of {total} step(s)" + (f" · {message}" if message else ""))

    def _on_finished(self, computed: int, failed: int, cancelled: bool) -> None:
        job = self.job
        self.start_button.setEnabled(self.service.bundle is not None)
        self.cancel_button.setEnabled(False)
        self.session_box.setEnabled(True)
        self.heatmaps_box.setEnabled(True)
        if cancelled:
            text = f"Stopped after {computed} result(s). What was computed is saved; Start continues."
        elif computed == 0 and failed == 0:
            text = "Everything is already computed."
        else:
            text = f"Done: {computed} result(s) computed" + (f", {failed} failed" if failed else "") + "."
        if job is not None and job.errors:
            text += "\n" + "\n".join(job.errors[:5])
        self.status_label.setText(text)
        self.status_label.setStyleSheet("color: #c82828;" if failed else "")
        if not cancelled:
            self.bar.setValue(self.bar.maximum())
