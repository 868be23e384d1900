"""Render the viewer with levels being marked on a demo phantom (docs/images/viewer-levels.png).

Usage::

    QT_QPA_PLATFORM=offscreen python docs/scripts/make_viewer_levels_screenshot.py [--out docs/images]

The plain screenshots come from ``ssc-workstation ... --screenshot``; this one needs levels placed, which
the command line does not do. It opens the demo cohort (generating it on first use, as ``--demo`` does),
places L1, L3 and L5 on the phantom's true slices and L2 below L3 on purpose, so that the picture shows
an order violation next to the L4 proposal.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "images")
    args = parser.parse_args(argv)

    from PySide6.QtWidgets import QApplication

    from app.demo import demo_patients, demo_root, first_patient, generate_demo
    from app.main_window import MainWindow, isolated_settings
    from ssc_core.constants import Level

    app = QApplication.instance() or QApplication([])
    root = demo_root()
    patients = demo_patients(root) or generate_demo(root)
    patient = first_patient(patients)
    record = next(
        r
        for r in json.loads((root / "cohort.json").read_text())["patients"]
        if r["PatID"] == patient.pseudonym
    )
    truth = {Level.parse(name): v["slice"] for name, v in record["levels"].items()}

    settings = isolated_settings(str(args.out / ".viewer-levels-settings.ini"))
    win = MainWindow(settings, restore_layout=False)
    win.show()
    c = win.controller
    done: list[object] = []
    c.volumeChanged.connect(done.append)
    c.loadFailed.connect(done.append)
    win.open_path(patient.path)
    while not done:
        app.processEvents()
    if isinstance(done[0], BaseException):
        raise done[0]
    for level in (Level.L1, Level.L3, Level.L5):
        c.place_level(level, truth[level])
    c.place_level(Level.L2, truth[Level.L3] + 3)  # a deliberate order violation, to show how it looks
    c.jump_to_level(Level.L3)
    win.flush()
    app.processEvents()
    args.out.mkdir(parents=True, exist_ok=True)
    out = args.out / "viewer-levels.png"
    win.grab().save(str(out))
    win.close()
    (args.out / ".viewer-levels-settings.ini").unlink(missing_ok=True)
    print(f"written {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
