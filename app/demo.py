"""``--demo``: synthetic phantom patients, generated on first use into the user data directory.

The cohort (``ssc_core.imaging.phantom.write_cohort``, DICOM) is written into a ``.partial`` folder by a
worker, with a progress dialog and Cancel, and moved into place only once complete, so an interrupted
generation is never mistaken for a finished one. Later starts reuse it. The patient with the most disease
is opened through the normal loading path.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QObject, Qt
from PySide6.QtWidgets import QProgressDialog

from app.settings import APPLICATION, ORGANIZATION
from ssc_core.constants import DEMO_COHORT_PATIENTS, DEMO_COHORT_SEED, DEMO_SLICE_SPACING_MM
from ssc_core.progress import CancelToken, ProgressCallback

MANIFEST = "cohort.json"


def demo_root(base: Path | None = None) -> Path:
    """Where the demo cohort lives (versioned by the phantom generator, so a new phantom regenerates)."""
    from ssc_core.imaging.phantom import PHANTOM_VERSION

    if base is None:
        import platformdirs

        base = platformdirs.user_data_path(APPLICATION, ORGANIZATION)
    return Path(base) / "demo" / f"phantom-cohort-v{PHANTOM_VERSION}"


@dataclass(frozen=True)
class DemoPatient:
    pseudonym: str
    path: Path
    healthy: bool
    #: Mean total extent (TOT, %) over the five levels, from the cohort's ground truth.
    extent: float = 0.0


def _extent(record: dict) -> float:
    levels = record.get("levels") or {}
    tots = [float(v["scores"]["TOT"]) for v in levels.values() if "scores" in v]
    return sum(tots) / len(tots) if tots else 0.0


def demo_patients(root: Path) -> list[DemoPatient] | None:
    """The patients of a complete cohort at ``root`` (None when there is none, or it is incomplete)."""
    manifest = root / MANIFEST
    if not manifest.is_file():
        return None
    try:
        records = json.loads(manifest.read_text(encoding="utf-8"))["patients"]
        patients = [
            DemoPatient(r["PatID"], root / r["path"], bool(r["healthy"]), _extent(r)) for r in records
        ]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if not patients or not all(p.path.exists() for p in patients):
        return None
    return patients


def generate_demo(
    root: Path,
    *,
    n_patients: int = DEMO_COHORT_PATIENTS,
    matrix: int = 512,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
) -> list[DemoPatient]:
    """Write the demo cohort to ``root`` (runs in a worker). Nothing is left at ``root`` unless complete."""
    from ssc_core.imaging.phantom import write_cohort

    partial = root.with_name(root.name + ".partial")
    if partial.exists():
        shutil.rmtree(partial)
    try:
        write_cohort(
            partial,
            n_patients,
            DEMO_COHORT_SEED,
            "dicom",
            slice_spacing_mm=DEMO_SLICE_SPACING_MM,
            matrix=matrix,
            progress=progress,
            cancel=cancel,
        )
        if root.exists():
            shutil.rmtree(root)
        partial.replace(root)
    finally:
        if partial.exists():
            shutil.rmtree(partial, ignore_errors=True)
    patients = demo_patients(root)
    if patients is None:
        raise RuntimeError("the demo cohort was written but cannot be read back")
    return patients


def first_patient(patients: list[DemoPatient]) -> DemoPatient:
    """The patient with the most disease (the most to see), the first one on a tie."""
    return max(patients, key=lambda p: (p.extent, -patients.index(p)))


class DemoOpener(QObject):
    """Opens the demo in ``window``: at once when the cohort exists, else after generating it."""

    def __init__(
        self,
        window,
        *,
        base: Path | None = None,
        slice_index: int | None = None,
        n_patients: int = DEMO_COHORT_PATIENTS,
        matrix: int = 512,
    ) -> None:
        super().__init__(window)
        self.window = window
        self.root = demo_root(base)
        self.slice_index = slice_index
        self.n_patients = n_patients
        self.matrix = matrix
        self.dialog: QProgressDialog | None = None
        self.task = None

    def start(self) -> None:
        patients = demo_patients(self.root)
        if patients is not None:
            self._open(patients)
            return
        dialog = QProgressDialog(
            "Creating the demo patients (synthetic chest CT phantoms); this is done once.",
            "Cancel",
            0,
            1000,
            self.window,
        )
        dialog.setObjectName("demoProgress")
        dialog.setWindowTitle("Preparing the demo")
        dialog.setWindowModality(Qt.WindowModality.WindowModal)
        dialog.setMinimumDuration(0)
        dialog.setAutoClose(False)
        dialog.setAutoReset(False)
        dialog.setValue(0)
        self.dialog = dialog
        task = self.window.controller.runner.submit(
            "demo cohort", generate_demo, self.root, n_patients=self.n_patients, matrix=self.matrix
        )
        self.task = task
        dialog.canceled.connect(task.cancel)
        task.progressed.connect(self._on_progress)
        task.finished.connect(self._on_finished)
        self.window.dialogOpened.emit(dialog)
        dialog.open()

    def _on_progress(self, _rid: int, p) -> None:
        dialog = self.dialog  # a modal QProgressDialog.setValue runs the event loop: the task may finish
        if dialog is None:
            return
        if p.message:
            dialog.setLabelText(f"Creating the demo patients (done once).\n{p.message}")
        if p.total > 0:
            dialog.setValue(int(1000 * p.done / p.total))

    def _on_finished(self, result) -> None:
        dialog, self.dialog = self.dialog, None
        if dialog is not None:
            dialog.reset()
            dialog.close()
        if result.cancelled:
            self.window.controller.notify_load_cancelled()
            return
        if result.error is not None:
            self.window.controller.notify_load_failed(result.error)
            return
        self._open(result.value)

    def _open(self, patients: list[DemoPatient]) -> None:
        patient = first_patient(patients)
        self.window.open_path(patient.path, slice_index=self.slice_index)


def open_demo(window, *, slice_index: int | None = None, base: Path | None = None) -> DemoOpener:
    """Open the demo content in ``window`` (see the module docstring)."""
    opener = DemoOpener(window, base=base, slice_index=slice_index)
    opener.start()
    return opener
