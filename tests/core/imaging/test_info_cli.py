"""``ssc info``: the series found, the loaded geometry or the refusal, and never a patient identifier."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from ssc_core.cli import main
from ssc_core.imaging.dicom_writer import SeriesUIDs

from .factory import make_hu, write_series

#: Identifiers planted in the headers (and in the folder name); none may appear in any output.
PLANTED = {
    "PatientName": "Zyxwvut^Qponmlk",
    "PatientID": "PID-99887766",
    "PatientBirthDate": "19450317",
    "AccessionNumber": "ACC5544332211",
    "OtherPatientIDs": "OTHER-123123",
    "InstitutionName": "Hospital Qqqzzz",
    "ReferringPhysicianName": "Dr^Wwwxxx",
}
UIDS = SeriesUIDs("1.2.826.0.1.3680043.777.1", "1.2.826.0.1.3680043.777.2", "1.2.826.0.1.3680043.777.3")


def _planted(folder, n=6, **kw):
    extra = dict(PLANTED)
    extra.update(kw.pop("extra", {}))
    return write_series(folder, make_hu(n), uids=kw.pop("uids", UIDS), extra=extra, **kw)


def _assert_clean(text: str) -> None:
    for value in [*PLANTED.values(), "Zyxwvut", "19450317", "1.2.826.0.1.3680043.777"]:
        assert value not in text, value


def _run(argv, capsys):
    code = main(argv)
    out = capsys.readouterr()
    return code, out.out + out.err


def test_info_lists_series_and_loaded_geometry(tmp_path, capsys):
    folder = tmp_path / "Zyxwvut_Qponmlk_PID-99887766"
    _planted(folder / "a", n=8)
    _planted(folder / "b", n=4, uids=SeriesUIDs.new(), description="Soft tissue")
    code, text = _run(["info", str(folder)], capsys)
    assert code == 0
    assert "Series found: 2" in text
    assert "* s" in text
    assert "shape (z, y, x)    8 x 24 x 20" in text
    assert "spacing (mm)       2.5 x 0.7 x 0.7" in text
    assert "z range (mm)       50 (slice 0) to 32.5 (slice 7), decreasing" in text
    assert "HU range" in text
    assert "Explicit VR Little Endian" in text
    _assert_clean(text)


def test_info_json_and_series_choice(tmp_path, capsys):
    _planted(tmp_path / "a", n=8)
    _planted(tmp_path / "b", n=4, uids=SeriesUIDs.new(), description="Soft tissue")
    code, text = _run(["info", str(tmp_path), "--json"], capsys)
    assert code == 0
    report = json.loads(text)
    assert [c["n_slices"] for c in report["candidates"]] == [8, 4]
    small = report["candidates"][1]["key"]
    code, text = _run(["info", str(tmp_path), "--json", "--series", small], capsys)
    report = json.loads(text)
    assert report["selected"] == small
    assert report["volume"]["shape_zyx"] == [4, 24, 20]
    assert report["volume"]["z_first_mm"] == 50.0
    assert report["refusal"] is None
    _assert_clean(text)


def test_info_reports_refusal_with_non_zero_exit(tmp_path, capsys):
    paths = _planted(tmp_path, n=8)
    paths[3].unlink()
    code, text = _run(["info", str(tmp_path)], capsys)
    assert code == 2
    assert "not scorable (MissingSlices)" in text
    assert "Cannot open series" in text
    assert "hint:" in text
    _assert_clean(text)
    code, text = _run(["info", str(tmp_path), "--json"], capsys)
    assert code == 2
    report = json.loads(text)
    assert report["refusal"]["error"] == "MissingSlices"
    assert report["volume"] is None
    _assert_clean(text)


def test_info_on_nothing_usable(tmp_path, capsys):
    (tmp_path / "Zyxwvut.txt").write_text("PID-99887766")
    code, text = _run(["info", str(tmp_path)], capsys)
    assert code == 2
    assert "NoImagesFound" in text
    _assert_clean(text)
    code, text = _run(["info", str(tmp_path / "missing")], capsys)
    assert code == 2
    assert "NotAFileOrFolder" in text


@pytest.mark.parametrize("bad_value", ["Zyxwvut^Qponmlk\x00\xff", "Zyxwvut" * 20])
def test_malformed_identifier_values_do_not_leak_through_logs(tmp_path, bad_value):
    """Invalid header values must not be echoed into the log (pydicom validation) or the output."""
    _planted(tmp_path, n=3)
    import pydicom

    for p in tmp_path.glob("*.dcm"):
        ds = pydicom.dcmread(p)
        ds["PatientName"].value = bad_value
        ds.save_as(p)
    out = subprocess.run(
        [sys.executable, "-m", "ssc_core", "-v", "info", str(tmp_path)], capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    _assert_clean(out.stdout + out.stderr)
