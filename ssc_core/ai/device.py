"""Device choice for inference: CUDA when present, otherwise the CPU with all its cores."""

from __future__ import annotations

import os

import torch

#: Environment variable that forces a device ("cpu", "cuda", "cuda:1"), e.g. to keep a GPU free.
DEVICE_ENV = "SSC_DEVICE"


def available_cores() -> int:
    """CPU cores this process may use (the affinity mask where the OS has one)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # macOS, Windows
        return max(1, os.cpu_count() or 1)


def choose_device(preference: str | torch.device | None = None) -> torch.device:
    """The inference device: ``preference``, else ``$SSC_DEVICE``, else CUDA when available, else CPU.

    On the CPU torch is told to use every available core (its default can be fewer).
    """
    pref = preference if preference is not None else os.environ.get(DEVICE_ENV) or "auto"
    if str(pref) == "auto":
        device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    else:
        device = torch.device(pref)
        if device.type == "cuda" and not torch.cuda.is_available():
            from ssc_core.errors import InferenceError

            raise InferenceError("A GPU was requested but none is available; use the CPU instead.")
    if device.type == "cpu":
        cores = available_cores()
        if torch.get_num_threads() != cores:
            torch.set_num_threads(cores)
    return device
