"""scripts/backup snapshots a user's SQLite file through the descriptor it checked: swapping the
file for a link between the check and the snapshot changes nothing (the race done for real)."""

import importlib.util
import os
import sqlite3

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
spec = importlib.util.spec_from_file_location("backup", os.path.join(REPO, "scripts", "backup.py"))
backup = importlib.util.module_from_spec(spec)
spec.loader.exec_module(backup)


def database(path, value):
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE t (v TEXT)")
    db.execute("INSERT INTO t VALUES (?)", (value,))
    db.commit()
    db.close()


def test_a_database_swapped_for_a_link_after_its_check_is_still_the_one_checked(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    database(home / "notes.db", "the student's own")
    database(tmp_path / "registry.sqlite", "everyone's password hashes")
    fd = os.open(home / "notes.db", os.O_RDONLY | os.O_NOFOLLOW)  # what the backup checked
    try:
        os.rename(home / "notes.db", home / "moved.db")
        os.symlink(tmp_path / "registry.sqlite", home / "notes.db")
        copy = backup.sqlite_snapshot(str(home / "notes.db"), str(tmp_path), fd)
    finally:
        os.close(fd)
    db = sqlite3.connect(copy)
    assert db.execute("SELECT v FROM t").fetchone()[0] == "the student's own"
    db.close()
