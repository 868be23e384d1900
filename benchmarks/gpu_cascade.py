"""GPU benchmark of the paper-faithful cascade: vgg11_3d level network + ConvNeXt-Tiny scorer + heat maps.

Self-contained for a GPU machine with torch, timm, numpy, scipy and safetensors (no SimpleITK, pydicom,
pandas or Qt needed): it writes an untrained bundle of the paper's architectures (seeded random weights;
speed does not depend on the weights), builds a synthetic 300-slice 512 x 512 chest scan in numpy, and
times on one GPU, after a warm-up:

* the cascade: the 3-D level network on the 256-resampled scan (17 windows of 192 slices, median) plus
  scoring the five level slices (lung mask + ConvNeXt-Tiny); target <= 0.3 s;
* a replacement heat map per level (64 px squares, stride 16, exact windowed recomputation); target
  <= 1 s per level.

It prints the figures and writes them as JSON to ``$OUT/gpu_cascade.json`` when ``OUT`` is set (else
``benchmarks/results/gpu_cascade.json``). Runs in well under two minutes including the warm-up.

Run: ``python benchmarks/gpu_cascade.py`` on the GPU machine; ``--smoke`` runs a tiny version on the CPU
(small grid and images) to check the script itself.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import ssc_core  # noqa: E402,F401  (sets OMP_WAIT_POLICY before torch loads)

TARGET_CASCADE_S = 0.3
TARGET_HEATMAP_S = 1.0


def synthetic_scan(n: int, size: int, dz: float):
    """A chest-like volume in numpy: body, fat, two lungs (growing from the apex, ending at the
    diaphragm), vessels, spine; the five level slices at fixed fractions of the lung range."""
    import numpy as np

    from ssc_core.constants import LEVELS
    from ssc_core.imaging.volume import CTVolume

    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / size
    body = ((xx - 0.5) / 0.42) ** 2 + ((yy - 0.52) / 0.32) ** 2 <= 1.0
    inner = ((xx - 0.5) / 0.39) ** 2 + ((yy - 0.52) / 0.29) ** 2 <= 1.0
    spine = ((xx - 0.5) / 0.05) ** 2 + ((yy - 0.74) / 0.05) ** 2 <= 1.0
    base = np.full((size, size), -1000, np.int16)
    base[body], base[inner], base[spine] = -100, 40, 600
    vessels = rng.random((size, size)) < 0.004
    hu = np.empty((n, size, size), np.int16)
    top, bottom = 0.08, 0.85
    for k in range(n):
        f = k / max(1, n - 1)
        s = base.copy()
        if top <= f <= bottom:
            scale = 0.35 + 0.65 * np.sin(np.pi * min(1.0, 0.2 + 0.9 * (f - top) / (bottom - top))) ** 0.5
            for cx in (0.33, 0.67):
                lung = ((xx - cx) / (0.13 * scale)) ** 2 + ((yy - 0.5) / (0.2 * scale)) ** 2 <= 1.0
                s[lung] = -850
                s[lung & vessels] = 30
        hu[k] = s + rng.integers(-15, 16, size=(size, size), dtype=np.int16)
    vol = CTVolume.from_array(hu, (dz, 0.7 * 512 / size, 0.7 * 512 / size), top_z=0.0)
    levels = {lv: round(f * (n - 1)) for lv, f in zip(LEVELS, (0.22, 0.35, 0.48, 0.6, 0.72))}
    return vol, levels


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="tiny CPU run that checks the script")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)

    import numpy as np
    import torch

    from ssc_core.ai.bundle import load_bundle, save_untrained_bundle
    from ssc_core.ai.cascade import CascadeRequest, CascadeRunner, HeatmapReady
    from ssc_core.ai.spec import ScorerSpec, VGG3DParams, paper_spec

    if args.smoke:
        device = "cpu"
        spec = paper_spec("GPU benchmark smoke (untrained)")
        spec = type(spec)(
            display_name=spec.display_name,
            level_finder=type(spec.level_finder)(
                "vgg11_3d", VGG3DParams(resampled_shape=(80, 64, 64), window_slices=64, window_stride=8)
            ),
            scorer=ScorerSpec("convnext_tiny", input_size=128),
        )
        n, size, dz = 40, 128, 5.0
        repeats = 1
    else:
        if not torch.cuda.is_available():
            print("error: no CUDA device; run with --smoke for a CPU check", file=sys.stderr)
            return 2
        device = "cuda"
        spec = paper_spec("GPU benchmark (untrained)")
        n, size, dz = 300, 512, 1.0
        repeats = args.repeats

    t_start = time.perf_counter()
    rng = np.random.default_rng(0)
    texture = (-850.0 + rng.normal(0.0, 40.0, size=(64, 64))).astype(np.float32)
    with tempfile.TemporaryDirectory() as tmp:
        save_untrained_bundle(Path(tmp) / "paper", spec, seed=0, texture_hu=texture)
        bundle = load_bundle(Path(tmp) / "paper")
    runner = CascadeRunner(bundle, device=device)
    vol, levels = synthetic_scan(n, size, dz)
    _, dy, dx = vol.spacing
    slices = [levels[lv] for lv in sorted(levels)]

    def sync() -> None:
        if device == "cuda":
            torch.cuda.synchronize()

    def cascade_once() -> tuple[float, float]:
        sync()
        t0 = time.perf_counter()
        runner.level_finder.find(vol)
        sync()
        t1 = time.perf_counter()
        for k in slices:
            runner.score_slice(vol.axial(k), (dy, dx))
        sync()
        return t1 - t0, time.perf_counter() - t1

    def heatmap_once(k: int) -> tuple[float, int]:
        sync()
        t0 = time.perf_counter()
        positions = 0
        for event in runner.heatmap_events(CascadeRequest("bench", vol), level=None, slice_index=k):
            if isinstance(event, HeatmapReady):
                positions = event.heatmap.positions
        sync()
        return time.perf_counter() - t0, positions

    # The cascade's shapes are fixed: let cuDNN time its kernels once (warm-up). Heat-map windows vary in
    # size from batch to batch, so kernel timing would cost more than it saves there.
    torch.backends.cudnn.benchmark = device == "cuda"
    t0 = time.perf_counter()
    cascade_once()
    warm_cascade = time.perf_counter() - t0
    if device == "cuda":
        torch.cuda.reset_peak_memory_stats()
    runs = [cascade_once() for _ in range(repeats)]
    totals = [a + b for a, b in runs]
    torch.backends.cudnn.benchmark = False
    t0 = time.perf_counter()
    heatmap_once(slices[2])
    warm_heat = time.perf_counter() - t0
    heat = [heatmap_once(k) for k in slices]
    heat_s = [h[0] for h in heat]
    forbidden = [m for m in ("SimpleITK", "pydicom", "PySide6", "pandas") if m in sys.modules]

    figures = {
        "benchmark": "gpu_cascade",
        "smoke": args.smoke,
        "device": torch.cuda.get_device_name(0) if device == "cuda" else "cpu",
        "torch": torch.__version__,
        "cudnn_benchmark": "cascade only",
        "tf32_conv": bool(torch.backends.cudnn.allow_tf32),
        "scan_shape": list(vol.shape),
        "level_network": "vgg11_3d (256^3 grid, 192-slice windows, stride 4)",
        "scorer": spec.scorer.architecture,
        "warmup_cascade_s": warm_cascade,
        "warmup_heatmap_s": warm_heat,
        "levels_s_median": statistics.median(a for a, _ in runs),
        "five_scores_s_median": statistics.median(b for _, b in runs),
        "cascade_s_median": statistics.median(totals),
        "cascade_s_all": totals,
        "heatmap_s_per_level": heat_s,
        "heatmap_positions_per_level": [h[1] for h in heat],
        "heatmap_s_max": max(heat_s),
        "peak_gpu_memory_gb": torch.cuda.max_memory_allocated() / 1e9 if device == "cuda" else None,
        "unwanted_imports": forbidden,
        "total_script_s": time.perf_counter() - t_start,
        "targets": {"cascade_s": TARGET_CASCADE_S, "heatmap_s_per_level": TARGET_HEATMAP_S},
    }
    met = figures["cascade_s_median"] <= TARGET_CASCADE_S and figures["heatmap_s_max"] <= TARGET_HEATMAP_S
    figures["met"] = met and not forbidden
    print(
        f"{figures['device']}: cascade {figures['cascade_s_median']:.3f} s (levels "
        f"{figures['levels_s_median']:.3f} + five scores {figures['five_scores_s_median']:.3f}; target <= "
        f"{TARGET_CASCADE_S} s); heat map per level "
        + ", ".join(f"{s:.2f}" for s in heat_s)
        + f" s (target <= {TARGET_HEATMAP_S} s); warm-up {warm_cascade:.1f} + {warm_heat:.1f} s; "
        f"script {figures['total_script_s']:.0f} s"
    )
    if forbidden:
        print(f"warning: imported {', '.join(forbidden)}", file=sys.stderr)
    out_dir = Path(os.environ["OUT"]) if os.environ.get("OUT") else ROOT / "benchmarks" / "results"
    out_dir.mkdir(parents=True, exist_ok=True)
    name = "gpu_cascade_smoke.json" if args.smoke else "gpu_cascade.json"
    (out_dir / name).write_text(json.dumps(figures, indent=2) + "\n")
    print(f"figures: {out_dir / name}")
    return 0 if figures["met"] or args.smoke else 1


if __name__ == "__main__":
    sys.exit(main())
