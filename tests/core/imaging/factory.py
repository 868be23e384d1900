"""Small synthetic CT series for loader tests, written with the project's own DICOM writer.

Every slice is unique (a marker block whose HU encodes the slice's cranio-caudal rank), rows differ from
columns, and there is air, soft tissue and lung, so ordering, transposition and rescale errors all show.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from pydicom.uid import ExplicitVRLittleEndian

from ssc_core.imaging.dicom_writer import SeriesUIDs, ct_slice_dataset

ROWS, COLS = 24, 20


def make_hu(n: int = 8, rows: int = ROWS, cols: int = COLS, seed: int = 0) -> np.ndarray:
    """A (n, rows, cols) int16 HU volume: air, a body of soft tissue, two lungs, a per-slice marker."""
    rng = np.random.default_rng(seed)
    hu = np.full((n, rows, cols), -1000, dtype=np.int16)
    hu[:, 2 : rows - 2, 1 : cols - 1] = 40
    hu[:, 5 : rows - 5, 3 : cols // 2 - 1] = -850
    hu[:, 5 : rows - 5, cols // 2 + 1 : cols - 3] = -860
    hu += rng.integers(-5, 6, size=hu.shape).astype(np.int16)
    for k in range(n):
        hu[k, 0:2, 0:3] = 200 + 25 * k  # slice marker: rank from cranial
    return hu


def axial_positions(n: int, spacing: float = 2.5, top_z: float = 50.0, x0: float = -7.0, y0: float = -8.0):
    """IPP of n axial slices from top_z downwards (cranial first)."""
    return [(x0, y0, top_z - k * spacing) for k in range(n)]


def write_series(
    folder: Path,
    hu: np.ndarray,
    *,
    positions: Sequence[Sequence[float]] | None = None,
    orientation: Sequence[float] = (1.0, 0.0, 0.0, 0.0, 1.0, 0.0),
    pixel_spacing: tuple[float, float] = (0.7, 0.7),
    thickness: float | None = 2.5,
    intercepts: Sequence[float] | None = None,
    slopes: Sequence[float] | None = None,
    stored: Sequence[np.ndarray] | None = None,
    pixel_representation: int = 1,
    uids: SeriesUIDs | None = None,
    description: str = "Chest 2.5 B70f",
    kernel: str = "B70f",
    names: Sequence[str] | None = None,
    order: Sequence[int] | None = None,
    transfer_syntax: str = ExplicitVRLittleEndian,
    extra: dict | None = None,
    image_type: Sequence[str] = ("ORIGINAL", "PRIMARY", "AXIAL"),
    patient: str = "ANONYMOUS",
) -> list[Path]:
    """Write ``hu`` slice by slice (slice k at ``positions[k]``); return the file paths in slice order.

    ``stored`` overrides the stored values (then ``intercepts``/``slopes`` must describe them); ``order``
    permutes the instance numbers and file names (shuffled files); ``transfer_syntax`` compresses with
    pydicom.
    """
    from pydicom.uid import UID

    folder.mkdir(parents=True, exist_ok=True)
    n = hu.shape[0]
    positions = positions or axial_positions(n)
    uids = uids or SeriesUIDs.new()
    order = list(order) if order is not None else list(range(n))
    paths = []
    for k in range(n):
        intercept = intercepts[k] if intercepts is not None else -1024.0
        slope = slopes[k] if slopes is not None else 1.0
        values = (
            stored[k]
            if stored is not None
            else np.rint((hu[k].astype(np.float64) - intercept) / slope).astype(np.int32)
        )
        if pixel_representation == 0:
            values = np.asarray(values).astype(np.uint16)
        ds = ct_slice_dataset(
            np.asarray(values),
            position=positions[k],
            orientation=orientation,
            pixel_spacing=pixel_spacing,
            slice_thickness=thickness,
            rescale_slope=slope,
            rescale_intercept=intercept,
            instance_number=order[k] + 1,
            uids=uids,
            pixel_representation=pixel_representation,
            series_description=description,
            kernel=kernel,
            patient_pseudonym=patient,
            image_type=image_type,
            extra=extra,
        )
        if UID(transfer_syntax) != ExplicitVRLittleEndian:
            ds.compress(UID(transfer_syntax))
        name = names[k] if names is not None else f"IM{order[k] + 1:04d}.dcm"
        path = folder / name
        ds.save_as(path, enforce_file_format=True)
        paths.append(path)
    return paths


def tilted_geometry(n: int, angle_deg: float, spacing: float = 2.5, top_z: float = 50.0):
    """IOP and IPPs of a gantry-tilted axial acquisition: planes rotated about x, table along z."""
    t = math.radians(angle_deg)
    orientation = (1.0, 0.0, 0.0, 0.0, math.cos(t), math.sin(t))
    return orientation, [(-7.0, -8.0, top_z - k * spacing) for k in range(n)]


def expected_axial(hu: np.ndarray) -> np.ndarray:
    """What the loader must return for ``hu`` written as standard axial slices: the air floor applied."""
    out = hu.copy()
    out[out < -1024] = -1000
    return out


def gdcm_jpeg_lossless(path: Path, *, syntax: str = "1.2.840.10008.1.2.4.70") -> None:
    """Recompress the single-frame file at ``path`` with GDCM's JPEG lossless encoder (via SimpleITK).

    GDCM writes Process 14 SV1 (1.2.840.10008.1.2.4.70); an SV1 stream is also a valid Process 14
    (1.2.840.10008.1.2.4.57) stream, so ``syntax`` may name either.
    """
    import tempfile

    import pydicom
    import SimpleITK as sitk

    ds = pydicom.dcmread(path)
    stored = ds.pixel_array
    image = sitk.GetImageFromArray(stored[None].astype(np.int16 if ds.PixelRepresentation else np.uint16))
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "c.dcm"
        writer = sitk.ImageFileWriter()
        writer.SetImageIO("GDCMImageIO")
        writer.SetFileName(str(out))
        writer.SetUseCompression(True)
        writer.SetCompressor("JPEG")
        writer.Execute(image)
        compressed = pydicom.dcmread(out)
    assert compressed.file_meta.TransferSyntaxUID == "1.2.840.10008.1.2.4.70"
    ds.PixelData = compressed.PixelData
    ds["PixelData"].VR = "OB"
    ds["PixelData"].is_undefined_length = True
    ds.file_meta.TransferSyntaxUID = syntax
    ds.save_as(path, enforce_file_format=True)


def pillow_jpeg_baseline(path: Path, *, quality: int = 95) -> None:
    """Recompress an 8-bit single-frame file at ``path`` as JPEG baseline (Pillow's libjpeg encoder)."""
    import io

    import pydicom
    from PIL import Image
    from pydicom.encaps import encapsulate

    ds = pydicom.dcmread(path)
    assert ds.BitsAllocated == 8
    buffer = io.BytesIO()
    Image.fromarray(ds.pixel_array.astype(np.uint8), mode="L").save(buffer, format="JPEG", quality=quality)
    ds.PixelData = encapsulate([buffer.getvalue()])
    ds["PixelData"].VR = "OB"
    ds["PixelData"].is_undefined_length = True
    ds.file_meta.TransferSyntaxUID = "1.2.840.10008.1.2.4.50"
    ds.save_as(path, enforce_file_format=True)
