"""Body wall, thoracic cavity, diaphragm and lung envelopes as smooth z-dependent 2-D shapes.

Every function takes ``x``, ``y`` (mm, phantom frame; broadcastable) and ``z`` (a scalar for a slice, or an
array for point sets) and returns a signed distance in mm (positive inside) or a height. Shapes are
blends of an ellipse and a rounded square (a "superellipse" of degree 2..4) whose size follows knots tied to
the patient's landmarks, interpolated with a C1 smoothstep so that coronal reformats show no kinks.
"""

from __future__ import annotations

import numpy as np

from ssc_core.imaging.phantom.anatomy import Anatomy

Array = np.ndarray


def smooth_interp(z: Array | float, knots: Array, values: Array) -> Array:
    """C1 interpolation through (knot, value) pairs (knots ascending), constant outside."""
    zk = np.asarray(knots, dtype=np.float64)
    vk = np.asarray(values, dtype=np.float64)
    za = np.asarray(z, dtype=np.float64)
    i = np.clip(np.searchsorted(zk, za) - 1, 0, zk.size - 2)
    t = np.clip((za - zk[i]) / (zk[i + 1] - zk[i]), 0.0, 1.0)
    h = t * t * (3.0 - 2.0 * t)
    return vk[i] + (vk[i + 1] - vk[i]) * h


def superellipse_sd(x: Array, y: Array, cx: Array | float, cy: Array | float, a, b, square) -> Array:
    """Signed radial distance (mm, positive inside) to a blend of an ellipse and a rounded square.

    ``square`` in [0, 1] blends the degree-2 and degree-4 norms; both are homogeneous of degree one, so the
    boundary along the ray from the centre lies at ``r / g`` and the radial distance is ``(1 - g) r / g``.
    """
    dx = x - np.asarray(cx, dtype=np.float32)
    dy = y - np.asarray(cy, dtype=np.float32)
    u = dx / np.asarray(a, dtype=np.float32)
    v = dy / np.asarray(b, dtype=np.float32)
    u2, v2 = u * u, v * v
    g2 = np.sqrt(u2 + v2)
    g4 = np.sqrt(np.sqrt(u2 * u2 + v2 * v2))
    sq = np.asarray(square, dtype=np.float32)
    g = g2 + sq * (g4 - g2)
    r = np.sqrt(dx * dx + dy * dy)
    big = np.asarray(np.minimum(a, b), dtype=np.float32)
    radius = np.where(g > 1e-3, r / np.maximum(g, np.float32(1e-3)), big)
    return (np.float32(1.0) - g) * radius


class Thorax:
    """The z-dependent outline shapes of one patient."""

    def __init__(self, anat: Anatomy):
        self.a = anat
        za = anat
        apex = max(za.z_apex_r, za.z_apex_l)
        # knots ascending in z (caudal -> cranial): (z, cavity half-width factor, half-depth factor)
        kz = [
            za.z_bottom - 20,
            za.z_dome_r,
            za.z_confluence,
            0.0,
            za.z_arch_top,
            apex - 25.0,
            apex,
            za.z_top + 20,
        ]
        self._cav_z = np.array(kz)
        self._cav_w = np.array([0.99, 1.0, 0.96, 0.9, 0.83, 0.7, 0.55, 0.45])
        self._cav_d = np.array([1.0, 1.0, 0.97, 0.91, 0.84, 0.74, 0.62, 0.55])
        # pectoral muscle: thick over the upper chest, thin over the lower ribs
        self._pec = np.array([0.2, 0.3, 0.7, 1.0, 1.0, 1.0, 0.9, 0.8]) * za.muscle_pec
        # shoulder girdle widens the body near the top (arms raised above the head)
        self._shoulder = np.array([0.0, 0.0, 0.0, 0.0, 4.0, 14.0, 24.0, 30.0])

    # --- cavity -------------------------------------------------------------------------------------

    def cavity_size(self, z: Array | float) -> tuple[Array, Array, Array]:
        """(half-width, half-depth, centre y) of the thoracic cavity at height ``z``."""
        a = self.a
        w = smooth_interp(z, self._cav_z, self._cav_w) * a.cavity_w
        d = smooth_interp(z, self._cav_z, self._cav_d) * a.cavity_d
        # the back (spine, posterior ribs) stays put; the cavity shrinks from the front towards the top
        cy = a.cavity_d - d
        return w, d, cy

    def cavity_sd(self, x: Array, y: Array, z: Array | float) -> Array:
        """Inside the ribs, less the vertebral column and the paravertebral block behind its front."""
        w, d, cy = self.cavity_size(z)
        # kidney-shaped: squarer at the back (the paravertebral gutters), rounder in front
        sq = np.float32(self.a.cavity_square)
        square = np.where(y > np.asarray(cy, dtype=np.float32), sq + np.float32(0.3), sq * np.float32(0.5))
        sd = superellipse_sd(x, y, 0.0, cy, w, d, square)
        return np.minimum(sd, -self.spine_block_sd(x, y, z))

    def spine_block_sd(self, x: Array, y: Array, z: Array | float) -> Array:
        """The vertebral body with a few mm of paravertebral tissue, continued backwards (positive inside)."""
        a = self.a
        r = np.asarray(a.vb_radius_at(z), dtype=np.float32) + np.float32(3.0)
        dx = x
        dy = np.maximum(y - np.float32(a.vb_y), np.float32(0.0)) * np.float32(0.35) + np.minimum(
            y - np.float32(a.vb_y), np.float32(0.0)
        )
        return r - np.sqrt(dx * dx + dy * dy)

    # --- body wall ----------------------------------------------------------------------------------

    def body_half_width(self, z: float) -> float:
        a = self.a
        w = float(smooth_interp(z, self._cav_z, self._cav_w)) * a.cavity_w
        return w + a.wall + a.muscle_lat + a.fat + float(smooth_interp(z, self._cav_z, self._shoulder))

    def body_sd(self, x: Array, y: Array, z: Array | float) -> Array:
        """Signed distance to the skin: the cavity plus wall, muscle and fat, with a flat back."""
        a = self.a
        w, d, cy = self.cavity_size(z)
        pec = smooth_interp(z, self._cav_z, self._pec)
        sh = smooth_interp(z, self._cav_z, self._shoulder)
        half_w = w + a.wall + a.muscle_lat + a.fat + sh
        y_ant = cy - d - a.wall - pec - a.fat * a.extras["fat_ant_factor"]
        y_post = a.body_post
        cyb = (y_ant + y_post) / 2.0
        half_d = (y_post - y_ant) / 2.0
        # flat back (supine on the table), rounder front
        square = np.where(y > cyb, np.float32(0.75), np.float32(0.25))
        return superellipse_sd(x, y, 0.0, cyb, half_w, half_d, square)

    def fat_thickness(self, x: Array, y: Array, r: Array) -> Array:
        """Subcutaneous fat thickness around the body (thinner over the sternum and the spine)."""
        a = self.a
        cos_t = x / np.maximum(r, np.float32(1e-3))
        sin_t = y / np.maximum(r, np.float32(1e-3))
        lateral = np.abs(cos_t)
        front = np.clip(-sin_t, 0.0, 1.0)
        back = np.clip(sin_t, 0.0, 1.0)
        f = lateral + front * a.extras["fat_ant_factor"] * (np.float32(0.55) + np.float32(0.45) * lateral)
        f = f + back * a.extras["fat_post_factor"] * (np.float32(0.6) + np.float32(0.4) * lateral)
        return np.float32(a.fat) * f / (lateral + front + back + np.float32(1e-3))

    # --- diaphragm ----------------------------------------------------------------------------------

    def dome_z(self, x: Array, y: Array, side: str) -> Array:
        """Height of one hemidiaphragm (a paraboloid, deeper towards the posterior recess)."""
        a = self.a
        if side == "right":
            (xd, yd), ztop = a.dome_r_xy, a.z_dome_r
        else:
            (xd, yd), ztop = a.dome_l_xy, a.z_dome_l
        ax = a.cavity_w - abs(xd)
        ay_ant = (a.cavity_d + yd) / np.sqrt(0.7)
        ay_post = (a.cavity_d - yd) / np.sqrt(1.45)
        u = (x - np.float32(xd)) / np.float32(ax)
        dy = y - np.float32(yd)
        v = dy / np.where(dy < 0, np.float32(ay_ant), np.float32(ay_post))
        return np.float32(ztop) - np.float32(a.dome_depth) * (u * u + v * v)

    def diaphragm_z(self, x: Array, y: Array) -> Array:
        """Height of the diaphragm: the higher of the two domes (the saddle between them holds the heart)."""
        return np.maximum(self.dome_z(x, y, "right"), self.dome_z(x, y, "left"))

    # --- lungs --------------------------------------------------------------------------------------

    def apex_sd(self, x: Array, y: Array, z: Array | float, side: str) -> Array:
        """Envelope of one lung's apex: a cap that widens quickly below the apex and then stops mattering."""
        a = self.a
        if side == "right":
            (ax, ay), zap, sign = a.apex_r_xy, a.z_apex_r, -1.0
        else:
            (ax, ay), zap, sign = a.apex_l_xy, a.z_apex_l, 1.0
        h = np.maximum(np.float32(zap) - np.asarray(z, dtype=np.float32), np.float32(0.0))
        rho = np.sqrt(np.float32(2.0 * 30.0) * h) + np.float32(0.9) * h
        t = np.clip(h / np.float32(90.0), 0.0, 1.0)
        cx = np.float32(ax) + t * np.float32(sign * a.cavity_w * 0.5 - ax)
        cy = np.float32(ay) + t * np.float32(-0.1 * a.cavity_d - ay)
        dx, dy = x - cx, y - cy
        return rho - np.sqrt(dx * dx + dy * dy)
