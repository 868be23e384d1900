"""Fixtures of the GUI tests: an isolated settings file, a small chest-like volume and the main window."""

from __future__ import annotations

import pytest

from tests.app.chest import chest_volume


@pytest.fixture
def settings(tmp_path):
    from app.main_window import isolated_settings

    s = isolated_settings(str(tmp_path / "settings.ini"))
    # The AI runs only in the tests about it (they switch it on with a small bundle): elsewhere a case
    # opening must not start an AI process (it would run the demo bundle, once installed).
    s.set_ai_auto_run(False)
    return s


@pytest.fixture(scope="session")
def chest():
    """A 48 x 96 x 96 chest-like volume (5 mm slices, 3.5 mm pixels)."""
    return chest_volume()


@pytest.fixture
def window(qtbot, settings):
    """The main window, shown, with isolated settings and nothing open."""
    from app.main_window import MainWindow

    win = MainWindow(settings, restore_layout=False)
    qtbot.addWidget(win)
    win.show()
    qtbot.waitExposed(win)
    yield win
    win.controller.shutdown()


@pytest.fixture
def opened(window, chest):
    """The main window with the chest volume open at slice 0."""
    window.controller.open_volume(chest, slice_index=0)
    window.flush()
    return window


@pytest.fixture(autouse=True, scope="session")
def _no_mouse_rate_limit():
    """pyqtgraph drops mouse moves closer than 10 ms apart; test events arrive faster than a hand."""
    import pyqtgraph as pg

    old = pg.getConfigOption("mouseRateLimit")
    pg.setConfigOptions(mouseRateLimit=-1)
    yield
    pg.setConfigOptions(mouseRateLimit=old)


@pytest.fixture(scope="session")
def demo_study(tmp_path_factory):
    """A small demo study (two 128 x 128 phantom patients), built once per test run.

    Built as if no demo model were installed: its heat-map rating session then shows the maps of whatever
    model a test chooses, instead of the shipped demo model's (512 px, far too slow for the suite).
    """
    from ssc_core.study import demo

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(demo, "demo_bundle_hash", lambda: None)
        return demo.ensure_demo_study(tmp_path_factory.mktemp("demo") / "demo", n_patients=2, matrix=128)


@pytest.fixture
def study_file(demo_study, tmp_path):
    """A private copy of the demo study file (its scans are shared, read-only)."""
    import shutil

    dst = tmp_path / "study.sscstudy"
    shutil.copyfile(demo_study.study_path, dst)
    return dst


@pytest.fixture(scope="session")
def ai_bundle(tmp_path_factory):
    """A small untrained model bundle (real networks, seeded weights; 128 px scorer): fast AI for tests."""
    from ssc_core.ai.bundle import save_untrained_bundle
    from tests.core.ai.conftest import healthy_texture, small_spec

    folder = tmp_path_factory.mktemp("ai") / "small"
    save_untrained_bundle(folder, small_spec("Test model (untrained)"), seed=0, texture_hu=healthy_texture())
    return folder


@pytest.fixture(scope="session")
def slow_bundle(tmp_path_factory):
    """An untrained bundle whose heat maps take many seconds (512 px scorer input): for cancel and close."""
    from dataclasses import replace

    from ssc_core.ai.bundle import save_untrained_bundle
    from ssc_core.ai.spec import ScorerSpec
    from tests.core.ai.conftest import healthy_texture, small_spec

    folder = tmp_path_factory.mktemp("ai") / "slow"
    spec = replace(
        small_spec("Slow test model (untrained)"), scorer=ScorerSpec("convnext_atto", input_size=512)
    )
    save_untrained_bundle(folder, spec, seed=1, texture_hu=healthy_texture())
    return folder
