"""Fill a preallocated HU volume from the slices' files, fast and in parallel.

Uncompressed little-endian 16-bit pixels (the common case) are read with one ``readinto`` straight into
their slice of the output array and converted to HU in place; nothing else is allocated. Everything else
(JPEG, JPEG-LS, JPEG 2000, RLE, deflated, big endian, 8 and 32 bit) is decoded by pydicom's pixel backends.
Work runs in a small thread pool: file reads, decoders and numpy release the GIL. The slice a viewer
shows first (``first``) is done before the others, on the calling thread.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait

import numpy as np

from ssc_core.errors import CorruptFile, LoadError
from ssc_core.imaging.dicom_geometry import InPlane
from ssc_core.imaging.dicom_headers import FrameRecord, pydicom_module
from ssc_core.imaging.hu import padding_bounds, stored_to_hu
from ssc_core.imaging.transfer_syntax import DEFLATED_EXPLICIT_VR_LITTLE_ENDIAN, EXPLICIT_VR_BIG_ENDIAN
from ssc_core.progress import CancelToken, ProgressCallback, check_cancel, report

#: Worker threads for decoding (more than the cores rarely helps: the work is memory-bound).
MAX_WORKERS = 4
#: Files handed to a worker at once (amortises the pool's overhead on small uncompressed slices).
BATCH = 8

# One unit of work: a file and the (frame index, output slice) pairs it fills.
Unit = tuple[str, list[tuple[int, int]]]


def _stored_dtype(rec: FrameRecord) -> np.dtype:
    kind = "i" if rec.pixel_representation == 1 else "u"
    return np.dtype(f"<{kind}{max(1, rec.bits_allocated // 8)}")


def _convert(rec: FrameRecord, stored: np.ndarray, out: np.ndarray) -> int:
    return stored_to_hu(
        stored,
        out,
        slope=rec.slope,
        intercept=rec.intercept,
        bits_stored=rec.bits_stored,
        padding=padding_bounds(rec.padding_value, rec.padding_limit, stored.dtype),
    )


def _read_native(unit: Unit, records: Sequence[FrameRecord], volume: np.ndarray, inplane: InPlane) -> int:
    path, jobs = unit
    low = 32767
    with open(path, "rb", buffering=0) as fp:
        for _frame, k in jobs:
            rec = records[k]
            dtype = _stored_dtype(rec)
            assert rec.pixel_offset is not None
            fp.seek(rec.pixel_offset + rec.frame * rec.frame_bytes)
            direct = inplane.identity and dtype.itemsize == 2
            target: np.ndarray = volume[k] if direct else np.empty((rec.rows, rec.columns), dtype=dtype)
            n = fp.readinto(memoryview(target).cast("B"))  # type: ignore[arg-type]
            if n != rec.frame_bytes:
                raise CorruptFile("A slice's pixel data end early: the file is truncated.")
            if direct:
                low = min(low, _convert(rec, target.view(dtype), target))
            else:
                hu = target.view(np.int16) if dtype.itemsize == 2 else np.empty(target.shape, np.int16)
                low = min(low, _convert(rec, target, hu))
                volume[k] = inplane.apply(hu)
    return low


def _decode(unit: Unit, records: Sequence[FrameRecord], volume: np.ndarray, inplane: InPlane) -> int:
    import warnings

    pydicom_module()
    from pydicom.pixels import iter_pixels

    path, jobs = unit
    by_frame = {frame: k for frame, k in jobs}
    first = records[jobs[0][1]]
    low = 32767
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            source: object = path
            if first.transfer_syntax in (DEFLATED_EXPLICIT_VR_LITTLE_ENDIAN, EXPLICIT_VR_BIG_ENDIAN):
                # pydicom decodes these from a parsed dataset only (the file must be inflated/byte-swapped)
                source = pydicom_module().dcmread(path)
            indices = sorted(by_frame) if first.n_frames > 1 else None
            frames = iter_pixels(source, indices=indices)  # type: ignore[arg-type]
            decoded = 0
            for frame, array in zip(sorted(by_frame), frames):
                k = by_frame[frame]
                rec = records[k]
                if array.shape != (rec.rows, rec.columns):
                    raise CorruptFile(
                        f"A compressed slice decodes to {array.shape} pixels instead of {rec.rows} x "
                        f"{rec.columns}: the file is damaged."
                    )
                stored = np.ascontiguousarray(array)
                if not stored.dtype.isnative:  # big endian: to machine order before any view
                    stored = stored.astype(stored.dtype.newbyteorder("="))
                if not stored.flags.writeable:
                    stored = stored.copy()
                hu = stored.view(np.int16) if stored.dtype.itemsize == 2 else np.empty(stored.shape, np.int16)
                low = min(low, _convert(rec, stored, hu))
                volume[k] = inplane.apply(hu)
                decoded += 1
            if decoded != len(jobs):
                raise CorruptFile("A multi-frame file holds fewer frames than its header says.")
    except (LoadError, KeyboardInterrupt, SystemExit):
        raise
    except BaseException as exc:  # decoders fail on damaged data in many ways, Rust panics included
        detail = str(exc).splitlines()[0][:160] if str(exc) else type(exc).__name__
        raise CorruptFile(f"A slice's compressed pixel data could not be decoded ({detail}).") from exc
    return low


def _run_unit(unit: Unit, records: Sequence[FrameRecord], volume: np.ndarray, inplane: InPlane) -> int:
    rec = records[unit[1][0][1]]
    try:
        if rec.native:
            return _read_native(unit, records, volume, inplane)
        return _decode(unit, records, volume, inplane)
    except OSError as exc:
        raise CorruptFile(f"A slice file could not be read ({exc.strerror or type(exc).__name__}).") from exc


def fill_volume(
    records: Sequence[FrameRecord],
    volume: np.ndarray,
    inplane: InPlane,
    *,
    first: int = 0,
    on_ready: Callable[[int, int], None] | None = None,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
) -> int:
    """Decode ``records[k]`` into ``volume[k]`` (HU) for every k; return the lowest HU seen.

    ``on_ready(k, done)`` is called on the calling thread as each slice (file) completes, slice ``first``
    first. Raises ``Cancelled`` when ``cancel`` is set, ``CorruptFile``/``ImplausibleHU`` on bad pixels.
    """
    n = len(records)
    units_by_path: dict[str, list[tuple[int, int]]] = {}
    for k, rec in enumerate(records):
        units_by_path.setdefault(rec.path, []).append((rec.frame, k))
    units: list[Unit] = list(units_by_path.items())
    first_path = records[first].path
    first_unit = next(u for u in units if u[0] == first_path)
    rest = [u for u in units if u[0] != first_path]

    done = 0

    def finished(unit: Unit) -> None:
        nonlocal done
        for _frame, k in unit[1]:
            done += 1
            if on_ready is not None:
                on_ready(k, done)
        report(progress, done, n, "Loading slices")

    check_cancel(cancel)
    low = _run_unit(first_unit, records, volume, inplane)
    finished(first_unit)
    if not rest:
        return low

    stop = threading.Event()

    def run_batch(batch: list[Unit]) -> list[tuple[Unit, int]]:
        results = []
        for unit in batch:
            if stop.is_set() or (cancel is not None and cancel.cancelled):
                break
            results.append((unit, _run_unit(unit, records, volume, inplane)))
        return results

    batch_size = BATCH if len(rest) > 2 * BATCH else max(1, len(rest) // 4)
    batches = [rest[i : i + batch_size] for i in range(0, len(rest), batch_size)]
    workers = max(1, min(MAX_WORKERS, os.cpu_count() or 1, len(batches)))
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="ssc-load") as pool:
        pending: set[Future] = {pool.submit(run_batch, b) for b in batches}
        try:
            while pending:
                completed, pending = wait(pending, return_when=FIRST_COMPLETED)
                for future in completed:
                    for unit, unit_low in future.result():
                        low = min(low, unit_low)
                        finished(unit)
                check_cancel(cancel)
        except BaseException:
            stop.set()
            for future in pending:
                future.cancel()
            raise
    check_cancel(cancel)
    return low
