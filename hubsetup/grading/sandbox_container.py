"""The grading sandbox of the docker and swarm modes: `runner` in a throwaway container of the
user image, on the hub's own Docker engine (a Swarm service cannot be without a network).

No network at all (`none`: only a loopback), a read-only image, every capability dropped and
no way to gain one, a uid of its own from the local sandbox's range, memory (swap included),
processes, one CPU, CPU seconds, file size and open files limited, its only writable places
two small in-memory folders, no log kept by Docker, and no volume: the request goes in on
standard input. The container is removed after the run, and at the service's start whatever
an earlier one left.
"""

import os
import socket
import threading

from .sandbox_local import OPEN_FILES, RunUids, environment

LABEL = "teaching-hub.grading-sandbox"
WORK = "/work"


class ContainerRun:
    """A started container, seen by the broker as a process: its stdin, stdout and stderr."""

    def __init__(self, api, container, attached):
        self.api, self.container, self.attached = api, container, attached
        out_read, self._out = os.pipe()
        err_read, self._err = os.pipe()
        self.stdout, self.stderr = os.fdopen(out_read, "rb"), os.fdopen(err_read, "rb")
        self.stdin = self
        threading.Thread(target=self._demultiplex, daemon=True).start()

    def write(self, data):
        self.attached._sock.sendall(data)

    def close(self):
        """The end of standard input (the container has StdinOnce: it sees end of file)."""
        self.attached._sock.shutdown(socket.SHUT_WR)

    def _demultiplex(self):
        from docker.utils.socket import frames_iter

        try:
            for stream, data in frames_iter(self.attached, tty=False):
                os.write(self._out if stream == 1 else self._err, data)
        except OSError:
            pass
        finally:
            os.close(self._out)
            os.close(self._err)


class ContainerSandbox:
    name = "container"

    def __init__(self, settings):
        import docker

        self.settings = settings
        self.api = docker.from_env().api
        self.uids = RunUids()

    def prepare(self):
        for found in self.api.containers(all=True, filters={"label": LABEL}):
            self.api.remove_container(found["Id"], force=True)

    def start(self, limits):
        from docker.types import LogConfig, Ulimit

        uid = self.uids.take()
        cpu = limits["cpu_seconds"]
        host_config = self.api.create_host_config(
            network_mode="none", read_only=True, cap_drop=["ALL"], security_opt=["no-new-privileges"],
            init=True, pids_limit=limits["processes"], mem_limit=limits["memory"],
            memswap_limit=limits["memory"], nano_cpus=10**9, cpu_shares=256,  # behind students' servers
            ulimits=[Ulimit(name="cpu", soft=cpu, hard=cpu + 5), Ulimit(name="fsize", soft=limits["file_size"], hard=limits["file_size"]),
                     Ulimit(name="nofile", soft=OPEN_FILES, hard=OPEN_FILES), Ulimit(name="core", soft=0, hard=0)],
            tmpfs={WORK: f"size=512m,uid={uid},gid={uid},mode=0700", "/tmp": "size=64m,mode=1777"},
            log_config=LogConfig(type="none"),
        )
        container = self.api.create_container(
            self.settings.user_image, command=["/opt/venv/bin/python", "-I", "-m", "hubsetup.grading.runner"],
            entrypoint=[], user=f"{uid}:{uid}", working_dir=WORK, environment=environment(WORK),
            stdin_open=True, detach=False, labels={LABEL: "1"}, network_disabled=True, host_config=host_config,
        )["Id"]
        attached = self.api.attach_socket(container, params={"stdin": 1, "stdout": 1, "stderr": 1, "stream": 1})
        self.api.start(container)
        return ContainerRun(self.api, container, attached)

    def finish(self, run, ended=True):
        """Its exit status (None if it had to be killed), after removing it."""
        status = None
        try:
            status = self.api.wait(run.container, timeout=5 if ended else 0.1)["StatusCode"]
        except Exception:  # still running (it is killed), or gone already
            pass
        try:
            self.api.remove_container(run.container, force=True)
        except Exception:
            pass
        return status
