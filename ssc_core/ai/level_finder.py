"""Level finders: a scan in, the world z of L1..L5 and the nearest original slice out (or "outside").

Two implementations behind one interface (:class:`LevelFinder`), chosen by the bundle's architecture:

* :class:`WindowedLevelFinder` (``vgg11_3d``, the paper): the scan resampled to 256x256x256, a 192-slice
  window slid along z with stride 4, each window's start added to its in-window prediction, the median
  over windows taken as the level's index on the 256-grid; then grid index -> world mm
  (:class:`~ssc_core.ai.geometry.ZAxis`) -> nearest original slice. Coordinates stay global throughout
  (the authors' code mixed crop and image coordinates and was off by 32 slices).
* :class:`HeatmapLevelFinder` (``slice_encoder_1d``, the fast default): per level a distribution over the
  z positions of the stepped grid plus "above the scan" and "below the scan"; a level is outside when one
  of those two holds more probability than all positions together, otherwise its position is the
  soft-argmax in a small window around the peak.

The z direction always comes from world positions (:mod:`ssc_core.ai.geometry`), never the array order.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from typing import Any, Protocol

import numpy as np
import torch
from torch import nn

from ssc_core.ai.geometry import ZAxis, nearest_original_slice, outside_side
from ssc_core.ai.preprocess import resample_volume, slice_stack
from ssc_core.ai.results import LevelFinding, LevelStatus
from ssc_core.ai.spec import LevelFinderSpec, SliceEncoderParams, VGG3DParams
from ssc_core.constants import LEVELS, Level
from ssc_core.errors import InferenceError
from ssc_core.imaging.volume import CTVolume
from ssc_core.progress import CancelToken, ProgressCallback, check_cancel, report


class LevelFinder(Protocol):
    """Find the five levels in a scan."""

    def find(
        self,
        volume: CTVolume,
        *,
        progress: ProgressCallback | None = None,
        cancel: CancelToken | None = None,
    ) -> tuple[LevelFinding, ...]:
        """One :class:`LevelFinding` per level, L1..L5."""
        ...


def finding_from_world(level: Level, world_z: float, slice_z: np.ndarray) -> LevelFinding:
    """A finding at world z: the nearest original slice, or above/below the scan (never clamped)."""
    k = nearest_original_slice(slice_z, world_z)
    if k is not None:
        return LevelFinding(level, float(world_z), k, LevelStatus.FOUND)
    side = outside_side(slice_z, world_z)
    return LevelFinding(
        level, float(world_z), None, LevelStatus.ABOVE if side == "above" else LevelStatus.BELOW
    )


def _ordered_levels(outputs: Sequence[str]) -> list[Level]:
    return [Level.parse(name) for name in outputs]


def _sorted_findings(findings: dict[Level, LevelFinding]) -> tuple[LevelFinding, ...]:
    return tuple(findings[lv] for lv in LEVELS)


# --- the paper's sliding-window regression ------------------------------------------------------------


def window_starts(n: int, window: int, stride: int) -> list[int]:
    """Start indices of the windows along a grid of ``n`` samples (the last one flush with the end)."""
    if window > n:
        raise ValueError(f"window {window} longer than the grid ({n})")
    starts = list(range(0, n - window + 1, stride))
    if starts[-1] != n - window:
        starts.append(n - window)
    return starts


def median_over_windows(
    grid: torch.Tensor,
    predict: Callable[[torch.Tensor], torch.Tensor],
    *,
    window: int,
    stride: int,
    batch: int = 1,
    cancel: CancelToken | None = None,
    progress: ProgressCallback | None = None,
) -> np.ndarray:
    """Median over windows of (window start + in-window prediction): the level indices on the grid.

    ``grid`` is (D, H, W); ``predict`` maps (B, 1, window, H, W) to (B, n_levels) in-window indices.
    """
    starts = window_starts(grid.shape[0], window, stride)
    preds: list[np.ndarray] = []
    for i in range(0, len(starts), batch):
        check_cancel(cancel)
        chunk = starts[i : i + batch]
        x = torch.stack([grid[s : s + window] for s in chunk])[:, None]
        out = predict(x).detach().to("cpu", torch.float64).numpy()
        # The window's start converts the in-window index to the grid index (global coordinates).
        preds.append(out + np.asarray(chunk, dtype=np.float64)[:, None])
        report(progress, min(len(starts), i + batch), len(starts), "Finding levels")
    return np.median(np.concatenate(preds, axis=0), axis=0)


def _sequential_with_cancel(net: Any, cancel: CancelToken | None) -> Callable[[torch.Tensor], torch.Tensor]:
    """Run the VGG layer by layer, checking ``cancel`` between layers (one window is seconds on a CPU)."""

    def run(x: torch.Tensor) -> torch.Tensor:
        for layer in net.features:
            check_cancel(cancel)
            x = layer(x)
        return net.regressor(net.pool(x))

    return run


class WindowedLevelFinder:
    """The paper's level finder (``vgg11_3d``)."""

    def __init__(self, net: nn.Module, spec: LevelFinderSpec, device: torch.device) -> None:
        assert isinstance(spec.params, VGG3DParams)
        self.net = net
        self.spec = spec
        self.params: VGG3DParams = spec.params
        self.device = device

    def _batch(self) -> int:
        if self.device.type != "cuda":
            return 1
        p = self.params
        # The first conv's output dominates: 4 bytes x width0 x window voxels, about 3 live copies.
        per = 4 * p.widths[0] * p.window_slices * p.resampled_shape[1] * p.resampled_shape[2] * 3
        try:
            free, _ = torch.cuda.mem_get_info(self.device)
        except RuntimeError:
            return 1
        return int(max(1, min(32, (free // 2) // per)))

    def find(
        self,
        volume: CTVolume,
        *,
        progress: ProgressCallback | None = None,
        cancel: CancelToken | None = None,
    ) -> tuple[LevelFinding, ...]:
        if volume.n_slices < 2:
            raise InferenceError("The level finder needs a scan with more than one slice.")
        p = self.params
        with torch.inference_mode():
            grid, axis = resample_volume(
                volume, p.resampled_shape, self.spec.normalization, device=self.device, cancel=cancel
            )
            idx = median_over_windows(
                grid,
                _sequential_with_cancel(self.net, cancel),
                window=p.window_slices,
                stride=p.window_stride,
                batch=self._batch(),
                cancel=cancel,
                progress=progress,
            )
        return self.findings_from_indices(idx, axis, volume.slice_z)

    def findings_from_indices(
        self, idx: np.ndarray, axis: ZAxis, slice_z: np.ndarray
    ) -> tuple[LevelFinding, ...]:
        out: dict[Level, LevelFinding] = {}
        for level, r in zip(_ordered_levels(self.spec.outputs), idx):
            if not np.isfinite(r):
                raise InferenceError(f"The level finder returned no position for {level.label}.")
            out[level] = finding_from_world(level, float(axis.index_to_world(float(r))), slice_z)
        return _sorted_findings(out)


# --- the fast heat-map finder -------------------------------------------------------------------------


def decode_level_logits(
    logits: np.ndarray, axis: ZAxis, slice_z: np.ndarray, levels: Sequence[Level], refine_radius: int
) -> tuple[LevelFinding, ...]:
    """Turn (n_levels, N + 2) logits (N grid positions, then before-start, after-end) into findings.

    "Before the grid start" is above the scan when the grid runs head to feet (``step_z < 0``) and below
    it otherwise: the side comes from the geometry.
    """
    n = axis.n
    if logits.shape[-1] != n + 2:
        raise InferenceError(f"The level finder returned {logits.shape[-1]} positions for a grid of {n}.")
    x = logits.astype(np.float64)
    x = x - x.max(axis=-1, keepdims=True)
    prob = np.exp(x)
    prob /= prob.sum(axis=-1, keepdims=True)
    before_is_above = axis.step_z < 0
    # Each level on its own: outside when the mass before or after the grid beats the mass inside it,
    # else the peak position. As scores: an outside state scores its probability, a position the inside
    # mass times its probability relative to the peak; each level's best score is that decision.
    logs = np.log(np.clip(prob, 1e-300, None))
    inside = np.log(np.clip(prob[:, :n].sum(axis=-1), 1e-300, None))
    scores = logs.copy()
    scores[:, :n] = inside[:, None] + logs[:, :n] - logs[:, :n].max(axis=-1, keepdims=True)
    states = [int(k) for k in np.argmax(scores, axis=-1)]
    order = sorted(range(len(levels)), key=lambda i: int(levels[i]))  # L1 (cranial) ... L5 (caudal)
    ranks = _cranio_caudal_ranks(n, before_is_above)
    if any(ranks[states[a]] > ranks[states[b]] for a, b in itertools.pairwise(order)):
        # The levels crossed (e.g. L4 found above L3): the Goh levels lie head to feet in a fixed order,
        # so take the best-scoring placement of all five that keeps it.
        for i, state in zip(order, _ordered_states(scores[order], ranks)):
            states[i] = state
    out: dict[Level, LevelFinding] = {}
    for level, p, state in zip(levels, prob, states):
        if state >= n:
            above = (state == n) == before_is_above
            out[level] = LevelFinding(level, None, None, LevelStatus.ABOVE if above else LevelStatus.BELOW)
            continue
        lo, hi = max(0, state - refine_radius), min(n, state + refine_radius + 1)
        w = p[lo:hi]
        r = float((w * np.arange(lo, hi)).sum() / w.sum())
        out[level] = finding_from_world(level, float(axis.index_to_world(r)), slice_z)
    return _sorted_findings(out)


def _cranio_caudal_ranks(n: int, before_is_above: bool) -> np.ndarray:
    """Rank head to feet of each decoder state: grid positions 0 .. n-1, then before and after the grid."""
    ranks = np.empty(n + 2, dtype=np.int64)
    positions = np.arange(n)
    ranks[:n] = positions if before_is_above else n - 1 - positions
    ranks[n], ranks[n + 1] = (-1, n) if before_is_above else (n, -1)
    return ranks


def _ordered_states(scores: np.ndarray, ranks: np.ndarray) -> list[int]:
    """The states (one per row of ``scores``, log-scale decoder scores, rows in head-to-feet order) with the
    highest total score in head-to-feet order: each level on a later grid position than the one before it (two
    levels never share a position), or above / below the scan together with its neighbours. A dynamic
    programme over the ranks."""
    by_rank = np.argsort(ranks)  # state at each rank: above the scan, the positions head to feet, below
    lp = scores[:, by_rank]
    m = lp.shape[1]
    best = lp[0].copy()
    back = []
    for row in lp[1:]:
        upto = np.zeros(m, dtype=np.int64)  # best predecessor at a rank <= j
        for j in range(1, m):
            upto[j] = j if best[j] > best[upto[j - 1]] else upto[j - 1]
        prev = upto.copy()
        prev[1 : m - 1] = upto[: m - 2]  # a grid position needs its predecessor strictly before it
        back.append(prev)
        best = row + best[prev]
    j = int(np.argmax(best))
    picked = [j]
    for prev in reversed(back):
        j = int(prev[j])
        picked.append(j)
    return [int(by_rank[k]) for k in reversed(picked)]


class HeatmapLevelFinder:
    """The fast level finder (``slice_encoder_1d``)."""

    def __init__(self, net: nn.Module, spec: LevelFinderSpec, device: torch.device) -> None:
        assert isinstance(spec.params, SliceEncoderParams)
        self.net = net
        self.spec = spec
        self.params: SliceEncoderParams = spec.params
        self.device = device

    def find(
        self,
        volume: CTVolume,
        *,
        progress: ProgressCallback | None = None,
        cancel: CancelToken | None = None,
    ) -> tuple[LevelFinding, ...]:
        p = self.params
        with torch.inference_mode():
            stack, axis = slice_stack(
                volume, p.slice_size, p.z_step_mm, self.spec.normalization, device=self.device, cancel=cancel
            )
            report(progress, 1, 2, "Finding levels")
            check_cancel(cancel)
            logits = self.net(stack[None])[0].to("cpu", torch.float64).numpy()
            report(progress, 2, 2, "Finding levels")
        return decode_level_logits(
            logits, axis, volume.slice_z, _ordered_levels(self.spec.outputs), p.refine_radius
        )


def make_level_finder(spec: LevelFinderSpec, net: nn.Module, device: torch.device) -> LevelFinder:
    """The level finder for ``spec``'s architecture around an already built network."""
    if spec.architecture == "vgg11_3d":
        return WindowedLevelFinder(net, spec, device)
    if spec.architecture == "slice_encoder_1d":
        return HeatmapLevelFinder(net, spec, device)
    raise InferenceError(f"Unknown level-finder architecture '{spec.architecture}'.")
