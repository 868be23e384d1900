from __future__ import annotations

import subprocess
import sys

from ssc_core.cli import main


def test_cli_without_command_prints_help(capsys):
    assert main([]) == 1
    assert "usage: ssc" in capsys.readouterr().out


def test_cli_runs_as_module():
    out = subprocess.run(
        [sys.executable, "-m", "ssc_core", "--version"], capture_output=True, text=True, check=True
    )
    assert out.stdout.startswith("ssc ")
