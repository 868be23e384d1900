"""The classical lung mask (threshold, outside air removed, two largest components, clean-up)."""

from __future__ import annotations

import numpy as np
import pytest

from ssc_core.constants import MIN_LUNG_FRACTION
from ssc_core.imaging.lung_mask import has_lung, lung_fraction, lung_mask, lung_mask_volume
from ssc_core.imaging.volume import CTVolume
from tests.core.ai.chest import chest_slice, chest_volume, lung_truth


def iou(a: np.ndarray, b: np.ndarray) -> float:
    return float((a & b).sum()) / float((a | b).sum())


def test_mask_finds_both_lungs_with_vessels_and_not_outside_air():
    hu = chest_slice(512, seed=3)
    mask = lung_mask(hu)
    truth = lung_truth(512)
    assert iou(mask, truth) > 0.97
    assert not mask[:5].any()
    assert not mask[:, :5].any()
    assert mask.dtype == bool
    assert mask.shape == hu.shape


def test_disease_inside_and_at_the_edge_of_the_lung_stays_in_the_mask():
    hu = chest_slice(512, seed=4).astype(np.int16)
    truth = lung_truth(512)
    ys, xs = np.nonzero(truth)
    # ground glass (-450 HU) inside the left lung, reticulation-like dense strands (-150..0) at its edge
    cy, cx = int(ys.mean()), int(xs[xs < 256].mean())
    hu[cy - 20 : cy + 20, cx - 15 : cx + 15] = -450
    edge_x = int(xs[xs < 256].min())
    hu[cy - 3 : cy + 3, edge_x : edge_x + 3] = -60  # a small subpleural dense lesion
    mask = lung_mask(hu)
    assert mask[cy - 20 : cy + 20, cx - 15 : cx + 15].all()
    assert mask[cy - 3 : cy + 3, edge_x + 1 : edge_x + 3].all()
    assert iou(mask, truth) > 0.97


def test_gut_gas_is_not_a_lung_when_lungs_are_present():
    hu = chest_slice(512, gut_gas=True, seed=5)
    mask = lung_mask(hu)
    gas_centre = (int(0.64 * 512), int(0.5 * 512))
    assert not mask[gas_centre]
    assert iou(mask, lung_truth(512)) > 0.97


def test_slice_without_lung_is_no_lung():
    hu = chest_slice(512, lung_scale=0.0, seed=6)
    mask = lung_mask(hu)
    assert not mask.any()
    assert lung_fraction(mask) == 0.0
    assert not has_lung(mask)
    small = np.zeros((512, 512), bool)
    small[200:210, 200:210] = True  # 100 px = 0.04 %: below MIN_LUNG_FRACTION
    assert lung_fraction(small) < MIN_LUNG_FRACTION
    assert not has_lung(small)
    assert has_lung(lung_truth(512))


def test_pixel_spacing_scales_the_minimum_component():
    hu = np.full((128, 128), 40, np.int16)  # a body filling the image...
    hu[:2], hu[-2:], hu[:, :2], hu[:, -2:] = -1000, -1000, -1000, -1000
    hu[60:66, 30:36] = -850  # ...with two 6 x 6 px air pockets
    hu[60:66, 90:96] = -850
    tiny = lung_mask(hu, pixel_spacing_mm=0.7)  # 18 mm^2 each: noise, not lung
    big = lung_mask(hu, pixel_spacing_mm=(2.0, 2.0))  # 144 mm^2 each: lung
    assert not tiny.any()
    assert big.any()


def test_volume_mask_matches_slices_and_drops_gut_gas_below_the_lungs():
    vol = chest_volume(40, 128, lung_top=0.1, lung_bottom=0.6)
    masks = lung_mask_volume(vol)
    assert masks.shape == vol.shape
    _, dy, dx = vol.spacing
    for k in (10, 15, 20):  # lung slices: same as the per-slice method
        assert np.array_equal(masks[k], lung_mask(vol.hu[k], pixel_spacing_mm=(dy, dx)))
    gas_slices = [k for k in range(30, 40) if lung_mask(vol.hu[k], pixel_spacing_mm=(dy, dx)).any()]
    assert gas_slices, "the per-slice method takes gut gas for lung on slices without lung"
    assert not masks[gas_slices].any(), "the volume method drops it (small 3-D structure)"
    assert not masks[0].any()


def test_volume_mask_is_cancellable():
    from ssc_core.errors import Cancelled
    from ssc_core.progress import CancelToken

    token = CancelToken()
    token.cancel()
    with pytest.raises(Cancelled):
        lung_mask_volume(chest_volume(8, 64), cancel=token)


def test_rejects_non_2d_input():
    with pytest.raises(ValueError, match="two dimensions"):
        lung_mask(np.zeros((2, 3, 4), np.int16))


@pytest.mark.realdata
def test_real_chest_slices_have_two_lungs(real_data):
    pydicom = pytest.importorskip("pydicom")
    folder = real_data / "lidc-idri-partial"
    files = sorted(folder.rglob("*.dcm"))
    if not files:
        pytest.skip("no LIDC slices")
    fractions = []
    for path in files[:: max(1, len(files) // 6)]:
        ds = pydicom.dcmread(path)
        hu = ds.pixel_array.astype(np.float32) * float(ds.RescaleSlope) + float(ds.RescaleIntercept)
        hu[hu < -1024] = -1000  # padding outside the scan circle is air
        spacing = tuple(float(v) for v in ds.PixelSpacing)
        mask = lung_mask(hu, pixel_spacing_mm=spacing)
        fractions.append(lung_fraction(mask))
        from scipy import ndimage

        _, n = ndimage.label(mask)
        assert 1 <= n <= 2
    assert all(0.05 < f < 0.5 for f in fractions), fractions


def test_volume_of_one_slice_works():
    hu = chest_slice(64, seed=1)[None]
    vol = CTVolume.from_array(hu, (2.0, 2.8, 2.8))
    assert lung_mask_volume(vol).shape == (1, 64, 64)


def test_phantom_lungs_and_their_disease_are_in_the_mask():
    """On the project's phantom (exact lung and disease masks), with ground glass and reticulation."""
    from ssc_core.imaging.phantom import DiseaseSpec, generate_phantom

    disease = DiseaseSpec(tot=(40, 50, 60, 50, 40), gg=(30, 40, 40, 30, 30), ret=(20, 20, 30, 30, 20))
    ph = generate_phantom(3, slice_spacing_mm=3.0, disease=disease, matrix=256)
    _, dy, dx = ph.volume.spacing
    for k in ph.level_slices.values():
        mask = lung_mask(ph.volume.axial(k), pixel_spacing_mm=(dy, dx))
        truth = ph.lung_mask[k]
        diseased = ph.gg_mask[k] | ph.ret_mask[k]
        assert iou(mask, truth) > 0.9
        assert (mask & diseased).sum() >= 0.97 * diseased.sum()
    vol = lung_mask_volume(ph.volume)
    assert iou(vol, ph.lung_mask) > 0.85  # the volume mask also holds the airways
