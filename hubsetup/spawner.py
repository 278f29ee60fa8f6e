"""Single-user servers as local processes, with the environment each role needs."""

import html
import os

from jupyterhub.spawner import LocalProcessSpawner, set_user_setuid
from traitlets import Integer, default

from . import courses, registry
from .settings import current as current_settings

ROLE_CONFIG_ROOT = "/etc/jupyter/roles"


class HubSpawner(LocalProcessSpawner):
    umask = Integer(
        0o007,
        help="umask of user servers: files are shared with the file's group (a co-instructor "
        "in a course directory; only the user themself in their own home).",
    ).tag(config=True)

    # The course of the LTI launch that logged the user in, if any (from auth state).
    launch_course = None

    @property
    def settings(self):
        return current_settings()

    def make_preexec_fn(self, name):
        become_user = set_user_setuid(name)
        umask = self.umask

        def preexec():
            become_user()
            os.umask(umask)

        return preexec

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
        """JUPYTER_CONFIG_PATH of the user's role (what UI they see) and their course."""
        taught = self.taught_courses()
        role = courses.INSTRUCTOR if taught else courses.STUDENT
        env = {"JUPYTER_CONFIG_PATH": os.path.join(ROLE_CONFIG_ROOT, role)}
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


def remember_launch_course(spawner, auth_state):
    """Auth-state hook: the course of the user's latest LTI launch, for `chosen_course`."""
    spawner.launch_course = (auth_state or {}).get("hub_course")
