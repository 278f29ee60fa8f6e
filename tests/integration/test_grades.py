"""Grades flow back to the LMS: edX-style graded launches, an nbgrader cycle, `grades push`.

The LMS outcome service is ours (harness/lms_outcomes.py), run inside the hub container on its
loopback, where the pushes go: it verifies body hash and signature like an LMS must."""

import json
import os
import secrets

import pytest

from harness import edx
from harness.stack import REPO, HubClient, wait_until

from . import nbgrader_cycle

CONTEXT = "course-v1:DemoX+GR101+2026_T1"
COURSE = "course-v1-demox-gr101-2026_t1"
OUTCOMES = "http://127.0.0.1:9999/outcomes"

# Outside /tmp, which is a tmpfs in the hub's container: `docker cp` cannot write into one.
LMS_SCRIPT = "/srv/lms_outcomes.py"


@pytest.fixture(scope="module")
def lms(stack):
    key, secret = stack.exec("hubsetup", "lti", "passport").stdout.strip().split(":")[1:]
    stack.compose("cp", os.path.join(REPO, "harness", "lms_outcomes.py"), f"hub:{LMS_SCRIPT}")
    stack.compose("exec", "-d", "hub", "/opt/venv/bin/python3", LMS_SCRIPT, "9999", key, secret,
                  "/tmp/lms-record.json")
    yield key, secret
    stack.exec("pkill", "-f", "lms_outcomes.py", check=False)


def recorded(stack, record="/tmp/lms-record.json"):
    result = stack.exec("cat", record, check=False)
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


def test_automatic_push_reaches_the_lms_for_consumers_of_the_state_volume_and_of_hub_env(stack, graded_course, lms):
    """The pusher is a JupyterHub service, which gets a filtered environment: a consumer set
    with LTI_KEY/LTI_SECRET in hub.env must reach it as well as one `lti passport` made."""
    env_key, env_secret = "env-consumer", secrets.token_urlsafe(32)
    try:
        stack.reconfigure({"GRADES_AUTO_PUSH": "2", "LTI_KEY": env_key, "LTI_SECRET": env_secret})
        # The hub's container is new: the LMS inside it starts again, now with both consumers.
        stack.compose("cp", os.path.join(REPO, "harness", "lms_outcomes.py"), f"hub:{LMS_SCRIPT}")
        stack.compose("exec", "-d", "hub", "/opt/venv/bin/python3", LMS_SCRIPT, "9999", *lms,
                      "/tmp/lms-auto.json", env_key, env_secret)
        # gr-wrong now opens the component from a course of the LMS that signs with hub.env's consumer
        stack.exec("hubsetup", "lti", "link", "--consumer", env_key, "--lti-user", "gr-wrong", "gr-wrong")
        stack.exec("hubsetup", "lti", "map-course", "--consumer", env_key, "--context-id", CONTEXT, COURSE)
        params = edx.launch_params(stack.url + "/hub/lti/launch", env_key, env_secret, username="gr-wrong",
                                   context_id=CONTEXT, custom={"assignment": "ps1"}, lis_outcome_service_url=OUTCOMES,
                                   lis_result_sourcedid=f"{CONTEXT}:block-ps1:gr-wrong-env")
        assert HubClient(stack, "gr-wrong").launch(params).status_code == 302
        # what the file's consumer sent before counts as new for the pusher
        stack.exec("python3", "-c", "import sqlite3; db = sqlite3.connect('/srv/jupyterhub/state/registry.sqlite'); "
                   "db.execute('UPDATE launches SET pushed_score = NULL'); db.commit()")
        wanted = {f"{CONTEXT}:block-ps1:gr-right": 1.0, f"{CONTEXT}:block-ps1:gr-wrong-env": 0.5}
        wait_until(lambda: recorded(stack, "/tmp/lms-auto.json")["scores"] == wanted,
                   f"automatic pushes did not reach the LMS: {recorded(stack, '/tmp/lms-auto.json')}", timeout=60)
    finally:
        stack.reconfigure({})
