"""Stored pixel values to Hounsfield units: rescale, padding, the air floor and plausibility.

One slice at a time, in place where the stored values are 16 bit (the usual case), so a 512 x 512 slice
costs a few passes of SIMD numpy work and no temporary array:

1. bits above BitsStored are cleared (unsigned) or the sign is extended from BitsStored (signed);
2. HU = stored x RescaleSlope + RescaleIntercept (DICOM PS3.3 C.11.1.1.2), per slice;
3. declared padding (PixelPaddingValue, up to PixelPaddingRangeLimit) becomes air; the padding value is
   compared as the bit pattern of the stored pixels, so a padding of 63536 written as US in a file of
   signed pixels means -2000, as the scanner intended;
4. any HU below ``PADDING_FLOOR_HU`` (-1024: the bottom of the 12-bit CT range; -2000, -2048 and -3024
   are the outside-the-scan-circle values of GE, Siemens and Philips scanners) becomes air (``AIR_HU``);
5. values outside ``PLAUSIBLE_HU_RANGE`` that are not declared padding refuse the scan.
"""

from __future__ import annotations

import numpy as np

from ssc_core.constants import AIR_HU, PADDING_FLOOR_HU, PLAUSIBLE_AIR_HU, PLAUSIBLE_HU_RANGE
from ssc_core.errors import ImplausibleHU


def padding_bounds(value: int | None, limit: int | None, dtype: np.dtype) -> tuple[int, int] | None:
    """Inclusive (low, high) padding range in stored units of ``dtype``, or None when none is declared."""
    if value is None:
        return None
    dtype = np.dtype(dtype)
    if dtype.kind not in "iu":
        return None
    bits = dtype.itemsize * 8
    unsigned = np.dtype(f"u{dtype.itemsize}")

    def as_stored(v: int) -> int:
        # The same bit pattern read as the pixels' own type (US 63536 == SS -2000 for 16 bit pixels).
        return int(np.array(int(v) % (1 << bits), dtype=unsigned).view(dtype))

    low = as_stored(value)
    high = as_stored(limit) if limit is not None else low
    return (min(low, high), max(low, high))


def _fix_high_bits(stored: np.ndarray, bits_stored: int) -> None:
    """Clear bits above BitsStored (unsigned) or sign-extend from BitsStored (signed), in place."""
    bits = stored.dtype.itemsize * 8
    if not 0 < bits_stored < bits:
        return
    if stored.dtype.kind == "u":
        if int(stored.max()) >= 1 << bits_stored:
            np.bitwise_and(stored, (1 << bits_stored) - 1, out=stored)
    else:
        half = 1 << (bits_stored - 1)
        if int(stored.min()) < -half or int(stored.max()) >= half:
            shift = bits - bits_stored
            np.left_shift(stored, shift, out=stored)
            np.right_shift(stored, shift, out=stored)


def stored_to_hu(
    stored: np.ndarray,
    out: np.ndarray,
    *,
    slope: float,
    intercept: float,
    bits_stored: int,
    padding: tuple[int, int] | None = None,
) -> int:
    """Write the HU of ``stored`` into the int16 array ``out``; return the slice's lowest HU.

    ``stored`` may be a view of ``out``'s memory (16-bit stored values, converted in place). Raises
    :class:`~ssc_core.errors.ImplausibleHU` when a value that is not padding falls outside the plausible
    range after rescale.
    """
    if stored.dtype.kind not in "iu":
        raise ImplausibleHU("The pixel values are not integers, as CT pixel data always are.")
    _fix_high_bits(stored, bits_stored)
    mn, mx = int(stored.min()), int(stored.max())
    pad_mask = None
    if padding is not None and padding[0] <= mx and padding[1] >= mn:
        lo, hi = padding
        pad_mask = (stored == lo) if lo == hi else ((stored >= lo) & (stored <= hi))
        if not pad_mask.any():
            pad_mask = None

    a, b = mn * slope + intercept, mx * slope + intercept
    lo_hu, hi_hu = min(a, b), max(a, b)
    low_limit, high_limit = PLAUSIBLE_HU_RANGE
    if lo_hu < low_limit or hi_hu > high_limit:
        if pad_mask is not None and not pad_mask.all():
            kept = stored[~pad_mask]
            a, b = int(kept.min()) * slope + intercept, int(kept.max()) * slope + intercept
            lo_hu, hi_hu = min(a, b), max(a, b)
        if pad_mask is None or (not pad_mask.all() and (lo_hu < low_limit or hi_hu > high_limit)):
            raise ImplausibleHU(
                f"The pixel values convert to {lo_hu:.0f}..{hi_hu:.0f} HU, outside the range any CT produces "
                f"({low_limit}..{high_limit} HU): the rescale slope or intercept in the header is wrong.",
                hint="Re-export the series from the scanner or PACS.",
            )

    integral = slope == 1.0 and float(intercept).is_integer()
    if integral and stored.dtype.itemsize == 2 and np.shares_memory(stored, out):
        # Modular 16-bit add: exact for every value that fits int16 (checked above); padding is set below.
        u16 = stored.view(np.uint16)
        np.add(u16, np.uint16(int(intercept) % 65536), out=u16)
    elif integral and stored.dtype.itemsize <= 2:
        np.add(stored, np.int32(int(intercept)), out=out, dtype=np.int32, casting="unsafe")
    else:
        hu = stored.astype(np.float64) * slope + intercept
        np.clip(hu, -32768, 32767, out=hu)
        np.rint(hu, out=hu)
        out[...] = hu.astype(np.int16)
    if pad_mask is not None:
        np.copyto(out, AIR_HU, where=pad_mask)
    below = out < PADDING_FLOOR_HU
    if below.any():
        np.copyto(out, AIR_HU, where=below)
    return int(out.min())


def array_to_hu(values: np.ndarray) -> tuple[np.ndarray, int]:
    """An int16 HU copy of a volume already in HU (volume files); returns it and its lowest value.

    Float voxels are rounded; the air floor applies as for DICOM; values outside the plausible range refuse
    the scan.
    """
    low_limit, high_limit = PLAUSIBLE_HU_RANGE
    if values.size == 0:
        raise ImplausibleHU("The volume holds no voxels.")
    if values.dtype.kind == "f":
        if not np.isfinite(values).all():
            raise ImplausibleHU("The volume holds undefined (NaN or infinite) values instead of HU.")
    elif values.dtype.kind not in "iub":
        raise ImplausibleHU(f"The voxels are of type {values.dtype}, not Hounsfield units.")
    mn, mx = float(values.min()), float(values.max())
    if mn < low_limit or mx > high_limit:
        raise ImplausibleHU(
            f"The voxel values range from {mn:.0f} to {mx:.0f}, outside the range any CT produces "
            f"({low_limit}..{high_limit} HU): the file does not hold Hounsfield units."
        )
    if values.dtype.kind == "f":
        hu = np.rint(values).astype(np.int16)
    else:
        hu = np.array(values, dtype=np.int16, order="C", copy=True)
    np.copyto(hu, AIR_HU, where=hu < PADDING_FLOOR_HU)
    return hu, int(hu.min())


def check_contains_air(min_hu: int) -> None:
    """Refuse a scan whose darkest voxel is brighter than air could be (the values are not HU)."""
    if min_hu > PLAUSIBLE_AIR_HU:
        raise ImplausibleHU(
            f"No voxel of this scan is darker than {min_hu} HU, but every chest CT contains air (about "
            "-1000 HU) in the lungs and around the body: the pixel values are not Hounsfield units (the "
            "rescale intercept is probably missing or wrong).",
            hint="Re-export the series from the scanner or PACS, or check the converted file's intercept.",
        )
