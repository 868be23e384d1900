"""What ``ssc info`` reports about a path: the series found and the geometry of the one it opens.

The report is built from :class:`SeriesCandidate` and :class:`CTVolume` only, which hold no patient
identifiers; the path itself is not repeated either (folder names often carry patient names).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ssc_core.errors import LoadError
from ssc_core.imaging.candidate import SeriesCandidate
from ssc_core.imaging.loader import load_scan, scan_path
from ssc_core.imaging.volume import CTVolume
from ssc_core.progress import CancelToken, ProgressCallback


@dataclass
class InfoReport:
    """The findings for one path; ``refusal`` is set when nothing could be opened."""

    candidates: list[SeriesCandidate] = field(default_factory=list)
    skipped: dict[str, int] = field(default_factory=dict)
    selected: str | None = None
    volume: dict[str, Any] | None = None
    refusal: dict[str, str] | None = None

    @property
    def ok(self) -> bool:
        return self.refusal is None

    def to_dict(self) -> dict[str, Any]:
        return {
            "candidates": [c.to_dict() for c in self.candidates],
            "skipped": self.skipped,
            "selected": self.selected,
            "volume": self.volume,
            "refusal": self.refusal,
        }


def describe_volume(volume: CTVolume) -> dict[str, Any]:
    """The loaded geometry as plain JSON-ready values."""
    hu = volume.hu
    z = volume.slice_z
    return {
        "shape_zyx": list(volume.shape),
        "spacing_zyx_mm": [round(s, 6) for s in volume.spacing],
        "origin_xyz_mm": [round(o, 4) for o in volume.origin],
        "direction_rows_zyx": [[round(float(v), 6) + 0.0 for v in row] for row in volume.direction],
        "z_first_mm": round(float(z[0]), 4),
        "z_last_mm": round(float(z[-1]), 4),
        "z_direction": "decreasing (slice 0 is the most cranial)"
        if z.size < 2 or z[1] < z[0]
        else "increasing",
        "hu_min": int(hu.min()),
        "hu_max": int(hu.max()),
        "hu_median": float(np.median(hu[:: max(1, hu.shape[0] // 16), ::4, ::4])),
        "description": volume.info.description,
        "kernel": volume.info.kernel,
        "slice_thickness_mm": volume.info.slice_thickness_mm,
        "manufacturer": volume.info.manufacturer,
        "model": volume.info.model,
        "transfer_syntax": volume.info.transfer_syntax,
        "source_format": volume.info.source_format,
        "warnings": list(volume.warnings),
    }


def _refusal(exc: LoadError) -> dict[str, str]:
    return {"error": type(exc).__name__, "message": str(exc), "hint": exc.hint}


def inspect(
    path: str | os.PathLike[str],
    *,
    series: str | None = None,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
) -> InfoReport:
    """Scan ``path``, then load ``series`` (or the default) and describe it, or record the refusal."""
    report = InfoReport()
    try:
        found = scan_path(path, progress=progress, cancel=cancel)
    except LoadError as exc:
        report.refusal = _refusal(exc)
        return report
    report.candidates = list(found.candidates)
    report.skipped = dict(found.skipped)
    chosen = found.default if series is None else next((c for c in found.candidates if c.key == series), None)
    report.selected = chosen.key if chosen is not None else series
    try:
        scan = load_scan(path, series=series, progress=progress, cancel=cancel)
    except LoadError as exc:
        report.refusal = _refusal(exc)
        return report
    report.volume = describe_volume(scan.volume)
    return report


def _mm(v: float | None) -> str:
    return "-" if v is None else f"{v:g} mm"


def format_text(report: InfoReport) -> str:
    """The human-readable report."""
    lines: list[str] = []
    if report.candidates:
        lines.append(f"Series found: {len(report.candidates)} (* = opened by default)")
        for c in report.candidates:
            mark = "*" if c.is_default else " "
            desc = f'"{c.description}"' if c.description else "(no description)"
            lines.append(
                f" {mark} {c.key}  study {c.study}: {c.modality or '?'} {c.orientation}, "
                f"{c.n_slices} slices, {c.matrix}, thickness {_mm(c.slice_thickness_mm)}, "
                f"spacing {_mm(c.slice_spacing_mm)}, "
                f"kernel {c.kernel or '-'}, {c.transfer_syntax}, {desc}"
            )
            if c.scorable:
                lines.append("      scorable")
            else:
                lines.append(f"      not scorable ({c.refusal}): {c.reason}")
    if report.skipped:
        left = ", ".join(f"{n} {reason}" for reason, n in sorted(report.skipped.items()))
        lines.append(f"Left out: {left}")
    if report.volume is not None:
        v = report.volume
        nz, ny, nx = v["shape_zyx"]
        dz, dy, dx = v["spacing_zyx_mm"]
        lines += [
            "",
            f"Opened series {report.selected}:",
            f"  shape (z, y, x)    {nz} x {ny} x {nx}",
            f"  spacing (mm)       {dz:g} x {dy:g} x {dx:g}",
            f"  z range (mm)       {v['z_first_mm']:g} (slice 0) to {v['z_last_mm']:g} (slice {nz - 1}), "
            f"{v['z_direction']}",
            f"  direction (z,y,x)  {v['direction_rows_zyx']}",
            f"  HU range           {v['hu_min']} .. {v['hu_max']} (median {v['hu_median']:g})",
            f"  transfer syntax    {v['transfer_syntax'] or v['source_format']}",
            f"  scanner            {' '.join(x for x in (v['manufacturer'], v['model']) if x) or '-'}",
            "  warnings           " + ("none" if not v["warnings"] else v["warnings"][0]),
        ]
        lines += [f"                     {w}" for w in v["warnings"][1:]]
    if report.refusal is not None:
        r = report.refusal
        target = f"series {report.selected}" if report.selected else "this path"
        lines += ["", f"Cannot open {target} ({r['error']}): {r['message']}"]
        if r["hint"]:
            lines.append(f"hint: {r['hint']}")
    return "\n".join(lines)
