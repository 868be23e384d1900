"""Slice composer: paints one axial slice of the phantom, tissue over tissue, in Hounsfield units.

Order (each a partial-volume blend over what is below it): table and mattress; skin, subcutaneous fat and
muscle; scapulae, extrapleural fat and ribs; the cavity filled with mediastinal fat; abdominal organs below
the diaphragm; heart, left atrium and mediastinal tubes; the lungs (parenchyma with its texture, fissures and
disease) and in them the vessels and bronchi; spine, sternum and clavicles; CT noise. Vessels are blended
after the disease, so ground glass leaves them intact.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ssc_core.imaging import textures
from ssc_core.imaging.phantom.anatomy import Anatomy
from ssc_core.imaging.phantom.disease import DiseaseField
from ssc_core.imaging.phantom.lungs import Lungs
from ssc_core.imaging.phantom.mediastinum import (
    CH_AIRWAY_LUMEN,
    CH_AIRWAY_WALL,
    CH_BONE,
    CH_EXCLUDE,
    CH_LUNG_AIRWAY_LUMEN,
    CH_LUNG_AIRWAY_WALL,
    CH_LUNG_VESSEL,
    CH_MARROW,
    CH_SOFT,
    N_CHANNELS,
    Mediastinum,
)
from ssc_core.imaging.phantom.shapes import Ellipsoid, coverage, lerp_into, smoothstep
from ssc_core.imaging.phantom.skeleton import Skeleton
from ssc_core.imaging.phantom.thorax import Thorax
from ssc_core.imaging.phantom.tissues import TISSUE_HU
from ssc_core.imaging.phantom.tubes import SliceGrid, TubeRasteriser


@dataclass(frozen=True)
class SliceResult:
    hu: np.ndarray  # float32 (n, n)
    lung: np.ndarray  # bool
    gg: np.ndarray | None
    ret: np.ndarray | None
    percent: tuple[float, float, float]  # TOT, GG, RET of the lung area


class SliceComposer:
    """Everything needed to paint any slice of one phantom (built once, then :meth:`compose` per slice)."""

    def __init__(
        self,
        anat: Anatomy,
        thorax: Thorax,
        med: Mediastinum,
        lungs: Lungs,
        skeleton: Skeleton,
        raster: TubeRasteriser,
        grid: SliceGrid,
        thickness: float,
        disease: DiseaseField | None,
        n_slices: int,
        hull_raster: TubeRasteriser | None = None,
    ):
        self.a = anat
        self.thorax = thorax
        self.med = med
        self.lungs = lungs
        self.skeleton = skeleton
        self.raster = raster
        self.grid = grid
        self.thickness = thickness
        self.disease = disease
        if disease is not None:
            disease.set_grid(grid.x, grid.y)
        n = grid.n
        self.tube_cov = np.zeros((N_CHANNELS, n, n), dtype=np.float32)
        rng = np.random.default_rng(np.random.SeedSequence([anat.seed, 0x7E47]))
        # periodic n x n fields, stored wrapped to 2n x 2n so that any window is a view
        tile = (n, n)
        self.noise = _wrap2(textures.ct_noise(tile, rng, anat.noise_hu, grain_px=0.55 * 0.7 / grid.px))
        self.lung_tex = _wrap2(textures.parenchyma_texture(tile, rng, pixel_mm=grid.px))
        self.fat_tex = _wrap2(textures.smooth_field(tile, rng, 3.0 / grid.px) * np.float32(8.0))
        self.noise_offsets = rng.integers(0, n, (n_slices, 2))
        self._drift = rng.uniform(-1.0, 1.0, 2)
        a = anat
        self.stomach = Ellipsoid(
            tuple(med.stomach_centre),
            (a.cavity_w * 0.3 * a.extras["stomach_size"], a.cavity_d * 0.42, 46.0),
            np.eye(3),
        )
        self.spleen = Ellipsoid(
            (a.cavity_w * 0.72, a.cavity_d * 0.45, a.z_dome_l - 42.0),
            (a.cavity_w * 0.2, a.cavity_d * 0.4, 46.0),
            np.eye(3),
        )
        # the mediastinal envelope is worked out on a grid of about 2.5 mm
        self.hull_raster = hull_raster
        self.hull_grid = hull_raster.grid if hull_raster is not None else grid
        self.hull_cov = np.zeros((1, self.hull_grid.n, self.hull_grid.n), dtype=np.float32)
        # the subcutaneous fat thickness depends only on the direction from the body centre
        gx, gy = grid.x[None, :], grid.y[:, None]
        self.fat_thickness = thorax.fat_thickness(gx, gy, np.sqrt(gx * gx + gy * gy))
        self.base = np.full((n, n), TISSUE_HU.air, dtype=np.float32)
        self._table(self.base)

    def _window(
        self, tile: np.ndarray, oy: int, ox: int, rows: slice | None = None, cols: slice | None = None
    ) -> np.ndarray:
        n = self.grid.n
        w = tile[oy : oy + n, ox : ox + n]
        if rows is not None and cols is not None:
            w = w[rows, cols]
        return w

    def compose(self, k: int, z: float) -> SliceResult:
        """Paint slice ``k`` at phantom height ``z``."""
        a, t = self.a, TISSUE_HU
        g = self.grid
        px, thk = g.px, self.thickness
        th = self.thorax
        cov = self.tube_cov
        cov.fill(0.0)
        drawn = self.raster.render(k, cov)
        hu = self.base.copy()
        # --- body wall (inside the body's bounding box) --------------------------------------------------
        w, d, cy = (float(v) for v in th.cavity_size(z))
        half_w = th.body_half_width(z)
        rb, cb = g.roi(-half_w - 2.0, half_w + 2.0, cy - d - 60.0, a.body_post + 2.0)
        xb, yb = g.x[None, cb], g.y[rb, None]
        hb = hu[rb, cb]
        sd_body = th.body_sd(xb, yb, z)
        lerp_into(hb, t.skin, coverage(sd_body, px))
        lerp_into(hb, t.fat + self._window(self.fat_tex, 0, 0, rb, cb), coverage(sd_body - 1.6, px))
        lerp_into(hb, t.muscle, coverage(sd_body - self.fat_thickness[rb, cb], px))
        sd_cav_b = th.cavity_sd(xb, yb, z)
        outside = -sd_cav_b
        self.skeleton.scapula_hu(z, px, outside, hb, (rb, cb))
        lerp_into(hb, t.fat, coverage(sd_cav_b + 1.4, px))
        self.skeleton.rib_hu(z, px, outside, hb, (rb, cb))
        # --- inside the cavity's bounding box -----------------------------------------------------------
        rc, cc = g.roi(-w - 3.0, w + 3.0, cy - d - 3.0, a.cavity_d + 3.0)
        x, y = g.x[None, cc], g.y[rc, None]
        hc = hu[rc, cc]
        sd_cav = sd_cav_b[rc.start - rb.start : rc.stop - rb.start, cc.start - cb.start : cc.stop - cb.start]
        c_cav = coverage(sd_cav, px)
        lerp_into(hc, t.mediastinal_fat + np.float32(0.5) * self._window(self.fat_tex, 7, 3, rc, cc), c_cav)
        above_r, above_l = self.lungs.above_dome(x, y, z, thk)
        # the diaphragm is the higher of the two dome surfaces: above it = above both
        above = np.minimum(above_r, above_l)
        if z < max(a.z_dome_r, a.z_dome_l) + thk:
            self._abdomen(hc, x, y, z, c_cav * (np.float32(1.0) - above))
        for part in self.med.heart_parts:
            if part.in_slice(z, 2.0):
                lerp_into(hc, t.blood, coverage(part.sd(x, y, z), px) * above)
        for ch, value in ((CH_SOFT, t.blood), (CH_AIRWAY_WALL, t.airway_wall), (CH_AIRWAY_LUMEN, t.air)):
            if drawn[ch]:
                lerp_into(hb, value, cov[ch][rb, cb])
        # --- lungs ----------------------------------------------------------------------------------------
        exclude = np.maximum(cov[CH_EXCLUDE][rc, cc], self._mediastinal_envelope(k, z, w, d, cy, x, y))
        lung = self.lungs.slice_coverage(x, y, z, px, sd_cav, exclude, (above_r, above_l))
        lung_c = lung >= 0.5
        paren = self._parenchyma(z, x, y, rc, cc)
        gg = ret = None
        pct = (0.0, 0.0, 0.0)
        if self.disease is not None:
            gg_c, ret_c, add, pct = self.disease.slice(z, x, y, rc, cc, lung_c, sd_cav)
            paren += add
            gg = np.zeros((g.n, g.n), dtype=bool)
            ret = np.zeros((g.n, g.n), dtype=bool)
            gg[rc, cc] = gg_c
            ret[rc, cc] = ret_c
        lerp_into(hc, paren, lung)
        for ch, value in (
            (CH_LUNG_VESSEL, t.blood),
            (CH_LUNG_AIRWAY_WALL, t.airway_wall),
            (CH_LUNG_AIRWAY_LUMEN, t.air),
        ):
            if drawn[ch]:
                lerp_into(hc, value, cov[ch][rc, cc] * lung)
        # --- bones ----------------------------------------------------------------------------------------
        self.skeleton.spine_hu(z, px, hu)
        self.skeleton.sternum_hu(z, px, hu)
        for ch, value in ((CH_BONE, t.cortical_bone), (CH_MARROW, t.marrow)):
            if drawn[ch]:
                lerp_into(hb, value, cov[ch][rb, cb])
        oy, ox = self.noise_offsets[k]
        hu += self._window(self.noise, int(oy), int(ox))
        lung_mask = np.zeros((g.n, g.n), dtype=bool)
        lung_mask[rc, cc] = lung_c
        return SliceResult(hu, lung_mask, gg, ret, pct)

    def _mediastinal_envelope(
        self, k: int, z: float, w: float, d: float, cy: float, x: np.ndarray, y: np.ndarray
    ) -> np.ndarray:
        """The closed envelope of the central mediastinal structures and the heart (coarse grid)."""
        g = self.hull_grid
        self.hull_cov.fill(0.0)
        if self.hull_raster is not None:
            self.hull_raster.render(k, self.hull_cov)
        rows, cols = g.roi(-w - 15.0, w + 15.0, cy - d - 15.0, self.a.cavity_d + 15.0)
        xc, yc = g.x[cols], g.y[rows]
        hull = self.hull_cov[0][rows, cols]
        if any(part.in_slice(z, m) for part, m in zip(self.med.heart_parts, self.med.heart_margins)):
            above = np.minimum(*self.lungs.above_dome(xc[None, :], yc[:, None], z, self.thickness))
            for part, margin in zip(self.med.heart_parts, self.med.heart_margins):
                if part.in_slice(z, margin):
                    sd = part.sd(xc[None, :], yc[:, None], z) + np.float32(margin)
                    np.maximum(hull, coverage(sd, g.px) * above, out=hull)
        return closed_envelope(hull, xc, yc, x.ravel(), y.ravel(), radius_mm=13.0)

    def _parenchyma(self, z: float, x: np.ndarray, y: np.ndarray, rows: slice, cols: slice) -> np.ndarray:
        a = self.a
        d = np.float32(a.cavity_d)
        dep = np.clip((y + d) / (np.float32(2.0) * d), 0.0, 1.0)
        base = np.float32(a.lung_hu) + np.float32(a.lung_gradient_hu) * dep * dep
        base = base + np.float32(15.0) * smoothstep(a.z_confluence, a.z_dome_r, z)
        n = self.grid.n
        ox = int(n / 2 + self._drift[0] * 0.6 * z / self.grid.px) % n
        oy = int(n / 2 + self._drift[1] * 0.6 * z / self.grid.px) % n
        paren = base + self._window(self.lung_tex, oy, ox, rows, cols)
        paren += self.lungs.fissure_hu(x, y, z, self.thickness, self.grid.px)
        return paren

    def _table(self, hu: np.ndarray) -> None:
        a, t = self.a, TISSUE_HU
        x, y, px = self.grid.x[None, :], self.grid.y[:, None], self.grid.px
        y0 = np.float32(a.body_post + a.extras["table_gap"]) + np.float32(0.0009) * x * x
        lerp_into(hu, t.pad, coverage(np.minimum(y - y0, y0 + 7.0 - y), px))
        shell = np.minimum(y - y0 - 9.0, y0 + 13.0 - y)
        lerp_into(hu, t.table, coverage(shell, px) * coverage(np.float32(230.0) - np.abs(x), px))

    def _abdomen(self, hu: np.ndarray, x: np.ndarray, y: np.ndarray, z: float, weight: np.ndarray) -> None:
        """Liver under the right dome (its left lobe across the midline in front), stomach, spleen."""
        a, t = self.a, TISSUE_HU
        px = self.grid.px
        lerp_into(hu, np.float32(-40.0), weight)
        w, d = np.float32(a.cavity_w), np.float32(a.cavity_d)
        edge = -np.float32(0.12) * w + np.float32(0.55) * w * smoothstep(0.25 * d, -0.75 * d, y)
        lerp_into(hu, np.float32(a.extras["liver_hu"]), coverage(edge - x, px) * weight)
        if self.spleen.in_slice(z):
            lerp_into(hu, t.spleen, coverage(self.spleen.sd(x, y, z), px) * weight)
        if self.stomach.in_slice(z, 4.0):
            wall = coverage(self.stomach.sd(x, y, z) + 3.0, px) * weight
            lerp_into(hu, t.stomach_wall, wall)
            inner = coverage(self.stomach.sd(x, y, z), px) * weight
            lerp_into(hu, t.stomach_content, inner)
            sc = self.stomach.centre
            gas_y = np.float32(sc[1] - self.stomach.axes[1] * (1.0 - 2.0 * a.extras["stomach_gas"]))
            lerp_into(hu, t.air, inner * coverage(gas_y - y, px))


def _wrap2(tile: np.ndarray) -> np.ndarray:
    """A periodic tile repeated to twice its size (windows of the tile's size at any offset are views)."""
    return np.pad(tile, ((0, tile.shape[0]), (0, tile.shape[1])), mode="wrap")


def closed_envelope(
    coarse: np.ndarray, cx: np.ndarray, cy: np.ndarray, x: np.ndarray, y: np.ndarray, radius_mm: float
) -> np.ndarray:
    """Soft mask, at pixel centres ``x`` (1-D) by ``y`` (1-D), of the closing of ``coarse > 0.4``.

    ``coarse`` is a coverage on a coarse grid (cell centres ``cx``, ``cy``, uniform); the closing with a
    disc of ``radius_mm`` fills the fat between neighbouring mediastinal structures, so the mediastinal
    contour runs from one to the next as on CT instead of the lung dipping between them. The result is
    smoothed and interpolated bilinearly to the pixels, with a steep ramp round 0.5 for a sharp edge.
    """
    from scipy.ndimage import binary_closing, gaussian_filter

    out_shape = (y.size, x.size)
    mask = coarse > 0.4
    if 0 in out_shape or not mask.any():
        return np.zeros(out_shape, dtype=np.float32)
    cell = float(cx[1] - cx[0]) if cx.size > 1 else 1.0
    r = max(1, round(float(radius_mm / cell)))
    yy, xx = np.mgrid[-r : r + 1, -r : r + 1]
    disc = xx * xx + yy * yy <= r * r
    # close only round the structures (their bounding box plus the disc), not the whole cavity
    rows = np.flatnonzero(mask.any(axis=1))
    cols = np.flatnonzero(mask.any(axis=0))
    r0, r1 = max(rows[0] - r - 1, 0), min(rows[-1] + r + 2, mask.shape[0])
    c0, c1 = max(cols[0] - r - 1, 0), min(cols[-1] + r + 2, mask.shape[1])
    big = np.pad(mask[r0:r1, c0:c1], r + 1)
    closed = np.zeros(mask.shape, dtype=np.float32)
    closed[r0:r1, c0:c1] = binary_closing(big, structure=disc)[r + 1 : -r - 1, r + 1 : -r - 1]
    closed = gaussian_filter(closed, 0.8, mode="nearest")  # round off the staircase of the coarse grid
    ny, nx = closed.shape
    iy = np.clip((y - cy[0]) / cell, 0.0, ny - 1.0)
    ix = np.clip((x - cx[0]) / cell, 0.0, nx - 1.0)
    y0 = np.minimum(iy.astype(int), max(ny - 2, 0))
    x0 = np.minimum(ix.astype(int), max(nx - 2, 0))
    y1 = np.minimum(y0 + 1, ny - 1)
    x1 = np.minimum(x0 + 1, nx - 1)
    ty = (iy - y0).astype(np.float32)[:, None]
    tx = (ix - x0).astype(np.float32)[None, :]
    rows0, rows1 = closed[y0], closed[y1]
    top = rows0[:, x0] * (1 - tx) + rows0[:, x1] * tx
    bottom = rows1[:, x0] * (1 - tx) + rows1[:, x1] * tx
    v = top * (1 - ty) + bottom * ty
    ramp = np.float32(cell / max(float(x[1] - x[0]) if x.size > 1 else cell, 1e-6))
    out = (v - np.float32(0.5)) * ramp + np.float32(0.5)
    np.clip(out, 0.0, 1.0, out=out)
    return out
