"""``ssc-workstation --self-test``: check an installation (above all a frozen bundle) end to end.

One line per check, with its result and time, then a summary; exit status 0 when every check passed, 1
otherwise. The checks:

1. the Qt platform plugin and an offscreen-capable window;
2. decoding one tiny synthetic series of every supported DICOM transfer syntax (``ssc_core.selftest.codecs``);
3. the demo study's real first-use build (one phantom patient, in a temporary folder) and opening its first
   case in the workstation window, drawn and grabbed as a picture;
4. the AI cascade on that phantom (``ssc_core.selftest.ai``): the demo bundle, or an untrained bundle labelled
   as such while no demo bundle is installed.

Nothing outside a temporary folder is written: the window's settings go to an INI file there, so the user's
recent studies and layout are untouched. No network is used.
"""

from __future__ import annotations

import os
import platform
import sys
import tempfile
import time
from pathlib import Path

from ssc_core import RESEARCH_USE_NOTICE, __version__
from ssc_core.selftest.base import Check, run_check

#: The demo study of the self-test: the real build, one phantom patient at the real matrix.
SELF_TEST_PATIENTS = 1
SELF_TEST_MATRIX = 512
#: Give up waiting for the demo study to build and its case to be drawn after this long (s).
DEMO_TIMEOUT_S = 300.0
#: Names of the window checks in the report.
DEMO_CHECK = "demo study: build and open a case"
AI_CHECK = "AI cascade on a phantom"


def _print(text: str) -> None:
    print(text, flush=True)


def run_self_test() -> int:
    """Run every check, print the report, return the exit status (0 = all passed)."""
    start = time.perf_counter()
    if sys.platform.startswith("linux") and not (
        os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY") or os.environ.get("QT_QPA_PLATFORM")
    ):
        os.environ["QT_QPA_PLATFORM"] = "offscreen"  # no display: the checks need none
    frozen = bool(getattr(sys, "frozen", False))
    _print(
        f"SSc Scoring Workstation {__version__} self-test "
        f"({'frozen bundle' if frozen else 'from source'}; Python {platform.python_version()}, "
        f"{platform.system()} {platform.machine()})"
    )
    _print(RESEARCH_USE_NOTICE)
    checks: list[Check] = []

    def add(check: Check) -> Check:
        checks.append(check)
        _print(check.line())
        return check

    with tempfile.TemporaryDirectory(prefix="ssc-selftest-") as tmp:
        work = Path(tmp)
        qapp_check, qapp = _start_qt(work)
        add(qapp_check)
        codec_dir = work / "codecs"
        try:
            from ssc_core.selftest.codecs import SAMPLES, decode_sample, decoder_libraries
        except Exception as exc:  # a module lost in freezing: report it, go on with the other checks
            add(Check("DICOM decoders", False, 0.0, f"{type(exc).__name__}: {exc}"))
        else:
            add(run_check("DICOM decoder libraries", decoder_libraries))
            for sample in SAMPLES:
                add(run_check(f"decode {sample.name}", lambda s=sample: decode_sample(s, codec_dir)))
        volume, truth = None, None
        if qapp is not None:
            try:
                demo_check, volume, truth = _open_demo(work)
            except Exception as exc:
                demo_check = Check(DEMO_CHECK, False, 0.0, f"{type(exc).__name__}: {exc}")
            add(demo_check)
        if volume is None:
            add(Check(AI_CHECK, False, 0.0, "skipped: the demo study did not open"))
        else:
            add(run_check(AI_CHECK, lambda: _cascade(volume, work, truth)))
    failed = [c for c in checks if not c.passed]
    total = time.perf_counter() - start
    _print(
        f"{len(checks) - len(failed)} of {len(checks)} checks passed in {total:.1f} s"
        + (f"; FAILED: {', '.join(c.name for c in failed)}" if failed else "")
    )
    return 1 if failed else 0


def _cascade(volume, work: Path, truth) -> str:
    from ssc_core.selftest.ai import run_cascade_check

    return run_cascade_check(volume, work, truth)


def _start_qt(work: Path):
    """(check, QApplication or None): the platform plugin loads and a window can be shown and grabbed."""
    state: dict[str, object] = {}

    def start() -> str:
        from PySide6.QtWidgets import QApplication, QMainWindow

        from app.qt_messages import quiet_offscreen_noise
        from app.settings import APPLICATION, ORGANIZATION

        quiet_offscreen_noise()
        qapp = QApplication.instance() or QApplication(sys.argv[:1])
        qapp.setOrganizationName(ORGANIZATION)
        qapp.setApplicationName(APPLICATION)
        state["qapp"] = qapp
        win = QMainWindow()
        win.resize(320, 200)
        win.show()
        QApplication.processEvents()
        if win.grab().isNull():
            raise RuntimeError("the window could not be drawn")
        win.close()
        return f"platform plugin '{qapp.platformName()}', Qt {_qt_version()}"

    check = run_check("Qt platform and a window", start)
    return check, state.get("qapp") if check.passed else None


def _qt_version() -> str:
    from PySide6.QtCore import qVersion

    return qVersion()


def _open_demo(work: Path):
    """(check, volume or None, truth or None): build the demo study in ``work`` and open its first case."""
    from PySide6.QtCore import QEventLoop, QTimer
    from PySide6.QtWidgets import QApplication

    from app.main_window import MainWindow, isolated_settings
    from app.study_actions import demo_root
    from ssc_core.constants import DEMO_OBSERVER_SESSION, DEMO_READER_NAME
    from ssc_core.selftest.ai import read_truth
    from ssc_core.study.demo import read_demo_manifest

    name = DEMO_CHECK
    start = time.perf_counter()
    win = MainWindow(isolated_settings(str(work / "settings.ini")), restore_layout=False)
    win.show()
    loop = QEventLoop()
    outcome: dict[str, object] = {}

    def finish(key: str, value: object) -> None:
        if "t" not in outcome:
            outcome[key] = value
            outcome["t"] = time.perf_counter()
            loop.quit()

    def on_workspace(workspace) -> None:
        if workspace is not None:
            outcome.setdefault("opened", time.perf_counter())

    win.study.workspaceChanged.connect(on_workspace)
    win.study.failed.connect(lambda text: finish("failed", text))
    win.controller.loadFailed.connect(lambda exc: finish("failed", f"{type(exc).__name__}: {exc}"))
    win.controller.volumeChanged.connect(
        lambda v: v is not None and QTimer.singleShot(150, lambda: finish("volume", v))
    )
    QTimer.singleShot(
        int(DEMO_TIMEOUT_S * 1000), lambda: finish("failed", f"timed out after {DEMO_TIMEOUT_S:.0f} s")
    )
    win.study.open_demo(
        base=work / "user-data",
        n_patients=SELF_TEST_PATIENTS,
        matrix=SELF_TEST_MATRIX,
        reader=DEMO_READER_NAME,
        session=DEMO_OBSERVER_SESSION,
        case=1,
    )
    loop.exec()
    seconds = time.perf_counter() - start
    if "failed" in outcome:
        win.close()
        return Check(name, False, seconds, str(outcome["failed"])), None, None
    volume = outcome["volume"]
    win.flush()
    QApplication.processEvents()
    image = win.grab().toImage()
    win.close()
    if image.isNull() or image.width() < 100:
        return Check(name, False, seconds, "the window with the case could not be drawn"), None, None
    grey = {
        image.pixelColor(x, y).lightness()
        for x in range(0, image.width(), 37)
        for y in range(0, image.height(), 37)
    }
    if len(grey) < 8:
        return Check(name, False, seconds, "the window with the case drew as a blank picture"), None, None
    demo = read_demo_manifest(demo_root(work / "user-data"))
    truth = read_truth(demo.scans_dir) if demo is not None else None
    built = outcome.get("opened", outcome["t"]) - start  # type: ignore[operator]
    detail = (
        f"{SELF_TEST_PATIENTS} phantom at {SELF_TEST_MATRIX} px built and opened in {built:.1f} s, "
        f"case drawn ({volume.n_slices} slices, {image.width()}x{image.height()} window)"  # type: ignore[attr-defined]
    )
    return Check(name, True, seconds, detail), volume, truth
