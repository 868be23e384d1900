"""Write CT volumes as valid, de-identified DICOM CT Image Storage series (pydicom).

Used for the phantom cohort, the demo study and test/benchmark data. The files carry no real patient
identifier: the patient name and ID are the pseudonym given by the caller, birth date is empty, and UIDs
are generated fresh (or derived deterministically from a seed so that a phantom is reproducible).
"""

from __future__ import annotations

import datetime as _dt
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import (
    PYDICOM_IMPLEMENTATION_UID,
    UID,
    CTImageStorage,
    ExplicitVRLittleEndian,
    generate_uid,
)

from ssc_core.imaging.volume import CTVolume
from ssc_core.progress import CancelToken, ProgressCallback, check_cancel, report


@dataclass(frozen=True)
class SeriesUIDs:
    """The UIDs shared by the files of one series."""

    study: str
    series: str
    frame_of_reference: str

    @classmethod
    def new(cls, seed: str | None = None) -> SeriesUIDs:
        """Fresh UIDs, or reproducible ones derived from ``seed`` (same seed -> same UIDs)."""
        if seed is None:
            return cls(generate_uid(), generate_uid(), generate_uid())
        return cls(
            generate_uid(entropy_srcs=[seed, "study"]),
            generate_uid(entropy_srcs=[seed, "series"]),
            generate_uid(entropy_srcs=[seed, "for"]),
        )


def ct_slice_dataset(
    stored: np.ndarray,
    *,
    position: Sequence[float],
    orientation: Sequence[float] = (1.0, 0.0, 0.0, 0.0, 1.0, 0.0),
    pixel_spacing: Sequence[float] = (0.7, 0.7),
    slice_thickness: float | None = 1.0,
    rescale_slope: float = 1.0,
    rescale_intercept: float = -1024.0,
    instance_number: int = 1,
    uids: SeriesUIDs,
    sop_instance_uid: str | None = None,
    pixel_representation: int = 1,
    series_description: str = "",
    kernel: str = "",
    patient_pseudonym: str = "ANONYMOUS",
    image_type: Sequence[str] = ("ORIGINAL", "PRIMARY", "AXIAL"),
    transfer_syntax: str = ExplicitVRLittleEndian,
    extra: dict[str, object] | None = None,
) -> Dataset:
    """One uncompressed CT Image Storage dataset holding ``stored`` (rows x columns stored values).

    ``stored`` must already be the stored integer values (HU = stored * slope + intercept). ``orientation``
    is ImageOrientationPatient (row direction cosines, then column direction cosines) and ``position`` the
    ImagePositionPatient of the first transmitted pixel, both in LPS mm. ``extra`` sets further attributes
    by keyword (e.g. ``{"PixelPaddingValue": -2000}``). Compress the result with ``ds.compress(uid)``.
    """
    if stored.ndim != 2:
        raise ValueError(f"a slice is 2-D, got shape {stored.shape}")
    dtype = np.int16 if pixel_representation == 1 else np.uint16
    pixels = np.ascontiguousarray(stored, dtype=dtype)
    sop_uid = sop_instance_uid or generate_uid()

    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = CTImageStorage
    meta.MediaStorageSOPInstanceUID = sop_uid
    meta.TransferSyntaxUID = UID(transfer_syntax)
    meta.ImplementationClassUID = PYDICOM_IMPLEMENTATION_UID

    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID = CTImageStorage
    ds.SOPInstanceUID = sop_uid
    ds.StudyInstanceUID = uids.study
    ds.SeriesInstanceUID = uids.series
    ds.FrameOfReferenceUID = uids.frame_of_reference
    ds.Modality = "CT"
    ds.ImageType = list(image_type)
    ds.PatientName = patient_pseudonym
    ds.PatientID = patient_pseudonym
    ds.PatientBirthDate = ""
    ds.PatientSex = ""
    ds.PatientIdentityRemoved = "YES"
    ds.DeidentificationMethod = "synthetic data, no patient"
    today = _dt.date.today().strftime("%Y%m%d")
    ds.StudyDate = today
    ds.SeriesDate = today
    ds.StudyID = "1"
    ds.AccessionNumber = ""
    ds.ReferringPhysicianName = ""
    ds.SeriesNumber = 1
    ds.InstanceNumber = int(instance_number)
    ds.SeriesDescription = series_description
    ds.Manufacturer = "SSc Scoring Workstation"
    if kernel:
        ds.ConvolutionKernel = kernel
    ds.PatientPosition = "HFS"
    ds.ImagePositionPatient = [f"{float(v):.6g}" for v in position]
    ds.ImageOrientationPatient = [f"{float(v):.6g}" for v in orientation]
    ds.PixelSpacing = [f"{float(v):.6g}" for v in pixel_spacing]
    if slice_thickness is not None:
        ds.SliceThickness = f"{float(slice_thickness):.6g}"
    # SliceLocation is informative only; loaders must use ImagePositionPatient.
    ds.SliceLocation = f"{float(position[2]):.6g}"
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.Rows, ds.Columns = (int(n) for n in pixels.shape)
    ds.BitsAllocated = 16
    ds.BitsStored = 16
    ds.HighBit = 15
    ds.PixelRepresentation = int(pixel_representation)
    ds.RescaleSlope = f"{float(rescale_slope):.6g}"
    ds.RescaleIntercept = f"{float(rescale_intercept):.6g}"
    ds.RescaleType = "HU"
    ds.WindowCenter = "-600"
    ds.WindowWidth = "1500"
    for keyword, value in (extra or {}).items():
        setattr(ds, keyword, value)
    ds.PixelData = pixels.tobytes()
    return ds


def write_dicom_series(
    volume: CTVolume,
    folder: str | os.PathLike[str],
    *,
    series_description: str = "",
    kernel: str = "",
    patient_pseudonym: str = "ANONYMOUS",
    uid_seed: str | None = None,
    rescale_intercept: float = -1024.0,
    transfer_syntax: str = ExplicitVRLittleEndian,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
) -> list[Path]:
    """Write ``volume`` as one file per slice (``IM000001.dcm``...) into ``folder``; return the paths.

    Geometry comes from the volume (ImagePositionPatient of each slice from ``index_to_world``,
    ImageOrientationPatient from ``direction``), so a loader reading these files must reproduce the
    volume exactly. Stored values are ``HU - rescale_intercept`` (slope 1).
    """
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    uids = SeriesUIDs.new(uid_seed)
    d = volume.direction
    orientation = (*d[2], *d[1])  # row direction = +x array axis, column direction = +y array axis
    dz, dy, dx = volume.spacing
    info = volume.info
    thickness = info.slice_thickness_mm if info.slice_thickness_mm is not None else dz
    paths: list[Path] = []
    n = volume.n_slices
    for k in range(n):
        check_cancel(cancel)
        stored = volume.hu[k].astype(np.int32) - round(rescale_intercept)
        if stored.min() < -32768 or stored.max() > 32767:
            raise ValueError("HU values do not fit int16 with this rescale intercept")
        sop = generate_uid(entropy_srcs=[uid_seed, "sop", str(k)]) if uid_seed is not None else None
        ds = ct_slice_dataset(
            stored,
            position=volume.index_to_world(k, 0, 0),
            orientation=orientation,
            pixel_spacing=(dy, dx),
            slice_thickness=thickness,
            rescale_intercept=rescale_intercept,
            instance_number=k + 1,
            uids=uids,
            sop_instance_uid=sop,
            series_description=series_description or info.description,
            kernel=kernel or info.kernel,
            patient_pseudonym=patient_pseudonym,
        )
        if UID(transfer_syntax) != ExplicitVRLittleEndian:
            ds.compress(UID(transfer_syntax))
        path = out / f"IM{k + 1:06d}.dcm"
        ds.save_as(path, enforce_file_format=True)
        paths.append(path)
        report(progress, k + 1, n, "Writing DICOM")
    return paths
