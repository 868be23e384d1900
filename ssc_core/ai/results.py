"""Typed, frozen results of the cascade and their JSON form (the study file's AI cache).

Every result carries the identity the caller gave (``case_id``, ``request_id``) and the hash of the bundle
that produced it, so the GUI can drop a result for a case the reader has left and the cache can be keyed by
case x bundle. Arrays (heat maps) travel in JSON as base64 of zlib-compressed little-endian bytes.
No patient identifier is ever part of a result: ``case_id`` is whatever pseudonymous key the caller uses.
"""

from __future__ import annotations

import base64
import enum
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ssc_core import RESEARCH_USE_NOTICE
from ssc_core.constants import Level
from ssc_core.scoring import make_consistent, round_to_grid

#: Version of the JSON written by :meth:`CascadeResult.to_json` / :meth:`HeatmapResult.to_json`.
RESULT_JSON_VERSION = 1


class LevelStatus(str, enum.Enum):
    """Where the level finder put a level relative to the scan."""

    FOUND = "found"
    ABOVE = "above the scanned range"
    BELOW = "below the scanned range"


@dataclass(frozen=True)
class LevelFinding:
    """One level found by the level finder.

    ``world_z`` is the predicted position (LPS mm); it may lie outside the scan, or be ``None`` when the
    network only says "outside". ``slice_index`` is the nearest original slice, ``None`` when outside
    (never clamped to the first or last slice).
    """

    level: Level
    world_z: float | None
    slice_index: int | None
    status: LevelStatus

    @property
    def inside(self) -> bool:
        return self.status is LevelStatus.FOUND

    def to_json(self) -> dict[str, Any]:
        return {
            "level": self.level.label,
            "world_z": self.world_z,
            "slice_index": self.slice_index,
            "status": self.status.name,
        }

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> LevelFinding:
        z = obj.get("world_z")
        k = obj.get("slice_index")
        return cls(
            level=Level.parse(obj["level"]),
            world_z=None if z is None else float(z),
            slice_index=None if k is None else int(k),
            status=LevelStatus[obj["status"]],
        )


@dataclass(frozen=True)
class SliceScores:
    """Scorer output for one slice: raw percentages and their grid-rounded, consistent display values."""

    raw_tot: float
    raw_gg: float
    raw_ret: float
    tot: int
    gg: int
    ret: int

    @classmethod
    def from_raw(cls, tot: float, gg: float, ret: float) -> SliceScores:
        """Round each raw score to the 5 % grid (clipped to 0..100), then make TOT consistent (union rule)."""
        r_tot, r_gg, r_ret = (round_to_grid(float(v)) for v in (tot, gg, ret))
        c_tot, c_gg, c_ret = make_consistent(r_tot, r_gg, r_ret)
        return cls(float(tot), float(gg), float(ret), c_tot, c_gg, c_ret)

    @property
    def raw(self) -> tuple[float, float, float]:
        return (self.raw_tot, self.raw_gg, self.raw_ret)

    @property
    def rounded(self) -> tuple[int, int, int]:
        return (self.tot, self.gg, self.ret)

    def to_json(self) -> dict[str, Any]:
        return {"raw": list(self.raw), "rounded": list(self.rounded)}

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> SliceScores:
        r_tot, r_gg, r_ret = (float(v) for v in obj["raw"])
        tot, gg, ret = (int(v) for v in obj["rounded"])
        return cls(r_tot, r_gg, r_ret, tot, gg, ret)


@dataclass(frozen=True)
class LevelResult:
    """A level: where it was found and, when it lies on a slice with lung, its scores."""

    level: Level
    finding: LevelFinding
    scores: SliceScores | None = None
    #: Share of the slice covered by the lung mask (None when the level is outside the scan).
    lung_fraction: float | None = None

    @property
    def outside(self) -> bool:
        return not self.finding.inside

    @property
    def no_lung(self) -> bool:
        """The level's slice shows almost no lung: no scores (DOMAIN: "no lung" instead of scores)."""
        return self.finding.inside and self.scores is None

    def to_json(self) -> dict[str, Any]:
        return {
            "level": self.level.label,
            "finding": self.finding.to_json(),
            "scores": None if self.scores is None else self.scores.to_json(),
            "lung_fraction": self.lung_fraction,
        }

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> LevelResult:
        s = obj.get("scores")
        lf = obj.get("lung_fraction")
        return cls(
            level=Level.parse(obj["level"]),
            finding=LevelFinding.from_json(obj["finding"]),
            scores=None if s is None else SliceScores.from_json(s),
            lung_fraction=None if lf is None else float(lf),
        )


@dataclass(frozen=True)
class CascadeResult:
    """Levels and scores of one case from one bundle."""

    case_id: str
    request_id: int
    bundle_hash: str
    bundle_name: str
    levels: tuple[LevelResult, ...]
    device: str = "cpu"
    seconds: float = 0.0
    notice: str = RESEARCH_USE_NOTICE

    def level(self, level: Level | int | str) -> LevelResult:
        lv = Level.parse(level)
        for r in self.levels:
            if r.level == lv:
                return r
        raise KeyError(lv.label)

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": "cascade",
            "version": RESULT_JSON_VERSION,
            "case_id": self.case_id,
            "request_id": self.request_id,
            "bundle_hash": self.bundle_hash,
            "bundle_name": self.bundle_name,
            "levels": [r.to_json() for r in self.levels],
            "device": self.device,
            "seconds": self.seconds,
            "notice": self.notice,
        }

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> CascadeResult:
        _check_kind(obj, "cascade")
        return cls(
            case_id=str(obj["case_id"]),
            request_id=int(obj["request_id"]),
            bundle_hash=str(obj["bundle_hash"]),
            bundle_name=str(obj["bundle_name"]),
            levels=tuple(LevelResult.from_json(r) for r in obj["levels"]),
            device=str(obj.get("device", "cpu")),
            seconds=float(obj.get("seconds", 0.0)),
            notice=str(obj.get("notice", RESEARCH_USE_NOTICE)),
        )


@dataclass(frozen=True, eq=False)
class HeatmapResult:
    """The replacement heat map of one level's slice.

    ``values`` is (3, H, W) float32, the mean change of TOT, GG and RET per pixel in score points, in the
    slice's own pixel grid; ``covered`` marks the pixels some lung-cropped square covered (elsewhere 0).
    ``derived`` are the heat-map-derived scores (% of the lung area below ``threshold``).
    """

    case_id: str
    request_id: int
    bundle_hash: str
    level: Level | None
    slice_index: int
    values: np.ndarray
    covered: np.ndarray
    base_scores: tuple[float, ...]
    derived: tuple[float, ...]
    threshold: float
    positions: int
    seconds: float = 0.0
    notice: str = RESEARCH_USE_NOTICE

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": "heatmap",
            "version": RESULT_JSON_VERSION,
            "case_id": self.case_id,
            "request_id": self.request_id,
            "bundle_hash": self.bundle_hash,
            "level": None if self.level is None else self.level.label,
            "slice_index": self.slice_index,
            "values": encode_array(self.values),
            "covered": encode_array(self.covered),
            "base_scores": list(self.base_scores),
            "derived": list(self.derived),
            "threshold": self.threshold,
            "positions": self.positions,
            "seconds": self.seconds,
            "notice": self.notice,
        }

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> HeatmapResult:
        _check_kind(obj, "heatmap")
        lv = obj.get("level")
        return cls(
            case_id=str(obj["case_id"]),
            request_id=int(obj["request_id"]),
            bundle_hash=str(obj["bundle_hash"]),
            level=None if lv is None else Level.parse(lv),
            slice_index=int(obj["slice_index"]),
            values=decode_array(obj["values"]),
            covered=decode_array(obj["covered"]),
            base_scores=tuple(float(v) for v in obj["base_scores"]),
            derived=tuple(float(v) for v in obj["derived"]),
            threshold=float(obj["threshold"]),
            positions=int(obj["positions"]),
            seconds=float(obj.get("seconds", 0.0)),
            notice=str(obj.get("notice", RESEARCH_USE_NOTICE)),
        )


def _check_kind(obj: dict[str, Any], kind: str) -> None:
    if obj.get("kind") != kind:
        raise ValueError(f"not a cached {kind} result")
    if int(obj.get("version", 0)) > RESULT_JSON_VERSION:
        raise ValueError(f"the cached {kind} result was written by a newer version")


def encode_array(a: np.ndarray) -> dict[str, Any]:
    """JSON form of an array: dtype, shape and base64 of the zlib-compressed little-endian bytes."""
    arr = np.ascontiguousarray(a)
    le = arr.astype(arr.dtype.newbyteorder("<"), copy=False)
    return {
        "dtype": le.dtype.str,
        "shape": list(arr.shape),
        "data": base64.b64encode(zlib.compress(le.tobytes(), 6)).decode("ascii"),
    }


def decode_array(obj: dict[str, Any]) -> np.ndarray:
    """Inverse of :func:`encode_array` (refuses a size that does not match the shape)."""
    dtype = np.dtype(obj["dtype"])
    if dtype.kind not in "biuf":
        raise ValueError(f"unsupported array type {dtype}")
    shape = tuple(int(s) for s in obj["shape"])
    raw = zlib.decompress(base64.b64decode(obj["data"]))
    if len(raw) != int(np.prod(shape, dtype=np.int64)) * dtype.itemsize:
        raise ValueError("array data do not match their shape")
    return np.frombuffer(raw, dtype=dtype).reshape(shape).astype(dtype.newbyteorder("="))


def store_fields(result: CascadeResult, heatmaps: Sequence[HeatmapResult] = ()) -> dict[str, Any]:
    """Keyword arguments of the study store's ``put_ai_result(case_id, bundle_hash, **fields)``.

    ``levels``: world z and slice of the levels inside the scan; ``scores``: the display values (5 % grid,
    consistent) of the scored levels; ``heatmaps``: each heat map's three patterns (0 where no
    lung-cropped square covered the pixel); ``heatmap_slices``; ``details``: the whole cascade result as
    JSON (raw scores, outside / no-lung flags, lung fractions, device, timing) and per heat map its
    derived scores, threshold and base scores. Everything is keyed by the result's bundle hash in the
    store, so a result is never mixed with another bundle's.
    """
    from ssc_core.constants import Pattern

    levels = {
        r.level: (r.finding.world_z, r.finding.slice_index)
        for r in result.levels
        if r.finding.world_z is not None and r.finding.inside
    }
    scores = {
        r.level: {"TOT": float(r.scores.tot), "GG": float(r.scores.gg), "RET": float(r.scores.ret)}
        for r in result.levels
        if r.scores is not None
    }
    maps: dict[tuple[Level, Pattern], np.ndarray] = {}
    slices: dict[Level, int] = {}
    heat_details: dict[str, Any] = {}
    for h in heatmaps:
        if h.level is None:
            continue
        for i, pattern in enumerate((Pattern.TOT, Pattern.GG, Pattern.RET)):
            maps[(h.level, pattern)] = h.values[i]
        slices[h.level] = h.slice_index
        heat_details[h.level.label] = {
            "derived": list(h.derived),
            "threshold": h.threshold,
            "base_scores": list(h.base_scores),
            "positions": h.positions,
        }
    details = {"cascade": result.to_json(), "heatmaps": heat_details}
    return {
        "levels": levels,
        "scores": scores,
        "details": details,
        "heatmaps": maps,
        "heatmap_slices": slices,
    }
