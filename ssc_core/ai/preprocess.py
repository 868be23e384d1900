"""Network input preparation, shared by inference and training (so both see exactly the same input).

* :func:`normalize` / :func:`normalize_np`: HU clipped to the spec's range (the paper: [-1500, 1500]) and
  scaled linearly to [0, 1].
* :func:`scorer_input`: axial slices -> (B, 1, S, S) for the scorer (resized when the matrix is not S).
* :func:`resample_volume`: the paper's level-finder input, the whole scan on a (256, 256, 256) grid whose z
  samples run from the first to the last slice centre (:func:`~ssc_core.ai.geometry.spanning_axis`).
* :func:`slice_stack`: the fast level finder's input, slices reduced to S x S every ``z_step_mm``
  (:func:`~ssc_core.ai.geometry.stepped_axis`).

Both volume functions return the :class:`~ssc_core.ai.geometry.ZAxis` of their z grid, which turns a
predicted index into world z. They work slice chunk by slice chunk (bounded memory, cancellable) and run on
any torch device (on a GPU the scan is uploaded as int16 and reduced there).
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from ssc_core.ai.geometry import ZAxis, sample_indices, spanning_axis, stepped_axis
from ssc_core.ai.spec import Normalization
from ssc_core.imaging.volume import CTVolume
from ssc_core.progress import CancelToken, check_cancel

#: Slices converted to float and reduced in-plane at a time.
_CHUNK = 32


def normalize(hu: torch.Tensor, norm: Normalization) -> torch.Tensor:
    """HU -> [0, 1]: clip to [hu_min, hu_max], then scale linearly (float32)."""
    x = hu.to(torch.float32).clamp(norm.hu_min, norm.hu_max)
    return (x - norm.hu_min) / (norm.hu_max - norm.hu_min)


def normalize_np(hu: np.ndarray, norm: Normalization) -> np.ndarray:
    """numpy twin of :func:`normalize` (float32)."""
    x = np.clip(np.asarray(hu, dtype=np.float32), norm.hu_min, norm.hu_max)
    return ((x - np.float32(norm.hu_min)) / np.float32(norm.hu_max - norm.hu_min)).astype(np.float32)


def resize_slices(x: torch.Tensor, size: int) -> torch.Tensor:
    """(B, C, H, W) -> (B, C, size, size), bilinear with antialiasing when shrinking; no-op at size."""
    if x.shape[-2:] == (size, size):
        return x
    shrink = x.shape[-1] > size or x.shape[-2] > size
    return F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False, antialias=shrink)


def scorer_input(
    slices_hu: np.ndarray | torch.Tensor, norm: Normalization, size: int, device: torch.device | str = "cpu"
) -> torch.Tensor:
    """Axial slice(s) in HU, (H, W) or (B, H, W) -> scorer input (B, 1, size, size) in [0, 1]."""
    t = slices_hu if isinstance(slices_hu, torch.Tensor) else torch.from_numpy(np.array(slices_hu))
    if t.ndim == 2:
        t = t[None]
    if t.ndim != 3:
        raise ValueError(f"expected (H, W) or (B, H, W) slices, got shape {tuple(t.shape)}")
    x = normalize(t.to(device), norm)[:, None]
    return resize_slices(x, size)


def _block_sum_int(hu: np.ndarray, lo: int, hi: int, fy: int, fx: int) -> np.ndarray:
    """Sum of each fy x fx block of the clipped slices, in exact integer arithmetic (n, H/fy, W/fx).

    Strided integer adds on the int16 data are several times faster on a CPU than converting the full
    slices to float and pooling, and the sums are exact. int16 holds them when the block is small enough.
    """
    acc = np.int16 if fy * fx * max(abs(lo), abs(hi)) <= np.iinfo(np.int16).max else np.int32
    c = np.clip(hu, lo, hi).astype(acc, copy=False)
    rows = c[:, 0::fy].copy()
    for i in range(1, fy):
        rows += c[:, i::fy]
    out = rows[:, :, 0::fx].copy()
    for j in range(1, fx):
        out += rows[:, :, j::fx]
    return out


def _reduce_in_plane(
    volume: CTVolume,
    size: tuple[int, int],
    mode: str,
    norm: Normalization,
    device: torch.device | str,
    cancel: CancelToken | None,
) -> torch.Tensor:
    """Every slice normalised and reduced to ``size`` (n, h, w), chunk by chunk.

    ``mode`` "area" averages blocks (integer block sums on a CPU when the size divides the matrix and the
    clip range is whole HU; otherwise adaptive average pooling), "bilinear" interpolates (antialiased
    when shrinking). Both equal normalising first and reducing second, up to float rounding.
    """
    n, h, w = volume.shape
    out = torch.empty((n, *size), dtype=torch.float32, device=device)
    lo, hi = norm.hu_min, norm.hu_max
    integer_area = (
        mode == "area"
        and torch.device(device).type == "cpu"
        and h % size[0] == 0
        and w % size[1] == 0
        and float(lo).is_integer()
        and float(hi).is_integer()
    )
    for start in range(0, n, _CHUNK):
        check_cancel(cancel)
        stop = min(n, start + _CHUNK)
        if integer_area:
            fy, fx = h // size[0], w // size[1]
            sums = _block_sum_int(volume.hu[start:stop], int(lo), int(hi), fy, fx)
            mean = torch.from_numpy(sums.astype(np.float32)) / float(fy * fx)
            out[start:stop] = (mean - lo) / (hi - lo)
            continue
        chunk = torch.from_numpy(np.array(volume.hu[start:stop])).to(device)  # own, writable copy
        x = normalize(chunk, norm)[:, None]
        if tuple(x.shape[-2:]) != size:
            if mode == "area":
                x = F.adaptive_avg_pool2d(x, size)
            else:
                shrink = x.shape[-1] > size[1] or x.shape[-2] > size[0]
                x = F.interpolate(x, size=size, mode="bilinear", align_corners=False, antialias=shrink)
        out[start:stop] = x[:, 0]
    return out


def _interpolate_z(stack: torch.Tensor, positions: np.ndarray) -> torch.Tensor:
    """Linear interpolation of ``stack`` (n, h, w) at fractional indices (clipped to [0, n-1])."""
    n = stack.shape[0]
    p = np.clip(positions, 0.0, n - 1)
    lo = np.floor(p).astype(np.int64)
    hi = np.minimum(lo + 1, n - 1)
    t = torch.as_tensor((p - lo).astype(np.float32), device=stack.device).view(-1, 1, 1)
    lo_t = torch.as_tensor(lo, device=stack.device)
    hi_t = torch.as_tensor(hi, device=stack.device)
    return stack[lo_t] * (1.0 - t) + stack[hi_t] * t


def resample_volume(
    volume: CTVolume,
    shape: tuple[int, int, int],
    norm: Normalization,
    *,
    device: torch.device | str = "cpu",
    cancel: CancelToken | None = None,
) -> tuple[torch.Tensor, ZAxis]:
    """The scan on a (z, y, x) = ``shape`` grid in [0, 1] (the paper's L-Net input) and its z axis.

    In-plane: bilinear (antialiased when shrinking). Along z: linear between slices, the grid's first and
    last samples on the first and last slice centres. Needs at least two slices.
    """
    if volume.n_slices < 2:
        raise ValueError("a single slice cannot be resampled along z")
    axis = spanning_axis(volume.slice_z, shape[0])
    plane = _reduce_in_plane(volume, (shape[1], shape[2]), "bilinear", norm, device, cancel)
    check_cancel(cancel)
    return _interpolate_z(plane, sample_indices(volume.slice_z, axis)), axis


def slice_stack(
    volume: CTVolume,
    slice_size: int,
    z_step_mm: float,
    norm: Normalization,
    *,
    device: torch.device | str = "cpu",
    cancel: CancelToken | None = None,
) -> tuple[torch.Tensor, ZAxis]:
    """The fast level finder's input: (N, S, S) in [0, 1], one reduced slice every ``z_step_mm``.

    In-plane: area averaging to S x S. Along z: linear between slices at world positions from the first
    slice centre towards the last, every ``z_step_mm``.
    """
    axis = stepped_axis(volume.slice_z, z_step_mm)
    plane = _reduce_in_plane(volume, (slice_size, slice_size), "area", norm, device, cancel)
    check_cancel(cancel)
    return _interpolate_z(plane, sample_indices(volume.slice_z, axis)), axis
