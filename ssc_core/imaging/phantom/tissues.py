"""Attenuation of each tissue of the phantom (Hounsfield units, unenhanced CT at 120 kVp).

Typical values from CT textbooks (e.g. Prokop & Galanski, *Spiral and Multislice Computed Tomography of the
Body*, table of attenuation values; Webb, Brant & Major, *Fundamentals of Body CT*): air -1000, fat -120..-80,
water 0, blood 35-50, muscle 40-50, liver 50-70 (unenhanced), spleen 40-50, cancellous bone 150-300,
cortical bone 700-1500; normal lung at full inspiration about -850 HU, denser in the dependent lung.
The lung and liver values and the noise are drawn per patient (:mod:`~ssc_core.imaging.phantom.anatomy`).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class TissueHU:
    air: float = -1000.0
    fat: float = -100.0
    mediastinal_fat: float = -95.0
    skin: float = 30.0
    muscle: float = 45.0
    blood: float = 40.0  # unenhanced blood and myocardium (and the collapsed oesophagus)
    airway_wall: float = 30.0
    spleen: float = 46.0
    stomach_wall: float = 40.0
    stomach_content: float = 12.0
    marrow: float = 220.0  # cancellous bone
    cortical_bone: float = 900.0
    cartilage: float = 110.0
    disc: float = 85.0
    csf: float = 12.0
    cord: float = 32.0
    table: float = 250.0  # carbon-fibre table top
    pad: float = -850.0  # foam mattress


TISSUE_HU = TissueHU()
