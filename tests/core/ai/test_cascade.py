"""The cascade generator: events with the request identity, scores, no lung, outside, heat maps, cancel."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from ssc_core.ai.bundle import load_bundle
from ssc_core.ai.cascade import (
    CascadeDone,
    CascadeRequest,
    CascadeRunner,
    HeatmapReady,
    LevelScored,
    LevelsFound,
    StageProgress,
    collect,
)
from ssc_core.ai.device import choose_device
from ssc_core.ai.results import (
    CascadeResult,
    HeatmapResult,
    LevelFinding,
    LevelStatus,
    SliceScores,
    decode_array,
    encode_array,
)
from ssc_core.constants import LEVELS, Level
from ssc_core.errors import Cancelled, InferenceError
from ssc_core.imaging.lung_mask import lung_mask
from ssc_core.progress import CancelToken
from ssc_core.scoring import is_consistent
from tests.core.ai.chest import chest_volume


@pytest.fixture(scope="module")
def runner(small_bundle_dir) -> CascadeRunner:
    return CascadeRunner(load_bundle(small_bundle_dir), device="cpu")


@pytest.fixture(scope="module")
def volume():
    return chest_volume(40, 128, lung_top=0.1, lung_bottom=0.8)


LUNG_SLICES = {Level.L1: 8, Level.L2: 12, Level.L3: 18, Level.L4: 22, Level.L5: 26}


def test_events_carry_the_request_identity_and_arrive_in_order(runner, volume):
    events = list(runner.run(CascadeRequest("case-A", volume, request_id=41)))
    assert all(e.case_id == "case-A" and e.request_id == 41 for e in events)
    kinds = [type(e).__name__ for e in events]
    assert kinds[0] == "StageProgress"
    assert kinds[1] == "LevelsFound"
    assert kinds.count("LevelScored") == 5
    assert kinds[-1] == "CascadeDone"
    done = events[-1]
    assert isinstance(done, CascadeDone)
    assert [r.level for r in done.result.levels] == list(LEVELS)
    assert done.result.bundle_hash == runner.bundle.hash
    assert done.result.bundle_name == "test bundle"
    assert "not a certified medical device" in done.result.notice


def test_scores_at_given_slices_are_raw_and_rounded(runner, volume):
    done = collect(runner.run(CascadeRequest("c", volume, slices=LUNG_SLICES)))
    raw = runner.raw_scores(np.stack([volume.axial(k) for k in LUNG_SLICES.values()]))
    for r, expected in zip(done.result.levels, raw):
        assert r.finding.status is LevelStatus.FOUND
        assert r.finding.world_z == volume.slice_z[r.finding.slice_index]
        assert r.scores is not None
        assert r.scores.raw == pytest.approx(tuple(expected), abs=1e-4)
        assert all(v % 5 == 0 and 0 <= v <= 100 for v in r.scores.rounded)
        assert is_consistent(*r.scores.rounded)
        assert r.lung_fraction > 0.02


def test_a_slice_without_lung_gets_no_lung_instead_of_scores(runner, volume):
    done = collect(runner.run(CascadeRequest("c", volume, slices={Level.L1: 0, Level.L2: 12})))
    l1, l2 = done.result.levels
    assert l1.no_lung
    assert l1.scores is None
    assert l1.lung_fraction < 0.005
    assert not l2.no_lung
    assert l2.scores is not None


class OutsideFinder:
    """A level finder (the interface) reporting L1 above and L5 below the scanned range."""

    def find(self, volume, *, progress=None, cancel=None):
        out = []
        for level in LEVELS:
            if level is Level.L1:
                out.append(LevelFinding(level, volume.z_range[1] + 30.0, None, LevelStatus.ABOVE))
            elif level is Level.L5:
                out.append(LevelFinding(level, None, None, LevelStatus.BELOW))
            else:
                k = 10 + 4 * level.value
                out.append(LevelFinding(level, float(volume.slice_z[k]), k, LevelStatus.FOUND))
        return tuple(out)


def test_levels_outside_the_scan_get_no_scores_and_no_heat_map(small_bundle_dir, volume):
    r = CascadeRunner(load_bundle(small_bundle_dir), device="cpu")
    r.level_finder = OutsideFinder()
    events = list(r.run(CascadeRequest("c", volume, heatmaps=(Level.L1, Level.L5))))
    done = events[-1]
    l1 = done.result.level(Level.L1)
    assert l1.outside
    assert l1.scores is None
    assert not l1.no_lung
    assert done.result.level("L5").outside
    assert done.result.level(3).scores is not None
    assert not any(isinstance(e, HeatmapReady) for e in events)


def test_heat_maps_follow_the_requested_order_with_progress(runner, volume):
    req = CascadeRequest("case-H", volume, request_id=3, slices=LUNG_SLICES, heatmaps=(Level.L3, Level.L1))
    events = list(runner.run(req))
    ready = [e.heatmap for e in events if isinstance(e, HeatmapReady)]
    assert [h.level for h in ready] == [Level.L3, Level.L1]
    progress = [e for e in events if isinstance(e, StageProgress) and e.stage == "heatmap"]
    assert progress[0].level is Level.L3
    assert progress[0].done == 0
    assert progress[-1].level is Level.L1
    assert progress[-1].done == progress[-1].total > 0
    h = ready[0]
    assert h.case_id == "case-H"
    assert h.request_id == 3
    assert h.bundle_hash == runner.bundle.hash
    assert h.values.shape == (3, 128, 128)
    assert h.values.dtype == np.float32
    mask = lung_mask(volume.axial(LUNG_SLICES[Level.L3]), pixel_spacing_mm=volume.spacing[1:])
    assert np.array_equal(h.covered, mask)  # lung-cropped squares cover exactly the lung
    assert not h.values[:, ~h.covered].any()
    assert len(h.derived) == 3
    assert all(0 <= d <= 100 for d in h.derived)
    assert events[-1].heatmaps == tuple(ready)


def test_heat_map_on_a_slice_of_another_size_comes_back_in_the_slice_grid(runner):
    vol = chest_volume(12, 96, spacing=(5.0, 3.7, 3.7))
    events = list(runner.heatmap_events(CascadeRequest("c", vol), level=None, slice_index=6))
    h = events[-1].heatmap
    assert h.values.shape == (3, 96, 96)
    assert h.covered.shape == (96, 96)


def test_cancel_stops_the_cascade(runner, volume):
    token = CancelToken()
    stream = runner.run(CascadeRequest("c", volume, slices=LUNG_SLICES, heatmaps=(Level.L2,)), token)
    seen = []

    def consume() -> None:
        for event in stream:
            seen.append(event)
            if isinstance(event, StageProgress) and event.stage == "heatmap" and event.done > 0:
                token.cancel()

    with pytest.raises(Cancelled):
        consume()
    batches = [e for e in seen if isinstance(e, StageProgress) and e.stage == "heatmap" and e.done > 0]
    assert len(batches) == 1  # stopped right after the batch during which cancel was asked
    assert not any(isinstance(e, (HeatmapReady, CascadeDone)) for e in seen)
    token2 = CancelToken()
    token2.cancel()
    with pytest.raises(Cancelled):
        next(runner.run(CascadeRequest("c", volume), token2))


def test_bad_slice_index_is_a_clear_error(runner, volume):
    with pytest.raises(InferenceError, match="slice 99, but the scan has 40 slices"):
        collect(runner.run(CascadeRequest("c", volume, slices={Level.L1: 99})))


def test_results_round_trip_through_json(runner, volume):
    req = CascadeRequest("case-J", volume, request_id=9, slices=LUNG_SLICES, heatmaps=(Level.L2,))
    done = collect(runner.run(req))
    text = json.dumps(done.result.to_json())
    again = CascadeResult.from_json(json.loads(text))
    assert again == done.result
    h = done.heatmaps[0]
    h2 = HeatmapResult.from_json(json.loads(json.dumps(h.to_json())))
    assert np.array_equal(h2.values, h.values)
    assert h2.values.dtype == np.float32
    assert np.array_equal(h2.covered, h.covered)
    assert h2.covered.dtype == bool
    assert (h2.level, h2.slice_index, h2.derived, h2.case_id) == (
        h.level,
        h.slice_index,
        h.derived,
        h.case_id,
    )
    with pytest.raises(ValueError, match="not a cached heatmap"):
        HeatmapResult.from_json(done.result.to_json())


def test_array_encoding_refuses_corrupt_data():
    enc = encode_array(np.arange(6, dtype=np.float32).reshape(2, 3))
    assert np.array_equal(decode_array(enc), np.arange(6, dtype=np.float32).reshape(2, 3))
    enc["shape"] = [4, 3]
    with pytest.raises(ValueError, match="do not match"):
        decode_array(enc)


def test_rounding_is_clipped_and_consistent():
    s = SliceScores.from_raw(-3.2, 104.0, 2.4)
    assert s.rounded == (100, 100, 0)
    s = SliceScores.from_raw(40.0, 12.4, 7.6)  # TOT above GG + RET after rounding: TOT lowered
    assert s.rounded == (20, 10, 10)
    assert s.raw == (40.0, 12.4, 7.6)


def test_device_choice(monkeypatch):
    assert choose_device("cpu").type == "cpu"
    assert torch.get_num_threads() >= 1
    monkeypatch.setenv("SSC_DEVICE", "cpu")
    assert choose_device().type == "cpu"
    if not torch.cuda.is_available():
        with pytest.raises(InferenceError, match=r"none is available"):
            choose_device("cuda")


def test_cascade_events_are_frozen(runner, volume):
    event = next(iter(runner.run(CascadeRequest("c", volume, slices={Level.L2: 12}))))
    with pytest.raises(AttributeError):
        event.case_id = "other"  # type: ignore[misc]
    assert isinstance(LevelsFound("a", 1, ()), LevelsFound)
    assert isinstance(LevelScored, type)


def test_results_go_into_the_study_store(runner, volume, tmp_path):
    from ssc_core.ai.results import store_fields
    from ssc_core.constants import Pattern
    from ssc_core.study.store import create_study
    from tests.core.study.helpers import make_source

    req = CascadeRequest("c", volume, slices=LUNG_SLICES, heatmaps=(Level.L2,))
    done = collect(runner.run(req))
    store = create_study(tmp_path / "s.sscstudy", name="AI", admin="Admin")
    try:
        admin = store.reader_by_name("Admin").id
        case = store.add_case(make_source(0), by=admin)
        stored = store.put_ai_result(
            case.id, done.result.bundle_hash, **store_fields(done.result, done.heatmaps)
        )
        assert stored.levels[Level.L3].slice_index == LUNG_SLICES[Level.L3]
        assert stored.scores[Level.L2][Pattern.TOT] == done.result.level(2).scores.tot
        back = CascadeResult.from_json(stored.details["cascade"])
        assert back == done.result
        heat = store.ai_heatmap(case.id, done.result.bundle_hash, Level.L2, "GG")
        assert np.allclose(heat, done.heatmaps[0].values[1], atol=1e-2)  # float16 storage
    finally:
        store.close()
