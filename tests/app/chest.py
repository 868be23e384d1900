"""A small chest-like CT volume for GUI tests (body, lungs with apices and bases, trachea, spine, heart).

Fast to build (milliseconds) and anatomically ordered cranio-caudally, so level marking and localizer
geometry can be checked on something that looks like a chest. The full phantom lives in
``ssc_core.imaging.phantom``.
"""

from __future__ import annotations

import numpy as np

from ssc_core.imaging.volume import CTVolume, SeriesInfo


def chest_volume(
    n_slices: int = 48,
    size: int = 96,
    spacing: tuple[float, float, float] = (5.0, 3.5, 3.5),
    *,
    top_z: float = 250.0,
    seed: int = 0,
) -> CTVolume:
    """A (n_slices, size, size) int16 chest-like volume in the project's conventions."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:size, :size].astype(np.float32) / size
    hu = np.full((n_slices, size, size), -1000, dtype=np.int16)
    for k in range(n_slices):
        t = k / max(n_slices - 1, 1)  # 0 cranial .. 1 caudal
        s = np.full((size, size), -1000, dtype=np.float32)
        body = ((xx - 0.5) / 0.45) ** 2 + ((yy - 0.52) / 0.33) ** 2 < 1
        inner = ((xx - 0.5) / 0.41) ** 2 + ((yy - 0.52) / 0.29) ** 2 < 1
        s[body] = -100  # fat
        s[inner] = 40  # muscle / mediastinum
        # Lungs grow from the apex (t=0.1) and end at the diaphragm (right dome higher: t=0.85 vs 0.9).
        for cx, base in ((0.3, 0.85), (0.7, 0.9)):  # image left = patient's right
            if 0.08 < t < base:
                r = min(1.0, (t - 0.08) / 0.25) * min(1.0, (base - t) / 0.08)
                lung = ((xx - cx) / (0.15 * r + 1e-3)) ** 2 + ((yy - 0.5) / (0.22 * r + 1e-3)) ** 2 < 1
                s[lung] = -860 + rng.normal(0, 25, size=int(lung.sum()))
        if t < 0.35:  # trachea, bifurcating at t = 0.35 (carina)
            s[((xx - 0.5) / 0.05) ** 2 + ((yy - 0.4) / 0.05) ** 2 < 1] = -1000
        if 0.45 < t < 0.85:  # heart
            s[((xx - 0.55) / 0.14) ** 2 + ((yy - 0.42) / 0.12) ** 2 < 1] = 45
        s[((xx - 0.5) / 0.06) ** 2 + ((yy - 0.78) / 0.06) ** 2 < 1] = 700  # vertebra
        hu[k] = np.clip(s, -1024, 3000).astype(np.int16)
    info = SeriesInfo(description="Synthetic chest", source_format="array", slice_thickness_mm=spacing[0])
    return CTVolume.from_array(hu, spacing, top_z=top_z, info=info)
