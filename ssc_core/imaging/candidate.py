"""Records the loaders hand to their callers: series candidates and slice previews (no identifiers)."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np


@dataclass(frozen=True)
class SeriesCandidate:
    """One openable series found at a path, described without patient identifiers.

    ``key`` is opaque and stable (the same files give the same key on every run and machine); it is a short
    hash, never a raw DICOM UID. Pass it to ``load_scan(path, series=key)``.
    """

    key: str
    description: str
    n_slices: int
    slice_thickness_mm: float | None
    kernel: str
    modality: str
    #: "axial", "coronal", "sagittal", "oblique" or "unknown" (no position information).
    orientation: str
    rows: int
    columns: int
    transfer_syntax: str
    #: True when the headers say the series loads as a scorable axial CT volume.
    scorable: bool
    #: Why it is not scorable (a sentence for the user); "" when scorable.
    reason: str = ""
    #: The ``ssc_core.errors`` class loading it raises ("MissingSlices", ...); "" when scorable.
    refusal: str = ""
    #: True for the one series ``load_scan`` opens when no series is named.
    is_default: bool = False
    #: Median distance between slice positions (mm), when known.
    slice_spacing_mm: float | None = None
    #: "dicom", "mha", "nifti" or "nrrd".
    source_format: str = "dicom"
    #: Warnings the headers already predict (duplicates, irregular spacing, gantry tilt, split series).
    warnings: tuple[str, ...] = ()
    #: Which examination (study) of this listing the series belongs to: 1, 2, ... in listing order. Series
    #: with the same number come from one study; a folder holding several patients gives several numbers.
    study: int = 1

    @property
    def matrix(self) -> str:
        return f"{self.rows} x {self.columns}"

    def to_dict(self) -> dict:
        """A JSON-ready dict (for ``ssc info --json`` and logs: holds no identifiers)."""
        d = asdict(self)
        d["warnings"] = list(self.warnings)
        return d


@dataclass(frozen=True)
class SlicePreview:
    """One slice of a volume that is still loading, delivered through ``load_scan(..., on_slice=...)``.

    ``hu`` is a read-only view into the volume being filled: its values are final (the same as in the
    returned volume) and stay valid after loading ends. The first preview is the middle slice (where a
    viewer opens); the others follow as they are decoded, in no particular order.
    """

    index: int  # position in the final volume (0 = most cranial)
    n_slices: int
    z: float  # world z of the slice (LPS mm)
    hu: np.ndarray  # (rows, columns) int16, read-only
    pixel_spacing: tuple[float, float]  # (dy, dx) mm
    loaded: int  # slices ready so far, this one included
