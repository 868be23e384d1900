"""A fixed test split and k-fold cross-validation over the remaining cases, seeded and reproducible.

Splits are by patient (case), never by slice: the three samples of a level and the five levels of a patient
always fall on the same side. The assignment depends only on the case keys, their strata and the seed, not
on the order in which cases were read, so the same data give the same split on every machine and in every
process of a distributed run.

Within each stratum (by default the Goh class of the case: healthy, limited, extensive) cases are ordered by
SHA-256 of (seed, key); the first ``round(test_fraction * n)`` cases over all strata go to the test set,
taken stratum by stratum in proportion, and the others are dealt round-robin into ``n_folds`` folds. Fold
``k`` is the validation set of cross-validation run ``k``; the other folds are its training set.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ssc_core.constants import CV_FOLDS, TEST_FRACTION
from ssc_core.errors import TrainingDataError


@dataclass(frozen=True)
class SplitConfig:
    """How cases are split; recorded in the bundle spec so an evaluation can find the same test set."""

    seed: int = 0
    test_fraction: float = TEST_FRACTION
    n_folds: int = CV_FOLDS

    def __post_init__(self) -> None:
        if not 0.0 <= self.test_fraction < 1.0:
            raise ValueError(f"the test fraction must lie in [0, 1), got {self.test_fraction}")
        if self.n_folds < 2:
            raise ValueError(f"cross-validation needs at least 2 folds, got {self.n_folds}")

    def to_json(self) -> dict[str, Any]:
        return {"seed": self.seed, "test_fraction": self.test_fraction, "n_folds": self.n_folds}

    @classmethod
    def from_json(cls, obj: Mapping[str, Any]) -> SplitConfig:
        return cls(int(obj["seed"]), float(obj["test_fraction"]), int(obj["n_folds"]))


@dataclass(frozen=True)
class Splits:
    """The test set and the cross-validation folds (case keys, each sorted)."""

    config: SplitConfig
    test: tuple[str, ...]
    folds: tuple[tuple[str, ...], ...]

    def train_val(self, fold: int) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """(training keys, validation keys) of cross-validation run ``fold`` (0-based)."""
        if not 0 <= fold < len(self.folds):
            raise ValueError(f"fold must lie in 0..{len(self.folds) - 1}, got {fold}")
        train = tuple(sorted(k for i, f in enumerate(self.folds) if i != fold for k in f))
        return train, self.folds[fold]

    def part(self, name: str, fold: int = 0) -> tuple[str, ...]:
        """Keys of a named part: "test", "train", "val" (of ``fold``), "development" (all but test), "all"."""
        if name == "test":
            return self.test
        if name == "all":
            return tuple(sorted((*self.test, *(k for f in self.folds for k in f))))
        if name == "development":
            return tuple(sorted(k for f in self.folds for k in f))
        train, val = self.train_val(fold)
        if name == "train":
            return train
        if name == "val":
            return val
        raise ValueError(f"unknown split part {name!r} (test, train, val, development, all)")


def _order_key(seed: int, key: str) -> str:
    return hashlib.sha256(f"ssc-split/{seed}/{key}".encode()).hexdigest()


def make_splits(keys: Sequence[str], config: SplitConfig, strata: Mapping[str, str] | None = None) -> Splits:
    """Split case ``keys`` into a test set and ``config.n_folds`` folds (see the module docstring).

    Raises
    ------
    TrainingDataError
        When there are too few cases for a validation fold and a training set.
    """
    unique = sorted(set(keys))
    if len(unique) != len(keys):
        raise TrainingDataError("Two training cases share one key; every case must be named once.")
    n = len(unique)
    n_test = round(config.test_fraction * n)
    if n - n_test < config.n_folds:
        raise TrainingDataError(
            f"{n} case(s) are too few for a test set of {n_test} and {config.n_folds}-fold cross-validation: "
            f"at least {config.n_folds + n_test} are needed.",
            hint="Add cases, lower --test-fraction or use fewer --folds.",
        )
    groups: dict[str, list[str]] = {}
    for k in unique:
        groups.setdefault((strata or {}).get(k, ""), []).append(k)
    for members in groups.values():
        members.sort(key=lambda k: _order_key(config.seed, k))
    # Test cases: stratum by stratum in proportion (largest remainders), so each class is represented.
    names = sorted(groups)
    exact = {g: n_test * len(groups[g]) / n for g in names}
    take = {g: int(exact[g]) for g in names}
    rest = n_test - sum(take.values())
    for g in sorted(names, key=lambda g: (-(exact[g] - take[g]), g))[:rest]:
        take[g] += 1
    test: list[str] = []
    remaining: list[str] = []
    for g in names:
        test += groups[g][: take[g]]
        remaining += groups[g][take[g] :]
    # Folds: round-robin over the strata in turn, so each fold gets a share of each class.
    folds: list[list[str]] = [[] for _ in range(config.n_folds)]
    for i, k in enumerate(remaining):
        folds[i % config.n_folds].append(k)
    return Splits(config, tuple(sorted(test)), tuple(tuple(sorted(f)) for f in folds))
