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
    CH_HULL,
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


@dataclass
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
        big = (2 * n, 2 * n)
        self.noise = textures.ct_noise(big, rng, anat.noise_hu, grain_px=0.55 * 0.7 / grid.px)
        self.lung_tex = textures.parenchyma_texture(big, rng, pixel_mm=grid.px)
        self.fat_tex = textures.smooth_field(big, rng, 3.0 / grid.px) * np.float32(8.0)
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
        self.raster.render(k, cov)
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
        rr = np.sqrt(xb * xb + yb * yb)
        lerp_into(hb, t.muscle, coverage(sd_body - th.fat_thickness(xb, yb, rr), px))
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
        lerp_into(hb, t.blood, cov[CH_SOFT][rb, cb])
        lerp_into(hb, t.airway_wall, cov[CH_AIRWAY_WALL][rb, cb])
        lerp_into(hb, t.air, cov[CH_AIRWAY_LUMEN][rb, cb])
        # --- lungs ----------------------------------------------------------------------------------------
        hull = cov[CH_HULL][rc, cc].copy()
        for part, margin in zip(self.med.heart_parts, self.med.heart_margins):
            if part.in_slice(z, margin):
                np.maximum(hull, coverage(part.sd(x, y, z) + np.float32(margin), px) * above, out=hull)
        exclude = np.maximum(cov[CH_EXCLUDE][rc, cc], closed_envelope(hull, px, radius_mm=9.0))
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
        lerp_into(hc, t.blood, cov[CH_LUNG_VESSEL][rc, cc] * lung)
        lerp_into(hc, t.airway_wall, cov[CH_LUNG_AIRWAY_WALL][rc, cc] * lung)
        lerp_into(hc, t.air, cov[CH_LUNG_AIRWAY_LUMEN][rc, cc] * lung)
        # --- bones ----------------------------------------------------------------------------------------
        self.skeleton.spine_hu(z, px, hu)
        self.skeleton.sternum_hu(z, px, hu)
        lerp_into(hb, t.cortical_bone, cov[CH_BONE][rb, cb])
        lerp_into(hb, t.marrow, cov[CH_MARROW][rb, cb])
        oy, ox = self.noise_offsets[k]
        hu += self._window(self.noise, int(oy), int(ox))
        lung_mask = np.zeros((g.n, g.n), dtype=bool)
        lung_mask[rc, cc] = lung_c
        return SliceResult(hu, lung_mask, gg, ret, pct)

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


def closed_envelope(cov: np.ndarray, px: float, radius_mm: float, cell_mm: float = 2.5) -> np.ndarray:
    """Soft mask of the morphological closing of ``cov > 0.4`` with a disc of ``radius_mm``.

    Fills the fat between neighbouring mediastinal structures (the mediastinal contour runs from one to the
    next as on CT, instead of the lung dipping between them). Done on a grid of about ``cell_mm`` and
    interpolated back, so it costs well under a millisecond per slice.
    """
    from scipy.ndimage import binary_closing, gaussian_filter

    h, w = cov.shape
    if h == 0 or w == 0 or not (cov > 0.4).any():
        return np.zeros_like(cov)
    f = max(1, round(float(cell_mm / px)))
    hp, wp = -(-h // f) * f, -(-w // f) * f
    padded = np.zeros((hp, wp), dtype=np.float32)
    padded[:h, :w] = cov
    small = padded.reshape(hp // f, f, wp // f, f).max(axis=(1, 3)) > 0.4
    r = max(1, round(float(radius_mm / (f * px))))
    yy, xx = np.mgrid[-r : r + 1, -r : r + 1]
    disc = xx * xx + yy * yy <= r * r
    big = np.pad(small, r + 1)
    closed = binary_closing(big, structure=disc)[r + 1 : -r - 1, r + 1 : -r - 1].astype(np.float32)
    closed = gaussian_filter(closed, 0.8, mode="nearest")  # round off the staircase of the coarse grid
    # bilinear back to the pixel grid, then a steep ramp round 0.5 for a smooth, sharp edge
    iy = np.clip((np.arange(h) + 0.5) / f - 0.5, 0.0, closed.shape[0] - 1.0)
    ix = np.clip((np.arange(w) + 0.5) / f - 0.5, 0.0, closed.shape[1] - 1.0)
    y0 = np.minimum(iy.astype(int), closed.shape[0] - 2) if closed.shape[0] > 1 else np.zeros(h, int)
    x0 = np.minimum(ix.astype(int), closed.shape[1] - 2) if closed.shape[1] > 1 else np.zeros(w, int)
    ty = (iy - y0).astype(np.float32)[:, None]
    tx = (ix - x0).astype(np.float32)[None, :]
    y1 = np.minimum(y0 + 1, closed.shape[0] - 1)
    x1 = np.minimum(x0 + 1, closed.shape[1] - 1)
    rows0, rows1 = closed[y0], closed[y1]
    top = rows0[:, x0] * (1 - tx) + rows0[:, x1] * tx
    bottom = rows1[:, x0] * (1 - tx) + rows1[:, x1] * tx
    v = top * (1 - ty) + bottom * ty
    out = (v - np.float32(0.5)) * np.float32(f) + np.float32(0.5)
    np.clip(out, 0.0, 1.0, out=out)
    return np.maximum(out, cov)
