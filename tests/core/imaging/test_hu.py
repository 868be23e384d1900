"""Stored values to HU: rescale, high bits, padding (value, range, signedness), floor, plausibility."""

from __future__ import annotations

import numpy as np
import pytest

from ssc_core.errors import ImplausibleHU
from ssc_core.imaging.hu import array_to_hu, check_contains_air, padding_bounds, stored_to_hu


def convert(stored, **kw):
    out = np.empty(stored.shape, np.int16)
    kw.setdefault("slope", 1.0)
    kw.setdefault("intercept", -1024.0)
    kw.setdefault("bits_stored", stored.dtype.itemsize * 8)
    low = stored_to_hu(stored, out, **kw)
    return out, low


def test_in_place_conversion_of_unsigned_16_bit():
    buf = np.array([[0, 24, 1024, 4095]], dtype=np.int16)
    stored = buf.view(np.uint16)
    low = stored_to_hu(stored, buf, slope=1.0, intercept=-1024.0, bits_stored=12)
    np.testing.assert_array_equal(buf, [[-1024, -1000, 0, 3071]])
    assert low == -1024


def test_values_below_the_ct_range_become_air():
    out, low = convert(np.array([[-2000, -1024, -1, 0]], dtype=np.int16))  # HU -3024, -2048, -1025, -1024
    np.testing.assert_array_equal(out, [[-1000, -1000, -1000, -1024]])
    assert low == -1024


def test_high_bits_above_bits_stored_are_cleared_or_sign_extended():
    overlay = np.array([[0x1000 | 1024, 1024]], dtype=np.uint16)  # bit 12 set by an overlay plane
    out, _ = convert(overlay, bits_stored=12)
    np.testing.assert_array_equal(out, [[0, 0]])
    signed = np.array([[0x0FFF, 0x0800]], dtype=np.int16)  # 12-bit -1 and -2048, not sign-extended
    out, _ = convert(signed, bits_stored=12, intercept=0.0)
    np.testing.assert_array_equal(out, [[-1, -1000]])


@pytest.mark.parametrize("dtype", [np.int16, np.uint16])
def test_padding_bit_pattern_matches_the_pixels_signedness(dtype):
    assert padding_bounds(63536, None, np.dtype(np.int16)) == (-2000, -2000)
    assert padding_bounds(-2000, None, np.dtype(np.uint16)) == (63536, 63536)
    raw = np.array([[63536, 1000]], dtype=np.uint16).view(dtype)
    value = 63536 if dtype is np.int16 else -2000  # written with the "wrong" VR each time
    out, _ = convert(raw.copy(), padding=padding_bounds(value, None, raw.dtype))
    np.testing.assert_array_equal(out, [[-1000, -24]])


def test_padding_range_limit_and_padding_above_the_floor():
    stored = np.array([[0, 5, 10, 11, 1024]], dtype=np.uint16)
    out, _ = convert(stored, padding=padding_bounds(10, 0, stored.dtype))
    np.testing.assert_array_equal(out, [[-1000, -1000, -1000, -1013, 0]])


def test_float_slope_rounds():
    out, _ = convert(np.array([[1, 3, -2000]], dtype=np.int16), slope=0.5, intercept=0.0)
    np.testing.assert_array_equal(out, [[0, 2, -1000]])  # 0.5 and 1.5 round half to even


def test_implausible_values_are_refused_unless_declared_padding():
    with pytest.raises(ImplausibleHU):
        convert(np.array([[0, 40000]], dtype=np.uint16))  # 38976 HU
    with pytest.raises(ImplausibleHU):
        convert(np.array([[-32768, 0]], dtype=np.int16))  # -33792 HU
    out, _ = convert(np.array([[-32768, 0]], dtype=np.int16), padding=(-32768, -32768))
    np.testing.assert_array_equal(out, [[-1000, -1024]])
    with pytest.raises(ImplausibleHU):
        convert(np.array([[1, 2]], dtype=np.int16), slope=1e6)


def test_8_and_32_bit_stored_values():
    out, _ = convert(np.array([[0, 255]], dtype=np.uint8), slope=8.0, intercept=-1024.0)
    np.testing.assert_array_equal(out, [[-1024, 1016]])
    out, _ = convert(np.array([[0, 2024]], dtype=np.int32))
    np.testing.assert_array_equal(out, [[-1024, 1000]])


def test_volume_arrays_and_the_air_check():
    hu, low = array_to_hu(np.array([[[-3024.4, -999.6, 0.4]]], dtype=np.float32))
    np.testing.assert_array_equal(hu, [[[-1000, -1000, 0]]])
    assert low == -1000
    assert hu.dtype == np.int16
    assert hu.flags.writeable
    with pytest.raises(ImplausibleHU):
        array_to_hu(np.array([[[np.nan]]], dtype=np.float32))
    with pytest.raises(ImplausibleHU):
        array_to_hu(np.array([[[40000]]], dtype=np.int32))
    check_contains_air(-1000)
    with pytest.raises(ImplausibleHU, match="air"):
        check_contains_air(-20)
