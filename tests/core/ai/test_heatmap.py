"""Replacement heat maps: equal to a plain one-position-at-a-time reference loop (max |diff| <= 1e-5)."""

from __future__ import annotations

import numpy as np
import pytest
import timm
import torch

from ssc_core.ai.heatmap import (
    HeatmapJob,
    compute_heatmap,
    derived_scores,
    lung_positions,
    patch_positions,
    tile_texture,
)
from ssc_core.ai.preprocess import normalize_np
from ssc_core.ai.replacer import ConvNeXtReplacer
from ssc_core.ai.spec import Normalization
from ssc_core.errors import Cancelled
from ssc_core.imaging.lung_mask import lung_mask
from ssc_core.progress import CancelToken
from tests.core.ai.chest import chest_slice
from tests.core.ai.conftest import healthy_texture
from tests.core.ai.reference import lively, reference_heatmap

PATCH, STRIDE, BLUR = 64, 16, 5
TOL = 1e-5


def scorer(arch="convnext_atto", **kwargs):
    torch.manual_seed(0)
    if kwargs:
        from timm.models.convnext import ConvNeXt

        return lively(ConvNeXt(in_chans=1, num_classes=3, **kwargs))
    return lively(timm.create_model(arch, in_chans=1, num_classes=3, pretrained=False))


def chest_input(size: int, seed: int = 0):
    hu = chest_slice(size, seed=seed)
    mask = lung_mask(hu, pixel_spacing_mm=0.7 * 512 / size)
    norm = Normalization()
    return normalize_np(hu, norm), mask, normalize_np(healthy_texture(), norm)


@pytest.mark.parametrize(("size", "one_lung"), [(128, False), (192, True)])
def test_equal_to_the_reference_loop(size, one_lung):
    net = scorer()
    image, mask, texture = chest_input(size)
    if one_lung:  # only the left lung: the squares over the right half hold no lung and are skipped
        mask[:, size // 2 :] = False
    ref, ref_covered = reference_heatmap(net, image, mask, texture)
    job = HeatmapJob(net, image, mask, texture, patch=PATCH, stride=STRIDE, blur=BLUR, batch_size=7)
    assert job.replacer.shortcut, job.replacer.unsupported_reason
    for _ in job.steps():
        pass
    got = job.result()
    assert np.array_equal(got.covered, ref_covered)
    assert np.abs(ref).max() > 1e-2, "the test network must produce a heat map with contrast"
    assert np.abs(got.values - ref).max() <= TOL
    if one_lung:
        assert got.positions_evaluated < got.positions_total  # positions without lung were skipped
    plain = compute_heatmap(net, image, mask, texture, patch=PATCH, stride=STRIDE, blur=BLUR, shortcut=False)
    assert np.abs(plain.values - ref).max() <= TOL


def test_equal_for_other_convnext_layouts():
    """Linear MLP with channels-last LayerNorm (ConvNeXt-Tiny's layout), a 5x5 kernel, uneven depths."""
    net = scorer(depths=(1, 2, 1, 1), dims=(16, 24, 32, 48), kernel_sizes=(7, 5, 3, 7), conv_mlp=False)
    image, mask, texture = chest_input(128, seed=2)
    ref, _ = reference_heatmap(net, image, mask, texture)
    got = compute_heatmap(net, image, mask, texture, patch=PATCH, stride=STRIDE, blur=BLUR, batch_size=5)
    assert np.abs(got.values - ref).max() <= TOL


def test_every_border_position_is_exact():
    """A mask over the whole image: every position, including corners where windows are clamped."""
    net = scorer()
    image, _, texture = chest_input(128, seed=3)
    mask = np.ones_like(image, dtype=bool)
    rep = ConvNeXtReplacer(
        net,
        torch.from_numpy(image),
        torch.from_numpy(mask),
        torch.from_numpy(tile_texture(texture, image.shape)),
        patch=PATCH,
        blur=BLUR,
    )
    positions = patch_positions(image.shape, PATCH, STRIDE)
    with torch.inference_mode():
        full = net(rep.replaced_images(positions))
    assert torch.abs(rep.scores(positions) - full).max() <= TOL


def test_gpu_style_indexed_crops_give_the_same_scores(monkeypatch):
    """The crop/paste path used on a GPU (one indexed kernel per step), exercised on the CPU."""
    import ssc_core.ai.replacer as replacer_module

    net = scorer()
    image, mask, texture = chest_input(128, seed=6)
    args = (net, torch.from_numpy(image), torch.from_numpy(mask))
    tiled = torch.from_numpy(tile_texture(texture, image.shape))
    positions = lung_positions(mask, PATCH, STRIDE)
    sliced = ConvNeXtReplacer(*args, tiled, patch=PATCH, blur=BLUR).scores(positions)
    monkeypatch.setattr(replacer_module, "INDEXED_CROPS", True)
    indexed = ConvNeXtReplacer(*args, tiled, patch=PATCH, blur=BLUR).scores(positions)
    assert torch.abs(indexed - sliced).max() <= TOL


def test_full_size_slice_positions_are_exact():
    """At the real 512 x 512 input: windowed scores of sample positions equal whole-image forwards."""
    net = scorer()
    image, mask, texture = chest_input(512, seed=4)
    rep = ConvNeXtReplacer(
        net,
        torch.from_numpy(image),
        torch.from_numpy(mask),
        torch.from_numpy(tile_texture(texture, image.shape)),
        patch=PATCH,
        blur=BLUR,
    )
    lung = lung_positions(mask, PATCH, STRIDE)
    sample = [lung[0], lung[len(lung) // 3], lung[len(lung) // 2], lung[-1], (0, 0), (448, 448)]
    with torch.inference_mode():
        full = net(rep.replaced_images(sample))
        base = net(torch.from_numpy(image)[None, None])[0]
    assert torch.abs(rep.base - base).max() == 0
    assert torch.abs(rep.scores(sample) - full).max() <= TOL


def test_convnext_v2_falls_back_to_whole_images_with_the_same_result():
    net = lively(timm.create_model("convnextv2_atto", in_chans=1, num_classes=3, pretrained=False))
    image, mask, texture = chest_input(128, seed=5)
    job = HeatmapJob(net, image, mask, texture, patch=PATCH, stride=STRIDE, blur=BLUR)
    assert not job.replacer.shortcut
    assert "GRN" in job.replacer.unsupported_reason
    for _ in job.steps():
        pass
    ref, _ = reference_heatmap(net, image, mask, texture)
    assert np.abs(job.result().values - ref).max() <= TOL


def test_positions_without_lung_are_skipped():
    mask = np.zeros((128, 128), bool)
    mask[70:80, 20:30] = True
    got = lung_positions(mask, PATCH, STRIDE)
    brute = [
        (y, x) for y, x in patch_positions(mask.shape, PATCH, STRIDE) if mask[y : y + 64, x : x + 64].any()
    ]
    assert got == brute
    assert 0 < len(got) < len(patch_positions(mask.shape, PATCH, STRIDE))
    assert len(patch_positions((512, 512), PATCH, STRIDE)) == 29 * 29


def test_texture_is_tiled_at_pixel_coordinates():
    t = np.arange(16, dtype=np.float32).reshape(4, 4)
    tiled = tile_texture(t, (6, 9))
    assert tiled.shape == (6, 9)
    assert tiled[5, 8] == t[1, 0]
    assert tiled[2, 3] == t[2, 3]


def test_derived_scores_threshold_the_map_over_the_lung():
    mask = np.zeros((10, 10), bool)
    mask[:, :5] = True  # 50 lung pixels
    values = np.zeros((3, 10, 10), np.float32)
    values[0, :5, :5] = -1.0  # 25 px below -0.6 inside the lung
    values[1, :, 5:] = -3.0  # outside the lung: ignored
    assert derived_scores(values, mask, -0.6) == (50.0, 0.0, 0.0)
    assert derived_scores(values, np.zeros_like(mask), -0.6) == (0.0, 0.0, 0.0)


def test_cancel_stops_between_batches():
    net = scorer()
    image, mask, texture = chest_input(128)
    job = HeatmapJob(net, image, mask, texture, patch=PATCH, stride=STRIDE, blur=BLUR, batch_size=2)
    token = CancelToken()
    steps = job.steps(token)
    first = next(steps)
    assert first.done == 2
    token.cancel()
    with pytest.raises(Cancelled):
        next(steps)
    with pytest.raises(RuntimeError, match="not complete"):
        job.result()
