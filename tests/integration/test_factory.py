"""Servers and kernels forked by the factories (hubsetup.factory, on by default in local mode)
are the user's own, as plainly started ones are: credentials, groups, descriptors, environment,
limits and reach; stopping a server ends its kernels; a factory that dies takes no server with it
and the next start still works; what the kernel factory's socket is asked by a user, a grading
sandbox's uid or a stranger's request is refused; what a factory imported stays shared with a
child that only reads it."""

import datetime
import json
import re
import time

from harness import kernels
from harness.stack import wait_until

# What a user's code sees of its processes, printed as JSON by a kernel.
SELF = """
import json, locale, os, resource, sys, time
def status(pid, *names):
    lines = dict(line.split(":", 1) for line in open(f"/proc/{pid}/status"))
    return {name: lines[name].split() for name in names}
server = int(os.environ["JPY_PARENT_PID"])
print(json.dumps({
    "env": dict(os.environ), "cwd": os.getcwd(), "umask": os.umask(0o007),
    "nproc": resource.getrlimit(resource.RLIMIT_NPROC), "oom": open("/proc/self/oom_score_adj").read().strip(),
    "kernel": status("self", "Uid", "Gid", "Groups"), "server": status(server, "Uid", "Gid", "Groups"),
    "server_pid": server, "kernel_pid": os.getpid(),
    "path": sys.path, "locale": locale.getlocale(), "tzname": time.tzname,
    "environb": {os.fsdecode(k): os.fsdecode(v) for k, v in os.environb.items()}, "flags": list(sys.flags),
}))
"""

# Run by each factory's Python: builds what a factory's imports leave behind (many small objects),
# shares it or not (argv[2]), forks, and reports how much the child copied by only reading it and
# collecting garbage, as a server or kernel at its start would; then that objects still behave.
SHARING = """
import gc, json, os, sys, weakref
sys.path.insert(0, sys.argv[1])
import forking

def private_kb():
    with open("/proc/self/smaps_rollup") as f:
        return sum(int(line.split()[1]) for line in f if line.startswith("Private_Dirty:"))

lesson = [{"name": f"cell {i}", "source": [f"x = {i}", "print(x)"]} for i in range(100_000)]
made = forking.share_preloaded() if sys.argv[2] == "shared" else 0
answer_from, answer_to = os.pipe()
if os.fork() == 0:
    before = private_kb()
    lines = sum(len(cell["source"]) for cell in lesson)
    gc.collect()
    copied = private_kb() - before
    lesson[0]["name"] = "changed"
    lesson.append({"name": "new"})
    class Note: pass
    note, freed = Note(), []
    weakref.finalize(note, freed.append, True)
    del note
    os.write(answer_to, json.dumps({"copied_kb": copied, "lines": lines, "made": made,
                                    "frozen": gc.get_freeze_count(), "changed": lesson[0]["name"],
                                    "new_objects_freed": freed == [True]}).encode())
    os._exit(0)
os.wait()
print(os.read(answer_from, 65536).decode())
"""

# Run by a factory's Python, as root in the factory's environment or as the user in theirs: imports
# what that factory imports, and (as root) forks a child that becomes the user and takes up their
# environment as a forked server or kernel does; prints a fingerprint of every module's globals,
# class attributes and traitlets defaults that are plain values. Both run with one hash seed, so
# that what is built by iterating a set comes out in one order.
FOLLOWS = r"""
import json, os, re, sys
mode, which, login, folder = sys.argv[1:5]
os.chdir("/" if mode == "factory" else os.path.expanduser("~"))
sys.path.insert(0, folder)
if which == "servers":
    del sys.path[0]
    from hubsetup.factory import forking, servers
    servers.preload()
    take_up = servers.take_up
else:
    import kernels  # as its keeper runs it: a script, its folder first on the path
    import forking
    kernels.preload()
    take_up = kernels.KernelFactory(kernels.parse(["--first-uid", "2000", "--process-limit", "512",
                                                   "--oom-score-adj", "900", "--umask", "7"])).take_up
SIMPLE = (str, int, float, bytes, bool, type(None))
def plain(value, depth=0):
    if isinstance(value, SIMPLE):
        return re.sub(r"0x[0-9a-f]+", "0x", repr(value))[:400]
    if depth < 2 and isinstance(value, (tuple, list, set, frozenset, dict)):
        items = value.items() if isinstance(value, dict) else enumerate(value)
        parts = [(plain(k, depth + 1) if isinstance(value, dict) else "", plain(v, depth + 1)) for k, v in items]
        return None if any(None in part for part in parts) else repr(sorted(parts))
    return None
def fingerprint():
    from traitlets import TraitType
    seen = {}
    for name, module in list(sys.modules.items()):
        for key, value in list(getattr(module, "__dict__", {}).items()):
            seen[f"{name}.{key}"] = plain(value)
            if isinstance(value, type) and value.__module__ == name:
                for attribute, member in list(vars(value).items()):
                    seen[f"{name}.{key}.{attribute}"] = plain(member)
                    if isinstance(member, TraitType):
                        seen[f"{name}.{key}.{attribute}:default"] = plain(member.default_value)
    return {key: value for key, value in seen.items() if value is not None}
if mode == "plain":
    print(json.dumps(fingerprint()))
else:
    env = json.loads(sys.stdin.read())
    read, write = os.pipe()
    if os.fork() == 0:
        forking.become_user(login, 0o007, 512, 900)
        take_up(env)
        os.write(write, json.dumps(fingerprint()).encode())
        os._exit(0)
    os.close(write)
    chunks = iter(lambda: os.read(read, 1 << 20), b"")
    answer = b"".join(chunks)
    os.wait()
    print(answer.decode())
"""

# What may differ between a forked and a plain start without a user's environment in it: the
# process's own addresses, clock and pid, the modules' caches of CPU times, the factory's startup
# environment (kept apart on purpose; os.environ is the user's), and the help text of Debian's
# `setup.py install --user`, which names root's user site and which no server shows.
PER_PROCESS = re.compile(r"^(sys|__main__|__mp_main__)\.|_addr$|\._sa_instrumented$|_NO_STATE_SYMBOLS$"
                         r"|^logging\._startTime$|^psutil\._last_cpu_times|timestamp_zero$|_last_log_time$"
                         r"|pydevd_schema_log\._pid(_msg)?$|^(hubsetup\.factory\.)?forking\.STARTED_WITH$|^posix\.environ$"
                         r"|^_distutils_system_mod\.install\.user_options$")

# Run by a user: which of the given processes of theirs hold the bytes read on standard input
# anywhere in their memory.
HOLDS = """
import json, sys
needle = sys.stdin.buffer.read()
holding = []
for pid in sys.argv[1:]:
    with open(f"/proc/{pid}/maps") as maps, open(f"/proc/{pid}/mem", "rb", buffering=0) as mem:
        for line in maps:
            span, mode = line.split()[:2]
            start, end = (int(x, 16) for x in span.split("-"))
            if "r" not in mode:
                continue
            try:
                mem.seek(start)
                if needle in mem.read(end - start):
                    holding.append(int(pid))
                    break
            except OSError:
                continue
print(json.dumps(holding))
"""

# Variables that differ from one start to the next whoever starts the server.
PER_START = {"JUPYTERHUB_API_TOKEN", "JPY_API_TOKEN", "JUPYTERHUB_SERVICE_URL", "JPY_PARENT_PID", "JPY_SESSION_NAME"}

# Asked of the kernel factory from a user's kernel: each must come back refused.
ASK_FACTORY = """
import json, os, socket
def ask(request):
    with socket.socket(socket.AF_UNIX) as s:
        s.connect("/run/teaching-hub-factory/kernels.sock")
        s.sendall(json.dumps(request).encode() + b"\\n")
        return json.loads(s.makefile().readline())
base = {"argv": ["/opt/course/bin/python", "-Xfrozen_modules=off", "-m", "ipykernel_launcher", "-f", "/tmp/none.json"],
        "env": {"HOME": os.environ["HOME"]}, "cwd": os.environ["HOME"]}
answers = {
    "shell": ask({**base, "argv": ["/bin/sh", "-c", "id > /tmp/owned"]}),
    "other_home": ask({**base, "cwd": "/home/eleve2"}),
    "pythonpath": ask({**base, "env": {"PYTHONPATH": "/tmp"}}),
    "not_json": None,
}
with socket.socket(socket.AF_UNIX) as s:
    s.connect("/run/teaching-hub-factory/kernels.sock")
    s.sendall(b"[1, 2]\\n")
    answers["not_json"] = json.loads(s.makefile().readline())
try:
    socket.socket(socket.AF_UNIX).connect("/run/teaching-hub-factory/servers.sock")
    answers["servers"] = "connected"
except PermissionError:
    answers["servers"] = "refused"
print(json.dumps(answers))
"""

# Run as root in the hub's container: a uid of the grading sandbox's range (no account) asks.
SANDBOX_ASKS = """
import json, os, socket
os.setgroups([]); os.setgid(1900000123); os.setuid(1900000123)
with socket.socket(socket.AF_UNIX) as s:
    s.connect("/run/teaching-hub-factory/kernels.sock")
    print(s.makefile().readline())
"""


class LogFromNow:
    """The hub's log from now on, however much of it came before (`stack.logs` is its tail)."""

    def __init__(self, stack):
        self.stack = stack
        self.since = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")

    def count(self, text):
        return self.stack.logs(since=self.since).count(text)


def fresh_server(client, login, password):
    session = client(login)
    assert session.log_in(password)
    session.stop_server()
    wait_until(lambda: not user_processes(session.stack, login), f"{login}'s processes did not end", timeout=60)
    session.start_server()
    return session


def user_processes(stack, login):
    """{pid: command} of the login's processes, as root sees them in /proc (what `ps` shows)."""
    uid = stack.uid_of(login)
    listing = stack.exec("python3", "-c", (
        "import json, os\n"
        f"print(json.dumps({{p: open(f'/proc/{{p}}/cmdline', 'rb').read().replace(b'\\0', b' ').decode() "
        f"for p in os.listdir('/proc') if p.isdigit() and os.stat(f'/proc/{{p}}').st_uid == {uid}}}))")).stdout
    return {int(pid): command for pid, command in json.loads(listing).items()}


def seen_by_kernel(session):
    output, state = kernels.execute(session, SELF)
    assert state == "idle", output
    return json.loads(output)


def assert_same_start(forked, plain):
    """The same user, limits, environment, import path, interpreter flags and locale, whichever way
    each started."""
    for key in ("cwd", "umask", "nproc", "oom", "kernel", "server", "path", "flags", "locale", "tzname"):
        assert forked[key] == plain[key], (key, forked[key], plain[key])
    same = {k: v for k, v in forked["env"].items() if k not in PER_START}
    assert same == {k: v for k, v in plain["env"].items() if k not in PER_START}
    assert forked["environb"] == forked["env"] and plain["environb"] == plain["env"]


def factory_pid(stack, module):
    return int(stack.exec("sh", "-c", f"grep -l 'factory[./]{module}' /proc/[0-9]*/cmdline | head -1 | cut -d/ -f3").stdout)


def kill(stack, pid):
    stack.exec("sh", "-c", f"kill -9 {pid}")  # the shell's: the image has no kill program


def test_a_forked_server_and_kernel_are_the_users_own(stack, client):
    log = LogFromNow(stack)
    session = fresh_server(client, "eleve1", "eleve1pw")
    seen = seen_by_kernel(session)
    assert log.count("Forked eleve1's server") == 1
    assert log.count("Kernel forked from the kernel factory") == 1
    uid, groups = str(stack.uid_of("eleve1")), sorted(stack.exec("id", "-G", "eleve1").stdout.split())
    for process in ("server", "kernel"):
        assert seen[process]["Uid"] == [uid] * 4 and seen[process]["Gid"] == [uid] * 4, seen[process]
        assert sorted(seen[process]["Groups"]) == groups, (process, seen[process], groups)
    assert seen["cwd"] == "/home/eleve1" and seen["umask"] == 0o007 and seen["oom"] == "900"
    assert seen["nproc"] == [512, 512]
    # The server's login cookie is sent to it alone, not to every server of the host (where another
    # user's code would read it): its path is the user's prefix, as a plain start sets it.
    assert [cookie.path for cookie in session.cookies if cookie.name == "jupyterhub-user-eleve1"] == ["/user/eleve1/"]
    # `ps` shows the user as the owner and the command a plain start runs.
    commands = user_processes(stack, "eleve1")
    assert commands[seen["server_pid"]].startswith("jupyterhub-singleuser ")
    assert "-m ipykernel_launcher -f " in commands[seen["kernel_pid"]]
    # Nothing the factories hold open reached the user's processes.
    held = set()
    for module in ("servers", "kernels"):
        links = stack.exec("sh", "-c", f"for fd in /proc/{factory_pid(stack, module)}/fd/*; do readlink $fd; done").stdout
        held |= {link for link in links.split() if "socket:" in link or "teaching-hub-factory" in link}
    for pid in (seen["server_pid"], seen["kernel_pid"]):
        links = stack.exec("sh", "-c", f"for fd in /proc/{pid}/fd/*; do readlink $fd; done", user="eleve1").stdout.split()
        assert links and not held & set(links), (pid, held & set(links))
        assert not any("teaching-hub-factory" in link for link in links)
    # The reach of the user's code: not another home, not the hub's state.
    output, _ = kernels.execute(session, (
        "import os\nfor path in ('/home/eleve2', '/srv/jupyterhub/state'):\n"
        "    try:\n        os.listdir(path); print('read', path)\n"
        "    except PermissionError:\n        print('refused', path)\n"))
    assert output.split() == ["refused", "/home/eleve2", "refused", "/srv/jupyterhub/state"], output


def test_a_dead_factory_stops_no_server_and_the_next_start_still_works(stack, client):
    # A user site (what `pip install --user` makes) has its place on the path in both starts.
    stack.exec("mkdir", "-p", "/home/eleve1/.local/lib/python3.13/site-packages", user="eleve1")
    forked = fresh_server(client, "eleve1", "eleve1pw")
    before = seen_by_kernel(forked)
    log = LogFromNow(stack)
    # No kernel factory: the running server starts its next kernel the plain way.
    kill(stack, factory_pid(stack, "kernels"))
    plain_kernel = seen_by_kernel(forked)
    assert log.count("Kernel started the plain way") == 1
    assert_same_start(before, plain_kernel)
    # No server factory: the running server goes on, the next start is plain, and the factories
    # are started again.
    kill(stack, factory_pid(stack, "servers"))
    assert kernels.execute(forked, "print(6 * 7)")[0].strip() == "42"
    plain = fresh_server(client, "eleve1", "eleve1pw")
    assert log.count("eleve1's server starts the plain way") == 1
    assert_same_start(before, seen_by_kernel(plain))
    wait_until(lambda: log.count("factory ready on /run/teaching-hub-factory/servers.sock") == 1,
               "the server factory was not started again", timeout=60)
    again = LogFromNow(stack)
    fresh_server(client, "eleve2", "eleve2pw")
    assert again.count("Forked eleve2's server") == 1


def test_stopping_a_forked_server_ends_its_kernels(stack, client):
    session = fresh_server(client, "eleve2", "eleve2pw")
    seen = seen_by_kernel(session)
    assert {seen["server_pid"], seen["kernel_pid"]} <= set(user_processes(stack, "eleve2"))
    session.stop_server()
    wait_until(lambda: not user_processes(stack, "eleve2"), "eleve2's server or kernel outlived the stop", timeout=60)


def test_a_server_killed_outright_takes_its_forked_kernels_with_it(stack, client):
    session = fresh_server(client, "eleve2", "eleve2pw")
    seen = seen_by_kernel(session)
    kill(stack, seen["server_pid"])
    wait_until(lambda: seen["kernel_pid"] not in user_processes(stack, "eleve2"),
               "the kernel outlived its server", timeout=30)


def test_the_kernel_factory_refuses_what_it_must_not_fork(stack, client):
    session = fresh_server(client, "eleve1", "eleve1pw")
    output, state = kernels.execute(session, ASK_FACTORY)
    answers = json.loads(output)
    assert "not a kernel of" in answers["shell"]["error"]
    assert "PYTHON" in answers["pythonpath"]["error"]
    assert "Permission" in answers["other_home"]["error"], answers["other_home"]
    assert "JSON object" in answers["not_json"]["error"]
    assert answers["servers"] == "refused"
    assert stack.exec("test", "-e", "/tmp/owned", check=False).returncode != 0
    refused = json.loads(stack.exec("python3", "-c", SANDBOX_ASKS).stdout)
    assert refused == {"error": "no account has this uid"}
    time.sleep(0.5)
    # The factory is still there for everyone else.
    assert kernels.execute(session, "print('still')")[0].strip() == "still"


def test_what_the_factories_imported_is_set_again_for_each_kernel(stack, client):
    """numpy, pre-imported in the kernel factory, seeded its global generator there once: each
    forked kernel seeds it again, as a fresh import would."""
    session = fresh_server(client, "eleve2", "eleve2pw")
    draws = [kernels.execute(session, "import numpy; print(numpy.random.randint(2**62))")[0].strip() for _ in range(2)]
    assert draws[0] != draws[1], draws


def test_a_factorys_objects_stay_shared_with_a_child_that_only_reads_them(stack):
    """share_preloaded makes what a factory imported immortal and frozen, so that reading it and
    collecting garbage write none of its pages: checked under both factories' Pythons against the
    same objects left as they are, which the child copies (the check would see copying)."""
    folder = stack.exec("python3", "-c", "import os, hubsetup.factory as f; print(os.path.dirname(f.__file__))").stdout.strip()
    for python in ("/opt/venv/bin/python", "/opt/course/bin/python"):
        plain, shared = (json.loads(stack.exec(python, "-c", SHARING, folder, mode).stdout) for mode in ("plain", "shared"))
        assert plain["lines"] == shared["lines"] == 200_000
        assert plain["copied_kb"] > 10_000, (python, plain)  # every page of the lesson's objects
        assert shared["copied_kb"] < plain["copied_kb"] / 10, (python, plain, shared)
        # The lesson's 100 000 dicts and lists, and their 300 000 strings, at least.
        assert shared["made"] > 400_000 and shared["frozen"] > 200_000, (python, shared)
        assert shared["changed"] == "changed" and shared["new_objects_freed"], (python, shared)


def test_what_the_factories_imports_took_from_their_environment_is_the_users_in_a_forked_child(stack, client):
    """Every plain value of every module, class and traitlets default after a factory's imports,
    in a child forked as a forked server or kernel is and given the user's environment, is what a
    plain start of the same imports as the user sees (found this way: JupyterLab's settings and
    workspaces folders, the kernel session's user name, JupyterLab's language)."""
    session = fresh_server(client, "eleve1", "eleve1pw")
    env = {**seen_by_kernel(session)["env"], "LANG": "fr_FR.UTF-8", "PYTHONHASHSEED": "0"}
    folder = stack.exec("python3", "-c", "import os, hubsetup.factory as f; print(os.path.dirname(f.__file__))").stdout.strip()
    factory_env = ["PATH=/opt/venv/bin:/usr/local/bin:/usr/bin:/bin", "LANG=C.UTF-8", "OPENBLAS_NUM_THREADS=1",
                   "PYTHONHASHSEED=0"]
    for which, python in (("servers", ["/opt/venv/bin/python"]),
                          ("kernels", ["/opt/course/bin/python", "-Xfrozen_modules=off"])):
        forked = json.loads(stack.exec("env", "-i", *factory_env, *python, "-c", FOLLOWS, "factory", which, "eleve1",
                                       folder, input=json.dumps(env)).stdout)
        plain = json.loads(stack.exec("env", "-i", *(f"{k}={v}" for k, v in env.items()), *python, "-c", FOLLOWS,
                                      "plain", which, "eleve1", folder, user="eleve1").stdout)
        assert len(plain) > 10_000, (which, len(plain))
        differ = {key: (forked[key], plain[key]) for key in forked.keys() & plain.keys()
                  if forked[key] != plain[key] and not PER_PROCESS.search(key)}
        assert not differ, (which, differ)
        if which == "servers":  # the comparison saw the value that was wrong
            assert forked["jupyterlab.labapp.LabApp.workspaces_dir:default"] == "'/home/eleve1/.jupyter/lab/workspaces'"


def test_a_forked_process_holds_no_other_users_token(stack, client):
    """A factory reads no request itself (its child does), so what one user's start sent it (their
    server's API token, in the environment) is in no later fork's memory, freed or not, where the
    next user could read it."""
    log = LogFromNow(stack)
    first = seen_by_kernel(fresh_server(client, "eleve1", "eleve1pw"))
    token = first["env"]["JUPYTERHUB_API_TOKEN"].encode()
    second = seen_by_kernel(fresh_server(client, "eleve2", "eleve2pw"))
    assert log.count("Forked eleve2's server") == 1 and log.count("Kernel forked from the kernel factory") == 2
    def holding(login, *pids):
        return json.loads(stack.exec("python3", "-c", HOLDS, *map(str, pids), user=login, input=token.decode()).stdout)

    assert holding("eleve1", first["server_pid"]) == [first["server_pid"]]  # their own has it: the search finds it
    assert holding("eleve2", second["server_pid"], second["kernel_pid"]) == []
