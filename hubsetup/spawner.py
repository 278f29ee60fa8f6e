"""Single-user servers as local processes, and the course and role environment every kind of
server gets (processes here, containers in hubsetup.docker_spawners)."""

import asyncio
import html
import os
import resource

from jupyterhub.spawner import LocalProcessSpawner, set_user_setuid
from jupyterhub.utils import exponential_backoff
from tornado.httpclient import AsyncHTTPClient
from traitlets import Integer, default
from traitlets.config import LoggingConfigurable

from . import courses, lab_menus, registry
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


class HubSpawner(CourseRoles, StartInTurns, LocalProcessSpawner):
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
        become_user = set_user_setuid(name)
        umask, process_limit, oom_score_adj = self.umask, self.process_limit, self.oom_score_adj

        def preexec():
            # As root still: raising one's own OOM score needs no privilege, but the limit must
            # be set before the process belongs to the user (then only lowered).
            with open("/proc/self/oom_score_adj", "w") as f:
                f.write(str(oom_score_adj))
            resource.setrlimit(resource.RLIMIT_NPROC, (process_limit, process_limit))
            become_user()
            os.umask(umask)

        return preexec


def remember_launch_course(spawner, auth_state):
    """Auth-state hook: the course of the user's latest LTI launch, for `chosen_course`."""
    spawner.launch_course = (auth_state or {}).get("hub_course")
