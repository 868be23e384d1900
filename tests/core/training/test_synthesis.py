"""Data synthesis: labels are the inserted areas over the lung area (TOT the union), as DOMAIN.md says."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from ssc_core.errors import TrainingDataError
from ssc_core.imaging import textures
from ssc_core.training.synthesis import (
    SynthesisConfig,
    TextureBank,
    draw_synthesis,
    patch_textures,
    procedural_textures,
    read_patch,
    spare_soft_tissue,
    synthesise,
)

SIZE = 128


def _slices(n: int = 4) -> tuple[np.ndarray, np.ndarray]:
    """Healthy-looking slices: two elliptic "lungs" of parenchyma in soft tissue, with a few vessels."""
    rng = np.random.default_rng(1)
    yy, xx = np.mgrid[0:SIZE, 0:SIZE]
    hu = np.full((n, SIZE, SIZE), 40.0, dtype=np.float32)
    lung = np.zeros((n, SIZE, SIZE), dtype=bool)
    for i in range(n):
        for cx in (38 + i, 90 - i):
            m = ((xx - cx) / 24.0) ** 2 + ((yy - 64) / (40.0 - i)) ** 2 <= 1.0
            lung[i] |= m
        hu[i][lung[i]] = -860.0 + rng.normal(0, 15, lung[i].sum())
        hu[i][(xx - 40) ** 2 + (yy - 60) ** 2 <= 9] = 40.0  # a vessel inside the left lung
    return hu, lung


def _bank(size: int = 64) -> TextureBank:
    return TextureBank(
        procedural_textures("GG", seed=0, variants=2, size=size),
        procedural_textures("RET", seed=0, variants=2, size=size),
    )


def _ellipses_numpy(lung, count, centre_u, axes, angle, scale):
    """Independent numpy rendering of the ellipse union (centre = lung pixel number floor(u * n))."""
    h, w = lung.shape
    flat = np.flatnonzero(lung.ravel())
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    out = np.zeros((h, w), dtype=bool)
    for k in range(count):
        idx = flat[min(math.floor(centre_u[k] * flat.size), flat.size - 1)]
        cy, cx = divmod(int(idx), w)
        a, b = axes[k] * 0.5 * scale
        c, s = math.cos(angle[k]), math.sin(angle[k])
        u = ((xx - cx) * c + (yy - cy) * s) / a
        v = (-(xx - cx) * s + (yy - cy) * c) / b
        out |= u * u + v * v <= 1.0
    return out


def test_labels_are_inserted_areas_with_tot_the_union():
    hu, lung = _slices()
    config = SynthesisConfig(reference_size=SIZE)
    params = draw_synthesis(np.random.default_rng(7), hu.shape[0], (2, 2), config)
    out = synthesise(torch.from_numpy(hu), torch.from_numpy(lung), params, _bank(), config)
    a = params.arrays
    for i in range(hu.shape[0]):
        gg = _ellipses_numpy(
            lung[i], a["gg_count"][i], a["gg_centre_u"][i], a["gg_axes"][i], a["gg_angle"][i], 1.0
        )
        ret = _ellipses_numpy(
            lung[i], a["ret_count"][i], a["ret_centre_u"][i], a["ret_axes"][i], a["ret_angle"][i], 1.0
        )
        gg &= lung[i]
        ret &= lung[i]
        # the masks are the ellipses inside the lung (up to pixels exactly on an ellipse's edge)
        assert np.count_nonzero(gg != out.gg_mask[i].numpy()) <= 2
        assert np.count_nonzero(ret != out.ret_mask[i].numpy()) <= 2
        n = lung[i].sum()
        tot, g, r = out.labels[i].numpy()
        assert g == pytest.approx(100.0 * out.gg_mask[i].sum().item() / n, abs=1e-4)
        assert r == pytest.approx(100.0 * out.ret_mask[i].sum().item() / n, abs=1e-4)
        union = (out.gg_mask[i] | out.ret_mask[i]).sum().item()
        assert tot == pytest.approx(100.0 * union / n, abs=1e-4)
        assert max(g, r) - 1e-4 <= tot <= min(100.0, g + r) + 1e-4  # the union rule
        assert g > 0
        assert r > 0  # at least one ellipse each, centred on lung


def test_image_changes_only_inside_the_lung_and_spares_soft_tissue():
    hu, lung = _slices()
    config = SynthesisConfig(reference_size=SIZE)
    params = draw_synthesis(np.random.default_rng(3), hu.shape[0], (2, 2), config)
    out = synthesise(torch.from_numpy(hu), torch.from_numpy(lung), params, _bank(), config).hu.numpy()
    diff = out - hu
    assert np.abs(diff[~lung]).max() == 0.0
    assert diff[lung].max() > 50.0  # disease added somewhere (HU increases)
    assert diff.min() >= -1e-3  # procedural patterns only raise attenuation
    soft = hu >= -300.0  # vessels and tissue are spared
    assert np.abs(diff[soft]).max() == 0.0


def test_spare_weight_matches_apply_pattern():
    base = np.linspace(-1000, 100, 50, dtype=np.float32)
    delta = np.full_like(base, 100.0)
    expected = textures.apply_pattern(base, delta, np.ones_like(base))
    got = base + spare_soft_tissue(torch.from_numpy(base)).numpy() * delta
    np.testing.assert_allclose(got, expected, atol=1e-4)


def test_ellipse_counts_and_axis_ranges():
    config = SynthesisConfig(ellipses=(1, 3), axis_px=(1.0, 150.0))
    p = draw_synthesis(np.random.default_rng(0), 2000, (3, 4), config).arrays
    for name in ("gg", "ret"):
        assert set(np.unique(p[f"{name}_count"])) == {1, 2, 3}
        assert p[f"{name}_axes"].min() >= 1.0
        assert p[f"{name}_axes"].max() <= 150.0
        assert np.abs(p[f"{name}_tex_rotation"]).max() <= 180.0
        assert p[f"{name}_tex_scale"].min() >= 0.95
        assert p[f"{name}_tex_scale"].max() <= 1.05
    assert p["gg_texture"].max() == 2
    assert p["ret_texture"].max() == 3


def test_user_patches_replace_the_lung_under_the_mask(tmp_path):
    hu, lung = _slices(2)
    patch = np.full((32, 32), -500.0, dtype=np.float32)
    np.save(tmp_path / "gg.npy", patch)
    bank = TextureBank(
        patch_textures([tmp_path / "gg.npy"], size=64), procedural_textures("RET", variants=1, size=64)
    )
    assert bank.gg.mode == "replace"
    assert "gg.npy" in bank.describe()["GG"]
    config = SynthesisConfig(reference_size=SIZE, fade_sigma_px=0.0)
    params = draw_synthesis(np.random.default_rng(5), 2, (1, 1), config)
    params.arrays["ret_count"][:] = 0  # ground glass only
    out = synthesise(torch.from_numpy(hu), torch.from_numpy(lung), params, bank, config)
    m = out.gg_mask.numpy()
    np.testing.assert_allclose(out.hu.numpy()[m], -500.0, atol=1e-3)  # unfaded: the patch's HU
    assert out.labels[:, 2].abs().max() == 0.0
    assert torch.equal(out.labels[:, 0], out.labels[:, 1])


def test_read_patch_eight_bit_image_is_lung_window(tmp_path):
    import SimpleITK as sitk

    img = np.zeros((20, 20), dtype=np.uint8)
    img[:, 10:] = 255
    sitk.WriteImage(sitk.GetImageFromArray(img), str(tmp_path / "p.png"))
    hu = read_patch(tmp_path / "p.png")
    assert hu[0, 0] == pytest.approx(-1350.0)
    assert hu[0, 19] == pytest.approx(150.0)
    with pytest.raises(TrainingDataError, match="does not exist"):
        read_patch(tmp_path / "missing.png")
    np.save(tmp_path / "tiny.npy", np.zeros((4, 4)))
    with pytest.raises(TrainingDataError, match="at least 16"):
        read_patch(tmp_path / "tiny.npy")
