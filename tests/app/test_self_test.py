"""``ssc-workstation --self-test``: one line per check, exit status 0 only when every check passed."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from ssc_core.selftest import Check
from ssc_core.selftest.codecs import SAMPLES, SyntaxSample

pytestmark = pytest.mark.gui

ROOT = Path(__file__).resolve().parents[2]
LINE = re.compile(r"^\[( OK |FAIL)\] (.+?)\s+(\d+\.\d\d) s(?:  (.*))?$")


@pytest.mark.slow
def test_self_test_from_source_passes_offscreen(tmp_path):
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", PYTHONPATH=str(ROOT), HOME=str(tmp_path))
    env["XDG_DATA_HOME"] = str(tmp_path / "data")  # nothing may be written there
    out = subprocess.run(
        [sys.executable, "-m", "app", "--self-test"], capture_output=True, text=True, env=env, timeout=300
    )
    assert out.returncode == 0, out.stdout + out.stderr
    lines = [m for m in map(LINE.match, out.stdout.splitlines()) if m]
    names = [m.group(2) for m in lines]
    assert all(m.group(1) == " OK " for m in lines)
    for sample in SAMPLES:
        assert f"decode {sample.name}" in names
    assert "Qt platform and a window" in names
    assert "DICOM decoder libraries" in names
    assert "demo study: build and open a case" in names
    ai = next(m for m in lines if m.group(2) == "AI cascade on a phantom")
    demo_installed = (ROOT / "resources" / "models" / "demo" / "spec.json").is_file()
    assert ("demo bundle" if demo_installed else "UNTRAINED bundle") in ai.group(4)
    assert "5/5 levels in the scan" in ai.group(4)
    assert f"{len(lines)} of {len(lines)} checks passed" in out.stdout
    assert not (tmp_path / "data").exists()  # the demo was built in a temporary folder


def test_a_failed_check_makes_the_exit_status_1(qapp, monkeypatch, capsys):
    import app.self_test as st

    bogus = SyntaxSample("1.2.840.10008.1.2.4.999", "shipped")
    monkeypatch.setattr("ssc_core.selftest.codecs.SAMPLES", (SAMPLES[0], bogus))
    # the window part is covered by the test above; here it reports a failure without building anything
    monkeypatch.setattr(
        st, "_open_demo", lambda work: (Check(st.DEMO_CHECK, False, 0.0, "no demo"), None, None)
    )
    assert st.run_self_test() == 1
    out = capsys.readouterr().out
    assert "[ OK ] decode Explicit VR Little Endian" in out
    assert "[FAIL] decode unknown transfer syntax 1.2.840.10008.1.2.4.999" in out
    assert "[FAIL] AI cascade on a phantom" in out
    assert "skipped: the demo study did not open" in out
    assert re.search(
        r"3 of 6 checks passed in [\d.]+ s; FAILED: decode unknown transfer syntax [\d.]+, demo study", out
    )


def test_self_test_runs_alone():
    from app.__main__ import main

    with pytest.raises(SystemExit):
        main(["--self-test", "--demo"])
