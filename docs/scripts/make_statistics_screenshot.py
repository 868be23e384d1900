"""Render the statistics window on a simulated reader study (docs/images/statistics.png).

Usage::

    QT_QPA_PLATFORM=offscreen python docs/scripts/make_statistics_screenshot.py [--out docs/images]

The truth comes from synthetic chest phantoms (``ssc_core.imaging.phantom``): each patient's five level
positions and TOT/GG/RET scores as measured on the phantom. A study file is built through the store API
(``tests/app/stats_study.py``): the consensus records the truth, two readers score every case in two
sessions six weeks apart with Gaussian noise of known SD (Reader A 3.5, Reader B 6 points; level
positions 2.75 and 4 mm), an AI bundle adds noise of SD 4 to its raw outputs, and Reader A rates the heat
maps. The picture itself is taken by ``ssc-workstation --stats STUDY --screenshot PNG``.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

#: Phantom patients (about a quarter healthy), rendered coarsely: only their ground truth is used.
N_PATIENTS = 24
SEED = 2024


def phantom_truth(n: int, seed: int):
    import numpy as np

    from ssc_core.constants import LEVELS
    from ssc_core.imaging.phantom import generate_phantom
    from ssc_core.imaging.phantom.disease import DiseaseSpec
    from tests.app.stats_study import CaseTruth

    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        patient = seed + i
        disease = None if rng.random() < 0.25 else DiseaseSpec.random(patient)
        ph = generate_phantom(patient, matrix=96, slice_spacing_mm=3.0, disease=disease)
        scores = {
            lv: (ph.level_scores[lv].tot, ph.level_scores[lv].gg, ph.level_scores[lv].ret) for lv in LEVELS
        }
        out.append(CaseTruth(scores=scores, z_mm=dict(ph.level_z)))
        print(f"phantom {i + 1}/{n}", file=sys.stderr)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "images")
    parser.add_argument("--keep-study", type=Path, help="build the study file here and keep it (a new file)")
    args = parser.parse_args(argv)

    from tests.app.stats_study import build_study

    truth = phantom_truth(N_PATIENTS, SEED)
    with tempfile.TemporaryDirectory() as tmp:
        study = args.keep_study or Path(tmp) / "phantom-reader-study.sscstudy"
        build_study(
            study,
            truth,
            readers={"Reader A": 3.5, "Reader B": 6.0},
            repeat_session=True,
            likert_reader="Reader A",
            seed=SEED,
            title="Phantom reader study (simulated readers)",
        )
        png = args.out / "statistics.png"
        env = dict(os.environ, PYTHONPATH=str(ROOT))
        cmd = [sys.executable, "-m", "app", "--stats", str(study), "--screenshot", str(png)]
        return subprocess.run(cmd, env=env, check=False).returncode


if __name__ == "__main__":
    sys.exit(main())
