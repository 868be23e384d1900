"""Transfer syntaxes: their names, whether the pixel data are native (uncompressed), and decoder support.

Decoding of compressed pixel data goes through pydicom's pixel backends, with the plugins declared in
``pyproject.toml``: pylibjpeg-libjpeg (JPEG baseline, extended and lossless; JPEG-LS), pyjpegls (JPEG-LS),
pylibjpeg-openjpeg (JPEG 2000, HTJ2K) and pylibjpeg-rle or pydicom's own RLE decoder. Whatever pydicom
cannot decode with the installed plugins (video syntaxes, JPIP references, JPEG 2000 Part 2, private or
unknown UIDs) is refused with :class:`~ssc_core.errors.UnsupportedTransferSyntax` naming the syntax.
"""

from __future__ import annotations

from functools import lru_cache

from ssc_core.errors import UnsupportedTransferSyntax

IMPLICIT_VR_LITTLE_ENDIAN = "1.2.840.10008.1.2"
EXPLICIT_VR_LITTLE_ENDIAN = "1.2.840.10008.1.2.1"
DEFLATED_EXPLICIT_VR_LITTLE_ENDIAN = "1.2.840.10008.1.2.1.99"
EXPLICIT_VR_BIG_ENDIAN = "1.2.840.10008.1.2.2"

#: Syntaxes whose pixel data are stored as plain little-endian integers (read without any decoder).
NATIVE_LITTLE_ENDIAN = frozenset({IMPLICIT_VR_LITTLE_ENDIAN, EXPLICIT_VR_LITTLE_ENDIAN})

#: Short names shown to users for the syntaxes a CT series is commonly stored with.
_SHORT_NAMES = {
    IMPLICIT_VR_LITTLE_ENDIAN: "Implicit VR Little Endian (uncompressed)",
    EXPLICIT_VR_LITTLE_ENDIAN: "Explicit VR Little Endian (uncompressed)",
    DEFLATED_EXPLICIT_VR_LITTLE_ENDIAN: "Deflated Explicit VR Little Endian",
    EXPLICIT_VR_BIG_ENDIAN: "Explicit VR Big Endian (uncompressed)",
    "1.2.840.10008.1.2.4.50": "JPEG Baseline (lossy, 8 bit)",
    "1.2.840.10008.1.2.4.51": "JPEG Extended (lossy, 12 bit)",
    "1.2.840.10008.1.2.4.57": "JPEG Lossless (Process 14)",
    "1.2.840.10008.1.2.4.70": "JPEG Lossless (Process 14, SV1)",
    "1.2.840.10008.1.2.4.80": "JPEG-LS Lossless",
    "1.2.840.10008.1.2.4.81": "JPEG-LS Near-Lossless",
    "1.2.840.10008.1.2.4.90": "JPEG 2000 (lossless)",
    "1.2.840.10008.1.2.4.91": "JPEG 2000",
    "1.2.840.10008.1.2.4.201": "HTJ2K (lossless)",
    "1.2.840.10008.1.2.4.202": "HTJ2K RPCL (lossless)",
    "1.2.840.10008.1.2.4.203": "HTJ2K",
    "1.2.840.10008.1.2.5": "RLE Lossless",
}


def syntax_name(uid: str) -> str:
    """A readable name of transfer syntax ``uid`` (the UID itself when it is unknown)."""
    uid = str(uid).strip()
    if uid in _SHORT_NAMES:
        return _SHORT_NAMES[uid]
    from pydicom.uid import UID

    name = UID(uid).name if uid else ""
    return name if name and name != uid else f"unknown transfer syntax {uid or '(none)'}"


def is_native(uid: str) -> bool:
    """True when pixel data under ``uid`` are not encapsulated (no decoder needed)."""
    return str(uid) in NATIVE_LITTLE_ENDIAN or str(uid) in (
        DEFLATED_EXPLICIT_VR_LITTLE_ENDIAN,
        EXPLICIT_VR_BIG_ENDIAN,
    )


@lru_cache(maxsize=64)
def unsupported_reason(uid: str) -> str | None:
    """None when pixel data under ``uid`` can be decoded here, else a sentence saying why not."""
    uid = str(uid).strip()
    if not uid:
        return "the file does not state its transfer syntax"
    if is_native(uid):
        return None
    from pydicom.pixels import get_decoder
    from pydicom.uid import UID

    name = syntax_name(uid)
    if not UID(uid).is_transfer_syntax:
        return f"the pixel data use {name}, which is not a known DICOM transfer syntax"
    try:
        decoder = get_decoder(UID(uid))
    except NotImplementedError:
        return f"the pixel data are compressed with {name}, which the workstation cannot decode"
    if not decoder.is_available:
        return f"the pixel data are compressed with {name}, but no decoder for it is installed"
    return None


def require_supported(uid: str) -> None:
    """Raise :class:`UnsupportedTransferSyntax` (naming the syntax) unless ``uid`` can be decoded."""
    reason = unsupported_reason(str(uid))
    if reason is not None:
        raise UnsupportedTransferSyntax(f"This series cannot be opened: {reason}.")
