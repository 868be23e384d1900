"""Build the CTVolume of one judged DICOM series: allocate once, fill, correct tilt, check plausibility."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ssc_core.imaging.candidate import SlicePreview
from ssc_core.imaging.dicom_geometry import resample_tilt
from ssc_core.imaging.dicom_headers import common_value
from ssc_core.imaging.dicom_pixels import fill_volume
from ssc_core.imaging.dicom_series import SeriesGroup
from ssc_core.imaging.hu import check_contains_air
from ssc_core.imaging.transfer_syntax import syntax_name
from ssc_core.imaging.volume import CTVolume, SeriesInfo
from ssc_core.progress import CancelToken, ProgressCallback

_PRONE = ("HFP", "FFP")


def _readonly(a: np.ndarray) -> np.ndarray:
    view = a.view()
    view.flags.writeable = False
    return view


def load_group(
    group: SeriesGroup,
    *,
    extra_warnings: tuple[str, ...] = (),
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
    on_slice: Callable[[SlicePreview], None] | None = None,
) -> CTVolume:
    """Read the pixels of ``group`` (already judged loadable) into a new :class:`CTVolume`."""
    geometry = group.geometry
    assert geometry is not None
    assert group.error is None
    records = [group.records[i] for i in geometry.order]
    n = len(records)
    volume = np.empty((n, geometry.rows, geometry.cols), dtype=np.int16)
    first = n // 2
    tilted = geometry.tilt_positions is not None

    def preview(k: int, done: int) -> None:
        assert on_slice is not None
        on_slice(
            SlicePreview(
                index=k,
                n_slices=n,
                z=float(geometry.slice_z[k]),
                hu=_readonly(volume[k]),
                pixel_spacing=geometry.pixel_spacing,
                loaded=done,
            )
        )

    on_ready = preview if on_slice is not None and not tilted else None
    low = fill_volume(
        records, volume, geometry.inplane, first=first, on_ready=on_ready, progress=progress, cancel=cancel
    )
    check_contains_air(low)
    if tilted:
        volume = resample_tilt(volume, geometry)
        if on_slice is not None:
            for done, k in enumerate([first, *(i for i in range(n) if i != first)], start=1):
                preview(k, done)

    warnings = list(group.candidate.warnings if group.candidate is not None else ())
    if common_value([r.patient_position for r in records]) in _PRONE:
        warnings.append(
            "Prone acquisition: shown in the standard orientation (anterior at the top of the image)."
        )
    warnings.extend(extra_warnings)
    info = SeriesInfo(
        description=common_value([r.description for r in records]) or "",
        kernel=common_value([r.kernel for r in records]) or "",
        slice_thickness_mm=common_value([r.thickness for r in records]),
        modality=common_value([r.modality for r in records]) or "CT",
        manufacturer=common_value([r.manufacturer for r in records]) or "",
        model=common_value([r.model for r in records]) or "",
        transfer_syntax=syntax_name(common_value([r.transfer_syntax for r in records]) or ""),
        source_format="dicom",
    )
    return CTVolume(
        hu=volume,
        spacing=geometry.spacing,
        origin=(float(geometry.origin[0]), float(geometry.origin[1]), float(geometry.origin[2])),
        direction=geometry.direction,
        slice_z=geometry.slice_z,
        info=info,
        warnings=tuple(dict.fromkeys(warnings)),
    )
