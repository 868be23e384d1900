"""Fixtures for the training tests: a small phantom cohort on disk (MHA + label workbook) and tiny specs."""

from __future__ import annotations

from pathlib import Path

import pytest

#: Phantom settings of the small cohort: a coarse matrix and thick slices keep it fast.
MATRIX = 64
SPACING = 3.0
N_PATIENTS = 5
SEED = 11


@pytest.fixture(scope="session")
def small_cohort(tmp_path_factory) -> Path:
    """``write_cohort`` output: PH0001.mha ... and GohScores.xlsx (do not modify: copy it)."""
    from ssc_core.imaging.phantom import write_cohort

    folder = tmp_path_factory.mktemp("cohort")
    write_cohort(
        folder, N_PATIENTS, seed=SEED, format="mha", matrix=MATRIX, slice_spacing_mm=SPACING, overwrite=True
    )
    return folder


def tiny_level_args() -> list[str]:
    return ["--slice-size", "16", "--widths", "8,16"]


def tiny_scorer_args() -> list[str]:
    return ["--arch", "convnext_atto", "--input-size", "64", "--texture-variants", "1"]
