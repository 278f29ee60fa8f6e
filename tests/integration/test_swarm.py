"""SPAWNER=swarm: docker-stack.yml deployed with `docker stack deploy` on a single-node swarm
made for this test (and left afterwards): a user's server as a Swarm service, and a backup and
restore of the running stack."""

import os

import docker
import pytest

from harness import kernels
from harness.stack import REPO, HubClient, Stack, SwarmHub, container_log_bytes, run, wait_until

from .conftest import PORT, PROJECT

ACCOUNTS = "eleve1;eleve1pw;0\nprofsw;profswpw;1;swarm-course\n"
MEMORY_LIMIT = 512 * 1024 * 1024  # the server and a kernel with every course library (about 380 MB)
PROCESS_LIMIT = 256
LOG_CAP = 3 * 2**20  # LOG_MAX_SIZE=1m, three files


@pytest.fixture(scope="module")
def swarm():
    engine = docker.from_env()
    made_here = engine.info()["Swarm"]["LocalNodeState"] != "active"
    if made_here:
        run("docker", "swarm", "init", "--advertise-addr", "127.0.0.1")
    yield engine
    if made_here:
        run("docker", "swarm", "leave", "--force")


@pytest.fixture(scope="module")
def hub(swarm, tmp_path_factory):
    site = tmp_path_factory.mktemp("swarm-site")
    (site / "accounts.csv").write_text(ACCOUNTS)
    (site / "hub.env").write_text(f"USER_MEM_LIMIT={MEMORY_LIMIT // 2**20}M\nUSER_CPU_LIMIT=0.5\n"
                                  f"USER_PROCESS_LIMIT={PROCESS_LIMIT}\n")
    hub = SwarmHub(f"{PROJECT}swarm", PORT + 300, str(site / "accounts.csv"))
    hub.env["LOG_MAX_SIZE"] = "1m"
    # `docker stack deploy` builds nothing: the images come from compose, as README says.
    Stack(hub.project, hub.port, hub.accounts_path, overrides=["docker-compose.docker.yml"]).compose("build", timeout=1800)
    hub.remove()
    hub.deploy()
    try:
        hub.wait_healthy(timeout=240)
        yield hub
    finally:
        if os.environ.get("HUBTEST_KEEP") != "1":
            hub.remove()


def test_a_users_server_runs_as_a_swarm_service(hub, swarm):
    session = HubClient(hub, "eleve1")
    assert session.log_in("eleve1pw")
    session.start_server(timeout=240)
    (service,) = swarm.services.list(filters={"name": f"{hub.project}-user-eleve1"})
    spec = service.attrs["Spec"]["TaskTemplate"]
    uid, gid = hub.exec("id", "-u", "eleve1").stdout.strip(), hub.exec("id", "-g", "eleve1").stdout.strip()
    assert spec["ContainerSpec"]["User"] == f"{uid}:{gid}"
    assert spec["Resources"]["Limits"]["MemoryBytes"] == MEMORY_LIMIT
    assert spec["Resources"]["Limits"]["NanoCPUs"] == 500_000_000
    assert spec["Resources"]["Limits"]["Pids"] == PROCESS_LIMIT
    assert spec["LogDriver"] == {"Name": "json-file", "Options": {"max-size": "1m", "max-file": "3"}}
    assert not spec.get("Placement", {}).get("Constraints")  # a student's goes wherever there is room
    (task,) = [t for t in service.tasks() if t["Status"]["State"] == "running"]
    assert task["Spec"]["Networks"][0]["Target"] == swarm.networks.get(f"{hub.project}_users").id
    # The engine applied them to the task's container.
    container = swarm.containers.get(task["Status"]["ContainerStatus"]["ContainerID"])
    assert container.attrs["HostConfig"]["Memory"] == MEMORY_LIMIT
    assert container.attrs["Config"]["User"] == f"{uid}:{gid}"
    assert container.attrs["HostConfig"]["CapDrop"] == ["ALL"]
    assert container.attrs["HostConfig"]["PidsLimit"] == PROCESS_LIMIT
    home = [m for m in container.attrs["Mounts"] if m["Destination"] == "/home/eleve1"]
    assert home and home[0]["Name"] == f"{hub.project}_jh_home.eleve1"
    # Its server answers through the hub, and writes into the user's home in jh_home.
    assert session.server_api("GET", "api/status").status_code == 200
    written = session.server_api("PUT", "api/contents/from-swarm.txt", json={"type": "file", "format": "text", "content": "hi"})
    assert written.status_code == 201, written.text
    assert hub.exec("stat", "-c", "%U", "/home/eleve1/from-swarm.txt").stdout.strip() == "eleve1"
    # The course environment is the user image's too (PIDS_LIMIT leaves room for its threads).
    kernels.check_course_environment(session)
    # The student's printing loop stops at the log's cap; their thread bomb at their own limit
    # (last: its threads hold the limit for a while).
    kernels.flood_stdout(session, 8)
    assert "printing in a loop" in run("docker", "logs", "--tail", "3", container.id).stdout
    assert container_log_bytes(container.id) <= LOG_CAP + 2**16
    output, state = kernels.execute(session, kernels.THREAD_BOMB)
    assert state == "idle" and "stopped at" in output, output
    assert int(output.split("stopped at")[1].split()[0]) < PROCESS_LIMIT
    # Stopping the server removes the service.
    assert session.stop_server().status_code in (202, 204)
    wait_until(lambda: not swarm.services.list(filters={"name": f"{hub.project}-user-eleve1"}), "user service still there", 60)


def test_a_teachers_server_runs_on_the_hubs_node_beside_the_grading_service(hub, swarm):
    """On one node the constraint changes nothing visible: the spec is what shows it. Several
    nodes cannot be made on this machine."""
    session = HubClient(hub, "profsw")
    assert session.log_in("profswpw")
    session.start_server(timeout=240)
    (service,) = swarm.services.list(filters={"name": f"{hub.project}-user-profsw"})
    (hub_task,) = [t for t in swarm.services.get(f"{hub.project}_hub").tasks() if t["Status"]["State"] == "running"]
    constraints = service.attrs["Spec"]["TaskTemplate"]["Placement"]["Constraints"]
    assert constraints == [f"node.id == {hub_task['NodeID']}"]
    (task,) = [t for t in service.tasks() if t["Status"]["State"] == "running"]
    container = task["Status"]["ContainerStatus"]["ContainerID"]
    assert run("docker", "exec", container, "test", "-S", "/run/teaching-hub-grading/broker.sock", check=False).returncode == 0
    assert session.stop_server().status_code in (202, 204)


def test_the_overlay_networks_are_encrypted(hub, swarm):
    for name in ("default", "users"):
        assert "encrypted" in swarm.networks.get(f"{hub.project}_{name}").attrs["Options"], name


def test_backup_and_restore_of_the_stack(hub, tmp_path):
    hub.exec("sh", "-c", "echo first > /home/eleve1/keep.txt && chown eleve1: /home/eleve1/keep.txt")
    made = run(os.path.join(REPO, "scripts", "backup"), "--stack", hub.project, "--output", str(tmp_path))
    (archive,) = tmp_path.glob("hub-*.tar.gz")
    assert str(archive) in made.stdout
    hub.exec("sh", "-c", "echo second > /home/eleve1/keep.txt")
    restored = run(os.path.join(REPO, "scripts", "restore"), "--stack", hub.project, "--force", str(archive))
    assert f"docker service scale {hub.project}_hub=0" in restored.stdout
    assert f"hub started again (docker service scale {hub.project}_hub=1)" in restored.stdout
    hub.wait_healthy(timeout=240)
    wait_until(lambda: hub.hub_container() is not None, "no running hub container", 60)
    assert hub.exec("cat", "/home/eleve1/keep.txt").stdout == "first\n"
    assert HubClient(hub, "eleve1").log_in("eleve1pw")
