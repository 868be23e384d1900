"""Headless core of the SSc Scoring Workstation.

Everything that is true without a screen lives here: CT volumes and their loaders, the five Goh levels and
the scores, reader studies and their store, the AI cascade, training, statistics and export. This package
never imports Qt, pyqtgraph or the ``app`` package (enforced by an import-linter contract).
"""

import os as _os

__version__ = "0.1.0"

# Idle OpenMP threads (torch's CPU kernels) must sleep, not spin: spinning threads steal the CPU from the
# GUI thread and other processes, and on a busy 2-core machine made the AI's CPU passes 4-25 times slower
# (benchmarks/heatmap_speed.py). Set before torch loads its OpenMP runtime; an explicit setting wins.
_os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

RESEARCH_USE_NOTICE = "Research software, not a certified medical device. Not for clinical use."
