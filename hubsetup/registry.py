"""The account registry: who the hub's users are, kept in the hub-state volume.

The container's /etc files are rebuilt from this registry at every start, so users, UIDs,
passwords and course memberships survive re-creating the container. SQLite, one file, 0600.
"""

import contextlib
import os
import sqlite3
import time

from .person_names import PersonName

# The registry's schema, as numbered steps: PRAGMA user_version says how many a registry has
# had, and `migrate` runs the rest at the first connection of a newer version. A step is never
# changed once released: a new column or table is a new step at the end.
TABLES_OF_2026 = (
    """
    CREATE TABLE IF NOT EXISTS users (
        login TEXT PRIMARY KEY,
        uid INTEGER NOT NULL UNIQUE,
        origin TEXT NOT NULL,              -- 'csv' or 'lti'
        active INTEGER NOT NULL DEFAULT 1, -- 0: locked (row removed from accounts.csv)
        password_hash TEXT NOT NULL,       -- what /etc/shadow gets ('!' for no password)
        password_digest TEXT NOT NULL DEFAULT '' -- keyed digest of the accounts.csv password field
    );
    """,
    """
    CREATE TABLE IF NOT EXISTS courses (
        course TEXT PRIMARY KEY,
        student_gid INTEGER NOT NULL UNIQUE,     -- group nbgrader-<course>: everyone in the course
        instructor_gid INTEGER NOT NULL UNIQUE   -- group formgrade-<course>: its instructors
    );
    """,
    """
    CREATE TABLE IF NOT EXISTS memberships (
        login TEXT NOT NULL REFERENCES users(login),
        course TEXT NOT NULL REFERENCES courses(course),
        role TEXT NOT NULL,                -- 'instructor' or 'student'
        origin TEXT NOT NULL,              -- 'csv' or 'lti': a CSV sync only rewrites its own
        PRIMARY KEY (login, course)
    );
    """,
    """
    CREATE TABLE IF NOT EXISTS retired_ids (
        id INTEGER PRIMARY KEY             -- UIDs of removed users: files may still carry them
    );
    """,
    """
    CREATE TABLE IF NOT EXISTS lti_identities (
        consumer_key TEXT NOT NULL,
        lti_user TEXT NOT NULL,            -- the launch's user value (edX username or anonymous id)
        login TEXT NOT NULL REFERENCES users(login),
        PRIMARY KEY (consumer_key, lti_user)
    );
    """,
    """
    CREATE TABLE IF NOT EXISTS lti_contexts (
        consumer_key TEXT NOT NULL,
        context_id TEXT NOT NULL,          -- the LMS's course id (edX: course-v1:Org+Num+Run)
        course TEXT NOT NULL REFERENCES courses(course), -- an admin may map several contexts to one
        made_by TEXT NOT NULL DEFAULT 'launch', -- 'launch': the course is the consumer's; 'admin': mapped
        PRIMARY KEY (consumer_key, context_id)
    );
    """,
    """
    CREATE TABLE IF NOT EXISTS retired_logins (
        login TEXT PRIMARY KEY             -- removed users: JupyterHub may still know the name
    );
    """,
    """
    CREATE TABLE IF NOT EXISTS launches (
        login TEXT NOT NULL,
        course TEXT NOT NULL,
        assignment TEXT NOT NULL,          -- '' when the launch names no assignment
        consumer_key TEXT NOT NULL,
        resource_link_id TEXT NOT NULL,
        outcome_service_url TEXT NOT NULL DEFAULT '',
        result_sourcedid TEXT NOT NULL DEFAULT '',
        launched_at REAL NOT NULL,
        pushed_score REAL,                 -- the last score the LMS accepted (0.0-1.0)
        pushed_at REAL,
        PRIMARY KEY (login, course, assignment)
    );
    """,
)
MIGRATIONS = (
    ("the tables of the first versions", TABLES_OF_2026),
    ("launches record their protocol: grades go back by the protocol of the launch", (
        "ALTER TABLE launches ADD COLUMN protocol TEXT NOT NULL DEFAULT 'lti11'",
    )),
    ("users' real names, and which each course's gradebook has", (
        "ALTER TABLE users ADD COLUMN full_name TEXT NOT NULL DEFAULT ''",
        "ALTER TABLE users ADD COLUMN given_name TEXT NOT NULL DEFAULT ''",
        "ALTER TABLE users ADD COLUMN family_name TEXT NOT NULL DEFAULT ''",
        # 'csv' or 'lti': a name accounts.csv gives wins over the LMS's; '' for no name.
        "ALTER TABLE users ADD COLUMN name_origin TEXT NOT NULL DEFAULT ''",
        """
        CREATE TABLE gradebook_names (
            course TEXT PRIMARY KEY REFERENCES courses(course),
            digest TEXT NOT NULL           -- of the students' names last written to its gradebook
        );
        """,
    )),
    ("teachers given the samples once (hubsetup.teacher_samples)", (
        """
        CREATE TABLE samples_given (
            login TEXT PRIMARY KEY,
            given_at REAL NOT NULL
        );
        """,
    )),
    ("submissions graded on arrival, and where each stands (hubsetup.grading.on_submit)", (
        """
        CREATE TABLE submissions (
            course TEXT NOT NULL,
            login TEXT NOT NULL,
            assignment TEXT NOT NULL,
            folder TEXT NOT NULL,          -- its inbound folder's name: a newer one is a new submission
            arrived_at REAL NOT NULL,      -- when the hub first saw it (the folder's own time is the student's)
            state TEXT NOT NULL,           -- queued, grading, graded, failed
            score REAL,
            max_score REAL,
            feedback INTEGER NOT NULL DEFAULT 0, -- 1: released to the student
            detail TEXT NOT NULL DEFAULT '',
            updated_at REAL NOT NULL,
            PRIMARY KEY (course, login, assignment)
        );
        """,
    )),
    ("a launch's grade destination named for every protocol: the URL scores go to (LTI 1.1's outcome"
     " service, LTI 1.3's line item) and whom they are for there (LTI 1.1's result sourcedid, LTI 1.3's sub)", (
        "ALTER TABLE launches RENAME COLUMN outcome_service_url TO score_url",
        "ALTER TABLE launches RENAME COLUMN result_sourcedid TO score_for",
    )),
    ("where each LTI 1.3 course's roster is read from (Names and Role Provisioning)", (
        """
        CREATE TABLE rosters (
            course TEXT NOT NULL,
            consumer_key TEXT NOT NULL,    -- the platform (lti13|issuer|client)
            memberships_url TEXT NOT NULL, -- the context's memberships, as its last launch gave it
            PRIMARY KEY (course, consumer_key)
        );
        """,
    )),
    ("LTI 1.3 launches of a link that declares no line item: where the platform's line items are,"
     " to find or make the assignment's", (
        "ALTER TABLE launches ADD COLUMN line_items_url TEXT NOT NULL DEFAULT ''",
    )),
)
SCHEMA_VERSION = len(MIGRATIONS)


class NewerRegistry(SystemExit):
    """The registry was written by a newer version of the hub than this one: the hub stops with
    this message rather than guess at tables it does not know."""


def migrate(db):
    """Bring the registry to SCHEMA_VERSION, each step in the transaction that records it, so
    two processes starting at once cannot run a step twice."""
    db.execute("BEGIN IMMEDIATE")
    try:
        version = db.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise NewerRegistry(
                f"the account registry has schema {version}, newer than this hub's {SCHEMA_VERSION}: "
                "run the newer image, or restore a backup made by this version")
        for _, statements in MIGRATIONS[version:]:
            for statement in statements:
                db.execute(statement)
        db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")


@contextlib.contextmanager
def connect(path, write=True):
    """A connection in one transaction: committed on success, rolled back on error.

    A writing transaction takes the database's write lock at once (BEGIN IMMEDIATE): the
    hub creating an LTI user and an admin's `accounts sync` then run one after the other, and
    neither can hand out an id the other has just taken."""
    directory = os.path.dirname(path)
    os.makedirs(directory, mode=0o700, exist_ok=True)
    os.chmod(directory, 0o700)
    new = not os.path.exists(path)
    db = sqlite3.connect(path, timeout=60, isolation_level=None)
    db.row_factory = sqlite3.Row
    try:
        if new:
            os.chmod(path, 0o600)
            db.execute("PRAGMA journal_mode=WAL")
        if db.execute("PRAGMA user_version").fetchone()[0] != SCHEMA_VERSION:
            migrate(db)
        db.execute("BEGIN IMMEDIATE" if write else "BEGIN")
        try:
            yield db
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")
    finally:
        db.close()


def users(db):
    return {row["login"]: dict(row) for row in db.execute("SELECT * FROM users")}


def courses(db):
    return {row["course"]: dict(row) for row in db.execute("SELECT * FROM courses")}


def members_by_course(db):
    """{course: ([everyone], [instructors])}, logins sorted; a large school has hundreds of
    thousands of memberships, so this is one pass over plain tuples."""
    members = {course: ([], []) for course in courses(db)}
    rows = db.execute("SELECT course, login, role FROM memberships ORDER BY course, login")
    for course, login, role in map(tuple, rows):
        everyone, instructors = members[course]
        everyone.append(login)
        if role == "instructor":
            instructors.append(login)
    return members


def instructor_memberships(db):
    """[(login, course)] of every instructor."""
    rows = db.execute("SELECT login, course FROM memberships WHERE role = 'instructor' ORDER BY login, course")
    return [tuple(row) for row in rows]


def instructor_uids(db):
    """{course: {uid of each instructor}}."""
    rows = db.execute(
        "SELECT course, uid FROM memberships JOIN users USING (login) WHERE role = 'instructor'"
    )
    found = {}
    for course, uid in map(tuple, rows):
        found.setdefault(course, set()).add(uid)
    return found


def course_sizes(db):
    """{course: (instructors, students)}."""
    sizes = {course: (0, 0) for course in courses(db)}
    rows = db.execute(
        "SELECT course, SUM(role = 'instructor'), SUM(role = 'student') FROM memberships GROUP BY course"
    )
    sizes.update({course: (instructors, students) for course, instructors, students in map(tuple, rows)})
    return sizes


def active_uids(db, logins):
    """{login: uid} of those of `logins` that are active users."""
    logins = sorted(logins)
    found = {}
    for start in range(0, len(logins), 500):  # SQLite's limit on a statement's parameters
        chunk = logins[start:start + 500]
        rows = db.execute(f"SELECT login, uid FROM users WHERE active = 1 AND login IN ({','.join('?' * len(chunk))})",
                          chunk)
        found.update((login, uid) for login, uid in map(tuple, rows))
    return found


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


def set_name(db, login, name, origin):
    """Keep `login`'s real name (a PersonName; empty: none), from `origin`."""
    db.execute(
        "UPDATE users SET full_name = ?, given_name = ?, family_name = ?, name_origin = ? WHERE login = ?",
        (name.full, name.given, name.family, origin if name else "", login),
    )


def all_names(db):
    """{login: (PersonName, where it came from: 'csv', 'lti' or '')} of every user."""
    rows = db.execute("SELECT login, full_name, given_name, family_name, name_origin FROM users")
    return {login: (PersonName(full, given, family), origin) for login, full, given, family, origin in map(tuple, rows)}


def names_of(db):
    """{login: PersonName} of every user who has a name."""
    return {login: name for login, (name, origin) in all_names(db).items() if origin}


def name_of(db, login):
    """(PersonName, where it came from) of one user, as `all_names`."""
    row = db.execute(
        "SELECT full_name, given_name, family_name, name_origin FROM users WHERE login = ?", (login,)).fetchone()
    return (PersonName(*row[:3]), row[3]) if row else (PersonName(), "")


def student_names(db, course):
    """{login: PersonName} of the course's students who have a name."""
    rows = db.execute(
        "SELECT login, full_name, given_name, family_name FROM memberships JOIN users USING (login)"
        " WHERE course = ? AND role = 'student' AND name_origin != ''", (course,))
    return {login: PersonName(full, given, family) for login, full, given, family in map(tuple, rows)}


def course_instructors(db, course):
    """[(login, uid)] of the course's instructors, lowest uid first."""
    rows = db.execute(
        "SELECT login, uid FROM memberships JOIN users USING (login) WHERE course = ? AND role = 'instructor'"
        " AND active = 1 ORDER BY uid", (course,))
    return [tuple(row) for row in rows]


def gradebook_names_digest(db, course):
    row = db.execute("SELECT digest FROM gradebook_names WHERE course = ?", (course,)).fetchone()
    return row[0] if row else None


def record_gradebook_names(db, course, digest):
    db.execute("INSERT OR REPLACE INTO gradebook_names (course, digest) VALUES (?, ?)", (course, digest))


def save_course(db, course, student_gid, instructor_gid):
    db.execute(
        "INSERT OR IGNORE INTO courses (course, student_gid, instructor_gid) VALUES (?, ?, ?)",
        (course, student_gid, instructor_gid),
    )


def set_memberships(db, origin, pairs):
    """Make the memberships of `origin` exactly `pairs`: (login, course, role) tuples. Only the
    differences are written, so an unchanged file costs one read."""
    current = {
        tuple(row) for row in db.execute("SELECT login, course, role FROM memberships WHERE origin = ?", (origin,))
    }
    wanted = set(pairs)
    db.executemany(
        "DELETE FROM memberships WHERE login = ? AND course = ? AND role = ? AND origin = ?",
        [(*pair, origin) for pair in current - wanted],
    )
    db.executemany(
        "INSERT OR REPLACE INTO memberships (login, course, role, origin) VALUES (?, ?, ?, ?)",
        [(*pair, origin) for pair in wanted - current],
    )


def add_membership(db, login, course, role, origin):
    """Join a course; an LTI launch never demotes an instructor that accounts.csv made."""
    db.execute(
        "INSERT INTO memberships (login, course, role, origin) VALUES (?, ?, ?, ?)"
        " ON CONFLICT(login, course) DO UPDATE SET role = CASE"
        " WHEN memberships.origin = 'csv' AND memberships.role = 'instructor' THEN 'instructor'"
        " ELSE excluded.role END",
        (login, course, role, origin),
    )


def lti_login(db, consumer_key, lti_user):
    row = db.execute(
        "SELECT login FROM lti_identities WHERE consumer_key = ? AND lti_user = ?",
        (consumer_key, lti_user),
    ).fetchone()
    return row["login"] if row else None


def link_lti_identity(db, consumer_key, lti_user, login):
    db.execute(
        "INSERT OR REPLACE INTO lti_identities (consumer_key, lti_user, login) VALUES (?, ?, ?)",
        (consumer_key, lti_user, login),
    )


def lti_course(db, consumer_key, context_id):
    row = db.execute(
        "SELECT course FROM lti_contexts WHERE consumer_key = ? AND context_id = ?", (consumer_key, context_id)
    ).fetchone()
    return row["course"] if row else None


def map_lti_context(db, consumer_key, context_id, course, made_by="launch"):
    """Launches of this consumer's context go to `course` (made by a launch, or an admin's map)."""
    db.execute(
        "INSERT OR REPLACE INTO lti_contexts (consumer_key, context_id, course, made_by) VALUES (?, ?, ?, ?)",
        (consumer_key, context_id, course, made_by),
    )


def launch_made_courses(db):
    """{course: (consumer_key, context_id)} of the courses LTI launches created."""
    rows = db.execute("SELECT course, consumer_key, context_id FROM lti_contexts WHERE made_by = 'launch'")
    return {course: (key, context) for course, key, context in map(tuple, rows)}


def retired_logins(db):
    return {row[0] for row in db.execute("SELECT login FROM retired_logins")}


def mapped_courses(db):
    return {row[0] for row in db.execute("SELECT course FROM lti_contexts")}


def launched_only_by(db, course, consumer_key):
    """True if `course` was made by launches of this consumer alone, before contexts were
    recorded: launches recorded, every one of this consumer, no accounts.csv member."""
    consumers = {row[0] for row in db.execute("SELECT DISTINCT consumer_key FROM launches WHERE course = ?", (course,))}
    csv_members = db.execute("SELECT 1 FROM memberships WHERE course = ? AND origin = 'csv' LIMIT 1", (course,)).fetchone()
    return consumers == {consumer_key} and csv_members is None


def record_launch(db, launch):
    """Keep the newest launch per (login, course, assignment): where to send its grade."""
    db.execute(
        "INSERT INTO launches (login, course, assignment, consumer_key, resource_link_id,"
        " score_url, score_for, launched_at, protocol, line_items_url) VALUES (:login, :course, :assignment,"
        " :consumer_key, :resource_link_id, :score_url, :score_for, :launched_at, :protocol, :line_items_url)"
        " ON CONFLICT(login, course, assignment) DO UPDATE SET consumer_key = excluded.consumer_key,"
        " resource_link_id = excluded.resource_link_id, score_url = excluded.score_url,"
        " score_for = excluded.score_for, launched_at = excluded.launched_at, line_items_url = excluded.line_items_url,"
        " protocol = excluded.protocol",
        launch,
    )


def launches(db, course, assignment):
    rows = db.execute(
        "SELECT * FROM launches WHERE course = ? AND assignment = ? ORDER BY login", (course, assignment)
    )
    return [dict(row) for row in rows]


def graded_assignments(db):
    """(course, assignment) pairs that LTI launches tied to an assignment."""
    rows = db.execute("SELECT DISTINCT course, assignment FROM launches WHERE assignment != ''")
    return [(row["course"], row["assignment"]) for row in rows]


def record_push(db, login, course, assignment, score):
    db.execute(
        "UPDATE launches SET pushed_score = ?, pushed_at = ? WHERE login = ? AND course = ? AND assignment = ?",
        (score, time.time(), login, course, assignment),
    )


def submission_folders(db, course):
    """{(login, assignment): inbound folder} of the course's submissions graded on arrival."""
    rows = db.execute("SELECT login, assignment, folder FROM submissions WHERE course = ?", (course,))
    return {(login, assignment): folder for login, assignment, folder in map(tuple, rows)}


def record_submission(db, course, login, assignment, folder, arrived_at):
    db.execute(
        "INSERT INTO submissions (course, login, assignment, folder, arrived_at, state, updated_at)"
        " VALUES (?, ?, ?, ?, ?, 'queued', ?) ON CONFLICT(course, login, assignment) DO UPDATE SET"
        " folder = excluded.folder, arrived_at = excluded.arrived_at, state = 'queued', score = NULL,"
        " max_score = NULL, feedback = 0, detail = '', updated_at = excluded.updated_at",
        (course, login, assignment, folder, arrived_at, arrived_at),
    )


def set_submission_state(db, course, login, assignment, state, **values):
    """`values`: score, max_score, feedback, detail."""
    columns = ["state = ?", "updated_at = ?"] + [f"{name} = ?" for name in values]
    db.execute(f"UPDATE submissions SET {', '.join(columns)} WHERE course = ? AND login = ? AND assignment = ?",
               (state, time.time(), *values.values(), course, login, assignment))


def unfinished_submissions(db):
    """(course, login, assignment) of submissions queued or being graded (when the service stopped)."""
    rows = db.execute("SELECT course, login, assignment FROM submissions WHERE state IN ('queued', 'grading')")
    return [tuple(row) for row in rows]


def submissions_of(db, login):
    """The user's submissions graded on arrival, newest first, each with when its score last
    reached the LMS (`pushed_at`, None if never)."""
    rows = db.execute(
        "SELECT submissions.*, launches.pushed_at FROM submissions LEFT JOIN launches"
        " USING (login, course, assignment) WHERE login = ? ORDER BY arrived_at DESC", (login,))
    return [dict(row) for row in rows]


def waiting_arrivals(db):
    """Arrival times of the submissions queued or being graded, oldest first: the queue."""
    rows = db.execute("SELECT arrived_at FROM submissions WHERE state IN ('queued', 'grading') ORDER BY arrived_at")
    return [row[0] for row in rows]


def course_submission_counts(db, course):
    """{assignment: {state: how many}} of the course's submissions graded on arrival."""
    counts = {}
    rows = db.execute("SELECT assignment, state, COUNT(*) FROM submissions WHERE course = ?"
                      " GROUP BY assignment, state", (course,))
    for assignment, state, count in map(tuple, rows):
        counts.setdefault(assignment, {})[state] = count
    return counts


def ungraded_submissions(db, course, limit):
    """The course's submissions not graded (queued, being graded or failed), oldest first."""
    rows = db.execute("SELECT * FROM submissions WHERE course = ? AND state != 'graded'"
                      " ORDER BY arrived_at LIMIT ?", (course, limit))
    return [dict(row) for row in rows]


def record_roster(db, course, consumer_key, memberships_url):
    db.execute("INSERT INTO rosters (course, consumer_key, memberships_url) VALUES (?, ?, ?) ON CONFLICT"
               "(course, consumer_key) DO UPDATE SET memberships_url = excluded.memberships_url",
               (course, consumer_key, memberships_url))


def rosters(db, course):
    """[(consumer_key, memberships_url)] of the course's LTI 1.3 platforms that offer a roster."""
    return [tuple(row) for row in db.execute(
        "SELECT consumer_key, memberships_url FROM rosters WHERE course = ? ORDER BY consumer_key", (course,))]


def lti_logins(db, consumer_key):
    """{LMS user id: login} of a consumer's or platform's users who launched."""
    rows = db.execute("SELECT lti_user, login FROM lti_identities WHERE consumer_key = ?", (consumer_key,))
    return {lti_user: login for lti_user, login in map(tuple, rows)}


def retired_ids(db):
    return {row[0] for row in db.execute("SELECT id FROM retired_ids")}


def remove_user(db, login):
    """Forget a user entirely; their UID and login are retired, never handed out again (the
    login by LTI launches: JupyterHub's own record of the name, tokens included, remains)."""
    user = db.execute("SELECT uid FROM users WHERE login = ?", (login,)).fetchone()
    for table in ("memberships", "lti_identities", "launches", "users"):
        db.execute(f"DELETE FROM {table} WHERE login = ?", (login,))
    db.execute("INSERT OR IGNORE INTO retired_ids (id) VALUES (?)", (user[0],))
    db.execute("INSERT OR IGNORE INTO retired_logins (login) VALUES (?)", (login,))
