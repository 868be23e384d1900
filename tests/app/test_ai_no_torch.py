"""The window's process never loads torch: the AI runs, and is imported, in its own process."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.app.ai_helpers import add_observer_session

pytestmark = pytest.mark.gui

ROOT = Path(__file__).resolve().parents[2]


def test_ai_keeps_torch_out_of_the_window(study_file, ai_bundle, tmp_path):
    add_observer_session(study_file, "AV", "visible")
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", PYTHONPATH=str(ROOT))
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "tests.app.ai_no_torch_script",
            str(study_file),
            "AV",
            str(ai_bundle),
            str(tmp_path / "settings.ini"),
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert "shown=True torch=False timm=False" in done.stdout, done.stdout + done.stderr
