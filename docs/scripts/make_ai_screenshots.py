"""Screenshots of the AI in the workstation (docs/images/ai-*.png), made with ``--screenshot``.

Usage::

    python docs/scripts/make_ai_screenshots.py [--bundle FOLDER] [--out docs/images]

It builds the demo study in the user data folder if needed, copies its study file to a temporary folder
(your own demo study is not changed), adds an observer session "AI" whose policy shows the AI, and enters a
reader's levels (the phantom's true slices) and the scores of L1-L3 on the patient with the most disease,
as a reader would have left them. Then:

* ``ai-suggestions.png``: that case at L3 once the AI's levels (dashed violet lines, "AI slice" column) and
  scores ("AI" beside each field and "TOT AI" columns) are shown;
* ``ai-heatmap.png``: the same case once the heat map of its current level is drawn, with the colour bar.

The model is ``--bundle`` (default: the demo bundle). Without a demo bundle an **untrained** bundle (seeded
random weights) is written and used, and its output means nothing: the screenshots then show the layout
only, and the bundle's name says so ("UNTRAINED ... layout only").
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

UNTRAINED_NAME = "UNTRAINED test model (random weights, layout only)"


def _extent(record: dict) -> float:
    return sum(v["scores"]["TOT"] for v in record["levels"].values()) / len(record["levels"])


def prepare(study: Path, demo) -> int:
    """Add session "AI" (visible) and a half-done reading; returns the case's worklist position."""
    from ssc_core.constants import DEMO_ADMIN_NAME, LEVELS, PATTERNS
    from ssc_core.study.store import open_study

    records = json.loads((demo.scans_dir / "cohort.json").read_text())["patients"]
    with open_study(study) as st:
        admin = st.reader_by_name(DEMO_ADMIN_NAME).id
        reader = st.reader_by_name(demo.reader).id
        s = st.add_session("AI", "observer", [reader], by=admin, ai_policy="visible", order_seed=7)
        st.open_session(s.id, by=admin)
        by_name = {c.source_name: c for c in st.cases()}
        sick = max(records, key=_extent)
        code = by_name[sick["PatID"]].code
        for lv in LEVELS:
            t = sick["levels"][lv.label]
            st.place_level(s.id, reader, code, lv, float(t["slice_z_mm"]), int(t["slice"]))
        for lv in LEVELS[:3]:
            for pat in PATTERNS:
                st.set_score(s.id, reader, code, lv, pat, int(sick["levels"][lv.label]["scores"][pat.value]))
        order = [w.case_code for w in st.reader_view(s.id, reader).worklist]
        return order.index(code) + 1


def untrained_bundle(folder: Path) -> Path:
    from ssc_core.ai.bundle import save_untrained_bundle
    from ssc_core.ai.spec import cpu_default_spec
    from tests.core.ai.conftest import healthy_texture

    spec = cpu_default_spec(
        UNTRAINED_NAME,
        description="Untrained: random weights. Its output means nothing. Not for clinical use.",
    )
    save_untrained_bundle(folder, spec, seed=0, texture_hu=healthy_texture())
    return folder


def shoot(out: Path, env: dict, *args: str) -> None:
    cmd = [sys.executable, "-m", "app", *args, "--screenshot", str(out)]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=900)
    if done.returncode != 0:
        raise SystemExit(f"screenshot failed ({done.returncode}): {done.stderr}")
    print(f"written {out}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "images")
    parser.add_argument("--bundle", type=Path, help="model bundle folder (default: the demo bundle)")
    args = parser.parse_args(argv)

    from app.ai_controller import demo_bundle_installed
    from app.study_actions import demo_root
    from ssc_core.study.demo import ensure_demo_study

    demo = ensure_demo_study(demo_root())
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        study = Path(tmp) / "demo.sscstudy"
        shutil.copyfile(demo.study_path, study)
        position = prepare(study, demo)
        bundle = args.bundle
        if bundle is None and not demo_bundle_installed():
            bundle = untrained_bundle(Path(tmp) / "untrained")
            print("No demo bundle installed: using an UNTRAINED bundle (layout only).")
        env = dict(os.environ, QT_QPA_PLATFORM="offscreen", PYTHONPATH=str(ROOT), XDG_CONFIG_HOME=tmp)
        common = ["--study", str(study), "--reader", demo.reader, "--session", "AI", "--case", str(position)]
        common += ["--level", "L3"] + (["--bundle", str(bundle)] if bundle else [])
        shoot(args.out / "ai-suggestions.png", env, *common, "--screenshot-wait", "ai")
        shoot(args.out / "ai-heatmap.png", env, *common, "--screenshot-wait", "heatmap")
    return 0


if __name__ == "__main__":
    sys.exit(main())
