"""The hub's own database, opened by JupyterHub's ORM as the hub opens it: written ahead, synced
at checkpoints; a crash of the hub after a commit loses nothing, and the next start puts the
commit into the file itself before JupyterHub may copy it."""

import sqlite3
import subprocess
import sys

import pytest
import sqlalchemy
from jupyterhub import orm
from sqlalchemy import event
from sqlalchemy.engine import Engine

from hubsetup import hub_database

# A hub that commits a login, then dies at once (no close, no checkpoint, like a killed process).
COMMIT_THEN_DIE = """
import os, sys
from jupyterhub import orm
from hubsetup import hub_database
hub_database.write_ahead(sys.argv[1].removeprefix("sqlite:///"))
db = orm.new_session_factory(sys.argv[1])()
db.add(orm.User(name="eleve1"))
db.commit()
os._exit(0)
"""


@pytest.fixture(autouse=True)
def no_hook_left():
    yield
    if event.contains(Engine, "connect", hub_database.on_connect):
        event.remove(Engine, "connect", hub_database.on_connect)
    hub_database._path = None


def test_jupyterhubs_database_is_written_ahead_and_synced_at_checkpoints(tmp_path):
    hub_database.write_ahead(str(tmp_path / "jupyterhub.sqlite"))
    url = f"sqlite:///{tmp_path}/jupyterhub.sqlite"
    db = orm.new_session_factory(url)()
    db.add(orm.User(name="eleve1"))
    db.commit()
    connection = db.connection().connection.dbapi_connection
    assert connection.execute("PRAGMA synchronous").fetchone()[0] == 1  # NORMAL
    assert connection.execute("PRAGMA foreign_keys").fetchone()[0] == 1  # JupyterHub's own hook still runs
    with sqlite3.connect(tmp_path / "jupyterhub.sqlite") as reader:
        assert reader.execute("PRAGMA journal_mode").fetchone()[0] == "wal"  # kept in the file
        assert reader.execute("SELECT name FROM users").fetchall() == [("eleve1",)]


def test_what_a_hub_committed_before_it_died_is_there_at_its_next_start(tmp_path):
    url = f"sqlite:///{tmp_path}/jupyterhub.sqlite"
    subprocess.run([sys.executable, "-c", COMMIT_THEN_DIE, url], check=True)
    assert (tmp_path / "jupyterhub.sqlite-wal").exists()  # the commit is in the log, not yet in the file
    # The next start moves it into the file before JupyterHub copies the file to migrate it.
    hub_database.write_ahead(str(tmp_path / "jupyterhub.sqlite"))
    log = tmp_path / "jupyterhub.sqlite-wal"
    assert not log.exists() or log.stat().st_size == 0
    with sqlite3.connect(f"file:{tmp_path}/jupyterhub.sqlite?mode=ro&immutable=1", uri=True) as copy_alone:
        assert copy_alone.execute("SELECT name FROM users").fetchall() == [("eleve1",)]
    db = orm.new_session_factory(url)()
    assert [user.name for user in db.query(orm.User)] == ["eleve1"]


def test_another_sqlite_file_the_hub_process_opens_keeps_its_own_settings(tmp_path):
    hub_database.write_ahead(str(tmp_path / "jupyterhub.sqlite"))
    other = sqlalchemy.create_engine(f"sqlite:///{tmp_path}/gradebook.db")
    with other.connect() as connection:
        raw = connection.connection.dbapi_connection
        assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
        assert raw.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL, SQLite's default
