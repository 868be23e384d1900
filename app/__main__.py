"""Entry point ``ssc-workstation``: the workstation window, optionally opening a study, a scan or the demo;
or, with ``--stats STUDY``, the statistics window of a study alone.

Start-up stays light: only Qt, pyqtgraph and numpy are imported here; SimpleITK and pydicom load with the
first scan, pandas and the statistics libraries in the statistics worker, and torch/timm never at start-up.
"""

from __future__ import annotations

import argparse
import multiprocessing
import sys
from collections.abc import Sequence

from ssc_core import RESEARCH_USE_NOTICE


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ssc-workstation", description=f"SSc Scoring Workstation. {RESEARCH_USE_NOTICE}"
    )
    src = parser.add_mutually_exclusive_group()
    src.add_argument("--open", metavar="PATH", help="open a scan (DICOM folder or file, MHA, NIfTI, NRRD)")
    src.add_argument(
        "--demo",
        action="store_true",
        help="open the demo study (synthetic phantom patients; built on first use, about half a minute)",
    )
    src.add_argument("--study", metavar="FILE", help="open a study file (.sscstudy)")
    src.add_argument(
        "--stats",
        metavar="STUDY",
        help="open the statistics window of a study file (read-only): report tables and agreement plots",
    )
    study = parser.add_argument_group("reading a study (with --study or --demo)")
    study.add_argument("--reader", metavar="NAME", help="who is reading (a reader of the study)")
    study.add_argument("--session", metavar="LABEL", help="the session to read in (with --reader)")
    study.add_argument("--case", type=int, metavar="N", help="open case N of the worklist (1 = first)")
    study.add_argument("--level", metavar="L", help="start at level L (L1..L5)")
    parser.add_argument("--slice", type=int, metavar="N", help="show slice N (1 = most cranial) once loaded")
    parser.add_argument(
        "--window", choices=["lung", "mediastinum"], help="start with this window preset (default lung)"
    )
    parser.add_argument(
        "--self-test",
        action="store_true",
        help="check this installation (DICOM decoders, the demo study, the AI cascade) without a display "
        "or network, print one line per check and exit (status 1 when a check failed)",
    )
    parser.add_argument(
        "--screenshot",
        metavar="PNG",
        help="wait until the scan (or the study's case) is loaded and drawn (with --stats: the statistics "
        "computed), save the window to PNG and exit (works offscreen)",
    )
    parser.add_argument(
        "--screenshot-wait",
        choices=["load", "ai", "heatmap"],
        default="load",
        help="with --screenshot in a study: also wait for the AI's suggestions (ai) or a heat map (heatmap)",
    )
    parser.add_argument(
        "--bundle",
        metavar="FOLDER",
        help="model bundle for the AI in this run (default: the one chosen in the app, else the demo bundle)",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    multiprocessing.freeze_support()  # the AI runs in a process of its own (also in a frozen bundle)
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.self_test:
        others = [
            a
            for a in (
                "open",
                "demo",
                "study",
                "stats",
                "reader",
                "session",
                "case",
                "level",
                "slice",
                "window",
                "screenshot",
                "bundle",
            )
            if getattr(args, a) not in (None, False)
        ]
        if args.screenshot_wait != "load":
            others.append("screenshot_wait")
        if others:
            parser.error("--self-test runs alone")
        from app.self_test import run_self_test

        return run_self_test()
    if args.slice is not None and args.slice < 1:
        parser.error("--slice counts from 1 (the most cranial slice)")
    if args.stats:
        if args.slice is not None or args.window:
            parser.error("--slice and --window apply to scans, not to --stats")
        if any(a is not None for a in (args.reader, args.session, args.case, args.level)):
            parser.error("--reader, --session, --case and --level go with --study or --demo")
        return run_statistics(args.stats, screenshot=args.screenshot)
    reading_args = (args.reader, args.session, args.case, args.level)
    if any(a is not None for a in reading_args) and not (args.study or args.demo):
        parser.error("--reader, --session, --case and --level go with --study or --demo")
    if (args.reader is None) != (args.session is None):
        parser.error("give --reader and --session together")
    if args.case is not None and args.case < 1:
        parser.error("--case counts from 1 (the first case of the worklist)")
    level = None
    if args.level is not None:
        from ssc_core.constants import Level

        try:
            level = Level.parse(args.level)
        except ValueError as exc:
            parser.error(str(exc))
    if args.screenshot and args.study and args.reader is None:
        parser.error("--screenshot of a study needs --reader and --session")

    from PySide6.QtWidgets import QApplication

    from app.qt_messages import quiet_offscreen_noise
    from app.settings import APPLICATION, ORGANIZATION

    quiet_offscreen_noise()
    qapp = QApplication.instance() or QApplication(sys.argv[:1])
    qapp.setOrganizationName(ORGANIZATION)
    qapp.setApplicationName(APPLICATION)

    from app.main_window import MainWindow
    from app.screenshot import ScreenshotOnLoad
    from ssc_core.constants import DEMO_OBSERVER_SESSION, DEMO_READER_NAME, LUNG_WINDOW, MEDIASTINUM_WINDOW

    if args.screenshot_wait != "load" and not (args.study or args.demo):
        parser.error("--screenshot-wait ai/heatmap needs a study (--study or --demo)")
    probe = None
    if not args.screenshot:
        from app.startup_probe import FirstPaintProbe, probe_requested

        probe = FirstPaintProbe(qapp) if probe_requested() else None
    win = MainWindow(restore_layout=args.screenshot is None)
    if args.bundle:
        win.ai_bundle_override = args.bundle
    if args.window:
        win.controller.set_preset({"lung": LUNG_WINDOW, "mediastinum": MEDIASTINUM_WINDOW}[args.window].name)
    win.show()
    shooter = None
    slice_index = None if args.slice is None else args.slice - 1
    if args.screenshot:
        shooter = ScreenshotOnLoad(
            win,
            args.screenshot,
            expect_load=bool(args.open or args.demo or args.study),
            wait=args.screenshot_wait,
        )
    if args.open:
        win.open_path(args.open, slice_index=slice_index)
    elif args.demo:
        reader, session = args.reader, args.session
        if args.screenshot and reader is None:
            reader, session = DEMO_READER_NAME, DEMO_OBSERVER_SESSION
        win.study.open_demo(reader=reader, session=session, case=args.case, level=level)
    elif args.study:
        if args.reader is not None:
            win.study.open_study(
                args.study, reader=args.reader, session=args.session, case=args.case, level=level
            )
        else:
            win.study.open_study_dialog(args.study)
    if probe is not None:
        return qapp.exec()
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

    from app.qt_messages import quiet_offscreen_noise
    from app.settings import APPLICATION, ORGANIZATION

    quiet_offscreen_noise()
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
