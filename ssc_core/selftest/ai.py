"""The AI cascade on one phantom patient: the demo bundle when it is installed, else an untrained bundle.

An untrained bundle (seeded random weights, the CPU default architecture) proves that torch, timm and the
cascade run in this installation, nothing more: its levels and scores are meaningless, and the report says
so. A demo bundle that is present but damaged fails the check (it would fail a reader too).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ssc_core.constants import LEVELS
from ssc_core.imaging.volume import CTVolume

#: Name of the untrained bundle, as it appears in the report.
UNTRAINED_NAME = "UNTRAINED self-test bundle"


@dataclass(frozen=True)
class PhantomTruth:
    """The exact levels (world z, mm) and TOT scores of a phantom patient (from the cohort's manifest)."""

    level_z: dict[str, float]
    tot: dict[str, float]


def read_truth(scans_dir: Path, index: int = 0) -> PhantomTruth | None:
    """Truth of patient ``index`` of a phantom cohort folder (``cohort.json``), or None when absent."""
    try:
        data = json.loads((scans_dir / "cohort.json").read_text(encoding="utf-8"))
        levels = data["patients"][index]["levels"]
        return PhantomTruth(
            level_z={k: float(v["z_mm"]) for k, v in levels.items()},
            tot={k: float(v["scores"]["TOT"]) for k, v in levels.items()},
        )
    except (OSError, ValueError, KeyError, IndexError, TypeError):
        return None


def choose_bundle(workdir: Path):
    """(bundle, label, trained): the installed demo bundle, or a freshly made untrained one.

    Raises :class:`~ssc_core.errors.BundleError` when a demo bundle is installed but cannot be loaded.
    """
    from ssc_core.ai.bundle import default_bundle_path, load_bundle, save_untrained_bundle
    from ssc_core.ai.spec import cpu_default_spec

    if default_bundle_path().exists():
        bundle = load_bundle(None)
        return bundle, f"demo bundle '{bundle.display_name}' {bundle.hash[:12]}", True
    folder = workdir / "untrained-bundle"
    save_untrained_bundle(folder, cpu_default_spec(UNTRAINED_NAME, provenance={"purpose": "self-test"}))
    return (
        load_bundle(folder),
        "UNTRAINED bundle (no demo bundle installed; levels and scores meaningless)",
        False,
    )


def run_cascade_check(volume: CTVolume, workdir: Path, truth: PhantomTruth | None = None) -> str:
    """Run the cascade (levels, then scores at each level) on ``volume``; the detail text.

    Raises when the cascade fails or gives something impossible (not five levels, non-finite scores, scores
    off the grid).
    """
    from ssc_core.ai.cascade import CascadeRequest, CascadeRunner, collect

    bundle, label, trained = choose_bundle(workdir)
    runner = CascadeRunner(bundle)
    done = collect(runner.run(CascadeRequest("self-test", volume)))
    result = done.result
    if [lv.level for lv in result.levels] != list(LEVELS):
        raise RuntimeError(f"the cascade returned {len(result.levels)} levels, not L1..L5")
    scored = [lv for lv in result.levels if lv.scores is not None]
    for lv in scored:
        s = lv.scores
        raw = np.array([s.raw_tot, s.raw_gg, s.raw_ret])  # type: ignore[union-attr]
        if not np.all(np.isfinite(raw)):
            raise RuntimeError(f"{lv.level.label}: the scorer gave non-finite output {raw}")
        for v in (s.tot, s.gg, s.ret):  # type: ignore[union-attr]
            if not (0 <= v <= 100 and v % 5 == 0):
                raise RuntimeError(f"{lv.level.label}: a displayed score {v} is off the 5 % grid")
    found = [lv for lv in result.levels if lv.finding.world_z is not None]
    parts = [label, f"{result.device}", f"{len(found)}/5 levels in the scan, {len(scored)} scored"]
    if truth is not None and found:
        dz = [abs(lv.finding.world_z - truth.level_z[lv.level.label]) for lv in found]  # type: ignore[operator]
        parts.append(f"level error {np.mean(dz):.1f} mm")
        if scored:
            dt = [abs(lv.scores.tot - truth.tot[lv.level.label]) for lv in scored]  # type: ignore[union-attr]
            parts.append(f"TOT error {np.mean(dt):.1f} points")
    if not trained:
        parts.append("untrained: figures meaningless")
    return "; ".join(parts)
