"""Heat-map benchmark: ours against the plain reference loop, same network and image, same run.

Network: the default CPU scorer (ConvNeXt-Atto, 512 x 512 input) with seeded random weights made "lively"
(layer scale and head raised so every block matters, as in the tests); image: one level slice of a chest
scan (the project's phantom when installed, else a synthetic chest) with its classical lung mask.

* Reference: ``tests/core/ai/reference.py``, the method written plainly: every one of the 29 x 29
  positions, one whole-image forward pass each (what the paper's authors did, about 1,000 passes). Its
  passes are interleaved with our batches so that the shared machine's load hits both alike. The same
  loop skipping squares without lung is reported too (its passes cost the same), to show what batching +
  the exact local recomputation add on top of skipping.
* Ours: :class:`ssc_core.ai.heatmap.HeatmapJob` (skipping, batching, windowed recomputation).
* Checks: max |ours - reference| <= 1e-5; speed-up over the plain loop >= 5; five level slices with the
  default CPU scorer <= 60 s in total.

Run: ``python -m benchmarks.heatmap_speed`` (``--quick``: the all-positions loop estimated, not run).
Results: ``benchmarks/results/heatmap_speed.json``.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._ai_common import chest_scan, healthy_texture, machine, write_results

TARGET_SPEEDUP = 5.0
TARGET_FIVE_LEVELS_S = 60.0
TOLERANCE = 1e-5


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="estimate the plain loop instead of running it")
    parser.add_argument("--arch", default="convnext_atto")
    args = parser.parse_args(argv)

    import numpy as np
    import timm
    import torch

    from ssc_core.ai.device import choose_device
    from ssc_core.ai.heatmap import HeatmapJob, lung_positions, patch_positions
    from ssc_core.ai.preprocess import normalize_np
    from ssc_core.ai.spec import Normalization
    from ssc_core.imaging.lung_mask import lung_mask
    from tests.core.ai.reference import lively, reference_steps

    choose_device("cpu")
    torch.manual_seed(0)
    net = lively(timm.create_model(args.arch, in_chans=1, num_classes=3, pretrained=False))
    vol, levels, what = chest_scan(300)
    norm = Normalization()
    texture = normalize_np(healthy_texture(), norm)
    _, dy, dx = vol.spacing

    def prepared(k: int):
        hu = vol.axial(k)
        return normalize_np(hu, norm), lung_mask(hu, pixel_spacing_mm=(dy, dx))

    level_list = [levels[lv] for lv in sorted(levels)]
    k_main = level_list[2]  # L3: a large lung section
    image, mask = prepared(k_main)
    n_all = len(patch_positions(image.shape, 64, 16))
    n_lung = len(lung_positions(mask, 64, 16))

    # Ours and the plain loop on the main slice, interleaved step by step (one batch of ours, then the
    # matching share of the loop's passes) so that the load of the shared machine hits both alike; wall and
    # CPU time are summed per method.
    job = HeatmapJob(net, image, mask, texture, patch=64, stride=16, blur=5)
    plain = reference_steps(net, image, mask, texture, skip_empty=args.quick)
    ours_steps = job.steps()
    n_batches = -(-job.total // job.batch_size)
    ref_total = n_lung if args.quick else n_all
    per_batch = -(-ref_total // n_batches)
    clock = {"ours": [0.0, 0.0], "ref": [0.0, 0.0]}
    ref_result = None
    ours_done = False

    def timed(name: str, fn) -> object:
        t, c = time.perf_counter(), time.process_time()
        out = fn()
        clock[name][0] += time.perf_counter() - t
        clock[name][1] += time.process_time() - c
        return out

    while not ours_done or ref_result is None:
        if not ours_done:
            ours_done = timed("ours", lambda: next(ours_steps, None)) is None
        for _ in range(per_batch if ref_result is None else 0):
            try:
                timed("ref", lambda: next(plain))
            except StopIteration as stop:
                ref_result = stop.value
                break
    ours = job.result()
    ref, _ = ref_result
    ours_s, ours_cpu = clock["ours"]
    ref_s, ref_cpu = clock["ref"]
    if args.quick:
        # The loop skipped the squares without lung; every pass of the plain loop costs the same.
        ref_all_s, ref_all_cpu = ref_s * n_all / n_lung, ref_cpu * n_all / n_lung
        ref_lung_s = ref_s
        timing = "plain loop estimated from the loop over lung positions (same cost per pass)"
    else:
        ref_all_s, ref_all_cpu = ref_s, ref_cpu
        ref_lung_s = ref_s * n_lung / n_all
        timing = "plain loop measured, interleaved with ours; lung-only loop = same passes per position"
    max_diff = float(np.abs(ours.values - ref).max())

    # Five level slices with the default CPU scorer.
    per_level = []
    for k in level_list:
        img, m = prepared(k)
        t0, c0 = time.perf_counter(), time.process_time()
        j = HeatmapJob(net, img, m, texture, patch=64, stride=16, blur=5)
        for _ in j.steps():
            pass
        per_level.append(
            {
                "slice": k,
                "positions": j.total,
                "seconds": time.perf_counter() - t0,
                "cpu_seconds": time.process_time() - c0,
            }
        )
    five_s = sum(p["seconds"] for p in per_level)
    five_cpu = sum(p["cpu_seconds"] for p in per_level)

    figures = {
        "benchmark": "heatmap_speed",
        "machine": machine(),
        "scan": what,
        "scorer": args.arch,
        "slice": k_main,
        "positions_total": n_all,
        "positions_with_lung": n_lung,
        "ours_s": ours_s,
        "ours_cpu_s": ours_cpu,
        "shortcut": job.replacer.shortcut,
        "reference_all_positions_s": ref_all_s,
        "reference_all_positions_cpu_s": ref_all_cpu,
        "speedup_vs_plain_loop_cpu_time": ref_all_cpu / ours_cpu,
        "reference_lung_positions_only_s": ref_lung_s,
        "reference_timing": timing,
        "speedup_vs_plain_loop": ref_all_s / ours_s,
        "speedup_vs_loop_skipping_empty_squares": ref_lung_s / ours_s,
        "max_abs_difference": max_diff,
        "heatmap_value_range": [float(ref.min()), float(ref.max())],
        "five_levels": per_level,
        "five_levels_s": five_s,
        "five_levels_cpu_s": five_cpu,
        "ms_per_position_main_slice": 1000 * ours_s / n_lung,
        "targets": {
            "speedup": TARGET_SPEEDUP,
            "five_levels_s": TARGET_FIVE_LEVELS_S,
            "max_abs_diff": TOLERANCE,
        },
    }
    met = figures["speedup_vs_plain_loop"] >= TARGET_SPEEDUP and five_s <= TARGET_FIVE_LEVELS_S
    met = met and max_diff <= TOLERANCE
    figures["met"] = met
    print(
        f"{what}: slice {k_main}, {n_lung}/{n_all} positions hold lung\n"
        f"ours {ours_s:.1f} s; plain loop {ref_all_s:.1f} s ({timing}) "
        f"-> x{figures['speedup_vs_plain_loop']:.1f}; loop over lung positions {ref_lung_s:.1f} s "
        f"-> x{figures['speedup_vs_loop_skipping_empty_squares']:.1f}\n"
        f"max |ours - reference| = {max_diff:.2e} (<= {TOLERANCE})\n"
        f"five levels: {five_s:.1f} s, {five_cpu:.1f} CPU s (target <= {TARGET_FIVE_LEVELS_S} s): "
        + ", ".join(f"{p['positions']} pos {p['seconds']:.1f} s" for p in per_level)
    )
    print(f"figures: {write_results('heatmap_speed', figures)}")
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
