"""Malformed inputs: every mutant loads or raises a named LoadError, each within 10 seconds."""

from __future__ import annotations

from collections import Counter

import pytest

from .mutants import OPERATORS, build_seeds, make_mutant, run_mutant

#: Mutants per operator family (6 families: 360 in all).
PER_OPERATOR = 60
#: Upper bound on the time to load or refuse one mutant.
LIMIT_S = 10.0


@pytest.fixture(scope="module")
def seeds():
    return build_seeds()


def test_seeds_are_valid(seeds, tmp_path):
    from ssc_core.imaging.loader import load_scan

    for name, files in seeds.items():
        folder = tmp_path / name
        folder.mkdir()
        for k, data in enumerate(files):
            (folder / f"IM{k:04d}.dcm").write_bytes(data)
        assert load_scan(folder).volume.n_slices == 4, name


@pytest.mark.parametrize("operator", OPERATORS)
def test_mutants_load_or_raise_named_errors(seeds, tmp_path, operator):
    outcomes = []
    for i in range(PER_OPERATOR):
        index = i * len(OPERATORS) + OPERATORS.index(operator)
        mutant = make_mutant(seeds, index, operator=operator)
        outcome = run_mutant(mutant, tmp_path / f"m{index}")
        assert outcome.seconds < LIMIT_S, f"{outcome.mutant} took {outcome.seconds:.1f} s"
        outcomes.append(outcome)
    crashes = [f"{o.mutant} -> {o.result}" for o in outcomes if o.crashed]
    assert not crashes, "\n".join(crashes)
    counts = Counter(o.result for o in outcomes)
    # the mutants are not all refused the same way: the suite exercises distinct decisions
    assert len(counts) >= 2, counts


def test_png_named_dcm_and_zero_byte_file(tmp_path):
    from ssc_core.errors import CorruptFile, NoImagesFound, UnsupportedFormat
    from ssc_core.imaging.loader import load_scan

    from .mutants import _png

    (tmp_path / "image.dcm").write_bytes(_png())
    with pytest.raises(UnsupportedFormat):
        load_scan(tmp_path / "image.dcm")
    (tmp_path / "empty.dcm").write_bytes(b"")
    with pytest.raises(UnsupportedFormat):
        load_scan(tmp_path / "empty.dcm")
    with pytest.raises(NoImagesFound, match="not DICOM"):
        load_scan(tmp_path)
    (tmp_path / "broken.dcm").write_bytes(bytes(128) + b"DICM" + b"\x02\x00\x10\x00UI\xff\xff")
    with pytest.raises((CorruptFile, NoImagesFound)):
        load_scan(tmp_path)
