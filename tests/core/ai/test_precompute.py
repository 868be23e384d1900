"""Precomputing a study's AI results: planning from the cache, writing as it goes, resuming, the CLI."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from ssc_core.ai.bundle import inspect_bundle
from ssc_core.ai.precompute import plan_case, plan_precompute, precompute
from ssc_core.constants import DEMO_ADMIN_NAME, DEMO_READER_NAME, LEVELS, Level, Pattern
from ssc_core.errors import BundleError, Cancelled, StudyError
from ssc_core.progress import CancelToken
from ssc_core.study.store import open_study


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    from ssc_core.study import demo as demo_module

    # as if no demo model were installed: the rating session then takes the test's small bundle
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(demo_module, "demo_bundle_hash", lambda: None)
        return demo_module.ensure_demo_study(
            tmp_path_factory.mktemp("pre") / "demo", n_patients=2, matrix=128
        )


@pytest.fixture
def study(demo, tmp_path):
    dst = tmp_path / "study.sscstudy"
    shutil.copyfile(demo.study_path, dst)
    return dst


def _truth_levels(demo, st, code):
    import json

    name = st.case_by_code(code).source_name
    cohort = json.loads((demo.scans_dir / "cohort.json").read_text())
    record = next(p for p in cohort["patients"] if p["PatID"] == name)
    return {Level.parse(k): (float(v["slice_z_mm"]), int(v["slice"])) for k, v in record["levels"].items()}


def test_precompute_caches_every_case_and_a_second_run_skips_them(study, small_bundle_dir):
    _spec, bundle_hash = inspect_bundle(small_bundle_dir)
    reports = []
    with open_study(study) as st:
        summary = precompute(st, small_bundle_dir, session="HM", progress=reports.append)
        assert summary.failed == 0
        assert summary.bundle_hash == bundle_hash
        assert summary.computed >= len(summary.cases)  # at least each case's cascade
        n_maps = 0
        for cid in st.session_case_ids(st.session_by_label("HM").id):
            result = st.ai_result(cid, bundle_hash)
            assert result is not None
            assert result.levels
            work = plan_case(st, cid, bundle_hash)
            assert work.done
            scored = {lv for lv in result.scores}
            with_slice = {lv for lv in scored if lv in result.levels}
            assert {lv for lv, _p in result.heatmaps} == with_slice  # every scored level has its maps
            for lv in with_slice:
                assert {p for v, p in result.heatmaps if v == lv} == set(Pattern)
                derived = result.details["heatmap_scores"][lv.label]
                assert set(derived) == {"TOT", "GG", "RET"}
                assert result.details["heatmap_threshold"] == pytest.approx(-0.6)
            n_maps += len(result.heatmaps)
            assert result.details["cascade"]["notice"].startswith("Research software")
        assert n_maps > 0
        assert reports[-1].done == reports[-1].total
        again = precompute(st, small_bundle_dir, session="HM")
        assert again.computed == 0
        assert again.skipped == len(again.cases)
        assert st.verify().ok


def test_an_interrupted_precompute_continues_where_it_stopped(demo, study, small_bundle_dir):
    _spec, bundle_hash = inspect_bundle(small_bundle_dir)
    with open_study(study) as st:
        # levels on the phantom's true slices (with lung), so that every level has heat maps to compute
        hm = st.session_by_label("HM").id
        cases = st.session_case_ids(hm)
        for cid in cases:
            levels = _truth_levels(demo, st, st.case(cid).code)
            st.put_ai_result(cid, bundle_hash, levels=levels, scores={lv: {"TOT": 5.0} for lv in LEVELS})
        plan = plan_precompute(st, bundle_hash, session="HM")
        assert plan.steps == len(cases) * len(LEVELS)
        token = CancelToken()
        written = []

        def progress(p):
            written.append(p.done)
            if p.done >= 3:
                token.cancel()  # "Ctrl+C" after three heat maps

        with pytest.raises(Cancelled):
            precompute(st, small_bundle_dir, session="HM", progress=progress, cancel=token)
        left = plan_precompute(st, bundle_hash, session="HM")
        assert 0 < left.steps < plan.steps  # what was computed is kept
        summary = precompute(st, small_bundle_dir, session="HM")
        assert summary.computed == left.steps  # only the rest
        assert plan_precompute(st, bundle_hash, session="HM").steps == 0
        for cid in cases:
            outline = st.ai_cache_outline(cid, bundle_hash)
            assert len(outline.heatmaps) == len(LEVELS) * 3
        assert st.verify().ok


def test_a_session_that_names_another_bundle_is_refused(study, small_bundle_dir):
    with open_study(study) as st:
        admin = st.reader_by_name(DEMO_ADMIN_NAME).id
        reader = st.reader_by_name(DEMO_READER_NAME).id
        st.add_session("PIN", "heatmap", [reader], by=admin, ai_bundle="f" * 64)
        with pytest.raises(BundleError, match="shows the results of model bundle"):
            precompute(st, small_bundle_dir, session="PIN")


def test_heatmaps_are_added_to_a_result_and_the_outline_reads_no_values(study):
    with open_study(study) as st:
        cid = st.cases()[0].id
        with pytest.raises(StudyError, match="only be added"):
            st.put_ai_heatmaps(cid, "b", {(1, "TOT"): np.zeros((4, 4))})
        st.put_ai_result(
            cid, "b", levels={1: (10.0, 3), 2: (0.0, 7)}, scores={1: {"TOT": 40.0}}, details={"x": 1}
        )
        first = np.full((4, 4), -2.0, np.float32)
        st.put_ai_heatmaps(
            cid,
            "b",
            {(1, "TOT"): first},
            heatmap_slices={Level.L1: 3},
            details={"heatmap_scores": {"L1": {"TOT": 12.0}}},
        )
        st.put_ai_heatmaps(
            cid,
            "b",
            {(1, "GG"): first + 1, (1, "TOT"): first - 1},
            details={"heatmap_scores": {"L2": {"TOT": 1.0}}},
        )
        res = st.ai_result(cid, "b")
        assert res.heatmaps == ((Level.L1, Pattern.GG), (Level.L1, Pattern.TOT))
        np.testing.assert_allclose(st.ai_heatmap(cid, "b", 1, "TOT"), first - 1)
        assert res.details == {"x": 1, "heatmap_scores": {"L1": {"TOT": 12.0}, "L2": {"TOT": 1.0}}}
        outline = st.ai_cache_outline(cid, "b")
        assert outline.scored == {Level.L1}
        assert outline.levels[Level.L2].slice_index == 7
        assert outline.missing_heatmaps() == (Level.L1,)  # RET of L1 is missing; L2 has no scores
        assert st.ai_cache_outline(cid, "other") is None
        assert st.verify().ok


def test_cli_precompute(study, small_bundle_dir, capsys):
    from ssc_core.cli import main

    code = main(["study", "precompute", str(study), "--bundle", str(small_bundle_dir), "--session", "HM"])
    out = capsys.readouterr()
    assert code == 0, out.err
    assert "case(s) of session HM with 'test bundle'" in out.out
    assert "Research software" in out.out
    code = main(["study", "precompute", str(study), "--bundle", str(small_bundle_dir), "--session", "HM"])
    assert code == 0
    assert "2 case(s) already cached" in capsys.readouterr().out
