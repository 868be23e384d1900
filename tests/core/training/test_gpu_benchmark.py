"""benchmarks/gpu_train.py runs where the GPU machine's libraries are all it has (no SimpleITK, pydicom,
openpyxl or PySide6): its smoke mode, with those modules blocked, in a fresh interpreter."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]

BLOCKED = ("SimpleITK", "pydicom", "openpyxl", "PySide6")

SCRIPT = f"""
import sys
for name in {BLOCKED!r}:
    sys.modules[name] = None  # "import name" now raises ImportError
import runpy
sys.argv = ["gpu_train.py", "--smoke", "--device", "cpu"]
runpy.run_path({str(ROOT / "benchmarks" / "gpu_train.py")!r}, run_name="__main__")
"""


def test_smoke_mode_runs_without_the_blocked_libraries(tmp_path):
    env = dict(os.environ, OUT=str(tmp_path), PYTHONPATH=str(ROOT))
    run = subprocess.run(
        [sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, timeout=300, cwd=tmp_path
    )
    assert run.returncode == 0, run.stderr[-3000:]
    figures = json.loads((tmp_path / "gpu_train.json").read_text())
    assert figures["smoke"] is True
    assert figures["synthetic_share"] == 0.5
    assert figures["bare_images_per_s"] > 0
    assert figures["pipeline_images_per_s"] > 0
    assert figures["real_samples"] == 4 * 15
