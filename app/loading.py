"""The app's side of loading a scan: thin adapters over :mod:`ssc_core.imaging.loader`.

These functions run inside a worker (see :mod:`app.workers`); they only call the core and shape what it
returns for the GUI. The core module is imported lazily so that the window opens before SimpleITK and
pydicom are imported.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from ssc_core.imaging.candidate import SlicePreview
from ssc_core.imaging.volume import CTVolume, LoadedScan
from ssc_core.progress import CancelToken, ProgressCallback


def discover_series(
    path: Path,
    *,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
) -> list[Any]:
    """Series candidates under ``path`` (``ssc_core.imaging.loader.find_series``)."""
    from ssc_core.imaging import loader

    return list(loader.find_series(path, progress=progress, cancel=cancel))


def load_volume(
    path: Path,
    *,
    series: str | None = None,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
    partial: Callable[[SlicePreview], None] | None = None,
) -> LoadedScan:
    """Load one series (``ssc_core.imaging.loader.load_scan``), publishing the first slice early.

    The loader hands over previews of every slice as it completes (the middle one first); only the first
    is forwarded, as ``partial(preview)``: it is what the reader sees while the rest loads.
    """
    from ssc_core.imaging import loader

    on_slice = None
    if partial is not None:
        sent = False

        def on_slice(preview: SlicePreview) -> None:
            nonlocal sent
            if not sent:
                sent = True
                partial(preview)

    return loader.load_scan(path, series=series, progress=progress, cancel=cancel, on_slice=on_slice)


def volume_of(result: LoadedScan | CTVolume) -> CTVolume:
    """The volume of a load result (the identity part stays with the caller and is never shown)."""
    return result if isinstance(result, CTVolume) else result.volume


def candidate_key(candidate: Any) -> str | None:
    return getattr(candidate, "key", None)


__all__ = ["SlicePreview", "candidate_key", "discover_series", "load_volume", "scan_label", "volume_of"]


def scan_label(volume: CTVolume | None) -> str:
    """A label for the window title and the image corner: the series description, never a file name.

    File and folder names often carry the patient's name or record number, so they are never shown.
    """
    if volume is None:
        return ""
    info = volume.info
    text = (info.description or "").strip()
    if not text:
        text = {"phantom": "Synthetic phantom"}.get(info.source_format, "CT series")
    return text
