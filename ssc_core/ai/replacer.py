"""Scores of a slice with a square replaced, for many squares, exactly and fast (ConvNeXt V1).

:class:`ConvNeXtReplacer` is the engine behind :mod:`ssc_core.ai.heatmap`. For every position it returns
what the scorer outputs on the slice whose square (cropped to the lung, box-blurred at its edge) is
replaced by healthy texture, the same numbers as a whole forward pass of each replaced image up to float
rounding, but it recomputes only what the replacement changes:

* Up to its final global pooling a ConvNeXt V1 has only local operations: the 4x4 stride-4 stem conv and a
  per-pixel LayerNorm; per block a depthwise k x k conv (reach k // 2), a per-pixel LayerNorm, an MLP and
  a layer scale plus the residual; per stage a per-pixel LayerNorm and a 2x2 stride-2 conv. A replaced
  square therefore changes each feature map only inside a window that grows by the depthwise reach per
  block and shrinks by the stride at each downsampling.
* The input of every layer for the original slice is cached once. For a batch of positions each layer is
  run on a crop of its cached input around the window, with the changed values pasted in; the cached maps
  are zero-padded by the conv's reach, exactly like the conv's own zero padding at the image border, and
  the depthwise conv runs unpadded on the crop, so every value is computed from the same numbers as in
  the whole forward pass. Once a window covers its whole map, the remaining layers run normally.
* Maps are kept channels-last (B, H, W, C): crops are contiguous slices, and the network's own modules
  run on them as NCHW tensors in ``channels_last`` memory format (measured 1.2-1.6x faster on a CPU than
  plain NCHW for these layers, with bit-identical results).

The network's own modules do the arithmetic; only the block re-states ``ConvNeXtBlock.forward`` (to run
the depthwise conv unpadded on a crop with context, and to fuse the layer scale into the residual add), and
:meth:`ConvNeXtReplacer._prepare` checks it against the module on the original slice. A network the
shortcut does not understand (ConvNeXt V2's global GRN layer, overlapping stems, gradient checkpointing...)
or a failed check falls back to whole forward passes, batched, with the same result.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

#: Crop and paste by slicing on a CPU, by one indexed kernel elsewhere (None = by device; tests set it to
#: exercise the GPU path on a CPU).
INDEXED_CROPS: bool | None = None

#: Largest relative difference tolerated between the re-expressed layers and the network's own modules
#: in the self-check (float rounding is about 1e-6).
_SELF_CHECK_RTOL = 1e-4


class _Unsupported(Exception):
    """The network is not a ConvNeXt V1 this shortcut understands (whole forward passes are used)."""


def _require(cond: bool, why: str) -> None:
    if not cond:
        raise _Unsupported(why)


def _check_patchify(conv: Any) -> int:
    """Stride of a non-overlapping, unpadded conv (kernel == stride), or raise _Unsupported."""
    _require(type(conv) is nn.Conv2d, "not a plain Conv2d")
    k, s, p, d = conv.kernel_size, conv.stride, conv.padding, conv.dilation
    _require(k[0] == k[1] == s[0] == s[1] and p == (0, 0) and d == (1, 1), "overlapping patchify conv")
    return int(s[0])


def _per_pixel_norm(module: Any) -> None:
    from timm.layers import LayerNorm, LayerNorm2d

    _require(
        type(module) in (LayerNorm2d, LayerNorm), f"{type(module).__name__} is not a per-pixel LayerNorm"
    )


def _nchw(x: torch.Tensor) -> torch.Tensor:
    """A channels-last (B, H, W, C) tensor seen as NCHW (memory format channels_last, no copy)."""
    return x.permute(0, 3, 1, 2)


def _nhwc(x: torch.Tensor) -> torch.Tensor:
    """An NCHW tensor as contiguous channels-last (B, H, W, C) (no copy when already channels_last)."""
    return x.permute(0, 2, 3, 1).contiguous()


@dataclass
class _Down:
    """Stage downsample (per-pixel LayerNorm, then a stride x stride patchify conv) and its input."""

    module: Any
    stride: int
    cache: torch.Tensor  # input (H, W, C) of the original slice

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return _nhwc(self.module(_nchw(x)))


@dataclass
class _Block:
    """A ConvNeXt block and its input, zero-padded by the depthwise conv's reach."""

    module: Any
    margin: int
    cache: torch.Tensor  # input (H + 2m, W + 2m, C), zero-padded like the depthwise conv

    def __call__(self, x: torch.Tensor, *, padded: bool) -> torch.Tensor:
        """The block on ``x`` (B, H, W, C). ``padded``: as in the network (same-size output); otherwise
        ``x`` carries ``margin`` cells of context on each side and only the interior is computed."""
        return _nhwc(_block_forward(self.module, _nchw(x), self.margin, padded=padded))


def _block_forward(block: Any, x: torch.Tensor, margin: int, *, padded: bool) -> torch.Tensor:
    """``ConvNeXtBlock.forward`` (eval), optionally with the depthwise conv unpadded (the interior of a
    crop with ``margin`` cells of context), and the layer scale fused into the residual add."""
    conv = block.conv_dw
    y = F.conv2d(x, conv.weight, conv.bias, 1, margin if padded else 0, conv.dilation, conv.groups)
    if block.use_conv_mlp:
        y = block.mlp(block.norm(y))
    else:
        y = block.mlp(block.norm(y.permute(0, 2, 3, 1))).permute(0, 3, 1, 2)
    shortcut = x if padded or not margin else x[:, :, margin:-margin, margin:-margin]
    if block.gamma is None:
        return shortcut + y
    return torch.addcmul(shortcut, y, block.gamma.reshape(1, -1, 1, 1))


def _pooled_last_block(block: Any, x: torch.Tensor) -> torch.Tensor:
    """Global average of the last block's output on a whole map ``x`` (B, H, W, C) -> (B, C).

    The block ends with a linear layer (fc2) and the residual, and the head starts with a global average:
    both commute, so fc2 is applied once to the averaged hidden activations instead of at every cell.
    """
    conv, mlp = block.conv_dw, block.mlp
    y = F.conv2d(_nchw(x), conv.weight, conv.bias, 1, conv.padding, conv.dilation, conv.groups)
    if block.use_conv_mlp:
        hidden = mlp.act(mlp.fc1(block.norm(y))).mean(dim=(2, 3))
        out = F.linear(hidden, mlp.fc2.weight.flatten(1), mlp.fc2.bias)
    else:
        hidden = mlp.act(mlp.fc1(block.norm(y.permute(0, 2, 3, 1)))).mean(dim=(1, 2))
        out = mlp.fc2(hidden)
    if block.gamma is not None:
        out = out * block.gamma
    return x.mean(dim=(1, 2)) + out


def _block_of(block: Any, cache: torch.Tensor) -> _Block:
    from timm.models.convnext import ConvNeXtBlock

    _require(type(block) is ConvNeXtBlock, f"{type(block).__name__} is not a ConvNeXt V1 block")
    conv = block.conv_dw
    _require(type(conv) is nn.Conv2d and conv.stride == (1, 1) and conv.groups == conv.in_channels, "dwconv")
    k, d = conv.kernel_size, conv.dilation
    _require(k[0] == k[1] and d[0] == d[1] and k[0] % 2 == 1, "depthwise kernel")
    margin = int(d[0] * (k[0] - 1) // 2)
    _require(conv.padding == (margin, margin), "depthwise padding")
    _require(isinstance(block.shortcut, nn.Identity) and isinstance(block.drop_path, nn.Identity), "residual")
    mlp = block.mlp
    _require(type(mlp).__name__ == "Mlp", f"{type(mlp).__name__} (a global layer such as ConvNeXt V2's GRN)")
    _per_pixel_norm(block.norm)
    return _Block(block, margin, F.pad(cache, (0, 0, margin, margin, margin, margin)))


def _indexed(t: torch.Tensor) -> bool:
    return t.device.type != "cpu" if INDEXED_CROPS is None else INDEXED_CROPS


def _close(a: torch.Tensor, b: torch.Tensor) -> bool:
    scale = float(b.abs().max()) or 1.0
    return float((a - b).abs().max()) <= _SELF_CHECK_RTOL * scale


def _cells(lo: torch.Tensor, size: int, reach: int, limit_px: int, stride: int) -> tuple[torch.Tensor, int]:
    """Patchify cells touched by pixel rows [lo - reach, lo + size + reach) (clipped to the image):
    per-item first cell (clamped so the shared count fits) and the shared count."""
    a = (lo - reach).clamp(min=0) // stride
    b = -((-(lo + size + reach).clamp(max=limit_px)) // stride)  # ceil division
    n = int((b - a).max())
    return a.clamp(max=limit_px // stride - n), n


def _grow(lo: torch.Tensor, n: int, reach: int, limit: int) -> tuple[torch.Tensor, int]:
    """Window [lo, lo + n) grown by ``reach`` on both sides and clipped to [0, limit): per-item start
    (clamped so the shared size fits) and the shared size (the largest clipped extent of the batch)."""
    a = (lo - reach).clamp(min=0)
    b = (lo + n + reach).clamp(max=limit)
    size = int((b - a).max())
    return a.clamp(max=limit - size), size


def _down_window(lo: torch.Tensor, n: int, limit: int, stride: int) -> tuple[torch.Tensor, int]:
    """Output cells of a stride-``stride`` patchify layer touched by input rows [lo, lo + n)."""
    a = lo // stride
    b = -((-(lo + n)) // stride)
    m = int((b - a).max())
    return a.clamp(max=limit - m), m


class ConvNeXtReplacer:
    """Network outputs for the slice with a square replaced, for batches of positions.

    Parameters
    ----------
    net
        The scorer in eval mode (on the device of ``image``).
    image, mask, texture
        The slice in network space (H, W), the lung mask (H, W) bool and the healthy texture tiled over
        the slice (H, W), all on the same device.
    patch, blur
        Square side and the side of the box blur that fades the lung-cropped square at its edge.
    shortcut
        Use the windowed recomputation when the network allows it (``False``: whole forward passes).
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
        self.net: Any = net
        self.image = image
        self.mask = mask
        self.texture = texture
        self.patch = patch
        self.blur = blur
        self.device = image.device
        self._box = torch.full((1, 1, blur, blur), 1.0 / (blur * blur), device=self.device)
        self.unsupported_reason = ""
        self._ops: list[_Down | _Block] = []
        with torch.inference_mode():
            self.base = net(image[None, None])[0]
            self.shortcut = False
            if shortcut:
                try:
                    self._prepare()
                    self.shortcut = True
                except _Unsupported as exc:
                    self.unsupported_reason = str(exc)
                    self._ops = []

    # --- caching the original forward -------------------------------------------------------------

    def _prepare(self) -> None:
        from timm.models.convnext import ConvNeXt

        net: Any = self.net
        _require(isinstance(net, ConvNeXt), "not a timm ConvNeXt")
        h, w = self.image.shape
        _require(h % 32 == 0 and w % 32 == 0, "image size not a multiple of 32")
        _require(isinstance(net.stem, nn.Sequential) and len(net.stem) == 2, "stem is not conv + LayerNorm")
        _per_pixel_norm(net.stem[1])
        self.stem_stride = _check_patchify(net.stem[0])
        x = _nhwc(net.stem(self.image[None, None]))
        for stage in net.stages:
            _require(not getattr(stage, "grad_checkpointing", False), "gradient checkpointing")
            ds = stage.downsample
            if not isinstance(ds, nn.Identity):
                _require(isinstance(ds, nn.Sequential) and len(ds) == 2, "downsample")
                _per_pixel_norm(ds[0])
                op_d = _Down(ds, _check_patchify(ds[1]), x[0])
                self._ops.append(op_d)
                x = op_d(x)
            for block in stage.blocks:
                op_b = _block_of(block, x[0])
                y = _nhwc(block(_nchw(x)))  # the network's own module
                _require(_close(op_b(x, padded=True), y), "block self-check")
                # The windowed form on the zero-padded cache must give the block's own map.
                _require(_close(op_b(op_b.cache[None], padded=False), y), "windowed block self-check")
                self._ops.append(op_b)
                x = y
        self.final = x[0]
        out = net.forward_head(net.norm_pre(_nchw(x)))[0]
        _require(_close(out, self.base), "final self-check")
        # The last block straight into the head's global average (see _pooled_last_block), when the head
        # averages first and the MLP is plain; checked like the rest.
        self._pooled_head = False
        last = self._ops[-1] if self._ops else None
        head_pool = getattr(getattr(net.head, "global_pool", None), "pool_type", "")
        if (
            isinstance(last, _Block)
            and isinstance(net.norm_pre, nn.Identity)
            and str(head_pool).endswith("avg")
            and isinstance(last.module.mlp.norm, nn.Identity)
        ):
            x_last = last.cache[last.margin : -last.margin or None, last.margin : -last.margin or None][None]
            pooled = _pooled_last_block(last.module, x_last)
            self._pooled_head = _close(net.forward_head(pooled[:, :, None, None])[0], self.base)

    # --- crops ----------------------------------------------------------------------------------------

    @staticmethod
    def _gather(cache: torch.Tensor, ys: torch.Tensor, xs: torch.Tensor, h: int, w: int) -> torch.Tensor:
        """Crops (B, h, w, C) of ``cache`` (H, W, C) at per-item top-left corners (ys, xs)."""
        if not _indexed(cache):
            # Plain slices and one stack: memcpy speed on a CPU (advanced indexing is several times slower).
            return torch.stack([cache[y : y + h, x : x + w] for y, x in zip(ys.tolist(), xs.tolist())])
        rows = (ys[:, None] + torch.arange(h, device=cache.device))[:, :, None]
        cols = (xs[:, None] + torch.arange(w, device=cache.device))[:, None, :]
        return cache[rows, cols]

    @staticmethod
    def _paste(target: torch.Tensor, values: torch.Tensor, ys: torch.Tensor, xs: torch.Tensor) -> None:
        """Write ``values`` (B, h, w, C) into ``target`` (B, H, W, C) at per-item offsets (ys, xs)."""
        b, h, w, _ = values.shape
        if not _indexed(target):
            for i, (y, x) in enumerate(zip(ys.tolist(), xs.tolist())):
                target[i, y : y + h, x : x + w] = values[i]
            return
        # On a GPU one indexed write replaces B small copies (kernel launches dominate there).
        dev = target.device
        bi = torch.arange(b, device=dev)[:, None, None]
        rows = (ys[:, None] + torch.arange(h, device=dev))[:, :, None]
        cols = (xs[:, None] + torch.arange(w, device=dev))[:, None, :]
        target[bi, rows, cols] = values

    # --- the replaced images ----------------------------------------------------------------------------

    def _weights(
        self, top: torch.Tensor, left: torch.Tensor, y0: torch.Tensor, x0: torch.Tensor, h: int, w: int
    ) -> torch.Tensor:
        """Blend weights (B, 1, h, w) on crops at (top, left) for squares at (y0, x0): the box-blurred
        lung-cropped square (zero padding, as at the image border)."""
        dev = self.device
        rows = top[:, None] + torch.arange(h, device=dev)
        cols = left[:, None] + torch.arange(w, device=dev)
        in_y = (rows >= y0[:, None]) & (rows < y0[:, None] + self.patch)
        in_x = (cols >= x0[:, None]) & (cols < x0[:, None] + self.patch)
        lung = self.mask[rows[:, :, None], cols[:, None, :]]
        m = (lung & in_y[:, :, None] & in_x[:, None, :]).to(torch.float32)[:, None]
        return F.conv2d(m, self._box, padding=self.blur // 2)

    def _positions(self, positions: Sequence[tuple[int, int]]) -> tuple[torch.Tensor, torch.Tensor]:
        y0 = torch.tensor([p[0] for p in positions], device=self.device)
        x0 = torch.tensor([p[1] for p in positions], device=self.device)
        return y0, x0

    def replaced_images(self, positions: Sequence[tuple[int, int]]) -> torch.Tensor:
        """The whole replaced images (B, 1, H, W): the plain path, and the tests' check."""
        h, w = self.image.shape
        y0, x0 = self._positions(positions)
        zeros = torch.zeros_like(y0)
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
        h_img, w_img = self.image.shape
        y0, x0 = self._positions(positions)
        s = self.stem_stride
        r = self.blur // 2
        # Stem: the cells whose s x s pixels the faded square (square grown by the blur) touches.
        top, nh = _cells(y0, self.patch, r, h_img, s)
        left, nw = _cells(x0, self.patch, r, w_img, s)
        ph, pw = nh * s, nw * s
        img = self._gather(self.image[:, :, None], top * s, left * s, ph, pw)
        tex = self._gather(self.texture[:, :, None], top * s, left * s, ph, pw)
        img, tex = img.permute(0, 3, 1, 2), tex.permute(0, 3, 1, 2)
        wts = self._weights(top * s, left * s, y0, x0, ph, pw)
        v = _nhwc(self.net.stem(img + wts * (tex - img)))
        full = nh == h_img // s and nw == w_img // s

        last = len(self._ops) - 1
        for i, op in enumerate(self._ops):
            if full and i == last and self._pooled_head:
                assert isinstance(op, _Block)
                return self.net.forward_head(_pooled_last_block(op.module, v)[:, :, None, None])
            if full:
                v = op(v) if isinstance(op, _Down) else op(v, padded=True)
                continue
            if isinstance(op, _Down):
                st = op.stride
                hm, wm, _ = op.cache.shape
                ntop, nh2 = _down_window(top, nh, hm // st, st)
                nleft, nw2 = _down_window(left, nw, wm // st, st)
                crop = self._gather(op.cache, ntop * st, nleft * st, nh2 * st, nw2 * st)
                self._paste(crop, v, top - ntop * st, left - nleft * st)
                v = op(crop)
                top, left, nh, nw = ntop, nleft, nh2, nw2
                full = nh == hm // st and nw == wm // st
                continue
            m = op.margin
            hp, wp, _ = op.cache.shape
            hm, wm = hp - 2 * m, wp - 2 * m
            # The changed cells grow by the conv's reach, clipped to the map (no cells exist beyond it).
            ntop, nh2 = _grow(top, nh, m, hm)
            nleft, nw2 = _grow(left, nw, m, wm)
            if nh2 == hm and nw2 == wm:
                # The window covers the whole map: paste into the cached input and run the block normally.
                x = op.cache[m : m + hm, m : m + wm].expand(len(positions), -1, -1, -1).clone()
                self._paste(x, v, top, left)
                v = op(x, padded=True)
                full = True
                continue
            # Crop of the padded cache: the new window plus the conv's reach, the changed values pasted.
            crop = self._gather(op.cache, ntop, nleft, nh2 + 2 * m, nw2 + 2 * m)
            self._paste(crop, v, top - ntop + m, left - nleft + m)
            v = op(crop, padded=False)
            top, left, nh, nw = ntop, nleft, nh2, nw2

        if not full:
            x = self.final.expand(len(positions), -1, -1, -1).clone()
            self._paste(x, v, top, left)
            v = x
        return self.net.forward_head(self.net.norm_pre(_nchw(v)))
