"""The Qt workstation: a thin view over :mod:`ssc_core` (PySide6 + pyqtgraph)."""
