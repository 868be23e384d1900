"""Training the slice scorer: samples, balanced sampling, synthesis and augmentation, all batched in torch.

The samples of the training cases (each level slice and its neighbours, with the level's label) sit in one
int16 tensor, on the GPU when it fits. Every epoch has a *plan*, drawn from generators seeded by (seed,
epoch) and identical in every process: which positions are real samples (drawn by :class:`BalancedSampler`)
and which synthetic (a healthy background and its synthesis parameters), and every sample's augmentation.
Each process takes its share of the positions; a batch is then assembled on the device (gather, synthesis,
normalisation, affine warp), so the data pipeline costs a few tensor operations per step.

Validation uses the real level slices of the validation cases only (never synthetic ones, never the
neighbours), at the scorer's full input size; the selection metric is the mean of the TOT, GG and RET MAE.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ssc_core.ai.preprocess import normalize, resize_slices
from ssc_core.ai.spec import Normalization, ScorerSpec
from ssc_core.constants import AIR_HU, PATTERNS
from ssc_core.training.augment import AffineRanges, draw_affine, warp
from ssc_core.training.distributed import DistInfo, gather_objects
from ssc_core.training.prepare import Backgrounds, CaseArrays
from ssc_core.training.sampling import BalancedSampler, balanced_weights, epoch_seed
from ssc_core.training.synthesis import SynthesisConfig, TextureBank, draw_synthesis, synthesise

#: During training the scorer regresses fractions (percent / 100); the factor is folded into the head's
#: weights when the bundle is written, so the bundle's scorer outputs percent as the spec says. MSE on
#: fractions is MSE on percent divided by a constant; but Adam moves every weight by about the learning
#: rate per step whatever the loss's scale, so a head that must reach outputs of tens of percent from its
#: small initial weights would need a hundred times more steps.
TARGET_SCALE = 100.0

#: Loss functions for the regression outputs (the paper: MSE).
LOSSES = {"mse": F.mse_loss, "l1": F.l1_loss, "huber": F.smooth_l1_loss}


@dataclass(frozen=True)
class ScorerRecipe:
    """Sampling, synthesis and augmentation settings of scorer training."""

    batch_size: int
    samples_per_epoch: int | None = None
    synthetic_share: float = 0.5
    balanced: bool = True
    synthesis: SynthesisConfig = field(default_factory=SynthesisConfig)
    augment: AffineRanges = field(default_factory=AffineRanges)
    #: Train at this input size (smaller = faster; validation and inference stay at the spec's size).
    train_size: int | None = None
    loss: str = "mse"
    #: Weight of the auxiliary density loss (0: the paper's recipe; see :class:`DensityHead`).
    density_weight: float = 0.0


def _stack(arrays: Sequence[CaseArrays], centre_only: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    hus, lungs, labels = [], [], []
    for a in arrays:
        assert a.hu is not None
        assert a.lung is not None
        assert a.centre is not None
        keep = a.centre if centre_only else np.ones(a.centre.shape, dtype=bool)
        hus.append(a.hu[keep])
        lungs.append(a.lung[keep])
        labels.append(a.sample_labels()[keep])
    return np.concatenate(hus), np.concatenate(lungs), np.concatenate(labels)


class ScorerTask:
    """Everything scorer-specific the trainer needs: the network, the batches, the loss, validation."""

    name = "scorer"
    selection_metric = "val_mae_mean"

    def __init__(
        self,
        spec: ScorerSpec,
        train: Sequence[CaseArrays],
        val: Sequence[CaseArrays],
        recipe: ScorerRecipe,
        bank: TextureBank | None,
        backgrounds: Backgrounds | None,
        *,
        seed: int,
        device: torch.device,
        pretrained: str | None = None,
    ) -> None:
        self.spec = spec
        self.recipe = recipe
        self.seed = seed
        self.device = device
        self.pretrained = pretrained
        self.norm: Normalization = spec.normalization
        self.order = [PATTERNS.index(next(p for p in PATTERNS if p.value == o)) for o in spec.outputs]
        hu, lung, labels = _stack(train, centre_only=False)
        self.n_real = hu.shape[0]
        # Keep the sample bank on the GPU when it takes under a quarter of its free memory.
        bank_dev = torch.device("cpu")
        if device.type == "cuda":
            free, _ = torch.cuda.mem_get_info(device)
            if hu.nbytes + lung.nbytes < free // 4:
                bank_dev = device
        self.bank_device = bank_dev
        self.hu = torch.from_numpy(hu).to(bank_dev)
        self.lung = torch.from_numpy(lung).to(bank_dev)
        self.labels = torch.from_numpy(labels[:, self.order]).to(device)
        self.tot = labels[:, 0]
        self.weights = (
            balanced_weights(self.tot) if recipe.balanced else np.full(self.n_real, 1.0 / self.n_real)
        )
        # Synthesis backgrounds: the training samples with TOT = 0, plus the extra normal-lung slices.
        healthy = np.flatnonzero(self.tot == 0)
        bg_hu = [hu[healthy]]
        bg_lung = [lung[healthy]]
        if backgrounds is not None and backgrounds.hu.shape[0]:
            bg_hu.append(backgrounds.hu)
            bg_lung.append(backgrounds.lung)
        self.bg_hu = torch.from_numpy(np.concatenate(bg_hu)).to(bank_dev)
        self.bg_lung = torch.from_numpy(np.concatenate(bg_lung)).to(bank_dev)
        self.n_backgrounds = int(self.bg_hu.shape[0])
        self.texture_bank = bank.to(device) if bank is not None else None
        share = recipe.synthetic_share if (self.texture_bank is not None and self.n_backgrounds) else 0.0
        self.synthetic_share = share
        vhu, _vlung, vlabels = _stack(val, centre_only=True) if val else (None, None, None)
        self.val_hu = vhu
        self.val_labels = vlabels
        self.air = float((AIR_HU - self.norm.hu_min) / (self.norm.hu_max - self.norm.hu_min))

    # --- network ------------------------------------------------------------------------------------

    def build_net(self) -> nn.Module:
        """The network trained: the scorer, with the auxiliary density head when that loss is on."""
        scorer = self.build_scorer()
        return DensityHead(scorer) if self.recipe.density_weight > 0 else scorer

    def build_scorer(self) -> nn.Module:
        """The scorer in its training form (see :data:`TARGET_SCALE`), ready to learn from scratch.

        * The fresh one-channel stem gets PyTorch's default convolution initialisation. timm initialises
          convolution biases to zero; with a zero bias the stem's output at a uniform patch is proportional
          to its intensity and the LayerNorm that follows removes that factor, so a fresh stem cannot tell
          uniform regions of different density apart (ground glass is such a change of density) and a
          from-scratch scorer stays blind to it for a long time. The paper's stem is fresh too (its other
          layers came from ImageNet).
        * The output bias starts at the mean label the balanced sampler will draw.
        """
        from ssc_core.ai.networks import build_scorer_net

        net = build_scorer_net(self.spec, pretrained=self.pretrained)
        stem = getattr(net, "stem", None)
        if isinstance(stem, nn.Sequential) and isinstance(stem[0], nn.Conv2d):
            stem[0].reset_parameters()
        head = cast(Any, net).get_classifier()  # timm models have it; nn.Module's typing does not
        if isinstance(head, nn.Linear) and head.bias is not None:
            mean = (self.weights[:, None] * self.labels.cpu().numpy()).sum(axis=0) / TARGET_SCALE
            with torch.no_grad():
                head.bias.copy_(torch.from_numpy(mean.astype(np.float32)))
        return net

    def export_state(self, state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Training form -> bundle form: the scorer alone (no density head), the head's weights and bias
        times :data:`TARGET_SCALE` (so that it outputs percent)."""
        if self.recipe.density_weight > 0:
            state = {k[len("net.") :]: v for k, v in state.items() if k.startswith("net.")}
        return _scale_head(self.build_scorer(), state, TARGET_SCALE)

    def import_state(self, state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Bundle form -> training form (for fine-tuning a bundle's scorer; a density head starts fresh)."""
        scaled = _scale_head(self.build_scorer(), state, 1.0 / TARGET_SCALE)
        if self.recipe.density_weight <= 0:
            return scaled
        full = dict(self.build_net().state_dict())
        full.update({f"net.{k}": v for k, v in scaled.items()})
        return full

    # --- plan and batches ---------------------------------------------------------------------------

    def epoch_size(self, world: int) -> int:
        r = self.recipe
        n = r.samples_per_epoch or round(self.n_real / max(1e-9, 1.0 - self.synthetic_share))
        unit = r.batch_size * world
        return max(unit, -(-n // unit) * unit)

    def steps_per_epoch(self, world: int) -> int:
        return self.epoch_size(world) // (self.recipe.batch_size * world)

    def plan(self, epoch: int, world: int) -> dict[str, Any]:
        """The whole epoch's samples (identical in every process): kinds, indices, synthesis, augmentation."""
        n = self.epoch_size(world)
        n_syn = round(self.synthetic_share * n)
        rng = np.random.default_rng(epoch_seed(self.seed, epoch, stream=2))
        kind = np.zeros(n, dtype=bool)
        kind[:n_syn] = True
        rng.shuffle(kind)
        sampler = BalancedSampler(self.weights, max(1, n - n_syn), seed=self.seed)
        sampler.set_epoch(epoch)
        real = sampler.global_indices()[: n - n_syn]
        which = np.zeros(n, dtype=np.int64)
        which[~kind] = np.arange(n - n_syn)
        which[kind] = np.arange(n_syn)
        plan: dict[str, Any] = {"kind": kind, "which": which, "real": real}
        if n_syn:
            assert self.texture_bank is not None
            sizes = (self.texture_bank.gg.tiles.shape[0], self.texture_bank.ret.tiles.shape[0])
            plan["synth"] = draw_synthesis(rng, n_syn, sizes, self.recipe.synthesis)
            plan["background"] = rng.integers(0, self.n_backgrounds, n_syn)
        plan["affine"] = draw_affine(rng, n, self.recipe.augment)
        return plan

    def batches(self, epoch: int, dist: DistInfo) -> Iterator[tuple[torch.Tensor, ...]]:
        """This process's batches of the epoch: (input (B, 1, S, S) in [0, 1], labels (B, 3) percent[, density
        maps (B, 4, S, S) and which of them are known (B, 4)])."""
        plan = self.plan(epoch, dist.world_size)
        positions = np.arange(plan["kind"].size)[dist.rank :: dist.world_size]
        b = self.recipe.batch_size
        for start in range(0, positions.size - b + 1, b):
            yield self.make_batch(plan, positions[start : start + b])

    def make_batch(self, plan: dict[str, Any], pos: np.ndarray) -> tuple[torch.Tensor, ...]:
        dev = self.device
        kind = plan["kind"][pos]
        which = plan["which"][pos]
        hu = torch.empty((pos.size, *self.hu.shape[1:]), dtype=torch.float32, device=dev)
        labels = torch.empty((pos.size, 3), dtype=torch.float32, device=dev)
        dense_on = self.recipe.density_weight > 0
        if dense_on:  # coverage maps (lung, TOT, GG, RET) and which of them are known, per sample
            dense = torch.zeros((pos.size, 4, *self.hu.shape[1:]), dtype=torch.float32, device=dev)
            known = torch.zeros((pos.size, 4), dtype=torch.float32, device=dev)
        real_rows = np.flatnonzero(~kind)
        if real_rows.size:
            idx = torch.from_numpy(plan["real"][which[real_rows]]).to(self.bank_device)
            rows_t = torch.from_numpy(real_rows).to(dev)
            hu[rows_t] = self.hu[idx].to(dev, non_blocking=True).to(torch.float32)
            labels[rows_t] = self.labels[idx.to(dev)]
            if dense_on:
                dense[rows_t, 0] = self.lung[idx].to(dev, non_blocking=True).to(torch.float32)
                known[rows_t, 0] = 1.0
                # a healthy slice's disease maps are known: empty (a diseased one's are not)
                healthy = (self.labels[idx.to(dev), 0] == 0).to(torch.float32)
                known[rows_t, 1:] = healthy[:, None]
        syn_rows = np.flatnonzero(kind)
        if syn_rows.size:
            assert self.texture_bank is not None
            k = which[syn_rows]
            bg = torch.from_numpy(plan["background"][k]).to(self.bank_device)
            out = synthesise(
                self.bg_hu[bg].to(dev, non_blocking=True).to(torch.float32),
                self.bg_lung[bg].to(dev, non_blocking=True),
                plan["synth"].take(k),
                self.texture_bank,
                self.recipe.synthesis,
            )
            rows_t = torch.from_numpy(syn_rows).to(dev)
            hu[rows_t] = out.hu
            labels[rows_t] = out.labels[:, self.order]
            if dense_on:
                dense[rows_t, 0] = self.bg_lung[bg].to(dev, non_blocking=True).to(torch.float32)
                dense[rows_t, 1] = (out.gg_mask | out.ret_mask).to(torch.float32)
                dense[rows_t, 2] = out.gg_mask.to(torch.float32)
                dense[rows_t, 3] = out.ret_mask.to(torch.float32)
                known[rows_t] = 1.0
        affine = torch.from_numpy(plan["affine"][pos])
        x = normalize(hu, self.norm)[:, None]
        x = warp(x, affine, fill=self.air)
        size = self.recipe.train_size
        if size is not None and size != x.shape[-1]:
            x = resize_slices(x, size)
        if not dense_on:
            return x, labels
        dense = warp(dense, affine)  # the same transform as the image: coverage stays where the pixels go
        return x, labels, dense, known

    def loss(self, model: nn.Module, batch: tuple[torch.Tensor, ...]) -> torch.Tensor:
        x, y = batch[0], batch[1]
        out = model(x)
        if not isinstance(out, tuple):
            return LOSSES[self.recipe.loss](out.float(), y / TARGET_SCALE)
        out, density = out
        main = LOSSES[self.recipe.loss](out.float(), y / TARGET_SCALE)
        dense, known = batch[2], batch[3]
        # coverage of each feature-map cell: the mean of the (warped) masks over the cell's pixels
        target = F.adaptive_avg_pool2d(dense, density.shape[-2:])
        err = (density.float() - target) ** 2 * known[:, :, None, None]
        cells = known.sum() * density.shape[-1] * density.shape[-2]
        return main + self.recipe.density_weight * err.sum() / cells.clamp(min=1.0)

    # --- validation ---------------------------------------------------------------------------------

    def predict(self, net: nn.Module, hu: np.ndarray, autocast: Any, batch: int = 8) -> np.ndarray:
        """Raw outputs (n, 3) in TOT, GG, RET order for HU slices at the input size.

        With a smaller ``train_size`` the slices are reduced to it, as in training (so that the checkpoint
        chosen by validation is the best at the size it was trained at; fine-tune at the full size after).
        """
        outs = []
        size = self.recipe.train_size
        with torch.inference_mode():
            for s in range(0, hu.shape[0], batch):
                x = normalize(torch.from_numpy(hu[s : s + batch]).to(self.device), self.norm)[:, None]
                if size is not None and size != x.shape[-1]:
                    x = resize_slices(x, size)
                with autocast():
                    y = net(x)
                    y = (y[0] if isinstance(y, tuple) else y).float()
                outs.append(y.cpu().numpy())
        raw = np.concatenate(outs) * TARGET_SCALE if outs else np.zeros((0, 3))
        inverse = np.argsort(self.order)
        return raw[:, inverse].astype(np.float64)

    def validate(self, net: nn.Module, dist: DistInfo, autocast: Any) -> dict[str, float]:
        if self.val_hu is None or self.val_hu.shape[0] == 0:
            return {}
        n = self.val_hu.shape[0]
        mine = np.arange(n)[dist.rank :: dist.world_size]
        preds = self.predict(net, self.val_hu[mine], autocast)
        gathered = gather_objects(dist, (mine, preds))
        raw = np.zeros((n, 3))
        for idx, p in gathered:
            raw[idx] = p
        assert self.val_labels is not None
        return scorer_metrics(raw, self.val_labels.astype(np.float64))


def scorer_metrics(raw: np.ndarray, ref: np.ndarray) -> dict[str, float]:
    """MAE of the raw outputs (clipped to 0..100) per pattern and their mean; kappa and TOT ICC on the grid.

    Statistics come from :mod:`ssc_core.analysis.agreement` (kappa on the full 21-category grid); during
    training every validation slice counts as an observation (the full evaluation counts patients).
    """
    from ssc_core.ai.results import SliceScores
    from ssc_core.analysis.agreement import icc, mae, weighted_kappa

    clipped = np.clip(raw, 0.0, 100.0)
    grid = np.asarray([SliceScores.from_raw(*r).rounded for r in raw], dtype=np.float64)
    out: dict[str, float] = {}
    maes = []
    for i, p in enumerate(PATTERNS):
        m = mae(clipped[:, i], ref[:, i])
        v = float("nan") if m.value is None else float(m.value)
        out[f"val_mae_{p.value.lower()}"] = v
        maes.append(v)
        k = weighted_kappa(grid[:, i], ref[:, i])
        out[f"val_kappa_{p.value.lower()}"] = float("nan") if k.value is None else float(k.value)
    c = icc(grid[:, 0], ref[:, 0])
    out["val_icc_tot"] = float("nan") if c.value is None else float(c.value)
    out["val_mae_mean"] = float(np.mean(maes))
    return out


def _scale_head(net: nn.Module, state: dict[str, torch.Tensor], factor: float) -> dict[str, torch.Tensor]:
    """``state`` with the classifier's weight and bias multiplied by ``factor``."""
    head = cast(Any, net).get_classifier()
    prefix = next(name for name, m in net.named_modules() if m is head)
    out = dict(state)
    for suffix in ("weight", "bias"):
        key = f"{prefix}.{suffix}"
        if key in out:
            out[key] = out[key] * factor
    return out


class DensityHead(nn.Module):
    """A scorer with an auxiliary 1x1 convolution on its last feature map, for training only.

    The convolution predicts, per cell of the feature map (32 x 32 input pixels), the share covered by lung
    and by disease (TOT, GG, RET). On synthetic slices those shares are known exactly from the inserted
    masks, on healthy slices the disease shares are 0, and the lung's share is known everywhere; the loss
    on them tells the network *where* the disease it must measure is, which the slice's three numbers
    alone say only after many more steps. It is not part of the paper's recipe (``--density-weight 0``
    trains without it) and is dropped when the bundle is written: the bundle holds the scorer alone.
    """

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net: Any = net  # a timm model (forward_features / forward_head / num_features)
        self.density = nn.Conv2d(int(cast(Any, net).num_features), 4, kernel_size=1)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        features = self.net.forward_features(x)
        return self.net.forward_head(features), self.density(features)
