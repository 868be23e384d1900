"""The phantom's geometry, determinism and level truth, measured on the generated volumes where possible."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from scipy import ndimage

from ssc_core.constants import L5_ABOVE_RIGHT_DOME_MM, LEVELS, Level
from ssc_core.imaging.phantom import generate_phantom, phantom_anatomy
from ssc_core.imaging.phantom.mediastinum import build_mediastinum
from ssc_core.imaging.phantom.thorax import Thorax

SEEDS = (3, 11, 2024)


@pytest.fixture(scope="module")
def small():
    """Healthy phantoms at 256 x 256, 2 mm slices (same anatomy as at 512, coarser pixels)."""
    return {s: generate_phantom(s, slice_spacing_mm=2.0, matrix=256) for s in SEEDS}


def _pixel(phantom, x_world: float, y_world: float) -> tuple[int, int]:
    v = phantom.volume
    return round((y_world - v.origin[1]) / v.spacing[1]), round((x_world - v.origin[0]) / v.spacing[2])


def _world_xy(seed: int, xy: tuple[float, float]) -> tuple[float, float]:
    a = phantom_anatomy(seed)
    return xy[0] + a.world_offset[0], xy[1] + a.world_offset[1]


def test_same_seed_same_bytes_and_different_seeds_differ():
    a = generate_phantom(7, slice_spacing_mm=3.0, matrix=96)
    b = generate_phantom(7, slice_spacing_mm=3.0, matrix=96)
    c = generate_phantom(8, slice_spacing_mm=3.0, matrix=96)
    assert a.volume.hu.tobytes() == b.volume.hu.tobytes()
    assert np.array_equal(a.lung_mask, b.lung_mask)
    assert a.level_z == b.level_z
    assert a.volume.origin == b.volume.origin
    assert a.level_z != c.level_z
    assert a.volume.shape != c.volume.shape or a.volume.hu.tobytes() != c.volume.hu.tobytes()


def test_anatomy_varies_between_seeds():
    anats = [phantom_anatomy(s) for s in range(12)]
    for name in ("cavity_w", "cavity_d", "fat", "z_confluence", "z_dome_r", "z_arch_top", "fov_mm"):
        values = np.array([getattr(a, name) for a in anats])
        assert values.std() > 0.02 * abs(values.mean()), name
    gaps = np.array([a.level_z[Level.L3] - a.level_z[Level.L5] for a in anats])
    assert gaps.max() - gaps.min() > 10.0  # level heights (proportions) vary, not only the overall size


def test_anatomy_does_not_depend_on_sampling():
    a = generate_phantom(5, slice_spacing_mm=3.0, matrix=96)
    b = generate_phantom(5, slice_spacing_mm=2.0, matrix=128)
    assert a.level_z == b.level_z
    assert a.landmarks == b.landmarks


def test_geometry(small):
    for seed, ph in small.items():
        v = ph.volume
        anat = phantom_anatomy(seed)
        assert v.shape[1:] == (256, 256)
        assert v.spacing[0] == 2.0
        assert v.spacing[1] == v.spacing[2] == pytest.approx(anat.fov_mm / 256)
        assert 0.6 * 512 <= anat.fov_mm <= 0.8 * 512  # pixel 0.6-0.8 mm at the standard 512 matrix
        assert np.all(np.diff(v.slice_z) == pytest.approx(-2.0))
        assert v.info.source_format == "phantom"
        # z coverage: above both apices, below the diaphragm, all five levels well inside
        apex = max(ph.landmarks["lung_apex_right"], ph.landmarks["lung_apex_left"])
        assert v.slice_z[0] >= apex + 10.0
        assert v.slice_z[-1] <= ph.landmarks["left_dome_top"] - 40.0
        assert v.slice_z[0] - ph.level_z[Level.L1] > 30.0
        assert ph.level_z[Level.L5] - v.slice_z[-1] > 50.0
        # no lung in the first and last slices: the scan starts above the apices and ends below the bases
        assert not ph.lung_mask[0].any()
        assert ph.lung_mask[-1].sum() < 0.05 * ph.lung_mask.sum(axis=(1, 2)).max()


def test_full_size_phantom_is_512_square():
    ph = generate_phantom(2, slice_spacing_mm=3.0)
    assert ph.volume.shape[1:] == (512, 512)
    assert 0.6 <= ph.volume.spacing[1] <= 0.8
    assert 90 <= ph.volume.n_slices <= 160


def test_level_order_and_definitions(small):
    for _seed, ph in small.items():
        z = [ph.level_z[lv] for lv in LEVELS]
        assert all(a > b + 10.0 for a, b in itertools.pairwise(z))  # L1 > L2 > ... > L5, well apart
        assert ph.level_z[Level.L4] == pytest.approx((ph.level_z[Level.L3] + ph.level_z[Level.L5]) / 2)
        assert ph.level_z[Level.L5] == pytest.approx(ph.landmarks["right_dome_top"] + L5_ABOVE_RIGHT_DOME_MM)
        assert ph.level_z[Level.L2] == pytest.approx(ph.landmarks["carina"])
        assert ph.landmarks["right_dome_top"] > ph.landmarks["left_dome_top"]  # right dome higher
        slices = ph.level_slices
        assert len(set(slices.values())) == 5
        placements = ph.placements()
        assert [placements[lv].slice_index for lv in LEVELS] == sorted(slices.values())


def test_model_landmarks_define_l1_and_l3():
    for seed in SEEDS:
        anat = phantom_anatomy(seed)
        med = build_mediastinum(anat, Thorax(anat))
        # L3: the four pulmonary veins enter the left atrium symmetrically about the level
        assert med.vein_ostia[:, 2].mean() == pytest.approx(anat.level_z[Level.L3])
        assert abs(med.left_atrium.centre[2] - anat.level_z[Level.L3]) < 1e-9
        # L1: the great vessels leave the top of the arch, just below its outer top surface
        origins_z = med.great_vessel_origins[:, 2]
        assert np.all(origins_z <= anat.level_z[Level.L1] + 1e-6)
        assert np.all(origins_z > anat.level_z[Level.L1] - 15.0)


def _air_components(ph, z: float, centre_rc: tuple[int, int], half_mm: float) -> int:
    """Airway lumens near the carina: air (< -500 HU) outside the (slightly dilated) lungs, >= 30 mm^2."""
    v = ph.volume
    k = int(np.argmin(np.abs(v.slice_z - z)))
    h = round(float(half_mm / v.spacing[1]))
    r, c = centre_rc
    box = np.s_[r - h : r + h + 1, c - h : c + h + 1]
    lungs = ndimage.binary_dilation(ph.lung_mask[k], iterations=1)[box]
    labels, n = ndimage.label((v.hu[k][box] < -500) & ~lungs)
    area_mm2 = np.asarray(ndimage.sum(np.ones_like(labels), labels, range(1, n + 1))) * v.spacing[1] ** 2
    return int(np.sum(area_mm2 >= 30.0))  # airway lumens, not the oesophagus's air or noise


def test_carina_is_where_the_trachea_splits_in_the_volume(small):
    for seed, ph in small.items():
        anat = phantom_anatomy(seed)
        rc = _pixel(ph, *_world_xy(seed, anat.carina_xy))
        l2 = ph.level_z[Level.L2]
        # the trachea lumen is one air column above the carina and two main bronchi below it
        assert _air_components(ph, l2 + 8.0, rc, 25.0) == 1, seed
        assert _air_components(ph, l2 - 8.0, rc, 25.0) == 2, seed


def test_l5_lies_10_mm_above_the_right_dome_measured_on_the_volume(small):
    for seed, ph in small.items():
        anat = phantom_anatomy(seed)
        r, c = _pixel(ph, *_world_xy(seed, anat.dome_r_xy))
        v = ph.volume
        patch = np.median(v.hu[:, r - 2 : r + 3, c - 2 : c + 3].reshape(v.n_slices, -1), axis=1)
        below_l3 = v.slice_z < ph.level_z[Level.L3]
        # the dome top: the first slice from which the column stays soft tissue (liver) for 2 cm
        m = round(20.0 / v.spacing[0])
        soft = patch > -300
        stays = np.array([soft[k : k + m].all() for k in range(v.n_slices)])
        first_soft = int(np.flatnonzero(below_l3 & stays)[0])
        dome_measured = v.slice_z[first_soft]
        assert abs(dome_measured + L5_ABOVE_RIGHT_DOME_MM - ph.level_z[Level.L5]) <= v.spacing[0] + 0.5, seed
        # the same column is mostly aerated lung between L3 and L5 (vessels may cross it)
        between = below_l3 & (v.slice_z > ph.level_z[Level.L5])
        assert np.mean(patch[between] < -600) > 0.7


def test_tissue_hounsfield_units(small):
    for seed, ph in small.items():
        v = ph.volume
        anat = phantom_anatomy(seed)
        lung = v.hu[ph.lung_mask]
        assert -900 < np.median(lung) < -780
        assert np.percentile(lung, 5) > -1000
        corner = v.hu[:, :8, :8]
        assert abs(float(corner.mean()) + 1000) < 8
        assert 5 < corner.std() < 30
        # vertebral body (bone) at L3 and the liver below the right dome
        k3 = ph.level_slices[Level.L3]
        r, c = _pixel(ph, *_world_xy(seed, (0.0, anat.vb_y)))
        assert v.hu[k3, r - 1 : r + 2, c - 1 : c + 2].mean() > 150
        r, c = _pixel(ph, *_world_xy(seed, anat.dome_r_xy))
        k_liver = int(np.argmin(np.abs(v.slice_z - (ph.landmarks["right_dome_top"] - 20.0))))
        assert 35 < v.hu[k_liver, r - 2 : r + 3, c - 2 : c + 3].mean() < 80
        # subcutaneous fat and muscle are present in plausible amounts
        body = v.hu[k3]
        assert np.mean((body > -130) & (body < -70)) > 0.02
        assert np.mean((body > 20) & (body < 70)) > 0.05
        assert v.hu.min() >= -1024
        assert v.hu.max() < 2000


def test_lung_mask_matches_the_aerated_lung(small):
    ph = small[SEEDS[0]]
    k = ph.level_slices[Level.L3]
    mask = ph.lung_mask[k]
    hu = ph.volume.hu[k]
    assert np.mean(hu[mask] < -600) > 0.85  # the mask holds aerated lung (and its vessels)
    body = ndimage.binary_fill_holes(hu > -500)  # the body, with lungs and airways filled in
    aerated_outside = (hu < -700) & ~mask & body
    assert aerated_outside.sum() < 0.02 * mask.sum()  # almost no aerated lung left outside the mask
    labels, n = ndimage.label(mask)
    sizes = sorted(ndimage.sum(mask, labels, range(1, n + 1)), reverse=True)
    assert len(sizes) >= 2
    assert sizes[1] > 0.5 * sizes[0]


def test_invalid_arguments_are_refused():
    with pytest.raises(ValueError, match="slice spacing"):
        generate_phantom(1, slice_spacing_mm=5.0)
    with pytest.raises(ValueError, match="pixel size"):
        generate_phantom(1, pixel_mm=2.0)
    with pytest.raises(ValueError, match="seed"):
        generate_phantom(-3)
