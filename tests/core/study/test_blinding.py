"""Blinding: the reader view holds only what the reader may see, for every session kind and AI policy;
planted identifiers never reach reader views, logs, exports or (identity values) the file at all."""

from __future__ import annotations

import dataclasses
import logging
import re
import shutil

import numpy as np
import pytest

from ssc_core.study import queries
from ssc_core.study.clock import ManualClock
from ssc_core.study.records import AIPolicy, Reader, SessionInfo, SessionKind
from ssc_core.study.store import create_study, open_study
from tests.core.study.helpers import (
    PLANTED_FOLDER,
    PLANTED_IDENTITY_STRINGS,
    fill_ratings,
    fill_reading,
    make_source,
)

CODE = re.compile(r"^C-[A-Z2-7]{10}$")
COMBOS = [
    (kind, policy, blinded)
    for kind in SessionKind
    for policy in AIPolicy
    for blinded in (True, False)
    if not (kind is SessionKind.HEATMAP_RATING and policy is AIPolicy.AFTER_COMMIT)
]
PLANTED = (*PLANTED_IDENTITY_STRINGS, PLANTED_FOLDER)


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    """A study whose scans carry planted identifiers, with observer readings of A and B and AI results.

    Built once per module (each edit is a durable commit) and copied for every test.
    """
    folder = tmp_path_factory.mktemp("blinding")
    store = create_study(folder / "b.sscstudy", name="Blinding", admin="Admin", clock=ManualClock())
    admin = store.reader_by_name("Admin").id
    a = store.add_reader("Reader A", by=admin).id
    b = store.add_reader("Reader B", by=admin).id
    cases = store.add_cases([make_source(i, folder / "PACS", planted=True) for i in range(4)], by=admin)
    for c in cases:
        store.put_ai_result(
            c.id,
            "bundle-x",
            levels={lv: (120.0 - 10 * lv, 3 * lv) for lv in range(1, 6)},
            scores={lv: {"TOT": 33.0, "GG": 22.0, "RET": 11.0} for lv in range(1, 6)},
            details={"raw": [33.3, 22.2, 11.1], "model": "cascade"},
            heatmaps={(1, "TOT"): np.full((8, 8), -1.5)},
        )
    # observer readings that serve as references / disagreement sources: A scores 10s, B scores 40s
    obs = store.add_session("OBS", "observer", [a, b], by=admin)
    store.open_session(obs.id, by=admin)
    for c in cases:
        fill_reading(store, obs.id, a, c.code, base=10)
        store.submit(obs.id, a, c.code)
        fill_reading(store, obs.id, b, c.code, base=40)
        store.submit(obs.id, b, c.code)
    store.close()
    return folder / "b.sscstudy", admin, a, b, [c.code for c in cases], obs.id


@pytest.fixture
def world(template, tmp_path, caplog):
    path, admin, a, b, codes, obs = template
    shutil.copy(path, tmp_path / "b.sscstudy")
    caplog.set_level(logging.DEBUG)
    store = open_study(tmp_path / "b.sscstudy", clock=ManualClock())
    yield store, admin, a, b, codes, obs, store.cases()
    store.close()


def _walk(value, path="view"):
    """Every leaf of a record (dataclasses, mappings, sequences), with its path."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        for f in dataclasses.fields(value):
            yield from _walk(getattr(value, f.name), f"{path}.{f.name}")
    elif isinstance(value, dict):
        for k, v in value.items():
            yield from _walk(k, f"{path}[key]")
            yield from _walk(v, f"{path}[{k!r}]")
    elif isinstance(value, (list, tuple, set, frozenset)):
        for i, v in enumerate(value):
            yield from _walk(v, f"{path}[{i}]")
    else:
        yield path, value


def _no_planted(text: str, where: str) -> None:
    for s in PLANTED:
        assert s not in text, f"{s!r} leaked into {where}"


@pytest.mark.parametrize(("kind", "policy", "blinded"), COMBOS, ids=lambda v: getattr(v, "value", str(v)))
def test_reader_view_holds_only_what_the_reader_may_see(world, caplog, kind, policy, blinded):
    store, admin, a, b, codes, obs, _cases = world
    readers = [a] if kind is SessionKind.CONSENSUS else [a, b]
    s = store.add_session(
        "S",
        kind,
        readers,
        by=admin,
        ai_policy=policy,
        blinded=blinded,
        references=[obs],
        ai_bundle="bundle-x",
    )
    store.open_session(s.id, by=admin)
    # A works on two cases; B (where in the session) on another
    for code in codes[:2]:
        if kind is SessionKind.HEATMAP_RATING:
            fill_ratings(store, s.id, a, code, 4)
        else:
            fill_reading(store, s.id, a, code, base=15)
    if policy is AIPolicy.AFTER_COMMIT:
        store.commit_unaided(s.id, a, codes[0])
    if b in readers:
        for code in codes[1:3]:
            if kind is SessionKind.HEATMAP_RATING:
                fill_ratings(store, s.id, b, code, 1)
            else:
                fill_reading(store, s.id, b, code, base=60)
    statements: list[str] = []
    store.conn.set_trace_callback(statements.append)
    try:
        view = store.reader_view(s.id, a)
    finally:
        store.conn.set_trace_callback(None)

    # session and reader: exactly the reader-safe fields
    assert isinstance(view.session, SessionInfo)
    assert {f.name for f in dataclasses.fields(view.session)} == {
        "id",
        "label",
        "kind",
        "blinded",
        "ai_policy",
        "status",
    }
    assert view.reader == Reader(a, "Reader A", view.reader.role)
    # worklist: pseudonymous codes of this session only
    assert sorted(w.case_code for w in view.worklist) == sorted(codes)
    assert all(CODE.match(w.case_code) for w in view.worklist)
    # readings: own only (A entered base 15 / rating 4; B's 60s and rating 1 must not appear)
    assert set(view.readings) == set(codes[:2])
    for r in view.readings.values():
        if kind is SessionKind.HEATMAP_RATING:
            assert {v for per in r.values.likert.values() for v in per.values()} == {4}
        else:
            assert {sc.gg for sc in r.values.scores.values()} == {15}
    # AI output
    ai_tables_read = any("ai_result" in q or "ai_heatmap" in q for q in statements)
    if kind is SessionKind.HEATMAP_RATING:
        assert set(view.ai) == set(codes)
        for v in view.ai.values():
            assert v.heatmaps == ((1, "TOT"),)
            assert v.levels is not None
            if policy is AIPolicy.HIDDEN:
                assert v.scores is None
                assert v.details is None
            else:
                assert v.scores[1]["TOT"] == 33.0
    elif policy is AIPolicy.HIDDEN:
        assert view.ai is None
        assert not ai_tables_read, "the AI tables must not even be read under the hidden policy"
    elif policy is AIPolicy.AFTER_COMMIT:
        assert set(view.ai) == {codes[0]}  # only the committed case
    else:
        assert set(view.ai) == set(codes)
        assert all(v.scores is not None for v in view.ai.values())
    # other readers: references only when unblinded; disagreements never for a non-admin
    if blinded:
        assert view.references is None
    else:
        assert set(view.references) == set(codes)
        assert set(view.references[codes[0]]) == {"Reader A / OBS", "Reader B / OBS"}
    assert view.disagreements is None
    assert view.resume_code in codes
    # no identifier anywhere in the view, its export, or the log
    for path, leaf in _walk(view):
        _no_planted(str(leaf), path)
    _no_planted(repr(view), "repr(view)")
    _no_planted(repr(queries.reader_view_rows(view)), "the reader's export")
    _no_planted(caplog.text, "the log")


def test_consensus_admin_sees_disagreements_only(world):
    store, admin, a, _b, codes, obs, _ = world
    gt = store.add_session("GT", "consensus", [admin], by=admin, references=[obs])
    store.open_session(gt.id, by=admin)
    view = store.reader_view(gt.id, admin)
    # A scored GG 10 / TOT 15, B GG 40 / TOT 45 at every level: 30 points apart (> 10)
    got = {(d.case_code, int(d.level), d.what) for d in view.disagreements}
    assert got == {(c, lv, p) for c in codes for lv in range(1, 6) for p in ("TOT", "GG")}
    d = view.disagreements[0]
    assert d.spread == 30
    assert set(d.values) == {"Reader A / OBS", "Reader B / OBS"}
    assert store.disagreements(gt.id, points=30) == ()  # threshold is "beyond"
    gt2 = store.add_session("GT2", "consensus", [a], by=admin, references=[obs])
    store.open_session(gt2.id, by=admin)
    assert store.reader_view(gt2.id, a).disagreements is None  # a non-admin recorder does not get them


def test_heatmap_arrays_follow_the_policy(world):
    store, admin, a, _b, codes, _obs, _cases = world
    hidden = store.add_session("H", "observer", [a], by=admin)
    store.open_session(hidden.id, by=admin)
    from ssc_core.errors import ProtocolError

    with pytest.raises(ProtocolError, match="blinded to the AI"):
        store.reader_heatmap(hidden.id, a, codes[0], 1, "TOT")
    hm = store.add_session("HM", "heatmap", [a], by=admin)
    store.open_session(hm.id, by=admin)
    arr = store.reader_heatmap(hm.id, a, codes[0], 1, "TOT")
    assert arr.dtype == np.float32
    assert arr.shape == (8, 8)
    assert float(arr[0, 0]) == -1.5


def test_identity_never_stored_and_sources_kept_out_of_exports_and_audit(world, tmp_path, caplog):
    store, _admin, _a, _b, codes, _obs, cases = world
    # the admin keeps the scan locations (needed to reload a scan) ...
    assert PLANTED_FOLDER in cases[0].location
    assert PLANTED_FOLDER not in repr(cases[0])  # ... hidden from repr
    source = store.scan_source(codes[0])  # what the GUI controller loads the scan from
    assert source.location == cases[0].location
    assert PLANTED_FOLDER not in repr(source)
    assert PLANTED_FOLDER not in str(source)
    # ... but the audit log holds only their hashes
    audit_text = "\n".join(str(tuple(r)) for r in store.conn.execute("SELECT * FROM audit"))
    _no_planted(audit_text, "the audit log")
    # analysis exports (every table) carry codes, never sources or identifiers
    for rows in (
        queries.score_rows(store),
        queries.level_rows(store),
        queries.rating_rows(store),
        queries.timing_rows(store),
        queries.ai_rows(store),
    ):
        _no_planted(queries.to_frame(rows).to_csv(), "an export")
    _no_planted(caplog.text, "the log")
    store.conn.execute("PRAGMA wal_checkpoint(FULL)")
    raw = b"".join(p.read_bytes() for p in tmp_path.glob("b.sscstudy*"))
    for s in PLANTED_IDENTITY_STRINGS:  # identity values are hashed and dropped: not in the file at all
        assert s.encode() not in raw
