"""The AI service on a GPU: device choice, a case's cascade and heat maps, cancel, out of GPU memory.

Run (on a machine with CUDA; without one it runs on the CPU and says so)::

    python benchmarks/ai_service_gpu.py [--matrix 512] [--slices 160]

The workstation's AI service (:mod:`ssc_core.ai.service`) is driven through its pipe as the window drives
it, in this process (no Qt needed): load a bundle (the demo bundle if installed, else an untrained one of
the CPU default architecture), run a synthetic chest phantom's cascade and its five heat maps, cancel a
long unit and time how soon it stops, then fill the GPU's memory and check that the next unit fails with
"The GPU ran out of memory" and the service recovers once memory is free. Figures:
``benchmarks/results/ai_service_gpu.json``.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import ssc_core  # noqa: E402,F401  (sets OMP_WAIT_POLICY before torch loads)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--matrix", type=int, default=512)
    parser.add_argument("--spacing", type=float, default=2.0, help="slice spacing of the phantom (mm)")
    args = parser.parse_args(argv)

    import multiprocessing

    import torch

    from benchmarks._ai_common import machine, untrained_bundle, write_results
    from ssc_core.ai.bundle import default_bundle_path
    from ssc_core.ai.events import CascadeDone, HeatmapReady, StageProgress
    from ssc_core.ai.precompute import WorkUnit
    from ssc_core.ai.service import (
        BundleFailed,
        BundleReady,
        CancelUnit,
        LoadBundle,
        RunUnit,
        Stop,
        UnitFinished,
        _Service,
    )
    from ssc_core.ai.spec import SPEC_FILE, cpu_default_spec
    from ssc_core.constants import LEVELS
    from ssc_core.imaging.phantom import generate_phantom
    from ssc_core.study.records import ScanSource

    t0 = time.perf_counter()
    ph = generate_phantom(3, slice_spacing_mm=args.spacing, matrix=args.matrix)
    volume = ph.volume
    levels = {lv: int(k) for lv, k in ph.level_slices.items()}
    figures: dict = {
        "benchmark": "ai_service_gpu",
        "volume": list(volume.shape),
        "phantom_s": round(time.perf_counter() - t0, 1),
    }
    tmp = Path(tempfile.mkdtemp(prefix="ssc-gpu-"))
    demo = (default_bundle_path() / SPEC_FILE).is_file()
    bundle = None if demo else untrained_bundle(cpu_default_spec("benchmark (untrained)"), tmp)
    figures["bundle"] = "demo" if demo else "untrained cpu_default_spec"

    parent, child = multiprocessing.Pipe()
    service = _Service(child)
    thread = threading.Thread(target=service.serve, daemon=True)
    thread.start()
    scan = ScanSource("C-GPU", str(tmp / "not-read.mha"))

    def until(kind, timeout=600.0):
        out, end = [], time.monotonic() + timeout
        while time.monotonic() < end:
            if parent.poll(0.01):
                msg = parent.recv()
                out.append(msg)
                if isinstance(msg, kind):
                    return out
        raise SystemExit(f"no {kind.__name__} within {timeout} s")

    t = time.perf_counter()
    parent.send(LoadBundle(None if bundle is None else str(bundle)))
    msgs = until((BundleReady, BundleFailed))
    if isinstance(msgs[-1], BundleFailed):
        raise SystemExit(f"bundle failed: {msgs[-1].message}")
    info = msgs[-1].info
    figures["device"] = info.device_label
    figures["gpu"] = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    figures["load_bundle_s"] = round(time.perf_counter() - t, 2)
    service.volumes["C-GPU"] = volume  # the scan as if loaded (a GPU machine may lack the DICOM stack)

    # the case: cascade, then the five heat maps (one unit each, as the window sends them)
    t = time.perf_counter()
    parent.send(RunUnit(WorkUnit("C-GPU", scan, cascade=True, request_id=1)))
    msgs = until(UnitFinished)
    figures["cascade_s"] = round(time.perf_counter() - t, 3)
    assert msgs[-1].status == "done", msgs[-1]
    assert any(isinstance(m, CascadeDone) for m in msgs)
    per_map = []
    for i, lv in enumerate(LEVELS):
        t = time.perf_counter()
        unit = WorkUnit(
            "C-GPU", scan, cascade=False, heatmaps=(lv,), levels={lv: levels[lv]}, request_id=10 + i
        )
        parent.send(RunUnit(unit))
        msgs = until(UnitFinished)
        assert msgs[-1].status == "done", msgs[-1]
        ready = [m for m in msgs if isinstance(m, HeatmapReady)]
        assert ready
        assert ready[0].heatmap.values.shape[1:] == volume.shape[1:]
        per_map.append(round(time.perf_counter() - t, 3))
    figures["heatmap_s"] = per_map
    figures["case_total_s"] = round(figures["cascade_s"] + sum(per_map), 2)

    # cancel: a long unit (twenty rounds of the five maps), cancelled after its first progress report
    long_unit = WorkUnit(
        "C-GPU", scan, cascade=False, heatmaps=tuple(LEVELS) * 20, levels=levels, request_id=50
    )
    parent.send(RunUnit(long_unit))
    until(StageProgress)
    t = time.monotonic()
    parent.send(CancelUnit(50))
    msgs = until(UnitFinished)
    figures["cancel_s"] = round(time.monotonic() - t, 3)
    figures["cancel_status"] = msgs[-1].status
    figures["cancel_within_1s"] = msgs[-1].status == "cancelled" and figures["cancel_s"] < 1.0

    # out of GPU memory: fill the card, run a map, expect the error with its reason, then recover
    if torch.cuda.is_available():
        hog = []
        try:
            while True:
                hog.append(torch.empty(256 * 1024 * 1024, dtype=torch.uint8, device="cuda"))
        except torch.cuda.OutOfMemoryError:
            pass
        unit = WorkUnit("C-GPU", scan, cascade=False, heatmaps=(LEVELS[2],), levels=levels, request_id=60)
        parent.send(RunUnit(unit))
        msgs = until(UnitFinished)
        figures["oom_status"] = msgs[-1].status
        figures["oom_message"] = msgs[-1].message
        figures["oom_hint"] = msgs[-1].hint
        del hog
        torch.cuda.empty_cache()
        parent.send(RunUnit(WorkUnit("C-GPU", scan, cascade=True, request_id=61)))
        msgs = until(UnitFinished)
        figures["after_oom_status"] = msgs[-1].status
    parent.send(Stop())
    thread.join(10)
    figures["machine"] = machine()
    path = write_results("ai_service_gpu", figures)
    for k, v in figures.items():
        if k != "machine":
            print(f"{k}: {v}")
    print(f"written {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
