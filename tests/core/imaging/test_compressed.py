"""Compressed transfer syntaxes decode to the same HU as the uncompressed series; others are refused."""

from __future__ import annotations

import numpy as np
import pydicom
import pytest
from pydicom.uid import (
    JPEG2000,
    DeflatedExplicitVRLittleEndian,
    ExplicitVRBigEndian,
    ImplicitVRLittleEndian,
    JPEG2000Lossless,
    JPEGLSLossless,
    JPEGLSNearLossless,
    RLELossless,
)

from ssc_core.errors import UnsupportedTransferSyntax
from ssc_core.imaging.loader import find_series, load_scan

from .factory import expected_axial, gdcm_jpeg_lossless, make_hu, pillow_jpeg_baseline, write_series

N = 6


def _lossless_series(folder, syntax=None, signed_padding=True):
    hu = make_hu(N, rows=64, cols=48)  # OpenJPEG needs 32 pixels or more per side
    if signed_padding:
        hu[:, :, :1] = -3024  # stored -2000: exercises negative stored values through the codec
    paths = write_series(folder, hu, transfer_syntax=syntax) if syntax else write_series(folder, hu)
    return hu, paths


@pytest.mark.parametrize(
    ("syntax", "name"),
    [
        (RLELossless, "RLE Lossless"),
        (JPEGLSLossless, "JPEG-LS Lossless"),
        (JPEG2000Lossless, "JPEG 2000 (lossless)"),
    ],
)
def test_pydicom_encoded_lossless_syntaxes(tmp_path, syntax, name):
    hu, _ = _lossless_series(tmp_path, syntax)
    (c,) = find_series(tmp_path)
    assert c.scorable
    assert c.transfer_syntax == name
    v = load_scan(tmp_path).volume
    np.testing.assert_array_equal(v.hu, expected_axial(hu))
    assert v.info.transfer_syntax == name


@pytest.mark.parametrize(
    ("syntax", "name"),
    [
        ("1.2.840.10008.1.2.4.70", "JPEG Lossless (Process 14, SV1)"),
        ("1.2.840.10008.1.2.4.57", "JPEG Lossless (Process 14)"),
    ],
)
def test_gdcm_encoded_jpeg_lossless(tmp_path, syntax, name):
    hu, paths = _lossless_series(tmp_path)
    for p in paths:
        gdcm_jpeg_lossless(p, syntax=syntax)
    assert pydicom.dcmread(paths[0]).file_meta.TransferSyntaxUID == syntax
    (c,) = find_series(tmp_path)
    assert c.transfer_syntax == name
    np.testing.assert_array_equal(load_scan(tmp_path).volume.hu, expected_axial(hu))


def test_jpeg_baseline_8_bit_lossy(tmp_path):
    """8-bit stored values (slope 8) compressed lossy with Pillow: HU within the codec's error."""
    hu = make_hu(N)
    stored = [np.clip(np.rint((hu[k] + 1024) / 8.0), 0, 255).astype(np.int32) for k in range(N)]
    from ssc_core.imaging.dicom_writer import SeriesUIDs, ct_slice_dataset

    uids = SeriesUIDs.new()
    for k in range(N):
        ds = ct_slice_dataset(
            stored[k],
            position=(-7.0, -8.0, 50.0 - 2.5 * k),
            rescale_slope=8.0,
            rescale_intercept=-1024.0,
            uids=uids,
            pixel_representation=0,
            bits_allocated=8,
            instance_number=k + 1,
        )
        path = tmp_path / f"j{k}.dcm"
        ds.save_as(path, enforce_file_format=True)
        pillow_jpeg_baseline(path)
    (c,) = find_series(tmp_path)
    assert c.transfer_syntax == "JPEG Baseline (lossy, 8 bit)"
    v = load_scan(tmp_path).volume
    exact = np.stack(stored).astype(np.int32) * 8 - 1024
    exact[exact < -1024] = -1000
    # lossy: a few grey levels of error (x8 HU) at sharp edges, far less on average
    err = np.abs(v.hu.astype(np.int32) - exact)
    assert err.mean() < 16
    assert np.median(err) <= 8
    np.testing.assert_allclose(v.slice_z, 50.0 - 2.5 * np.arange(N))


@pytest.mark.parametrize("syntax", [JPEGLSNearLossless, JPEG2000])
def test_lossy_jpeg_ls_and_jpeg_2000(tmp_path, syntax):
    hu = make_hu(N, rows=64, cols=48)
    paths = write_series(tmp_path, hu)
    for p in paths:
        ds = pydicom.dcmread(p)
        kwargs = {"jls_error": 2} if syntax == JPEGLSNearLossless else {"j2k_cr": [4]}
        ds.compress(syntax, **kwargs)
        ds.save_as(p, enforce_file_format=True)
    v = load_scan(tmp_path).volume
    err = np.abs(v.hu.astype(np.int32) - expected_axial(hu))
    assert err.max() <= (2 if syntax == JPEGLSNearLossless else 200)
    assert err.mean() < 20


@pytest.mark.parametrize(
    "syntax", [ImplicitVRLittleEndian, DeflatedExplicitVRLittleEndian, ExplicitVRBigEndian]
)
def test_other_uncompressed_syntaxes(tmp_path, syntax):
    hu = make_hu(N)
    paths = write_series(tmp_path, hu)
    for p in paths:
        ds = pydicom.dcmread(p)
        big = syntax == ExplicitVRBigEndian
        if big:
            ds.PixelData = ds.pixel_array.astype(">i2").tobytes()
        ds.file_meta.TransferSyntaxUID = syntax
        pydicom.dcmwrite(
            p,
            ds,
            implicit_vr=syntax == ImplicitVRLittleEndian,
            little_endian=not big,
            enforce_file_format=not big,
            force_encoding=big,
        )
    np.testing.assert_array_equal(load_scan(tmp_path).volume.hu, expected_axial(hu))


@pytest.mark.parametrize(
    ("uid", "named"),
    [
        ("1.2.840.10008.1.2.4.100", "MPEG2"),
        ("1.2.840.10008.1.2.4.107", "HEVC"),
        ("1.2.840.10008.1.2.4.94", "JPIP"),
        ("1.2.840.10008.1.2.4.92", "JPEG 2000 Part 2"),
        ("1.2.826.0.1.3680043.99.1", "1.2.826.0.1.3680043.99.1"),
    ],
)
def test_unsupported_syntax_is_refused_by_name(tmp_path, uid, named):
    _, paths = _lossless_series(tmp_path, RLELossless)
    for p in paths:
        ds = pydicom.dcmread(p)
        ds.file_meta.TransferSyntaxUID = uid
        ds.save_as(p, enforce_file_format=True)
    (c,) = find_series(tmp_path)
    assert not c.scorable
    assert c.refusal == "UnsupportedTransferSyntax"
    with pytest.raises(UnsupportedTransferSyntax, match=named):
        load_scan(tmp_path)
