"""Decode one tiny synthetic series of every supported transfer syntax through the loader.

The pixels are a synthetic 64 x 64 chest-like pattern (:func:`sample_hu`, integer arithmetic only, so every
machine makes the same values): no patient data. Most samples are made at run time by the project's DICOM
writer and the encoders the workstation ships; the syntaxes no shipped library can encode (JPEG Extended
12-bit and the three HTJ2K syntaxes) are read from ``resources/selftest``, made once from the same pixels by
``docs/scripts/make_codec_samples.py`` (DCMTK and OpenJPH). Lossless syntaxes must give the pixels back
exactly; lossy ones within the error a codec of that kind makes.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ssc_core.constants import SELFTEST_SAMPLES_SUBDIR
from ssc_core.imaging import transfer_syntax as ts
from ssc_core.selftest.base import Check, run_check

#: Size of a sample slice (OpenJPEG needs 32 pixels or more per side) and slices per sample series.
SAMPLE_SIZE = 64
SAMPLE_SLICES = 2
#: Geometry of the sample series (mm; slice 0 at world z SAMPLE_TOP_Z_MM).
SAMPLE_SPACING_MM = (2.5, 0.7, 0.7)
SAMPLE_TOP_Z_MM = 50.0


@dataclass(frozen=True)
class SyntaxSample:
    """How the sample of one transfer syntax is made and how closely it must decode.

    ``encoder`` is "native" (pydicom writes it), "pydicom" (``Dataset.compress``), "gdcm" (GDCM inside
    SimpleITK), "pillow" (Pillow's libjpeg, 8-bit) or "shipped" (a file in ``resources/selftest``).
    ``max_error_hu``/``mean_error_hu`` are 0 for lossless syntaxes.
    """

    uid: str
    encoder: str
    max_error_hu: float = 0.0
    mean_error_hu: float = 0.0

    @property
    def name(self) -> str:
        return ts.syntax_name(self.uid)

    @property
    def lossless(self) -> bool:
        return self.max_error_hu == 0.0


#: Every transfer syntax the loader decodes (``tests/core/test_selftest.py`` checks that none is missing).
SAMPLES: tuple[SyntaxSample, ...] = (
    SyntaxSample(ts.EXPLICIT_VR_LITTLE_ENDIAN, "native"),
    SyntaxSample(ts.IMPLICIT_VR_LITTLE_ENDIAN, "native"),
    SyntaxSample(ts.DEFLATED_EXPLICIT_VR_LITTLE_ENDIAN, "native"),
    SyntaxSample(ts.EXPLICIT_VR_BIG_ENDIAN, "native"),
    # 8-bit stored values, slope 8: the quantisation is part of the expected values, the codec adds a few
    # grey levels (x 8 HU) at sharp edges
    SyntaxSample("1.2.840.10008.1.2.4.50", "pillow", max_error_hu=400.0, mean_error_hu=16.0),
    SyntaxSample("1.2.840.10008.1.2.4.51", "shipped", max_error_hu=400.0, mean_error_hu=20.0),
    SyntaxSample("1.2.840.10008.1.2.4.57", "gdcm"),
    SyntaxSample("1.2.840.10008.1.2.4.70", "gdcm"),
    SyntaxSample("1.2.840.10008.1.2.4.80", "pydicom"),
    SyntaxSample("1.2.840.10008.1.2.4.81", "pydicom", max_error_hu=2.0, mean_error_hu=2.0),
    SyntaxSample("1.2.840.10008.1.2.4.90", "pydicom"),
    SyntaxSample("1.2.840.10008.1.2.4.91", "pydicom", max_error_hu=400.0, mean_error_hu=20.0),
    SyntaxSample("1.2.840.10008.1.2.4.201", "shipped"),
    SyntaxSample("1.2.840.10008.1.2.4.202", "shipped"),
    SyntaxSample("1.2.840.10008.1.2.4.203", "shipped", max_error_hu=400.0, mean_error_hu=20.0),
    SyntaxSample("1.2.840.10008.1.2.5", "pydicom"),
)


def _ellipse(shape: tuple[int, int], cy: int, cx: int, ry: int, rx: int) -> np.ndarray:
    y, x = np.ogrid[: shape[0], : shape[1]]
    return (x - cx) ** 2 * ry * ry + (y - cy) ** 2 * rx * rx <= rx * rx * ry * ry


def sample_hu(index: int, size: int = SAMPLE_SIZE) -> np.ndarray:
    """Slice ``index`` of the synthetic sample (int16 HU): air, a soft-tissue body with a fatty rim, two
    textured lungs, a bright spine and a per-slice marker square. Integer arithmetic only."""
    shape = (size, size)
    hu = np.full(shape, -1000, dtype=np.int32)
    c = size // 2
    body = _ellipse(shape, c, c, size * 13 // 32, size * 15 // 32)
    hu[body] = -90  # fat
    hu[_ellipse(shape, c, c, size * 11 // 32, size * 13 // 32)] = 40  # soft tissue
    y, x = np.mgrid[:size, :size]
    texture = ((x * 7 + y * 13 + index * 5) % 23) * 6 - 66  # -66..+66 HU, a fine reticular pattern
    for cx in (c - size * 7 // 32, c + size * 7 // 32):
        lung = _ellipse(shape, c - size // 32, cx, size * 9 // 32, size * 5 // 32)
        hu[lung] = -850 + texture[lung]
    hu[_ellipse(shape, c + size * 9 // 32, c, size // 16, size // 16)] = 700  # vertebra
    hu[2:6, 2:6] = 200 + 50 * index  # marker: which slice is which
    return hu.astype(np.int16)


def sample_volume():
    """The sample series as a :class:`~ssc_core.imaging.volume.CTVolume` (cranial slice first)."""
    from ssc_core.imaging.volume import CTVolume, SeriesInfo

    hu = np.stack([sample_hu(k) for k in range(SAMPLE_SLICES)])
    info = SeriesInfo(description="self-test sample", kernel="B70f", slice_thickness_mm=SAMPLE_SPACING_MM[0])
    return CTVolume.from_array(hu, SAMPLE_SPACING_MM, top_z=SAMPLE_TOP_Z_MM, info=info)


def expected_hu(sample: SyntaxSample) -> np.ndarray:
    """The HU the loader must return for ``sample`` (before the codec's own error)."""
    hu = np.stack([sample_hu(k) for k in range(SAMPLE_SLICES)]).astype(np.int32)
    if sample.encoder == "pillow":  # 8-bit stored values, HU = 8 * stored - 1024
        return np.clip(np.rint((hu + 1024) / 8.0), 0, 255).astype(np.int32) * 8 - 1024
    return hu


def shipped_dir() -> Path:
    """Folder of the shipped samples (``resources/selftest``; inside the bundle when frozen)."""
    from ssc_core.ai.bundle import resources_dir

    return resources_dir() / SELFTEST_SAMPLES_SUBDIR


def shipped_folder(uid: str) -> Path:
    """Where the shipped sample series of ``uid`` lies."""
    return shipped_dir() / uid


# --- writing the samples ---------------------------------------------------------------------------------


def write_sample(sample: SyntaxSample, folder: Path) -> Path:
    """Write the sample series of ``sample`` into ``folder`` (new); return the folder to load.

    Shipped samples are not written: their folder in ``resources/selftest`` is returned.
    """
    if sample.encoder == "shipped":
        src = shipped_folder(sample.uid)
        if not src.is_dir():
            raise FileNotFoundError(f"the shipped sample is missing ({SELFTEST_SAMPLES_SUBDIR}/{sample.uid})")
        return src
    from ssc_core.imaging.dicom_writer import write_dicom_series

    paths = write_dicom_series(sample_volume(), folder, uid_seed="ssc-selftest")
    for path in paths:
        if sample.encoder == "pydicom":
            _pydicom_compress(path, sample.uid)
        elif sample.encoder == "native":
            _rewrite_native(path, sample.uid)
        elif sample.encoder == "gdcm":
            _gdcm_jpeg_lossless(path, sample.uid)
        elif sample.encoder == "pillow":
            _pillow_jpeg_baseline(path)
        else:  # pragma: no cover - SAMPLES names only the encoders above
            raise ValueError(f"unknown encoder {sample.encoder!r}")
    return folder


#: Settings of pydicom's lossy encoders: JPEG-LS NEAR = 2, JPEG 2000 at 4:1.
_LOSSY_OPTIONS: dict[str, dict[str, object]] = {
    "1.2.840.10008.1.2.4.81": {"jls_error": 2},
    "1.2.840.10008.1.2.4.91": {"j2k_cr": [4]},
}


def _pydicom_compress(path: Path, uid: str) -> None:
    """Compress with pydicom's encoders (pylibjpeg-openjpeg, pylibjpeg-rle, pyjpegls)."""
    import pydicom

    ds = pydicom.dcmread(path)
    ds.compress(uid, **_LOSSY_OPTIONS.get(uid, {}))  # type: ignore[arg-type]
    ds.save_as(path, enforce_file_format=True)


def _rewrite_native(path: Path, uid: str) -> None:
    """Rewrite an Explicit VR Little Endian file with another uncompressed (or deflated) syntax."""
    import pydicom
    from pydicom.uid import UID

    if uid == ts.EXPLICIT_VR_LITTLE_ENDIAN:
        return
    ds = pydicom.dcmread(path)
    big = uid == ts.EXPLICIT_VR_BIG_ENDIAN
    if big:
        ds.PixelData = ds.pixel_array.astype(">i2").tobytes()
    ds.file_meta.TransferSyntaxUID = UID(uid)
    pydicom.dcmwrite(
        path,
        ds,
        implicit_vr=uid == ts.IMPLICIT_VR_LITTLE_ENDIAN,
        little_endian=not big,
        enforce_file_format=not big,
        force_encoding=big,
    )


def _gdcm_jpeg_lossless(path: Path, uid: str) -> None:
    """Recompress with GDCM's JPEG lossless encoder (inside SimpleITK).

    GDCM writes Process 14 SV1 (…4.70); an SV1 stream is also a valid Process 14 (…4.57) stream.
    """
    import pydicom
    import SimpleITK as sitk
    from pydicom.uid import UID

    ds = pydicom.dcmread(path)
    image = sitk.GetImageFromArray(ds.pixel_array[None].astype(np.int16))
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "c.dcm"
        writer = sitk.ImageFileWriter()
        writer.SetImageIO("GDCMImageIO")
        writer.SetFileName(str(out))
        writer.SetUseCompression(True)
        writer.SetCompressor("JPEG")
        writer.Execute(image)
        compressed = pydicom.dcmread(out)
    if compressed.file_meta.TransferSyntaxUID != "1.2.840.10008.1.2.4.70":
        raise RuntimeError(f"GDCM wrote {compressed.file_meta.TransferSyntaxUID}, not JPEG lossless SV1")
    ds.PixelData = compressed.PixelData
    ds["PixelData"].VR = "OB"
    ds["PixelData"].is_undefined_length = True
    ds.file_meta.TransferSyntaxUID = UID(uid)
    ds.save_as(path, enforce_file_format=True)


def _pillow_jpeg_baseline(path: Path) -> None:
    """Replace the pixels by 8-bit stored values (slope 8) compressed as JPEG baseline by Pillow."""
    import io

    import pydicom
    from PIL import Image
    from pydicom.encaps import encapsulate
    from pydicom.uid import UID

    ds = pydicom.dcmread(path)
    hu = ds.pixel_array.astype(np.int32) * int(float(ds.RescaleSlope)) + int(float(ds.RescaleIntercept))
    stored = np.clip(np.rint((hu + 1024) / 8.0), 0, 255).astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(stored, mode="L").save(buffer, format="JPEG", quality=95)
    ds.BitsAllocated = ds.BitsStored = 8
    ds.HighBit = 7
    ds.PixelRepresentation = 0
    ds.RescaleSlope = "8"
    ds.RescaleIntercept = "-1024"
    ds.PixelData = encapsulate([buffer.getvalue()])
    ds["PixelData"].VR = "OB"
    ds["PixelData"].is_undefined_length = True
    ds.file_meta.TransferSyntaxUID = UID("1.2.840.10008.1.2.4.50")
    ds.save_as(path, enforce_file_format=True)


# --- checking ----------------------------------------------------------------------------------------------


def decode_sample(sample: SyntaxSample, workdir: Path) -> str:
    """Make (or find) the sample of ``sample``, load it through the loader and compare; the detail text.

    Raises when the series is not offered, not decoded, or decodes to other pixels than it was made from.
    """
    from ssc_core.imaging.loader import find_series, load_scan

    folder = write_sample(sample, workdir / sample.uid)
    candidates = find_series(folder)
    if len(candidates) != 1:
        raise RuntimeError(f"expected one series, the loader found {len(candidates)}")
    (candidate,) = candidates
    if not candidate.scorable:
        raise RuntimeError(f"the loader refuses the sample: {candidate.reason}")
    volume = load_scan(folder).volume
    expected = expected_hu(sample)
    if volume.hu.shape != expected.shape:
        raise RuntimeError(f"decoded shape {volume.hu.shape}, expected {expected.shape}")
    err = np.abs(volume.hu.astype(np.int32) - expected)
    if sample.lossless:
        if err.max() != 0:
            raise RuntimeError(f"lossless syntax decoded with errors (max {err.max()} HU)")
        how = "exact"
    else:
        if err.max() > sample.max_error_hu or err.mean() > sample.mean_error_hu:
            raise RuntimeError(
                f"decoded with error max {err.max()} HU, mean {err.mean():.1f} HU "
                f"(allowed {sample.max_error_hu:g} / {sample.mean_error_hu:g})"
            )
        how = f"lossy, mean error {err.mean():.1f} HU"
    made = {
        "native": "pydicom",
        "pydicom": "pydicom encoder",
        "gdcm": "GDCM encoder",
        "pillow": "Pillow encoder",
        "shipped": "shipped sample",
    }[sample.encoder]
    plugins = decoder_plugins(sample.uid)
    return f"{how} ({made}; decoders: {', '.join(plugins)})" if plugins else f"{how} ({made})"


def decoder_plugins(uid: str) -> tuple[str, ...]:
    """pydicom's decoder plugins available for ``uid`` (empty for native syntaxes, which need none).

    In a frozen bundle this shows whether pylibjpeg's plugins were found through their entry points.
    """
    if ts.is_native(uid):
        return ()
    from pydicom.pixels import get_decoder
    from pydicom.uid import UID

    return tuple(get_decoder(UID(uid)).available_plugins)


#: The pylibjpeg plugins the workstation declares (pyproject.toml), found through their entry points.
PYLIBJPEG_PLUGINS = ("libjpeg", "openjpeg", "rle")


def decoder_libraries() -> str:
    """The decoder libraries found (the detail text); raises when a declared one is missing.

    pylibjpeg finds its plugins through ``importlib.metadata`` entry points, which a frozen bundle keeps only
    when the distributions' metadata were collected (``build.spec``).
    """
    from importlib import metadata

    eps = metadata.entry_points(group="pylibjpeg.pixel_data_decoders")
    found = sorted({ep.value.split(":")[0] for ep in eps})
    missing = [p for p in PYLIBJPEG_PLUGINS if p not in found]
    if missing:
        raise RuntimeError(
            f"pylibjpeg plugins not found through their entry points: {', '.join(missing)} "
            f"(found: {', '.join(found) or 'none'})"
        )
    versions = []
    for dist, label in (("pydicom", "pydicom"), ("pyjpegls", "pyjpegls"), ("pillow", "Pillow")):
        try:
            versions.append(f"{label} {metadata.version(dist)}")
        except metadata.PackageNotFoundError:
            versions.append(f"{label} (version unknown)")
    import SimpleITK as sitk

    versions.append(f"SimpleITK {sitk.Version.VersionString()} (GDCM)")
    return f"pylibjpeg plugins {', '.join(found)}; " + "; ".join(versions)


def check_codecs(workdir: str | os.PathLike[str] | None = None) -> list[Check]:
    """The decoder libraries, then one :class:`Check` per supported transfer syntax (see :data:`SAMPLES`)."""
    checks = [run_check("DICOM decoder libraries", decoder_libraries)]
    with tempfile.TemporaryDirectory(prefix="ssc-selftest-") as tmp:
        base = Path(workdir) if workdir is not None else Path(tmp)
        for sample in SAMPLES:
            checks.append(
                run_check(f"decode {sample.name}", lambda s=sample: decode_sample(s, base))  # type: ignore[misc]
            )
    return checks
