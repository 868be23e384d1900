"""Training input: workbook rows matched to scans, and bad input reported per row and per case."""

from __future__ import annotations

import shutil

import numpy as np
import pandas as pd
import pytest

from ssc_core.errors import TrainingDataError
from ssc_core.training.prepare import PrepConfig, prepare_cases
from ssc_core.training.sources import phantom_cases, report_problems, workbook_cases


def _bad_copy(small_cohort, tmp_path):
    """The cohort with four kinds of bad input, one per patient."""
    folder = tmp_path / "cohort"
    shutil.copytree(small_cohort, folder)
    book = pd.read_excel(folder / "GohScores.xlsx")
    book.loc[0, "L1_gg"] = 7  # row 2: off the 5 % grid
    book.loc[1, "L2_pos"] = 4000.0  # row 3: L1 and L2 far above the scan (still in level order)
    book.loc[1, "L1_pos"] = 4100.0
    book.loc[2, "PatID"] = "PH9999"  # row 4: no such scan
    (folder / "PH0004.mha").write_bytes(b"not an image at all")  # row 5: unreadable scan
    book.to_csv(folder / "labels.csv", index=False)
    return folder


def test_rows_are_matched_to_scans_by_name(small_cohort):
    found = workbook_cases(small_cohort / "GohScores.xlsx", small_cohort)
    assert not found.problems
    assert [c.where for c in found.cases] == [f"row {i}" for i in range(2, 7)]
    assert all(c.path.name == f"PH000{i}.mha" for i, c in enumerate(found.cases, start=1))
    assert found.description["kind"] == "label workbook"
    assert len(found.description["workbook_sha256"]) == 64
    # keys are one-way: no PatID in them
    assert all("PH" not in c.key for c in found.cases)


def test_bad_rows_and_cases_are_each_reported(small_cohort, tmp_path):
    folder = _bad_copy(small_cohort, tmp_path)
    found = workbook_cases(folder / "labels.csv", folder)
    text = [str(p) for p in found.problems]
    assert any(t.startswith("row 2, L1_gg:") and "multiple of 5" in t for t in text)
    assert any(t.startswith("row 4, PatID:") and "no scan" in t for t in text)
    assert "PH9999" not in " ".join(text)  # the patient ID is never repeated in messages
    arrays, problems = prepare_cases(found.cases, PrepConfig(scorer_size=64))
    text += [str(p) for p in problems]
    assert any(t.startswith("row 3, L1_pos:") and "outside the scan" in t for t in text)
    assert any(t.startswith("row 5, scan:") and "cannot be read" in t for t in text)
    assert [a.where for a in arrays] == ["row 6"]
    with pytest.raises(TrainingDataError) as err:
        report_problems(found.problems + tuple(problems), skip_bad=False, what="training data")
    message = str(err.value)
    # row 2 (grid), row 3 (L1 and L2 outside the scan), row 4 (no scan), row 5 (unreadable)
    assert "5 problem(s)" in message
    assert "row 2" in message
    assert "row 5" in message
    assert "--skip-bad" in err.value.hint
    report_problems(found.problems, skip_bad=True, what="training data")  # no error with --skip-bad


def test_missing_columns_refuse_the_workbook(small_cohort, tmp_path):
    book = pd.read_excel(small_cohort / "GohScores.xlsx").drop(columns=["L3_retp"])
    book.to_csv(tmp_path / "labels.csv", index=False)
    with pytest.raises(TrainingDataError, match=r"missing column.*L3_retp"):
        workbook_cases(tmp_path / "labels.csv", small_cohort)


def test_scorer_samples_are_level_slices_and_neighbours(small_cohort):
    found = workbook_cases(small_cohort / "GohScores.xlsx", small_cohort)
    arrays, problems = prepare_cases(found.cases[:1], PrepConfig(scorer_size=64))
    assert not problems
    a = arrays[0]
    assert a.hu.shape == (15, 64, 64)
    assert a.hu.dtype == np.int16
    assert a.lung.shape == (15, 64, 64)
    assert a.centre.sum() == 5
    assert list(a.sample_level) == [1, 1, 1, 2, 2, 2, 3, 3, 3, 4, 4, 4, 5, 5, 5]
    labels = a.sample_labels()
    for lv in range(5):
        assert (labels[3 * lv : 3 * lv + 3] == labels[3 * lv]).all()  # neighbours carry the level's label


def test_cache_holds_each_part_and_is_reused(tmp_path):
    from ssc_core.ai.spec import LevelFinderSpec, SliceEncoderParams

    cases = phantom_cases(2, 5, slice_spacing_mm=3.0, matrix=64).cases
    lf = LevelFinderSpec("slice_encoder_1d", SliceEncoderParams(slice_size=16, widths=(8, 16)))
    both = PrepConfig(scorer_size=64, level_finder=lf, required=("levels",))
    first, _ = prepare_cases(cases, both, cache_dir=tmp_path)
    assert len(list(tmp_path.glob("scorer-*"))) == 2
    assert len(list(tmp_path.glob("levels-*"))) == 2
    scorer_only = PrepConfig(scorer_size=64, required=("scorer",))
    again, _ = prepare_cases(cases, scorer_only, cache_dir=tmp_path, progress=None)
    np.testing.assert_array_equal(again[1].hu, first[1].hu)
    assert again[0].labels == first[0].labels  # phantom labels come back from the cache
    assert first[0].lf_input is not None
    assert first[0].lf_input.shape[1:] == (16, 16)
