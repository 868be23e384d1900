"""Keyboard shortcuts: the table of actions, robust key matching and the window's key dispatcher.

Every shortcut of the main window goes through :class:`ShortcutDispatcher`, an event filter, instead of
``QShortcut``: Qt matches a shortcut by the key *character*, and on most keyboard layouts Shift+1 produces
"!" (US), "!" (DE) or "+" (CH), so a ``QShortcut("Shift+1")`` never fires there. The dispatcher matches
by the character first and then by the digit key under the Shift modifier (known shifted symbols of
common layouts and, where the platform reports it, the physical key of the number row).

The dispatcher stands aside while a text field, spin box or key-sequence editor has the focus, so typing
a score "15" into a later score panel never jumps to level 1 and 5.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass

from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtGui import QKeyEvent, QKeySequence
from PySide6.QtWidgets import (
    QAbstractSpinBox,
    QApplication,
    QComboBox,
    QKeySequenceEdit,
    QLineEdit,
    QPlainTextEdit,
    QTextEdit,
    QWidget,
)


@dataclass(frozen=True)
class ShortcutSpec:
    """One configurable action: its id, default keys (";"-separated), description and help group."""

    action: str
    default: str
    description: str
    group: str


def _level_specs() -> tuple[ShortcutSpec, ...]:
    jump = tuple(ShortcutSpec(f"level.jump.{k}", str(k), f"Go to level L{k}", "Levels") for k in range(1, 6))
    place = tuple(
        ShortcutSpec(f"level.set.{k}", f"Shift+{k}", f"Set L{k} at the current slice", "Levels")
        for k in range(1, 6)
    )
    return jump + place


#: Every configurable shortcut of the main window, in help order.
SHORTCUTS: tuple[ShortcutSpec, ...] = (
    ShortcutSpec("slice.prev", "Up;Left", "Previous slice (cranial)", "Navigation"),
    ShortcutSpec("slice.next", "Down;Right", "Next slice (caudal)", "Navigation"),
    ShortcutSpec("slice.page_up", "PgUp", "Ten slices cranial", "Navigation"),
    ShortcutSpec("slice.page_down", "PgDown", "Ten slices caudal", "Navigation"),
    ShortcutSpec("slice.first", "Home", "First (most cranial) slice", "Navigation"),
    ShortcutSpec("slice.last", "End", "Last (most caudal) slice", "Navigation"),
    ShortcutSpec("view.zoom_in", "Ctrl++;Ctrl+=;+", "Zoom in", "View"),
    ShortcutSpec("view.zoom_out", "Ctrl+-;-", "Zoom out", "View"),
    ShortcutSpec("view.reset", "Ctrl+0;R", "Reset zoom and pan", "View"),
    ShortcutSpec("window.lung", "F2", "Lung window (W 1500 / L -600)", "View"),
    ShortcutSpec("window.mediastinum", "F3", "Mediastinum window (W 350 / L 40)", "View"),
    ShortcutSpec("window.custom", "F4", "Custom window (last one you set)", "View"),
    *_level_specs(),
    ShortcutSpec("level.confirm_l4", "C", "Confirm the proposed L4 (midpoint of L3 and L5)", "Levels"),
    ShortcutSpec("level.clear", "Delete;Backspace", "Remove the selected level", "Levels"),
    ShortcutSpec("study.score", "Return;Enter", "Type the scores of the current level", "Reading"),
    ShortcutSpec("study.submit", "Ctrl+Return;Ctrl+Enter", "Submit the case (asks first)", "Reading"),
    ShortcutSpec("study.next_case", "Ctrl+PgDown", "Next case on the worklist", "Reading"),
    ShortcutSpec("study.prev_case", "Ctrl+PgUp", "Previous case on the worklist", "Reading"),
    ShortcutSpec("heatmap.toggle", "H", "Heat map: tap to show or hide, hold to hide while held", "Reading"),
    ShortcutSpec("file.open", "Ctrl+O", "Open a scan file", "File"),
    ShortcutSpec("file.open_folder", "Ctrl+Shift+O", "Open a DICOM folder", "File"),
    ShortcutSpec("load.cancel", "Esc", "Cancel loading", "File"),
    ShortcutSpec("help.shortcuts", "F1", "This list of shortcuts", "Help"),
    ShortcutSpec("app.quit", "Ctrl+Q", "Quit", "File"),
)

SHORTCUT_SPECS: dict[str, ShortcutSpec] = {s.action: s for s in SHORTCUTS}

_MODIFIER_MASK = (
    Qt.KeyboardModifier.ShiftModifier
    | Qt.KeyboardModifier.ControlModifier
    | Qt.KeyboardModifier.AltModifier
    | Qt.KeyboardModifier.MetaModifier
)
_SHIFT = Qt.KeyboardModifier.ShiftModifier.value

#: Symbols that Shift + a digit key of the number row produce on common layouts (US/UK/DE/CH/FR-CA/ES/IT/
#: Nordic), mapped to the digit. "+" is Shift+1 on Swiss German; "§" Shift+3 on German; "£" on UK.
_SHIFTED_DIGITS: dict[int, int] = {
    int(Qt.Key.Key_Exclam): 1,
    int(Qt.Key.Key_Plus): 1,
    int(Qt.Key.Key_At): 2,
    int(Qt.Key.Key_QuoteDbl): 2,
    int(Qt.Key.Key_NumberSign): 3,
    int(Qt.Key.Key_section): 3,
    int(Qt.Key.Key_sterling): 3,
    int(Qt.Key.Key_periodcentered): 3,
    int(Qt.Key.Key_Asterisk): 3,
    int(Qt.Key.Key_Dollar): 4,
    int(Qt.Key.Key_currency): 4,
    int(Qt.Key.Key_cent): 4,
    int(Qt.Key.Key_Ccedilla): 4,
    int(Qt.Key.Key_Percent): 5,
}

# Physical keys 1..5 of the number row: X11/Wayland evdev scan codes, Windows set-1 scan codes,
# macOS virtual key codes (kVK_ANSI_1..5). Used when the layout turns Shift+digit into anything else.
_X11_DIGIT_SCANCODES = {10: 1, 11: 2, 12: 3, 13: 4, 14: 5}
_WIN_DIGIT_SCANCODES = {2: 1, 3: 2, 4: 3, 5: 4, 6: 5}
_MAC_DIGIT_VKEYS = {18: 1, 19: 2, 20: 3, 21: 4, 23: 5}


Chord = tuple[int, int]  # (Qt key, modifier bits)


def parse_keys(text: str) -> list[QKeySequence]:
    """Key sequences from the stored form ("Up;Left"); empty parts are skipped."""
    out = []
    for part in text.split(";"):
        part = part.strip()
        if part:
            seq = QKeySequence(part)
            if not seq.isEmpty():
                out.append(seq)
    return out


def format_keys(seqs: list[QKeySequence], *, native: bool = False) -> str:
    """The stored (portable) or displayed (native) text of a list of key sequences."""
    fmt = QKeySequence.SequenceFormat.NativeText if native else QKeySequence.SequenceFormat.PortableText
    sep = ", " if native else ";"
    return sep.join(s.toString(fmt) for s in seqs)


def sequence_chord(seq: QKeySequence) -> Chord | None:
    """The first key combination of a sequence as (key, modifiers); None for an empty sequence."""
    if seq.isEmpty():
        return None
    combo = seq[0]
    mods = combo.keyboardModifiers() & _MODIFIER_MASK
    return int(combo.key()), mods.value


def _physical_digit(event: QKeyEvent) -> int | None:
    scan = event.nativeScanCode()
    if sys.platform == "darwin":
        return _MAC_DIGIT_VKEYS.get(event.nativeVirtualKey())
    if sys.platform.startswith("win"):
        return _WIN_DIGIT_SCANCODES.get(scan)
    return _X11_DIGIT_SCANCODES.get(scan)


def event_chords(event: QKeyEvent) -> list[Chord]:
    """Candidate (key, modifiers) readings of a key event, most literal first.

    1. the event as Qt reports it;
    2. with Shift held: the digit under a known shifted symbol ("!" -> Shift+1), then the physical digit
       key of the number row;
    3. with Shift held on a non-letter symbol key: the same key without Shift ("+" typed as Shift+= on US).
    """
    key = int(event.key())
    mods = (event.modifiers() & _MODIFIER_MASK).value
    chords: list[Chord] = [(key, mods)]
    if mods & _SHIFT:
        digit = _SHIFTED_DIGITS.get(key)
        if digit is None and not (int(Qt.Key.Key_1) <= key <= int(Qt.Key.Key_9)):
            digit = _physical_digit(event)
        if digit is not None:
            chords.append((int(Qt.Key.Key_0) + digit, mods))
        is_letter = int(Qt.Key.Key_A) <= key <= int(Qt.Key.Key_Z)
        if key < 0x01000000 and not is_letter:  # printable, not a function/navigation key
            chords.append((key, mods & ~_SHIFT))
    return chords


def _is_text_entry(widget: QWidget | None) -> bool:
    if widget is None:
        return False
    if isinstance(widget, QComboBox):
        return widget.isEditable()
    return isinstance(widget, (QLineEdit, QAbstractSpinBox, QTextEdit, QPlainTextEdit, QKeySequenceEdit))


class ShortcutDispatcher(QObject):
    """Routes key presses inside one window to action callbacks, by the configured key sequences.

    Install with :meth:`install`; bindings come from :class:`app.settings.Settings`.
    """

    def __init__(self, window: QWidget) -> None:
        super().__init__(window)
        self._window = window
        self._bindings: dict[Chord, str] = {}
        self._handlers: dict[str, Callable[[], None]] = {}
        #: Called when the key of an action is released (hold-to-hide keys); see set_release_handler.
        self._release_handlers: dict[str, Callable[[], None]] = {}
        #: Actions that may fire on auto-repeat (holding a key scrolls).
        self.repeatable: set[str] = set()
        self.enabled = True
        #: Keys of a mode (heat-map rating: 1-5 rate), matched before the configured bindings.
        self._mode_keys: dict[Chord, Callable[[], None]] = {}

    def set_mode_keys(self, keys: dict[Chord, Callable[[], None]]) -> None:
        """Keys that take precedence while a mode is active (empty dict: no mode)."""
        self._mode_keys = dict(keys)

    def install(self) -> None:
        QApplication.instance().installEventFilter(self)

    def uninstall(self) -> None:
        app = QApplication.instance()
        if app is not None:
            app.removeEventFilter(self)

    def set_handler(self, action: str, handler: Callable[[], None]) -> None:
        self._handlers[action] = handler

    def set_release_handler(self, action: str, handler: Callable[[], None] | None) -> None:
        """Also call ``handler`` when the key of ``action`` is released (None: no longer)."""
        if handler is None:
            self._release_handlers.pop(action, None)
        else:
            self._release_handlers[action] = handler

    def set_bindings(self, bindings: dict[str, list[QKeySequence]]) -> None:
        """Replace the key bindings (action -> key sequences). A chord bound twice keeps the first."""
        self._bindings = {}
        for action, seqs in bindings.items():
            for seq in seqs:
                chord = sequence_chord(seq)
                if chord is not None and chord not in self._bindings:
                    self._bindings[chord] = action

    def action_for(self, event: QKeyEvent) -> str | None:
        """The action a key event triggers, or None."""
        for chord in event_chords(event):
            action = self._bindings.get(chord)
            if action is not None:
                return action
        return None

    def _mode_handler(self, event: QKeyEvent) -> Callable[[], None] | None:
        if not self._mode_keys:
            return None
        key = int(event.key())
        mods = (event.modifiers() & _MODIFIER_MASK).value
        return self._mode_keys.get((key, mods))

    def trigger(self, action: str) -> bool:
        handler = self._handlers.get(action)
        if handler is None:
            return False
        handler()
        return True

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:
        etype = event.type()
        if etype == QEvent.Type.KeyRelease and self._release_handlers and self.enabled:
            return self._on_release(obj, event)  # type: ignore[arg-type]
        if etype not in (QEvent.Type.KeyPress, QEvent.Type.ShortcutOverride) or not self.enabled:
            return False
        if not isinstance(obj, QWidget) or obj.window() is not self._window:
            return False
        focus = QApplication.focusWidget()
        if _is_text_entry(focus) or _is_text_entry(obj):
            return False
        mode = self._mode_handler(event)  # type: ignore[arg-type]
        if mode is not None:
            event.accept()
            if etype == QEvent.Type.KeyPress and not event.isAutoRepeat():  # type: ignore[attr-defined]
                mode()
            return True
        action = self.action_for(event)  # type: ignore[arg-type]
        if action is None or action not in self._handlers:
            return False
        if etype == QEvent.Type.ShortcutOverride:
            # Claim the key so that no QShortcut/QAction elsewhere takes it; the KeyPress follows.
            event.accept()
            return True
        if event.isAutoRepeat() and action not in self.repeatable:  # type: ignore[attr-defined]
            return True
        self.trigger(action)
        return True

    def _on_release(self, obj: QObject, event: QKeyEvent) -> bool:
        if event.isAutoRepeat() or not isinstance(obj, QWidget) or obj.window() is not self._window:
            return False
        if _is_text_entry(QApplication.focusWidget()) or _is_text_entry(obj):
            return False
        action = self.action_for(event)
        handler = None if action is None else self._release_handlers.get(action)
        if handler is None:
            return False
        handler()
        return True
