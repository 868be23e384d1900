"""Per-reader case order: a seeded, reproducible shuffle.

Each case's place is the SHA-256 of (session seed, session id, reader id, case id); sorting by it gives a
uniformly random permutation that is the same every time it is computed, differs between readers and
between a reader's sessions (even if two sessions were given the same seed), and keeps every other case in
place when a case is added to the session later.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable


def order_key(seed: int, session_id: int, reader_id: int, case_id: int) -> bytes:
    return hashlib.sha256(f"ssc-order:{seed}:{session_id}:{reader_id}:{case_id}".encode("ascii")).digest()


def reader_order(seed: int, session_id: int, reader_id: int, case_ids: Iterable[int]) -> list[int]:
    """``case_ids`` in this reader's order for this session."""
    return sorted(case_ids, key=lambda c: order_key(seed, session_id, reader_id, c))
