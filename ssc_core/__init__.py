"""Headless core of the SSc Scoring Workstation.

Everything that is true without a screen lives here: CT volumes and their loaders, the five Goh levels and
the scores, reader studies and their store, the AI cascade, training, statistics and export. This package
never imports Qt, pyqtgraph or the ``app`` package (enforced by an import-linter contract).
"""

__version__ = "0.1.0"

RESEARCH_USE_NOTICE = "Research software, not a certified medical device. Not for clinical use."
