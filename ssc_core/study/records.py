"""Records of a reader study: study, case, reader, session, reading.

All are frozen dataclasses built by the store from the study file; they are values, never live views of
the database. Records that carry something a reader must not see (the source location of a scan) hide it
from ``repr`` so that an accidental log line cannot leak it.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from ssc_core.constants import LEVELS, PATTERNS, Level, Pattern
from ssc_core.scoring import (
    LevelPlacement,
    LevelScores,
    RuleViolation,
    level_violations,
    likert_violation,
    missing_levels,
    missing_scores,
    score_violations,
)

if TYPE_CHECKING:  # numpy-free at run time: the store must import fast
    from ssc_core.imaging.volume import ImportIdentity


class Role(str, enum.Enum):
    """What a person may do in a study: read cases, or also administer the study."""

    READER = "reader"
    ADMIN = "admin"


class SessionKind(str, enum.Enum):
    """The three session types of the paper's study design (DOMAIN.md section 2)."""

    CONSENSUS = "consensus"  # ground truth: experts score together, one record per case
    OBSERVER = "observer"  # each expert scores alone (inter-/intra-observer agreement)
    HEATMAP_RATING = "heatmap"  # experts rate how well the AI heat maps explain the disease (Likert 1..5)

    @property
    def display_name(self) -> str:
        return {
            SessionKind.CONSENSUS: "consensus",
            SessionKind.OBSERVER: "observer",
            SessionKind.HEATMAP_RATING: "heat-map rating",
        }[self]


class AIPolicy(str, enum.Enum):
    """When a reader may see the AI's output in a session."""

    HIDDEN = "hidden"  # never; the reader view does not even contain it
    AFTER_COMMIT = "after-commit"  # after the reader has committed (locked) their unaided reading
    VISIBLE = "visible"  # from the start


class SessionStatus(str, enum.Enum):
    PLANNED = "planned"
    OPEN = "open"
    CLOSED = "closed"


class ReadingStatus(str, enum.Enum):
    IN_PROGRESS = "in_progress"
    SUBMITTED = "submitted"


class CaseStatus(str, enum.Enum):
    """A case on a reader's worklist."""

    NOT_STARTED = "not started"
    IN_PROGRESS = "in progress"
    SUBMITTED = "submitted"


class Phase(str, enum.Enum):
    """Whether values were entered without or with the AI's output in view.

    Under the *hidden* policy every value is unaided, under *visible* every value is assisted; under
    *after-commit* the reader first commits unaided values (kept as the unaided snapshot) and any later
    revision is recorded as assisted, so both are kept and exported.
    """

    UNAIDED = "unaided"
    ASSISTED = "assisted"


# --- study, cases, readers, sessions -------------------------------------------------------------------


@dataclass(frozen=True)
class Study:
    """The study and its protocol settings."""

    uid: str
    name: str
    created_at: datetime
    washout_days: int
    disagreement_points: int
    disagreement_mm: float
    schema_version: int


@dataclass(frozen=True)
class CaseSource:
    """What ``add_case`` needs to know about one scan (one case = one CT series).

    ``identity`` is used only to derive the pseudonymous case code and the series-UID hash (keyed hashes
    with the study's secret) and is then dropped: it is never stored. ``location`` (file or folder) and
    ``series`` (the loader's series key inside a folder with several series) let an admin find the scan
    again; ``content_hash`` (e.g. SHA-256 of the voxel data) detects the same scan imported twice.
    ``source_name`` (default: the file or folder name without suffix) is what label workbooks' ``PatID``
    is matched against.
    """

    location: str
    content_hash: str
    identity: ImportIdentity | None = None
    series: str | None = None
    source_name: str | None = None

    def __repr__(self) -> str:
        return "CaseSource(<hidden>)"

    __str__ = __repr__

    @property
    def name(self) -> str:
        """``source_name`` or the file/folder name without (double) suffix."""
        if self.source_name:
            return self.source_name
        name = Path(self.location).name
        for suffix in (".nii.gz", ".mha", ".mhd", ".nii", ".nrrd", ".nhdr", ".dcm"):
            if name.lower().endswith(suffix):
                return name[: -len(suffix)]
        return name


@dataclass(frozen=True)
class Case:
    """A case as the admin sees it. Readers only ever see ``code``.

    ``location`` and ``source_name`` may contain identifying path components (folder names made by a
    PACS export): ``repr`` hides them and reader views never include them.
    """

    id: int
    code: str
    series_uid_hash: str | None
    content_hash: str
    added_at: datetime
    location: str = field(repr=False)
    series: str | None = field(repr=False, default=None)
    source_name: str = field(repr=False, default="")
    excluded_reason: str | None = None


@dataclass(frozen=True)
class ScanSource:
    """Where a case's scan is, for the code that loads it (the GUI controller, the AI integration).

    It may name identifying folders, so ``repr`` hides it; never display, log or export it to a reader.
    """

    case_code: str
    location: str = field(repr=False)
    series: str | None = field(repr=False, default=None)

    def __str__(self) -> str:
        return f"ScanSource({self.case_code})"


@dataclass(frozen=True)
class Reader:
    id: int
    name: str
    role: Role

    @property
    def is_admin(self) -> bool:
        return self.role is Role.ADMIN


@dataclass(frozen=True)
class Session:
    """A reading session (admin record; readers get :class:`SessionInfo`)."""

    id: int
    label: str
    kind: SessionKind
    blinded: bool
    ai_policy: AIPolicy
    order_seed: int
    status: SessionStatus
    created_at: datetime
    opened_at: datetime | None
    closed_at: datetime | None
    reader_ids: tuple[int, ...]
    repeat_of: int | None = None
    references: tuple[int, ...] = ()
    ai_bundle: str | None = None


@dataclass(frozen=True)
class SessionInfo:
    """What a reader may know about a session (no seed, no other readers)."""

    id: int
    label: str
    kind: SessionKind
    blinded: bool
    ai_policy: AIPolicy
    status: SessionStatus


@dataclass(frozen=True)
class SessionAccess:
    """A session as listed for one reader: whether they may work in it now, and why not."""

    session: SessionInfo
    available: bool
    reason: str
    submitted: int
    total: int
    available_from: datetime | None = None


# --- readings -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Placement:
    """A stored level placement; ``slice_index`` is None for positions imported as world z only."""

    level: Level
    world_z: float
    slice_index: int | None

    def as_level_placement(self) -> LevelPlacement | None:
        if self.slice_index is None:
            return None
        return LevelPlacement(self.level, self.world_z, self.slice_index)


@dataclass(frozen=True)
class ReadingValues:
    """Level placements, scores and Likert ratings of one reading in one phase."""

    levels: Mapping[Level, Placement] = field(default_factory=dict)
    scores: Mapping[Level, LevelScores] = field(default_factory=dict)
    likert: Mapping[Level, Mapping[Pattern, int]] = field(default_factory=dict)

    def score(self, level: Level, pattern: Pattern) -> int | None:
        return self.scores.get(Level(level), LevelScores()).get(Pattern(pattern))

    def rating(self, level: Level, pattern: Pattern) -> int | None:
        return self.likert.get(Level(level), {}).get(Pattern(pattern))

    @property
    def is_empty(self) -> bool:
        return not (self.levels or any(s != LevelScores() for s in self.scores.values()) or self.likert)


def level_problems(levels: Mapping[Level, Placement], *, complete: bool) -> list[RuleViolation]:
    """Order and distinctness (and, when ``complete``, missing levels) of stored placements.

    Placements imported without a slice index are checked on world z only (equal z counts as the same
    slice).
    """
    if any(p.slice_index is None for p in levels.values()):
        # Stand-in slice numbers: one per distinct z, ordered like z (cranial first), so that only the z
        # order and distinctness are checked.
        zs = sorted({p.world_z for p in levels.values()}, reverse=True)
        placed = {lv: LevelPlacement(lv, p.world_z, zs.index(p.world_z)) for lv, p in levels.items()}
    else:
        placed = {lv: LevelPlacement(lv, p.world_z, p.slice_index) for lv, p in levels.items()}  # type: ignore[arg-type]
    out = level_violations(placed)
    if complete:
        out = missing_levels(placed) + out
    return out


def values_problems(values: ReadingValues, kind: SessionKind, *, complete: bool) -> list[RuleViolation]:
    """Every broken rule of a reading's values for a session kind (and, when ``complete``, every gap).

    Observer and consensus readings need the five levels and TOT/GG/RET at each; heat-map rating readings
    need a Likert rating per level and pattern.
    """
    out: list[RuleViolation] = []
    if kind is SessionKind.HEATMAP_RATING:
        for lv in LEVELS:
            for pat in PATTERNS:
                value = values.rating(lv, pat)
                fld = f"{lv.label}.{pat.value}"
                if value is None:
                    if complete:
                        out.append(RuleViolation(fld, "rating_missing", f"{fld} is not rated yet."))
                    continue
                v = likert_violation(value, field=fld)
                if v is not None:
                    out.append(v)
        return out
    out.extend(level_problems(values.levels, complete=complete))
    for lv in LEVELS:
        scores = values.scores.get(lv, LevelScores())
        found = score_violations(scores) + (missing_scores(scores) if complete else [])
        out.extend(RuleViolation(f"{lv.label}.{v.field}", v.code, f"{lv.label}: {v.message}") for v in found)
    return out


@dataclass(frozen=True)
class Reading:
    """One reader's reading of one case in one session, as that reader may see it.

    ``values`` are the current values (the assisted revision once an after-commit reading's unaided part
    is committed); ``unaided`` is the locked unaided snapshot (after-commit policy only, once committed).
    """

    case_code: str
    status: ReadingStatus
    phase: Phase
    values: ReadingValues
    time_on_case_s: float
    time_per_level_s: Mapping[Level, float]
    created_at: datetime
    updated_at: datetime
    submitted_at: datetime | None = None
    unaided_committed_at: datetime | None = None
    unaided: ReadingValues | None = None

    @property
    def submitted(self) -> bool:
        return self.status is ReadingStatus.SUBMITTED

    def problems(self, kind: SessionKind, *, complete: bool = True) -> list[RuleViolation]:
        """What stands between this reading and submission (empty when it can be submitted)."""
        return values_problems(self.values, kind, complete=complete)


@dataclass(frozen=True)
class WorklistItem:
    """One case on a reader's worklist, in that reader's seeded order (``position`` from 1)."""

    position: int
    case_code: str
    status: CaseStatus
    unaided_committed: bool = False


@dataclass(frozen=True)
class Disagreement:
    """A case/level where observers' submitted readings differ beyond the study's threshold (admin only).

    ``what`` is a pattern ("TOT", "GG", "RET") or "position" (world z in mm); ``values`` maps
    "reader / session label" to the value.
    """

    case_code: str
    level: Level
    what: str
    values: Mapping[str, float]
    spread: float


@dataclass(frozen=True)
class AIView:
    """The AI output a reader may see for one case (research use; never a diagnosis).

    ``scores`` and ``details`` are None where the session hides the AI's scores (heat-map rating
    sessions blinded to the network's scores); ``heatmaps`` lists the (level, pattern) maps available,
    loaded one at a time through the store.
    """

    bundle_hash: str
    levels: Mapping[Level, Placement] | None
    scores: Mapping[Level, Mapping[Pattern, float]] | None
    details: Mapping[str, object] | None
    heatmaps: tuple[tuple[Level, Pattern], ...]
    created_at: datetime


@dataclass(frozen=True)
class ReaderView:
    """Everything one reader may see of one session, and nothing else.

    Built by :meth:`StudyStore.reader_view`; the GUI and every export for a reader are built only from
    it. ``ai`` is None when the session's policy hides the AI (then it was never read from the file);
    under after-commit it holds only cases whose unaided reading is committed. ``references`` (unblinded
    sessions only) holds other readers' submitted readings of the session's reference sessions.
    ``disagreements`` is None unless the reader is an admin and the session a consensus session.
    """

    session: SessionInfo
    reader: Reader
    worklist: tuple[WorklistItem, ...]
    readings: Mapping[str, Reading]
    resume_code: str | None
    ai: Mapping[str, AIView] | None = None
    references: Mapping[str, Mapping[str, ReadingValues]] | None = None
    disagreements: tuple[Disagreement, ...] | None = None

    @property
    def submitted(self) -> int:
        return sum(1 for w in self.worklist if w.status is CaseStatus.SUBMITTED)

    @property
    def total(self) -> int:
        return len(self.worklist)

    @property
    def progress(self) -> float:
        """Share of the worklist submitted, 0..1 (1 for an empty worklist)."""
        return self.submitted / self.total if self.total else 1.0


@dataclass(frozen=True)
class VerifyReport:
    """Outcome of :meth:`StudyStore.verify`: the audit chain and the state it explains."""

    ok: bool
    audit_rows: int
    head: str
    problems: tuple[str, ...] = ()

    def __str__(self) -> str:
        if self.ok:
            return f"Audit chain intact: {self.audit_rows} entries, head {self.head}."
        shown = "\n  ".join(self.problems[:20])
        more = f"\n  ... and {len(self.problems) - 20} more" if len(self.problems) > 20 else ""
        return f"Audit chain BROKEN ({len(self.problems)} problem(s)):\n  {shown}{more}"
