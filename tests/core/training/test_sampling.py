"""Balanced sampling: TOT values drawn equally often; distributed shards disjoint and complete."""

from __future__ import annotations

import numpy as np
import pytest

from ssc_core.training.sampling import BalancedSampler, balanced_weights, tot_categories


def _tot() -> np.ndarray:
    # the skew of a real cohort: half zeros, a long tail of rarer values
    return np.array([0] * 60 + [5] * 20 + [10] * 10 + [30] * 6 + [60] * 3 + [100] * 1, dtype=float)


def test_weights_are_inverse_to_the_tot_frequency():
    tot = _tot()
    w = balanced_weights(tot)
    assert w.sum() == pytest.approx(1.0)
    cats = tot_categories(tot)
    per_value = {c: w[cats == c].sum() for c in np.unique(cats)}
    # every observed TOT value gets the same total probability
    assert max(per_value.values()) == pytest.approx(min(per_value.values()))
    assert w[tot == 100][0] == pytest.approx(60 * w[tot == 0][0])


def test_sampled_tot_values_are_balanced():
    tot = _tot()
    sampler = BalancedSampler(balanced_weights(tot), 60_000, seed=3)
    drawn = tot[sampler.indices()]
    values, counts = np.unique(drawn, return_counts=True)
    assert set(values) == set(np.unique(tot))
    freq = counts / counts.sum()
    np.testing.assert_allclose(freq, 1.0 / len(values), atol=0.01)


def test_distributed_shards_are_disjoint_and_make_up_the_global_draw():
    w = balanced_weights(_tot())
    whole = BalancedSampler(w, 101, seed=5)
    shards = [BalancedSampler(w, 101, seed=5, rank=r, world_size=3) for r in range(3)]
    assert all(len(s) == 34 for s in shards)  # rounded up to a multiple of the world size
    merged = np.empty(102, dtype=np.int64)
    for r, s in enumerate(shards):
        merged[r::3] = list(s)
    np.testing.assert_array_equal(merged, shards[0].global_indices())
    np.testing.assert_array_equal(merged[:101], BalancedSampler(w, 102, seed=5).global_indices()[:101])
    assert len(whole) == 101


def test_epochs_differ_and_repeat():
    w = balanced_weights(_tot())
    s = BalancedSampler(w, 50, seed=1)
    s.set_epoch(0)
    a = s.indices()
    s.set_epoch(1)
    b = s.indices()
    s.set_epoch(0)
    assert not np.array_equal(a, b)
    np.testing.assert_array_equal(a, s.indices())


def test_bad_weights_are_refused():
    with pytest.raises(ValueError, match="not all zero"):
        BalancedSampler([0.0, 0.0], 10)
    with pytest.raises(ValueError, match="rank 2"):
        BalancedSampler([1.0], 10, rank=2, world_size=2)
