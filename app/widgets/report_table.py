"""A report table on screen: :class:`ReportTableModel`, its view, and a panel with copy, CSV and PNG export.

The model shows an :class:`app.report_tables.ReportTable` as it was built in the worker: figures right-
aligned, "n.e." in grey italics with its reason as the tooltip, section headings spanning the row. The PNG
export renders the *whole* table (not only what is scrolled into view) with its title and caption, on
white, ready for a manuscript or a slide.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, QRect, Qt, Signal
from PySide6.QtGui import QAction, QColor, QFont, QGuiApplication, QImage, QKeySequence, QPainter
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMessageBox,
    QPushButton,
    QStackedWidget,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from app.report_tables import ReportTable, TableRow
from ssc_core.fileio import atomic_write

_Index = QModelIndex | QPersistentModelIndex

NOT_ESTIMABLE_COLOR = QColor("#7a7a7a")
HEADING_BACKGROUND = QColor("#e8eef5")
#: Widest a column may grow when fitted to its contents (pixels); the notes column is the one that would.
MAX_COLUMN_WIDTH = 360
#: Scale of the PNG export relative to the screen (sharper text in documents).
IMAGE_SCALE = 2.0
IMAGE_MARGIN = 16


class ReportTableModel(QAbstractTableModel):
    """Read-only model of one :class:`ReportTable`; ``None`` shows nothing."""

    def __init__(self, table: ReportTable | None = None, parent=None) -> None:
        super().__init__(parent)
        self.table: ReportTable | None = table

    def set_table(self, table: ReportTable | None) -> None:
        self.beginResetModel()
        self.table = table
        self.endResetModel()

    def row(self, r: int) -> TableRow:
        assert self.table is not None
        return self.table.rows[r]

    def heading_rows(self) -> list[int]:
        return [] if self.table is None else [i for i, r in enumerate(self.table.rows) if r.heading]

    def rowCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008 (Qt API)
        return 0 if parent.isValid() or self.table is None else len(self.table.rows)

    def columnCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() or self.table is None else len(self.table.columns)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole):
        if self.table is None or orientation != Qt.Orientation.Horizontal:
            return None
        if role == Qt.ItemDataRole.DisplayRole:
            return self.table.columns[section]
        return None

    def cell(self, r: int, c: int):
        row = self.row(r)
        return row.cells[c] if c < len(row.cells) else None

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole):
        if not index.isValid() or self.table is None:
            return None
        row = self.table.rows[index.row()]
        cell = self.cell(index.row(), index.column())
        if cell is None:
            return None
        if role == Qt.ItemDataRole.DisplayRole:
            return cell.text
        if role == Qt.ItemDataRole.ToolTipRole:
            return cell.tooltip or None
        if role == Qt.ItemDataRole.TextAlignmentRole:
            if cell.numeric and not row.heading:
                return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            return int(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
        if role == Qt.ItemDataRole.FontRole and (row.heading or cell.bold or cell.not_estimable):
            font = QFont()
            font.setBold(row.heading or cell.bold)
            font.setItalic(cell.not_estimable)
            return font
        if role == Qt.ItemDataRole.ForegroundRole and cell.not_estimable:
            return NOT_ESTIMABLE_COLOR
        if role == Qt.ItemDataRole.BackgroundRole and row.heading:
            return HEADING_BACKGROUND
        return None


class ReportTableView(QTableView):
    """Table view with spanning section headings, fitted columns and Ctrl+C copying of the selection."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectItems)
        self.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setWordWrap(False)
        self.setAlternatingRowColors(False)
        self.verticalHeader().hide()
        self.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header = self.horizontalHeader()
        header.setDefaultAlignment(Qt.AlignmentFlag.AlignCenter | Qt.AlignmentFlag.AlignVCenter)
        self._stretch = True
        copy = QAction("Copy", self)
        copy.setShortcut(QKeySequence.StandardKey.Copy)
        copy.setShortcutContext(Qt.ShortcutContext.WidgetShortcut)
        copy.triggered.connect(self.copy_selection)
        self.addAction(copy)

    def setModel(self, model) -> None:
        super().setModel(model)
        model.modelReset.connect(self.refit)
        self.refit()

    def refit(self) -> None:
        """Re-apply heading spans and fit the columns to their contents."""
        model = self.model()
        if not isinstance(model, ReportTableModel):
            return
        self.clearSpans()
        n_cols = model.columnCount()
        # Only a notes column takes the spare width; a last column of figures would drift off to the right.
        table = model.table
        self.horizontalHeader().setStretchLastSection(
            bool(self._stretch and table is not None and table.columns and table.columns[-1] == "Notes")
        )
        for r in model.heading_rows():
            if n_cols > 1:
                self.setSpan(r, 0, 1, n_cols)
        self.resizeColumnsToContents()
        for c in range(n_cols):
            if self.columnWidth(c) > MAX_COLUMN_WIDTH:
                self.setColumnWidth(c, MAX_COLUMN_WIDTH)
        # The first column holds headings too, which span: fit it to the comparison names only.
        if model.rowCount() and n_cols > 1:
            metrics = self.fontMetrics()
            names = [model.cell(r, 0) for r in range(model.rowCount()) if not model.row(r).heading]
            width = max([metrics.horizontalAdvance(c.text) for c in names if c is not None] + [60])
            self.setColumnWidth(0, min(MAX_COLUMN_WIDTH, width + 24))

    def selected_text(self) -> str:
        """The selected cells (or the whole table when nothing is selected) as tab-separated text."""
        model = self.model()
        if not isinstance(model, ReportTableModel) or model.table is None:
            return ""
        rows = model.table.text_rows()
        indexes = self.selectionModel().selectedIndexes() if self.selectionModel() else []
        if not indexes:
            return _tsv(rows)
        r0 = min(i.row() for i in indexes)
        r1 = max(i.row() for i in indexes)
        cols = sorted({i.column() for i in indexes})
        out = [[rows[0][c] for c in cols]]
        out += [[rows[r + 1][c] for c in cols] for r in range(r0, r1 + 1)]
        return _tsv(out)

    def copy_selection(self) -> None:
        QGuiApplication.clipboard().setText(self.selected_text())


def _tsv(rows: list[list[str]]) -> str:
    return "\n".join("\t".join(c.replace("\t", " ").replace("\n", " ") for c in r) for r in rows) + "\n"


def write_table_csv(table: ReportTable, path: str | Path) -> Path:
    """The table as shown (formatted figures, headings, notes), as UTF-8 CSV, written atomically."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow([table.title])
    writer.writerows(table.text_rows())
    if table.caption:
        writer.writerow([])
        writer.writerow([table.caption])
    target = Path(path)
    with atomic_write(target) as tmp:
        tmp.write_bytes(("\ufeff" + buf.getvalue()).encode("utf-8"))
    return target


def table_image(table: ReportTable, *, width_hint: int = 0) -> QImage:
    """The whole table with its title and caption, rendered on white at :data:`IMAGE_SCALE`."""
    view = ReportTableView()
    view.setAttribute(Qt.WidgetAttribute.WA_DontShowOnScreen)
    view.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
    view.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
    view.setStyleSheet("QTableView { background: white; gridline-color: #c8c8c8; }")
    model = ReportTableModel(table)
    view._stretch = False
    view.setModel(model)
    view.setWordWrap(True)  # long notes wrap in the picture instead of being cut off
    view.show()
    view.refit()
    view.resizeRowsToContents()
    header = view.horizontalHeader()
    w = header.length() + 2 * view.frameWidth()
    h = header.height() + view.verticalHeader().length() + 2 * view.frameWidth()
    view.resize(w, h)
    table_pixmap = view.grab()
    view.hide()
    view.deleteLater()

    font = QFont()
    title_font = QFont(font)
    title_font.setBold(True)
    title_font.setPointSizeF(font.pointSizeF() * 1.15)
    text_width = max(w, width_hint, 400)
    probe = QImage(1, 1, QImage.Format.Format_ARGB32)
    painter = QPainter(probe)
    painter.setFont(title_font)
    title_rect = painter.boundingRect(QRect(0, 0, text_width, 1000), Qt.TextFlag.TextWordWrap, table.title)
    painter.setFont(font)
    flags = int(Qt.TextFlag.TextWordWrap)
    caption_rect = (
        painter.boundingRect(QRect(0, 0, text_width, 2000), flags, table.caption)
        if table.caption
        else QRect()
    )
    painter.end()
    m = IMAGE_MARGIN
    total_w = text_width + 2 * m
    total_h = (
        m + title_rect.height() + m // 2 + h + (m // 2 + caption_rect.height() if table.caption else 0) + m
    )
    image = QImage(int(total_w * IMAGE_SCALE), int(total_h * IMAGE_SCALE), QImage.Format.Format_RGB32)
    image.fill(QColor("white"))
    painter = QPainter(image)
    painter.scale(IMAGE_SCALE, IMAGE_SCALE)
    painter.setRenderHint(QPainter.RenderHint.TextAntialiasing)
    painter.setPen(QColor("black"))
    painter.setFont(title_font)
    y = m
    painter.drawText(QRect(m, y, text_width, title_rect.height()), Qt.TextFlag.TextWordWrap, table.title)
    y += title_rect.height() + m // 2
    painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
    painter.drawPixmap(m, y, table_pixmap)
    y += h + m // 2
    if table.caption:
        painter.setFont(font)
        painter.setPen(QColor("#404040"))
        painter.drawText(QRect(m, y, text_width, caption_rect.height()), flags, table.caption)
    painter.end()
    return image


def save_table_png(table: ReportTable, path: str | Path) -> Path:
    target = Path(path)
    image = table_image(table)
    with atomic_write(target, suffix=".png") as tmp:
        if not image.save(str(tmp), "PNG"):
            raise OSError(f"could not write {target.name}")
    return target


class ReportPanel(QWidget):
    """One report: title, caption, the table (or why it is empty), and Copy / Save CSV / Save PNG.

    ``rowActivated(TableRow, pattern)`` follows the selection (pattern of the selected column, or None),
    so the agreement plots can show the comparison a user points at.
    """

    rowActivated = Signal(object, object)

    def __init__(self, parent=None, *, name: str = "") -> None:
        super().__init__(parent)
        self.setObjectName(name or "reportPanel")
        self.model = ReportTableModel(parent=self)
        self.view = ReportTableView(self)
        self.view.setObjectName(f"{self.objectName()}View")
        self.view.setModel(self.model)
        self.caption = QLabel(self)
        self.caption.setWordWrap(True)
        self.caption.setStyleSheet("color: #505050;")
        self.caption.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.empty_label = QLabel(self)
        self.empty_label.setObjectName(f"{self.objectName()}Empty")
        self.empty_label.setWordWrap(True)
        self.empty_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty_label.setStyleSheet("color: #606060; font-size: 11pt; padding: 24px;")
        self.stack = QStackedWidget(self)
        self.stack.addWidget(self.view)
        self.stack.addWidget(self.empty_label)
        self.copy_button = QPushButton("Copy", self)
        self.copy_button.setToolTip("Copy the selected cells (or the whole table) for a spreadsheet (Ctrl+C)")
        self.copy_button.clicked.connect(self.view.copy_selection)
        self.csv_button = QPushButton("Save CSV…", self)
        self.csv_button.setToolTip("Save the table as shown, with its notes, as a CSV file")
        self.csv_button.clicked.connect(self.choose_csv)
        self.png_button = QPushButton("Save PNG…", self)
        self.png_button.setToolTip("Save the whole table with its title and caption as an image")
        self.png_button.clicked.connect(self.choose_png)
        self.extra = QHBoxLayout()
        self.extra.setContentsMargins(0, 0, 0, 0)
        buttons = QHBoxLayout()
        buttons.setContentsMargins(0, 0, 0, 0)
        buttons.addLayout(self.extra)
        buttons.addStretch(1)
        for b in (self.copy_button, self.csv_button, self.png_button):
            buttons.addWidget(b)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(buttons)
        layout.addWidget(self.stack, 1)
        layout.addWidget(self.caption)
        self.view.selectionModel().currentChanged.connect(self._current_changed)
        self.set_table(None)

    @property
    def table(self) -> ReportTable | None:
        return self.model.table

    def set_table(self, table: ReportTable | None, empty_message: str = "") -> None:
        self.model.set_table(table)
        has_rows = table is not None and not table.empty
        self.stack.setCurrentWidget(self.view if has_rows else self.empty_label)
        self.empty_label.setText(empty_message or (table.empty_message if table is not None else ""))
        self.caption.setText(table.caption if table is not None and has_rows else "")
        self.caption.setVisible(has_rows)
        for b in (self.copy_button, self.csv_button, self.png_button):
            b.setEnabled(has_rows)

    def _current_changed(self, current: QModelIndex, _previous: QModelIndex) -> None:
        table = self.model.table
        if table is None or not current.isValid():
            return
        row = table.rows[current.row()]
        if row.heading or row.pair is None:
            return
        pats = table.column_patterns
        pattern = pats[current.column()] if current.column() < len(pats) else None
        self.rowActivated.emit(row, pattern)

    def _file_stem(self) -> str:
        return self.table.key if self.table is not None else "table"

    def choose_csv(self) -> None:
        path, _ = QFileDialog.getSaveFileName(
            self, "Save table as CSV", f"{self._file_stem()}.csv", "CSV (*.csv)"
        )
        if path:
            self._save(lambda: write_table_csv(self.table, path))  # type: ignore[arg-type]

    def choose_png(self) -> None:
        path, _ = QFileDialog.getSaveFileName(
            self, "Save table as PNG", f"{self._file_stem()}.png", "PNG (*.png)"
        )
        if path:
            self._save(lambda: save_table_png(self.table, path))  # type: ignore[arg-type]

    def _save(self, write) -> None:
        try:
            write()
        except OSError as exc:
            show_warning(self, "Not saved", f"The file could not be written: {exc.strerror or exc}.")


def show_warning(parent: QWidget, title: str, text: str, informative: str = "") -> QMessageBox:
    """A window-modal warning that does not block the event loop (``open()``, never ``exec()``)."""
    box = QMessageBox(QMessageBox.Icon.Warning, title, text, QMessageBox.StandardButton.Ok, parent)
    box.setTextFormat(Qt.TextFormat.PlainText)
    if informative:
        box.setInformativeText(informative)
    box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    box.open()
    return box
