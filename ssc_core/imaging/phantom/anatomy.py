"""The phantom's patient: every size, position and landmark height, drawn from the seed.

Frame: the *phantom frame* is LPS-oriented (x to the patient's left, y posterior, z to the head, mm) with its
in-plane origin on the centre of the thoracic cavity and ``z = 0`` at the main carina. The world frame of the
written volume is this frame shifted by :attr:`Anatomy.world_offset` (a patient lies off the scanner axis
and at an arbitrary table position).

Landmarks follow Goh et al. (2008) as DOMAIN.md lists them: L1 is the origin of the great vessels (the top
of the aortic arch, where the brachiocephalic trunk, the left common carotid and the left subclavian artery
leave it), L2 the main carina (the top of the ridge between the two main-bronchus lumens), L3 the pulmonary
venous confluence (the height at which the four pulmonary veins enter the left atrium), L5 1 cm above the
top of the right hemidiaphragm and L4 halfway between L3 and L5. The typical distances between them come
from adult chest CT anatomy (carina at T4/T5; arch 2-4 cm above it; left atrium 3-5 cm below; right dome
10-15 cm below), scaled per patient.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ssc_core.constants import L5_ABOVE_RIGHT_DOME_MM, Level

#: The matrix every phantom is drawn for; the field of view is ``512 * pixel`` (pixel 0.6-0.8 mm).
REFERENCE_MATRIX = 512
PIXEL_RANGE_MM = (0.6, 0.8)


@dataclass(frozen=True)
class Anatomy:
    """All drawn parameters of one phantom patient (mm, phantom frame unless noted)."""

    seed: int
    # --- field of view and placement ---------------------------------------------------------------
    fov_mm: float
    world_offset: tuple[float, float, float]  # world = phantom + offset (x, y, z)
    # --- craniocaudal landmarks ---------------------------------------------------------------------
    z_top: float  # first (most cranial) slice of the scan
    z_bottom: float  # last slice
    z_apex_r: float
    z_apex_l: float
    z_arch_top: float  # L1: outer top of the aortic arch = origin of the great vessels
    z_confluence: float  # L3
    z_dome_r: float  # top of the right hemidiaphragm
    z_dome_l: float
    # --- thoracic cage -------------------------------------------------------------------------------
    cavity_w: float  # half-width of the thoracic cavity at its widest (inside the ribs)
    cavity_d: float  # half-depth (antero-posterior)
    cavity_square: float  # 0 = ellipse, 1 = rounded square
    wall: float  # thickness of the rib/intercostal layer
    fat: float  # subcutaneous fat thickness (lateral)
    muscle_lat: float
    muscle_pec: float
    muscle_post: float
    body_w: float
    body_ant: float
    body_post: float
    # --- spine ---------------------------------------------------------------------------------------
    vb_radius: float  # vertebral body radius at the carina
    vb_y: float  # centre of the vertebral body (y)
    vert_period: float  # height of one vertebra + disc
    z_disc45: float  # height of the T4/T5 disc
    # --- airways -------------------------------------------------------------------------------------
    trachea_r: float
    carina_xy: tuple[float, float]
    trachea_top_xy: tuple[float, float]
    bronchus_r: tuple[float, float]  # right, left main bronchus lumen radius
    bronchus_len: tuple[float, float]
    bronchus_tilt_deg: tuple[float, float]  # angle from the vertical
    # --- heart and great vessels ---------------------------------------------------------------------
    aorta_asc_xy: tuple[float, float]
    aorta_desc_xy: tuple[float, float]
    aorta_r: tuple[float, float]  # ascending, descending
    heart_centre: tuple[float, float, float]
    heart_axes: tuple[float, float, float]
    heart_axis_dir: tuple[float, float, float]
    la_centre: tuple[float, float, float]
    la_axes: tuple[float, float, float]
    # --- diaphragm and abdomen -----------------------------------------------------------------------
    dome_r_xy: tuple[float, float]
    dome_l_xy: tuple[float, float]
    dome_depth: float  # drop of the dome surface at the lateral chest wall
    # --- lungs ---------------------------------------------------------------------------------------
    apex_r_xy: tuple[float, float]
    apex_l_xy: tuple[float, float]
    lung_hu: float  # parenchyma attenuation (non-dependent)
    lung_gradient_hu: float  # extra attenuation of the dependent (posterior) lung
    noise_hu: float  # CT noise standard deviation
    extras: dict[str, float] = field(default_factory=dict)

    # --- levels --------------------------------------------------------------------------------------

    @property
    def level_z(self) -> dict[Level, float]:
        """Phantom-frame z of L1..L5 from the anatomy (Goh 2008)."""
        l5 = self.z_dome_r + L5_ABOVE_RIGHT_DOME_MM
        return {
            Level.L1: self.z_arch_top,
            Level.L2: 0.0,
            Level.L3: self.z_confluence,
            Level.L4: (self.z_confluence + l5) / 2.0,
            Level.L5: l5,
        }

    def vertebra_z(self, k: float) -> float:
        """Centre height of thoracic vertebra T``k`` (k = 0 stands for C7, 13 for L1; fractions between)."""
        return self.z_disc45 - (k - 4.5) * self.vert_period

    def vb_radius_at(self, z: np.ndarray | float) -> np.ndarray | float:
        """Vertebral bodies grow caudally (about 12 mm radius at T1 to 20 mm at T12)."""
        return self.vb_radius * (1.0 - 0.0011 * np.asarray(z))


def _u(rng: np.random.Generator, lo: float, hi: float) -> float:
    return float(rng.uniform(lo, hi))


def draw_anatomy(seed: int, *, pixel_mm: float | None = None) -> Anatomy:
    """Draw a patient from ``seed`` (the same seed always gives the same patient).

    ``pixel_mm`` fixes the pixel size of the 512 matrix (field of view ``512 * pixel_mm``); by default the
    scanner "chooses" it to fit the body, between 0.6 and 0.8 mm, as a technologist would.
    """
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), 0xA7A7]))
    # craniocaudal size and landmark heights (carina = 0)
    sz = float(np.clip(rng.normal(1.0, 0.06), 0.86, 1.16))
    z_arch_top = _u(rng, 22.0, 38.0) * sz
    z_conf = -_u(rng, 31.0, 48.0) * sz
    z_dome_r = z_conf - _u(rng, 58.0, 88.0) * sz
    z_dome_l = z_dome_r - _u(rng, 8.0, 22.0)
    z_apex_r = _u(rng, 84.0, 108.0) * sz
    z_apex_l = z_apex_r - _u(rng, -4.0, 8.0)
    dome_depth = _u(rng, 42.0, 58.0)
    z_top = max(z_apex_r, z_apex_l) + _u(rng, 14.0, 30.0)
    # the posterior costophrenic recess reaches about 1.5x the lateral drop below the dome
    z_bottom = min(z_dome_r, z_dome_l) - 1.45 * dome_depth - _u(rng, 12.0, 28.0)

    # in-plane sizes
    wall = _u(rng, 5.0, 8.0)
    fat = float(np.clip(rng.lognormal(np.log(11.0), 0.45), 4.0, 36.0))
    muscle_lat = _u(rng, 4.0, 9.0)
    muscle_pec = _u(rng, 6.0, 16.0)
    muscle_post = _u(rng, 10.0, 24.0)
    x_shift = _u(rng, -12.0, 12.0)
    cavity_w = _u(rng, 112.0, 140.0)
    outer = wall + muscle_lat + fat
    if pixel_mm is None:
        want = (cavity_w + outer + abs(x_shift) + _u(rng, 12.0, 34.0)) * 2.0 / REFERENCE_MATRIX
        px = float(np.clip(want, *PIXEL_RANGE_MM))
    else:
        px = float(pixel_mm)
        _u(rng, 0.0, 1.0)  # keep the stream aligned with the default path
    fov = px * REFERENCE_MATRIX
    room = fov / 2.0 - 8.0 - abs(x_shift)
    if cavity_w + outer > room:  # the patient must fit the field of view: thinner fat first, then smaller
        fat = max(4.0, fat - (cavity_w + outer - room))
        outer = wall + muscle_lat + fat
        cavity_w = min(cavity_w, room - outer)
    cavity_d = cavity_w * _u(rng, 0.64, 0.78)
    cavity_square = _u(rng, 0.15, 0.45)

    vb_radius = _u(rng, 14.0, 17.0)
    # the paravertebral gutters (the most posterior lung) reach 15-25 mm behind the vertebral body centre
    vb_y = cavity_d - _u(rng, 18.0, 26.0)
    body_w = cavity_w + wall + muscle_lat + fat
    body_ant = cavity_d + wall + 0.6 * muscle_pec + 0.8 * fat
    # spinous process tip about 45 mm behind the body centre, then paraspinal muscle and fat
    body_post = vb_y + vb_radius + 30.0 + 0.4 * muscle_post + 0.8 * fat

    # spine phase: the carina lies at about the T4/T5 disc
    vert_period = _u(rng, 25.0, 29.0) * sz
    z_disc45 = _u(rng, -8.0, 10.0)

    # airways: the carina sits in front of the oesophagus, which lies in front of the spine
    trachea_r = _u(rng, 8.0, 10.5)
    carina_xy = (_u(rng, -5.0, 1.0), vb_y - vb_radius - _u(rng, 22.0, 30.0))
    trachea_top_xy = (carina_xy[0] + _u(rng, -3.0, 4.0), carina_xy[1] - _u(rng, 10.0, 20.0))
    scale_br = trachea_r / 9.0
    bronchus_r = (_u(rng, 6.2, 7.4) * scale_br, _u(rng, 5.4, 6.4) * scale_br)
    bronchus_len = (_u(rng, 18.0, 26.0), _u(rng, 40.0, 50.0))
    bronchus_tilt = (_u(rng, 22.0, 32.0), _u(rng, 38.0, 50.0))

    # aorta: ascending right-anterior of the carina, descending left-anterolateral to the spine
    r_asc = _u(rng, 14.0, 17.0)
    r_desc = _u(rng, 10.5, 13.0)
    aorta_asc_xy = (carina_xy[0] - _u(rng, 18.0, 26.0), carina_xy[1] - _u(rng, 30.0, 38.0))
    aorta_desc_xy = (
        vb_radius * 0.8 + r_desc * 0.5 + _u(rng, 0.0, 4.0),
        vb_y - vb_radius * 0.7 - _u(rng, 0.0, 4.0),
    )

    # left atrium at the venous confluence, heart below and in front of it
    la_centre = (_u(rng, 0.0, 8.0), vb_y - vb_radius - _u(rng, 28.0, 34.0), z_conf)
    la_axes = (_u(rng, 30.0, 36.0), _u(rng, 16.0, 20.0), _u(rng, 17.0, 21.0))
    # the ventricles: long axis from the base (right, back, up) to the apex (left, front, down)
    heart_axes = (_u(rng, 64.0, 74.0), _u(rng, 38.0, 44.0), _u(rng, 33.0, 38.0))
    heart_centre = (
        cavity_w * _u(rng, 0.12, 0.2),
        la_centre[1] - _u(rng, 40.0, 48.0),
        z_conf - _u(rng, 30.0, 40.0) * sz,
    )
    heart_axis_dir = (_u(rng, 0.55, 0.75), -_u(rng, 0.45, 0.6), -_u(rng, 0.35, 0.55))

    # dome tops near the mid-clavicular lines, lateral to the heart borders
    dome_r_xy = (-cavity_w * _u(rng, 0.5, 0.6), -cavity_d * _u(rng, 0.05, 0.25))
    dome_l_xy = (cavity_w * _u(rng, 0.5, 0.6), -cavity_d * _u(rng, 0.0, 0.2))
    apex_r_xy = (-cavity_w * _u(rng, 0.28, 0.38), cavity_d * _u(rng, 0.2, 0.45))
    apex_l_xy = (cavity_w * _u(rng, 0.28, 0.38), cavity_d * _u(rng, 0.2, 0.45))

    lung_hu = _u(rng, -885.0, -855.0)
    lung_gradient = _u(rng, 40.0, 80.0)
    noise = _u(rng, 12.0, 20.0)

    # world placement: carina somewhere along the table, body roughly centred in y on the scanner axis
    z_world_carina = round(_u(rng, -260.0, 40.0), 1)
    y_shift = (body_ant - body_post) / 2.0 + _u(rng, -10.0, 10.0)
    extras = {
        "sz": sz,
        "fat_ant_factor": _u(rng, 0.6, 1.2),
        "fat_post_factor": _u(rng, 0.8, 1.3),
        "scapula_phase": _u(rng, -0.1, 0.1),
        "fissure_r_tilt": _u(rng, 0.55, 0.8),
        "fissure_l_tilt": _u(rng, 0.55, 0.8),
        "fissure_r_z": _u(rng, 8.0, 24.0),
        "fissure_l_z": _u(rng, 14.0, 30.0),
        "minor_fissure_z": z_conf + _u(rng, 4.0, 16.0),
        "stomach_size": _u(rng, 0.8, 1.2),
        "stomach_gas": _u(rng, 0.2, 0.6),
        "liver_hu": _u(rng, 50.0, 65.0),
        "table_gap": _u(rng, 2.0, 8.0),
        "cartilage_calc": _u(rng, 0.0, 1.0),
    }
    return Anatomy(
        seed=int(seed),
        fov_mm=fov,
        world_offset=(x_shift, y_shift, z_world_carina),
        z_top=z_top,
        z_bottom=z_bottom,
        z_apex_r=z_apex_r,
        z_apex_l=z_apex_l,
        z_arch_top=z_arch_top,
        z_confluence=z_conf,
        z_dome_r=z_dome_r,
        z_dome_l=z_dome_l,
        cavity_w=cavity_w,
        cavity_d=cavity_d,
        cavity_square=cavity_square,
        wall=wall,
        fat=fat,
        muscle_lat=muscle_lat,
        muscle_pec=muscle_pec,
        muscle_post=muscle_post,
        body_w=body_w,
        body_ant=body_ant,
        body_post=body_post,
        vb_radius=vb_radius,
        vb_y=vb_y,
        vert_period=vert_period,
        z_disc45=z_disc45,
        trachea_r=trachea_r,
        carina_xy=carina_xy,
        trachea_top_xy=trachea_top_xy,
        bronchus_r=bronchus_r,
        bronchus_len=bronchus_len,
        bronchus_tilt_deg=bronchus_tilt,
        aorta_asc_xy=aorta_asc_xy,
        aorta_desc_xy=aorta_desc_xy,
        aorta_r=(r_asc, r_desc),
        heart_centre=heart_centre,
        heart_axes=heart_axes,
        heart_axis_dir=heart_axis_dir,
        la_centre=la_centre,
        la_axes=la_axes,
        dome_r_xy=dome_r_xy,
        dome_l_xy=dome_l_xy,
        dome_depth=dome_depth,
        apex_r_xy=apex_r_xy,
        apex_l_xy=apex_l_xy,
        lung_hu=lung_hu,
        lung_gradient_hu=lung_gradient,
        noise_hu=noise,
        extras=extras,
    )
