"""Disease truth of the phantom: inserted areas, percentages, union rule and the spec's extents."""

from __future__ import annotations

import numpy as np
import pytest

from ssc_core.constants import LEVELS
from ssc_core.errors import ScoreRuleError
from ssc_core.imaging.phantom import DiseaseSpec, generate_phantom
from ssc_core.imaging.phantom.disease import level_scores_from_percent
from ssc_core.scoring import LevelScores, is_consistent

SPEC = DiseaseSpec((5.0, 10.0, 20.0, 35.0, 50.0), (5.0, 10.0, 15.0, 30.0, 40.0), (0.0, 5.0, 10.0, 15.0, 25.0))


@pytest.fixture(scope="module")
def pair():
    """The same patient healthy and diseased (256 matrix, 2.5 mm)."""
    kw = {"slice_spacing_mm": 2.5, "matrix": 256}
    return generate_phantom(21, **kw), generate_phantom(21, disease=SPEC, **kw)


def test_percentages_are_the_inserted_areas_over_the_lung_area(pair):
    _, sick = pair
    assert sick.gg_mask is not None
    assert sick.ret_mask is not None
    lung = sick.lung_mask.sum(axis=(1, 2)).astype(float)
    gg = (sick.gg_mask & sick.lung_mask).sum(axis=(1, 2))
    ret = (sick.ret_mask & sick.lung_mask).sum(axis=(1, 2))
    tot = ((sick.gg_mask | sick.ret_mask) & sick.lung_mask).sum(axis=(1, 2))
    has = lung > 0
    np.testing.assert_allclose(sick.gg_percent[has], 100 * gg[has] / lung[has])
    np.testing.assert_allclose(sick.ret_percent[has], 100 * ret[has] / lung[has])
    np.testing.assert_allclose(sick.tot_percent[has], 100 * tot[has] / lung[has])
    assert np.all(sick.tot_percent[~has] == 0)
    # disease lies only in the lungs; TOT is the union
    assert not (sick.gg_mask & ~sick.lung_mask).any()
    assert not (sick.ret_mask & ~sick.lung_mask).any()
    assert np.all(sick.tot_percent >= np.maximum(sick.gg_percent, sick.ret_percent) - 1e-9)
    assert np.all(sick.tot_percent <= np.minimum(100, sick.gg_percent + sick.ret_percent) + 1e-9)


def test_extent_follows_the_spec_at_every_level(pair):
    _, sick = pair
    idx = sick.level_slices
    for i, lv in enumerate(LEVELS):
        k = idx[lv]
        n = sick.lung_mask[k].sum()
        tol = 100.0 / n + 0.6  # one pixel, plus the slope of the spec between the level and its slice
        assert sick.tot_percent[k] == pytest.approx(SPEC.tot[i], abs=tol)
        assert sick.gg_percent[k] == pytest.approx(SPEC.gg[i], abs=tol)
        assert sick.ret_percent[k] == pytest.approx(SPEC.ret[i], abs=tol)
        s = sick.level_scores[lv]
        assert is_consistent(s.tot, s.gg, s.ret)
        assert s == level_scores_from_percent(sick.tot_percent[k], sick.gg_percent[k], sick.ret_percent[k])
        assert abs(s.tot - SPEC.tot[i]) <= 5


def test_disease_changes_only_the_diseased_lung_and_spares_vessels(pair):
    healthy, sick = pair
    assert healthy.volume.shape == sick.volume.shape
    assert np.array_equal(healthy.lung_mask, sick.lung_mask)  # same patient
    diseased = sick.gg_mask | sick.ret_mask
    h = healthy.volume.hu.astype(np.int32)
    s = sick.volume.hu.astype(np.int32)
    assert np.array_equal(h[~diseased], s[~diseased])
    gg_only = sick.gg_mask & ~sick.ret_mask & (h < -600)
    assert (s - h)[gg_only].mean() > 100  # hazy increased attenuation
    vessels = diseased & (h > 0)  # pixels fully inside a vessel keep their value: vessels are preserved
    assert vessels.sum() > 50
    assert np.abs(s - h)[vessels].mean() < 40


def test_healthy_phantom_has_zero_disease(pair):
    healthy, _ = pair
    assert healthy.healthy
    assert healthy.gg_mask is None
    assert healthy.ret_mask is None
    assert not healthy.tot_percent.any()
    assert not healthy.gg_percent.any()
    assert not healthy.ret_percent.any()
    assert all(healthy.level_scores[lv] == LevelScores(0, 0, 0) for lv in LEVELS)


def test_uniform_spec_realises_grid_scores_exactly():
    spec = DiseaseSpec.uniform(gg=20.0, ret=10.0, tot=25.0)
    ph = generate_phantom(4, slice_spacing_mm=3.0, matrix=128, disease=spec)
    assert all(ph.level_scores[lv] == LevelScores(25, 20, 10) for lv in LEVELS)
    lung_slices = ph.lung_mask.sum(axis=(1, 2)) > 200
    np.testing.assert_allclose(ph.tot_percent[lung_slices], 25.0, atol=0.6)


def test_reticulation_is_subpleural_and_posterior():
    spec = DiseaseSpec.uniform(gg=0.0, ret=15.0, tot=15.0)
    ph = generate_phantom(9, slice_spacing_mm=3.0, matrix=128, disease=spec)
    from scipy import ndimage

    k = ph.level_slices[LEVELS[3]]
    lung = ph.lung_mask[k]
    depth = ndimage.distance_transform_edt(lung) * ph.volume.spacing[1]
    ret = ph.ret_mask[k]
    assert np.median(depth[ret]) < 0.6 * np.median(depth[lung])
    rows = np.nonzero(lung)[0]
    assert np.nonzero(ret)[0].mean() > rows.mean()  # dependent (posterior) predominance


def test_impossible_specs_are_refused():
    with pytest.raises(ScoreRuleError, match="union"):
        DiseaseSpec.uniform(gg=30.0, ret=10.0, tot=20.0)  # TOT below GG
    with pytest.raises(ScoreRuleError, match="union"):
        DiseaseSpec.uniform(gg=10.0, ret=10.0, tot=30.0)  # TOT above GG + RET
    with pytest.raises(ScoreRuleError, match="outside"):
        DiseaseSpec.uniform(gg=120.0, ret=0.0)
    with pytest.raises(ScoreRuleError, match="one value per level"):
        DiseaseSpec((1.0, 2.0), (1.0, 2.0), (0.0, 0.0))


def test_random_specs_are_ssc_like_and_valid():
    specs = [DiseaseSpec.random(s) for s in range(60)]
    assert specs[0] == DiseaseSpec.random(0)
    basal = [np.mean(s.tot[3:]) >= np.mean(s.tot[:2]) for s in specs]
    assert np.mean(basal) > 0.8  # basal predominance
    positive_levels = np.mean([t > 2.5 for s in specs for t in s.tot])
    assert positive_levels > 0.6  # most levels of a diseased patient carry disease
    assert {DiseaseSpec.random(s, severity="severe").tot[4] > 30 for s in range(5)} == {True}


def test_level_scores_from_percent_keeps_tot():
    assert level_scores_from_percent(3.1, 1.7, 1.4) == LevelScores(5, 5, 0)
    assert level_scores_from_percent(0.0, 0.0, 0.0) == LevelScores(0, 0, 0)
    rng = np.random.default_rng(0)
    for _ in range(2000):
        g, r = rng.uniform(0, 100, 2)
        t = rng.uniform(max(g, r), min(100, g + r))
        s = level_scores_from_percent(t, g, r)
        assert is_consistent(s.tot, s.gg, s.ret)
        assert abs(s.tot - t) <= 2.5
