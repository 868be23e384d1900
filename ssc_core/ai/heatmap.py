"""Replacement heat maps: which parts of a slice drive the scorer's TOT, GG and RET (DOMAIN.md section 4).

The method (Jia et al., Sci Rep 2024): a ``patch`` x ``patch`` square (64 px) moves over the slice with
``stride`` (16 px). At each position the image under the square is replaced by healthy lung texture: the
square is cropped to the lung mask (``M``), faded at its edge by a ``blur`` x ``blur`` box blur of that crop
(the authors: 5 x 5), and the texture is taken at the same pixel coordinates from the healthy patch tiled
over the slice. With ``w`` the blurred crop, the replaced image is ``image + w * (texture - image)``. The
scorer runs on it and the change of each score (new minus original) is recorded. Each pixel of the heat map
is the mean change over all positions whose lung-cropped square ``M`` covers it; pixels no such square covers
are 0 and marked uncovered. Negative values: the area supports disease; positive: the network sees disease
in healthy texture.

Exact shortcuts (same result up to float rounding, proven against a plain loop in the tests):

* a position whose square holds no lung leaves every pixel uncovered, so it is skipped;
* positions are batched;
* **local recomputation** (ConvNeXt V1): up to its final global pooling the network has only local
  operations (the 4x4 stride-4 stem conv and per-pixel LayerNorm2d; per block a depthwise k x k conv,
  a per-pixel LayerNorm, MLP and layer scale plus the residual; per stage a per-pixel LayerNorm2d and a
  2x2 stride-2 conv). A replaced square therefore changes each feature map only inside a window that grows
  by the depthwise conv's reach (k // 2) per block and shrinks by the stride at each downsampling. The
  features of the original slice are cached once; for each position only the window is recomputed, from a
  crop of the cached input with the changed values pasted in (and the cached map zero-padded like the
  conv's own padding at the image border), until the window covers the whole map; from there the batch
  runs the remaining layers normally, then the head (global pool, LayerNorm, linear).

This module imports torch; it is imported only when heat maps are computed.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ssc_core.progress import CancelToken, Progress, check_cancel

# --- geometry of the positions -----------------------------------------------------------------------


def patch_positions(shape: tuple[int, int], patch: int, stride: int) -> list[tuple[int, int]]:
    """Top-left corners (y, x) of every square position, row by row (``range(0, H - patch + 1, stride)``)."""
    h, w = shape
    return [(y, x) for y in range(0, h - patch + 1, stride) for x in range(0, w - patch + 1, stride)]


def lung_positions(mask: np.ndarray, patch: int, stride: int) -> list[tuple[int, int]]:
    """The positions whose square holds at least one lung pixel (the others contribute nothing)."""
    m = np.asarray(mask, dtype=bool)
    integral = np.pad(m.astype(np.int64).cumsum(0).cumsum(1), ((1, 0), (1, 0)))
    out = []
    for y, x in patch_positions(m.shape, patch, stride):
        total = (
            integral[y + patch, x + patch] - integral[y, x + patch] - integral[y + patch, x] + integral[y, x]
        )
        if total > 0:
            out.append((y, x))
    return out


def tile_texture(texture: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """The healthy patch tiled over the slice from the origin: ``out[y, x] = texture[y % P, x % Q]``."""
    t = np.asarray(texture, dtype=np.float32)
    reps = (-(-shape[0] // t.shape[0]), -(-shape[1] // t.shape[1]))
    return np.tile(t, reps)[: shape[0], : shape[1]].copy()


# --- results ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class HeatmapArrays:
    """A computed heat map: ``values`` (n_outputs, H, W) float32 in score points, ``covered`` (H, W)."""

    values: np.ndarray
    covered: np.ndarray
    #: Raw scores of the unmodified slice.
    base_scores: tuple[float, ...]
    #: Positions run through the network (those holding lung) and all positions on the grid.
    positions_evaluated: int
    positions_total: int


def derived_scores(values: np.ndarray, mask: np.ndarray, threshold: float) -> tuple[float, ...]:
    """Heat-map-derived score per output: % of the lung area whose change lies below ``threshold``.

    The paper thresholds the map (the authors: -0.6 score points; tune between -4 and 0 on validation
    data) and divides the thresholded area by the lung area.
    """
    m = np.asarray(mask, dtype=bool)
    area = int(np.count_nonzero(m))
    if area == 0:
        return tuple(0.0 for _ in range(values.shape[0]))
    return tuple(100.0 * float(np.count_nonzero(m & (v < threshold))) / area for v in values)


# --- the exact local recomputation ----------------------------------------------------------------------


class _Unsupported(Exception):
    """The network is not a ConvNeXt V1 this shortcut understands (the plain batched path is used)."""


def _require(cond: bool, why: str) -> None:
    if not cond:
        raise _Unsupported(why)


def _check_patchify(conv: nn.Module) -> int:
    """Stride of a non-overlapping, unpadded conv (kernel == stride), or raise _Unsupported."""
    _require(type(conv) is nn.Conv2d, "not a plain Conv2d")
    k, s, p, d = conv.kernel_size, conv.stride, conv.padding, conv.dilation
    _require(k[0] == k[1] == s[0] == s[1] and p == (0, 0) and d == (1, 1), "overlapping patchify conv")
    return int(s[0])


def _per_pixel(module: nn.Module) -> bool:
    from timm.layers import LayerNorm, LayerNorm2d

    return isinstance(module, (LayerNorm2d, LayerNorm))


class _Op:
    """One step of the network for the windowed recomputation."""

    kind: str  # "down" (per-pixel norm + patchify conv) or "block"


@dataclass
class _Down(_Op):
    module: nn.Module
    stride: int
    cache: torch.Tensor  # input map (C, H, W) of the original slice
    kind: str = "down"


@dataclass
class _Block(_Op):
    module: nn.Module
    margin: int
    cache: torch.Tensor  # input map (C, H + 2m, W + 2m), zero-padded like the conv
    kind: str = "block"


class ConvNeXtReplacer:
    """Scores of replaced images for a batch of positions; exact, recomputing only what changes.

    Built once per slice: runs the original image through the network, caching the input of every block
    and downsampling layer. :meth:`scores` then returns the network output for each replaced image. With
    ``shortcut=False`` (or a network the shortcut does not understand) every replaced image runs through
    the whole network, batched.
    """

    def __init__(
        self,
        net: nn.Module,
        image: torch.Tensor,
        mask: torch.Tensor,
        texture: torch.Tensor,
        *,
        patch: int,
        blur: int,
        shortcut: bool = True,
    ) -> None:
        self.net = net
        self.image = image  # (H, W) float32 in network space
        self.mask = mask  # (H, W) bool
        self.texture = texture  # (H, W) float32, tiled, network space
        self.patch = patch
        self.blur = blur
        self.device = image.device
        self._box = torch.full((1, 1, blur, blur), 1.0 / (blur * blur), device=self.device)
        self.unsupported_reason = ""
        self._ops: list[_Op] = []
        with torch.inference_mode():
            if shortcut:
                try:
                    self.base = self._prepare()
                    self.shortcut = True
                    return
                except _Unsupported as exc:
                    self.unsupported_reason = str(exc)
                    self._ops = []
            self.shortcut = False
            self.base = net(image[None, None])[0]

    # --- caching the original forward -------------------------------------------------------------

    def _prepare(self) -> torch.Tensor:
        net = self.net
        from timm.models.convnext import ConvNeXt, ConvNeXtBlock

        _require(isinstance(net, ConvNeXt), "not a timm ConvNeXt")
        h, w = self.image.shape
        _require(h % 32 == 0 and w % 32 == 0, "image size not a multiple of 32")
        _require(len(net.stem) == 2 and _per_pixel(net.stem[1]), "stem is not conv + LayerNorm")
        self.stem_stride = _check_patchify(net.stem[0])
        x = net.stem(self.image[None, None])
        for stage in net.stages:
            _require(not getattr(stage, "grad_checkpointing", False), "gradient checkpointing")
            ds = stage.downsample
            if not isinstance(ds, nn.Identity):
                _require(isinstance(ds, nn.Sequential) and len(ds) == 2 and _per_pixel(ds[0]), "downsample")
                self._ops.append(_Down(ds, _check_patchify(ds[1]), x[0]))
                x = ds(x)
            for block in stage.blocks:
                _require(isinstance(block, ConvNeXtBlock), "unknown block")
                conv = block.conv_dw
                _require(type(conv) is nn.Conv2d and conv.stride == (1, 1), "depthwise conv")
                k, d, p = conv.kernel_size[0], conv.dilation[0], conv.padding
                _require(
                    conv.kernel_size[0] == conv.kernel_size[1] and conv.dilation[0] == conv.dilation[1],
                    "conv",
                )
                margin = d * (k - 1) // 2
                _require(p == (margin, margin) and (k - 1) % 2 == 0, "conv padding")
                _require(
                    isinstance(block.shortcut, nn.Identity) and isinstance(block.drop_path, nn.Identity),
                    "block",
                )
                mlp_name = type(block.mlp).__name__
                _require(mlp_name == "Mlp", f"{mlp_name} (a global layer such as ConvNeXt V2's GRN)")
                self._ops.append(_Block(block, margin, F.pad(x[0], (margin,) * 4)))
                x = block(x)
        self.final = x[0]
        return net.forward_head(net.norm_pre(x))[0]

    # --- windowed block -------------------------------------------------------------------------------

    @staticmethod
    def _block_valid(block: nn.Module, x: torch.Tensor, margin: int) -> torch.Tensor:
        """A ConvNeXt block on a crop with ``margin`` context on each side; returns the interior only.

        The same computation as ``ConvNeXtBlock.forward`` with the depthwise conv unpadded.
        """
        conv = block.conv_dw
        y = F.conv2d(x, conv.weight, conv.bias, 1, 0, conv.dilation, conv.groups)
        if block.use_conv_mlp:
            y = block.mlp(block.norm(y))
        else:
            y = block.mlp(block.norm(y.permute(0, 2, 3, 1))).permute(0, 3, 1, 2)
        if block.gamma is not None:
            y = y.mul(block.gamma.reshape(1, -1, 1, 1))
        return y + x[:, :, margin:-margin, margin:-margin] if margin else y + x

    @staticmethod
    def _gather(cache: torch.Tensor, ys: torch.Tensor, xs: torch.Tensor, h: int, w: int) -> torch.Tensor:
        """Crops (B, C, h, w) of ``cache`` (C, H, W) at per-item top-left corners (ys, xs)."""
        if cache.device.type == "cpu":
            # Plain slicing and one stack: memcpy speed on a CPU (advanced indexing is several times slower).
            return torch.stack(
                [cache[:, y : y + h, x : x + w] for y, x in zip(ys.tolist(), xs.tolist())], dim=0
            )
        rows = (ys[:, None] + torch.arange(h, device=cache.device))[:, :, None]
        cols = (xs[:, None] + torch.arange(w, device=cache.device))[:, None, :]
        return cache[:, rows, cols].permute(1, 0, 2, 3).contiguous()

    @staticmethod
    def _paste(target: torch.Tensor, values: torch.Tensor, ys: torch.Tensor, xs: torch.Tensor) -> None:
        """Write ``values`` (B, C, h, w) into ``target`` (B, C, H, W) at per-item offsets (ys, xs)."""
        b, _, h, w = values.shape
        if target.device.type == "cpu":
            for i, (y, x) in enumerate(zip(ys.tolist(), xs.tolist())):
                target[i, :, y : y + h, x : x + w] = values[i]
            return
        # On a GPU one indexed write replaces B small copies (kernel launches dominate there).
        dev = target.device
        bi = torch.arange(b, device=dev)[:, None, None]
        rows = (ys[:, None] + torch.arange(h, device=dev))[:, :, None]
        cols = (xs[:, None] + torch.arange(w, device=dev))[:, None, :]
        target.permute(0, 2, 3, 1)[bi, rows, cols] = values.permute(0, 2, 3, 1)

    # --- the replaced images ----------------------------------------------------------------------------

    def _weights(
        self, top: torch.Tensor, left: torch.Tensor, y0: torch.Tensor, x0: torch.Tensor, h: int, w: int
    ):
        """Blend weights (B, 1, h, w) on crops at (top, left) for squares at (y0, x0): box-blurred M."""
        dev = self.device
        rows = top[:, None] + torch.arange(h, device=dev)
        cols = left[:, None] + torch.arange(w, device=dev)
        in_y = (rows >= y0[:, None]) & (rows < y0[:, None] + self.patch)
        in_x = (cols >= x0[:, None]) & (cols < x0[:, None] + self.patch)
        lung = self.mask[rows[:, :, None], cols[:, None, :]]
        m = (lung & in_y[:, :, None] & in_x[:, None, :]).to(torch.float32)[:, None]
        r = self.blur // 2
        return F.conv2d(m, self._box, padding=r)

    def replaced_images(self, positions: Sequence[tuple[int, int]]) -> torch.Tensor:
        """The full replaced images (B, 1, H, W) (the plain path, and a check for the tests)."""
        h, w = self.image.shape
        zeros = torch.zeros(len(positions), dtype=torch.long, device=self.device)
        y0 = torch.tensor([p[0] for p in positions], device=self.device)
        x0 = torch.tensor([p[1] for p in positions], device=self.device)
        wts = self._weights(zeros, zeros, y0, x0, h, w)
        img = self.image[None, None]
        return img + wts * (self.texture[None, None] - img)

    def scores(self, positions: Sequence[tuple[int, int]]) -> torch.Tensor:
        """Network output (B, n_outputs) for the image replaced at each position."""
        with torch.inference_mode():
            if not self.shortcut:
                return self.net(self.replaced_images(positions))
            return self._scores_windowed(positions)

    def _scores_windowed(self, positions: Sequence[tuple[int, int]]) -> torch.Tensor:
        dev = self.device
        h_img, w_img = self.image.shape
        y0 = torch.tensor([p[0] for p in positions], device=dev)
        x0 = torch.tensor([p[1] for p in positions], device=dev)
        r = self.blur // 2
        s = self.stem_stride
        hc, wc = h_img // s, w_img // s

        # Stem: the stem cells whose 4x4 pixels the replacement touches (square grown by the blur).
        def cells(lo: torch.Tensor, size: int, limit_px: int, limit_cells: int) -> tuple[torch.Tensor, int]:
            a = (lo - r).clamp(min=0) // s
            b = -((-(lo + size + r).clamp(max=limit_px)) // s)  # ceil division
            n = int((b - a).max())
            return a.clamp(max=limit_cells - n), n

        top, nh = cells(y0, self.patch, h_img, hc)
        left, nw = cells(x0, self.patch, w_img, wc)
        ph, pw = nh * s, nw * s
        img = self._gather(self.image[None], top * s, left * s, ph, pw)
        tex = self._gather(self.texture[None], top * s, left * s, ph, pw)
        wts = self._weights(top * s, left * s, y0, x0, ph, pw)
        v = self.net.stem(img + wts * (tex - img))
        full = nh == hc and nw == wc

        for op in self._ops:
            if full:
                v = op.module(v)
                continue
            if isinstance(op, _Down):
                st = op.stride
                _, hm, wm = op.cache.shape
                ho, wo = hm // st, wm // st

                ntop, nh2 = _down_window(top, nh, ho, st)
                nleft, nw2 = _down_window(left, nw, wo, st)
                crop = self._gather(op.cache, ntop * st, nleft * st, nh2 * st, nw2 * st)
                self._paste(crop, v, top - ntop * st, left - nleft * st)
                v = op.module(crop)
                top, left, nh, nw = ntop, nleft, nh2, nw2
                full = nh == ho and nw == wo
            else:
                assert isinstance(op, _Block)
                m = op.margin
                _c, hp, wp = op.cache.shape
                hm, wm = hp - 2 * m, wp - 2 * m
                nh2, nw2 = min(nh + 2 * m, hm), min(nw + 2 * m, wm)
                ntop = (top - m).clamp(min=0, max=hm - nh2)
                nleft = (left - m).clamp(min=0, max=wm - nw2)
                if nh2 == hm and nw2 == wm:
                    # The window now covers the whole map: paste into the cached input and run natively.
                    x = op.cache[:, m : m + hm, m : m + wm].expand(len(positions), -1, -1, -1).clone()
                    self._paste(x, v, top, left)
                    v = op.module(x)
                    full = True
                    continue
                # Crop of the padded cache covering the new window plus the conv's reach, changes pasted.
                crop = self._gather(op.cache, ntop, nleft, nh2 + 2 * m, nw2 + 2 * m)
                self._paste(crop, v, top - ntop + m, left - nleft + m)
                v = self._block_valid(op.module, crop, m)
                top, left, nh, nw = ntop, nleft, nh2, nw2

        if not full:
            x = self.final.expand(len(positions), -1, -1, -1).clone()
            self._paste(x, v, top, left)
            v = x
        return self.net.forward_head(self.net.norm_pre(v))


def _down_window(lo: torch.Tensor, n: int, limit: int, stride: int) -> tuple[torch.Tensor, int]:
    """Output cells of a stride-``stride`` patchify layer touched by input rows [lo, lo + n): the
    per-item first cell (clamped so the shared size fits) and the shared size."""
    a = lo // stride
    b = -((-(lo + n)) // stride)  # ceil division
    m = int((b - a).max())
    return a.clamp(max=limit - m), m


# --- the heat map ------------------------------------------------------------------------------------


def default_batch_size(device: torch.device, n_outputs_channels: int = 768) -> int:
    """Positions per batch: small on a CPU (cancel stays prompt), larger on a GPU (bounded by memory)."""
    if device.type == "cuda":
        try:
            free, _ = torch.cuda.mem_get_info(device)
        except RuntimeError:
            return 32
        # About 8 MB per position for ConvNeXt-Tiny at 512 (stage-2 MLP activations), with headroom.
        return int(max(8, min(128, free // (4 * 8 * 2**20))))
    return 16


class HeatmapJob:
    """One slice's replacement heat map, computed batch by batch (so it can report and be cancelled).

    Parameters
    ----------
    net
        The scorer (eval mode, on its device).
    image
        The slice in network space (H, W) float32 in [0, 1] (see :func:`~ssc_core.ai.preprocess.normalize`).
    mask
        Lung mask (H, W) bool.
    texture
        The healthy-texture patch in network space (P, P) float32; tiled over the slice.
    patch, stride, blur
        Square side, its step and the box-blur side that fades its lung-cropped edge.
    batch_size
        Positions per forward batch (default: :func:`default_batch_size`).
    shortcut
        Use the exact local recomputation (ConvNeXt V1); ``False`` runs whole images (same result).
    """

    def __init__(
        self,
        net: nn.Module,
        image: np.ndarray,
        mask: np.ndarray,
        texture: np.ndarray,
        *,
        patch: int,
        stride: int,
        blur: int,
        batch_size: int | None = None,
        shortcut: bool = True,
    ) -> None:
        image = np.asarray(image, dtype=np.float32)
        mask = np.asarray(mask, dtype=bool)
        if image.ndim != 2 or mask.shape != image.shape:
            raise ValueError("image and mask must be 2-D arrays of the same shape")
        device = next(net.parameters()).device
        self.shape = image.shape
        self.patch, self.stride, self.blur = patch, stride, blur
        self.mask = mask
        self.positions = lung_positions(mask, patch, stride)
        self.positions_total = len(patch_positions(image.shape, patch, stride))
        self.batch_size = batch_size or default_batch_size(device)
        self.replacer = ConvNeXtReplacer(
            net,
            torch.from_numpy(image).to(device),
            torch.from_numpy(mask).to(device),
            torch.from_numpy(tile_texture(texture, image.shape)).to(device),
            patch=patch,
            blur=blur,
            shortcut=shortcut,
        )
        n_out = int(self.replacer.base.shape[0])
        self._sums = np.zeros((n_out, *image.shape), dtype=np.float64)
        self._count = np.zeros(image.shape, dtype=np.int32)
        self._done = 0

    @property
    def total(self) -> int:
        return len(self.positions)

    def steps(self, cancel: CancelToken | None = None) -> Iterator[Progress]:
        """Run the positions batch by batch, yielding progress after each; cancel is checked before each."""
        base = self.replacer.base
        p = self.patch
        while self._done < self.total:
            check_cancel(cancel)
            batch = self.positions[self._done : self._done + self.batch_size]
            delta = (self.replacer.scores(batch) - base[None]).to("cpu", torch.float64).numpy()
            for (y, x), d in zip(batch, delta):
                m = self.mask[y : y + p, x : x + p]
                self._sums[:, y : y + p, x : x + p] += d[:, None, None] * m
                self._count[y : y + p, x : x + p] += m
            self._done += len(batch)
            yield Progress(self._done, self.total, "Heat map")

    def result(self) -> HeatmapArrays:
        """The heat map (call after :meth:`steps` has run to the end)."""
        if self._done < self.total:
            raise RuntimeError("the heat map is not complete")
        covered = self._count > 0
        values = np.zeros(self._sums.shape, dtype=np.float32)
        np.divide(self._sums, self._count, out=values, where=covered[None], casting="unsafe")
        return HeatmapArrays(
            values=values,
            covered=covered,
            base_scores=tuple(float(v) for v in self.replacer.base.cpu()),
            positions_evaluated=self.total,
            positions_total=self.positions_total,
        )


def compute_heatmap(
    net: nn.Module,
    image: np.ndarray,
    mask: np.ndarray,
    texture: np.ndarray,
    *,
    patch: int,
    stride: int,
    blur: int,
    batch_size: int | None = None,
    shortcut: bool = True,
    cancel: CancelToken | None = None,
) -> HeatmapArrays:
    """Run a :class:`HeatmapJob` to the end and return its heat map."""
    job = HeatmapJob(
        net,
        image,
        mask,
        texture,
        patch=patch,
        stride=stride,
        blur=blur,
        batch_size=batch_size,
        shortcut=shortcut,
    )
    for _ in job.steps(cancel):
        pass
    return job.result()
