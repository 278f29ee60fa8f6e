"""One nbgrader assignment, from the teacher's source to the students' feedback, driven through
the same HTTP endpoints JupyterLab's formgrader and assignment list call."""

import json
import time

ANSWER = "def add(a, b):\n    ### BEGIN SOLUTION\n    return a + b\n    ### END SOLUTION\n"
RIGHT = "def add(a, b):\n    return a + b\n"
WRONG = "def add(a, b):\n    return a * b\n"  # passes the hidden add(0, 0) test only


def _cell(source, grade_id, *, solution=False, points=None):
    nbgrader = {"grade": points is not None, "solution": solution, "locked": not solution,
                "grade_id": grade_id, "schema_version": 3}
    if points is not None:
        nbgrader["points"] = points
    return {"cell_type": "code", "execution_count": None, "outputs": [], "source": source,
            "metadata": {"nbgrader": nbgrader}}


def source_notebook():
    """An autograded answer cell, a visible test and a hidden test, one point each."""
    return {
        "nbformat": 4, "nbformat_minor": 5,
        "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}},
        "cells": [
            _cell(ANSWER, "answer", solution=True),
            _cell("assert add(1, 2) == 3", "test_visible", points=1),
            _cell("### BEGIN HIDDEN TESTS\nassert add(0, 0) == 0\n### END HIDDEN TESTS", "test_hidden", points=1),
        ],
    }


def ok(response):
    assert response.status_code in (200, 201), (response.status_code, response.request.url, response.text[:800])
    try:
        body = response.json()
    except ValueError:
        return response
    if isinstance(body, dict) and body.get("success") is False:
        raise AssertionError(f"{response.request.url}: {json.dumps(body)[:1500]}")
    return body


def put_contents(client, path, model):
    return ok(client.server_api("PUT", f"api/contents/{path}", json=model))


def teacher_creates_and_releases(teacher, course, assignment):
    base = f"courses/{course}/source"
    for folder in (base, f"{base}/{assignment}"):
        if teacher.server_api("GET", f"api/contents/{folder}").status_code == 404:
            put_contents(teacher, folder, {"type": "directory"})
    put_contents(teacher, f"{base}/{assignment}/{assignment}.ipynb",
                 {"type": "notebook", "format": "json", "content": source_notebook()})
    ok(teacher.server_api("PUT", f"formgrader/api/assignment/{assignment}", json={}))
    ok(teacher.server_api("POST", f"formgrader/api/assignment/{assignment}/assign"))
    ok(teacher.server_api("POST", f"formgrader/api/assignment/{assignment}/release"))


def assignment_action(student, action, course, assignment):
    return ok(student.server_api("POST", f"assignments/{action}",
                                 data={"course_id": course, "assignment_id": assignment}))


def student_answers_and_submits(student, course, assignment, answer):
    assignment_action(student, "fetch", course, assignment)
    path = f"api/contents/{course}/{assignment}/{assignment}.ipynb"
    notebook = ok(student.server_api("GET", path))
    notebook["content"]["cells"][0]["source"] = answer
    put_contents(student, f"{course}/{assignment}/{assignment}.ipynb",
                 {"type": "notebook", "format": "json", "content": notebook["content"]})
    assignment_action(student, "submit", course, assignment)


def teacher_grades_and_returns_feedback(teacher, assignment, students):
    ok(teacher.server_api("POST", f"formgrader/api/assignment/{assignment}/collect"))
    for student in students:
        ok(teacher.server_api("POST", f"formgrader/api/submission/{assignment}/{student}/autograde"))
    ok(teacher.server_api("POST", f"formgrader/api/assignment/{assignment}/generate_feedback"))
    ok(teacher.server_api("POST", f"formgrader/api/assignment/{assignment}/release_feedback"))
    submissions = ok(teacher.server_api("GET", f"formgrader/api/submissions/{assignment}"))
    return {s["student"]: (s["score"], s["max_score"]) for s in submissions}


def run_cycle(teacher, right_student, wrong_student, course, assignment="ps1"):
    """The whole cycle; returns (gradebook scores, seconds it took)."""
    started = time.monotonic()
    teacher_creates_and_releases(teacher, course, assignment)
    student_answers_and_submits(right_student, course, assignment, RIGHT)
    student_answers_and_submits(wrong_student, course, assignment, WRONG)
    scores = teacher_grades_and_returns_feedback(teacher, assignment, [right_student.login, wrong_student.login])
    assignment_action(right_student, "fetch_feedback", course, assignment)
    return scores, time.monotonic() - started
