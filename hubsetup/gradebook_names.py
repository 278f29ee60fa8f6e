"""Students' real names in nbgrader's gradebooks, so that the formgrader shows 张三, not zhangsan.

The gradebook is the instructors' file, in their course directory: root never opens it. The
hub hands the names to `gradebook_writer`, run as one of the course's instructors
(hubsetup.as_instructor), which writes them with nbgrader's own API. A course's names are
written again only when they, or the gradebook file, changed since the last time (a digest
kept in the registry).
"""

import hashlib
import json
import logging
import os
import subprocess
import threading

from . import as_instructor, courses, registry
from .grades import gradebook_path

log = logging.getLogger(__name__)

WRITE_TIMEOUT = 120
# Launches at a class start come in bursts: their courses' names are written once per burst.
LAUNCH_DELAY = 5.0


def _gradebook_version(settings, course):
    """What changes when the gradebook is written, or deleted and made anew (an inode number
    alone may be given again to the new file)."""
    try:
        st = os.lstat(gradebook_path(courses.course_dir(settings, course)))
    except OSError:
        return None
    return [st.st_ino, st.st_size, st.st_ctime_ns]


def plan(db, settings, course):
    """(students [(login, first, last)], digest) of `course`; students without a name are left
    to nbgrader (it adds them, nameless, at their first submission)."""
    names = registry.student_names(db, course)
    students = [[login, *names[login].first_last()] for login in sorted(names)]
    return students, _digest(students, _gradebook_version(settings, course))


def _digest(students, version):
    return hashlib.sha256(json.dumps([students, version], ensure_ascii=False).encode()).hexdigest()


def refresh(settings, course_list=None):
    """Write the names of `course_list` (every course if None) whose names changed; returns
    {course: what happened} (`outcome_lines` says it, `log_outcome` logs it)."""
    with registry.connect(settings.registry_path, write=False) as db:
        known = registry.courses(db)
        chosen = sorted(known) if course_list is None else sorted(course_list)
        work = []
        for course in chosen:
            students, digest = plan(db, settings, course)
            if students and digest != registry.gradebook_names_digest(db, course):
                work.append((course, students, registry.course_instructors(db, course), known[course]["instructor_gid"]))
    outcome = {}
    for course, students, instructors, gid in work:
        if not instructors:
            outcome[course] = "no instructor yet: names wait for one"
            continue
        try:
            outcome[course] = write_as(settings, course, students, gradebook_owner(settings, course, instructors), gid)
        except (OSError, subprocess.SubprocessError, ValueError) as error:
            outcome[course] = f"students' names not written to the gradebook: {error}"
            continue
        with registry.connect(settings.registry_path) as db:
            # What was written, not the registry's names now: a launch meanwhile is written next time.
            registry.record_gradebook_names(db, course, _digest(students, _gradebook_version(settings, course)))
    return outcome


def outcome_lines(outcome):
    """(logging level, line) of each course of a `refresh`."""
    return [(logging.WARNING if "not written" in what else logging.INFO, f"course {course}: {what}")
            for course, what in sorted(outcome.items())]


def log_outcome(outcome):
    for level, line in outcome_lines(outcome):
        log.log(level, "%s", line)


def gradebook_owner(settings, course, instructors):
    """The instructor who owns the gradebook (SQLite makes it 0644 less the umask: another may
    not be able to write it), or else the first."""
    try:
        owner = os.lstat(gradebook_path(courses.course_dir(settings, course))).st_uid
    except OSError:
        owner = None
    return next((each for each in instructors if each[1] == owner), instructors[0])


def write_as(settings, course, students, instructor, gid):
    """Write `students` into the course's gradebook as `instructor` (login, uid), in the
    course's instructor group `gid`."""
    request = {"course": course, "gradebook": gradebook_path(courses.course_dir(settings, course)),
               "students": students}
    return as_instructor.run(settings, instructor, gid, "hubsetup.gradebook_writer", request, WRITE_TIMEOUT)


class LaunchBatcher:
    """Courses that launches touched, written LAUNCH_DELAY seconds after the first of a burst,
    on a thread of its own: a launch never waits for a gradebook."""

    def __init__(self, settings_of, delay=LAUNCH_DELAY):
        self.settings_of, self.delay = settings_of, delay
        self._lock = threading.Lock()
        self._pending, self._timer = set(), None

    def add(self, course):
        with self._lock:
            self._pending.add(course)
            if self._timer is None:
                self._timer = threading.Timer(self.delay, self._write)
                self._timer.daemon = True
                self._timer.start()

    def _write(self):
        with self._lock:
            pending, self._pending, self._timer = self._pending, set(), None
        try:
            log_outcome(refresh(self.settings_of(), pending))
        except Exception:  # a busy registry: the next launch or sync tries again
            log.exception("students' names not written to gradebooks of %s", ", ".join(sorted(pending)))
