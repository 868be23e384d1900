"""Level finders: the sliding-window median (paper), heat-map decoding (fast), outside never clamped."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from ssc_core.ai.geometry import ZAxis
from ssc_core.ai.level_finder import (
    HeatmapLevelFinder,
    WindowedLevelFinder,
    decode_level_logits,
    median_over_windows,
    window_starts,
)
from ssc_core.ai.networks import build_level_finder_net
from ssc_core.ai.results import LevelStatus
from ssc_core.ai.spec import LevelFinderSpec, SliceEncoderParams, VGG3DParams
from ssc_core.constants import LEVELS, Level
from ssc_core.errors import Cancelled
from ssc_core.imaging.volume import CTVolume
from ssc_core.progress import CancelToken


def test_window_starts_match_the_paper():
    assert window_starts(256, 192, 4) == list(range(0, 65, 4))  # 17 windows
    assert window_starts(100, 48, 10) == [0, 10, 20, 30, 40, 50, 52]  # last one flush with the end
    with pytest.raises(ValueError, match="longer"):
        window_starts(100, 192, 4)


class MarkerNet(nn.Module):
    """A stand-in for the VGG: predicts, for every level, the in-window index of the brightest slice.

    Its ``offsets`` shift the five predictions, so levels land at different places. Same attributes as
    VGG11_3D (features, pool, regressor) so the layer-by-layer runner works on it.
    """

    def __init__(self, offsets=(0, 0, 0, 0, 0)) -> None:
        super().__init__()
        self.features = nn.Sequential(nn.Identity())
        self.regressor = nn.Identity()
        self.offsets = torch.tensor(offsets, dtype=torch.float32)

    def pool(self, x: torch.Tensor) -> torch.Tensor:
        profile = x.mean(dim=(1, 3, 4))  # (B, D)
        d = torch.arange(profile.shape[1], dtype=torch.float32)
        w = torch.softmax(profile * 50.0, dim=1)
        centre = (w * d).sum(dim=1, keepdim=True)  # soft-argmax: fractional in-window index
        return centre + self.offsets[None]


def marker_volume(n: int, dz: float, k_marker: int, top_z: float = 40.0) -> CTVolume:
    hu = np.full((n, 16, 16), -800, np.int16)
    hu[k_marker] = 1000
    return CTVolume.from_array(hu, (dz, 2.0, 2.0), top_z=top_z)


def windowed_finder(net: nn.Module) -> WindowedLevelFinder:
    params = VGG3DParams(resampled_shape=(80, 64, 64), window_slices=64, window_stride=4)
    return WindowedLevelFinder(net, LevelFinderSpec("vgg11_3d", params), torch.device("cpu"))


@pytest.mark.parametrize(("n", "dz", "k"), [(40, 2.5, 20), (97, 1.337, 50), (64, 0.625, 30)])
def test_sliding_window_median_finds_the_marker_in_world_coordinates(n, dz, k):
    vol = marker_volume(n, dz, k)
    findings = windowed_finder(MarkerNet()).find(vol)
    grid_step = (vol.z_range[1] - vol.z_range[0]) / 79
    for f in findings:
        assert f.status is LevelStatus.FOUND
        assert f.world_z == pytest.approx(vol.slice_z[k], abs=grid_step)  # no 32-slice (window) offset
        assert abs(f.slice_index - k) <= max(1, int(np.ceil(grid_step / dz)))


def test_median_uses_global_indices():
    grid = torch.zeros(64, 2, 2)
    grid[37] = 1.0
    idx = median_over_windows(grid, lambda x: MarkerNet().pool(x), window=48, stride=4)
    assert np.allclose(idx, 37.0, atol=0.05)


def test_levels_beyond_the_scan_are_outside_not_clamped():
    vol = marker_volume(40, 2.5, 20)
    # Predictions 60 grid steps before/after the marker: beyond the first and the last slice.
    net = MarkerNet(offsets=(-60, -30, 0, 30, 60))
    findings = {f.level: f for f in windowed_finder(net).find(vol)}
    assert findings[Level.L1].status is LevelStatus.ABOVE  # earlier grid index = more cranial here
    assert findings[Level.L1].slice_index is None
    assert findings[Level.L1].world_z > vol.z_range[1]
    assert findings[Level.L5].status is LevelStatus.BELOW
    assert findings[Level.L5].world_z < vol.z_range[0]
    assert findings[Level.L3].status is LevelStatus.FOUND


def test_vgg_finder_is_cancellable_between_layers():
    token = CancelToken()
    token.cancel()
    with pytest.raises(Cancelled):
        windowed_finder(MarkerNet()).find(marker_volume(40, 2.5, 20), cancel=token)


def logits_with_peaks(n: int, peaks: list[float | str]) -> np.ndarray:
    out = np.full((5, n + 2), -20.0)
    idx = np.arange(n)
    for i, p in enumerate(peaks):
        if p == "before":
            out[i, n] = 10.0
        elif p == "after":
            out[i, n + 1] = 10.0
        else:
            out[i, :n] = -0.5 * ((idx - float(p)) / 0.8) ** 2
    return out


@pytest.mark.parametrize("head_first", [True, False])
def test_decoding_soft_argmax_and_outside_sides_follow_the_geometry(head_first):
    n = 80
    z = 100.0 - 2.5 * np.arange(n) if head_first else -97.5 + 2.5 * np.arange(n)
    axis = ZAxis(float(z[0]), float(z[1] - z[0]), n)
    # L1 above the scan, L2-L4 inside (head to feet), L5 below it; "before" the grid's start is above
    # the scan only when the grid runs head to feet
    inside = [10.3, 30.0, 41.7] if head_first else [41.7, 30.0, 10.3]
    first, last = ("before", "after") if head_first else ("after", "before")
    logits = logits_with_peaks(n, [first, *inside, last])
    f = decode_level_logits(logits, axis, z, list(LEVELS), refine_radius=3)
    assert [x.status for x in f] == [LevelStatus.ABOVE, *[LevelStatus.FOUND] * 3, LevelStatus.BELOW]
    assert f[1].world_z == pytest.approx(axis.index_to_world(inside[0]), abs=0.05)
    assert [x.slice_index for x in f[1:4]] == [round(r) for r in inside]
    assert f[0].world_z is None
    assert f[0].slice_index is None


@pytest.mark.parametrize("head_first", [True, False])
def test_crossed_levels_are_put_back_in_anatomical_order(head_first):
    n = 60
    z = 100.0 - 2.5 * np.arange(n) if head_first else -47.5 + 2.5 * np.arange(n)
    axis = ZAxis(float(z[0]), float(z[1] - z[0]), n)
    peaks = [5.0, 15.0, 30.0, 40.0, 50.0]  # head to feet, as grid indices of a head-first grid
    logits = logits_with_peaks(n, peaks if head_first else [n - 1 - p for p in peaks])
    # L4 has a strong second peak above L2 (a crossing a network trained on few scans can make)
    wrong = 10.0 if head_first else n - 1 - 10.0
    logits[3, :n] = np.maximum(logits[3, :n], 2.0 - 0.5 * ((np.arange(n) - wrong) / 0.8) ** 2)
    f = decode_level_logits(logits, axis, z, list(LEVELS), refine_radius=2)
    world = [x.world_z for x in f]
    assert all(w is not None for w in world)
    assert world == sorted(world, reverse=True)  # L1 most cranial (highest z) ... L5 most caudal
    expected = 40 if head_first else n - 1 - 40
    assert f[3].slice_index == expected  # L4 falls back on its peak between L3 and L5


def test_decoding_respects_output_order():
    n = 30
    axis = ZAxis(0.0, -2.0, n)
    z = axis.index_to_world(np.arange(n))
    logits = logits_with_peaks(n, [25.0, 5.0, 10.0, 15.0, 20.0])
    order = [Level.L5, Level.L1, Level.L2, Level.L3, Level.L4]
    f = decode_level_logits(logits, axis, z, order, refine_radius=2)
    assert [x.level for x in f] == list(LEVELS)
    assert [x.slice_index for x in f] == [5, 10, 15, 20, 25]


def test_fast_finder_runs_end_to_end_on_a_scan(small_volume):
    spec = LevelFinderSpec(
        "slice_encoder_1d",
        SliceEncoderParams(slice_size=32, widths=(8, 16), embed=16, head_channels=16, dilations=(1, 2)),
    )
    torch.manual_seed(0)
    finder = HeatmapLevelFinder(build_level_finder_net(spec), spec, torch.device("cpu"))
    seen = []
    findings = finder.find(small_volume, progress=seen.append)
    assert [f.level for f in findings] == list(LEVELS)
    assert seen
    assert seen[-1].done == seen[-1].total
    for f in findings:
        if f.status is LevelStatus.FOUND:
            assert f.slice_index == small_volume.nearest_slice(f.world_z)
        else:
            assert f.slice_index is None


def test_two_levels_never_share_a_position_once_reordered():
    n = 60
    axis = ZAxis(100.0, -2.5, n)
    z = axis.index_to_world(np.arange(n))
    logits = logits_with_peaks(n, [5.0, 15.0, 30.0, 10.0, 50.0])  # L4 above L2 and L3: crossed
    logits[3, 31] = -1.0  # and just below L3, a little less likely
    f = decode_level_logits(logits, axis, z, list(LEVELS), refine_radius=0)
    assert [x.slice_index for x in f] == [5, 15, 30, 31, 50]
