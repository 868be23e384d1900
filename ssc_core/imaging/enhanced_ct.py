"""Frames of enhanced (multi-frame) CT files, each with its own geometry from the functional groups.

An Enhanced CT Image (and a Legacy Converted Enhanced CT Image) stores all slices in one file. Where each
frame lies is given per frame in ``PerFrameFunctionalGroupsSequence`` (Plane Position, Plane Orientation,
Pixel Measures, Pixel Value Transformation, CT Image Frame Type), with values common to all frames in
``SharedFunctionalGroupsSequence`` (DICOM PS3.3 C.7.6.16). Every frame becomes one
:class:`~ssc_core.imaging.dicom_headers.FrameRecord`, so the frames go through exactly the same sorting and
geometry checks as single-frame slices. A multi-frame file without per-frame positions (a classic CT image
with NumberOfFrames > 1, or functional groups that omit the plane position) is marked unusable rather than
stacked in file order: the frame order alone never tells where a slice lies. Frames of one series spread
over several files (a concatenation) are simply merged by series, like single-frame slices.
"""

from __future__ import annotations

from typing import Any

from ssc_core.imaging.dicom_headers import (
    _LOCALIZER_TYPES,
    FrameRecord,
    _first_item,
    _float,
    _floats,
    _pixel_spacing,
    _positive,
    _slope,
    _text,
    _value,
)


def _group(per_frame: Any, shared: Any, keyword: str) -> Any:
    """The first item of functional group ``keyword``, per frame if present, else shared."""
    item = _first_item(per_frame, keyword) if per_frame is not None else None
    if item is None and shared is not None:
        item = _first_item(shared, keyword)
    return item


def frame_records(
    path: str,
    ds: Any,
    n_frames: int,
    common: dict,
    pixel_fields: dict,
    problem: str,
    kind: str,
) -> list[FrameRecord]:
    """One record per frame of the multi-frame file ``ds`` (localizer frames left out)."""
    shared = _first_item(ds, "SharedFunctionalGroupsSequence")
    per_frame_seq = _value(ds, "PerFrameFunctionalGroupsSequence")
    try:
        per_frame = list(per_frame_seq) if per_frame_seq is not None else []
    except Exception:
        per_frame = []
    if not problem:
        if not per_frame and shared is None:
            problem = (
                f"the file holds {n_frames} frames but no per-frame positions, so the order of the slices "
                "in space is unknown"
            )
            kind = "UnsupportedMultiFrame"
        elif per_frame and len(per_frame) != n_frames:
            problem = f"the file claims {n_frames} frames but describes {len(per_frame)}"
            kind = "UnsupportedMultiFrame"

    top_position = _floats(_value(ds, "ImagePositionPatient"), 3)
    top_orientation = _floats(_value(ds, "ImageOrientationPatient"), 6, limit=1.5)
    top_spacing = _pixel_spacing(_value(ds, "PixelSpacing"))
    top_thickness = _positive(_value(ds, "SliceThickness"))
    records: list[FrameRecord] = []
    for index in range(n_frames):
        fg = per_frame[index] if index < len(per_frame) else None
        frame_type = _group(fg, shared, "CTImageFrameTypeSequence")
        types = {t.upper() for t in _text(frame_type, "FrameType").split("\\")} if frame_type else set()
        if types & _LOCALIZER_TYPES:
            continue
        plane = _group(fg, shared, "PlanePositionSequence")
        orient = _group(fg, shared, "PlaneOrientationSequence")
        measures = _group(fg, shared, "PixelMeasuresSequence")
        transform = _group(fg, shared, "PixelValueTransformationSequence")
        position = _floats(_value(plane, "ImagePositionPatient"), 3) if plane is not None else None
        if position is None and n_frames == 1:
            position = top_position
        orientation = (
            _floats(_value(orient, "ImageOrientationPatient"), 6, limit=1.5) if orient is not None else None
        )
        spacing = _pixel_spacing(_value(measures, "PixelSpacing")) if measures is not None else None
        thickness = _positive(_value(measures, "SliceThickness")) if measures is not None else None
        if transform is not None:
            slope = _slope(_value(transform, "RescaleSlope"))
            intercept = _float(_value(transform, "RescaleIntercept")) or 0.0
        else:
            slope = _slope(_value(ds, "RescaleSlope"))
            intercept = _float(_value(ds, "RescaleIntercept")) or 0.0
        frame_problem, frame_kind = problem, kind
        if not frame_problem and position is None and n_frames > 1:
            frame_problem = f"frame {index + 1} of the multi-frame file has no position"
            frame_kind = "UnsupportedMultiFrame"
        records.append(
            FrameRecord(
                path=path,
                frame=index,
                n_frames=n_frames,
                pixel_spacing=spacing or top_spacing,
                position=position,  # type: ignore[arg-type]
                orientation=orientation or top_orientation,  # type: ignore[arg-type]
                slope=slope,
                intercept=intercept,
                thickness=thickness or top_thickness,
                problem=frame_problem,
                problem_kind=frame_kind,
                **common,
                **pixel_fields,
            )
        )
    return records
