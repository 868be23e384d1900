"""The demo bundle shipped under resources/: it loads, says what it is, and on a held-out phantom of its
test set does about as well as its recorded evaluation says (a light check: one patient)."""

from __future__ import annotations

import numpy as np
import pytest

from ssc_core.ai.bundle import default_bundle_path, inspect_bundle, load_bundle
from ssc_core.constants import LEVELS

pytestmark = pytest.mark.skipif(
    not (default_bundle_path() / "spec.json").is_file(), reason="the demo bundle is not installed"
)


def test_demo_bundle_is_labelled_and_small():
    spec, _ = inspect_bundle(default_bundle_path())  # every file's SHA-256 verified
    assert "demo model" in spec.display_name.lower()
    assert "synthetic data" in spec.display_name
    assert "not for clinical use" in spec.display_name
    total = sum(p.stat().st_size for p in default_bundle_path().parent.rglob("*") if p.is_file())
    assert total <= 25 * 1024 * 1024
    assert spec.provenance["scorer"]["data"]["kind"] == "phantom cohort"
    assert "ssc train scorer" in spec.provenance["scorer"]["command"]
    assert "ssc train levels" in spec.provenance["level_finder"]["command"]
    test = spec.evaluation["test"]
    assert test["split"]["part"] == "test"
    assert test["cases"] >= 10


def test_demo_bundle_on_one_held_out_phantom():
    from ssc_core.ai.cascade import CascadeRunner
    from ssc_core.training.run import DataOptions, collect_cases, split_cases
    from ssc_core.training.splits import SplitConfig

    bundle = load_bundle()  # the default bundle
    prov = bundle.spec.provenance["scorer"]
    data = prov["data"]
    options = DataOptions(
        phantoms=data["patients"],
        phantom_seed=data["cohort_seed"],
        phantom_spacing_mm=data["slice_spacing_mm"],
        phantom_matrix=data["matrix"],
        split=SplitConfig.from_json(prov["split"]),
    )
    collection = collect_cases(options)
    test_keys = split_cases(collection, options.split).test
    case = next(c for c in collection.cases if c.key in test_keys and c.stratum != "healthy")
    volume, labels = case.load()
    runner = CascadeRunner(bundle, "cpu")
    findings = runner.level_finder.find(volume)
    head = bundle.spec.evaluation["test"]["headline"]
    for lv, f in zip(LEVELS, findings):
        assert f.world_z is not None
        # within three times the recorded mean error (and a slice) of the reference position
        limit = 3.0 * head["level_mae_mm"][lv.label] + volume.spacing[0]
        assert abs(f.world_z - labels.level_z[lv]) <= limit, lv
    slices = np.stack([np.asarray(volume.axial(volume.nearest_slice(labels.level_z[lv]))) for lv in LEVELS])
    tot = runner.raw_scores(slices)[:, 0]
    truth = np.array([labels.score_vector(lv)[0] for lv in LEVELS])
    recorded = bundle.spec.evaluation["test"]["scores"]["reference levels"]["all"]["TOT"]
    assert np.abs(np.clip(tot, 0, 100) - truth).mean() <= recorded["mae"] + 2.0 * recorded["mae_sd"]


def test_the_demo_study_rates_the_demo_bundles_heat_maps():
    from ssc_core.study.demo import demo_bundle_hash

    _spec, bundle_hash = inspect_bundle(default_bundle_path())
    assert demo_bundle_hash() == bundle_hash
