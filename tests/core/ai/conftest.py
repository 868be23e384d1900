"""Fixtures for the AI tests: small untrained bundles (real networks, seeded random weights)."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from ssc_core.ai.spec import BundleSpec, LevelFinderSpec, ScorerSpec, SliceEncoderParams


def healthy_texture(patch: int = 64, seed: int = 0) -> np.ndarray:
    """A stand-in healthy-lung patch in HU (about -850 with fine noise)."""
    rng = np.random.default_rng(seed)
    return (-850.0 + rng.normal(0.0, 40.0, size=(patch, patch))).astype(np.float32)


def small_spec(name: str = "test bundle", **fields) -> BundleSpec:
    """Fast level finder (small) + ConvNeXt-Atto scorer at 128 px: light enough for CPU tests."""
    return BundleSpec(
        display_name=name,
        level_finder=LevelFinderSpec(
            "slice_encoder_1d",
            SliceEncoderParams(
                slice_size=32, widths=(8, 16), embed=16, head_channels=16, dilations=(1, 2, 4)
            ),
        ),
        scorer=ScorerSpec("convnext_atto", input_size=128),
        **fields,
    )


@pytest.fixture(scope="session")
def small_bundle_dir(tmp_path_factory) -> Path:
    """A saved small bundle (do not modify: copy it with ``bundle_copy``)."""
    from ssc_core.ai.bundle import save_untrained_bundle

    folder = tmp_path_factory.mktemp("bundles") / "small"
    save_untrained_bundle(folder, small_spec(provenance={"seed": 0}), seed=0, texture_hu=healthy_texture())
    return folder


@pytest.fixture
def bundle_copy(small_bundle_dir, tmp_path) -> Path:
    """A private copy of the small bundle that a test may damage."""
    target = tmp_path / "bundle"
    shutil.copytree(small_bundle_dir, target)
    return target
