"""Splits: a fixed test set and k folds, reproducible, disjoint, stratified, independent of input order."""

from __future__ import annotations

import pytest

from ssc_core.errors import TrainingDataError
from ssc_core.training.splits import SplitConfig, make_splits


def _keys(n=40):
    keys = [f"K{i:03d}" for i in range(n)]
    strata = {k: ("healthy", "limited", "extensive")[i % 3] for i, k in enumerate(keys)}
    return keys, strata


def test_reproducible_and_independent_of_order():
    keys, strata = _keys()
    a = make_splits(keys, SplitConfig(seed=4), strata)
    b = make_splits(list(reversed(keys)), SplitConfig(seed=4), strata)
    assert a == b
    c = make_splits(keys, SplitConfig(seed=5), strata)
    assert c.test != a.test


def test_parts_are_disjoint_and_cover_every_case():
    keys, strata = _keys()
    s = make_splits(keys, SplitConfig(seed=1, test_fraction=0.2, n_folds=4), strata)
    assert len(s.test) == 8
    assert [len(f) for f in s.folds] == [8, 8, 8, 8]
    parts = [set(s.test), *(set(f) for f in s.folds)]
    assert sum(len(p) for p in parts) == len(keys)
    assert set().union(*parts) == set(keys)
    for k in range(4):
        train, val = s.train_val(k)
        assert set(train).isdisjoint(val)
        assert set(train).isdisjoint(s.test)
        assert set(val).isdisjoint(s.test)
        assert len(train) + len(val) + len(s.test) == len(keys)
    assert set(s.part("development")) == set(keys) - set(s.test)


def test_test_set_is_stratified():
    keys, strata = _keys(60)
    s = make_splits(keys, SplitConfig(seed=2, test_fraction=0.25), strata)
    counts = {g: sum(strata[k] == g for k in s.test) for g in ("healthy", "limited", "extensive")}
    assert counts == {"healthy": 5, "limited": 5, "extensive": 5}


def test_too_few_cases_and_bad_settings_are_refused():
    with pytest.raises(TrainingDataError, match="too few"):
        make_splits(["a", "b", "c"], SplitConfig(n_folds=4))
    with pytest.raises(ValueError, match="test fraction"):
        SplitConfig(test_fraction=1.0)
    with pytest.raises(ValueError, match="at least 2 folds"):
        SplitConfig(n_folds=1)
    with pytest.raises(ValueError, match="fold must lie"):
        make_splits([f"k{i}" for i in range(10)], SplitConfig()).train_val(4)
