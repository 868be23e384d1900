"""Training targets are the exact inverses of the level finders' decoding."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ssc_core.ai.geometry import spanning_axis, stepped_axis
from ssc_core.ai.level_finder import decode_level_logits, median_over_windows
from ssc_core.ai.level_targets import (
    grid_positions,
    heatmap_loss,
    heatmap_targets,
    window_loss_mm,
    window_targets,
)
from ssc_core.ai.results import LevelStatus
from ssc_core.constants import LEVELS


@pytest.mark.parametrize("head_first", [True, False])
def test_heatmap_targets_decode_back_to_the_levels(head_first):
    z = 200.0 - 1.25 * np.arange(240)
    if not head_first:
        z = z[::-1].copy()
    axis = stepped_axis(z, 2.5)
    top, bottom = float(z.max()), float(z.min())
    level_z = [top + 20.0, top - 61.3, top - 120.0, top - 150.4, bottom - 30.0]  # L1 above, L5 below
    targets = heatmap_targets(grid_positions(level_z, axis), axis.n)
    assert np.allclose(targets.sum(axis=1), 1.0)
    logits = np.log(targets + 1e-12)
    found = decode_level_logits(logits, axis, z, list(LEVELS), refine_radius=3)
    assert found[0].status is LevelStatus.ABOVE
    assert found[4].status is LevelStatus.BELOW
    for f, zz in zip(found[1:4], level_z[1:4]):
        assert f.status is LevelStatus.FOUND
        assert f.world_z == pytest.approx(zz, abs=0.3)  # soft-argmax of the Gaussian recovers the z


def test_window_targets_round_trip_through_the_sliding_median():
    z = 100.0 - 1.5 * np.arange(150)
    axis = spanning_axis(z, 64)
    level_z = [80.0, 60.0, 40.0, 20.0, 0.0]
    truth = grid_positions(level_z, axis)

    def perfect(x: torch.Tensor) -> torch.Tensor:
        # A network that always answers with the crop-relative target of its window.
        starts = perfect.starts.pop(0)
        return torch.tensor(np.stack([window_targets(level_z, axis, s) for s in starts]))

    perfect.starts = [[s] for s in range(0, 64 - 48 + 1, 4)]
    idx = median_over_windows(torch.zeros(64, 2, 2), perfect, window=48, stride=4)
    assert np.allclose(idx, truth)
    assert np.allclose(axis.index_to_world(idx), level_z)


def test_losses():
    pred = torch.tensor([[1.0, 2.0, 3.0, 4.0, 5.0]])
    target = torch.tensor([[1.0, 2.0, 3.0, 4.0, float("nan")]])
    assert window_loss_mm(pred, target, 2.0).item() == pytest.approx(0.0)
    assert window_loss_mm(pred + 1, target, 2.0).item() == pytest.approx(4.0)  # (1 index x 2 mm)^2
    t = torch.from_numpy(heatmap_targets(np.array([3.0, np.nan]), 10))[None]
    good = torch.log(t + 1e-6)
    bad = torch.zeros_like(t)
    assert heatmap_loss(good, t).item() < heatmap_loss(bad, t).item()
    with_l1 = heatmap_loss(bad, t, step_mm=2.5, l1_weight=1.0)
    assert with_l1.item() > heatmap_loss(bad, t).item()
