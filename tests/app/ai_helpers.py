"""Helpers of the AI-in-the-workstation tests: sessions with an AI policy, the window's AI switched on."""

from __future__ import annotations

from pathlib import Path

from ssc_core.constants import DEMO_ADMIN_NAME, DEMO_READER_NAME
from ssc_core.study.store import open_study

AI_TIMEOUT_MS = 60_000


def add_observer_session(path: Path, label: str, policy: str, *, bundle: str | None = None) -> None:
    """An open observer session ``label`` of the demo reader with AI policy ``policy``."""
    with open_study(path) as st:
        admin = st.reader_by_name(DEMO_ADMIN_NAME).id
        reader = st.reader_by_name(DEMO_READER_NAME).id
        s = st.add_session(label, "observer", [reader], by=admin, ai_policy=policy, ai_bundle=bundle)
        st.open_session(s.id, by=admin)


def use_ai(window, bundle: Path | None, *, service=None) -> None:
    """Let ``window`` run the AI by itself with ``bundle`` (and, optionally, a given AI service)."""
    window.settings.set_ai_bundle_path(None if bundle is None else str(bundle))
    window.settings.set_ai_auto_run(True)
    if service is not None:
        window._ai_service = service


def wait_status(qtbot, ws, *statuses, timeout: int = AI_TIMEOUT_MS) -> None:
    c = ws.ai.controller
    qtbot.waitUntil(lambda: c.state.status in statuses, timeout=timeout)


def wait_idle(qtbot, ws, timeout: int = AI_TIMEOUT_MS) -> None:
    """Until the AI service has nothing queued or running."""
    svc = ws.ai.controller.service
    if svc is not None:
        qtbot.waitUntil(lambda: not svc.busy, timeout=timeout)


def plant_truth_levels(demo_study, path: Path, session: str, bundle: Path, *, cases: int = 1) -> list[str]:
    """Cache a cascade result of ``bundle`` (levels on the phantom's true slices, small scores, no heat
    maps) for the first ``cases`` cases of the reader's worklist in ``session``; their codes.

    The workstation then computes only the heat maps, on slices that show lung.
    """
    from ssc_core.ai.bundle import inspect_bundle
    from ssc_core.constants import LEVELS
    from tests.app.reading_helpers import truth_of

    _spec, bundle_hash = inspect_bundle(bundle)
    with open_study(path, readonly=True) as st:
        reader = st.reader_by_name(DEMO_READER_NAME).id
        view = st.reader_view(st.session_by_label(session).id, reader)
        codes = [w.case_code for w in view.worklist[:cases]]
    for code in codes:
        truth = truth_of(demo_study, path, code)
        with open_study(path) as st:
            st.put_ai_result(
                st.case_by_code(code).id,
                bundle_hash,
                levels={lv: (float(t["slice_z_mm"]), int(t["slice"])) for lv, t in truth.items()},
                scores={lv: {"TOT": 15.0, "GG": 10.0, "RET": 5.0} for lv in LEVELS},
            )
    return codes
