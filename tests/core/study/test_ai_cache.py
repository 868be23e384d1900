"""The AI results cache: case x model bundle, cascade JSON and heat maps stored without pickle."""

from __future__ import annotations

import sqlite3

import numpy as np
import pytest

from ssc_core.constants import Level, Pattern
from ssc_core.errors import StudyCorrupt, StudyError
from ssc_core.study.records import Placement
from ssc_core.study.store import open_study


def test_result_round_trip(study):
    st, cid = study.store, study.case_ids[0]
    rng = np.random.default_rng(1)
    maps = {(lv, p): rng.uniform(-4, 4, size=(16, 12)) for lv in (1, 2) for p in ("TOT", "GG")}
    res = st.put_ai_result(
        cid,
        "sha256:abc",
        levels={1: (150.0, 10), 2: Placement(Level.L2, 120.5, 22)},
        scores={1: {"TOT": 12.4, "GG": 8.0, "RET": 4.1}},
        details={"timing_s": {"levels": 0.4}, "version": "1.0"},
        heatmaps=maps,
        heatmap_slices={1: 10, 2: 22},
        by=study.admin,
    )
    assert res.levels[Level.L2] == Placement(Level.L2, 120.5, 22)
    assert res.scores[Level.L1][Pattern.TOT] == 12.4
    assert res.details == {"timing_s": {"levels": 0.4}, "version": "1.0"}
    assert len(res.heatmaps) == 4
    got = st.ai_heatmap(cid, "sha256:abc", 2, "GG")
    assert got.dtype == np.float32
    assert got.shape == (16, 12)
    np.testing.assert_allclose(got, maps[(2, "GG")], atol=4e-3)  # float16 storage: 3 significant digits
    st.put_ai_result(cid, "sha256:abc", heatmaps={(1, "TOT"): maps[(1, "TOT")]}, dtype="float32")
    assert st.ai_result(cid, "sha256:abc").heatmaps == ((Level.L1, Pattern.TOT),)  # replaced entirely
    np.testing.assert_array_equal(
        st.ai_heatmap(cid, "sha256:abc", 1, "TOT"), maps[(1, "TOT")].astype(np.float32)
    )
    assert st.ai_result(study.case_ids[1]) is None
    assert st.verify().ok


@pytest.mark.parametrize(
    "bad",
    [np.zeros((2, 2, 2)), np.array([[1.0, np.nan]]), np.zeros((3, 3), dtype=np.int32)],
    ids=["3d", "nan", "int"],
)
def test_bad_heatmaps_refused(study, bad):
    with pytest.raises(StudyError, match="Heat map"):
        study.store.put_ai_result(study.case_ids[0], "b", heatmaps={(1, "TOT"): bad})
    assert study.store.ai_result(study.case_ids[0]) is None


def test_damaged_heatmap_blob_is_refused_and_detected(study, tmp_path):
    st = study.store
    st.put_ai_result(study.case_ids[0], "b", heatmaps={(1, "TOT"): np.ones((8, 8))})
    st.close()
    raw = sqlite3.connect(tmp_path / "s.sscstudy")
    raw.execute("UPDATE ai_heatmap SET data = substr(data, 1, 10)")
    raw.commit()
    raw.close()
    with open_study(tmp_path / "s.sscstudy") as store:
        with pytest.raises(StudyCorrupt, match="size does not match"):
            store.ai_heatmap(study.case_ids[0], "b", 1, "TOT")
        assert not store.verify().ok
