"""The plain reference loop for replacement heat maps, kept apart so benchmarks can time it too.

It follows DOMAIN.md section 4 word for word, one position at a time, every position of the grid, one
whole-image forward pass each, no batching, no skipping, no shortcut.
"""

from __future__ import annotations

import numpy as np
import torch
from scipy import ndimage

from ssc_core.ai.heatmap import patch_positions, tile_texture

PATCH, STRIDE, BLUR = 64, 16, 5


def reference_steps(net, image, mask, texture, patch=PATCH, stride=STRIDE, blur=BLUR, skip_empty=False):
    """The method written as plainly as possible: every position, one forward pass each, no shortcut.

    A generator that yields after each position (so a benchmark can interleave it with the fast path
    under the same machine load); its return value is (heat map (3, H, W) float32, covered (H, W)).
    """
    h, w = image.shape
    tiled = tile_texture(texture, image.shape)
    with torch.inference_mode():
        base = net(torch.from_numpy(image)[None, None])[0].double().numpy()
    sums = np.zeros((base.size, h, w))
    count = np.zeros((h, w))
    for y, x in patch_positions((h, w), patch, stride):
        square = np.zeros((h, w), bool)
        square[y : y + patch, x : x + patch] = True
        m = square & mask  # the square cropped to the lung
        if skip_empty and not m.any():
            continue  # (optional) a square without lung covers no pixel: nothing to record
        fade = ndimage.uniform_filter(m.astype(np.float64), size=blur, mode="constant")  # 5x5 box blur
        replaced = (image + fade * (tiled - image)).astype(np.float32)
        with torch.inference_mode():
            delta = net(torch.from_numpy(replaced)[None, None])[0].double().numpy() - base
        sums[:, m] += delta[:, None]
        count[m] += 1
        yield
    out = np.zeros_like(sums)
    np.divide(sums, count, out=out, where=count[None] > 0)
    return out.astype(np.float32), count > 0


def reference_heatmap(net, image, mask, texture, patch=PATCH, stride=STRIDE, blur=BLUR, skip_empty=False):
    """Run :func:`reference_steps` to the end: (heat map, covered)."""
    steps = reference_steps(net, image, mask, texture, patch, stride, blur, skip_empty)
    while True:
        try:
            next(steps)
        except StopIteration as done:
            return done.value


def lively(net):
    """Random timm weights have layer scale 1e-6 (blocks nearly off) and a tiny head: wake them up, so
    every block and the head matter and the heat map has real contrast."""
    torch.manual_seed(0)
    for m in net.modules():
        if getattr(m, "gamma", None) is not None:
            m.gamma.data.uniform_(0.5, 1.0)
    net.head.fc.weight.data *= 50.0
    return net.eval()
