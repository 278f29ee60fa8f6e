"""Spawners for SPAWNER=docker (a container per user) and SPAWNER=swarm (a Swarm service per
user): dockerspawner's, given the user's identity, mounts and limits (hubsetup.containers)."""

import asyncio

from docker.types import DriverConfig, Mount, Resources
from dockerspawner import DockerSpawner, SwarmSpawner
from traitlets import Any, default
from traitlets.config import LoggingConfigurable

from . import containers
from .spawner import CourseRoles, StartInTurns


class UserContainer(LoggingConfigurable):
    """What both container spawners share: who the server runs as, and what it mounts."""

    hub_placement = Any(
        help="The hub's volumes and users' network (hubsetup.containers.discover), set at start.",
    ).tag(config=True)

    identity = None

    async def start(self):
        self.identity = await asyncio.to_thread(self.prepare_user)
        self.dress(self.identity)
        return await super().start()

    def prepare_user(self):
        # Refreshed at every start: a user made by a launch a moment ago needs their name.
        containers.publish_names(self.settings)
        return containers.Identity.of(self.user.name)

    def user_mounts(self):
        return containers.user_mounts(self.hub_placement, self.settings, self.user.name)

    def get_env(self):
        env = super().get_env()
        env.update(self.identity.environment())
        return env


class HubDockerSpawner(CourseRoles, UserContainer, StartInTurns, DockerSpawner):
    """A user's server in a container of its own on the hub's Docker engine."""

    def dress(self, identity):
        scratch = containers.scratch_tmpfs(self.settings)
        self.extra_create_kwargs = {
            "user": identity.user,
            "working_dir": identity.home,
            "labels": {containers.USER_LABEL: identity.login},
        }
        self.extra_host_config = {
            "group_add": [str(gid) for gid in identity.groups],
            # No swap on top of the limit: past it the kernel is killed, not slowed to a crawl.
            "memswap_limit": self.mem_limit,
            "security_opt": ["no-new-privileges"],
            "cap_drop": ["ALL"],
            # A fork or thread bomb stops at the user's own limit, not the host's threads-max.
            "pids_limit": self.settings.user_process_limit,
            "log_config": {"type": "json-file", "config": containers.log_options(self.settings)},
            "read_only": True,
            "tmpfs": {scratch["target"]: f"size={scratch['size']},mode={scratch['mode']:o}"},
        }

    @property
    def mount_binds(self):
        return self.user_mounts()


class HubSwarmSpawner(CourseRoles, UserContainer, SwarmSpawner):
    """A user's server as a Swarm service, placed on any node of the swarm (teachers' on the
    hub's)."""

    service_privileges = Any(
        None,
        help="ContainerSpec Privileges of users' services (no-new-privileges where the engine "
             "supports it: hubsetup.containers.swarm_privileges), set at start.",
    ).tag(config=True)

    @default("extra_endpoint_spec")
    def _resolve_to_the_task(self):
        # The service name resolves straight to its one task's address: a virtual IP needs
        # IPVS in the node's kernel, and one server per service has nothing to balance.
        return {"mode": "dnsrr"}

    def dress(self, identity):
        self.extra_container_spec = {
            "user": identity.user,
            "groups": [str(gid) for gid in identity.groups],
            "workdir": identity.home,
            "labels": {containers.USER_LABEL: identity.login},
            "cap_drop": ["ALL"],
            "read_only": True,
        }
        if self.service_privileges:
            self.extra_container_spec["privileges"] = self.service_privileges
        self.extra_task_spec = {
            "resources": self.limits(),
            "log_driver": DriverConfig("json-file", containers.log_options(self.settings)),
        }
        self.extra_placement_spec = self.placement()

    def placement(self):
        """Teachers' servers run on the hub's node: their autograde reaches the grading
        service's socket, in a volume of that node. Students' go wherever Swarm finds room."""
        if self.hub_placement.node and self.taught_courses():
            return {"constraints": [f"node.id == {self.hub_placement.node}"]}
        return {}

    def limits(self):
        """The Resources dockerspawner's create_object would make (limits, guarantees and
        extra_resources_spec alike), plus the pids limit that docker-py's Resources has no
        argument for (the Engine API has it since 1.41): this replaces dockerspawner's."""
        kwargs = dict(
            mem_limit=self.mem_limit,
            mem_reservation=self.mem_guarantee,
            cpu_limit=int(self.cpu_limit * 1e9) if self.cpu_limit else None,
            cpu_reservation=int(self.cpu_guarantee * 1e9) if self.cpu_guarantee else None,
        )
        kwargs.update(self.extra_resources_spec)
        resources = Resources(**kwargs)
        resources.setdefault("Limits", {})["Pids"] = self.settings.user_process_limit
        return resources

    @property
    def mounts(self):
        scratch = containers.scratch_tmpfs(self.settings)
        return [*self.user_mounts(), Mount(scratch["target"], None, type="tmpfs",
                                           tmpfs_size=scratch["size"], tmpfs_mode=scratch["mode"])]
