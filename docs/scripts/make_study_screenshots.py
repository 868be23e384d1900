"""Screenshots of reading a study (docs/images/reading-*.png), made with ``ssc-workstation --screenshot``.

Usage::

    python docs/scripts/make_study_screenshots.py [--out docs/images]

It builds the demo study in the user data folder if needed (as ``--demo`` does), copies its study file to a
temporary folder (your own demo study is not changed) and prepares the copy through the store API, as a
reader would have left it:

* ``reading-scores.png``: observer session T1, one case submitted, the case with the most disease half
  scored (levels placed at the phantom's true slices, L1 and L2 scored, L3 being typed), shown at L3;
* ``reading-heatmap-rating.png``: heat-map rating session HM on the same patient, a few ratings given, with
  the demo model's heat map (computed by the workstation, ``--screenshot-wait heatmap``). Where no demo
  model is installed, the heat maps planted in the copy's AI cache are an **illustration** derived from the
  phantom's own disease masks (negative where disease was inserted, one positive spot in healthy lung), not
  the output of a network;
* ``reading-start.png``: the start dialog (study, reader, sessions with a washout refusal).
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

ILLUSTRATION_BUNDLE = "illustration-from-phantom-truth"


def _extent(record: dict) -> float:
    return sum(v["scores"]["TOT"] for v in record["levels"].values()) / len(record["levels"])


def _heatmaps(record: dict, levels: dict) -> dict:
    """Stand-in heat maps from the phantom's disease masks (see the module docstring)."""
    import numpy as np
    from scipy.ndimage import gaussian_filter

    from ssc_core.constants import Level, Pattern
    from ssc_core.imaging.phantom import DiseaseSpec, generate_phantom

    ph = generate_phantom(
        int(record["seed"]),
        slice_spacing_mm=float(record["spacing_mm"][0]),
        disease=DiseaseSpec(**record["disease"]),
        matrix=int(record["shape"][1]),
    )
    rng = np.random.default_rng(7)
    out = {}
    for lv in levels:
        k = int(record["levels"][lv.label]["slice"])
        lung = ph.lung_mask[k]
        masks = {Pattern.GG: ph.gg_mask[k], Pattern.RET: ph.ret_mask[k]}
        masks[Pattern.TOT] = masks[Pattern.GG] | masks[Pattern.RET]
        ys, xs = np.nonzero(lung & ~masks[Pattern.TOT])
        for pat, mask in masks.items():
            heat = -3.4 * gaussian_filter(mask.astype(np.float32), 5.0)
            if len(ys):
                i = rng.integers(len(ys))
                spot = np.zeros_like(heat)
                spot[ys[i], xs[i]] = 1.0
                heat += 1.6 * gaussian_filter(spot, 9.0) / max(gaussian_filter(spot, 9.0).max(), 1e-6)
            heat[~lung] = 0.0
            out[(Level(lv), pat)] = heat.astype(np.float32)
    return out


def prepare(study: Path, demo, *, illustration: bool) -> tuple[int, int]:
    """Fill the copy as described in the module docstring; returns the worklist positions (T1, HM).

    ``illustration``: plant the stand-in heat maps (no demo model to compute real ones).
    """
    from ssc_core.constants import LEVELS, PATTERNS, Level, Pattern
    from ssc_core.study.store import open_study

    records = json.loads((demo.scans_dir / "cohort.json").read_text())["patients"]
    with open_study(study) as st:
        reader = st.reader_by_name(demo.reader).id
        t1 = st.session_by_label(demo.observer_session).id
        hm = st.session_by_label(demo.rating_session).id
        by_name = {c.source_name: c for c in st.cases()}
        sick = max(records, key=_extent)
        sick_code = by_name[sick["PatID"]].code
        order = [w.case_code for w in st.reader_view(t1, reader).worklist]
        done = next(c for c in order if c != sick_code)

        def score(code: str, record: dict, upto: int) -> None:
            for lv in LEVELS:
                t = record["levels"][lv.label]
                st.place_level(t1, reader, code, lv, float(t["slice_z_mm"]), int(t["slice"]))
            for lv in LEVELS[:upto]:
                for pat in PATTERNS:
                    value = int(record["levels"][lv.label]["scores"][pat.value])
                    st.set_score(t1, reader, code, lv, pat, value)
            st.add_time(t1, reader, code, 140.0)

        done_record = next(r for r in records if by_name[r["PatID"]].code == done)
        score(done, done_record, 5)
        st.submit(t1, reader, done)
        score(sick_code, sick, 2)
        l3 = sick["levels"]["L3"]["scores"]
        st.set_score(t1, reader, sick_code, Level.L3, Pattern.TOT, int(l3["TOT"]))

        if illustration:
            case_id = by_name[sick["PatID"]].id
            truth = {lv: sick["levels"][lv.label] for lv in LEVELS}
            levels = {lv: (float(t["slice_z_mm"]), int(t["slice"])) for lv, t in truth.items()}
            st.put_ai_result(
                case_id,
                ILLUSTRATION_BUNDLE,
                levels=levels,
                heatmaps=_heatmaps(sick, LEVELS),
                heatmap_slices={lv: v[1] for lv, v in levels.items()},
                details={"note": "illustration derived from the phantom's disease masks, not a network"},
            )
        for pat, value in zip(PATTERNS, (4, 5, 3), strict=True):
            st.set_rating(hm, reader, sick_code, Level.L1, pat, value)
        st.set_rating(hm, reader, sick_code, Level.L2, Pattern.TOT, 4)
        hm_order = [w.case_code for w in st.reader_view(hm, reader).worklist]
        return order.index(sick_code) + 1, hm_order.index(sick_code) + 1


def shoot(out: Path, env: dict, *args: str) -> None:
    cmd = [sys.executable, "-m", "app", *args, "--screenshot", str(out)]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    if done.returncode != 0:
        raise SystemExit(f"screenshot failed ({done.returncode}): {done.stderr}")
    print(f"written {out}")


def start_dialog_shot(study: Path, out: Path, demo) -> None:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtWidgets import QApplication

    from app.dialogs.start_study import StartStudyDialog
    from app.main_window import isolated_settings

    app = QApplication.instance() or QApplication([])
    settings = isolated_settings(str(out.parent / ".start-settings.ini"))
    dlg = StartStudyDialog(settings, None, path=study, reader=demo.reader, session=demo.observer_session)
    dlg.resize(720, 330)
    dlg.show()
    app.processEvents()
    dlg.grab().save(str(out))
    dlg.reject()
    (out.parent / ".start-settings.ini").unlink(missing_ok=True)
    print(f"written {out}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "images")
    args = parser.parse_args(argv)

    from app.study_actions import demo_root
    from ssc_core.study.demo import ensure_demo_study

    demo = ensure_demo_study(demo_root())
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        study = Path(tmp) / "demo.sscstudy"
        shutil.copyfile(demo.study_path, study)
        from app.ai_state import demo_bundle_installed

        trained = demo_bundle_installed()
        pos_t1, pos_hm = prepare(study, demo, illustration=not trained)
        env = dict(os.environ, QT_QPA_PLATFORM="offscreen", PYTHONPATH=str(ROOT), XDG_CONFIG_HOME=tmp)
        common = ("--study", str(study), "--reader", demo.reader)
        t1 = ("--session", "T1", "--case", str(pos_t1), "--level", "L3")
        shoot(args.out / "reading-scores.png", env, *common, *t1)
        hm = ("--session", "HM", "--case", str(pos_hm)) + (
            ("--screenshot-wait", "heatmap") if trained else ()
        )
        shoot(args.out / "reading-heatmap-rating.png", env, *common, *hm)
        start_dialog_shot(study, args.out / "reading-start.png", demo)
    return 0


if __name__ == "__main__":
    sys.exit(main())
