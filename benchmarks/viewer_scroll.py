"""Viewer benchmark: frame time while scrolling, against a bare pyqtgraph loop, and peak memory.

Frame time: the workstation's main window (1440 x 900) scrolls through a 512 x 512 volume (300 slices
by default) with the five level lines on both localizers and the overlay layer present; a frame is
``controller.set_slice(k)``, a forced repaint of the slice view and ``QApplication.processEvents()``
(which also runs the coalesced localizer/HU updates when they fall due). The baseline, in the same run
and the same process, is a bare ``pyqtgraph.ImageItem.setImage`` loop in a view of the same size,
repainted the same way, inside a top-level window of the workstation's size (see ``bench_scroll`` for
why; the same loop in a window of its own is reported too). The loops alternate in blocks of 30 frames
so that load on the (shared) machine hits them alike; wall-clock and CPU (thread) times are recorded.
Targets (offscreen, 2-core machine): median <= 8 ms, p95 <= 16 ms, median ratio to the bare loop <= 1.3
(wall clock).

Memory: a child process opens a 600-slice 512 x 512 scan (300 MB of int16) the way the workstation does
(from an MHA file through the core's loader when it is available, else an in-memory volume), scrolls
through every slice with the localizers, levels and overlay present, and reports its peak resident set
size (``getrusage``); target < 1.5 GB.

Run: ``QT_QPA_PLATFORM=offscreen python -m benchmarks.viewer_scroll`` (``--quick`` for a smoke run).
Results: ``benchmarks/results/viewer_scroll.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

RESULTS = ROOT / "benchmarks" / "results" / "viewer_scroll.json"
TARGET_MEDIAN_MS = 8.0
TARGET_P95_MS = 16.0
TARGET_RATIO = 1.3
TARGET_PEAK_RSS_GB = 1.5
#: Frames per block when the two loops alternate.
BLOCK = 30


def synthetic_volume(n_slices: int, size: int = 512, seed: int = 0):
    """A chest-like 512 x 512 int16 volume built slice by slice (no float copy of the whole volume)."""
    from ssc_core.imaging.volume import CTVolume, SeriesInfo
    from tests.app.chest import chest_volume

    # Eight distinct anatomical slices, repeated down the volume with fresh noise per slice.
    templates = chest_volume(8, size, (40.0, 0.7, 0.7), seed=seed).hu
    rng = np.random.default_rng(seed)
    hu = np.empty((n_slices, size, size), dtype=np.int16)
    for k in range(n_slices):
        t = templates[min(7, k * 8 // n_slices)]
        hu[k] = t + rng.integers(-20, 21, size=(size, size), dtype=np.int16)
    info = SeriesInfo(description="Benchmark chest", source_format="array", slice_thickness_mm=1.0)
    return CTVolume.from_array(hu, (1.0, 0.7, 0.7), top_z=0.0, info=info)


def _stats(frames_s: list[float]) -> dict:
    ms = np.asarray(frames_s) * 1000.0
    return {
        "frames": int(ms.size),
        "median_ms": float(np.median(ms)),
        "p95_ms": float(np.percentile(ms, 95)),
        "mean_ms": float(ms.mean()),
        "max_ms": float(ms.max()),
    }


class _Frames:
    """Per-frame wall-clock and CPU (this thread) times of one loop."""

    def __init__(self) -> None:
        self.wall: list[float] = []
        self.cpu: list[float] = []

    def time(self, fn, *args, **kwargs) -> None:
        w0, c0 = time.perf_counter(), time.thread_time()
        fn(*args, **kwargs)
        self.cpu.append(time.thread_time() - c0)
        self.wall.append(time.perf_counter() - w0)


def _bare_view(size, volume, levels):
    """A bare pyqtgraph view showing slice 0: GraphicsView + ViewBox + ImageItem, nothing else."""
    import pyqtgraph as pg

    view = pg.GraphicsView(background="k")
    view.setFixedSize(size)
    vb = pg.ViewBox(lockAspect=True, invertY=True, defaultPadding=0.0)
    view.setCentralItem(vb)
    img = pg.ImageItem(axisOrder="row-major")
    vb.addItem(img)
    img.setImage(volume.hu[0], autoLevels=False, levels=levels)
    return view, img


def bench_scroll(n_slices: int, rounds: int) -> dict:
    """Frame times of the workstation and of the bare loops, interleaved in blocks, ``rounds`` times."""
    from PySide6.QtWidgets import QApplication, QMainWindow

    from app.main_window import MainWindow, isolated_settings
    from ssc_core.constants import LEVELS, LUNG_WINDOW

    app = QApplication.instance() or QApplication([])
    volume = synthetic_volume(n_slices)
    levels = (LUNG_WINDOW.lower, LUNG_WINDOW.upper)
    with tempfile.TemporaryDirectory() as tmp:
        win = MainWindow(isolated_settings(str(Path(tmp) / "settings.ini")), restore_layout=False)
        win.resize(1440, 900)
        win.show()
        c = win.controller
        c.open_volume(volume, slice_index=0)
        for i, level in enumerate(LEVELS):  # five level lines on both localizers
            c.place_level(level, (i + 1) * n_slices // 6)
        c.set_slice(0)
        view = win.slice_view
        assert view.overlay is not None  # the overlay layer is present (empty on non-level slices)
        app.processEvents()

        # The bare loops draw the same 512 x 512 image at the same size on screen (a view of the same
        # size, no padding): drawing cost grows with the screen area, so anything else would not compare.
        # The baseline of the targets sits in a top-level window of the workstation's size: with the
        # offscreen platform every frame costs in proportion to the top-level window's area (about 12 %
        # from a view-sized window to 1440 x 900, measured), which is the platform's, not the viewer's.
        # The same loop in a window of its own size is reported beside it.
        bare, img = _bare_view(view.size(), volume, levels)
        host = QMainWindow()
        host.setCentralWidget(bare)
        host.resize(win.size())
        host.show()
        small, small_img = _bare_view(view.size(), volume, levels)
        small.show()
        app.processEvents()
        drawn = (img.sceneBoundingRect().size(), view.image.sceneBoundingRect().size())

        def bare_frame(image, widget, k: int) -> None:
            image.setImage(volume.hu[k], autoLevels=False, levels=levels)
            widget.repaint()
            app.processEvents()

        def our_frame(k: int, last: bool) -> None:
            c.set_slice(k)
            view.repaint()
            app.processEvents()
            if last:
                # Updates still waiting for their refresh tick are run now and counted here, so that
                # none of the workstation's work falls into the bare loops' frames.
                win.flush()
                app.processEvents()

        def scroll_all(ours: _Frames, base: _Frames, base_small: _Frames) -> None:
            # Alternate in short blocks: the machine is shared, and load that comes and goes then hits
            # every loop alike.
            for start in range(0, n_slices, BLOCK):
                ks = range(start, min(start + BLOCK, n_slices))
                for k in ks:
                    base.time(bare_frame, img, bare, k)
                for k in ks:
                    ours.time(our_frame, k, k == ks[-1])
                for k in ks:
                    base_small.time(bare_frame, small_img, small, k)

        scroll_all(_Frames(), _Frames(), _Frames())  # warm-up (first renders allocate buffers)
        ours, base, base_small = _Frames(), _Frames(), _Frames()
        load_before = os.getloadavg()
        for _ in range(rounds):
            scroll_all(ours, base, base_small)
        load_after = os.getloadavg()

        # Informational: the same scroll with a heat map shown on every slice (issue 8 shows one only on
        # level slices; this is the worst case).
        heat = np.random.default_rng(1).normal(0, 2, size=volume.shape[1:]).astype(np.float32)
        view.set_overlay(heat, value_range=(-4, 4), opacity=0.5)
        with_heat = _Frames()
        for k in range(n_slices):
            with_heat.time(our_frame, k, k == n_slices - 1)
        view.clear_overlay()

        size = (view.width(), view.height())
        win.close()
        host.close()
        small.close()
    s_ours, s_base, s_small = _stats(ours.wall), _stats(base.wall), _stats(base_small.wall)
    cpu_ours, cpu_base, cpu_small = _stats(ours.cpu), _stats(base.cpu), _stats(base_small.cpu)
    return {
        "n_slices": n_slices,
        "rounds": rounds,
        "view_size_px": list(size),
        "window_size_px": [1440, 900],
        "image_on_screen_px": {
            "bare": [round(drawn[0].width()), round(drawn[0].height())],
            "workstation": [round(drawn[1].width()), round(drawn[1].height())],
        },
        "load_average_1min": [load_before[0], load_after[0]],
        "workstation": s_ours,
        "bare_imageitem": s_base,
        "bare_imageitem_own_window": s_small,
        "ratio_median": s_ours["median_ms"] / s_base["median_ms"],
        "ratio_mean": s_ours["mean_ms"] / s_base["mean_ms"],
        "ratio_median_vs_own_window": s_ours["median_ms"] / s_small["median_ms"],
        "cpu_time": {
            "workstation": cpu_ours,
            "bare_imageitem": cpu_base,
            "bare_imageitem_own_window": cpu_small,
            "ratio_median": cpu_ours["median_ms"] / cpu_base["median_ms"],
            "ratio_median_vs_own_window": cpu_ours["median_ms"] / cpu_small["median_ms"],
        },
        "with_heatmap_shown_every_slice": _stats(with_heat.wall),
    }


def _memory_child(n_slices: int, scan: str | None) -> dict:
    """Runs in a fresh process: open the scan as the workstation does, scroll, report peak RSS.

    ``scan`` is an MHA file written beforehand by the parent (so that writing it does not count here),
    or None to open an in-memory volume when the core has no loader.
    """
    import psutil
    from PySide6.QtWidgets import QApplication

    from app.main_window import MainWindow, isolated_settings
    from ssc_core.constants import LEVELS

    app = QApplication.instance() or QApplication([])
    process = psutil.Process()
    baseline_rss = process.memory_info().rss
    with tempfile.TemporaryDirectory() as tmp:
        win = MainWindow(isolated_settings(str(Path(tmp) / "settings.ini")), restore_layout=False)
        win.show()
        app.processEvents()
        c = win.controller
        rss_before_load = process.memory_info().rss
        t0 = time.perf_counter()
        if scan is not None:
            done: list[object] = []
            c.volumeChanged.connect(done.append)
            c.loadFailed.connect(done.append)
            c.open_path(scan)
            while not done:
                app.processEvents()
                time.sleep(0.005)
            if isinstance(done[0], BaseException):
                raise done[0]
            source = "mha via ssc_core.imaging.loader"
        else:
            c.open_volume(synthetic_volume(n_slices))
            source = "in-memory volume"
        load_s = time.perf_counter() - t0
        assert c.volume is not None
        assert c.volume.shape == (n_slices, 512, 512)
        for i, level in enumerate(LEVELS):
            c.place_level(level, (i + 1) * n_slices // 6)
        win.slice_view.set_overlay(np.zeros((512, 512), np.float32), value_range=(-4, 4))
        win.slice_view.clear_overlay()
        for k in range(n_slices):
            c.set_slice(k)
            win.slice_view.repaint()
            app.processEvents()
        rss_now = process.memory_info().rss
        win.close()
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {
        "n_slices": n_slices,
        "volume_mb": n_slices * 512 * 512 * 2 / 1e6,
        "source": source,
        "load_s": load_s,
        "rss_start_mb": baseline_rss / 1e6,
        "rss_window_open_mb": rss_before_load / 1e6,
        "rss_after_scroll_mb": rss_now / 1e6,
        "peak_rss_gb": peak_kb * 1024 / 1e9,
    }


def _loader_available() -> bool:
    try:
        import ssc_core.imaging.loader  # noqa: F401
    except ImportError:
        return False
    return True


def bench_memory(n_slices: int) -> dict:
    """Peak RSS of a fresh workstation process that opens an ``n_slices`` x 512 x 512 scan."""
    with tempfile.TemporaryDirectory() as tmp:
        scan = None
        if _loader_available():
            from ssc_core.imaging.volume_writer import write_volume

            scan = str(write_volume(synthetic_volume(n_slices), Path(tmp) / "scan.mha", compress=False))
        code = (
            "import json; from benchmarks.viewer_scroll import _memory_child; "
            f"print('RESULT ' + json.dumps(_memory_child({n_slices}, {scan!r})))"
        )
        env = dict(os.environ, PYTHONPATH=str(ROOT), QT_QPA_PLATFORM="offscreen")
        out = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, env=env, check=False
        )
    for line in out.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[len("RESULT ") :])
    raise RuntimeError(f"memory child failed (exit {out.returncode}):\n{out.stderr[-4000:]}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--slices", type=int, default=300, help="slices scrolled for the frame times")
    parser.add_argument("--rounds", type=int, default=5, help="scrolls through the volume per loop")
    parser.add_argument("--memory-slices", type=int, default=600, help="slices of the memory test scan")
    parser.add_argument("--quick", action="store_true", help="a short smoke run (not for the record)")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    if args.quick:
        args.slices, args.rounds, args.memory_slices = 60, 2, 60

    import pyqtgraph as pg
    import PySide6

    scroll = bench_scroll(args.slices, args.rounds)
    memory = bench_memory(args.memory_slices)
    checks = {
        "median_ms<=8": scroll["workstation"]["median_ms"] <= TARGET_MEDIAN_MS,
        "p95_ms<=16": scroll["workstation"]["p95_ms"] <= TARGET_P95_MS,
        "ratio<=1.3": scroll["ratio_median"] <= TARGET_RATIO,
        "peak_rss<1.5GB": memory["peak_rss_gb"] < TARGET_PEAK_RSS_GB,
    }
    result = {
        "benchmark": "viewer_scroll",
        "quick": bool(args.quick),
        "machine": {
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "pyside6": PySide6.__version__,
            "pyqtgraph": pg.__version__,
            "qpa": os.environ.get("QT_QPA_PLATFORM"),
        },
        "scroll": scroll,
        "memory": memory,
        "targets": {
            "median_ms": TARGET_MEDIAN_MS,
            "p95_ms": TARGET_P95_MS,
            "ratio": TARGET_RATIO,
            "peak_rss_gb": TARGET_PEAK_RSS_GB,
        },
        "checks": checks,
        "passed": all(checks.values()),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    w, b = scroll["workstation"], scroll["bare_imageitem"]
    cpu = scroll["cpu_time"]
    print(
        f"scroll {scroll['n_slices']} slices x {scroll['rounds']} rounds, view {scroll['view_size_px']}, "
        f"load average {scroll['load_average_1min']}:\n"
        f"  workstation median {w['median_ms']:.2f} ms, p95 {w['p95_ms']:.2f} ms\n"
        f"  bare ImageItem median {b['median_ms']:.2f} ms, p95 {b['p95_ms']:.2f} ms\n"
        f"  ratio (median) {scroll['ratio_median']:.2f}, ratio (mean) {scroll['ratio_mean']:.2f}; "
        f"against the bare view in its own small window {scroll['ratio_median_vs_own_window']:.2f}\n"
        f"  CPU time ratio (median) {cpu['ratio_median']:.2f}; against its own window "
        f"{cpu['ratio_median_vs_own_window']:.2f}\n"
        f"  with a heat map on every slice: median "
        f"{scroll['with_heatmap_shown_every_slice']['median_ms']:.2f} ms\n"
        f"memory: {memory['n_slices']} slices ({memory['volume_mb']:.0f} MB, {memory['source']}): "
        f"peak RSS {memory['peak_rss_gb']:.2f} GB\n"
        f"checks: {checks} -> {'PASS' if result['passed'] else 'FAIL'}\n"
        f"written to {args.out}"
    )
    return 0 if result["passed"] else 1


if __name__ == "__main__":
    sys.exit(main())
