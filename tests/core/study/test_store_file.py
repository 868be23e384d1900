"""The study file: creation, pragmas, migrations, bad files, the writer lock, network drives, backup."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import textwrap

import pytest

from ssc_core.constants import STUDY_APPLICATION_ID
from ssc_core.errors import StudyCorrupt, StudyError, StudyLocked, StudyOnNetworkDrive
from ssc_core.study import connection as connection_mod
from ssc_core.study import schema
from ssc_core.study.audit import Transaction, read_head
from ssc_core.study.filesystems import fs_type_from_mounts, is_network_fs_type
from ssc_core.study.lockfile import lock_path
from ssc_core.study.setup import populate_new_study
from ssc_core.study.store import create_study, open_study
from tests.core.study.helpers import fill_reading, make_source, open_session


def test_new_study_file_settings(study, tmp_path):
    conn = study.store.conn
    assert conn.execute("PRAGMA user_version").fetchone()[0] == schema.SCHEMA_VERSION
    assert conn.execute("PRAGMA application_id").fetchone()[0] == STUDY_APPLICATION_ID
    assert conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    assert conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert study.store.study.washout_days == 42
    assert study.store.study.name == "Test study"
    assert not list(tmp_path.glob(".*.creating"))  # no temporary file left behind


def test_create_refuses_existing_file(study, tmp_path):
    with pytest.raises(StudyError, match="already exists"):
        create_study(tmp_path / "s.sscstudy", name="Again", admin="X")


def test_open_missing_file(tmp_path):
    with pytest.raises(StudyError, match="no study file"):
        open_study(tmp_path / "missing.sscstudy")


def test_data_survive_reopen(study, tmp_path):
    sid = open_session(study)
    fill_reading(study.store, sid, study.a, study.codes[0])
    study.store.close()
    with open_study(tmp_path / "s.sscstudy") as store:
        view = store.reader_view(sid, study.a)
        assert view.readings[study.codes[0]].values.score(1, "TOT") == 15
        assert store.verify().ok


# --- refusing bad files ----------------------------------------------------------------------------


def test_foreign_sqlite_file_refused(tmp_path):
    p = tmp_path / "other.sscstudy"
    conn = sqlite3.connect(p)
    conn.execute("CREATE TABLE t (x)")
    conn.commit()
    conn.close()
    with pytest.raises(StudyCorrupt, match="another program"):
        open_study(p)


def test_not_sqlite_refused(tmp_path):
    p = tmp_path / "text.sscstudy"
    p.write_bytes(b"PatID,L1_pos\n" * 50)
    with pytest.raises(StudyCorrupt, match="not an SQLite database"):
        open_study(p)


def test_empty_file_refused(tmp_path):
    p = tmp_path / "empty.sscstudy"
    p.write_bytes(b"")
    with pytest.raises(StudyCorrupt):
        open_study(p)


def test_newer_schema_refused(study, tmp_path):
    study.store.close()
    p = tmp_path / "s.sscstudy"
    conn = sqlite3.connect(p)
    conn.execute(f"PRAGMA user_version = {schema.SCHEMA_VERSION + 1}")
    conn.close()
    before = p.read_bytes()
    with pytest.raises(StudyCorrupt, match="newer version") as info:
        open_study(p)
    assert "Update the workstation" in info.value.hint
    assert p.read_bytes() == before  # left unchanged


def test_truncated_file_refused(study, tmp_path):
    sid = open_session(study)
    for code in study.codes:
        fill_reading(study.store, sid, study.a, code)
    study.store.close()  # checkpoints: the data are now in the main file, no WAL left
    p = tmp_path / "s.sscstudy"
    size = p.stat().st_size
    with open(p, "r+b") as fh:
        fh.truncate(size // 2)
    with pytest.raises(StudyCorrupt, match="truncated"):
        open_study(p)
    with open(p, "r+b") as fh:  # also when cut at a page boundary
        fh.truncate(4096 * 3)
    with pytest.raises(StudyCorrupt):
        open_study(p)


def test_corrupt_pages_refused(study, tmp_path):
    sid = open_session(study)
    for code in study.codes:
        fill_reading(study.store, sid, study.a, code)
    study.store.close()
    p = tmp_path / "s.sscstudy"
    data = bytearray(p.read_bytes())
    page = 4096
    for k in range(2, len(data) // page):  # scribble over every page but the header page
        data[k * page + 8 : k * page + 200] = b"\xa5" * 192
    p.write_bytes(bytes(data))
    with pytest.raises(StudyCorrupt, match="cannot be opened as a study"):
        open_study(p)


# --- migrations ------------------------------------------------------------------------------------


def _v1_study(path):
    """A study file as version 1 wrote it: study, admin and one case (its row without the v2 column)."""
    conn = sqlite3.connect(path, isolation_level=None)
    schema.migrate(conn, target=1)
    at = "2025-01-01T00:00:00+00:00"
    populate_new_study(
        conn, name="Old", admin_name="Admin", washout_days=42, points=10, mm=10.0, at=at, secret=b"k" * 32
    )
    conn.execute("BEGIN IMMEDIATE")
    tx = Transaction(conn, read_head(conn), at=at, actor_id=1, actor="Admin", action="add_case", reason=None)
    tx.insert(
        "case_",
        {
            "code": "C-OLDCASE001",
            "content_hash": "0" * 64,
            "location": "/old/1.mha",
            "source_name": "1",
            "added_at": at,
        },
    )
    tx.finish()
    conn.execute("COMMIT")
    conn.close()


def test_v1_file_is_migrated_to_current(tmp_path):
    p = tmp_path / "old.sscstudy"
    _v1_study(p)
    with open_study(p) as store:
        assert store.study.schema_version == schema.SCHEMA_VERSION
        assert store.verify().ok  # v1 audit rows replay onto the v2 table (new column: None)
        assert store.case_by_code("C-OLDCASE001").excluded_reason is None
        admin = store.reader_by_name("Admin").id
        case = store.add_case(make_source(1), by=admin)
        store.exclude_case(case.code, by=admin, reason="scan incomplete")  # the v2 column
        assert store.case(case.id).excluded_reason == "scan incomplete"
        assert store.verify().ok
    backup = tmp_path / "old.sscstudy.format1.bak"
    assert backup.exists()
    assert sqlite3.connect(backup).execute("PRAGMA user_version").fetchone()[0] == 1


def test_failed_migration_leaves_old_version(tmp_path):
    p = tmp_path / "m.db"
    conn = sqlite3.connect(p, isolation_level=None)
    schema.migrate(conn, target=1)

    def broken(c):
        c.execute("ALTER TABLE case_ ADD COLUMN half_done TEXT")
        raise RuntimeError("power cut")

    with pytest.raises(RuntimeError):
        schema.migrate(conn, target=2, migrations=(schema.MIGRATIONS[0], broken))
    assert conn.execute("PRAGMA user_version").fetchone()[0] == 1
    cols = {r[1] for r in conn.execute("PRAGMA table_info(case_)")}
    assert "half_done" not in cols  # the DDL was rolled back with the version


def test_readonly_open_of_old_format_asks_for_upgrade(tmp_path):
    p = tmp_path / "old.sscstudy"
    _v1_study(p)
    with pytest.raises(StudyError, match="older workstation"):
        open_study(p, readonly=True)


# --- one writer ------------------------------------------------------------------------------------


def test_second_writer_refused_and_lock_released(study, tmp_path):
    p = tmp_path / "s.sscstudy"
    with pytest.raises(StudyLocked) as info:
        open_study(p)
    assert "only one may write" in str(info.value)
    with open_study(p, readonly=True) as ro:  # readers need no lock
        assert ro.readers()
        with pytest.raises(StudyError, match="read-only"):
            ro.add_reader("X", by=study.admin)
    study.store.close()
    with open_study(p) as again:
        assert again.readers()


def test_lock_released_when_writer_process_is_killed(study, tmp_path):
    study.store.close()
    p = tmp_path / "s.sscstudy"
    script = textwrap.dedent(
        f"""
        import sys
        from ssc_core.study.store import open_study
        store = open_study({str(p)!r})
        print("locked", flush=True)
        sys.stdin.read()
        """
    )
    child = subprocess.Popen(
        [sys.executable, "-c", script], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert child.stdout.readline().strip() == "locked"
        with pytest.raises(StudyLocked, match="process"):
            open_study(p)
        assert lock_path(p).exists()
    finally:
        child.kill()
        child.wait()
    with open_study(p) as store:  # the OS released the dead process's lock
        assert store.readers()


# --- network drives --------------------------------------------------------------------------------

MOUNTS = """\
/dev/sda1 / ext4 rw,relatime 0 0
server:/export /mnt/nfs nfs4 rw,vers=4.2 0 0
//fs/share /mnt/smb cifs rw 0 0
me@host:/data /mnt/ssh fuse.sshfs rw 0 0
/dev/sdb1 /mnt/nfs/local\\040disk ext4 rw 0 0
"""


@pytest.mark.parametrize(
    ("path", "fstype", "remote"),
    [
        ("/home/me/s.sscstudy", "ext4", False),
        ("/mnt/nfs/study/s.sscstudy", "nfs4", True),
        ("/mnt/smb/s.sscstudy", "cifs", True),
        ("/mnt/ssh/x/s.sscstudy", "fuse.sshfs", True),
        ("/mnt/nfs/local disk/s.sscstudy", "ext4", False),
        ("/mnt/nfsx/s.sscstudy", "ext4", False),
    ],
)
def test_network_filesystem_detection(path, fstype, remote):
    found = fs_type_from_mounts(path, MOUNTS)
    assert found == fstype
    assert is_network_fs_type(found) is remote


def test_network_drive_refused_unless_allowed(study, tmp_path, monkeypatch):
    study.store.close()
    p = tmp_path / "s.sscstudy"
    monkeypatch.setattr(connection_mod, "network_filesystem", lambda path: "nfs4")
    with pytest.raises(StudyOnNetworkDrive, match="network drive"):
        open_study(p)
    with pytest.raises(StudyOnNetworkDrive):
        create_study(tmp_path / "new.sscstudy", name="N", admin="A")
    with open_study(p, readonly=True) as ro:  # reading is allowed
        assert ro.readers()
    with open_study(p, allow_network=True) as store:  # explicitly allowed: no WAL there
        assert store.conn.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
        store.add_reader("C", by=store.reader_by_name("Admin").id)
        assert store.verify().ok


# --- backup ----------------------------------------------------------------------------------------


def test_backup_is_a_complete_verified_copy(study, tmp_path):
    sid = open_session(study)
    fill_reading(study.store, sid, study.a, study.codes[0])
    head = study.store.audit_head
    dest = study.store.backup(tmp_path / "backup.sscstudy", actor_id=study.admin)
    with open_study(dest) as copy:
        assert copy.verify().ok
        assert copy.audit_head == head
        assert copy.integrity_check() == ["ok"]
        assert copy.reader_view(sid, study.a).readings[study.codes[0]].values.score(2, "GG") == 10
    assert study.store.verify().ok  # the original got an audit note of the backup
    assert study.store.audit_head != head
    with pytest.raises(StudyError, match="cannot overwrite"):
        study.store.backup(tmp_path / "s.sscstudy")
