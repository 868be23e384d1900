"""The self-test's transfer-syntax samples: every syntax the loader decodes has one, and each decodes."""

from __future__ import annotations

import numpy as np
import pytest

from ssc_core.errors import BundleError, NoImagesFound
from ssc_core.imaging import transfer_syntax as ts
from ssc_core.selftest import Check, run_check
from ssc_core.selftest.codecs import (
    SAMPLES,
    SyntaxSample,
    check_codecs,
    decode_sample,
    decoder_libraries,
    sample_hu,
    shipped_dir,
)


def test_every_decodable_syntax_has_a_sample():
    known = set(ts._SHORT_NAMES)
    decodable = {uid for uid in known if ts.unsupported_reason(uid) is None}
    covered = {s.uid for s in SAMPLES}
    assert decodable <= covered, f"no self-test sample for {sorted(decodable - covered)}"
    assert len(covered) == len(SAMPLES)  # one sample per syntax


def test_shipped_samples_are_present_for_the_syntaxes_nothing_shipped_encodes():
    shipped = [s for s in SAMPLES if s.encoder == "shipped"]
    assert {s.uid for s in shipped} == {
        "1.2.840.10008.1.2.4.51",
        "1.2.840.10008.1.2.4.201",
        "1.2.840.10008.1.2.4.202",
        "1.2.840.10008.1.2.4.203",
    }
    for s in shipped:
        assert len(list((shipped_dir() / s.uid).glob("*.dcm"))) == 2


def test_every_sample_decodes_through_the_loader(tmp_path):
    checks = check_codecs(tmp_path)
    assert len(checks) == 1 + len(SAMPLES)
    assert checks[0].name == "DICOM decoder libraries"
    assert "pylibjpeg plugins libjpeg, openjpeg, rle" in checks[0].detail
    failed = [c.line() for c in checks if not c.passed]
    assert not failed, "\n".join(failed)
    exact = [c for c in checks if c.detail.startswith("exact")]
    assert len(exact) == sum(s.lossless for s in SAMPLES)


def test_lost_entry_points_fail_the_decoder_check(monkeypatch):
    from importlib import metadata

    # what a bundle built without the distributions' metadata sees
    monkeypatch.setattr(metadata, "entry_points", lambda group=None: [])
    check = run_check("DICOM decoder libraries", decoder_libraries)
    assert not check.passed
    assert "not found through their entry points: libjpeg, openjpeg, rle" in check.detail


def test_sample_pixels_are_a_chest_like_pattern_and_reproducible():
    a, b = sample_hu(0), sample_hu(1)
    assert a.dtype == np.int16
    assert a.shape == (64, 64)
    assert (a == -1000).any()  # air: the loader's plausibility check needs some
    assert ((a > -900) & (a < -700)).sum() > 200  # lung
    assert (a == 700).any()  # bone
    assert not np.array_equal(a, b)  # slices differ (the marker, the texture)
    np.testing.assert_array_equal(a, sample_hu(0))


def test_a_missing_shipped_sample_fails_its_check(tmp_path):
    bogus = SyntaxSample("1.2.840.10008.1.2.4.999", "shipped")
    check = run_check("decode bogus", lambda: decode_sample(bogus, tmp_path))
    assert not check.passed
    assert "shipped sample is missing" in check.detail
    assert check.line().startswith("[FAIL] decode bogus")


def test_run_check_reports_errors_on_one_line():
    def boom() -> str:
        raise RuntimeError("first line\nsecond line")

    bad = run_check("boom", boom)
    assert not bad.passed
    assert "\n" not in bad.detail
    assert bad.detail.startswith("RuntimeError: first line second line")

    def refused() -> str:
        raise NoImagesFound("No CT images were found.")

    assert run_check("refused", refused).detail == "No CT images were found."
    ok = run_check("fine", lambda: "all good")
    assert ok == Check("fine", True, ok.seconds, "all good")
    assert ok.line().startswith("[ OK ] fine")


def test_a_damaged_demo_bundle_fails_the_ai_check(tmp_path, monkeypatch):
    from ssc_core.selftest import ai

    damaged = tmp_path / "demo"
    damaged.mkdir()
    (damaged / "spec.json").write_text("{not json", encoding="utf-8")
    monkeypatch.setattr("ssc_core.ai.bundle.default_bundle_path", lambda: damaged)
    with pytest.raises(BundleError):
        ai.choose_bundle(tmp_path)
