"""How the AI's output looks wherever it is shown, so that it is never mistaken for the reader's own values.

One colour (violet: none of the level lines, rule colours or the CT's grey use it), italic text, a light
violet background in tables, dashed lines on images, and the word "AI" in every label and header.
"""

from __future__ import annotations

from PySide6.QtGui import QColor, QFont

#: Lines and text drawn over the CT (dark background).
AI_LINE_COLOR = QColor(200, 130, 255)
#: Text on light backgrounds (tables, panels).
AI_TEXT_COLOR = QColor(112, 48, 160)
#: Background of AI cells in tables.
AI_BACKGROUND = QColor(243, 235, 252)
#: Short label put beside every AI value.
AI_LABEL = "AI"


def ai_font(base: QFont | None = None, *, bold: bool = False) -> QFont:
    """Italic (and optionally bold) version of ``base``: AI values are always italic."""
    font = QFont(base) if base is not None else QFont()
    font.setItalic(True)
    font.setBold(bold)
    return font


def ai_css() -> str:
    """Style sheet fragment for labels showing AI values."""
    return f"color: {AI_TEXT_COLOR.name()}; font-style: italic;"
