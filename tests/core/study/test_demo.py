"""The demo study: phantom patients, the consensus from their truth, the reader's sessions; rebuilt when
half-built, reused when complete; ``ssc study demo``."""

from __future__ import annotations

import json
import shutil

import pytest

from ssc_core.cli import main as ssc_main
from ssc_core.constants import LEVELS
from ssc_core.errors import Cancelled, StudyError
from ssc_core.progress import CancelToken
from ssc_core.study.demo import DEMO_MANIFEST, build_demo_study, ensure_demo_study, read_demo_manifest
from ssc_core.study.records import SessionKind, SessionStatus
from ssc_core.study.store import open_study


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    return ensure_demo_study(tmp_path_factory.mktemp("demo") / "d", n_patients=2, matrix=96)


def test_demo_study_holds_the_consensus_truth_and_the_reader_sessions(demo):
    cohort = json.loads((demo.scans_dir / "cohort.json").read_text())
    with open_study(demo.study_path, readonly=True) as st:
        assert len(st.cases()) == 2
        sessions = {s.label: s for s in st.sessions()}
        assert sessions["GT"].kind is SessionKind.CONSENSUS
        assert sessions["GT"].status is SessionStatus.CLOSED
        for label in ("T1", "T2", "HM"):
            assert sessions[label].status is SessionStatus.OPEN
        assert sessions["HM"].kind is SessionKind.HEATMAP_RATING
        assert sessions["T2"].repeat_of == sessions["T1"].id
        reader = st.reader_by_name(demo.reader)
        access = {a.session.label: a for a in st.sessions_for_reader(reader.id)}
        assert access["T1"].available
        assert access["HM"].available
        assert not access["T2"].available
        assert "finish session T1 first" in access["T2"].reason
        # the consensus is the phantoms' truth, imported through the label workbook
        gt_reader = st.reader_by_name("Expert consensus").id
        for c in st.cases():
            record = next(p for p in cohort["patients"] if p["PatID"] == c.source_name)
            reading = st._reading_of(sessions["GT"].id, gt_reader, c.id, c.code)
            assert reading.submitted
            for lv in LEVELS:
                truth = record["levels"][lv.label]
                assert reading.values.scores[lv].as_dict() == truth["scores"]
                assert reading.values.levels[lv].world_z == pytest.approx(truth["slice_z_mm"], abs=1e-3)
        assert st.verify().ok


def test_complete_demo_is_reused(demo):
    stamp = (demo.study_path.parent / DEMO_MANIFEST).stat().st_mtime_ns
    again = ensure_demo_study(demo.study_path.parent, n_patients=2, matrix=96)
    assert again == demo
    assert (demo.study_path.parent / DEMO_MANIFEST).stat().st_mtime_ns == stamp


def test_half_built_demo_is_detected_and_rebuilt(tmp_path, demo):
    root = tmp_path / "d"
    shutil.copytree(demo.study_path.parent, root)
    (root / DEMO_MANIFEST).unlink()  # as if the program stopped before the end of the build
    (root / "scans" / "PH0001" / "IM000001.dcm").unlink(missing_ok=True)
    assert read_demo_manifest(root) is None
    rebuilt = ensure_demo_study(root, n_patients=1, matrix=96)
    assert read_demo_manifest(root) == rebuilt
    with open_study(rebuilt.study_path, readonly=True) as st:
        assert len(st.cases()) == 1
    shutil.rmtree(root / "scans" / "PH0001")  # a patient gone: incomplete again
    assert read_demo_manifest(root) is None


def test_cancelled_build_leaves_nothing(tmp_path):
    token = CancelToken()
    seen = []

    def progress(p):
        seen.append(p)
        if len(seen) == 3:
            token.cancel()

    with pytest.raises(Cancelled):
        ensure_demo_study(tmp_path / "d", n_patients=2, matrix=96, progress=progress, cancel=token)
    assert not (tmp_path / "d").exists()


def test_build_refuses_an_existing_study(demo, tmp_path):
    with pytest.raises(StudyError, match="already exists"):
        build_demo_study(demo.study_path, n_patients=1, matrix=96)


def test_ssc_study_demo_command(tmp_path, capsys):
    out = tmp_path / "mydemo"
    assert ssc_main(["study", "demo", "--out", str(out), "--patients", "1", "--matrix", "96"]) == 0
    text = capsys.readouterr().out
    assert "Built the demo study" in text
    assert "Demo reader" in text
    assert (tmp_path / "mydemo.sscstudy").is_file()
    assert (tmp_path / "mydemo_scans" / "PH0001").is_dir()
    with open_study(tmp_path / "mydemo.sscstudy", readonly=True) as st:
        assert {s.label for s in st.sessions()} == {"GT", "T1", "T2", "HM"}
    assert ssc_main(["study", "demo", "--out", str(out), "--patients", "1", "--matrix", "96"]) == 2
    assert "already exists" in capsys.readouterr().err
