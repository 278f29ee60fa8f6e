"""Asking a factory for a fork: one request, one answer, within a deadline."""

import json
import socket
import time


class FactoryUnavailable(Exception):
    """The factory did not fork: why, for the log; the caller starts the plain way."""


def ask(socket_path, request, seconds):
    """The pid the factory at `socket_path` forked for `request`."""
    deadline = time.monotonic() + seconds
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as connection:
            connection.settimeout(seconds)
            connection.connect(socket_path)
            connection.sendall(json.dumps(request).encode() + b"\n")
            answer = b""
            while b"\n" not in answer:
                connection.settimeout(max(0.01, deadline - time.monotonic()))
                chunk = connection.recv(4096)
                if not chunk:
                    break
                answer += chunk
    except OSError as e:  # absent, not listening, or too slow
        raise FactoryUnavailable(f"no answer from {socket_path} ({e})") from None
    try:
        answer = json.loads(answer.split(b"\n", 1)[0])
    except ValueError:
        raise FactoryUnavailable(f"{socket_path} closed without answering") from None
    if "pid" not in answer:
        raise FactoryUnavailable(f"{socket_path} refused: {answer.get('error', answer)}")
    return answer["pid"]


def answering(socket_path):
    """True if a factory listens at `socket_path`."""
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as connection:
            connection.settimeout(1)
            connection.connect(socket_path)
        return True
    except OSError:
        return False
