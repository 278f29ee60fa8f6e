"""Students' code is graded in a sandbox, never with anyone's rights: real submissions between
real users, each autograded by the formgrader's button, by `nbgrader autograde` in the
teacher's shell, and on submit (an LTI course with AUTOGRADE_ON_SUBMIT, its scores sent to the
test LMS's outcome service).

Each attack is a student's answer cell that defines `add` (so its true score is known) and
then does its worst: reads the solutions, another student's submission, the teacher's files
and the hub's state into its output; writes the gradebook; forks until it cannot; allocates
past the memory limit; loops with interrupts ignored; connects to the hub and to the
grading service.
"""

import json
import os
import re
import time

import pytest
import requests

from harness import edx
from harness.stack import REPO, HubClient, registry_rows, wait_until

from . import lms as test_lms

COURSE = "sbx-manual"
AUTO_CONTEXT = "course-v1:SbX+AUTO+2026"
AUTO_COURSE = "course-v1-sbx-auto-2026"  # what the hub names the LMS's course
RECORD = "/tmp/lms-sandbox.json"
SECRETS = ["SOLUTION-SECRET-7f3a", "HIDDEN-SECRET-9c2e", "HONEST-SECRET-41d0", "TEACHER-SECRET-c85b"]

ADD = "def add(a, b):\n    return a + b\n"
ATTACKS = {
    "honest": ADD + "# HONEST-SECRET-41d0\n",
    "read": ADD + """
import glob, os
for pattern in ["/srv/nbgrader/courses/*/source/*/*.ipynb", "/srv/nbgrader/courses/*/submitted/*/*/*.ipynb",
                "/srv/nbgrader/courses/*/autograded/*/*/*.ipynb", "/home/*/*", "/home/*/*/*/*.ipynb",
                "/srv/jupyterhub/state/*", "/root/*", "../../*/*/*.ipynb", "../../../source/*/*"]:
    for path in glob.glob(pattern):
        try:
            print("READ", path, open(path, errors="replace").read())
        except OSError as error:
            print("NOT", path, error)
for path in ["/srv/nbgrader/courses/sbx-manual/source/ps1/ps1.ipynb", "/srv/nbgrader/courses/sbx-manual/gradebook.db",
             "/home/profsb/notes.txt", "/home/sb-honest/sbx-manual/ps1/ps1.ipynb",
             "/srv/jupyterhub/state/jupyterhub_cookie_secret", "/srv/jupyterhub/state/registry.sqlite"]:
    try:
        print("READ", path, open(path, errors="replace").read())
    except OSError as error:
        print("NOT", path, error)
print("ENV", dict(os.environ))
print("ID", os.getuid(), os.getgroups(), os.getcwd())
""",
    "gradebook": "def add(a, b):\n    return a * b\n" + """
import glob, os, sqlite3
for path in glob.glob("/srv/nbgrader/courses/*/gradebook.db") + [os.path.abspath("../../../gradebook.db")]:
    try:
        db = sqlite3.connect(path)
        db.execute("UPDATE grade SET manual_score = 1")
        db.commit()
        print("WROTE", path)
    except Exception as error:
        print("NOT", path, error)
""",
    "fork": ADD + """
import os, time
children = 0
try:
    while True:
        if os.fork() == 0:
            time.sleep(3600)
            os._exit(0)
        children += 1
except OSError as error:
    print("fork stopped after", children, "children:", error)
""",
    "memory": ADD + """
chunks = []
try:
    while True:
        chunks.append(b"x" * (64 << 20))
except MemoryError:
    print("memory stopped at", len(chunks) * 64, "MB")
del chunks
""",
    "loop": ADD + "import signal\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\nwhile True:\n    pass\n",
    "network": ADD + """
import socket
for address in [("127.0.0.1", 8081), ("127.0.0.1", 8000), ("hub", 8081), ("1.1.1.1", 80)]:
    try:
        socket.create_connection(address, timeout=3)
        print("CONNECTED", address)
    except OSError as error:
        print("NOT", address, error)
s = socket.socket(socket.AF_UNIX)
s.connect("/run/teaching-hub-grading/broker.sock")
s.sendall(b'{"course": "sbx-manual"}'); s.shutdown(socket.SHUT_WR)
print("BROKER", s.recv(1000))
""",
}
# The true score of each (out of 2): the gradebook attack answers wrongly (add(1, 2) fails, the
# hidden add(0, 0) passes); the loop never lets the tests run, so the run's limit stops it.
TRUE_SCORES = {"honest": 2.0, "read": 2.0, "gradebook": 1.0, "fork": 2.0, "memory": 2.0, "loop": 0.0, "network": 2.0}


def source_notebook():
    def cell(source, grade_id, solution=False, points=None):
        meta = {"grade": points is not None, "solution": solution, "locked": not solution, "grade_id": grade_id,
                "schema_version": 3, **({"points": points} if points else {})}
        return {"cell_type": "code", "execution_count": None, "outputs": [], "source": source,
                "metadata": {"nbgrader": meta}}

    return {"nbformat": 4, "nbformat_minor": 5,
            "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}},
            "cells": [cell("def add(a, b):\n    ### BEGIN SOLUTION\n    # SOLUTION-SECRET-7f3a\n    return a + b\n"
                           "    ### END SOLUTION\n", "answer", solution=True),
                      cell("assert add(1, 2) == 3", "test_visible", points=1),
                      cell("### BEGIN HIDDEN TESTS\n# HIDDEN-SECRET-9c2e\nassert add(0, 0) == 0\n### END HIDDEN TESTS",
                           "test_hidden", points=1)]}


def course_env(course):
    return f"NBGRADER_COURSE_ID={course} NBGRADER_COURSE_ROOT=/srv/nbgrader/courses/{course}"


def release(stack, teacher, course):
    """The teacher writes the source notebook and releases it, from a shell."""
    root = f"/srv/nbgrader/courses/{course}"
    stack.exec("sh", "-c", f"mkdir -p {root}/source/ps1 && cat > {root}/source/ps1/ps1.ipynb && "
               f"echo TEACHER-SECRET-c85b > /home/{teacher}/notes.txt && cd {root} && "
               f"env {course_env(course)} nbgrader generate_assignment ps1 --force && "
               f"env {course_env(course)} nbgrader release_assignment ps1 --force",
               user=teacher, input=json.dumps(source_notebook()))


ANSWER = ("import json, sys; path = sys.argv[1]; nb = json.load(open(path)); "
          "nb['cells'][0]['source'] = sys.stdin.read(); json.dump(nb, open(path, 'w'))")


def submit(stack, student, course, answer):
    """The student fetches, answers and submits with nbgrader's commands, as themself."""
    stack.exec("sh", "-c", f"cd /home/{student} && export HOME=/home/{student} && "
               f"nbgrader fetch_assignment --course {course} ps1 && "
               f"/opt/venv/bin/python3 -c \"{ANSWER}\" {course}/ps1/ps1.ipynb && "
               f"nbgrader submit --course {course} ps1", user=student, input=answer)


def scores(stack, course):
    export = stack.exec("hubsetup", "grades", "export", "--course", course, "--assignment", "ps1").stdout
    rows = [line.split(",") for line in export.splitlines()[1:]]
    return {row[2]: float(row[5]) for row in rows if row[4] == "True"}


def outputs_and_feedback(stack, course, student):
    """What the grading run printed for `student` (the outputs of the autograded notebook), and
    the feedback page they get (which shows the hidden tests: nbgrader's way)."""
    found = stack.exec("/opt/venv/bin/python3", "-c", f"""
import json
notebook = json.load(open("/srv/nbgrader/courses/{course}/autograded/{student}/ps1/ps1.ipynb"))
print(json.dumps([cell.get("outputs", []) for cell in notebook["cells"]]))
try:
    print(open("/srv/nbgrader/courses/{course}/feedback/{student}/ps1/ps1.html").read())
except FileNotFoundError:
    pass
""").stdout
    outputs, _, feedback = found.partition("\n")
    return json.dumps(json.loads(outputs), ensure_ascii=False).replace("\\n", "\n"), feedback


def hub_secrets(stack):
    """The hub's cookie secret and its LTI consumers' secrets."""
    found = stack.exec("/opt/venv/bin/python3", "-c", "import json; print(open('/srv/jupyterhub/state/"
                       "jupyterhub_cookie_secret').read().strip()); "
                       "print(*json.load(open('/srv/jupyterhub/state/lti_consumers.json')).values(), sep='\\n')").stdout
    return [line.strip() for line in found.splitlines() if len(line.strip()) >= 16]


def student(kind, course=COURSE):
    return ("sb-" if course == COURSE else "au-") + kind


@pytest.fixture(scope="module")
def graded(stack, lms):
    """Both courses submitted; the manual one autograded by the button, then by the command
    line; the LTI one graded on submit. Returns what each path left."""
    accounts = f"profsb;profsbpw;1;{COURSE}\n" + "".join(f"{student(kind)};pw-{kind};0;{COURSE}\n" for kind in ATTACKS)
    stack.write_accounts(accounts)
    stack.sync()
    try:
        yield grade_every_way(stack, lms)
    finally:  # the other modules' accounts back
        stack.write_accounts(open(os.path.join(REPO, "accounts.csv")).read())
        stack.sync()


def grade_every_way(stack, lms):
    client = lambda login: HubClient(stack, login)  # noqa: E731
    teacher_of_auto = test_lms.launch(stack, client, lms, "au-teacher", AUTO_CONTEXT, roles="Instructor",
                                      assignment=None)
    honest = test_lms.launch(stack, client, lms, student("honest", AUTO_COURSE), AUTO_CONTEXT)
    for kind in ATTACKS:
        if kind != "honest":
            params = edx.launch_params(
                stack.url + "/hub/lti/launch", *lms, username=student(kind, AUTO_COURSE), context_id=AUTO_CONTEXT,
                custom={"assignment": "ps1"}, lis_outcome_service_url=test_lms.OUTCOMES,
                lis_result_sourcedid=f"{AUTO_CONTEXT}:block-ps1:{student(kind, AUTO_COURSE)}")
            assert client(student(kind, AUTO_COURSE)).launch(params).status_code == 302
    release(stack, "profsb", COURSE)
    release(stack, "au-teacher", AUTO_COURSE)

    # On submit: the honest one alone first, timed from its submit to its score at the LMS.
    started = time.monotonic()
    submit(stack, honest.login, AUTO_COURSE, ATTACKS["honest"])
    sourcedid = f"{AUTO_CONTEXT}:block-ps1:{honest.login}"
    wait_until(lambda: sourcedid in test_lms.recorded(stack, RECORD)["scores"],
               f"no score at the LMS: {test_lms.recorded(stack, RECORD)}", timeout=180)
    submit_to_score = time.monotonic() - started
    print(f"\nsubmit to score at the LMS, one submission: {submit_to_score:.1f} s")
    for kind, answer in ATTACKS.items():
        submit(stack, student(kind), COURSE, answer)
        if kind != "honest":
            submit(stack, student(kind, AUTO_COURSE), AUTO_COURSE, answer)

    teacher = HubClient(stack, "profsb")
    assert teacher.log_in("profsbpw")
    teacher.start_server()
    assert teacher.server_api("POST", "formgrader/api/assignment/ps1/collect").status_code == 200
    results = {}
    for kind in ATTACKS:
        reply = teacher.server_api("POST", f"formgrader/api/submission/ps1/{student(kind)}/autograde").json()
        assert reply["success"], reply
    assert teacher.server_api("POST", "formgrader/api/assignment/ps1/generate_feedback").json()["success"]
    results["button"] = {kind: (scores(stack, COURSE)[student(kind)], outputs_and_feedback(stack, COURSE, student(kind)))
                         for kind in ATTACKS}
    cli = stack.exec("sh", "-c", f"cd /srv/nbgrader/courses/{COURSE} && env {course_env(COURSE)} "
                     f"nbgrader autograde ps1 --force 2>&1 && env {course_env(COURSE)} "
                     "nbgrader generate_feedback ps1 --force 2>&1", user="profsb")
    results["command line"] = {kind: (scores(stack, COURSE)[student(kind)],
                                      outputs_and_feedback(stack, COURSE, student(kind))) for kind in ATTACKS}
    results["command line"]["log"] = cli.stdout
    everyone = {student(kind, AUTO_COURSE) for kind in ATTACKS}
    wait_until(lambda: everyone <= set(scores(stack, AUTO_COURSE)) and not waiting(stack),
               f"not all graded on submit: {scores(stack, AUTO_COURSE)}", timeout=600)
    results["on submit"] = {kind: (scores(stack, AUTO_COURSE)[student(kind, AUTO_COURSE)],
                                   outputs_and_feedback(stack, AUTO_COURSE, student(kind, AUTO_COURSE)))
                            for kind in ATTACKS}
    results["submit to score"] = submit_to_score
    results["honest"], results["auto teacher"] = honest, teacher_of_auto
    return results


def waiting(stack):
    return registry_rows(stack, "SELECT count(*) FROM submissions WHERE state IN ('queued', 'grading')") != "[(0,)]"


@pytest.fixture(scope="module")
def lms(stack):
    yield test_lms.start(stack, RECORD)
    test_lms.stop(stack)


PATHS = ["button", "command line", "on submit"]


@pytest.mark.parametrize("path", PATHS)
def test_no_secret_reaches_a_submissions_output_or_feedback(stack, graded, path):
    hub = hub_secrets(stack)
    assert hub, "the test must know the hub's secrets to look for them"
    for kind in ATTACKS:
        outputs, feedback = graded[path][kind][1]
        assert outputs, f"{path}: nothing graded for {kind}"
        leaked = [secret for secret in SECRETS + hub if secret in outputs]
        # The feedback shows the notebook, hidden tests included (nbgrader's way), never the solution.
        leaked += [secret for secret in SECRETS + hub if secret in feedback and secret != "HIDDEN-SECRET-9c2e"]
        leaked += [name for name in ("JUPYTERHUB_API_TOKEN", "CREATE TABLE", "password_hash") if name in outputs]
        if kind == "honest":  # the student's own comment is theirs to see
            leaked = [secret for secret in leaked if secret != "HONEST-SECRET-41d0"]
        assert not leaked, f"{path}: {kind} got {leaked}"
    read = graded[path]["read"][1][0]
    assert "ID 19" in read and "Permission denied" in read, read[-3000:]


@pytest.mark.parametrize("path", PATHS)
def test_the_gradebook_holds_the_true_scores(stack, graded, path):
    found = {kind: graded[path][kind][0] for kind in ATTACKS}
    assert found == TRUE_SCORES, found
    assert "WROTE" not in graded[path]["gradebook"][1][0]


@pytest.mark.parametrize("path", PATHS)
def test_limits_stop_the_attacks_and_the_feedback_says_which(stack, graded, path):
    printed = {kind: graded[path][kind][1][0] for kind in ATTACKS}
    assert "fork stopped after" in printed["fork"]
    assert "memory stopped at" in printed["memory"]
    # nbgrader's cell timeout interrupts; ignored, the kernel is given up and the cells left
    # score zero, with the reason in the feedback
    assert "GradingStopped" in printed["loop"] and "timed out" in printed["loop"], printed["loop"][-2000:]
    assert "GradingStopped" in graded[path]["loop"][1][1]
    network = printed["network"]
    assert "CONNECTED" not in network and "Permission denied" in network, network[-2000:]
    assert "is not an instructor" in network  # the broker does not answer a sandbox


def test_the_sandboxes_are_gone_and_the_hub_and_students_unharmed(stack, graded):
    leftovers = stack.exec("/opt/venv/bin/python3", "-c", """
import os
procs = [pid for pid in os.listdir('/proc') if pid.isdigit() and 1_900_000_000 <= os.stat('/proc/' + pid).st_uid < 1_901_000_000]
files = [os.path.join(top, name) for top in ('/tmp', '/var/tmp', '/dev/shm') for name in os.listdir(top)
         if 1_900_000_000 <= os.lstat(os.path.join(top, name)).st_uid < 1_901_000_000]
print(procs, files, os.listdir('/run/teaching-hub/grading'))
""").stdout.strip()
    assert leftovers == "[] [] []", leftovers
    assert graded["honest"].get(stack.url + "/hub/api/").status_code == 200
    # a student still has their own processes and server
    assert stack.exec("sh", "-c", "for i in 1 2 3 4 5 6 7 8; do sleep 1 & done; wait; echo ok", user="sb-fork").stdout.strip() == "ok"


def test_on_submit_the_score_reaches_the_lms_and_feedback_the_student(stack, graded):
    sent = test_lms.recorded(stack, RECORD)["scores"]
    wanted = {f"{AUTO_CONTEXT}:block-ps1:{student(kind, AUTO_COURSE)}": TRUE_SCORES[kind] / 2 for kind in ATTACKS}
    wait_until(lambda: test_lms.recorded(stack, RECORD)["scores"] == wanted,
               f"the LMS has {sent}, not {wanted}", timeout=60)
    assert graded["submit to score"] < 120
    login = student("honest", AUTO_COURSE)
    fetched = stack.exec("sh", "-c", f"cd /home/{login} && HOME=/home/{login} nbgrader fetch_feedback --course "
                         f"{AUTO_COURSE} ps1 && cat {AUTO_COURSE}/ps1/feedback/*/ps1.html", user=login).stdout
    assert "HONEST-SECRET-41d0" in fetched and "SOLUTION-SECRET" not in fetched
    state = registry_rows(stack, f"SELECT state, score, max_score, feedback FROM submissions WHERE login = '{login}'")
    assert state == "[('graded', 2.0, 2.0, 1)]", state


def row_of(page, course, assignment):
    found = re.search(rf'<tr data-course="{re.escape(course)}" data-assignment="{assignment}" data-state="(\w+)">'
                      r"(.*?)</tr>", page, re.S)
    return (found.group(1), re.sub(r"<[^>]+>", " ", found.group(2))) if found else (None, "")


def test_students_and_teachers_see_where_submissions_are(stack, graded):
    """The grading service's page, reached through the hub's sign-in (OAuth) as from the
    navigation bar or JupyterLab's File menu."""
    honest, url = graded["honest"], stack.url + "/services/grading/"

    def honest_row():
        page = honest.get(url)
        assert page.status_code == 200 and page.url == url, (page.status_code, page.url)
        return row_of(page.text, AUTO_COURSE, "ps1")

    wait_until(lambda: "Score sent to your course." in honest_row()[1], f"not sent: {honest_row()}", timeout=60)
    state, text = honest_row()
    assert state == "graded" and "Graded: 2 out of 2 points" in text and "Fetch Feedback" in text, text
    assert not [kind for kind in ATTACKS if f"{student(kind, AUTO_COURSE)}" in honest.get(url).text]

    teacher = graded["auto teacher"].get(url).text
    assert f"Submissions to {AUTO_COURSE}" in teacher
    assert f"{len(ATTACKS)} graded, 0 waiting, 0 being graded, 0 not graded automatically" in teacher, teacher

    stranger = requests.Session()
    page = stranger.get(url)
    assert "/hub/login" in page.url and "Submissions to" not in page.text and "data-state" not in page.text
    # JupyterLab applies overrides.json to the schema's defaults
    menu = honest.server_api("GET", "lab/api/settings/@jupyterlab/mainmenu-extension:plugin").json()
    items = [item for menu in menu["schema"]["properties"]["menus"]["default"] for item in menu.get("items", [])]
    assert {"text": "Submissions…", "url": "/services/grading/", "newBrowserTab": True} in [
        item.get("args") for item in items], items
    home = honest.get(stack.url + "/hub/home").text
    assert 'id="submissions-link" href="/services/grading/"' in home


SAME_PREPROCESSORS = """
import importlib
from nbgrader.converters import Autograde
from nbgrader.preprocessors import Execute
from hubsetup.grading import AUTOGRADE_PREPROCESSORS
ours = [getattr(importlib.import_module(name.rpartition(".")[0]), name.rpartition(".")[2]) for name in AUTOGRADE_PREPROCESSORS]
theirs = Autograde.class_traits()["autograde_preprocessors"].default()
print(issubclass(ours[0], Execute), theirs[0] is Execute, ours[1:] == theirs[1:])
"""


def test_the_sandbox_takes_the_place_of_nbgraders_execute_and_nothing_else(stack):
    """An nbgrader upgrade that changes its autograde steps fails here, not silently."""
    assert stack.exec("/opt/venv/bin/python3", "-c", SAME_PREPROCESSORS).stdout.split() == ["True"] * 3
