"""On-the-fly geometric augmentation of axial slices, batched in torch (runs wherever the batch lives).

The paper augments each scorer sample by a random rotation (+-30 degrees), isotropic scaling (0.95-1.05) and
shift (+-10 pixels). Here the whole batch is warped by one ``affine_grid`` + ``grid_sample`` call on the
batch's device, so on a GPU augmentation costs a fraction of a training step and never starves it.

Parameters are drawn per sample ahead of time (:func:`draw_affine`) from a seeded generator, so the same
seed gives the same augmentation in every process of a distributed run and after a resume.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from ssc_core.constants import AUGMENT_ROTATION_DEG, AUGMENT_SCALE_RANGE, AUGMENT_SHIFT_PX


@dataclass(frozen=True)
class AffineRanges:
    """Ranges of the random affine transform (the paper's by default)."""

    rotation_deg: float = AUGMENT_ROTATION_DEG
    scale: tuple[float, float] = AUGMENT_SCALE_RANGE
    shift_px: float = AUGMENT_SHIFT_PX

    @classmethod
    def none(cls) -> AffineRanges:
        return cls(0.0, (1.0, 1.0), 0.0)


def draw_affine(rng: np.random.Generator, n: int, ranges: AffineRanges = AffineRanges()) -> np.ndarray:
    """(n, 4) float32: rotation (degrees), scale, shift x and shift y (pixels), uniform in the ranges."""
    out = np.empty((n, 4), dtype=np.float32)
    out[:, 0] = rng.uniform(-ranges.rotation_deg, ranges.rotation_deg, n)
    out[:, 1] = rng.uniform(ranges.scale[0], ranges.scale[1], n)
    out[:, 2] = rng.uniform(-ranges.shift_px, ranges.shift_px, n)
    out[:, 3] = rng.uniform(-ranges.shift_px, ranges.shift_px, n)
    return out


def affine_theta(params: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """``affine_grid`` matrices (n, 2, 3) that rotate by ``angle``, scale by ``scale`` about the centre and
    shift by (``dx``, ``dy``) pixels: the content at output pixel p comes from input pixel A^-1 (p - t).

    Works in normalised coordinates ([-1, 1] over each axis, ``align_corners=False``); for non-square
    images the rotation is done in pixel units so that it stays a true rotation.
    """
    p = params.to(torch.float32)
    angle = p[:, 0] * (math.pi / 180.0)
    scale = p[:, 1]
    cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale
    # Inverse map in pixel units: x_in = R(-angle)/scale (x_out - t); convert pixel <-> normalised units.
    ax, ay = width / 2.0, height / 2.0
    theta = torch.empty((p.shape[0], 2, 3), dtype=torch.float32, device=p.device)
    theta[:, 0, 0] = cos
    theta[:, 0, 1] = sin * (ay / ax)
    theta[:, 1, 0] = -sin * (ax / ay)
    theta[:, 1, 1] = cos
    tx, ty = p[:, 2] / ax, p[:, 3] / ay
    theta[:, 0, 2] = -(theta[:, 0, 0] * tx + theta[:, 0, 1] * ty)
    theta[:, 1, 2] = -(theta[:, 1, 0] * tx + theta[:, 1, 1] * ty)
    return theta


def warp(x: torch.Tensor, params: torch.Tensor, *, fill: float = 0.0, mode: str = "bilinear") -> torch.Tensor:
    """Apply per-sample affine transforms to a batch (B, C, H, W); pixels from outside get ``fill``.

    ``params`` is (B, 4) as from :func:`draw_affine` (on any device; moved to the batch's).
    """
    b, _c, h, w = x.shape
    theta = affine_theta(params.to(x.device), h, w).to(x.dtype)
    grid = F.affine_grid(theta, [b, 1, h, w], align_corners=False)
    if fill == 0.0:
        return F.grid_sample(x, grid, mode=mode, padding_mode="zeros", align_corners=False)
    # grid_sample pads with zeros: shift the image so that the fill value is zero, then shift back.
    return F.grid_sample(x - fill, grid, mode=mode, padding_mode="zeros", align_corners=False) + fill
