"""Shared pieces of the AI benchmarks: a chest scan (the phantom when available), an untrained bundle."""

from __future__ import annotations

import json
import os
import platform
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import ssc_core  # noqa: E402,F401  (sets OMP_WAIT_POLICY before torch loads)

RESULTS = ROOT / "benchmarks" / "results"


def chest_scan(n_slices: int, *, seed: int = 1) -> tuple[Any, dict[Any, int], str]:
    """A 512 x 512 chest scan of about ``n_slices`` slices, its five level slices and what it is.

    The project's phantom (``ssc_core.imaging.phantom``) when it is installed, with its true levels;
    otherwise a synthetic chest (body, fat, two lungs with vessels, spine) built slice by slice, with
    levels at fixed fractions of the lung range.
    """
    from ssc_core.constants import LEVELS

    try:
        from ssc_core.imaging.phantom import generate_phantom, phantom_anatomy

        anat = phantom_anatomy(seed)
        extent = float(anat.z_top - anat.z_bottom)
        spacing = min(3.0, max(0.5, extent / max(1, n_slices - 1)))
        ph = generate_phantom(seed, slice_spacing_mm=spacing)
        return ph.volume, dict(ph.level_slices), f"phantom seed {seed}, {spacing:.3f} mm slices"
    except ImportError:
        pass
    from ssc_core.imaging.volume import CTVolume
    from tests.core.ai.chest import chest_slice

    hu = np.empty((n_slices, 512, 512), dtype=np.int16)
    top, bottom = 0.08, 0.85
    templates: dict[int, np.ndarray] = {}
    rng = np.random.default_rng(seed)
    for k in range(n_slices):
        f = k / max(1, n_slices - 1)
        if top <= f <= bottom:
            t = (f - top) / (bottom - top)
            scale = 0.35 + 0.65 * np.sin(np.pi * min(1.0, 0.2 + 0.9 * t)) ** 0.5
        else:
            scale = 0.0
        key = round(scale * 20)
        if key not in templates:
            templates[key] = chest_slice(512, lung_scale=key / 20.0, seed=seed + key)
        noise = rng.integers(-8, 9, size=(512, 512), dtype=np.int16)
        hu[k] = templates[key] + noise
    vol = CTVolume.from_array(hu, (300.0 / max(1, n_slices - 1), 0.7, 0.7), top_z=0.0)
    fractions = (0.22, 0.35, 0.48, 0.6, 0.72)
    levels = {lv: round(f * (n_slices - 1)) for lv, f in zip(LEVELS, fractions)}
    return vol, levels, "synthetic chest (phantom not installed)"


def healthy_texture(seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (-850.0 + rng.normal(0.0, 40.0, size=(64, 64))).astype(np.float32)


def untrained_bundle(spec: Any, folder: Path | None = None, seed: int = 0) -> Path:
    """Write an untrained bundle of ``spec`` (seeded random weights) and return its folder."""
    from ssc_core.ai.bundle import save_untrained_bundle

    target = (folder or Path(tempfile.mkdtemp(prefix="ssc-bench-"))) / "bundle"
    save_untrained_bundle(target, spec, seed=seed, texture_hu=healthy_texture())
    return target


def machine() -> dict[str, Any]:
    import torch

    return {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "load_average": os.getloadavg() if hasattr(os, "getloadavg") else None,
        "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY"),
    }


def write_results(name: str, figures: dict[str, Any]) -> Path:
    out_dir = Path(os.environ["OUT"]) if os.environ.get("OUT") else RESULTS
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{name}.json"
    path.write_text(json.dumps(figures, indent=2, default=float) + "\n")
    return path
