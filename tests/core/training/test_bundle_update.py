"""``update_bundle``: one network replaced, the other kept (how training writes into a bundle)."""

from __future__ import annotations

import pytest
import torch

from ssc_core.ai.bundle import load_bundle, update_bundle
from ssc_core.ai.networks import build_scorer_net
from ssc_core.errors import BundleError
from tests.core.ai.conftest import small_spec


def _state(net):
    return {k: v.clone() for k, v in net.state_dict().items()}


def test_update_replaces_one_network_and_keeps_the_other(tmp_path):
    folder = tmp_path / "b"
    spec = small_spec()
    update_bundle(folder, base=spec, provenance={"level_finder": {"trained": False}}, seed=3)
    first = load_bundle(folder)
    lf_before = _state(first.level_finder_net)
    torch.manual_seed(99)
    new_scorer = build_scorer_net(spec.scorer)
    written = update_bundle(folder, scorer=new_scorer, provenance={"scorer": {"epochs": 2}})
    second = load_bundle(folder)
    for k, v in second.level_finder_net.state_dict().items():
        assert torch.equal(v, lf_before[k])
    for k, v in second.scorer_net.state_dict().items():
        assert torch.equal(v, new_scorer.state_dict()[k])
    assert written.provenance == {"level_finder": {"trained": False}, "scorer": {"epochs": 2}}
    assert second.hash != first.hash


def test_update_without_bundle_or_base_is_refused(tmp_path):
    with pytest.raises(BundleError, match="no model bundle"):
        update_bundle(tmp_path / "none")
