"""A student filling the disk stops nobody else: users' files on a filesystem of their own
(docker-compose.disk.yml; here a 64 MiB tmpfs mounted on the host for the test, a real
bounded filesystem), the hub's state on another, and container logs capped (LOG_MAX_SIZE=1m)."""

import os

import pytest

from harness import kernels
from harness.stack import HubClient, Stack, container_log_bytes, run

from .conftest import PORT, PROJECT

DISK_MB = 64
ACCOUNTS = "eleve1;eleve1pw;0\neleve2;eleve2pw;0\n"
LOG_CAP = 3 * 2**20  # LOG_MAX_SIZE=1m, three files


@pytest.fixture(scope="module")
def users_disk(tmp_path_factory):
    disk = tmp_path_factory.mktemp("users-disk")
    run("mount", "-t", "tmpfs", "-o", f"size={DISK_MB}m,mode=0755", f"{PROJECT}-users-disk", str(disk))
    for folder in ("home", "exchange", "courses"):
        os.mkdir(disk / folder)
    yield disk
    run("umount", "--lazy", str(disk), check=False)


@pytest.fixture(scope="module")
def hub(users_disk, tmp_path_factory):
    accounts = tmp_path_factory.mktemp("disk-site") / "accounts.csv"
    accounts.write_text(ACCOUNTS)
    stack = Stack(f"{PROJECT}disk", PORT + 400, str(accounts), overrides=["docker-compose.disk.yml"])
    stack.env.update(USER_FILES_DIR=str(users_disk), LOG_MAX_SIZE="1m", HUB_TMP_SIZE="32m")
    stack.take_down()
    stack.compose("build", timeout=1800)
    try:
        stack.reconfigure({"USER_DISK_WARNING": "20M"})
        yield stack
    finally:
        if os.environ.get("HUBTEST_KEEP") != "1":
            stack.take_down()


def test_a_student_filling_the_users_disk_stops_no_one_elses_login(hub):
    filled = hub.exec("dd", "if=/dev/zero", "of=/home/eleve1/fill", "bs=1M", user="eleve1", check=False)
    assert "No space left on device" in filled.stderr, filled.stderr
    assert hub.exec("stat", "-f", "-c", "%a", "/home").stdout.strip() == "0"  # no block left for users
    # The hub's database and registry are elsewhere: a login and a sync both write there.
    assert HubClient(hub, "eleve2").log_in("eleve2pw")
    hub.write_accounts(ACCOUNTS + "eleve3;eleve3pw;0\n")
    assert hub.sync().returncode == 0
    assert HubClient(hub, "eleve3").log_in("eleve3pw")
    # The admin is told where the space went ...
    report = hub.exec("hubsetup", "status").stdout
    assert "WARNING: homes (/home) is 100% full" in report, report
    assert "WARNING: eleve1's home holds" in report and "more than USER_DISK_WARNING=20M" in report, report
    assert "WARNING: eleve2's home" not in report
    assert "hub state (/srv/jupyterhub/state): on the same filesystem" not in report, report
    # ... and removing that file is all it takes for everyone's servers to start again.
    hub.exec("rm", "/home/eleve1/fill")
    session = HubClient(hub, "eleve2")
    assert session.log_in("eleve2pw")
    session.start_server()
    _, state = kernels.execute(session, "print(2 + 2)")
    assert state == "idle"


def test_a_student_filling_tmp_fills_only_tmp(hub):
    """The container's only folders users may write are in memory (HUB_TMP_SIZE, 32m here)."""
    for folder in ("/tmp", "/var/tmp", "/run/lock"):
        filled = hub.exec("dd", "if=/dev/zero", f"of={folder}/fill", "bs=1M", "count=64", user="eleve1", check=False)
        assert "No space left on device" in filled.stderr, (folder, filled.stderr)
        hub.exec("rm", "-f", f"{folder}/fill")
    assert hub.exec("stat", "-f", "-c", "%T", "/tmp", "/var/tmp", "/run/lock").stdout.split() == ["tmpfs"] * 3
    assert HubClient(hub, "eleve2").log_in("eleve2pw")


def test_a_student_printing_in_a_loop_fills_no_disk_with_the_hubs_log(hub):
    session = HubClient(hub, "eleve2")
    assert session.log_in("eleve2pw")
    session.start_server()
    written = kernels.flood_stdout(session, 8)
    hub_container = hub.compose("ps", "-q", "hub").stdout.strip()
    kept = container_log_bytes(hub_container)
    print(f"{written} bytes printed past the notebook; the hub's log holds {kept} bytes")
    assert "printing in a loop" in run("docker", "logs", "--tail", "3", hub_container).stdout  # it went there
    assert kept <= LOG_CAP + 2**16
