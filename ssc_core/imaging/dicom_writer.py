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
    bits_allocated: int = 16,
) -> Dataset:
    """One uncompressed CT Image Storage dataset holding ``stored`` (rows x columns stored values).

    ``stored`` must already be the stored integer values (HU = stored * slope + intercept). ``orientation``
    is ImageOrientationPatient (row direction cosines, then column direction cosines) and ``position`` the
    ImagePositionPatient of the first transmitted pixel, both in LPS mm. ``extra`` sets further attributes
    by keyword (e.g. ``{"PixelPaddingValue": -2000}``). Compress the result with ``ds.compress(uid)``.
    ``bits_allocated`` 8 stores one byte per pixel (as JPEG baseline data need).
    """
    if stored.ndim != 2:
        raise ValueError(f"a slice is 2-D, got shape {stored.shape}")
    if bits_allocated not in (8, 16):
        raise ValueError("bits_allocated must be 8 or 16")
    signed = pixel_representation == 1
    dtype = (np.int16 if signed else np.uint16) if bits_allocated == 16 else (np.int8 if signed else np.uint8)
    pixels = np.ascontiguousarray(stored, dtype=dtype)
    sop_uid = UID(sop_instance_uid) if sop_instance_uid else generate_uid()

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
    ds.BitsAllocated = bits_allocated
    ds.BitsStored = bits_allocated
    ds.HighBit = bits_allocated - 1
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
    extra: dict[str, object] | None = None,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
) -> list[Path]:
    """Write ``volume`` as one file per slice (``IM000001.dcm``...) into ``folder``; return the paths.

    Geometry comes from the volume (ImagePositionPatient of each slice from ``index_to_world``,
    ImageOrientationPatient from ``direction``), so a loader reading these files must reproduce the
    volume exactly. Stored values are ``HU - rescale_intercept`` (slope 1). ``extra`` sets further
    attributes on every file (as in :func:`ct_slice_dataset`), e.g. a fixed ``StudyDate`` so that a
    synthetic series is byte-for-byte reproducible.
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
            position=tuple(volume.index_to_world(k, 0, 0)),
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
            extra=extra,
        )
        if UID(transfer_syntax) != ExplicitVRLittleEndian:
            ds.compress(UID(transfer_syntax))
        path = out / f"IM{k + 1:06d}.dcm"
        ds.save_as(path, enforce_file_format=True)
        paths.append(path)
        report(progress, k + 1, n, "Writing DICOM")
    return paths


def enhanced_ct_dataset(
    frames: np.ndarray,
    *,
    positions: Sequence[Sequence[float]] | None,
    orientation: Sequence[float] = (1.0, 0.0, 0.0, 0.0, 1.0, 0.0),
    pixel_spacing: Sequence[float] = (0.7, 0.7),
    slice_thickness: float = 1.0,
    rescale_intercepts: Sequence[float] | float = -1024.0,
    uids: SeriesUIDs,
    series_description: str = "",
    kernel: str = "",
    patient_pseudonym: str = "ANONYMOUS",
    frame_types: Sequence[str] | None = None,
) -> Dataset:
    """One Enhanced CT Image Storage dataset holding ``frames`` (n, rows, columns) of int16 stored values.

    Frame ``i`` lies at ``positions[i]`` (PlanePositionSequence per frame; ``None`` leaves the positions
    out, which readers must refuse). Orientation, pixel measures and (when a single value is given) the
    rescale are shared functional groups; a sequence of intercepts is written per frame. ``frame_types``
    sets each frame's FrameType value 3 (e.g. "LOCALIZER"), default "AXIAL".
    """
    from pydicom.sequence import Sequence as DicomSequence

    if frames.ndim != 3:
        raise ValueError(f"frames are 3-D (n, rows, columns), got shape {frames.shape}")
    n = frames.shape[0]
    sop_uid = generate_uid()
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = UID("1.2.840.10008.5.1.4.1.1.2.1")
    meta.MediaStorageSOPInstanceUID = sop_uid
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    meta.ImplementationClassUID = PYDICOM_IMPLEMENTATION_UID

    def item(**values: object) -> Dataset:
        d = Dataset()
        for keyword, value in values.items():
            setattr(d, keyword, value)
        return d

    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID = meta.MediaStorageSOPClassUID
    ds.SOPInstanceUID = sop_uid
    ds.StudyInstanceUID = uids.study
    ds.SeriesInstanceUID = uids.series
    ds.FrameOfReferenceUID = uids.frame_of_reference
    ds.Modality = "CT"
    ds.ImageType = ["ORIGINAL", "PRIMARY", "AXIAL", "NONE"]
    ds.PatientName = patient_pseudonym
    ds.PatientID = patient_pseudonym
    ds.PatientBirthDate = ""
    ds.PatientIdentityRemoved = "YES"
    ds.SeriesNumber = 1
    ds.InstanceNumber = 1
    ds.SeriesDescription = series_description
    ds.Manufacturer = "SSc Scoring Workstation"
    ds.ContentQualification = "RESEARCH"
    ds.NumberOfFrames = n
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.Rows, ds.Columns = (int(v) for v in frames.shape[1:])
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 1
    shared = item(
        PixelMeasuresSequence=DicomSequence(
            [
                item(
                    PixelSpacing=[f"{float(v):.6g}" for v in pixel_spacing],
                    SliceThickness=f"{float(slice_thickness):.6g}",
                )
            ]
        ),
        PlaneOrientationSequence=DicomSequence(
            [item(ImageOrientationPatient=[f"{float(v):.6g}" for v in orientation])]
        ),
    )
    if kernel:
        shared.CTReconstructionSequence = DicomSequence([item(ConvolutionKernel=kernel)])
    per_frame_rescale = not isinstance(rescale_intercepts, (int, float))
    if isinstance(rescale_intercepts, (int, float)):
        shared.PixelValueTransformationSequence = DicomSequence(
            [item(RescaleIntercept=f"{float(rescale_intercepts):.6g}", RescaleSlope="1", RescaleType="HU")]
        )
    ds.SharedFunctionalGroupsSequence = DicomSequence([shared])
    per_frame = []
    for i in range(n):
        fg = item(FrameContentSequence=DicomSequence([item(InStackPositionNumber=i + 1)]))
        if positions is not None:
            fg.PlanePositionSequence = DicomSequence(
                [item(ImagePositionPatient=[f"{float(v):.6g}" for v in positions[i]])]
            )
        if per_frame_rescale:
            intercept = float(rescale_intercepts[i])  # type: ignore[index]
            fg.PixelValueTransformationSequence = DicomSequence(
                [item(RescaleIntercept=f"{intercept:.6g}", RescaleSlope="1", RescaleType="HU")]
            )
        frame_type = frame_types[i] if frame_types is not None else "AXIAL"
        fg.CTImageFrameTypeSequence = DicomSequence(
            [item(FrameType=["ORIGINAL", "PRIMARY", frame_type, "NONE"])]
        )
        per_frame.append(fg)
    ds.PerFrameFunctionalGroupsSequence = DicomSequence(per_frame)
    ds.PixelData = np.ascontiguousarray(frames, dtype=np.int16).tobytes()
    return ds
