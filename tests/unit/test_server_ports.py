"""Servers' ports: outside the ephemeral range that bind-to-0 and outgoing connections draw from;
never one a process holds; never one given to another server that may still be starting."""

import socket

import pytest

from hubsetup import server_ports


class Scripted:
    """`choose` that answers the given ports in turn."""

    def __init__(self, *ports):
        self.ports = list(ports)

    def __call__(self, _candidates):
        return self.ports.pop(0)


@pytest.fixture(autouse=True)
def nothing_given():
    server_ports._given.clear()
    yield
    server_ports._given.clear()


def test_the_range_is_outside_the_ephemeral_one(tmp_path):
    ranges = tmp_path / "ip_local_port_range"
    ranges.write_text("32768\t60999\n")
    assert server_ports.server_range(ranges) == range(10000, 32768)
    ranges.write_text("1024 50000\n")
    assert server_ports.server_range(ranges) == range(50001, 65536)
    low, high = server_ports.ephemeral_range()  # this machine's
    ports = server_ports.server_range()
    assert ports and (ports.stop <= low or ports.start > high)


def test_a_port_a_process_holds_is_not_given():
    ports = server_ports.server_range()
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        taken = held.getsockname()[1]
        held.listen()
        other = next(port for port in ports if port != taken and server_ports.bindable(port))
        assert server_ports.free_port(range(1, 65536), Scripted(taken, other)) == other


def test_a_port_given_is_not_given_again_while_a_server_may_be_starting_on_it():
    ports = server_ports.server_range()
    first, second = [port for port in list(ports)[:2000] if server_ports.bindable(port)][:2]
    clock = [1000.0]
    assert server_ports.free_port(ports, Scripted(first), lambda: clock[0]) == first
    assert server_ports.free_port(ports, Scripted(first, second), lambda: clock[0]) == second
    clock[0] += server_ports.HELD_SECONDS + 1
    assert server_ports.free_port(ports, Scripted(first), lambda: clock[0]) == first


def test_no_free_port_is_said_not_guessed():
    with socket.socket() as held:
        held.bind(("", 0))
        held.listen()
        taken = held.getsockname()[1]
        with pytest.raises(RuntimeError, match="no free port"):
            server_ports.free_port(range(taken, taken + 1), Scripted(*[taken] * server_ports.ATTEMPTS))


def test_without_a_range_outside_the_ephemeral_one_the_port_is_jupyterhubs_choice_and_said(caplog):
    import logging

    log = logging.getLogger("test-ports")
    with caplog.at_level(logging.WARNING, logger="test-ports"):
        port = server_ports.free_port(range(0), log=log)
    assert 0 < port < 65536 and server_ports.bindable(port)
    assert "No port range outside the ephemeral one" in caplog.text
