"""Grades out of nbgrader's gradebook: one row per student and assignment."""

import csv
import os
from dataclasses import dataclass

from . import courses, registry, safe_paths
from .lti import lti11_outcomes as outcomes
from .lti import lti13_scores

COLUMNS = ["course", "assignment", "student", "submitted", "score", "max_score"]
# What `grades export` writes: the student's real name beside the login, empty if none is known.
EXPORT_COLUMNS = ["course", "assignment", "student", "name", "submitted", "score", "max_score"]


def gradebook_path(course_dir):
    return os.path.join(course_dir, "gradebook.db")


def gradebook_rows(course, course_dir, assignment=None):
    """A dict of COLUMNS per student and assignment; no submission: submitted=False, score 0."""
    path = gradebook_path(course_dir)
    if not os.path.lexists(path):
        raise FileNotFoundError(f"course {course!r} has no gradebook yet ({path})")
    # Root reads what instructors wrote: a copy made through one descriptor, never the file by
    # name (a link there would make root's SQLite open, and write, whatever it points to).
    try:
        with safe_paths.private_copy(course_dir, os.path.basename(path)) as copy:
            return _rows_of(course, copy, assignment)
    except safe_paths.Tampered as error:
        raise FileNotFoundError(f"course {course!r}: the gradebook is not a plain file ({error})") from None


def _rows_of(course, path, assignment):
    from nbgrader.api import Gradebook, MissingEntry  # heavy import: only when grades are asked for

    rows = []
    with Gradebook(f"sqlite:///{path}", course_id=course) as gradebook:
        try:
            assignments = [gradebook.find_assignment(assignment)] if assignment else gradebook.assignments
        except MissingEntry:
            raise KeyError(f"course {course!r} has no assignment {assignment!r}") from None
        for each in assignments:
            for student in gradebook.students:
                try:
                    submission = gradebook.find_submission(each.name, student.id)
                except MissingEntry:
                    rows.append([course, each.name, student.id, False, 0.0, each.max_score])
                    continue
                rows.append([course, each.name, student.id, True, submission.score, submission.max_score])
    rows.sort(key=lambda row: (row[1], row[2]))
    return [dict(zip(COLUMNS, row)) for row in rows]


def export_csv(rows, output, names):
    """`rows` as CSV with EXPORT_COLUMNS; `names` is {login: PersonName}."""
    writer = csv.DictWriter(output, EXPORT_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        named = dict(row, name=names[row["student"]].shown if row["student"] in names else "")
        writer.writerow({column: _as_text_cell(value) for column, value in named.items()})


# What a spreadsheet takes for the start of a formula: a name from an LMS such as
# =HYPERLINK("http://…"&E2) would run when the teacher opens the file.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _as_text_cell(value):
    """Text that a spreadsheet could read as a formula, quoted so that it shows as typed."""
    return "'" + value if isinstance(value, str) and value.startswith(FORMULA_STARTS) else value


# --- pushing grades to the LMS ---------------------------------------------------------------

SENT, WOULD_SEND, UNCHANGED = "sent", "would send", "unchanged"
NO_LAUNCH, NOT_GRADED = "no launch yet", "not graded"
NOT_SCORED, FAILED = outcomes.NOT_SCORED, outcomes.FAILED
# The sender of each protocol's grades, chosen by a launch record's `protocol`; each has
# `of_hub(settings)`, `cannot_send`, `destination` and `send` (hubsetup.lti.lti11_outcomes).
SENDERS = (outcomes.LTI11Sender, lti13_scores.LTI13Sender)


def push_changed(settings, course, assignment, log):
    """What `push_grades` sends with only_changed, each score sent or failed logged; nothing
    when the course has no gradebook or assignment yet."""
    try:
        results = push_grades(settings, course, assignment, only_changed=True)
    except (FileNotFoundError, KeyError) as error:
        log.debug("skipping %s/%s: %s", course, assignment, error)
        return
    for r in results:
        if r.status in (SENT, FAILED):
            log.info("%s/%s %s: %s %s", course, assignment, r.student, r.status, r.detail)


@dataclass
class PushResult:
    student: str
    status: str
    score: float = None  # 0.0-1.0 as sent to the LMS
    detail: str = ""


def _score_of(row):
    if row is None or not row["submitted"] or not row["max_score"]:
        return None
    return min(1.0, max(0.0, row["score"] / row["max_score"]))


def plan_push(rows, launches):
    """[(student, launch or None, score or None)] for everyone in the gradebook or launched."""
    by_student = {row["student"]: row for row in rows}
    by_login = {launch["login"]: launch for launch in launches}
    return [
        (student, by_login.get(student), _score_of(by_student.get(student)))
        for student in sorted(set(by_student) | set(by_login))
    ]


def push_grades(settings, course, assignment, dry_run=False, only_changed=False):
    """Send each launched student's score for one assignment; returns a PushResult per student."""
    rows = gradebook_rows(course, courses.course_dir(settings, course), assignment)
    with registry.connect(settings.registry_path, write=False) as db:
        launches = registry.launches(db, course, assignment)
    # The assignment's points, for an LMS column made at the first score (LTI 1.3's line items)
    points = max((row["max_score"] or 0 for row in rows), default=0) or None
    launches = [dict(launch, assignment_points=points) for launch in launches]
    pusher = Pusher({sender.protocol: sender.of_hub(settings) for sender in SENDERS}, dry_run, only_changed)
    results = [pusher.push(student, launch, score) for student, launch, score in plan_push(rows, launches)]
    sent = [(r.student, r.score) for r in results if r.status == SENT]
    if sent:
        with registry.connect(settings.registry_path) as db:
            for student, score in sent:
                registry.record_push(db, student, course, assignment, score)
    return results


@dataclass
class Pusher:
    """What happens to one student's score: the checks every protocol shares, then the sender
    of the launch's protocol."""

    senders: dict  # protocol -> sender
    dry_run: bool = False
    only_changed: bool = False

    def push(self, student, launch, score):
        if launch is None:
            return PushResult(student, NO_LAUNCH, score, "the student has not opened the LMS component")
        if score is None:
            return PushResult(student, NOT_GRADED, None, "no graded submission in the gradebook")
        sender = self.senders.get(launch["protocol"])
        if sender is None:
            return PushResult(student, FAILED, score, f"no sender for {launch['protocol']} launches")
        # A score the LMS took is never sent again unchanged (only a launch with somewhere
        # to send has one), whatever has become of its consumer since.
        if self.only_changed and launch["pushed_score"] is not None and abs(launch["pushed_score"] - score) < 1e-9:
            return PushResult(student, UNCHANGED, score)
        refused = sender.cannot_send(launch)
        if refused:
            return PushResult(student, refused[0], score, refused[1])
        if self.dry_run:
            return PushResult(student, WOULD_SEND, score, sender.destination(launch))
        try:
            outcome = sender.send(launch, score)
        except Exception as error:  # one student's LMS reply never stops the others' (nor the watcher)
            return PushResult(student, FAILED, score, f"{error.__class__.__name__}: {error}"[:300])
        return PushResult(student, SENT if outcome.ok else FAILED, score, outcome.detail)


def push_table(results):
    """The per-student table `hubsetup grades push` prints, with a count per status."""
    width = max([len("student")] + [len(r.student) for r in results])
    lines = [f"{'student':<{width}}  {'score':>6}  {'status':<20}  detail"]
    for r in results:
        score = "" if r.score is None else f"{r.score:.4f}"
        lines.append(f"{r.student:<{width}}  {score:>6}  {r.status:<20}  {r.detail}")
    counts = {}
    for r in results:
        counts[r.status] = counts.get(r.status, 0) + 1
    lines.append(", ".join(f"{n} {status}" for status, n in sorted(counts.items())) or "no students")
    return "\n".join(lines)


def assignments_to_watch(settings):
    with registry.connect(settings.registry_path, write=False) as db:
        return registry.graded_assignments(db)
