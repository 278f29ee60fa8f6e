"""Grades flow back to the LMS: edX-style graded launches, an nbgrader cycle, `grades push`.

The LMS outcome service is ours (tests/lms_outcomes.py), run inside the hub container on its
loopback, where the pushes go: it verifies body hash and signature like an LMS must."""

import json
import os

import pytest

from . import edx, nbgrader_cycle
from .stack import REPO

CONTEXT = "course-v1:DemoX+GR101+2026_T1"
COURSE = "course-v1-demox-gr101-2026_t1"
OUTCOMES = "http://127.0.0.1:9999/outcomes"


@pytest.fixture(scope="module")
def lms(stack):
    key, secret = stack.exec("hubsetup", "lti", "passport").stdout.strip().split(":")[1:]
    stack.compose("cp", os.path.join(REPO, "tests", "lms_outcomes.py"), "hub:/tmp/lms_outcomes.py")
    stack.compose("exec", "-d", "hub", "/opt/venv/bin/python3", "/tmp/lms_outcomes.py", "9999", key, secret,
                  "/tmp/lms-record.json")
    yield key, secret
    stack.exec("pkill", "-f", "lms_outcomes.py", check=False)


def recorded(stack):
    result = stack.exec("cat", "/tmp/lms-record.json", check=False)
    return json.loads(result.stdout) if result.returncode == 0 else {"scores": {}, "requests": 0}


def launch(stack, client, lms, name, roles="Student,Learner", assignment="ps1", sourcedid=None):
    key, secret = lms
    custom = {"assignment": assignment} if assignment else {}
    params = edx.launch_params(stack.url + "/hub/lti/launch", key, secret, username=name, roles=roles,
                               context_id=CONTEXT, custom=custom, lis_outcome_service_url=OUTCOMES,
                               lis_result_sourcedid=sourcedid or f"{CONTEXT}:block-ps1:{name}")
    session = client(name)
    assert session.launch(params).status_code == 302
    session.start_server()
    return session


@pytest.fixture(scope="module")
def graded_course(stack, lms):
    """Teacher and five students by LTI; four submit. Returns the logins."""
    from .stack import HubClient

    def client(name):
        return HubClient(stack, name)

    teacher = launch(stack, client, lms, "gr-teacher", roles="Instructor", assignment=None)
    right = launch(stack, client, lms, "gr-right")
    wrong = launch(stack, client, lms, "gr-wrong")
    rejected = launch(stack, client, lms, "gr-rejected", sourcedid="reject-this-one")
    unlaunched = launch(stack, client, lms, "gr-other-component", assignment=None)  # no launch for ps1
    launch(stack, client, lms, "gr-idle")  # launched, never submits
    nbgrader_cycle.teacher_creates_and_releases(teacher, COURSE, "ps1")
    for student, answer in ((right, nbgrader_cycle.RIGHT), (wrong, nbgrader_cycle.WRONG),
                            (rejected, nbgrader_cycle.RIGHT), (unlaunched, nbgrader_cycle.RIGHT)):
        nbgrader_cycle.student_answers_and_submits(student, COURSE, "ps1", answer)
    nbgrader_cycle.teacher_grades_and_returns_feedback(teacher, "ps1", [right.login, wrong.login, rejected.login, unlaunched.login])
    return {"teacher": teacher.login}


def table(output):
    """{student: (status, score)} from the push table."""
    rows = {}
    for line in output.splitlines()[1:-1]:
        parts = line.split(None, 1)
        student, rest = parts[0], parts[1]
        score = None
        if rest.split()[0].replace(".", "").isdigit():
            score, rest = float(rest.split()[0]), rest.split(None, 1)[1]
        status = next(s for s in ("sent", "failed", "no launch yet", "not graded", "would send", "component not scored")
                      if rest.startswith(s))
        rows[student] = (status, score)
    return rows


def test_push_sends_scores_for_graded_launches(stack, graded_course):
    dry = stack.exec("hubsetup", "grades", "push", "--course", COURSE, "--assignment", "ps1", "--dry-run")
    assert table(dry.stdout)["gr-right"] == ("would send", 1.0)
    assert recorded(stack)["requests"] == 0
    push = stack.exec("hubsetup", "grades", "push", "--course", COURSE, "--assignment", "ps1", check=False)
    assert push.returncode == 1, push.stdout  # one student's score was refused
    assert table(push.stdout) == {
        "gr-right": ("sent", 1.0),
        "gr-wrong": ("sent", 0.5),
        "gr-rejected": ("failed", 1.0),
        "gr-other-component": ("no launch yet", 1.0),
        "gr-idle": ("not graded", None),
    }
    assert "sourcedid is not in this course" in push.stdout
    assert recorded(stack)["scores"] == {
        f"{CONTEXT}:block-ps1:gr-right": 1.0,
        f"{CONTEXT}:block-ps1:gr-wrong": 0.5,
    }


def test_pushing_again_sends_the_same_scores(stack, graded_course):
    stack.exec("hubsetup", "grades", "push", "--course", COURSE, "--assignment", "ps1", check=False)
    before = recorded(stack)
    stack.exec("hubsetup", "grades", "push", "--course", COURSE, "--assignment", "ps1", check=False)
    after = recorded(stack)
    assert after["scores"] == before["scores"] and after["requests"] > before["requests"]


def test_watch_round_sends_only_changed_scores(stack, graded_course):
    stack.exec("hubsetup", "grades", "push", "--course", COURSE, "--assignment", "ps1", check=False)
    before = recorded(stack)["requests"]
    stack.exec("hubsetup", "grades", "watch", "--once")
    # only the refused score is tried again: the accepted ones did not change
    assert recorded(stack)["requests"] - before == 1


def test_unknown_course_or_assignment_is_a_clear_error(stack, graded_course):
    result = stack.exec("hubsetup", "grades", "push", "--course", "nope", "--assignment", "ps1", check=False)
    assert result.returncode == 2 and "no gradebook" in result.stderr
