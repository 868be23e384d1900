"""Self-test of an installation (``ssc-workstation --self-test``): the checks that need no screen.

Each check returns a :class:`Check` (name, passed, seconds, detail). The workstation's self-test
(``app/self_test.py``) runs these and the window checks and prints one line per check; it is meant to be run
on a freshly built desktop bundle, where a decoder plugin or a data file lost in freezing shows up here
rather than in a reader's first study.

- :mod:`ssc_core.selftest.codecs`: one tiny synthetic series per supported transfer syntax, written with the
  project's own DICOM writer and compressed with the encoders the workstation ships (pydicom with
  pylibjpeg-openjpeg, pylibjpeg-rle and pyjpegls; GDCM inside SimpleITK; Pillow), or shipped in
  ``resources/selftest`` where no shipped library encodes the syntax; each is read back through the
  loader and compared with the pixels it was made from.
- :mod:`ssc_core.selftest.ai`: the AI cascade (level finder and scorer) on one phantom with the demo bundle,
  or with an untrained bundle (clearly labelled) while none is installed.
"""

from __future__ import annotations

from ssc_core.selftest.base import Check, run_check

__all__ = ["Check", "run_check"]
