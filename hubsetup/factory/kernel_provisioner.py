"""A kernel provisioner (jupyter_client's API) that asks the kernel factory to fork the user's
Python kernel from its pre-loaded parent, and starts it the plain way when the factory cannot:
no factory (container modes, SERVER_FACTORY=no), a kernel it does not make, the user's own
copy of a pre-loaded package, or no answer in time.

The forked kernel is not this server's child: it is watched through a pidfd, and signalled by
its process group (its own session), as the local provisioner signals a kernel it started.
"""

import asyncio
import os
import select
import signal

from jupyter_client.provisioning import LocalProvisioner

from .client import FactoryUnavailable, ask
from .forking import KERNEL_SOCKET

ANSWER_SECONDS = 10


class ForkedKernel:
    """What LocalProvisioner needs of a Popen, for a process that is not our child. Its exit
    status is its parent's (the container's init) to know: an ended kernel reports 0."""

    stdin = stdout = stderr = None  # the kernel writes to the container's log, as the server does

    def __init__(self, pid):
        self.pid = pid
        self.pidfd = os.pidfd_open(pid)
        self.returncode = None

    def poll(self):
        if self.returncode is None and select.select([self.pidfd], [], [], 0)[0]:
            self.returncode = 0
            os.close(self.pidfd)
        return self.returncode

    def wait(self, timeout=None):
        if self.returncode is None:
            select.select([self.pidfd], [], [], timeout)
        return self.poll()

    def send_signal(self, signum):
        if self.poll() is None:
            signal.pidfd_send_signal(self.pidfd, signum)

    def kill(self):
        self.send_signal(signal.SIGKILL)

    def terminate(self):
        self.send_signal(signal.SIGTERM)


class PreloadedKernelProvisioner(LocalProvisioner):
    """The local provisioner, forking from the kernel factory when it can."""

    async def launch_kernel(self, cmd, **kwargs):
        try:
            pid = await asyncio.get_running_loop().run_in_executor(None, self.ask_factory, cmd, kwargs)
        except FactoryUnavailable as e:
            self.log.info("Kernel started the plain way: %s", e)
            return await super().launch_kernel(cmd, **kwargs)
        self.process = ForkedKernel(pid)
        self.pid = self.pgid = pid  # the child made its own session
        self.cwd = kwargs.get("cwd") or os.getcwd()
        self.log.info("Kernel forked from the kernel factory: pid %s", pid)
        return self.connection_info

    def ask_factory(self, cmd, kwargs):
        # As jupyter_client's launcher sets it for the kernels it starts (the kernel factory
        # makes each forked kernel end with this server, whatever the variable says).
        env = {**(kwargs.get("env") or os.environ), "JPY_PARENT_PID": str(os.getpid())}
        cwd = os.path.abspath(kwargs.get("cwd") or os.getcwd())
        return ask(KERNEL_SOCKET, {"argv": list(cmd), "env": env, "cwd": cwd}, ANSWER_SECONDS)
