"""Balanced sampling: draw training samples with probability inversely proportional to their TOT frequency.

Half of the TOT scores of an SSc cohort are 0 (DOMAIN.md section 4): drawn uniformly, a scorer learns to say
0. The paper draws each sample with a probability inversely proportional to the frequency of its TOT value
(on the 21-category grid), so every observed TOT value is drawn equally often on average.

:class:`BalancedSampler` is a ``torch.utils.data.Sampler`` that also serves distributed training: every
process draws the *same* global sequence (seeded by seed and epoch) and keeps the positions ``rank``,
``rank + world_size``, ...; the shards are disjoint and together are the global sequence, exactly as
``DistributedSampler`` shards a permutation.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np

from ssc_core.constants import SCORE_STEP


def tot_categories(tot: Sequence[float] | np.ndarray) -> np.ndarray:
    """TOT values as grid categories 0..20 (values between grid points go to the nearest one)."""
    t = np.clip(np.asarray(tot, dtype=np.float64), 0.0, 100.0)
    return np.rint(t / SCORE_STEP).astype(np.int64)


def balanced_weights(tot: Sequence[float] | np.ndarray) -> np.ndarray:
    """Per-sample probabilities (sum 1) inversely proportional to the frequency of each sample's TOT value."""
    cat = tot_categories(tot)
    if cat.size == 0:
        return np.zeros(0, dtype=np.float64)
    counts = np.bincount(cat, minlength=21).astype(np.float64)
    w = 1.0 / counts[cat]
    return w / w.sum()


def epoch_seed(seed: int, epoch: int, stream: int = 0) -> int:
    """A 63-bit seed for one epoch and random stream (independent of the process's rank)."""
    state = np.random.SeedSequence([int(seed) & 0xFFFFFFFF, int(epoch), int(stream), 0x55C7]).generate_state(
        2
    )
    return int((int(state[0]) << 31) ^ int(state[1])) & ((1 << 63) - 1)


class BalancedSampler:
    """Indices drawn with replacement by ``weights`` (e.g. :func:`balanced_weights`), sharded by rank.

    Parameters
    ----------
    weights
        One non-negative weight per sample.
    num_samples
        Samples drawn per epoch over all processes (rounded up to a multiple of ``world_size``).
    seed
        Seed of the draw; call :meth:`set_epoch` before each epoch for a new draw.
    rank, world_size
        This process's shard (defaults: a single process).
    """

    def __init__(
        self,
        weights: Sequence[float] | np.ndarray,
        num_samples: int,
        *,
        seed: int = 0,
        rank: int = 0,
        world_size: int = 1,
    ) -> None:
        w = np.asarray(weights, dtype=np.float64)
        if w.ndim != 1 or w.size == 0 or not np.isfinite(w).all() or (w < 0).any() or w.sum() <= 0:
            raise ValueError("sampling weights must be finite, non-negative and not all zero")
        if not 0 <= rank < world_size:
            raise ValueError(f"rank {rank} is not in 0..{world_size - 1}")
        if num_samples < 1:
            raise ValueError("num_samples must be positive")
        self.probabilities = w / w.sum()
        self.seed = int(seed)
        self.rank = rank
        self.world_size = world_size
        self.per_rank = -(-int(num_samples) // world_size)
        self.total = self.per_rank * world_size
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def global_indices(self) -> np.ndarray:
        """The whole epoch's draw, the same in every process."""
        rng = np.random.default_rng(epoch_seed(self.seed, self.epoch, stream=1))
        return rng.choice(self.probabilities.size, size=self.total, replace=True, p=self.probabilities)

    def indices(self) -> np.ndarray:
        """This process's share of :meth:`global_indices`."""
        return self.global_indices()[self.rank :: self.world_size]

    def __iter__(self) -> Iterator[int]:
        return iter(int(i) for i in self.indices())

    def __len__(self) -> int:
        return self.per_rank
