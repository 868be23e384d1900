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
* **local recomputation** (ConvNeXt V1, :mod:`ssc_core.ai.replacer`): a replaced square changes each
  feature map only inside a window bounded by the receptive field, so only that window is recomputed,
  from cached features of the original slice, until it covers the whole map.

This module imports torch; it is imported only when heat maps are computed.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from ssc_core.ai.replacer import ConvNeXtReplacer
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


def _morton(i: int, j: int) -> int:
    """Z-order (Morton) code of a grid cell: interleaved bits of row and column."""
    code = 0
    for bit in range(16):
        code |= ((i >> bit) & 1) << (2 * bit + 1) | ((j >> bit) & 1) << (2 * bit)
    return code


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


# --- the heat map ------------------------------------------------------------------------------------


def default_batch_size(device: torch.device) -> int:
    """Positions per batch: 4 on a CPU (as fast per position as larger batches for ConvNeXt-Atto at
    512 px, with tighter shared windows and batches of a fraction of a second, so cancel stays prompt);
    on a GPU as many as memory allows, up to 128."""
    if device.type == "cuda":
        try:
            free, _ = torch.cuda.mem_get_info(device)
        except RuntimeError:
            return 32
        # About 8 MB per position for ConvNeXt-Tiny at 512 (stage-2 MLP activations), with headroom.
        return int(max(8, min(128, free // (4 * 8 * 2**20))))
    return 4


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
        # Z-order keeps each batch a compact 2-D group of neighbours: their windows have similar extents,
        # so the batch's shared window (the largest) stays small near the image edges.
        self.positions = sorted(
            lung_positions(mask, patch, stride), key=lambda p: _morton(p[0] // stride, p[1] // stride)
        )
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
