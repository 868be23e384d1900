"""The statistics window on real study files: figures equal the core's, plots, exports, states, threads."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QEventLoop, Qt, QTimer
from PySide6.QtGui import QGuiApplication, QImage

from app.widgets import statistics_window as sw
from app.widgets.agreement_plots import POSITIONS, SCORES
from app.widgets.report_table import save_table_png, write_table_csv
from ssc_core.analysis.agreement import bland_altman, compare
from ssc_core.analysis.from_store import study_tables
from ssc_core.analysis.render import fmt, fmt_ci, fmt_sd
from ssc_core.analysis.reports import compute_reports, study_ratings
from ssc_core.analysis.results import NOT_ESTIMABLE
from ssc_core.study.store import open_study
from tests.app.stats_study import build_study, empty_study, random_truth

pytestmark = pytest.mark.gui

ROOT = Path(__file__).resolve().parents[2]
N_CASES = 8
A_GT = ("Reader A (S1)", "Consensus (GT)")


@pytest.fixture(scope="module")
def study(tmp_path_factory) -> Path:
    """Consensus GT, Reader A (noise SD 3) and B (SD 6; last case unfinished) in S1, an AI, B's heat maps."""
    path = tmp_path_factory.mktemp("stats") / "study.sscstudy"
    build_study(path, random_truth(N_CASES, seed=3), likert_reader="Reader B", unfinished=1)
    return path


@pytest.fixture(scope="module")
def core(study):
    """The reports computed directly by ssc_core (what the window must show)."""
    with open_study(study, readonly=True) as store:
        tables = study_tables(store)
    return tables, compute_reports(tables)


def open_window(qtbot, path: Path) -> sw.StatisticsWindow:
    win = sw.StatisticsWindow(path)
    qtbot.addWidget(win)
    win.show()
    qtbot.waitUntil(lambda: win.state not in ("idle", "computing"), timeout=60_000)
    return win


@pytest.fixture(scope="module")
def shared_window(qapp, study):
    """One computed window for the tests that only look (computing takes a few seconds)."""
    win = sw.StatisticsWindow(study)
    win.show()
    loop = QEventLoop()
    win.computed.connect(loop.quit)
    win.failed.connect(loop.quit)
    QTimer.singleShot(60_000, loop.quit)
    if win.state == "computing":
        loop.exec()
    yield win
    win.close()


@pytest.fixture
def window(shared_window):
    """The shared window, back in its first state: pooled observer table, a reader against the truth."""
    win = shared_window
    assert win.state == "ready", win.message.text()
    win.tabs.setCurrentIndex(0)
    win.observer_level.setCurrentIndex(0)
    win.observer_panel.view.clearSelection()
    win.observer_panel.view.setCurrentIndex(win.observer_panel.model.index(-1, -1))
    win.plots.set_result(win.result)
    return win


def row_of(model, first_cell: str) -> int:
    for r in range(model.rowCount()):
        if model.data(model.index(r, 0)) == first_cell:
            return r
    raise AssertionError(f"no row {first_cell!r}")


def column_of(model, title: str) -> int:
    for c in range(model.columnCount()):
        if model.headerData(c, Qt.Orientation.Horizontal) == title:
            return c
    raise AssertionError(f"no column {title!r}")


def cell(model, r: int, c: int) -> str:
    return model.data(model.index(r, c))


def test_observer_table_shows_the_core_figures(window, core):
    tables, reports = core
    model = window.observer_panel.model
    long = reports.observer.set_index(["comparison", "pattern", "level"])
    direct = study_ratings(tables)
    for comparison in (
        "Reader A vs Reader B (S1)",
        "Reader A (S1) vs Consensus (GT)",
        "Reader B (S1) vs Consensus (GT)",
    ):
        r = row_of(model, comparison)
        for pattern in ("TOT", "GG", "RET"):
            rec = long.loc[(comparison, pattern, "all")]
            assert cell(model, r, column_of(model, f"{pattern}\nMAE (SD)")) == fmt_sd(rec.mae, rec.mae_sd)
            assert cell(model, r, column_of(model, f"{pattern}\nκ")) == fmt(rec.kappa)
            assert cell(model, r, column_of(model, f"{pattern}\nICC [95% CI]")) == fmt_ci(
                rec.icc, rec.icc_ci_low, rec.icc_ci_high
            )
    # ... and they are the figures of the agreement functions themselves, on the matched raters.
    pa = compare(direct, *A_GT, pattern="TOT")
    r = row_of(model, "Reader A (S1) vs Consensus (GT)")
    assert cell(model, r, column_of(model, "TOT\nMAE (SD)")) == f"{pa.mae.value:.2f} ({pa.mae.sd:.2f})"
    assert cell(model, r, column_of(model, "TOT\nκ")) == f"{pa.kappa.value:.2f}"
    lo, hi = pa.icc.ci
    assert cell(model, r, column_of(model, "TOT\nICC [95% CI]")) == f"{pa.icc.value:.2f} [{lo:.2f}, {hi:.2f}]"
    assert cell(model, r, 1) == str(N_CASES)  # n cases
    assert cell(model, r, 2) == str(N_CASES * 5)  # n observations (case x level)
    # B's unfinished case is left out, and the row says so
    rb = row_of(model, "Reader B (S1) vs Consensus (GT)")
    assert cell(model, rb, 1) == str(N_CASES - 1)
    assert "not finished" in cell(model, rb, model.columnCount() - 1)
    # p of each reader against the AI (Wilcoxon), where the core has one
    p = long.loc[("Reader A (S1) vs Consensus (GT)", "TOT", "all")].p_vs_ai
    shown = cell(model, r, column_of(model, "TOT\np vs AI"))
    assert shown == ("<0.001" if p < 0.001 else f"{p:.3f}")


def test_per_level_observer_table(window, core):
    _, reports = core
    window.observer_level.setCurrentIndex(window.observer_level.findData("L3"))
    model = window.observer_panel.model
    rec = reports.observer.set_index(["comparison", "pattern", "level"]).loc[
        ("Reader A (S1) vs Consensus (GT)", "GG", "L3")
    ]
    r = row_of(model, "Reader A (S1) vs Consensus (GT)")
    assert cell(model, r, 2) == str(N_CASES)  # one observation per case at one level
    assert cell(model, r, column_of(model, "GG\nMAE (SD)")) == fmt_sd(rec.mae, rec.mae_sd)


def test_ai_positions_likert_and_explainability_tables(window, core):
    _, reports = core
    ai = window.ai_panel.model
    assert [cell(ai, r, 0) for r in range(ai.rowCount())][1:] == ["All levels", "L1", "L2", "L3", "L4", "L5"]
    rec = reports.ai.set_index(["level", "pattern"]).loc[("L2", "RET")]
    assert cell(ai, row_of(ai, "L2"), column_of(ai, "RET\nκ")) == fmt(rec.kappa)
    pos = window.positions_panel.model
    assert pos.rowCount() == 3 * 7  # three comparisons with the consensus (A, B, AI) x (heading + 6 levels)
    likert = window.likert_panel.model
    counts = reports.likert_distribution.set_index(["rater", "pattern"]).loc[("Reader B (HM)", "TOT")]
    r = row_of(likert, "Reader B (HM)")  # first pattern block: TOT
    assert [cell(likert, r, c) for c in range(3, 8)] == [str(int(counts[f"n_{v}"])) for v in range(1, 6)]
    assert cell(likert, r, 8) == f"{100 * counts.share_agree:.0f} %"
    assert window.likert_agreement_panel.stack.currentWidget() is window.likert_agreement_panel.empty_label
    ex = window.explainability_panel.model
    fit = reports.explainability.set_index("pattern").loc["GG"]
    assert cell(ex, 1, 4) == fmt(fit.r_squared)


def test_not_estimable_cells_carry_their_reason(qtbot, tmp_path):
    path = tmp_path / "one.sscstudy"
    build_study(path, random_truth(3, seed=5), ai_noise=None, unfinished=2)  # B submits a single case
    win = open_window(qtbot, path)
    assert win.state == "ready"
    model = win.observer_panel.model
    r = row_of(model, "Reader A vs Reader B (S1)")
    c = column_of(model, "TOT\nκ")
    assert cell(model, r, c) == NOT_ESTIMABLE
    tip = model.data(model.index(r, c), Qt.ItemDataRole.ToolTipRole)
    assert "not estimable" in tip
    assert "only 1 case" in tip
    win.close()


def test_plots_show_the_matched_pair_with_the_core_bias(window, core):
    tables, _ = core
    plots = window.plots
    assert (plots.rater_a.currentText(), plots.rater_b.currentText()) == A_GT  # a reader against the truth
    ratings = study_ratings(tables)
    m_all = ratings[(ratings["pattern"] == "TOT") & ratings["finished"]]
    a = m_all[m_all["rater"] == A_GT[0]].sort_values(["case", "level"])["score"].to_numpy()
    b = m_all[m_all["rater"] == A_GT[1]].sort_values(["case", "level"])["score"].to_numpy()
    ba = bland_altman(a, b)
    assert len(plots.ba_points.data) == N_CASES * 5
    assert len(plots.scatter_points.data) == N_CASES * 5
    assert plots.bias_line.value() == pytest.approx(ba.bias)
    assert plots.loa_low.value() == pytest.approx(ba.loa[0])
    assert plots.loa_high.value() == pytest.approx(ba.loa[1])
    np.testing.assert_allclose(sorted(plots.ba_points.data["y"]), sorted(a - b))
    xs, ys = plots.identity.getData()
    np.testing.assert_array_equal(xs, ys)  # the identity line
    assert "n = 8 cases, 40 observations" in plots.ba_plot.getPlotItem().titleLabel.text
    # one level, another pattern
    plots.select(*A_GT, pattern="GG", level="L4")
    assert len(plots.ba_points.data) == N_CASES
    assert plots.data.pattern == "GG"
    # level positions in mm
    plots.select(A_GT[0], A_GT[1], measure=POSITIONS, level="all")
    assert len(plots.ba_points.data) == N_CASES * 5
    assert "mm" in plots.ba_plot.getPlotItem().getAxis("left").labelText
    # B's unfinished case is left out, and the plot says so
    plots.select("Reader B (S1)", A_GT[1], measure=SCORES, pattern="TOT", level="all")
    assert len(plots.ba_points.data) == (N_CASES - 1) * 5
    assert "not finished" in plots.message.text()


def test_selecting_a_table_row_shows_that_comparison(window):
    panel = window.observer_panel
    r = row_of(panel.model, "Reader B (S1) vs Consensus (GT)")
    c = column_of(panel.model, "RET\nκ")
    panel.view.setCurrentIndex(panel.model.index(r, c))
    plots = window.plots
    assert (plots.rater_a.currentText(), plots.rater_b.currentText()) == ("Reader B (S1)", "Consensus (GT)")
    assert plots.data.pattern == "RET"


def _non_blank(path: Path) -> np.ndarray:
    img = QImage(str(path)).convertToFormat(QImage.Format.Format_Grayscale8)
    assert not img.isNull()
    arr = np.frombuffer(img.constBits(), dtype=np.uint8, count=img.sizeInBytes()).reshape(img.height(), -1)
    arr = arr[:, : img.width()]
    assert arr.std() > 10  # a picture, not a blank image
    assert (arr < 80).mean() > 0.002  # with dark ink (text, axes, points)
    return arr


def test_plots_and_tables_export_as_png(window, tmp_path):
    ba = window.plots.export_png("ba", tmp_path / "ba.png")
    arr = _non_blank(ba)
    assert arr.shape[1] == 1600  # print resolution
    _non_blank(window.plots.export_png("scatter", tmp_path / "scatter.png"))
    table = save_table_png(window.observer_panel.table, tmp_path / "table.png")
    arr = _non_blank(table)
    assert arr.shape[1] > 1000
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "ba.png",
        "scatter.png",
        "table.png",
    ]  # no leftovers


def test_tables_copy_and_save_as_csv(window, tmp_path, core):
    _, reports = core
    panel = window.observer_panel
    panel.view.clearSelection()
    panel.view.copy_selection()
    text = QGuiApplication.clipboard().text()
    lines = text.splitlines()
    assert lines[0].split("\t")[:3] == ["Comparison", "n cases", "n obs"]
    assert any(line.startswith("Reader A (S1) vs Consensus (GT)\t8\t40\t") for line in lines)
    out = write_table_csv(panel.table, tmp_path / "observer.csv")
    rows = list(csv.reader(out.read_text(encoding="utf-8-sig").splitlines()))
    assert rows[0] == [panel.table.title]
    header = rows[1]
    row = next(r for r in rows if r and r[0] == "Reader A (S1) vs Consensus (GT)")
    rec = reports.observer.set_index(["comparison", "pattern", "level"]).loc[
        ("Reader A (S1) vs Consensus (GT)", "TOT", "all")
    ]
    assert row[header.index("TOT κ")] == fmt(rec.kappa)


def test_a_study_without_finished_readings_says_so(qtbot, tmp_path):
    win = open_window(qtbot, empty_study(tmp_path / "empty.sscstudy"))
    assert win.state == "empty"
    assert win.pages.currentWidget() is win.message
    assert "No reading of this study has been submitted yet" in win.message.text()
    assert not win.plots.rater_a.isEnabled()
    win.close()


def test_a_file_that_is_not_a_study_gives_the_core_message(qtbot, tmp_path):
    bad = tmp_path / "notes.sscstudy"
    bad.write_text("not a database")
    win = open_window(qtbot, bad)
    assert win.state == "error"
    assert "could not be computed" in win.message.text()
    assert type(win.error).__name__ == "StudyCorrupt"
    assert win.error.message in win.message.text()
    win.close()


def test_computing_runs_in_a_worker_and_the_window_stays_responsive(qtbot, study, monkeypatch):
    release = threading.Event()
    threads: list[threading.Thread] = []
    real = sw.compute_statistics

    def watched(path, **kw):
        threads.append(threading.current_thread())
        assert release.wait(30)
        return real(path, **kw)

    monkeypatch.setattr(sw, "compute_statistics", watched)
    win = sw.StatisticsWindow(study)
    qtbot.addWidget(win)
    win.show()
    qtbot.waitUntil(lambda: bool(threads), timeout=10_000)
    assert win.state == "computing"
    assert win.progress.isVisible()  # progress and Cancel while the worker runs
    ticks = []
    QTimer.singleShot(10, lambda: ticks.append(1))
    qtbot.waitUntil(lambda: bool(ticks), timeout=5_000)  # the GUI thread's event loop keeps running
    win.observer_level.setCurrentIndex(2)  # and takes input
    release.set()
    qtbot.waitUntil(lambda: win.state == "ready", timeout=60_000)
    assert threads[0] is not threading.main_thread()
    assert not win.progress.isVisible()
    win.close()


def test_cancel_stops_the_computation(qtbot, study, monkeypatch):
    started = threading.Event()

    def endless(path, *, progress=None, cancel=None, **kw):
        started.set()
        while not cancel.cancelled:
            threading.Event().wait(0.01)
        from ssc_core.errors import Cancelled

        raise Cancelled()

    monkeypatch.setattr(sw, "compute_statistics", endless)
    win = sw.StatisticsWindow(study)
    qtbot.addWidget(win)
    assert started.wait(10)
    with qtbot.waitSignal(win.cancelled, timeout=10_000):
        win.progress.cancel_button.click()
    assert win.state == "cancelled"
    assert "cancelled" in win.message.text()
    win.close()


def test_stats_window_modules_import_no_heavy_libraries():
    code = (
        "import sys; import app.widgets.statistics_window, app.dialogs.export_dialog; "
        "heavy = ('torch', 'timm', 'pandas', 'SimpleITK', 'pydicom', 'sklearn', 'pingouin', 'scipy'); "
        "print(sorted(m for m in heavy if m in sys.modules))"
    )
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", PYTHONPATH=str(ROOT))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == "[]"


def _run_app(*args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", PYTHONPATH=str(ROOT))
    return subprocess.run(
        [sys.executable, "-m", "app", *args], capture_output=True, text=True, env=env, timeout=180
    )


def test_stats_command_line_screenshot(study, tmp_path):
    png = tmp_path / "stats.png"
    out = _run_app("--stats", str(study), "--screenshot", str(png))
    assert out.returncode == 0, out.stderr
    arr = _non_blank(png)
    assert arr.shape == (900, 1440)


def test_stats_command_line_reports_a_bad_study(tmp_path):
    bad = tmp_path / "bad.sscstudy"
    bad.write_bytes(b"\0" * 10)
    out = _run_app("--stats", str(bad), "--screenshot", str(tmp_path / "x.png"))
    assert out.returncode == 2
    assert "statistics:" in out.stderr
    assert not (tmp_path / "x.png").exists()


def test_export_from_the_statistics_window(window):
    from app.dialogs.export_dialog import ExportDialog

    dlg = window.open_export_dialog()
    assert isinstance(dlg, ExportDialog)
    assert dlg.isVisible()
    assert not dlg.for_reader  # the statistics window is the administrator's: the whole study
    assert dlg.study_path == window.study_path
    dlg.reject()
