"""CT volumes, their loaders, the lung mask and the synthetic chest phantom."""

from ssc_core.imaging.volume import AXIAL_DIRECTION, CTVolume, ImportIdentity, LoadedScan, SeriesInfo

__all__ = ["AXIAL_DIRECTION", "CTVolume", "ImportIdentity", "LoadedScan", "SeriesInfo"]
