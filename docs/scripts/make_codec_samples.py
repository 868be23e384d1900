"""Make the self-test samples of the transfer syntaxes that no library the workstation ships can encode.

    python docs/scripts/make_codec_samples.py      # needs DCMTK (dcmcjpeg) and OpenJPH (ojph_compress)

Debian/Ubuntu: ``apt-get install dcmtk openjph-tools``. Writes ``resources/selftest/<uid>/IM00000k.dcm``
for JPEG Extended 12-bit (…4.51, DCMTK) and HTJ2K lossless, lossless RPCL and lossy (…4.201/202/203,
OpenJPH), from the synthetic pixels of :func:`ssc_core.selftest.codecs.sample_hu` (no patient data), stored
unsigned 12-bit (HU + 1024). ``ssc-workstation --self-test`` decodes them and compares with the same pixels.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pydicom
from pydicom.encaps import encapsulate

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from ssc_core.constants import SELFTEST_SAMPLES_SUBDIR  # noqa: E402
from ssc_core.imaging.dicom_writer import SeriesUIDs, ct_slice_dataset  # noqa: E402
from ssc_core.selftest.codecs import SAMPLE_SLICES, sample_volume  # noqa: E402

OUT = ROOT / "resources" / SELFTEST_SAMPLES_SUBDIR
#: HTJ2K syntaxes and the OpenJPH options that make a stream of that kind.
HTJ2K = {
    "1.2.840.10008.1.2.4.201": ["-reversible", "true"],
    "1.2.840.10008.1.2.4.202": ["-reversible", "true", "-prog_order", "RPCL"],
    "1.2.840.10008.1.2.4.203": ["-reversible", "false", "-qstep", "0.002"],
}


def uncompressed_12_bit(folder: Path, uid_seed: str) -> list[Path]:
    """The sample series as unsigned 12-bit stored values (HU + 1024), uncompressed."""
    folder.mkdir(parents=True)
    volume = sample_volume()
    uids = SeriesUIDs.new(uid_seed)
    paths = []
    for k in range(SAMPLE_SLICES):
        stored = volume.hu[k].astype(np.int32) + 1024
        assert stored.min() >= 0
        assert stored.max() < 4096
        ds = ct_slice_dataset(
            stored.astype(np.uint16),
            position=tuple(volume.index_to_world(k, 0, 0)),
            pixel_spacing=volume.spacing[1:],
            slice_thickness=volume.spacing[0],
            rescale_intercept=-1024.0,
            pixel_representation=0,
            instance_number=k + 1,
            uids=uids,
            sop_instance_uid=pydicom.uid.generate_uid(entropy_srcs=[uid_seed, str(k)]),
            series_description="self-test sample",
            extra={"StudyDate": "20000101", "SeriesDate": "20000101"},
        )
        ds.BitsStored = 12
        ds.HighBit = 11
        path = folder / f"IM{k + 1:06d}.dcm"
        ds.save_as(path, enforce_file_format=True)
        paths.append(path)
    return paths


def jpeg_extended(target: Path) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        for src in uncompressed_12_bit(Path(tmp) / "in", "jpeg-extended"):
            target.mkdir(parents=True, exist_ok=True)
            # +ee: extended sequential (process 2+4), 12-bit lossy; +q 90: quality
            subprocess.run(["dcmcjpeg", "+ee", "+q", "90", str(src), str(target / src.name)], check=True)
    assert pydicom.dcmread(next(target.iterdir())).file_meta.TransferSyntaxUID == "1.2.840.10008.1.2.4.51"


def htj2k(target: Path, uid: str, options: list[str]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        for src in uncompressed_12_bit(Path(tmp) / "in", f"htj2k-{uid}"):
            ds = pydicom.dcmread(src)
            pgm = Path(tmp) / "slice.pgm"
            header = f"P5\n{ds.Columns} {ds.Rows}\n4095\n".encode("ascii")
            pgm.write_bytes(header + ds.pixel_array.astype(">u2").tobytes())
            j2c = Path(tmp) / "slice.j2c"
            subprocess.run(["ojph_compress", "-i", str(pgm), "-o", str(j2c), *options], check=True)
            ds.PixelData = encapsulate([j2c.read_bytes()])
            ds["PixelData"].VR = "OB"
            ds["PixelData"].is_undefined_length = True
            ds.file_meta.TransferSyntaxUID = uid
            target.mkdir(parents=True, exist_ok=True)
            ds.save_as(target / src.name, enforce_file_format=True)


def main() -> None:
    for tool in ("dcmcjpeg", "ojph_compress"):
        if shutil.which(tool) is None:
            sys.exit(f"{tool} is missing: apt-get install dcmtk openjph-tools")
    OUT.mkdir(parents=True, exist_ok=True)
    for uid in ["1.2.840.10008.1.2.4.51", *HTJ2K]:
        shutil.rmtree(OUT / uid, ignore_errors=True)
    jpeg_extended(OUT / "1.2.840.10008.1.2.4.51")
    for uid, options in HTJ2K.items():
        htj2k(OUT / uid, uid, options)
    for folder in sorted(OUT.iterdir()):
        if folder.is_dir():
            size = sum(p.stat().st_size for p in folder.iterdir())
            print(f"{folder.relative_to(ROOT)}: {len(list(folder.iterdir()))} files, {size} bytes")


if __name__ == "__main__":
    main()
