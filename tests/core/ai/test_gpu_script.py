"""The GPU benchmark script runs (tiny CPU smoke mode) and writes its figures."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]


@pytest.mark.slow
def test_gpu_cascade_smoke(tmp_path):
    env = {**os.environ, "OUT": str(tmp_path), "PYTHONPATH": str(ROOT)}
    subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "gpu_cascade.py"), "--smoke"],
        env=env,
        cwd=ROOT,
        check=True,
        capture_output=True,
        timeout=300,
    )
    figures = json.loads((tmp_path / "gpu_cascade_smoke.json").read_text())
    assert figures["unwanted_imports"] == []
    assert len(figures["heatmap_s_per_level"]) == 5
    assert figures["cascade_s_median"] > 0
