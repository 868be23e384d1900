"""Procedural lung textures: deterministic, of the right size and range, periodic, vessel-sparing."""

from __future__ import annotations

import numpy as np
import pytest

from ssc_core.imaging import textures


def rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


@pytest.mark.parametrize("shape", [(64, 80), (128, 128)])
def test_fields_have_the_shape_and_are_reproducible(shape):
    for make in (textures.ground_glass_field, textures.reticulation_field, textures.parenchyma_texture):
        a = make(shape, rng(1), pixel_mm=0.7)
        b = make(shape, rng(1), pixel_mm=0.7)
        c = make(shape, rng(2), pixel_mm=0.7)
        assert a.shape == shape
        assert a.dtype == np.float32
        assert np.array_equal(a, b)
        assert not np.array_equal(a, c)


def test_ground_glass_is_a_positive_haze_around_its_mean():
    gg = textures.ground_glass_field((256, 256), rng(), mean_hu=200.0)
    assert gg.min() > 0
    assert 170 < gg.mean() < 230
    assert 10 < gg.std() < 120


def test_reticulation_is_a_sparse_net_of_thin_lines():
    ret = textures.reticulation_field((256, 256), rng(), pixel_mm=0.7, cell_mm=5.0, line_hu=400.0)
    assert ret.min() >= 0
    assert ret.max() <= 400.0 + 1e-3
    on = ret > 100
    assert 0.05 < on.mean() < 0.5  # lines, not a haze
    # lines are thin: most line pixels have a background pixel within 2 pixels
    from scipy import ndimage

    assert ndimage.binary_erosion(on, iterations=2).sum() < 0.1 * on.sum()
    # interrupted lines, not dots: the strong (coarse-net) pixels form elongated pieces spanning cells
    strong = ret > 200
    labels, n = ndimage.label(strong, structure=np.ones((3, 3)))
    assert strong.sum() / n > 8  # a dot would be 1-4 pixels
    sizes = np.bincount(labels.ravel())[1:]
    rows, cols = np.nonzero(labels == np.argmax(sizes) + 1)
    cell_px = 5.0 / 0.7
    assert max(np.ptp(rows), np.ptp(cols)) > 3 * cell_px


def test_reticulation_tiles_seamlessly():
    ret = textures.reticulation_field((128, 128), rng(3), warp_mm=1.0)
    tiled = np.tile(ret, (1, 2))
    jump = np.abs(np.diff(tiled, axis=1))[:, 127].mean()  # across the seam
    inside = np.abs(np.diff(ret, axis=1)).mean()
    assert jump < 2.5 * inside


def test_ct_noise_has_the_requested_sd():
    n = textures.ct_noise((256, 256), rng(), 15.0)
    assert abs(float(n.mean())) < 1.0
    assert n.std() == pytest.approx(15.0, rel=0.01)


def test_apply_pattern_spares_vessels_and_fade_mask_stays_inside():
    hu = np.full((32, 32), -850.0, dtype=np.float32)
    hu[10:14, :] = 40.0  # a vessel
    mask = np.zeros((32, 32), dtype=bool)
    mask[4:28, 4:28] = True
    weight = textures.fade_mask(mask, 3.0)
    assert np.all(weight[~mask] == 0)
    assert weight[16, 16] == 1.0
    out = textures.apply_pattern(hu, np.full_like(hu, 200.0), weight)
    assert out[20, 16] == pytest.approx(-650.0)  # parenchyma: full change
    assert out[12, 16] == pytest.approx(40.0)  # vessel: unchanged
    assert np.array_equal(out[~mask], hu[~mask])
