"""Grades out of nbgrader's gradebook: one row per student and assignment."""

import os

import pandas as pd

COLUMNS = ["course", "assignment", "student", "submitted", "score", "max_score"]


def gradebook_path(course_dir):
    return os.path.join(course_dir, "gradebook.db")


def gradebook_rows(course, course_dir, assignment=None):
    """A DataFrame of COLUMNS; a student with no submission gets submitted=False, score 0."""
    from nbgrader.api import Gradebook, MissingEntry  # heavy import: only when grades are asked for

    path = gradebook_path(course_dir)
    if not os.path.exists(path):
        raise FileNotFoundError(f"course {course!r} has no gradebook yet ({path})")
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
    return pd.DataFrame(rows, columns=COLUMNS).sort_values(["assignment", "student"], ignore_index=True)
