"""Loading a 400-slice 512 x 512 DICOM series: ``load_scan`` against a bare SimpleITK ImageSeriesReader.

Writes the series (uncompressed, one file per slice, realistic HU content) to a temporary folder, reads it
once to warm the page cache, then alternates the two loaders ``--repeats`` times each and reports medians:

* ours: ``load_scan(folder)`` from nothing (header cache cleared before every run): header scan, grouping,
  geometry checks, pixel reading, HU conversion with padding and the plausibility checks; and the time to
  the first displayable slice (the ``on_slice`` preview);
* baseline: ``ImageSeriesReader.GetGDCMSeriesFileNames(folder)`` + ``Execute()`` + a numpy view of the
  image (GDCM sorts the files and applies the rescale itself).

    python -m benchmarks.load_series [--slices 400] [--repeats 7]

Writes ``benchmarks/results/load_series.json``. Target: full-load ratio (ours / baseline) at most 1.15.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

TARGET_RATIO = 1.15


def make_volume(n: int, size: int = 512):
    """A chest-like volume: air, a body ellipse of soft tissue with noise, two lungs (no real anatomy)."""
    from ssc_core.imaging.volume import CTVolume

    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[:size, :size]
    c = (size - 1) / 2
    body = ((yy - c) / (0.38 * size)) ** 2 + ((xx - c) / (0.46 * size)) ** 2 <= 1
    lungs = (((yy - c) / (0.25 * size)) ** 2 + ((np.abs(xx - c) - 0.2 * size) / (0.14 * size)) ** 2) <= 1
    base = np.full((size, size), -1000, dtype=np.int16)
    base[body] = 40
    base[lungs] = -850
    hu = np.empty((n, size, size), dtype=np.int16)
    for k in range(n):
        hu[k] = base + rng.integers(-20, 21, size=(size, size), dtype=np.int16)
    hu[:, ~body] = -1000
    return CTVolume.from_array(hu, (1.0, 0.7, 0.7), top_z=0.0)


def time_ours(folder: Path) -> tuple[float, float, tuple[int, ...]]:
    from ssc_core.imaging.dicom_series import clear_cache
    from ssc_core.imaging.loader import load_scan

    clear_cache()
    first: list[float] = []
    start = time.perf_counter()

    def on_slice(preview) -> None:
        if not first:
            first.append(time.perf_counter() - start)

    scan = load_scan(folder, on_slice=on_slice)
    total = time.perf_counter() - start
    return total, first[0], scan.volume.shape


def time_sitk(folder: Path) -> tuple[float, tuple[int, ...]]:
    import SimpleITK as sitk

    start = time.perf_counter()
    reader = sitk.ImageSeriesReader()
    reader.SetFileNames(reader.GetGDCMSeriesFileNames(str(folder)))
    image = reader.Execute()
    array = sitk.GetArrayViewFromImage(image)
    total = time.perf_counter() - start
    return total, tuple(array.shape)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--slices", type=int, default=400)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "load_series.json")
    args = parser.parse_args(argv)

    import SimpleITK as sitk

    from ssc_core.imaging.dicom_writer import write_dicom_series

    with tempfile.TemporaryDirectory(prefix="ssc-bench-") as tmp:
        folder = Path(tmp) / "series"
        t0 = time.perf_counter()
        write_dicom_series(make_volume(args.slices), folder)
        write_s = time.perf_counter() - t0
        for f in sorted(folder.iterdir()):  # warm the page cache for both loaders alike
            f.read_bytes()
        time_ours(folder)  # warm imports and code paths of both, untimed
        time_sitk(folder)
        ours, first, base = [], [], []
        shape_ours = shape_base = None
        for _ in range(args.repeats):
            total, first_slice, shape_ours = time_ours(folder)
            ours.append(total)
            first.append(first_slice)
            total, shape_base = time_sitk(folder)
            base.append(total)
    assert shape_ours == shape_base, (shape_ours, shape_base)
    ratio = statistics.median(ours) / statistics.median(base)
    result = {
        "series": f"{args.slices} x 512 x 512, uncompressed Explicit VR Little Endian, one file per slice",
        "repeats": args.repeats,
        "ours_full_load_s_median": round(statistics.median(ours), 4),
        "ours_first_slice_s_median": round(statistics.median(first), 4),
        "simpleitk_full_load_s_median": round(statistics.median(base), 4),
        "ratio_full_load": round(ratio, 3),
        "target_ratio": TARGET_RATIO,
        "target_met": ratio <= TARGET_RATIO,
        "first_slice_share_of_full_load": round(statistics.median(first) / statistics.median(ours), 3),
        "ours_runs_s": [round(t, 4) for t in ours],
        "simpleitk_runs_s": [round(t, 4) for t in base],
        "write_series_s": round(write_s, 2),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "simpleitk": sitk.Version_VersionString(),
            "platform": platform.platform(),
        },
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    return 0 if result["target_met"] else 1


if __name__ == "__main__":
    sys.exit(main())
