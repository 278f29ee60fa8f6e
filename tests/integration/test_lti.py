"""edX launches, signed as lti-consumer-xblock signs them, against the running hub."""

import time

import pytest

from harness import edx

NEXT = "/hub/user-redirect/lab/tree/ps1.ipynb"


@pytest.fixture(scope="module")
def consumer(stack):
    """The passport an author pastes into Studio: the same key/secret every time it is asked."""
    first = stack.exec("hubsetup", "lti", "passport", "--id", "jupyter01").stdout.strip()
    second = stack.exec("hubsetup", "lti", "passport", "--id", "jupyter01").stdout.strip()
    assert first == second
    lti_id, key, secret = first.split(":")
    assert lti_id == "jupyter01" and len(secret) >= 32
    return key, secret


def sign(stack, consumer, **kwargs):
    key, secret = consumer
    return edx.launch_params(stack.url + "/hub/lti/launch", key, secret, **kwargs)


def launched_user(stack, client, params):
    session = client("browser")
    response = session.launch(params)
    assert response.status_code == 302, (response.status_code, response.text[:300])
    user = session.get(stack.url + "/hub/api/user", headers={"X-XSRFToken": session.xsrf() or ""}).json()
    session.login = user["name"]
    return session, user["name"], response.headers["Location"]


def test_student_launch_lands_on_next_notebook(stack, client, consumer):
    user_id = edx.anonymous_id()
    session, login, location = launched_user(stack, client, sign(stack, consumer, user_id=user_id, custom={"next": NEXT}))
    # a next into JupyterLab's file tree goes through the server's check that the file is there
    assert location == "/hub/user-redirect/open/file/ps1.ipynb"
    session.start_server()
    missing = session.get(stack.url + location)
    assert missing.status_code == 404 and "There is no <code>ps1.ipynb</code>" in missing.text
    stack.exec("sh", "-c", f"echo '{{}}' > /home/{login}/ps1.ipynb", user=login)
    page = session.wait_for_page(f"/user/{login}/lab/tree/ps1.ipynb", start=location)
    assert "jupyter-config-data" in page.text
    assert login[0].isalpha() and len(login) <= 32
    assert stack.uid_of(login) >= 2000
    assert stack.exec("stat", "-c", "%a %U", f"/home/{login}").stdout.split() == ["700", login]
    course = "course-v1-demox-ds101-2026_t1"
    assert f"nbgrader-{course}" in stack.groups_of(login)
    assert f"formgrade-{course}" not in stack.groups_of(login)
    # the same person launching again is the same account
    _, again, _ = launched_user(stack, client, sign(stack, consumer, user_id=user_id))
    assert again == login


def test_edx_username_names_the_account_but_never_an_existing_one(stack, client, consumer):
    _, login, _ = launched_user(stack, client, sign(stack, consumer, username="Marie.Curie"))
    assert login == "marie.curie"
    for taken in ("prof1", "root"):
        _, login, _ = launched_user(stack, client, sign(stack, consumer, username=taken))
        assert login != taken and login.startswith(taken + "-")


def test_instructor_launch_gives_course_tools_in_that_course_only(stack, client, consumer):
    user_id = edx.anonymous_id()
    session, login, _ = launched_user(stack, client, sign(stack, consumer, user_id=user_id, roles="Instructor",
                                                           context_id="course-v1:DemoX+ML201+2026_T1"))
    groups = stack.groups_of(login)
    assert "formgrade-course-v1-demox-ml201-2026_t1" in groups
    assert not any(g.startswith("formgrade-") and "ds101" in g for g in groups)
    session.start_server()
    assert session.server_api("GET", "formgrader").status_code == 200
    assert stack.exec("test", "-d", "/srv/nbgrader/courses/course-v1-demox-ml201-2026_t1").returncode == 0


def test_second_course_joins_without_restart(stack, client, consumer):
    user_id = edx.anonymous_id()
    _, login, _ = launched_user(stack, client, sign(stack, consumer, user_id=user_id, username="ada"))
    _, same, _ = launched_user(stack, client, sign(stack, consumer, user_id=user_id, username="ada",
                                                   context_id="course-v1:DemoX+PH301+2026_T1"))
    assert same == login
    assert {"nbgrader-course-v1-demox-ds101-2026_t1", "nbgrader-course-v1-demox-ph301-2026_t1"} <= stack.groups_of(login)


def test_admin_link_lets_a_teacher_launch_as_their_account(stack, client, consumer):
    stack.exec("hubsetup", "lti", "link", "--consumer", consumer[0], "--lti-user", "prof1-edx", "prof1")
    _, login, _ = launched_user(stack, client, sign(stack, consumer, username="prof1-edx", roles="Instructor"))
    assert login == "prof1"


def test_password_login_still_works_beside_lti(stack, client, consumer):
    assert client("prof1").log_in("wawa")


def bad_launches(stack, consumer):
    key, secret = consumer
    url = stack.url + "/hub/lti/launch"
    replayed = edx.launch_params(url, key, secret, user_id="replay0")
    return {
        "wrong key": (401, edx.launch_params(url, "not-a-key", secret)),
        "wrong secret": (401, edx.launch_params(url, key, "wrong-secret")),
        "old timestamp": (401, edx.launch_params(url, key, secret, timestamp=int(time.time()) - 120)),
        "future timestamp": (401, edx.launch_params(url, key, secret, timestamp=int(time.time()) + 120)),
        "missing user_id": (400, edx.launch_params(url, key, secret, drop=("user_id",))),
        "missing resource_link_id": (400, edx.launch_params(url, key, secret, drop=("resource_link_id",))),
        "missing lti_message_type": (400, edx.launch_params(url, key, secret, drop=("lti_message_type",))),
        "unknown lti_version": (400, edx.launch_params(url, key, secret, lti_version="LTI-2p0")),
        "next off-site": (400, edx.launch_params(url, key, secret, custom={"next": "https://evil.example/"})),
        "tampered field": (401, dict(edx.launch_params(url, key, secret), roles="Instructor")),
        "replayed nonce": (401, replayed),
        "_first use of the replayed launch": (302, replayed),
    }


def test_bad_launches_are_refused_and_create_nothing(stack, client, consumer):
    battery = bad_launches(stack, consumer)
    first_use = battery.pop("_first use of the replayed launch")
    assert client("browser").launch(first_use[1]).status_code == first_use[0]
    before = stack.system_snapshot()
    results = {name: client("browser").launch(params).status_code for name, (_, params) in battery.items()}
    assert results == {name: status for name, (status, _) in battery.items()}
    assert stack.system_snapshot() == before


def test_admin_removes_an_lti_user(stack, client, consumer):
    _, login, _ = launched_user(stack, client, sign(stack, consumer, username="leaving-student"))
    uid = stack.uid_of(login)
    refused = stack.exec("hubsetup", "users", "remove", "prof1", check=False)
    assert refused.returncode == 2 and "accounts.csv" in refused.stderr
    stack.exec("hubsetup", "users", "remove", login)
    assert stack.exec("id", login, check=False).returncode != 0
    assert stack.exec("test", "-e", f"/home/{login}", check=False).returncode != 0
    _, again, _ = launched_user(stack, client, sign(stack, consumer, username="leaving-student"))
    assert stack.uid_of(again) != uid


def test_a_framed_launch_page_keeps_the_next_url_inside_its_script(stack, client, consumer):
    """The page a launch inside an LMS frame gets writes `next` into a script: markup in it
    (allowed in a query) must stay text."""
    hostile = "/hub/user-redirect/lab?x=</script><script>document.title='owned'</script>"
    session = client("browser")
    response = session.post(stack.url + "/hub/lti/launch", data=sign(stack, consumer, custom={"next": hostile}),
                            headers={"Sec-Fetch-Dest": "iframe"}, allow_redirects=False)
    assert response.status_code == 200, response.text[:300]
    assert "Opening your notebook" in response.text
    assert "</script><script>document.title" not in response.text
    assert "\\u003c/script\\u003e\\u003cscript\\u003edocument.title" in response.text
