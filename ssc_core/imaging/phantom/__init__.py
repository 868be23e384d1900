"""The synthetic chest phantom: the project's own test patient (see docs/phantom.md).

``generate_phantom(seed, ...)`` draws a patient and renders its chest CT with exact ground truth (level
heights from the anatomy, lung mask, disease masks and percentages); ``write_phantom`` and ``write_cohort``
put phantoms on disk as DICOM or MHA with the authors' label workbook.
"""

from ssc_core.imaging.phantom.cohort import (
    Cohort,
    CohortPatient,
    cohort_diseases,
    patient_id,
    patient_seed,
    write_cohort,
    write_phantom,
)
from ssc_core.imaging.phantom.disease import DiseaseSpec
from ssc_core.imaging.phantom.generate import PHANTOM_VERSION, Phantom, generate_phantom, phantom_anatomy

__all__ = [
    "PHANTOM_VERSION",
    "Cohort",
    "CohortPatient",
    "DiseaseSpec",
    "Phantom",
    "cohort_diseases",
    "generate_phantom",
    "patient_id",
    "patient_seed",
    "phantom_anatomy",
    "write_cohort",
    "write_phantom",
]
