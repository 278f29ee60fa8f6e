"""The hooks of the docker and swarm modes (hubsetup.modes): a user's server in a container
of its own, or a Swarm service."""

from . import containers
from .status import human


def configure(c, settings):
    """The user image, the hub's volumes and network, limits."""
    client = containers.docker_client()
    placement = containers.discover(client, settings)
    if settings.spawner_mode == "docker":  # a swarm's nodes pull it from a registry
        containers.check_image(client, settings)
    containers.check_placement(placement, settings)
    c.UserContainer.hub_placement = placement
    c.DockerSpawner.image = settings.user_image
    c.DockerSpawner.cmd = ["start-user-server"]
    c.DockerSpawner.network_name = placement.network
    c.DockerSpawner.use_internal_ip = True
    # Nothing lives in a user's container but their running server: their files are in the
    # volumes, and a fresh container picks up a changed image, limit or course group.
    c.DockerSpawner.remove = True
    c.DockerSpawner.prefix = f"{placement.project}-user"
    c.DockerSpawner.mem_limit = settings.user_mem_limit
    c.DockerSpawner.cpu_limit = settings.user_cpu_limit
    if settings.spawner_mode == "swarm":
        c.HubSwarmSpawner.service_privileges = containers.swarm_privileges(client.api_version)


def remove_storage(settings, logins):
    """Removed users' windows on the homes volume (their homes are gone already)."""
    containers.remove_home_volumes(containers.docker_client(), settings, logins)


def status_lines(settings, largest):
    """Memory of users' containers on this node against their limit."""
    client = containers.docker_client()
    in_use = containers.memory_in_use(client, containers.discover(client, settings).project)
    lines = [f"user containers on this node: {len(in_use)} (each limited to {settings.user_mem_limit} of memory, "
             f"{settings.user_cpu_limit:g} CPU); using the most memory:"]
    for login, (used, limit) in sorted(in_use.items(), key=lambda item: -item[1][0])[:largest]:
        lines.append(f"  {login}: {human(used)} of {human(limit)} ({100 * used / limit:.0f}%)")
    return lines
