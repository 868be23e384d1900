"""A fault inside the AI's preprocessing, for the error-state test: the real AI service, with the level
finder's preparation of the scan failing as a damaged or unusual scan could make it fail."""

from __future__ import annotations


def serve_with_preprocessing_fault(conn) -> None:
    import ssc_core.ai.level_finder as level_finder
    from ssc_core.ai.service import serve

    def broken_slice_stack(*args, **kwargs):
        raise ValueError("the slices could not be resampled to the network's grid")

    level_finder.slice_stack = broken_slice_stack
    serve(conn)
