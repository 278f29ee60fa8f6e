"""The grading service's sandbox broker: root, in the hub's container, behind a Unix socket.

Whoever autogrades (a teacher's formgrader or terminal, or `on_submit` as an instructor)
connects, sends one request (the course, the sanitised notebook, its folder's files, nbgrader's
execution settings) and half-closes; the broker checks the caller's uid (SO_PEERCRED) is one
of the course's instructors, waits for a free slot (GRADING_CONCURRENCY at once), runs the
notebook in a sandbox and answers with each executed code cell's outputs and, if the run
stopped early, why. Nothing it answers is trusted by the caller either (`execute`).
"""

import json
import logging
import os
import socket
import socketserver
import struct
import threading
import time

from .. import registry

SOCKET_DIR = "/run/teaching-hub-grading"
SOCKET = os.path.join(SOCKET_DIR, "broker.sock")
MAX_REQUEST = 256 << 20  # the notebook and its folder, base64: the folder is capped at 128 MB
MAX_OUTPUT = 64 << 20    # what a run may print (nbgrader's LimitOutput trims it afterwards)
MAX_WAITING = 500        # requests waiting for a slot; more are refused, not queued forever
LOG_TAIL = 8192

log = logging.getLogger("grading")


class Refused(Exception):
    pass


def peer_uid(connection):
    _pid, uid, _gid = struct.unpack("3i", connection.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, 12))
    return uid


def read_until_closed(connection, most):
    chunks, size = [], 0
    while True:
        chunk = connection.recv(1 << 20)
        if not chunk:
            return b"".join(chunks)
        size += len(chunk)
        if size > most:
            raise Refused(f"the request is over {most >> 20} MB")
        chunks.append(chunk)


def limits_of(settings):
    return {
        "cpu_seconds": settings.grading_cpu_seconds, "wall_seconds": settings.grading_wall_seconds,
        "memory": settings.grading_memory_bytes, "processes": settings.grading_processes,
        "file_size": settings.grading_file_size_bytes,
    }


def describe_limits(limits):
    return {
        "cpu": f"the CPU time limit ({limits['cpu_seconds']} s)",
        "wall": f"the time limit of a whole run ({limits['wall_seconds']} s)",
        "memory": f"the memory limit ({limits['memory'] >> 20} MB)",
        "output": f"the output limit ({MAX_OUTPUT >> 20} MB)",
    }


class Run:
    """One notebook in one sandbox: its request fed in, its lines read as they come."""

    def __init__(self, sandbox, limits, request):
        self.sandbox, self.limits, self.request = sandbox, limits, request
        self.cells, self.stopped, self.finished = {}, None, False
        self.log, self.output_size = b"", 0

    def execute(self):
        started = time.monotonic()
        process = self.sandbox.start(self.limits)
        try:
            feeder = threading.Thread(target=self._feed, args=(process,), daemon=True)
            keeper = threading.Thread(target=self._keep_log, args=(process,), daemon=True)
            reader = threading.Thread(target=self._read, args=(process,), daemon=True)
            for thread in (feeder, keeper, reader):
                thread.start()
            reader.join(self.limits["wall_seconds"])
            if reader.is_alive():
                self.stopped = describe_limits(self.limits)["wall"]
        finally:
            # Every process of the run killed, its files removed; its exit status if it had one.
            status = self.sandbox.finish(process, self.stopped is None)
        reader.join(10)
        keeper.join(10)
        if not self.finished and not self.stopped:
            self.stopped = self._why_it_ended(status)
        return {"cells": self.cells, "stopped": self.stopped, "log": self.log.decode(errors="replace"),
                "seconds": round(time.monotonic() - started, 2)}

    def _feed(self, process):
        try:
            process.stdin.write(json.dumps(self.request).encode())
            process.stdin.close()
        except OSError:  # the run ended before reading it all
            pass

    def _keep_log(self, process):
        for line in process.stderr:
            self.log = (self.log + line)[-LOG_TAIL:]

    def _read(self, process):
        for line in process.stdout:
            self.output_size += len(line)
            if self.output_size > MAX_OUTPUT:
                self.stopped = describe_limits(self.limits)["output"]
                return
            try:
                message = json.loads(line)
            except ValueError:
                continue
            if not isinstance(message, dict):
                continue
            if isinstance(message.get("cell"), int) and isinstance(message.get("outputs"), list):
                self.cells[str(message["cell"])] = {"outputs": message["outputs"],
                                                    "execution_count": message.get("execution_count"),
                                                    "unfinished": message.get("unfinished") is True}
            elif message.get("finished") is True:
                self.finished = True
                return
            elif isinstance(message.get("stopped"), str):
                self.stopped = message["stopped"][:500]
                return

    def _why_it_ended(self, status):
        if status in (-24, 128 + 24):
            return describe_limits(self.limits)["cpu"]
        if status in (-9, 128 + 9):
            return "the sandbox was killed (" + describe_limits(self.limits)["memory"] + ", most likely)"
        return f"the sandbox ended early (exit status {status})"


class Broker:
    def __init__(self, settings, sandbox):
        self.settings, self.sandbox = settings, sandbox
        self.limits = limits_of(settings)
        self.slots = threading.BoundedSemaphore(settings.grading_concurrency)
        self.waiting = 0
        self.lock = threading.Lock()

    def check_caller(self, uid, course):
        """The caller must teach `course` (root, the hub itself, may grade any)."""
        if uid == 0:
            return "root"
        if not isinstance(course, str) or not course:
            raise Refused("the request names no course")
        with registry.connect(self.settings.registry_path, write=False) as db:
            for login, instructor_uid in registry.course_instructors(db, course):
                if instructor_uid == uid:
                    return login
        raise Refused(f"uid {uid} is not an instructor of course {course!r}")

    def grade(self, request):
        with self.lock:
            if self.waiting >= MAX_WAITING:
                raise Refused(f"{MAX_WAITING} notebooks are already waiting to be graded: try again later")
            self.waiting += 1
        try:
            with self.slots:
                run = {key: request.get(key) for key in ("notebook", "files", "execute")}
                return Run(self.sandbox, self.limits, run).execute()
        finally:
            with self.lock:
                self.waiting -= 1

    def handle(self, connection):
        try:
            uid = peer_uid(connection)
            connection.settimeout(120)
            request = json.loads(read_until_closed(connection, MAX_REQUEST))
            if not isinstance(request, dict):
                raise Refused("the request is not a JSON object")
            caller = self.check_caller(uid, request.get("course"))
            connection.settimeout(None)
            reply = self.grade(request)
            log.info("graded a notebook of %s for %s in %ss%s", request.get("course"), caller, reply["seconds"],
                     f" (stopped: {reply['stopped']})" if reply["stopped"] else "")
        except (Refused, ValueError, OSError) as error:
            log.warning("refused a grading request: %s", error)
            reply = {"error": str(error)}
        try:
            connection.sendall(json.dumps(reply).encode())
        except OSError:
            pass


class _Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True


def serve(settings, sandbox):
    """Listen on SOCKET until killed."""
    sandbox.prepare()
    broker = Broker(settings, sandbox)
    os.makedirs(SOCKET_DIR, mode=0o755, exist_ok=True)
    os.chmod(SOCKET_DIR, 0o755)
    if os.path.lexists(SOCKET):
        os.unlink(SOCKET)

    class Handler(socketserver.BaseRequestHandler):
        def handle(self):
            broker.handle(self.request)

    server = _Server(SOCKET, Handler)
    # Anyone may connect; the broker answers only the course's instructors.
    os.chmod(SOCKET, 0o666)
    log.info("grading sandboxes (%s) on %s, %d at once", sandbox.name, SOCKET, settings.grading_concurrency)
    server.serve_forever()
