"""Procedural lung textures: ground glass, reticulation, healthy parenchyma and CT noise.

These functions know nothing about any anatomy: they make 2-D fields of a given shape and pixel size, which
a caller crops to a lung mask and adds to a slice. The synthetic phantom uses them for its disease; the
training pipeline's data synthesis (Jia et al. 2024: GG and RET inserted into healthy slices, real ones
included, inside random ellipses cropped to the lung with faded edges) uses them the same way.

Appearance (Fleischner Society glossary, Hansell et al., Radiology 246:697, 2008):

* **ground-glass opacity** - hazy increased attenuation with preserved bronchial and vascular margins: a
  smooth, slightly mottled rise of 100-300 HU of the parenchyma that leaves the vessels as they are
  (:func:`apply_pattern` spares pixels that are already soft tissue);
* **reticulation** - a net of innumerable small linear opacities: here the edges of a warped Voronoi
  tessellation (cells 3-8 mm, the size of secondary pulmonary lobules and smaller), drawn as anti-aliased
  lines of about 1 mm, partly interrupted, plus a finer intralobular net.

All outputs are float32 HU *increases* (>= 0) unless stated; ``rng`` makes them reproducible.
"""

from __future__ import annotations

import numpy as np

Array = np.ndarray


def smooth_field(shape: tuple[int, int], rng: np.random.Generator, scale_px: float) -> Array:
    """Gaussian random field with correlation length ``scale_px`` pixels, zero mean and unit SD."""
    from scipy.ndimage import gaussian_filter

    white = rng.standard_normal(shape, dtype=np.float32)
    f = gaussian_filter(white, max(scale_px, 0.3), mode="wrap")
    sd = float(f.std())
    return (f - f.mean()) / (sd if sd > 0 else 1.0)


def ct_noise(
    shape: tuple[int, int], rng: np.random.Generator, sigma_hu: float, *, grain_px: float = 0.7
) -> Array:
    """Correlated CT noise (zero mean, SD ``sigma_hu``), the fine grain of a sharp reconstruction kernel."""
    return smooth_field(shape, rng, grain_px) * np.float32(sigma_hu)


def parenchyma_texture(
    shape: tuple[int, int], rng: np.random.Generator, *, pixel_mm: float = 0.7, amplitude_hu: float = 22.0
) -> Array:
    """Zero-mean HU variation of healthy lung: sub-resolution vessels and lobular structure.

    A mix of fine (0.7 mm) and coarser (2.5 mm) mottling and sparse bright specks (the tiny vessels that a
    lung window shows as dots), scaled to an SD of about ``amplitude_hu``.
    """
    px = max(pixel_mm, 0.1)
    fine = smooth_field(shape, rng, 0.7 / px)
    coarse = smooth_field(shape, rng, 2.5 / px)
    specks = smooth_field(shape, rng, 0.55 / px)
    specks = np.clip(specks - np.float32(2.2), 0.0, None) * np.float32(2.5)
    field = np.float32(0.55) * fine + np.float32(0.6) * coarse + specks
    field -= field.mean()
    return field * np.float32(amplitude_hu / max(float(field.std()), 1e-6))


def ground_glass_field(
    shape: tuple[int, int],
    rng: np.random.Generator,
    *,
    pixel_mm: float = 0.7,
    mean_hu: float = 200.0,
    grain_mm: float = 1.5,
    mottle: float = 0.3,
) -> Array:
    """HU increase of ground-glass opacity: a mottled haze around ``mean_hu`` (never negative).

    ``grain_mm`` is the size of the mottling and ``mottle`` its relative strength (0 = uniform haze).
    """
    px = max(pixel_mm, 0.1)
    blotch = smooth_field(shape, rng, 5.0 / px)
    grain = smooth_field(shape, rng, grain_mm / px)
    f = np.float32(1.0) + np.float32(mottle) * (np.float32(0.6) * blotch + np.float32(0.5) * grain)
    return np.clip(f, 0.15, None) * np.float32(mean_hu)


def reticulation_field(
    shape: tuple[int, int],
    rng: np.random.Generator,
    *,
    pixel_mm: float = 0.7,
    cell_mm: float = 5.0,
    line_mm: float = 0.7,
    line_hu: float = 450.0,
    continuity: float = 0.65,
    warp_mm: float = 1.6,
    fine: float = 0.5,
) -> Array:
    """HU increase of reticulation: a warped net of thin lines (see the module docstring).

    ``cell_mm`` is the mean mesh size, ``line_mm`` the line width, ``line_hu`` the rise on a fully covered
    pixel, ``continuity`` the share of mesh edges drawn, ``warp_mm`` how wavy the lines are and ``fine`` the
    relative strength of a second net half the size (intralobular lines). The field is periodic (it tiles
    seamlessly), so a caller may read it through a wrapping window.
    """
    px = max(pixel_mm, 0.1)
    h, w = shape
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    warp = max(warp_mm, 0.0) / px
    if warp > 0:
        scale = max(cell_mm / px, 2.0)
        xx = xx + smooth_field(shape, rng, scale) * np.float32(warp)
        yy = yy + smooth_field(shape, rng, scale) * np.float32(warp)
    out = _voronoi_lines(xx, yy, rng, cell_mm / px, line_mm / px / 2.0, continuity)
    if fine > 0:
        lines = _voronoi_lines(xx, yy, rng, cell_mm / px / 2.0, line_mm / px / 2.6, continuity * 0.8)
        np.maximum(out, lines * np.float32(fine), out=out)
    vary = np.clip(np.float32(0.8) + np.float32(0.2) * smooth_field(shape, rng, 6.0 / px), 0.4, 1.0)
    return out * vary * np.float32(line_hu)


def _voronoi_lines(
    xx: Array, yy: Array, rng: np.random.Generator, cell: float, half_width: float, continuity: float
) -> Array:
    """Anti-aliased edges of a periodic jittered-grid Voronoi tessellation, a share ``continuity`` drawn.

    ``xx``, ``yy`` are the (possibly warped) pixel coordinates of a field of shape ``xx.shape``, which is
    also the period. Seeds sit one per grid cell with a jitter of up to 0.4 cell, so the two nearest seeds
    of a pixel are among the 3x3 cells around it.
    """
    h, w = xx.shape
    ny = max(3, round(h / max(cell, 2.0)))
    nx = max(3, round(w / max(cell, 2.0)))
    ch, cw = h / ny, w / nx
    sy = ((np.arange(ny)[:, None] + 0.5 + rng.uniform(-0.4, 0.4, (ny, nx))) * ch).astype(np.float32)
    sx = ((np.arange(nx)[None, :] + 0.5 + rng.uniform(-0.4, 0.4, (ny, nx))) * cw).astype(np.float32)
    gi = np.floor(yy / np.float32(ch)).astype(np.int32)
    gj = np.floor(xx / np.float32(cw)).astype(np.int32)
    best = np.full(xx.shape, np.inf, dtype=np.float32)
    second = np.full(xx.shape, np.inf, dtype=np.float32)
    b_id = np.zeros(xx.shape, dtype=np.int32)
    s_id = np.zeros(xx.shape, dtype=np.int32)
    hh, ww = np.float32(h), np.float32(w)
    for di in (-1, 0, 1):
        ii = np.mod(gi + di, ny)
        for dj in (-1, 0, 1):
            jj = np.mod(gj + dj, nx)
            ids = ii * nx + jj
            dy = yy - sy.ravel()[ids]
            dy -= hh * np.round(dy / hh)
            dx = xx - sx.ravel()[ids]
            dx -= ww * np.round(dx / ww)
            d2 = dx * dx + dy * dy
            closer = d2 < best
            s_id = np.where(closer, b_id, np.where(d2 < second, ids, s_id))
            b_id = np.where(closer, ids, b_id)
            np.minimum(second, np.maximum(best, d2), out=second)
            np.minimum(best, d2, out=best)
    dist = (np.sqrt(second) - np.sqrt(best)) * np.float32(0.5)  # about the distance to the cell edge
    lo = np.minimum(b_id, s_id).astype(np.int64)
    hi = np.maximum(b_id, s_id).astype(np.int64)
    key = (lo * 1_000_003 + hi * 7919 + int(rng.integers(1 << 30))) % 1_000_003
    shown = (key.astype(np.float32) / np.float32(1_000_003)) < np.float32(continuity)
    hw = np.float32(max(half_width, 0.05))
    cover = np.clip(np.minimum(dist + 0.5, hw) - np.maximum(dist - 0.5, -hw), 0.0, 1.0)
    return cover * shown


def fade_mask(mask: Array, width_px: float) -> Array:
    """Weight in [0, 1] that is 0 outside ``mask`` and rises to 1 over about ``width_px`` inside it."""
    from scipy.ndimage import distance_transform_edt

    m = np.asarray(mask, dtype=bool)
    if not m.any():
        return np.zeros(m.shape, dtype=np.float32)
    inside = distance_transform_edt(m).astype(np.float32)
    return np.clip(inside / np.float32(max(width_px, 1e-3)), 0.0, 1.0)


def apply_pattern(hu: Array, delta_hu: Array, weight: Array, *, spare_above_hu: float = -500.0) -> Array:
    """``hu`` plus ``delta_hu * weight`` on lung parenchyma, sparing vessels and other soft tissue.

    A pixel already at or above ``spare_above_hu`` (a vessel, a fissure, the chest wall) gets less of the
    change, and none from 200 HU above it: that keeps vessel margins visible through ground glass, as the
    definition of the pattern requires. Returns a new float32 array.
    """
    base = np.asarray(hu, dtype=np.float32)
    spare = np.clip((np.float32(spare_above_hu + 200.0) - base) / np.float32(200.0), 0.0, 1.0)
    return base + np.asarray(delta_hu, dtype=np.float32) * np.asarray(weight, dtype=np.float32) * spare
