"""Entry point ``ssc-workstation`` (placeholder until the viewer lands)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ssc-workstation", description="SSc Scoring Workstation")
    parser.add_argument("--open", metavar="PATH", help="open a scan (DICOM folder or file, MHA, NIfTI, NRRD)")
    parser.add_argument("--demo", action="store_true", help="open the demo study")
    parser.add_argument("--study", metavar="FILE", help="open a study file")
    parser.add_argument("--screenshot", metavar="PNG", help="save the window once drawn, then exit")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    parser.parse_args(argv)
    from PySide6.QtWidgets import QApplication, QMainWindow

    qapp = QApplication.instance() or QApplication(sys.argv[:1])
    win = QMainWindow()
    win.setWindowTitle("SSc Scoring Workstation")
    win.show()
    return qapp.exec()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
