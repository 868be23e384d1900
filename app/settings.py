"""The workstation's persistent preferences (a thin wrapper over ``QSettings``).

Stored: keyboard shortcuts (only those the user changed), the custom HU window, the last folder opened,
the window's geometry and dock layout, recent study files and the last reader of each study. Tests point
``QSettings`` at a temporary INI file.
"""

from __future__ import annotations

from PySide6.QtCore import QByteArray, QSettings
from PySide6.QtGui import QKeySequence

from app.shortcuts import SHORTCUT_SPECS, SHORTCUTS, format_keys, parse_keys
from ssc_core.constants import CUSTOM_WINDOW_NAME, LUNG_WINDOW, HUWindow

ORGANIZATION = "SSc Workstation"
APPLICATION = "ssc-workstation"
#: Study files remembered in File > Open study.
RECENT_STUDIES = 8


class Settings:
    """Typed access to the preferences. ``qsettings`` defaults to the user's native store."""

    def __init__(self, qsettings: QSettings | None = None) -> None:
        self._qs = qsettings if qsettings is not None else QSettings(ORGANIZATION, APPLICATION)

    @property
    def qsettings(self) -> QSettings:
        return self._qs

    def sync(self) -> None:
        self._qs.sync()

    # --- shortcuts -------------------------------------------------------------------------------------

    def shortcut(self, action: str) -> list[QKeySequence]:
        """The key sequences of ``action`` (the user's, else the default)."""
        spec = SHORTCUT_SPECS[action]
        stored = self._qs.value(f"shortcuts/{action}")
        return parse_keys(str(stored) if stored is not None else spec.default)

    def shortcuts(self) -> dict[str, list[QKeySequence]]:
        return {spec.action: self.shortcut(spec.action) for spec in SHORTCUTS}

    def set_shortcut(self, action: str, seqs: list[QKeySequence]) -> None:
        """Store ``seqs`` for ``action``; storing the default removes the override."""
        spec = SHORTCUT_SPECS[action]
        text = format_keys(seqs)
        if text == format_keys(parse_keys(spec.default)):
            self._qs.remove(f"shortcuts/{action}")
        else:
            self._qs.setValue(f"shortcuts/{action}", text)

    def reset_shortcuts(self) -> None:
        self._qs.remove("shortcuts")

    # --- display -----------------------------------------------------------------------------------------

    def custom_window(self) -> HUWindow:
        """The reader's last custom window; the lung window's values until one was set."""
        try:
            width = float(self._qs.value("window/custom_width", LUNG_WINDOW.width))
            level = float(self._qs.value("window/custom_level", LUNG_WINDOW.level))
        except (TypeError, ValueError):
            width, level = LUNG_WINDOW.width, LUNG_WINDOW.level
        return HUWindow(CUSTOM_WINDOW_NAME, width, level)

    def set_custom_window(self, window: HUWindow) -> None:
        self._qs.setValue("window/custom_width", float(window.width))
        self._qs.setValue("window/custom_level", float(window.level))

    # --- files and layout ------------------------------------------------------------------------------

    def last_directory(self) -> str:
        return str(self._qs.value("files/last_directory", ""))

    def set_last_directory(self, path: str) -> None:
        self._qs.setValue("files/last_directory", path)

    def window_state(self) -> tuple[QByteArray | None, QByteArray | None]:
        """Saved (geometry, dock state) of the main window, or None each."""
        geom = self._qs.value("layout/geometry")
        state = self._qs.value("layout/state")
        return (
            geom if isinstance(geom, QByteArray) else None,
            state if isinstance(state, QByteArray) else None,
        )

    def set_window_state(self, geometry: QByteArray, state: QByteArray) -> None:
        self._qs.setValue("layout/geometry", geometry)
        self._qs.setValue("layout/state", state)

    # --- studies -----------------------------------------------------------------------------------------

    def recent_studies(self) -> list[str]:
        """Study files opened before, most recent first (only those that still exist)."""
        from pathlib import Path

        value = self._qs.value("studies/recent", [])
        items = [value] if isinstance(value, str) else list(value or [])
        return [str(p) for p in items if p and Path(str(p)).is_file()]

    def add_recent_study(self, path: str) -> None:
        from pathlib import Path

        text = str(Path(path).resolve())
        items = [text] + [p for p in self.recent_studies() if p != text]
        self._qs.setValue("studies/recent", items[:RECENT_STUDIES])

    def last_reader(self, study_uid: str) -> str:
        """The reader who last worked in the study with this uid (pre-selected next time)."""
        return str(self._qs.value(f"studies/reader/{study_uid}", ""))

    def set_last_reader(self, study_uid: str, name: str) -> None:
        self._qs.setValue(f"studies/reader/{study_uid}", name)

    # --- AI ----------------------------------------------------------------------------------------------

    def ai_bundle_path(self) -> str | None:
        """The model bundle folder chosen with "Load model bundle…" (None: the demo bundle)."""
        value = str(self._qs.value("ai/bundle", "") or "")
        return value or None

    def set_ai_bundle_path(self, path: str | None) -> None:
        self._qs.setValue("ai/bundle", path or "")

    def ai_auto_run(self) -> bool:
        """Run the AI by itself when a case opens (where the session shows it); default on."""
        value = self._qs.value("ai/auto_run", True)
        return value in (True, "true", "1", 1)

    def set_ai_auto_run(self, on: bool) -> None:
        self._qs.setValue("ai/auto_run", bool(on))
