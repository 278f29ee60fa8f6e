"""Grading on submit (AUTOGRADE_ON_SUBMIT): every new submission of a chosen course collected,
autograded in the sandbox and its feedback released, as one of the course's instructors, then
its score sent to the LMS by the grade passback every protocol shares.

nbgrader's submit makes `<exchange>/<course>/inbound/<student>+<assignment>+<time>+<random>/`
and writes `timestamp.txt` last. The folder, its name and its files are the student's: a
submission counts once its folder is the named student's own, holds `timestamp.txt`, and has
not changed for SETTLE seconds; the arrival time is when the hub first saw it (the name's time
is whatever the student wrote). Only the newest submission of each (student, assignment) is
graded; one that arrives while the previous is graded is graded next. Grading goes in turns
(`GRADING_CONCURRENCY`, shared with the button and the command line by the broker).
"""

import json
import logging
import os
import queue
import threading
import time

from .. import as_instructor, courses, gradebook_names, grades, registry, safe_paths

POLL_SECONDS = 2
SETTLE = 2.0
GRADE_TIMEOUT = 1800

log = logging.getLogger("hubsetup.grading")


def parse_folder_name(name):
    """(student, assignment) of an inbound folder's name, or None."""
    parts = name.split("+")
    if len(parts) != 4 or not all(parts[:3]):
        return None
    return parts[0], parts[1]


class Watcher:
    def __init__(self, settings):
        self.settings = settings
        self.pending = {}    # (course, student, assignment) -> (folder, first seen, its stamp)
        self.work = queue.Queue()
        self.waiting = set()  # keys in the queue

    def look(self):
        """One pass over the inbound folders of the courses graded on submit."""
        with registry.connect(self.settings.registry_path, write=False) as db:
            chosen = [course for course in registry.courses(db) if self.settings.graded_on_submit(course)]
            graded = {course: registry.submission_folders(db, course) for course in chosen}
        for course in chosen:
            for key, folder, stamp in self._complete_submissions(course, graded[course]):
                self._consider(course, key, folder, stamp)

    def _complete_submissions(self, course, graded):
        """(student, assignment), folder, stamp of each newest submission not graded yet that
        is complete (its `timestamp.txt` written)."""
        try:
            inbound = safe_paths.open_path(os.path.join(self.settings.exchange_root, course, "inbound"))
        except (OSError, safe_paths.Tampered):
            return []
        found = []
        with inbound:
            for key, (name, folder_stat) in self._newest_own_folders(inbound).items():
                if graded.get(key) == name:
                    continue
                try:
                    with inbound.child(name) as submission:
                        done = submission.entry("timestamp.txt")
                except (OSError, safe_paths.Tampered):
                    continue
                if done is not None:
                    found.append((key, name, (folder_stat.st_mtime_ns, done.st_mtime_ns, done.st_size)))
        return found

    def _newest_own_folders(self, inbound):
        """{(student, assignment): (name, stat)} of the newest folder by name (as nbgrader's
        collect chooses) among those that are the named student's own: a link, a file, or a
        folder in another's name is never graded, and never hides the student's own."""
        entries = []
        with os.scandir(inbound.fd) as listing:
            for entry in listing:
                parsed = parse_folder_name(entry.name)
                try:
                    if parsed and entry.is_dir(follow_symlinks=False):
                        entries.append((parsed, entry.name, entry.stat(follow_symlinks=False)))
                except OSError:
                    continue
        with registry.connect(self.settings.registry_path, write=False) as db:
            uids = registry.active_uids(db, {student for (student, _), _, _ in entries})
        newest = {}
        for key, name, st in entries:
            if st.st_uid == uids.get(key[0]) and (key not in newest or name > newest[key][0]):
                newest[key] = (name, st)
        return newest

    def _consider(self, course, key, folder, stamp):
        student, assignment = key
        full_key = (course, student, assignment)
        now = time.time()
        seen = self.pending.get(full_key)
        if seen is None or seen[0] != folder or seen[2] != stamp:
            first = seen[1] if seen and seen[0] == folder else now
            self.pending[full_key] = (folder, first, stamp)
            return
        if now - seen[1] < SETTLE:
            return
        del self.pending[full_key]
        with registry.connect(self.settings.registry_path) as db:
            registry.record_submission(db, course, student, assignment, folder, seen[1])
        if full_key not in self.waiting:
            self.waiting.add(full_key)
            self.work.put(full_key)
        log.info("%s/%s: a submission of %s, queued", course, assignment, student)

    def grade_next(self):
        key = self.work.get()
        self.waiting.discard(key)
        course, student, assignment = key
        self._set(key, "grading")
        started = time.monotonic()
        try:
            result = self.grade(course, student, assignment)
        except (ValueError, OSError) as error:
            self._set(key, "failed", detail=str(error)[:500])
            log.warning("%s/%s of %s: grading failed: %s", course, assignment, student, error)
            return
        self._set(key, "graded", score=result["score"], max_score=result["max_score"],
                  feedback=int(result["feedback"]))
        log.info("%s/%s of %s: %s/%s in %.1fs", course, assignment, student, result["score"], result["max_score"],
                 time.monotonic() - started)
        grades.push_changed(self.settings, course, assignment, log)  # this score, and any other changed

    def grade(self, course, student, assignment):
        with registry.connect(self.settings.registry_path, write=False) as db:
            instructors = registry.course_instructors(db, course)
            groups = registry.courses(db)[course]
        if not instructors:
            raise ValueError(f"course {course!r} has no teacher to grade as")
        request = {"course": course, "course_dir": courses.course_dir(self.settings, course),
                   "exchange": self.settings.exchange_root, "student": student, "assignment": assignment,
                   "feedback": self.settings.feedback_on_submit(course)}
        # The gradebook's owner: another instructor may not be able to write it.
        grader = gradebook_names.gradebook_owner(self.settings, course, instructors)
        output = as_instructor.run(self.settings, grader, groups["instructor_gid"], "hubsetup.grading.grade_one",
                                   request, timeout=GRADE_TIMEOUT, extra_groups=[groups["student_gid"]])
        return json.loads(output.splitlines()[-1])

    def _set(self, key, state, **values):
        course, student, assignment = key
        with registry.connect(self.settings.registry_path) as db:
            registry.set_submission_state(db, course, student, assignment, state, **values)


def watch(settings):
    watcher = Watcher(settings)
    with registry.connect(settings.registry_path, write=False) as db:
        unfinished = registry.unfinished_submissions(db)
    for key in unfinished:  # the service stopped before grading them
        watcher.waiting.add(key)
        watcher.work.put(key)

    def grade_forever():
        while True:
            try:
                watcher.grade_next()
            except Exception:  # one submission's failure never stops the others
                log.exception("grading on submit")

    for _ in range(settings.grading_concurrency):
        threading.Thread(target=grade_forever, daemon=True, name="grading").start()
    while True:
        try:
            watcher.look()
        except Exception:
            log.exception("looking for submissions")
        time.sleep(POLL_SECONDS)
