"""nbgrader courses: their Linux groups, shared directories and exchange folders.

A course has two groups: `nbgrader-<course>` (everyone in it) and `formgrade-<course>` (its
instructors; the names nbgrader's JupyterHub auth plugin expects for hub groups too). The
course directory is group-owned by the instructors and setgid, so co-instructors share one
directory and one gradebook; students reach course material only through the exchange.
"""

import os

from . import accounts, registry, safe_paths, system
from .materials import MATERIALS, PUBLISHED

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
    """Replace the CSV's course memberships by those `rows` give (LTI ones are kept).

    A course that LTI launches made is that consumer's: rows naming it do not join it (an
    admin who wants them to maps it: `hubsetup lti map-course`). Returns "lines ...: why" for
    each such course."""
    teachers = {account.login for account in rows if account.teacher}
    line_of = {account.login: account.line for account in rows}
    launch_made = registry.launch_made_courses(db)
    pairs, refused = [], {}
    for login, course_list in accounts.courses_of(rows).items():
        role = INSTRUCTOR if login in teachers else STUDENT
        for course in course_list:
            if course in launch_made:
                refused.setdefault(course, []).append(line_of[login])
            else:
                pairs.append((login, course, role))
    known = registry.courses(db)
    for course in sorted({course for _, course, _ in pairs}):
        ensure_course(db, course, pool, known)
    registry.set_memberships(db, "csv", pairs)
    return [_launch_made_refusal(course, sorted(lines), *launch_made[course]) for course, lines in sorted(refused.items())]


def _launch_made_refusal(course, lines, consumer_key, context_id):
    shown = ", ".join(map(str, lines[:10])) + (", ..." if len(lines) > 10 else "")
    return (f"line{'s' if len(lines) > 1 else ''} {shown}: course {course!r} was made by launches of LTI "
            f"consumer {consumer_key!r} (context {context_id!r}), so these rows do not join it; name another "
            f"course, or let them in: hubsetup lti map-course --consumer {consumer_key} --context-id "
            f"'{context_id}' {course}")


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


# nbgrader's own modes for a group-shared course's exchange folders (its release_assignment.py
# and release_feedback.py): made by root, so that no one can make them first.
COURSE_EXCHANGE_MODE = 0o2775
EXCHANGE_FOLDERS = {"inbound": 0o2773, "outbound": 0o2775, "feedback": 0o2771}
# Published materials (hubsetup.materials): the course's members may enter `materials`, no one
# else; its instructors write `published`.
MATERIALS_MODE, PUBLISHED_MODE = 0o0750, 0o2775


def ensure_course_dirs(db, settings):
    """Course directory (instructors only, setgid) and exchange folders for every course.

    Only root writes the exchange root (0755): root makes each course's folder and its
    inbound/outbound/feedback, so no student can create any part of a course before it exists.
    Returns warnings about entries that were in the way (moved aside or skipped)."""
    warnings = []
    instructor_uids = registry.instructor_uids(db)
    # The volumes' mount points (or a test's folders): chosen by the admin, never a user's.
    for root in (settings.courses_root, settings.exchange_root):
        os.makedirs(root, exist_ok=True)
    with safe_paths.open_path(settings.courses_root) as courses_root, \
            safe_paths.open_path(settings.exchange_root) as exchange:
        courses_root.set_owner_mode(0, 0, 0o755)
        exchange.set_owner_mode(0, 0, 0o755)
        for course, row in registry.courses(db).items():
            gid = row["instructor_gid"]
            try:
                courses_root.ensure_child(course, 0, gid, 0o2770, owners={0}).close()
            except (safe_paths.Tampered, OSError) as error:
                warnings.append(f"course {course}: skipped its directory, {error}")
            owners = {0} | instructor_uids.get(course, set())
            try:
                warnings += _ensure_exchange_folders(exchange, course, gid, owners, row["student_gid"])
            except OSError as error:  # an instructor racing root in the course's own folder
                warnings.append(f"course {course}: skipped its exchange folders, {error}")
    return warnings


def _ensure_exchange_folders(exchange, course, gid, owners, student_gid):
    """exchange/<course> (root's or, made by an older version, an instructor's) and its three
    folders; whatever else stands in their place is moved aside, never followed."""
    warnings = []

    def moved_aside(folder, name, moved):
        if moved:
            warnings.append(f"course {course}: {folder.join(name)} was not the hub's; moved aside to "
                            f"{folder.join(moved)} and made anew")

    course_folder, moved = exchange.ensure_exchange_child(course, 0, gid, COURSE_EXCHANGE_MODE, owners)
    moved_aside(exchange, course, moved)
    with course_folder:
        for name, mode in EXCHANGE_FOLDERS.items():
            folder, moved = course_folder.ensure_exchange_child(name, 0, gid, mode)
            folder.close()
            moved_aside(course_folder, name, moved)
        # Root's own, or moved aside: a teacher's stand-in would let them open it to every course.
        materials_folder, moved = course_folder.ensure_exchange_child(MATERIALS, 0, student_gid, MATERIALS_MODE,
                                                                      owners={0})
        moved_aside(course_folder, MATERIALS, moved)
        with materials_folder:
            published, moved = materials_folder.ensure_exchange_child(PUBLISHED, 0, gid, PUBLISHED_MODE, owners={0})
            published.close()
            moved_aside(materials_folder, PUBLISHED, moved)
    return warnings


def instructor_link(settings, login, course):
    """Where an instructor reaches a course: inside their home, so that the formgrader (which
    needs the course under the server's root) and the file browser both work."""
    return os.path.join(settings.home_root, login, "courses", course)


def ensure_instructor_links(db, settings, logins=None):
    """~/courses/<course> -> the shared course directory, for each instructor membership.

    Made through the home's descriptor: ~/courses is the instructor's to replace, and a link
    there must never lead root elsewhere. Returns warnings for homes skipped."""
    users = registry.users(db)
    warnings = []
    with safe_paths.open_path(settings.home_root) as homes:
        for login, course in registry.instructor_memberships(db):
            if logins is not None and login not in logins:
                continue
            uid = users[login]["uid"]
            try:
                with homes.child(login) as home:
                    home.require_owner({uid})
                    with home.ensure_child("courses", uid, uid, 0o700, owners={uid}, repair=False) as links:
                        links.ensure_symlink(course, course_dir(settings, course))
            except FileNotFoundError:
                warnings.append(f"user {login}: no home {homes.join(login)}, no link to course {course}")
            except (safe_paths.Tampered, OSError) as error:
                warnings.append(f"user {login}: no link to course {course}, {error}")
    return warnings
