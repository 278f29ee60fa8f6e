"""Day-2 operations: status, the idle culler, and an upgrade that keeps everything."""

import subprocess

import pytest

from harness.stack import HubClient


def test_status_lists_users_servers_courses_and_disk(stack, client):
    prof = client("prof1")
    assert prof.log_in("wawa")
    prof.start_server()
    output = stack.exec("hubsetup", "status").stdout
    assert "running servers:" in output and "prof1" in output.split("running servers:")[1].splitlines()[0]
    assert "cours_prof1:" in output and "homes:" in output
    assert "csv active" in output


def test_idle_server_is_culled(stack):
    stack.reconfigure({"IDLE_TIMEOUT": "20"})
    try:
        student = HubClient(stack, "eleve2")
        assert student.log_in("eleve2pw")
        student.start_server()
        assert "eleve2" in stack.exec("hubsetup", "status").stdout.split("running servers:")[1].splitlines()[0]
        for _ in range(30):  # the culler looks every 10 s: stopped within about a minute
            line = stack.exec("hubsetup", "status").stdout.split("running servers:")[1].splitlines()[0]
            if "eleve2" not in line:
                break
            subprocess.run(["sleep", "3"])
        else:
            pytest.fail("the idle culler did not stop eleve2's idle server within 90 s")
    finally:
        stack.reconfigure({})


def test_upgrade_keeps_users_files_courses_and_gradebook(stack, client):
    stack.exec("sh", "-c", "echo keep > /home/eleve1/upgrade.txt && chown eleve1: /home/eleve1/upgrade.txt")
    before = {
        "uids": {login: stack.uid_of(login) for login in ("prof1", "eleve1", "eleve2")},
        "courses": stack.exec("ls", "/srv/nbgrader/courses").stdout,
        "file": stack.exec("stat", "-c", "%U %a %s", "/home/eleve1/upgrade.txt").stdout,
    }
    stack.compose("build", "--build-arg", "HUB_VERSION=upgrade-test")
    stack.compose("up", "-d", "hub")
    stack.wait_healthy()
    label = subprocess.run(["docker", "inspect", f"{stack.project}-hub-1", "--format",
                            "{{index .Config.Labels \"org.opencontainers.image.version\"}}"],
                           capture_output=True, text=True, check=True).stdout.strip()
    assert label == "upgrade-test", "the container was not recreated from the new image"
    after = {
        "uids": {login: stack.uid_of(login) for login in ("prof1", "eleve1", "eleve2")},
        "courses": stack.exec("ls", "/srv/nbgrader/courses").stdout,
        "file": stack.exec("stat", "-c", "%U %a %s", "/home/eleve1/upgrade.txt").stdout,
    }
    assert after == before
    assert client("eleve1").log_in("eleve1pw")
