"""From an edX unit to a ready lesson: a teacher publishes the course's materials, an edX-signed
launch names the lesson (or the assignment), and the student's server makes it ready, as the
student, before JupyterLab opens it. Lessons from git come through nbgitpuller, from a git
daemon on the hub container's loopback."""

import json
import re
from urllib.parse import parse_qs, urlsplit

import pytest

from harness import edx, git_server, kernels
from harness.stack import HubClient

from . import nbgrader_cycle

CONTEXT = "course-v1:DemoX+LS101+2026_T1"
COURSE = "course-v1-demox-ls101-2026_t1"
OTHER_CONTEXT = "course-v1:DemoX+OTHER+2026_T1"
OTHER_COURSE = "course-v1-demox-other-2026_t1"
EXCHANGE = "/srv/nbgrader/exchange"
PUBLISHED = f"{EXCHANGE}/{COURSE}/materials/published/current"


def notebook(*sources):
    return {"cells": [{"cell_type": "code", "source": source, "metadata": {}, "outputs": [], "execution_count": None}
                      for source in sources],
            "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}},
            "nbformat": 4, "nbformat_minor": 5}


LESSON1 = notebook("print('lesson one, version', 1)")
LESSON1_V2 = notebook("print('lesson one, version', 2)")
LESSON2 = notebook("import csv\nrows = list(csv.DictReader(open('data/prices.csv')))\nprint('mean', sum(float(r['price']) for r in rows) / len(rows))")


@pytest.fixture(scope="module")
def consumer(stack):
    return stack.exec("hubsetup", "lti", "passport", "--team", "lessons").stdout.strip().split(":")[1:]


def launch(stack, consumer, username, context=CONTEXT, roles="Student,Learner", **custom):
    """(session, Location of the launch's redirect) of edX user `username`."""
    key, secret = consumer
    params = edx.launch_params(stack.url + "/hub/lti/launch", key, secret, username=username, roles=roles,
                               context_id=context, custom=custom)
    session = HubClient(stack, username)
    response = session.launch(params)
    assert response.status_code == 302, (response.status_code, response.text[:300])
    return session, response.headers["Location"]


def opened(session, location, path, timeout=120):
    """Follow the launch's redirect (the server starting if it must) to JupyterLab's `path`."""
    return session.wait_for_page(f"/user/{session.login}/lab/tree/{path}", start=location, timeout=timeout)


def put_file(session, path, content):
    folders = path.split("/")[:-1]
    for depth in range(1, len(folders) + 1):
        folder = "/".join(folders[:depth])
        if session.server_api("GET", f"api/contents/{folder}").status_code == 404:
            nbgrader_cycle.put_contents(session, folder, {"type": "directory"})
    if path.endswith(".ipynb"):
        model = {"type": "notebook", "format": "json", "content": content}
    else:
        model = {"type": "file", "format": "text", "content": content}
    nbgrader_cycle.put_contents(session, path, model)


def publish_with_the_button(teacher):
    """What the teacher's File → Course materials… page does: its form, posted with its _xsrf."""
    page = teacher.server_api("GET", "open/materials")
    assert page.status_code == 200 and "Publish the materials" in page.text
    xsrf = re.search(r'name="_xsrf" value="([^"]+)"', page.text).group(1)
    result = teacher.server_api("POST", f"open/materials/{COURSE}/publish", data={"_xsrf": xsrf})
    assert result.status_code == 200, result.text[:500]
    return result.text


@pytest.fixture(scope="module")
def teacher(stack, consumer):
    session, _ = launch(stack, consumer, "ls-teacher", roles="Instructor")
    session.login = "ls-teacher"
    session.start_server()
    put_file(session, f"courses/{COURSE}/materials/lesson1.ipynb", LESSON1)
    assert "Published 1 file(s)" in publish_with_the_button(session)
    return session


def student_session(stack, consumer, username, **custom):
    """A student's launch, their server started as the launch's page would."""
    session, location = launch(stack, consumer, username, **custom)
    session.login = username
    session.start_server()
    return session, location


def test_a_lesson_launch_opens_the_teachers_notebook_delivered_into_the_students_home(stack, consumer, teacher):
    student, location = student_session(stack, consumer, "ls-student", lesson="lesson1.ipynb")
    assert location == f"/hub/user-redirect/open/lesson/{COURSE}/lesson1.ipynb"
    opened(student, location, f"{COURSE}/lesson1.ipynb")
    content = nbgrader_cycle.ok(student.server_api("GET", f"api/contents/{COURSE}/lesson1.ipynb"))["content"]
    assert content["cells"][0]["source"] == LESSON1["cells"][0]["source"]
    output, state = kernels.execute(student, content["cells"][0]["source"])
    assert state == "idle" and "lesson one, version 1" in output
    owner = stack.exec("stat", "-c", "%U %a", f"/home/ls-student/{COURSE}/lesson1.ipynb").stdout.split()
    assert owner[0] == "ls-student"


def test_the_students_edit_is_kept_and_new_materials_arrive_at_the_next_launch(stack, consumer, teacher):
    student, location = student_session(stack, consumer, "ls-editor", lesson="lesson1.ipynb")
    opened(student, location, f"{COURSE}/lesson1.ipynb")
    mine = notebook("print('my own answer')")
    put_file(student, f"{COURSE}/lesson1.ipynb", mine)
    put_file(teacher, f"courses/{COURSE}/materials/lesson1.ipynb", LESSON1_V2)
    put_file(teacher, f"courses/{COURSE}/materials/lesson2.ipynb", LESSON2)
    put_file(teacher, f"courses/{COURSE}/materials/data/prices.csv", "day,price\n1,10\n2,14\n")
    assert "Published 3 file(s)" in publish_with_the_button(teacher)
    again, location = student_session(stack, consumer, "ls-editor", lesson="lesson2.ipynb")
    opened(again, location, f"{COURSE}/lesson2.ipynb")
    kept = nbgrader_cycle.ok(again.server_api("GET", f"api/contents/{COURSE}/lesson1.ipynb"))["content"]
    assert kept["cells"][0]["source"] == "print('my own answer')"
    lesson2 = nbgrader_cycle.ok(again.server_api("GET", f"api/contents/{COURSE}/lesson2.ipynb"))["content"]
    code = f"import os\nos.chdir(os.path.expanduser('~/{COURSE}'))\n" + lesson2["cells"][0]["source"]
    output, state = kernels.execute(again, code)
    assert state == "idle" and "mean 12.0" in output
    # a student who never opened lesson 1 gets the teacher's new version of it
    fresh, location = student_session(stack, consumer, "ls-late", lesson="lesson1.ipynb")
    opened(fresh, location, f"{COURSE}/lesson1.ipynb")
    late = nbgrader_cycle.ok(fresh.server_api("GET", f"api/contents/{COURSE}/lesson1.ipynb"))["content"]
    assert late["cells"][0]["source"] == LESSON1_V2["cells"][0]["source"]


def test_a_missing_lesson_or_file_gets_a_page_that_says_so_and_links_home(stack, consumer, teacher):
    student, location = student_session(stack, consumer, "ls-student", lesson="lesson9.ipynb")
    page = student.get(stack.url + location)
    assert page.status_code == 404 and "lesson9.ipynb" in page.text and "not in the published materials" in page.text
    assert 'href="/user/ls-student/lab"' in page.text
    student, location = student_session(stack, consumer, "ls-student", next="/hub/user-redirect/lab/tree/nothing.ipynb")
    assert location == "/hub/user-redirect/open/file/nothing.ipynb"
    page = student.get(stack.url + location)
    assert page.status_code == 404 and "nothing.ipynb" in page.text and 'href="/user/ls-student/lab"' in page.text


def test_an_assignment_launch_says_not_released_then_opens_the_fetched_notebook(stack, consumer, teacher):
    student, location = student_session(stack, consumer, "ls-assignee", assignment="ps1")
    assert location == f"/hub/user-redirect/open/assignment/{COURSE}/ps1"
    page = student.get(stack.url + location)
    assert page.status_code == 404 and "has not been released yet" in page.text
    teacher_page = teacher.server_api("GET", f"open/assignment/{COURSE}/ps1")
    assert teacher_page.status_code == 404 and "no assignment" in teacher_page.text
    nbgrader_cycle.teacher_creates_and_releases(teacher, COURSE, "ps1")
    page = opened(student, location, f"{COURSE}/ps1/ps1.ipynb")
    assert page.status_code == 200
    assert stack.exec("stat", "-c", "%U", f"/home/ls-assignee/{COURSE}/ps1/ps1.ipynb").stdout.strip() == "ls-assignee"
    # ... and the rest of nbgrader's cycle works as before
    nbgrader_cycle.student_answers_and_submits(student, COURSE, "ps1", nbgrader_cycle.RIGHT)
    scores = nbgrader_cycle.teacher_grades_and_returns_feedback(teacher, "ps1", ["ls-assignee"])
    assert scores == {"ls-assignee": (2.0, 2.0)}


def test_students_cannot_change_published_materials_nor_see_another_courses(stack, consumer, teacher):
    student_session(stack, consumer, "ls-student", lesson="lesson1.ipynb")
    outsider, _ = student_session(stack, consumer, "ls-outsider", context=OTHER_CONTEXT)
    assert OTHER_COURSE in stack.exec("hubsetup", "status").stdout
    write = stack.exec("sh", "-c", f"echo x > {PUBLISHED}/lesson1.ipynb", user="ls-student", check=False)
    assert write.returncode != 0 and "Permission denied" in write.stderr
    replace = stack.exec("ln", "-sfn", "/tmp", f"{EXCHANGE}/{COURSE}/materials/published/current",
                         user="ls-student", check=False)
    assert replace.returncode != 0
    for command in (("ls", f"{EXCHANGE}/{COURSE}/materials"), ("cat", f"{PUBLISHED}/lesson1.ipynb")):
        result = stack.exec(*command, user="ls-outsider", check=False)
        assert result.returncode != 0 and "Permission denied" in result.stderr
    assert stack.exec("cat", f"{PUBLISHED}/lesson1.ipynb", user="ls-student").returncode == 0


def test_the_admin_command_publishes_as_a_teacher_and_the_author_gets_each_components_line(stack, teacher):
    result = stack.exec("hubsetup", "materials", "publish", "--course", COURSE)
    assert "published 3 file(s): 0 copied, 3 unchanged" in result.stdout
    owner = stack.exec("stat", "-c", "%U:%G", PUBLISHED + "/").stdout.strip()
    assert owner == "ls-teacher:formgrade-" + COURSE
    lesson = stack.exec("hubsetup", "lti", "params", "--lesson", "lesson2.ipynb", "--course", COURSE)
    assert lesson.stdout.strip() == '["lesson=lesson2.ipynb"]' and not lesson.stderr.strip()
    missing = stack.exec("hubsetup", "lti", "params", "--lesson", "lesson9.ipynb", "--course", COURSE)
    assert "has no lesson9.ipynb" in missing.stderr
    assert stack.exec("hubsetup", "lti", "params", "--assignment", "ps1").stdout.strip() == '["assignment=ps1"]'
    page = teacher.server_api("GET", "open/materials").text
    assert "[&quot;lesson=lesson2.ipynb&quot;]" in page


@pytest.fixture(scope="module")
def git_daemon(stack):
    """A git daemon on the hub container's loopback (local mode: users' servers share it)."""
    path = git_server.serve_lessons(stack, "127.0.0.1")
    yield f"git://127.0.0.1/{path}"
    git_server.stop(stack)


def test_an_nbgitpuller_link_made_by_the_params_helper_pulls_the_lesson_from_git(stack, consumer, git_daemon):
    line = stack.exec("hubsetup", "lti", "params", "--git-repo", git_daemon, "--git-path", "lesson1.ipynb").stdout
    next_path = json.loads(line)[0].split("=", 1)[1]
    student, location = student_session(stack, consumer, "ls-gitter", next=next_path)
    assert location == next_path
    query = parse_qs(urlsplit(next_path).query)
    stream = git_server.pull(student, query["repo"][0], query["targetpath"][0])
    assert '"phase": "finished"' in stream, stream[-2000:]
    assert query["urlpath"][0] == "lab/tree/lessons/lesson1.ipynb"
    opened(student, "/user/ls-gitter/" + query["urlpath"][0], "lessons/lesson1.ipynb")
    content = nbgrader_cycle.ok(student.server_api("GET", "api/contents/lessons/lesson1.ipynb"))["content"]
    assert content["cells"][0]["source"] == "print('from git')"


def test_open_pages_refuse_paths_out_of_the_course_and_requests_that_are_not_navigations(stack, consumer, teacher):
    """The attack of a student who links, from the exchange's inbound, to a folder of theirs
    and gets the teacher's server to "fetch" it into the teacher's home (an <img> in a
    submission the teacher views)."""
    student_session(stack, consumer, "ls-student", lesson="lesson1.ipynb")
    stack.exec("sh", "-c", f"mkdir -p {EXCHANGE}/{COURSE}/inbound/ls-mallory/.local && "
               f"ln -sfn ls-mallory {EXCHANGE}/{COURSE}/inbound/L", user="ls-student")
    sneaky = f"open/assignment/{COURSE}/..%2Finbound%2FL%2F.local"
    page = teacher.server_api("GET", sneaky)
    assert page.status_code == 404 and "is not an nbgrader assignment name" in page.text
    assert stack.exec("test", "-e", "/home/ls-teacher/inbound", check=False).returncode != 0  # where it would land
    for path in (f"open/lesson/{COURSE}/..%2F..%2F.bashrc", "open/file/%2Fetc%2Fpasswd"):
        refused = teacher.server_api("GET", path)
        assert refused.status_code == 404 and "must" in refused.text, (path, refused.text[:300])
    as_image = teacher.server_api("GET", f"open/assignment/{COURSE}/ps1",
                                  headers={"Sec-Fetch-Mode": "no-cors", "Sec-Fetch-Dest": "image"})
    assert as_image.status_code == 403
