"""The account registry: who the hub's users are, kept in the hub-state volume.

The container's /etc files are rebuilt from this registry at every start, so users, UIDs,
passwords and course memberships survive re-creating the container. SQLite, one file, 0600.
"""

import contextlib
import os
import sqlite3

SCHEMA = """
CREATE TABLE IF NOT EXISTS users (
    login TEXT PRIMARY KEY,
    uid INTEGER NOT NULL UNIQUE,
    origin TEXT NOT NULL,              -- 'csv' or 'lti'
    active INTEGER NOT NULL DEFAULT 1, -- 0: locked (row removed from accounts.csv)
    password_hash TEXT NOT NULL,       -- what /etc/shadow gets ('!' for no password)
    password_digest TEXT NOT NULL DEFAULT '' -- keyed digest of the accounts.csv password field
);
CREATE TABLE IF NOT EXISTS courses (
    course TEXT PRIMARY KEY,
    student_gid INTEGER NOT NULL UNIQUE,     -- group nbgrader-<course>: everyone in the course
    instructor_gid INTEGER NOT NULL UNIQUE   -- group formgrade-<course>: its instructors
);
CREATE TABLE IF NOT EXISTS memberships (
    login TEXT NOT NULL REFERENCES users(login),
    course TEXT NOT NULL REFERENCES courses(course),
    role TEXT NOT NULL,                -- 'instructor' or 'student'
    origin TEXT NOT NULL,              -- 'csv' or 'lti': a CSV sync only rewrites its own
    PRIMARY KEY (login, course)
);
"""


@contextlib.contextmanager
def connect(path):
    """A connection in one transaction: committed on success, rolled back on error."""
    directory = os.path.dirname(path)
    os.makedirs(directory, mode=0o700, exist_ok=True)
    os.chmod(directory, 0o700)
    new = not os.path.exists(path)
    db = sqlite3.connect(path, timeout=30)
    db.row_factory = sqlite3.Row
    try:
        if new:
            os.chmod(path, 0o600)
        db.execute("PRAGMA journal_mode=WAL")
        db.executescript(SCHEMA)
        with db:
            yield db
    finally:
        db.close()


def users(db):
    return {row["login"]: dict(row) for row in db.execute("SELECT * FROM users")}


def courses(db):
    return {row["course"]: dict(row) for row in db.execute("SELECT * FROM courses")}


def memberships(db):
    return [dict(row) for row in db.execute("SELECT * FROM memberships ORDER BY course, login")]


def active_user(db, login):
    row = db.execute("SELECT * FROM users WHERE login = ? AND active = 1", (login,)).fetchone()
    return dict(row) if row else None


def roles_of(db, login):
    """{course: role} for one user."""
    rows = db.execute("SELECT course, role FROM memberships WHERE login = ?", (login,))
    return {row["course"]: row["role"] for row in rows}


def save_user(db, user):
    db.execute(
        "INSERT INTO users (login, uid, origin, active, password_hash, password_digest)"
        " VALUES (:login, :uid, :origin, :active, :password_hash, :password_digest)"
        " ON CONFLICT(login) DO UPDATE SET origin = excluded.origin, active = excluded.active,"
        " password_hash = excluded.password_hash, password_digest = excluded.password_digest",
        user,
    )


def save_course(db, course, student_gid, instructor_gid):
    db.execute(
        "INSERT OR IGNORE INTO courses (course, student_gid, instructor_gid) VALUES (?, ?, ?)",
        (course, student_gid, instructor_gid),
    )


def set_memberships(db, origin, pairs):
    """Replace every membership of `origin` by `pairs`: (login, course, role) tuples."""
    db.execute("DELETE FROM memberships WHERE origin = ?", (origin,))
    db.executemany(
        "INSERT OR REPLACE INTO memberships (login, course, role, origin) VALUES (?, ?, ?, ?)",
        [(login, course, role, origin) for login, course, role in pairs],
    )


def add_membership(db, login, course, role, origin):
    db.execute(
        "INSERT INTO memberships (login, course, role, origin) VALUES (?, ?, ?, ?)"
        " ON CONFLICT(login, course) DO UPDATE SET role = excluded.role",
        (login, course, role, origin),
    )
