"""The bundle as a school admin uses it: the sample accounts, editing accounts.csv, restarts."""

import os
import re
import subprocess

import pytest

from harness.stack import REPO

SAMPLE = open(os.path.join(REPO, "accounts.csv")).read()
NBGRADER_INSTRUCTOR_PLUGINS = {
    "@jupyter/nbgrader:formgrader", "@jupyter/nbgrader:course-list", "@jupyter/nbgrader:create-assignment",
}


@pytest.fixture
def sample_accounts(stack):
    stack.write_accounts(SAMPLE)
    stack.sync()
    yield
    stack.write_accounts(SAMPLE)
    stack.sync()


def disabled_plugins(page_config):
    disabled = page_config.get("disabledExtensions", [])
    return set(disabled if isinstance(disabled, list) else [k for k, v in disabled.items() if v])


def test_sample_teacher_gets_jupyterlab_with_course_tools(stack, client, sample_accounts):
    prof = client("prof1")
    assert prof.log_in("wawa")
    config = prof.start_server()
    status = prof.server_api("GET", "api/status")
    assert status.status_code == 200 and "started" in status.json(), status.text
    assert not disabled_plugins(config) & NBGRADER_INSTRUCTOR_PLUGINS
    assert prof.server_api("GET", "formgrader").status_code == 200


def test_sample_student_sees_assignment_list_only(stack, client, sample_accounts):
    student = client("eleve1")
    assert student.log_in("eleve1pw")
    config = student.start_server()
    assert NBGRADER_INSTRUCTOR_PLUGINS <= disabled_plugins(config)
    assert "@jupyter/nbgrader:assignment-list" not in disabled_plugins(config)
    assert student.server_api("GET", "formgrader").status_code == 404
    listing = student.server_api("GET", "assignments", params={"course_id": "cours_prof1"})
    assert listing.status_code == 200 and listing.json()["success"], listing.text


def test_wrong_password_and_unknown_user_are_refused(stack, client, sample_accounts):
    assert not client("prof1").log_in("not-wawa")
    assert not client("nobody").log_in("x")
    # a system account with a password set by hand is still not a hub user
    stack.exec("chpasswd", input="daemon:daemonpw\n")
    assert not client("daemon").log_in("daemonpw")
    stack.exec("usermod", "-p", "*", "daemon")


def test_edited_accounts_apply_with_sync(stack, client, sample_accounts):
    stack.write_accounts("prof1;wawa;1\neleve1;changed-pw\neleve3;eleve3pw\n")
    output = stack.sync().stdout
    assert "1 added (eleve3)" in output and "1 password changed (eleve1)" in output
    assert "1 locked (eleve2)" in output
    assert client("eleve3").log_in("eleve3pw")
    assert not client("eleve1").log_in("eleve1pw")
    assert client("eleve1").log_in("changed-pw")
    assert not client("eleve2").log_in("eleve2pw")
    assert stack.exec("test", "-d", "/home/eleve2").returncode == 0, "a removed row keeps its home"


def test_bad_accounts_file_is_refused_and_changes_nothing(stack, client, sample_accounts):
    stack.write_accounts("prof1;other-pw;1\nEleve9;pw\neleve1;\n")
    result = stack.sync(check=False)
    assert result.returncode == 2
    assert "line 2: login 'Eleve9' must be lowercase" in result.stderr
    assert "line 3: password is empty" in result.stderr
    assert client("prof1").log_in("wawa")
    assert stack.exec("id", "eleve9", check=False).returncode != 0


def test_users_cannot_read_other_homes_or_the_accounts_file(stack, sample_accounts):
    stack.exec("sh", "-c", "echo solution > /home/prof1/secret.txt && chown prof1: /home/prof1/secret.txt")
    assert stack.exec("cat", "/home/prof1/secret.txt", user="eleve1", check=False).returncode != 0
    assert stack.exec("ls", "/home/prof1", user="eleve1", check=False).returncode != 0
    for private in ("/srv/jupyterhub/private/site/accounts.csv", "/srv/jupyterhub/state/registry.sqlite"):
        assert stack.exec("cat", private, user="eleve1", check=False).returncode != 0
    assert stack.exec("cat", "/home/prof1/secret.txt", user="prof1").stdout == "solution\n"


def test_restart_and_recreate_keep_users_uids_and_files(stack, client, sample_accounts):
    stack.exec("sh", "-c", "echo kept > /home/eleve1/work.txt && chown eleve1: /home/eleve1/work.txt")
    uids = {login: stack.uid_of(login) for login in ("prof1", "eleve1", "eleve2")}
    stack.compose("restart", "hub")
    stack.wait_healthy()
    assert client("eleve1").log_in("eleve1pw")
    stack.compose("up", "-d", "--force-recreate", "hub")
    stack.wait_healthy()
    assert {login: stack.uid_of(login) for login in uids} == uids
    assert stack.exec("cat", "/home/eleve1/work.txt", user="eleve1").stdout == "kept\n"
    assert client("prof1").log_in("wawa")


def test_image_holds_no_secrets(stack):
    image = stack.env["HUB_IMAGE"]
    files = subprocess.run(
        ["docker", "run", "--rm", "--entrypoint", "ls", image, "-A", "/srv/jupyterhub/state", "/srv/jupyterhub/private"],
        capture_output=True, text=True, check=True,
    ).stdout
    assert files.split() == ["/srv/jupyterhub/private:", "/srv/jupyterhub/state:"]
    env = subprocess.run(
        ["docker", "image", "inspect", image, "--format", "{{json .Config.Env}}"],
        capture_output=True, text=True, check=True,
    ).stdout
    assert not re.search(r"SECRET|TOKEN|PASSWORD|KEY=", env), env
