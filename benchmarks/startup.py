"""Start-up time: from process start to the main window painted (target: under 2 s on this machine).

Each run is a fresh process started with ``SSC_STARTUP_PROBE=1`` (``app/startup_probe.py``): at the first
paint the child prints ``time.monotonic()`` (the system-wide monotonic clock) and quits; the parent subtracts
the clock it read just before starting the child. So a run counts the interpreter's start, every import, the
QApplication, building the main window (settings, menus, docks) and the first paint: what a user waits for
after typing ``ssc-workstation``.

Baseline in the same run, alternated with the workstation so both see the same machine load: a bare PySide6
script, ``QApplication([]); QMainWindow().show()``, with the same first-paint probe. When the desktop bundle
has been built (``make bundle``), its executable is measured too.

Run: ``python -m benchmarks.startup [--repeats N]`` (``QT_QPA_PLATFORM=offscreen`` without a display);
writes ``benchmarks/results/startup.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
BUNDLE_EXE = ROOT / "dist" / "ssc-workstation" / "ssc-workstation"
TARGET_S = 2.0
PROBE = "SSC_STARTUP_PROBE"

#: The bare PySide6 baseline: an empty QMainWindow, and the same first-paint probe as the workstation's.
BASELINE = f"""
import time
from PySide6.QtCore import QEvent, QObject, QTimer
from PySide6.QtWidgets import QApplication, QMainWindow

class Probe(QObject):
    seen = False
    def eventFilter(self, obj, event):
        if not self.seen and event.type() == QEvent.Type.Paint:
            self.seen = True
            QTimer.singleShot(0, self.report)
        return False
    def report(self):
        print("{PROBE} shown %.6f" % time.monotonic(), flush=True)
        app.quit()

app = QApplication([])
probe = Probe()
app.installEventFilter(probe)
window = QMainWindow()
window.show()
app.exec()
"""


def run_once(cmd: list[str], env: dict[str, str]) -> tuple[float, list[str] | None]:
    """Seconds from just before starting ``cmd`` to its first paint, and the heavy modules it reported."""
    start = time.monotonic()
    out = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=120, cwd=ROOT)
    shown, heavy = None, None
    for line in out.stdout.splitlines():
        if line.startswith(f"{PROBE} shown "):
            shown = float(line.split()[-1])
        elif line.startswith(f"{PROBE} heavy "):
            heavy = json.loads(line.split(" ", 2)[2])
    if shown is None:
        raise RuntimeError(
            f"{cmd[0]} printed no start-up probe (exit {out.returncode}):\n{out.stderr[-2000:]}"
        )
    return shown - start, heavy


def summary(seconds: list[float]) -> dict[str, float]:
    return {
        "median_s": statistics.median(seconds),
        "min_s": min(seconds),
        "max_s": max(seconds),
        "runs": len(seconds),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=9, help="runs of each command (default 9)")
    parser.add_argument("--no-bundle", action="store_true", help="skip the desktop bundle even if built")
    args = parser.parse_args(argv)

    env = dict(os.environ, PYTHONPATH=str(ROOT), **{PROBE: "1"})
    env.setdefault("QT_QPA_PLATFORM", "offscreen")
    # The installed console script, as a user starts it; `python -m app` where it is not installed.
    script = Path(sys.executable).with_name("ssc-workstation")
    commands = {
        "baseline_bare_pyside6": [sys.executable, "-c", BASELINE],
        "workstation": [str(script)] if script.is_file() else [sys.executable, "-m", "app"],
    }
    if BUNDLE_EXE.is_file() and not args.no_bundle:
        commands["bundle"] = [str(BUNDLE_EXE)]
    times: dict[str, list[float]] = {name: [] for name in commands}
    heavy: dict[str, list[str] | None] = {}
    for cmd in commands.values():  # one warm-up each: the first start reads the files from disk
        run_once(cmd, env)
    for _ in range(args.repeats):
        for name, cmd in commands.items():
            seconds, loaded = run_once(cmd, env)
            times[name].append(seconds)
            heavy[name] = loaded

    base = statistics.median(times["baseline_bare_pyside6"])
    result: dict[str, object] = {
        "benchmark": "startup",
        "what": "process start to the first paint of the main window, fresh process per run (median)",
        "platform": f"{platform.system()} {platform.machine()}, Python {platform.python_version()}, "
        f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}"
        if hasattr(os, "getloadavg")
        else platform.platform(),
        "qt_platform": env["QT_QPA_PLATFORM"],
        "target_s": TARGET_S,
    }
    for name in commands:
        s = summary(times[name])
        if name != "baseline_bare_pyside6":
            s["ratio_to_baseline"] = s["median_s"] / base
            s["extra_s_over_baseline"] = s["median_s"] - base
            s["heavy_modules_at_first_paint"] = heavy.get(name)
            s["target_met"] = s["median_s"] < TARGET_S
        label = (
            "python -c <bare QMainWindow>" if name == "baseline_bare_pyside6" else " ".join(commands[name])
        )
        result[name] = {"command": label.replace(str(ROOT) + os.sep, ""), **s}
        print(
            f"{name:24s} median {s['median_s']:.3f} s (min {s['min_s']:.3f}, max {s['max_s']:.3f})"
            + (f"  x{s['ratio_to_baseline']:.2f} of the bare window" if "ratio_to_baseline" in s else "")
        )
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / "startup.json"
    out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(f"written {out.relative_to(ROOT)}")
    ok = all(result[n]["target_met"] for n in commands if n != "baseline_bare_pyside6")  # type: ignore[index]
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
