"""Distributed data parallel training under ``torchrun`` (multi-GPU, multi-node; gloo on CPUs).

``torchrun`` starts one process per GPU and sets ``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``, ``MASTER_ADDR``
and ``MASTER_PORT``; :func:`init_distributed` reads them, joins the process group (NCCL on GPUs, gloo on
CPUs) and picks this process's device. Without those variables training runs in one process.

Every process draws the same global sample plan for an epoch and keeps its share (see
:mod:`ssc_core.training.sampling`); gradients are averaged by ``DistributedDataParallel``; validation
predictions are gathered so that every process computes the same metrics (and so takes the same early-
stopping decision); only process 0 writes checkpoints, logs and the bundle.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import torch

from ssc_core.errors import SSCError


@dataclass(frozen=True)
class DistInfo:
    """This process's place in the job."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    backend: str = ""

    @property
    def distributed(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def env_dist() -> DistInfo:
    """The job layout from torchrun's environment (a single process when it is not set)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return DistInfo()
    return DistInfo(int(os.environ.get("RANK", "0")), world, int(os.environ.get("LOCAL_RANK", "0")))


def choose_train_device(preference: str | None, dist: DistInfo) -> torch.device:
    """``cuda:LOCAL_RANK`` under torchrun with GPUs, else the preference (``auto``: CUDA when present)."""
    pref = (preference or "auto").lower()
    if pref == "auto":
        pref = "cuda" if torch.cuda.is_available() else "cpu"
    if pref.startswith("cuda"):
        if not torch.cuda.is_available():
            raise SSCError(
                "Training on the GPU was requested, but no CUDA GPU is available.",
                hint="Use --device cpu, or install a CUDA build of PyTorch.",
            )
        if dist.distributed:
            return torch.device("cuda", dist.local_rank)
        return torch.device(pref)
    if pref == "cpu":
        return torch.device("cpu")
    raise SSCError(f"Unknown device '{preference}': use auto, cpu, cuda or cuda:N.")


def init_distributed(preference: str | None) -> tuple[DistInfo, torch.device]:
    """Join torchrun's process group when there is one; returns the layout and this process's device."""
    import torch.distributed as dist_mod

    info = env_dist()
    device = choose_train_device(preference, info)
    if info.distributed and not dist_mod.is_initialized():
        backend = "nccl" if device.type == "cuda" else "gloo"
        if device.type == "cuda":
            torch.cuda.set_device(device)
        dist_mod.init_process_group(backend=backend)
        info = DistInfo(dist_mod.get_rank(), dist_mod.get_world_size(), info.local_rank, backend)
    return info, device


def shutdown(info: DistInfo) -> None:
    import torch.distributed as dist_mod

    if info.distributed and dist_mod.is_initialized():
        dist_mod.destroy_process_group()


def barrier(info: DistInfo) -> None:
    import torch.distributed as dist_mod

    if info.distributed and dist_mod.is_initialized():
        dist_mod.barrier()


def gather_objects(info: DistInfo, obj: Any) -> list[Any]:
    """Every process's ``obj``, in rank order, on every process."""
    if not info.distributed:
        return [obj]
    import torch.distributed as dist_mod

    out: list[Any] = [None] * info.world_size
    dist_mod.all_gather_object(out, obj)
    return out


def broadcast_object(info: DistInfo, obj: Any) -> Any:
    """Process 0's ``obj`` on every process."""
    if not info.distributed:
        return obj
    import torch.distributed as dist_mod

    box = [obj]
    dist_mod.broadcast_object_list(box, src=0)
    return box[0]
