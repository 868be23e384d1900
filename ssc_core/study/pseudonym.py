"""Pseudonymous case codes: keyed hashes with a per-study secret.

A case code is HMAC-SHA256 of the scan's identifying material under a random 256-bit secret that is
created with the study and never leaves the study file, shown as base32 text. Without the secret nobody can
test a guessed patient ID or series UID against a code; with it, re-importing the same series gives the
same code (so duplicates are found). The identifiers themselves are never stored.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from typing import TYPE_CHECKING

from ssc_core.constants import CASE_CODE_CHARS

if TYPE_CHECKING:
    from ssc_core.imaging.volume import ImportIdentity

#: Prefix of every case code (makes codes recognisable in exports).
CODE_PREFIX = "C-"


def new_secret() -> bytes:
    """A fresh 256-bit study secret."""
    return secrets.token_bytes(32)


def keyed_hash(secret: bytes, purpose: str, material: str) -> str:
    """Hex HMAC-SHA256 of ``material`` for one ``purpose`` (domain separation between uses)."""
    msg = purpose.encode("utf-8") + b"\x00" + material.encode("utf-8")
    return hmac.new(secret, msg, hashlib.sha256).hexdigest()


def _code_material(identity: ImportIdentity | None, content_hash: str, series: str | None) -> str:
    # One case per series: the series instance UID names it. Files without UIDs (MHA, NIfTI, NRRD) are
    # named by their voxel content. The patient ID and study UID are mixed in so that codes differ between
    # patients even for synthetic series that reuse UIDs.
    if identity is not None and identity.series_instance_uid:
        parts = ["uid", identity.patient_id, identity.study_instance_uid, identity.series_instance_uid]
    else:
        parts = ["content", content_hash, series or ""]
    return "\x1f".join(parts)


def case_code(secret: bytes, identity: ImportIdentity | None, content_hash: str, series: str | None) -> str:
    """The pseudonymous code of a case, e.g. ``C-7K3QXZ2M4A``."""
    digest = bytes.fromhex(keyed_hash(secret, "case-code", _code_material(identity, content_hash, series)))
    text = base64.b32encode(digest).decode("ascii").rstrip("=")
    return CODE_PREFIX + text[:CASE_CODE_CHARS]


def series_uid_hash(secret: bytes, identity: ImportIdentity | None) -> str | None:
    """Keyed hash of the series instance UID (None when the source has no UID)."""
    if identity is None or not identity.series_instance_uid:
        return None
    return keyed_hash(secret, "series-uid", identity.series_instance_uid)
