"""The kernel factory: a root process running the course environment's Python, which has imported
ipykernel, numpy and pandas once, and forks each user's Python kernel from itself as that user.

Run as a script by the course environment's Python (`factory.keeper` starts it): nothing of
hubsetup is installed there, so it imports only `forking`, from its own folder.

Any user's server (or shell) may ask: the kernel becomes the uid the kernel saw connect
(SO_PEERCRED), never one the request names, and only an account of the hub's range (not root,
not a grading sandbox's throwaway uid). A user's processes are counted as their process limit
counts them, since a fork by root is not held to it. The kernel exits when the server that asked
for it does, as a plainly started kernel does when its parent goes.
"""

import argparse
import importlib
import os
import pwd
import select
import sys
import threading

# Run as a script, without -P (kernels take sys.flags from here: with safe_path set, IPython
# would leave the notebook's folder off the path), so Python put this folder first on the path.
# It stays there only for this import.
if os.path.realpath(sys.path[0]) != os.path.dirname(os.path.realpath(__file__)):
    raise SystemExit("run the kernel factory as a script")
import forking  # noqa: E402

del sys.path[0]

#: The kernel's own start (its shell, debugger, history) and the libraries of a first lesson.
#: Not matplotlib: it reads the user's matplotlibrc and config folder when it is imported.
PRELOADED = ("ipykernel.kernelapp", "ipykernel.ipkernel", "ipykernel.zmqshell", "ipykernel.debugger",
             "IPython.core.interactiveshell", "sqlite3", "psutil", "pdb", "pydoc", "http.server",
             "xmlrpc.server", "numpy", "pandas")
LAUNCHER = "ipykernel_launcher"


def preload():
    for name in PRELOADED:
        try:
            importlib.import_module(name)
        except Exception as e:
            print(f"kernel factory: not pre-imported: {name} ({e})", file=sys.stderr)


def preloaded_packages():
    """Top-level names of what the factory imported from site-packages: a user who installed their
    own copy of one in ~/.local gets a plainly started kernel, which imports theirs."""
    names = set()
    for name, module in list(sys.modules.items()):
        path = getattr(module, "__file__", None) or ""
        if "site-packages" in path:
            names.add(name.partition(".")[0])
    return names


def request_of(request):
    """(the kernel's arguments, its environment, its working folder) of a request for the kernel
    this factory makes, or Refused."""
    argv = forking.only_strings(request.get("argv"), "argv")
    env = forking.string_map(request.get("env"), "env")
    cwd = request.get("cwd")
    if not isinstance(cwd, str) or not cwd.startswith("/"):
        raise forking.Refused("cwd: an absolute path")
    expected = [*forking.KERNEL_OPTIONS, "-m", LAUNCHER]
    if argv[1:len(expected) + 1] != expected or os.path.realpath(argv[0]) != os.path.realpath(sys.executable):
        raise forking.Refused(f"not a kernel of {sys.executable} {' '.join(expected)}")
    if any(name.startswith("PYTHON") for name in env):
        raise forking.Refused("PYTHON* variables are read at an interpreter's start")
    return argv[len(expected) + 1:], env, cwd


def processes_of(uid):
    """Processes and threads of `uid`, as RLIMIT_NPROC counts them."""
    count = 0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            if os.stat(f"/proc/{entry}").st_uid != uid:
                continue
            count += len(os.listdir(f"/proc/{entry}/task"))
        except OSError:
            continue  # gone meanwhile
    return count


class KernelFactory:
    def __init__(self, options):
        self.options = options
        self.packages = preloaded_packages()

    def allowed(self, pid, uid, gid):
        try:
            user = pwd.getpwuid(uid)
        except KeyError:
            return "no account has this uid"
        if uid < self.options.first_uid or not user.pw_dir.startswith(self.options.home_root + "/"):
            return "only the hub's users get kernels here"
        if processes_of(uid) >= self.options.process_limit:
            return f"{user.pw_name} runs {self.options.process_limit} processes already"
        return None

    def serve(self, peer, connection):
        """In the forked child: become the user who connected (so that while it reads, this
        process counts against their process limit like any of theirs), read and check their
        request, answer with our pid, shed everything of the factory, then run the kernel."""
        server_pid, uid, _ = peer
        options = self.options
        try:
            account = forking.become_user(pwd.getpwuid(uid).pw_name, options.umask, options.process_limit,
                                          options.oom_score_adj)
            forking.make_dumpable()
            kernel_args, env, cwd = request_of(forking.read_request(connection))
            server = os.pidfd_open(server_pid)  # opened while the asker waits: it is the asker's process
            os.chdir(cwd)
            own = self.own_copies(account.pw_dir)
            if own:
                raise forking.Refused(f"own {', '.join(sorted(own))} in ~/.local")
        except Exception as e:
            forking.reply(connection, error=str(e) if isinstance(e, forking.Refused) else f"{type(e).__name__}: {e}")
            return 1
        forking.reply(connection, pid=os.getpid())
        forking.in_child_shed([connection], keep={server})
        forking.reset_signals()
        forking.show_as([sys.executable, *forking.KERNEL_OPTIONS, "-m", LAUNCHER, *kernel_args])
        self.take_up(env)
        # Nothing put first on the path: ipykernel_launcher takes out the folder `python -m` puts
        # there, and the shell then puts '' before site-packages, here as in a plain kernel.
        sys.argv = [LAUNCHER, *kernel_args]
        threading.Thread(target=exit_with, args=(server,), daemon=True, name="server-watch").start()
        from ipykernel import kernelapp

        kernelapp.launch_new_instance(argv=kernel_args)
        return 0

    def take_up(self, env):
        """In a forked kernel: the user's environment, and what pre-imported modules took from the
        factory at their import taken again."""
        forking.take_up_environment(env)
        numpy_random = sys.modules.get("numpy.random")
        if numpy_random is not None:
            numpy_random.seed()  # its global generator was seeded once, in the factory, for all
        kernelapp = sys.modules.get("ipykernel.kernelapp")
        if kernelapp is not None:
            # The server that asked, as ipykernel reads it at its import. A plain kernel is that
            # server's child and watches it (ParentPollerUnix); a forked one is the container
            # init's, which the poller would take for its parent having gone, so it watches the
            # server through exit_with instead.
            forking.set_class_default(kernelapp.IPKernelApp, "parent_handle", int(os.environ.get("JPY_PARENT_PID") or 0))
            kernelapp.IPKernelApp.init_poller = lambda app: None
        self.add_user_site()

    def user_site(self):
        import site

        site.USER_BASE = site.USER_SITE = None  # worked out again from this user's HOME
        return site.getusersitepackages()

    def own_copies(self, home):
        os.environ["HOME"] = home
        try:
            present = os.listdir(self.user_site())
        except OSError:
            return set()
        return {name.partition(".")[0].partition("-")[0] for name in present} & self.packages

    def add_user_site(self):
        """The user's site where Python's start puts it: after a virtual environment's own
        site-packages (`site.venv` adds them first), before the system's."""
        import site

        path = self.user_site()
        if not os.path.isdir(path):
            return
        before = list(sys.path)
        site.addsitedir(path)
        added = [entry for entry in sys.path if entry not in before]
        in_venv = sys.prefix != sys.base_prefix
        own = [i for i, entry in enumerate(before) if in_venv and entry.startswith(sys.prefix + "/")]
        at = own[-1] + 1 if own else next(
            (i for i, entry in enumerate(before) if entry.endswith(("site-packages", "dist-packages"))), len(before))
        sys.path[:] = before[:at] + added + before[at:]


def exit_with(server):
    """Exit when the server that asked for this kernel has exited."""
    select.select([server], [], [])
    os._exit(1)


def parse(argv):
    parser = argparse.ArgumentParser(description="Fork users' Python kernels from a pre-loaded parent.")
    parser.add_argument("--first-uid", type=int, required=True)
    parser.add_argument("--home-root", default="/home")
    parser.add_argument("--process-limit", type=int, required=True)
    parser.add_argument("--oom-score-adj", type=int, required=True)
    parser.add_argument("--umask", type=lambda v: int(v, 8), required=True)
    return parser.parse_args(argv)


def main(argv=None):
    options = parse(argv)
    forking.only_one(forking.KERNEL_SOCKET)
    preload()
    factory = KernelFactory(options)
    forking.share_preloaded()
    forking.Factory(forking.KERNEL_SOCKET, 0o666, factory.allowed, factory.serve).run()


if __name__ == "__main__":
    main()
