"""Faults inside the AI process, for the error-state tests: the real AI service, with one step of the
cascade failing as a damaged or unusual scan, or a full GPU, could make it fail."""

from __future__ import annotations


def _serve_with(error: BaseException, conn) -> None:
    import ssc_core.ai.level_finder as level_finder
    from ssc_core.ai.service import serve

    def broken_slice_stack(*args, **kwargs):
        raise error

    level_finder.slice_stack = broken_slice_stack
    serve(conn)


def serve_with_preprocessing_fault(conn) -> None:
    _serve_with(ValueError("the slices could not be resampled to the network's grid"), conn)


def serve_with_gpu_out_of_memory(conn) -> None:
    import torch

    _serve_with(torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB"), conn)
