"""Level placements and their rules.

A placement stores the level's world z (LPS mm, +z to the head) and the index of the original slice it
falls on. Rules (Goh 2008, DOMAIN.md section 1): L1 is the most cranial and L5 the most caudal, so
``z(L1) > z(L2) > ... > z(L5)``, and the five are distinct slices. L4 lies halfway between L3 and L5.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from ssc_core.constants import LEVELS, Level
from ssc_core.errors import ScoreRuleError
from ssc_core.scoring.rules import RuleViolation


@dataclass(frozen=True)
class LevelPlacement:
    """A level placed on a slice: world z in mm and the original slice index."""

    level: Level
    world_z: float
    slice_index: int

    def __post_init__(self) -> None:
        object.__setattr__(self, "level", Level(self.level))
        object.__setattr__(self, "world_z", float(self.world_z))
        object.__setattr__(self, "slice_index", int(self.slice_index))


def level_violations(placements: Mapping[Level, LevelPlacement]) -> list[RuleViolation]:
    """Order and distinctness problems among the placed levels (unplaced levels are not errors here).

    Each violation names the later (more caudal) level of an offending pair, so the GUI can mark that
    level's row; the message names both.
    """
    out: list[RuleViolation] = []
    placed = [placements[lv] for lv in LEVELS if lv in placements]
    for a_i, a in enumerate(placed):
        for b in placed[a_i + 1 :]:
            # a.level < b.level: a must be more cranial (higher z, lower slice index).
            if a.slice_index == b.slice_index:
                out.append(
                    RuleViolation(
                        field=b.level.label,
                        code="level_not_distinct",
                        message=f"{b.level.label} is on the same slice as {a.level.label}; "
                        "the five levels must be on distinct slices.",
                    )
                )
            elif a.world_z <= b.world_z:
                out.append(
                    RuleViolation(
                        field=b.level.label,
                        code="level_order",
                        message=f"{b.level.label} (z {b.world_z:.1f} mm) must lie below "
                        f"{a.level.label} (z {a.world_z:.1f} mm): levels run L1 (cranial) to L5 (caudal).",
                    )
                )
    return out


def missing_levels(placements: Mapping[Level, LevelPlacement]) -> list[RuleViolation]:
    """One violation per level not yet placed."""
    return [
        RuleViolation(field=lv.label, code="level_missing", message=f"{lv.label} is not placed yet.")
        for lv in LEVELS
        if lv not in placements
    ]


def check_levels(placements: Mapping[Level, LevelPlacement], *, complete: bool = True) -> None:
    """Raise :class:`ScoreRuleError` naming every broken rule (and missing levels when ``complete``)."""
    problems = level_violations(placements)
    if complete:
        problems = missing_levels(placements) + problems
    if problems:
        raise ScoreRuleError(" ".join(p.message for p in problems))


def l4_midpoint_z(l3_z: float, l5_z: float) -> float:
    """World z of L4: halfway between L3 and L5 (Goh 2008)."""
    return (float(l3_z) + float(l5_z)) / 2.0
