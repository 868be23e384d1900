"""The bony thorax: ribs with costal cartilages, thoracic spine, sternum, scapulae and clavicles.

Ribs are curves on the chest wall. Rib k leaves its vertebra posteriorly and descends as it runs round the
chest (steepest laterally), so an axial slice cuts each rib over a short arc; a slice therefore shows a
series of oblique bony segments round the lung, longer posteriorly, with the costal cartilages (ribs 1-10)
continuing to the sternum and the lower ones rising towards it. The height of each rib along the wall is a
table over the angle from the posterior midline, computed once per patient; a slice only compares its
height with that table. Vertebrae alternate body (22-25 mm) and disc, with the canal, laminae, spinous and
transverse processes behind.
"""

from __future__ import annotations

import numpy as np

from ssc_core.imaging.phantom.anatomy import Anatomy
from ssc_core.imaging.phantom.mediastinum import CH_BONE, CH_MARROW
from ssc_core.imaging.phantom.shapes import capsule_sd, coverage, ellipse_sd, lerp_into, smoothstep
from ssc_core.imaging.phantom.thorax import Thorax
from ssc_core.imaging.phantom.tissues import TISSUE_HU
from ssc_core.imaging.phantom.tubes import SliceGrid, TubeSet

N_BINS = 1024
# per rib 1..12: drop from head to the costochondral junction (mm), angle of that junction and of the end
# (degrees from the posterior midline), and the rise of the cartilage towards the sternum (mm)
_RIB_DROP = np.array([26, 50, 66, 76, 84, 88, 90, 90, 86, 76, 52, 32], dtype=float)
_RIB_CC = np.array([150, 148, 146, 144, 142, 138, 134, 130, 128, 126, 999, 999], dtype=float)
_RIB_END = np.array([168, 168, 168, 168, 167, 166, 164, 158, 150, 144, 112, 92], dtype=float)
_RIB_RISE = np.array([0, 0, 0, 2, 6, 12, 18, 22, 20, 16, 0, 0], dtype=float)
_RIB_START = 14.0  # degrees: the rib head beside the vertebral body
RIB_HALF_HEIGHT = 5.0
RIB_THICKNESS = 6.0
CARTILAGE_HALF_HEIGHT = 6.0


class Skeleton:
    """Precomputed rib tables and the per-slice drawing of all bones except the clavicles (tubes)."""

    def __init__(self, anat: Anatomy, thorax: Thorax, grid: SliceGrid):
        self.a = anat
        self.thorax = thorax
        self.grid = grid
        x, y = grid.x[None, :], grid.y[:, None]
        psi_deg = np.degrees(np.arctan2(np.abs(x), y))  # 0 posterior midline, 180 anterior
        self.bin = np.minimum((psi_deg / 180.0 * N_BINS).astype(np.int16), N_BINS - 1)
        self.left = np.broadcast_to(x > 0, (grid.n, grid.n))
        psi = (np.arange(N_BINS) + 0.5) / N_BINS * 180.0
        sz = anat.extras["sz"]
        z_head = np.array([anat.vertebra_z(k) + 0.35 * anat.vert_period for k in range(1, 13)])
        zt = np.empty((2, 12, N_BINS))
        slope = np.empty((2, 12, N_BINS))
        cart = np.zeros((12, N_BINS), dtype=bool)
        valid = np.zeros((12, N_BINS), dtype=bool)
        wall_r = 0.5 * (anat.cavity_w + anat.cavity_d)
        rng = np.random.default_rng(np.random.SeedSequence([anat.seed, 0x51B5]))
        for k in range(12):
            cc = min(_RIB_CC[k], _RIB_END[k])
            t = np.clip((psi - _RIB_START) / (cc - _RIB_START), 0.0, 1.0)
            # descending from the head on, steepest laterally, flattening towards the cartilage
            z = z_head[k] - _RIB_DROP[k] * sz * (0.3 * t + 0.35 * (1.0 - np.cos(np.pi * t)))
            if _RIB_CC[k] < _RIB_END[k]:
                tc = np.clip((psi - cc) / (_RIB_END[k] - cc), 0.0, 1.0)
                z = z + _RIB_RISE[k] * sz * tc * tc * (3 - 2 * tc)
                cart[k] = psi > cc
            valid[k] = (psi >= _RIB_START) & (psi <= _RIB_END[k])
            for s in range(2):  # left and right ribs differ by a few mm
                zs = z + rng.normal(0.0, 1.5)
                zt[s, k] = zs
                slope[s, k] = np.abs(np.gradient(zs, np.radians(psi))) / wall_r
        self.z_table = zt
        self.slope = np.maximum(slope, 0.05)
        self.cartilage = cart
        self.valid = valid
        self.half = np.where(cart, CARTILAGE_HALF_HEIGHT, RIB_HALF_HEIGHT)
        self.z_manubrium = anat.vertebra_z(2.5)
        self.z_angle = anat.vertebra_z(4.6)  # manubriosternal joint, about the carina
        self.z_xiphoid = anat.vertebra_z(9.6)

    # --- ribs ---------------------------------------------------------------------------------------

    def rib_hu(
        self, z: float, px: float, outside: np.ndarray, hu: np.ndarray, roi: tuple[slice, slice]
    ) -> None:
        """Draw the ribs and cartilages cut by the slice at ``z`` into ``hu`` (both the ``roi`` of the grid).

        ``outside`` is the distance (mm) outside the thoracic cavity; ribs lie 1-7 mm outside it.
        """
        cols = np.arange(N_BINS)
        best_cov = np.zeros((2, N_BINS), dtype=np.float32)
        best_edge = np.zeros((2, N_BINS), dtype=np.float32)
        best_cart = np.zeros((2, N_BINS), dtype=bool)
        for s in range(2):
            margin = (self.half - np.abs(z - self.z_table[s])) / self.slope[s]  # mm along the wall to an edge
            margin = np.where(self.valid, margin, -1e3)
            k = np.argmax(margin, axis=0)
            m = margin[k, cols]
            best_cov[s] = np.clip(m / px + 0.5, 0.0, 1.0)
            best_edge[s] = m
            best_cart[s] = self.cartilage[k, cols]
        if not best_cov.any():
            return
        ring = (outside > np.float32(0.4)) & (outside < np.float32(RIB_THICKNESS + 1.6))
        o = outside[ring]
        b = self.bin[roi][ring]
        side = self.left[roi][ring].astype(np.int8)
        ring_in = o - np.float32(1.0)
        ring_out = np.float32(1.0 + RIB_THICKNESS) - o
        cov = best_cov[side, b] * coverage(ring_in, px) * coverage(ring_out, px)
        edge = np.minimum(np.minimum(ring_in, ring_out), best_edge[side, b])
        cart = best_cart[side, b]
        t = TISSUE_HU
        calc = np.float32(self.a.extras["cartilage_calc"])
        marrow = np.where(cart, np.float32(t.cartilage), np.float32(t.marrow))
        cortex = np.where(
            cart, np.float32(t.cartilage) + calc * np.float32(220.0), np.float32(t.cortical_bone)
        )
        value = marrow + (cortex - marrow) * (np.float32(1.0) - smoothstep(0.6, 1.6, edge))
        h = hu[ring]
        h += (value - h) * cov
        hu[ring] = h

    # --- spine --------------------------------------------------------------------------------------

    def spine_hu(self, z: float, px: float, hu: np.ndarray) -> None:
        """Vertebral body or disc, canal and cord, laminae, spinous and transverse processes."""
        a = self.a
        t = TISSUE_HU
        r = float(a.vb_radius_at(z))
        canal_y = a.vb_y + r * 0.92 + 8.0
        rows, cols = self.grid.roi(-r - 26.0, r + 26.0, a.vb_y - r - 3.0, canal_y + 34.0)
        x, y = self.grid.x[None, cols], self.grid.y[rows, None]
        h = hu[rows, cols]
        u = (z - a.z_disc45) / a.vert_period
        e = abs(u - round(u)) * a.vert_period  # mm to the nearest disc centre
        sd = ellipse_sd(x, y, 0.0, a.vb_y, r * 1.08, r * 0.92)
        cov = coverage(sd, px)
        if e < 2.2:
            lerp_into(h, t.disc, cov)
        else:
            plate = 1.0 - float(smoothstep(2.6, 4.2, e))
            inner = t.marrow + (t.cortical_bone - t.marrow) * plate
            value = inner + (t.cortical_bone - inner) * (np.float32(1.0) - smoothstep(0.8, 2.0, sd))
            lerp_into(h, value, cov)
        frac = u - np.floor(u)  # position within the vertebra
        arch = coverage(ellipse_sd(x, y, 0.0, canal_y + 1.0, 12.5, 11.5), px)
        arch *= coverage(y - np.float32(canal_y - 5.0), px)
        spinous = capsule_sd(x, y, 0.0, canal_y + 8.0, 0.0, canal_y + 28.0, 3.4)
        bone = np.maximum(arch, coverage(spinous, px))
        if 0.1 < frac < 0.7:  # pedicles and transverse processes in the upper part of each vertebra
            for sgn in (-1.0, 1.0):
                tp = capsule_sd(x, y, sgn * 9.0, canal_y - 1.0, sgn * (r + 10.0), canal_y + 9.0, 4.4)
                bone = np.maximum(bone, coverage(tp, px))
                ped = capsule_sd(x, y, sgn * 8.5, a.vb_y + r * 0.5, sgn * 8.5, canal_y, 3.6)
                bone = np.maximum(bone, coverage(ped, px))
        lerp_into(h, np.float32(t.cortical_bone * 0.55 + t.marrow * 0.45), bone)
        lerp_into(h, t.csf, coverage(ellipse_sd(x, y, 0.0, canal_y, 7.5, 7.0), px))
        lerp_into(h, t.cord, coverage(ellipse_sd(x, y, 0.0, canal_y, 4.5, 4.0), px))

    # --- sternum and scapulae -----------------------------------------------------------------------

    def sternum_hu(self, z: float, px: float, hu: np.ndarray) -> None:
        if not self.z_xiphoid - 10.0 < z < self.z_manubrium:
            return
        t = TISSUE_HU
        _, d, cy = self.thorax.cavity_size(z)
        if z > self.z_angle:
            half_w, half_t = 24.0, 7.0
        elif z > self.z_xiphoid + 20.0:
            half_w, half_t = 14.0, 6.0
        else:
            half_w, half_t = 7.0 + 7.0 * max(0.0, (z - self.z_xiphoid) / 20.0), 4.0
        yc = float(cy - d) - self.a.wall * 0.45
        rows, cols = self.grid.roi(-half_w - 2.0, half_w + 2.0, yc - half_t - 2.0, yc + half_t + 2.0)
        x, y = self.grid.x[None, cols], self.grid.y[rows, None]
        sd = ellipse_sd(x, y, 0.0, yc, half_w, half_t)
        value = t.marrow + (t.cortical_bone - t.marrow) * (np.float32(1.0) - smoothstep(0.6, 1.6, sd))
        lerp_into(hu[rows, cols], value, coverage(sd, px))

    def scapula_hu(
        self, z: float, px: float, outside: np.ndarray, hu: np.ndarray, roi: tuple[slice, slice]
    ) -> None:
        """The scapular blades in the posterior chest wall, thicker at their lateral border."""
        a = self.a
        z_inf = a.vertebra_z(7.6)
        if z < z_inf:
            return
        t = float(smoothstep(z_inf, z_inf + 70.0, z))
        lo = 44.0 - 10.0 * t + 100.0 * a.extras["scapula_phase"]
        hi = 48.0 + 26.0 * t + 100.0 * a.extras["scapula_phase"]
        b0, b1 = (np.array([lo, hi]) / 180.0 * N_BINS).astype(int)
        pos = np.float32(a.wall + 13.0)
        band = (outside > pos - 1.0) & (outside < pos + 8.0)
        b = self.bin[roi][band]
        sel = (b >= b0) & (b <= b1)
        if not sel.any():
            return
        lateral = np.clip((b - b0) / max(b1 - b0, 1), 0.0, 1.0).astype(np.float32)
        thick = np.float32(1.8) + np.float32(4.5) * lateral**4
        cov = line_coverage_band(outside[band] - pos - thick / 2, thick / 2, px) * sel
        value = np.float32(TISSUE_HU.cortical_bone * 0.7 + TISSUE_HU.marrow * 0.3)
        h = hu[band]
        h += (value - h) * cov
        hu[band] = h


def line_coverage_band(dist: np.ndarray, half: np.ndarray, px: float) -> np.ndarray:
    """Coverage of a band of half-width ``half`` at signed offset ``dist`` from its middle."""
    d = np.abs(dist)
    h = np.float32(px / 2.0)
    hi = np.minimum(d + h, half)
    lo = np.maximum(d - h, -half)
    return np.clip((hi - lo) / np.float32(px), 0.0, 1.0)


def clavicle_tubes(anat: Anatomy, thorax: Thorax, z_manubrium: float) -> TubeSet:
    """The clavicles: from the sternoclavicular joints out and slightly up (arms raised) to the shoulders."""
    _, d, cy = thorax.cavity_size(z_manubrium)
    y0 = float(cy - d) - anat.wall
    w = anat.body_w
    out = []
    for sgn in (-1.0, 1.0):
        pts = [
            [sgn * 16.0, y0 + 2.0, z_manubrium + 2.0],
            [sgn * w * 0.4, y0 - 2.0, z_manubrium + 10.0],
            [sgn * w * 0.72, y0 + 30.0, z_manubrium + 26.0],
        ]
        t = TubeSet.curve(pts, [7.0, 5.5, 6.0], CH_BONE, n=12)
        out += [t, t.with_channel(CH_MARROW, grow=-1.6)]
    return TubeSet.concat(out)
