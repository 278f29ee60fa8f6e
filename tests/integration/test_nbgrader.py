"""The teaching workflow between real users: release, fetch, submit, collect, grade, feedback."""

import csv
import io
import json
import os
from concurrent.futures import ThreadPoolExecutor

import pytest

from harness.stack import REPO, HubClient

from . import nbgrader_cycle

ACCOUNTS = """prof1;wawa;1
prof2;prof2pw;1;algebra
eleve1;eleve1pw;0;cours_prof1;Marie-Hélène Dupont
eleve2;eleve2pw;0;cours_prof1;"王; 小明"
eleve3;eleve3pw;0;algebra
eleve4;eleve4pw;0;algebra
"""
PASSWORDS = dict(line.split(";")[:2] for line in ACCOUNTS.splitlines())
EXCHANGE = "/srv/nbgrader/exchange"


@pytest.fixture(scope="module")
def classes(stack, request):
    stack.write_accounts(ACCOUNTS)
    stack.sync()
    yield
    stack.write_accounts(open(os.path.join(REPO, "accounts.csv")).read())
    stack.sync()


def logged_in(client, login, course=None):
    session = client(login)
    assert session.log_in(PASSWORDS[login])
    session.start_server(course=course)
    return session


@pytest.fixture(scope="module")
def cycles(stack, classes):
    """Both courses' cycles at the same time, each named ps1; returns {course: (scores, seconds)}."""

    def run(teacher, right, wrong, course):
        sessions = []
        for login in (teacher, right, wrong):
            session = HubClient(stack, login)
            assert session.log_in(PASSWORDS[login])
            session.start_server(course=course)
            sessions.append(session)
        return nbgrader_cycle.run_cycle(*sessions, course)

    with ThreadPoolExecutor(2) as pool:
        first = pool.submit(run, "prof1", "eleve1", "eleve2", "cours_prof1")
        second = pool.submit(run, "prof2", "eleve3", "eleve4", "algebra")
        results = {"cours_prof1": first.result(), "algebra": second.result()}
    os.makedirs(os.path.join(REPO, "test-artifacts"), exist_ok=True)
    with open(os.path.join(REPO, "test-artifacts", "nbgrader-cycle.json"), "w") as f:
        json.dump({course: {"scores": s, "seconds": round(t, 1)} for course, (s, t) in results.items()}, f, indent=2)
    return results


def test_gradebooks_show_full_and_partial_marks(cycles):
    assert cycles["cours_prof1"][0] == {"eleve1": (2.0, 2.0), "eleve2": (1.0, 2.0)}
    assert cycles["algebra"][0] == {"eleve3": (2.0, 2.0), "eleve4": (1.0, 2.0)}


def test_feedback_reaches_the_student_home(stack, cycles):
    found = stack.exec("sh", "-c", "ls /home/eleve1/cours_prof1/ps1/feedback/*/ps1.html", user="eleve1")
    html = stack.exec("cat", found.stdout.strip(), user="eleve1").stdout
    assert "add(0, 0)" in html or "test_hidden" in html


def test_students_cannot_read_each_other_submissions_or_feedback(stack, cycles):
    inbound = f"{EXCHANGE}/cours_prof1/inbound"
    assert stack.exec("ls", inbound, user="eleve2", check=False).returncode != 0
    assert stack.exec("sh", "-c", f"cat {inbound}/eleve1+ps1+*/ps1.ipynb", user="eleve2", check=False).returncode != 0
    assert stack.exec("ls", f"{EXCHANGE}/cours_prof1/feedback", user="eleve2", check=False).returncode != 0
    assert stack.exec("ls", "/home/eleve1", user="eleve2", check=False).returncode != 0
    # the course directory (sources with solutions, gradebook) is for its instructors only
    assert stack.exec("ls", "/srv/nbgrader/courses/cours_prof1", user="eleve1", check=False).returncode != 0
    assert stack.exec("ls", "/srv/nbgrader/courses/cours_prof1", user="prof2", check=False).returncode != 0
    # ... but the teacher can read the collected submission
    assert stack.exec("ls", "/srv/nbgrader/courses/cours_prof1/submitted/eleve1/ps1", user="prof1").returncode == 0


def test_courses_with_the_same_assignment_name_stay_apart(stack, cycles):
    listing = stack.exec("ls", f"{EXCHANGE}/cours_prof1/outbound", f"{EXCHANGE}/algebra/outbound").stdout
    assert listing.count("ps1") == 2
    assert stack.exec("ls", "/srv/nbgrader/courses/algebra/submitted").stdout.split() == ["eleve3", "eleve4"]


def test_grades_export_csv(stack, cycles):
    output = stack.exec("hubsetup", "grades", "export", "--course", "cours_prof1", "--assignment", "ps1").stdout
    rows = list(csv.DictReader(io.StringIO(output)))
    assert [(r["student"], r["name"], r["submitted"], float(r["score"]), float(r["max_score"])) for r in rows] == [
        ("eleve1", "Marie-Hélène Dupont", "True", 2.0, 2.0), ("eleve2", "王; 小明", "True", 1.0, 2.0),
    ]
    missing = stack.exec("hubsetup", "grades", "export", "--course", "cours_prof1", "--assignment", "nope", check=False)
    assert missing.returncode == 2 and "no assignment 'nope'" in missing.stderr


def test_the_formgrader_shows_the_names_of_accounts_csv(stack, client, cycles):
    """Written by the sync, as prof1, before the course's first assignment existed."""
    teacher = logged_in(client, "prof1", course="cours_prof1")
    students = nbgrader_cycle.ok(teacher.server_api("GET", "formgrader/api/students"))
    names = {s["id"]: (s["first_name"], s["last_name"]) for s in students}
    assert (names["eleve1"], names["eleve2"]) == (("Marie-Hélène", "Dupont"), ("王;", "小明"))
    submissions = nbgrader_cycle.ok(teacher.server_api("GET", "formgrader/api/submissions/ps1"))
    assert {s["student"]: (s["last_name"], s["score"]) for s in submissions} == {
        "eleve1": ("Dupont", 2.0), "eleve2": ("小明", 1.0)}
    owner = stack.exec("stat", "-c", "%U:%G %a", "/srv/nbgrader/courses/cours_prof1/gradebook.db").stdout.split()
    assert owner == ["prof1:formgrade-cours_prof1", "660"]


def test_formgrader_may_be_framed_by_jupyterlab(stack, client, classes):
    teacher = logged_in(client, "prof1", course="cours_prof1")
    response = teacher.server_api("GET", "formgrader")
    assert response.status_code == 200
    assert "frame-ancestors 'self'" in response.headers["Content-Security-Policy"]


def test_student_sees_only_own_courses(stack, client, cycles):
    student = logged_in(client, "eleve3")
    own = student.server_api("GET", "assignments", params={"course_id": "algebra"}).json()
    assert {a["assignment_id"] for a in own["value"]} == {"ps1"}, own
    other = student.server_api("GET", "assignments", params={"course_id": "cours_prof1"}).json()
    assert not other["value"], other
