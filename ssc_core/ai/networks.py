"""Network definitions and the one factory that builds them from a bundle spec.

* ``vgg11_3d``: the paper's level network as in the authors' code (DOMAIN.md section 4): eight Conv3d
  (kernel 3, padding 1) each followed by ReLU and BatchNorm, widths 8-16-32-32-64-64-128-128, five
  MaxPool3d (kernel 3, stride 2), adaptive average pooling to 6x6x6, then Linear 27648 -> 1024 -> 1024 -> 5
  with dropout 0.5: about 30 M parameters. Input (B, 1, 192, 256, 256), one window of the 256-resampled
  scan; output the slice index of each level inside the window (resampled units).
* ``slice_encoder_1d``: the fast default (our design). Each z-resampled, downsampled axial slice is encoded
  together with its neighbours (2.5D) by a small CNN; a dilated residual 1-D convolution stack along z
  (receptive field about 2*sum(dilations) steps, over 300 mm at the defaults) turns the sequence into one
  logit per level and z position, plus per level two logits "above the scan" and "below the scan" from
  pooled features. Input (B, N, S, S); output (B, 5, N + 2).
* Scorer: ``timm.create_model(arch, in_chans=1, num_classes=3, pretrained=False)`` for a ConvNeXt; weights
  only ever come from local safetensors files (never downloaded).

This module imports torch; import it only when a network is needed.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

import torch
import torch.nn.functional as F
from torch import nn

from ssc_core.ai.spec import LevelFinderSpec, ScorerSpec, SliceEncoderParams, VGG3DParams
from ssc_core.errors import BundleError

# --- the paper's level network -----------------------------------------------------------------------


class VGG11_3D(nn.Module):
    """3-D VGG-11-style regression network (the paper's L-Net, widths of the authors' code)."""

    def __init__(self, params: VGG3DParams | None = None, n_outputs: int = 5) -> None:
        super().__init__()
        p = params or VGG3DParams()
        layers: list[nn.Module] = []
        c_in = 1
        for i, width in enumerate(p.widths):
            # Order as in the authors' code: convolution, ReLU, then BatchNorm.
            layers += [nn.Conv3d(c_in, width, kernel_size=3, padding=1), nn.ReLU(inplace=True)]
            layers.append(nn.BatchNorm3d(width))
            if i in p.pool_after:
                layers.append(nn.MaxPool3d(kernel_size=3, stride=2))
            c_in = width
        self.features = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool3d(p.pooled_size)
        flat = c_in * p.pooled_size**3
        self.regressor = nn.Sequential(
            nn.Flatten(1),
            nn.Linear(flat, p.hidden),
            nn.ReLU(inplace=True),
            nn.Dropout(p.dropout),
            nn.Linear(p.hidden, p.hidden),
            nn.ReLU(inplace=True),
            nn.Dropout(p.dropout),
            nn.Linear(p.hidden, n_outputs),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 1, D, H, W) in [0, 1] -> (B, 5): index of each level inside the window."""
        return self.regressor(self.pool(self.features(x)))


# --- the fast level finder ---------------------------------------------------------------------------


def _conv_bn_relu(c_in: int, c_out: int, stride: int) -> list[nn.Module]:
    return [
        nn.Conv2d(c_in, c_out, kernel_size=3, stride=stride, padding=1, bias=False),
        nn.BatchNorm2d(c_out),
        nn.ReLU(inplace=True),
    ]


class _Residual1D(nn.Module):
    """x + ReLU(BN(Conv1d(x))) with a dilated kernel 3 (zero padding: the scan's ends are visible)."""

    def __init__(self, channels: int, dilation: int) -> None:
        super().__init__()
        self.conv = nn.Conv1d(
            channels, channels, kernel_size=3, padding=dilation, dilation=dilation, bias=False
        )
        self.norm = nn.BatchNorm1d(channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + F.relu(self.norm(self.conv(x)))


class SliceEncoder1D(nn.Module):
    """2.5D slice encoder + dilated 1-D head along z, predicting per-level heat maps over z."""

    def __init__(self, params: SliceEncoderParams | None = None, n_levels: int = 5) -> None:
        super().__init__()
        p = params or SliceEncoderParams()
        self.context = p.context
        self.n_levels = n_levels
        layers: list[nn.Module] = []
        c = p.context
        for i, width in enumerate(p.widths):
            # Each stage halves the slice; all but the first (the costliest, at full resolution) add a
            # second 3x3 convolution.
            layers += _conv_bn_relu(c, width, 2)
            if i > 0:
                layers += _conv_bn_relu(width, width, 1)
            c = width
        self.encoder = nn.Sequential(*layers)
        # A 2x2 pooled grid keeps coarse left/right and front/back layout (the right dome, the arch).
        self.embed = nn.Sequential(
            nn.AdaptiveAvgPool2d(2), nn.Flatten(1), nn.Linear(4 * c, p.embed), nn.ReLU(inplace=True)
        )
        self.head_in = nn.Conv1d(p.embed, p.head_channels, kernel_size=1)
        self.head = nn.Sequential(*[_Residual1D(p.head_channels, d) for d in p.dilations])
        self.position = nn.Conv1d(p.head_channels, n_levels, kernel_size=1)
        self.outside = nn.Linear(2 * p.head_channels, 2 * n_levels)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """(B, N, S, S) -> (B, E, N): one embedding per resampled slice, with its neighbours as context."""
        b, n, s, _ = x.shape
        r = self.context // 2
        padded = F.pad(x, (0, 0, 0, 0, r, r))  # zero slices beyond the ends (= -1500 HU, nothing there)
        ctx = torch.stack([padded[:, i : i + n] for i in range(self.context)], dim=2)
        feats = self.embed(self.encoder(ctx.reshape(b * n, self.context, s, s)))
        return feats.reshape(b, n, -1).transpose(1, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, N, S, S) in [0, 1] -> (B, 5, N + 2) logits: N positions, then above, below the scan."""
        h = self.head(self.head_in(self.encode(x)))
        pos = self.position(h)
        pooled = torch.cat([h.mean(dim=-1), h.amax(dim=-1)], dim=1)
        outside = self.outside(pooled).view(x.shape[0], self.n_levels, 2)
        return torch.cat([pos, outside], dim=-1)


# --- factory ---------------------------------------------------------------------------------------


def build_level_finder_net(spec: LevelFinderSpec) -> nn.Module:
    """The level-finder network described by ``spec`` (random weights, eval mode)."""
    if spec.architecture == "vgg11_3d":
        assert isinstance(spec.params, VGG3DParams)
        net: nn.Module = VGG11_3D(spec.params, n_outputs=len(spec.outputs))
    elif spec.architecture == "slice_encoder_1d":
        assert isinstance(spec.params, SliceEncoderParams)
        net = SliceEncoder1D(spec.params, n_levels=len(spec.outputs))
    else:
        raise BundleError(f"Unknown level-finder architecture '{spec.architecture}'.")
    return net.eval()


def build_scorer_net(spec: ScorerSpec, *, pretrained: str | os.PathLike[str] | None = None) -> nn.Module:
    """A timm ConvNeXt with one input channel and three outputs (eval mode); never downloads.

    ``pretrained`` optionally names a local safetensors file of ImageNet weights (e.g. for training):
    every tensor whose name and shape match is loaded; the stem (three input channels there) and the head
    (1000 classes there) keep their fresh initialisation, as in the paper.
    """
    import timm

    if not timm.is_model(spec.architecture):
        raise BundleError(f"This version of timm has no model named '{spec.architecture}'.")
    net = timm.create_model(spec.architecture, in_chans=1, num_classes=len(spec.outputs), pretrained=False)
    if pretrained is not None:
        load_matching(net, pretrained)
    return net.eval()


def build_network(spec: LevelFinderSpec | ScorerSpec) -> nn.Module:
    """Build the network of a level-finder or scorer spec (the single factory used everywhere)."""
    if isinstance(spec, ScorerSpec):
        return build_scorer_net(spec)
    return build_level_finder_net(spec)


def load_matching(net: nn.Module, path: str | os.PathLike[str]) -> list[str]:
    """Load the tensors of a safetensors file whose names and shapes match ``net``; return those skipped."""
    from safetensors.torch import load_file

    try:
        tensors = load_file(os.fspath(path))
    except Exception as exc:  # safetensors raises its own error types for malformed files
        raise BundleError(f"The pretrained weights file cannot be read: {exc}") from None
    own = net.state_dict()
    usable = {k: v for k, v in tensors.items() if k in own and own[k].shape == v.shape}
    skipped = sorted(set(tensors) - set(usable))
    net.load_state_dict(usable, strict=False)
    return skipped


def check_state_dict(net: nn.Module, tensors: Mapping[str, torch.Tensor], what: str) -> None:
    """Refuse weights whose tensor names or shapes differ from the network built from the spec."""
    own = net.state_dict()
    missing = sorted(set(own) - set(tensors))
    unexpected = sorted(set(tensors) - set(own))
    if missing or unexpected:
        parts = []
        if missing:
            parts.append(f"{len(missing)} missing (e.g. '{missing[0]}')")
        if unexpected:
            parts.append(f"{len(unexpected)} unexpected (e.g. '{unexpected[0]}')")
        raise BundleError(
            f"The {what} weights do not match the architecture in the spec: {', '.join(parts)}."
        )
    for name, value in tensors.items():
        if tuple(value.shape) != tuple(own[name].shape):
            raise BundleError(
                f"The {what} weights do not match the spec: '{name}' has shape {tuple(value.shape)}, "
                f"the architecture needs {tuple(own[name].shape)}."
            )
        if value.dtype != own[name].dtype and not (
            value.is_floating_point() and own[name].is_floating_point()
        ):
            raise BundleError(f"The {what} weights do not match the spec: '{name}' has type {value.dtype}.")
        if value.is_floating_point() and not torch.isfinite(value).all():
            raise BundleError(f"The {what} weights are damaged: '{name}' holds non-finite values.")
