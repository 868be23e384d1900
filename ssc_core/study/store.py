"""The study store: the only code that reads or writes a study file.

Open one with :func:`open_study` (or make one with :func:`create_study`); it is a context manager. A
writing store holds the file's writer lock until it is closed, so a second writer is refused with
``StudyLocked``; read-only stores (``readonly=True``: status, verify, export) need no lock.

API by user (details in each method's docstring and in docs/architecture.md):

* setup (admin): ``add_reader``, ``add_case(s)``, ``exclude_case``, ``add_session``, ``open_session``,
  ``close_session``, ``reopen_session``, ``override_washout``, ``set_protocol``;
* a reader's work: ``sessions_for_reader``, ``reader_view``, ``place_level``, ``clear_level``,
  ``set_score``, ``set_rating``, ``add_time``, ``commit_unaided``, ``submit`` (each one committed
  transaction, returning the saved ``Reading``), ``reader_ai``, ``reader_heatmap``;
* corrections (admin, with a reason): ``correct``;
* AI integration: ``put_ai_result``, ``ai_result``, ``ai_heatmap``;
* statistics and export: ``ssc_core.study.queries``;
* integrity: ``verify``, ``integrity_check``, ``backup``, ``audit_head``.
"""

from __future__ import annotations

import os
from pathlib import Path

from ssc_core.constants import CONSENSUS_DISAGREEMENT_MM, CONSENSUS_DISAGREEMENT_POINTS, DEFAULT_WASHOUT_DAYS
from ssc_core.errors import StudyError
from ssc_core.study.clock import Clock, system_clock, to_text
from ssc_core.study.connection import create_file, open_connection
from ssc_core.study.pseudonym import new_secret
from ssc_core.study.setup import SetupMixin, populate_new_study
from ssc_core.study.views import ViewMixin


class StudyStore(SetupMixin, ViewMixin):
    """An open study file (see the module docstring)."""


def open_study(
    path: str | os.PathLike[str],
    *,
    readonly: bool = False,
    clock: Clock | None = None,
    allow_network: bool = False,
) -> StudyStore:
    """Open a study file.

    Parameters
    ----------
    path
        The ``.sscstudy`` file.
    readonly
        Open without the writer lock (status, verify, export); changes are refused.
    clock
        Source of "now" (UTC); tests inject a manual clock to check the washout.
    allow_network
        Write even though the file is on a network drive (then without WAL); refused otherwise.

    Raises
    ------
    StudyCorrupt
        Not a study file, a newer format, or damaged (SQLite's quick_check fails).
    StudyLocked
        Another process is writing to it.
    StudyOnNetworkDrive
        On a network file system and ``allow_network`` is False.
    """
    p = Path(path)
    conn, lock, remote = open_connection(p, readonly=readonly, allow_network=allow_network)
    return StudyStore(conn, p, lock=lock, clock=clock, network_fs=remote)


def create_study(
    path: str | os.PathLike[str],
    *,
    name: str,
    admin: str,
    washout_days: int = DEFAULT_WASHOUT_DAYS,
    disagreement_points: int = CONSENSUS_DISAGREEMENT_POINTS,
    disagreement_mm: float = CONSENSUS_DISAGREEMENT_MM,
    clock: Clock | None = None,
    allow_network: bool = False,
) -> StudyStore:
    """Create a new study file with its first admin and return it open for writing.

    The file is built under a temporary name and moved into place complete; an existing file is never
    overwritten. A fresh random secret for the case codes is stored in it.
    """
    if int(washout_days) < 0:
        raise StudyError("The washout cannot be negative.")
    at = to_text((clock or system_clock)())
    p = Path(path)
    create_file(
        p,
        lambda conn: populate_new_study(
            conn,
            name=name,
            admin_name=admin,
            washout_days=int(washout_days),
            points=int(disagreement_points),
            mm=float(disagreement_mm),
            at=at,
            secret=new_secret(),
        ),
        allow_network=allow_network,
    )
    return open_study(p, clock=clock, allow_network=allow_network)
