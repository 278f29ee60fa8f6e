"""The ports of users' local servers: chosen by the hub outside the system's ephemeral range.

JupyterHub's own choice (`random_port`: bind to port 0, close, hand the number on) draws from the
range that every other bind to port 0 and every outgoing connection draws from too: the
kernels' ports, the proxy's and the hub's connections to servers. Between the choice and the
server's own bind someone else may take the number; with a class starting at once that happened
("The port ... is already in use", 1 of 100 servers). Outside that range only servers are given
ports, and a port given is not given again while a server may still be starting on it.
"""

import random
import socket
import time

from jupyterhub.utils import random_port

EPHEMERAL_RANGE = "/proc/sys/net/ipv4/ip_local_port_range"
#: Below it: ports that services are known by.
LOWEST = 10000
#: A port given is not given again sooner: longer than a server takes to bind it.
HELD_SECONDS = 600
ATTEMPTS = 200

_given = {}  # port -> time.monotonic() when given


def ephemeral_range(path=EPHEMERAL_RANGE):
    try:
        with open(path) as f:
            low, high = (int(value) for value in f.read().split())
    except (OSError, ValueError):
        low, high = 32768, 60999  # Linux's default
    return low, high


def server_range(path=EPHEMERAL_RANGE):
    """The larger of the two ranges outside the ephemeral one, above LOWEST."""
    low, high = ephemeral_range(path)
    below, above = range(LOWEST, max(LOWEST, low)), range(min(high + 1, 65536), 65536)
    return below if len(below) >= len(above) else above


def bindable(port):
    with socket.socket() as probe:
        try:
            probe.bind(("", port))
        except OSError:
            return False
    return True


def free_port(ports=None, choose=random.choice, now=time.monotonic, log=None):
    """A port no process holds and this hub has not given in the last HELD_SECONDS; JupyterHub's
    own choice, said in the log, when the system leaves no range outside its ephemeral one."""
    ports = ports if ports is not None else server_range()
    if not ports:
        if log is not None:
            log.warning("No port range outside the ephemeral one (%s-%s): servers' ports are random ones",
                        *ephemeral_range())
        return random_port()
    moment = now()
    for port, given_at in list(_given.items()):
        if moment - given_at > HELD_SECONDS:
            del _given[port]
    for _ in range(ATTEMPTS):
        port = choose(ports)
        if port not in _given and bindable(port):
            _given[port] = moment
            return port
    raise RuntimeError(f"no free port for a server in {ports.start}-{ports.stop - 1} after {ATTEMPTS} tries")
