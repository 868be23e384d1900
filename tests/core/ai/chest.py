"""A small synthetic chest CT for AI tests (body, fat, two lungs with vessels, spine, mediastinum).

Not the project's phantom (``ssc_core.imaging.phantom``): just enough anatomy for the lung mask, the scorer
input and the heat maps to see a chest. Lungs span ``lung_top``..``lung_bottom`` (fractions of the z range).
"""

from __future__ import annotations

import numpy as np

from ssc_core.imaging.volume import CTVolume


def lung_truth(size: int = 512, *, lung_scale: float = 1.0) -> np.ndarray:
    """The two lung ellipses of :func:`chest_slice` (the mask a lung segmentation should find)."""
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / size
    out = np.zeros((size, size), dtype=bool)
    if lung_scale > 0:
        for cx in (0.33, 0.67):
            out |= ((xx - cx) / (0.13 * lung_scale)) ** 2 + ((yy - 0.5) / (0.2 * lung_scale)) ** 2 <= 1.0
    return out


def chest_slice(
    size: int = 512, *, lung_scale: float = 1.0, seed: int = 0, gut_gas: bool = False
) -> np.ndarray:
    """One axial slice in HU (int16) with two lungs whose size scales with ``lung_scale`` (0 = no lung)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / size
    hu = np.full((size, size), -1000.0, dtype=np.float32)
    body = ((xx - 0.5) / 0.42) ** 2 + ((yy - 0.52) / 0.32) ** 2 <= 1.0
    inner = ((xx - 0.5) / 0.39) ** 2 + ((yy - 0.52) / 0.29) ** 2 <= 1.0
    hu[body] = -100.0  # subcutaneous fat
    hu[inner] = 40.0  # muscle and mediastinum
    spine = ((xx - 0.5) / 0.05) ** 2 + ((yy - 0.74) / 0.05) ** 2 <= 1.0
    hu[spine] = 600.0
    if lung_scale > 0:
        hu[lung_truth(size, lung_scale=lung_scale)] = -850.0
        # vessels: small dense dots inside the lungs
        lung_any = hu == -850.0
        ys, xs = np.nonzero(lung_any)
        if ys.size:
            pick = rng.choice(ys.size, size=min(60, ys.size), replace=False)
            for y, x in zip(ys[pick], xs[pick]):
                hu[max(0, y - 2) : y + 2, max(0, x - 2) : x + 2] = 30.0
    if gut_gas:
        gas = ((xx - 0.5) / 0.025) ** 2 + ((yy - 0.64) / 0.02) ** 2 <= 1.0
        hu[gas] = -950.0
    hu += rng.normal(0.0, 15.0, size=hu.shape).astype(np.float32)
    return np.clip(hu, -1024, 3000).astype(np.int16)


def chest_volume(
    n_slices: int = 60,
    size: int = 128,
    *,
    spacing: tuple[float, float, float] = (5.0, 0.7 * 512 / 128, 0.7 * 512 / 128),
    lung_top: float = 0.1,
    lung_bottom: float = 0.85,
    top_z: float = 0.0,
    seed: int = 0,
) -> CTVolume:
    """A chest volume: lungs grow from the apex, are widest mid-way and end at the diaphragm."""
    slices = []
    for k in range(n_slices):
        f = k / max(1, n_slices - 1)
        if lung_top <= f <= lung_bottom:
            t = (f - lung_top) / (lung_bottom - lung_top)
            scale = 0.35 + 0.65 * np.sin(np.pi * min(1.0, 0.2 + 0.9 * t)) ** 0.5
        else:
            scale = 0.0
        slices.append(
            chest_slice(size, lung_scale=float(scale), seed=seed + k, gut_gas=f > lung_bottom + 0.05)
        )
    return CTVolume.from_array(np.stack(slices), spacing, top_z=top_z)
