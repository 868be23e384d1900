"""Training targets of the level finders, the exact inverses of their inference decoding.

Kept beside the decoders so training (``ssc_core.training``) and inference cannot drift apart:

* ``vgg11_3d``: :func:`window_targets` gives each level's index *inside a crop* of the resampled grid
  (the paper trains on random 192-slice crops; the target is the slice index inside the crop; the loss is
  in mm, index times the grid step, :func:`window_loss_mm`). Inference adds the crop's start back
  (:func:`~ssc_core.ai.level_finder.median_over_windows`); mixing the two coordinate systems is the
  authors' 32-slice bug.
* ``slice_encoder_1d``: :func:`heatmap_targets` turns level positions on the stepped grid into target
  distributions over the N positions plus "above" and "below" (a Gaussian of ``sigma_steps`` around the
  position; all mass in one outside bin for a level beyond the grid), and :func:`heatmap_loss` is the
  cross-entropy between the network's logits and them (plus an optional L1 of the soft-argmax in mm).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F

from ssc_core.ai.geometry import ZAxis

#: Default width (grid steps) of the Gaussian target of the fast level finder (2.5 mm steps: 2.5 mm).
DEFAULT_SIGMA_STEPS = 1.0


def grid_positions(level_z: Sequence[float | None], axis: ZAxis) -> np.ndarray:
    """Fractional grid index of each level's world z (NaN for an unknown level)."""
    return np.array([np.nan if z is None else float(axis.world_to_index(float(z))) for z in level_z])


def window_targets(level_z: Sequence[float | None], axis: ZAxis, start: int) -> np.ndarray:
    """``vgg11_3d`` targets for a crop starting at grid index ``start``: the index inside the crop."""
    return grid_positions(level_z, axis) - float(start)


def window_loss_mm(pred: torch.Tensor, target: torch.Tensor, step_mm: float) -> torch.Tensor:
    """The paper's loss: mean squared error of in-window indices, in mm (index times the grid step)."""
    valid = torch.isfinite(target)
    diff = (pred - torch.nan_to_num(target)) * abs(step_mm)
    return (diff[valid] ** 2).mean()


def heatmap_targets(positions: np.ndarray, n: int, *, sigma_steps: float = DEFAULT_SIGMA_STEPS) -> np.ndarray:
    """Target distributions (levels, n + 2) for the fast finder from grid positions.

    A position inside [-0.5, n - 0.5] becomes a normalised Gaussian over the n grid positions; one before
    the grid puts all mass on bin ``n`` ("before the start"), one after it on bin ``n + 1``. A NaN
    (unknown level) gives a row of zeros (ignored by :func:`heatmap_loss`).
    """
    out = np.zeros((len(positions), n + 2), dtype=np.float32)
    idx = np.arange(n, dtype=np.float64)
    for i, p in enumerate(positions):
        if not np.isfinite(p):
            continue
        if p < -0.5:
            out[i, n] = 1.0
        elif p > n - 0.5:
            out[i, n + 1] = 1.0
        else:
            g = np.exp(-0.5 * ((idx - p) / sigma_steps) ** 2)
            out[i, :n] = g / g.sum()
    return out


def heatmap_loss(
    logits: torch.Tensor,
    targets: torch.Tensor,
    *,
    step_mm: float | None = None,
    l1_weight: float = 0.0,
) -> torch.Tensor:
    """Cross-entropy of (B, levels, N + 2) logits against :func:`heatmap_targets`; rows of zeros are
    ignored. With ``l1_weight`` and ``step_mm``, adds the L1 distance (mm) between the soft-argmax over the
    grid and the target's mean position, for levels inside the grid."""
    logp = F.log_softmax(logits, dim=-1)
    mass = targets.sum(dim=-1)
    valid = mass > 0
    ce = -(targets * logp).sum(dim=-1)
    loss = ce[valid].mean() if valid.any() else logits.sum() * 0.0
    if l1_weight and step_mm:
        n = logits.shape[-1] - 2
        grid = torch.arange(n, dtype=logits.dtype, device=logits.device)
        inside = targets[..., :n].sum(dim=-1) > 0.5
        if inside.any():
            p = torch.softmax(logits[..., :n], dim=-1)
            pred = (p * grid).sum(dim=-1)
            true = (targets[..., :n] * grid).sum(dim=-1) / targets[..., :n].sum(dim=-1).clamp(min=1e-8)
            loss = loss + l1_weight * (abs(step_mm) * (pred - true).abs())[inside].mean()
    return loss
