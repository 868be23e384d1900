"""The synthetic chest phantom: the project's own test patient (see docs/phantom.md)."""

from ssc_core.imaging.phantom.disease import DiseaseSpec
from ssc_core.imaging.phantom.generate import PHANTOM_VERSION, Phantom, generate_phantom

__all__ = ["PHANTOM_VERSION", "DiseaseSpec", "Phantom", "generate_phantom"]
