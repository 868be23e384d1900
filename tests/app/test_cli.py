"""The ``ssc-workstation`` command line: ``--screenshot`` and a light start-up."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtGui import QImage

from app.__main__ import build_parser
from ssc_core.imaging.volume_writer import write_volume

pytestmark = pytest.mark.gui

ROOT = Path(__file__).resolve().parents[2]


def run_app(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", PYTHONPATH=str(ROOT))
    return subprocess.run(
        [sys.executable, "-m", "app", *args], capture_output=True, text=True, env=env, timeout=timeout
    )


def image_array(path: Path) -> np.ndarray:
    img = QImage(str(path)).convertToFormat(QImage.Format.Format_Grayscale8)
    assert not img.isNull()
    ptr = img.constBits()
    arr = np.frombuffer(ptr, dtype=np.uint8, count=img.sizeInBytes()).reshape(img.height(), -1)
    return arr[:, : img.width()].copy()


def test_screenshot_of_an_opened_scan_is_written_and_not_blank(chest, tmp_path):
    scan = write_volume(chest, tmp_path / "scan.mha")
    png = tmp_path / "shot.png"
    out = run_app("--open", str(scan), "--slice", "20", "--screenshot", str(png))
    assert out.returncode == 0, out.stderr
    assert png.is_file()
    pixels = image_array(png)
    assert pixels.shape == (900, 1440)
    assert pixels.std() > 20  # an image, not a blank window
    # the slice view itself shows the CT: both dark lung and bright tissue in its middle
    centre = pixels[300:600, 200:600]
    assert centre.min() < 110  # lung (-860 HU) is dark grey at the lung window
    assert centre.max() > 200
    # the offscreen platform's "does not support propagateSizeHints()" noise is not on the terminal
    assert "propagateSizeHints" not in out.stderr


def test_screenshot_of_a_refused_scan_fails_with_the_reason(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    out = run_app("--open", str(empty), "--screenshot", str(tmp_path / "x.png"))
    assert out.returncode == 2
    assert "No CT images were found" in out.stderr
    assert not (tmp_path / "x.png").exists()


def test_startup_imports_no_heavy_modules(tmp_path):
    """``ssc-workstation`` paints its window before any heavy library is imported (they load on first use).

    The real entry point with the start-up probe (``app/startup_probe.py``), which reports the modules
    loaded at the first paint and quits.
    """
    from app.startup_probe import HEAVY_MODULES, PROBE_ENV

    assert {"torch", "timm", "pandas", "scipy", "SimpleITK"} <= set(HEAVY_MODULES)
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", PYTHONPATH=str(ROOT), **{PROBE_ENV: "1"})
    env["XDG_CONFIG_HOME"] = str(tmp_path)  # a first start: no saved settings
    out = subprocess.run([sys.executable, "-m", "app"], capture_output=True, text=True, env=env, timeout=120)
    assert out.returncode == 0, out.stderr
    lines = dict(line.split(" ", 2)[1:] for line in out.stdout.splitlines() if line.startswith(PROBE_ENV))
    assert float(lines["shown"]) > 0
    assert json.loads(lines["heavy"]) == []


def test_parser_rejects_two_sources():
    with pytest.raises(SystemExit):
        build_parser().parse_args(["--open", "x", "--demo"])


def test_demo_study_in_the_user_data_directory_is_reused(tmp_path, monkeypatch):
    from app.study_actions import demo_root
    from ssc_core.study.demo import DEMO_MANIFEST, ensure_demo_study

    data_home = tmp_path / "data"
    monkeypatch.setenv("XDG_DATA_HOME", str(data_home))  # where platformdirs puts user data on Linux
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    root = demo_root()
    assert data_home in root.parents
    ensure_demo_study(root, n_patients=1, matrix=96)  # small, so that the test is quick
    stamp = (root / DEMO_MANIFEST).stat().st_mtime_ns
    png = tmp_path / "demo.png"
    out = run_app("--demo", "--screenshot", str(png))
    assert out.returncode == 0, out.stderr
    assert image_array(png).std() > 20
    assert (root / DEMO_MANIFEST).stat().st_mtime_ns == stamp  # reused, not built again


def test_screenshot_of_a_study_case_at_a_level(demo_study, study_file, tmp_path):
    png = tmp_path / "case.png"
    args = ("--study", str(study_file), "--reader", "Demo reader", "--session", "T1", "--case", "2")
    out = run_app(*args, "--level", "L3", "--screenshot", str(png))
    assert out.returncode == 0, out.stderr
    pixels = image_array(png)
    assert pixels.shape == (900, 1440)
    assert pixels.std() > 20
    bad = run_app(
        "--study", str(study_file), "--reader", "Nobody", "--session", "T1", "--screenshot", str(png)
    )
    assert bad.returncode == 2
    assert "There is no reader named 'Nobody'" in bad.stderr


def test_reading_options_need_a_study():
    with pytest.raises(SystemExit):
        build_parser().parse_args(["--open", "x", "--study", "y"])
    from app.__main__ import main

    with pytest.raises(SystemExit):
        main(["--reader", "A", "--session", "T1"])
