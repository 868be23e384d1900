"""Mediastinal anatomy: airways, aorta and great vessels, pulmonary arteries and veins, heart, oesophagus.

Tubular structures are centrelines (smooth splines through anatomical control points) rendered by
:mod:`~ssc_core.imaging.phantom.tubes`; the heart and left atrium are ellipsoids. The control points follow
the textbook topology (e.g. Netter's Atlas; Webb, Müller & Naidich, *High-Resolution CT of the Lung*): the
ascending aorta right-anterior of the carina, the arch passing backwards and to the left over the left main
bronchus, the brachiocephalic trunk, left common carotid and left subclavian arteries leaving its top, the
left brachiocephalic vein crossing in front of them, the azygos arch over the right main bronchus, the main
pulmonary artery dividing below the carina, and four pulmonary veins entering the left atrium at L3.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ssc_core.imaging.phantom.anatomy import Anatomy
from ssc_core.imaging.phantom.shapes import Ellipsoid, rotation_from_axis
from ssc_core.imaging.phantom.thorax import Thorax
from ssc_core.imaging.phantom.tubes import TubeSet, catmull_rom

# Output channels of the tube rasteriser.
CH_SOFT = 0  # mediastinal vessels and oesophagus (soft tissue / blood)
CH_AIRWAY_WALL = 1
CH_AIRWAY_LUMEN = 2
CH_EXCLUDE = 3  # fat margin around mediastinal tubes: the lungs stop there
CH_BONE = 4
CH_MARROW = 5
CH_LUNG_VESSEL = 6
CH_LUNG_AIRWAY_WALL = 7
CH_LUNG_AIRWAY_LUMEN = 8
CH_HULL = 9  # central mediastinal structures whose closed envelope is the mediastinum
N_CHANNELS = 10


@dataclass(frozen=True)
class TreeRoot:
    """Where an intrapulmonary tree starts: point, radius, direction, lung side and kind."""

    point: np.ndarray
    radius: float
    direction: np.ndarray
    side: str  # "right" | "left"
    kind: str  # "artery" | "vein"
    region: str = "all"  # "all", "upper" or "lower" (the superior/inferior pulmonary veins)
    airway_from: np.ndarray | None = None  # main-bronchus end joined to the bronchial tree (arteries)
    airway_radius: float = 0.0


@dataclass(frozen=True)
class Mediastinum:
    tubes: TubeSet
    heart_parts: tuple[Ellipsoid, ...]  # ventricles, right atrium, left atrium (same HU unenhanced)
    heart_margins: tuple[float, ...]  # epicardial fat around each part (mm): the lungs stop there
    left_atrium: Ellipsoid
    roots: tuple[TreeRoot, ...]
    carina_junction: np.ndarray  # where the tracheal and bronchial centrelines meet (above the ridge)
    great_vessel_origins: np.ndarray  # (3, 3) points on the arch top
    vein_ostia: np.ndarray  # (4, 3) where the pulmonary veins enter the left atrium
    stomach_centre: np.ndarray
    core: dict[str, np.ndarray]  # knots of the mediastinal fat core


def _perp(u: np.ndarray) -> np.ndarray:
    """The unit vector perpendicular to ``u`` used to place a bronchus beside its artery (see vessels)."""
    ref = np.array([1.0, 0.0, 0.0]) if abs(u[2]) > 0.85 else np.array([0.0, 0.0, 1.0])
    o = np.cross(u, ref)
    return o / np.linalg.norm(o)


def _arch(a: Anatomy) -> tuple[np.ndarray, Callable[[float], np.ndarray], float]:
    """The aortic arch: from the ascending aorta forwards of the trachea, round its left side, to the
    descending aorta; its outer top surface at L1. Returns the centreline samples, a point function
    (0 = ascending end, 1 = descending end) and the arch radius."""
    r_arch = 0.5 * (a.aorta_r[0] + a.aorta_r[1])
    top_c = a.z_arch_top - r_arch  # centreline top; the outer top surface is L1
    cx, cy = a.carina_xy
    tr = a.trachea_r
    base = top_c - 22.0
    ctrl = np.array(
        [
            [*a.aorta_asc_xy, base],
            [cx + 2.0, cy - tr - r_arch - 5.0, top_c - 2.0],
            [cx + tr + r_arch + 2.0, cy - 3.0, top_c - 2.0],
            [*a.aorta_desc_xy, base],
        ]
    )
    pts, _ = catmull_rom(ctrl, np.zeros(4), 24)
    pts[:, 2] = base + (pts[:, 2] - base) * (top_c - base) / (pts[:, 2].max() - base)
    seg = np.linalg.norm(np.diff(pts, axis=0), axis=1)
    arc = np.concatenate([[0.0], np.cumsum(seg)]) / seg.sum()

    def point(t: float) -> np.ndarray:
        return np.array([np.interp(t, arc, pts[:, i]) for i in range(3)])

    return pts, point, r_arch


def build_mediastinum(a: Anatomy, thorax: Thorax) -> Mediastinum:
    """Centrelines and ellipsoids of the mediastinum of patient ``a``."""
    tubes: list[TubeSet] = []

    def vessel(points, radii, margin: float = 3.0, n: int = 24, hull: bool = True) -> None:
        t = TubeSet.curve(points, radii, CH_SOFT, n=n)
        tubes.append(t.with_margin(CH_EXCLUDE, margin))
        if hull:
            tubes.append(t.with_channel(CH_HULL, grow=margin))

    top = a.z_top + 8.0
    bottom = a.z_bottom - 8.0
    cx, cy = a.carina_xy
    r_asc, r_desc = a.aorta_r

    # --- airways: the trachea meets the main bronchi above the carinal ridge --------------------------
    tr, (rr, rl) = a.trachea_r, a.bronchus_r
    phr, phl = np.radians(a.bronchus_tilt_deg[0]), np.radians(a.bronchus_tilt_deg[1])
    # the lumens separate (the ridge, L2 = 0) where the centrelines are a lumen width apart
    delta = (rr / np.cos(phr) + rl / np.cos(phl)) / (np.tan(phr) + np.tan(phl))
    junction = np.array([cx, cy, delta])
    dir_r = np.array([-1.0, 0.15])
    dir_l = np.array([1.0, 0.3])
    dir_r /= np.linalg.norm(dir_r)
    dir_l /= np.linalg.norm(dir_l)
    end_r = junction + a.bronchus_len[0] * np.array([*(np.sin(phr) * dir_r), -np.cos(phr)])
    end_l = junction + a.bronchus_len[1] * np.array([*(np.sin(phl) * dir_l), -np.cos(phl)])
    tx, ty = a.trachea_top_xy
    trachea = TubeSet.curve(
        [[tx, ty, top], [0.5 * (tx + cx), 0.5 * (ty + cy) + 1.0, 0.5 * (top + delta)], junction], tr, 0
    )
    main_r = TubeSet.polyline([junction, end_r], [rr, rr * 0.95], 0)
    main_l = TubeSet.polyline([junction, end_l], [rl, rl * 0.95], 0)
    for t, wall in ((trachea, 2.0), (main_r, 1.7), (main_l, 1.6)):
        tubes.append(t.with_channel(CH_AIRWAY_LUMEN))
        tubes.append(t.with_channel(CH_AIRWAY_WALL, grow=wall).with_margin(CH_EXCLUDE, 2.0))
        tubes.append(t.with_channel(CH_HULL, grow=wall + 2.0))

    # --- aorta and great vessels ----------------------------------------------------------------------
    arch_pts, arch, r_arch = _arch(a)
    ax0, ay0 = a.aorta_asc_xy
    root = [ax0 + 14.0, ay0 + 16.0, a.z_confluence - 22.0]
    asc = [root, [ax0 + 4.0, ay0 + 6.0, a.z_confluence - 2.0], [ax0, ay0, 0.0]]
    dx, dy = a.aorta_desc_xy
    desc = [
        [dx, dy, arch_pts[-1][2] - 25.0],
        [dx - 1.0, dy + 1.0, a.z_confluence],
        [dx - 4.0, dy - 2.0, a.z_dome_l],
        [dx - 7.0, dy - 4.0, bottom],
    ]
    vessel([*asc, list(arch_pts[0])], [r_asc - 1.0, r_asc, r_asc, r_asc], margin=4.0, n=20)
    radii = np.linspace(r_asc, r_desc, arch_pts.shape[0])
    tubes.append(TubeSet.polyline(arch_pts, radii, CH_SOFT).with_margin(CH_EXCLUDE, 4.0))
    tubes.append(TubeSet.polyline(arch_pts, radii + 4.0, CH_HULL))
    vessel([list(arch_pts[-1]), *desc], [r_desc] * (len(desc) + 1), margin=4.0, n=30)
    origins = np.array([arch(t) for t in (0.3, 0.46, 0.62)])
    # origins sit on the upper surface of the arch
    origins[:, 2] += r_arch * 0.6
    l1 = a.z_arch_top
    w_top = thorax.cavity_size(a.z_apex_r + 10.0)[0]
    o = origins
    bct_top = o[0] + np.array([-10.0, 8.0, 38.0])
    vessel([o[0] - [0, 0, 6], o[0] + [-3.0, 3.0, 16.0], bct_top], [6.8, 6.6, 6.2])
    rcca = bct_top + np.array([-4.0, 2.0, 20.0])
    vessel([bct_top, rcca, [bct_top[0] - 6.0, bct_top[1], top]], [4.2, 4.0, 4.0], n=8)
    vessel(
        [
            bct_top,
            [-float(w_top) * 0.7, a.apex_r_xy[1] - 10.0, a.z_apex_r + 12.0],
            [-float(w_top) - 25.0, a.apex_r_xy[1] - 18.0, a.z_apex_r + 22.0],
        ],
        [5.0, 4.8, 4.6],
        n=12,
        hull=False,
    )
    vessel([o[1] - [0, 0, 6], o[1] + [2.0, 2.0, 18.0], [o[1][0] + 6.0, o[1][1] + 2.0, top]], [4.6, 4.5, 4.4])
    lsa_mid = o[2] + np.array([4.0, 4.0, 26.0])
    vessel(
        [
            o[2] - [0, 0, 6],
            lsa_mid,
            [float(w_top) * 0.7, a.apex_l_xy[1] - 10.0, a.z_apex_l + 12.0],
            [float(w_top) + 25.0, a.apex_l_xy[1] - 18.0, a.z_apex_l + 22.0],
        ],
        [5.4, 5.2, 5.0, 4.8],
        hull=False,
    )
    tubes.append(
        TubeSet.curve([o[2] - [0, 0, 6], lsa_mid], [5.4, 5.2], CH_HULL, n=6).with_channel(CH_HULL, grow=3.0)
    )

    # --- veins: superior vena cava, brachiocephalic veins, azygos, inferior vena cava ------------------
    # right of and slightly behind the ascending aorta, against the right side of the trachea above
    svc_x, svc_y = ax0 - 0.7 * r_asc - 7.0, ay0 + 0.6 * r_asc
    svc_top = np.array([svc_x + 5.0, svc_y - 4.0, l1 + 10.0])
    vessel([[svc_x + 4.0, svc_y + 6.0, a.z_confluence - 6.0], [svc_x, svc_y, 0.0], svc_top], [10.0, 9.5, 9.0])
    # the right brachiocephalic vein climbs along the right front of the trachea
    rbcv = [svc_top, [cx - tr - 15.0, cy - 18.0, l1 + 30.0], [cx - tr - 18.0, cy - 22.0, top]]
    vessel(rbcv, [8.0, 7.5, 7.0])
    vessel(
        [
            svc_top,
            [ax0 + 10.0, ay0 - 12.0, l1 + 16.0],
            [ax0 + 52.0, ay0 - 2.0, l1 + 26.0],
            [ax0 + 62.0, ay0 + 2.0, top],
        ],
        [7.0, 6.8, 6.5, 6.5],
    )
    vb = a.vb_radius
    az_x = -vb * 0.65
    vessel(
        [
            [az_x, a.vb_y - vb + 2.0, bottom],
            [az_x, a.vb_y - vb, 4.0],
            [-vb - 10.0, cy + 6.0, 12.0],
            [svc_x + 2.0, svc_y + 9.0, 10.0],
        ],
        [3.5, 3.8, 4.0, 4.2],
        margin=2.0,
        hull=False,
    )
    ivc_x = -a.cavity_w * 0.2
    vessel(
        [
            [ivc_x, a.vb_y - vb - 12.0, bottom],
            [ivc_x - 3.0, a.vb_y - vb - 16.0, a.z_dome_r - 10.0],
            [ivc_x - 6.0, a.vb_y - vb - 24.0, a.z_dome_r + 10.0],
        ],
        [11.0, 12.0, 12.0],
        margin=2.0,
    )

    # --- pulmonary arteries ---------------------------------------------------------------------------
    mpa0 = np.array([ax0 + 34.0, ay0 - 4.0, a.z_confluence - 10.0])
    bif = np.array([ax0 + 30.0, ay0 + 22.0, -16.0])
    vessel([mpa0, [ax0 + 34.0, ay0 + 8.0, -30.0], bif], [13.5, 13.5, 12.5])
    # the arterial roots sit beside the main-bronchus ends (artery in front on the right, behind on the
    # left), so the bronchial tree, which runs beside the arterial tree, starts where the bronchus ends
    dir_rpa = np.array([-1.0, 0.15, -0.35])
    dir_rpa /= np.linalg.norm(dir_rpa)
    dir_lpa = np.array([1.0, 0.35, -0.45])
    dir_lpa /= np.linalg.norm(dir_lpa)
    hil_r = end_r - _perp(dir_rpa) * (9.5 * 1.9 + 0.5)
    hil_l = end_l - _perp(dir_lpa) * (9.3 * 1.9 + 0.5)
    rpa = [bif, [ax0 + 6.0, cy - 6.0, -19.0], hil_r - 14.0 * dir_rpa, hil_r]
    vessel(rpa, [10.5, 10.0, 9.8, 9.5], margin=1.0, hull=False)
    tubes.append(TubeSet.curve(rpa[:3], [10.5, 10.0, 9.8], CH_HULL, n=12).with_channel(CH_HULL, grow=2.0))
    lpa = [bif, [bif[0] + 6.0, cy - 2.0, -8.0], hil_l - 14.0 * dir_lpa, hil_l]
    vessel(lpa, [10.5, 10.0, 9.8, 9.3], margin=1.0, hull=False)
    tubes.append(TubeSet.curve(lpa[:2], [10.5, 10.0], CH_HULL, n=8).with_channel(CH_HULL, grow=2.0))

    # --- left atrium and pulmonary veins --------------------------------------------------------------
    lax, lay, laz = a.la_centre
    la = Ellipsoid(a.la_centre, a.la_axes, np.eye(3))
    ea = a.la_axes[0] * 0.7
    ostia = np.array(
        [
            [lax - ea, lay - 3.0, laz + 4.5],
            [lax - ea, lay + 4.0, laz - 4.5],
            [lax + ea, lay - 3.0, laz + 4.5],
            [lax + ea, lay + 4.0, laz - 4.5],
        ]
    )
    w = a.cavity_w
    vein_ends = np.array(
        [
            [-w * 0.42, lay - 16.0, laz + 14.0],
            [-w * 0.42, lay + 12.0, laz - 9.0],
            [w * 0.42, lay - 12.0, laz + 13.0],
            [w * 0.42, lay + 14.0, laz - 9.0],
        ]
    )
    for o_, e_ in zip(ostia, vein_ends):
        inner = o_ + np.array([np.sign(e_[0]) * -8.0, 0.0, 0.0])
        # the veins run nearly horizontally into the atrium, bending towards the hilum further out
        mid = 0.5 * (o_ + e_) + np.array([0.0, 0.0, -0.25 * (e_[2] - o_[2])])
        vessel([inner, o_, mid, e_], [7.8, 7.6, 7.0, 6.4], margin=0.5, n=12, hull=False)

    # --- oesophagus: behind the trachea and left atrium, through the hiatus into the stomach ----------
    st = np.array([a.cavity_w * 0.42, -a.cavity_d * 0.1, a.z_dome_l - 48.0 * a.extras["stomach_size"]])
    eso = [
        [tx + 6.0, ty + tr + 9.0, top],
        [cx + 6.0, cy + tr + 8.0, 0.0],
        [lax - 2.0, lay + a.la_axes[1] + 9.0, laz],
        [8.0, a.vb_y - vb - 12.0, a.z_dome_r],
        [w * 0.22, a.vb_y - vb - 26.0, a.z_dome_l - 18.0],
        st,
    ]
    esot = TubeSet.curve(eso, 7.5, CH_SOFT, n=30)
    tubes += [esot.with_margin(CH_EXCLUDE, 2.5), esot.with_channel(CH_HULL, grow=2.5)]
    tubes.append(TubeSet.curve(eso[:3], 1.6, CH_AIRWAY_LUMEN, n=10))

    # --- heart: ventricles, right atrium (right heart border) and left atrium --------------------------
    rot = rotation_from_axis(a.heart_axis_dir)
    ventricles = Ellipsoid(a.heart_centre, a.heart_axes, rot)
    _hx, _hy, hz = a.heart_centre
    right_atrium = Ellipsoid(
        (-a.cavity_w * 0.14, lay - 16.0, 0.5 * (laz + hz) - 4.0),
        (22.0, 22.0, 28.0),
        rotation_from_axis((0.3, -0.2, 1.0)),
    )

    # --- roots of the intrapulmonary trees --------------------------------------------------------------
    def direction(p0, p1):
        d = np.asarray(p1, float) - np.asarray(p0, float)
        return d / np.linalg.norm(d)

    roots = [
        TreeRoot(hil_r, 9.5, dir_rpa, "right", "artery", airway_from=end_r, airway_radius=rr),
        TreeRoot(hil_l, 9.3, dir_lpa, "left", "artery", airway_from=end_l, airway_radius=rl),
    ]
    for i, side in enumerate(("right", "right", "left", "left")):
        roots.append(
            TreeRoot(
                vein_ends[i],
                6.4,
                direction(ostia[i], vein_ends[i]),
                side,
                "vein",
                region="upper" if i % 2 == 0 else "lower",
            )
        )

    core = {
        "z": np.array([a.z_bottom - 20, a.z_dome_r, a.z_confluence, 0.0, a.z_arch_top, a.z_top + 20]),
        "half_w": np.array([10.0, 12.0, 14.0, 14.0, 16.0, 22.0]),
    }
    return Mediastinum(
        tubes=TubeSet.concat(tubes),
        heart_parts=(ventricles, right_atrium, la),
        heart_margins=(6.0, 5.0, 1.5),
        left_atrium=la,
        roots=tuple(roots),
        carina_junction=junction,
        great_vessel_origins=origins,
        vein_ostia=ostia,
        stomach_centre=st,
        core=core,
    )
