"""Run by test_ai_keeps_torch_out_of_the_window: reads a case with the AI and reports whether the window's
process loaded torch (it must not: the AI process does). Usage: script STUDY SESSION BUNDLE."""

from __future__ import annotations

import os
import sys
import time

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


def main() -> int:
    study, session, bundle, settings_path = sys.argv[1:5]
    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QApplication

    from app.main_window import MainWindow
    from app.settings import Settings
    from ssc_core.constants import DEMO_READER_NAME

    app = QApplication([])
    settings = Settings(QSettings(settings_path, QSettings.Format.IniFormat))
    settings.set_ai_bundle_path(bundle)
    settings.set_ai_auto_run(True)
    win = MainWindow(settings, restore_layout=False)
    win.show()
    assert win.study.open_study(study, reader=DEMO_READER_NAME, session=session)
    ws = win.study.workspace
    t0 = time.monotonic()
    while time.monotonic() - t0 < 120:
        app.processEvents()
        svc = ws.ai.controller.service
        if ws.reading.ai_view() is not None and svc is not None and not svc.busy:
            break
        time.sleep(0.01)
    shown = ws.reading.ai_view() is not None and bool(win.controller.suggested_levels)
    print(f"shown={shown} torch={'torch' in sys.modules} timm={'timm' in sys.modules}")
    win.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
