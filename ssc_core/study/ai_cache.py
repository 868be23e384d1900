"""The AI results cache: one cascade result per case and model bundle (research output, not a diagnosis).

A result holds the AI's level placements, its scores, further details (any JSON object: timings, raw
outputs, provenance) and heat maps per level and pattern. Heat maps are stored as raw little-endian float16
(default) or float32 bytes with their shape, and read back with ``numpy.frombuffer``: no pickle is ever
involved. The ``details`` are treated like the scores: hidden wherever the scores are.

Readers reach the cache only through the reader view (``views.py``), which applies the session's policy.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from ssc_core.constants import Level, Pattern
from ssc_core.errors import StudyCorrupt, StudyError
from ssc_core.study.base import StoreBase
from ssc_core.study.clock import from_text
from ssc_core.study.records import AIView, Placement

if TYPE_CHECKING:
    import numpy as np

_DTYPES = {"float16": "<f2", "float32": "<f4"}


@dataclass(frozen=True)
class AIResult:
    """A cached cascade result (admin/AI-integration record; readers get :class:`AIView`)."""

    case_id: int
    bundle_hash: str
    created_at: datetime
    levels: Mapping[Level, Placement] | None
    scores: Mapping[Level, Mapping[Pattern, float]] | None
    details: Mapping[str, object] | None
    heatmaps: tuple[tuple[Level, Pattern], ...]


@dataclass(frozen=True)
class AICacheOutline:
    """What is cached for one case and bundle, without any value that a session may hide.

    ``levels``: the AI's slice per level found inside the scan (levels are shown even where scores are
    hidden); ``scored``: the levels that have scores (a level on a slice without lung has none);
    ``heatmaps``: the (level, pattern) maps stored. Used to plan what is still to compute.
    """

    case_id: int
    bundle_hash: str
    levels: Mapping[Level, Placement]
    scored: frozenset[Level]
    heatmaps: frozenset[tuple[Level, Pattern]]

    def missing_heatmaps(self) -> tuple[Level, ...]:
        """Scored levels with a slice whose three maps are not all stored, cranial first."""
        out = []
        for lv in sorted(self.scored):
            p = self.levels.get(lv)
            if p is None or p.slice_index is None:
                continue
            if any((lv, pat) not in self.heatmaps for pat in Pattern):
                out.append(lv)
        return tuple(out)


def _levels_json(levels: Mapping[Level, Placement | tuple[float, int | None]] | None) -> str | None:
    if levels is None:
        return None
    out: dict[str, dict[str, object]] = {}
    for lv, p in levels.items():
        z, idx = (p.world_z, p.slice_index) if isinstance(p, Placement) else (p[0], p[1])
        if not math.isfinite(float(z)):
            raise StudyError(f"AI level {Level(lv).label}: position is not a finite number.")
        out[Level(lv).label] = {"world_z": float(z), "slice_index": None if idx is None else int(idx)}
    return json.dumps(out, sort_keys=True)


def _scores_json(scores: Mapping[Level, Mapping[Pattern | str, float]] | None) -> str | None:
    if scores is None:
        return None
    out: dict[str, dict[str, float]] = {}
    for lv, per in scores.items():
        row: dict[str, float] = {}
        for pat, v in per.items():
            if not math.isfinite(float(v)):
                raise StudyError(f"AI score {Level(lv).label} {Pattern(pat).value} is not a finite number.")
            row[Pattern(pat).value] = float(v)
        out[Level(lv).label] = row
    return json.dumps(out, sort_keys=True)


def _parse_levels(text: str | None) -> dict[Level, Placement] | None:
    if text is None:
        return None
    data = json.loads(text)
    return {
        Level.parse(k): Placement(
            Level.parse(k), float(v["world_z"]), None if v["slice_index"] is None else int(v["slice_index"])
        )
        for k, v in data.items()
    }


def _heatmap_record(
    case_id: int,
    bundle: str,
    lv: Level,
    pat: Pattern,
    heatmap_slices: Mapping[Level, int] | None,
    dtype: str,
    shape: str,
    data: bytes,
) -> dict[str, object]:
    """One row of the ``ai_heatmap`` table."""
    return {
        "case_id": case_id,
        "bundle_hash": bundle,
        "level": int(lv),
        "pattern": pat.value,
        "slice_index": None if heatmap_slices is None else heatmap_slices.get(lv),
        "dtype": _DTYPES[dtype],
        "shape": shape,
        "data": data,
    }


def _heatmap_rows(
    heatmaps: Mapping[tuple[Level, Pattern | str], np.ndarray] | None, dtype: str
) -> list[tuple[Level, Pattern, bytes, str]]:
    import numpy as np

    if dtype not in _DTYPES:
        raise StudyError(f"Heat maps are stored as float16 or float32, not {dtype}.")
    maps: list[tuple[Level, Pattern, bytes, str]] = []
    for (lv, pat), arr in (heatmaps or {}).items():
        a = np.asarray(arr)
        if a.ndim != 2 or not np.issubdtype(a.dtype, np.floating) or not np.all(np.isfinite(a)):
            raise StudyError(
                f"Heat map {Level(lv).label} {Pattern(pat).value}: expected a finite 2-D float array."
            )
        data = np.ascontiguousarray(a, dtype=_DTYPES[dtype]).tobytes()
        maps.append((Level(lv), Pattern(pat), data, f"{a.shape[0]},{a.shape[1]}"))
    return maps


def _merge_details(old: Mapping[str, object] | None, new: Mapping[str, object]) -> dict[str, object]:
    """``old`` updated with ``new``; nested objects (one level deep) are merged key by key."""
    out: dict[str, object] = dict(old or {})
    for key, value in new.items():
        prev = out.get(key)
        if isinstance(prev, dict) and isinstance(value, Mapping):
            out[key] = {**prev, **value}
        else:
            out[key] = value
    return out


def _parse_scores(text: str | None) -> dict[Level, dict[Pattern, float]] | None:
    if text is None:
        return None
    return {Level.parse(k): {Pattern(p): float(x) for p, x in v.items()} for k, v in json.loads(text).items()}


class AICacheMixin(StoreBase):
    """Writing and reading cached AI results (the AI integration's side of the store)."""

    def put_ai_result(
        self,
        case_id: int,
        bundle_hash: str,
        *,
        levels: Mapping[Level, Placement | tuple[float, int | None]] | None = None,
        scores: Mapping[Level, Mapping[Pattern | str, float]] | None = None,
        details: Mapping[str, object] | None = None,
        heatmaps: Mapping[tuple[Level, Pattern | str], np.ndarray] | None = None,
        heatmap_slices: Mapping[Level, int] | None = None,
        dtype: str = "float16",
        by: int | None = None,
    ) -> AIResult:
        """Store (or replace) the result of one bundle on one case, in one transaction.

        ``heatmaps`` maps (level, pattern) to a 2-D float array (y, x); ``heatmap_slices`` the slice each
        level's maps were computed on. ``by`` is the reader who ran the AI (None: the software).
        """
        self.case(case_id)
        bundle = bundle_hash.strip()
        if not bundle:
            raise StudyError("An AI result needs the model bundle's hash.")
        details_text = None if details is None else json.dumps(dict(details), sort_keys=True, allow_nan=False)
        maps = _heatmap_rows(heatmaps, dtype)
        with self._write(by, "put_ai_result") as tx:
            old_maps = tx.conn.execute(
                "SELECT level, pattern FROM ai_heatmap WHERE case_id = ? AND bundle_hash = ?",
                (case_id, bundle),
            ).fetchall()
            for old_level, old_pattern in old_maps:
                tx.delete("ai_heatmap", (case_id, bundle, int(old_level), old_pattern))
            tx.delete("ai_result", (case_id, bundle))
            tx.insert(
                "ai_result",
                {
                    "case_id": case_id,
                    "bundle_hash": bundle,
                    "created_at": tx.at,
                    "levels_json": _levels_json(levels),
                    "scores_json": _scores_json(scores),
                    "details_json": details_text,
                },
            )
            for lv, pat, data, shape in maps:
                tx.insert(
                    "ai_heatmap",
                    _heatmap_record(case_id, bundle, lv, pat, heatmap_slices, dtype, shape, data),
                )
        result = self.ai_result(case_id, bundle)
        assert result is not None
        return result

    def put_ai_heatmaps(
        self,
        case_id: int,
        bundle_hash: str,
        heatmaps: Mapping[tuple[Level, Pattern | str], np.ndarray],
        *,
        heatmap_slices: Mapping[Level, int] | None = None,
        details: Mapping[str, object] | None = None,
        dtype: str = "float16",
        by: int | None = None,
    ) -> AIResult:
        """Add (or replace) heat maps of an existing result, in one transaction, keeping the others.

        Heat maps are computed one level at a time (the level being read first), so each arrives on its
        own; rewriting the whole result for each would rewrite every earlier map. ``details`` is merged
        into the result's details (nested objects key by key), e.g. the heat-map-derived scores.
        """
        bundle = bundle_hash.strip()
        row = self.conn.execute(
            "SELECT details_json FROM ai_result WHERE case_id = ? AND bundle_hash = ?", (case_id, bundle)
        ).fetchone()
        if row is None:
            raise StudyError("Heat maps can only be added to a cached AI result of the same model bundle.")
        maps = _heatmap_rows(heatmaps, dtype)
        merged = None
        if details:
            old = None if row["details_json"] is None else json.loads(row["details_json"])
            merged = json.dumps(_merge_details(old, details), sort_keys=True, allow_nan=False)
        with self._write(by, "put_ai_heatmaps") as tx:
            for lv, pat, data, shape in maps:
                key = (case_id, bundle, int(lv), pat.value)
                exists = tx.conn.execute(
                    "SELECT 1 FROM ai_heatmap WHERE case_id = ? AND bundle_hash = ? AND level = ? "
                    "AND pattern = ?",
                    key,
                ).fetchone()
                if exists:
                    tx.delete("ai_heatmap", key)
                tx.insert(
                    "ai_heatmap",
                    _heatmap_record(case_id, bundle, lv, pat, heatmap_slices, dtype, shape, data),
                )
            if merged is not None:
                tx.update("ai_result", (case_id, bundle), {"details_json": merged})
        result = self.ai_result(case_id, bundle)
        assert result is not None
        return result

    def ai_cache_outline(self, case_id: int, bundle_hash: str) -> AICacheOutline | None:
        """What is cached for ``case_id`` and ``bundle_hash`` (no scores read), or None."""
        row = self.conn.execute(
            "SELECT levels_json, scores_json FROM ai_result WHERE case_id = ? AND bundle_hash = ?",
            (case_id, bundle_hash),
        ).fetchone()
        if row is None:
            return None
        # Only the keys (levels) of the scores object are kept, never the values.
        scored = frozenset(Level.parse(k) for k in json.loads(row["scores_json"] or "{}"))
        maps = frozenset(
            (Level(int(r[0])), Pattern(r[1]))
            for r in self.conn.execute(
                "SELECT level, pattern FROM ai_heatmap WHERE case_id = ? AND bundle_hash = ?",
                (case_id, bundle_hash),
            )
        )
        return AICacheOutline(
            case_id=case_id,
            bundle_hash=bundle_hash,
            levels=_parse_levels(row["levels_json"]) or {},
            scored=scored,
            heatmaps=maps,
        )

    def ai_result(self, case_id: int, bundle_hash: str | None = None) -> AIResult | None:
        """The cached result for a case (of ``bundle_hash``, or the newest), or None."""
        if bundle_hash is None:
            row = self.conn.execute(
                "SELECT * FROM ai_result WHERE case_id = ? ORDER BY created_at DESC, bundle_hash LIMIT 1",
                (case_id,),
            ).fetchone()
        else:
            row = self.conn.execute(
                "SELECT * FROM ai_result WHERE case_id = ? AND bundle_hash = ?", (case_id, bundle_hash)
            ).fetchone()
        if row is None:
            return None
        maps = tuple(
            (Level(int(r[0])), Pattern(r[1]))
            for r in self.conn.execute(
                "SELECT level, pattern FROM ai_heatmap WHERE case_id = ? AND bundle_hash = ? "
                "ORDER BY level, pattern",
                (case_id, row["bundle_hash"]),
            )
        )
        return AIResult(
            case_id=case_id,
            bundle_hash=row["bundle_hash"],
            created_at=from_text(row["created_at"]),  # type: ignore[arg-type]
            levels=_parse_levels(row["levels_json"]),
            scores=_parse_scores(row["scores_json"]),
            details=None if row["details_json"] is None else json.loads(row["details_json"]),
            heatmaps=maps,
        )

    def ai_heatmap(
        self, case_id: int, bundle_hash: str, level: Level | int, pattern: Pattern | str
    ) -> np.ndarray:
        """One cached heat map as a float32 array (y, x); read without pickle."""
        import numpy as np

        row = self.conn.execute(
            "SELECT dtype, shape, data FROM ai_heatmap "
            "WHERE case_id = ? AND bundle_hash = ? AND level = ? AND pattern = ?",
            (case_id, bundle_hash, int(Level(level)), Pattern(pattern).value),
        ).fetchone()
        if row is None:
            raise StudyError(
                f"No heat map {Level(level).label} {Pattern(pattern).value} is cached for this case."
            )
        dtype = str(row["dtype"])
        if dtype not in _DTYPES.values():
            raise StudyCorrupt(f"A cached heat map has an unknown number format ({dtype}).")
        try:
            h, w = (int(x) for x in str(row["shape"]).split(","))
        except ValueError:
            raise StudyCorrupt("A cached heat map has a damaged shape record.") from None
        data = bytes(row["data"])
        if h <= 0 or w <= 0 or len(data) != h * w * np.dtype(dtype).itemsize:
            raise StudyCorrupt("A cached heat map's size does not match its shape; clear and recompute it.")
        return np.frombuffer(data, dtype=dtype).reshape(h, w).astype(np.float32)

    def _ai_view(self, case_id: int, bundle_hash: str | None, *, with_scores: bool) -> AIView | None:
        result = self.ai_result(case_id, bundle_hash)
        if result is None:
            return None
        return AIView(
            bundle_hash=result.bundle_hash,
            levels=result.levels,
            scores=result.scores if with_scores else None,
            details=result.details if with_scores else None,
            heatmaps=result.heatmaps,
            created_at=result.created_at,
        )
