"""Render the viewer with levels being marked on a demo phantom (docs/images/viewer-levels.png).

Usage::

    QT_QPA_PLATFORM=offscreen python docs/scripts/make_viewer_levels_screenshot.py [--out docs/images]

The plain screenshots come from ``ssc-workstation ... --screenshot``; this one needs levels placed, which
the command line does not do. It opens the scan of the demo study's patient with the most disease in the
plain viewer (building the demo study on first use, as ``--demo`` does), places L1, L3 and L5 on the
phantom's true slices and L2 below L3 on purpose, so that the picture shows an order violation next to the
L4 proposal.
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

    from app.main_window import MainWindow, isolated_settings
    from app.study_actions import demo_root
    from ssc_core.constants import Level
    from ssc_core.study.demo import ensure_demo_study

    app = QApplication.instance() or QApplication([])
    demo = ensure_demo_study(demo_root())
    records = json.loads((demo.scans_dir / "cohort.json").read_text())["patients"]

    def extent(r: dict) -> float:
        return sum(v["scores"]["TOT"] for v in r["levels"].values()) / len(r["levels"])

    record = max(records, key=extent)
    truth = {Level.parse(name): v["slice"] for name, v in record["levels"].items()}

    settings = isolated_settings(str(args.out / ".viewer-levels-settings.ini"))
    win = MainWindow(settings, restore_layout=False)
    win.show()
    c = win.controller
    done: list[object] = []
    c.volumeChanged.connect(done.append)
    c.loadFailed.connect(done.append)
    win.open_path(demo.scans_dir / record["path"])
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
