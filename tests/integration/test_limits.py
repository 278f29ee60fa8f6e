"""One student cannot take the machine down in local mode: a thread bomb stops at their own
process limit, and a memory hog is what the OOM killer takes, never the hub (small, bounded
limits: the hub container gets 1.5 GB for the hog test)."""

import time

import pytest
import websocket

from harness import kernels
from harness.stack import run, wait_until

# Forty processes of 48 MB each, every one smaller than the hub: a killer choosing by size alone
# would take the hub; it must take the student's processes.
HOG = """
import os, time
children = []
for _ in range(40):
    pid = os.fork()
    if pid == 0:
        block = bytearray(48 * 2**20)
        time.sleep(5)
        os._exit(0)
    children.append(pid)
killed = sum(os.WEXITSTATUS(0) or os.waitpid(pid, 0)[1] == 9 for pid in children)
print("killed", killed)
"""


def student(client, login="eleve1", password="eleve1pw"):
    session = client(login)
    assert session.log_in(password)
    session.start_server()
    return session


def hub_state(stack):
    container = stack.compose("ps", "-q", "hub").stdout.strip()
    return run("docker", "inspect", "-f", "{{.State.Pid}} {{.RestartCount}} {{.State.OOMKilled}}", container).stdout.split()


def test_the_oom_killer_picks_users_processes_first(stack, client):
    session = student(client)
    output, _ = kernels.execute(session, "print(open('/proc/self/oom_score_adj').read().strip())")
    assert output.strip() == "900"


def test_a_thread_bomb_stops_at_the_students_own_limit(stack, client):
    session = student(client)
    output, state = kernels.execute(session, kernels.THREAD_BOMB)
    assert state == "idle" and "stopped at" in output, output
    started = int(output.split("stopped at")[1].split()[0])
    print(f"thread bomb stopped after {started} threads (USER_PROCESS_LIMIT 512, all of the user's processes)")
    assert started < 512
    # the limit is the student's: the hub and other users go on
    assert stack.exec("python3", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/hub/health')").returncode == 0
    assert stack.exec("sh", "-c", "for i in 1 2 3 4 5; do true & done; wait", user="eleve2").returncode == 0


@pytest.fixture
def hub_with_memory_limit(stack):
    stack.env["HUB_MEM_LIMIT"] = "1500m"
    stack.reconfigure({})
    yield stack
    stack.env.pop("HUB_MEM_LIMIT")
    stack.reconfigure({})


def test_a_memory_hog_is_killed_not_the_hub(hub_with_memory_limit, client):
    stack = hub_with_memory_limit
    before = hub_state(stack)
    session = student(client)
    try:
        output, state = kernels.execute(session, HOG, timeout=180)
    except websocket.WebSocketConnectionClosedException:
        output, state = "", "the student's own server was killed"  # theirs, largest of theirs
    print(f"memory hog in 40 processes under a 1.5 GB hub container: {output.strip() or state}")
    assert state != "idle" or int(output.split("killed")[1]) > 0, output
    assert hub_state(stack) == before, "the hub's container was neither restarted nor OOM-killed"
    stack.wait_healthy(timeout=30)
    time.sleep(10)  # the hog's last processes are gone
    session.stop_server()  # whatever is left of it
    wait_until(lambda: session.get(f"{stack.url}/hub/api/users/{session.login}",
                                   headers={"X-XSRFToken": session.xsrf() or ""}).json()["servers"] == {},
               "the student's server did not stop", timeout=60)
    session.start_server()
    output, state = kernels.execute(session, "print(6 * 7)")
    assert (output.strip(), state) == ("42", "idle")
