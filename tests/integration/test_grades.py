"""Grades flow back to the LMS: edX-style graded launches, an nbgrader cycle, `grades push`.

The LMS outcome service is ours (harness/lms_outcomes.py), run inside the hub container on its
loopback, where the pushes go: it verifies body hash and signature like an LMS must."""

import csv
import io
import os
import secrets

import pytest

from harness import edx
from harness.stack import REPO, HubClient, wait_until

from . import lms as test_lms
from . import nbgrader_cycle

CONTEXT = "course-v1:DemoX+GR101+2026_T1"
COURSE = "course-v1-demox-gr101-2026_t1"
RECORD = "/tmp/lms-record.json"


@pytest.fixture(scope="module")
def lms(stack):
    yield test_lms.start(stack, RECORD)
    test_lms.stop(stack)


def recorded(stack, record=RECORD):
    return test_lms.recorded(stack, record)


def launch(stack, client, lms, name, **details):
    return test_lms.launch(stack, client, lms, name, CONTEXT, **details)


@pytest.fixture(scope="module")
def graded_course(stack, lms):
    """Teacher and five students by LTI; four submit. 张三 and 李四 come as edX sends them with
    "Request user's username" and "Request user's name" on. Returns the teacher's session."""

    def client(name):
        return HubClient(stack, name)

    teacher = launch(stack, client, lms, "gr-teacher", roles="Instructor", assignment=None)
    right = launch(stack, client, lms, "zhangsan", username="张三", full_name="张三")
    wrong = launch(stack, client, lms, "lisi", username="李四", full_name="李四")
    rejected = launch(stack, client, lms, "gr-rejected", sourcedid="reject-this-one")
    unlaunched = launch(stack, client, lms, "gr-other-component", assignment=None)  # no launch for ps1
    launch(stack, client, lms, "gr-idle")  # launched, never submits
    nbgrader_cycle.teacher_creates_and_releases(teacher, COURSE, "ps1")
    for student, answer in ((right, nbgrader_cycle.RIGHT), (wrong, nbgrader_cycle.WRONG),
                            (rejected, nbgrader_cycle.RIGHT), (unlaunched, nbgrader_cycle.RIGHT)):
        nbgrader_cycle.student_answers_and_submits(student, COURSE, "ps1", answer)
    nbgrader_cycle.teacher_grades_and_returns_feedback(teacher, "ps1", [right.login, wrong.login, rejected.login, unlaunched.login])
    return {"teacher": teacher}


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
    assert table(dry.stdout)["zhangsan"] == ("would send", 1.0)
    assert recorded(stack)["requests"] == 0
    push = stack.exec("hubsetup", "grades", "push", "--course", COURSE, "--assignment", "ps1", check=False)
    assert push.returncode == 1, push.stdout  # one student's score was refused
    assert table(push.stdout) == {
        "zhangsan": ("sent", 1.0),
        "lisi": ("sent", 0.5),
        "gr-rejected": ("failed", 1.0),
        "gr-other-component": ("no launch yet", 1.0),
        "gr-idle": ("not graded", None),
    }
    assert "sourcedid is not in this course" in push.stdout
    assert recorded(stack)["scores"] == {
        f"{CONTEXT}:block-ps1:zhangsan": 1.0,
        f"{CONTEXT}:block-ps1:lisi": 0.5,
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


def test_teachers_see_the_lms_names_against_the_right_scores(stack, graded_course, lms):
    """The formgrader's students (from the gradebook, written as the course's instructor), the
    export, `status` and the hub's own pages show 张三 and 李四, not their logins."""
    teacher = graded_course["teacher"]

    def students():
        listed = nbgrader_cycle.ok(teacher.server_api("GET", "formgrader/api/students"))
        return {s["id"]: (s["first_name"], s["last_name"], s["score"]) for s in listed}

    wait_until(lambda: {"zhangsan", "lisi"} <= {i for i, s in students().items() if s[1]},
               f"the gradebook has no names: {students()}", timeout=60)
    found = students()
    assert (found["zhangsan"], found["lisi"]) == (("", "张三", 2.0), ("", "李四", 1.0))
    assert found["gr-rejected"][:2] == (None, None)  # launched without a name: nbgrader's own record
    export = stack.exec("hubsetup", "grades", "export", "--course", COURSE, "--assignment", "ps1").stdout
    rows = {row["student"]: row for row in csv.DictReader(io.StringIO(export))}
    assert (rows["zhangsan"]["name"], float(rows["zhangsan"]["score"])) == ("张三", 2.0)
    assert (rows["lisi"]["name"], float(rows["lisi"]["score"])) == ("李四", 1.0)
    assert rows["gr-rejected"]["name"] == ""
    report = stack.exec("hubsetup", "status").stdout
    assert "zhangsan (张三)" in report and "lisi (李四)" in report
    student = launch(stack, lambda login: HubClient(stack, login), lms, "zhangsan", username="张三", full_name="张三",
                     assignment=None)
    home = student.get(stack.url + "/hub/home")
    # JupyterHub's pages say utf-8 in a meta tag only, which requests does not read
    assert '<span id="shown-name" class="me-1">张三</span>' in home.content.decode()
    mallory = launch(stack, lambda login: HubClient(stack, login), lms, "gr-idle", assignment=None,
                     full_name="<img src=x onerror=alert(1)>")
    page = mallory.get(stack.url + "/hub/home").content.decode()
    assert "&lt;img src=x onerror=alert(1)&gt;" in page and "<img src=x" not in page


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
        stack.compose("cp", os.path.join(REPO, "harness", "lms_outcomes.py"), f"hub:{test_lms.LMS_SCRIPT}")
        stack.compose("exec", "-d", "hub", "/opt/venv/bin/python3", test_lms.LMS_SCRIPT, "9999", *lms,
                      "/tmp/lms-auto.json", env_key, env_secret)
        # 李四 now opens the component from a course of the LMS that signs with hub.env's consumer
        stack.exec("hubsetup", "lti", "link", "--consumer", env_key, "--lti-user", "lisi", "lisi")
        stack.exec("hubsetup", "lti", "map-course", "--consumer", env_key, "--context-id", CONTEXT, COURSE)
        params = edx.launch_params(stack.url + "/hub/lti/launch", env_key, env_secret, username="lisi",
                                   context_id=CONTEXT, custom={"assignment": "ps1"}, lis_outcome_service_url=test_lms.OUTCOMES,
                                   lis_result_sourcedid=f"{CONTEXT}:block-ps1:lisi-env")
        assert HubClient(stack, "lisi").launch(params).status_code == 302
        # what the file's consumer sent before counts as new for the pusher
        stack.exec("python3", "-c", "import sqlite3; db = sqlite3.connect('/srv/jupyterhub/state/registry.sqlite'); "
                   "db.execute('UPDATE launches SET pushed_score = NULL'); db.commit()")
        wanted = {f"{CONTEXT}:block-ps1:zhangsan": 1.0, f"{CONTEXT}:block-ps1:lisi-env": 0.5}
        wait_until(lambda: recorded(stack, "/tmp/lms-auto.json")["scores"] == wanted,
                   f"automatic pushes did not reach the LMS: {recorded(stack, '/tmp/lms-auto.json')}", timeout=60)
    finally:
        stack.reconfigure({})
