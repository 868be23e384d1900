"""One writer per study file: an OS lock on a sidecar ``<study>.lock`` file.

The operating system releases the lock when the process ends, however it ends (crash, kill, power loss of
a remote client aside), so a stale lock never blocks a study. On POSIX ``flock`` is used; on Windows
``msvcrt.locking`` on the first byte. The lock file holds the holder's process id and host name, only to
make the refusal message useful.
"""

from __future__ import annotations

import contextlib
import os
import socket
from pathlib import Path

from ssc_core.errors import StudyLocked


def lock_path(study_path: Path) -> Path:
    return study_path.with_name(study_path.name + ".lock")


class WriterLock:
    """An exclusive, non-blocking lock held for the lifetime of a writing store."""

    def __init__(self, study_path: Path) -> None:
        self.path = lock_path(study_path)
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self) -> None:
        """Take the lock or raise :class:`StudyLocked` at once (never waits)."""
        for _ in range(5):
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            if not _try_lock(fd):
                holder = _read_holder(fd)
                os.close(fd)
                raise StudyLocked(
                    f"The study file is open for writing in another workstation window or process{holder}; "
                    "only one may write to it at a time.",
                    hint="Close the other window (or wait for the other command to finish) and try again.",
                )
            # The previous holder may have removed the lock file between our open and our lock: then we
            # hold a lock on a deleted file, and must retry on the new one.
            if _same_file(fd, self.path):
                self._fd = fd
                _write_holder(fd)
                return
            os.close(fd)
        raise StudyLocked("Could not take the study file's lock (it keeps being replaced).")

    def release(self) -> None:
        fd, self._fd = self._fd, None
        if fd is None:
            return
        if os.name == "posix":
            # Remove while still holding the lock; a waiting opener re-checks the inode (see acquire).
            with contextlib.suppress(OSError):
                os.unlink(self.path)
        _unlock(fd)
        os.close(fd)
        if os.name != "posix":
            with contextlib.suppress(OSError):
                os.unlink(self.path)


def _same_file(fd: int, path: Path) -> bool:
    if os.name != "posix":
        return True  # an open file cannot be deleted on Windows
    try:
        st = os.stat(path)
    except OSError:
        return False
    fst = os.fstat(fd)
    return (st.st_dev, st.st_ino) == (fst.st_dev, fst.st_ino)


def _try_lock(fd: int) -> bool:
    if os.name == "posix":
        import fcntl

        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            return False
        return True
    import msvcrt  # pragma: no cover - Windows

    try:  # pragma: no cover - Windows
        os.lseek(fd, 0, os.SEEK_SET)
        msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)  # type: ignore[attr-defined]
    except OSError:  # pragma: no cover - Windows
        return False
    return True  # pragma: no cover - Windows


def _unlock(fd: int) -> None:
    if os.name == "posix":
        import fcntl

        fcntl.flock(fd, fcntl.LOCK_UN)
        return
    import msvcrt  # pragma: no cover - Windows

    with contextlib.suppress(OSError):  # pragma: no cover - Windows
        os.lseek(fd, 0, os.SEEK_SET)
        msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)  # type: ignore[attr-defined]


def _write_holder(fd: int) -> None:
    text = f"{os.getpid()} {socket.gethostname()}\n".encode()
    with contextlib.suppress(OSError):
        # On Windows the locked first byte cannot be written; the holder text starts after it.
        offset = 0 if os.name == "posix" else 1
        os.ftruncate(fd, offset)
        os.lseek(fd, offset, os.SEEK_SET)
        os.write(fd, text)


def _read_holder(fd: int) -> str:
    with contextlib.suppress(OSError, ValueError, UnicodeDecodeError):
        os.lseek(fd, 0 if os.name == "posix" else 1, os.SEEK_SET)
        parts = os.read(fd, 200).decode("utf-8").split()
        if len(parts) >= 2:
            return f" (process {int(parts[0])} on {parts[1]})"
    return ""
