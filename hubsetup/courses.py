"""nbgrader courses: their Linux groups, shared directories and exchange folders.

A course has two groups: `nbgrader-<course>` (everyone in it) and `formgrade-<course>` (its
instructors; the names nbgrader's JupyterHub auth plugin expects for hub groups too). The
course directory is group-owned by the instructors and setgid, so co-instructors share one
directory and one gradebook; students reach course material only through the exchange.
"""

import os

from . import accounts, registry, system

STUDENT_GROUP = "nbgrader-{}"
INSTRUCTOR_GROUP = "formgrade-{}"
INSTRUCTOR, STUDENT = "instructor", "student"


def is_course_group(name):
    return name.startswith(("nbgrader-", "formgrade-"))


def ensure_course(db, course, pool, known=None):
    """Register `course` with two fresh group ids from `pool` if it is new."""
    if course in (registry.courses(db) if known is None else known):
        return
    student_gid, instructor_gid = pool.take(2)
    registry.save_course(db, course, student_gid, instructor_gid)


def set_csv_memberships(db, rows, pool):
    """Replace the CSV's course memberships by those `rows` give (LTI ones are kept)."""
    teachers = {account.login for account in rows if account.teacher}
    pairs = []
    for login, course_list in accounts.courses_of(rows).items():
        role = INSTRUCTOR if login in teachers else STUDENT
        pairs += [(login, course, role) for course in course_list]
    known = registry.courses(db)
    for course in sorted({course for _, course, _ in pairs}):
        ensure_course(db, course, pool, known)
    registry.set_memberships(db, "csv", pairs)


def groups(db):
    """The Linux groups of every course, with their members."""
    result = []
    gids = registry.courses(db)
    for course, (everyone, instructors) in registry.members_by_course(db).items():
        result.append(system.Group(STUDENT_GROUP.format(course), gids[course]["student_gid"], everyone))
        result.append(system.Group(INSTRUCTOR_GROUP.format(course), gids[course]["instructor_gid"], instructors))
    return result


def course_dir(settings, course):
    return os.path.join(settings.courses_root, course)


def _ensure_dir(path, gid, mode):
    os.makedirs(path, exist_ok=True)
    stat = os.stat(path)
    if (stat.st_uid, stat.st_gid) != (0, gid):
        os.chown(path, 0, gid)
    if stat.st_mode & 0o7777 != mode:
        os.chmod(path, mode)


def ensure_course_dirs(db, settings):
    """Course directory (instructors only, setgid) and exchange folder for every course.

    The exchange root is 1777 (nbgrader wants it world-writable; the sticky bit stops one user
    renaming another's folders). Each course's exchange folder is made here, owned by its
    instructor group, so no student can create it first and own the course."""
    _ensure_dir(settings.courses_root, 0, 0o755)
    _ensure_dir(settings.exchange_root, 0, 0o1777)
    for course, row in registry.courses(db).items():
        _ensure_dir(course_dir(settings, course), row["instructor_gid"], 0o2770)
        _ensure_dir(os.path.join(settings.exchange_root, course), row["instructor_gid"], 0o2775)


def instructor_link(settings, login, course):
    """Where an instructor reaches a course: inside their home, so that the formgrader (which
    needs the course under the server's root) and the file browser both work."""
    return os.path.join(settings.home_root, login, "courses", course)


def ensure_instructor_links(db, settings, logins=None):
    """~/courses/<course> -> the shared course directory, for each instructor membership."""
    users = registry.users(db)
    for login, course in registry.instructor_memberships(db):
        if logins is not None and login not in logins:
            continue
        link = instructor_link(settings, login, course)
        if os.path.islink(link):
            continue
        uid = users[login]["uid"]
        parent = os.path.dirname(link)
        if not os.path.isdir(parent):
            os.mkdir(parent, 0o700)
            os.lchown(parent, uid, uid)
        if not os.path.exists(link):
            os.symlink(course_dir(settings, course), link)
            os.lchown(link, uid, uid)
