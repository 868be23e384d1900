"""Opening and creating study files: the checks before the store may use one.

A study file is refused with :class:`StudyCorrupt` (and a message saying which) when it is not an SQLite
database, is an SQLite database of another program, was written by a newer workstation (schema version),
or fails SQLite's ``quick_check`` (damaged or truncated). A writer takes the sidecar lock first, so a
second writer is refused with :class:`StudyLocked`; on a network file system writing is refused with
:class:`StudyOnNetworkDrive` unless explicitly allowed, and then the file is kept in rollback-journal mode
(WAL needs shared memory that network file systems do not provide).
"""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
import sqlite3
from collections.abc import Callable
from pathlib import Path

from ssc_core.constants import STUDY_APPLICATION_ID
from ssc_core.errors import StudyCorrupt, StudyError, StudyLocked, StudyOnNetworkDrive
from ssc_core.study.filesystems import network_filesystem
from ssc_core.study.lockfile import WriterLock
from ssc_core.study.schema import SCHEMA_VERSION, migrate

log = logging.getLogger(__name__)

_SQLITE_MAGIC = b"SQLite format 3\x00"
#: Wait this long (ms) for SQLite's own lock, e.g. while a read-only verifier holds a read transaction.
_BUSY_TIMEOUT_MS = 5000


def _refuse_corrupt(path: Path, what: str, *, hint: str | None = None) -> StudyCorrupt:
    return StudyCorrupt(
        f"{path.name} cannot be opened as a study: {what}",
        hint=hint or "Open a backup of the study (ssc study backup makes one), or the right file.",
    )


def check_header(path: Path) -> None:
    """Refuse files that are not SQLite databases before SQLite sees them."""
    if not path.exists():
        raise StudyError(f"There is no study file at {path}.")
    if not path.is_file():
        raise StudyError(f"{path} is a folder, not a study file.")
    with open(path, "rb") as fh:
        header = fh.read(100)
    if len(header) < 100 or not header.startswith(_SQLITE_MAGIC):
        raise _refuse_corrupt(
            path, "it is not a study file (not an SQLite database, or its start is damaged)."
        )
    page_size = int.from_bytes(header[16:18], "big")
    page_size = 65536 if page_size == 1 else page_size
    if any(path.with_name(path.name + s).exists() for s in ("-wal", "-journal")):
        return  # after a crash the size is SQLite's business: it recovers from the log, then quick_check
    size = path.stat().st_size
    # The header's page count is valid when its "version-valid-for" number equals the change counter.
    pages_in_header = int.from_bytes(header[28:32], "big")
    valid = header[92:96] == header[24:28]
    if page_size < 512 or size % page_size != 0 or (valid and size < pages_in_header * page_size):
        raise _refuse_corrupt(path, "the file is truncated or damaged (its size does not match its pages).")


def _translate(path: Path, exc: sqlite3.Error) -> StudyError:
    text = str(exc).lower()
    if "locked" in text or "busy" in text:
        return StudyLocked(f"{path.name} is busy: another program holds SQLite's lock on it.")
    return _refuse_corrupt(path, f"the database is damaged ({exc}).")


def _connect(path: Path, *, readonly: bool) -> sqlite3.Connection:
    mode = "ro" if readonly else "rw"
    uri = Path(path).absolute().as_uri() + f"?mode={mode}"
    conn = sqlite3.connect(uri, uri=True, isolation_level=None)
    conn.row_factory = sqlite3.Row
    conn.execute(f"PRAGMA busy_timeout = {_BUSY_TIMEOUT_MS}")
    conn.execute("PRAGMA foreign_keys = ON")
    # FULL: each commit is on disk (the WAL fsynced) before commit returns, so "saved" means saved.
    conn.execute("PRAGMA synchronous = FULL")
    return conn


def open_connection(
    path: Path, *, readonly: bool, allow_network: bool
) -> tuple[sqlite3.Connection, WriterLock | None, str | None]:
    """Check, lock and open a study file; returns the connection, the writer lock and the network FS.

    Writers also switch the journal mode (WAL locally, DELETE on an allowed network drive) and migrate
    an older schema (after backing the file up beside itself).
    """
    check_header(path)
    remote = network_filesystem(path)
    if remote and not readonly and not allow_network:
        raise StudyOnNetworkDrive(
            f"{path.name} is on a network drive ({remote}). Writing a study there risks corrupting it: "
            "SQLite's locking and write-ahead log are not reliable on network file systems."
        )
    lock: WriterLock | None = None
    if not readonly:
        lock = WriterLock(path)
        lock.acquire()
    conn: sqlite3.Connection | None = None
    try:
        conn = _connect(path, readonly=readonly)
        _check_identity(path, conn)
        _quick_check(path, conn)
        if not readonly:
            mode = "delete" if remote else "wal"
            got = conn.execute(f"PRAGMA journal_mode = {mode}").fetchone()[0]
            if str(got).lower() != mode:
                raise StudyError(f"{path.name}: could not switch the journal to {mode} mode (got {got}).")
            if remote:
                log.warning("Study file on a network drive (%s): rollback-journal mode, no WAL.", remote)
            _upgrade(path, conn)
        else:
            version = int(conn.execute("PRAGMA user_version").fetchone()[0])
            if version < SCHEMA_VERSION:
                raise StudyError(
                    f"{path.name} was written by an older workstation (study format {version}); "
                    "open it once for writing to upgrade it."
                )
        return conn, lock, remote
    except sqlite3.Error as exc:
        if conn is not None:
            conn.close()
        if lock is not None:
            lock.release()
        raise _translate(path, exc) from exc
    except BaseException:
        if conn is not None:
            conn.close()
        if lock is not None:
            lock.release()
        raise


def _check_identity(path: Path, conn: sqlite3.Connection) -> None:
    app_id = int(conn.execute("PRAGMA application_id").fetchone()[0])
    version = int(conn.execute("PRAGMA user_version").fetchone()[0])
    if app_id != STUDY_APPLICATION_ID:
        raise _refuse_corrupt(
            path,
            "it is an SQLite database of another program, not a study file.",
            hint="Choose a .sscstudy file made by the workstation (ssc study create).",
        )
    if version > SCHEMA_VERSION:
        raise _refuse_corrupt(
            path,
            f"it was written by a newer version of the workstation (study format {version}; this version "
            f"reads up to {SCHEMA_VERSION}).",
            hint="Update the workstation to open this study; the file is left unchanged.",
        )
    if version < 1:
        raise _refuse_corrupt(path, "it carries no study format version.")


def _quick_check(path: Path, conn: sqlite3.Connection) -> None:
    rows = [str(r[0]) for r in conn.execute("PRAGMA quick_check(20)")]
    if rows != ["ok"]:
        raise _refuse_corrupt(path, "SQLite's integrity check failed: " + "; ".join(rows[:5]))
    if conn.execute("SELECT count(*) FROM study").fetchone()[0] != 1:
        raise _refuse_corrupt(path, "the study record is missing.")


def _upgrade(path: Path, conn: sqlite3.Connection) -> None:
    version = int(conn.execute("PRAGMA user_version").fetchone()[0])
    if version >= SCHEMA_VERSION:
        return
    backup = path.with_name(f"{path.name}.format{version}.bak")
    if not backup.exists():
        dest = sqlite3.connect(backup)
        try:
            conn.backup(dest)
        finally:
            dest.close()
    log.info(
        "Upgrading the study file from format %d to %d (backup kept beside it).", version, SCHEMA_VERSION
    )
    migrate(conn)


def create_file(path: Path, populate: Callable[[sqlite3.Connection], None], *, allow_network: bool) -> None:
    """Create a study file atomically: build it beside ``path`` and move it into place when complete.

    ``populate(conn)`` writes the first records (inside the migrated, still private file). A crash during
    creation leaves at most a hidden temporary file, never a half-made study under the chosen name.
    """
    path = Path(path)
    if path.exists():
        raise StudyError(f"{path} already exists; choose another name (studies are never overwritten).")
    if not path.parent.is_dir():
        raise StudyError(f"The folder {path.parent} does not exist.")
    remote = network_filesystem(path.parent)
    if remote and not allow_network:
        raise StudyOnNetworkDrive(
            f"{path.parent} is on a network drive ({remote}). Writing a study there risks corrupting it: "
            "SQLite's locking and write-ahead log are not reliable on network file systems."
        )
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(8)}.creating")
    # O_EXCL with mode 0o666: a fresh name, and the user's umask decides the permissions (as for any file).
    os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
    try:
        conn = sqlite3.connect(tmp, isolation_level=None)
        try:
            conn.row_factory = sqlite3.Row
            conn.execute("PRAGMA foreign_keys = ON")
            conn.execute("PRAGMA synchronous = FULL")
            conn.execute("PRAGMA journal_mode = delete")
            migrate(conn)
            populate(conn)
        finally:
            conn.close()
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        try:
            os.link(tmp, path)  # fails if the name was taken meanwhile: never overwrite a study
        except FileExistsError:
            raise StudyError(f"{path} already exists; choose another name.") from None
        except OSError:
            if path.exists():
                raise StudyError(f"{path} already exists; choose another name.") from None
            os.replace(tmp, path)  # file systems without hard links
        if os.name == "posix":
            dfd = os.open(path.parent, os.O_RDONLY)
            try:
                os.fsync(dfd)
            finally:
                os.close(dfd)
    finally:
        with contextlib.suppress(OSError):
            tmp.unlink()
