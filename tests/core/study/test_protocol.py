"""Reader-study protocol: seeded order, validation on submit, lock, corrections, washout, resume, timing."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from ssc_core.errors import PermissionDenied, ProtocolError, ScoreRuleError, StudyError
from ssc_core.study.editing import SetScore
from ssc_core.study.records import CaseStatus, Phase, ReadingStatus, SessionStatus
from ssc_core.study.store import open_study
from tests.core.study.helpers import fill_reading, make_source, open_session


def _order(store, sid, rid):
    return [w.case_code for w in store.reader_view(sid, rid).worklist]


# --- order -----------------------------------------------------------------------------------------


def test_order_is_reproducible_and_differs_between_readers_and_sessions(study, tmp_path):
    st = study.store
    more = st.add_cases([make_source(i) for i in range(6, 30)], by=study.admin)
    codes = study.codes + [c.code for c in more]
    t1 = open_session(study, "T1", order_seed=7)
    t2 = open_session(study, "T2", order_seed=7)  # same seed on purpose: orders must still differ
    a1, b1, a2 = _order(st, t1, study.a), _order(st, t1, study.b), _order(st, t2, study.a)
    assert sorted(a1) == sorted(codes) == sorted(b1) == sorted(a2)
    assert a1 != b1
    assert a1 != a2
    assert a1 != sorted(a1)  # shuffled, not insertion or code order
    st.close()
    with open_study(tmp_path / "s.sscstudy", readonly=True) as ro:
        assert _order(ro, t1, study.a) == a1  # reproducible from the file


def test_adding_a_case_keeps_the_others_in_order(study):
    st = study.store
    sid = st.add_session("T1", "observer", [study.a], by=study.admin).id
    st.open_session(sid, by=study.admin)
    before = _order(st, sid, study.a)
    new = st.add_case(make_source(99), by=study.admin)
    st.add_session_cases(sid, [new.id], by=study.admin)
    after = _order(st, sid, study.a)
    assert [c for c in after if c != new.code] == before


# --- validation, lock, corrections -----------------------------------------------------------------


def test_values_are_checked_when_entered(study):
    sid = open_session(study)
    st, a, code = study.store, study.a, study.codes[0]
    with pytest.raises(ScoreRuleError, match="multiple of 5"):
        st.set_score(sid, a, code, 1, "TOT", 12)
    with pytest.raises(ScoreRuleError, match="between 0 and 100"):
        st.set_score(sid, a, code, 1, "GG", 105)
    with pytest.raises(ScoreRuleError, match="finite"):
        st.place_level(sid, a, code, 1, float("nan"), 3)
    with pytest.raises(ProtocolError, match="heat-map rating"):
        st.set_rating(sid, a, code, 1, "TOT", 4)
    # nothing was stored by the refused edits
    assert code not in st.reader_view(sid, a).readings


def test_submit_refused_until_every_rule_holds(study):
    sid = open_session(study)
    st, a, code = study.store, study.a, study.codes[0]
    with pytest.raises(ScoreRuleError, match="Nothing is entered"):
        st.submit(sid, a, code)
    fill_reading(st, sid, a, code)
    st.set_score(sid, a, code, 2, "TOT", 50)  # union rule: TOT > GG + RET
    st.place_level(sid, a, code, 4, 150.0, 40)  # L4 above L1: order broken
    st.clear_level(sid, a, code, 5)
    with pytest.raises(ScoreRuleError) as info:
        st.submit(sid, a, code)
    msg = str(info.value)
    assert "cannot exceed GG + RET" in msg
    assert "L5 is not placed" in msg
    assert "must lie below" in msg
    reading = st.reader_view(sid, a).readings[code]
    assert reading.status is ReadingStatus.IN_PROGRESS
    assert {p.field for p in reading.problems(st.session(sid).kind)} >= {"L2.TOT", "L5", "L4"}
    st.set_score(sid, a, code, 2, "TOT", 15)
    st.place_level(sid, a, code, 4, 40.0, 34)
    st.place_level(sid, a, code, 5, 20.0, 42)
    assert st.submit(sid, a, code).status is ReadingStatus.SUBMITTED


def test_same_slice_for_two_levels_refused_on_submit(study):
    sid = open_session(study)
    st, a, code = study.store, study.a, study.codes[0]
    fill_reading(st, sid, a, code)
    st.place_level(sid, a, code, 3, 60.0, 18)  # L2 is on slice 18 too
    with pytest.raises(ScoreRuleError, match="same slice"):
        st.submit(sid, a, code)


def test_submitted_reading_is_locked_and_only_an_admin_corrects_it(study):
    sid = open_session(study)
    st, a, code = study.store, study.a, study.codes[0]
    fill_reading(st, sid, a, code)
    st.submit(sid, a, code)
    for attempt in (
        lambda: st.set_score(sid, a, code, 1, "GG", 5),
        lambda: st.place_level(sid, a, code, 1, 99.0, 9),
        lambda: st.add_time(sid, a, code, 5.0),
        lambda: st.submit(sid, a, code),
    ):
        with pytest.raises(ProtocolError, match="locked"):
            attempt()
    with pytest.raises(PermissionDenied):
        st.correct(sid, a, code, SetScore(1, "GG", 5), by=study.b, reason="typo")
    with pytest.raises(ProtocolError, match="reason"):
        st.correct(sid, a, code, SetScore(1, "GG", 5), by=study.admin, reason="  ")
    with pytest.raises(ScoreRuleError, match="invalid"):  # a correction may not break the rules
        st.correct(sid, a, code, SetScore(1, "TOT", 100), by=study.admin, reason="typo")
    fixed = st.correct(sid, a, code, SetScore(1, "GG", 15), by=study.admin, reason="reader said 15, typed 10")
    assert fixed.values.score(1, "GG") == 15
    assert fixed.status is ReadingStatus.SUBMITTED
    row = st.conn.execute(
        "SELECT actor, action, reason, old, new FROM audit ORDER BY seq DESC LIMIT 2"
    ).fetchall()
    score_row = next(r for r in row if r["action"] == "correct_SetScore" and r["old"] and "value" in r["old"])
    assert score_row["actor"] == "Admin"
    assert score_row["reason"] == "reader said 15, typed 10"
    assert json.loads(score_row["old"]) == {"value": 10}
    assert json.loads(score_row["new"]) == {"value": 15}
    assert st.verify().ok


def test_sessions_must_be_open_and_readers_members(study, tmp_path):
    st = study.store
    planned = st.add_session("P", "observer", [study.a], by=study.admin).id
    with pytest.raises(ProtocolError, match="not been opened"):
        st.set_score(planned, study.a, study.codes[0], 1, "GG", 5)
    with pytest.raises(ProtocolError, match="not been opened"):
        st.reader_view(planned, study.a)
    sid = open_session(study, "T1", readers=[study.a])
    with pytest.raises(ProtocolError, match="not a reader"):
        st.set_score(sid, study.b, study.codes[0], 1, "GG", 5)
    with pytest.raises(ProtocolError, match="not a reader"):
        st.reader_view(sid, study.b)
    st.set_score(sid, study.a, study.codes[0], 1, "GG", 5)
    st.close_session(sid, by=study.admin)
    with pytest.raises(ProtocolError, match="closed"):
        st.set_score(sid, study.a, study.codes[0], 1, "GG", 10)
    view = st.reader_view(sid, study.a)  # closed: read-only history
    assert view.session.status is SessionStatus.CLOSED
    assert view.readings[study.codes[0]].values.score(1, "GG") == 5
    with pytest.raises(PermissionDenied):
        st.open_session(planned, by=study.a)


def test_consensus_session_has_one_reader(study):
    with pytest.raises(ProtocolError, match="exactly one reader"):
        study.store.add_session("GT", "consensus", [study.a, study.b], by=study.admin)


# --- washout ---------------------------------------------------------------------------------------


def test_washout_with_injected_clock(study, clock):
    st = study.store
    t1 = open_session(study, "T1")
    t2 = st.add_session("T2", "observer", [study.a, study.b], by=study.admin, repeat_of=t1).id
    st.open_session(t2, by=study.admin)
    assert set(st.session_case_ids(t2)) == set(st.session_case_ids(t1))
    with pytest.raises(ProtocolError, match="finish session T1 first"):
        st.reader_view(t2, study.a)
    clock.advance(days=3)
    for code in study.codes:
        fill_reading(st, t1, study.a, code)
        st.submit(t1, study.a, code)
    finished = clock()
    access = {x.session.label: x for x in st.sessions_for_reader(study.a)}
    assert not access["T2"].available
    assert "washout" in access["T2"].reason
    assert access["T2"].available_from == finished + timedelta(days=42)
    clock.advance(days=41, hours=23)
    with pytest.raises(ProtocolError, match="washout: 42 days"):
        st.set_score(t2, study.a, study.codes[0], 1, "GG", 5)
    clock.advance(hours=1, seconds=1)
    st.set_score(t2, study.a, study.codes[0], 1, "GG", 5)  # washout passed
    # B never finished T1; closing T1 counts as finishing it, so the washout starts now
    st.close_session(t1, by=study.admin)
    with pytest.raises(ProtocolError, match="washout"):
        st.reader_view(t2, study.b)
    with pytest.raises(PermissionDenied):
        st.override_washout(t2, study.b, by=study.a, reason="x")
    with pytest.raises(ProtocolError, match="reason"):
        st.override_washout(t2, study.b, by=study.admin, reason="")
    st.override_washout(t2, study.b, by=study.admin, reason="reader leaves the hospital next week")
    assert st.reader_view(t2, study.b).total == len(study.codes)
    last = st.conn.execute("SELECT action, reason FROM audit ORDER BY seq DESC LIMIT 1").fetchone()
    assert last["action"] == "override_washout"
    assert "leaves" in last["reason"]


def test_repeat_must_be_same_kind(study):
    t1 = open_session(study, "T1")
    with pytest.raises(ProtocolError, match="observer"):
        study.store.add_session("H2", "heatmap", [study.a], by=study.admin, repeat_of=t1)


# --- resume, progress, timing ----------------------------------------------------------------------


def test_resume_lands_on_first_unfinished_case(study, tmp_path):
    st = study.store
    sid = open_session(study)
    order = _order(st, sid, study.a)
    view = st.reader_view(sid, study.a)
    assert view.resume_code == order[0]
    assert view.progress == 0
    for code in order[:2]:
        fill_reading(st, sid, study.a, code)
        st.submit(sid, study.a, code)
    st.set_score(sid, study.a, order[3], 1, "GG", 5)  # started a later one, skipped the third
    st.close()
    with open_study(tmp_path / "s.sscstudy") as store:
        view = store.reader_view(sid, study.a)
        assert view.resume_code == order[2]
        assert [w.status for w in view.worklist[:4]] == [
            CaseStatus.SUBMITTED,
            CaseStatus.SUBMITTED,
            CaseStatus.NOT_STARTED,
            CaseStatus.IN_PROGRESS,
        ]
        assert (view.submitted, view.total) == (2, len(order))
        other = store.reader_view(sid, study.b)
        assert other.resume_code == _order(store, sid, study.b)[0]
        assert other.submitted == 0


def test_time_on_case_and_per_level(study):
    st = study.store
    sid = open_session(study)
    code = study.codes[0]
    st.add_time(sid, study.a, code, 12.5)
    st.add_time(sid, study.a, code, 7.5)
    st.add_time(sid, study.a, code, 4.0, level=2)
    r = st.add_time(sid, study.a, code, 1.0, level=2)
    assert r.time_on_case_s == 20.0
    assert r.time_per_level_s == {2: 5.0}
    for bad in (0, -1, float("inf"), 10 * 3600):
        with pytest.raises(StudyError):
            st.add_time(sid, study.a, code, bad)


def test_excluded_case_leaves_worklists(study):
    st = study.store
    sid = open_session(study)
    fill_reading(st, sid, study.a, study.codes[0])
    st.exclude_case(study.codes[0], by=study.admin, reason="motion artefacts")
    view = st.reader_view(sid, study.a)
    assert study.codes[0] not in {w.case_code for w in view.worklist}
    assert study.codes[0] not in view.readings
    with pytest.raises(ProtocolError, match="excluded"):
        st.set_score(sid, study.a, study.codes[0], 1, "GG", 5)
    st.include_case(study.codes[0], by=study.admin, reason="re-reconstructed")
    assert study.codes[0] in st.reader_view(sid, study.a).readings


# --- after-commit ----------------------------------------------------------------------------------


def test_after_commit_keeps_unaided_snapshot_and_assisted_revision(study):
    st = study.store
    sid = open_session(study, "AC", ai_policy="after-commit")
    code = study.codes[0]
    st.put_ai_result(study.case_ids[0], "b1", scores={1: {"TOT": 30.0, "GG": 20.0, "RET": 10.0}})
    st.set_score(sid, study.a, code, 1, "GG", 10)
    with pytest.raises(ScoreRuleError, match="cannot be committed"):
        st.commit_unaided(sid, study.a, code)
    fill_reading(st, sid, study.a, code)
    with pytest.raises(ProtocolError, match="Commit the unaided reading first"):
        st.submit(sid, study.a, code)
    assert code not in (st.reader_view(sid, study.a).ai or {})
    with pytest.raises(ProtocolError, match="only after the unaided"):
        st.reader_ai(sid, study.a, code)
    r = st.commit_unaided(sid, study.a, code)
    assert r.phase is Phase.ASSISTED
    assert r.unaided is not None
    view = st.reader_view(sid, study.a)
    assert view.ai[code].scores[1]["TOT"] == 30.0  # revealed now
    assert view.worklist[[w.case_code for w in view.worklist].index(code)].unaided_committed
    st.set_score(sid, study.a, code, 1, "GG", 20)
    st.set_score(sid, study.a, code, 1, "TOT", 25)
    r = st.submit(sid, study.a, code)
    assert r.unaided.score(1, "GG") == 10
    assert r.values.score(1, "GG") == 20
    with pytest.raises(ProtocolError, match=r"locked"):
        st.commit_unaided(sid, study.a, code)
    from ssc_core.study.queries import score_rows

    gg = {(row.phase, row.value) for row in score_rows(st) if row.level == 1 and row.pattern.value == "GG"}
    assert gg == {(Phase.UNAIDED, 10), (Phase.ASSISTED, 20)}


def test_sessions_listed_for_a_reader(study):
    st = study.store
    st.add_session("PLANNED", "observer", [study.a], by=study.admin)
    t1 = open_session(study, "T1")
    only_b = open_session(study, "B-ONLY", readers=[study.b])
    fill_reading(st, t1, study.a, study.codes[0])
    st.submit(t1, study.a, study.codes[0])
    listed = st.sessions_for_reader(study.a)
    assert [x.session.label for x in listed] == ["T1"]  # planned and others' sessions are not listed
    assert (listed[0].available, listed[0].submitted, listed[0].total) == (True, 1, len(study.codes))
    assert [x.session.label for x in st.sessions_for_reader(study.b)] == ["T1", "B-ONLY"]
    st.close_session(only_b, by=study.admin)
    assert [x.session.label for x in st.sessions_for_reader(study.b)] == ["T1"]
    with pytest.raises(ProtocolError, match="reason"):
        st.reopen_session(only_b, by=study.admin, reason="")
    assert (
        st.reopen_session(only_b, by=study.admin, reason="one case was missed").status is SessionStatus.OPEN
    )
