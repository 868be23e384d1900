"""Read-only queries for statistics and export: long tables of everything recorded in a study.

These are admin/analysis functions: they return every reader's readings (by pseudonymous case code;
never source locations or names). Exports for a blinded reader must be built only from that reader's
:class:`ReaderView`, with :func:`reader_view_rows`.

Each function returns a list of frozen row records; :func:`to_frame` turns any of them into a pandas
DataFrame (imported lazily). Every value row carries its phase: "unaided" (entered without the AI's output
in view) or "assisted" (with it); after-commit readings have both.
"""

from __future__ import annotations

import enum
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from ssc_core.constants import LEVELS, PATTERNS, Level, Pattern
from ssc_core.study.clock import from_text
from ssc_core.study.records import Phase, ReaderView, ReadingStatus, SessionKind

if TYPE_CHECKING:
    import pandas as pd

    from ssc_core.study.store import StudyStore


@dataclass(frozen=True)
class ReadingKey:
    """Columns shared by every reading-derived row."""

    case_code: str
    case_excluded: bool
    reader: str
    reader_id: int
    session: str
    session_kind: SessionKind
    status: ReadingStatus
    created_at: datetime
    updated_at: datetime
    submitted_at: datetime | None
    unaided_committed_at: datetime | None


@dataclass(frozen=True)
class ScoreRow:
    key: ReadingKey
    phase: Phase
    level: Level
    pattern: Pattern
    value: int


@dataclass(frozen=True)
class LevelRow:
    key: ReadingKey
    phase: Phase
    level: Level
    world_z: float
    slice_index: int | None


@dataclass(frozen=True)
class RatingRow:
    key: ReadingKey
    phase: Phase
    level: Level
    pattern: Pattern
    value: int


@dataclass(frozen=True)
class TimingRow:
    key: ReadingKey
    time_on_case_s: float
    level: Level | None  # None: the whole case
    seconds: float


@dataclass(frozen=True)
class AIRow:
    case_code: str
    bundle_hash: str
    created_at: datetime
    level: Level
    world_z: float | None
    slice_index: int | None
    scores: dict[str, float]
    heatmaps: tuple[str, ...]


_KEY_SQL = (
    "SELECT r.id, c.code, c.excluded_reason, rd.name, rd.id, s.label, s.kind, r.status, r.created_at, "
    "r.updated_at, r.submitted_at, r.unaided_committed_at, r.time_on_case_s "
    "FROM reading r JOIN case_ c ON c.id = r.case_id JOIN reader rd ON rd.id = r.reader_id "
    "JOIN session s ON s.id = r.session_id"
)


def _keys(store: StudyStore) -> dict[int, tuple[ReadingKey, float]]:
    out: dict[int, tuple[ReadingKey, float]] = {}
    for row in store.conn.execute(_KEY_SQL + " ORDER BY s.id, rd.id, c.code"):
        out[int(row[0])] = (
            ReadingKey(
                case_code=row[1],
                case_excluded=row[2] is not None,
                reader=row[3],
                reader_id=int(row[4]),
                session=row[5],
                session_kind=SessionKind(row[6]),
                status=ReadingStatus(row[7]),
                created_at=from_text(row[8]),  # type: ignore[arg-type]
                updated_at=from_text(row[9]),  # type: ignore[arg-type]
                submitted_at=from_text(row[10]),
                unaided_committed_at=from_text(row[11]),
            ),
            float(row[12]),
        )
    return out


def score_rows(store: StudyStore) -> list[ScoreRow]:
    """Every TOT/GG/RET score of every reading: the long table for agreement statistics."""
    keys = _keys(store)
    rows = store.conn.execute("SELECT reading_id, phase, level, pattern, value FROM reading_score")
    out = [ScoreRow(keys[int(r[0])][0], Phase(r[1]), Level(r[2]), Pattern(r[3]), int(r[4])) for r in rows]
    return sorted(
        out,
        key=lambda x: (
            x.key.session,
            x.key.reader,
            x.key.case_code,
            x.phase.value,
            x.level,
            PATTERNS.index(x.pattern),
        ),
    )


def level_rows(store: StudyStore) -> list[LevelRow]:
    """Every level placement (world z in mm, LPS; slice index, None when imported as z only)."""
    keys = _keys(store)
    rows = store.conn.execute("SELECT reading_id, phase, level, world_z, slice_index FROM reading_level")
    out = [
        LevelRow(
            keys[int(r[0])][0], Phase(r[1]), Level(r[2]), float(r[3]), None if r[4] is None else int(r[4])
        )
        for r in rows
    ]
    return sorted(out, key=lambda x: (x.key.session, x.key.reader, x.key.case_code, x.phase.value, x.level))


def rating_rows(store: StudyStore) -> list[RatingRow]:
    """Every Likert rating of a heat map (1..5)."""
    keys = _keys(store)
    rows = store.conn.execute("SELECT reading_id, phase, level, pattern, value FROM reading_likert")
    out = [RatingRow(keys[int(r[0])][0], Phase(r[1]), Level(r[2]), Pattern(r[3]), int(r[4])) for r in rows]
    return sorted(
        out, key=lambda x: (x.key.session, x.key.reader, x.key.case_code, x.level, PATTERNS.index(x.pattern))
    )


def timing_rows(store: StudyStore) -> list[TimingRow]:
    """Reading time: one row per reading for the whole case (level None) and one per timed level."""
    keys = _keys(store)
    per_level: dict[int, dict[Level, float]] = {}
    for rid, lv, sec in store.conn.execute("SELECT reading_id, level, seconds FROM reading_level_time"):
        per_level.setdefault(int(rid), {})[Level(lv)] = float(sec)
    out: list[TimingRow] = []
    for rid, (key, total) in keys.items():
        out.append(TimingRow(key, total, None, total))
        for lv in LEVELS:
            if lv in per_level.get(rid, {}):
                out.append(TimingRow(key, total, lv, per_level[rid][lv]))
    return out


def ai_rows(store: StudyStore) -> list[AIRow]:
    """Cached AI results, one row per case, bundle and level (research output)."""
    out: list[AIRow] = []
    for cid, code, bundle in store.conn.execute(
        "SELECT a.case_id, c.code, a.bundle_hash FROM ai_result a JOIN case_ c ON c.id = a.case_id "
        "ORDER BY c.code, a.bundle_hash"
    ).fetchall():
        res = store.ai_result(int(cid), bundle)
        assert res is not None
        for lv in LEVELS:
            p = (res.levels or {}).get(lv)
            sc = (res.scores or {}).get(lv, {})
            maps = tuple(pat.value for (mlv, pat) in res.heatmaps if mlv == lv)
            if p is None and not sc and not maps:
                continue
            out.append(
                AIRow(
                    case_code=code,
                    bundle_hash=bundle,
                    created_at=res.created_at,
                    level=lv,
                    world_z=None if p is None else p.world_z,
                    slice_index=None if p is None else p.slice_index,
                    scores={k.value: v for k, v in sc.items()},
                    heatmaps=maps,
                )
            )
    return out


def audit_head(store: StudyStore) -> str:
    """The audit chain's head (``seq:sha256``): write it into every export to anchor it."""
    return store.audit_head


def _plain(value: object) -> object:
    if isinstance(value, Level):
        return int(value)  # 1..5, sorts and joins cleanly in analysis tables
    if isinstance(value, enum.Enum):
        return value.value
    return value


def flat(row: object) -> dict[str, object]:
    """A row record as a flat dict (the reading key's fields inlined; enums as plain values)."""
    d = asdict(row)  # type: ignore[call-overload]
    out: dict[str, object] = dict(d.pop("key", None) or {})
    out.update(d)
    return {k: _plain(v) for k, v in out.items()}


def to_frame(rows: list) -> pd.DataFrame:  # type: ignore[type-arg]
    """A pandas DataFrame of row records (one column per field)."""
    import pandas as pd

    return pd.DataFrame.from_records([flat(r) for r in rows])


def reader_view_rows(view: ReaderView) -> list[dict[str, object]]:
    """A blinded reader's own export: built from their reader view only (nothing else is read).

    One row per entered value: case code, worklist position, status, phase, level, what ("position",
    "TOT", "GG", "RET", or "rating TOT" ...), value.
    """
    out: list[dict[str, object]] = []
    positions = {w.case_code: w.position for w in view.worklist}
    for w in view.worklist:
        r = view.readings.get(w.case_code)
        if r is None:
            continue
        phases = [(r.phase, r.values)]
        if r.unaided is not None and r.phase is not Phase.UNAIDED:
            phases.insert(0, (Phase.UNAIDED, r.unaided))
        for phase, vals in phases:
            base = {
                "session": view.session.label,
                "reader": view.reader.name,
                "case_code": w.case_code,
                "position": positions[w.case_code],
                "status": w.status.value,
                "phase": phase.value,
            }
            for lv in LEVELS:
                if lv in vals.levels:
                    out.append(
                        {**base, "level": lv.label, "what": "position_mm", "value": vals.levels[lv].world_z}
                    )
                for pat in PATTERNS:
                    s = vals.score(lv, pat)
                    if s is not None:
                        out.append({**base, "level": lv.label, "what": pat.value, "value": s})
                    rating = vals.rating(lv, pat)
                    if rating is not None:
                        out.append(
                            {**base, "level": lv.label, "what": f"rating {pat.value}", "value": rating}
                        )
    return out
