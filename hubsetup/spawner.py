"""Single-user servers as local processes, and the course and role environment every kind of
server gets (processes here, containers in hubsetup.docker_spawners)."""

import asyncio
import html
import os

from jupyterhub.spawner import LocalProcessSpawner
from jupyterhub.utils import exponential_backoff
from tornado.httpclient import AsyncHTTPClient
from traitlets import Bool, Integer, default
from traitlets.config import LoggingConfigurable

from . import courses, lab_menus, registry, server_ports
from .factory import client, forking, keeper
from .settings import UI_LANGUAGES
from .settings import current as current_settings

ROLE_CONFIG_ROOT = "/etc/jupyter/roles"


class CourseRoles(LoggingConfigurable):
    """The UI and nbgrader course of a user's server, from their role in the registry."""

    # The course of the LTI launch that logged the user in, if any (from auth state).
    launch_course = None

    @property
    def settings(self):
        return current_settings()

    def taught_courses(self):
        with registry.connect(self.settings.registry_path, write=False) as db:
            roles = registry.roles_of(db, self.user.name)
        return sorted(course for course, role in roles.items() if role == courses.INSTRUCTOR)

    def chosen_course(self, taught):
        """The course the server's formgrader works on: the one picked on the spawn form, else
        the one the LTI launch came from, else the first."""
        for wanted in (self.user_options.get("course"), self.launch_course):
            if wanted in taught:
                return wanted
        return taught[0]

    def role_environment(self):
        """JUPYTER_CONFIG_PATH of the user's role (what UI they see, its File menu in the hub's
        language) and their course."""
        taught = self.taught_courses()
        role = courses.INSTRUCTOR if taught else courses.STUDENT
        env = {"JUPYTER_CONFIG_PATH": os.pathsep.join([os.path.join(ROLE_CONFIG_ROOT, role),
                                                      lab_menus.folder(role, self.settings.ui_language)])}
        # JupyterLab's default language is the server's locale (users' own choice wins).
        env["LANG"] = UI_LANGUAGES[self.settings.ui_language]
        if taught:
            course = self.chosen_course(taught)
            env["NBGRADER_COURSE_ID"] = course
            env["NBGRADER_COURSE_ROOT"] = courses.instructor_link(self.settings, self.user.name, course)
        return env

    def get_env(self):
        env = super().get_env()
        env.update(self.role_environment())
        return env

    @default("options_form")
    def _course_form_default(self):
        return self.course_form

    @staticmethod
    def course_form(spawner):
        """A course picker, only for instructors of several courses (others spawn at once)."""
        taught = spawner.taught_courses()
        if len(taught) < 2:
            return ""
        options = "".join(
            f'<option value="{html.escape(c)}"{" selected" if c == spawner.chosen_course(taught) else ""}>'
            f"{html.escape(c)}</option>"
            for c in taught
        )
        return f'<label for="course">Course to grade</label><select class="form-control" name="course" id="course">{options}</select>'

    def options_from_form(self, formdata):
        return {"course": formdata.get("course", [""])[0]}


class StartInTurns(LoggingConfigurable):
    """Servers take turns to start instead of all competing for the CPU at once.

    CourseRoles, StartInTurns and hubsetup.docker_spawners.UserContainer are mixins: they go
    before a Spawner class in a spawner's bases."""

    starting_at_once = Integer(
        0,
        help="How many servers may be starting (importing, binding their port) at once; others "
        "wait their turn. Starts are CPU-bound: when a whole class starts together, taking "
        "turns gets every server up sooner than all competing for the CPU. 0: the CPU count.",
    ).tag(config=True)

    _start_turns = None  # one semaphore per hub process, made on first use (in the hub's loop)

    @classmethod
    def start_turns(cls, size):
        if cls._start_turns is None:
            cls._start_turns = asyncio.Semaphore(size or os.cpu_count() or 2)
        return cls._start_turns

    async def start(self):
        """Start in turn with the other servers; a turn lasts until this one answers HTTP."""
        async with self.start_turns(self.starting_at_once):
            ip, port = await super().start()
            await self.wait_until_answering(f"http://{ip}:{port}{self.server.base_url}api")
        status = await self.poll()
        if status is not None:
            # Said now, not after JupyterHub's whole HTTP timeout: the user can try again at once.
            raise RuntimeError(f"the server exited while starting (status {status}): the hub's log says why "
                               "(often memory, processes or a full disk)")
        return ip, port

    async def wait_until_answering(self, url):
        client = AsyncHTTPClient()

        async def answering():
            if await self.poll() is not None:
                return True  # it exited: JupyterHub reports that; give the turn back now
            try:
                await client.fetch(url, raise_error=False, request_timeout=2)
            except Exception:  # not listening yet
                return False
            return True

        await exponential_backoff(answering, f"{url} did not answer", timeout=self.http_timeout)


class ForkedStart(LoggingConfigurable):
    """A local server forked by the server factory (hubsetup.factory) when it answers, started
    the plain way otherwise. Either way the same `become_user` makes the process the user's."""

    server_factory = Bool(
        True,
        help="Ask the server factory to fork users' servers (and start the factories). Off: every "
        "server is a new process that imports everything itself.",
    ).tag(config=True)

    factory_answer_seconds = Integer(
        10, help="How long a spawn waits for the factory's answer before starting the plain way.",
    ).tag(config=True)

    _keeper = None  # one per hub process

    def limits(self):
        return {"umask": self.umask, "process_limit": self.process_limit, "oom_score_adj": self.oom_score_adj}

    def factory_keeper(self):
        if ForkedStart._keeper is None:
            settings = current_settings()
            ForkedStart._keeper = keeper.Keeper(
                {**self.limits(), "first_uid": settings.first_uid, "home_root": settings.home_root})
        return ForkedStart._keeper

    _chosen_port = 0  # the port this spawner chose last: chosen again at each start

    async def start(self):
        # What LocalProcessSpawner's start would choose, from a range of servers' own; and again
        # after a failed start, whose Spawner JupyterHub keeps (its port may be the one taken).
        if self.port in (0, self._chosen_port):
            self.port = self._chosen_port = server_ports.free_port(log=self.log)
        if not self.server_factory:
            return await super().start()
        self.factory_keeper().ensure_running(self.log.warning)
        request = {"user": self.user.name, "argv": [*self.cmd, *self.get_args()], "env": self.get_env(),
                   "limits": self.limits()}
        try:
            pid = await asyncio.get_running_loop().run_in_executor(
                None, client.ask, forking.SERVER_SOCKET, request, self.factory_answer_seconds)
        except client.FactoryUnavailable as e:
            self.log.warning("%s's server starts the plain way: %s", self.user.name, e)
            return await super().start()
        self.proc = None  # not our child: polled and stopped by pid, as after a hub restart
        self.pid = pid
        self.log.info("Forked %s's server from the server factory: pid %s", self.user.name, pid)
        return (self.ip or "127.0.0.1", self.port)


class HubSpawner(CourseRoles, StartInTurns, ForkedStart, LocalProcessSpawner):
    """A user's server as a process of the hub's container, as that user."""

    umask = Integer(
        0o007,
        help="umask of user servers: files are shared with the file's group (a co-instructor "
        "in a course directory; only the user themself in their own home).",
    ).tag(config=True)

    process_limit = Integer(
        512,
        help="Processes and threads one user may run at once, all their servers, kernels and "
        "terminals together (RLIMIT_NPROC): a fork or thread bomb stops there.",
    ).tag(config=True)

    oom_score_adj = Integer(
        900,
        help="How readily the kernel's OOM killer picks users' processes (-1000 to 1000): above the "
        "hub's 0, so that one student's memory hog is killed, never the hub.",
    ).tag(config=True)

    def make_preexec_fn(self, name):
        limits, account = self.limits(), forking.account_of(name)

        def preexec():
            forking.become_user(name, **limits, account=account)

        return preexec


def remember_launch_course(spawner, auth_state):
    """Auth-state hook: the course of the user's latest LTI launch, for `chosen_course`."""
    spawner.launch_course = (auth_state or {}).get("hub_course")
