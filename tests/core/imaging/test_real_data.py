"""Real CT series from TCIA (skipped when ../shared/data/real is absent)."""

from __future__ import annotations

import numpy as np
import pytest

from ssc_core.imaging.loader import find_series, load_scan

pytestmark = pytest.mark.realdata


def test_pancreas_series_loads_with_its_geometry(real_data):
    folder = real_data / "tcia-pancreas-ct-001"
    (c,) = find_series(folder)
    assert c.scorable
    assert c.n_slices == 134
    assert c.orientation == "axial"
    scan = load_scan(folder)
    v = scan.volume
    assert v.shape == (134, 512, 512)
    assert v.spacing == pytest.approx((3.0, 1.0742, 1.0742), abs=1e-4)
    assert np.all(np.diff(v.slice_z) < 0)  # slice 0 is the most cranial
    assert v.slice_z[0] == pytest.approx(484.91, abs=0.01)
    assert v.slice_z[-1] == pytest.approx(484.91 - 133 * 3.0, abs=0.01)
    # air outside the body (corners of the top slice) reads near -1000 HU
    corners = np.concatenate([v.hu[0, :20, :20].ravel(), v.hu[0, :20, -20:].ravel()])
    assert -1010 <= np.median(corners) <= -980
    # lungs in the cranial slices hold air-like parenchyma, soft tissue is around 0..100 HU
    assert (v.hu[:10] < -800).mean() > 0.1
    assert v.warnings == ()
    assert scan.identity.patient_id  # identifiers travel apart
    assert v.info.manufacturer == "Philips"


@pytest.mark.parametrize(
    ("case", "n", "spacing", "pixel"),
    [
        ("LIDC-IDRI-0001", 16, 2.5, 0.703125),
        ("LIDC-IDRI-0002", 12, 1.25, 0.681641),
        ("LIDC-IDRI-0003", 11, 2.5, 0.820312),
    ],
)
def test_lidc_runs_load_and_padding_becomes_air(real_data, case, n, spacing, pixel):
    folder = real_data / "lidc-idri-partial" / case
    v = load_scan(folder).volume
    assert v.shape == (n, 512, 512)
    assert v.spacing == pytest.approx((spacing, pixel, pixel), abs=1e-4)
    assert np.all(np.diff(v.slice_z) < 0)
    # padding outside the scan circle (-2000 stored: -3024 HU; -1024 stored: -2048 HU) is now air
    assert v.hu.min() >= -1024
    assert v.hu[0, 0, 0] == -1000
    # file names are slice locations: the loader orders by position, so slice 0 is the highest z
    assert v.slice_z[0] == max(float(p.stem) for p in folder.glob("*.dcm"))
