"""Intrapulmonary trees: pulmonary arteries, pulmonary veins and the bronchi that run with the arteries.

The trees are grown by recursive space partition, the principle of Kitaoka, Takaki & Suki's airway model
(J Appl Physiol 87:2207, 1999): a branch heads towards the centroid of the lung region it supplies, the
region is split in two along its longest axis, and each half is supplied by a daughter whose radius follows
Murray's law with the share of the region (exponent 2.7, as measured in pulmonary arterial trees). The region
is a cloud of points sampled inside the lung with a margin from the pleura, so the terminal branches end a
few millimetres short of it and the subpleural lung is nearly vessel-free, as on HRCT. The first division
follows the lobes, so no vessel crosses a fissure.

All nodes of one generation are processed at once (bincount/lexsort/batched eigh), so a patient's ~15,000
segments take a fraction of a second. Bronchi follow the arteries (the bronchovascular bundle) with a lumen
of 0.75 the arterial radius, down to the generations still visible on CT.
"""

from __future__ import annotations

import numpy as np

from ssc_core.imaging.phantom.lungs import Lungs
from ssc_core.imaging.phantom.mediastinum import (
    CH_AIRWAY_LUMEN,
    CH_AIRWAY_WALL,
    CH_LUNG_AIRWAY_LUMEN,
    CH_LUNG_AIRWAY_WALL,
    CH_LUNG_VESSEL,
    TreeRoot,
)
from ssc_core.imaging.phantom.tubes import TubeSet

MURRAY_EXPONENT = 2.7
LEAF_POINTS = 2
MIN_RADIUS = 0.22
#: Smallest arterial radius with a bronchus drawn beside it (smaller airways are invisible on CT).
MIN_AIRWAY_ARTERY_RADIUS = 2.2


def sample_lung_points(
    lungs: Lungs, rng: np.random.Generator, n_per_lung: int, margin: float
) -> tuple[np.ndarray, np.ndarray]:
    """Points inside the lungs (``margin`` mm or more from the boundary) and their side (1 right, 2 left)."""
    a = lungs.a
    lo = np.array([-a.cavity_w - 2.0, -a.cavity_d - 2.0, a.z_bottom])
    hi = np.array([a.cavity_w + 2.0, a.cavity_d + 2.0, max(a.z_apex_r, a.z_apex_l)])
    pts, sides = [], []
    need = 2 * n_per_lung
    got = 0
    for _ in range(8):
        cand = lo + rng.random((max(4 * need, 4000), 3)) * (hi - lo)
        side = lungs.side_at(cand, margin)
        keep = side > 0
        pts.append(cand[keep])
        sides.append(side[keep])
        got += int(keep.sum())
        if got >= need * 1.1:
            break
    p = np.concatenate(pts)
    sd = np.concatenate(sides)
    out_p, out_s = [], []
    for which in (1, 2):
        sel = np.flatnonzero(sd == which)[:n_per_lung]
        out_p.append(p[sel])
        out_s.append(sd[sel])
    return np.concatenate(out_p), np.concatenate(out_s)


def _perp(u: np.ndarray) -> np.ndarray:
    """A unit vector perpendicular to each row of ``u`` (continuous in u away from the vertical)."""
    ref = np.where(np.abs(u[:, 2:3]) > 0.85, np.array([[1.0, 0.0, 0.0]]), np.array([[0.0, 0.0, 1.0]]))
    o = np.cross(u, ref)
    return o / np.maximum(np.linalg.norm(o, axis=1, keepdims=True), 1e-9)


class _Builder:
    def __init__(self) -> None:
        self.a: list[np.ndarray] = []
        self.b: list[np.ndarray] = []
        self.ra: list[np.ndarray] = []
        self.rb: list[np.ndarray] = []
        self.oa: list[np.ndarray] = []  # bronchial offsets at the ends (zero where no bronchus)
        self.ob: list[np.ndarray] = []
        self.bronchus: list[np.ndarray] = []

    def add(self, a, b, ra, rb, oa, ob, bronchus) -> None:
        self.a.append(a)
        self.b.append(b)
        self.ra.append(np.broadcast_to(ra, (a.shape[0],)))
        self.rb.append(np.broadcast_to(rb, (a.shape[0],)))
        self.oa.append(oa)
        self.ob.append(ob)
        self.bronchus.append(np.broadcast_to(bronchus, (a.shape[0],)))

    def arrays(self):
        cat = np.concatenate
        return (
            cat(self.a),
            cat(self.b),
            cat(self.ra),
            cat(self.rb),
            cat(self.oa),
            cat(self.ob),
            cat(self.bronchus),
        )


def grow_trees(
    lungs: Lungs,
    roots: tuple[TreeRoot, ...],
    rng: np.random.Generator,
    *,
    points_per_lung: int = 5000,
    margin: float = 4.0,
) -> TubeSet:
    """Arterial and venous trees (and bronchi) of both lungs, as one :class:`TubeSet`."""
    pts, side = sample_lung_points(lungs, rng, points_per_lung, margin)
    lobe = lungs.lobe_at(pts)
    # arteries and veins share the lung: every other point goes to each
    kind_of_point = np.arange(pts.shape[0]) % 2  # 0 artery, 1 vein
    builder = _Builder()
    node_pos, node_r, node_off, node_airway, owner_lists = [], [], [], [], []
    airway_links = []
    for root in roots:
        s = 1 if root.side == "right" else 2
        mine = (side == s) & (kind_of_point == (0 if root.kind == "artery" else 1))
        if root.kind == "vein":
            upper = lobe < 2 if root.side == "right" else lobe == 3
            mine &= upper if root.region == "upper" else ~upper
        idx = np.flatnonzero(mine)
        if idx.size == 0:
            continue
        is_artery = root.kind == "artery"
        off_root = _perp(root.direction[None])[0] * (root.radius * 1.9 + 0.5) if is_artery else np.zeros(3)
        if is_artery and root.airway_from is not None:
            airway_links.append(
                (root.airway_from, root.point + off_root, root.airway_radius, root.radius * 0.65)
            )
        # first division: one lobar branch per lobe in the territory
        lobes = np.unique(lobe[idx])
        n_all = idx.size
        for lb in lobes:
            sub = idx[lobe[idx] == lb]
            cen = pts[sub].mean(0)
            v = cen - root.point
            dist = np.linalg.norm(v)
            length = float(np.clip(0.3 * dist, 8.0, 28.0))
            end = root.point + v / dist * length
            r = root.radius * (sub.size / n_all) ** (1.0 / MURRAY_EXPONENT) if lobes.size > 1 else root.radius
            u = (end - root.point)[None] / length
            off_end = _perp(u)[0] * (r * 1.9 + 0.5) if is_artery else np.zeros(3)
            builder.add(root.point[None], end[None], root.radius, r, off_root[None], off_end[None], is_artery)
            node_pos.append(end)
            node_r.append(r)
            node_off.append(off_end)
            node_airway.append(is_artery)
            owner_lists.append(sub)
    pos = np.array(node_pos)
    rad = np.array(node_r)
    off = np.array(node_off)
    airway = np.array(node_airway)
    owner = np.full(pts.shape[0], -1, dtype=np.int64)
    for i, sub in enumerate(owner_lists):
        owner[sub] = i
    _grow(pts, owner, pos, rad, off, airway, builder, rng)
    a, b, ra, rb, oa, ob, bronchus = builder.arrays()
    vessels = TubeSet.segments(a, b, ra, rb, CH_LUNG_VESSEL)
    # bronchi beside the arteries, where the artery is still large enough for the airway to show
    sel = bronchus & (ra >= MIN_AIRWAY_ARTERY_RADIUS)
    la, lb_ = ra[sel] * 0.6, rb[sel] * 0.6
    ba, bb = a[sel] + oa[sel], b[sel] + ob[sel]
    lumen = TubeSet.segments(ba, bb, la, lb_, CH_LUNG_AIRWAY_LUMEN)
    wall = TubeSet.segments(
        ba, bb, la + np.maximum(0.35, 0.2 * la), lb_ + np.maximum(0.35, 0.2 * lb_), CH_LUNG_AIRWAY_WALL
    )
    links = []
    for start, end, r0, r1 in airway_links:
        t = TubeSet.polyline([start, end], [r0, r1], CH_AIRWAY_LUMEN)
        links += [t, t.with_channel(CH_AIRWAY_WALL, grow=1.4)]
    return TubeSet.concat([vessels, wall, lumen, *links])


def _grow(pts, owner, pos, rad, off, airway, builder: _Builder, rng: np.random.Generator) -> None:
    """Generation-by-generation partition growth from the current nodes (see the module docstring)."""
    active = owner >= 0
    owner = owner.copy()
    for _ in range(60):
        if not active.any() or pos.shape[0] == 0:
            break
        m = pos.shape[0]
        idx = np.flatnonzero(active)
        own = owner[idx]
        p = pts[idx]
        cnt = np.bincount(own, minlength=m).astype(np.float64)
        has = cnt > 0
        c = np.stack([np.bincount(own, weights=p[:, k], minlength=m) for k in range(3)], axis=1)
        cen = c / np.maximum(cnt, 1.0)[:, None]
        v = cen - pos
        dist = np.maximum(np.linalg.norm(v, axis=1), 1e-6)
        u = v / dist[:, None]
        leaf = has & ((cnt <= LEAF_POINTS) | (rad < MIN_RADIUS * 2.0))
        grow = has & ~leaf
        # --- leaves: a terminal branch to the centroid and a tapering twig beyond it ---------------
        if leaf.any():
            li = np.flatnonzero(leaf)
            r_end = np.maximum(rad[li] * 0.75, MIN_RADIUS)
            zero = np.zeros((li.size, 3))
            builder.add(pos[li], cen[li], rad[li], r_end, off[li], off[li], False)
            twig = rng.uniform(3.0, 8.0, li.size)
            jit = rng.normal(0.0, 0.25, (li.size, 3))
            tip_dir = u[li] + jit
            tip_dir /= np.linalg.norm(tip_dir, axis=1, keepdims=True)
            builder.add(
                cen[li], cen[li] + tip_dir * twig[:, None], r_end, MIN_RADIUS * 0.8, zero, zero, False
            )
        if not grow.any():
            break
        gi = np.flatnonzero(grow)
        # a branch heads part of the way to its centroid, but large vessels divide within a few diameters
        length = np.clip(
            rng.uniform(0.45, 0.65, gi.size) * dist[gi],
            np.maximum(2.5 * rad[gi], 2.0),
            np.minimum(4.5 * rad[gi] + 4.0, 40.0),
        )
        jitter = rng.normal(0.0, 0.08, (gi.size, 3)) * length[:, None]
        jitter -= (jitter * u[gi]).sum(1, keepdims=True) * u[gi]
        end = pos[gi] + u[gi] * length[:, None] + jitter
        seg_dir = end - pos[gi]
        seg_dir /= np.linalg.norm(seg_dir, axis=1, keepdims=True)
        r_seg_end = rad[gi] * 0.97
        off_end = np.where(airway[gi, None], _perp(seg_dir) * (r_seg_end * 1.9 + 0.5)[:, None], 0.0)
        builder.add(pos[gi], end, rad[gi], r_seg_end, off[gi], off_end, airway[gi])
        # --- split each growing node's points in two along their principal axis --------------------
        g_of_node = np.full(m, -1, dtype=np.int64)
        g_of_node[gi] = np.arange(gi.size)
        sel = grow[own]
        idx_g = idx[sel]
        own_g = g_of_node[own[sel]]
        q = pts[idx_g] - cen[gi][own_g]
        cov = np.zeros((gi.size, 3, 3))
        for i in range(3):
            for j in range(i, 3):
                s = np.bincount(own_g, weights=q[:, i] * q[:, j], minlength=gi.size)
                cov[:, i, j] = s
                cov[:, j, i] = s
        _, vecs = np.linalg.eigh(cov)
        axis = vecs[:, :, -1]
        proj = (q * axis[own_g]).sum(1)
        order = np.lexsort((proj, own_g))
        n_g = np.bincount(own_g, minlength=gi.size)
        start = np.cumsum(n_g) - n_g
        rank = np.empty(order.size, dtype=np.int64)
        rank[order] = np.arange(order.size) - start[own_g[order]]
        frac = rng.uniform(0.3, 0.7, gi.size)
        k_split = np.clip(np.round(frac * n_g).astype(np.int64), 1, np.maximum(n_g - 1, 1))
        child = own_g * 2 + (rank >= k_split[own_g])
        n_child = np.bincount(child, minlength=2 * gi.size).astype(np.float64)
        parent_n = np.repeat(n_g.astype(np.float64), 2)
        parent_r = np.repeat(r_seg_end, 2)
        new_r = np.maximum(
            parent_r * (n_child / np.maximum(parent_n, 1.0)) ** (1.0 / MURRAY_EXPONENT), MIN_RADIUS
        )
        new_pos = np.repeat(end, 2, axis=0)
        new_off = np.repeat(off_end, 2, axis=0)
        new_air = np.repeat(airway[gi], 2)
        owner[idx[~sel]] = -1
        active[idx[~sel]] = False
        owner[idx_g] = child
        pos, rad, off, airway = new_pos, new_r, new_off, new_air
