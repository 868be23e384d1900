"""CPU cascade benchmark: levels + five scores on a 300-slice 512 x 512 scan, and peak memory at 600 slices.

The default CPU bundle architecture (fast ``slice_encoder_1d`` level finder + ConvNeXt-Atto scorer), with
untrained seeded weights (speed does not depend on the weights), on the project's phantom when installed
(else a synthetic chest). Loading is excluded: the scan is in memory.

* Time: the level finder on the scan, plus scoring the five level slices (lung mask + scorer, the cascade's
  per-level work), median of ``--repeats`` runs after a warm-up. Target <= 2 s on a 2-core machine. The
  end-to-end ``CascadeRunner.run`` time is reported too (with untrained weights its levels may land on
  slices without lung, which are then not scored, so it can be shorter).
* Memory: a child process holds a 600-slice scan and runs the cascade plus the heat maps of the five
  levels; its peak resident set size (``getrusage``) must stay under 3 GB.

Run: ``python -m benchmarks.cascade_cpu`` (``--quick``: fewer repeats, one heat map in the memory run).
Results: ``benchmarks/results/cascade_cpu.json``.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._ai_common import ROOT, chest_scan, machine, untrained_bundle, write_results

TARGET_SECONDS = 2.0
TARGET_PEAK_GB = 3.0


def bench_time(n_slices: int, repeats: int) -> dict:
    import numpy as np

    from ssc_core.ai.bundle import load_bundle
    from ssc_core.ai.cascade import CascadeRequest, CascadeRunner, collect
    from ssc_core.ai.spec import cpu_default_spec

    vol, levels, what = chest_scan(n_slices)
    bundle = load_bundle(untrained_bundle(cpu_default_spec("benchmark (untrained)")))
    runner = CascadeRunner(bundle, device="cpu")
    _, dy, dx = vol.spacing
    slices = [levels[lv] for lv in sorted(levels)]

    def once() -> tuple[float, float]:
        t0 = time.perf_counter()
        runner.level_finder.find(vol)
        t1 = time.perf_counter()
        for k in slices:
            runner.score_slice(vol.axial(k), (dy, dx))
        return t1 - t0, time.perf_counter() - t1

    once()  # warm-up (allocator, thread pool, first-call paths)
    levels_s, scores_s, total_s, cpu_s = [], [], [], []
    for _ in range(repeats):
        c0 = time.process_time()
        a, b = once()
        cpu_s.append(time.process_time() - c0)
        levels_s.append(a)
        scores_s.append(b)
        total_s.append(a + b)
    e2e = []
    for _ in range(max(1, repeats // 2)):
        t0 = time.perf_counter()
        collect(runner.run(CascadeRequest("bench", vol)))
        e2e.append(time.perf_counter() - t0)
    lungs = [float(np.mean(vol.axial(k) < -500)) for k in slices]
    return {
        "scan": what,
        "shape": list(vol.shape),
        "spacing_mm": list(vol.spacing),
        "level_slices": slices,
        "air_fraction_of_level_slices": lungs,
        "levels_s_median": statistics.median(levels_s),
        "five_scores_s_median": statistics.median(scores_s),
        "levels_plus_five_scores_s_median": statistics.median(total_s),
        "levels_plus_five_scores_s_all": total_s,
        "cpu_time_s_median": statistics.median(cpu_s),
        "end_to_end_run_s_median": statistics.median(e2e),
        "target_s": TARGET_SECONDS,
        "met": statistics.median(total_s) <= TARGET_SECONDS,
    }


def _memory_child(args: list[str]) -> None:
    """Runs in a separate process: load the scan, run cascade + heat maps, print the peak RSS."""
    import numpy as np

    from ssc_core.ai.bundle import load_bundle
    from ssc_core.ai.cascade import CascadeRequest, CascadeRunner, collect
    from ssc_core.constants import LEVELS
    from ssc_core.imaging.volume import CTVolume

    npy, spacing_json, levels_json, bundle_dir, n_heat = args
    hu = np.load(npy)
    spacing = tuple(json.loads(spacing_json))
    vol = CTVolume.from_array(hu, spacing, top_z=0.0)
    del hu
    rss_volume = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    levels = {lv: int(k) for lv, k in zip(LEVELS, json.loads(levels_json))}
    runner = CascadeRunner(load_bundle(bundle_dir), device="cpu")
    t0 = time.perf_counter()
    heat = tuple(LEVELS[: int(n_heat)])
    collect(runner.run(CascadeRequest("memory", vol)))  # levels found by the network
    done = collect(runner.run(CascadeRequest("memory", vol, slices=levels, heatmaps=heat)))
    seconds = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    print(
        json.dumps(
            {
                "peak_rss_kib": peak,
                "rss_after_volume_kib": rss_volume,
                "heatmaps": len(done.heatmaps),
                "seconds": seconds,
            }
        )
    )


def bench_memory(n_slices: int, n_heat: int) -> dict:
    import numpy as np

    from ssc_core.ai.spec import cpu_default_spec

    vol, levels, what = chest_scan(n_slices, seed=2)
    with tempfile.TemporaryDirectory() as tmp:
        npy = Path(tmp) / "scan.npy"
        np.save(npy, vol.hu)
        shape, spacing = list(vol.shape), list(vol.spacing)
        level_list = [levels[lv] for lv in sorted(levels)]
        del vol
        bundle = untrained_bundle(cpu_default_spec("benchmark (untrained)"), Path(tmp))
        cmd = [
            sys.executable,
            "-m",
            "benchmarks.cascade_cpu",
            "--memory-child",
            str(npy),
            json.dumps(spacing),
            json.dumps(level_list),
            str(bundle),
            str(n_heat),
        ]
        out = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, check=True)
    child = json.loads(out.stdout.strip().splitlines()[-1])
    peak_gb = child["peak_rss_kib"] * 1024 / 1e9
    return {
        "scan": what,
        "shape": shape,
        "heatmaps_computed": child["heatmaps"],
        "cascade_and_heatmaps_s": child["seconds"],
        "rss_after_volume_gb": child["rss_after_volume_kib"] * 1024 / 1e9,
        "peak_rss_gb": peak_gb,
        "target_gb": TARGET_PEAK_GB,
        "met": peak_gb < TARGET_PEAK_GB,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats; one heat map in the memory run")
    parser.add_argument("--slices", type=int, default=300)
    parser.add_argument("--memory-slices", type=int, default=600)
    parser.add_argument("--memory-child", nargs=5, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.memory_child:
        _memory_child(args.memory_child)
        return 0
    repeats = 3 if args.quick else 7
    figures = {"benchmark": "cascade_cpu", "machine": machine()}
    figures["time"] = bench_time(args.slices, repeats)
    t = figures["time"]
    print(
        f"levels {t['levels_s_median']:.3f} s + five scores {t['five_scores_s_median']:.3f} s = "
        f"{t['levels_plus_five_scores_s_median']:.3f} s (target <= {TARGET_SECONDS} s) on {t['scan']}"
    )
    figures["memory"] = bench_memory(args.memory_slices, 1 if args.quick else 5)
    m = figures["memory"]
    print(
        f"peak RSS {m['peak_rss_gb']:.2f} GB for a {m['shape'][0]}-slice scan, cascade + "
        f"{m['heatmaps_computed']} heat map(s) (target < {TARGET_PEAK_GB} GB)"
    )
    path = write_results("cascade_cpu", figures)
    print(f"figures: {path}")
    return 0 if t["met"] and m["met"] else 1


if __name__ == "__main__":
    sys.exit(main())
