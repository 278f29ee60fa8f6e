"""The hub's own SQLite database (logins, tokens, servers' state): written ahead (WAL) and synced
to the disk at its checkpoints rather than at every commit.

JupyterHub commits on its event loop, and with SQLite's defaults every commit waits for the disk:
during a class's start (a hundred launches, each with its logins, tokens and spawn records) those
waits were a sixth of the hub's busy time, and every other request (`/hub/health` among them)
queued behind them. With WAL and `synchronous=NORMAL` a crash of the hub loses nothing and the
database stays whole; a power cut may lose the last commits (sessions and tokens, which a login
makes again), never the file. The registry of accounts and grades is another database, synced at
every commit (hubsetup.registry).
"""

import os
import sqlite3

from sqlalchemy import event
from sqlalchemy.engine import Engine


_path = None  # the hub's database file, once write_ahead has been called


def on_connect(connection, _record):
    """On the hub's own database only (any other SQLite file the process may open keeps its
    settings), and synced at checkpoints only where the log is granted."""
    if not isinstance(connection, sqlite3.Connection) or _path is None:
        return
    files = [row[2] for row in connection.execute("PRAGMA database_list") if row[1] == "main"]
    if not files or os.path.realpath(files[0]) != os.path.realpath(_path):
        return
    if connection.execute("PRAGMA journal_mode=WAL").fetchone()[0].lower() == "wal":
        connection.execute("PRAGMA synchronous=NORMAL")


def write_ahead(path):
    """For the connections SQLAlchemy opens to `path` in this process. Called as the hub reads its
    configuration, before it opens `path`: what a hub that stopped left in the log is moved into
    the file first, so that the copy JupyterHub makes before migrating its schema (of the file
    alone) holds every commit."""
    global _path
    _path = path
    if os.path.exists(path):
        with sqlite3.connect(path) as db:
            db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        db.close()
    if not event.contains(Engine, "connect", on_connect):
        event.listen(Engine, "connect", on_connect)
