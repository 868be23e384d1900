"""Entry point ``ssc-workstation``: the viewer window, optionally opening a scan or the demo; or, with
``--stats STUDY``, the statistics window of a study alone.

Start-up stays light: only Qt, pyqtgraph and numpy are imported here; SimpleITK and pydicom load with the
first scan, pandas and the statistics libraries in the statistics worker, and torch/timm never at start-up.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from ssc_core import RESEARCH_USE_NOTICE


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ssc-workstation", description=f"SSc Scoring Workstation. {RESEARCH_USE_NOTICE}"
    )
    src = parser.add_mutually_exclusive_group()
    src.add_argument("--open", metavar="PATH", help="open a scan (DICOM folder or file, MHA, NIfTI, NRRD)")
    src.add_argument("--demo", action="store_true", help="open the demo content (synthetic phantoms)")
    src.add_argument("--study", metavar="FILE", help="open a study file (not available yet)")
    src.add_argument(
        "--stats",
        metavar="STUDY",
        help="open the statistics window of a study file (read-only): report tables and agreement plots",
    )
    parser.add_argument("--slice", type=int, metavar="N", help="show slice N (1 = most cranial) once loaded")
    parser.add_argument(
        "--window", choices=["lung", "mediastinum"], help="start with this window preset (default lung)"
    )
    parser.add_argument(
        "--screenshot",
        metavar="PNG",
        help="wait until the scan is loaded and drawn (with --stats: the statistics computed), save the "
        "window to PNG and exit (works offscreen)",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.study:
        parser.error("opening study files is not available in this version yet")
    if args.slice is not None and args.slice < 1:
        parser.error("--slice counts from 1 (the most cranial slice)")
    if args.stats:
        if args.slice is not None or args.window:
            parser.error("--slice and --window apply to scans, not to --stats")
        return run_statistics(args.stats, screenshot=args.screenshot)

    from PySide6.QtWidgets import QApplication

    from app.settings import APPLICATION, ORGANIZATION

    qapp = QApplication.instance() or QApplication(sys.argv[:1])
    qapp.setOrganizationName(ORGANIZATION)
    qapp.setApplicationName(APPLICATION)

    from app.main_window import MainWindow
    from app.screenshot import ScreenshotOnLoad
    from ssc_core.constants import LUNG_WINDOW, MEDIASTINUM_WINDOW

    win = MainWindow(restore_layout=args.screenshot is None)
    if args.window:
        win.controller.set_preset({"lung": LUNG_WINDOW, "mediastinum": MEDIASTINUM_WINDOW}[args.window].name)
    win.show()
    shooter = None
    slice_index = None if args.slice is None else args.slice - 1
    if args.screenshot:
        shooter = ScreenshotOnLoad(win, args.screenshot, expect_load=bool(args.open or args.demo))
    if args.open:
        win.open_path(args.open, slice_index=slice_index)
    elif args.demo:
        from app.demo import open_demo

        open_demo(win, slice_index=slice_index)
    code = qapp.exec()
    if shooter is not None:
        code = shooter.exit_code
    return code


def run_statistics(study: str, *, screenshot: str | None = None) -> int:
    """The statistics window of ``study`` alone; with ``screenshot``, save it once computed and exit.

    Exit status 0, or 2 when the statistics could not be computed (the reason is printed).
    """
    from pathlib import Path

    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from app.settings import APPLICATION, ORGANIZATION

    qapp = QApplication.instance() or QApplication(sys.argv[:1])
    qapp.setOrganizationName(ORGANIZATION)
    qapp.setApplicationName(APPLICATION)

    from app.statistics import error_message
    from app.widgets.statistics_window import StatisticsWindow

    win = StatisticsWindow(study)
    status = {"code": 0}

    def fail(error: BaseException) -> None:
        print(f"statistics: {error_message(error, 'the statistics')}", file=sys.stderr)
        status["code"] = 2
        if screenshot:
            win.close()
            qapp.exit(2)

    def capture(_result: object) -> None:
        def save() -> None:
            QApplication.processEvents()
            target = Path(screenshot)  # type: ignore[arg-type]
            target.parent.mkdir(parents=True, exist_ok=True)
            pixmap = win.grab()
            ok = not pixmap.isNull() and pixmap.save(str(target), "PNG")
            print(
                f"screenshot saved: {target}" if ok else f"screenshot: could not write {target}",
                file=sys.stderr,
            )
            status["code"] = 0 if ok else 1
            win.close()
            qapp.exit(status["code"])

        QTimer.singleShot(150, save)  # let queued layout and paint events run first

    win.failed.connect(fail)
    if screenshot:
        win.computed.connect(capture)
        win.cancelled.connect(lambda: (win.close(), qapp.exit(1)))
    win.show()
    code = qapp.exec()
    return status["code"] if screenshot else (status["code"] or code)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
