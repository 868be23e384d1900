"""Interstitial lung disease of the phantom: where ground glass and reticulation are, and how much.

A :class:`DiseaseSpec` gives the target TOT, GG and RET (percent of the lung area) at each of the five
levels; between levels the targets are interpolated linearly in z, beyond L1 and L5 they are held. On every
slice the targets are met *exactly* (to one pixel): the GG region is the top-k pixels of a smooth random
field over the lung (k = GG share of the lung pixels); the RET region is the top of a second field, k_in
pixels inside the GG region and k_out outside, with ``k_out = TOT - GG`` and ``k_in = RET - k_out`` (pixel
counts), so that GG, RET and their union are each what the spec asks for.

The fields carry the distribution of SSc-associated ILD (mostly NSIP): posterior (dependent) and peripheral
predominance for both patterns and a strong subpleural predominance for reticulation; the basal
predominance is the spec's (:meth:`DiseaseSpec.random` draws SSc-like, basal-heavy profiles).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from ssc_core.constants import LEVELS, SCORE_MAX, Level
from ssc_core.errors import ScoreRuleError
from ssc_core.imaging import textures
from ssc_core.scoring import LevelScores

Array = np.ndarray


@dataclass(frozen=True)
class DiseaseSpec:
    """Target extents per level (L1..L5, percent of the lung area on the level's slice) and appearance.

    ``tot``, ``gg`` and ``ret`` are five numbers each (any value in 0..100, not only the 5 % grid) that
    satisfy the union rule ``max(GG, RET) <= TOT <= min(100, GG + RET)``. ``gg_hu`` is the mean rise of
    attenuation of ground glass, ``ret_hu`` the rise on a reticular line, ``ret_cell_mm`` the mesh size.
    """

    tot: tuple[float, float, float, float, float]
    gg: tuple[float, float, float, float, float]
    ret: tuple[float, float, float, float, float]
    gg_hu: float = 220.0
    ret_hu: float = 480.0
    ret_cell_mm: float = 5.0

    def __post_init__(self) -> None:
        for name in ("tot", "gg", "ret"):
            values = tuple(float(v) for v in getattr(self, name))
            if len(values) != len(LEVELS):
                raise ScoreRuleError(
                    f"Disease {name.upper()} needs one value per level (5), got {len(values)}."
                )
            object.__setattr__(self, name, values)
        problems = []
        for lv, t, g, r in zip(LEVELS, self.tot, self.gg, self.ret):
            for name, v in (("TOT", t), ("GG", g), ("RET", r)):
                if not 0.0 <= v <= SCORE_MAX:
                    problems.append(f"{lv.label} {name} {v:g} is outside 0..100 %")
            if t + 1e-9 < max(g, r) or t > min(SCORE_MAX, g + r) + 1e-9:
                problems.append(
                    f"{lv.label}: TOT {t:g} must lie between max(GG, RET) = {max(g, r):g} and "
                    f"min(100, GG + RET) = {min(SCORE_MAX, g + r):g} (TOT is the union of the two patterns)"
                )
        if problems:
            raise ScoreRuleError("Impossible disease specification: " + "; ".join(problems) + ".")

    # --- constructors -------------------------------------------------------------------------------

    @classmethod
    def uniform(cls, gg: float, ret: float, tot: float | None = None, **kw: float) -> DiseaseSpec:
        """The same extent at every level; TOT defaults to the larger pattern plus half the smaller."""
        if tot is None:
            tot = min(SCORE_MAX, max(gg, ret) + 0.5 * min(gg, ret))
        return cls((tot,) * 5, (gg,) * 5, (ret,) * 5, **kw)

    @classmethod
    def from_scores(cls, scores: Mapping[Level, LevelScores], **kw: float) -> DiseaseSpec:
        """Targets from a level -> :class:`LevelScores` mapping (missing values count as 0)."""

        def col(name: str) -> tuple[float, ...]:
            return tuple(float(getattr(scores.get(lv, LevelScores()), name) or 0) for lv in LEVELS)

        return cls(col("tot"), col("gg"), col("ret"), **kw)  # type: ignore[arg-type]

    @classmethod
    def random(cls, rng: np.random.Generator | int, *, severity: str | None = None) -> DiseaseSpec:
        """An SSc-like disease: basal predominance, GG and RET mixed, extent from mild to extensive.

        ``severity`` is "mild" (global extent about 2-10 %), "moderate" (10-30 %), "severe" (30-60 %) or
        None for a random one of these (35/35/30 %).
        """
        g = rng if isinstance(rng, np.random.Generator) else np.random.default_rng([int(rng), 0xD15E])
        if severity is None:
            severity = str(g.choice(["mild", "moderate", "severe"], p=[0.35, 0.35, 0.3]))
        lo, hi = {"mild": (2.0, 10.0), "moderate": (10.0, 30.0), "severe": (30.0, 60.0)}[severity]
        glob = g.uniform(lo, hi)
        profile = np.array([0.35, 0.55, 0.85, 1.15, 1.4]) * np.exp(g.normal(0.0, 0.3, 5))
        tot = np.clip(glob * profile / profile.mean(), 0.0, 92.0)
        tot[tot < 1.5] = 0.0
        kind = g.random()
        if kind < 0.15:  # ground glass only
            a, b = np.ones(5), np.zeros(5)
        elif kind < 0.25:  # reticulation only
            a, b = np.zeros(5), np.ones(5)
        else:
            a = np.full(5, g.uniform(0.45, 1.0))
            b0 = g.uniform(max(0.0, 1.0 - a[0]), 1.0)
            b = np.clip(b0 * (0.75 + 0.12 * np.arange(5)), 1.0 - a, 1.0)  # reticulation more basal
        gg = tot * a
        ret = tot * b
        return cls(
            tuple(tot),  # type: ignore[arg-type]
            tuple(gg),  # type: ignore[arg-type]
            tuple(ret),  # type: ignore[arg-type]
            gg_hu=float(g.uniform(160.0, 300.0)),
            ret_hu=float(g.uniform(380.0, 620.0)),
            ret_cell_mm=float(g.uniform(3.5, 6.5)),
        )

    def targets(self, z: float, level_z: Mapping[Level, float]) -> tuple[float, float, float]:
        """(TOT, GG, RET) target percent at phantom height ``z``: linear between levels, held beyond."""
        zs = np.array([level_z[lv] for lv in LEVELS])[::-1]  # ascending: L5 .. L1
        out = []
        for values in (self.tot, self.gg, self.ret):
            out.append(float(np.interp(z, zs, np.asarray(values)[::-1])))
        t, g, r = out
        t = min(max(t, g, r), min(SCORE_MAX, g + r))  # linear interpolation keeps the union rule; guard it
        return t, g, r


class DiseaseField:
    """Realises a :class:`DiseaseSpec` slice by slice on one phantom (see the module docstring)."""

    def __init__(
        self,
        spec: DiseaseSpec,
        level_z: Mapping[Level, float],
        n: int,
        px: float,
        cavity_w: float,
        cavity_d: float,
        z_lo: float,
        z_hi: float,
        rng: np.random.Generator,
    ):
        from scipy.ndimage import gaussian_filter

        self.spec = spec
        self.level_z = dict(level_z)
        self.n = n
        self.px = px
        self.cavity_d = cavity_d
        # low-resolution 3-D fields (6 mm voxels) for the regions, upsampled per slice
        step = 6.0
        self._step = step
        self._x0, self._y0, self._z0 = -cavity_w - 12.0, -cavity_d - 12.0, z_lo - 12.0
        shape = (
            int((z_hi - z_lo + 24.0) / step) + 2,
            int((2 * cavity_d + 24.0) / step) + 2,
            int((2 * cavity_w + 24.0) / step) + 2,
        )
        fields = []
        for scale in (1.6, 1.3):
            f = gaussian_filter(rng.standard_normal(shape), scale, mode="nearest")
            fields.append(((f - f.mean()) / f.std()).astype(np.float32))
        self._gg_lr, self._ret_lr = fields
        # textures: tiles twice the slice, read through a window that drifts slowly with z
        # periodic n x n tiles, read through a window that drifts with z (wrapping round)
        gg = textures.ground_glass_field((n, n), rng, pixel_mm=px, mean_hu=spec.gg_hu)
        ret = textures.reticulation_field(
            (n, n), rng, pixel_mm=px, cell_mm=spec.ret_cell_mm, line_hu=spec.ret_hu
        )
        self._gg_tex = np.pad(gg, ((0, n), (0, n)), mode="wrap")
        self._ret_tex = np.pad(ret, ((0, n), (0, n)), mode="wrap")
        self._drift = rng.uniform(-1.0, 1.0, 4)

    def set_grid(self, x_all: Array, y_all: Array) -> None:
        """Interpolation weights from the low-resolution fields to every column and row of the slices."""
        self._ix, self._tx = _linear_index((np.ravel(x_all) - self._x0) / self._step, self._gg_lr.shape[2])
        iy, ty = _linear_index((np.ravel(y_all) - self._y0) / self._step, self._gg_lr.shape[1])
        self._iy, self._ty = iy, ty[:, None]

    def _plane(self, field: Array, z: float, rows: slice, cols: slice) -> Array:
        """The low-resolution field at height z, linearly interpolated onto the pixels (rows, cols)."""
        fz = (z - self._z0) / self._step
        i = int(np.clip(np.floor(fz), 0, field.shape[0] - 2))
        t = np.float32(np.clip(fz - i, 0.0, 1.0))
        plane = field[i] * (1 - t) + field[i + 1] * t
        iy, ty = self._iy[rows], self._ty[rows]
        ix, tx = self._ix[cols], self._tx[cols]
        p = plane[iy] * (1 - ty) + plane[iy + 1] * ty
        return p[:, ix] * (1 - tx) + p[:, ix + 1] * tx

    def _window(self, tex: Array, z: float, which: int, rows: slice, cols: slice) -> Array:
        n = self.n
        d = self._drift
        ox = int(d[2 * which] * 0.9 * z / self.px) % n
        oy = int(d[2 * which + 1] * 0.9 * z / self.px) % n
        return tex[oy : oy + n, ox : ox + n][rows, cols]

    def slice(
        self, z: float, x: Array, y: Array, rows: slice, cols: slice, lung: Array, depth_mm: Array
    ) -> tuple[Array, Array, Array, tuple[float, float, float]]:
        """Disease on one slice, inside the region ``rows, cols`` of the grid (``x``, ``y`` its coordinates).

        ``lung`` is the boolean lung mask, ``depth_mm`` the distance inside the chest wall (mm).
        Returns (GG mask, RET mask, HU increase, (TOT, GG, RET) percent realised) on the region.
        """
        n_lung = int(lung.sum())
        zeros = np.zeros(lung.shape, dtype=bool)
        add = np.zeros(lung.shape, dtype=np.float32)
        if n_lung == 0:
            return zeros, zeros.copy(), add, (0.0, 0.0, 0.0)
        tot, gg, ret = self.spec.targets(z, self.level_z)
        k_gg = round(gg / 100.0 * n_lung)
        k_tot = max(round(tot / 100.0 * n_lung), k_gg)
        k_ret = round(ret / 100.0 * n_lung)
        k_out = min(k_tot - k_gg, k_ret, n_lung - k_gg)
        k_in = min(max(k_ret - k_out, 0), k_gg)
        if k_gg == 0 and k_ret == 0:
            return zeros, zeros.copy(), add, (0.0, 0.0, 0.0)
        ynorm = np.clip(y / np.float32(self.cavity_d), -1.0, 1.0)
        periphery = np.exp(-np.maximum(depth_mm, 0.0) / np.float32(25.0))
        subpleural = np.exp(-np.maximum(depth_mm, 0.0) / np.float32(9.0))
        f_gg = self._plane(self._gg_lr, z, rows, cols) + np.float32(0.7) * ynorm + np.float32(0.8) * periphery
        f_ret = (
            self._plane(self._ret_lr, z, rows, cols) * np.float32(0.8)
            + np.float32(0.3) * f_gg
            + np.float32(1.6) * subpleural
            + np.float32(0.5) * ynorm
        )
        idx = np.flatnonzero(lung)
        vg = f_gg.ravel()[idx]
        gg_sel, w_gg = _top_k(vg, k_gg)
        in_gg = np.zeros(idx.size, dtype=bool)
        in_gg[gg_sel] = True
        vr = f_ret.ravel()[idx]
        ret_mask_l = np.zeros(idx.size, dtype=bool)
        w_ret = np.zeros(idx.size, dtype=np.float32)
        for part, k in ((np.flatnonzero(in_gg), k_in), (np.flatnonzero(~in_gg), k_out)):
            if k > 0:
                sel, w = _top_k(vr[part], k)
                ret_mask_l[part[sel]] = True
                w_ret[part[sel]] = w
        gg_mask = zeros.copy()
        gg_mask.ravel()[idx[gg_sel]] = True
        ret_mask = zeros.copy()
        ret_mask.ravel()[idx[ret_mask_l]] = True
        w_full = np.zeros(lung.size, dtype=np.float32)
        w_full[idx[gg_sel]] = w_gg
        add += w_full.reshape(lung.shape) * self._window(self._gg_tex, z, 0, rows, cols)
        w_full[:] = 0.0
        w_full[idx] = w_ret
        w_ret_2d = w_full.reshape(lung.shape)
        add += w_ret_2d * (
            self._window(self._ret_tex, z, 1, rows, cols) + np.float32(0.12 * self.spec.ret_hu)
        )
        n_gg = int(gg_mask.sum())
        n_ret = int(ret_mask.sum())
        n_tot = int((gg_mask | ret_mask).sum())
        pct = (100.0 * n_tot / n_lung, 100.0 * n_gg / n_lung, 100.0 * n_ret / n_lung)
        return gg_mask, ret_mask, add, pct


def _top_k(values: Array, k: int) -> tuple[Array, Array]:
    """Indices of the ``k`` largest values and a fade weight rising from 0 at the threshold."""
    if k <= 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
    if k >= values.size:
        return np.arange(values.size), np.ones(values.size, dtype=np.float32)
    sel = np.argpartition(values, values.size - k)[values.size - k :]
    chosen = values[sel]
    w = np.clip((chosen - chosen.min()) / np.float32(0.25), 0.0, 1.0)
    # the fade must not leave a counted pixel visibly unchanged: at least a third of the full change
    return sel, np.float32(0.35) + np.float32(0.65) * w


def _linear_index(pos: Array, size: int) -> tuple[Array, Array]:
    """Lower grid index and fraction of fractional positions (for linear interpolation on a grid)."""
    p = np.clip(np.asarray(pos, dtype=np.float64), 0.0, size - 1.0)
    i = np.minimum(np.floor(p).astype(np.int64), size - 2)
    return i, (p - i).astype(np.float32)


def level_scores_from_percent(tot: float, gg: float, ret: float) -> LevelScores:
    """Grid scores (5 % steps) of exact percentages, consistent with the union rule.

    Each value is rounded to the grid; TOT, the score that matters most, is kept, and the components are
    adjusted as little as possible: clipped to TOT, and while GG + RET falls short of TOT the component
    with the larger rounding deficit is raised by 5 (what a reader does who sees 3 % of disease, mostly
    ground glass: TOT 5, GG 5, RET 0).
    """
    from ssc_core.scoring import is_consistent, round_to_grid

    t, g, r = round_to_grid(tot), round_to_grid(gg), round_to_grid(ret)
    g, r = min(g, t), min(r, t)
    while g + r < t:
        if (gg - g) >= (ret - r) and g < t:
            g += 5
        elif r < t:
            r += 5
        else:
            g += 5
    assert is_consistent(t, g, r), (t, g, r)
    return LevelScores(t, g, r)
