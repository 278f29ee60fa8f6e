"""What both factories share: a root process that answers requests on a Unix socket by forking a
child that becomes a user and runs a pre-imported program.

Standard library only: the kernel factory runs it under the course environment's Python, where
nothing of hubsetup is installed. The hub's process spawner uses `become_user` too, so a
forked server and a plainly started one are set up by the same code.
"""

import ctypes
import gc
import json
import locale
import os
import pwd
import resource
import signal
import socket
import struct
import sys
import sysconfig
import time
import types

try:
    # Imported before any environment change: it finds the memory `ps` reads by where the
    # process's start put its arguments and environment.
    import setproctitle
except ImportError:
    setproctitle = None

#: A request is one JSON object on one line; anything longer is refused unread.
MAX_REQUEST = 256 * 1024
#: A connection that has not sent its whole request by then is dropped: one slow client cannot
#: hold the others' starts.
REQUEST_SECONDS = 5
PR_SET_DUMPABLE = 4
SOCKET_FOLDER = "/run/teaching-hub-factory"
SERVER_SOCKET = f"{SOCKET_FOLDER}/servers.sock"  # root only
KERNEL_SOCKET = f"{SOCKET_FOLDER}/kernels.sock"  # every user
#: The interpreter options of the image's kernelspec, which the kernel factory is started with: a
#: kernel asked for with others (or with PYTHON* variables, read only at an interpreter's start)
#: starts the plain way.
KERNEL_OPTIONS = ["-Xfrozen_modules=off"]
#: Python 3.12 and 3.13 on 64 bits: an object whose reference count's low 32 bits read as a
#: negative int32 is immortal, and Py_INCREF and Py_DECREF do not write to it (PEP 683).
IMMORTAL = 0xFFFFFFFF


class Refused(Exception):
    """A request the factory will not carry out; its message goes back to the asker."""


def account_of(name):
    """(passwd entry, every group id) of `name`: looked up before a fork where the forking
    process has threads (a lookup in the child could hang on a lock another thread held)."""
    user = pwd.getpwnam(name)
    return user, os.getgrouplist(name, user.pw_gid)


def become_user(name, umask, process_limit, oom_score_adj, account=None):
    """Turn this (root) process into `name`: its OOM score and process limit first (a user may
    only lower them), then groups (the user's own and their courses'), gid, uid, umask and the
    home as working directory. Called by the process spawner's preexec and by forked children."""
    user, groups = account or account_of(name)
    with open("/proc/self/oom_score_adj", "w") as f:
        f.write(str(oom_score_adj))
    resource.setrlimit(resource.RLIMIT_NPROC, (process_limit, process_limit))
    os.setgroups(groups)
    os.setgid(user.pw_gid)
    os.setuid(user.pw_uid)
    os.umask(umask)
    try:
        os.chdir(user.pw_dir)
    except OSError as e:
        print(f"{name}: no home to start in ({e}); starting in /", file=sys.stderr)
        os.chdir("/")
    return user


def immortality_works():
    """Whether writing IMMORTAL in a reference count's low 32 bits makes an object immortal here:
    the count's layout is CPython's own, so only 3.12 and 3.13 on 64 bits with the global
    interpreter lock (3.14 keeps flags in the high half), and only where a throwaway object's
    count is where it is looked for and then neither an increment nor a decrement touches it."""
    if (sys.implementation.name != "cpython" or not (3, 12) <= sys.version_info[:2] <= (3, 13)
            or sys.maxsize < 2**63 - 1 or sys.byteorder != "little" or hasattr(sys, "getobjects")
            or sysconfig.get_config_var("Py_GIL_DISABLED")):
        return False
    probe = bytearray(8)  # kept for ever once immortal: eight bytes
    count = ctypes.c_uint32.from_address(id(probe))
    if count.value != sys.getrefcount(probe) - 1:
        return False
    count.value = IMMORTAL
    held = [probe]
    raised = count.value
    del held
    return raised == count.value == IMMORTAL


def share_preloaded():
    """Make every object the factory holds immortal and leave it out of garbage collection, so that
    a forked child that only reads an object does not copy the page it lives on. Without this, most
    of what a forked server or kernel owns alone is such copies: pages written by a reference
    count's increment and decrement, or by a collection passing over them, and equal to the
    factory's again afterwards. Called once, after the imports and before the first fork: what is
    here then lives as long as the factory and its children anyway. Returns how many objects it
    made immortal."""
    if not immortality_works():
        print("factory: this Python's objects cannot be made immortal; children copy more pages",
              file=sys.stderr)
        return 0
    gc.collect()
    pending = gc.get_objects()
    pending += sys.modules.values()
    made = 0
    while pending:
        obj = pending.pop()
        if obj is pending or type(obj) is types.FrameType:  # this walk's own, and its locals
            continue
        count = ctypes.c_uint32.from_address(id(obj))
        if count.value >= 1 << 31:
            continue  # immortal already: walked, or one of the interpreter's own
        count.value = IMMORTAL
        made += 1
        if type(obj) is types.CodeType:
            # Not tracked by the collector, which therefore lists nothing it refers to.
            pending += (obj.co_consts, obj.co_names, obj.co_filename, obj.co_name, obj.co_qualname,
                        obj.co_linetable, obj.co_exceptiontable, *obj.co_varnames, *obj.co_freevars,
                        *obj.co_cellvars)
        else:
            pending += gc.get_referents(obj)
    gc.freeze()
    return made


def make_dumpable():
    """A process that changed uid without exec is not dumpable: its /proc files stay root's and
    its owner could neither read its memory figures nor debug it. An exec'd one is; so is this."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_DUMPABLE, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_DUMPABLE)")


def reset_signals():
    """The dispositions a freshly started Python has: the factory's own handlers must not run in
    a user's program."""
    for number in (signal.SIGCHLD, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT, signal.SIGUSR1, signal.SIGUSR2):
        signal.signal(number, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.pthread_sigmask(signal.SIG_SETMASK, [])


def show_as(argv):
    """What `ps` shows for the process: the command a plain start would have run."""
    if setproctitle is not None:
        setproctitle.setproctitle(" ".join(argv))


#: The factory's environment as its Python started, before it imported anything.
STARTED_WITH = dict(os.environ)


def set_by_imports():
    """Variables the factory's imports set in its environment (debugpy sets PYDEVD_USE_FRAME_EVAL):
    a forked process keeps them, as its own imports would have set them."""
    return {name: value for name, value in os.environ.items() if STARTED_WITH.get(name) != value}


def take_up_environment(env):
    """Make `env` the process's environment, and what Python and the libraries both factories
    import took from the factory's environment and working folder at their start follow it."""
    env = {**set_by_imports(), **env}
    os.environ.clear()
    os.environb.clear()  # a mapping of its own, which os.environ's changes do not reach
    os.environ.update(env)
    os.environb.update((os.fsencode(name), os.fsencode(value)) for name, value in env.items())
    try:
        locale.setlocale(locale.LC_CTYPE, "")  # as an interpreter's start sets it
    except locale.Error:
        pass
    time.tzset()
    follow_in_imported_modules()


def follow_in_imported_modules():
    """Values modules worked out from the environment or the working folder when they were
    imported, worked out again (found by comparing every module's globals, class attributes and
    traitlets defaults after a factory's imports, as the factory and as a user; the integration
    test test_factory.py makes that comparison)."""
    modules = sys.modules
    site = modules["site"]  # imported by every start but `python -S`, which no factory is
    site.USER_BASE = site.USER_SITE = None  # worked out again from HOME when next asked
    for name in ("distutils.command.install", "setuptools._distutils.command.install"):
        if name in modules:
            modules[name].USER_BASE, modules[name].USER_SITE = site.getuserbase(), site.getusersitepackages()
    config = getattr(modules.get("sysconfig"), "_CONFIG_VARS", None)
    if config and "userbase" in config:
        config["userbase"] = site.getuserbase()
    if "logging" in modules:  # what a record's relativeCreated counts from
        started = modules["logging"]._startTime
        modules["logging"]._startTime = time.time_ns() if isinstance(started, int) else time.time()
    if "multiprocessing.process" in modules:
        process = modules["multiprocessing.process"]
        process.ORIGINAL_DIR = os.path.abspath(os.getcwd())
        # The key its connections authenticate with, drawn once per process at its import: a
        # process of its own, a key of its own, or every user's processes would share one.
        process._current_process._config["authkey"] = process.AuthenticationString(os.urandom(32))
    if "wsgiref.handlers" in modules:
        modules["wsgiref.handlers"].BaseHandler.os_environ = modules["wsgiref.handlers"].read_environ()
    if "IPython.utils.terminal" in modules:  # whether it may set a terminal's title
        modules["IPython.utils.terminal"].TERM = os.environ.get("TERM", "")
    if "jupyter_client.session" in modules:
        set_class_default(modules["jupyter_client.session"].Session, "username", os.environ.get("USER", "username"))


def set_class_default(cls, name, value):
    """Give a traitlets class's trait `name` another default: on the trait, and in each class (this
    one and its subclasses) that copied it as the initial value of its instances."""
    trait = cls.class_traits()[name]
    before, trait.default_value = trait.default_value, value
    classes = [cls]
    while classes:
        each = classes.pop()
        classes += each.__subclasses__()
        initial = each.__dict__.get("_static_immutable_initial_values")
        if (initial is not None and name in initial and initial[name] == before
                and each.class_traits().get(name) is trait):
            initial[name] = value


def only_one(socket_path):
    """Exit at once if this factory runs already (the hub and its spawner may both start it);
    the lock is held for the process's life and released by its end, however it ends."""
    import fcntl

    os.makedirs(os.path.dirname(socket_path), mode=0o755, exist_ok=True)
    lock = os.open(f"{socket_path}.lock", os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        raise SystemExit(0) from None
    return lock


def peer_of(connection):
    """(pid, uid, gid) of the process at the other end, as the kernel saw it connect."""
    creds = connection.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    return struct.unpack("3i", creds)


def reply(connection, **answer):
    try:
        connection.sendall(json.dumps(answer).encode() + b"\n")
    except OSError:
        pass  # the asker gave up: it starts the plain way


def only_strings(value, field):
    if not (isinstance(value, list) and value and all(isinstance(v, str) for v in value)):
        raise Refused(f"{field}: a non-empty list of strings")
    return value


def string_map(value, field):
    if not (isinstance(value, dict) and all(isinstance(k, str) and isinstance(v, str) and k and "=" not in k
                                            and "\0" not in k + v for k, v in value.items())):
        raise Refused(f"{field}: names and values must be strings")
    return value


def fork_detached(child):
    """Run `child()` in a grandchild whose parent is the container's init, not this factory:
    a factory that dies or restarts takes no server or kernel with it, and init reaps them. The
    grandchild never returns here. Returns once the intermediate child has exited."""
    middle = os.fork()
    if middle == 0:
        try:
            if os.fork() == 0:
                status = 1
                try:
                    os.setsid()
                    status = child()
                except SystemExit as e:
                    status = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
                except BaseException:
                    import traceback

                    traceback.print_exc()
                finally:
                    sys.stdout.flush()
                    sys.stderr.flush()
                    os._exit(status or 0)
        finally:
            os._exit(0)
    os.waitpid(middle, 0)


class Factory:
    """The socket loop: single-threaded, so that every fork copies one thread. Each connection is
    handed to a forked child before anything is read from it: a request (a user's environment,
    with their tokens) never enters the factory's memory, which every later fork copies, freed
    or not, into another user's process."""

    def __init__(self, socket_path, mode, allowed, serve):
        self.socket_path = socket_path
        self.mode = mode
        self.allowed = allowed  # (pid, uid, gid) -> reason for refusing, or None
        # In the forked child: (peer, connection) -> exit status. It reads the request itself
        # (read_request) and answers; a Refused or ValueError it raises is answered for it.
        self.serve = serve

    def listen(self):
        folder = os.path.dirname(self.socket_path)
        os.makedirs(folder, mode=0o755, exist_ok=True)
        fresh = f"{self.socket_path}.{os.getpid()}"
        try:
            os.unlink(fresh)
        except FileNotFoundError:
            pass
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        listener.bind(fresh)
        os.chmod(fresh, self.mode)
        listener.listen(128)
        # Bound under a name of its own, then renamed: an asker never finds a half-made socket.
        os.rename(fresh, self.socket_path)
        return listener

    def run(self):
        threads = len(os.listdir("/proc/self/task"))
        if threads != 1:
            raise SystemExit(f"{threads} threads after importing: a fork would copy a process whose "
                             "other threads are gone; not serving")
        listener = self.listen()
        print(f"factory ready on {self.socket_path} (pid {os.getpid()})", file=sys.stderr, flush=True)
        while True:
            self.accept(listener)

    def accept(self, listener):
        try:
            connection, _ = listener.accept()
        except OSError:
            return
        with connection:
            peer = peer_of(connection)
            refusal = self.allowed(*peer)
            if refusal:
                reply(connection, error=refusal)
                return
            try:
                fork_detached(lambda: self.in_child(listener, connection, peer))
            except OSError as e:
                reply(connection, error=f"could not fork: {e}")

    def in_child(self, listener, connection, peer):
        listener.close()
        try:
            return self.serve(peer, connection)
        except (Refused, ValueError) as e:
            reply(connection, error=str(e))
            return 1


def read_request(connection):
    """The asker's request: one JSON object on one line, of at most MAX_REQUEST bytes, whole
    within REQUEST_SECONDS."""
    deadline = time.monotonic() + REQUEST_SECONDS
    received = b""
    while b"\n" not in received:
        if len(received) > MAX_REQUEST:
            raise Refused(f"a request is at most {MAX_REQUEST} bytes")
        left = deadline - time.monotonic()
        if left <= 0:
            raise Refused(f"no whole request within {REQUEST_SECONDS} s")
        connection.settimeout(left)
        try:
            chunk = connection.recv(65536)
        except TimeoutError:
            continue
        if not chunk:
            raise Refused("the request ended before its end of line")
        received += chunk
    connection.settimeout(None)
    request = json.loads(received.split(b"\n", 1)[0])
    if not isinstance(request, dict):
        raise Refused("a request is a JSON object")
    return request


def in_child_shed(connections, keep=()):
    """In a forked child: close the factory's sockets as objects (so that no later garbage
    collection closes a descriptor number the program reuses), then every other descriptor."""
    for connection in connections:
        connection.close()
    for fd in [int(name) for name in os.listdir("/proc/self/fd")]:
        if fd > 2 and fd not in keep:
            try:
                os.close(fd)
            except OSError:
                pass  # the listing's own descriptor, closed already
