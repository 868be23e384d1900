"""Reader studies: records, protocol, the SQLite study store, audit log and pseudonymisation.

Entry points: :func:`open_study` and :func:`create_study` return a :class:`StudyStore`; statistics and
exports read through :mod:`ssc_core.study.queries`; the authors' files are imported with
:mod:`ssc_core.study.importers`. See docs/architecture.md ("Study store").
"""

from ssc_core.study.clock import ManualClock, system_clock
from ssc_core.study.records import (
    AIPolicy,
    AIView,
    Case,
    CaseSource,
    CaseStatus,
    Disagreement,
    Phase,
    Reader,
    ReaderView,
    Reading,
    ReadingStatus,
    ReadingValues,
    Role,
    ScanSource,
    Session,
    SessionAccess,
    SessionInfo,
    SessionKind,
    SessionStatus,
    Study,
    VerifyReport,
    WorklistItem,
)
from ssc_core.study.store import StudyStore, create_study, open_study

__all__ = [
    "AIPolicy",
    "AIView",
    "Case",
    "CaseSource",
    "CaseStatus",
    "Disagreement",
    "ManualClock",
    "Phase",
    "Reader",
    "ReaderView",
    "Reading",
    "ReadingStatus",
    "ReadingValues",
    "Role",
    "ScanSource",
    "Session",
    "SessionAccess",
    "SessionInfo",
    "SessionKind",
    "SessionStatus",
    "Study",
    "StudyStore",
    "VerifyReport",
    "WorklistItem",
    "create_study",
    "open_study",
    "system_clock",
]
