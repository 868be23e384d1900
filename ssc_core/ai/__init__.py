"""The AI cascade: networks, model bundles, inference, replacement heat maps, batch scoring.

Importing this package is cheap: torch and timm load only when a network is built or run. The public
names below are resolved lazily from their modules:

* :func:`load_bundle`, :func:`save_bundle`, :func:`update_bundle`, :func:`inspect_bundle`, :class:`Bundle`
  (``ssc_core.ai.bundle``)
* :class:`BundleSpec` and its parts (``ssc_core.ai.spec``)
* :class:`CascadeRunner`, :class:`CascadeRequest`, :func:`run_cascade` (``ssc_core.ai.cascade``, torch)
* :class:`CascadeResult`, :class:`LevelResult`, :class:`HeatmapResult`, :func:`store_fields`
  (``ssc_core.ai.results``)

Research software, not a medical device: every AI result carries ``ssc_core.RESEARCH_USE_NOTICE``.
"""

from __future__ import annotations

import importlib
from typing import Any

# (``import ssc_core`` sets OMP_WAIT_POLICY=PASSIVE before torch can load; see ssc_core/__init__.py.)

_LAZY = {
    "Bundle": "ssc_core.ai.bundle",
    "load_bundle": "ssc_core.ai.bundle",
    "save_bundle": "ssc_core.ai.bundle",
    "update_bundle": "ssc_core.ai.bundle",
    "inspect_bundle": "ssc_core.ai.bundle",
    "default_bundle_path": "ssc_core.ai.bundle",
    "BundleSpec": "ssc_core.ai.spec",
    "LevelFinderSpec": "ssc_core.ai.spec",
    "ScorerSpec": "ssc_core.ai.spec",
    "HeatmapSpec": "ssc_core.ai.spec",
    "CascadeRunner": "ssc_core.ai.cascade",
    "CascadeRequest": "ssc_core.ai.cascade",
    "run_cascade": "ssc_core.ai.cascade",
    "CascadeResult": "ssc_core.ai.results",
    "LevelResult": "ssc_core.ai.results",
    "LevelFinding": "ssc_core.ai.results",
    "SliceScores": "ssc_core.ai.results",
    "HeatmapResult": "ssc_core.ai.results",
    "store_fields": "ssc_core.ai.results",
}

__all__ = sorted(_LAZY)


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'ssc_core.ai' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
