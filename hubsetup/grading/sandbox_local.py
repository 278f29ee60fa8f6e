"""The grading sandbox of the local mode: `runner` as a throwaway uid, in the hub's container.

Each run gets a uid of its own from a reserved range (no account, no group, no home), a
scratch folder only it can enter, limits (CPU seconds, memory per process, processes, file
size, open files), a seccomp filter that refuses every socket but Unix ones (no network:
this container cannot make a network namespace), and the OOM killer's first choice. Afterwards
every process of that uid is killed and its files are removed (scratch, /tmp, /var/tmp,
/dev/shm, courses' inbound folders), before the uid is ever given again.

What it does not give, and a container run does (docs/security.md): the uid may read whatever
is world-readable (the image, /proc's command lines), memory is limited per process, not per
run, and the disk it may fill is bounded only by the file size limit and the wall time.
"""

import ctypes
import errno
import json
import os
import resource
import shutil
import socket
import subprocess
import sys

from .. import safe_paths

# Far above every account's uid (ids.IdPool counts up from FIRST_UID).
RUN_UIDS = range(1_900_000_000, 1_901_000_000)
SCRATCH_ROOT = "/run/teaching-hub/grading"
SHARED_TMP = ("/tmp", "/var/tmp", "/dev/shm")
OPEN_FILES = 256
# libseccomp's constants (seccomp.h).
SCMP_ACT_ALLOW, SCMP_CMP_NE = 0x7FFF0000, 1


class RunUids:
    """The run uids, handed out in turn; a run's uid is cleared before the range comes round."""

    def __init__(self):
        self.next = RUN_UIDS.start

    def take(self):
        uid = self.next
        self.next = uid + 1 if uid + 1 < RUN_UIDS.stop else RUN_UIDS.start
        return uid


def SCMP_ACT_ERRNO(code):
    return 0x00050000 | (code & 0xFFFF)


class Cmp(ctypes.Structure):
    _fields_ = [("arg", ctypes.c_uint), ("op", ctypes.c_int), ("datum_a", ctypes.c_uint64), ("datum_b", ctypes.c_uint64)]


def no_network():
    """From here on, in this process and its children: socket() of any family but AF_UNIX fails
    (EACCES), and io_uring, which could open sockets past that rule, does not exist."""
    lib = ctypes.CDLL("libseccomp.so.2", use_errno=True)
    lib.seccomp_init.restype = ctypes.c_void_p
    lib.seccomp_init.argtypes = [ctypes.c_uint32]
    lib.seccomp_rule_add_array.argtypes = [ctypes.c_void_p, ctypes.c_uint32, ctypes.c_int, ctypes.c_uint, ctypes.POINTER(Cmp)]
    lib.seccomp_load.argtypes = [ctypes.c_void_p]
    lib.seccomp_syscall_resolve_name.argtypes = [ctypes.c_char_p]
    context = lib.seccomp_init(SCMP_ACT_ALLOW)
    if not context:
        raise OSError("seccomp_init failed")
    not_unix = (Cmp * 1)(Cmp(0, SCMP_CMP_NE, socket.AF_UNIX, 0))
    rules = [(SCMP_ACT_ERRNO(errno.EACCES), b"socket", 1, not_unix)]
    rules += [(SCMP_ACT_ERRNO(errno.ENOSYS), name, 0, None) for name in (b"io_uring_setup", b"io_uring_enter", b"io_uring_register")]
    for action, name, count, args in rules:
        number = lib.seccomp_syscall_resolve_name(name)
        if number >= 0 and lib.seccomp_rule_add_array(context, action, number, count, args) != 0:
            raise OSError(f"seccomp rule for {name.decode()} refused")
    # libseccomp sets no_new_privs first: nothing exec'd afterwards gains rights (no setuid bits).
    if lib.seccomp_load(context) != 0:
        raise OSError("seccomp_load failed")


def confine(uid, limits):
    """In the child, as root: limits, the OOM killer's first pick, a lower CPU priority, then the run's uid with no
    group, then the filter. Exits the program on any failure: never runs unconfined."""
    with open("/proc/self/oom_score_adj", "w") as file:
        file.write("1000")
    os.nice(10)  # behind students' servers and the hub for the CPU
    cpu = limits["cpu_seconds"]
    for which, value in ((resource.RLIMIT_CPU, (cpu, cpu + 5)),
                         (resource.RLIMIT_AS, (limits["memory"],) * 2),
                         (resource.RLIMIT_NPROC, (limits["processes"],) * 2),
                         (resource.RLIMIT_FSIZE, (limits["file_size"],) * 2),
                         (resource.RLIMIT_NOFILE, (OPEN_FILES,) * 2),
                         (resource.RLIMIT_CORE, (0, 0))):
        resource.setrlimit(which, value)
    os.setgroups([])
    os.setresgid(uid, uid, uid)
    os.setresuid(uid, uid, uid)
    if os.getuid() != uid or os.geteuid() != uid or os.getgroups():
        raise SystemExit("could not take the sandbox's uid")
    no_network()
    os.umask(0o077)


def environment(scratch):
    """All the runner and kernel get: nothing of the hub's, the teacher's or the student's."""
    return {
        "PATH": "/opt/course/bin:/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8",
        "HOME": scratch, "TMPDIR": os.path.join(scratch, ".tmp"),
        "JUPYTER_RUNTIME_DIR": os.path.join(scratch, ".tmp"), "IPYTHONDIR": os.path.join(scratch, ".tmp", "ipython"),
        "MPLCONFIGDIR": os.path.join(scratch, ".tmp"), "MPLBACKEND": "Agg",
        "NBGRADER_EXECUTION": "autograde",
        # One thread per numerical library: threads count as processes in the limit.
        "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
    }


class LocalSandbox:
    """Starts runs for the broker; `start` returns the running process, `finish` clears up."""

    name = "local"

    def __init__(self, settings):
        self.settings = settings
        self.uids = RunUids()

    def prepare(self):
        """At the service's start: whatever an earlier service left (killed mid-run) goes."""
        os.makedirs(SCRATCH_ROOT, mode=0o711, exist_ok=True)
        os.chown(SCRATCH_ROOT, 0, 0, follow_symlinks=False)
        os.chmod(SCRATCH_ROOT, 0o711, follow_symlinks=False)
        for uid in leftover_uids():
            self._clear(uid)
        for entry in os.listdir(SCRATCH_ROOT):
            shutil.rmtree(os.path.join(SCRATCH_ROOT, entry), ignore_errors=True)

    def start(self, limits):
        uid = self.uids.take()
        scratch = os.path.join(SCRATCH_ROOT, str(uid))
        os.mkdir(scratch, 0o700)
        os.mkdir(os.path.join(scratch, ".tmp"), 0o700)
        for path in (scratch, os.path.join(scratch, ".tmp")):
            os.chown(path, uid, uid, follow_symlinks=False)
        process = subprocess.Popen(
            [sys.executable, "-I", "-m", __name__, str(uid), json.dumps(limits)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            cwd=scratch, env=environment(scratch), start_new_session=True)
        process.sandbox_uid = uid
        return process

    def finish(self, process, ended=True):
        """Its exit status (None if it had to be killed), after clearing up."""
        try:
            status = process.wait(timeout=5 if ended else 0)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
            status = None
        self._clear(process.sandbox_uid)
        return status

    def _clear(self, uid):
        kill_every_process_of(uid)
        shutil.rmtree(os.path.join(SCRATCH_ROOT, str(uid)), ignore_errors=True)
        for folder in SHARED_TMP + tuple(inbound_folders(self.settings)):
            remove_entries_of(uid, folder)


# Run as the uid: kill(-1) reaches every process of it, even while they fork, until none is
# left alive (zombies, dead already, still answer kill() until their parent reaps them).
KILLER = """
import os, time
def alive():
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/stat") as stat:
                state = stat.read().rpartition(")")[2].split()[0]
            if os.stat(f"/proc/{pid}").st_uid == os.getuid() and int(pid) != os.getpid() and state != "Z":
                return True
        except (OSError, IndexError):
            continue
    return False
while True:
    try:
        os.kill(-1, 9)
    except ProcessLookupError:
        break
    if not alive():
        break
    time.sleep(0.01)
"""


def kill_every_process_of(uid):
    """Every process of the run's uid killed. The killer has root's process limit, so a uid
    at its own limit (a fork bomb) still gets one more process: this one."""
    subprocess.run([sys.executable, "-I", "-c", KILLER], user=uid, group=uid, extra_groups=[], env={},
                   cwd="/", check=True, timeout=60)


def leftover_uids():
    uids = set()
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            uid = os.stat(f"/proc/{pid}").st_uid
        except FileNotFoundError:
            continue
        if uid in RUN_UIDS:
            uids.add(uid)
    return uids


def inbound_folders(settings):
    """Courses' inbound folders: any uid may write them (nbgrader's submit needs it)."""
    try:
        courses = os.listdir(settings.exchange_root)
    except FileNotFoundError:
        return []
    return [os.path.join(settings.exchange_root, course, "inbound") for course in courses]


def remove_entries_of(uid, path):
    """Root removes what the run's uid made in a shared folder, through the folder's descriptor
    (reached without following a link: a course's exchange folder is its members' to change);
    after kill_every_process_of, nothing of that uid is left to swap an entry for a link, and
    rmtree does not follow links."""
    try:
        folder = safe_paths.open_path(path)
    except (OSError, safe_paths.Tampered):
        return
    with folder:
        with os.scandir(folder.fd) as listing:
            entries = list(listing)
        for entry in entries:
            try:
                if entry.stat(follow_symlinks=False).st_uid != uid:
                    continue
                if entry.is_dir(follow_symlinks=False):
                    shutil.rmtree(entry.name, dir_fd=folder.fd, ignore_errors=True)
                else:
                    os.unlink(entry.name, dir_fd=folder.fd)
            except FileNotFoundError:
                continue


def main():
    uid, limits = int(sys.argv[1]), json.loads(sys.argv[2])
    try:
        confine(uid, limits)
    except OSError as error:
        raise SystemExit(f"the sandbox could not be set up: {error}")
    os.execv(sys.executable, [sys.executable, "-I", "-m", "hubsetup.grading.runner"])


if __name__ == "__main__":
    main()
