"""Where users' servers run (SPAWNER): one entry per mode, with everything that differs between
modes. A new mode is one entry here and one module with its spawner and its three hooks:

- `configure(c, settings)`: JupyterHub configuration of the mode, at the hub's start;
- `remove_storage(settings, logins)`: what `hubsetup users remove` removes besides homes;
- `status_lines(settings, largest)`: what `hubsetup status` says about the mode's servers.

The hooks' module is imported only when one is called: the local mode never loads Docker's
client.
"""

import importlib
from dataclasses import dataclass


@dataclass(frozen=True)
class Mode:
    name: str
    spawner_class: str  # JupyterHub's Spawner, by name
    # Servers run apart from the hub (containers): they reach its API by service name.
    servers_apart: bool
    hooks: str = None  # the module with configure, remove_storage and status_lines

    def call(self, hook, *args):
        """The mode's `hook`, or nothing for a mode without hooks."""
        if self.hooks is None:
            return None
        return getattr(importlib.import_module(self.hooks), hook)(*args)


MODES = {
    mode.name: mode for mode in (
        Mode("local", "hubsetup.spawner.HubSpawner", servers_apart=False),
        Mode("docker", "hubsetup.docker_spawners.HubDockerSpawner", servers_apart=True,
             hooks="hubsetup.container_mode"),
        Mode("swarm", "hubsetup.docker_spawners.HubSwarmSpawner", servers_apart=True,
             hooks="hubsetup.container_mode"),
    )
}


def of(settings):
    return MODES[settings.spawner_mode]
