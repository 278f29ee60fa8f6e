"""Starting the two factories, apart from the hub: at the hub's start (`hubsetup start`), and
again by the spawner when one stopped answering.

They are started with a bare environment and no descriptor of the hub's, detached (`setsid
-f`: their parent is the container's init), so that nothing the hub holds reaches them.
"""

import os
import subprocess
import sys
import time

from .forking import KERNEL_OPTIONS, KERNEL_SOCKET, SERVER_SOCKET
from .client import answering

COURSE_PYTHON = "/opt/course/bin/python"
#: Not started again sooner than this after a start: a factory that cannot start does not cost
#: every spawn its imports.
RETRY_SECONDS = 60
BARE_ENVIRONMENT = {"PATH": "/opt/venv/bin:/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8",
                    # numpy's BLAS starts no thread pool: the kernel factory forks one thread.
                    "OPENBLAS_NUM_THREADS": "1"}


def commands(limits):
    """socket -> the command that starts its factory. `limits` are the process spawner's."""
    server_python = os.path.join(os.path.dirname(sys.executable), "python")
    return {
        SERVER_SOCKET: [server_python, "-P", "-m", "hubsetup.factory.servers"],
        KERNEL_SOCKET: [COURSE_PYTHON, *KERNEL_OPTIONS, os.path.join(os.path.dirname(__file__), "kernels.py"),
                         "--first-uid", str(limits["first_uid"]), "--home-root", limits["home_root"],
                         "--process-limit", str(limits["process_limit"]),
                         "--oom-score-adj", str(limits["oom_score_adj"]), "--umask", f"{limits['umask']:o}"],
    }


class Keeper:
    def __init__(self, limits):
        self.commands = commands(limits)
        self.started_at = {}

    def start(self, socket_path, log):
        log(f"starting the factory for {socket_path}")
        self.started_at[socket_path] = time.monotonic()
        subprocess.run(["setsid", "-f", *self.commands[socket_path]], env=BARE_ENVIRONMENT, cwd="/",
                       stdin=subprocess.DEVNULL, check=False)

    def start_all(self, log):
        for socket_path in self.commands:
            self.start(socket_path, log)

    def ensure_running(self, log):
        """Start each factory that does not answer (not more often than RETRY_SECONDS)."""
        for socket_path in self.commands:
            recent = time.monotonic() - self.started_at.get(socket_path, -RETRY_SECONDS) < RETRY_SECONDS
            if not recent and not answering(socket_path):
                self.start(socket_path, log)
