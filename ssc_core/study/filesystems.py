"""Is a path on a network file system?

SQLite's WAL mode needs shared memory between the processes using a file, and its locks (and our writer
lock) rely on the file system's locking; both are unreliable on network file systems (NFS, SMB/CIFS, ...),
where SQLite documents that corruption can follow (https://www.sqlite.org/wal.html, "WAL does not work
over a network filesystem"; https://www.sqlite.org/howtocorrupt.html section 2.1). The store therefore
refuses to write a study on a network drive unless told otherwise (see ``StudyStore``).

Linux: the mount holding the path, from ``/proc/mounts``. Windows: ``GetDriveTypeW`` of the path's root
(``DRIVE_REMOTE``) and UNC paths. Elsewhere (macOS): ``psutil.disk_partitions``.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

#: File-system types that live on another machine (Linux ``/proc/mounts`` names; ``fuse.*`` below).
NETWORK_FS_TYPES = frozenset(
    {
        "nfs",
        "nfs4",
        "cifs",
        "smb",
        "smb2",
        "smb3",
        "smbfs",
        "ncpfs",
        "afs",
        "ceph",
        "glusterfs",
        "lustre",
        "gpfs",
        "9p",
        "davfs",
        "webdav",
        "afpfs",
        "beegfs",
        "orangefs",
    }
)
#: FUSE file systems that are network mounts.
NETWORK_FUSE_TYPES = frozenset({"sshfs", "s3fs", "rclone", "gcsfuse", "glusterfs", "davfs", "smbnetfs"})


def _unescape_mount(field: str) -> str:
    # /proc/mounts escapes space, tab, newline and backslash as octal.
    for code, char in (("\\040", " "), ("\\011", "\t"), ("\\012", "\n"), ("\\134", "\\")):
        field = field.replace(code, char)
    return field


def fs_type_from_mounts(path: str | os.PathLike[str], mounts_text: str) -> str | None:
    """File-system type of the mount holding ``path`` (longest matching mount point), from mounts text."""
    target = os.path.abspath(path)
    best, best_type = "", None
    for line in mounts_text.splitlines():
        parts = line.split()
        if len(parts) < 3:
            continue
        mount, fstype = _unescape_mount(parts[1]), parts[2]
        prefix = mount.rstrip("/") + "/"
        if (target == mount or target.startswith(prefix) or mount == "/") and len(mount) >= len(best):
            best, best_type = mount, fstype
    return best_type


def is_network_fs_type(fstype: str | None) -> bool:
    if not fstype:
        return False
    fstype = fstype.lower()
    if fstype in NETWORK_FS_TYPES:
        return True
    if fstype.startswith("fuse."):
        return fstype[5:] in NETWORK_FUSE_TYPES
    return False


def _existing_ancestor(path: Path) -> Path:
    p = path.resolve() if path.exists() else path.absolute()
    while not p.exists() and p.parent != p:
        p = p.parent
    return p.resolve()


def network_filesystem(path: str | os.PathLike[str]) -> str | None:
    """A short description of the network file system holding ``path``, or None when it is local."""
    p = _existing_ancestor(Path(path))
    if sys.platform.startswith("linux"):
        try:
            text = Path("/proc/mounts").read_text(encoding="utf-8", errors="replace")
        except OSError:
            return None
        fstype = fs_type_from_mounts(p, text)
        return fstype if is_network_fs_type(fstype) else None
    if os.name == "nt":  # pragma: no cover - Windows
        return _windows_remote(p)
    return _psutil_remote(p)  # pragma: no cover - macOS/BSD


def _windows_remote(p: Path) -> str | None:  # pragma: no cover - Windows
    text = str(p)
    if text.startswith("\\\\") and not text.startswith("\\\\?\\"):
        return "network share (UNC path)"
    import ctypes

    drive_remote = 4
    root = os.path.splitdrive(text)[0] + "\\"
    if ctypes.windll.kernel32.GetDriveTypeW(ctypes.c_wchar_p(root)) == drive_remote:  # type: ignore[attr-defined]
        return f"network drive {root}"
    return None


def _psutil_remote(p: Path) -> str | None:  # pragma: no cover - macOS/BSD
    try:
        import psutil

        parts = psutil.disk_partitions(all=True)
    except Exception:
        return None
    text = "\n".join(f"{q.device} {q.mountpoint} {q.fstype}" for q in parts)
    fstype = fs_type_from_mounts(p, text)
    return fstype if is_network_fs_type(fstype) else None
