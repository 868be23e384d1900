"""The cascade's requests and events: plain frozen dataclasses, importable without torch.

:class:`~ssc_core.ai.cascade.CascadeRunner` yields these; every event carries the ``case_id`` and
``request_id`` of its :class:`CascadeRequest`, so whoever receives them (the workstation's window, from its
AI process) can drop those of a case the reader has left. Kept apart from :mod:`ssc_core.ai.cascade` so
that receiving (unpickling) an event never loads torch into the receiving process.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from ssc_core.ai.results import CascadeResult, HeatmapResult, LevelFinding, LevelResult
from ssc_core.constants import Level
from ssc_core.imaging.volume import CTVolume


@dataclass(frozen=True, eq=False)
class CascadeRequest:
    """What to run: a case's volume, the caller's identity for it, and options.

    ``slices`` (optional) gives the slice index per level to score instead of finding the levels (e.g. the
    reader's own placements); ``heatmaps`` lists the levels whose heat maps to compute after scoring, in
    that order (the GUI asks for the current level first).
    """

    case_id: str
    volume: CTVolume
    request_id: int = 0
    slices: Mapping[Level, int] | None = None
    heatmaps: tuple[Level, ...] = ()


@dataclass(frozen=True)
class CascadeEvent:
    """Base of every event: the identity of the request it belongs to."""

    case_id: str
    request_id: int


@dataclass(frozen=True)
class StageProgress(CascadeEvent):
    """Progress of a stage ("levels", "scores" or "heatmap"; ``level`` set for heat maps)."""

    stage: str
    done: int
    total: int
    message: str = ""
    level: Level | None = None


@dataclass(frozen=True)
class LevelsFound(CascadeEvent):
    findings: tuple[LevelFinding, ...]


@dataclass(frozen=True)
class LevelScored(CascadeEvent):
    result: LevelResult


@dataclass(frozen=True)
class HeatmapReady(CascadeEvent):
    heatmap: HeatmapResult


@dataclass(frozen=True)
class CascadeDone(CascadeEvent):
    result: CascadeResult
    heatmaps: tuple[HeatmapResult, ...] = field(default=())


__all__ = [
    "CascadeDone",
    "CascadeEvent",
    "CascadeRequest",
    "HeatmapReady",
    "LevelScored",
    "LevelsFound",
    "StageProgress",
]
