"""Shared fixtures: the real-data folder (skipped when absent) and a small synthetic volume."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# Sleeping, not spinning, OpenMP threads (as ``import ssc_core`` sets): in case a test imports torch first.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

#: ``../shared/data/real`` beside the checkout (override with SSC_REAL_DATA).
REAL_DATA = Path(
    os.environ.get("SSC_REAL_DATA", Path(__file__).resolve().parents[2] / "shared" / "data" / "real")
)


@pytest.fixture
def real_data() -> Path:
    """The folder of real CT series; the test is skipped when it is absent."""
    if not REAL_DATA.is_dir():
        pytest.skip(f"real CT data not present at {REAL_DATA}")
    return REAL_DATA


@pytest.fixture
def small_volume():
    """A tiny standard axial CTVolume (20 x 64 x 64, 2.5 mm slices) with an air/water pattern."""
    from ssc_core.imaging.volume import CTVolume

    rng = np.random.default_rng(0)
    hu = np.full((20, 64, 64), -1000, dtype=np.int16)
    hu[:, 8:56, 8:56] = 40
    hu[:, 16:48, 12:30] = -850 + rng.integers(-30, 30, size=(20, 32, 18))
    return CTVolume.from_array(hu, (2.5, 0.7, 0.7), top_z=100.0)
