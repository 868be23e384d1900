"""Classical lung mask of an axial CT slice or volume (no neural network).

The method the paper's authors used for heat maps and data synthesis (Jia et al., Sci Rep 2024; DOMAIN.md
section 4), made explicit:

1. **Air**: pixels below about -140 HU (``LUNG_MASK_THRESHOLD_HU``). Lung, airways and the air around the
   patient fall below it; fat (about -100 HU), soft tissue and bone lie above. The threshold is high on
   purpose, so that ground glass (about -700..-300 HU) and most reticulation stay inside the mask.
2. **Inside the body**: air components (4-connected) that touch the image border are the air around the
   patient (and the padding outside the scan circle) and are dropped.
3. **Two lungs**: of the remaining components, the two largest are kept; a component must cover at least
   ``LUNG_MASK_MIN_COMPONENT_MM2`` and the second at least ``LUNG_MASK_SECOND_MIN_RATIO`` of the first, so
   that gut gas, the oesophagus or a bronchus cut in cross-section is not taken for a lung.
4. **Clean-up**: a closing (square of half-width ``LUNG_MASK_CLOSING_MM``) takes in vessels and dense
   disease at the lung edge, then holes up to ``LUNG_MASK_MAX_HOLE_MM2`` are filled (vessels and dense
   lesions enclosed by lung; not the mediastinum, which two lungs touching in front and behind enclose).

:func:`lung_mask_volume` applies steps 1-4 to every slice (vectorised, in chunks, so it stays fast and
memory-bounded) and then keeps only slice components that belong to large 3-D air structures
(``LUNG_MASK_MIN_3D_RATIO`` of the largest), which removes gas in the stomach and bowel below the lungs.

Known limits (as for every threshold mask): consolidation or dense fibrosis touching the chest wall over a
long stretch can be left out, and on apical slices the trachea can be taken for a small lung.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from ssc_core.constants import (
    DEFAULT_PIXEL_SPACING_MM,
    LUNG_MASK_CLOSING_MM,
    LUNG_MASK_MAX_HOLE_MM2,
    LUNG_MASK_MIN_3D_RATIO,
    LUNG_MASK_MIN_COMPONENT_MM2,
    LUNG_MASK_SECOND_MIN_RATIO,
    LUNG_MASK_THRESHOLD_HU,
    MIN_LUNG_FRACTION,
)
from ssc_core.imaging.volume import CTVolume
from ssc_core.progress import CancelToken, ProgressCallback, check_cancel, report

#: Slices processed together by :func:`lung_mask_volume` (bounds the memory of the label arrays).
_CHUNK = 32
#: In-plane reduction of the grid on which 3-D air structures are found.
_COARSE = 4


def _in_plane(structure2d: np.ndarray) -> np.ndarray:
    """A 3-D structuring element acting within each slice only (no connection across slices)."""
    s = np.zeros((3, *structure2d.shape), dtype=bool)
    s[1] = structure2d
    return s


def _masks_for_stack(
    hu: np.ndarray, pixel_area_mm2: float, closing_px: int, threshold_hu: float
) -> np.ndarray:
    """Steps 1-4 on a (n, y, x) stack, slice by slice but in a few vectorised calls."""
    n, _h, _w = hu.shape
    air = hu < threshold_hu
    cross = ndimage.generate_binary_structure(2, 1)
    labels, count = ndimage.label(air, structure=_in_plane(cross))
    if count == 0:
        return np.zeros_like(air)
    # Components touching the left/right/top/bottom border of their slice are outside air.
    border = np.zeros(count + 1, dtype=bool)
    for edge in (labels[:, 0, :], labels[:, -1, :], labels[:, :, 0], labels[:, :, -1]):
        border[np.unique(edge)] = True
    border[0] = True
    areas = np.bincount(labels.ravel(), minlength=count + 1).astype(np.float64) * pixel_area_mm2
    # Slice of each component: every component lives in exactly one slice (in-plane connectivity).
    objects = ndimage.find_objects(labels)
    keep = np.zeros(count + 1, dtype=bool)
    per_slice: list[list[int]] = [[] for _ in range(n)]
    for lab, sl in enumerate(objects, start=1):
        if sl is None or border[lab] or areas[lab] < LUNG_MASK_MIN_COMPONENT_MM2:
            continue
        per_slice[sl[0].start].append(lab)
    for labs in per_slice:
        if not labs:
            continue
        labs.sort(key=lambda lab: areas[lab], reverse=True)
        keep[labs[0]] = True
        if len(labs) > 1 and areas[labs[1]] >= LUNG_MASK_SECOND_MIN_RATIO * areas[labs[0]]:
            keep[labs[1]] = True
    mask = _closing(keep[labels], closing_px)
    return _fill_holes(mask, LUNG_MASK_MAX_HOLE_MM2 / pixel_area_mm2)


def _fill_holes(mask: np.ndarray, max_hole_px: float) -> np.ndarray:
    """Fill holes slice by slice: background components that do not touch their slice's border and are
    at most ``max_hole_px`` (vessels and lesions inside a lung, never the mediastinum between two lungs
    that touch in front or behind it).

    Labelling the background is much faster than scipy's iterative ``binary_fill_holes``.
    """
    cross = ndimage.generate_binary_structure(2, 1)
    labels, count = ndimage.label(~mask, structure=_in_plane(cross))
    if count == 0:
        return mask
    outside = np.zeros(count + 1, dtype=bool)
    for edge in (labels[:, 0, :], labels[:, -1, :], labels[:, :, 0], labels[:, :, -1]):
        outside[np.unique(edge)] = True
    outside[0] = True  # label 0 is the mask itself
    sizes = np.bincount(labels.ravel(), minlength=count + 1)
    hole = ~outside & (sizes <= max_hole_px)
    return mask | hole[labels]


def _closing(mask: np.ndarray, radius: int) -> np.ndarray:
    """Closing with a (2r+1)-square in each slice, through separable max/min filters (fast).

    The slice is padded first so that the erosion does not treat the image outside as background.
    """
    size = (1, 2 * radius + 1, 2 * radius + 1)
    pad = radius + 1
    m = np.pad(mask.view(np.uint8), ((0, 0), (pad, pad), (pad, pad)))
    m = ndimage.maximum_filter(m, size=size, mode="constant", cval=0)
    m = ndimage.minimum_filter(m, size=size, mode="constant", cval=1)
    return m[:, pad:-pad, pad:-pad].astype(bool)


def _closing_px(pixel_mm: float) -> int:
    return max(1, round(LUNG_MASK_CLOSING_MM / max(pixel_mm, 1e-3)))


def lung_mask(
    slice_hu: np.ndarray,
    *,
    pixel_spacing_mm: tuple[float, float] | float = DEFAULT_PIXEL_SPACING_MM,
    threshold_hu: float = LUNG_MASK_THRESHOLD_HU,
) -> np.ndarray:
    """Lung mask of one axial slice in HU: a boolean array of the slice's shape (y, x).

    Parameters
    ----------
    slice_hu
        Axial slice in Hounsfield units (any numeric dtype), rows y, columns x.
    pixel_spacing_mm
        (dy, dx) in mm, or one value; sets the minimum component area and the closing radius.
    threshold_hu
        Air threshold (default ``LUNG_MASK_THRESHOLD_HU``).

    Returns
    -------
    numpy.ndarray
        ``True`` on lung (both lungs, holes filled); all ``False`` when the slice shows no lung.
    """
    arr = np.asarray(slice_hu)
    if arr.ndim != 2:
        raise ValueError(f"a slice has two dimensions, got shape {arr.shape}")
    if isinstance(pixel_spacing_mm, (int, float)):
        dy = dx = float(pixel_spacing_mm)
    else:
        dy, dx = (float(v) for v in pixel_spacing_mm)
    return _masks_for_stack(arr[None], dy * dx, _closing_px(min(dy, dx)), threshold_hu)[0]


def lung_mask_volume(
    volume: CTVolume,
    *,
    threshold_hu: float = LUNG_MASK_THRESHOLD_HU,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
) -> np.ndarray:
    """Lung mask of a whole volume: boolean (z, y, x), slice masks restricted to large 3-D air structures.

    Each slice is masked as by :func:`lung_mask`; then slice components are kept only if they belong to a
    3-D air structure of at least ``LUNG_MASK_MIN_3D_RATIO`` of the largest one (the lungs and airways),
    which drops gas in the stomach and bowel.
    """
    hu = volume.hu
    n = hu.shape[0]
    _, dy, dx = volume.spacing
    closing = _closing_px(min(dy, dx))
    out = np.zeros(hu.shape, dtype=bool)
    for start in range(0, n, _CHUNK):
        check_cancel(cancel)
        stop = min(n, start + _CHUNK)
        out[start:stop] = _masks_for_stack(hu[start:stop], dy * dx, closing, threshold_hu)
        report(progress, stop, n, "Lung mask")
    if not out.any():
        return out
    # 3-D structures on a 4x coarser in-plane grid (a cell is air if any of its pixels is): the same
    # components as at full resolution unless two structures pass within 4 pixels, at a fraction of the
    # time and memory of labelling the full volume.
    f = _COARSE
    h, w = hu.shape[1], hu.shape[2]
    ny, nx = -(-h // f) * f, -(-w // f) * f
    padded = np.zeros((n, ny, nx), dtype=bool)
    padded[:, :h, :w] = out
    coarse = padded.reshape(n, ny // f, f, nx // f, f).any(axis=(2, 4))
    labels, count = ndimage.label(coarse)  # 6-connected in 3-D
    sizes = np.bincount(labels.ravel(), minlength=count + 1)
    sizes[0] = 0
    keep = sizes >= LUNG_MASK_MIN_3D_RATIO * sizes.max()
    keep[0] = False
    kept = keep[labels].repeat(f, axis=1).repeat(f, axis=2)[:, :h, :w]
    out &= kept
    return out


def lung_fraction(mask: np.ndarray) -> float:
    """Share of the slice covered by lung (0..1)."""
    return float(np.count_nonzero(mask)) / float(mask.size) if mask.size else 0.0


def has_lung(mask: np.ndarray, *, min_fraction: float = MIN_LUNG_FRACTION) -> bool:
    """False when the slice shows almost no lung (below ``MIN_LUNG_FRACTION``): no scores, "no lung"."""
    return lung_fraction(mask) >= min_fraction
