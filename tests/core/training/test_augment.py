"""Augmentation: the paper's ranges (rotation +-30 deg, scale 0.95-1.05, shift +-10 px), warped in torch."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from ssc_core.training.augment import AffineRanges, draw_affine, warp


def test_parameters_stay_in_the_paper_ranges():
    p = draw_affine(np.random.default_rng(0), 5000)
    assert np.abs(p[:, 0]).max() <= 30.0
    assert np.abs(p[:, 0]).max() > 29.0
    assert p[:, 1].min() >= 0.95
    assert p[:, 1].max() <= 1.05
    assert np.abs(p[:, 2:]).max() <= 10.0
    assert np.abs(p[:, 2:]).max() > 9.9


def _centroid(img: np.ndarray) -> tuple[float, float]:
    yy, xx = np.mgrid[0 : img.shape[0], 0 : img.shape[1]]
    return float((xx * img).sum() / img.sum()), float((yy * img).sum() / img.sum())


def test_warp_rotates_scales_and_shifts_as_asked():
    size = 96
    img = torch.zeros(1, 1, size, size)
    img[0, 0, 46:50, 66:70] = 1.0  # a blob 20 px right of the centre (47.5, 47.5)
    x0, y0 = _centroid(img[0, 0].numpy())
    for angle, scale, dx, dy in ((0, 1, 7, -4), (30, 1, 0, 0), (-30, 1.05, 3, 2), (90, 0.95, 0, 0)):
        out = warp(img, torch.tensor([[angle, scale, dx, dy]], dtype=torch.float32))[0, 0].numpy()
        x1, y1 = _centroid(out)
        a = math.radians(angle)
        rx, ry = x0 - 47.5, y0 - 47.5
        ex = 47.5 + scale * (math.cos(a) * rx - math.sin(a) * ry) + dx
        ey = 47.5 + scale * (math.sin(a) * rx + math.cos(a) * ry) + dy
        assert (x1, y1) == pytest.approx((ex, ey), abs=0.3)
        assert out.sum() == pytest.approx(16 * scale**2, rel=0.05)  # area scales with scale squared


def test_identity_and_fill():
    x = torch.rand(2, 3, 32, 48)
    same = warp(x, torch.tensor([[0.0, 1.0, 0.0, 0.0]] * 2))
    torch.testing.assert_close(same, x, atol=1e-5, rtol=0)
    shifted = warp(torch.zeros(1, 1, 32, 32), torch.tensor([[0.0, 1.0, 10.0, 0.0]]), fill=0.25)
    assert shifted[0, 0, :, :9].min() == pytest.approx(0.25)  # uncovered pixels get the fill value
    assert shifted[0, 0, :, 11:].abs().max() == 0.0


def test_none_ranges_do_nothing():
    p = draw_affine(np.random.default_rng(1), 10, AffineRanges.none())
    np.testing.assert_array_equal(p, np.tile([0.0, 1.0, 0.0, 0.0], (10, 1)).astype(np.float32))
