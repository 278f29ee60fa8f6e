"""Each user's server in a container of their own (SPAWNER=docker) or a Swarm service (swarm).

The hub runs in a container with the Docker socket. It learns which volumes and network to give
user servers by inspecting its own container, so compose project and stack names need no
setting. A user's container runs as their UID with their course groups, sees only their own
home (a volume bound to their folder in jh_home), the exchange and the course directories, and
has memory and CPU limits.
"""

import os
import pwd
import socket
import tempfile
from dataclasses import dataclass

import docker
from docker.types import DriverConfig, Mount

DOCKER_SOCKET = "unix:///var/run/docker.sock"
# Where the hub publishes its user and group names (no passwords) for user containers, whose
# image reads them with libnss-extrausers.
NAMES_DIR = "/srv/jupyterhub/names"
NAMES_TARGET = "/var/lib/extrausers"
GRADING_SOCKET_DIR = "/run/teaching-hub-grading"  # hubsetup.grading.broker.SOCKET_DIR
# On each user's container: whose it is.
USER_LABEL = "org.teaching-hub.user"
# On each user's home volume: the homes volume it is a window on (for `docker volume ls --filter`).
HOME_LABEL = "org.teaching-hub.home-in"
# Rotated logs kept per container, as compose keeps them for the hub's (LOG_MAX_SIZE each).
LOG_FILES = "3"
# Swarm services take no-new-privileges from Engine API 1.44 (Docker 25) on.
SWARM_NO_NEW_PRIVILEGES_API = (1, 44)
HOW_TO_START = {
    "docker": "start the hub with both compose files: put COMPOSE_FILE=docker-compose.yml:docker-compose.docker.yml "
              "in .env, then docker compose up -d --build (README: \"A container per user\")",
    "swarm": "deploy the hub with docker stack deploy -c docker-stack.yml NAME (README: \"Several machines\")",
}


@dataclass(frozen=True)
class HubPlacement:
    """What the hub's own container says about where user servers go."""

    project: str  # compose project or stack name: prefixes user containers' names
    volumes: dict  # mount point in the hub -> `docker volume inspect` of the volume there
    network: str
    node: str = ""  # the Swarm node the hub's task runs on ("" outside a swarm)


def docker_client():
    return docker.APIClient(base_url=DOCKER_SOCKET, version="auto", timeout=60)


def discover(client, settings, container_id=None):
    """Inspect the hub's container: its named volumes and the users' network."""
    try:
        me = client.inspect_container(container_id or socket.gethostname())
    except (docker.errors.DockerException, OSError) as error:
        raise SystemExit(f"SPAWNER={settings.spawner}: cannot ask Docker about the hub's container "
                         f"({error}); {HOW_TO_START[settings.spawner]}")
    volumes = {
        mount["Destination"]: client.inspect_volume(mount["Name"])
        for mount in me["Mounts"] if mount["Type"] == "volume"
    }
    labels = me["Config"].get("Labels") or {}
    project = labels.get("com.docker.compose.project") or labels.get("com.docker.stack.namespace") or "teaching-hub"
    return HubPlacement(project, volumes, users_network(settings, list(me["NetworkSettings"]["Networks"])),
                        labels.get("com.docker.swarm.node.id", ""))


def users_network(settings, networks):
    if settings.user_network:
        if settings.user_network not in networks:
            raise SystemExit(f"USER_NETWORK={settings.user_network}: the hub is not on that network "
                             f"(it is on: {', '.join(networks)})")
        return settings.user_network
    named = [name for name in networks if name.endswith("_users")]
    if len(named) != 1:
        raise SystemExit(f"SPAWNER={settings.spawner}: the hub must be on exactly one network named "
                         f"*_users (it is on: {', '.join(networks)}); {HOW_TO_START[settings.spawner]}")
    return named[0]


def required_volumes(settings):
    """Mount points the hub must have a volume at, and where user containers get each."""
    return {
        settings.exchange_root: settings.exchange_root,
        settings.courses_root: settings.courses_root,
        NAMES_DIR: NAMES_TARGET,
        # The grading service's socket: teachers' autograde sends notebooks there.
        GRADING_SOCKET_DIR: GRADING_SOCKET_DIR,
    }


READ_ONLY_FOR_USERS = (NAMES_DIR, GRADING_SOCKET_DIR)


def check_placement(placement, settings):
    missing = [path for path in (settings.home_root, *required_volumes(settings)) if path not in placement.volumes]
    if missing:
        raise SystemExit(f"SPAWNER={settings.spawner}: the hub has no volume at {', '.join(missing)}; "
                         f"{HOW_TO_START[settings.spawner]}")


def volume_mount(volume, target, read_only=False):
    """A named volume at `target`. Its driver and options go along, so that a Swarm node which
    does not have the volume yet creates the same one (an NFS export, say), not an empty one."""
    options = volume.get("Options") or {}
    driver = DriverConfig(volume["Driver"], options) if options else None
    return Mount(target, volume["Name"], type="volume", read_only=read_only, driver_config=driver)


def home_mount(volume, home_root, login):
    """Only `login`'s own folder of the homes volume, as a volume of its own (`<volume>.<login>`).

    A local volume (the default, or one with NFS or bind options) is narrowed to the user's
    folder; the homes of any other driver are mounted whole (each home is mode 0700)."""
    if volume["Driver"] != "local":
        return volume_mount(volume, home_root)
    options = dict(volume.get("Options") or {})
    if "device" in options:
        options["device"] = options["device"].rstrip("/") + "/" + login
    else:
        options = {"type": "none", "o": "bind", "device": f"{volume['Mountpoint']}/{login}"}
    return Mount(f"{home_root}/{login}", f"{volume['Name']}.{login}", type="volume",
                 driver_config=DriverConfig("local", options), labels={HOME_LABEL: volume["Name"]})


def user_mounts(placement, settings, login):
    shared = [
        volume_mount(placement.volumes[source], target, read_only=source in READ_ONLY_FOR_USERS)
        for source, target in required_volumes(settings).items()
    ]
    return [home_mount(placement.volumes[settings.home_root], settings.home_root, login), *shared]


def publish_names(settings, etc="/etc", names_dir=NAMES_DIR):
    """Hub users and course groups (IDs from FIRST_UID up), without passwords, for user
    containers: their shells and `ls -l` show names, not numbers."""
    for name in ("passwd", "group"):
        with open(os.path.join(etc, name)) as f:
            lines = [line for line in f if _id_of(line) >= settings.first_uid]
        # A file of its own for each writer: two servers may be starting at the same moment.
        handle, temporary = tempfile.mkstemp(prefix=f".{name}.", dir=names_dir)
        with os.fdopen(handle, "w") as f:
            f.writelines(lines)
        os.chmod(temporary, 0o644)
        os.replace(temporary, os.path.join(names_dir, name))


def _id_of(line):
    fields = line.split(":")
    return int(fields[2]) if len(fields) > 3 and fields[2].isdigit() else -1


@dataclass(frozen=True)
class Identity:
    """Who a user's container runs as."""

    login: str
    uid: int
    gid: int
    groups: tuple  # supplementary GIDs: the course groups that open course directories
    home: str

    @classmethod
    def of(cls, login):
        entry = pwd.getpwnam(login)
        groups = tuple(g for g in os.getgrouplist(login, entry.pw_gid) if g != entry.pw_gid)
        return cls(login, entry.pw_uid, entry.pw_gid, groups, entry.pw_dir)

    @property
    def user(self):
        return f"{self.uid}:{self.gid}"

    def environment(self):
        return {"USER": self.login, "LOGNAME": self.login, "HOME": self.home}


def log_options(settings):
    """json-file rotation for a user's container: a student printing in a loop fills no disk."""
    return {"max-size": settings.log_max_size, "max-file": LOG_FILES}


def scratch_tmpfs(settings):
    """/tmp of a user's container, in memory (counted in its memory limit): with the rest of
    the container's own files read-only, nothing a student writes lands on Docker's disk."""
    return {"target": "/tmp", "size": settings.tmp_size_bytes, "mode": 0o1777}


def swarm_privileges(api_version):
    """ContainerSpec privileges for users' services, where the engine knows them: older
    engines have no no-new-privileges for services (the user image has no setuid program and
    its containers no capabilities, so there is nothing to gain there either)."""
    if tuple(int(part) for part in api_version.split(".")) >= SWARM_NO_NEW_PRIVILEGES_API:
        return {"NoNewPrivileges": True}
    return None


def check_image(client, settings):
    """The user image must be on the hub's engine (Swarm: on every node, from a registry)."""
    try:
        client.inspect_image(settings.user_image)
    except docker.errors.ImageNotFound:
        raise SystemExit(
            f"USER_IMAGE={settings.user_image} is not on this Docker engine: build it with docker compose "
            "-f docker-compose.yml -f docker-compose.docker.yml build user-image, or docker pull it"
        )


def memory_in_use(client, project):
    """{login: (bytes in use, limit)} of the user containers running on this node now."""
    found = {}
    for container in client.containers(filters={"label": USER_LABEL, "name": f"{project}-user-"}):
        memory = client.stats(container["Id"], stream=False, one_shot=True)["memory_stats"]
        counters = memory.get("stats", {})
        # What the limit counts, without the file cache the kernel drops first (cgroup v1 / v2).
        cache = counters.get("total_inactive_file", counters.get("inactive_file", 0))
        found[container["Labels"][USER_LABEL]] = (memory["usage"] - cache, memory["limit"])
    return found


def remove_home_volumes(client, settings, logins):
    """The per-user windows on jh_home of users who are gone (their files are already)."""
    home = discover(client, settings).volumes[settings.home_root]["Name"]
    for login in logins:
        try:
            client.remove_volume(f"{home}.{login}")
        except docker.errors.NotFound:
            pass
