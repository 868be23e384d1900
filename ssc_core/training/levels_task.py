"""Training a level finder: the samples each architecture needs, its loss, and validation in mm.

* ``vgg11_3d`` (the paper): random 192-slice crops of the 256-resampled scan; the target is each level's
  (fractional) index inside the crop, and the loss is computed in mm (index difference times the z spacing
  of the resampled grid), MSE by default. Validation runs the inference procedure itself (windows slid with
  stride 4, median of start + prediction: ``median_over_windows``).
* ``slice_encoder_1d`` (the fast finder): random z-crops of the stack of reduced slices (60-100 % of the
  scan's length, all crops of a batch the same length), a mild in-plane affine augmentation of the whole
  stack, and a soft target per level: a Gaussian of one grid step around the level's position, or the
  "above"/"below the scan" class when the crop does not contain it; loss = cross-entropy with the soft
  target. Validation decodes the full scan's logits as inference does (``decode_level_logits``).

Targets and losses come from :mod:`ssc_core.ai.level_targets`, the inverses of the inference decoders.
Validation errors are world-z distances in mm between predicted and reference level positions; a level
wrongly predicted outside the scan counts as the distance from its reference to the scan's end.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from ssc_core.ai.geometry import ZAxis
from ssc_core.ai.level_targets import heatmap_loss, heatmap_targets, window_loss_mm, window_targets
from ssc_core.ai.spec import LevelFinderSpec, SliceEncoderParams, VGG3DParams
from ssc_core.constants import AIR_HU, FAST_FINDER_CROP_RANGE, FAST_FINDER_TARGET_SIGMA, Level
from ssc_core.training.augment import AffineRanges, draw_affine, warp
from ssc_core.training.distributed import DistInfo, gather_objects
from ssc_core.training.prepare import CaseArrays
from ssc_core.training.sampling import epoch_seed
from ssc_core.training.scorer_task import LOSSES

#: In-plane augmentation of the fast finder's slices (pixels at its reduced matrix).
FAST_FINDER_AUGMENT = AffineRanges(rotation_deg=10.0, scale=(0.93, 1.07), shift_px=4.0)


class LevelsTask:
    """Level-finder training for either architecture."""

    name = "levels"
    selection_metric = "val_mae_mm"

    def __init__(
        self,
        spec: LevelFinderSpec,
        train: Sequence[CaseArrays],
        val: Sequence[CaseArrays],
        *,
        batch_size: int,
        seed: int,
        device: torch.device,
        loss: str = "mse",
        augment: bool = True,
    ) -> None:
        self.spec = spec
        self.vgg = spec.architecture == "vgg11_3d"
        self.batch_size = batch_size
        self.seed = seed
        self.device = device
        self.loss_name = loss
        self.augment = augment
        self.levels = [Level.parse(o) for o in spec.outputs]
        self.train = [self._case(a) for a in train]
        self.val = [self._case(a) for a in val]
        norm = spec.normalization
        self.air = float((AIR_HU - norm.hu_min) / (norm.hu_max - norm.hu_min))

    def _case(self, a: CaseArrays) -> dict[str, Any]:
        assert a.lf_input is not None
        assert a.lf_axis is not None
        axis = ZAxis(*a.lf_axis)
        z = np.asarray([a.labels.level_z[lv] for lv in self.levels], dtype=np.float64)
        return {
            "key": a.key,
            "input": torch.from_numpy(a.lf_input),
            "axis": axis,
            "z": z,
            "index": np.asarray(axis.world_to_index(z), dtype=np.float64),
            "slice_z": a.slice_z,
        }

    def build_net(self) -> nn.Module:
        from ssc_core.ai.networks import build_level_finder_net

        return build_level_finder_net(self.spec)

    # --- plan and batches ---------------------------------------------------------------------------

    def steps_per_epoch(self, world: int) -> int:
        unit = self.batch_size * world
        return max(1, -(-len(self.train) // unit))

    def plan(self, epoch: int, world: int) -> dict[str, np.ndarray]:
        n = self.steps_per_epoch(world) * self.batch_size * world
        rng = np.random.default_rng(epoch_seed(self.seed, epoch, stream=3))
        order = rng.permutation(len(self.train))
        order = np.resize(order, n)  # repeat from the start to fill the last batches
        return {
            "case": order,
            "crop": rng.random(n),  # crop start (fraction of the free range)
            "length": rng.uniform(*FAST_FINDER_CROP_RANGE, n),  # fast finder: crop length (per batch)
            "affine": draw_affine(rng, n, FAST_FINDER_AUGMENT if self.augment else AffineRanges.none()),
        }

    def batches(self, epoch: int, dist: DistInfo) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        plan = self.plan(epoch, dist.world_size)
        positions = np.arange(plan["case"].size)[dist.rank :: dist.world_size]
        b = self.batch_size
        for start in range(0, positions.size - b + 1, b):
            pos = positions[start : start + b]
            yield self._vgg_batch(plan, pos) if self.vgg else self._fast_batch(plan, pos)

    def _vgg_batch(self, plan: dict[str, np.ndarray], pos: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        p = self.spec.params
        assert isinstance(p, VGG3DParams)
        xs, ys = [], []
        for i in pos:
            c = self.train[int(plan["case"][i])]
            d = c["input"].shape[0]
            start = int(plan["crop"][i] * (d - p.window_slices + 1))
            xs.append(c["input"][start : start + p.window_slices])
            ys.append(window_targets(c["z"], c["axis"], start))  # the level's index inside the crop
        x = torch.stack(xs)[:, None].to(self.device, torch.float32)
        y = torch.from_numpy(np.stack(ys).astype(np.float32)).to(self.device)
        return x, y

    def _fast_batch(self, plan: dict[str, np.ndarray], pos: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        cases = [self.train[int(plan["case"][i])] for i in pos]
        shortest = min(c["input"].shape[0] for c in cases)
        length = max(8, min(shortest, int(plan["length"][pos[0]] * shortest)))
        xs, targets = [], []
        for i, c in zip(pos, cases):
            n = c["input"].shape[0]
            start = int(plan["crop"][i] * (n - length + 1))
            xs.append(c["input"][start : start + length])
            # the inverse of the inference decoding (ssc_core.ai.level_targets), on the crop's grid
            targets.append(heatmap_targets(c["index"] - start, length, sigma_steps=FAST_FINDER_TARGET_SIGMA))
        x = torch.stack(xs).to(self.device, torch.float32)
        if self.augment:
            x = warp(x, torch.from_numpy(plan["affine"][pos]), fill=self.air)
        y = torch.from_numpy(np.stack(targets)).to(self.device)
        return x, y

    def loss(self, model: nn.Module, batch: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
        x, y = batch
        out = model(x).float()
        if self.vgg:
            # in mm: index differences times the resampled grid's z step (the paper)
            step = float(abs(self.train[0]["axis"].step_z)) if self.train else 1.0
            if self.loss_name == "mse":
                return window_loss_mm(out, y, step)
            return LOSSES[self.loss_name](out * step, y * step)
        return heatmap_loss(out, y)

    # --- validation ---------------------------------------------------------------------------------

    def predict_world(self, net: nn.Module, case: dict[str, Any], autocast: Any) -> np.ndarray:
        """Predicted world z per level (NaN where the finder says "outside"), by the inference procedure."""
        from ssc_core.ai.level_finder import decode_level_logits, median_over_windows

        x = case["input"].to(self.device, torch.float32)
        with torch.inference_mode(), autocast():
            if self.vgg:
                p = self.spec.params
                assert isinstance(p, VGG3DParams)
                idx = median_over_windows(
                    x, lambda w: net(w).float(), window=p.window_slices, stride=p.window_stride, batch=4
                )
                return np.asarray(case["axis"].index_to_world(idx), dtype=np.float64)
            logits = net(x[None])[0].float().cpu().numpy()
        params = self.spec.params
        assert isinstance(params, SliceEncoderParams)
        findings = decode_level_logits(
            logits, case["axis"], case["slice_z"], self.levels, params.refine_radius
        )
        by_level = {f.level: f for f in findings}
        return np.asarray(
            [np.nan if by_level[lv].world_z is None else by_level[lv].world_z for lv in self.levels]
        )

    def validate(self, net: nn.Module, dist: DistInfo, autocast: Any) -> dict[str, float]:
        if not self.val:
            return {}
        mine = list(range(dist.rank, len(self.val), dist.world_size))
        preds = [(i, self.predict_world(net, self.val[i], autocast)) for i in mine]
        found: dict[int, np.ndarray] = {}
        for part in gather_objects(dist, preds):
            found.update(dict(part))
        errors = np.zeros((len(self.val), len(self.levels)))
        outside = 0
        for i, c in enumerate(self.val):
            pred = found[i]
            lo, hi = float(np.min(c["slice_z"])), float(np.max(c["slice_z"]))
            for j, (zp, zr) in enumerate(zip(pred, c["z"])):
                if np.isnan(zp):
                    outside += 1
                    errors[i, j] = min(abs(zr - lo), abs(hi - zr))
                else:
                    errors[i, j] = abs(zp - zr)
        out = {f"val_mae_mm_{lv.label}": float(errors[:, j].mean()) for j, lv in enumerate(self.levels)}
        out["val_mae_mm"] = float(errors.mean())
        out["val_max_mm"] = float(errors.max())
        out["val_outside"] = float(outside)
        return out
