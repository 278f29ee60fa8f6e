"""SPAWNER=docker: every user's server in a container of its own, as an admin starts it:
docker compose -f docker-compose.yml -f docker-compose.docker.yml up -d."""

import ipaddress
import json
import os
import re
import subprocess
from concurrent.futures import ThreadPoolExecutor

import docker
import pytest

from harness import edx, git_server, kernels
from harness.stack import REPO, HubClient, Stack, container_log_bytes, run, wait_until

from . import nbgrader_cycle
from .browser import CHROMIUM, CHROMIUM_ARGS, log_in, needs_chromium
from .conftest import PORT, PROJECT

ACCOUNTS = """prof1;wawa;1
eleve1;eleve1pw;0;cours_prof1
eleve2;eleve2pw;0;cours_prof1
"""
PASSWORDS = dict(line.split(";")[:2] for line in ACCOUNTS.splitlines())
MEMORY_LIMIT = 512 * 1024 * 1024
SETTINGS = {"USER_MEM_LIMIT": "512M", "USER_CPU_LIMIT": "0.5", "USER_TMP_SIZE": "32M", "GRADING_MEMORY": "256M"}
LOG_CAP = 3 * 2**20  # LOG_MAX_SIZE=1m, three files
HOG = "blocks = []\nwhile True:\n    blocks.append(b'x' * (32 << 20))\n"


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    accounts = tmp_path_factory.mktemp("docker-site") / "accounts.csv"
    accounts.write_text(ACCOUNTS)
    stack = Stack(f"{PROJECT}docker", PORT + 200, str(accounts), overrides=["docker-compose.docker.yml"])
    stack.env["LOG_MAX_SIZE"] = "1m"
    stack.take_down()
    stack.compose("build", timeout=1800)
    try:
        stack.reconfigure(SETTINGS)
        yield stack
    finally:
        if os.environ.get("HUBTEST_KEEP") != "1":
            stack.take_down()


def user_containers(hub, login):
    # sparse: no inspect of each, which fails for a container being removed meanwhile
    return docker.from_env().containers.list(
        all=True, sparse=True, filters={"label": f"org.teaching-hub.user={login}", "name": f"{hub.project}-user-"})


def user_container(hub, login):
    (container,) = user_containers(hub, login)
    container.reload()  # its whole inspection
    return container


def in_container(hub, login, *command):
    """Run a command in the user's container, as the user (the container's own user)."""
    return subprocess.run(["docker", "exec", user_container(hub, login).id, *command],
                          capture_output=True, text=True, timeout=60)


def started(hub, login, password=None):
    session = HubClient(hub, login)
    assert session.log_in(password or PASSWORDS[login])
    session.start_server()
    return session


def oom_kills(hub, login):
    """How many processes the kernel killed for the container's memory limit (cgroup v1 or v2)."""
    for path, key in (("/sys/fs/cgroup/memory/memory.oom_control", "oom_kill"),
                      ("/sys/fs/cgroup/memory.events", "oom_kill")):
        text = in_container(hub, login, "cat", path).stdout
        for line in text.splitlines():
            name, _, value = line.partition(" ")
            if name == key:
                return int(value)
    raise AssertionError(f"no memory cgroup counters in {login}'s container")


@pytest.fixture(scope="module")
def lti_student(hub):
    _, key, secret = hub.exec("hubsetup", "lti", "passport").stdout.strip().split(":")
    session = HubClient(hub, "browser")
    response = session.launch(edx.launch_params(hub.url + "/hub/lti/launch", key, secret))
    assert response.status_code == 302, response.text[:300]
    session.login = session.get(hub.url + "/hub/api/user", headers={"X-XSRFToken": session.xsrf() or ""}).json()["name"]
    session.start_server()
    return session


def test_csv_and_lti_users_run_in_their_own_containers_as_their_uid(hub, lti_student):
    teacher = started(hub, "prof1")
    for session in (teacher, lti_student):
        login = session.login
        uid, gid = hub.uid_of(login), int(hub.exec("id", "-g", login).stdout)
        container = user_container(hub, login)
        assert container.attrs["Config"]["User"] == f"{uid}:{gid}"
        assert in_container(hub, login, "id", "-un").stdout.strip() == login  # names reach the container
        assert in_container(hub, login, "sh", "-c", "echo $HOME; pwd").stdout.split() == [f"/home/{login}"] * 2
        # What the server writes lands in the user's home in jh_home, owned by them.
        response = session.server_api("PUT", "api/contents/hello.txt",
                                      json={"type": "file", "format": "text", "content": f"hello {login}"})
        assert response.status_code == 201, response.text
        assert hub.exec("stat", "-c", "%U %a", f"/home/{login}/hello.txt").stdout.split() == [login, "660"]
    assert user_container(hub, "prof1").id != user_container(hub, lti_student.login).id
    # The teacher's course groups come along (their course directory opens), a student's do not.
    assert in_container(hub, "prof1", "ls", "/srv/nbgrader/courses/cours_prof1").returncode == 0


def test_the_course_environment_in_a_users_container(hub, lti_student):
    kernels.check_course_environment(lti_student)


def test_limits_and_lockdown_of_a_users_container(hub, lti_student):
    config = user_container(hub, lti_student.login).attrs["HostConfig"]
    assert config["Memory"] == MEMORY_LIMIT
    assert config["MemorySwap"] == MEMORY_LIMIT  # no swap on top
    assert config["CpuQuota"] / config["CpuPeriod"] == 0.5
    assert config["CapDrop"] == ["ALL"] and config["SecurityOpt"] == ["no-new-privileges"]
    assert config["PidsLimit"] == 512, "a thread bomb stops at the user's own limit (USER_PROCESS_LIMIT)"
    mounts = {m["Destination"] for m in user_container(hub, lti_student.login).attrs["Mounts"]}
    assert mounts == {f"/home/{lti_student.login}", "/srv/nbgrader/exchange", "/srv/nbgrader/courses",
                      "/var/lib/extrausers", "/run/teaching-hub-grading"}
    # The limit is shown to the student (JupyterLab's memory indicator reads this endpoint).
    metrics = lti_student.server_api("GET", "api/metrics/v1").json()
    assert metrics["limits"]["memory"]["rss"] == MEMORY_LIMIT
    assert in_container(hub, lti_student.login, "find", "/", "-xdev", "-perm", "/6000", "-type", "f").stdout == ""
    # ... and to the admin, beside everyone else's.
    report = hub.exec("hubsetup", "status").stdout
    assert "each limited to 512M of memory, 0.5 CPU" in report
    assert re.search(rf"^  {re.escape(lti_student.login)}: [0-9.]+ MiB of 512.0 MiB \([0-9]+%\)$", report, re.M), report


def test_users_cannot_see_each_others_homes(hub, lti_student):
    started(hub, "eleve1")
    for login, other in (("eleve1", lti_student.login), (lti_student.login, "eleve1")):
        assert in_container(hub, login, "ls", "-A", "/home").stdout.split() == [login]
        assert in_container(hub, login, "ls", f"/home/{other}").returncode != 0
    # Nor a teacher's course directory (solutions and gradebook).
    listing = in_container(hub, "eleve1", "ls", "/srv/nbgrader/courses/cours_prof1")
    assert listing.returncode != 0 and "Permission denied" in listing.stderr


PROBE = """
import socket, sys
for address in sys.argv[2:]:
    probe = socket.socket()
    probe.settimeout(2)
    try:
        probe.connect((address, int(sys.argv[1])))
        print(address, "reached")
    except OSError as error:
        print(address, "refused", type(error).__name__)
"""


def test_a_users_container_reaches_no_listener_of_the_host(hub):
    """README promises "reaches the hub and nothing else": a server on the host's 0.0.0.0 is
    out of reach through the users' network's gateway and the host's other bridges."""
    import http.server
    import threading

    listener = http.server.ThreadingHTTPServer(("0.0.0.0", 0), http.server.BaseHTTPRequestHandler)
    threading.Thread(target=listener.serve_forever, daemon=True).start()
    try:
        started(hub, "eleve1")
        def gateway(name):  # where Docker puts the host's address on a network, said or not
            config = docker.from_env().networks.get(name).attrs["IPAM"]["Config"][0]
            return config.get("Gateway") or str(next(ipaddress.ip_network(config["Subnet"]).hosts()))

        users_gateway, docker0 = gateway(f"{hub.project}_users"), gateway("bridge")
        result = in_container(hub, "eleve1", "python3", "-c", PROBE, str(listener.server_port), users_gateway, docker0)
        assert "reached" not in result.stdout and result.stdout.count("refused") == 2, result.stdout + result.stderr
    finally:
        listener.shutdown()


def test_nbgrader_release_fetch_submit_and_grade_across_containers(hub):
    teacher, right, wrong = (started(hub, login) for login in ("prof1", "eleve1", "eleve2"))
    scores, _ = nbgrader_cycle.run_cycle(teacher, right, wrong, "cours_prof1", assignment="docker1")
    assert scores == {"eleve1": (2.0, 2.0), "eleve2": (1.0, 2.0)}
    # The submission went through the shared exchange, owned by the student who made it, and
    # the feedback came back to the student's home.
    inbound = hub.exec("sh", "-c", "stat -c %U /srv/nbgrader/exchange/cours_prof1/inbound/eleve1+docker1+*").stdout
    assert inbound.split() and set(inbound.split()) == {"eleve1"}
    assert in_container(hub, "eleve1", "sh", "-c", "ls ~/cours_prof1/docker1/feedback/*/docker1.html").returncode == 0


# Its prints are flushed: the kernel is killed soon after, and would take unsent output with it.
SANDBOX_PROBE = nbgrader_cycle.RIGHT + """
import os, socket
print("ID", os.getuid(), os.getcwd(), sorted(os.listdir("/srv")), "JUPYTERHUB_API_TOKEN" in os.environ, flush=True)
for address in [("hub", 8081), ("1.1.1.1", 80)]:
    try:
        socket.create_connection(address, timeout=3)
        print("CONNECTED", address, flush=True)
    except OSError as error:
        print("NOT", address, error, flush=True)
blocks = []
while True:
    blocks.append(b"x" * (32 << 20))
"""


def test_autograding_runs_the_students_code_in_a_throwaway_container(hub):
    """The teacher's button, in the teacher's container, sends the notebook to the grading
    service; the code runs in a container of its own: no network, no volume, a uid of its own,
    killed at GRADING_MEMORY, and the tests it kept from running score zero, saying why."""
    teacher, student = started(hub, "prof1"), started(hub, "eleve2")
    nbgrader_cycle.teacher_creates_and_releases(teacher, "cours_prof1", "sandbox1")
    nbgrader_cycle.student_answers_and_submits(student, "cours_prof1", "sandbox1", SANDBOX_PROBE)
    nbgrader_cycle.ok(teacher.server_api("POST", "formgrader/api/assignment/sandbox1/collect"))
    nbgrader_cycle.ok(teacher.server_api("POST", "formgrader/api/submission/sandbox1/eleve2/autograde"))
    graded = json.loads(hub.exec("cat", "/srv/nbgrader/courses/cours_prof1/autograded/eleve2/sandbox1/sandbox1.ipynb").stdout)
    printed = json.dumps([cell["outputs"] for cell in graded["cells"]])
    assert re.search(r"ID 19\d{8} /work \[\] False", printed), printed[:2000]
    assert "CONNECTED" not in printed and printed.count("NOT (") == 2
    assert "GradingStopped" in printed and "killed: memory" in printed, printed[-2000:]
    submissions = nbgrader_cycle.ok(teacher.server_api("GET", "formgrader/api/submissions/sandbox1"))
    assert [(s["student"], s["score"]) for s in submissions if s["student"] == "eleve2"] == [("eleve2", 0.0)]
    left = docker.from_env().containers.list(all=True, filters={"label": "teaching-hub.grading-sandbox"})
    assert left == []


def test_a_lesson_is_published_by_the_teachers_button_and_delivered_into_the_students_container(hub):
    teacher, student = started(hub, "prof1"), started(hub, "eleve1")
    lesson = {"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    nbgrader_cycle.put_contents(teacher, "courses/cours_prof1/materials", {"type": "directory"})
    nbgrader_cycle.put_contents(teacher, "courses/cours_prof1/materials/lesson1.ipynb",
                                {"type": "notebook", "format": "json", "content": lesson})
    page = teacher.server_api("GET", "open/materials")
    xsrf = re.search(r'name="_xsrf" value="([^"]+)"', page.text).group(1)
    published = teacher.server_api("POST", "open/materials/cours_prof1/publish", data={"_xsrf": xsrf})
    assert published.status_code == 200 and "Published 1 file(s)" in published.text
    opened = student.get(hub.url + "/user/eleve1/open/lesson/cours_prof1/lesson1.ipynb")
    assert opened.status_code == 200 and opened.url.endswith("/user/eleve1/lab/tree/cours_prof1/lesson1.ipynb")
    assert in_container(hub, "eleve1", "stat", "-c", "%U", "/home/eleve1/cours_prof1/lesson1.ipynb").stdout.strip() == "eleve1"


def test_an_nbgitpuller_link_pulls_into_the_students_container_from_a_git_server_on_its_network(hub):
    """The users' containers reach the hub's service by name: a git daemon there stands for a
    school's git server."""
    path = git_server.serve_lessons(hub, "0.0.0.0", source="print('from git, in a container')")
    try:
        student = started(hub, "eleve2")
        stream = git_server.pull(student, f"git://hub/{path}", "lessons")
        assert '"phase": "finished"' in stream, stream[-2000:]
        shown = in_container(hub, "eleve2", "cat", "/home/eleve2/lessons/lesson1.ipynb").stdout
        assert "from git, in a container" in shown
    finally:
        git_server.stop(hub)


def test_a_memory_hog_is_killed_at_its_limit_while_another_user_keeps_working(hub):
    hog, neighbour = started(hub, "eleve1"), started(hub, "eleve2")
    kills_before = oom_kills(hub, "eleve1")
    with ThreadPoolExecutor(2) as pool:
        hogging = pool.submit(kernels.execute, hog, HOG, 120)
        working = pool.submit(kernels.execute, neighbour, "print(sum(range(10**7)))", 120)
        assert hogging.result()[1] in ("restarting", "dead")
        assert working.result() == (f"{sum(range(10**7))}\n", "idle")
    assert oom_kills(hub, "eleve1") > kills_before
    assert oom_kills(hub, "eleve2") == 0
    # The hog's own server survived its kernel, and the hub never noticed.
    assert hog.server_api("GET", "api/status").status_code == 200
    assert kernels.execute(hog, "print(6 * 7)") == ("42\n", "idle")
    assert hub.exec("python3", "-c", "import urllib.request; print(urllib.request.urlopen("
                    "'http://127.0.0.1:8000/hub/health').status)").stdout.strip() == "200"


@needs_chromium
def test_a_student_sees_their_limit_and_the_kernel_that_passed_it_die(hub):
    """In JupyterLab, as the student sees it: memory against the limit in the status bar, and
    the dialog JupyterLab shows when the notebook's kernel is killed for going past it."""
    from playwright.sync_api import sync_playwright

    notebook = {"cells": [{"cell_type": "code", "source": HOG, "metadata": {}, "outputs": [], "execution_count": None}],
                "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}},
                "nbformat": 4, "nbformat_minor": 5}
    hub.exec("sh", "-c", "cat > /home/eleve1/hog.ipynb && chown eleve1: /home/eleve1/hog.ipynb", input=json.dumps(notebook))
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        try:
            log_in(page, hub, "eleve1", PASSWORDS["eleve1"], next_path="/hub/user-redirect/lab/tree/hog.ipynb")
            page.wait_for_selector(".jp-StatusBar-Widget:has-text('| Idle')", timeout=120_000)
            memory = page.wait_for_selector(".jp-StatusBar-Widget:has-text('Mem:')", timeout=30_000).inner_text()
            assert re.search(r"Mem: [0-9.]+ / 512\.00 MB", memory), memory
            page.click(".jp-Notebook .jp-Cell .jp-InputArea-editor")
            page.keyboard.press("Shift+Enter")
            dialog = page.wait_for_selector(".jp-Dialog:has-text('Kernel Restarting')", timeout=60_000).inner_text()
            assert "hog.ipynb appears to have died" in dialog
        except Exception:
            os.makedirs(os.path.join(REPO, "test-artifacts"), exist_ok=True)
            page.screenshot(path=os.path.join(REPO, "test-artifacts", "container-limit-failed.png"))
            raise
        finally:
            browser.close()


def test_stopping_a_server_removes_its_container_and_keeps_its_files(hub):
    session = started(hub, "eleve2")
    assert session.server_api("PUT", "api/contents/keep.txt", json={"type": "file", "format": "text",
                                                                     "content": "kept"}).status_code == 201
    assert session.stop_server().status_code in (202, 204)
    wait_until(lambda: not user_containers(hub, "eleve2"), "eleve2's container outlived their server", 60)
    assert hub.exec("cat", "/home/eleve2/keep.txt").stdout == "kept"
    session.start_server()
    assert session.server_api("GET", "api/contents/keep.txt").json()["content"] == "kept"


def test_backup_takes_the_users_files_while_their_containers_run(hub, tmp_path):
    started(hub, "eleve2")
    hub.exec("sh", "-c", "echo 'mid-term' > /home/eleve2/backed-up.txt && chown eleve2: /home/eleve2/backed-up.txt")
    # The documented switch: COMPOSE_FILE names both files, so scripts/backup sees this mode too.
    env = dict(hub.env, COMPOSE_FILE="docker-compose.yml:docker-compose.docker.yml")
    made = subprocess.run([os.path.join(REPO, "scripts", "backup"), "-p", hub.project, "--output", str(tmp_path)],
                          env=env, cwd=REPO, capture_output=True, text=True, timeout=900)
    assert made.returncode == 0, made.stdout + made.stderr
    (archive,) = tmp_path.glob("*.tar.gz")
    listing = subprocess.run(["tar", "-tzf", str(archive)], capture_output=True, text=True, check=True).stdout
    assert any(name.endswith("eleve2/backed-up.txt") for name in listing.splitlines()), listing[:2000]
    assert user_containers(hub, "eleve2")  # the backup did not stop anyone's server


def test_removing_an_lti_user_removes_their_home_volume(hub, lti_student):
    login = lti_student.login
    assert lti_student.stop_server().status_code in (202, 204)
    wait_until(lambda: not user_containers(hub, login), f"{login}'s container outlived their server", 60)
    volume = f"{hub.project}_jh_home.{login}"
    assert docker.from_env().volumes.get(volume)
    hub.exec("hubsetup", "users", "remove", login)
    assert not docker.from_env().volumes.list(filters={"name": volume})
    assert hub.exec("test", "-e", f"/home/{login}", check=False).returncode != 0


def test_a_students_printing_loop_fills_no_disk_with_their_containers_log(hub):
    session = HubClient(hub, "eleve2")
    assert session.log_in(PASSWORDS["eleve2"])
    session.start_server(timeout=180)
    written = kernels.flood_stdout(session, 8)
    container = user_container(hub, "eleve2")
    assert "printing in a loop" in run("docker", "logs", "--tail", "3", container.id).stdout
    kept = container_log_bytes(container.id)
    print(f"{written} bytes printed past the notebook; eleve2's container log holds {kept} bytes")
    assert kept <= LOG_CAP + 2**16


def test_a_student_writes_nothing_to_dockers_disk_outside_their_home(hub):
    session = HubClient(hub, "eleve2")
    assert session.log_in(PASSWORDS["eleve2"])
    session.start_server(timeout=180)
    for folder in ("/var/tmp", "/run/lock", "/opt/venv", "/etc"):
        touched = in_container(hub, "eleve2", "touch", f"{folder}/x")
        assert touched.returncode != 0, folder
    assert "Read-only file system" in in_container(hub, "eleve2", "touch", "/var/tmp/x").stderr
    filled = in_container(hub, "eleve2", "dd", "if=/dev/zero", "of=/tmp/fill", "bs=1M", "count=64")
    assert "No space left on device" in filled.stderr, filled.stderr  # USER_TMP_SIZE=32M, in memory
    in_container(hub, "eleve2", "rm", "/tmp/fill")
    assert session.server_api("GET", "api/status").status_code == 200
